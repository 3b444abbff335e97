import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, requireChromium, scrollsSideways, seriousAccessibilityViolations } from '../helpers/browser.js';
import { dashboardUrl, logIn, loginLink, type DashboardClient } from '../helpers/dashboard.js';
import { ROOT, cli, startGateway, type GatewayChild } from '../helpers/gateway.js';
import { startVendorReceiver, type VendorReceiver } from '../helpers/vendor-receiver.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const SHOTS = join(ROOT, 'test', 'e2e', 'screenshots');
const hasChromium = requireChromium();
const SECRET = 'test-vendor-key-webterms-0123456789';

function policyText(vendor: string, endpoint: string): string {
  return [
    'version: 1',
    `vendor: ${vendor}`,
    `endpoint: ${endpoint}`,
    'purpose: Tune my heating schedule',
    'expires: 2099-12-31',
    'schedule: "0 3 * * *"',
    'secret_env: WEB_TERMS_SECRET',
    'share:',
    '  - devices: { kind: thermostat }',
    '    metrics: [temperature]',
    '    window: 1d',
    '    stats: [mean]',
    '    round: 0.5',
    '    min_samples: 2',
    '',
  ].join('\n');
}

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(150);
  }
}

interface TermsRow {
  vendor: string;
  state: string;
  agreed_term: string | null;
  agreement_sha256: string | null;
  decided_by: string | null;
  counter: { term: string } | null;
}

let gw: GatewayChild;
let dir: string;
let dataDir: string;
let base: string;
let client: DashboardClient;
const env: Record<string, string> = {};
const receivers: Record<'counter' | 'second', VendorReceiver> = {} as never;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-'));
  dataDir = join(dir, 'data');
  const policiesDir = join(dir, 'policies');
  mkdirSync(policiesDir);
  receivers.counter = await startVendorReceiver({ key: SECRET, terms: { counter: 'SD-BASE-A', reason: 'we tune from analytics' } });
  receivers.second = await startVendorReceiver({ key: SECRET, terms: { counter: 'SD-BASE-ATP' } });
  writeFileSync(join(policiesDir, 'counter.yaml'), policyText('Counter Co', receivers.counter.url));
  writeFileSync(join(policiesDir, 'second.yaml'), policyText('Second Co', receivers.second.url));
  Object.assign(env, {
    SLUICE_POLICIES_DIR: policiesDir,
    WEB_TERMS_SECRET: SECRET,
    // The helpers turn terms off for every other test; this one is about them.
    SLUICE_SHARE_REQUIRE_TERMS: 'true',
    SLUICE_SHARE_REQUEST_TIMEOUT: '2000ms',
    SLUICE_SHARE_BACKOFF_INITIAL: '50ms',
    SLUICE_SHARE_BACKOFF_MAX: '200ms',
    SLUICE_SHARE_POLL_INTERVAL: '100ms',
  });
  gw = await startGateway({ dataDir, args: ['--web-port', '0'], env });
  base = await dashboardUrl(gw);
  client = await logIn(base, loginLink(dataDir, env));
}, 90_000);

afterAll(async () => {
  await gw?.stop();
  for (const r of Object.values(receivers)) await r.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const termsJson = () => new Map((JSON.parse(cli(['terms', 'list', '--json'], { dataDir, env }).stdout) as TermsRow[]).map((t) => [t.vendor, t]));
/** Polls the dashboard itself (async), so the receivers in this process can answer meanwhile. */
const pageUntil = (what: string, path: string, pred: (text: string) => boolean) =>
  until(what, async () => {
    const text = await (await client.get(path)).text();
    return pred(text) ? text : undefined;
  });

describe('the Terms pages', () => {
  it('need a session and the CSRF token; an unknown vendor is 404', async () => {
    for (const path of ['/terms', '/terms/Counter%20Co']) expect((await fetch(base + path, { redirect: 'manual' })).status).toBe(303);
    for (const path of ['/terms/Counter%20Co/accept', '/terms/Counter%20Co/decline', '/terms/Counter%20Co/proffer']) {
      expect((await fetch(base + path, { method: 'POST', headers: { origin: base }, redirect: 'manual' })).status).toBe(401);
      expect((await client.post(path, {}, { csrf: false })).status).toBe(403);
      expect((await client.post(path, {}, { origin: 'http://127.0.0.2:1' })).status).toBe(403);
    }
    expect((await client.get('/terms/Nobody')).status).toBe(404);
    expect((await client.post('/terms/Nobody/accept', {})).status).toBe(404);
    const empty = await (await client.get('/terms')).text();
    expect(empty).toContain('<a href="/terms" aria-current="page">Terms</a>');
    expect(empty).toContain('No terms yet.');
  });

  it('show a counter-offer, take it from the dashboard until the vendor agrees, decline another and proffer again', async () => {
    for (const name of ['counter', 'second']) expect(cli(['policy', 'approve', name, '--yes'], { dataDir, env }).status).toBe(0);
    const list = await pageUntil('both counter-offers on the Terms page', '/terms', (t) => (t.match(/Counter-offer waiting for you/g) ?? []).length === 2);
    expect(list).toContain('<a href="/terms/Counter%20Co">Counter Co</a>');
    expect(list).toContain('<a href="/terms/Second%20Co">Second Co</a>');
    expect(list).toContain('<code>SD-BASE-DP</code>');

    // The Sharing page says why nothing is sent, and links to the vendor's terms.
    const sharing = await (await client.get('/sharing')).text();
    expect(sharing).toContain('waiting: terms not accepted by <a href="/terms/Counter%20Co">Counter Co</a>');
    expect(await (await client.get('/sharing/counter')).text()).toContain('<a href="/terms/Counter%20Co">Counter Co</a>');

    const page = await (await client.get('/terms/Counter%20Co')).text();
    expect(page).toContain('Service delivery only; no analytics, tracking or profiling; the data stays portable');
    expect(page).toContain('Service delivery and analytics by the vendor itself');
    expect(page).toContain('we tune from analytics');
    expect(page).toContain('<button type="submit">Accept counter-offer</button>');
    expect(page).toContain('>Decline</button>');
    expect(page).not.toContain('Proffer again');
    if (hasChromium) await look({ '/terms': 'terms', '/terms/Counter%20Co': 'terms-vendor', '/sharing': 'sharing-terms' }, 'countered');

    const accepted = await client.post('/terms/Counter%20Co/accept', {});
    expect(accepted.status).toBe(200);
    expect(await accepted.text()).toContain('Accepted the counter-offer of Counter Co');
    const agreed = await until('Counter Co agreed', () => {
      const t = termsJson().get('Counter Co');
      return t?.state === 'accepted' ? t : undefined;
    });
    expect(agreed.agreed_term).toBe('SD-BASE-A');
    expect(agreed.agreement_sha256).toMatch(/^[0-9a-f]{64}$/);
    const acceptance = receivers.counter.termsRequests.find((r) => r.doc.type === 'acceptance');
    expect(acceptance?.signedByHousehold).toBe(true);
    expect(acceptance?.doc).toMatchObject({ term: { id: 'SD-BASE-A' } });
    const after = await (await client.get('/terms/Counter%20Co')).text();
    expect(after).toContain('State: <strong>Accepted</strong>');
    expect(after).toContain(agreed.agreement_sha256!);
    expect(after).not.toContain('Accept counter-offer');
    expect(await (await client.get('/terms')).text()).toContain(agreed.agreement_sha256!.slice(0, 12));
    // Only a counter-offer is taken: a second accept is a conflict, not a second acceptance.
    expect((await client.post('/terms/Counter%20Co/accept', {})).status).toBe(409);
    expect(await (await client.get('/sharing')).text()).not.toContain('terms not accepted by <a href="/terms/Counter%20Co">');

    // Decline: nothing is sent, and the household may ask again; this time the vendor accepts the household's own term.
    const acceptancesBefore = receivers.second.termsRequests.length;
    expect((await client.post('/terms/Second%20Co/decline', {})).status).toBe(200);
    expect(termsJson().get('Second Co')?.state).toBe('refused');
    const declined = await (await client.get('/terms/Second%20Co')).text();
    expect(declined).toContain('Counter-offer declined by you');
    expect(declined).toContain('<button type="submit">Proffer again</button>');
    expect(declined).not.toContain('Accept counter-offer');
    await sleep(300);
    expect(receivers.second.termsRequests).toHaveLength(acceptancesBefore);
    if (hasChromium) await look({ '/terms': 'terms', '/terms/Second%20Co': 'terms-vendor' }, 'decided');
    receivers.second.answerTerms('accept');
    expect((await client.post('/terms/Second%20Co/proffer', {})).status).toBe(200);
    const second = await until('Second Co agreed to the household term', () => {
      const t = termsJson().get('Second Co');
      return t?.state === 'accepted' ? t : undefined;
    });
    expect(second.agreed_term).toBe('SD-BASE-DP');
    expect(await (await client.get('/terms/Second%20Co')).text()).toContain('Earlier rounds');

    const ledger = JSON.parse(cli(['ledger', 'show', '--json'], { dataDir, env }).stdout) as Array<{ kind: string; vendor: string | null; detail: Record<string, unknown> }>;
    expect(ledger.filter((r) => r.kind === 'terms.chosen').map((r) => [r.vendor, r.detail.choice])).toEqual([
      ['Counter Co', 'accept'],
      ['Second Co', 'decline'],
    ]);
  }, 240_000);
});

describe('a household with members', () => {
  it('decides on a counter-offer as the member logged in: an owner or adult, never the household login or a minor', async () => {
    const mdir = mkdtempSync(join(tmpdir(), 'sluice-'));
    const receiver = await startVendorReceiver({ key: SECRET, terms: { counter: 'SD-BASE-A' } });
    let mgw: GatewayChild | undefined;
    try {
      const mData = join(mdir, 'data');
      const mPolicies = join(mdir, 'policies');
      mkdirSync(mPolicies);
      writeFileSync(join(mPolicies, 'counter.yaml'), policyText('Member Co', receiver.url));
      const menv = { ...env, SLUICE_POLICIES_DIR: mPolicies };
      const ok = (args: string[]) => {
        const r = cli(args, { dataDir: mData, env: menv });
        if (r.status !== 0) throw new Error(`sluice ${args.join(' ')} failed: ${r.stderr}`);
        return r.stdout;
      };
      mgw = await startGateway({ dataDir: mData, args: ['--web-port', '0'], env: menv });
      const mbase = await dashboardUrl(mgw);
      // With members, an owner or adult decides; a policy selecting no device yet is a shared space, so Ana approves it.
      ok(['members', 'add', 'Ana', '--role', 'owner']);
      ok(['members', 'add', 'Kit', '--role', 'minor', '--as', 'Ana']);
      ok(['policy', 'approve', 'counter', '--yes', '--as', 'Ana']);
      const household = await logIn(mbase, loginLink(mData, menv));
      await until('the counter-offer', async () => ((await (await household.get('/terms/Member%20Co')).text()).includes('Accept counter-offer') ? true : undefined));
      const link = (who: string) => (JSON.parse(ok(['web', 'login', '--as', who, '--json'])) as { url: string }).url;
      const kit = await logIn(mbase, link('Kit'));
      const ana = await logIn(mbase, link('Ana'));
      for (const who of [household, kit]) {
        const refused = await who.post('/terms/Member%20Co/accept', {});
        expect(refused.status).toBe(400);
        const text = await refused.text();
        expect(text).toContain('SLUICE_ERR_MEMBER_NOT_ALLOWED');
        expect(text).toContain('Nothing was decided.');
      }
      expect(await (await ana.get('/terms/Member%20Co')).text()).toContain('You decide as Ana.');
      expect(JSON.parse(ok(['terms', 'show', 'Member Co', '--json'])).state).toBe('countered');
      expect((await ana.post('/terms/Member%20Co/accept', {})).status).toBe(200);
      const t = JSON.parse(ok(['terms', 'show', 'Member Co', '--json'])) as TermsRow;
      expect(t.decided_by).toBe('Ana');
      expect(['accepting', 'accepted']).toContain(t.state);
    } finally {
      await mgw?.stop();
      await receiver.close();
      rmSync(mdir, { recursive: true, force: true });
    }
  }, 180_000);
});

/** Screenshots at desktop and phone width, axe, and no sideways scroll on the phone. */
async function look(paths: Record<string, string>, tag: string): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  const browser = await launchBrowser();
  try {
    for (const width of [1280, 375]) {
      const context = await browser.context({ width, height: 800 });
      const page = await context.newPage();
      await page.goto(loginLink(dataDir, env));
      await page.getByRole('link', { name: 'Open the dashboard' }).click();
      for (const [path, file] of Object.entries(paths)) {
        await page.goto(base + path);
        const name = `${width === 375 ? 'phone-' : ''}${file}-${tag}`;
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
