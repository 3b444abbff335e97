import { describe, expect, it } from 'vitest';
import { parseYaml } from '../../../src/config/index.js';
import { isSluiceError } from '../../../src/core/index.js';
import { policySchema } from '../../../src/policy/index.js';

function problems(text: string): string[] {
  try {
    parseYaml(text, 'policies/p.yaml', policySchema, 'SLUICE_ERR_POLICY_INVALID');
  } catch (err) {
    if (isSluiceError(err)) return err.message.split('\n').filter((l) => l.includes('SLUICE_ERR_POLICY_INVALID')).map((l) => l.replace(/^.*p\.yaml:/, ''));
    throw err;
  }
  return [];
}

const head = ['version: 1', 'vendor: energy-commons', 'endpoint: https://open.example/v1', 'purpose: Weekly energy for a public dataset', 'expires: 2099-12-31', 'schedule: "0 4 * * 1"'];
const OPEN = [...head, 'kind: open-data', 'share:', '  - devices: { kind: smart_plug }', '    metrics: [energy]', '    window: 7d', '    stats: [increase]', '    privacy: { epsilon: 0.5, clamp: [0, 2] }', ''].join('\n');

describe('kind: open-data at policy check', () => {
  it('accepts a whole-home, 7-day, noised, unsigned rule', () => {
    expect(problems(OPEN)).toEqual([]);
  });

  it('refuses short windows, missing noise, a per-device breakdown, several metrics, a key and a deletion endpoint, each with its position', () => {
    const bad = OPEN.replace('window: 7d', 'window: 1d')
      .replace('    privacy: { epsilon: 0.5, clamp: [0, 2] }\n', '')
      .replace('devices: { kind: smart_plug }', 'devices: { id: plug-1 }')
      .replace('metrics: [energy]', 'metrics: [energy, power]')
      .replace('kind: open-data', 'kind: open-data\nsecret_env: KEY\ndeletion_endpoint: https://open.example/erase');
    expect(problems(bad)).toEqual([
      '8:13 SLUICE_ERR_POLICY_INVALID secret_env: an open-data release is not signed with a household key: its key id would be the same in every release and link them',
      '9:20 SLUICE_ERR_POLICY_INVALID deletion_endpoint: a collector cannot erase one home: nothing in an open-data release says which home it came from',
      '11:5 SLUICE_ERR_POLICY_INVALID share[0]: open data is always differentially private: add privacy: { epsilon, clamp } to this rule',
      '11:20 SLUICE_ERR_POLICY_INVALID share[0].devices.id: open data is whole-home only: select devices by kind (all of them are pooled into one value), not by id',
      '12:14 SLUICE_ERR_POLICY_INVALID share[0].metrics: an open-data rule releases one whole-home aggregate: name exactly one metric',
      '13:13 SLUICE_ERR_POLICY_INVALID share[0].window: open data is released over 7-day windows at least (7d); "1d" would show single days of one home',
    ]);
  });
});

describe('disclose_on_acceptance', () => {
  it('a policy may cover only what an accepted offer discloses: no share rules, no signing key', () => {
    expect(problems([...head, 'disclose_on_acceptance: [deliver_to]', ''].join('\n'))).toEqual([]);
    expect(problems([...head, 'disclose_on_acceptance: [address]', ''].join('\n'))).toEqual(['7:26 SLUICE_ERR_POLICY_INVALID disclose_on_acceptance[0]: expected one of deliver_to, got "address"']);
  });

  it('a policy with neither share rules nor disclose_on_acceptance is refused; summaries still need a key', () => {
    expect(problems([...head, ''].join('\n'))).toEqual(['1:1 SLUICE_ERR_POLICY_INVALID share: a policy needs at least one share rule (or disclose_on_acceptance, for what a vendor is told when you accept its offer)']);
    const noKey = [...head, 'share:', '  - devices: { kind: smart_plug }', '    metrics: [energy]', '    window: 1d', '    stats: [increase]', ''].join('\n');
    expect(problems(noKey)).toEqual(['1:1 SLUICE_ERR_POLICY_INVALID secret_env: name exactly one of secret_env or secret_file (where the signing key is kept; never the key itself)']);
  });
});
