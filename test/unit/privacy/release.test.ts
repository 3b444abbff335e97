import { describe, expect, it } from 'vitest';
import { clampUnits, expectedAccuracy, integerSourceFrom, noisyStatistic, privacyCaveats, refusalReason, sensitivityOf, type IntegerSource, type PrivacySpec } from '../../../src/privacy/index.js';
import { seededRandom } from '../../../src/simulate/index.js';

const H = 3_600_000;
const T0 = Date.parse('2026-11-23T00:00:00Z');
const spec: PrivacySpec = { epsilon: 0.5, clamp: [0, 2], unitMs: H };
/** A source that must not be asked: proves stored noise is reused. */
const never: IntegerSource = { below: () => { throw new Error('drew noise again'); } };
const zeroNoise = { sum: 0, count: 0 };

describe('clamp, sensitivity and noisy statistics', () => {
  it('sensitivity follows the clamp, the protected unit and the statistic', () => {
    expect(clampUnits([0, 2], 0.001)).toEqual([0, 2000]);
    expect(clampUnits([0.0005, 1.9995], 0.001)).toEqual([1, 1999]);
    expect(sensitivityOf('increase', spec, 0.001)).toEqual({ sum: 2000 });
    expect(sensitivityOf('sum', { ...spec, clamp: [-1, 3] }, 0.1)).toEqual({ sum: 40 });
    expect(sensitivityOf('sum', { ...spec, clamp: [5, 6] }, 1)).toEqual({ sum: 6 }); // removal moves it by |hi|
    expect(sensitivityOf('count', spec, 0.001)).toEqual({ count: 1 });
    expect(sensitivityOf('count', { ...spec, countPerUnit: 12 }, 0.001)).toEqual({ count: 12 });
    expect(sensitivityOf('mean', spec, 0.01)).toEqual({ sum: 200, count: 1 });
  });

  it('clamps each hour of the household before summing (devices pooled), then adds the stored noise', () => {
    // plug a: +5 kWh in hour 0 (clamped to 2), +1 in hour 1; plug b: +0.5 in hour 1 → hour 1 = 1.5
    const a = [{ ts: T0, value: 10 }, { ts: T0 + 0.5 * H, value: 15 }, { ts: T0 + 1.5 * H, value: 16 }];
    const b = [{ ts: T0 + 0.2 * H, value: 3 }, { ts: T0 + 1.2 * H, value: 3.5 }];
    const r = noisyStatistic({ stat: 'increase', spec, resolution: 0.001, perDevice: [a, b], stored: zeroNoise, rng: never });
    expect(r.value).toBe(3.5);
    expect(r).toMatchObject({ mechanism: 'discrete-laplace', epsilon: 0.5, clamp: [0, 2], sensitivity: { sum: 2 }, protectedUnits: 2 });
    const noised = noisyStatistic({ stat: 'increase', spec, resolution: 0.001, perDevice: [a, b], stored: { sum: -1234 }, rng: never });
    expect(noised.value).toBe(2.266);
    // a counter reset counts from zero, like the summariser
    const reset = noisyStatistic({ stat: 'increase', spec, resolution: 0.001, perDevice: [[{ ts: T0, value: 9 }, { ts: T0 + 60_000, value: 0.25 }]], stored: zeroNoise, rng: never });
    expect(reset.value).toBe(0.25);
  });

  it('mean is a noisy sum over a noisy count, ε split in half; each hour weighs the same', () => {
    const temps = [{ ts: T0, value: 30 }, { ts: T0 + 60_000, value: 30 }, { ts: T0 + 120_000, value: 30 }, { ts: T0 + H, value: 20 }];
    const m = noisyStatistic({ stat: 'mean', spec: { epsilon: 1, clamp: [0, 25], unitMs: H }, resolution: 0.01, perDevice: [temps], stored: zeroNoise, rng: never });
    expect(m.value).toBe(22.5); // hour 0: 30 clamped to 25, hour 1: 20
    expect(m.sensitivity).toEqual({ sum: 25, count: 1 });
    const drawn = noisyStatistic({ stat: 'mean', spec: { epsilon: 1, clamp: [0, 25], unitMs: H }, resolution: 0.01, perDevice: [temps], rng: integerSourceFrom(seededRandom(7)) });
    expect(Object.keys(drawn.noise).sort()).toEqual(['count', 'sum']);
  });

  it('count counts readings, at most countPerUnit per hour', () => {
    const readings = Array.from({ length: 30 }, (_, i) => ({ ts: T0 + i * 240_000, value: 1 })); // 15 an hour, 2 hours
    expect(noisyStatistic({ stat: 'count', spec, resolution: 1, perDevice: [readings], stored: zeroNoise, rng: never }).value).toBe(2);
    expect(noisyStatistic({ stat: 'count', spec: { ...spec, countPerUnit: 10 }, resolution: 1, perDevice: [readings], stored: zeroNoise, rng: never }).value).toBe(20);
    expect(noisyStatistic({ stat: 'count', spec, resolution: 1, perDevice: [readings], stored: { count: -9 }, rng: never }).value).toBe(0);
  });

  it('the noise of a release is drawn once: the stored draw gives the same value again', () => {
    const a = [{ ts: T0, value: 0 }, { ts: T0 + H, value: 1 }];
    const first = noisyStatistic({ stat: 'increase', spec, resolution: 0.001, perDevice: [a], rng: integerSourceFrom(seededRandom(3)) });
    const again = noisyStatistic({ stat: 'increase', spec, resolution: 0.001, perDevice: [a], stored: first.noise, rng: never });
    expect(again.value).toBe(first.value);
  });

  it('min, max, last and percentiles are refused with a reason; sum, increase, count, mean are offered', () => {
    for (const s of ['sum', 'increase', 'count', 'mean']) expect(refusalReason(s)).toBeNull();
    expect(refusalReason('max')).toMatch(/one single event/);
    expect(refusalReason('p95')).toMatch(/percentile/);
    expect(refusalReason('last')).toMatch(/single reading/);
  });

  it('explain: four caveats and the accuracy, computed from the scale', () => {
    expect(expectedAccuracy('increase', spec, 0.001, 168)).toBe(11.983);
    const lines = privacyCaveats({ vendor: 'acme', metric: 'energy', unit: 'kWh', window: '7d', stat: 'increase', spec, resolution: 0.001, unitsPerWindow: 168, otherVendors: ['volt'] });
    expect(lines).toEqual([
      'Noise (ε 0.5 per window, discrete Laplace, one hour of your home counted as 0–2 kWh at most) hides what happens in any one hour of your home.',
      'It does not hide what is true every day: your routine, your schedule, how many people live with you still show through.',
      'Over months acme still learns your long-term averages: noise evens out when many windows are added up.',
      'If two vendors combine what they receive, their privacy losses add up (here: acme with volt); the household-wide cap limits the total.',
      'acme sees your weekly energy ± 12 kWh, 19 times out of 20.',
    ]);
  });
});
