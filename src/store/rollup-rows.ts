import type { RawDatabase } from '../core/index.js';

const HOUR = 3_600_000; // ms

/**
 * A rollup's rowid: its UTC hour since the epoch × 2^21 + its series id, the key scheme of the
 * chunks (sealed.ts). Rowids grow with time, so the hourly rollup of every series appends a few
 * full pages at the end of the table; the old key (series_id, hour) WITHOUT ROWID wrote one page
 * per series per hour, ~38 MB a day at 200 series once weeks of history existed (issue 15).
 * A household hour off the UTC hour (a +05:30 zone) still has one id: hours are an hour apart.
 */
export const ROLLUP_SERIES_SPAN = 2 ** 21;

export function rollupId(hour: number, seriesId: number): number {
  if (!Number.isInteger(seriesId) || seriesId < 0 || seriesId >= ROLLUP_SERIES_SPAN) throw new RangeError(`series id ${seriesId} does not fit a rollup id`);
  return Math.floor(hour / HOUR) * ROLLUP_SERIES_SPAN + seriesId;
}

/** The UTC hour index of a rollup id (the first factor of rollupId). */
function slotOf(id: number): number {
  return Math.floor(id / ROLLUP_SERIES_SPAN);
}

/** The UTC hour index a time (ms) falls in. */
function slotAt(ms: number): number {
  return Math.floor(ms / HOUR);
}

/** What a `rollups` table row holds (the columns of store migration v2, plus id since v4). */
export interface RollupRow {
  hour: number;
  count: number;
  sum: number;
  min: number | null;
  max: number | null;
  first: number | string | null;
  first_ts: number | null;
  last: number | string | null;
  last_ts: number | null;
  tw_sum: number;
  tw_ms: number;
  increase: number | null;
  resets: number;
  states: string | null;
  sketch: Buffer | null;
}

export type RollupValues = [
  count: number,
  sum: number,
  min: number | null,
  max: number | null,
  first: number | string | null,
  firstTs: number | null,
  last: number | string | null,
  lastTs: number | null,
  twSum: number,
  twMs: number,
  increase: number | null,
  resets: number,
  states: string | null,
  sketch: Buffer | null,
];

/**
 * The one reader and writer of the `rollups` table. A series' rows are found by point lookups
 * over the hours of a range (no index by series: it would touch a page per series per hour
 * again); walks back in time stop at the oldest row of the table, a span retention keeps to
 * `rollup_days`.
 */
export class RollupRows {
  private readonly st;

  constructor(private readonly raw: RawDatabase) {
    this.st = {
      get: raw.prepare<[number], RollupRow>('SELECT hour, count, sum, min, max, first, first_ts, last, last_ts, tw_sum, tw_ms, increase, resets, states, sketch FROM rollups WHERE id = ?'),
      span: raw.prepare<[], { lo: number | null; hi: number | null }>('SELECT (SELECT MIN(id) FROM rollups) AS lo, (SELECT MAX(id) FROM rollups) AS hi'),
      put: raw.prepare(
        'INSERT OR REPLACE INTO rollups (id, series_id, hour, count, sum, min, max, first, first_ts, last, last_ts, tw_sum, tw_ms, increase, resets, states, sketch) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      drop: raw.prepare<[number, number, number]>('DELETE FROM rollups WHERE id = ? AND hour >= ? AND hour < ?'),
      purge: raw.prepare<[number, number, number]>('DELETE FROM rollups WHERE id IN (SELECT id FROM rollups WHERE id < ? AND hour < ? ORDER BY id LIMIT ?)'),
    };
  }

  /** The slots (UTC hour indexes) the table holds rows for, or undefined when it is empty. */
  private span(): { lo: number; hi: number } | undefined {
    const s = this.st.span.get()!;
    return s.lo === null || s.hi === null ? undefined : { lo: slotOf(s.lo), hi: slotOf(s.hi) };
  }

  /** The rows of one series with `from <= hour < to`, oldest first. */
  range(seriesId: number, from: number, to: number): RollupRow[] {
    const span = this.span();
    if (!span || from >= to) return [];
    const out: RollupRow[] = [];
    const last = Math.min(slotAt(to - 1), span.hi);
    for (let slot = Math.max(slotAt(from), span.lo); slot <= last; slot++) {
      const row = this.st.get.get(slot * ROLLUP_SERIES_SPAN + seriesId);
      if (row && row.hour >= from && row.hour < to) out.push(row);
    }
    return out;
  }

  /** The newest row of a series with `hour < before` that passes `accept`, walking back no further than `floor` (ms; default: the oldest row). */
  latestBefore(seriesId: number, before: number, accept: (row: RollupRow) => boolean = () => true, floor?: number): RollupRow | undefined {
    const span = this.span();
    if (!span) return undefined;
    const lowest = Math.max(span.lo, floor === undefined ? span.lo : slotAt(floor));
    for (let slot = Math.min(slotAt(before - 1), span.hi); slot >= lowest; slot--) {
      const row = this.st.get.get(slot * ROLLUP_SERIES_SPAN + seriesId);
      if (row && row.hour < before && accept(row)) return row;
    }
    return undefined;
  }

  /** Replaces the rows of one series in [from, to) by `hours` (each at its hour); call inside a transaction. */
  replace(seriesId: number, from: number, to: number, hours: ReadonlyArray<{ hour: number; values: RollupValues }>): void {
    this.deleteRange(seriesId, from, to);
    for (const h of hours) this.st.put.run(rollupId(h.hour, seriesId), seriesId, h.hour, ...h.values);
  }

  /** Deletes the rows of one series with `from <= hour < to`, at most `limit`; returns how many. */
  deleteRange(seriesId: number, from: number, to: number, limit = Number.MAX_SAFE_INTEGER): number {
    const span = this.span();
    if (!span || from >= to) return 0;
    let deleted = 0;
    const last = Math.min(slotAt(to - 1), span.hi);
    for (let slot = Math.max(slotAt(from), span.lo); slot <= last && deleted < limit; slot++) {
      deleted += this.st.drop.run(slot * ROLLUP_SERIES_SPAN + seriesId, from, to).changes;
    }
    return deleted;
  }

  /** Deletes at most `limit` rows of every series with `hour < before` (retention); returns how many. */
  purgeBefore(before: number, limit: number): number {
    return this.st.purge.run((slotAt(before) + 1) * ROLLUP_SERIES_SPAN, before, limit).changes;
  }

  /** How many rows each of `seriesIds` has with `hour < before` (one pass over the table). */
  countBefore(seriesIds: readonly number[], before: number): number {
    if (seriesIds.length === 0) return 0;
    const wanted = new Set(seriesIds);
    let n = 0;
    for (const r of this.raw.prepare<[number], { series_id: number; n: number }>('SELECT series_id, COUNT(*) AS n FROM rollups WHERE hour < ? GROUP BY series_id').all(before)) {
      if (wanted.has(r.series_id)) n += r.n;
    }
    return n;
  }

  /** The oldest hour the table holds (ms), or null. */
  oldestHour(): number | null {
    const span = this.span();
    if (!span) return null;
    return this.raw.prepare<[number], { h: number | null }>('SELECT MIN(hour) AS h FROM rollups WHERE id < ?').get((span.lo + 1) * ROLLUP_SERIES_SPAN)!.h;
  }
}

/** True when the `rollups` table has the rowid key of store migration v4 (a pre-upgrade backup may not). */
export function rollupsKeyedByHour(raw: RawDatabase): boolean {
  return (raw.pragma('table_info(rollups)') as Array<{ name: string }>).some((c) => c.name === 'id');
}
