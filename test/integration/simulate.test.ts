import { describe, expect, it } from 'vitest';
import { cli, startGateway } from '../helpers/gateway.js';
import { tmpDir } from '../helpers/tmp-dir.js';

const SEED = '4242';

describe('sluice simulate', () => {
  it('with a fixed seed publishes the same readings twice, from devices marked simulated', async () => {
    // Both runs cover the same simulated period, fixed once here: 90 minutes ending 10 minutes
    // before the first run (recent enough for ingest.max_past); --until ends each run there,
    // however long the runs take or whether they cross a minute boundary.
    const until = Math.floor(Date.now() / 60_000) * 60_000 - 10 * 60_000;
    const start = new Date(until - 90 * 60_000).toISOString();
    const runOnce = async () => {
      const dataDir = tmpDir();
      const gw = await startGateway({ dataDir, env: { SLUICE_TIMEZONE: 'Europe/Berlin' } });
      try {
        const r = cli(['simulate', '--devices', '4', '--seed', SEED, '--rate', '1', '--backfill', '2h', '--start', start, '--until', new Date(until).toISOString()], {
          dataDir,
          env: { SLUICE_TIMEZONE: 'Europe/Berlin' },
        });
        expect(r.status, r.stderr).toBe(0);
        expect(r.stdout).toContain(`seed ${SEED}`);
        const devices = JSON.parse(cli(['devices', 'list', '--json'], { dataDir }).stdout) as Array<{ id: string; simulated: boolean; profile: string }>;
        expect(devices.map((d) => [d.id, d.profile, d.simulated])).toEqual([
          ['sim-fridge-1', 'fridge', true],
          ['sim-light-1', 'light', true],
          ['sim-plug-1', 'smart-plug', true],
          ['sim-thermostat-1', 'thermostat', true],
        ]);
        const readings: Record<string, unknown> = {};
        for (const d of devices) readings[d.id] = JSON.parse(cli(['readings', d.id, '--since', '1d', '--json'], { dataDir }).stdout);
        expect(JSON.parse(cli(['quarantine', '--json'], { dataDir }).stdout)).toEqual([]);
        return readings;
      } finally {
        await gw.stop();
      }
    };
    const first = await runOnce();
    const second = await runOnce();
    const fridge = first['sim-fridge-1'] as Array<{ ts: string }>;
    expect(fridge.length).toBeGreaterThan(80 * 8);
    expect(fridge.every((r) => Date.parse(r.ts) < until)).toBe(true);
    expect(second).toEqual(first);
  });

  it('stores every message of a day-long backfill: the publish-rate limit slows it, never drops it', async () => {
    const dataDir = tmpDir();
    const gw = await startGateway({ dataDir });
    try {
      const r = cli(['simulate', '--devices', '1', '--seed', SEED, '--rate', '1', '--backfill', '1d', '--duration', '0'], { dataDir });
      expect(r.status, r.stderr).toBe(0);
      const published = Number(/Published (\d+) message/.exec(r.stdout)?.[1]);
      // Far beyond a device's burst of 100 at 20/s: QoS 0 history would have been dropped.
      expect(published).toBeGreaterThan(1400);
      const temperatures = JSON.parse(cli(['readings', 'sim-thermostat-1', '--metric', 'temperature', '--since', '2d', '--json'], { dataDir }).stdout) as unknown[];
      expect(temperatures).toHaveLength(published);
      const status = JSON.parse(cli(['status', '--json'], { dataDir }).stdout) as { broker: { limits_hit: Record<string, number> } };
      expect(status.broker.limits_hit.publish_rate_dropped).toBe(0);
    } finally {
      await gw.stop();
    }
  });

  it('refuses to run without a gateway', () => {
    const r = cli(['simulate', '--duration', '0'], { dataDir: tmpDir() });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('SLUICE_ERR_GATEWAY_NOT_RUNNING');
  });
});
