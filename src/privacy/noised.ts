import type { TimeWindow } from '../core/index.js';
import type { EffectivePolicy } from '../policy/index.js';
import { keyedSource } from './keyed-source.js';
import type { IntegerSource } from './mechanism.js';
import { MECHANISM, NOISY_STATS, noisyStatistic, type DrawnNoise, type NoisyRelease, type NoisyStat, type NoisyStatisticInput, type PrivacySpec, type PrivateSample } from './release.js';
import { queryEpsilon } from './replay.js';
import { resolutionOf, unitText } from './specs.js';

/**
 * One noisy statistic released: clamp, sum on integers, add discrete Laplace noise (or the stored
 * draw). The entry point for every caller that releases noised values (summaries, open data).
 * [PRIV-DP-2] clamp first, then noise, on integers only.
 */
export function releaseNoised(input: NoisyStatisticInput): NoisyRelease {
  return noisyStatistic(input);
}

/** The label of one noisy query of a release: what its keyed noise is drawn under, and the key its draw is stored by. */
export function noiseItemKey(policyHash: string, rule: number, metric: string, stat: string): string {
  return `${policyHash}/${rule}/${metric}/${stat}`;
}

/**
 * The noise source of one query of one release: keyed by the vendor's key, so preview, send and
 * re-run draw the same; the label names the version, window and item, so releases are independent.
 */
export function releaseSource(vendorKey: Buffer, window: TimeWindow, item: string): IntegerSource {
  return keyedSource(vendorKey, `${window.start}\n${window.end}\n${item}`);
}

/** What a summary item says about its noise (docs/vendor-api.md): data-independent, so it reveals nothing of the readings. */
export interface ItemNoise {
  mechanism: typeof MECHANISM;
  /** ε of each statistic of this item (mean: split in half between its sum and its count). */
  epsilon: number;
  clamp: [number, number];
  /** The protected unit, e.g. "1h". */
  unit: string;
  /** Statistic → sensitivity of its (sum) query in the metric's unit; count in readings per unit. */
  sensitivity: Record<string, number>;
}

/** One noisy query as the ledger and the stored draw record it. */
export interface ItemRelease {
  item: string;
  rule: number;
  metric: string;
  stat: NoisyStat;
  epsilon: number;
  mechanism: typeof MECHANISM;
  clamp: [number, number];
  unit: string;
  sensitivity: { sum?: number; count?: number };
  noise: DrawnNoise;
  /** The noised value before the rule's rounding (post-processing). */
  value: number;
  accuracy95: number;
}

export interface NoiseItemInput {
  policy: EffectivePolicy;
  rule: number;
  metric: string;
  spec: PrivacySpec;
  window: TimeWindow;
  /** The vendor's key (summarise/keys vendorKey): noise is keyed per vendor like every id. */
  vendorKey: Buffer;
  /** The window's readings of the metric, one list per selected device, oldest first. */
  perDevice: ReadonlyArray<ReadonlyArray<{ ts: number; value: unknown }>>;
  /** The draw stored for an item when the release was made before; it wins over a fresh draw. */
  stored?: (item: string) => DrawnNoise | null;
}

/** Every statistic of one summary item of a rule with `privacy:`, noised. Pure apart from the keyed source. */
export function noiseItem(input: NoiseItemInput): { stats: Partial<Record<NoisyStat, number>>; noise: ItemNoise; releases: ItemRelease[] } {
  const rule = input.policy.rules.find((r) => r.index === input.rule)!;
  const noisy = rule.rule.stats.filter((s): s is NoisyStat => (NOISY_STATS as readonly string[]).includes(s));
  const eps = queryEpsilon(input.spec, rule.rule.metrics.length, noisy.length);
  const resolution = resolutionOf(input.policy, input.rule, input.metric);
  const unit = unitText(input.spec.unitMs);
  const clamp: [number, number] = [input.spec.clamp[0], input.spec.clamp[1]];
  const stats: Partial<Record<NoisyStat, number>> = {};
  const sensitivity: Record<string, number> = {};
  const releases: ItemRelease[] = [];
  for (const stat of noisy) {
    // count reads readings of any type; the other statistics read numbers only.
    const perDevice: PrivateSample[][] = input.perDevice.map((s) =>
      stat === 'count' ? s.map((x) => ({ ts: x.ts, value: typeof x.value === 'number' ? x.value : 0 })) : s.flatMap((x) => (typeof x.value === 'number' ? [{ ts: x.ts, value: x.value }] : [])),
    );
    const item = noiseItemKey(input.policy.hash, input.rule, input.metric, stat);
    const r = releaseNoised({ stat, spec: { ...input.spec, epsilon: eps }, resolution, perDevice, stored: input.stored?.(item) ?? null, rng: releaseSource(input.vendorKey, input.window, item) });
    stats[stat] = r.value;
    sensitivity[stat] = stat === 'count' ? r.sensitivity.count! : r.sensitivity.sum!;
    releases.push({ item, rule: input.rule, metric: input.metric, stat, epsilon: eps, mechanism: MECHANISM, clamp, unit, sensitivity: r.sensitivity, noise: r.noise, value: r.value, accuracy95: r.accuracy95 });
  }
  return { stats, noise: { mechanism: MECHANISM, epsilon: eps, clamp, unit, sensitivity }, releases };
}
