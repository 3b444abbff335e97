import { describe, expect, it } from 'vitest';
import { addDevice, cli, connectClient, startGateway } from '../helpers/gateway.js';
import { tmpDir } from '../helpers/tmp-dir.js';

describe('retention in the running gateway', () => {
  it('rolls up and purges old raw readings (db maintain), and the rollups answer for them', async () => {
    const dataDir = tmpDir();
    const password = addDevice(dataDir, 'thermo');
    // 0.05 days = 72 minutes of raw retention.
    const gw = await startGateway({ dataDir, env: { SLUICE_RETENTION_RAW_DAYS: '0.05', SLUICE_TIMEZONE: 'Europe/Berlin' } });
    try {
      const client = await connectClient(gw.port, { username: 'thermo', password, clientId: 'thermo' });
      // Ten minutes into the hour that began three hours ago: both old readings fall in one
      // hourly rollup whatever the time of the run (xx:59:30 would have split them in two).
      const old = Math.floor((Date.now() - 3 * 3_600_000) / 3_600_000) * 3_600_000 + 600_000;
      await client.publishAsync('sluice/thermo/telemetry', JSON.stringify({ temperature: 19.5, heating: true, ts: old }), { qos: 1 });
      await client.publishAsync('sluice/thermo/telemetry', JSON.stringify({ temperature: 20.5, heating: false, ts: old + 60_000 }), { qos: 1 });
      await client.publishAsync('sluice/thermo/telemetry', JSON.stringify({ temperature: 21.5 }), { qos: 1 });
      await client.endAsync();

      const r = cli(['db', 'maintain', '--json'], { dataDir });
      expect(r.status, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ purged_readings: 4 });
      const raw = JSON.parse(cli(['readings', 'thermo', '--since', '1d', '--json'], { dataDir }).stdout) as Array<{ value: number }>;
      expect(raw.map((x) => x.value)).toEqual([21.5]);

      const rolled = JSON.parse(cli(['rollups', 'thermo', '--metric', 'temperature', '--since', '1d', '--json'], { dataDir }).stdout) as Array<Record<string, unknown>>;
      expect(rolled).toHaveLength(1);
      expect(rolled[0]).toMatchObject({ count: 2, min: 19.5, max: 20.5, mean: 20, first: 19.5, last: 20.5 });
      const heating = JSON.parse(cli(['rollups', 'thermo', '--metric', 'heating', '--since', '1d', '--json'], { dataDir }).stdout) as Array<{ states_ms: Record<string, number> }>;
      expect(heating[0]!.states_ms.true).toBe(60_000);

      const info = JSON.parse(cli(['db', 'info', '--json'], { dataDir }).stdout) as { readings: number; jobs: Array<{ job: string; last_outcome: string }> };
      expect(info.readings).toBe(1);
      expect(info.jobs.map((j) => j.job).sort()).toEqual(['store.checkpoint', 'store.retention']);
      expect(info.jobs.every((j) => j.last_outcome === 'ok')).toBe(true);
    } finally {
      await gw.stop();
    }
  });
});
