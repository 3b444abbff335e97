import { ownValue } from '../core/index.js';
import { CronExpressionParser } from 'cron-parser';
import { DateTime } from 'luxon';
import type { PolicyStatus } from './book.js';
import { canonicalJson } from '../core/index.js';
import { BUILTIN_DEFAULTS, DEFAULTS_FILE } from './defaults.js';
import { applyDefaults, type EffectivePolicy, type EffectiveRule, type RuleSettings } from './effective.js';
import type { Stat } from './schema.js';

const WINDOW_ADJECTIVES = { '1h': 'hourly', '1d': 'daily', '7d': 'weekly' } as const;
const WINDOW_WORDS = { '1h': 'each hour', '1d': 'each day', '7d': 'each week (Monday to Sunday)' } as const;
const STAT_WORDS: Record<Stat, string> = {
  mean: 'time-weighted average',
  min: 'lowest',
  max: 'highest',
  sum: 'sum of the readings',
  count: 'number of readings',
  last: 'latest reading',
  increase: 'amount added (counter increase)',
  p50: 'median (p50)',
  p75: '75th percentile',
  p90: '90th percentile',
  p95: '95th percentile',
  p99: '99th percentile',
  histogram: 'number of readings per bucket',
  time_in_state: 'hours spent in each state',
};

function settingsOf(r: EffectiveRule): RuleSettings {
  return (r as Partial<EffectiveRule>).settings ?? applyDefaults(r.rule, r.profiles, BUILTIN_DEFAULTS);
}

/** The next few times a cron expression fires, in the household's timezone. */
export function nextRuns(cron: string, timezone: string, from: number, count = 3): string[] {
  const it = CronExpressionParser.parse(cron, { tz: timezone, currentDate: new Date(from) });
  return Array.from({ length: count }, () => DateTime.fromJSDate(it.next().toDate(), { zone: timezone }).toFormat("ccc yyyy-LL-dd HH:mm ZZ"));
}

/** Says a share rule in plain language. */
export function describeRule(r: EffectiveRule): string {
  const sel = r.rule.devices;
  const who = sel.kind !== undefined ? `every ${sel.kind} (${r.devices.length === 0 ? 'none registered yet' : r.devices.join(', ')})` : `${r.devices.join(', ') || 'no registered device'}`;
  const settings = settingsOf(r);
  const stats = r.rule.stats.map((s) => (s === 'histogram' ? `${STAT_WORDS[s]} (edges ${(r.rule.buckets ?? []).join(', ')})` : STAT_WORDS[s])).join(', ');
  const rounding = Object.entries(settings.round).map(([m, step]) => `${m} to the nearest ${step}`);
  const units = r.rule.metrics.map((m) => {
    const unit = Object.values(r.profiles).map((p) => {
      const spec = ownValue(p, m);
      return spec?.type === 'number' ? spec.unit : undefined;
    }).find(Boolean);
    return unit ? `${m} (${unit})` : m;
  });
  return [
    `Rule ${r.index} (line ${r.line}): from ${who}`,
    `  ${units.join(', ')}: the ${stats} ${WINDOW_WORDS[settings.window]}, taken over all selected devices together`,
    rounding.length > 0 ? `  rounded: ${rounding.join(', ')}` : '',
    `  left out when a window has fewer than ${settings.minSamples} readings (nothing is sent for it)`,
    ...settings.defaultsApplied.map((d) => `  household default: ${d}`),
  ]
    .filter(Boolean)
    .join('\n');
}

/** The whole policy in plain language, as `sluice policy explain` prints it. */
export function explainPolicy(s: PolicyStatus, timezone: string, now: number, others: readonly EffectivePolicy[] = []): string {
  const e = s.current ?? s.approved?.effective;
  if (!e) return `${s.name}: cannot be explained: ${s.error?.message ?? 'no file'}`;
  const p = e.policy;
  const lines = [
    `${s.name}: ${stateText(s)}`,
    `Sends to "${p.vendor}" at ${p.endpoint}`,
    `Purpose: ${p.purpose}`,
    ...(e.rules.length > 0 ? [`When: on the schedule "${p.schedule}" (${timezone}); next: ${safeNextRuns(p.schedule, timezone, now).join(', ')}`] : []),
    `Until: the end of ${p.expires} (${timezone}); after that nothing more is sent`,
    p.kind === 'open-data'
      ? 'Open data: each release is a whole-home aggregate over 7 days, noised, unsigned, with a fresh random id and no household id, so releases cannot be linked to each other or to this home'
      : p.secret_env || p.secret_file ? `Signed with the key in ${p.secret_env ? `environment variable ${p.secret_env}` : `file ${p.secret_file}`}` : 'Sends no summaries',
    '',
    ...(e.rules.length > 0 ? ['What leaves the house, per window:', ...e.rules.map(describeRule), ''] : []),
    ...(p.disclose_on_acceptance ? [`When you accept one of ${p.vendor}'s offers (sluice offers accept), and only then: ${p.disclose_on_acceptance.join(', ')}, once, to ${p.vendor} alone`, ''] : []),
    ...describeDefaults(e),
    ...describeOverlaps(e, others),
    '',
    'Never sent: raw readings, device ids or names, reading times, sample counts (unless a rule asks for "count").',
    'Each summary carries a pseudonymous household id that differs for every vendor.',
    `Version: ${e.hash}`,
  ];
  return lines.join('\n');
}

export function stateText(s: Pick<PolicyStatus, 'state' | 'inForce'>): string {
  switch (s.state) {
    case 'approved':
      return s.inForce ? 'approved' : 'approved — nothing is sent until every member it concerns approves';
    case 'changed':
      return 'changed — awaiting approval (the approved version stays in force)';
    case 'invalid':
      return s.inForce ? 'invalid — fix the file (the approved version stays in force)' : 'invalid — fix the file';
    case 'unapproved':
      return 'not approved — nothing is sent';
    case 'revoked':
      return 'revoked — nothing is sent';
    case 'expired':
      return 'expired — nothing is sent';
  }
}

/** Whether this version's household defaults let the owners alone decide shared spaces. */
export function ownerDecides(e: EffectivePolicy | null | undefined): boolean {
  return (e?.defaults as Partial<EffectivePolicy['defaults']> | undefined)?.consent?.shared_spaces === 'owner-decides';
}

/** Which household defaults (policies/defaults.yaml) this version was resolved with. */
export function describeDefaults(e: EffectivePolicy): string[] {
  const d = e.defaults ?? BUILTIN_DEFAULTS;
  const rounding = Object.entries(d.round).map(([unit, step]) => `${step} ${unit}`);
  const hb = (d.privacy ?? BUILTIN_DEFAULTS.privacy)?.household_budget;
  return [
    `Household defaults (${DEFAULTS_FILE}): windows of at least ${d.min_window}; at least ${d.min_samples} readings per window; rounding at least ${rounding.join(', ') || 'as the profiles'}; never shared through a kind: ${d.never_shared.join(', ') || 'nothing'}; simulated devices only when named by id${hb ? `; noised policies together spend at most ε ${hb.epsilon} per ${hb.per} (household privacy budget)` : ''}.`,
    ...(d.min_coverage !== undefined ? [`Under a no-share privacy pause, an item is sent only when at least ${Math.round(d.min_coverage * 100)}% of its window is left (min_coverage).`] : []),
    ...(ownerDecides(e) ? [`Shared spaces: the owners decide alone, not every adult (${DEFAULTS_FILE} consent.shared_spaces: owner-decides).`] : []),
  ];
}

/**
 * Where another vendor receives the same statistic of the same series (device, metric) over
 * the same window size: two vendors could then pool or cross-check what they get.
 */
export function describeOverlaps(e: EffectivePolicy, others: readonly EffectivePolicy[]): string[] {
  const keys = (p: EffectivePolicy) => {
    const out = new Map<string, string>();
    for (const r of p.rules) {
      const w = settingsOf(r).window;
      for (const d of r.devices) for (const m of r.rule.metrics) for (const st of r.rule.stats) out.set(`${d}\n${m}\n${st}\n${w}`, `${WINDOW_ADJECTIVES[w]} ${st} of ${d} ${m}`);
    }
    return out;
  };
  const mine = keys(e);
  const lines: string[] = [];
  for (const o of others) {
    // The same vendor under two policies links nothing it does not already hold.
    if (o.name === e.name || o.policy.vendor === e.policy.vendor) continue;
    const shared = [...keys(o).keys()].filter((k) => mine.has(k)).map((k) => mine.get(k)!).sort();
    for (const what of shared) lines.push(`${e.policy.vendor} and ${o.policy.vendor} both receive the ${what}: they can link their views through the values`);
  }
  return lines;
}

/** What differs between the approved version and the policy as it is now, one line per change. */
export function describeChanges(before: EffectivePolicy | null, after: EffectivePolicy): string[] {
  if (!before) return ['first approval of this policy'];
  if (before.hash === after.hash) return [];
  const out: string[] = [];
  const oldLines = before.text.split(/\r?\n/);
  const newLines = after.text.split(/\r?\n/);
  const oldSet = new Set(oldLines);
  const newSet = new Set(newLines);
  for (const l of oldLines) if (!newSet.has(l) && l.trim() !== '') out.push(`- file: ${l}`);
  for (const l of newLines) if (!oldSet.has(l) && l.trim() !== '') out.push(`+ file: ${l}`);
  const db = before.defaults ?? BUILTIN_DEFAULTS;
  const da = after.defaults ?? BUILTIN_DEFAULTS;
  // Optional keys (min_coverage, consent) may be on one side only: compare the union, "unset" for absent.
  const shown = (v: unknown) => (v === undefined ? 'unset' : canonicalJson(v));
  for (const key of [...new Set([...Object.keys(db), ...Object.keys(da)])] as Array<keyof typeof da>) {
    if (shown(db[key]) !== shown(da[key])) out.push(`~ household defaults: ${key} ${shown(db[key])} → ${shown(da[key])}`);
  }
  const rules = Math.max(before.rules.length, after.rules.length);
  for (let i = 0; i < rules; i++) {
    const a = before.rules[i];
    const b = after.rules[i];
    const was = new Set(a?.devices ?? []);
    const now = new Set(b?.devices ?? []);
    for (const d of now) if (!was.has(d)) out.push(`+ rule ${i + 1}: device ${d} would now be included`);
    for (const d of was) if (!now.has(d)) out.push(`- rule ${i + 1}: device ${d} would no longer be included`);
    for (const [profile, metrics] of Object.entries(b?.profiles ?? {})) {
      for (const [metric, spec] of Object.entries(metrics)) {
        const before = a ? ownValue(a.profiles, profile) : undefined;
        const old = before ? ownValue(before, metric) : undefined;
        if (old && JSON.stringify(old) !== JSON.stringify(spec)) out.push(`~ rule ${i + 1}: profile ${profile} changed how it describes ${metric} (unit, range or resolution)`);
      }
    }
  }
  return out;
}

function safeNextRuns(cron: string, tz: string, now: number): string[] {
  try {
    return nextRuns(cron, tz, now);
  } catch {
    return ['(invalid schedule)'];
  }
}
