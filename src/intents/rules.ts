import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { z } from 'zod';
import { parseYaml, vendorEndpoint } from '../config/index.js';
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
  const { rules, errors } = new IntentRuleSet(dir).current();
  return { rules, errors };
}

interface RuleFileState {
  sha: string;
  /** The rule as the file says now; null when the file is off (`enabled: false`) or does not load. */
  rule: IntentRule | null;
  error: SluiceError | null;
  /** Whether the last version that loaded was on. */
  lastGood: IntentRule | null;
}

/**
 * intents/*.yaml re-read on use, like policies/*.yaml (PolicyBook reads its files at every
 * status and keeps the last good defaults): a changed file is parsed again; a file that no
 * longer loads keeps its last good rule in force and reports every problem with file:line:col;
 * a removed file's rule is gone; a new file's rule fires from then on. No watcher, no restart.
 */
export class IntentRuleSet {
  private readonly files = new Map<string, RuleFileState>();

  constructor(private readonly dir: string) {}

  /** The rules in force now and the errors of files that do not load (each naming what stays in force). */
  current(): LoadedRules & { changed: string[] } {
    const changed: string[] = [];
    const seen = new Set<string>();
    const entries = existsSync(this.dir) ? readdirSync(this.dir).filter((f) => f.endsWith('.yaml')).sort() : [];
    for (const entry of entries) {
      const file = join(this.dir, entry);
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch {
        continue; // removed between the listing and the read: gone, as below
      }
      seen.add(file);
      const sha = createHash('sha256').update(text).digest('hex');
      const before = this.files.get(file);
      if (before?.sha === sha) continue;
      changed.push(entry);
      this.files.set(file, this.parse(file, entry, text, sha, before?.lastGood ?? null, before !== undefined));
    }
    for (const file of [...this.files.keys()]) {
      if (seen.has(file)) continue;
      this.files.delete(file);
      changed.push(basename(file));
    }
    const rules: IntentRule[] = [];
    const errors: SluiceError[] = [];
    for (const state of this.files.values()) {
      if (state.error) errors.push(state.error);
      const inForce = state.error ? state.lastGood : state.rule;
      if (inForce) rules.push(inForce);
    }
    rules.sort((a, b) => a.name.localeCompare(b.name));
    return { rules, errors, changed };
  }

  private parse(file: string, entry: string, text: string, sha: string, lastGood: IntentRule | null, known: boolean): RuleFileState {
    const name = basename(entry, '.yaml');
    if (!RULE_NAME.test(name)) {
      return { sha, rule: null, lastGood: null, error: new SluiceError('SLUICE_ERR_INTENT_RULE_INVALID', `${file}: "${name}" is not a rule name (lower-case letters, digits, "-" and "_")`, { file }) };
    }
    try {
      const loaded = parseYaml(text, file, intentRuleSchema, 'SLUICE_ERR_INTENT_RULE_INVALID');
      const rule = loaded.value.enabled ? Object.freeze({ ...loaded.value, name, file: loaded.file, line: loaded.positionOf(['trigger']).line }) : null;
      return { sha, rule, error: null, lastGood: rule };
    } catch (err) {
      if (!isSluiceError(err)) throw err;
      // A broken edit of a rule that was in force keeps the last good version, and says so.
      const kept = known && lastGood ? `; the last good version of ${name} stays in force` : '';
      return { sha, rule: null, lastGood, error: kept ? new SluiceError(err.code, `${err.message}\n${entry} does not load${kept}`, err.details) : err };
    }
  }
}
