import { canonicalJson, type TimeWindow } from '../core/index.js';
import type { EffectivePolicy, WindowSize } from '../policy/index.js';
import { decideSpend, type BudgetLimits, type SpentRelease } from './budget.js';
import type { IntegerSource } from './mechanism.js';
import { NOISY_STATS, noisyStatistic, refusalReason, type NoisyStat, type PrivacySpec, type PrivateSample } from './release.js';

// The summariser's shapes, structurally: privacy must not import summarise, which will import
// privacy's mechanism once wired (a cycle). The real `summarise` fits these.
export interface ReplaySummariseInput {
  policy: EffectivePolicy;
  window: TimeWindow;
  /** Which rules' window size this window is. */
  size: WindowSize;
  timezone: string;
  /** The gateway's secret: ids in the body are keyed per vendor from it. */
  gatewaySecret: Buffer;
  samples: (deviceId: string, metric: string) => readonly PrivateSample[];
  /** The no-share pauses of a device's metric inside the window ([PAUSE-2]); the summariser leaves them out and withholds below min_coverage. */
  paused?: (deviceId: string, metric: string) => readonly ReplayPaused[];
}
/** A paused interval of one device within a window; ms, [from, to). */
export interface ReplayPaused {
  from: number;
  to: number;
}
export interface ReplaySummaryItem {
  rule: number;
  metric: string;
  unit: string | null;
  window: string;
  /** Statistic name → value (numbers; histograms and times in state are objects, never noised). */
  stats: object;
  /** Present when the summariser already noised the item (the keyed draw a real release would send). */
  noise?: object;
  /** Present under a no-share pause: the share of the window the statistics cover. */
  coverage?: number;
}
/** `coverage` is set when a no-share pause left less of the window than min_coverage. */
type ReplayOmitted = ReadonlyArray<{ rule: number; metric: string; samples: number; minSamples: number; coverage?: number }>;
/** Why a window sends nothing, in the words of the real run (`policy run --json` `reason`). */
export type ReplayReason = 'no-rule-for-window' | 'too-few-readings' | 'paused' | 'budget';
export interface ReplaySummary {
  document: { items: ReplaySummaryItem[] };
  body: Buffer;
  omitted: ReplayOmitted;
}
/** A summary, or nothing for the window (every item under its minimum); `sources`: what its items were computed from. */
export type ReplayOutcome = ({ kind: 'summary'; summary: ReplaySummary } | { kind: 'nothing'; omitted: ReplayOmitted; reason?: Exclude<ReplayReason, 'budget'> }) & { sources?: ReadonlyArray<{ source: ReplaySource }> };

/** Where a window's readings come from: raw readings within retention, hourly rollups beyond it. */
export type ReplaySource = 'raw' | 'rollup';

export interface ReplayInput {
  policy: EffectivePolicy;
  /** The closed windows of the last N days, oldest first. */
  windows: readonly TimeWindow[];
  timezone: string;
  /** The window size of the rules replayed (one size per replay, as one document holds the rules of one size). */
  size: WindowSize;
  gatewaySecret: Buffer;
  /** One device's metric within one window, and whether it came from raw readings or rollups. */
  samples: (deviceId: string, metric: string, window: TimeWindow) => { samples: readonly PrivateSample[]; source: ReplaySource };
  /** The no-share pauses the real path applies (`Sharing.pausedFor`); without it nothing is paused. */
  paused?: (deviceId: string, metric: string, window: TimeWindow) => readonly ReplayPaused[];
  /** rule index → its privacy spec (from the rule's `privacy:` once the schema has it). */
  privacy?: ReadonlyMap<number, PrivacySpec>;
  /** The metric's resolution in the selected profiles (the coarsest), for scaling to integers. */
  resolutionOf: (rule: number, metric: string) => number;
  /** Randomness for the replay's noise; never stored, so the real release draws afresh. */
  noise: IntegerSource;
  /** The real releases so far and the limits; the replay spends on a copy, never on these. */
  budget?: { vendor: string; releases: readonly SpentRelease[]; limits: BudgetLimits };
  summarise: (input: ReplaySummariseInput) => ReplayOutcome;
}

export interface ReplayItem {
  rule: number;
  metric: string;
  unit: string | null;
  stats: Record<string, number>;
  /** Present when the values carry noise. */
  noise?: { mechanism: string; epsilon: number; accuracy95: Record<string, number> };
  /** Present under a no-share pause, as in the summary sent: the share of the window covered. */
  coverage?: number;
}

export interface ReplaySuppressed {
  rule: number;
  metric: string | null;
  stat: string | null;
  why: string;
  /** Set when a no-share pause withheld the item: the share of the window it left. */
  coverage?: number;
}

/** What the policy would have sent for one window. */
export interface ReplayLine {
  window: TimeWindow;
  sent: boolean;
  items: ReplayItem[];
  suppressed: ReplaySuppressed[];
  /** ε the window would have spent. */
  epsilon: number;
  /** Bytes of the body that would have been sent (0 when nothing would be). */
  bytes: number;
  sources: ReplaySource[];
  /** Why nothing would have been sent, as `policy run` says it (null when something would, or when the replay itself refused every statistic with noise). */
  reason: ReplayReason | null;
}

/** ε of each query of a rule: the rule's ε per release is split evenly over its metrics and noisy statistics. */
export function queryEpsilon(spec: PrivacySpec, metrics: number, noisyStats: number): number {
  return spec.epsilon / Math.max(1, metrics * noisyStats);
}

/**
 * What a policy would have sent over past windows: values noised as they would be (with
 * throw-away noise), suppressed items and why, ε and bytes. Pure: reads through the samples
 * provider, writes nothing, sends nothing, spends no real budget.
 */
export function replayPolicy(input: ReplayInput): ReplayLine[] {
  const simulated: SpentRelease[] = [...(input.budget?.releases ?? [])];
  const lines: ReplayLine[] = [];
  for (const window of input.windows) {
    const sources = new Set<ReplaySource>();
    const cache = new Map<string, readonly PrivateSample[]>();
    const read = (deviceId: string, metric: string) => {
      const key = `${deviceId}\u0000${metric}`;
      let hit = cache.get(key);
      if (!hit) {
        const got = input.samples(deviceId, metric, window);
        sources.add(got.source);
        hit = got.samples;
        cache.set(key, hit);
      }
      return hit;
    };
    const pausedOf = (deviceId: string, metric: string) => input.paused?.(deviceId, metric, window) ?? [];
    // [PAUSE-2] the one summariser applies the pauses (coverage, min_coverage), as on the real path.
    const outcome = input.summarise({ policy: input.policy, window, size: input.size, timezone: input.timezone, gatewaySecret: input.gatewaySecret, samples: read, ...(input.paused ? { paused: pausedOf } : {}) });
    // Items read from rollups never ask for samples: the summariser says which source it used.
    for (const s of outcome.sources ?? []) sources.add(s.source);
    const summary: ReplaySummary = outcome.kind === 'summary' ? outcome.summary : { document: { items: [] }, body: Buffer.alloc(0), omitted: outcome.omitted };
    const suppressed: ReplaySuppressed[] = summary.omitted.map((o) =>
      o.coverage !== undefined
        ? { rule: o.rule, metric: o.metric, stat: null, why: `withheld: paused (a no-share pause left ${Math.round(o.coverage * 100)}% of the window, below min_coverage)`, coverage: o.coverage }
        : { rule: o.rule, metric: o.metric, stat: null, why: `${o.samples} readings, fewer than min_samples ${o.minSamples}` },
    );
    const items: ReplayItem[] = [];
    let epsilon = 0;
    for (const item of summary.document.items) {
      const spec = input.privacy?.get(item.rule);
      const plain = Object.fromEntries(Object.entries(item.stats as Record<string, unknown>).filter((e): e is [string, number] => typeof e[1] === 'number'));
      const covered = item.coverage !== undefined ? { coverage: item.coverage } : {};
      if (!spec) {
        items.push({ rule: item.rule, metric: item.metric, unit: item.unit, stats: plain, ...covered });
        continue;
      }
      const rule = input.policy.rules.find((r) => r.index === item.rule)!;
      const noisy = (rule.rule.stats as readonly string[]).filter((s) => (NOISY_STATS as readonly string[]).includes(s));
      const eps = queryEpsilon(spec, rule.rule.metrics.length, noisy.length);
      const stats: Record<string, number> = {};
      const accuracy95: Record<string, number> = {};
      for (const stat of Object.keys(plain)) {
        const refusal = refusalReason(stat);
        if (refusal !== null) {
          suppressed.push({ rule: item.rule, metric: item.metric, stat, why: refusal });
          continue;
        }
        // The accuracy is computed on what the summariser kept: readings inside a pause are not part of the release.
        const perDevice = rule.devices.map((d) => {
          const paused = pausedOf(d, item.metric);
          return read(d, item.metric).filter((s) => s.ts >= window.start && s.ts < window.end && !paused.some((p) => s.ts >= p.from && s.ts < p.to));
        });
        const release = noisyStatistic({ stat: stat as NoisyStat, spec: { ...spec, epsilon: eps }, resolution: input.resolutionOf(item.rule, item.metric), perDevice, rng: input.noise });
        // The summariser's keyed draw is what a real release of this window would send; the throw-away draw only stands in without it.
        stats[stat] = item.noise !== undefined ? plain[stat]! : release.value;
        accuracy95[stat] = release.accuracy95;
        epsilon += eps;
      }
      if (Object.keys(stats).length > 0) items.push({ rule: item.rule, metric: item.metric, unit: item.unit, stats, noise: { mechanism: 'discrete-laplace', epsilon: eps, accuracy95 }, ...covered });
    }
    epsilon = Math.round(epsilon * 1e9) / 1e9;
    if (epsilon > 0 && input.budget) {
      const decision = decideSpend(simulated, input.budget.vendor, epsilon, window.end, input.budget.limits);
      if (!decision.ok) {
        const when = decision.nextRenewal === null ? 'never at this ε' : new Date(decision.nextRenewal).toISOString();
        suppressed.push({ rule: 0, metric: null, stat: null, why: `withheld: budget (${decision.limit} limit: ${decision.spent} of ${decision.cap} spent; fits again ${when})` });
        lines.push({ window, sent: false, items: [], suppressed, epsilon, bytes: 0, sources: [...sources].sort(), reason: 'budget' });
        continue;
      }
      simulated.push({ vendor: input.budget.vendor, policy: input.policy.name, window, epsilon, at: window.end });
    }
    const sent = items.length > 0;
    const document = { ...summary.document, items: items.map((i) => ({ rule: i.rule, metric: i.metric, unit: i.unit, window: rule(input.policy, i.rule), ...(i.coverage !== undefined ? { coverage: i.coverage } : {}), stats: i.stats, ...(i.noise ? { noise: { mechanism: i.noise.mechanism, epsilon: i.noise.epsilon } } : {}) })) };
    const noisedBySummariser = summary.document.items.some((i) => i.noise !== undefined);
    const bytes = !sent ? 0 : input.privacy && input.privacy.size > 0 && !noisedBySummariser ? Buffer.byteLength(canonicalJson(document), 'utf8') : summary.body.length;
    const reason: ReplayReason | null = sent ? null : outcome.kind === 'nothing' ? (outcome.reason ?? (summary.omitted.some((o) => o.coverage !== undefined) ? 'paused' : 'too-few-readings')) : null;
    lines.push({ window, sent, items, suppressed, epsilon: sent ? epsilon : 0, bytes, sources: [...sources].sort(), reason });
  }
  return lines;
}

function rule(policy: EffectivePolicy, index: number): string {
  return policy.rules.find((r) => r.index === index)?.rule.window ?? '';
}
