import { unitOfMetric, type EffectivePolicy } from '../policy/index.js';
import { expectedAccuracy, NOISY_STATS, type NoisyStat, type PrivacySpec } from './release.js';
import { queryEpsilon } from './replay.js';
import { budgetLimitsOf, privacySpecsOf, resolutionOf } from './specs.js';

const WINDOW_WORDS: Record<string, string> = { '1h': 'hourly', '1d': 'daily', '7d': 'weekly' };
const STAT_WORDS: Record<NoisyStat, string> = { sum: 'total', increase: '', count: 'number of readings', mean: 'average' };

export interface CaveatInput {
  vendor: string;
  metric: string;
  unit: string | null;
  window: string;
  stat: NoisyStat;
  spec: PrivacySpec;
  resolution: number;
  /** Protected units in one window (168 hours in a week), for the accuracy of a mean. */
  unitsPerWindow: number;
  /** Other vendors that also receive noisy releases, whose losses add to this one's. */
  otherVendors?: readonly string[];
}

function formatNumber(v: number): string {
  return String(Number(v.toPrecision(3)));
}

function unitWords(unitMs: number): string {
  const h = unitMs / 3_600_000;
  if (h === 1) return 'one hour';
  if (h === 24) return 'one day';
  if (Number.isInteger(h)) return `${h} hours`;
  return `${Math.round(unitMs / 60_000)} minutes`;
}

/** "acme sees your weekly energy ± 12 kWh, 19 times out of 20", from the noise scale. */
export function accuracySentence(input: CaveatInput): string {
  const bound = expectedAccuracy(input.stat, input.spec, input.resolution, input.unitsPerWindow);
  const what = [WINDOW_WORDS[input.window] ?? input.window, STAT_WORDS[input.stat], input.metric].filter(Boolean).join(' ');
  const unit = input.stat === 'count' ? ' readings' : input.unit ? ` ${input.unit}` : '';
  const approx = input.stat === 'mean' ? ' (about; the noisy count adds a little more)' : '';
  return `${input.vendor} sees your ${what} ± ${formatNumber(bound)}${unit}, 19 times out of 20${approx}.`;
}

/**
 * What noise does and does not protect, in plain words, for `policy explain`: the four honest
 * caveats and the expected accuracy of this rule.
 */
export function privacyCaveats(input: CaveatInput): string[] {
  const unit = unitWords(input.spec.unitMs);
  const others = input.otherVendors && input.otherVendors.length > 0 ? ` (here: ${input.vendor} with ${input.otherVendors.join(', ')})` : '';
  return [
    `Noise (ε ${input.spec.epsilon} per window, discrete Laplace, ${unit} of your home counted as ${input.spec.clamp[0]}–${input.spec.clamp[1]}${input.unit ? ` ${input.unit}` : ''} at most) hides what happens in any ${unit} of your home.`,
    'It does not hide what is true every day: your routine, your schedule, how many people live with you still show through.',
    `Over months ${input.vendor} still learns your long-term averages: noise evens out when many windows are added up.`,
    `If two vendors combine what they receive, their privacy losses add up${others}; the household-wide cap limits the total.`,
    accuracySentence(input),
  ];
}

const WINDOW_MS: Record<string, number> = { '1h': 3_600_000, '1d': 86_400_000, '7d': 7 * 86_400_000 };

/**
 * The noise paragraph of `policy explain` for a policy with `privacy:` rules: per rule the honest
 * caveats, then the accuracy of each noisy statistic at the ε it is released with, then the
 * budgets. Empty for a policy without noise.
 */
export function explainNoise(policy: EffectivePolicy, otherVendors: readonly string[] = []): string[] {
  const specs = privacySpecsOf(policy);
  if (specs.size === 0) return [];
  const lines: string[] = ['Noise (differential privacy):'];
  for (const r of policy.rules) {
    const spec = specs.get(r.index);
    if (!spec) continue;
    const noisy = r.rule.stats.filter((s): s is NoisyStat => (NOISY_STATS as readonly string[]).includes(s));
    const window = r.settings?.window ?? r.rule.window;
    const base = { vendor: policy.policy.vendor, window, unitsPerWindow: Math.max(1, Math.round((WINDOW_MS[window] ?? spec.unitMs) / spec.unitMs)), otherVendors };
    const first = r.rule.metrics[0]!;
    lines.push(`  rule ${r.index}:`);
    for (const c of privacyCaveats({ ...base, metric: first, unit: unitOfMetric(r.profiles, first), stat: noisy[0] ?? 'sum', spec, resolution: resolutionOf(policy, r.index, first) }).slice(0, 4)) lines.push(`    ${c}`);
    const eps = queryEpsilon(spec, r.rule.metrics.length, noisy.length);
    for (const metric of r.rule.metrics)
      for (const stat of noisy) lines.push(`    ${accuracySentence({ ...base, metric, unit: unitOfMetric(r.profiles, metric), stat, spec: { ...spec, epsilon: eps }, resolution: resolutionOf(policy, r.index, metric) })}`);
  }
  const limits = budgetLimitsOf(policy);
  const days = (ms: number) => Math.round(ms / 86_400_000);
  lines.push(
    `  Budget: ${policy.policy.vendor} may receive at most ε ${limits.vendor.epsilon} in any ${days(limits.vendor.perMs)} days, and all vendors together ε ${limits.household.epsilon} in any ${days(limits.household.perMs)} days; a window that would go past either is not sent (see sluice policy budget ${policy.name}).`,
  );
  return lines;
}
