import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseYaml, type PositionedYaml } from '../config/index.js';
import type { DeviceProfile, DeviceRecord, MetricSpec } from '../devices/index.js';
import { SluiceError, canonicalJson, ownValue, setOwn, sha256Hex } from '../core/index.js';
import { policySchema, type PolicyV1, type ShareRule } from './schema.js';

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
    .filter((n) => POLICY_NAME.test(n))
    .sort();
}

export function policyPath(dir: string, name: string): string {
  for (const ext of ['.yaml', '.yml']) {
    const file = join(dir, `${name}${ext}`);
    if (existsSync(file)) return file;
  }
  return join(dir, `${name}.yaml`);
}

/** Reads and validates one policy file; throws SLUICE_ERR_POLICY_INVALID listing every problem with file:line:col. */
export function readPolicyFile(dir: string, name: string): PolicyFile {
  if (!POLICY_NAME.test(name)) throw new SluiceError('SLUICE_ERR_POLICY_UNKNOWN', `"${name}" is not a policy name (lower-case letters, digits, "-" and "_")`);
  const file = policyPath(dir, name);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new SluiceError('SLUICE_ERR_POLICY_UNKNOWN', `no policy "${name}": ${file} does not exist`, { name, file });
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
      if (candidateProfiles.length === 0) at(['share', i, 'devices', 'kind'], 'error', `no device profile has kind "${sel.kind}"`);
      // [PRIV-8] simulated devices are never shared unless a policy names them by id.
      chosen = devices.filter((d) => d.role === 'device' && !d.simulated && d.profile !== null && candidateProfiles.includes(d.profile));
      if (chosen.length === 0 && candidateProfiles.length > 0) at(['share', i, 'devices'], 'warning', `no registered device has kind "${sel.kind}" yet; nothing would be shared`);
    } else {
      const ids = Array.isArray(sel.id) ? sel.id : [sel.id!];
      chosen = [];
      for (const id of ids) {
        const d = devices.find((x) => x.id === id);
        if (!d) at(['share', i, 'devices', 'id'], 'warning', `no device "${id}" is registered`);
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
          at(['share', i, 'metrics', m], 'error', `profile ${pname} has no metric "${metric}" (it has ${Object.keys(profile.metrics).join(', ')})`);
          return;
        }
        if (spec.type !== 'number') at(['share', i, 'metrics', m], 'error', `"${metric}" is a ${spec.type} metric; version 1 summarises number metrics only`);
        else if (spec.never_store) at(['share', i, 'metrics', m], 'error', `"${metric}" is never stored, so it cannot be summarised`);
        else if (rule.stats.includes('increase') && !spec.counter) at(['share', i, 'stats'], 'error', `"increase" needs a counter metric; "${metric}" in profile ${pname} is not a counter`);
        setOwn(ownValue(used, pname)!, metric, spec);
      });
    }
    return { index: i + 1, line: pf.parsed.positionOf(['share', i]).line, rule, devices: chosen.map((d) => d.id).sort(), profiles: used };
  });
  const hash = sha256Hex(
    canonicalJson({ format: 'sluice-policy-approval/1', name: pf.name, text: pf.text, rules: rules.map((r) => ({ devices: r.devices, profiles: r.profiles })) }),
  );
  findings.sort((a, b) => a.line - b.line || a.col - b.col);
  return { effective: { name: pf.name, text: pf.text, policy: pf.policy, rules, hash }, findings };
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
