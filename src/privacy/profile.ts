import type { EffectivePolicy } from '../policy/index.js';
import type { MetricClass, ReleaseProfile, VendorLink } from './risk.js';

const HOUR = 3_600_000;
const WINDOW_MS: Record<string, number> = { '1h': HOUR, '1d': 24 * HOUR, '7d': 7 * 24 * HOUR };

const PRESENCE_KINDS = new Set(['motion_sensor', 'contact_sensor', 'door_lock', 'presence_sensor', 'occupancy_sensor']);
const PRESENCE_METRICS = /^(motion|occupancy|presence|contact|open|door|lock|locked|unlocked|person|people)/;
const CONSUMPTION_METRICS = /^(power|energy|apower|aenergy|water|gas|flow|current|voltage)/;
const SCHEDULE_METRICS = /^(setpoint|schedule|mode|heating|valve|position)/;
const CLIMATE_METRICS = /^(temperature|humidity|co2|pressure|illuminance)/;
const HEALTH_METRICS = /^(battery|rssi|linkquality|filter|water_tank|descale|error|fault|uptime|firmware|brews)/;

/** The class of a metric for the risk score, from the profile kind and the metric name. */
export function classifyMetric(kind: string | null, metric: string): MetricClass {
  if ((kind !== null && PRESENCE_KINDS.has(kind)) || PRESENCE_METRICS.test(metric)) return 'presence';
  if (HEALTH_METRICS.test(metric)) return 'health';
  if (CONSUMPTION_METRICS.test(metric)) return 'consumption';
  if (SCHEDULE_METRICS.test(metric)) return 'heating_schedule';
  if (CLIMATE_METRICS.test(metric)) return 'climate';
  return 'other';
}

export interface ProfileOptions {
  /** When the score is taken (ms); history runs from here to the policy's expiry. */
  now: number;
  /** ε per window of each rule that has `privacy:` (rule index → ε); until wiring, supplied by the caller. */
  epsilonByRule?: ReadonlyMap<number, number>;
  /** The vendor can tie the data to an account (the policy names an `account:`). */
  accountLinked?: boolean;
  /** Profile kinds by profile name, to classify presence devices. */
  kindOf?: (profile: string) => string | null;
}

/** What an effective policy releases, as the risk score sees it. */
export function releaseProfileOf(policy: EffectivePolicy, options: ProfileOptions): ReleaseProfile {
  const classes = new Set<MetricClass>();
  const metrics = new Set<string>();
  const series: string[] = [];
  let granularityMs = Number.POSITIVE_INFINITY;
  let perDevice = false;
  let rounded = true;
  let dpEpsilon: number | null = 0;
  for (const r of policy.rules) {
    granularityMs = Math.min(granularityMs, WINDOW_MS[r.rule.window] ?? HOUR);
    // One selected device is released on its own: pooling over one device pools nothing.
    if (r.devices.length === 1) perDevice = true;
    const pool = r.devices.join('+') || '(none)';
    for (const metric of r.rule.metrics) {
      metrics.add(metric);
      const profiles = Object.keys(r.profiles);
      if (profiles.length === 0) classes.add(classifyMetric(null, metric));
      for (const p of profiles) classes.add(classifyMetric(options.kindOf?.(p) ?? null, metric));
      for (const stat of r.rule.stats) series.push(`${pool}/${metric}/${stat}`);
      const resolutions = Object.values(r.profiles)
        .map((p) => (Object.hasOwn(p, metric) ? p[metric] : undefined))
        .map((spec) => (spec?.type === 'number' ? spec.resolution : undefined))
        .filter((x): x is number => x !== undefined);
      const finest = resolutions.length > 0 ? Math.max(...resolutions) : 0;
      if (r.rule.round === undefined || r.rule.round <= finest) rounded = false;
    }
    const eps = options.epsilonByRule?.get(r.index);
    dpEpsilon = eps === undefined || dpEpsilon === null ? null : Math.max(dpEpsilon, eps);
  }
  if (policy.rules.length === 0) dpEpsilon = null;
  const expiry = Date.parse(`${policy.policy.expires}T00:00:00Z`) + 24 * HOUR;
  return {
    vendor: policy.policy.vendor,
    granularityMs: Number.isFinite(granularityMs) ? granularityMs : HOUR,
    classes: [...classes].sort(),
    metrics: [...metrics].sort(),
    series: series.sort(),
    perDevice,
    historyDays: Math.max(0, (expiry - options.now) / (24 * HOUR)),
    // Today every vendor sees one pseudonym for the household for the life of the policy.
    stablePseudonym: true,
    accountLinked: options.accountLinked ?? false,
    rounded,
    dpEpsilon,
  };
}

const sameName = (a: string, b: string) => a.normalize('NFKC').trim().toLowerCase().replace(/\s+/g, ' ') === b.normalize('NFKC').trim().toLowerCase().replace(/\s+/g, ' ');

/**
 * The links the household declared between vendors: policies naming the same `account` share an
 * identity; a vendor listed in another's `partners` may receive what that one holds. Only vendors
 * that have a policy here are linked (a partner with no policy receives nothing from this home).
 */
export function declaredLinks(policies: readonly EffectivePolicy[]): VendorLink[] {
  const links: VendorLink[] = [];
  const seen = new Set<string>();
  const add = (a: string, b: string, why: VendorLink['why']) => {
    const key = `${why}\u0000${[a, b].sort().join('\u0000')}`;
    if (a === b || seen.has(key)) return;
    seen.add(key);
    links.push({ vendors: [a, b], why });
  };
  for (const p of policies) {
    for (const q of policies) {
      if (p === q || sameName(p.policy.vendor, q.policy.vendor)) continue;
      if (p.policy.account !== undefined && q.policy.account !== undefined && sameName(p.policy.account, q.policy.account)) add(p.policy.vendor, q.policy.vendor, 'shared_identity');
      if ((p.policy.partners ?? []).some((name) => sameName(name, q.policy.vendor))) add(p.policy.vendor, q.policy.vendor, 'partner');
    }
  }
  return links;
}
