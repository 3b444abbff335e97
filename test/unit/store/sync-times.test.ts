import { describe, expect, it } from 'vitest';
import { SYNC_TIMES_KEPT, SyncTimes } from '../../../src/store/index.js';

describe('SyncTimes (the hot log fdatasync durations db info reports)', () => {
  it('is null before the first sync', () => {
    expect(new SyncTimes().summary()).toBeNull();
  });

  it('gives the nearest-rank p50, p99 and max, and counts the syncs over 10 ms', () => {
    const t = new SyncTimes();
    // 1..100 ms in a shuffled order: the summary must not depend on arrival order.
    for (let i = 0; i < 100; i++) t.record(((i * 37) % 100) + 1);
    expect(t.summary()).toEqual({ syncs: 100, p50_ms: 50, p99_ms: 99, max_ms: 100, over_10ms: 90 });
  });

  it('keeps only the last SYNC_TIMES_KEPT, so a stall long ago leaves the figures', () => {
    const t = new SyncTimes();
    t.record(500);
    for (let i = 0; i < SYNC_TIMES_KEPT; i++) t.record(0.25);
    expect(t.summary()).toEqual({ syncs: SYNC_TIMES_KEPT, p50_ms: 0.25, p99_ms: 0.25, max_ms: 0.25, over_10ms: 0 });
    t.record(42.1234);
    expect(t.summary()).toMatchObject({ syncs: SYNC_TIMES_KEPT, max_ms: 42.123, over_10ms: 1 });
  });
});
