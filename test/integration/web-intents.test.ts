import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, requireChromium, scrollsSideways, seriousAccessibilityViolations } from '../helpers/browser.js';
import { dashboardUrl, logIn, loginLink, type DashboardClient } from '../helpers/dashboard.js';
import { ROOT, addDevice, cli, connectClient, startGateway, type GatewayChild } from '../helpers/gateway.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const SHOTS = join(ROOT, 'test', 'e2e', 'screenshots');
const hasChromium = requireChromium();

interface Vendor {
  name: string;
  port: number;
  publicKey: string;
  logs: Array<Record<string, unknown>>;
  child: ChildProcess;
}

/** The example vendor receiver as a child process on a free loopback port. */
async function startVendor(name: string, price: number, dir: string): Promise<Vendor> {
  const child = spawn(process.execPath, [join(ROOT, 'examples', 'vendor-receiver', 'server.js'), '--host', '127.0.0.1', '--port', '0', '--dir', join(dir, name)], {
    env: { ...process.env, VENDOR_SECRET: `secret-of-${name}`, VENDOR_NAME: name, VENDOR_PRICE: String(price) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const logs: Array<Record<string, unknown>> = [];
  const line = await new Promise<Record<string, unknown>>((resolve) => {
    createInterface({ input: child.stdout! }).on('line', (l) => {
      const parsed = JSON.parse(l) as Record<string, unknown>;
      logs.push(parsed);
      if (parsed.msg === 'vendor receiver listening') resolve(parsed);
    });
  });
  return { name, port: line.port as number, publicKey: line.offer_key as string, logs, child };
}

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(150);
  }
}

const rule = (what: string, vendors: Vendor[]) =>
  [
    'version: 1',
    'trigger:',
    '  device: { kind: fridge }',
    '  metric: water_filter_life',
    '  below: 10',
    'request:',
    `  what: ${what}`,
    '  quantity: 1',
    '  need_within: 14d',
    '  budget: { max: 45, currency: EUR }',
    '  offers_for: 1h',
    'vendors:',
    ...vendors.flatMap((v) => [`  - name: ${v.name}`, `    endpoint: http://127.0.0.1:${v.port}`, `    public_key: ${v.publicKey}`]),
    '',
  ].join('\n');

let gw: GatewayChild;
let dir: string;
let dataDir: string;
let base: string;
let client: DashboardClient;
let policiesDir: string;
const vendors: Vendor[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-'));
  dataDir = join(dir, 'data');
  const rulesDir = join(dir, 'intents');
  mkdirSync(rulesDir);
  policiesDir = join(dir, 'policies');
  mkdirSync(policiesDir);
  vendors.push(...(await Promise.all([startVendor('filters-a', 30, dir), startVendor('filters-b', 27.5, dir)])));
  // Two rules fire on the same reading: one draft to approve (with an edit), one to drop.
  writeFileSync(join(rulesDir, 'fridge-water-filter.yaml'), rule('household.appliance-parts.water-filter', vendors));
  writeFileSync(join(rulesDir, 'fridge-spare-filter.yaml'), rule('household.appliance-parts.spare-filter', vendors));
  const configFile = join(dir, 'sluice.yaml');
  writeFileSync(configFile, [`intents_dir: ${rulesDir}`, 'intents:', '  poll_interval: 100ms', 'household:', '  country: DE', '  postal_prefix: "104"', '  deliver_to: "Beispielstr. 1, 10405 Berlin"', ''].join('\n'));
  gw = await startGateway({ dataDir, args: ['--config', configFile, '--web-port', '0'], env: { SLUICE_POLICIES_DIR: policiesDir } });
  base = await dashboardUrl(gw);
  client = await logIn(base, loginLink(dataDir));
  const fridge = await connectClient(gw.port, { clientId: 'fridge-1', username: 'fridge-1', password: addDevice(dataDir, 'fridge-1', 'fridge') });
  await fridge.publishAsync('sluice/fridge-1/telemetry', JSON.stringify({ water_filter_life: 5 }), { qos: 1 });
  await fridge.endAsync();
}, 90_000);

afterAll(async () => {
  await gw?.stop();
  for (const v of vendors) {
    v.child.kill('SIGTERM');
    await new Promise((r) => (v.child.exitCode === null ? v.child.once('exit', r) : r(null)));
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const intentsJson = () => JSON.parse(cli(['intents', 'list', '--json'], { dataDir }).stdout) as Array<{ id: number; what: string; state: string; quantity: number; budget: { max: number } | null }>;

describe('the Intents and Offers pages', () => {
  it('need a session and the CSRF token; unknown ids are 404, bad input 400', async () => {
    for (const path of ['/intents', '/offers', '/intents/1']) expect((await fetch(base + path, { redirect: 'manual' })).status).toBe(303);
    for (const path of ['/intents/1/approve', '/intents/1/drop', '/offers/1/accept', '/offers/1/decline']) {
      expect((await fetch(base + path, { method: 'POST', headers: { origin: base }, redirect: 'manual' })).status).toBe(401);
      expect((await client.post(path, {}, { csrf: false })).status).toBe(403);
    }
    expect((await client.get('/intents/999')).status).toBe(404);
    expect((await client.post('/offers/999/accept', {})).status).toBe(404);
    expect((await client.get('/intents/nope')).status).toBe(400);
  });

  it('list drafts with Approve and Drop; approve with an edit sends it, drop sends nothing; offers arrive and are accepted or declined', async () => {
    const drafts = await until('two drafts', () => {
      const d = intentsJson().filter((i) => i.state === 'draft');
      return d.length === 2 ? d : undefined;
    });
    if (hasChromium) await look(['/intents'], 'drafts');
    const page = await (await client.get('/intents')).text();
    expect(page).toContain('<a href="/intents" aria-current="page">Intents</a>');
    expect(page).toContain('<a href="/offers">Offers</a>');
    expect(page).toContain('household.appliance-parts.water-filter');
    expect(page.match(/<button type="submit">Approve<\/button>/g)).toHaveLength(2);
    expect(page.match(/>Drop<\/button>/g)).toHaveLength(2);
    const water = drafts.find((d) => d.what.endsWith('water-filter'))!;
    const spare = drafts.find((d) => d.what.endsWith('spare-filter'))!;

    expect((await client.post(`/intents/${water.id}/approve`, { quantity: 'lots' })).status).toBe(400);
    const approved = await client.post(`/intents/${water.id}/approve`, { quantity: '2', need_by: '', budget: '40' });
    expect(approved.status).toBe(200);
    expect(await approved.text()).toContain(`Approved intent ${water.id}`);
    expect(intentsJson().find((i) => i.id === water.id)).toMatchObject({ state: 'open', quantity: 2, budget: { max: 40 } });
    // A second approval of the same intent is a conflict, not a new send.
    expect((await client.post(`/intents/${water.id}/approve`, {})).status).toBe(409);
    expect((await client.post(`/intents/${spare.id}/drop`, {})).status).toBe(200);
    expect(intentsJson().find((i) => i.id === spare.id)?.state).toBe('dropped');

    type Offer = { id: number; vendor: string; state: string };
    const offers = await until('two offers', () => {
      const list = JSON.parse(cli(['offers', 'list', '--json'], { dataDir }).stdout) as Offer[];
      return list.length === 2 ? list : undefined;
    });
    const inbox = await (await client.get('/offers')).text();
    // The example vendors price the edited quantity of 2.
    expect(inbox).toContain('filters-a: 60.00 EUR');
    expect(inbox).toContain('filters-b: 55.00 EUR');
    expect(inbox.match(/<button type="submit">Accept<\/button>/g)).toHaveLength(2);
    expect(inbox.match(/>Decline<\/button>/g)).toHaveLength(2);
    if (hasChromium) await look(['/intents', `/intents/${water.id}`, '/offers'], 'with-offers');

    const a = offers.find((o) => o.vendor === 'filters-a')!;
    const b = offers.find((o) => o.vendor === 'filters-b')!;
    expect((await client.post(`/offers/${a.id}/decline`, {})).status).toBe(200);
    // The delivery address leaves only under an approved policy that names it: the first accept is refused and writes a draft.
    const refused = await client.post(`/offers/${b.id}/accept`, {});
    expect(refused.status).toBeGreaterThanOrEqual(400);
    expect(await refused.text()).toContain('SLUICE_ERR_OFFER_NOT_COVERED');
    expect(vendors[1]!.logs.some((l) => l.msg === 'acceptance received')).toBe(false);
    expect(cli(['policy', 'approve', 'filters-b-delivery', '--yes'], { dataDir, env: { SLUICE_POLICIES_DIR: policiesDir } }).status).toBe(0);
    const accepted = await client.post(`/offers/${b.id}/accept`, {});
    expect(accepted.status).toBe(200);
    expect(await accepted.text()).toContain('Accepted the offer of filters-b');
    const told = await until('the acceptance at filters-b', () => vendors[1]!.logs.find((l) => l.msg === 'acceptance received'));
    expect(told.disclosed).toEqual({ deliver_to: 'Beispielstr. 1, 10405 Berlin' });
    expect(vendors[0]!.logs.some((l) => l.msg === 'acceptance received')).toBe(false);
    const after = await (await client.get('/offers')).text();
    expect(after).toContain('No offers waiting.');
    expect(after).toContain('Declined');
    const ledger = JSON.parse(cli(['ledger', 'show', '--json'], { dataDir }).stdout) as Array<{ kind: string; detail: Record<string, unknown> }>;
    expect(ledger.filter((r) => r.kind === 'offer.accepted' || r.kind === 'intent.dropped').map((r) => r.detail.by)).toEqual(expect.arrayContaining(['dashboard']));
    if (hasChromium) await look(['/intents', '/offers'], 'answered');
  }, 120_000);
});

/** Screenshots at desktop and phone width, axe, and no sideways scroll on the phone. */
async function look(paths: string[], tag: string): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  const browser = await launchBrowser();
  try {
    for (const width of [1280, 375]) {
      const context = await browser.context({ width, height: 800 });
      const page = await context.newPage();
      await page.goto(loginLink(dataDir));
      await page.getByRole('link', { name: 'Open the dashboard' }).click();
      for (const path of paths) {
        await page.goto(base + path);
        const name = `${width === 375 ? 'phone-' : ''}${path.slice(1).replace(/\//g, '-').replace(/\d+/, 'n')}-${tag}`;
        await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
        expect(await seriousAccessibilityViolations(page), `axe on ${name}`).toEqual([]);
        if (width === 375) expect([path, await scrollsSideways(page)]).toEqual([path, false]);
      }
      await context.close();
    }
  } finally {
    await browser.close();
  }
}
