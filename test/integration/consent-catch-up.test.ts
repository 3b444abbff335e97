import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { DateTime } from 'luxon';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { ManualClock, SOCKET_FILE, callAdmin, silentLogger } from '../../src/core/index.js';
import { startGateway, type Gateway } from '../../src/main.js';
import { BIN, DEVICES_DIR, connectClient } from '../helpers/gateway.js';
import { tmpDir } from '../helpers/tmp-dir.js';
import { startVendorReceiver, type VendorReceiver } from '../helpers/vendor-receiver.js';

const TZ = 'Europe/Berlin';
const SECRET = 'test-vendor-key-0123456789';
/** Midnight of a November 2026 day in the household's timezone. */
const day = (d: number) => DateTime.fromObject({ year: 2026, month: 11, day: d }, { zone: TZ });
const iso = (t: DateTime) => t.toISO({ suppressMilliseconds: true })!;

const gateways: Gateway[] = [];
const receivers: VendorReceiver[] = [];
afterEach(async () => {
  for (const g of gateways.splice(0)) await g.stop();
  for (const r of receivers.splice(0)) await r.close();
});

interface LedgerRow { kind: string; version: string | null; summary_id: string | null; detail: Record<string, unknown> }
interface ApproveResult { in_force: boolean; version: string; waiting_for: string[]; catch_up: { windows: number; not_produced: number; reason: string | null } }

async function household(vendor: VendorReceiver, clock: ManualClock) {
  const dir = tmpDir();
  const policiesDir = join(dir, 'policies');
  mkdirSync(policiesDir);
  writeFileSync(
    join(policiesDir, 'acme.yaml'),
    ['version: 1', 'vendor: Acme Heating', `endpoint: ${vendor.url}`, 'purpose: Tune my heating', 'expires: 2099-12-31', 'schedule: "0 3 * * *"', 'secret_file: acme.key', 'share:', '  - devices: { id: living }', '    metrics: [temperature]', '    window: 1d', '    stats: [count, mean]', ''].join('\n'),
  );
  writeFileSync(join(policiesDir, 'acme.key'), `${SECRET}\n`, { mode: 0o600 });
  const config = loadConfig({
    // A catch-up bound of 4 windows, so the test also sees the one window past it; fast ticks and polls so the (manual) clock is looked at often.
    env: { SLUICE_SHARE_REQUIRE_TERMS: 'false', SLUICE_SCHEDULE_MAX_CATCH_UP: '4', SLUICE_SCHEDULE_TICK_INTERVAL: '100ms', SLUICE_SHARE_POLL_INTERVAL: '100ms', SLUICE_SHARE_BACKOFF_INITIAL: '50ms' },
    cwd: dir,
    flags: { data_dir: join(dir, 'data'), devices_dir: DEVICES_DIR, policies_dir: policiesDir, timezone: TZ, 'mqtt.host': '127.0.0.1', 'mqtt.port': 0, 'web.port': 0 },
  });
  const gateway = await startGateway(config, silentLogger(), { clock });
  gateways.push(gateway);
  const socket = join(config.data_dir, SOCKET_FILE);
  const call = <T>(op: string, params: Record<string, unknown> = {}) => callAdmin(socket, op, params) as Promise<T>;
  const { password } = await call<{ password: string }>('devices.add', { id: 'living', profile: 'thermostat' });
  await call('members.add', { name: 'Ana', role: 'owner' });
  await call('members.add', { name: 'Ben', role: 'adult', as: 'Ana' });
  await call('members.assign', { room: 'living-room', shared: true, as: 'Ana' });
  await call('members.assign', { device: 'living', room: 'living-room' });
  // The built CLI against this in-process gateway's admin socket (asynchronously: the gateway answers from this process).
  const cli = async (args: string[]) => (await promisify(execFile)(process.execPath, [BIN, ...args, '--data', config.data_dir], { encoding: 'utf8' })).stdout;
  return { gateway, call, cli, password };
}

describe('windows that came due while a policy waited for a member', () => {
  it('are caught up, in order and under the approved version, only once the last adult approves; pauses and the catch-up bound hold, and the ledger says so', async () => {
    const clock = new ManualClock(day(20).plus({ hours: 12 }).toMillis());
    // The vendor's clock agrees with the household's (it checks the signature's time).
    const vendor = await startVendorReceiver({ key: SECRET, now: () => clock.now() });
    receivers.push(vendor);
    const h = await household(vendor, clock);

    expect((await h.call<ApproveResult>('policy.approve', { name: 'acme', as: 'Ana' })).in_force).toBe(false);
    const approved = await h.call<ApproveResult>('policy.approve', { name: 'acme', as: 'Ben' });
    expect(approved).toMatchObject({ in_force: true, catch_up: { windows: 0, not_produced: 0, reason: null } });

    // Cleo moves in the same day: the living room is shared, so the policy now waits for her.
    await h.call('members.add', { name: 'Cleo', role: 'adult', as: 'Ana' });
    expect(await h.call('policy.list')).toMatchObject([{ in_force: false, waiting_for: ['Cleo'] }]);

    // A no-share pause of the thermostat on the 22nd, 00:00–13:00: 11 of 24 hours left, below min_coverage 0.5.
    clock.set(day(22).toMillis());
    await h.call('pause.start', { device: 'living', for: '13h', as: 'Ana' });

    // Five days on: the windows of the 20th to the 24th came due while it waited.
    clock.set(day(25).plus({ hours: 12 }).toMillis());
    const client = await connectClient(h.gateway.mqttPort, { username: 'living', password: h.password, clientId: 'living-seed' });
    for (let d = 20; d <= 24; d++) for (const hour of [6, 12, 18]) await client.publishAsync('sluice/living/telemetry', JSON.stringify({ temperature: d + hour / 6, ts: day(d).plus({ hours: hour }).toMillis() }), { qos: 1 });
    await client.endAsync();

    // Silence is never consent: nothing is produced or sent while it waits, however many ticks pass.
    await new Promise((r) => setTimeout(r, 1500));
    expect(vendor.requests).toHaveLength(0);
    expect(await h.call('policy.summaries', { name: 'acme' })).toEqual([]);

    // Cleo approves with the CLI, which says what happens to those windows. The bound is max_catch_up 4: the 21st–24th are caught up; the 20th is past it.
    const said = await h.cli(['policy', 'approve', 'acme', '--yes', '--as', 'Cleo']);
    expect(said).toContain(`Approved acme (version ${approved.version})`);
    expect(said).toContain('Catching up 4 windows that came due while it waited, oldest first, under this version');
    expect(said).toContain('1 older window is past the catch-up bound (schedule.max_catch_up) and will not be sent.');
    expect(await h.call('policy.list')).toMatchObject([{ in_force: true, waiting_for: [] }]);

    // The 22nd is withheld by its pause (as any window would be); the other three reach the vendor oldest first.
    await vendor.waitFor((v) => v.deliveries().length === 3, 60_000);
    const sent = vendor.deliveries().map((r) => JSON.parse(r.body.toString('utf8')) as { window: { start: string }; version: string; items: Array<{ stats: { count: number } }> });
    expect(sent.map((b) => b.window.start)).toEqual([iso(day(21)), iso(day(23)), iso(day(24))]);
    expect(sent.every((b) => b.items[0]!.stats.count === 3)).toBe(true);
    expect(new Set(sent.map((b) => b.version)).size).toBe(1);
    expect(vendor.deliveries().every((r) => r.signature.ok)).toBe(true);

    const ledger = await h.call<LedgerRow[]>('ledger.show', {});
    const approval = ledger.filter((l) => l.kind === 'policy.approved').at(-1)!;
    expect(approval.version).toBe(approved.version);
    expect(approval.detail).toMatchObject({ by: ['Ana', 'Ben', 'Cleo'], catch_up: { windows: 4, from: iso(day(21)), to: iso(day(25)), not_produced: 1, reason: 'catch-up-bound', max_catch_up: 4, held: 0 } });
    const seqOf = (l: LedgerRow) => ledger.indexOf(l);
    // Nothing about these windows was on the ledger before the last approval.
    const disclosures = ledger.filter((l) => l.kind.startsWith('disclosure.'));
    expect(disclosures.every((l) => seqOf(l) > seqOf(approval))).toBe(true);
    expect(ledger.filter((l) => l.kind === 'disclosure.withheld').map((l) => l.detail)).toEqual([
      { window: { start: iso(day(22)), end: iso(day(23)) }, reason: 'paused', omitted: [{ rule: 1, metric: 'temperature', samples: 1, min_samples: 3, coverage: 0.45 }] },
    ]);
    // Every attempt was made under the version all three approved.
    const attempts = ledger.filter((l) => l.kind === 'disclosure.attempted');
    expect(attempts).toHaveLength(3);
    expect(attempts.every((l) => l.version === approved.version)).toBe(true);

    // A window is caught up once: a later tick adds nothing.
    await new Promise((r) => setTimeout(r, 500));
    expect(vendor.requests).toHaveLength(3);
  }, 120_000);
});
