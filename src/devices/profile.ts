import { readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { z } from 'zod';
import { SluiceError, isSluiceError } from '../core/index.js';
import { loadYamlFile } from '../config/index.js';

const metricName = z.string().regex(/^[a-z][a-z0-9_]*$/, 'metric names are snake_case: a-z, 0-9 and _');

const numberMetric = z
  .object({
    type: z.literal('number'),
    unit: z.string().min(1),
    description: z.string().optional(),
    min: z.number().optional(),
    max: z.number().optional(),
    /** Smallest step the device reports; values are stored as integers of this step. */
    resolution: z.number().positive().optional(),
    /** A cumulative counter (energy, brews) whose increase is meaningful, not its level. */
    counter: z.boolean().default(false),
    /** Never written to disk, e.g. a lock's "who unlocked". */
    never_store: z.boolean().default(false),
    /** Days raw readings of this metric are kept (overrides retention.raw_days; sluice.yaml overrides win). */
    retention_days: z.number().positive().optional(),
  })
  .strict()
  .refine((m) => m.min === undefined || m.max === undefined || m.min <= m.max, { message: 'min must not exceed max' });

const booleanMetric = z
  .object({
    type: z.literal('boolean'),
    description: z.string().optional(),
    never_store: z.boolean().default(false),
    /** Days raw readings of this metric are kept (overrides retention.raw_days; sluice.yaml overrides win). */
    retention_days: z.number().positive().optional(),
  })
  .strict();

const enumMetric = z
  .object({
    type: z.literal('enum'),
    values: z.array(z.string().min(1)).min(1),
    description: z.string().optional(),
    never_store: z.boolean().default(false),
    /** Days raw readings of this metric are kept (overrides retention.raw_days; sluice.yaml overrides win). */
    retention_days: z.number().positive().optional(),
  })
  .strict();

export const metricSchema = z.discriminatedUnion('type', [numberMetric, booleanMetric, enumMetric]);

export const profileSchema = z
  .object({
    version: z.literal(1),
    kind: z.string().regex(/^[a-z][a-z0-9_-]*$/),
    description: z.string().optional(),
    metrics: z.record(metricName, metricSchema).refine((m) => Object.keys(m).length > 0, { message: 'a profile declares at least one metric' }),
  })
  .strict();

export type MetricSpec = z.output<typeof metricSchema>;
export type DeviceProfile = z.output<typeof profileSchema> & { name: string; file: string };

export interface LoadedProfiles {
  profiles: ReadonlyMap<string, DeviceProfile>;
  /** Files that failed validation; their errors carry file:line:col. */
  errors: SluiceError[];
}

/** Loads every `*.yaml` in the devices directory; a broken file is reported, the others still load. */
export function loadProfiles(dir: string): LoadedProfiles {
  const profiles = new Map<string, DeviceProfile>();
  const errors: SluiceError[] = [];
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'));
  } catch {
    return { profiles, errors };
  }
  for (const f of files.sort()) {
    const file = join(dir, f);
    try {
      const loaded = loadYamlFile(file, profileSchema, 'SLUICE_ERR_CONFIG_INVALID');
      const name = basename(f).replace(/\.ya?ml$/, '');
      profiles.set(name, Object.freeze({ ...loaded.value, name, file }));
    } catch (err) {
      if (!isSluiceError(err)) throw err;
      errors.push(err);
    }
  }
  return { profiles, errors };
}
