import { canonicalJson, ownValue, setOwn, sha256Hex } from '../core/index.js';
import {
  applyDefaults,
  BUILTIN_DEFAULTS,
  isoInZone,
  PERCENTILES,
  unitOfMetric,
  type EffectivePolicy,
  type EffectiveRule,
  type Percentile,
  type RuleSettings,
  type TimeWindow,
  type WindowSize,
} from '../policy/index.js';
import { noiseItem, privacySpecsOf, type DrawnNoise, type ItemNoise, type ItemRelease, type NoisyStat } from '../privacy/index.js';
import { householdPseudonym, summaryId, vendorKey, vendorVersion } from './keys.js';
import { counterIncrease, histogram, lastValue, percentileOf, percentileType7, timeInState, timeWeightedMean, type Sample, type Series } from './statistics.js';

export const SUMMARY_FORMAT = 'sluice-summary/2';

/** The statistics of one item; only those the rule asks for. */
export interface ItemStats {
  mean?: number;
  min?: number;
  max?: number;
  sum?: number;
  count?: number;
  last?: number;
  increase?: number;
  p50?: number;
  p75?: number;
  p90?: number;
  p95?: number;
  p99?: number;
  /** Readings per bucket: below edges[0], [edges[i], edges[i+1]), at or above the last edge. */
  histogram?: { edges: number[]; counts: number[] };
  /** Hours in each state, over all selected devices together. */
  time_in_state?: Record<string, number>;
}

/** One summarised metric of one rule. */
export interface SummaryItem {
  rule: number;
  metric: string;
  unit: string | null;
  window: WindowSize;
  stats: ItemStats;
  /** Present when the rule has `privacy:`: the stats carry discrete Laplace noise of this ε (docs/vendor-api.md). */
  noise?: ItemNoise;
}

/**
 * The document a vendor receives (docs/vendor-api.md). A pure function of (approved effective
 * policy, window, stored readings, gateway secret): no ledger head, no send history, no clock.
 */
export interface SummaryDocument {
  format: typeof SUMMARY_FORMAT;
  id: string;
  policy: string;
  version: string;
  vendor: string;
  purpose: string;
  window: { start: string; end: string };
  household: string;
  items: SummaryItem[];
}

/** An item left out of the summary, said in the preview (never sent). */
export interface OmittedItem {
  rule: number;
  metric: string;
  samples: number;
  minSamples: number;
}

export interface Summary {
  document: SummaryDocument;
  /** The exact bytes that are stored, previewed, hashed in the ledger and sent. */
  body: Buffer;
  bodySha256: string;
  /** The approved version's hash (for the household's ledger and outbox; the body carries only the vendor-keyed form). */
  policyVersion: string;
  omitted: OmittedItem[];
  /** Every noisy query in the body (empty without `privacy:`): what the release spends and the ledger records. */
  releases: ItemRelease[];
}

/** What one window produces: a summary to send, or nothing and why (recorded, never sent). */
export type SummaryOutcome =
  | { kind: 'summary'; summary: Summary }
  | { kind: 'nothing'; reason: 'no-rule-for-window' | 'too-few-readings'; message: string; omitted: OmittedItem[]; window: { start: string; end: string } };

export interface SummariseInput {
  policy: EffectivePolicy;
  window: TimeWindow;
  /** Which rules this window serves: those whose (floored) window is this size. */
  size: WindowSize;
  timezone: string;
  /** The gateway's secret (data dir `gateway.secret`); every id and hash is keyed from it per vendor. */
  gatewaySecret: Buffer;
  /** The stored readings of one device's metric within the window, oldest first. */
  samples: (deviceId: string, metric: string) => readonly Sample[];
  /** ms a reading holds for time-weighted statistics without a newer one (default 2 h, as the rollups). */
  holdMs?: number;
  /** The noise stored for an item of this window by an earlier release (read only); it wins over the keyed draw. */
  storedNoise?: (item: string) => DrawnNoise | null;
}

const DEFAULT_HOLD_MS = 2 * 3_600_000;
const HOURS_STEP = 0.01;

/** The window sizes a policy's rules use, after the household floors, smallest first. */
export function policyWindowSizes(policy: EffectivePolicy): WindowSize[] {
  const order: Record<WindowSize, number> = { '1h': 0, '1d': 1, '7d': 2 };
  return [...new Set(policy.rules.map((r) => settingsOf(r, policy).window))].sort((a, b) => order[a] - order[b]);
}

/**
 * Builds one window's summary of an approved policy. Pure: the readings come from the caller,
 * so a preview before approval, the bytes sent and a preview after sending are equal.
 * [PRIV-1] only aggregates over all selected devices leave; no device id or reading time.
 * [PRIV-11] an item with fewer readings than the floor is left out; [PRIV-15] a window with no item
 * sends nothing at all (no empty document, no marker).
 */
export function summarise(input: SummariseInput): SummaryOutcome {
  const { policy, window } = input;
  const holdMs = input.holdMs ?? DEFAULT_HOLD_MS;
  const items: SummaryItem[] = [];
  const omitted: OmittedItem[] = [];
  const rules = policy.rules.filter((r) => settingsOf(r, policy).window === input.size);
  const privacy = privacySpecsOf(policy);
  const releases: ItemRelease[] = [];
  const key = vendorKey(input.gatewaySecret, policy.policy.vendor);
  for (const rule of rules) {
    const settings = settingsOf(rule, policy);
    for (const metric of rule.rule.metrics) {
      const perDevice: Series[] = rule.devices.map((d) => input.samples(d, metric).filter((s) => s.ts >= window.start && s.ts < window.end));
      const count = perDevice.reduce((n, s) => n + s.length, 0);
      if (count === 0 || count < settings.minSamples) {
        omitted.push({ rule: rule.index, metric, samples: count, minSamples: settings.minSamples });
        continue;
      }
      const spec = privacy.get(rule.index);
      if (spec) {
        // [PRIV-DP-2] a rule with privacy: never leaves exact: every statistic is noised here, in the one builder every path uses.
        const n = noiseItem({ policy, rule: rule.index, metric, spec, window, vendorKey: key, perDevice, ...(input.storedNoise ? { stored: input.storedNoise } : {}) });
        const round = rounder(ownValue(settings.round, metric) ?? 0.001);
        const stats: ItemStats = {};
        // Rounding to the household floor is post-processing: it costs no ε and keeps the floor's promise.
        for (const [stat, v] of Object.entries(n.stats) as Array<[NoisyStat, number]>) stats[stat] = stat === 'count' ? v : round(v);
        releases.push(...n.releases);
        items.push({ rule: rule.index, metric, unit: unitOfMetric(rule.profiles, metric), window: settings.window, stats, noise: n.noise });
        continue;
      }
      const stats = statsOf(rule, settings, metric, perDevice, window.end, holdMs);
      items.push({ rule: rule.index, metric, unit: unitOfMetric(rule.profiles, metric), window: settings.window, stats });
    }
  }
  const shownWindow = { start: isoInZone(window.start, input.timezone), end: isoInZone(window.end, input.timezone) };
  if (items.length === 0) {
    const reason = rules.length === 0 ? 'no-rule-for-window' : 'too-few-readings';
    const message =
      reason === 'no-rule-for-window'
        ? `no rule of ${policy.name} summarises ${input.size} windows; nothing is sent`
        : `every item had fewer readings than its minimum (${omitted.map((o) => `rule ${o.rule} ${o.metric}: ${o.samples} of ${o.minSamples}`).join('; ')}); nothing is sent`;
    return { kind: 'nothing', reason, message, omitted, window: shownWindow };
  }
  const document: SummaryDocument = {
    format: SUMMARY_FORMAT,
    id: summaryId(key, policy.hash, window),
    policy: policy.name,
    version: vendorVersion(key, policy.hash),
    vendor: policy.policy.vendor,
    purpose: policy.policy.purpose,
    window: shownWindow,
    household: householdPseudonym(key),
    items,
  };
  const body = Buffer.from(canonicalJson(document), 'utf8');
  return { kind: 'summary', summary: { document, body, bodySha256: sha256Hex(body), policyVersion: policy.hash, omitted, releases } };
}

/** The rule's settings after the household floors; an approval stored before defaults existed gets the built-in floors. */
function settingsOf(rule: EffectiveRule, policy: EffectivePolicy): RuleSettings {
  return (rule as Partial<EffectiveRule>).settings ?? applyDefaults(rule.rule, rule.profiles, policy.defaults ?? BUILTIN_DEFAULTS);
}

function statsOf(rule: EffectiveRule, settings: RuleSettings, metric: string, perDevice: Series[], end: number, holdMs: number): ItemStats {
  const round = rounder(ownValue(settings.round, metric) ?? 0.001);
  const values = perDevice.flatMap((s) => s.flatMap((x) => (typeof x.value === 'number' ? [x.value] : [])));
  const sorted = [...values].sort((a, b) => a - b);
  const stats: ItemStats = {};
  for (const stat of rule.rule.stats) {
    if (stat === 'count') stats.count = perDevice.reduce((n, s) => n + s.length, 0);
    else if (stat === 'time_in_state') stats.time_in_state = mapValues(timeInState(perDevice, end, holdMs), rounder(HOURS_STEP));
    else if (sorted.length === 0) continue;
    else if (stat === 'mean') stats.mean = round(timeWeightedMean(perDevice, end, holdMs) ?? sorted.reduce((a, b) => a + b, 0) / sorted.length);
    else if (stat === 'min') stats.min = round(sorted[0]!);
    else if (stat === 'max') stats.max = round(sorted[sorted.length - 1]!);
    else if (stat === 'sum') stats.sum = round(values.reduce((a, b) => a + b, 0));
    else if (stat === 'last') stats.last = round(lastValue(perDevice)!);
    else if (stat === 'increase') stats.increase = round(perDevice.reduce((sum, s) => sum + counterIncrease(s), 0));
    else if (stat === 'histogram') stats.histogram = { edges: [...(rule.rule.buckets ?? [])], counts: histogram(values, rule.rule.buckets ?? []) };
    else if ((PERCENTILES as readonly string[]).includes(stat)) stats[stat as Percentile] = round(percentileType7(sorted, percentileOf(stat as Percentile)));
  }
  return stats;
}

function mapValues(o: Record<string, number>, f: (v: number) => number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(o)) setOwn(out, k, f(v));
  return out;
}

/** Rounds to a multiple of step, printed with no more decimals than the step has. */
function rounder(step: number): (v: number) => number {
  const decimals = decimalsOf(step);
  return (v) => {
    const r = Number((Math.round(v / step) * step).toFixed(decimals));
    return Object.is(r, -0) ? 0 : r;
  };
}

function decimalsOf(step: number): number {
  const text = String(step);
  const exp = /e-(\d+)$/.exec(text);
  if (exp) return Number(exp[1]);
  return text.split('.')[1]?.length ?? 0;
}
