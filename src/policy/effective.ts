import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { didYouMean, parseYaml, type PositionedYaml } from '../config/index.js';
import { SluiceError, canonicalJson, ownValue, setOwn, sha256Hex } from '../core/index.js';
import type { DeviceProfile, DeviceRecord, MetricSpec } from '../devices/index.js';
import { BUILTIN_DEFAULTS, coarserWindow, DEFAULTS_FILE, type HouseholdDefaults } from './defaults.js';
import { NUMBER_STATS, policySchema, type PolicyV1, type ShareRule, type WindowSize } from './schema.js';

/** A policy file as read from disk, validated against the schema. */
export interface PolicyFile {
  name: string;
  file: string;
  text: string;
  policy: PolicyV1;
  parsed: PositionedYaml<PolicyV1>;
}

/** A share rule with the devices its selector resolves to now and the profile metrics it reads. */
export interface EffectiveRule {
  /** 1-based position of the rule in the file, and the line it starts on. */
  index: number;
  line: number;
  rule: ShareRule;
  devices: string[];
  /** profile name → metric → spec, for every profile of a selected device (or of the kind). */
  profiles: Record<string, Record<string, MetricSpec>>;
  /** What the summariser applies: the rule's own settings raised to the household floors. */
  settings: RuleSettings;
}

/** A rule's settings after the household defaults: never below a floor. */
export interface RuleSettings {
  window: WindowSize;
  minSamples: number;
  /** metric → rounding step (number metrics only). */
  round: Record<string, number>;
  /** Plain-language notes of every default that changed or filled in a setting (for explain). */
  defaultsApplied: string[];
}

/**
 * What the household approves: the file text, the devices each rule selects now and the
 * profile metrics used. Its hash is the policy version; any change to it needs a new approval.
 */
export interface EffectivePolicy {
  name: string;
  text: string;
  policy: PolicyV1;
  rules: EffectiveRule[];
  /** The household defaults this version was resolved with (part of what is approved). */
  defaults: HouseholdDefaults;
  hash: string;
}

export interface Finding {
  severity: 'error' | 'warning';
  line: number;
  col: number;
  path: string;
  message: string;
}

export const POLICY_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/** Names of the policy files in the directory (`NAME.yaml`), sorted. */
export function listPolicyNames(dir: string): string[] {
  let files: string[];
  try {
    files = readdirSync(dir);
  } catch {
    return [];
  }
  return files
    .filter((f) => /\.ya?ml$/.test(f))
    .map((f) => basename(f).replace(/\.ya?ml$/, ''))
    .filter((n) => POLICY_NAME.test(n) && `${n}.yaml` !== DEFAULTS_FILE)
    .sort();
}

export function policyPath(dir: string, name: string): string {
  for (const ext of ['.yaml', '.yml']) {
    const file = join(dir, `${name}${ext}`);
    if (existsSync(file)) return file;
  }
  return join(dir, `${name}.yaml`);
}

/**
 * Reads and validates one policy file, by name (`acme`, in the policies directory) or by path
 * (`policies/acme.yaml`, `./x.yml`); throws SLUICE_ERR_POLICY_INVALID listing every problem with file:line:col.
 */
export function readPolicyFile(dir: string, nameOrPath: string): PolicyFile {
  const byPath = nameOrPath.includes('/') || /\.ya?ml$/.test(nameOrPath);
  const name = byPath ? basename(nameOrPath).replace(/\.ya?ml$/, '') : nameOrPath;
  if (!POLICY_NAME.test(name)) throw new SluiceError('SLUICE_ERR_POLICY_UNKNOWN', `"${name}" is not a policy name (lower-case letters, digits, "-" and "_")`);
  if (`${name}.yaml` === DEFAULTS_FILE) throw new SluiceError('SLUICE_ERR_POLICY_UNKNOWN', `${DEFAULTS_FILE} holds the household defaults, not a policy`);
  const file = byPath ? nameOrPath : policyPath(dir, name);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new SluiceError('SLUICE_ERR_POLICY_UNKNOWN', `no policy "${name}": ${file} does not exist${byPath ? '' : didYouMean(name, listPolicyNames(dir))}`, { name, file });
  }
  const parsed = parseYaml(text, file, policySchema, 'SLUICE_ERR_POLICY_INVALID');
  return { name, file, text, policy: parsed.value, parsed };
}

/**
 * Resolves a policy against the devices registered now. Semantic problems (a metric no
 * selected profile has, a statistic that does not fit the metric) are errors with positions.
 */
export function resolveEffective(
  pf: PolicyFile,
  devices: readonly DeviceRecord[],
  profiles: ReadonlyMap<string, DeviceProfile>,
  defaults: HouseholdDefaults = BUILTIN_DEFAULTS,
): { effective: EffectivePolicy; findings: Finding[] } {
  const findings: Finding[] = [];
  const at = (path: Array<string | number>, severity: Finding['severity'], message: string) => {
    const { line, col } = pf.parsed.positionOf(path);
    findings.push({ severity, line, col, path: path.reduce<string>((a, p) => (typeof p === 'number' ? `${a}[${p}]` : a ? `${a}.${p}` : p), ''), message });
  };
  const rules = pf.policy.share.map((rule, i): EffectiveRule => {
    const sel = rule.devices;
    let chosen: DeviceRecord[];
    let candidateProfiles: string[];
    if (sel.kind !== undefined) {
      const kind = sel.kind;
      candidateProfiles = [...profiles.values()].filter((p) => p.kind === kind).map((p) => p.name);
      if (candidateProfiles.length === 0) {
        const known = [...new Set([...profiles.values()].map((p) => p.kind))].sort();
        at(['share', i, 'devices', 'kind'], 'error', `no device profile has kind "${sel.kind}"${didYouMean(sel.kind, known)}`);
      }
      // [PRIV-8] simulated devices are never shared unless a policy names them by id.
      chosen = devices.filter((d) => d.role === 'device' && !d.simulated && d.profile !== null && candidateProfiles.includes(d.profile));
      if (chosen.length === 0 && candidateProfiles.length > 0) at(['share', i, 'devices'], 'warning', `no registered device has kind "${sel.kind}" yet; nothing would be shared`);
    } else {
      const ids = Array.isArray(sel.id) ? sel.id : [sel.id!];
      chosen = [];
      for (const id of ids) {
        const d = devices.find((x) => x.id === id);
        if (!d) at(['share', i, 'devices', 'id'], 'warning', `no device "${id}" is registered${didYouMean(id, devices.map((x) => x.id))}`);
        else if (!d.profile || !profiles.has(d.profile)) at(['share', i, 'devices', 'id'], 'error', `device "${id}" has no loadable profile`);
        else chosen.push(d);
      }
      candidateProfiles = [...new Set(chosen.map((d) => d.profile!))];
    }
    const used: Record<string, Record<string, MetricSpec>> = {};
    for (const pname of [...new Set(candidateProfiles)].sort()) {
      const profile = profiles.get(pname)!;
      setOwn(used, pname, {});
      rule.metrics.forEach((metric, m) => {
        const spec = ownValue(profile.metrics, metric);
        if (!spec) {
          at(['share', i, 'metrics', m], 'error', `profile ${pname} has no metric "${metric}"${didYouMean(metric, Object.keys(profile.metrics))} (it has ${Object.keys(profile.metrics).join(', ')})`);
          return;
        }
        const numberStats = rule.stats.filter((st) => NUMBER_STATS.has(st));
        if (spec.never_store) at(['share', i, 'metrics', m], 'error', `"${metric}" is never stored, so it cannot be summarised`);
        else if (spec.type !== 'number' && numberStats.length > 0) {
          at(['share', i, 'stats'], 'error', `"${metric}" is a ${spec.type} metric: it has time_in_state and count, not ${numberStats.join(', ')}`);
        } else if (spec.type === 'number' && rule.stats.includes('time_in_state')) {
          at(['share', i, 'stats'], 'error', `"time_in_state" is for boolean and enum metrics; "${metric}" in profile ${pname} is a number`);
        } else if (rule.stats.includes('increase') && spec.type === 'number' && !spec.counter) {
          at(['share', i, 'stats'], 'error', `"increase" needs a counter metric; "${metric}" in profile ${pname} is not a counter`);
        }
        setOwn(ownValue(used, pname)!, metric, spec);
      });
    }
    // [PRIV-12] household defaults: sensitive metrics leave only when the rule names its devices by id.
    rule.metrics.forEach((metric, m) => {
      if (defaults.never_shared.includes(metric) && sel.id === undefined) {
        at(['share', i, 'metrics', m], 'error', `"${metric}" is never shared by the household defaults (${DEFAULTS_FILE} never_shared) unless the rule names its devices by id`);
      }
    });
    return { index: i + 1, line: pf.parsed.positionOf(['share', i]).line, rule, devices: chosen.map((d) => d.id).sort(), profiles: used, settings: applyDefaults(rule, used, defaults) };
  });
  const hash = sha256Hex(
    canonicalJson({
      format: 'sluice-policy-approval/2',
      name: pf.name,
      text: pf.text,
      defaults,
      rules: rules.map((r) => ({ devices: r.devices, profiles: r.profiles, settings: r.settings })),
    }),
  );
  findings.sort((a, b) => a.line - b.line || a.col - b.col);
  return { effective: { name: pf.name, text: pf.text, policy: pf.policy, rules, defaults, hash }, findings };
}

/** The unit a rule's metric has in its profiles (the first that names one). */
export function unitOfMetric(profiles: Record<string, Record<string, MetricSpec>>, metric: string): string | null {
  for (const p of Object.values(profiles)) {
    const spec = ownValue(p, metric);
    if (spec?.type === 'number') return spec.unit;
  }
  return null;
}

/**
 * A rule's settings raised to the household floors. [PRIV-11] the floors hold even when a
 * policy forgets them: window ≥ min_window, min_samples ≥ the floor, rounding never finer
 * than the unit's default.
 */
export function applyDefaults(rule: ShareRule, profiles: Record<string, Record<string, MetricSpec>>, defaults: HouseholdDefaults): RuleSettings {
  const applied: string[] = [];
  const window = coarserWindow(rule.window, defaults.min_window);
  if (window !== rule.window) applied.push(`window raised from ${rule.window} to the household minimum ${defaults.min_window}`);
  const minSamples = Math.max(rule.min_samples ?? 0, defaults.min_samples);
  if (rule.min_samples === undefined) applied.push(`at least ${minSamples} readings per window (household default)`);
  else if (minSamples !== rule.min_samples) applied.push(`min_samples raised from ${rule.min_samples} to the household floor ${minSamples}`);
  const round: Record<string, number> = {};
  for (const metric of rule.metrics) {
    const specs = Object.values(profiles).map((p) => ownValue(p, metric)).filter((s): s is Extract<MetricSpec, { type: 'number' }> => s?.type === 'number');
    if (specs.length === 0) continue;
    const unit = unitOfMetric(profiles, metric);
    const floor = unit !== null ? ownValue(defaults.round, unit) : undefined;
    const resolution = Math.max(0.001, ...specs.map((s) => s.resolution ?? 0.001));
    let step = rule.round ?? floor ?? resolution;
    if (rule.round === undefined && floor !== undefined) applied.push(`${metric} rounded to ${floor} ${unit} (household default)`);
    if (floor !== undefined && step < floor) {
      applied.push(`${metric} rounding raised from ${step} to the household floor ${floor} ${unit}`);
      step = floor;
    }
    setOwn(round, metric, step);
  }
  return { window, minSamples, round, defaultsApplied: applied };
}

/** Formats findings like the YAML loader does: `file:line:col CODE path: message`. */
export function formatFindings(file: string, text: string, findings: readonly Finding[]): string {
  const lines = text.split(/\r?\n/);
  return findings
    .map((f) => {
      const code = f.severity === 'error' ? 'SLUICE_ERR_POLICY_INVALID' : 'warning';
      return `${file}:${f.line}:${f.col} ${code} ${f.path ? `${f.path}: ` : ''}${f.message}\n  ${lines[f.line - 1] ?? ''}\n  ${' '.repeat(Math.max(0, f.col - 1))}^`;
    })
    .join('\n');
}
