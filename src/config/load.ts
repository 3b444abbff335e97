import { existsSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseScalar } from 'yaml';
import { SluiceError, ownValue, setOwn } from '../core/index.js';
import { configSchema, type SluiceConfig } from './schema.js';
import { loadYamlFile } from './yaml-loader.js';

export interface LoadConfigOptions {
  /** `--config FILE`; otherwise SLUICE_CONFIG, otherwise ./sluice.yaml when it exists. */
  file?: string | undefined;
  env?: NodeJS.ProcessEnv;
  /** Command-line overrides by dotted key, e.g. `{ 'mqtt.port': 0 }`; they win over everything. */
  flags?: Record<string, unknown>;
  cwd?: string;
}

const PATH_KEYS = ['data_dir', 'devices_dir', 'policies_dir', 'intents_dir'] as const;

/** Loads the gateway settings: flag > env (`SLUICE_*`) > file > default. The result is frozen. */
export function loadConfig(options: LoadConfigOptions = {}): Readonly<SluiceConfig> {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const explicit = options.file ?? env.SLUICE_CONFIG;
  const file = explicit ? resolve(cwd, explicit) : resolve(cwd, 'sluice.yaml');
  if (explicit && !existsSync(file)) {
    throw new SluiceError('SLUICE_ERR_CONFIG_INVALID', `config file ${file} does not exist`, { file });
  }

  let raw: Record<string, unknown> = {};
  if (existsSync(file)) {
    const fromFile = loadYamlFile(file, configSchema, 'SLUICE_ERR_CONFIG_INVALID');
    raw = structuredClone(fromFile.value) as Record<string, unknown>;
    // Paths written in the file are relative to the file, as a reader of the file expects;
    // the defaults the schema filled in were not written there and stay relative to cwd.
    for (const key of PATH_KEYS) {
      if (!fromFile.has([key])) {
        delete raw[key];
        continue;
      }
      const v = raw[key];
      if (typeof v === 'string' && !isAbsolute(v)) raw[key] = resolve(dirname(file), v);
    }
  }

  const problems: string[] = [];
  for (const [name, path] of envKeys()) {
    const text = env[name];
    if (text !== undefined && text !== '') setIn(raw, path, parseScalar(text) as unknown);
  }
  for (const [key, value] of Object.entries(options.flags ?? {})) {
    if (value !== undefined) setIn(raw, key.split('.'), value);
  }
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const path = issue.path.map(String);
      const source = sourceOf(path, env, options.flags ?? {});
      problems.push(`${source} ${path.join('.')}: ${issue.message}`);
    }
    throw new SluiceError('SLUICE_ERR_CONFIG_INVALID', `invalid settings:\n${problems.map((p) => `  ${p}`).join('\n')}`);
  }
  const config = parsed.data;
  for (const key of PATH_KEYS) config[key] = resolve(cwd, config[key]);
  return deepFreeze(config);
}

/** Every settable key and its environment variable: `mqtt.port` ↔ `SLUICE_MQTT_PORT`. */
export function envKeys(): Array<[string, string[]]> {
  const out: Array<[string, string[]]> = [];
  const walk = (value: unknown, path: string[]) => {
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      for (const [k, v] of Object.entries(value)) walk(v, [...path, k]);
    } else if (path[0] !== 'version') {
      out.push([`SLUICE_${path.join('_').toUpperCase()}`, path]);
    }
  };
  walk(configSchema.parse({}), []);
  return out;
}

function sourceOf(path: string[], env: NodeJS.ProcessEnv, flags: Record<string, unknown>): string {
  const dotted = path.join('.');
  if (ownValue(flags, dotted) !== undefined) return `flag ${dotted}`;
  const name = `SLUICE_${path.join('_').toUpperCase()}`;
  if (env[name] !== undefined) return `env ${name}`;
  return 'setting';
}

function setIn(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    // Keys come from flags and the environment: `__proto__` must name a key, not the prototype.
    let next = ownValue(node, key);
    if (!next || typeof next !== 'object') {
      next = {};
      setOwn(node, key, next);
    }
    node = next as Record<string, unknown>;
  }
  setOwn(node, path[path.length - 1]!, value);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
