import { readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { z } from 'zod';
import { SluiceError, isSluiceError, ownValue } from '../core/index.js';
import { loadYamlFile } from '../config/index.js';

const snakeName = z.string().regex(/^[a-z][a-z0-9_]*$/, 'names are snake_case: a-z, 0-9 and _, starting with a letter');

const common = {
  description: z.string().optional(),
  /** [PRIV-2] validated at ingest, then dropped: never written to disk (e.g. a lock's "who unlocked"). */
  never_store: z.boolean().default(false),
  /** Days raw readings of this metric are kept (overrides retention.raw_days; sluice.yaml overrides win). */
  retention_days: z.number().positive().optional(),
};

const numberMetric = z
  .object({
    type: z.literal('number'),
    unit: z.string().min(1),
    ...common,
    min: z.number().optional(),
    max: z.number().optional(),
    /** Smallest step the device reports; values are stored as integers of this step. */
    resolution: z.number().positive().optional(),
    /** A cumulative counter (energy, brews) whose increase is meaningful, not its level. */
    counter: z.boolean().default(false),
  })
  .strict()
  .refine((m) => m.min === undefined || m.max === undefined || m.min <= m.max, { message: 'min must not exceed max' });

const booleanMetric = z.object({ type: z.literal('boolean'), ...common }).strict();

const enumMetric = z
  .object({
    type: z.literal('enum'),
    values: z.array(z.string().min(1)).min(1),
    ...common,
  })
  .strict();

export const metricSchema = z.discriminatedUnion('type', [numberMetric, booleanMetric, enumMetric]);

const pair = z.tuple([z.number(), z.number()]);

/**
 * One reading taken from a message: where the value is (`path`), and how it becomes the
 * metric's value. Steps apply in this order: map → invert → reciprocal → range → scale → offset.
 */
export const readingRuleSchema = z
  .object({
    metric: snakeName,
    /** A part of the device (`cooler`, `freezer`); may use topic placeholders such as `{component}`. */
    component: z.string().min(1).optional(),
    /** Dotted path into the JSON payload (`ENERGY.Power`, `switch:0.aenergy.total`); omitted for the whole payload. */
    path: z.string().min(1).optional(),
    /** Raw value → metric value, e.g. `{ "ON": true, "OFF": false }` or Matter enum numbers to names. */
    map: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
    /** Flip a boolean: Zigbee2MQTT `contact: true` means closed, so `open` is its inverse. */
    invert: z.boolean().optional(),
    /** value → reciprocal / value, e.g. 1000000 turns mired into kelvin. */
    reciprocal: z.number().positive().optional(),
    /** Linear rescale from one interval to another, e.g. 0–254 → 0–100 %, or 32–212 °F → 0–100 °C. */
    range: z.object({ from: pair, to: pair }).strict().refine((r) => r.from[0] !== r.from[1], { message: 'range.from needs two different numbers' }).optional(),
    /** value × scale, e.g. 0.001 for mV → V. */
    scale: z.number().optional(),
    /** value + offset, after scale. */
    offset: z.number().optional(),
  })
  .strict();

const statusRuleSchema = z
  .object({
    /** Dotted path of the state in a JSON payload; a payload that is plain text is used whole. */
    path: z.string().min(1).optional(),
    online: z.array(z.string()).min(1),
    offline: z.array(z.string()).min(1),
  })
  .strict();

/** How messages on one topic map to readings (or to online/offline, or are ignored). */
export const mappingSchema = z
  .object({
    /**
     * Topic below the device's root (`sluice/<id>/` for a device, `<base>/<source>/` behind a bridge);
     * '' is the root itself. `+` matches one level, `#` the rest, `{name}` one level captured by name.
     */
    topic: z.string().default('telemetry'),
    format: z.enum(['json', 'text']).default('json'),
    /** Dotted path of the device timestamp, or null when the payload's clock is not to be trusted. */
    time: z.string().min(1).nullable().default('ts'),
    readings: z.array(readingRuleSchema).optional(),
    status: statusRuleSchema.optional(),
    /** A message holding none of the readings' fields is acknowledged and dropped instead of quarantined (partial-update conventions). */
    skip_empty: z.boolean().optional(),
    /** Acknowledge and drop: diagnostics and echoes the household does not keep. */
    ignore: z.boolean().optional(),
  })
  .strict()
  .refine((m) => [m.readings !== undefined, m.status !== undefined, m.ignore === true].filter(Boolean).length === 1, {
    message: 'a mapping has exactly one of readings, status or ignore: true',
  });

export const profileSchema = z
  .object({
    version: z.literal(1),
    kind: z.string().regex(/^[a-z][a-z0-9_-]*$/),
    description: z.string().optional(),
    /** The convention the device speaks: `sluice` (native) unless mappings say otherwise. */
    convention: z.string().optional(),
    /** Named parts of the device; readings of a part carry its name as their component. */
    components: z.array(snakeName).optional(),
    metrics: z.record(snakeName, metricSchema).refine((m) => Object.keys(m).length > 0, { message: 'a profile declares at least one metric' }),
    /** Absent: the native convention (`telemetry` JSON object of metric → value). */
    mappings: z.array(mappingSchema).min(1).optional(),
  })
  .strict()
  .superRefine((p, ctx) => {
    const components = new Set(p.components ?? []);
    for (const c of components) {
      if (Object.hasOwn(p.metrics, c)) ctx.addIssue({ code: 'custom', path: ['components'], message: `component "${c}" has the name of a metric` });
    }
    (p.mappings ?? []).forEach((m, i) => {
      const captures = new Set([...m.topic.matchAll(/\{([a-z_][a-z0-9_]*)\}/g)].map((x) => x[1]!));
      (m.readings ?? []).forEach((r, j) => {
        const at = ['mappings', i, 'readings', j];
        const spec = ownValue(p.metrics, r.metric);
        if (!spec) {
          ctx.addIssue({ code: 'custom', path: [...at, 'metric'], message: `"${r.metric}" is not a metric of this profile (declare it under metrics)` });
          return;
        }
        if (r.component !== undefined) {
          const placeholder = /^\{([a-z_][a-z0-9_]*)\}$/.exec(r.component);
          if (placeholder ? !captures.has(placeholder[1]!) : !components.has(r.component)) {
            ctx.addIssue({ code: 'custom', path: [...at, 'component'], message: `"${r.component}" is neither a declared component nor a placeholder of the topic` });
          }
        }
        if (spec.type !== 'number' && (r.reciprocal !== undefined || r.range !== undefined || r.scale !== undefined || r.offset !== undefined)) {
          ctx.addIssue({ code: 'custom', path: at, message: `reciprocal, range, scale and offset apply to number metrics; "${r.metric}" is ${spec.type}` });
        }
        if (r.invert && spec.type !== 'boolean') ctx.addIssue({ code: 'custom', path: [...at, 'invert'], message: `invert applies to boolean metrics; "${r.metric}" is ${spec.type}` });
        if (spec.type === 'enum' && r.map) {
          for (const [k, v] of Object.entries(r.map)) {
            if (typeof v !== 'string' || !spec.values.includes(v)) {
              ctx.addIssue({ code: 'custom', path: [...at, 'map', k], message: `maps to ${JSON.stringify(v)}, which is not one of ${spec.values.join(', ')}` });
            }
          }
        }
        if (m.format === 'text' && r.path !== undefined) ctx.addIssue({ code: 'custom', path: [...at, 'path'], message: 'a text payload has no path; remove it' });
      });
    });
  });

export type MetricSpec = z.output<typeof metricSchema>;
export type ReadingRule = z.output<typeof readingRuleSchema>;
export type MappingRule = z.output<typeof mappingSchema>;
export type DeviceProfile = z.output<typeof profileSchema> & { name: string; file: string };

export interface LoadedProfiles {
  profiles: ReadonlyMap<string, DeviceProfile>;
  /** Files that failed validation; their errors carry file:line:col. */
  errors: SluiceError[];
}

export interface LoadProfilesOptions {
  /** `profile.metric` names the household marked never-stored in sluice.yaml, on top of the profiles' own. */
  neverStore?: readonly string[];
}

/** Loads every `*.yaml` in the devices directory; a broken file is reported, the others still load. */
export function loadProfiles(dir: string, options: LoadProfilesOptions = {}): LoadedProfiles {
  const profiles = new Map<string, DeviceProfile>();
  const errors: SluiceError[] = [];
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'));
  } catch {
    return { profiles, errors };
  }
  const neverStore = new Set(options.neverStore ?? []);
  for (const f of files.sort()) {
    const file = join(dir, f);
    try {
      const loaded = loadYamlFile(file, profileSchema, 'SLUICE_ERR_CONFIG_INVALID');
      const name = basename(f).replace(/\.ya?ml$/, '');
      const metrics = Object.fromEntries(
        Object.entries(loaded.value.metrics).map(([metric, spec]) => [
          metric,
          // [PRIV-2] the household may forbid storing a metric the profile would keep.
          Object.freeze(neverStore.has(`${name}.${metric}`) || neverStore.has(`*.${metric}`) ? { ...spec, never_store: true } : spec),
        ]),
      );
      profiles.set(name, Object.freeze({ ...loaded.value, metrics, name, file }));
    } catch (err) {
      if (!isSluiceError(err)) throw err;
      errors.push(err);
    }
  }
  return { profiles, errors };
}
