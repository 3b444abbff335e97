import { describe, expect, it } from 'vitest';
import { ReadingHead } from '../../../src/store/index.js';

describe('ReadingHead', () => {
  it('keeps the first write of a (series, ts), in order or not, and answers range, latest and drain from it', () => {
    const head = new ReadingHead();
    // In order: the fast path without a lookup.
    expect(head.add({ seriesId: 1, ts: 100, value: 10, flags: 0 })).toBe(true);
    expect(head.add({ seriesId: 1, ts: 200, value: 20, flags: 1 })).toBe(true);
    // The newest again, then an older duplicate, then an older new one.
    expect(head.add({ seriesId: 1, ts: 200, value: 99, flags: 0 })).toBe(false);
    expect(head.add({ seriesId: 1, ts: 100, value: 98, flags: 0 })).toBe(false);
    expect(head.add({ seriesId: 1, ts: 150, value: 15, flags: 0 })).toBe(true);
    // After the first out-of-order reading, duplicates are still refused.
    expect(head.add({ seriesId: 1, ts: 150, value: 97, flags: 0 })).toBe(false);
    expect(head.add({ seriesId: 1, ts: 300, value: 'on', flags: 0 })).toBe(true);
    expect(head.add({ seriesId: 1, ts: 300, value: 96, flags: 0 })).toBe(false);
    expect(head.add({ seriesId: 2, ts: 100, value: 1, flags: 0 })).toBe(true);
    expect(head.size).toBe(5);
    expect(head.has(1, 150)).toBe(true);
    expect(head.has(1, 151)).toBe(false);
    expect(head.has(3, 100)).toBe(false);

    expect(head.range(1, 100, 300)).toEqual([
      { ts: 100, value: 10, flags: 0 },
      { ts: 150, value: 15, flags: 0 },
      { ts: 200, value: 20, flags: 1 },
    ]);
    expect(head.latest(1)).toEqual({ ts: 300, value: 'on', flags: 0 });
    expect(head.latest(3)).toBeUndefined();
    expect(head.seriesIds().sort()).toEqual([1, 2]);

    const drained = head.drain();
    expect(head.isEmpty).toBe(true);
    expect(head.has(1, 100)).toBe(false);
    expect(drained.records).toEqual([
      { seriesId: 1, ts: 100, value: 10, flags: 0 },
      { seriesId: 1, ts: 200, value: 20, flags: 1 },
      { seriesId: 1, ts: 150, value: 15, flags: 0 },
      { seriesId: 1, ts: 300, value: 'on', flags: 0 },
      { seriesId: 2, ts: 100, value: 1, flags: 0 },
    ]);

    // A failed seal puts them back; a reading that arrived meanwhile wins over a drained one.
    head.add({ seriesId: 1, ts: 200, value: 55, flags: 0 });
    head.restore(drained);
    expect(head.size).toBe(5);
    expect(head.range(1, 200, 201)).toEqual([{ ts: 200, value: 55, flags: 0 }]);
    expect(head.latest(1)).toEqual({ ts: 300, value: 'on', flags: 0 });
  });
});
