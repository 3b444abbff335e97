import { randomInt } from 'node:crypto';

/**
 * Where a mechanism's randomness comes from: uniform integers in [0, n). Production uses
 * node:crypto; tests inject a seeded source. Integers only, so no floating-point value can
 * leak through its low bits (Mironov, "On significance of the least significant bits for
 * differential privacy", CCS 2012).
 */
export interface IntegerSource {
  /** A uniform integer in [0, n); n ≥ 1 and n ≤ 2^48 (node:crypto's limit). */
  below(n: number): number;
}

/** Randomness from the operating system's CSPRNG (node:crypto randomInt). */
export const cryptoSource: IntegerSource = { below: (n) => randomInt(0, n) };

/**
 * An integer source over a uniform [0, 1) generator, for tests (e.g. src/simulate's seeded
 * mulberry32). Not for releases: a 32-bit PRNG is predictable.
 */
export function integerSourceFrom(uniform: () => number): IntegerSource {
  return { below: (n) => Math.min(n - 1, Math.floor(uniform() * n)) };
}

const MAX_BOUND = 2 ** 48;

function check(n: number): void {
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_BOUND) throw new RangeError(`integer bound out of range: ${n}`);
}

/** Bernoulli(num/den) with integers: a uniform draw below den is < num. */
function bernoulli(rng: IntegerSource, num: number, den: number): boolean {
  check(den);
  return rng.below(den) < num;
}

/**
 * Bernoulli(exp(-num/den)) exactly, with integer arithmetic only (Canonne, Kamath, Steinke,
 * "The Discrete Gaussian for Differential Privacy", NeurIPS 2020, Algorithm 1).
 */
export function bernoulliExp(rng: IntegerSource, num: number, den: number): boolean {
  if (num < 0 || den < 1) throw new RangeError(`bernoulliExp needs 0 ≤ num, 1 ≤ den; got ${num}/${den}`);
  let n = num;
  // exp(-γ) = exp(-1)^⌊γ⌋ · exp(-(γ - ⌊γ⌋)); each factor is one exact trial.
  while (n > den) {
    if (!bernoulliExpAtMostOne(rng, 1, 1)) return false;
    n -= den;
  }
  return bernoulliExpAtMostOne(rng, n, den);
}

/** For γ = num/den in [0, 1]: K counts trials of Bernoulli(γ/k); exp(-γ) = P(K odd). */
function bernoulliExpAtMostOne(rng: IntegerSource, num: number, den: number): boolean {
  let k = 1;
  while (bernoulli(rng, num, den * k)) k++;
  return k % 2 === 1;
}

/**
 * A sample of the discrete Laplace distribution with scale t/s on the integers:
 * P(Z = z) = (1 - p)/(1 + p) · p^|z| with p = exp(-s/t) (CKS 2020, Algorithm 2).
 */
export function sampleDiscreteLaplace(rng: IntegerSource, t: number, s: number): number {
  check(t);
  check(s);
  while (true) {
    const u = rng.below(t);
    if (!bernoulliExp(rng, u, t)) continue;
    let v = 0;
    while (bernoulliExp(rng, 1, 1)) v++;
    const x = u + t * v;
    const y = Math.floor(x / s);
    const negative = rng.below(2) === 1;
    if (negative && y === 0) continue;
    return negative ? -y : y;
  }
}

/** The ratio p = exp(-s/t) of the discrete Laplace with scale t/s. */
export function discreteLaplaceRatio(t: number, s: number): number {
  return Math.exp(-s / t);
}

/** P(Z = k) for the discrete Laplace with scale t/s. */
export function discreteLaplacePmf(k: number, t: number, s: number): number {
  const p = discreteLaplaceRatio(t, s);
  return ((1 - p) / (1 + p)) * p ** Math.abs(k);
}

/** An exact fraction for a decimal ε such as 0.5 or 0.125 (at most 6 decimals). */
export function rationalEpsilon(epsilon: number): { num: number; den: number } {
  if (!(epsilon > 0) || !Number.isFinite(epsilon)) throw new RangeError(`epsilon must be a positive number, got ${epsilon}`);
  for (let den = 1; den <= 1_000_000; den *= 10) {
    const num = Math.round(epsilon * den);
    if (Math.abs(num / den - epsilon) < 1e-12) {
      const g = gcd(num, den);
      return { num: num / g, den: den / g };
    }
  }
  throw new RangeError(`epsilon ${epsilon} has more than 6 decimals`);
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/**
 * The discrete Laplace scale t/s = Δ/ε as integers, for a sensitivity Δ in resolution units.
 * Noise of this scale on an integer query of sensitivity Δ is ε-differentially private
 * (the geometric mechanism: Ghosh, Roughgarden, Sundararajan, STOC 2009).
 */
export function laplaceScale(sensitivityUnits: number, epsilon: number): { t: number; s: number } {
  if (!Number.isSafeInteger(sensitivityUnits) || sensitivityUnits < 1) throw new RangeError(`sensitivity must be a positive integer of resolution units, got ${sensitivityUnits}`);
  const e = rationalEpsilon(epsilon);
  const t = sensitivityUnits * e.den;
  const s = e.num;
  const g = gcd(t, s);
  return { t: t / g, s: s / g };
}

/** Draws the integer noise for one release of an integer query. */
export function drawNoise(rng: IntegerSource, sensitivityUnits: number, epsilon: number): number {
  const { t, s } = laplaceScale(sensitivityUnits, epsilon);
  return sampleDiscreteLaplace(rng, t, s);
}

/**
 * The smallest k with P(|Z| > k) ≤ 1 - confidence, for the discrete Laplace of this scale:
 * P(|Z| > k) = 2·p^(k+1)/(1 + p).
 */
export function noiseBound(sensitivityUnits: number, epsilon: number, confidence = 0.95): number {
  const { t, s } = laplaceScale(sensitivityUnits, epsilon);
  const p = discreteLaplaceRatio(t, s);
  const alpha = 1 - confidence;
  // Solve 2p^(k+1)/(1+p) ≤ α, then step back over floating-point edge effects.
  let k = Math.max(0, Math.ceil(Math.log((alpha * (1 + p)) / 2) / Math.log(p) - 1));
  while (k > 0 && (2 * p ** k) / (1 + p) <= alpha) k--;
  while ((2 * p ** (k + 1)) / (1 + p) > alpha) k++;
  return k;
}
