import { setOwn } from '../core/index.js';
import type { Percentile } from '../policy/index.js';

/** One reading as the summariser sees it: a number, boolean or enum state at a time. */
export interface Sample {
  /** ms since the epoch */
  ts: number;
  value: number | boolean | string;
}

/** One device's readings of a metric within the window, oldest first. */
export type Series = readonly Sample[];

/**
 * Instants (ms, ascending) where a series stops holding its value: the starts of privacy
 * pauses. [PAUSE-2] a reading before a no-share pause must not be stretched into it.
 */
export type Stops = readonly number[];

/** The first stop after `ts`, or Infinity. */
function nextStop(stops: Stops | undefined, ts: number): number {
  if (!stops) return Infinity;
  for (const s of stops) if (s > ts) return s;
  return Infinity;
}

/**
 * Calls `f(value, ms)` for the time each reading holds: from its timestamp until the next
 * reading of the same device, the window's end, or `holdMs`, whichever comes first (the
 * rollups' rule, so a silent device does not keep its last value forever).
 */
function forEachHeld(series: Series, end: number, holdMs: number, f: (value: Sample['value'], ms: number) => void, stops?: Stops): void {
  for (let i = 0; i < series.length; i++) {
    const s = series[i]!;
    const until = Math.min(series[i + 1]?.ts ?? end, end, s.ts + holdMs, nextStop(stops, s.ts));
    if (until > s.ts) f(s.value, until - s.ts);
  }
}

/** Time-weighted mean over all devices: Σ value × held ms / Σ held ms. */
export function timeWeightedMean(all: readonly Series[], end: number, holdMs: number, stops?: readonly Stops[]): number | null {
  let weighted = 0;
  let ms = 0;
  all.forEach((series, i) => {
    forEachHeld(
      series,
      end,
      holdMs,
      (v, d) => {
        if (typeof v !== 'number') return;
        weighted += v * d;
        ms += d;
      },
      stops?.[i],
    );
  });
  return ms > 0 ? weighted / ms : null;
}

/** Hours spent in each state over all devices (booleans as "true"/"false"), keys sorted. */
export function timeInState(all: readonly Series[], end: number, holdMs: number, stops?: readonly Stops[]): Record<string, number> {
  const ms = new Map<string, number>();
  all.forEach((series, i) => forEachHeld(series, end, holdMs, (v, d) => ms.set(String(v), (ms.get(String(v)) ?? 0) + d), stops?.[i]));
  const out: Record<string, number> = {};
  for (const key of [...ms.keys()].sort()) setOwn(out, key, ms.get(key)! / 3_600_000);
  return out;
}

/** The newest reading over all devices (the first device's on a tie). */
export function lastValue(all: readonly Series[]): number | null {
  let best: Sample | undefined;
  for (const series of all) {
    const s = series[series.length - 1];
    if (s && typeof s.value === 'number' && (!best || s.ts > best.ts)) best = s;
  }
  return best ? (best.value as number) : null;
}

/**
 * Sum of the rises of a cumulative counter; a drop is a reset, after which it counts from zero.
 * A rise across a stop (a pause) is left out: it is what was used during the pause.
 */
export function counterIncrease(series: Series, stops?: Stops): number {
  let total = 0;
  for (let i = 1; i < series.length; i++) {
    if (nextStop(stops, series[i - 1]!.ts) < series[i]!.ts) continue;
    const a = series[i - 1]!.value;
    const b = series[i]!.value;
    if (typeof a !== 'number' || typeof b !== 'number') continue;
    total += b >= a ? b - a : b;
  }
  return total;
}

/**
 * The p-th percentile by linear interpolation between closest ranks (Hyndman & Fan 1996
 * type 7; R's and numpy's default): h = (n − 1)·p, x⌊h⌋ + (h − ⌊h⌋)(x⌊h⌋+1 − x⌊h⌋).
 */
export function percentileType7(sorted: readonly number[], p: number): number {
  const h = (sorted.length - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!);
}

export function percentileOf(name: Percentile): number {
  return Number(name.slice(1)) / 100;
}

/** Counts per bucket: below the first edge, [edge i, edge i+1), and at or above the last edge. */
export function histogram(values: readonly number[], edges: readonly number[]): number[] {
  const counts = new Array<number>(edges.length + 1).fill(0);
  for (const v of values) {
    let i = 0;
    while (i < edges.length && v >= edges[i]!) i++;
    counts[i]!++;
  }
  return counts;
}
