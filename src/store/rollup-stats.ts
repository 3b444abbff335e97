import { ownValue, setOwn } from '../core/index.js';
import { DateTime } from 'luxon';
import type { SeriesType } from './codec.js';
import { QuantileSketch } from './sketch.js';

export const HOUR = 3_600_000;

/** A decoded reading of one series. */
export interface Point {
  /** ms since the epoch */
  ts: number;
  value: number | boolean | string;
}

export interface SeriesShape {
  type: SeriesType;
  /** A cumulative counter: its increase is what matters. */
  counter: boolean;
}

/** The statistics of one series over one hour of the household's clock. */
export interface HourRollup {
  /** ms: the UTC instant the local hour starts */
  hour: number;
  count: number;
  sum: number;
  min: number | null;
  max: number | null;
  first: Point['value'] | null;
  firstTs: number | null;
  last: Point['value'] | null;
  lastTs: number | null;
  /** Σ value × ms over the time covered by a held value (numbers only) */
  twSum: number;
  /** ms of the hour covered by a held value */
  twMs: number;
  /** counters: the increase within the hour, a decrease counting as a reset to 0 */
  increase: number | null;
  resets: number;
  /** booleans and enums: ms spent in each state */
  states: Record<string, number> | null;
  sketch: QuantileSketch | null;
}

/** Offset of a timezone from UTC at an instant, in ms (positive east of Greenwich). */
export function zoneOffset(ts: number, timeZone: string): number {
  return DateTime.fromMillis(ts, { zone: timeZone }).offset * 60_000;
}

/**
 * The start of the household-clock hour holding ts. Every local hour is 3 600 000 ms long even
 * on DST days (the day has 23 or 25 of them), so hours step by HOUR from here.
 */
export function hourStart(ts: number, timeZone: string): number {
  const local = ts + zoneOffset(ts, timeZone);
  return ts - (((local % HOUR) + HOUR) % HOUR);
}

/**
 * Rolls points (sorted by ts, all within [from, to)) up into hours. `previous` is the last
 * reading before `from`, which carries its value into the first hours. A value holds from its
 * timestamp until the next reading, the end of the hour, or `hold` ms, whichever comes first:
 * so a silent device does not keep its last value forever. Hours without readings get a row
 * only when a held value covers part of them.
 */
export function rollupHours(shape: SeriesShape, points: readonly Point[], previous: Point | undefined, from: number, to: number, hold: number): HourRollup[] {
  const out: HourRollup[] = [];
  let held = previous;
  let lastForCounter = previous;
  let i = 0;
  for (let h = from; h < to; h += HOUR) {
    const end = h + HOUR;
    const r = emptyRollup(h, shape);
    let cursor = h;
    const cover = (until: number) => {
      if (!held) return;
      const stop = Math.min(until, held.ts + hold, end);
      if (stop > cursor) addHeld(r, held.value, stop - cursor);
    };
    while (i < points.length && points[i]!.ts < end) {
      const p = points[i++]!;
      cover(p.ts);
      cursor = p.ts;
      held = p;
      addPoint(r, shape, p, lastForCounter);
      lastForCounter = p;
    }
    cover(end);
    if (r.count > 0 || r.twMs > 0) out.push(r);
  }
  return out;
}

function emptyRollup(hour: number, shape: SeriesShape): HourRollup {
  return {
    hour,
    count: 0,
    sum: 0,
    min: null,
    max: null,
    first: null,
    firstTs: null,
    last: null,
    lastTs: null,
    twSum: 0,
    twMs: 0,
    increase: shape.type === 'number' && shape.counter ? 0 : null,
    resets: 0,
    states: shape.type === 'number' ? null : {},
    sketch: shape.type === 'number' ? new QuantileSketch() : null,
  };
}

/** Enum states come from profile YAML: a state named `constructor` must not read Object.prototype. */
function addState(states: Record<string, number>, key: string, ms: number): void {
  setOwn(states, key, (ownValue(states, key) ?? 0) + ms);
}

function addHeld(r: HourRollup, value: Point['value'], ms: number): void {
  r.twMs += ms;
  if (typeof value === 'number') r.twSum += value * ms;
  else if (r.states) {
    const key = String(value);
    addState(r.states, key, ms);
  }
}

function addPoint(r: HourRollup, shape: SeriesShape, p: Point, before: Point | undefined): void {
  r.count++;
  if (r.firstTs === null) {
    r.first = p.value;
    r.firstTs = p.ts;
  }
  r.last = p.value;
  r.lastTs = p.ts;
  if (typeof p.value !== 'number') return;
  const v = p.value;
  r.sum += v;
  r.min = r.min === null ? v : Math.min(r.min, v);
  r.max = r.max === null ? v : Math.max(r.max, v);
  r.sketch?.add(v);
  if (shape.counter && before && typeof before.value === 'number') {
    // A counter that went down was reset (device reboot): it counted up from 0 to v since.
    if (v >= before.value) r.increase! += v - before.value;
    else {
      r.increase! += v;
      r.resets++;
    }
  }
}

/** Statistics of a window, merged from its hours. */
export interface WindowStats {
  hours: number;
  count: number;
  sum: number;
  mean: number | null;
  min: number | null;
  max: number | null;
  first: Point['value'] | null;
  firstTs: number | null;
  last: Point['value'] | null;
  lastTs: number | null;
  /** time-weighted mean over the covered time */
  timeWeightedMean: number | null;
  coveredMs: number;
  increase: number | null;
  resets: number;
  states: Record<string, number> | null;
  sketch: QuantileSketch | null;
}

/** Merges hourly rollups (any order) into the statistics of their whole window. */
export function mergeRollups(rows: readonly HourRollup[]): WindowStats {
  const sorted = [...rows].sort((a, b) => a.hour - b.hour);
  const w: WindowStats = {
    hours: sorted.length,
    count: 0,
    sum: 0,
    mean: null,
    min: null,
    max: null,
    first: null,
    firstTs: null,
    last: null,
    lastTs: null,
    timeWeightedMean: null,
    coveredMs: 0,
    increase: null,
    resets: 0,
    states: null,
    sketch: null,
  };
  let twSum = 0;
  for (const r of sorted) {
    w.count += r.count;
    w.sum += r.sum;
    if (r.min !== null) w.min = w.min === null ? r.min : Math.min(w.min, r.min);
    if (r.max !== null) w.max = w.max === null ? r.max : Math.max(w.max, r.max);
    if (r.firstTs !== null && w.firstTs === null) {
      w.first = r.first;
      w.firstTs = r.firstTs;
    }
    if (r.lastTs !== null) {
      w.last = r.last;
      w.lastTs = r.lastTs;
    }
    twSum += r.twSum;
    w.coveredMs += r.twMs;
    if (r.increase !== null) w.increase = (w.increase ?? 0) + r.increase;
    w.resets += r.resets;
    if (r.states) {
      w.states ??= {};
      for (const [k, ms] of Object.entries(r.states)) addState(w.states, k, ms);
    }
    if (r.sketch) {
      w.sketch ??= new QuantileSketch();
      w.sketch.merge(r.sketch);
    }
  }
  if (w.count > 0 && w.min !== null) w.mean = w.sum / w.count;
  if (w.coveredMs > 0 && w.states === null) w.timeWeightedMean = twSum / w.coveredMs;
  return w;
}
