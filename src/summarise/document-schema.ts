import { z } from 'zod';

const stats = z
  .object({
    mean: z.number().optional(),
    min: z.number().optional(),
    max: z.number().optional(),
    count: z.number().int().nonnegative().optional(),
    increase: z.number().optional(),
  })
  .strict();

/** The summary document as a vendor receives it; docs/schemas/summary.json is generated from this. */
export const summaryDocumentSchema = z
  .object({
    format: z.literal('sluice-summary/1').describe('Format and version of this document; new fields may be added within a version, never removed or renamed.'),
    id: z.string().regex(/^[0-9a-f]{32}$/).describe('Deterministic id of (policy version, window); equals the Idempotency-Key header.'),
    policy: z.string().describe('Name of the household policy this summary was sent under.'),
    version: z.string().regex(/^[0-9a-f]{64}$/).describe('Hash of the approved policy version (file, devices, metrics).'),
    vendor: z.string().describe('The vendor name as written in the policy.'),
    purpose: z.string().describe('The purpose the household agreed to.'),
    window: z
      .object({
        start: z.string().describe('ISO 8601 with the household offset; inclusive.'),
        end: z.string().describe('ISO 8601 with the household offset; exclusive.'),
      })
      .strict(),
    household: z.string().regex(/^[0-9a-f]{32}$/).describe('Pseudonymous household id; stable for this vendor, different for every other vendor.'),
    items: z
      .array(
        z
          .object({
            rule: z.number().int().min(1).describe('Position of the share rule in the policy.'),
            metric: z.string(),
            unit: z.string().nullable(),
            window: z.enum(['1h', '1d', '7d']),
            stats: stats.describe('Only the statistics the policy lists; items with too few readings are left out.'),
          })
          .strict(),
      )
      .describe('Summaries over all devices a rule selects; no device ids, reading times or sample counts unless the policy asks for count.'),
    ledger_head: z.string().regex(/^[0-9a-f]{64}$/).describe("Hash of the household ledger's newest row when this summary was made."),
  })
  .strict();

export function summaryJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(summaryDocumentSchema) as Record<string, unknown>;
  return { ...schema, $id: 'https://sluice.invalid/schemas/summary.json', title: 'Sluice summary document' };
}
