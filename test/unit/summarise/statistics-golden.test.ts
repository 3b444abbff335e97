import { describe, expect, it } from 'vitest';
import { lastClosedWindow, type TimeWindow } from '../../../src/policy/index.js';
import { percentileType7, summarise, type Sample } from '../../../src/summarise/index.js';
import { policy } from './helpers.js';

const TZ = 'Europe/Berlin';
const H = 3_600_000;
const SECRET = Buffer.alloc(32, 1);
// Europe/Berlin: 2026-03-29 has 23 hours (02:00 → 03:00), 2026-10-25 has 25 (03:00 → 02:00).
const SPRING = lastClosedWindow(Date.parse('2026-03-30T12:00:00+02:00'), '1d', TZ);
const AUTUMN = lastClosedWindow(Date.parse('2026-10-26T12:00:00+01:00'), '1d', TZ);
const WEEK_SPRING = lastClosedWindow(Date.parse('2026-03-30T12:00:00+02:00'), '7d', TZ);

const hourly = (w: TimeWindow, f: (i: number) => Sample['value']): Sample[] => Array.from({ length: (w.end - w.start) / H }, (_, i) => ({ ts: w.start + i * H, value: f(i) }));

function items(share: string, w: TimeWindow, size: '1h' | '1d' | '7d', samples: (device: string, metric: string) => Sample[]) {
  const out = summarise({ policy: policy(share), window: w, size, timezone: TZ, gatewaySecret: SECRET, samples: (d, m) => (d === 's' || d === 'a' || d === 'm' ? samples(d, m) : []) });
  if (out.kind !== 'summary') throw new Error(out.message);
  return { stats: out.summary.document.items.map((i) => i.stats), window: out.summary.document.window };
}

const ALL_NUMBER = '  - devices: { id: s }\n    metrics: [humidity]\n    window: 1d\n    stats: [mean, min, max, sum, count, last, p50, p75, p90, p95, p99, histogram]\n    buckets: [5, 10]\n';

describe('golden statistics from fixed readings (Europe/Berlin)', () => {
  it('the windows are 23 h, 25 h and a 167 h week around the changes', () => {
    expect((SPRING.end - SPRING.start) / H).toBe(23);
    expect((AUTUMN.end - AUTUMN.start) / H).toBe(25);
    expect((WEEK_SPRING.end - WEEK_SPRING.start) / H).toBe(167);
  });

  it('23 h spring-forward day: readings 0..22, one per hour', () => {
    const { stats, window } = items(ALL_NUMBER, SPRING, '1d', () => hourly(SPRING, (i) => i));
    expect(window).toEqual({ start: '2026-03-29T00:00:00+01:00', end: '2026-03-30T00:00:00+02:00' });
    expect(stats).toEqual([{ mean: 11, min: 0, max: 22, sum: 253, count: 23, last: 22, p50: 11, p75: 16.5, p90: 19.8, p95: 20.9, p99: 21.8, histogram: { edges: [5, 10], counts: [5, 5, 13] } }]);
  });

  it('25 h fall-back day: readings 0..24, one per hour', () => {
    const { stats, window } = items(ALL_NUMBER, AUTUMN, '1d', () => hourly(AUTUMN, (i) => i));
    expect(window).toEqual({ start: '2026-10-25T00:00:00+02:00', end: '2026-10-26T00:00:00+01:00' });
    expect(stats).toEqual([{ mean: 12, min: 0, max: 24, sum: 300, count: 25, last: 24, p50: 12, p75: 18, p90: 21.6, p95: 22.8, p99: 23.8, histogram: { edges: [5, 10], counts: [5, 5, 15] } }]);
  });

  it('time_in_state counts real hours on the 25 h day (booleans and enums)', () => {
    const share = '  - devices: { id: a }\n    metrics: [heating]\n    window: 1d\n    stats: [time_in_state, count]\n  - devices: { id: s }\n    metrics: [mode]\n    window: 1d\n    stats: [time_in_state]\n';
    const { stats } = items(share, AUTUMN, '1d', (_d, m) => (m === 'heating' ? hourly(AUTUMN, (i) => i < 10) : hourly(AUTUMN, (i) => (i < 7 ? 'eco' : i < 22 ? 'comfort' : 'off'))));
    expect(stats).toEqual([{ time_in_state: { false: 15, true: 10 }, count: 25 }, { time_in_state: { comfort: 15, eco: 7, off: 3 } }]);
  });

  it('time-weighted mean: a value held longer weighs more; a silent device holds at most 2 h', () => {
    const w = AUTUMN;
    const mean = (samples: Sample[]) => items('  - devices: { id: s }\n    metrics: [humidity]\n    window: 1d\n    stats: [mean]\n', w, '1d', () => samples).stats;
    // 10 held 1 h, 40 held 1 h, then 2 h (the cap): (10 + 40 + 80) / 4 = 32.5 (plain mean: 30)
    expect(mean([{ ts: w.start, value: 10 }, { ts: w.start + H, value: 40 }, { ts: w.start + 2 * H, value: 40 }])).toEqual([{ mean: 32.5 }]);
    // 10 at 00:00 is silent for 5 h but holds only 2: (10·2 + 40·0.5 + 40·2) / 4.5 = 26.7 (uncapped: 20; plain: 30)
    expect(mean([{ ts: w.start, value: 10 }, { ts: w.start + 5 * H, value: 40 }, { ts: w.start + 5.5 * H, value: 40 }])).toEqual([{ mean: 26.7 }]);
  });

  it('increase over the 23 h day with a reset in it', () => {
    const share = '  - devices: { id: m }\n    metrics: [energy]\n    window: 1d\n    stats: [increase, last]\n';
    const { stats } = items(share, SPRING, '1d', () => hourly(SPRING, (i) => (i < 12 ? 100 + i * 0.5 : (i - 12) * 0.5)));
    // 11 rises of 0.5 before the reset, 0 at the reset (counts from 0), 10 rises of 0.5 after: 10.5 kWh; kWh floor 0.1
    expect(stats).toEqual([{ increase: 10.5, last: 5 }]);
  });

  it('a week straddling the spring change has 167 hourly readings', () => {
    const share = '  - devices: { id: s }\n    metrics: [humidity]\n    window: 7d\n    stats: [count, mean, p50]\n';
    const { stats, window } = items(share, WEEK_SPRING, '7d', () => hourly(WEEK_SPRING, (i) => i % 24));
    expect(window).toEqual({ start: '2026-03-23T00:00:00+01:00', end: '2026-03-30T00:00:00+02:00' });
    // 6 whole days of 0..23 and one day of 0..22; median of the 167 values is the 84th smallest
    expect(stats).toEqual([{ count: 167, mean: 11.4, p50: 11 }]);
  });

  it('an hour window straddling the change: 01:00+01:00 → 03:00+02:00 is one hour', () => {
    const w = lastClosedWindow(Date.parse('2026-03-29T03:00:00+02:00'), '1h', TZ);
    expect(w.end - w.start).toBe(H);
    const share = '  - devices: { id: s }\n    metrics: [humidity]\n    window: 1h\n    stats: [count, max]\n';
    const { stats, window } = items(share, w, '1h', () => [0, 20, 40].map((m, i) => ({ ts: w.start + m * 60_000, value: 50 + i })));
    expect(window).toEqual({ start: '2026-03-29T01:00:00+01:00', end: '2026-03-29T03:00:00+02:00' });
    expect(stats).toEqual([{ count: 3, max: 52 }]);
  });

  it('percentiles follow Hyndman–Fan type 7 (the numpy/R default)', () => {
    const x = [1, 2, 3, 4, 10];
    expect(percentileType7(x, 0.5)).toBe(3);
    expect(percentileType7(x, 0.9)).toBeCloseTo(7.6, 10); // h = 3.6 → 4 + 0.6·6
    expect(percentileType7([7], 0.99)).toBe(7);
  });
});
