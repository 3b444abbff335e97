import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dashboardUrl, logIn, loginLink, type DashboardClient } from '../helpers/dashboard.js';
import { addDevice, BIN, cli, connectClient, startGateway, type GatewayChild } from '../helpers/gateway.js';
import { hashPassword, verifyPassword } from '../../src/devices/index.js';
import { tmpDir } from '../helpers/tmp-dir.js';

const policyText = (purpose: string) =>
  [
    'version: 1',
    'vendor: acme-heating',
    'endpoint: http://127.0.0.1:9/summaries',
    `purpose: ${purpose}`,
    'expires: 2099-12-31',
    'schedule: "0 3 * * *"',
    'secret_env: ACME_TEST_SECRET',
    'share:',
    '  - devices: { kind: thermostat }',
    '    metrics: [temperature]',
    '    window: 1d',
    '    stats: [mean]',
    '    min_samples: 1',
    '',
  ].join('\n');

// Hourly (3) + heating schedule (2) + climate (1) + three metrics together (1) + one device on its own (1): high.
const HOURLY = policyText('Follow my heating by the hour')
  .replace('vendor: acme-heating', 'vendor: hourly-heating')
  .replace('metrics: [temperature]\n    window: 1d', 'metrics: [temperature, humidity, setpoint_heat]\n    window: 1h');

let gw: GatewayChild;
let base: string;
let dataDir: string;
let policiesDir: string;
let env: Record<string, string>;
let client: DashboardClient;
const PASSWORD = 'our household password';
let livingPassword: string;

beforeAll(async () => {
  // One gateway for the whole file (tmpDir() cleans up per test).
  dataDir = mkdtempSync(join(tmpdir(), 'sluice-'));
  policiesDir = mkdtempSync(join(tmpdir(), 'sluice-pol-'));
  writeFileSync(join(policiesDir, 'acme.yaml'), policyText('Tune my heating'));
  writeFileSync(join(policiesDir, 'hourly.yaml'), HOURLY);
  env = { SLUICE_POLICIES_DIR: policiesDir, ACME_TEST_SECRET: 'k'.repeat(24), SLUICE_METRICS_ENABLED: 'true', SLUICE_TIMEZONE: 'Europe/Berlin', SLUICE_WEB_PASSWORD_HASH: await hashPassword(PASSWORD) };
  gw = await startGateway({ dataDir, env, args: ['--web-port', '0'] });
  base = await dashboardUrl(gw);
  livingPassword = addDevice(dataDir, 'living');
  client = await logIn(base, loginLink(dataDir, env));
}, 60_000);
afterAll(async () => {
  await gw?.kill();
  for (const d of [dataDir, policiesDir]) if (d) rmSync(d, { recursive: true, force: true });
});

const PAGES = ['/', '/devices', '/devices/living', '/sharing', '/sharing/acme', '/sharing/acme/revoke', '/devices/living/remove', '/ledger', '/ledger.csv', '/ledger.json', '/data', '/quarantine'];
const POSTS = ['/devices', '/devices/living/passwd', '/devices/living/remove', '/sharing/acme/approve', '/sharing/acme/run', '/sharing/acme/revoke', '/ledger/verify', '/data/erase', '/data/erase/confirm', '/data/backup', '/logout'];
const APIS = ['/api/sharing/acme/overlay', '/api/devices/living/series?metric=temperature', '/api/devices/living/series.csv?metric=temperature', '/events/devices/living'];

describe('dashboard routes', () => {
  it('listens on the loopback port it logged; status --json names the URL', () => {
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const status = JSON.parse(cli(['status', '--json'], { dataDir, env }).stdout) as { web_url: string };
    expect(status.web_url).toBe(base);
  });

  it('without a session: pages redirect to /login, API calls and changes answer 401 with a code', async () => {
    for (const path of PAGES) {
      const res = await fetch(base + path, { redirect: 'manual' });
      expect([path, res.status]).toEqual([path, 303]);
      expect(res.headers.get('location')).toBe('/login');
    }
    for (const path of APIS) {
      const res = await fetch(base + path, { redirect: 'manual' });
      expect([path, res.status]).toEqual([path, 401]);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('SLUICE_ERR_WEB_UNAUTHENTICATED');
    }
    for (const path of POSTS) {
      const res = await fetch(base + path, { method: 'POST', body: new URLSearchParams({ _csrf: client.csrf }), headers: { origin: base }, redirect: 'manual' });
      expect([path, res.status]).toEqual([path, 401]);
    }
  });

  it('a login link works once; a made-up token is refused', async () => {
    const link = loginLink(dataDir, env);
    expect(link.startsWith(`${base}/login?token=`)).toBe(true);
    const first = await fetch(link, { redirect: 'manual' });
    expect(first.status).toBe(200);
    const cookie = first.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/sluice_session=/);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect((await fetch(link, { redirect: 'manual' })).status).toBe(401);
    expect((await fetch(`${base}/login?token=guess`, { redirect: 'manual' })).status).toBe(401);
  });

  it('sluice web login without a running gateway says so and exits 1', () => {
    const r = cli(['web', 'login', '--json'], { dataDir: tmpDir(), env });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('SLUICE_ERR_GATEWAY_NOT_RUNNING');
  });

  it('every page answers with a session and carries the security headers', async () => {
    for (const path of PAGES) {
      const res = await client.get(path);
      expect([path, res.status]).toEqual([path, 200]);
      expect(res.headers.get('content-security-policy')).toMatch(/^default-src 'self'/);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('x-frame-options')).toBe('DENY');
      expect(res.headers.get('referrer-policy')).toBe('same-origin');
      const text = await res.text();
      if (res.headers.get('content-type')?.startsWith('text/html')) expect(text).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    }
  });

  it('refuses a change without the CSRF token or from another origin', async () => {
    const noToken = await client.post('/ledger/verify', {}, { csrf: false });
    expect(noToken.status).toBe(403);
    expect(await noToken.text()).toContain('SLUICE_ERR_WEB_FORBIDDEN');
    expect((await client.post('/ledger/verify', { _csrf: 'x'.repeat(43) })).status).toBe(403);
    expect((await client.post('/ledger/verify', {}, { origin: 'http://evil.example' })).status).toBe(403);
    expect((await client.post('/ledger/verify', {}, { origin: null })).status).toBe(403);
    const ok = await client.post('/ledger/verify', {});
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('Chain verified');
  });

  it('bad input is a clear error with its code', async () => {
    const range = await client.get('/devices/living?range=1y');
    expect(range.status).toBe(400);
    expect(await range.text()).toContain('SLUICE_ERR_USAGE');
    const unknown = await client.get('/api/devices/nobody/series?metric=temperature');
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe('SLUICE_ERR_DEVICE_UNKNOWN');
    const noMetric = await client.get('/api/devices/living/series');
    expect(noMetric.status).toBe(400);
    const badId = await client.post('/devices', { id: 'Bad Id!', profile: 'thermostat' });
    expect(badId.status).toBe(400);
    expect(await badId.text()).toContain('SLUICE_ERR_DEVICE_ID_INVALID');
    const noVersion = await client.post('/sharing/acme/approve', {});
    expect(noVersion.status).toBe(400);
    expect((await client.get('/sharing/nothing-here')).status).toBe(404);
  });

  it('an approval of a page drawn before the file changed is refused with 409; the fresh page approves', async () => {
    const page = await (await client.get('/sharing/acme')).text();
    const version = /name="version" value="([0-9a-f]+)"/.exec(page)?.[1];
    expect(version).toBeDefined();
    writeFileSync(join(policiesDir, 'acme.yaml'), policyText('Tune my heating schedule better'));
    const stale = await client.post('/sharing/acme/approve', { version: version! });
    expect(stale.status).toBe(409);
    expect(await stale.text()).toContain('SLUICE_ERR_POLICY_STALE_REVIEW');
    const fresh = /name="version" value="([0-9a-f]+)"/.exec(await (await client.get('/sharing/acme')).text())?.[1];
    expect(fresh).not.toBe(version);
    const ok = await client.post('/sharing/acme/approve', { version: fresh! });
    expect(ok.status).toBe(200);
    const list = JSON.parse(cli(['policy', 'list', '--json'], { dataDir, env }).stdout) as Array<{ name: string; state: string }>;
    expect(list.find((p) => p.name === 'acme')?.state).toBe('approved');
  });

  it('a high-risk policy shows its reasons and is approved only with "I accept the high risk" ticked', async () => {
    const page = await (await client.get('/sharing/hourly')).text();
    expect(page).toMatch(/<h2 id="risk">Risk: high \(\d+ points\)<\/h2>/);
    expect(page).toContain('hourly data');
    expect(page).toMatch(/<input type="checkbox" id="accept-risk" name="accept_risk" value="high" required><label for="accept-risk">I accept the high risk<\/label>/);
    // The low-risk policy's form has no such box.
    expect(await (await client.get('/sharing/acme')).text()).not.toContain('accept-risk');
    const version = /name="version" value="([0-9a-f]+)"/.exec(page)![1]!;
    const refused = await client.post('/sharing/hourly/approve', { version });
    expect(refused.status).toBe(400);
    const text = await refused.text();
    expect(text).toContain('SLUICE_ERR_POLICY_RISK_NOT_ACCEPTED');
    expect(text).toContain('I accept the high risk');
    expect((await client.post('/sharing/hourly/approve', { version, accept_risk: 'medium' })).status).toBe(400);
    const listed = () => (JSON.parse(cli(['policy', 'list', '--json'], { dataDir, env }).stdout) as Array<{ name: string; in_force: boolean }>).find((p) => p.name === 'hourly');
    expect(listed()?.in_force).toBe(false);
    const ok = await client.post('/sharing/hourly/approve', { version, accept_risk: 'high' });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('with its high risk accepted');
    expect(listed()?.in_force).toBe(true);
    expect((await client.post('/sharing/hourly/revoke', {})).status).toBe(200);
  });

  it('the Data page makes a backup with a passphrase, shows its path and size and offers it for download; restore stays on the command line', async () => {
    const page = await (await client.get('/data')).text();
    expect(page).toContain('<button type="submit">Create backup</button>');
    expect(page).toContain('sluice backup restore FILE');
    expect((await client.post('/data/backup', { passphrase: 'a long passphrase', passphrase_again: 'another one' })).status).toBe(400);
    expect((await client.post('/data/backup', { passphrase: 'short', passphrase_again: 'short' })).status).toBe(400);
    expect((await client.post('/data/backup', { passphrase: 'a long passphrase', passphrase_again: 'a long passphrase' }, { csrf: false })).status).toBe(403);
    const made = await client.post('/data/backup', { passphrase: 'a long passphrase', passphrase_again: 'a long passphrase' });
    expect(made.status).toBe(200);
    const text = await made.text();
    const file = /<dt>File<\/dt><dd><code>([^<]+)<\/code>/.exec(text)?.[1];
    expect(file).toMatch(new RegExp(`^${dataDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/backups/sluice-backup-\\d{8}T\\d{6}Z\\.sluicebk$`));
    expect(text).toMatch(/<dt>Size<\/dt><dd>\d+(\.\d)? (B|KB|MB)<\/dd>/);
    expect(text).toContain('yes, with your passphrase');
    const onDisk = readFileSync(file!);
    const link = /href="(\/data\/backups\/[^"]+)" download/.exec(text)![1]!;
    const download = await client.get(link);
    expect(download.status).toBe(200);
    expect(download.headers.get('content-disposition')).toMatch(/^attachment; filename="sluice-backup-/);
    expect(Buffer.from(await download.arrayBuffer()).equals(onDisk)).toBe(true);
    expect((await fetch(base + link, { redirect: 'manual' })).status).toBe(303);
    expect((await client.get('/data/backups/..%2Fsluice.db')).status).toBe(400);
    // What the dashboard wrote opens with the passphrase, as `sluice backup restore` would.
    const { unpackArchive } = await import('../../src/app/index.js');
    const { manifest } = await unpackArchive(onDisk, 'a long passphrase');
    expect(manifest.config_only).toBe(false);
    await expect(unpackArchive(onDisk, 'the wrong passphrase')).rejects.toThrow();
  });

  it('health and readiness answer without a session; metrics count messages by outcome with no device label and no reading value', async () => {
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ ready: true, reasons: [] });
    const scrape = async () => {
      const text = await (await fetch(`${base}/metrics`)).text();
      const value = (line: string) => Number(text.split('\n').find((l) => l.startsWith(`${line} `))?.split(' ')[1] ?? 0);
      return { text, value };
    };
    const before = await scrape();
    const mqtt = await connectClient(gw.port, { username: 'living', password: livingPassword, clientId: 'living-metrics' });
    await mqtt.publishAsync('sluice/living/telemetry', JSON.stringify({ temperature: 19.25 }), { qos: 1 });
    await mqtt.publishAsync('sluice/living/telemetry', 'not json at all', { qos: 1 });
    await mqtt.endAsync();
    const after = await scrape();
    expect(after.value('sluice_messages_received_total') - before.value('sluice_messages_received_total')).toBe(2);
    expect(after.value('sluice_messages_stored_total') - before.value('sluice_messages_stored_total')).toBe(1);
    expect(after.value('sluice_readings_stored_total') - before.value('sluice_readings_stored_total')).toBe(1);
    expect(after.value('sluice_messages_quarantined_total{reason="not_json"}') - before.value('sluice_messages_quarantined_total{reason="not_json"}')).toBe(1);
    const metrics = after.text;
    expect(metrics).toMatch(/^# TYPE sluice_messages_received_total counter$/m);
    expect(metrics).toContain('sluice_store_bytes');
    expect(metrics).toContain('sluice_outbox_depth');
    expect(metrics).toContain('sluice_disk_free_bytes');
    expect(metrics).not.toContain('living');
    expect(metrics).not.toContain('19.25');
    for (const line of metrics.split('\n').filter((l) => l && !l.startsWith('#'))) {
      expect(line.startsWith('sluice_')).toBe(true);
      for (const [, label] of line.matchAll(/[{,]([a-z_]+)=/g)) expect(['vendor', 'outcome', 'reason', 'job']).toContain(label);
    }
  });

  it('the household password logs in; wrong passwords are refused and attempts are rate-limited', async () => {
    const attempt = (password: string) => fetch(`${base}/login`, { method: 'POST', body: new URLSearchParams({ password }), headers: { origin: base }, redirect: 'manual' });
    const right = await attempt(PASSWORD);
    expect(right.status).toBe(200);
    const cookie = (right.headers.get('set-cookie') ?? '').split(';')[0]!;
    expect((await fetch(`${base}/devices`, { headers: { cookie }, redirect: 'manual' })).status).toBe(200);
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) statuses.push((await attempt('not the password')).status);
    // 10 attempts a minute per address: the right one above and 9 wrong ones, then refusals.
    expect(statuses).toEqual([...Array(9).fill(401), 429, 429]);
    expect((await fetch(`${base}/login`, { method: 'POST', body: new URLSearchParams({ password: PASSWORD }), headers: { origin: 'http://evil.example' } })).status).toBe(403);
  });

  it('sluice web password prints a hash the gateway accepts', async () => {
    const r = spawnSync(process.execPath, [BIN, 'web', 'password', '--json'], { input: 'correct horse battery\n', encoding: 'utf8' });
    expect(r.status).toBe(0);
    const { password_hash } = JSON.parse(r.stdout) as { password_hash: string };
    expect(password_hash).toMatch(/^scrypt\$/);
    expect(await verifyPassword('correct horse battery', password_hash)).toBe(true);
    expect(spawnSync(process.execPath, [BIN, 'web', 'password'], { input: 'short\n', encoding: 'utf8' }).status).toBe(2);
  });

  it('streams the latest values of a device over server-sent events when its readings commit', async () => {
    const res = await client.get('/events/devices/living', { accept: 'text/event-stream' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = res.body!.getReader();
    let text = '';
    const read = async (until: RegExp) => {
      while (!until.test(text)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`stream ended: ${text}`);
        text += Buffer.from(value).toString('utf8');
      }
    };
    await read(/: connected/);
    const mqtt = await connectClient(gw.port, { username: 'living', password: livingPassword, clientId: 'living-sse' });
    await mqtt.publishAsync('sluice/living/telemetry', JSON.stringify({ temperature: 21.5 }), { qos: 1 });
    await mqtt.endAsync();
    await read(/event: latest\ndata: .*\n\n/);
    const data = JSON.parse(/event: latest\ndata: (.*)\n\n/.exec(text)![1]!) as Array<{ key: string; text: string }>;
    expect(data.find((r) => r.key === 'temperature')?.text).toMatch(/^21\.5 °C at /);
    await reader.cancel();
  });
});
