import { existsSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase, silentLogger, type SluiceDatabase } from '../../src/core/index.js';
import type { MetricSpec } from '../../src/devices/index.js';
import { allMigrations } from '../../src/app/index.js';
import {
  HOUR,
  QuantileSketch,
  SKETCH_RELATIVE_ERROR,
  StoreMaintenance,
  encodeValue,
  eraseScope,
  rawDaysFor,
  retentionCutoff,
  type SeriesType,
  type StoreMaintenanceSettings,
} from '../../src/store/index.js';
import { tmpDir } from '../helpers/tmp-dir.js';
import { seededRandom } from '../../src/simulate/index.js';

const TZ = 'Europe/Berlin';
const HOLD = 2 * HOUR;

const rng = seededRandom;

const specs: Record<string, MetricSpec> = {
  temperature: { type: 'number', unit: '°C', resolution: 0.01, counter: false, never_store: false },
  energy: { type: 'number', unit: 'Wh', counter: true, never_store: false },
  heating: { type: 'boolean', never_store: false },
  mode: { type: 'enum', values: ['off', 'heat', 'eco'], never_store: false },
};

interface Fixture {
  db: SluiceDatabase;
  maintenance: StoreMaintenance;
  series: Record<string, number>;
  raw: Record<string, Array<{ ts: number; value: number | boolean | string }>>;
}

async function fixture(settings: Partial<StoreMaintenanceSettings> = {}, pause: () => Promise<void> = () => Promise.resolve()): Promise<Fixture> {
  const dir = tmpDir();
  const db = await openDatabase({ path: join(dir, 'sluice.db'), migrations: allMigrations, logger: silentLogger() });
  const maintenance = new StoreMaintenance({
    db,
    specOf: (_d, metric) => specs[metric],
    settings: { rawDays: 1, rollupDays: 730, overrides: [], batchSize: 200, recheck: 86_400_000, timeZone: TZ, hold: HOLD, walAutocheckpoint: 1000, ...settings },
    pause,
  });
  maintenance.configureConnection();
  const series: Record<string, number> = {};
  for (const [metric, spec] of Object.entries(specs)) {
    const scale = spec.type === 'number' ? (spec.resolution ?? null) : null;
    series[metric] = Number(db.raw.prepare("INSERT INTO series (device_id, component, metric, type, unit, scale) VALUES ('dev', '', ?, ?, NULL, ?)").run(metric, spec.type, scale).lastInsertRowid);
  }
  return { db, maintenance, series, raw: Object.fromEntries(Object.keys(specs).map((m) => [m, []])) };
}

/** Readings every ~7 minutes (jittered) over [from, to), seeded. */
function fill(f: Fixture, from: number, to: number, seed: number): void {
  const random = rng(seed);
  const insert = f.db.raw.prepare('INSERT INTO readings (series_id, ts, v) VALUES (?, ?, ?)');
  let energy = 1000;
  let mode = 'off';
  let heating = false;
  f.db.tx(() => {
    for (let ts = from; ts < to; ts += 5 * 60_000 + Math.floor(random() * 4 * 60_000)) {
      const temperature = Math.round((random() * 30 - 8) * 100) / 100;
      energy = random() < 0.01 ? Math.round(random() * 5) : energy + Math.round(random() * 40);
      if (random() < 0.1) heating = !heating;
      if (random() < 0.05) mode = ['off', 'heat', 'eco'][Math.floor(random() * 3)]!;
      // A 4-hour silence, so the hold limit matters.
      if (ts >= from + 10 * HOUR && ts < from + 14 * HOUR) continue;
      const values: Record<string, number | boolean | string> = { temperature, energy, heating, mode };
      for (const [metric, value] of Object.entries(values)) {
        // Not every metric reports every time, as with real devices.
        if (metric !== 'temperature' && random() < 0.3) continue;
        const spec = specs[metric]!;
        insert.run(f.series[metric], ts, encodeValue(spec.type as SeriesType, spec.type === 'number' ? (spec.resolution ?? null) : null, value));
        f.raw[metric]!.push({ ts, value });
      }
    }
  });
}

/** The statistics of [a, b) computed straight from raw readings, with the same hold rule. */
function expected(points: Array<{ ts: number; value: number | boolean | string }>, a: number, b: number) {
  const inside = points.filter((p) => p.ts >= a && p.ts < b);
  const before = points.filter((p) => p.ts < a).at(-1);
  const nums = inside.map((p) => p.value).filter((v): v is number => typeof v === 'number');
  let twSum = 0;
  let twMs = 0;
  const states: Record<string, number> = {};
  const chain = before ? [before, ...inside] : inside;
  chain.forEach((p, i) => {
    const start = Math.max(p.ts, a);
    const stop = Math.min(chain[i + 1]?.ts ?? b, p.ts + HOLD, b);
    if (stop <= start) return;
    twMs += stop - start;
    if (typeof p.value === 'number') twSum += p.value * (stop - start);
    else states[String(p.value)] = (states[String(p.value)] ?? 0) + stop - start;
  });
  let increase = 0;
  chain.forEach((p, i) => {
    if (i === 0 || p.ts < a) return;
    const prev = chain[i - 1]!.value as number;
    increase += (p.value as number) >= prev ? (p.value as number) - prev : (p.value as number);
  });
  return {
    count: inside.length,
    sum: nums.reduce((x, y) => x + y, 0),
    min: nums.length ? Math.min(...nums) : null,
    max: nums.length ? Math.max(...nums) : null,
    first: inside[0]?.value ?? null,
    last: inside.at(-1)?.value ?? null,
    twMean: twMs > 0 && nums.length ? twSum / twMs : null,
    states,
    increase,
    sorted: [...nums].sort((x, y) => x - y),
  };
}

describe('retention with rollups across DST (Europe/Berlin, injected clock)', () => {
  const days = [
    { name: 'spring forward 2026-03-29', from: '2026-03-29T00:00:00+01:00', to: '2026-03-30T00:00:00+02:00', hours: 23, seed: 329 },
    { name: 'fall back 2026-10-25', from: '2026-10-25T00:00:00+02:00', to: '2026-10-26T00:00:00+01:00', hours: 25, seed: 1025 },
  ];
  for (const day of days) {
    it(`rolls up before purging, and rollup statistics equal raw ones: ${day.name} (seed ${day.seed})`, async () => {
      const f = await fixture();
      const a = Date.parse(day.from);
      const b = Date.parse(day.to);
      fill(f, a - 6 * HOUR, b + 30 * HOUR, day.seed);
      const now = b + 40 * HOUR; // raw_days = 1: the whole day, and the day after's start, are past retention
      const before = Object.fromEntries(Object.keys(specs).map((m) => [m, expected(f.raw[m]!, a, b)]));
      const result = await f.maintenance.retention(now);
      expect(result.purged_readings).toBeGreaterThan(0);
      // Raw readings of the day are gone...
      const cutoff = retentionCutoff(now, 1, TZ);
      expect(cutoff).toBeGreaterThan(b);
      expect(f.db.raw.prepare('SELECT COUNT(*) AS n FROM readings WHERE ts < ?').get(cutoff)).toEqual({ n: 0 });
      expect((f.db.raw.prepare('SELECT COUNT(*) AS n FROM readings').get() as { n: number }).n).toBeGreaterThan(0);
      // ...but its statistics are still there, hour by hour.
      for (const metric of Object.keys(specs)) {
        const [summary] = f.maintenance.rollups.query({ deviceId: 'dev', metric, from: a, to: b });
        const want = before[metric]!;
        const got = summary!.stats;
        // Every local hour has a row, except the 2 silent hours beyond the 2-hour hold.
        if (metric === 'temperature') expect(summary!.hours.length, 'hours in the local day').toBe(day.hours - 2);
        expect(got.count, metric).toBe(want.count);
        expect(got.first, metric).toEqual(want.first);
        expect(got.last, metric).toEqual(want.last);
        if (metric === 'temperature' || metric === 'energy') {
          expect(got.sum).toBeCloseTo(want.sum, 6);
          expect(got.min).toBe(want.min);
          expect(got.max).toBe(want.max);
          expect(got.timeWeightedMean!).toBeCloseTo(want.twMean!, 6);
          for (const q of [0.05, 0.5, 0.95]) {
            const exact = want.sorted[Math.floor(q * (want.sorted.length - 1))]!;
            expect(Math.abs(got.sketch!.quantile(q)! - exact)).toBeLessThanOrEqual(SKETCH_RELATIVE_ERROR * Math.abs(exact) + 1e-9);
          }
        }
        if (metric === 'energy') expect(got.increase).toBeCloseTo(want.increase, 6);
        if (metric === 'heating' || metric === 'mode') expect(got.states).toEqual(want.states);
      }
    });
  }

  it('purges in bounded batches that report whether they are done', async () => {
    const f = await fixture({ batchSize: 50 });
    const start = Date.parse('2026-03-27T00:00:00+01:00');
    fill(f, start, start + 4 * 86_400_000, 7);
    const now = start + 5 * 86_400_000;
    const rows = () => (f.db.raw.prepare('SELECT COUNT(*) AS n FROM readings').get() as { n: number }).n;
    const total = rows();
    let steps = 0;
    for (;;) {
      const before = rows();
      const step = f.maintenance.purger.step(now);
      steps++;
      expect(before - rows()).toBeLessThanOrEqual(50);
      if (step.done) break;
    }
    expect(steps).toBeGreaterThan(total / 50);
    const cutoff = retentionCutoff(now, 1, TZ);
    expect(f.db.raw.prepare('SELECT COUNT(*) AS n FROM readings WHERE ts < ?').get(cutoff)).toEqual({ n: 0 });
  });

  it('a stop ends a long run between two steps, and the next run purges the rest', async () => {
    const stop = new AbortController();
    let pauses = 0;
    // The scheduler aborts the signal on stop; here the fifth pause between steps plays that moment.
    const f = await fixture({ batchSize: 50 }, () => {
      if (++pauses === 5) stop.abort();
      return Promise.resolve();
    });
    const start = Date.parse('2026-03-27T00:00:00+01:00');
    fill(f, start, start + 4 * 86_400_000, 11);
    const now = start + 5 * 86_400_000;
    const cutoff = retentionCutoff(now, 1, TZ);
    const old = () => (f.db.raw.prepare('SELECT COUNT(*) AS n FROM readings WHERE ts < ?').get(cutoff) as { n: number }).n;
    const before = old();
    expect(await f.maintenance.retention(now, stop.signal)).toEqual({ interrupted: true });
    // Five bounded steps ran (a rollup step can delete nothing), far from the whole purge.
    expect(old()).toBeGreaterThan(before - 5 * 50 - 1);
    expect(old()).toBeGreaterThan(0);
    const rest = await f.maintenance.retention(now, new AbortController().signal);
    expect(rest.interrupted).toBeUndefined();
    expect(old()).toBe(0);
  });

  it('counts retention days on the household clock: 1 day back over spring-forward is 23 hours', () => {
    const now = Date.parse('2026-03-29T12:30:00+02:00');
    expect(retentionCutoff(now, 1, TZ)).toBe(Date.parse('2026-03-28T12:00:00+01:00'));
    expect(now - retentionCutoff(now, 1, TZ)).toBe(23.5 * HOUR);
  });

  it('picks the most specific retention: config device+metric, device, metric, then profile, then default', () => {
    const settings = {
      rawDays: 30,
      overrides: [
        { device: 'lock', raw_days: 2 },
        { metric: 'power', raw_days: 7 },
        { device: 'lock', metric: 'battery', raw_days: 90 },
      ],
    };
    const profile: MetricSpec = { type: 'number', unit: 'W', counter: false, never_store: false, retention_days: 3 };
    expect(rawDaysFor(settings, 'lock', 'battery', undefined)).toBe(90);
    expect(rawDaysFor(settings, 'lock', 'power', undefined)).toBe(2);
    expect(rawDaysFor(settings, 'plug', 'power', profile)).toBe(7);
    expect(rawDaysFor(settings, 'plug', 'voltage', profile)).toBe(3);
    expect(rawDaysFor(settings, 'plug', 'voltage', undefined)).toBe(30);
  });

  it('keeps rollups until rollup_days, then purges them too', async () => {
    const f = await fixture({ rollupDays: 2 });
    const start = Date.parse('2026-10-20T00:00:00+02:00');
    fill(f, start, start + 86_400_000, 11);
    await f.maintenance.retention(start + 2 * 86_400_000);
    expect((f.db.raw.prepare('SELECT COUNT(*) AS n FROM rollups').get() as { n: number }).n).toBeGreaterThan(0);
    await f.maintenance.retention(start + 4 * 86_400_000);
    expect(f.db.raw.prepare('SELECT COUNT(*) AS n FROM rollups').get()).toEqual({ n: 0 });
    expect(new QuantileSketch().count).toBe(0);
  });

  it('erases a metric, or everything before an instant, from readings and rollups', async () => {
    const f = await fixture();
    const start = Date.parse('2026-10-24T00:00:00+02:00');
    fill(f, start, start + 2 * 86_400_000, 5);
    await f.maintenance.rollups.rollRecent(start + 3 * 86_400_000, { recheck: 86_400_000, batchSize: 500, pause: () => Promise.resolve() });
    const count = (sql: string, ...args: unknown[]) => (f.db.raw.prepare(sql).get(...args) as { n: number }).n;
    const options = { batchSize: 100, pause: () => Promise.resolve() };

    const byMetric = await eraseScope(f.db, { metric: 'mode' }, options);
    expect(byMetric.readings).toBe(f.raw.mode!.length);
    expect(byMetric.series).toBe(1);
    expect(count("SELECT COUNT(*) AS n FROM series WHERE metric = 'mode'")).toBe(0);
    expect(count('SELECT COUNT(*) AS n FROM readings WHERE series_id = ?', f.series.mode)).toBe(0);
    expect(count('SELECT COUNT(*) AS n FROM rollups WHERE series_id = ?', f.series.mode)).toBe(0);
    expect(count('SELECT COUNT(*) AS n FROM readings WHERE series_id = ?', f.series.temperature)).toBe(f.raw.temperature!.length);

    const cut = start + 86_400_000 + 30 * 60_000; // mid-hour
    const before = await eraseScope(f.db, { before: cut }, options);
    expect(before.series).toBe(0);
    expect(count('SELECT COUNT(*) AS n FROM readings WHERE ts < ?', cut)).toBe(0);
    expect(count('SELECT COUNT(*) AS n FROM readings WHERE ts >= ?', cut)).toBeGreaterThan(0);
    // Every hour that starts before the instant goes, including the one it cuts.
    expect(count('SELECT COUNT(*) AS n FROM rollups WHERE hour < ?', cut)).toBe(0);
    expect(count('SELECT COUNT(*) AS n FROM rollups')).toBeGreaterThan(0);
  });

  it('deletes the pre-upgrade backup once it is older than raw retention', async () => {
    const f = await fixture({ rawDays: 2 });
    const backup = `${f.db.path}.bak`;
    writeFileSync(backup, 'old copy');
    const now = Date.now();
    utimesSync(backup, new Date(now - 86_400_000), new Date(now - 86_400_000));
    expect(await f.maintenance.retention(now)).toMatchObject({ backup_removed: false });
    utimesSync(backup, new Date(now - 3 * 86_400_000), new Date(now - 3 * 86_400_000));
    expect(await f.maintenance.retention(now)).toMatchObject({ backup_removed: true });
    expect(existsSync(backup)).toBe(false);
  });
});
