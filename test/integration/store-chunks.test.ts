import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase, silentLogger, type SluiceDatabase } from '../../src/core/index.js';
import type { MetricSpec } from '../../src/devices/index.js';
import { allMigrations } from '../../src/app/index.js';
import {
  CHUNK_PERIOD,
  HOUR,
  ReadingHead,
  SealedReadings,
  StoreMaintenance,
  StoreQueries,
  databaseInfo,
  encodeValue,
  eraseCounts,
  eraseScope,
  retentionCutoff,
  type SeriesType,
} from '../../src/store/index.js';
import { seededRandom } from '../../src/simulate/index.js';
import { tmpDir } from '../helpers/tmp-dir.js';

// The same readings stored in the two layouts a database can hold — rows of `readings` (before
// store v3, and the writer without a hot log) and sealed chunks — must read, roll up, purge and
// erase alike through the one interface.

const TZ = 'Asia/Kolkata'; // +05:30: its hours, and so retention cutoffs, cut the UTC-hour chunks in half
const specs: Record<string, MetricSpec> = {
  temperature: { type: 'number', unit: '°C', resolution: 0.01, counter: false, never_store: false },
  power: { type: 'number', unit: 'W', counter: false, never_store: false },
  heating: { type: 'boolean', never_store: false },
  mode: { type: 'enum', values: ['off', 'heat', 'eco'], never_store: false },
};

type Layout = 'rows' | 'chunks';

interface Store {
  db: SluiceDatabase;
  maintenance: StoreMaintenance;
  queries: StoreQueries;
  sealed: SealedReadings;
  series: Record<string, number>;
}

async function store(layout: Layout, from: number, to: number, seed: number, batchSize = 200): Promise<Store> {
  const db = await openDatabase({ path: join(tmpDir(), 'sluice.db'), migrations: allMigrations, logger: silentLogger() });
  const maintenance = new StoreMaintenance({
    db,
    specOf: (_d, metric) => specs[metric],
    settings: { rawDays: 1, rollupDays: 730, overrides: [], batchSize, recheck: 86_400_000, timeZone: TZ, hold: 2 * HOUR, walAutocheckpoint: 1000 },
    pause: () => Promise.resolve(),
  });
  maintenance.configureConnection();
  const series: Record<string, number> = {};
  for (const [metric, spec] of Object.entries(specs)) {
    const scale = spec.type === 'number' ? (spec.resolution ?? null) : null;
    series[metric] = Number(db.raw.prepare("INSERT INTO series (device_id, component, metric, type, unit, scale) VALUES ('dev', '', ?, ?, NULL, ?)").run(metric, spec.type, scale).lastInsertRowid);
  }
  const random = seededRandom(seed);
  const bySeries = new Map<number, Array<{ ts: number; v: number | string; flags: number }>>();
  let power = 100.5;
  let mode = 'off';
  let heating = false;
  for (let ts = from; ts < to; ts += 60_000 + Math.floor(random() * 4 * 60_000)) {
    power = random() < 0.02 ? 0 : Math.round((power + (random() - 0.5) * 40) * 10) / 10;
    if (random() < 0.1) heating = !heating;
    if (random() < 0.05) mode = ['off', 'heat', 'eco'][Math.floor(random() * 3)]!;
    const values: Record<string, number | boolean | string> = { temperature: Math.round((random() * 30 - 8) * 100) / 100, power, heating, mode };
    for (const [metric, value] of Object.entries(values)) {
      if (metric !== 'temperature' && random() < 0.3) continue;
      const spec = specs[metric]!;
      const list = bySeries.get(series[metric]!) ?? [];
      bySeries.set(series[metric]!, list);
      // Every third reading stamped by the gateway, so the flags survive the chunk layout.
      list.push({ ts, v: encodeValue(spec.type as SeriesType, spec.type === 'number' ? (spec.resolution ?? null) : null, value), flags: list.length % 3 === 0 ? 1 : 0 });
    }
  }
  const sealed = new SealedReadings(db.raw);
  const insert = db.raw.prepare('INSERT INTO readings (series_id, ts, v, flags) VALUES (?, ?, ?, ?)');
  db.tx(() => {
    for (const [id, list] of bySeries) {
      if (layout === 'rows') for (const r of list) insert.run(id, r.ts, Number.isSafeInteger(r.v) ? BigInt(r.v) : r.v, r.flags === 1 ? 1 : null);
      // Sealed in several pieces (as seals of a part of an hour each), out of order.
      else for (const part of [list.filter((_, i) => i % 2 === 1), list.filter((_, i) => i % 2 === 0)]) sealed.write(id, part);
    }
  });
  return { db, maintenance, sealed, series, queries: new StoreQueries(db, new ReadingHead()) };
}

const sealedCount = (s: Store) => s.sealed.totals().readings;

describe('sealed chunks and old rows read alike', () => {
  const from = Date.parse('2026-03-27T00:00:00+05:30');
  const to = from + 3 * 86_400_000;

  it('queries, latest, counts and db info', async () => {
    const rows = await store('rows', from, to, 11);
    const chunks = await store('chunks', from, to, 11);
    expect(sealedCount(chunks)).toBe(sealedCount(rows));
    expect(sealedCount(rows)).toBeGreaterThan(3000);
    const all = rows.queries.readings({ deviceId: 'dev', limit: 1e9 });
    expect(all.some((r) => r.timeSource === 'gateway') && all.some((r) => r.timeSource === 'device')).toBe(true);
    expect(chunks.queries.readings({ deviceId: 'dev', limit: 1e9 })).toEqual(all);
    for (const q of [
      { deviceId: 'dev', metric: 'power', since: from + 5 * HOUR + 17 * 60_000, until: from + 30 * HOUR },
      { deviceId: 'dev', since: from + 7 * HOUR, limit: 25 },
      { deviceId: 'dev', metric: 'mode' },
    ]) {
      expect(chunks.queries.readings(q)).toEqual(rows.queries.readings(q));
    }
    expect(chunks.queries.latest('dev')).toEqual(rows.queries.latest('dev'));
    const info = (s: Store) => {
      const i = databaseInfo(s.db, { rawDays: 1, rollupDays: 730, overrides: [] });
      return [i.readings, i.oldest_reading, i.newest_reading];
    };
    expect(info(chunks)).toEqual(info(rows));
    const cut = from + 36 * HOUR + 7 * 60_000;
    expect(eraseCounts(chunks.db, { before: cut })).toEqual(eraseCounts(rows.db, { before: cut }));
    // At rest fewer bytes even for sparse readings (~20 a chunk) with mixed flags; bench/ measures a household.
    const bytes = (s: Store, table: string) => (s.db.raw.prepare('SELECT SUM(pgsize) AS n FROM dbstat WHERE name = ?').get(table) as { n: number }).n;
    expect(bytes(chunks, 'chunks')).toBeLessThan(bytes(rows, 'readings'));
  });

  it('rollups and retention give the same statistics, and purge to the same cutoff (a +05:30 cutoff re-encodes the chunk it cuts)', async () => {
    const rows = await store('rows', from, to, 12);
    const chunks = await store('chunks', from, to, 12);
    const now = to + 6 * HOUR;
    const cutoff = retentionCutoff(now, 1, TZ);
    expect(cutoff % CHUNK_PERIOD, 'the cutoff falls inside a chunk').not.toBe(0);
    const a = await rows.maintenance.retention(now);
    const b = await chunks.maintenance.retention(now);
    expect(b.purged_readings).toBe(a.purged_readings);
    expect(b.rolled_hours).toBe(a.rolled_hours);
    expect(a.purged_readings).toBeGreaterThan(0);
    expect(chunks.sealed.count(chunks.series.temperature!, cutoff)).toBe(0);
    expect(chunks.sealed.oldest(chunks.series.temperature!)).toBeGreaterThanOrEqual(cutoff);
    expect(sealedCount(chunks)).toBe(sealedCount(rows));
    expect(chunks.queries.readings({ deviceId: 'dev', limit: 1e9 })).toEqual(rows.queries.readings({ deviceId: 'dev', limit: 1e9 }));
    for (const metric of Object.keys(specs)) {
      const q = { deviceId: 'dev', metric, from: from - HOUR, to: to + HOUR };
      expect(chunks.maintenance.rollups.query(q)).toEqual(rows.maintenance.rollups.query(q));
    }
  });

  it('purges chunks in bounded steps that report whether they are done', async () => {
    const chunks = await store('chunks', from, to, 13, 50);
    const now = to + 6 * HOUR;
    let steps = 0;
    for (;;) {
      const before = sealedCount(chunks);
      const step = chunks.maintenance.purger.step(now);
      steps++;
      // A step takes whole chunks up to its batch: at most a chunk (an hour, ≤ 60 readings here) over.
      expect(before - sealedCount(chunks)).toBeLessThanOrEqual(50 + 60);
      if (step.done) break;
    }
    expect(steps).toBeGreaterThan(5);
    expect(chunks.sealed.count(chunks.series.power!, retentionCutoff(now, 1, TZ))).toBe(0);
  });

  it('erases a metric, or everything before an instant mid-chunk, alike', async () => {
    const rows = await store('rows', from, to, 14);
    const chunks = await store('chunks', from, to, 14);
    const options = { batchSize: 100, pause: () => Promise.resolve() };
    for (const scope of [{ metric: 'mode' }, { before: from + 40 * HOUR + 23 * 60_000 }]) {
      const a = await eraseScope(rows.db, scope, options);
      const b = await eraseScope(chunks.db, scope, options);
      expect({ ...b, bytesBefore: 0, bytesAfter: 0 }).toEqual({ ...a, bytesBefore: 0, bytesAfter: 0 });
      expect(chunks.queries.readings({ deviceId: 'dev', limit: 1e9 })).toEqual(rows.queries.readings({ deviceId: 'dev', limit: 1e9 }));
    }
    expect(chunks.db.raw.prepare('SELECT COUNT(*) AS n FROM chunks WHERE series_id = ?').get(chunks.series.mode)).toEqual({ n: 0 });
  });

  it('a reading already sealed wins over the same (series, ts) sealed again', async () => {
    const chunks = await store('chunks', from, from + HOUR, 15);
    const id = chunks.series.temperature!;
    const [first] = chunks.sealed.range(id, from, from + HOUR);
    chunks.db.tx(() => chunks.sealed.write(id, [{ ts: first!.ts, v: -999, flags: 1 }]));
    expect(chunks.sealed.range(id, first!.ts, first!.ts + 1)).toEqual([first]);
  });
});
