import { appendFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeFrame } from '../../src/store/hot-log.js';
import { addDevice, cli, connectClient, startGateway } from '../helpers/gateway.js';
import { tmpDir } from '../helpers/tmp-dir.js';

interface ReadingJson {
  metric: string;
  value: unknown;
  ts: string;
  time_source: string;
}

function readings(dataDir: string, id: string): ReadingJson[] {
  const r = cli(['readings', id, '--since', '30d', '--json'], { dataDir });
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout) as ReadingJson[];
}

function lastSegment(dataDir: string): string {
  const dir = join(dataDir, 'hotlog');
  const names = readdirSync(dir).filter((n) => n.endsWith('.log')).sort();
  return join(dir, names[names.length - 1]!);
}

/** A small deterministic PRNG (mulberry32), so a failing round can be replayed from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('flash store (hot log + head, sealed into SQLite)', () => {
  it('says at start which durability mode and why, and db info shows it with the bytes written today', async () => {
    const dataDir = tmpDir();
    addDevice(dataDir, 'thermo');
    const auto = await startGateway({ dataDir });
    const line = await auto.waitForLog((l) => typeof l.durability === 'string');
    expect(['fsync', 'interval']).toContain(line.durability);
    expect(String(line.reason)).toContain(dataDir);
    expect(await auto.stop()).toBe(0);

    const set = await startGateway({ dataDir, env: { SLUICE_INGEST_DURABILITY: 'interval', SLUICE_INGEST_FSYNC_INTERVAL: '1s' } });
    try {
      const started = await set.waitForLog((l) => typeof l.durability === 'string');
      expect(started).toMatchObject({ durability: 'interval', reason: 'ingest.durability is set to interval in the configuration', fsyncInterval: 1000 });
      const info = JSON.parse(cli(['db', 'info', '--json'], { dataDir }).stdout) as { durability: unknown; written_today_bytes: unknown; unsealed_readings: unknown };
      expect(info.durability).toEqual({ mode: 'interval', reason: 'ingest.durability is set to interval in the configuration' });
      expect(typeof info.written_today_bytes).toBe('number');
      expect(info.unsealed_readings).toBe(0);
    } finally {
      await set.stop();
    }
  }, 60_000);

  it('in fsync mode every acknowledged message waited for an fdatasync, and db info says how long they took', async () => {
    const dataDir = tmpDir();
    const password = addDevice(dataDir, 'thermo');
    const gw = await startGateway({ dataDir, env: { SLUICE_INGEST_DURABILITY: 'fsync' } });
    try {
      const client = await connectClient(gw.port, { username: 'thermo', password });
      const t0 = Date.now() - 600_000;
      // One at a time: each PUBACK waits for a sync of its own, none shares a group.
      for (let i = 0; i < 5; i++) await client.publishAsync('sluice/thermo/telemetry', JSON.stringify({ temperature: 20 + i / 10, ts: t0 + i * 1000 }), { qos: 1 });
      client.end(true);
      const info = JSON.parse(cli(['db', 'info', '--json'], { dataDir }).stdout) as { log_sync: { syncs: number; p50_ms: number; p99_ms: number; max_ms: number; over_10ms: number } | null };
      expect(info.log_sync).not.toBeNull();
      const s = info.log_sync!;
      expect(s.syncs).toBeGreaterThanOrEqual(5);
      expect(s.p50_ms).toBeGreaterThan(0);
      expect(s.p50_ms).toBeLessThanOrEqual(s.p99_ms);
      expect(s.p99_ms).toBeLessThanOrEqual(s.max_ms);
      expect(s.over_10ms).toBeLessThanOrEqual(s.syncs);
      expect(cli(['db', 'info'], { dataDir }).stdout).toMatch(/log fsync\s+p50 [\d.]+ ms, p99 [\d.]+ ms, max [\d.]+ ms over the last \d+ syncs \(\d+ over 10 ms\)/);
    } finally {
      await gw.stop();
    }
  }, 60_000);

  it('after a cut at a byte of the log tail, starts, discards only the torn record and reports it', async () => {
    const dataDir = tmpDir();
    const password = addDevice(dataDir, 'thermo');
    const env = { SLUICE_INGEST_DURABILITY: 'interval' };
    let gw = await startGateway({ dataDir, env });
    const client = await connectClient(gw.port, { username: 'thermo', password });
    const t0 = Date.now() - 600_000;
    for (let i = 0; i < 20; i++) await client.publishAsync('sluice/thermo/telemetry', JSON.stringify({ temperature: 20 + i / 10, ts: t0 + i * 1000 }), { qos: 1 });
    client.end(true);
    await gw.kill();
    // A frame that was being written when the power went: every cut of it must be discarded alone.
    const torn = encodeFrame([{ seriesId: 1, ts: t0 + 99_000, value: 2500, flags: 0 }]);
    for (const cut of [1, 7, 8, 9, Math.floor(torn.length / 2), torn.length - 1]) {
      const segment = lastSegment(dataDir);
      const offset = statSync(segment).size;
      appendFileSync(segment, torn.subarray(0, cut));
      gw = await startGateway({ dataDir, env });
      const damage = await gw.waitForLog((l) => l.msg === 'hot log: discarded a damaged record at its tail (never acknowledged)');
      expect(damage, `cut at ${cut}`).toMatchObject({ offset, discardedBytes: cut, reason: 'torn' });
      expect(statSync(segment).size, `cut at ${cut}`).toBe(offset);
      await gw.kill();
      expect(readings(dataDir, 'thermo').map((r) => r.value), `cut at ${cut}`).toEqual(Array.from({ length: 20 }, (_, i) => 20 + i / 10));
    }
    // A clean start seals the replayed head into the database.
    gw = await startGateway({ dataDir, env });
    expect(gw.logs.some((l) => l.msg === 'hot log: discarded a damaged record at its tail (never acknowledged)')).toBe(false);
    expect(await gw.stop()).toBe(0);
    expect(readings(dataDir, 'thermo')).toHaveLength(20);
  }, 120_000);

  it('keeps every acknowledged reading over 20 kill -9 rounds in interval mode, gateway-stamped ones once', async () => {
    const seed = 20261201;
    const random = prng(seed);
    const dataDir = tmpDir();
    const password = addDevice(dataDir, 'thermo');
    const env = { SLUICE_INGEST_DURABILITY: 'interval', SLUICE_INGEST_SEAL_RECORDS: '150' };
    const acked = new Set<number>();
    let gatewayStamped = 0;
    const t0 = Date.now() - 3_600_000;
    for (let round = 0; round < 20; round++) {
      const gw = await startGateway({ dataDir, env });
      const client = await connectClient(gw.port, { username: 'thermo', password, clientId: 'thermo', clean: true });
      const killAfter = 10 + Math.floor(random() * 60);
      let sent = 0;
      const inFlight: Array<Promise<unknown>> = [];
      // About half the capacity of one client: a window of 8 unacknowledged messages.
      for (let i = 0; i < killAfter + 8; i++) {
        const ts = t0 + round * 1000 + i;
        const p = client.publishAsync('sluice/thermo/telemetry', JSON.stringify({ temperature: 20, ts }), { qos: 1 }).then(
          () => acked.add(ts),
          () => undefined,
        );
        inFlight.push(p);
        sent++;
        if (inFlight.length >= 8) await inFlight.shift();
        if (sent === killAfter) break;
      }
      // One message stamped by the gateway per round, acknowledged before the kill.
      await client.publishAsync('sluice/thermo/telemetry', JSON.stringify({ humidity: 40 + round }), { qos: 1 });
      gatewayStamped++;
      await gw.kill();
      client.end(true);
      await Promise.allSettled(inFlight);
    }
    const stored = readings(dataDir, 'thermo');
    const temps = new Set(stored.filter((r) => r.metric === 'temperature').map((r) => Date.parse(r.ts)));
    const missing = [...acked].filter((ts) => !temps.has(ts));
    expect(missing, `seed ${seed}`).toEqual([]);
    expect(stored.filter((r) => r.metric === 'humidity').map((r) => r.value)).toEqual(Array.from({ length: gatewayStamped }, (_, i) => 40 + i));
  }, 240_000);
});
