import { describe, expect, it } from 'vitest';
import { lastClosedWindow, type TimeWindow } from '../../../src/policy/index.js';
import { HOUR, rollupHours, SKETCH_RELATIVE_ERROR, type Point } from '../../../src/store/index.js';
import { summarise, type Sample } from '../../../src/summarise/index.js';
import { policy } from './helpers.js';

const TZ = 'Europe/Berlin';
const SECRET = Buffer.alloc(32, 1);
// The same fixed readings as statistics-golden.test.ts, read from hourly rollups instead of raw.
const SPRING = lastClosedWindow(Date.parse('2026-03-30T12:00:00+02:00'), '1d', TZ);
const AUTUMN = lastClosedWindow(Date.parse('2026-10-26T12:00:00+01:00'), '1d', TZ);
const ALL_NUMBER = '  - devices: { id: s }\n    metrics: [humidity]\n    window: 1d\n    stats: [mean, min, max, sum, count, last, p50, p75, p90, p95, p99, histogram]\n    buckets: [5, 10]\n';

const hourly = (w: TimeWindow, f: (i: number) => Sample['value']): Point[] => Array.from({ length: (w.end - w.start) / HOUR }, (_, i) => ({ ts: w.start + i * HOUR, value: f(i) }));

/** Summarises with every device past raw retention: its readings as hourly rollups only. */
function fromRollups(share: string, w: TimeWindow, points: (device: string, metric: string) => Point[], counter = false) {
  const out = summarise({
    policy: policy(share),
    window: w,
    size: '1d',
    timezone: TZ,
    gatewaySecret: SECRET,
    samples: () => {
      throw new Error('a window past raw retention must not read raw readings');
    },
    rollups: {
      sourceOf: () => 'rollup',
      hours: (d, m) => {
        const p = d === 's' || d === 'a' || d === 'm' ? points(d, m) : [];
        const type = typeof p[0]?.value === 'boolean' ? 'boolean' : typeof p[0]?.value === 'string' ? 'enum' : 'number';
        return rollupHours({ type, counter }, p, undefined, w.start, w.end, 2 * HOUR);
      },
    },
  });
  if (out.kind !== 'summary') throw new Error(out.message);
  return out.summary;
}

function withinError(got: number, exact: number): boolean {
  // The sketch's error, plus half the 0.1 %RH rounding step.
  return Math.abs(got - exact) <= SKETCH_RELATIVE_ERROR * Math.abs(exact) + 0.05 + 1e-9;
}

describe('golden statistics from hourly rollups, past raw retention (Europe/Berlin)', () => {
  it('23 h spring-forward day, readings 0..22: the rollup columns exact, percentiles within 1 %, histogram left out', () => {
    const s = fromRollups(ALL_NUMBER, SPRING, () => hourly(SPRING, (i) => i));
    expect(s.sources).toEqual([{ rule: 1, metric: 'humidity', source: 'rollup' }]);
    const [item] = s.document.items;
    const { p50, p75, p90, p95, p99, ...exact } = item!.stats as Record<string, number>;
    expect(exact).toEqual({ mean: 11, min: 0, max: 22, sum: 253, count: 23, last: 22 });
    // The exact type 7 values of statistics-golden.test.ts: 11, 16.5, 19.8, 20.9, 21.8.
    expect([withinError(p50!, 11), withinError(p75!, 16.5), withinError(p90!, 19.8), withinError(p95!, 20.9), withinError(p99!, 21.8)]).toEqual([true, true, true, true, true]);
    expect(item!.rollup).toEqual({ percentile_relative_error: 0.01, left_out: ['histogram'] });
  });

  it('25 h fall-back day, readings 0..24', () => {
    const s = fromRollups(ALL_NUMBER, AUTUMN, () => hourly(AUTUMN, (i) => i));
    expect(s.document.window).toEqual({ start: '2026-10-25T00:00:00+02:00', end: '2026-10-26T00:00:00+01:00' });
    const { p50, p75, p90, p95, p99, ...exact } = s.document.items[0]!.stats as Record<string, number>;
    expect(exact).toEqual({ mean: 12, min: 0, max: 24, sum: 300, count: 25, last: 24 });
    expect([withinError(p50!, 12), withinError(p75!, 18), withinError(p90!, 21.6), withinError(p95!, 22.8), withinError(p99!, 23.8)]).toEqual([true, true, true, true, true]);
  });

  it('time_in_state on the 25 h day and a counter with a reset on the 23 h day, exact from rollups', () => {
    const states = fromRollups('  - devices: { id: a }\n    metrics: [heating]\n    window: 1d\n    stats: [time_in_state, count]\n', AUTUMN, () => hourly(AUTUMN, (i) => i < 10));
    expect(states.document.items.map((i) => i.stats)).toEqual([{ time_in_state: { false: 15, true: 10 }, count: 25 }]);
    const energy = fromRollups('  - devices: { id: m }\n    metrics: [energy]\n    window: 1d\n    stats: [increase, last]\n', SPRING, () => hourly(SPRING, (i) => (i < 12 ? 100 + i * 0.5 : (i - 12) * 0.5)), true);
    expect(energy.document.items.map((i) => i.stats)).toEqual([{ increase: 10.5, last: 5 }]);
  });
});
