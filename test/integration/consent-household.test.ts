import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DateTime } from 'luxon';
import { afterEach, describe, expect, it } from 'vitest';
import { canonicalJson, sha256Hex } from '../../src/core/index.js';
import { rowHash, GENESIS_HASH } from '../../src/ledger/index.js';
import { dashboardUrl, logIn } from '../helpers/dashboard.js';
import { addDevice, cli, connectClient, startGateway, type GatewayChild } from '../helpers/gateway.js';
import { tmpDir } from '../helpers/tmp-dir.js';
import { startVendorReceiver, type VendorReceiver } from '../helpers/vendor-receiver.js';

const TZ = 'Europe/Berlin';
const SECRET = 'test-vendor-key-0123456789';
const day = (n: number) => DateTime.now().setZone(TZ).startOf('day').minus({ days: n });
const win = (n: number) => `${day(n).toISODate()}/${day(n - 1).toISODate()}`;

const running: GatewayChild[] = [];
const receivers: VendorReceiver[] = [];
afterEach(async () => {
  for (const g of running.splice(0)) await g.kill();
  for (const r of receivers.splice(0)) await r.close();
});

interface PolicyRow { name: string; in_force: boolean; waiting_for: string[]; state_text: string }
interface ExportRow { seq: number; at: number; kind: string; vendor: string | null; policy: string | null; version: string | null; summary_id: string | null; detail: Record<string, unknown>; prev_hash: string; hash: string }
interface LedgerExport { format: string; head: { seq: number; hash: string }; rows: ExportRow[]; consent_records: Array<{ id: string; subject: string; state: string; record_sha256: string; ledger_seq: number; record: unknown }> }

async function household(policyExtra: { defaults?: string } = {}) {
  const vendor = await startVendorReceiver({ key: SECRET });
  receivers.push(vendor);
  const dataDir = tmpDir();
  const policiesDir = tmpDir('sluice-pol-');
  const env = { SLUICE_POLICIES_DIR: policiesDir, SLUICE_TIMEZONE: TZ, ACME_TEST_SECRET: SECRET, SLUICE_SHARE_POLL_INTERVAL: '100ms', SLUICE_SHARE_BACKOFF_INITIAL: '50ms' };
  writeFileSync(
    join(policiesDir, 'acme.yaml'),
    ['version: 1', 'vendor: Acme Heating', `endpoint: ${vendor.url}`, 'purpose: Tune my heating', 'expires: 2099-12-31', 'schedule: "0 3 * * *"', 'secret_env: ACME_TEST_SECRET', 'share:', '  - devices: { id: living }', '    metrics: [temperature]', '    window: 1d', '    stats: [mean]', ''].join('\n'),
  );
  if (policyExtra.defaults) writeFileSync(join(policiesDir, 'defaults.yaml'), policyExtra.defaults);
  const gw = await startGateway({ dataDir, env, args: ['--web-port', '0'] });
  running.push(gw);
  const run = (args: string[]) => cli(args, { dataDir, env });
  const ok = (args: string[]) => {
    const r = run(args);
    if (r.status !== 0) throw new Error(`sluice ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const json = <T>(args: string[]): T => JSON.parse(ok([...args, '--json'])) as T;
  const password = addDevice(dataDir, 'living', 'thermostat');
  const client = await connectClient(gw.port, { username: 'living', password, clientId: 'living-seed' });
  for (const n of [1, 2]) for (const h of [6, 12, 18]) await client.publishAsync('sluice/living/telemetry', JSON.stringify({ temperature: 20 + h / 6, ts: day(n).plus({ hours: h }).toMillis() }), { qos: 1 });
  await client.endAsync();
  ok(['members', 'add', 'Ana', '--role', 'owner']);
  ok(['members', 'add', 'Ben', '--role', 'adult', '--as', 'Ana']);
  ok(['members', 'assign', '--room', 'living-room', '--shared', '--as', 'Ana']);
  ok(['members', 'assign', '--device', 'living', '--room', 'living-room']);
  return { vendor, dataDir, policiesDir, env, gw, run, ok, json };
}

describe('the rest of the household consent', () => {
  it('a member added later is asked (nothing sent until she approves from her own dashboard login), and the ledger export carries every record', async () => {
    const h = await household();
    h.ok(['policy', 'approve', 'acme', '--yes', '--as', 'Ana']);
    h.ok(['policy', 'approve', 'acme', '--yes', '--as', 'Ben']);
    expect(h.json<PolicyRow[]>(['policy', 'list'])[0]).toMatchObject({ in_force: true, waiting_for: [] });

    // Cleo moves in: the living room is shared, so the policy concerns her; silence is never consent.
    h.ok(['members', 'add', 'Cleo', '--role', 'adult', '--as', 'Ana']);
    expect(h.json<PolicyRow[]>(['policy', 'list'])[0]).toMatchObject({ in_force: false, waiting_for: ['Cleo'], state_text: expect.stringContaining('waiting for Cleo') });
    const refused = h.run(['policy', 'run', 'acme', '--window', win(1)]);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain('SLUICE_ERR_POLICY_WAITING_FOR_MEMBER');
    expect(refused.stderr).toContain('waiting for Cleo');
    expect(h.vendor.requests).toHaveLength(0);

    // Her own login: the dashboard approves as Cleo, not as "the household".
    const link = h.json<{ url: string; member: string }>(['web', 'login', '--as', 'cleo']);
    expect(link.member).toBe('Cleo');
    expect(h.run(['web', 'login', '--as', 'Nobody']).stderr).toContain('SLUICE_ERR_MEMBER_UNKNOWN');
    const base = await dashboardUrl(h.gw);
    const cleo = await logIn(base, link.url);
    const page = await (await cleo.get('/sharing/acme')).text();
    expect(page).toContain('Veto as Cleo');
    const version = /name="version" value="([0-9a-f]+)"/.exec(page)?.[1];
    expect(version).toBeDefined();
    const approved = await cleo.post('/sharing/acme/approve', { version: version! });
    expect(approved.status).toBe(200);
    expect(h.json<PolicyRow[]>(['policy', 'list'])[0]).toMatchObject({ in_force: true, waiting_for: [] });
    h.ok(['policy', 'run', 'acme', '--window', win(1)]);
    await h.vendor.waitFor((v) => v.deliveries().length === 1);

    // The export: the chain recomputes from its rows, and every record's hash is a consent.recorded row.
    const file = join(tmpDir(), 'ledger.json');
    expect(h.json<{ rows: number; consent_records: number }>(['ledger', 'export', '--out', file])).toMatchObject({ consent_records: 3 });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const doc = JSON.parse(readFileSync(file, 'utf8')) as LedgerExport;
    expect(doc.format).toBe('sluice.ledger-export/1');
    let prev = GENESIS_HASH;
    for (const r of doc.rows) {
      expect(r.prev_hash).toBe(prev);
      expect(rowHash(r.prev_hash, { seq: r.seq, at: r.at, kind: r.kind as never, vendor: r.vendor, policy: r.policy, version: r.version, summaryId: r.summary_id, detail: r.detail })).toBe(r.hash);
      prev = r.hash;
    }
    expect(doc.head).toEqual({ seq: doc.rows.at(-1)!.seq, hash: prev });
    expect(doc.consent_records.map((r) => [r.subject, r.state])).toEqual([
      ['Ana', 'dpv:ConsentGiven'],
      ['Ben', 'dpv:ConsentGiven'],
      ['Cleo', 'dpv:ConsentGiven'],
    ]);
    for (const r of doc.consent_records) {
      expect(sha256Hex(canonicalJson(r.record))).toBe(r.record_sha256);
      expect(doc.rows.find((x) => x.seq === r.ledger_seq)).toMatchObject({ kind: 'consent.recorded', detail: { record_sha256: r.record_sha256, subject: r.subject } });
    }
    const approval = doc.rows.filter((r) => r.kind === 'policy.approved').at(-1)!;
    expect(approval.detail.by).toEqual(['Ana', 'Ben', 'Cleo']);
    // Stdout carries the same document.
    expect((JSON.parse(h.ok(['ledger', 'export'])) as LedgerExport).head.seq).toBeGreaterThanOrEqual(doc.head.seq);

    // Her veto from the dashboard stops it at once, under her name.
    const vetoed = await cleo.post('/sharing/acme/veto', {});
    expect(vetoed.status).toBe(200);
    expect(h.json<Array<{ kind: string; detail: Record<string, unknown> }>>(['ledger', 'show']).filter((l) => l.kind === 'policy.revoked').map((l) => l.detail)).toEqual([{ by: 'Cleo', veto: true }]);
  }, 240_000);

  it('"owner decides" for shared spaces, set in defaults.yaml, is visible and lets the owner approve alone', async () => {
    const h = await household({ defaults: 'version: 1\nconsent:\n  shared_spaces: owner-decides\n' });
    const row = h.json<PolicyRow[]>(['policy', 'list'])[0]!;
    expect(row).toMatchObject({ in_force: false, waiting_for: ['Ana'], state_text: expect.stringContaining('owners decide shared spaces') });
    expect(h.json<{ text: string }>(['policy', 'explain', 'acme']).text).toContain('consent.shared_spaces: owner-decides');
    expect(h.ok(['members', 'list'])).toContain('Shared spaces: the owners decide alone (defaults.yaml consent.shared_spaces)');
    expect(h.run(['policy', 'approve', 'acme', '--yes', '--as', 'Ben']).stderr).toContain('Ben is not asked');
    expect(h.ok(['policy', 'approve', 'acme', '--yes', '--as', 'Ana'])).toContain('Approved acme');
    expect(h.json<PolicyRow[]>(['policy', 'list'])[0]).toMatchObject({ in_force: true });
    // Back to the strict default: the change is a change of every policy, awaiting approval by every adult; the version in force keeps running.
    writeFileSync(join(h.policiesDir, 'defaults.yaml'), 'version: 1\n');
    const after = h.json<PolicyRow[]>(['policy', 'list'])[0]!;
    expect(after).toMatchObject({ in_force: true, waiting_for: ['Ana', 'Ben'] });
    expect(after.state_text).toContain('changed');
    expect(after.state_text).not.toContain('owners decide');
    expect(h.ok(['members', 'list'])).toContain('Shared spaces: every adult decides (default)');
  }, 240_000);
});
