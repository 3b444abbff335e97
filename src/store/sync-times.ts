import { nearestRank } from '../core/index.js';

/** How long the hot log's fdatasyncs took: what a PUBACK in `fsync` mode waits for. */
export interface SyncTimesSummary {
  /** fdatasyncs the figures cover (the last ones, at most SYNC_TIMES_KEPT) */
  syncs: number;
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
  /** of those, how many took longer than 10 ms (the PUBACK target) */
  over_10ms: number;
}

export const SYNC_TIMES_KEPT = 1024;

/**
 * The durations of the last SYNC_TIMES_KEPT fdatasyncs in a ring. A card or disk whose flush
 * stalls now and then decides the PUBACK tail in `fsync` mode, and the household (and the
 * benchmark) can only tell that apart from the gateway's own delays by seeing these.
 */
export class SyncTimes {
  private readonly ring = new Float64Array(SYNC_TIMES_KEPT);
  private count = 0;

  record(ms: number): void {
    this.ring[this.count % SYNC_TIMES_KEPT] = ms;
    this.count++;
  }

  summary(): SyncTimesSummary | null {
    const n = Math.min(this.count, SYNC_TIMES_KEPT);
    if (n === 0) return null;
    const sorted = this.ring.slice(0, n).sort();
    let over = 0;
    for (const ms of sorted) if (ms > 10) over++;
    return { syncs: n, p50_ms: round(nearestRank(sorted, 0.5)), p99_ms: round(nearestRank(sorted, 0.99)), max_ms: round(sorted[n - 1]!), over_10ms: over };
  }
}

const round = (ms: number) => Math.round(ms * 1000) / 1000;
