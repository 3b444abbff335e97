import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DB_FILE, EventBus, ManualClock, openDatabase, silentLogger } from '../../src/core/index.js';
import type { MetricSpec } from '../../src/devices/index.js';
import { allMigrations } from '../../src/app/index.js';
import { ReadingWriter, StoreQueries } from '../../src/store/index.js';
import { tmpDir } from '../helpers/tmp-dir.js';

const specs = {
  temperature: { type: 'number', unit: '°C', resolution: 0.01, counter: false, never_store: false },
  power: { type: 'number', unit: 'W', counter: false, never_store: false },
  heating: { type: 'boolean', never_store: false },
  mode: { type: 'enum', values: ['off', 'heat'], never_store: false },
} as unknown as Record<string, MetricSpec>;

// The storage model's bytes per reading depend on scaled values being stored as SQLite
// integers: better-sqlite3 would otherwise bind them as 8-byte REALs.
describe('stored value types', () => {
  it('stores scaled numbers and booleans as integers, unscaled fractions as REAL, enums as text', async () => {
    const db = await openDatabase({ path: join(tmpDir(), DB_FILE), migrations: allMigrations, logger: silentLogger() });
    const writer = new ReadingWriter({
      db,
      clock: new ManualClock(0),
      logger: silentLogger(),
      events: new EventBus(),
      options: { batchInterval: 1, batchSize: 500, quarantineMaxEntries: 10, quarantineMaxBytes: 4096 },
    });
    writer.start();
    const ts = Date.UTC(2026, 0, 1);
    const at = (metric: string, value: number | boolean | string) => ({ metric, component: '', value, ts, timeSource: 'device' as const });
    await writer.submit({ deviceId: 'd1', specs, readings: [at('temperature', 21.53), at('power', 12.5), at('heating', true), at('mode', 'heat')] });
    await writer.submit({ deviceId: 'd2', specs, readings: [at('power', 40)] });
    await writer.stop();
    const types = db.raw
      .prepare<[], { device_id: string; metric: string; t: string }>('SELECT s.device_id, s.metric, typeof(r.v) AS t FROM readings r JOIN series s ON s.id = r.series_id ORDER BY s.id')
      .all()
      .map((r) => `${r.device_id}.${r.metric}: ${r.t}`);
    expect(types).toEqual(['d1.temperature: integer', 'd1.power: real', 'd1.heating: integer', 'd1.mode: text', 'd2.power: integer']);
    const values = new StoreQueries(db).readings({ deviceId: 'd1' }).map((r) => [r.metric, r.value]);
    expect(Object.fromEntries(values)).toEqual({ temperature: 21.53, power: 12.5, heating: true, mode: 'heat' });
    db.close();
  });
});
