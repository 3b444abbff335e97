import { nearestRank } from '../../src/core/index.js';

/** Median with min–max over the measured runs of one figure. */
export interface Summary {
  median: number;
  min: number;
  max: number;
  runs: number[];
}

export function summarize(values: readonly number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN, runs: [] };
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]!, runs: [...values] };
}

/** The p-th percentile (0–100) by nearest rank; NaN for no samples. */
export function percentile(sortedAsc: readonly number[], p: number): number {
  return nearestRank(sortedAsc, p / 100);
}

export function percentiles(samples: readonly number[]): { p50: number; p95: number; p99: number; max: number; n: number } {
  const sorted = Float64Array.from(samples).sort();
  const arr = Array.from(sorted);
  return { p50: percentile(arr, 50), p95: percentile(arr, 95), p99: percentile(arr, 99), max: arr[arr.length - 1] ?? Number.NaN, n: arr.length };
}

/** A seeded PRNG (mulberry32, the simulator's), so kill moments and device phases repeat for a given seed. */
export { seededRandom } from '../../src/simulate/index.js';

/** Formats a number with sensible precision for a results table. */
export function fmt(n: number, digits?: number): string {
  if (!Number.isFinite(n)) return 'n/a';
  const d = digits ?? (Math.abs(n) >= 100 ? 0 : Math.abs(n) >= 10 ? 1 : Math.abs(n) >= 1 ? 2 : 3);
  return n.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
}

export function fmtSummary(s: Summary, digits?: number): string {
  if (s.runs.length <= 1) return fmt(s.median, digits);
  return `${fmt(s.median, digits)} (${fmt(s.min, digits)}–${fmt(s.max, digits)})`;
}
