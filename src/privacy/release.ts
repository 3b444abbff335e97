import { drawNoise, noiseBound, type IntegerSource } from './mechanism.js';

// What may be noised is part of the policy language (policy check refuses the rest); re-exported here for the mechanism.
import { NOISY_STATS, refusalReason, type NoisyStat } from '../policy/index.js';
export { NOISY_STATS, refusalReason, type NoisyStat };

/** What a rule's `privacy:` says, after defaults are applied (clamp from the profile's range, unit 1h). */
export interface PrivacySpec {
  /** ε of one release of one window (all statistics of the rule's metric share it). */
  epsilon: number;
  /** Bounds of one protected unit's contribution, in the metric's unit. */
  clamp: readonly [number, number];
  /** What one protected "event" is: one unit of time of the household, in ms (1h by default). */
  unitMs: number;
  /** For `count`: readings counted per protected unit at most (default 1: units with data). */
  countPerUnit?: number;
}

export const MECHANISM = 'discrete-laplace' as const;

/** One reading as the mechanism sees it. */
export interface PrivateSample {
  ts: number;
  value: number;
}

/** ε for each noisy query a statistic makes: mean is a noisy sum over a noisy count, ε split in half. */
export function epsilonSplit(stat: NoisyStat, epsilon: number): { sum?: number; count?: number } {
  if (stat === 'mean') return { sum: epsilon / 2, count: epsilon / 2 };
  if (stat === 'count') return { count: epsilon };
  return { sum: epsilon };
}

/** A value in the metric's unit as a whole number of resolution steps. */
export function toUnits(value: number, resolution: number): number {
  return Math.round(value / resolution);
}

/** Whole resolution steps back to the metric's unit, without float dust (0.1 + 0.2). */
export function fromUnits(units: number, resolution: number): number {
  const decimals = decimalsOf(resolution);
  const v = Number((units * resolution).toFixed(decimals));
  return Object.is(v, -0) ? 0 : v;
}

function decimalsOf(step: number): number {
  const text = String(step);
  const exp = /e-(\d+)$/.exec(text);
  if (exp) return Number(exp[1]);
  return text.split('.')[1]?.length ?? 0;
}

/** The clamp in resolution units; the lower bound rounds up and the upper down, so clamped values stay inside. */
export function clampUnits(clamp: readonly [number, number], resolution: number): [number, number] {
  const lo = Math.ceil(clamp[0] / resolution - 1e-9) + 0; // + 0 turns -0 into 0
  const hi = Math.floor(clamp[1] / resolution + 1e-9);
  if (lo > hi) throw new RangeError(`clamp [${clamp[0]}, ${clamp[1]}] holds no multiple of the resolution ${resolution}`);
  return [lo, hi];
}

export function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}

/**
 * The sensitivity of a sum of clamped per-unit contributions, in resolution units: one
 * protected unit replaced moves it by at most hi - lo, one added or removed by max(|lo|, |hi|);
 * the larger covers both.
 */
export function sumSensitivity(clampU: readonly [number, number]): number {
  return Math.max(1, clampU[1] - clampU[0], Math.abs(clampU[0]), Math.abs(clampU[1]));
}

/** Sensitivity of each noisy query a statistic makes, in resolution units (count in readings). */
export function sensitivityOf(stat: NoisyStat, spec: PrivacySpec, resolution: number): { sum?: number; count?: number } {
  const clampU = clampUnits(spec.clamp, resolution);
  if (stat === 'count') return { count: Math.max(1, spec.countPerUnit ?? 1) };
  // mean's count counts protected units with data: one unit changes it by 1.
  if (stat === 'mean') return { sum: sumSensitivity(clampU), count: 1 };
  return { sum: sumSensitivity(clampU) };
}

/**
 * Each protected unit's contribution to a statistic, in resolution units before clamping:
 * unit start → contribution. Readings of all selected devices pool, because the unit is one
 * span of the household, not of a device.
 */
export function unitContributions(stat: NoisyStat, perDevice: readonly (readonly PrivateSample[])[], unitMs: number, resolution: number): Map<number, { sum: number; count: number }> {
  const units = new Map<number, { sum: number; count: number; values: number }>();
  const at = (ts: number) => {
    const key = Math.floor(ts / unitMs) * unitMs;
    let u = units.get(key);
    if (!u) units.set(key, (u = { sum: 0, count: 0, values: 0 }));
    return u;
  };
  for (const samples of perDevice) {
    for (let i = 0; i < samples.length; i++) {
      const s = samples[i]!;
      const u = at(s.ts);
      u.count += 1;
      if (stat === 'increase') {
        if (i === 0) continue;
        // A rise belongs to the unit in which it was observed; a drop is a counter reset.
        const d = s.value - samples[i - 1]!.value;
        u.sum += toUnits(d >= 0 ? d : s.value, resolution);
      } else {
        u.sum += toUnits(s.value, resolution);
        u.values += 1;
      }
    }
  }
  const out = new Map<number, { sum: number; count: number }>();
  for (const [k, u] of units) {
    // For mean a unit contributes its own mean reading, so it weighs the same however often devices report.
    const sum = stat === 'mean' ? (u.values > 0 ? Math.round(u.sum / u.values) : 0) : u.sum;
    out.set(k, { sum, count: u.count });
  }
  return out;
}

/** The noise drawn for one release, kept so the release is never drawn again (resend, re-run). */
export interface DrawnNoise {
  sum?: number;
  count?: number;
}

/** One noisy statistic, with what the ledger and the summary document must say about it. */
export interface NoisyRelease {
  stat: NoisyStat;
  /** The released value in the metric's unit (readings for count). */
  value: number;
  epsilon: number;
  mechanism: typeof MECHANISM;
  clamp: readonly [number, number];
  unitMs: number;
  /** In the metric's unit (readings for count). */
  sensitivity: { sum?: number; count?: number };
  noise: DrawnNoise;
  /** ± in the metric's unit, 19 times out of 20; approximate for mean (the count's noise is ignored). */
  accuracy95: number;
  protectedUnits: number;
}

export interface NoisyStatisticInput {
  stat: NoisyStat;
  spec: PrivacySpec;
  resolution: number;
  perDevice: readonly (readonly PrivateSample[])[];
  /** The stored noise of this release if it was drawn before; otherwise drawn from rng. */
  stored?: DrawnNoise | null;
  rng: IntegerSource;
}

/**
 * Clamps each protected unit's contribution, sums in resolution units and adds discrete
 * Laplace noise (or reuses the stored draw). Pure apart from the injected randomness.
 * [PRIV-DP-2] clamp first, then noise, on integers only.
 */
export function noisyStatistic(input: NoisyStatisticInput): NoisyRelease {
  const { stat, spec, resolution } = input;
  const clampU = clampUnits(spec.clamp, resolution);
  const sens = sensitivityOf(stat, spec, resolution);
  const eps = epsilonSplit(stat, spec.epsilon);
  const units = unitContributions(stat, input.perDevice, spec.unitMs, resolution);
  let sum = 0;
  let count = 0;
  for (const u of units.values()) {
    sum += clamp(u.sum, clampU[0], clampU[1]);
    count += stat === 'mean' ? 1 : Math.min(u.count, sens.count ?? 0);
  }
  const stored = input.stored ?? null;
  const noise: DrawnNoise = {};
  if (sens.sum !== undefined) noise.sum = stored?.sum ?? drawNoise(input.rng, sens.sum, eps.sum!);
  if (sens.count !== undefined) noise.count = stored?.count ?? drawNoise(input.rng, sens.count, eps.count!);
  let value: number;
  let accuracy: number;
  if (stat === 'count') {
    value = Math.max(0, count + noise.count!);
    accuracy = noiseBound(sens.count!, eps.count!);
  } else if (stat === 'mean') {
    // Post-processing: a noisy count below one unit would divide by nothing; one is the least the window can have.
    const n = Math.max(1, count + noise.count!);
    value = fromUnits(Math.round((sum + noise.sum!) / n), resolution);
    accuracy = fromUnits(Math.ceil(noiseBound(sens.sum!, eps.sum!) / Math.max(1, count)), resolution);
  } else {
    value = fromUnits(sum + noise.sum!, resolution);
    accuracy = fromUnits(noiseBound(sens.sum!, eps.sum!), resolution);
  }
  return {
    stat,
    value,
    epsilon: spec.epsilon,
    mechanism: MECHANISM,
    clamp: spec.clamp,
    unitMs: spec.unitMs,
    sensitivity: {
      ...(sens.sum !== undefined ? { sum: fromUnits(sens.sum, resolution) } : {}),
      ...(sens.count !== undefined ? { count: sens.count } : {}),
    },
    noise,
    accuracy95: accuracy,
    protectedUnits: units.size,
  };
}

/**
 * The ± of a sum or increase at 95 % in the metric's unit, from the scale alone (what explain
 * says before anything is sent): e.g. clamp [0, 2] kWh, ε 0.5 → ± 12 kWh.
 */
export function expectedAccuracy(stat: NoisyStat, spec: PrivacySpec, resolution: number, unitsPerWindow: number): number {
  const sens = sensitivityOf(stat, spec, resolution);
  const eps = epsilonSplit(stat, spec.epsilon);
  if (stat === 'count') return noiseBound(sens.count!, eps.count!);
  const bound = noiseBound(sens.sum!, eps.sum!);
  return fromUnits(stat === 'mean' ? Math.ceil(bound / Math.max(1, unitsPerWindow)) : bound, resolution);
}
