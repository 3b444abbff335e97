import { describe, expect, it } from 'vitest';
import { QuantileSketch, SKETCH_RELATIVE_ERROR, hourStart, rollupHours, mergeRollups, HOUR } from '../../../src/store/index.js';
import { seededRandom } from '../../../src/simulate/index.js';

const rng = seededRandom;

function exactQuantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(q * (sorted.length - 1))]!;
}

describe('QuantileSketch', () => {
  const seed = 20261123;
  it(`is within the documented relative error of the exact quantile, merged or not (seed ${seed})`, () => {
    const random = rng(seed);
    const parts = Array.from({ length: 5 }, () => Array.from({ length: 400 }, () => (random() - 0.3) * 100 * Math.exp(random() * 3)));
    const merged = new QuantileSketch();
    for (const part of parts) {
      const s = new QuantileSketch();
      for (const v of part) s.add(v);
      merged.merge(QuantileSketch.decode(s.encode()));
    }
    const all = parts.flat();
    expect(merged.count).toBe(all.length);
    for (const q of [0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1]) {
      const exact = exactQuantile(all, q);
      const est = merged.quantile(q)!;
      expect(Math.abs(est - exact)).toBeLessThanOrEqual(SKETCH_RELATIVE_ERROR * Math.abs(exact) + 1e-12);
    }
  });

  it('atRank gives every rank of the sorted values within the relative error, and null outside 0..n−1', () => {
    const random = rng(seed + 1);
    const values = Array.from({ length: 300 }, () => 0.5 + random() * 80);
    const s = new QuantileSketch();
    for (const v of values) s.add(v);
    const sorted = [...values].sort((a, b) => a - b);
    for (let rank = 0; rank < sorted.length; rank++) {
      expect(Math.abs(s.atRank(rank)! - sorted[rank]!)).toBeLessThanOrEqual(SKETCH_RELATIVE_ERROR * sorted[rank]! + 1e-12);
    }
    expect([s.atRank(-1), s.atRank(300), s.atRank(1.5)]).toEqual([null, null, null]);
  });

  it('handles zero, an empty sketch and round-trips its bytes', () => {
    const s = new QuantileSketch();
    expect(s.quantile(0.5)).toBeNull();
    for (const v of [0, 0, 0, 5, -5]) s.add(v);
    expect(s.quantile(0.5)).toBe(0);
    const back = QuantileSketch.decode(s.encode());
    expect(back.count).toBe(5);
    expect(back.quantile(0)).toBeCloseTo(-5, 1);
    expect(back.quantile(1)).toBeCloseTo(5, 1);
    expect(s.encode().length).toBeLessThan(16);
  });
});

describe('hourStart', () => {
  it('gives 23 local hours on the spring-forward day and 25 on the fall-back day (Europe/Berlin)', () => {
    const tz = 'Europe/Berlin';
    const spring = { from: Date.parse('2026-03-29T00:00:00+01:00'), to: Date.parse('2026-03-30T00:00:00+02:00') };
    const autumn = { from: Date.parse('2026-10-25T00:00:00+02:00'), to: Date.parse('2026-10-26T00:00:00+01:00') };
    expect((spring.to - spring.from) / HOUR).toBe(23);
    expect((autumn.to - autumn.from) / HOUR).toBe(25);
    expect(hourStart(spring.from + 59 * 60_000, tz)).toBe(spring.from);
    // The repeated 02:00–03:00 of the fall-back day is two distinct hours.
    const first2am = Date.parse('2026-10-25T02:30:00+02:00');
    const second2am = Date.parse('2026-10-25T02:30:00+01:00');
    expect(hourStart(first2am, tz)).toBe(Date.parse('2026-10-25T02:00:00+02:00'));
    expect(hourStart(second2am, tz)).toBe(Date.parse('2026-10-25T02:00:00+01:00'));
  });

  it('follows half-hour zones', () => {
    expect(hourStart(Date.parse('2026-01-01T10:45:00+05:30'), 'Asia/Kolkata')).toBe(Date.parse('2026-01-01T10:00:00+05:30'));
  });
});

describe('rollupHours', () => {
  const h0 = Date.parse('2026-01-01T00:00:00Z');
  it('holds a value into later hours up to the hold limit, and counts counter resets', () => {
    const shape = { type: 'number' as const, counter: true };
    const points = [
      { ts: h0 + 30 * 60_000, value: 10 },
      { ts: h0 + HOUR + 15 * 60_000, value: 14 },
      { ts: h0 + HOUR + 45 * 60_000, value: 3 }, // reset
    ];
    const hours = rollupHours(shape, points, { ts: h0 - 10 * 60_000, value: 8 }, h0, h0 + 4 * HOUR, 90 * 60_000);
    expect(hours.map((h) => h.hour)).toEqual([h0, h0 + HOUR, h0 + 2 * HOUR, h0 + 3 * HOUR]);
    expect(hours[0]!.increase).toBe(2);
    expect(hours[1]!.increase).toBe(4 + 3);
    expect(hours[1]!.resets).toBe(1);
    // Hour 0: 8 for 30 min, 10 for 30 min.
    expect(hours[0]!.twSum / hours[0]!.twMs).toBeCloseTo(9, 9);
    // Hour 2: the 3 from 01:45 is held until 03:15 (90 min), so 60 min of hour 2.
    expect(hours[2]!.count).toBe(0);
    expect(hours[2]!.twMs).toBe(HOUR);
    expect(hours[3]!.twMs).toBe(15 * 60_000);
    const w = mergeRollups(hours);
    expect(w.count).toBe(3);
    expect(w.increase).toBe(9);
    expect(w.first).toBe(10);
    expect(w.last).toBe(3);
  });

  it('adds up time in each state for enums', () => {
    const hours = rollupHours({ type: 'enum', counter: false }, [{ ts: h0 + 20 * 60_000, value: 'heat' }], { ts: h0 - HOUR, value: 'off' }, h0, h0 + HOUR, 2 * HOUR);
    expect(hours[0]!.states).toEqual({ off: 20 * 60_000, heat: 40 * 60_000 });
  });
});

describe('rollups of enum states named like built-in JavaScript properties', () => {
  it('counts the time in each state as its own key', () => {
    const h0 = Date.parse('2026-01-01T00:00:00Z');
    const points = [
      { ts: h0, value: 'constructor' },
      { ts: h0 + 20 * 60_000, value: 'toString' },
      { ts: h0 + 40 * 60_000, value: '__proto__' },
    ];
    const [hour] = rollupHours({ type: 'enum', counter: false }, points, undefined, h0, h0 + HOUR, HOUR);
    expect(hour!.states && Object.entries(hour!.states)).toEqual([
      ['constructor', 20 * 60_000],
      ['toString', 20 * 60_000],
      ['__proto__', 20 * 60_000],
    ]);
    const merged = mergeRollups([hour!, hour!]);
    expect(merged.states && Object.entries(merged.states)).toEqual([
      ['constructor', 40 * 60_000],
      ['toString', 40 * 60_000],
      ['__proto__', 40 * 60_000],
    ]);
  });
});
