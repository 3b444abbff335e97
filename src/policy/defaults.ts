import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { parseYaml } from '../config/index.js';
import { PROFFERABLE_TERMS, WINDOWS, type WindowSize } from './schema.js';

export const DEFAULTS_FILE = 'defaults.yaml';

/** policies/defaults.yaml `consent.shared_spaces`. */
export const SHARED_SPACES_KEYS = ['every-adult', 'owner-decides'] as const;

const metricName = z.string().regex(/^[a-z][a-z0-9_]*$/, 'metric names are snake_case');

/**
 * policies/defaults.yaml: the household's floors, applied to every policy. A policy inherits
 * them and cannot go below them; they are part of every policy's approved version.
 */
export const defaultsSchema = z
  .object({
    version: z.literal(1).describe('Version of the defaults language this file speaks.'),
    min_window: z.enum(WINDOWS).default('1h').describe('Smallest window any rule may summarise over; a shorter rule window is raised to this.'),
    min_samples: z.number().int().min(1).default(3).describe('Fewest readings a window needs; with fewer the item is suppressed (nothing sent, no marker).'),
    round: z
      .record(z.string().min(1), z.number().positive())
      .default({ '°C': 0.5, W: 10, kWh: 0.1 })
      .describe('Rounding step per unit: used when a rule names none, and the finest a rule may ask for.'),
    never_shared: z
      .array(metricName)
      .default(['presence', 'motion', 'occupied', 'contact', 'open', 'door_open', 'locked', 'unlocked_by'])
      .describe('Metrics that leave only when a rule names both the metric and its devices by id (never through a kind).'),
    // Optional, with no default written into the parse: a file without them keeps every approved version's hash.
    min_coverage: z
      .number()
      .min(0)
      .max(1)
      .optional()
      .describe('Under a no-share privacy pause, the least share of a window (0–1, default 0.5) that must be left for an item to be sent; below it the item is withheld.'),
    consent: z
      .object({
        shared_spaces: z
          .enum(SHARED_SPACES_KEYS)
          .optional()
          .describe('Who approves a policy over a shared space: every adult (the default) or the owners alone (owner-decides).'),
      })
      .strict()
      .optional()
      .describe('How household members decide (docs/consent.md).'),
    // No default here: an absent key keeps every approved version's hash (the built-in term is SD-BASE-DP, src/terms).
    terms: z
      .object({ proffer: z.enum(PROFFERABLE_TERMS).describe('The IEEE 7012 term proffered to every vendor whose policy names none: SD-BASE-DP or SD-BASE.') })
      .strict()
      .optional()
      .describe("The household's own terms (IEEE 7012 MyTerms) proffered to each vendor before anything is sent."),
    // Part of every approved version, like the floors: raising the cap needs a new approval (no silent renewal).
    privacy: z
      .object({
        household_budget: z
          .object({
            epsilon: z.number().positive().max(100).describe('Most ε all vendors together may receive within the period.'),
            per: z.string().regex(/^[1-9][0-9]*d$/, 'expected a number of days such as 30d').describe('The sliding period, in days, e.g. 30d.'),
          })
          .strict()
          .default({ epsilon: 2.0, per: '30d' })
          .describe('The household-wide privacy budget across every vendor (vendors may combine what they receive); default { epsilon: 2.0, per: 30d }.'),
      })
      .strict()
      .default({ household_budget: { epsilon: 2.0, per: '30d' } })
      .describe('Differential privacy settings for the whole household (docs/privacy.md).'),
  })
  .strict();

export type HouseholdDefaults = z.output<typeof defaultsSchema>;

/** The defaults a household gets with no defaults.yaml: safe floors for every vendor. */
export const BUILTIN_DEFAULTS: HouseholdDefaults = Object.freeze(defaultsSchema.parse({ version: 1 })) as HouseholdDefaults;

/** The defaults as read (text kept for the approval diff) and where they came from. */
export interface DefaultsFile {
  file: string | null;
  text: string;
  defaults: HouseholdDefaults;
}

/** Reads policies/defaults.yaml; absent means the built-in floors. Throws SLUICE_ERR_POLICY_INVALID with file:line:col. */
export function readDefaultsFile(dir: string): DefaultsFile {
  const file = join(dir, DEFAULTS_FILE);
  if (!existsSync(file)) return { file: null, text: '', defaults: BUILTIN_DEFAULTS };
  const text = readFileSync(file, 'utf8');
  const parsed = parseYaml(text, file, defaultsSchema, 'SLUICE_ERR_POLICY_INVALID');
  return { file, text, defaults: Object.freeze(parsed.value) as HouseholdDefaults };
}

const WINDOW_ORDER: Record<WindowSize, number> = { '1h': 0, '1d': 1, '7d': 2 };

/** The larger of two window sizes. */
export function coarserWindow(a: WindowSize, b: WindowSize): WindowSize {
  return WINDOW_ORDER[a] >= WINDOW_ORDER[b] ? a : b;
}

/** The JSON Schema editors use for policies/defaults.yaml. */
export function defaultsJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(defaultsSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return {
    $schema: schema.$schema,
    $id: 'https://sluice.invalid/schemas/defaults.json',
    title: 'Sluice household defaults',
    description: 'policies/defaults.yaml: floors every sharing policy inherits and cannot go below. See docs/policies.md.',
    ...Object.fromEntries(Object.entries(schema).filter(([k]) => k !== '$schema')),
  };
}
