import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseYaml } from '../../../src/config/index.js';
import { isSluiceError } from '../../../src/core/index.js';
import { BUILTIN_DEFAULTS, defaultsSchema, describeChanges, describeOverlaps, describeRule, listPolicyNames, readDefaultsFile, type HouseholdDefaults } from '../../../src/policy/index.js';
import { ROOT } from '../../helpers/gateway.js';
import { device, DEVICES, policy, resolve } from '../summarise/helpers.js';

const TEMP = '  - devices: { kind: thermostat }\n    metrics: [temperature]\n    window: 1h\n    stats: [mean]\n';
const with_ = (over: Partial<HouseholdDefaults>): HouseholdDefaults => ({ ...BUILTIN_DEFAULTS, ...over });

function problems(text: string): string {
  try {
    parseYaml(text, 'policies/defaults.yaml', defaultsSchema, 'SLUICE_ERR_POLICY_INVALID');
  } catch (err) {
    if (isSluiceError(err)) return err.message;
    throw err;
  }
  return 'no problems';
}

describe('household defaults (policies/defaults.yaml)', () => {
  it('the shipped file equals the built-in floors, and is not a policy', () => {
    expect(readDefaultsFile(join(ROOT, 'policies')).defaults).toEqual(BUILTIN_DEFAULTS);
    expect(BUILTIN_DEFAULTS).toMatchObject({ min_window: '1h', min_samples: 3, round: { '°C': 0.5, W: 10, kWh: 0.1 } });
    expect(listPolicyNames(join(ROOT, 'policies'))).not.toContain('defaults');
    expect(readDefaultsFile(mkdtempSync(join(tmpdir(), 'sluice-defaults-'))).file).toBeNull();
  });

  it('is strict, with positions and did-you-mean', () => {
    expect(problems('version: 1\nmin_sampels: 2\nmin_window: 1m\n')).toMatchInlineSnapshot(`
      "policies/defaults.yaml: 2 problems
      policies/defaults.yaml:2:1 SLUICE_ERR_POLICY_INVALID min_sampels: unknown key "min_sampels"; did you mean "min_samples"?
        min_sampels: 2
        ^
      policies/defaults.yaml:3:13 SLUICE_ERR_POLICY_INVALID min_window: expected one of 1h, 1d, 7d, got "1m"
        min_window: 1m
                    ^"
    `);
  });

  it('floors hold when a policy forgets them or goes below them, and explain says which applied', () => {
    const forgot = policy(TEMP).rules[0]!;
    expect(forgot.settings).toMatchObject({ window: '1h', minSamples: 3, round: { temperature: 0.5 } });
    const below = policy(TEMP.replace('stats: [mean]', 'stats: [mean]\n    min_samples: 1\n    round: 0.01'), { defaults: with_({ min_window: '1d' }) }).rules[0]!;
    expect(below.settings).toMatchObject({ window: '1d', minSamples: 3, round: { temperature: 0.5 } });
    expect(below.settings.defaultsApplied).toEqual([
      'window raised from 1h to the household minimum 1d',
      'min_samples raised from 1 to the household floor 3',
      'temperature rounding raised from 0.01 to the household floor 0.5 °C',
    ]);
    expect(describeRule(below)).toContain('household default: window raised from 1h to the household minimum 1d');
    const above = policy(TEMP.replace('stats: [mean]', 'stats: [mean]\n    min_samples: 12\n    round: 2')).rules[0]!;
    expect(above.settings).toMatchObject({ minSamples: 12, round: { temperature: 2 }, defaultsApplied: [] });
  });

  it('the version changes when the defaults change, and the diff says how', () => {
    const before = policy(TEMP);
    const after = policy(TEMP, { defaults: with_({ min_samples: 5 }) });
    expect(after.hash).not.toBe(before.hash);
    expect(policy(TEMP).hash).toBe(before.hash);
    expect(describeChanges(before, after)).toContain('~ household defaults: min_samples 3 → 5');
  });

  it('never-shared metrics leave only through a rule that names its devices by id', () => {
    const byKind = resolve('  - devices: { kind: sensor }\n    metrics: [occupied]\n    window: 1d\n    stats: [time_in_state]\n');
    expect(byKind.findings.filter((f) => f.severity === 'error').map((f) => f.message)).toEqual([
      '"occupied" is never shared by the household defaults (defaults.yaml never_shared) unless the rule names its devices by id',
    ]);
    const byId = resolve('  - devices: { id: s }\n    metrics: [occupied]\n    window: 1d\n    stats: [time_in_state]\n');
    expect(byId.findings.filter((f) => f.severity === 'error')).toEqual([]);
  });

  it('simulated devices are excluded from a kind, included when named by id', () => {
    const devices = [...DEVICES, device('sim-1', 'thermostat', true)];
    expect(policy(TEMP, { devices }).rules[0]!.devices).toEqual(['a', 'b']);
    expect(policy(TEMP.replace('{ kind: thermostat }', '{ id: sim-1 }'), { devices }).rules[0]!.devices).toEqual(['sim-1']);
  });

  it('statistics must fit the metric; unknown kinds and metrics get a did-you-mean', () => {
    const r = resolve('  - devices: { kind: thermostta }\n    metrics: [temperature]\n    window: 1d\n    stats: [mean]\n  - devices: { id: a }\n    metrics: [heatting]\n    window: 1d\n    stats: [mean]\n  - devices: { id: a }\n    metrics: [heating]\n    window: 1d\n    stats: [mean]\n');
    expect(r.findings.filter((f) => f.severity === 'error').map((f) => f.message)).toEqual([
      'no device profile has kind "thermostta"; did you mean "thermostat"?',
      'profile thermostat has no metric "heatting"; did you mean "heating"? (it has temperature, heating)',
      '"heating" is a boolean metric: it has time_in_state and count, not mean',
    ]);
  });

  it('a histogram needs ascending buckets', () => {
    expect(() => resolve('  - devices: { id: a }\n    metrics: [temperature]\n    window: 1d\n    stats: [histogram]\n')).toThrow(/histogram statistic needs buckets/);
    expect(() => resolve('  - devices: { id: a }\n    metrics: [temperature]\n    window: 1d\n    stats: [histogram]\n    buckets: [20, 18]\n')).toThrow(/strictly ascending/);
  });

  it('says when two vendors receive the same statistic of the same series over the same window', () => {
    const acme = policy('  - devices: { kind: thermostat }\n    metrics: [temperature]\n    window: 1d\n    stats: [mean, max]\n', { name: 'acme', vendor: 'Acme' });
    const volt = policy('  - devices: { id: a }\n    metrics: [temperature]\n    window: 1d\n    stats: [max, min]\n  - devices: { id: b }\n    metrics: [temperature]\n    window: 1h\n    stats: [max]\n', { name: 'volt', vendor: 'Volt' });
    expect(describeOverlaps(acme, [acme, volt])).toEqual(['Acme and Volt both receive the daily max of a temperature: they can link their views through the values']);
    // The same vendor under another policy links nothing new.
    expect(describeOverlaps(acme, [{ ...volt, policy: { ...volt.policy, vendor: 'Acme' } }])).toEqual([]);
  });

  it('the defaults file is read with positions', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-defaults-'));
    writeFileSync(join(dir, 'defaults.yaml'), 'version: 1\nmin_samples: 5\n');
    expect(readDefaultsFile(dir).defaults.min_samples).toBe(5);
    writeFileSync(join(dir, 'defaults.yaml'), 'version: 1\nmin_samples: 0\n');
    expect(() => readDefaultsFile(dir)).toThrow(/defaults\.yaml:2:14 SLUICE_ERR_POLICY_INVALID min_samples/);
  });
});

describe('policy check by path', () => {
  it('reads a policy by file path as well as by name, and suggests a near name', async () => {
    const { readPolicyFile } = await import('../../../src/policy/index.js');
    const d = mkdtempSync(join(tmpdir(), 'sluice-pol-'));
    writeFileSync(join(d, 'acme-heating.yaml'), 'version: 1\n');
    expect(() => readPolicyFile('/nonexistent', join(d, 'acme-heating.yaml'))).toThrow(/acme-heating\.yaml: 8 problems|required/);
    expect(() => readPolicyFile(d, 'acme-heatng')).toThrow(/did you mean "acme-heating"\?/);
    expect(() => readPolicyFile(d, 'defaults')).toThrow(/household defaults, not a policy/);
    const shipped = readPolicyFile('/nonexistent', join(ROOT, 'policies', 'acme-thermostat.yaml'));
    expect(shipped.name).toBe('acme-thermostat');
  });
});
