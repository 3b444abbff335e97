import { tryParseDuration } from '../core/index.js';
import type { EffectivePolicy } from '../policy/index.js';
import { DEFAULT_HOUSEHOLD_BUDGET, type BudgetLimit, type BudgetLimits } from './budget.js';
import type { PrivacySpec } from './release.js';

const HOUR = 3_600_000;

/** Each rule's privacy spec (rule index → spec), the clamp defaulting to the widest min–max of its metrics' profiles. */
export function privacySpecsOf(policy: EffectivePolicy): Map<number, PrivacySpec> {
  const out = new Map<number, PrivacySpec>();
  for (const r of policy.rules) {
    const priv = r.rule.privacy;
    if (!priv) continue;
    let clamp = priv.clamp;
    if (!clamp) {
      const specs = Object.values(r.profiles).flatMap((p) => r.rule.metrics.map((m) => (Object.hasOwn(p, m) ? p[m] : undefined)));
      const lows = specs.map((x) => (x?.type === 'number' ? x.min : undefined)).filter((x): x is number => x !== undefined);
      const highs = specs.map((x) => (x?.type === 'number' ? x.max : undefined)).filter((x): x is number => x !== undefined);
      clamp = [lows.length > 0 ? Math.min(...lows) : 0, highs.length > 0 ? Math.max(...highs) : 1];
    }
    out.set(r.index, { epsilon: priv.epsilon, clamp, unitMs: tryParseDuration(priv.unit ?? '1h') ?? HOUR });
  }
  return out;
}

function limitOf(b: { epsilon: number; per: string } | undefined, fallback: BudgetLimit): BudgetLimit {
  return b ? { epsilon: b.epsilon, perMs: tryParseDuration(b.per) ?? fallback.perMs } : fallback;
}

/**
 * A vendor's limit from its policy's `budget:` (the household cap when it has none) and the
 * household cap from the defaults the version was approved with (`privacy.household_budget` in
 * policies/defaults.yaml, default 2.0 per 30 days). Both are part of the approved version, so
 * raising either needs a new approval. [PRIV-DP-3]
 */
export function budgetLimitsOf(policy: EffectivePolicy): BudgetLimits {
  const household = limitOf(policy.defaults?.privacy?.household_budget, DEFAULT_HOUSEHOLD_BUDGET);
  return { vendor: limitOf(policy.policy.budget, household), household };
}

/** Budgets are kept per vendor by its name as a household would compare it (case, width and spacing do not matter), never per policy version. */
export function budgetVendor(vendor: string): string {
  return vendor.normalize('NFKC').trim().toLowerCase().replace(/\s+/g, ' ');
}

/** The coarsest resolution of a rule's metric over its selected profiles: the integer step noise is drawn in. */
export function resolutionOf(policy: EffectivePolicy, rule: number, metric: string): number {
  const r = policy.rules.find((x) => x.index === rule);
  const found = Object.values(r?.profiles ?? {})
    .map((p) => (Object.hasOwn(p, metric) ? p[metric] : undefined))
    .map((spec) => (spec?.type === 'number' ? spec.resolution : undefined))
    .filter((x): x is number => x !== undefined && x > 0);
  return found.length > 0 ? Math.max(...found) : 0.001;
}

/** A protected unit in the policy language's words (3600000 → "1h"). */
export function unitText(ms: number): string {
  if (ms % 86_400_000 === 0) return `${ms / 86_400_000}d`;
  if (ms % HOUR === 0) return `${ms / HOUR}h`;
  return `${Math.round(ms / 60_000)}m`;
}
