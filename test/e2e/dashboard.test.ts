import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DateTime } from 'luxon';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, requireChromium, scrollsSideways, seriousAccessibilityViolations, type TestBrowser } from '../helpers/browser.js';
import { dashboardUrl, loginLink } from '../helpers/dashboard.js';
import { addDevice, connectClient, ROOT, startGateway, type GatewayChild } from '../helpers/gateway.js';
import { startVendorReceiver, type VendorReceiver } from '../helpers/vendor-receiver.js';

const TZ = 'Europe/Berlin';
const SECRET = 'e2e-vendor-key-0123456789';
const SHOTS = join(ROOT, 'test', 'e2e', 'screenshots');
const VISIBLE = { timeout: 30_000 };
const hasChromium = requireChromium();

let gw: GatewayChild;
let vendor: VendorReceiver;
let browser: TestBrowser;
let base: string;
let dataDir: string;
let policiesDir: string;
let env: Record<string, string>;

function policy(endpoint: string): string {
  return [
    'version: 1',
    'vendor: acme-heating',
    `endpoint: ${endpoint}`,
    'purpose: Tune my heating schedule',
    'expires: 2099-12-31',
    'schedule: "0 3 * * *"',
    'secret_env: ACME_TEST_SECRET',
    'share:',
    '  - devices: { kind: thermostat }',
    '    metrics: [temperature]',
    '    window: 1d',
    '    stats: [mean, min, max]',
    '    round: 0.5',
    '    min_samples: 2',
    '',
  ].join('\n');
}

async function publishReadings(password: string): Promise<void> {
  const client = await connectClient(gw.port, { username: 'living', password, clientId: 'living-e2e' });
  try {
    // Yesterday's readings make the window the policy sends; the last hours fill the 24 h chart.
    const yesterday = DateTime.now().setZone(TZ).startOf('day').minus({ days: 1 });
    const now = Date.now();
    const points = [
      ...[19, 20.2, 21.4, 22.1].map((t, i) => ({ temperature: t, ts: yesterday.plus({ hours: 8 + i }).toMillis() })),
      ...[20.5, 21, 21.5].map((t, i) => ({ temperature: t, ts: now - (3 - i) * 3_600_000 })),
    ];
    await client.publishAsync('sluice/living/status', 'online', { qos: 1, retain: true });
    for (const p of points) await client.publishAsync('sluice/living/telemetry', JSON.stringify({ ...p, setpoint_heat: 21, humidity: 40 }), { qos: 1 });
  } finally {
    await client.endAsync();
  }
}

async function check(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  expect(await seriousAccessibilityViolations(page), `axe on ${name}`).toEqual([]);
}

beforeAll(async () => {
  if (!hasChromium) return;
  mkdirSync(SHOTS, { recursive: true });
  dataDir = mkdtempSync(join(tmpdir(), 'sluice-'));
  policiesDir = mkdtempSync(join(tmpdir(), 'sluice-pol-'));
  vendor = await startVendorReceiver({ key: SECRET });
  writeFileSync(join(policiesDir, 'acme.yaml'), policy(vendor.url));
  env = { SLUICE_POLICIES_DIR: policiesDir, SLUICE_TIMEZONE: TZ, ACME_TEST_SECRET: SECRET, SLUICE_SHARE_POLL_INTERVAL: '100ms', SLUICE_SHARE_BACKOFF_INITIAL: '50ms' };
  gw = await startGateway({ dataDir, env, args: ['--web-port', '0'] });
  base = await dashboardUrl(gw);
  await publishReadings(addDevice(dataDir, 'living'));
  browser = await launchBrowser();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await gw?.kill();
  await vendor?.close();
  for (const d of [dataDir, policiesDir]) if (d) rmSync(d, { recursive: true, force: true });
});

describe.skipIf(!hasChromium)('the dashboard in Chromium', () => {
  it('a household logs in, sees its device and chart, approves and sends a policy, sees it on the ledger, verifies, revokes', async () => {
    const context = await browser.context();
    const page = await context.newPage();
    const cspErrors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') cspErrors.push(m.text());
    });

    await page.goto(loginLink(dataDir, env));
    await page.getByRole('link', { name: 'Open the dashboard' }).click();
    await page.getByRole('heading', { name: 'Home', level: 1 }).waitFor(VISIBLE);
    await expect(page.getByText('Waiting for your approval')).toBeTruthy();
    await check(page, 'home');

    await page.getByRole('navigation').getByRole('link', { name: 'Devices' }).click();
    await page.getByRole('heading', { name: 'Devices', level: 1 }).waitFor(VISIBLE);
    await page.getByText('Stays home').first().waitFor(VISIBLE);
    await page.getByRole('cell', { name: 'Online' }).waitFor(VISIBLE);
    await check(page, 'devices');
    await page.getByRole('link', { name: 'living' }).click();
    await page.getByRole('heading', { name: 'Device living' }).waitFor(VISIBLE);
    await page.locator('[data-chart] canvas').first().waitFor(VISIBLE);
    await page.getByText(/readings shown/).first().waitFor(VISIBLE);
    await check(page, 'device');

    await page.getByRole('navigation').getByRole('link', { name: 'Sharing' }).click();
    await page.getByRole('heading', { name: 'Sharing', level: 1 }).waitFor(VISIBLE);
    await check(page, 'sharing');
    await page.getByRole('link', { name: 'acme' }).click();
    await page.getByRole('heading', { name: 'Policy acme' }).waitFor(VISIBLE);
    await page.getByText('Exactly what the next send would contain').waitFor(VISIBLE);
    // Yesterday's four readings stay home; the vendor's side is the one daily mean of that window.
    await page.locator('[data-chart*="overlay"] canvas').first().waitFor(VISIBLE);
    await page.getByText(/4 readings shown; temperature mean the vendor receives: 1 windows/).waitFor(VISIBLE);
    await check(page, 'policy');
    await page.getByRole('button', { name: 'Approve' }).click();
    await page.getByRole('heading', { name: 'Approved acme' }).waitFor(VISIBLE);
    await page.getByRole('link', { name: 'Back to acme' }).click();
    await page.getByRole('button', { name: 'Run now' }).click();
    await page.getByRole('heading', { name: 'Summary queued for acme' }).waitFor(VISIBLE);

    await vendor.waitFor((v) => v.deliveries().length === 1, 30_000);
    const delivered = JSON.parse(vendor.deliveries()[0]!.body.toString('utf8')) as Record<string, unknown>;
    expect(JSON.stringify(delivered)).toContain('temperature');
    expect(vendor.deliveries()[0]!.signature.ok).toBe(true);

    await page.getByRole('navigation').getByRole('link', { name: 'Ledger' }).click();
    await page.getByRole('heading', { name: 'Ledger', level: 1 }).waitFor(VISIBLE);
    // The vendor answered; the acknowledgement row commits right after, so look again until it shows.
    await expect.poll(async () => {
      await page.reload();
      return page.getByRole('cell', { name: 'Summary sent and received by vendor' }).count();
    }, { timeout: 30_000 }).toBe(1);
    await page.getByRole('button', { name: 'Verify chain' }).click();
    await page.getByText('Chain verified').waitFor(VISIBLE);
    // htmx swapped the result into the page (no navigation to the POST URL), under the CSP.
    expect(new URL(page.url()).pathname).toBe('/ledger');
    await check(page, 'ledger');

    await page.getByRole('navigation').getByRole('link', { name: 'Sharing' }).click();
    await page.getByRole('link', { name: 'acme' }).click();
    await page.getByRole('button', { name: 'Revoke' }).click();
    await page.getByRole('heading', { name: 'Revoke acme?' }).waitFor(VISIBLE);
    await check(page, 'revoke-confirm');
    await page.getByRole('button', { name: 'Yes, revoke acme' }).click();
    await page.getByRole('heading', { name: 'Revoked acme' }).waitFor(VISIBLE);
    await page.getByRole('navigation').getByRole('link', { name: 'Ledger' }).click();
    await page.getByRole('cell', { name: 'Policy revoked' }).waitFor(VISIBLE);

    await page.getByRole('navigation').getByRole('link', { name: 'Intents' }).click();
    await page.getByRole('heading', { name: 'Intents', level: 1 }).waitFor(VISIBLE);
    await page.getByText('No drafts.').waitFor(VISIBLE);
    await check(page, 'intents');
    await page.getByRole('navigation').getByRole('link', { name: 'Offers' }).click();
    await page.getByRole('heading', { name: 'Offers', level: 1 }).waitFor(VISIBLE);
    await page.getByText('No offers waiting.').waitFor(VISIBLE);
    await check(page, 'offers');

    await page.getByRole('navigation').getByRole('link', { name: 'Data' }).click();
    await page.getByRole('heading', { name: 'Data', level: 1 }).waitFor(VISIBLE);
    await check(page, 'data');
    // A backup from the dashboard: a passphrase twice, then its path and size.
    await page.getByLabel('Passphrase (at least 8 characters; empty: not encrypted)').fill('our backup passphrase');
    await page.getByLabel('Passphrase again').fill('our backup passphrase');
    await page.getByRole('button', { name: 'Create backup' }).click();
    await page.getByRole('heading', { name: 'Backup created', level: 1 }).waitFor(VISIBLE);
    await page.getByText('yes, with your passphrase').waitFor(VISIBLE);
    await check(page, 'backup-created');
    expect(cspErrors.filter((e) => /Content Security Policy/i.test(e))).toEqual([]);
    await context.close();
  }, 180_000);

  it('no page scrolls sideways on a 375 px phone', async () => {
    const context = await browser.context({ width: 375, height: 740 });
    const page = await context.newPage();
    await page.goto(loginLink(dataDir, env));
    await page.getByRole('link', { name: 'Open the dashboard' }).click();
    await page.getByRole('heading', { name: 'Home', level: 1 }).waitFor(VISIBLE);
    for (const [path, heading] of [['/', 'Home'], ['/devices', 'Devices'], ['/devices/living', 'Device living'], ['/sharing', 'Sharing'], ['/sharing/acme', 'Policy acme'], ['/intents', 'Intents'], ['/offers', 'Offers'], ['/ledger', 'Ledger'], ['/data', 'Data']] as const) {
      await page.goto(base + path);
      await page.getByRole('heading', { name: heading, level: 1 }).waitFor(VISIBLE);
      if (path === '/devices/living' || path === '/sharing/acme') await page.locator('[data-chart] canvas').first().waitFor(VISIBLE);
      await page.screenshot({ path: join(SHOTS, `phone-${path === '/' ? 'home' : path.slice(1).replace(/\//g, '-')}.png`), fullPage: true });
      expect([path, await scrollsSideways(page)]).toEqual([path, false]);
    }
    await context.close();
  }, 120_000);
});
