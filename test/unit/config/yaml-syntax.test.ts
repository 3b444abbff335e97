import { describe, expect, it } from 'vitest';
import { parseYaml } from '../../../src/config/index.js';
import { isSluiceError } from '../../../src/core/index.js';
import { policySchema } from '../../../src/policy/index.js';

function problems(text: string): string {
  try {
    parseYaml(text, 'policies/p.yaml', policySchema, 'SLUICE_ERR_POLICY_INVALID');
  } catch (err) {
    if (isSluiceError(err)) return err.message;
    throw err;
  }
  return 'no problems';
}

const HEAD = 'version: 1\nvendor: acme\nendpoint: https://a.example/v1\npurpose: p\nexpires: 2027-06-30\nschedule: "0 3 * * *"\nsecret_env: K\nshare:\n';

describe('YAML syntax errors are reported once, at the right line', () => {
  it('a tab used for indentation', () => {
    expect(problems(`${HEAD}  - devices: { kind: thermostat }\n\tmetrics: [temperature]\n    window: 1d\n    stats: [mean]\n`)).toMatchInlineSnapshot(`
      "policies/p.yaml: 1 problem
      policies/p.yaml:10:1 SLUICE_ERR_POLICY_INVALID a tab is used for indentation; YAML indents with spaces only
        	metrics: [temperature]
        ^"
    `);
  });

  it('a line indented too far', () => {
    expect(problems(`${HEAD}  - devices: { kind: thermostat }\n       metrics: [temperature]\n    window: 1d\n    stats: [mean]\n`)).toMatch(/^policies\/p\.yaml: 1 problem\npolicies\/p\.yaml:10:8 SLUICE_ERR_POLICY_INVALID bad indentation/);
  });

  it('a key indented one space too far at the top', () => {
    expect(problems('version: 1\n vendor: acme\n')).toMatch(/^policies\/p\.yaml: 1 problem\npolicies\/p\.yaml:2:2 SLUICE_ERR_POLICY_INVALID bad indentation/);
  });
});
