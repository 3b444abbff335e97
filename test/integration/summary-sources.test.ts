import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase, silentLogger, type SluiceDatabase, type TimeWindow } from '../../src/core/index.js';
import type { MetricSpec } from '../../src/devices/index.js';
import { allMigrations } from '../../src/app/index.js';
import { lastClosedWindow } from '../../src/policy/index.js';
import { encodeValue, HOUR, Rollups, SKETCH_RELATIVE_ERROR, StoreMaintenance, StoreQueries, WindowSource, type SeriesType } from '../../src/store/index.js';
import { percentileType7, summarise, type SummaryOutcome } from '../../src/summarise/index.js';
import { tmpDir } from '../helpers/tmp-dir.js';
import { policy, profiles } from '../unit/summarise/helpers.js';

const TZ = 'Europe/Berlin';
const HOLD = 2 * HOUR;
const SECRET = Buffer.alloc(32, 7);
// Europe/Berlin: 2026-03-29 has 23 hours, 2026-10-25 has 25.
const SPRING = lastClosedWindow(Date.parse('2026-03-30T12:00:00+02:00'), '1d', TZ);
const AUTUMN = lastClosedWindow(Date.parse('2026-10-26T12:00:00+01:00'), '1d', TZ);

const SHARE = [
  '  - devices: { id: s }',
  '    metrics: [humidity]',
  '    window: 1d',
  '    stats: [mean, min, max, sum, count, last, p50, p75, p90, p95, p99, histogram]',
  '    buckets: [40, 50]',
  '  - devices: { id: m }',
  '    metrics: [energy]',
  '    window: 1d',
  '    stats: [increase, last]',
  '  - devices: { id: a }',
  '    metrics: [heating]',
  '    window: 1d',
  '    stats: [time_in_state, count]',
  '',
].join('\n');
const POLICY = policy(SHARE);

const specOf = (deviceId: string, metric: string): MetricSpec | undefined => {
  const profile = { s: 'sensor', m: 'plug', a: 'thermostat' }[deviceId];
  const metrics = profile ? (profiles.get(profile)?.metrics as Record<string, MetricSpec> | undefined) : undefined;
  return metrics && Object.hasOwn(metrics, metric) ? metrics[metric] : undefined;
};

const round1 = (v: number) => Math.round(v * 10) / 10;

interface Home {
  db: SluiceDatabase;
  humidity: number[];
  source(rawDays: number): WindowSource;
  purge(now: number, rawDays: number): Promise<number>;
}

/** A home with fixed readings over a window: humidity every 10 min, an energy counter with a reset, and heating on for the first 10 hours. */
async function home(w: TimeWindow): Promise<Home> {
  const db = await openDatabase({ path: join(tmpDir(), 'sluice.db'), migrations: allMigrations, logger: silentLogger() });
  const seriesId = (device: string, metric: string) => {
    const spec = specOf(device, metric)!;
    const scale = spec.type === 'number' ? (spec.resolution ?? null) : null;
    return { id: Number(db.raw.prepare("INSERT INTO series (device_id, component, metric, type, unit, scale) VALUES (?, '', ?, ?, NULL, ?)").run(device, metric, spec.type, scale).lastInsertRowid), spec, scale };
  };
  const insert = db.raw.prepare('INSERT INTO readings (series_id, ts, v) VALUES (?, ?, ?)');
  const put = (s: ReturnType<typeof seriesId>, ts: number, value: number | boolean) => insert.run(s.id, ts, encodeValue(s.spec.type as SeriesType, s.scale, value));
  const hum = seriesId('s', 'humidity');
  const energy = seriesId('m', 'energy');
  const heating = seriesId('a', 'heating');
  const humidity: number[] = [];
  db.tx(() => {
    for (let k = 0, ts = w.start; ts < w.end; k++, ts += 10 * 60_000) {
      const v = round1(45 + 10 * Math.sin(k / 9));
      humidity.push(v);
      put(hum, ts, v);
    }
    for (let i = 0, ts = w.start; ts < w.end; i++, ts += HOUR) {
      put(energy, ts, i < 12 ? 100 + i * 0.5 : (i - 12) * 0.5);
      put(heating, ts, i < 10);
    }
  });
  const queries = new StoreQueries(db);
  const rollups = new Rollups({ db, timeZone: TZ, hold: HOLD, specOf });
  return {
    db,
    humidity,
    source: (rawDays) => new WindowSource({ queries, rollups, specOf, timeZone: TZ, hold: HOLD, retention: { rawDays, overrides: [] } }),
    async purge(now, rawDays) {
      const m = new StoreMaintenance({
        db,
        specOf,
        settings: { rawDays, rollupDays: 730, overrides: [], batchSize: 50, recheck: 0, timeZone: TZ, hold: HOLD, walAutocheckpoint: 1000 },
        pause: () => Promise.resolve(),
      });
      return (await m.purger.purge(now, () => Promise.resolve())).readings;
    },
  };
}

function summaryAt(h: Home, w: TimeWindow, now: number, rawDays: number) {
  const read = h.source(rawDays).forWindow(w, now);
  const out: SummaryOutcome = summarise({ policy: POLICY, window: w, size: '1d', timezone: TZ, gatewaySecret: SECRET, samples: read.samples, rollups: read });
  if (out.kind !== 'summary') throw new Error(out.message);
  return out.summary;
}

/** The exact statistics of the fixed readings, computed here from the list itself. */
function exact(h: Home, w: TimeWindow) {
  const sorted = [...h.humidity].sort((a, b) => a - b);
  const hours = (w.end - w.start) / HOUR;
  const last = (hours - 1 - 12) * 0.5;
  return {
    humidity: {
      count: h.humidity.length,
      min: sorted[0],
      max: sorted.at(-1),
      sum: round1(h.humidity.reduce((a, b) => a + b, 0)),
      last: h.humidity.at(-1),
      // Every reading holds 10 minutes (the next one, or the window end): the plain mean.
      mean: round1(h.humidity.reduce((a, b) => a + b, 0) / h.humidity.length),
      p: Object.fromEntries([50, 75, 90, 95, 99].map((p) => [`p${p}`, percentileType7(sorted, p / 100)])),
      histogram: [sorted.filter((v) => v < 40).length, sorted.filter((v) => v >= 40 && v < 50).length, sorted.filter((v) => v >= 50).length],
    },
    // 11 rises of 0.5 before the reset, the reset counts from 0, then (hours − 13) rises of 0.5.
    energy: { increase: round1(11 * 0.5 + (hours - 13) * 0.5), last },
    heating: { time_in_state: { false: hours - 10, true: 10 }, count: hours },
  };
}

function expectPercentilesWithinError(got: Record<string, unknown>, want: Record<string, number>) {
  for (const [name, value] of Object.entries(want)) {
    // The sketch's relative error, plus half the rounding step (0.1 %RH) the policy rounds to.
    expect(Math.abs((got[name] as number) - value), name).toBeLessThanOrEqual(SKETCH_RELATIVE_ERROR * Math.abs(value) + 0.05 + 1e-9);
  }
}

describe('summaries within raw retention read raw readings, past it the hourly rollups (Europe/Berlin)', () => {
  it('a 23 h spring-forward day wholly within retention: raw, exact, and the body has no rollup marker', async () => {
    const h = await home(SPRING);
    const s = summaryAt(h, SPRING, Date.parse('2026-03-30T12:00:00+02:00'), 7);
    const e = exact(h, SPRING);
    expect(s.sources.map((x) => x.source)).toEqual(['raw', 'raw', 'raw']);
    const [humidity, energy, heating] = s.document.items;
    expect(e.humidity.count).toBe(23 * 6);
    expect(humidity!.stats).toEqual({
      count: e.humidity.count,
      min: e.humidity.min,
      max: e.humidity.max,
      sum: e.humidity.sum,
      last: e.humidity.last,
      mean: e.humidity.mean,
      ...Object.fromEntries(Object.entries(e.humidity.p).map(([k, v]) => [k, round1(v)])),
      histogram: { edges: [40, 50], counts: e.humidity.histogram },
    });
    expect(energy!.stats).toEqual(e.energy);
    expect(heating!.stats).toEqual(e.heating);
    expect(s.document.items.some((i) => 'rollup' in i)).toBe(false);
    expect(s.body.toString('utf8')).not.toContain('rollup');
  });

  it('a 25 h fall-back day wholly past retention, raw purged: rollup columns exact, percentiles within 1 %, histogram left out and said so', async () => {
    const h = await home(AUTUMN);
    const now = Date.parse('2026-11-10T12:00:00+01:00');
    expect(await h.purge(now, 1)).toBe(25 * 6 + 25 + 25);
    expect(h.db.raw.prepare('SELECT COUNT(*) AS n FROM readings').get()).toEqual({ n: 0 });
    const s = summaryAt(h, AUTUMN, now, 1);
    const e = exact(h, AUTUMN);
    expect(s.sources).toEqual([
      { rule: 1, metric: 'humidity', source: 'rollup' },
      { rule: 2, metric: 'energy', source: 'rollup' },
      { rule: 3, metric: 'heating', source: 'rollup' },
    ]);
    expect(s.document.window).toEqual({ start: '2026-10-25T00:00:00+02:00', end: '2026-10-26T00:00:00+01:00' });
    const [humidity, energy, heating] = s.document.items;
    const { count, min, max, sum, last, mean, ...percentiles } = humidity!.stats as Record<string, number>;
    expect({ count, min, max, sum, last, mean }).toEqual({ count: 25 * 6, min: e.humidity.min, max: e.humidity.max, sum: e.humidity.sum, last: e.humidity.last, mean: e.humidity.mean });
    expect(Object.keys(percentiles).sort()).toEqual(['p50', 'p75', 'p90', 'p95', 'p99']);
    expectPercentilesWithinError(percentiles, e.humidity.p);
    expect(humidity!.rollup).toEqual({ percentile_relative_error: 0.01, left_out: ['histogram'] });
    expect(energy!.stats).toEqual(e.energy);
    expect(energy!.rollup).toEqual({ percentile_relative_error: 0.01 });
    expect(heating!.stats).toEqual(e.heating);
    expect(JSON.parse(s.body.toString('utf8')).items[0].rollup).toEqual({ left_out: ['histogram'], percentile_relative_error: 0.01 });
  });

  it('a day straddling the retention edge: rollups before it, raw readings after it, the same bytes before and after the purge runs', async () => {
    const h = await home(AUTUMN);
    // One day of raw retention at noon on the 26th: the edge is noon on the 25th, inside the 25 h day.
    const now = Date.parse('2026-10-26T12:00:00+01:00');
    const before = summaryAt(h, AUTUMN, now, 1);
    expect(before.sources.map((x) => x.source)).toEqual(['rollup', 'rollup', 'rollup']);
    const purged = await h.purge(now, 1);
    // Readings before 12:00+01:00 on the 25th (13 of its 25 hours) are gone; the rest stay raw.
    expect(purged).toBe(13 * 6 + 13 + 13);
    expect((h.db.raw.prepare('SELECT COUNT(*) AS n FROM readings').get() as { n: number }).n).toBe(12 * 8);
    const after = summaryAt(h, AUTUMN, now, 1);
    expect(after.body.equals(before.body)).toBe(true);
    const e = exact(h, AUTUMN);
    const stats = after.document.items[0]!.stats as Record<string, number>;
    expect([stats.count, stats.min, stats.max, stats.sum, stats.mean]).toEqual([25 * 6, e.humidity.min, e.humidity.max, e.humidity.sum, e.humidity.mean]);
    expectPercentilesWithinError({ p50: stats.p50, p95: stats.p95, p99: stats.p99 }, { p50: e.humidity.p.p50!, p95: e.humidity.p.p95!, p99: e.humidity.p.p99! });
    expect(after.document.items[1]!.stats).toEqual(e.energy);
    expect(after.document.items[2]!.stats).toEqual(e.heating);
    // Half an hour after the day ended, one day of raw retention still holds all of it: raw again.
    expect(h.source(1).sourceOf('s', 'humidity', AUTUMN, Date.parse('2026-10-26T00:30:00+01:00'))).toBe('raw');
    expect(h.source(1).sourceOf('s', 'humidity', AUTUMN, Date.parse('2026-10-26T01:00:00+01:00'))).toBe('rollup');
  });

  it('a window past retention with the rollups purged too sends nothing (too few readings), from the rollup source', async () => {
    const h = await home(SPRING);
    const now = Date.parse('2026-04-05T12:00:00+02:00');
    await h.purge(now, 1);
    h.db.raw.prepare('DELETE FROM rollups').run();
    const read = h.source(1).forWindow(SPRING, now);
    const out = summarise({ policy: POLICY, window: SPRING, size: '1d', timezone: TZ, gatewaySecret: SECRET, samples: read.samples, rollups: read });
    expect(out.kind).toBe('nothing');
    if (out.kind === 'nothing') {
      expect(out.reason).toBe('too-few-readings');
      expect(out.sources.every((x) => x.source === 'rollup')).toBe(true);
    }
  });
});
