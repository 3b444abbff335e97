import { expectedAccuracy, type NoisyStat, type PrivacySpec } from './release.js';

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
    `Noise (ε ${input.spec.epsilon} per window, discrete Laplace, each ${unit} counted at most ${input.spec.clamp[0]}–${input.spec.clamp[1]}${input.unit ? ` ${input.unit}` : ''}) hides what happens in any single ${unit} of your home.`,
    'It does not hide what is true every day: your routine, your schedule, how many people live with you still show through.',
    `Over months ${input.vendor} still learns your long-term averages: noise evens out when many windows are added up.`,
    `If two vendors combine what they receive, their privacy losses add up${others}; the household-wide cap limits the total.`,
    accuracySentence(input),
  ];
}
