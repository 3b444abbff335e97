import { z } from 'zod';
import { SUMMARY_FORMAT } from './summarise.js';

const stats = z
  .object({
    mean: z.number().optional().describe('Time-weighted mean: each reading holds until the next one, the window end or 2 h.'),
    min: z.number().optional(),
    max: z.number().optional(),
    sum: z.number().optional(),
    count: z.number().int().nonnegative().optional(),
    last: z.number().optional().describe('The newest reading in the window, rounded.'),
    increase: z.number().optional().describe('Counters: the amount added within the window; a drop is a reset.'),
    p50: z.number().optional().describe('Percentiles: linear interpolation between closest ranks (Hyndman–Fan type 7) over the readings.'),
    p75: z.number().optional(),
    p90: z.number().optional(),
    p95: z.number().optional(),
    p99: z.number().optional(),
    histogram: z
      .object({
        edges: z.array(z.number()).describe('The policy\'s ascending bucket edges.'),
        counts: z.array(z.number().int().nonnegative()).describe('edges.length + 1 counts: below edges[0], [edges[i], edges[i+1]), at or above the last edge.'),
      })
      .strict()
      .optional(),
    time_in_state: z.record(z.string(), z.number().nonnegative()).optional().describe('Booleans and enums: hours in each state ("true"/"false" for booleans), over all selected devices.'),
  })
  .strict();

const keyedHex = (n: number, what: string) => z.string().regex(new RegExp(`^[0-9a-f]{${n}}$`)).describe(what);

/** The summary document as a vendor receives it; docs/schemas/summary.json is generated from this. */
export const summaryDocumentSchema = z
  .object({
    format: z.literal(SUMMARY_FORMAT).describe('Format and version of this document; new fields may be added within a version, never removed or renamed.'),
    id: keyedHex(32, 'Id of this (policy version, window), keyed for this vendor; equals the Idempotency-Key header.'),
    policy: z.string().describe('Name of the household policy this summary was sent under.'),
    version: keyedHex(64, 'The approved policy version as this vendor sees it: keyed for this vendor, changes whenever the approved version changes, reveals nothing of it.'),
    vendor: z.string().describe('The vendor name as written in the policy.'),
    purpose: z.string().describe('The purpose the household agreed to.'),
    window: z
      .object({
        start: z.string().describe('ISO 8601 with the household offset; inclusive.'),
        end: z.string().describe('ISO 8601 with the household offset; exclusive.'),
      })
      .strict(),
    household: keyedHex(32, 'Pseudonymous household id; stable for this vendor, unrelated to what any other vendor receives.'),
    items: z
      .array(
        z
          .object({
            rule: z.number().int().min(1).describe('Position of the share rule in the policy.'),
            metric: z.string(),
            unit: z.string().nullable(),
            window: z.enum(['1h', '1d', '7d']),
            stats: stats.describe('Only the statistics the policy lists; items with too few readings are left out.'),
            rollup: z
              .object({
                percentile_relative_error: z.number().positive().describe('p50..p99 of this item are within this relative error of the exact value (a quantile sketch, DDSketch); the other statistics are exact over the hourly rollups.'),
                left_out: z.array(z.string()).optional().describe('Statistics the policy lists that need raw readings (histogram) and are therefore not in stats.'),
              })
              .strict()
              .optional()
              .describe('Present only when the window reaches past the household\'s raw retention, so the item was computed from hourly rollups instead of raw readings.'),
            coverage: z
              .number()
              .min(0)
              .max(1)
              .optional()
              .describe('Only under a household privacy pause: the share of the window (over the rule\'s devices, rounded down to 0.01) the statistics cover; readings in the paused part were left out.'),
            noise: z
              .object({
                mechanism: z.literal('discrete-laplace').describe('Integer noise P(Z = k) ∝ exp(-ε|k|/Δ), added to the clamped sum in steps of the metric\'s resolution.'),
                epsilon: z.number().positive().describe('ε of each statistic of this item; mean spends half on its sum and half on its count.'),
                clamp: z.tuple([z.number(), z.number()]).describe('Bounds of one protected unit\'s contribution, in the metric\'s unit (for mean: of the unit\'s mean reading).'),
                unit: z.string().describe('The protected unit: one span of the household, e.g. 1h; noise hides any one such span.'),
                sensitivity: z.record(z.string(), z.number().positive()).describe('Statistic → sensitivity Δ of its noisy sum in the metric\'s unit (count: readings per unit). The noise scale is Δ/ε.'),
              })
              .strict()
              .optional()
              .describe('Present when the household added differential-privacy noise to this item: its stats are noised (then rounded) and must be read as estimates.'),
          })
          .strict(),
      )
      .min(1)
      .describe('Summaries over all devices a rule selects; no device ids, reading times or sample counts unless the policy asks for count. Never empty: a window with nothing to send sends nothing.'),
  })
  .strict();

export function summaryJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(summaryDocumentSchema) as Record<string, unknown>;
  return { ...schema, $id: 'https://sluice.invalid/schemas/summary.json', title: 'Sluice summary document' };
}
