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
import { mergeRollups, SKETCH_RELATIVE_ERROR, type HourRollup, type QuantileSketch, type SummarySource } from '../store/index.js';
import { noiseItem, privacySpecsOf, type DrawnNoise, type ItemNoise, type ItemRelease, type NoisyStat } from '../privacy/index.js';
import { householdPseudonym, summaryId, vendorKey, vendorVersion } from './keys.js';
import { counterIncrease, histogram, lastValue, percentileOf, percentileType7, timeInState, timeWeightedMean, type Sample, type Series, type Stops } from './statistics.js';

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
  /**
   * Present only when the window reaches past raw retention, so the item was computed from the
   * hourly rollups: percentiles come from the quantile sketch within this relative error, and
   * statistics that need the raw readings (histogram) are left out and named.
   */
  rollup?: { percentile_relative_error: number; left_out?: string[] };
  /** Present when the rule has `privacy:`: the stats carry discrete Laplace noise of this ε (docs/vendor-api.md). */
  noise?: ItemNoise;
  /** Present only under a no-share privacy pause: the share of the window (over the rule's devices) that was not paused, rounded down to 0.01. */
  coverage?: number;
}

/** Which source an item (rule × metric) of this window was computed from. */
export interface ItemSource {
  rule: number;
  metric: string;
  source: SummarySource;
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
  /** Set when a no-share pause left less of the window than the household's min_coverage. */
  coverage?: number;
}

export interface Summary {
  document: SummaryDocument;
  /** The exact bytes that are stored, previewed, hashed in the ledger and sent. */
  body: Buffer;
  bodySha256: string;
  /** The approved version's hash (for the household's ledger and outbox; the body carries only the vendor-keyed form). */
  policyVersion: string;
  omitted: OmittedItem[];
  /** Per item (sent or left out): raw readings, or hourly rollups past raw retention. */
  sources: ItemSource[];
  /** Every noisy query in the body (empty without `privacy:`): what the release spends and the ledger records. */
  releases: ItemRelease[];
}

/** What one window produces: a summary to send, or nothing and why (recorded, never sent). */
export type SummaryOutcome =
  | { kind: 'summary'; summary: Summary }
  | { kind: 'nothing'; reason: 'no-rule-for-window' | 'too-few-readings' | 'paused'; message: string; omitted: OmittedItem[]; sources: ItemSource[]; window: { start: string; end: string } };

/** A paused interval of one device within the window; ms, [from, to). */
export interface PausedInterval {
  from: number;
  to: number;
}

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
  /**
   * Whether each device's metric is past raw retention in this window, and its hourly rollups.
   * An item with any device past retention is computed from the rollups of all its devices.
   * Without it every item is computed from `samples` (raw readings).
   */
  rollups?: {
    sourceOf(deviceId: string, metric: string): SummarySource;
    hours(deviceId: string, metric: string): readonly HourRollup[];
  };
  /**
   * The no-share privacy pauses of one device's metric inside the window, sorted and disjoint
   * (none for safety alarms). Readings in them are left out, and the item says its coverage.
   */
  paused?: (deviceId: string, metric: string) => readonly PausedInterval[];
  /** The noise stored for an item of this window by an earlier release (read only); it wins over the keyed draw. */
  storedNoise?: (item: string) => DrawnNoise | null;
}

const DEFAULT_HOLD_MS = 2 * 3_600_000;
/** Below this share of a window left by a no-share pause, the item is withheld (policies/defaults.yaml `min_coverage`). */
export const DEFAULT_MIN_COVERAGE = 0.5;
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
  const minCoverage = (policy.defaults as Partial<typeof policy.defaults> | undefined)?.min_coverage ?? DEFAULT_MIN_COVERAGE;
  const items: SummaryItem[] = [];
  const omitted: OmittedItem[] = [];
  const sources: ItemSource[] = [];
  const rules = policy.rules.filter((r) => settingsOf(r, policy).window === input.size);
  const privacy = privacySpecsOf(policy);
  const releases: ItemRelease[] = [];
  const key = vendorKey(input.gatewaySecret, policy.policy.vendor);
  for (const rule of rules) {
    const settings = settingsOf(rule, policy);
    for (const metric of rule.rule.metrics) {
      const pausedOf = rule.devices.map((d) => input.paused?.(d, metric) ?? []);
      const inPause = (i: number, ts: number) => pausedOf[i]!.some((p) => ts >= p.from && ts < p.to);
      const coverage = coverageOf(pausedOf, window);
      const shown = { rule: rule.index, metric, unit: unitOfMetric(rule.profiles, metric), window: settings.window, ...(coverage < 1 ? { coverage: floor2(coverage) } : {}) };
      /** Whether the item is withheld: below the coverage floor (whole, so a pause cannot be read off a thin remainder) or below min_samples. */
      const withheld = (count: number): boolean => {
        if (coverage < minCoverage) omitted.push({ rule: rule.index, metric, samples: count, minSamples: settings.minSamples, coverage: floor2(coverage) });
        else if (count === 0 || count < settings.minSamples) omitted.push({ rule: rule.index, metric, samples: count, minSamples: settings.minSamples });
        else return false;
        return true;
      };
      const spec = privacy.get(rule.index);
      /** [PRIV-DP-2] a rule with privacy: never leaves exact: every statistic is noised here, in the one builder every path uses. */
      const noised = (perDevice: Series[], extra: Pick<SummaryItem, 'rollup'>): void => {
        const n = noiseItem({ policy, rule: rule.index, metric, spec: spec!, window, vendorKey: key, perDevice, ...(input.storedNoise ? { stored: input.storedNoise } : {}) });
        const round = rounder(ownValue(settings.round, metric) ?? 0.001);
        const stats: ItemStats = {};
        // Rounding to the household floor is post-processing: it costs no ε and keeps the floor's promise.
        for (const [stat, v] of Object.entries(n.stats) as Array<[NoisyStat, number]>) stats[stat] = stat === 'count' ? v : round(v);
        releases.push(...n.releases);
        items.push({ ...shown, stats, noise: n.noise, ...extra });
      };
      const rolled = input.rollups;
      if (rolled && rule.devices.some((d) => rolled.sourceOf(d, metric) === 'rollup')) {
        // [PRIV-5] past raw retention only the hourly rollups are left (or about to be): every device of the item reads them.
        sources.push({ rule: rule.index, metric, source: 'rollup' });
        // [PAUSE-2] an hour that touches a no-share pause is left out whole: a rollup cannot be split.
        const touched = (i: number, hour: number) => pausedOf[i]!.some((p) => p.from < hour + 3_600_000 && p.to > hour);
        const hours = rule.devices.map((d, i) => rolled.hours(d, metric).filter((h) => h.hour >= window.start && h.hour < window.end && !touched(i, h.hour)));
        if (withheld(hours.reduce((n, hs) => n + hs.reduce((m, h) => m + h.count, 0), 0))) continue;
        // The mechanism takes the hours as readings per protected unit.
        if (spec) noised(hours.map((hs) => mechanismSamples(hs)), { rollup: { percentile_relative_error: SKETCH_RELATIVE_ERROR } });
        else {
          const { stats, leftOut } = rollupStatsOf(rule, settings, metric, hours);
          items.push({ ...shown, stats, rollup: { percentile_relative_error: SKETCH_RELATIVE_ERROR, ...(leftOut.length > 0 ? { left_out: leftOut } : {}) } });
        }
        continue;
      }
      sources.push({ rule: rule.index, metric, source: 'raw' });
      // [PAUSE-2] readings inside a no-share pause never leave; the item says how much of the window is left.
      const perDevice: Series[] = rule.devices.map((d, i) => input.samples(d, metric).filter((s) => s.ts >= window.start && s.ts < window.end && !inPause(i, s.ts)));
      if (withheld(perDevice.reduce((n, s) => n + s.length, 0))) continue;
      if (spec) noised(perDevice, {});
      else items.push({ ...shown, stats: statsOf(rule, settings, metric, perDevice, window.end, holdMs, pausedOf.map((ps) => ps.map((p) => p.from))) });
    }
  }
  const shownWindow = { start: isoInZone(window.start, input.timezone), end: isoInZone(window.end, input.timezone) };
  if (items.length === 0) {
    const reason = rules.length === 0 ? 'no-rule-for-window' : omitted.some((o) => o.coverage !== undefined) ? 'paused' : 'too-few-readings';
    const message =
      reason === 'no-rule-for-window'
        ? `no rule of ${policy.name} summarises ${input.size} windows; nothing is sent`
        : reason === 'paused'
          ? `a privacy pause left too little of the window (${omitted.map((o) => (o.coverage !== undefined ? `rule ${o.rule} ${o.metric}: ${Math.round(o.coverage * 100)}% of the window, below ${Math.round(minCoverage * 100)}%` : `rule ${o.rule} ${o.metric}: ${o.samples} of ${o.minSamples} readings`)).join('; ')}); nothing is sent`
          : `every item had fewer readings than its minimum (${omitted.map((o) => `rule ${o.rule} ${o.metric}: ${o.samples} of ${o.minSamples}`).join('; ')}); nothing is sent`;
    return { kind: 'nothing', reason, message, omitted, sources, window: shownWindow };
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
  return { kind: 'summary', summary: { document, body, bodySha256: sha256Hex(body), policyVersion: policy.hash, omitted, sources, releases } };
}

/** The rule's settings after the household floors; an approval stored before defaults existed gets the built-in floors. */
function settingsOf(rule: EffectiveRule, policy: EffectivePolicy): RuleSettings {
  return (rule as Partial<EffectiveRule>).settings ?? applyDefaults(rule.rule, rule.profiles, policy.defaults ?? BUILTIN_DEFAULTS);
}

/** The mean over the rule's devices of the share of the window not paused; 1 without pauses. */
function coverageOf(pausedOf: ReadonlyArray<readonly PausedInterval[]>, window: TimeWindow): number {
  const span = window.end - window.start;
  if (pausedOf.length === 0 || span <= 0) return 1;
  let sum = 0;
  for (const ps of pausedOf) {
    // Pauses may overlap (a room's and the whole house's): count each paused instant once.
    let paused = 0;
    let cursor = window.start;
    for (const p of [...ps].sort((a, b) => a.from - b.from)) {
      const from = Math.max(cursor, p.from);
      const to = Math.min(window.end, p.to);
      if (to > from) {
        paused += to - from;
        cursor = to;
      }
    }
    sum += (span - paused) / span;
  }
  return sum / pausedOf.length;
}

/** Rounded down, so a window that lost a minute never reads as whole. */
const floor2 = (v: number): number => Math.floor(v * 100 + 1e-9) / 100;

function statsOf(rule: EffectiveRule, settings: RuleSettings, metric: string, perDevice: Series[], end: number, holdMs: number, stops: readonly Stops[]): ItemStats {
  const round = rounder(ownValue(settings.round, metric) ?? 0.001);
  const values = perDevice.flatMap((s) => s.flatMap((x) => (typeof x.value === 'number' ? [x.value] : [])));
  const sorted = [...values].sort((a, b) => a - b);
  const stats: ItemStats = {};
  for (const stat of rule.rule.stats) {
    if (stat === 'count') stats.count = perDevice.reduce((n, s) => n + s.length, 0);
    else if (stat === 'time_in_state') stats.time_in_state = mapValues(timeInState(perDevice, end, holdMs, stops), rounder(HOURS_STEP));
    else if (sorted.length === 0) continue;
    else if (stat === 'mean') stats.mean = round(timeWeightedMean(perDevice, end, holdMs, stops) ?? sorted.reduce((a, b) => a + b, 0) / sorted.length);
    else if (stat === 'min') stats.min = round(sorted[0]!);
    else if (stat === 'max') stats.max = round(sorted[sorted.length - 1]!);
    else if (stat === 'sum') stats.sum = round(values.reduce((a, b) => a + b, 0));
    else if (stat === 'last') stats.last = round(lastValue(perDevice)!);
    else if (stat === 'increase') stats.increase = round(perDevice.reduce((sum, s, i) => sum + counterIncrease(s, stops[i]), 0));
    else if (stat === 'histogram') stats.histogram = { edges: [...(rule.rule.buckets ?? [])], counts: histogram(values, rule.rule.buckets ?? []) };
    else if ((PERCENTILES as readonly string[]).includes(stat)) stats[stat as Percentile] = round(percentileType7(sorted, percentileOf(stat as Percentile)));
  }
  return stats;
}

/**
 * The statistics of an item from the hourly rollups of its devices: count, sum, min, max, the
 * time-weighted mean, last, increase and time in state exactly as the rollup columns hold them;
 * percentiles from the merged quantile sketch (within SKETCH_RELATIVE_ERROR); histogram left out,
 * because the sketch's buckets do not line up with the policy's edges (docs/policies.md).
 */
function rollupStatsOf(rule: EffectiveRule, settings: RuleSettings, metric: string, perDevice: ReadonlyArray<readonly HourRollup[]>): { stats: ItemStats; leftOut: string[] } {
  const round = rounder(ownValue(settings.round, metric) ?? 0.001);
  const w = mergeRollups(perDevice.flat());
  const stats: ItemStats = {};
  const leftOut: string[] = [];
  for (const stat of rule.rule.stats) {
    if (stat === 'count') stats.count = w.count;
    else if (stat === 'time_in_state') stats.time_in_state = hoursInState(w.states ?? {});
    else if (w.min === null || w.max === null) continue;
    else if (stat === 'mean') stats.mean = round(w.timeWeightedMean ?? w.sum / w.count);
    else if (stat === 'min') stats.min = round(w.min);
    else if (stat === 'max') stats.max = round(w.max);
    else if (stat === 'sum') stats.sum = round(w.sum);
    else if (stat === 'last') {
      const last = newestLast(perDevice);
      if (last !== null) stats.last = round(last);
    } else if (stat === 'increase') {
      // Only counters (by their profile) carry an increase in their rollups.
      if (w.increase === null) leftOut.push('increase');
      else stats.increase = round(w.increase);
    } else if (stat === 'histogram') leftOut.push('histogram');
    else if ((PERCENTILES as readonly string[]).includes(stat)) {
      const v = w.sketch ? sketchPercentile(w.sketch, percentileOf(stat as Percentile), w.min, w.max) : null;
      if (v !== null) stats[stat as Percentile] = round(v);
    }
  }
  return { stats, leftOut };
}

/**
 * Type 7 on the sketch: the values of ranks ⌊h⌋ and ⌊h⌋+1 each within the sketch's relative error,
 * interpolated as percentileType7 does, so the result is within that error of the exact type 7
 * value (when the readings around that rank have one sign); kept within the exact min and max.
 */
function sketchPercentile(sketch: QuantileSketch, p: number, min: number, max: number): number | null {
  if (sketch.count === 0) return null;
  const h = (sketch.count - 1) * p;
  const lo = Math.floor(h);
  const a = sketch.atRank(lo);
  const b = sketch.atRank(Math.min(lo + 1, sketch.count - 1));
  if (a === null || b === null) return null;
  return Math.min(max, Math.max(min, a + (h - lo) * (b - a)));
}

/** The newest rolled-up reading over all devices (the first device's on a tie), if it is a number. */
function newestLast(perDevice: ReadonlyArray<readonly HourRollup[]>): number | null {
  let best: { ts: number; value: unknown } | undefined;
  for (const hours of perDevice) {
    for (const h of hours) if (h.lastTs !== null && (!best || h.lastTs > best.ts)) best = { ts: h.lastTs, value: h.last };
  }
  return typeof best?.value === 'number' ? best.value : null;
}

/** ms per state → hours per state, keys sorted (as timeInState gives them from raw readings). */
function hoursInState(ms: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  const round = rounder(HOURS_STEP);
  for (const key of Object.keys(ms).sort()) setOwn(out, key, round(ownValue(ms, key)! / 3_600_000));
  return out;
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

/**
 * Hourly rollups as readings the noise mechanism can take (it works on readings per protected
 * unit): a counter as its running increase at the end of each hour, anything else as `count`
 * readings of the hour's mean at its start. Sums, counts, means and increases per hour are kept,
 * so a replay past raw retention shows noise of the right size; units shorter than an hour see
 * whole hours.
 */
export function mechanismSamples(hours: readonly HourRollup[]): Array<{ ts: number; value: number }> {
  const sorted = [...hours].sort((a, b) => a.hour - b.hour);
  const out: Array<{ ts: number; value: number }> = [];
  if (sorted.some((h) => h.increase !== null)) {
    let total = 0;
    if (sorted[0]) out.push({ ts: sorted[0].hour, value: 0 });
    for (const h of sorted) {
      total += h.increase ?? 0;
      if (h.count > 0) out.push({ ts: h.hour + 3_600_000 - 1, value: total });
    }
    return out;
  }
  for (const h of sorted) {
    const mean = h.min === null ? 0 : h.sum / h.count;
    for (let i = 0; i < h.count; i++) out.push({ ts: h.hour, value: mean });
  }
  return out;
}
