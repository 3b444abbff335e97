import { CronExpressionParser } from 'cron-parser';
import { z } from 'zod';
import { vendorEndpoint } from '../config/index.js';
import { refusalReason } from './noise.js';

/** What a policy is for: summaries to a vendor, or noisy aggregates to an open-data collector. */
export const POLICY_KINDS = ['vendor', 'open-data'] as const;
export type PolicyKind = (typeof POLICY_KINDS)[number];

/** What an acceptance of an offer may tell the vendor, each from the household's settings. */
export const ACCEPTANCE_FIELDS = ['deliver_to'] as const;
export type AcceptanceField = (typeof ACCEPTANCE_FIELDS)[number];

/** Window lengths a share rule may summarise over; each is aligned to the household's calendar. */
export const WINDOWS = ['1h', '1d', '7d'] as const;
export type WindowSize = (typeof WINDOWS)[number];

/** Percentiles a rule may ask for; exact (linear interpolation, Hyndman–Fan type 7) on raw readings. */
export const PERCENTILES = ['p50', 'p75', 'p90', 'p95', 'p99'] as const;
export type Percentile = (typeof PERCENTILES)[number];

/**
 * Statistics of version 1. `increase` is for counters (energy): the amount added within the
 * window; `histogram` needs `buckets`; `time_in_state` is for boolean and enum metrics.
 */
export const STATS = ['mean', 'min', 'max', 'sum', 'count', 'last', 'increase', ...PERCENTILES, 'histogram', 'time_in_state'] as const;
export type Stat = (typeof STATS)[number];
/** Statistics that read a number; time_in_state reads states and count reads anything. */
export const NUMBER_STATS: ReadonlySet<Stat> = new Set<Stat>(['mean', 'min', 'max', 'sum', 'last', 'increase', ...PERCENTILES, 'histogram']);

/**
 * IEEE 7012 terms the household may proffer by itself: service delivery only, with data
 * portability (the default) or without. Looser roster terms (analytics, tracking, profiling)
 * are agreed only as a vendor's counter-offer, by a member, never written into a file. (src/terms)
 */
export const PROFFERABLE_TERMS = ['SD-BASE-DP', 'SD-BASE'] as const;
export type ProfferableTerm = (typeof PROFFERABLE_TERMS)[number];

const name = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'expected lower-case letters, digits, "-" and "_"');


const endpoint = vendorEndpoint;

const cron = z.string().superRefine((text, ctx) => {
  const fields = text.trim().split(/\s+/).length;
  if (fields < 5 || fields > 6) {
    ctx.addIssue({ code: 'custom', message: `expected a cron expression of 5 fields (minute hour day month weekday), got "${text}"` });
    return;
  }
  try {
    CronExpressionParser.parse(text, { tz: 'UTC' });
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `invalid cron expression "${text}": ${(err as Error).message}` });
  }
});

const isoDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'expected a date such as 2027-06-30')
  .refine((d) => !Number.isNaN(Date.parse(`${d}T00:00:00Z`)) && new Date(`${d}T00:00:00Z`).toISOString().startsWith(d), { message: 'expected a real calendar date' });

const deviceSelector = z
  .object({
    /** One device id or a list of them. */
    id: z.union([name, z.array(name).min(1)]).optional(),
    /** Every registered device whose profile has this `kind`, now and when re-approved. */
    kind: name.optional(),
  })
  .strict()
  .refine((s) => (s.id === undefined) !== (s.kind === undefined), { message: 'select devices by exactly one of id (one or a list) or kind' });

/** A rule's differential privacy: ε per window release, the clamp of one protected unit, the unit (docs/privacy.md). */
const rulePrivacy = z
  .object({
    epsilon: z.number().positive().max(10).describe('ε of one window of this rule (split over its metrics and statistics); smaller hides more.'),
    clamp: z
      .tuple([z.number(), z.number()])
      .optional()
      .refine((c) => c === undefined || c[0] < c[1], { message: 'clamp is [low, high] with low below high' })
      .describe("Bounds of one protected unit's contribution, in the metric's unit; default the profile's min and max."),
    unit: z.string().regex(/^[1-9][0-9]*(m|h|d)$/, 'expected a duration such as 1h or 1d').optional().describe('What one protected event is: one unit of time of the household (default 1h).'),
  })
  .strict();

const shareRule = z
  .object({
    /** Which devices: by id (one or a list) or by the `kind` of their profile. */
    devices: deviceSelector,
    metrics: z.array(z.string().regex(/^[a-z][a-z0-9_]*$/, 'metric names are snake_case')).min(1),
    window: z.enum(WINDOWS).describe('Summary window of this rule: 1h, 1d (local midnight) or 7d (Monday to Monday); never below the household minimum (policies/defaults.yaml).'),
    stats: z
      .array(z.enum(STATS))
      .min(1)
      .describe('Statistics sent per metric: mean (time-weighted), min, max, sum, count, last, increase (counters), p50..p99, histogram (needs buckets), time_in_state (booleans, enums).'),
    /** Values are rounded to a multiple of this (0.5 → 21.5, 22.0); never finer than the household default for the unit. */
    round: z.number().positive().optional().describe('Round values to a multiple of this, e.g. 0.5; the household default for the unit applies when absent and is a floor.'),
    /** An item built from fewer readings is left out of the summary; the household floor applies when lower or absent. */
    min_samples: z.number().int().min(1).optional().describe('Leave an item out when its window has fewer readings than this (never fewer than the household floor, default 3).'),
    /** Ascending bucket edges for `histogram`: counts of readings below the first, between edges, and at or above the last. */
    buckets: z.array(z.number()).min(1).max(50).optional().describe('Ascending histogram bucket edges, e.g. [18, 20, 22]; needed by the histogram statistic.'),
    /** Noise on this rule's statistics, calibrated to hide any one protected unit (docs/privacy.md). */
    privacy: rulePrivacy.optional().describe('Differential privacy for this rule: { epsilon, clamp?, unit? }; only sum, increase, count and mean can be noised.'),
  })
  .strict()
  .superRefine((r, ctx) => {
    // [PRIV-DP-1] order statistics are never released with noise.
    if (r.privacy) for (const stat of r.stats) {
      const why = refusalReason(stat);
      if (why !== null) ctx.addIssue({ code: 'custom', path: ['stats'], message: `${why} (this rule has privacy:)` });
    }
    if (r.stats.includes('histogram') && r.buckets === undefined) ctx.addIssue({ code: 'custom', path: ['buckets'], message: 'the histogram statistic needs buckets: [edge, ...] (ascending)' });
    if (r.buckets !== undefined && !r.stats.includes('histogram')) ctx.addIssue({ code: 'custom', path: ['buckets'], message: 'buckets is only used by the histogram statistic; add histogram to stats or remove buckets' });
    if (r.buckets && r.buckets.some((b, i) => i > 0 && b <= r.buckets![i - 1]!)) ctx.addIssue({ code: 'custom', path: ['buckets'], message: 'bucket edges must be strictly ascending' });
    if (new Set(r.stats).size !== r.stats.length) ctx.addIssue({ code: 'custom', path: ['stats'], message: 'a statistic is listed twice' });
  });

/**
 * A sharing policy, version 1: one vendor relationship per file. New versions add keys; a
 * file always says which version it speaks, and unknown keys are refused as typos.
 */
const policyBase = z
  .object({
    version: z.literal(1).describe('Version of the policy language this file speaks.'),
    vendor: z.string().min(1).max(100).describe('Who receives the summaries; also keys the household pseudonym this vendor sees.'),
    endpoint: endpoint.describe('Where summaries are POSTed: https:// (http:// only for 127.0.0.1 or localhost).'),
    deletion_endpoint: endpoint.optional().describe('Where erasure requests (sluice.erasure/v1) are POSTed on revocation, expiry or veto: https:// (http:// only for 127.0.0.1 or localhost).'),
    purpose: z.string().min(1).max(500).describe('Why the household shares this, in its own words; sent with every summary.'),
    /** Last day the policy is in force, in the household's timezone. */
    expires: isoDate.describe('Last day the policy is in force (YYYY-MM-DD, household timezone).'),
    /** When summaries are produced (cron, household timezone). */
    schedule: cron.describe('When summaries are produced: a cron expression in the household timezone, e.g. "0 3 * * *".'),
    /** The environment variable holding the HMAC key for the signature header. */
    secret_env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/).optional().describe('Environment variable holding the HMAC signing key (never the key itself).'),
    /** A file holding the HMAC key (relative to the policies directory). */
    secret_file: z.string().min(1).optional().describe('File holding the HMAC signing key, relative to the policies directory.'),
    /** Names the key in the signature header (`kid=`); defaults to a fingerprint of the key. */
    key_id: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/).optional().describe('kid in the signature header; default: a fingerprint of the key.'),
    /** The identity this vendor can tie what it receives to (e.g. the household's account with it); policies naming the same account are one coalition for the risk score. */
    account: z.string().min(1).max(100).optional().describe('The account (or other identity) this vendor ties your data to, e.g. "acme account"; vendors with the same account are scored as one combined view.'),
    /** Vendors this one names as partners (e.g. in its privacy notice): they may combine what they receive. */
    partners: z.array(z.string().min(1).max(100)).max(50).optional().describe('Vendors this vendor names as partners it may share data with; scored together with it as one combined view.'),
    /** `vendor` (the default): summaries to one vendor; `open-data`: noisy whole-home aggregates to a public collector, with no household id (docs/open-data.md). */
    kind: z.enum(POLICY_KINDS).default('vendor').describe('vendor (summaries to one vendor, the default) or open-data (noisy whole-home aggregates over 7-day windows to a public collector, with no household id).'),
    terms: z
      .object({
        proffer: z.enum(PROFFERABLE_TERMS).optional().describe('The IEEE 7012 term proffered to this vendor: SD-BASE-DP (default; policies/defaults.yaml terms.proffer) or SD-BASE.'),
        endpoint: endpoint.optional().describe("Where the proffer is POSTed; default: /.well-known/myterms.json at the origin of endpoint."),
        vendor_key: z
          .string()
          .regex(/^[A-Za-z0-9+/]+=*$/, { message: "expected the vendor's base64 Ed25519 public key (SPKI DER)" })
          .optional()
          .describe("The vendor's Ed25519 public key (base64 SPKI DER) its answers must be signed with; without it the key of its first answer is pinned."),
      })
      .strict()
      .optional()
      .describe("The household's own terms with this vendor (IEEE 7012 MyTerms): nothing is sent until the vendor accepts them."),
    share: z.array(shareRule).default([]).describe('What is shared: each rule selects devices and metrics and the statistics sent per window.'),
    /** What this vendor may be told once, when the household accepts one of its offers (`sluice offers accept`). */
    disclose_on_acceptance: z
      .array(z.enum(ACCEPTANCE_FIELDS))
      .min(1)
      .optional()
      .describe('Fields this vendor may receive once, when the household accepts one of its offers: deliver_to (household.deliver_to).'),
    /** This vendor's privacy budget: ε spent over a sliding period (docs/privacy.md). */
    budget: z
      .object({
        epsilon: z.number().positive().max(100).describe('Most ε this vendor may receive within the period.'),
        per: z.string().regex(/^[1-9][0-9]*d$/, 'expected a number of days such as 30d').describe('The sliding period, in days, e.g. 30d.'),
      })
      .strict()
      .optional()
      .describe("This vendor's privacy budget: { epsilon, per }; a release that would exceed it is withheld."),
  })
  .strict();

export const policySchema = policyBase
  .superRefine((p, ctx) => {
    const named = (p.secret_env === undefined ? 0 : 1) + (p.secret_file === undefined ? 0 : 1);
    if (p.kind === 'open-data') {
      openDataIssues(p, ctx);
      return;
    }
    if (p.share.length === 0 && p.disclose_on_acceptance === undefined) {
      ctx.addIssue({ code: 'custom', path: ['share'], message: 'a policy needs at least one share rule (or disclose_on_acceptance, for what a vendor is told when you accept its offer)' });
    }
    // Summaries are signed with the key the policy names; a policy that only covers an acceptance sends none.
    if (p.share.length > 0 ? named !== 1 : named > 1) {
      ctx.addIssue({ code: 'custom', path: ['secret_env'], message: 'name exactly one of secret_env or secret_file (where the signing key is kept; never the key itself)' });
    }
  });

/**
 * [PRIV-OPEN-2] an open-data policy is whole-home, long-window, noised and unsigned: anything
 * else would let a collector single out a device, a day, or one home across releases.
 */
function openDataIssues(p: z.output<typeof policyBase>, ctx: z.RefinementCtx): void {
  if (p.share.length === 0) ctx.addIssue({ code: 'custom', path: ['share'], message: 'an open-data policy needs at least one share rule' });
  p.share.forEach((r, i) => {
    if (r.window !== '7d') ctx.addIssue({ code: 'custom', path: ['share', i, 'window'], message: `open data is released over 7-day windows at least (7d); "${r.window}" would show single days of one home` });
    if (!r.privacy) ctx.addIssue({ code: 'custom', path: ['share', i], message: 'open data is always differentially private: add privacy: { epsilon, clamp } to this rule' });
    if (r.devices.id !== undefined) ctx.addIssue({ code: 'custom', path: ['share', i, 'devices', 'id'], message: 'open data is whole-home only: select devices by kind (all of them are pooled into one value), not by id' });
    if (r.metrics.length !== 1) ctx.addIssue({ code: 'custom', path: ['share', i, 'metrics'], message: 'an open-data rule releases one whole-home aggregate: name exactly one metric' });
  });
  const noKey = 'an open-data release is not signed with a household key: its key id would be the same in every release and link them';
  if (p.secret_env !== undefined) ctx.addIssue({ code: 'custom', path: ['secret_env'], message: noKey });
  if (p.secret_file !== undefined) ctx.addIssue({ code: 'custom', path: ['secret_file'], message: noKey });
  if (p.key_id !== undefined) ctx.addIssue({ code: 'custom', path: ['key_id'], message: noKey });
  if (p.deletion_endpoint !== undefined) ctx.addIssue({ code: 'custom', path: ['deletion_endpoint'], message: 'a collector cannot erase one home: nothing in an open-data release says which home it came from' });
  if (p.disclose_on_acceptance !== undefined) ctx.addIssue({ code: 'custom', path: ['disclose_on_acceptance'], message: 'an open-data collector makes no offers; disclose_on_acceptance is for a vendor' });
}

export type PolicyV1 = z.output<typeof policySchema>;
export type ShareRule = PolicyV1['share'][number];

/** The JSON Schema editors use to autocomplete and check policy files. */
export function policyJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(policySchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return {
    $schema: schema.$schema,
    $id: 'https://sluice.invalid/schemas/policy.json',
    title: 'Sluice sharing policy',
    description: 'policies/NAME.yaml: what one vendor may receive, as summaries only. See README "Sharing with vendors".',
    ...Object.fromEntries(Object.entries(schema).filter(([k]) => k !== '$schema')),
  };
}
