/** The statistics offered with noise: sums and counts, whose change by one protected unit is bounded by the clamp. */
export const NOISY_STATS = ['sum', 'increase', 'count', 'mean'] as const;
export type NoisyStat = (typeof NOISY_STATS)[number];

/**
 * Why a statistic is not offered with noise, in plain words for `policy check`; null when it is.
 * [PRIV-DP-1] order statistics change by a whole reading when one event changes, so no bounded
 * noise hides a single event in them.
 */
export function refusalReason(stat: string): string | null {
  if ((NOISY_STATS as readonly string[]).includes(stat)) return null;
  if (stat === 'min' || stat === 'max')
    return `"${stat}" is not offered with noise: the lowest or highest reading is one single event, so changing that one event can move it anywhere within the clamp; noise large enough to hide it would leave nothing useful`;
  if (stat === 'percentiles' || /^p\d+$/.test(stat))
    return `"${stat}" is not offered with noise: a percentile is one reading of the window, and where it lies depends on single events in ways a fixed amount of noise cannot hide`;
  if (stat === 'last') return `"last" is not offered with noise: it is one single reading, exactly the kind of event the noise is meant to hide`;
  if (stat === 'histogram' || stat === 'time_in_state') return `"${stat}" is not offered with noise in this version: each bucket would need its own share of ε; use count or sum instead`;
  return `"${stat}" is not offered with noise`;
}

