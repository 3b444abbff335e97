import { describe, expect, it } from 'vitest';
import {
  bernoulliExp,
  cryptoSource,
  discreteLaplacePmf,
  drawNoise,
  integerSourceFrom,
  laplaceScale,
  noiseBound,
  rationalEpsilon,
  sampleDiscreteLaplace,
} from '../../../src/privacy/index.js';
import { seededRandom } from '../../../src/simulate/index.js';

const SEED = 20260523;

describe('discrete Laplace mechanism', () => {
  it('ε as an exact fraction, and the scale Δ/ε as integers', () => {
    expect(rationalEpsilon(0.5)).toEqual({ num: 1, den: 2 });
    expect(rationalEpsilon(0.125)).toEqual({ num: 1, den: 8 });
    expect(rationalEpsilon(2)).toEqual({ num: 2, den: 1 });
    expect(() => rationalEpsilon(0)).toThrow(RangeError);
    expect(() => rationalEpsilon(Math.PI)).toThrow(/more than 6 decimals/);
    // clamp [0, 2] kWh at 0.001 kWh resolution → Δ = 2000 units; ε 0.5 → scale 4000 units
    expect(laplaceScale(2000, 0.5)).toEqual({ t: 4000, s: 1 });
    expect(laplaceScale(3, 0.6)).toEqual({ t: 5, s: 1 });
  });

  it('Bernoulli(exp(-γ)) matches its probability, also for γ > 1', () => {
    const rng = integerSourceFrom(seededRandom(SEED));
    const n = 40_000;
    for (const [num, den] of [[1, 3], [1, 1], [5, 2]] as const) {
      let hits = 0;
      for (let i = 0; i < n; i++) if (bernoulliExp(rng, num, den)) hits++;
      const p = Math.exp(-num / den);
      // 5 standard deviations of a binomial proportion
      expect(Math.abs(hits / n - p)).toBeLessThan(5 * Math.sqrt((p * (1 - p)) / n));
    }
  });

  it('samples follow (1-p)/(1+p)·p^|k| (chi-square at a fixed seed)', () => {
    const rng = integerSourceFrom(seededRandom(SEED));
    const t = 3;
    const s = 1; // scale 3, p = e^(-1/3)
    const n = 50_000;
    const counts = new Map<number, number>();
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const z = sampleDiscreteLaplace(rng, t, s);
      expect(Number.isInteger(z)).toBe(true);
      sum += z;
      counts.set(z, (counts.get(z) ?? 0) + 1);
    }
    // Buckets -10..10 and the two tails; expected counts all well above 5.
    let chi2 = 0;
    let inside = 0;
    let expectedInside = 0;
    for (let k = -10; k <= 10; k++) {
      const e = n * discreteLaplacePmf(k, t, s);
      const o = counts.get(k) ?? 0;
      chi2 += (o - e) ** 2 / e;
      inside += o;
      expectedInside += e;
    }
    const tailE = (n - expectedInside) / 2;
    const lower = [...counts].filter(([k]) => k < -10).reduce((a, [, c]) => a + c, 0);
    const upper = n - inside - lower;
    chi2 += (lower - tailE) ** 2 / tailE + (upper - tailE) ** 2 / tailE;
    // 23 buckets → 22 degrees of freedom; the 0.999 quantile of χ²(22) is 48.27.
    expect(chi2).toBeLessThan(48.27);
    expect(Math.abs(sum / n)).toBeLessThan(0.1);
    // A wrong scale must be caught: the same counts against scale 4 fail clearly.
    let wrong = 0;
    for (let k = -10; k <= 10; k++) {
      const e = n * discreteLaplacePmf(k, 4, 1);
      wrong += ((counts.get(k) ?? 0) - e) ** 2 / e;
    }
    expect(wrong).toBeGreaterThan(200);
  });

  it('a non-unit s (scale t/s) also matches, and the pmf sums to 1', () => {
    const total = Array.from({ length: 401 }, (_, i) => discreteLaplacePmf(i - 200, 5, 2)).reduce((a, b) => a + b, 0);
    expect(total).toBeCloseTo(1, 9);
    const rng = integerSourceFrom(seededRandom(SEED + 1));
    const n = 20_000;
    let zeros = 0;
    for (let i = 0; i < n; i++) if (sampleDiscreteLaplace(rng, 5, 2) === 0) zeros++;
    const p0 = discreteLaplacePmf(0, 5, 2);
    expect(Math.abs(zeros / n - p0)).toBeLessThan(5 * Math.sqrt((p0 * (1 - p0)) / n));
  });

  it('the 95 % bound holds at the formula: P(|Z| > k) ≤ 5 % < P(|Z| > k - 1)', () => {
    // clamp [0, 2] kWh, ε 0.5: scale 4 kWh → ± 12 kWh, 19 times out of 20
    expect(noiseBound(2000, 0.5) / 1000).toBeCloseTo(11.98, 2);
    for (const [d, e] of [[1, 1], [2000, 0.5], [7, 0.25], [1, 0.1]] as const) {
      const k = noiseBound(d, e);
      const { t, s } = laplaceScale(d, e);
      const tail = (j: number) => 1 - Array.from({ length: 2 * j + 1 }, (_, i) => discreteLaplacePmf(i - j, t, s)).reduce((a, b) => a + b, 0);
      expect(tail(k)).toBeLessThanOrEqual(0.05 + 1e-12);
      if (k > 0) expect(tail(k - 1)).toBeGreaterThan(0.05);
    }
  });

  it('production randomness is node:crypto and gives integers', () => {
    const draws = Array.from({ length: 50 }, () => drawNoise(cryptoSource, 10, 1));
    expect(draws.every(Number.isInteger)).toBe(true);
    expect(new Set(draws).size).toBeGreaterThan(3);
  });
});
