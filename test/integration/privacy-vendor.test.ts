import { createHash } from 'node:crypto';
import { unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { DateTime } from 'luxon';
import { afterEach, describe, expect, it } from 'vitest';
import { verifyPrevious } from '../../src/share/index.js';
import { cli, connectClient, startGateway, type CliResult, type GatewayChild } from '../helpers/gateway.js';
import { tmpDir } from '../helpers/tmp-dir.js';
import { startVendorReceiver, type ReceivedRequest, type VendorReceiver } from '../helpers/vendor-receiver.js';

// Tests that act as the vendors: what reaches them, and what they could link.

const TZ = 'Europe/Berlin';
const SECRET = 'privacy-vendor-key-0123456789';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const day = (n: number) => DateTime.now().setZone(TZ).startOf('day').minus({ days: n });
const win = (n: number) => `${day(n).toISODate()}/${day(n - 1).toISODate()}`;
const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

function policyText(vendor: string, endpoint: string, key: string = 'secret_env: PRIV_TEST_SECRET'): string {
  return [
    'version: 1',
    `vendor: ${vendor}`,
    `endpoint: ${endpoint}`,
    'purpose: Tune my heating schedule',
    'expires: 2099-12-31',
    'schedule: "0 3 * * *"',
    key,
    'share:',
    '  - devices: { kind: thermostat }',
    '    metrics: [temperature]',
    '    window: 1d',
    '    stats: [mean, max]',
    '    round: 0.5',
    '    min_samples: 2',
    '',
  ].join('\n');
}

interface Home {
  dataDir: string;
  policiesDir: string;
  gw: GatewayChild;
  cli(args: string[]): CliResult;
  json<T>(args: string[]): T;
  publish(id: string, from: DateTime, temps: number[]): Promise<void>;
}

const running: GatewayChild[] = [];
const receivers: VendorReceiver[] = [];
afterEach(async () => {
  for (const g of running.splice(0)) await g.kill();
  for (const r of receivers.splice(0)) await r.close();
});

async function home(policies: Record<string, string>): Promise<Home> {
  const dataDir = tmpDir();
  const policiesDir = tmpDir('sluice-pol-');
  for (const [name, text] of Object.entries(policies)) writeFileSync(join(policiesDir, `${name}.yaml`), text);
  const env = {
    SLUICE_POLICIES_DIR: policiesDir,
    SLUICE_TIMEZONE: TZ,
    PRIV_TEST_SECRET: SECRET,
    SLUICE_SHARE_REQUEST_TIMEOUT: '1000ms',
    SLUICE_SHARE_BACKOFF_INITIAL: '50ms',
    SLUICE_SHARE_BACKOFF_MAX: '200ms',
    SLUICE_SHARE_POLL_INTERVAL: '100ms',
  };
  const gw = await startGateway({ dataDir, env });
  running.push(gw);
  const passwords = new Map<string, string>();
  const h: Home = {
    dataDir,
    policiesDir,
    gw,
    cli: (args) => cli(args, { dataDir, env }),
    json<T>(args: string[]): T {
      const r = h.cli([...args, '--json']);
      if (r.status !== 0) throw new Error(`sluice ${args.join(' ')} failed: ${r.stderr}`);
      return JSON.parse(r.stdout) as T;
    },
    async publish(id, from, temps) {
      if (!passwords.has(id)) passwords.set(id, h.json<{ password: string }>(['devices', 'add', id, '--profile', 'thermostat']).password);
      const client = await connectClient(gw.port, { username: id, password: passwords.get(id)!, clientId: `${id}-${Date.now()}` });
      try {
        for (const [i, t] of temps.entries()) {
          await client.publishAsync(`sluice/${id}/telemetry`, JSON.stringify({ temperature: t, ts: from.plus({ hours: 8 + i }).toMillis() }), { qos: 1 });
        }
      } finally {
        await client.endAsync();
      }
    },
  };
  return h;
}

async function receiver(): Promise<VendorReceiver> {
  const r = await startVendorReceiver({ key: SECRET });
  receivers.push(r);
  return r;
}

/** Every id-like token (hex of 16+ digits) in a body: what a vendor could try to join on. */
const tokens = (body: Buffer) => new Set(body.toString('utf8').match(/[0-9a-f]{16,}/g) ?? []);
const common = (a: Buffer, b: Buffer) => [...tokens(a)].filter((t) => tokens(b).has(t));

interface LedgerJson {
  seq: number;
  kind: string;
  summary_id: string | null;
  detail: Record<string, unknown>;
}

/** Waits until the gateway has recorded n acknowledgements (the vendor's 200 is answered before the gateway commits it). */
async function acknowledged(h: Home, n: number): Promise<void> {
  for (let i = 0; i < 150; i++) {
    if (h.json<LedgerJson[]>(['ledger', 'show']).filter((r) => r.kind === 'disclosure.acknowledged').length >= n) return;
    await sleep(100);
  }
  throw new Error(`fewer than ${n} acknowledgements on the ledger`);
}

// Each scene runs a gateway and a few dozen CLI processes: generous timeouts for a loaded 2-core machine.
describe('as the vendors see it', () => {
  it('two vendors of one home get bodies with no id or hash in common; preview = bytes received = policy sent = ledger --body; the chain links two windows', async () => {
    const acme = await receiver();
    const bolt = await receiver();
    const h = await home({ acme: policyText('Acme Heating', acme.url), bolt: policyText('Bolt Energy', bolt.url) });
    await h.publish('living', day(2), [19, 20, 21]);
    await h.publish('living', day(1), [18, 20.5, 22]);

    const pending = h.cli(['policy', 'preview', 'acme', '--window', win(1)]);
    expect(pending.status).toBe(0);
    expect(h.cli(['policy', 'approve', 'acme', '--yes']).status).toBe(0);
    const approveBolt = h.cli(['policy', 'approve', 'bolt', '--yes']);
    expect(approveBolt.status).toBe(0);
    // The household is told the two vendors can link their views through the values.
    expect(approveBolt.stdout).toContain('Bolt Energy and Acme Heating both receive the daily mean of living temperature: they can link their views through the values');

    for (const name of ['acme', 'bolt']) expect(h.json<{ created: boolean }>(['policy', 'run', name, '--window', win(2)]).created).toBe(true);
    await acme.waitFor((v) => v.deliveries().length === 1);
    await bolt.waitFor((v) => v.deliveries().length === 1);
    // The chain links to what the gateway saw acknowledged: both acknowledgements are committed before the next window.
    await acknowledged(h, 2);
    for (const name of ['acme', 'bolt']) expect(h.json<{ created: boolean }>(['policy', 'run', name, '--window', win(1)]).created).toBe(true);
    await acme.waitFor((v) => v.deliveries().length === 2);
    await bolt.waitFor((v) => v.deliveries().length === 2);
    await acknowledged(h, 4);

    const [a1, a2] = acme.deliveries() as [ReceivedRequest, ReceivedRequest];
    const [b1, b2] = bolt.deliveries() as [ReceivedRequest, ReceivedRequest];
    // [PRIV-13] nothing to join on across vendors: ids, household and version all differ, and no token is shared.
    const docA = JSON.parse(a2.body.toString('utf8')) as Record<string, unknown>;
    const docB = JSON.parse(b2.body.toString('utf8')) as Record<string, unknown>;
    for (const f of ['id', 'household', 'version']) expect(docA[f]).not.toBe(docB[f]);
    expect(docA.items).toEqual(docB.items);
    expect(common(a1.body, b1.body)).toEqual([]);
    expect(common(a2.body, b2.body)).toEqual([]);
    expect(common(Buffer.concat([a1.body, a2.body]), Buffer.concat([b1.body, b2.body]))).toEqual([]);

    // [PRIV-14] the preview before approval, the bytes received, a preview after sending and `policy sent` are one byte string.
    expect(a2.body.toString('utf8')).toBe(pending.stdout);
    expect(h.cli(['policy', 'preview', 'acme', '--window', win(1)]).stdout).toBe(pending.stdout);
    const sent = h.cli(['policy', 'sent', 'acme', '--window', win(1)]);
    expect(sent.status).toBe(0);
    expect(sent.stdout).toBe(a2.body.toString('utf8'));
    const sentJson = h.json<{ id: string; state: string; body_sha256: string; body: string }>(['policy', 'sent', 'acme', '--window', win(1)]);
    expect(sentJson).toMatchObject({ id: a2.key, state: 'delivered', body_sha256: sha256(a2.body), body: a2.body.toString('utf8') });
    const ledger = h.json<LedgerJson[]>(['ledger', 'show']);
    const attempted = ledger.find((r) => r.kind === 'disclosure.attempted' && r.summary_id === a2.key)!;
    expect(attempted.detail.body_sha256).toBe(sha256(a2.body));
    expect(h.cli(['ledger', 'show', '--body', String(attempted.seq)]).stdout).toBe(a2.body.toString('utf8'));

    // The chain: the first summary a vendor gets links to none, the second to the first, signed with the body (v2).
    for (const [first, second] of [
      [a1, a2],
      [b1, b2],
    ] as const) {
      expect(first.headers['sluice-previous']).toBe('none');
      expect(second.headers['sluice-previous']).toBe(`id=${first.key},sha256=${sha256(first.body)}`);
      for (const [r, last] of [
        [first, null],
        [second, { id: first.key, bodySha256: sha256(first.body) }],
      ] as const) {
        const sig = Object.fromEntries(String(r.headers['sluice-signature']).split(',').map((kv) => kv.split('=', 2) as [string, string]));
        expect(verifyPrevious(Buffer.from(SECRET), Number(sig.t), String(r.headers['sluice-previous']), r.body, sig.v2!, last)).toEqual({ ok: true });
      }
    }
    // A receiver that missed the first summary notices.
    const sig2 = Object.fromEntries(String(a2.headers['sluice-signature']).split(',').map((kv) => kv.split('=', 2) as [string, string]));
    expect(verifyPrevious(Buffer.from(SECRET), Number(sig2.t), String(a2.headers['sluice-previous']), a2.body, sig2.v2!, null)).toMatchObject({ ok: false });
  }, 120_000);

  it('two homes with the same device names and policies send the same vendor nothing in common', async () => {
    const vendor = await receiver();
    const one = await home({ acme: policyText('Acme Heating', vendor.url) });
    const two = await home({ acme: policyText('Acme Heating', vendor.url) });
    for (const h of [one, two]) {
      await h.publish('living', day(1), [19, 20, 21]);
      expect(h.cli(['policy', 'approve', 'acme', '--yes']).status).toBe(0);
      expect(h.json<{ created: boolean }>(['policy', 'run', 'acme', '--window', win(1)]).created).toBe(true);
    }
    await vendor.waitFor((v) => v.deliveries().length === 2);
    const [x, y] = vendor.deliveries() as [ReceivedRequest, ReceivedRequest];
    const dx = JSON.parse(x.body.toString('utf8')) as Record<string, unknown>;
    const dy = JSON.parse(y.body.toString('utf8')) as Record<string, unknown>;
    expect(dx.items).toEqual(dy.items);
    expect(dx.window).toEqual(dy.window);
    for (const f of ['id', 'household', 'version']) expect(dx[f]).not.toBe(dy[f]);
    expect(common(x.body, y.body)).toEqual([]);
    expect(x.key).not.toBe(y.key);
  }, 90_000);

  it('a window with one reading sends nothing: run and preview say withheld, the ledger says why, the vendor gets no request', async () => {
    const vendor = await receiver();
    const h = await home({ acme: policyText('Acme Heating', vendor.url) });
    await h.publish('living', day(1), [20]);
    expect(h.cli(['policy', 'approve', 'acme', '--yes']).status).toBe(0);

    const preview = h.json<{ state: string; body: string | null; reason: string }>(['policy', 'preview', 'acme', '--window', win(1)]);
    expect(preview).toMatchObject({ state: 'withheld', body: null, reason: 'too-few-readings' });
    const run = h.cli(['policy', 'run', 'acme', '--window', win(1), '--json']);
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ summary_id: null, created: false, state: 'withheld', reason: 'too-few-readings' });
    // min_samples 2 in the file is raised to the household floor of 3.
    expect((JSON.parse(run.stdout) as { message: string }).message).toContain('rule 1 temperature: 1 of 3');

    const withheld = h.json<LedgerJson[]>(['ledger', 'show']).filter((r) => r.kind === 'disclosure.withheld');
    expect(withheld).toHaveLength(1);
    expect(withheld[0]!.detail).toMatchObject({ reason: 'too-few-readings', window: { start: day(1).toISO({ suppressMilliseconds: true }) }, omitted: [{ rule: 1, metric: 'temperature', samples: 1, min_samples: 3 }] });
    await sleep(500);
    expect(vendor.requests).toHaveLength(0);
    const sent = h.cli(['policy', 'sent', 'acme', '--window', win(1)]);
    expect(sent.status).toBe(2);
    expect(sent.stderr).toContain('SLUICE_ERR_SUMMARY_UNKNOWN');
  }, 90_000);

  it('a missing signing key stops check, approve and run and shows in the list; a key file is picked up without a restart; a failed summary is resent with the same id and bytes', async () => {
    const vendor = await receiver();
    const h = await home({ acme: policyText('Acme Heating', vendor.url, 'secret_file: acme.key') });
    await h.publish('living', day(1), [19, 20, 21]);
    const keyFile = join(h.policiesDir, 'acme.key');

    const check = h.cli(['policy', 'check', join(h.policiesDir, 'acme.yaml')]);
    expect(check.status).toBe(2);
    expect(check.stderr).toContain('the signing key for Acme Heating cannot be read');
    const approve = h.cli(['policy', 'approve', 'acme', '--yes']);
    expect(approve.status).toBe(1);
    expect(approve.stderr).toContain('SLUICE_ERR_SECRET_MISSING');

    writeFileSync(keyFile, `${SECRET}\n`, { mode: 0o600 });
    expect(h.cli(['policy', 'check', 'acme']).status).toBe(0);
    expect(h.cli(['policy', 'approve', 'acme', '--yes']).status).toBe(0);
    unlinkSync(keyFile);
    expect(h.json<Array<{ state_text: string; signing_key: string }>>(['policy', 'list'])[0]).toMatchObject({ state_text: 'waiting: signing key missing', signing_key: 'missing' });
    const refused = h.cli(['policy', 'run', 'acme', '--window', win(1)]);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain('SLUICE_ERR_SECRET_MISSING');

    // The vendor refuses the first delivery for good (400): failed, counted, on the ledger with its status.
    writeFileSync(keyFile, `${SECRET}\n`, { mode: 0o600 });
    vendor.script([{ status: 400 }]);
    const run = h.json<{ summary_id: string }>(['policy', 'run', 'acme', '--window', win(1)]);
    await vendor.waitFor((v) => v.requests.length === 1);
    let row = h.json<Array<{ failed: number; queued: number; retrying: number; signing_key: string }>>(['policy', 'list'])[0]!;
    for (let i = 0; i < 50 && row.failed === 0; i++) {
      await sleep(100);
      row = h.json<Array<{ failed: number; queued: number; retrying: number; signing_key: string }>>(['policy', 'list'])[0]!;
    }
    expect(row).toMatchObject({ failed: 1, queued: 0, retrying: 0, signing_key: 'ok' });
    expect(h.json<LedgerJson[]>(['ledger', 'show']).find((r) => r.kind === 'disclosure.failed')!.detail).toMatchObject({ status: 400, outcome: 'http' });

    const resend = h.json<{ summary_id: string }>(['policy', 'resend', 'acme', '--window', win(1)]);
    expect(resend.summary_id).toBe(run.summary_id);
    await vendor.waitFor((v) => v.deliveries().length === 1);
    expect(vendor.requests).toHaveLength(2);
    expect(vendor.requests[1]!.key).toBe(vendor.requests[0]!.key);
    expect(vendor.requests[1]!.body.equals(vendor.requests[0]!.body)).toBe(true);
    expect(h.json<LedgerJson[]>(['ledger', 'show']).map((r) => r.kind)).toContain('disclosure.resent');
    const again = h.cli(['policy', 'resend', 'acme', '--window', win(1)]);
    expect(again.status).toBe(2);
    expect(again.stderr).toContain('SLUICE_ERR_SUMMARY_NOT_RESENDABLE');
  }, 120_000);

  it('a noisy policy: approved, the vendor gets noised values at the resolution with ε per item, a resend is the same bytes, the ledger has ε, and a window over budget is withheld with nothing sent', async () => {
    const vendor = await receiver();
    const text = [
      'version: 1',
      'vendor: Acme Energy',
      `endpoint: ${vendor.url}`,
      'purpose: Compare my energy use',
      'expires: 2099-12-31',
      'schedule: "0 3 * * *"',
      'secret_env: PRIV_TEST_SECRET',
      'budget: { epsilon: 0.5, per: 30d }',
      'share:',
      '  - devices: { kind: smart_plug }',
      '    metrics: [energy]',
      '    window: 1d',
      '    stats: [increase]',
      '    privacy: { epsilon: 0.5, clamp: [0, 2] }',
      '',
    ].join('\n');
    const h = await home({ acme: text });
    // A counter rising 1.5 kWh an hour for 6 hours of each day: clamped at 2 kWh per hour, the exact increase is 9 kWh.
    const password = h.json<{ password: string }>(['devices', 'add', 'plug', '--profile', 'smart-plug']).password;
    const client = await connectClient(h.gw.port, { username: 'plug', password, clientId: `plug-${Date.now()}` });
    try {
      for (const d of [2, 1]) for (let i = 0; i < 7; i++) await client.publishAsync('sluice/plug/telemetry', JSON.stringify({ energy: 100 + 1.5 * i, ts: day(d).plus({ hours: 8 + i }).toMillis() }), { qos: 1 });
    } finally {
      await client.endAsync();
    }

    const pending = h.cli(['policy', 'preview', 'acme', '--window', win(2)]);
    expect(pending.status).toBe(0);
    expect(h.cli(['policy', 'approve', 'acme', '--yes']).status).toBe(0);
    // The vendor refuses the first delivery for good, so the household can send it again.
    vendor.script([{ status: 400 }]);
    const run = h.json<{ summary_id: string; created: boolean }>(['policy', 'run', 'acme', '--window', win(2)]);
    expect(run.created).toBe(true);
    await vendor.waitFor((v) => v.requests.length === 1);

    const first = vendor.requests[0]!;
    // [PRIV-14] what the vendor got is the preview shown before approval, noise and all.
    expect(first.body.toString('utf8')).toBe(pending.stdout);
    const doc = JSON.parse(first.body.toString('utf8')) as { items: Array<{ stats: { increase: number }; noise: Record<string, unknown> }> };
    expect(doc.items[0]!.noise).toEqual({ mechanism: 'discrete-laplace', epsilon: 0.5, clamp: [0, 2], unit: '1h', sensitivity: { increase: 2 } });
    const value = doc.items[0]!.stats.increase;
    // A multiple of the 0.1 kWh floor, within a range the noise (scale 4 kWh) leaves with probability 1 - 10^-6.
    expect(Number((Math.round(value * 10) / 10).toFixed(1))).toBe(value);
    expect(Math.abs(value - 9)).toBeLessThan(60);
    // The draw stored with the release explains the value exactly: 9 kWh + noise steps of 0.001 kWh, rounded.
    const db = new Database(join(h.dataDir, 'sluice.db'), { readonly: true, fileMustExist: true });
    let draw: { sum: number };
    try {
      const rows = db.prepare('SELECT noise FROM privacy_noise').all() as Array<{ noise: string }>;
      expect(rows).toHaveLength(1);
      draw = JSON.parse(rows[0]!.noise) as { sum: number };
    } finally {
      db.close();
    }
    expect(value).toBe(Number((Math.round((9000 + draw.sum) / 100) / 10).toFixed(1)));

    const noised = h.json<LedgerJson[]>(['ledger', 'show']).filter((r) => r.kind === 'disclosure.noised');
    expect(noised).toHaveLength(1);
    expect(noised[0]).toMatchObject({ summary_id: run.summary_id, detail: { epsilon: 0.5, vendor_spent: 0.5, vendor_cap: 0.5, items: [{ stat: 'increase', epsilon: 0.5, mechanism: 'discrete-laplace', clamp: [0, 2], unit: '1h', sensitivity: { sum: 2 } }] } });

    // A resend is the same bytes, and so is policy sent.
    let failed = 0;
    for (let i = 0; i < 50 && failed === 0; i++) {
      failed = h.json<Array<{ failed: number }>>(['policy', 'list'])[0]!.failed;
      if (failed === 0) await sleep(100);
    }
    expect(failed).toBe(1);
    expect(h.json<{ summary_id: string }>(['policy', 'resend', 'acme', '--window', win(2)]).summary_id).toBe(run.summary_id);
    await vendor.waitFor((v) => v.deliveries().length === 1);
    expect(vendor.requests[1]!.body.equals(first.body)).toBe(true);
    expect(h.cli(['policy', 'sent', 'acme', '--window', win(2)]).stdout).toBe(first.body.toString('utf8'));

    // The next window would spend past the vendor's 0.5: withheld, on the ledger, in the list, and nothing leaves.
    const over = h.json<{ summary_id: string | null; state: string; reason: string }>(['policy', 'run', 'acme', '--window', win(1)]);
    expect(over).toMatchObject({ summary_id: null, state: 'withheld', reason: 'budget' });
    expect(h.json<LedgerJson[]>(['ledger', 'show']).filter((r) => r.kind === 'disclosure.withheld').map((r) => r.detail)).toEqual([
      expect.objectContaining({ reason: 'budget', limit: 'vendor', epsilon: 0.5, spent: 0.5, cap: 0.5 }),
    ]);
    const row = h.json<Array<{ state_text: string; withheld: { reason: string; limit: string } | null }>>(['policy', 'list'])[0]!;
    expect(row.withheld).toMatchObject({ reason: 'budget', limit: 'vendor' });
    expect(row.state_text).toContain('withheld: budget');
    expect(h.cli(['policy', 'list']).stdout).toContain('withheld: budget');
    await sleep(500);
    expect(vendor.requests).toHaveLength(2);
    expect(h.json<{ vendor_budget: { spent: number; left: number } }>(['policy', 'budget', 'acme']).vendor_budget).toMatchObject({ spent: 0.5, left: 0 });
  }, 150_000);
});
