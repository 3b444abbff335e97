import { describe, expect, it } from 'vitest';
import { addDevice, cli, connectClient, startGateway } from '../helpers/gateway.js';
import { tmpDir } from '../helpers/tmp-dir.js';

interface ReadingJson {
  metric: string;
  value: unknown;
  ts: string;
}

function readings(dataDir: string): ReadingJson[] {
  const r = cli(['readings', 'thermo', '--metric', 'temperature', '--since', '30d', '--json'], { dataDir });
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout) as ReadingJson[];
}

function stored(dataDir: string): number {
  const info = JSON.parse(cli(['db', 'info', '--json'], { dataDir }).stdout) as { readings: number; unsealed_readings: number };
  return info.readings + info.unsealed_readings;
}

describe('seal worker, killed mid-seal', () => {
  it('a kill -9 while the worker holds its seal before the commit loses no acknowledged reading and stores none twice', async () => {
    const dataDir = tmpDir();
    const password = addDevice(dataDir, 'thermo');
    const t0 = Date.now() - 600_000;
    const sent: number[] = [];
    // The head is full after 20 readings; the seal worker then waits before its commit (test seam).
    const gw = await startGateway({ dataDir, env: { SLUICE_INGEST_DURABILITY: 'interval', SLUICE_INGEST_SEAL_RECORDS: '20', SLUICE_TEST_SEAL_HOLD: '1' } });
    try {
      const client = await connectClient(gw.port, { username: 'thermo', password });
      const publish = async (i: number) => {
        await client.publishAsync('sluice/thermo/telemetry', JSON.stringify({ temperature: 20 + i / 10, ts: t0 + i * 1000 }), { qos: 1 });
        sent.push(t0 + i * 1000);
      };
      for (let i = 0; i < 20; i++) await publish(i);
      await gw.waitForLog((l) => l.msg === 'hot log seal held before its commit (test seam)', 30_000);
      for (let i = 20; i < 30; i++) await publish(i); // acknowledged while the seal is in flight
      // During: every reading once, through the running gateway.
      expect(readings(dataDir).map((r) => Date.parse(r.ts))).toEqual(sent);
      expect(stored(dataDir)).toBe(30);
      client.end(true);
    } finally {
      await gw.kill();
    }

    const again = await startGateway({ dataDir, env: { SLUICE_INGEST_DURABILITY: 'interval' } });
    try {
      const replayed = await again.waitForLog((l) => l.msg === 'hot log replayed');
      expect(replayed.readings).toBe(30);
      expect(readings(dataDir).map((r) => Date.parse(r.ts))).toEqual(sent);
      expect(stored(dataDir)).toBe(30);
    } finally {
      expect(await again.stop()).toBe(0);
    }
    // Sealed at the clean stop, still each once.
    expect(readings(dataDir).map((r) => Date.parse(r.ts))).toEqual(sent);
    expect(JSON.parse(cli(['db', 'info', '--json'], { dataDir }).stdout)).toMatchObject({ readings: 30, unsealed_readings: 0 });
  }, 240_000);
});
