/** The q-quantile (0–1) of ascending values by nearest rank, the value itself and never an interpolation; NaN for none. */
export function nearestRank(sortedAsc: ArrayLike<number>, q: number): number {
  const n = sortedAsc.length;
  if (n === 0) return Number.NaN;
  return sortedAsc[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))]!;
}
