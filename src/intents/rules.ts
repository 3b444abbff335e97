import { existsSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { z } from 'zod';
import { loadYamlFile, vendorEndpoint } from '../config/index.js';
import { SluiceError, isSluiceError, tryParseDuration } from '../core/index.js';


const duration = z.string().transform((text, ctx) => {
  const ms = tryParseDuration(text);
  if (ms === undefined || ms <= 0) {
    ctx.addIssue({ code: 'custom', message: `expected a duration such as 30s, 3d, 30d, got "${text}"` });
    return z.NEVER;
  }
  return ms;
});

const endpoint = vendorEndpoint;

/** Categories whose very request says something about health, children, beliefs or money: off unless opted in. */
export const SENSITIVE_CATEGORIES = ['health', 'medical', 'pharmacy', 'baby', 'adult', 'religion', 'finance', 'insurance'] as const;

export function isSensitiveCategory(category: string): boolean {
  const head = category.split(/[./:]/, 1)[0]!.toLowerCase();
  return (SENSITIVE_CATEGORIES as readonly string[]).includes(head);
}

const trigger = z
  .object({
    device: z.object({ kind: z.string().regex(/^[a-z][a-z0-9_-]*$/) }).strict(),
    metric: z.string().min(1),
    component: z.string().min(1).optional(),
    /** Fires when the latest value is below this number (remaining life, battery). */
    below: z.number().optional(),
    /** Fires when the latest value is above this number (a fault code other than 0). */
    above: z.number().optional(),
    /** Fires when the latest value equals this (a boolean alarm, an enum state). */
    equals: z.union([z.boolean(), z.string(), z.number()]).optional(),
    /** Fires each time a cumulative counter has grown by this much since the last intent (or since first seen). */
    every: z.number().positive().optional(),
  })
  .strict()
  .superRefine((t, ctx) => {
    const given = [t.below, t.above, t.equals, t.every].filter((v) => v !== undefined).length;
    if (given !== 1) ctx.addIssue({ code: 'custom', message: 'give exactly one of below, above, equals, every' });
  });

const vendor = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, { message: 'expected a vendor name of lower-case letters, digits, "-" and "_"' }),
    /** Base URL: Sluice POSTs {endpoint}/intents, GETs {endpoint}/offers?reply=…, POSTs {endpoint}/acceptances. */
    endpoint,
    /** The vendor's Ed25519 public key (base64 SPKI DER); an offer not signed by it is refused. */
    public_key: z.string().regex(/^[A-Za-z0-9+/]+=*$/, { message: 'expected a base64 Ed25519 public key (SPKI DER)' }),
  })
  .strict();

/** intents/*.yaml: one trigger and the request for offers it drafts. */
export const intentRuleSchema = z
  .object({
    version: z.literal(1),
    description: z.string().optional(),
    /** A shipped example stays off until the household has chosen its vendors. */
    enabled: z.boolean().default(true),
    trigger,
    request: z
      .object({
        /** A category (`household.water-filter`) or a product identifier (`gtin:…`); nothing about other devices. */
        what: z.string().min(1).max(120),
        product: z.string().min(1).max(120).optional(),
        quantity: z.number().int().positive().max(1000).default(1),
        /** Need-by, counted from the moment the rule fires. */
        need_within: duration.prefault('14d'),
        budget: z.object({ max: z.number().positive(), currency: z.string().regex(/^[A-Z]{3}$/) }).strict().optional(),
        /** How long vendors may answer, counted from approval. */
        offers_for: duration.prefault('3d'),
      })
      .strict(),
    vendors: z.array(vendor).min(1),
    /** Repeated intents are themselves a profile: at most one per this period. */
    rate_limit: duration.prefault('30d'),
    sensitive_opt_in: z.boolean().default(false),
  })
  .strict()
  .superRefine((r, ctx) => {
    if (isSensitiveCategory(r.request.what) && !r.sensitive_opt_in) {
      ctx.addIssue({ code: 'custom', path: ['request', 'what'], message: `"${r.request.what}" is a sensitive category; it stays off unless the rule sets sensitive_opt_in: true` });
    }
    const names = r.vendors.map((v) => v.name);
    names.forEach((n, i) => {
      if (names.indexOf(n) !== i) ctx.addIssue({ code: 'custom', path: ['vendors', i, 'name'], message: `vendor "${n}" is listed twice` });
    });
  });

export type IntentRuleFile = z.output<typeof intentRuleSchema>;

/** A loaded rule: its file's name is its name, and it remembers where it came from. */
export interface IntentRule extends IntentRuleFile {
  name: string;
  file: string;
  line: number;
}

export interface LoadedRules {
  rules: IntentRule[];
  errors: SluiceError[];
}

const RULE_NAME = /^[a-z0-9][a-z0-9_-]*$/;

/** Reads every `*.yaml` in the rules folder; each bad file is one error with all its problems, the others load. */
export function loadIntentRules(dir: string): LoadedRules {
  if (!existsSync(dir)) return { rules: [], errors: [] };
  const rules: IntentRule[] = [];
  const errors: SluiceError[] = [];
  for (const entry of readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort()) {
    const name = basename(entry, '.yaml');
    const file = join(dir, entry);
    if (!RULE_NAME.test(name)) {
      errors.push(new SluiceError('SLUICE_ERR_INTENT_RULE_INVALID', `${file}: "${name}" is not a rule name (lower-case letters, digits, "-" and "_")`, { file }));
      continue;
    }
    try {
      const loaded = loadYamlFile(file, intentRuleSchema, 'SLUICE_ERR_INTENT_RULE_INVALID');
      if (loaded.value.enabled) rules.push(Object.freeze({ ...loaded.value, name, file: loaded.file, line: loaded.positionOf(['trigger']).line }));
    } catch (err) {
      if (isSluiceError(err)) errors.push(err);
      else throw err;
    }
  }
  return { rules, errors };
}
