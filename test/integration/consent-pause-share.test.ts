import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { DateTime } from 'luxon';
import { afterEach, describe, expect, it } from 'vitest';
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

interface PreviewJson { state: string; body: string | null; body_sha256: string | null; reason: string | null; omitted: Array<{ coverage?: number }> }
interface LedgerRow { kind: string; detail: Record<string, unknown> }

/**
 * A pause starts "now", so it can only cover a window that has not closed yet. The test moves a
 * real pause (started with the CLI, on the ledger) to yesterday, as if it had run then: the
 * gateway reads pauses from the database each time it summarises a window.
 */
function movePause(dataDir: string, id: number, from: DateTime, to: DateTime): void {
  const db = new Database(join(dataDir, 'sluice.db'));
  try {
    db.pragma('busy_timeout = 5000');
    db.prepare('UPDATE consent_pauses SET started_at = ?, until = ?, ended_at = NULL WHERE id = ?').run(from.toMillis(), to.toMillis(), id);
  } finally {
    db.close();
  }
}

describe('a no-share privacy pause in the summaries a vendor receives', () => {
  it('leaves the paused part out and says the coverage, withholds a mostly paused window before anything is queued (on the ledger), and preview equals sent', async () => {
    const vendor = await startVendorReceiver({ key: SECRET });
    receivers.push(vendor);
    const dataDir = tmpDir();
    const policiesDir = tmpDir('sluice-pol-');
    const env = { SLUICE_POLICIES_DIR: policiesDir, SLUICE_TIMEZONE: TZ, ACME_TEST_SECRET: SECRET, SLUICE_SHARE_POLL_INTERVAL: '100ms', SLUICE_SHARE_BACKOFF_INITIAL: '50ms' };
    writeFileSync(
      join(policiesDir, 'acme.yaml'),
      ['version: 1', 'vendor: Acme Heating', `endpoint: ${vendor.url}`, 'purpose: Tune my heating', 'expires: 2099-12-31', 'schedule: "0 3 * * *"', 'secret_env: ACME_TEST_SECRET', 'share:', '  - devices: { id: guest-thermo }', '    metrics: [temperature]', '    window: 1d', '    stats: [count, max]', '    round: 0.5', ''].join('\n'),
    );
    const gw = await startGateway({ dataDir, env });
    running.push(gw);
    const run = (args: string[]) => cli(args, { dataDir, env });
    const json = <T>(args: string[]): T => {
      const r = run([...args, '--json']);
      if (r.status !== 0) throw new Error(`sluice ${args.join(' ')}: ${r.stderr}`);
      return JSON.parse(r.stdout) as T;
    };
    const password = addDevice(dataDir, 'guest-thermo', 'thermostat');
    const client = await connectClient(gw.port, { username: 'guest-thermo', password, clientId: 'guest-seed' });
    // One reading an hour on the two days before today; the value is the hour, so a leak of the evening shows in max.
    for (const n of [1, 2]) for (let h = 0; h < 24; h++) await client.publishAsync('sluice/guest-thermo/telemetry', JSON.stringify({ temperature: h, ts: day(n).plus({ hours: h }).toMillis() }), { qos: 1 });
    await client.endAsync();
    expect(run(['policy', 'approve', 'acme', '--yes']).status).toBe(0);

    // Yesterday 18:00–24:00 paused: a quarter of the window.
    const evening = json<{ id: number }>(['pause', '--device', 'guest-thermo', '--mode', 'no-share', '--for', '2h']);
    movePause(dataDir, evening.id, day(1).plus({ hours: 18 }), day(0));
    const preview = json<PreviewJson>(['policy', 'preview', 'acme', '--window', win(1)]);
    expect(preview.state).toBe('summary');
    const shown = JSON.parse(preview.body!) as { items: Array<{ coverage: number; stats: { count: number; max: number } }> };
    expect(shown.items).toEqual([{ rule: 1, metric: 'temperature', unit: '°C', window: '1d', coverage: 0.75, stats: { count: 18, max: 17 } }]);
    expect(json<{ state: string }>(['policy', 'run', 'acme', '--window', win(1)]).state).toBe('queued');
    await vendor.waitFor((r) => r.deliveries().length === 1);
    // [PRIV-14] the bytes sent are the bytes previewed.
    expect(vendor.deliveries()[0]!.body.toString('utf8')).toBe(preview.body);

    // The day before: paused 00:00–13:00, so 11 of 24 hours (45%) are left, below the default 0.5.
    const morning = json<{ id: number }>(['pause', '--device', 'guest-thermo', '--for', '2h']);
    movePause(dataDir, morning.id, day(2), day(2).plus({ hours: 13 }));
    const withheld = json<PreviewJson>(['policy', 'preview', 'acme', '--window', win(2)]);
    expect(withheld).toMatchObject({ state: 'withheld', body: null, reason: 'paused', omitted: [{ coverage: 0.45 }] });
    expect(json<{ state: string; reason: string; summary_id: string | null }>(['policy', 'run', 'acme', '--window', win(2)])).toMatchObject({ state: 'withheld', reason: 'paused', summary_id: null });
    const ledger = json<LedgerRow[]>(['ledger', 'show']);
    expect(ledger.filter((l) => l.kind === 'disclosure.withheld').map((l) => l.detail)).toEqual([
      { window: { start: day(2).toISO({ suppressMilliseconds: true }), end: day(1).toISO({ suppressMilliseconds: true }) }, reason: 'paused', omitted: [{ rule: 1, metric: 'temperature', samples: 11, min_samples: 3, coverage: 0.45 }] },
    ]);
    // Nothing more reached the vendor, and nothing was queued for that window.
    await new Promise((r) => setTimeout(r, 500));
    expect(vendor.requests).toHaveLength(1);
    expect(json<LedgerRow[]>(['ledger', 'show']).filter((l) => l.kind === 'disclosure.attempted')).toHaveLength(1);
  }, 180_000);
});
