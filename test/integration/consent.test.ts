import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DateTime } from 'luxon';
import { afterEach, describe, expect, it } from 'vitest';
import { addDevice, cli, connectClient, startGateway, type GatewayChild } from '../helpers/gateway.js';
import { tmpDir } from '../helpers/tmp-dir.js';
import { startVendorReceiver, type VendorReceiver } from '../helpers/vendor-receiver.js';

const TZ = 'Europe/Berlin';
const SECRET = 'test-vendor-key-0123456789';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const day = (n: number) => DateTime.now().setZone(TZ).startOf('day').minus({ days: n });
const win = (n: number) => `${day(n).toISODate()}/${day(n - 1).toISODate()}`;

const running: GatewayChild[] = [];
const receivers: VendorReceiver[] = [];
afterEach(async () => {
  for (const g of running.splice(0)) await g.kill();
  for (const r of receivers.splice(0)) await r.close();
});

interface ConsentRow { id: string; subject: string; state: string; record_sha256: string }
interface LedgerRow { kind: string; detail: Record<string, unknown> }

describe('a household with two adults, a teenager and a guest room', () => {
  it('waits for both adults, stops on one veto, keeps every consent as a record, and lets the guest pause their room', async () => {
    const vendor = await startVendorReceiver({ key: SECRET });
    receivers.push(vendor);
    const dataDir = tmpDir();
    const policiesDir = tmpDir('sluice-pol-');
    const env = { SLUICE_POLICIES_DIR: policiesDir, SLUICE_TIMEZONE: TZ, ACME_TEST_SECRET: SECRET, SLUICE_SHARE_POLL_INTERVAL: '100ms', SLUICE_SHARE_BACKOFF_INITIAL: '50ms' };
    writeFileSync(
      join(policiesDir, 'acme.yaml'),
      ['version: 1', 'vendor: Acme Heating', `endpoint: ${vendor.url}`, 'purpose: Tune my heating', 'expires: 2099-12-31', 'schedule: "0 3 * * *"', 'secret_env: ACME_TEST_SECRET', 'share:', '  - devices: { id: [living, teen] }', '    metrics: [temperature]', '    window: 1d', '    stats: [mean]', '    min_samples: 1', ''].join('\n'),
    );
    const gw = await startGateway({ dataDir, env });
    running.push(gw);
    const run = (args: string[]) => cli(args, { dataDir, env });
    const ok = (args: string[]) => {
      const r = run(args);
      if (r.status !== 0) throw new Error(`sluice ${args.join(' ')}: ${r.stderr}`);
      return r.stdout;
    };
    const json = <T>(args: string[]): T => JSON.parse(ok([...args, '--json'])) as T;
    const passwords = new Map<string, string>();
    for (const [id, profile] of [['living', 'thermostat'], ['teen', 'thermostat'], ['guest-thermo', 'thermostat'], ['guest-smoke', 'smoke-co-alarm']] as const) passwords.set(id, addDevice(dataDir, id, profile));

    ok(['members', 'add', 'Ana', '--role', 'owner']);
    expect(run(['members', 'add', 'Ben', '--role', 'adult']).stderr).toContain('SLUICE_ERR_MEMBER_NOT_ALLOWED');
    ok(['members', 'add', 'Ben', '--role', 'adult', '--as', 'Ana']);
    ok(['members', 'add', 'Tom', '--role', 'minor', '--as', 'Ana']);
    ok(['members', 'add', 'Gia', '--role', 'guest', '--as', 'Ana']);
    ok(['members', 'assign', '--device', 'teen', '--to', 'Tom', '--as', 'Ana']);
    ok(['members', 'assign', '--room', 'living-room', '--shared', '--as', 'Ana']);
    ok(['members', 'assign', '--device', 'living', '--room', 'living-room']);
    ok(['members', 'assign', '--room', 'guest-room', '--to', 'Gia', '--as', 'Ana']);
    ok(['members', 'assign', '--device', 'guest-thermo', '--room', 'guest-room']);
    ok(['members', 'assign', '--device', 'guest-smoke', '--room', 'guest-room']);
    expect(json<Array<{ name: string; devices: string[]; rooms: string[] }>>(['members', 'list']).map((m) => [m.name, m.devices, m.rooms])).toEqual([
      ['Ana', [], []],
      ['Ben', [], []],
      ['Tom', ['teen'], []],
      ['Gia', [], ['guest-room']],
    ]);

    // Yesterday's readings, so the window has something to send (an empty window sends nothing; the household floor is 3 readings).
    const living = await connectClient(gw.port, { username: 'living', password: passwords.get('living')!, clientId: 'living-seed' });
    for (const h of [6, 12, 18]) await living.publishAsync('sluice/living/telemetry', JSON.stringify({ temperature: 20 + h / 6, ts: day(1).plus({ hours: h }).toMillis() }), { qos: 1 });
    await living.endAsync();

    // One adult is not enough: silence is never consent.
    expect(run(['policy', 'approve', 'acme', '--yes']).stderr).toContain('SLUICE_ERR_MEMBER_REQUIRED');
    expect(ok(['policy', 'approve', 'acme', '--yes', '--as', 'Ana'])).toContain('waiting for Ben');
    expect(json<Array<{ in_force: boolean; waiting_for: string[]; state_text: string }>>(['policy', 'list'])[0]).toMatchObject({ in_force: false, waiting_for: ['Ben'], state_text: expect.stringContaining('waiting for Ben') });
    expect(run(['policy', 'run', 'acme', '--window', win(1)]).stderr).toContain('is not approved');
    expect(vendor.requests).toHaveLength(0);

    expect(ok(['policy', 'approve', 'acme', '--yes', '--as', 'Ben'])).toContain('Approved acme');
    ok(['policy', 'run', 'acme', '--window', win(1)]);
    for (let i = 0; i < 100 && vendor.deliveries().length === 0; i++) await sleep(100);
    expect(vendor.deliveries()).toHaveLength(1);

    // Every member whose data it covers has a record; each record's hash is on the ledger.
    const records = json<ConsentRow[]>(['consent', 'list']);
    expect(records.map((r) => [r.subject, r.state])).toEqual([
      ['Ana', 'dpv:ConsentGiven'],
      ['Ben', 'dpv:ConsentGiven'],
      ['Tom', 'dpv:ConsentGiven'],
    ]);
    const ledger = json<LedgerRow[]>(['ledger', 'show']);
    for (const r of records) expect(ledger.some((l) => l.kind === 'consent.recorded' && l.detail.record_sha256 === r.record_sha256)).toBe(true);
    expect(ledger.find((l) => l.kind === 'policy.approved')!.detail.by).toEqual(['Ana', 'Ben']);
    const tom = json<{ data_subject: { type: string }; history: Array<{ by: string }> }>(['consent', 'show', records[2]!.id]);
    expect(tom.data_subject.type).toBe('dpv:Child');
    expect(tom.history.map((h) => h.by)).toEqual(['Ana', 'Ben']);
    expect(json<{ version: string; piiPrincipalId: string }>(['consent', 'show', records[0]!.id, '--format', 'kantara'])).toMatchObject({ version: 'KI-CR-v1.1.0', piiPrincipalId: 'Ana' });

    // One adult's veto stops it at once, and the record says who.
    expect(run(['policy', 'veto', 'acme', '--as', 'Gia']).stderr).toContain('does not concern them');
    expect(ok(['policy', 'veto', 'acme', '--as', 'Ben'])).toContain('stopped at once');
    expect(run(['policy', 'run', 'acme', '--window', win(2)]).stderr).toContain('was revoked');
    expect(json<ConsentRow[]>(['consent', 'list']).map((r) => r.state)).toEqual(['dpv:ConsentWithdrawn', 'dpv:ConsentWithdrawn', 'dpv:ConsentWithdrawn']);
    expect(json<LedgerRow[]>(['ledger', 'show']).filter((l) => l.kind === 'policy.revoked').map((l) => l.detail)).toEqual([{ by: 'Ben', veto: true }]);

    // The guest pauses their own room (not anyone else's): nothing is stored, but the smoke alarm is never muted.
    expect(run(['pause', '--room', 'living-room', '--as', 'Gia']).stderr).toContain('SLUICE_ERR_MEMBER_NOT_ALLOWED');
    const pause = json<{ id: number; scope: string; mode: string }>(['pause', '--room', 'guest-room', '--mode', 'no-store', '--for', '2h', '--as', 'Gia']);
    expect(pause).toMatchObject({ scope: 'room guest-room', mode: 'no-store' });
    expect(json<unknown[]>(['pause', 'list'])).toHaveLength(1);
    for (const [id, body] of [['guest-thermo', { temperature: 22.5 }], ['guest-smoke', { smoke_state: 'critical', battery: 80 }], ['living', { temperature: 20 }]] as const) {
      const client = await connectClient(gw.port, { username: id, password: passwords.get(id)!, clientId: `${id}-c` });
      await client.publishAsync(`sluice/${id}/telemetry`, JSON.stringify(body), { qos: 1 });
      await client.endAsync();
    }
    expect(json<unknown[]>(['readings', 'guest-thermo'])).toEqual([]);
    expect(json<Array<{ metric: string }>>(['readings', 'guest-smoke']).map((r) => r.metric)).toEqual(['smoke_state']);
    expect(json<Array<{ metric: string }>>(['readings', 'living']).map((r) => r.metric)).toEqual(['temperature']);
    ok(['pause', 'resume', String(pause.id), '--as', 'Gia']);
    expect(json<unknown[]>(['pause', 'list'])).toEqual([]);
  }, 180_000);
});
