import type { SluiceDatabase } from '../core/index.js';
import type { MetricSpec } from '../devices/index.js';
import { decodeValue, type SeriesType } from './codec.js';
import { HOUR, hourStart, mergeRollups, rollupHours, type HourRollup, type Point, type WindowStats } from './rollup-stats.js';
import { RollupRows, type RollupRow } from './rollup-rows.js';
import { SealedReadings } from './sealed.js';
import { QuantileSketch } from './sketch.js';

/** The profile's spec of a device's metric, if the device and its profile are still known. */
export type SpecOf = (deviceId: string, metric: string) => MetricSpec | undefined;

export interface SeriesRow {
  id: number;
  device_id: string;
  component: string;
  metric: string;
  type: SeriesType;
  unit: string | null;
  scale: number | null;
}

export interface RollupDeps {
  db: SluiceDatabase;
  timeZone: string;
  /** ms a value is held for time-weighted statistics */
  hold: number;
  specOf: SpecOf;
}

/** The hourly statistics of one series over a window, read from rollups. */
export interface SeriesSummary {
  deviceId: string;
  component: string;
  metric: string;
  type: SeriesType;
  unit: string | null;
  hours: HourRollup[];
  stats: WindowStats;
}

/** Writes and reads the hourly rollups of the raw readings. */
export class Rollups {
  /** The sealed readings (chunks and old rows) that rollups are computed from. */
  readonly sealed: SealedReadings;
  /** The rows of the rollups table. */
  readonly rows: RollupRows;

  constructor(private readonly deps: RollupDeps) {
    this.sealed = new SealedReadings(deps.db.raw);
    this.rows = new RollupRows(deps.db.raw);
  }

  allSeries(): SeriesRow[] {
    return this.deps.db.raw.prepare<[], SeriesRow>('SELECT * FROM series ORDER BY id').all();
  }

  /** Recomputes the rollups of one series for the hours in [from, to); call inside a transaction. Returns rows written. */
  rollRange(series: SeriesRow, from: number, to: number): number {
    const decode = (v: number | string) => decodeValue(series.type, series.scale, v);
    const points: Point[] = this.sealed.range(series.id, from, to).map((r) => ({ ts: r.ts, value: decode(r.v) }));
    const spec = this.deps.specOf(series.device_id, series.metric);
    const shape = { type: series.type, counter: spec?.type === 'number' && spec.counter };
    const hours = rollupHours(shape, points, this.previous(series, from), from, to, this.deps.hold);
    this.rows.replace(
      series.id,
      from,
      to,
      hours.map((h) => ({
        hour: h.hour,
        values: [
          h.count,
          h.sum,
          h.min,
          h.max,
          storeValue(h.first),
          h.firstTs,
          storeValue(h.last),
          h.lastTs,
          h.twSum,
          h.twMs,
          h.increase,
          h.resets,
          h.states ? JSON.stringify(h.states) : null,
          h.sketch && h.sketch.count > 0 ? h.sketch.encode() : null,
        ],
      })),
    );
    return hours.length;
  }

  /** The last reading before `ts`: from raw readings, or from the rollups once raw is purged. */
  private previous(series: SeriesRow, ts: number): Point | undefined {
    const r = this.sealed.previous(series.id, ts);
    if (r) return { ts: r.ts, value: decodeValue(series.type, series.scale, r.v) };
    const rolled = this.rows.latestBefore(series.id, ts, (row) => row.last_ts !== null);
    return rolled && rolled.last !== null ? { ts: rolled.last_ts!, value: loadValue(series.type, rolled.last) } : undefined;
  }

  /**
   * The end of a batch starting at `from`: an hour boundary before which at most `limit`
   * readings of the series lie (at least one hour), capped at `maxEnd`.
   */
  batchEnd(seriesId: number, from: number, limit: number, maxEnd: number): number {
    const ts = this.sealed.tsAt(seriesId, from, limit);
    if (ts === undefined) return maxEnd;
    let end = hourStart(ts, this.deps.timeZone);
    if (end <= from) end = from + HOUR;
    return Math.min(end, maxEnd);
  }

  /**
   * Rolls up complete hours since each series' last rollup (recomputing `recheck` ms before it
   * for late readings), one bounded transaction per step; awaits `pause` between steps.
   */
  async rollRecent(now: number, options: { recheck: number; batchSize: number; pause: () => Promise<void> }): Promise<{ series: number; hours: number }> {
    const { db, timeZone } = this.deps;
    const until = hourStart(now, timeZone);
    let hours = 0;
    let touched = 0;
    for (const s of this.allSeries()) {
      const oldest = this.sealed.oldest(s.id);
      if (oldest === null) continue;
      let from = hourStart(oldest, timeZone);
      // A rollup more than an hour before the oldest reading cannot move `from`: the walk back stops there.
      const rolled = this.rows.latestBefore(s.id, Number.MAX_SAFE_INTEGER, () => true, from - HOUR)?.hour ?? null;
      if (rolled !== null) from = Math.max(from, hourStart(rolled + HOUR - options.recheck, timeZone));
      if (from >= until) continue;
      touched++;
      while (from < until) {
        const end = this.batchEnd(s.id, from, options.batchSize, until);
        hours += db.tx(() => this.rollRange(s, from, end));
        from = end;
        await options.pause();
      }
    }
    return { series: touched, hours };
  }

  /** Hourly rollups of a device's metric in [from, to) (hour starts), merged into window statistics. */
  query(q: { deviceId: string; metric: string; component?: string; from: number; to: number }): SeriesSummary[] {
    return this.seriesOf(q.deviceId, q.metric, q.component).map((s) => {
      const hours = this.hoursOf(s, q.from, q.to);
      return { deviceId: s.device_id, component: s.component, metric: s.metric, type: s.type, unit: s.unit, hours, stats: mergeRollups(hours) };
    });
  }

  /** The series of a device's metric, one per component. */
  seriesOf(deviceId: string, metric: string, component?: string): SeriesRow[] {
    return this.deps.db.raw
      .prepare<[string, string, string | null, string | null], SeriesRow>('SELECT * FROM series WHERE device_id = ? AND metric = ? AND (? IS NULL OR component = ?) ORDER BY component')
      .all(deviceId, metric, component ?? null, component ?? null);
  }

  /** The stored rollups of one series for the hours in [from, to) (hour starts), oldest first. */
  hoursOf(series: SeriesRow, from: number, to: number): HourRollup[] {
    return this.rows.range(series.id, from, to).map((r) => toHourRollup(series.type, r));
  }

  /** The newest reading rolled up before `ts` (its value and time), from the rollups alone. */
  lastRolledBefore(series: SeriesRow, ts: number): Point | undefined {
    const rolled = this.rows.latestBefore(series.id, ts, (row) => row.last_ts !== null && row.last_ts < ts);
    return rolled && rolled.last !== null ? { ts: rolled.last_ts!, value: loadValue(series.type, rolled.last) } : undefined;
  }
}

function storeValue(v: Point['value'] | null): number | string | null {
  if (typeof v === 'boolean') return v ? 1 : 0;
  return v;
}

function loadValue(type: SeriesType, v: number | string): Point['value'] {
  if (type === 'boolean') return v === 1;
  if (type === 'enum') return String(v);
  return Number(v);
}

function toHourRollup(type: SeriesType, r: RollupRow): HourRollup {
  return {
    hour: r.hour,
    count: r.count,
    sum: r.sum,
    min: r.min,
    max: r.max,
    first: r.first === null ? null : loadValue(type, r.first),
    firstTs: r.first_ts,
    last: r.last === null ? null : loadValue(type, r.last),
    lastTs: r.last_ts,
    twSum: r.tw_sum,
    twMs: r.tw_ms,
    increase: r.increase,
    resets: r.resets,
    states: r.states ? (JSON.parse(r.states) as Record<string, number>) : null,
    sketch: type === 'number' ? (r.sketch ? QuantileSketch.decode(r.sketch) : new QuantileSketch()) : null,
  };
}
