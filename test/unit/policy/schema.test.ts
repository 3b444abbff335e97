import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseYaml } from '../../../src/config/index.js';
import { isSluiceError } from '../../../src/core/index.js';
import { loadProfiles, type DeviceProfile } from '../../../src/devices/index.js';
import { defaultsJsonSchema, policyJsonSchema, policySchema, readPolicyFile, resolveEffective, formatFindings } from '../../../src/policy/index.js';
import { summaryJsonSchema } from '../../../src/summarise/index.js';
import { ROOT } from '../../helpers/gateway.js';

function problems(text: string): string {
  try {
    parseYaml(text, 'policies/broken.yaml', policySchema, 'SLUICE_ERR_POLICY_INVALID');
  } catch (err) {
    if (isSluiceError(err)) return err.message;
    throw err;
  }
  return 'no problems';
}

const VALID = `version: 1
vendor: acme
endpoint: https://acme.example/v1
purpose: Tune my heating
expires: 2027-06-30
schedule: "0 3 * * *"
secret_env: ACME_SECRET
share:
  - devices: { kind: thermostat }
    metrics: [temperature]
    window: 1d
    stats: [mean]
`;

describe('policy file v1', () => {
  it('accepts the shipped examples', () => {
    for (const name of ['acme-thermostat', 'energy-supplier']) {
      const pf = readPolicyFile(join(ROOT, 'policies'), name);
      const { findings } = resolveEffective(pf, [], loadProfiles(join(ROOT, 'devices')).profiles);
      expect(findings.filter((f) => f.severity === 'error')).toEqual([]);
    }
  });

  it('lists every problem at once with file:line:col, sorted by line', () => {
    const text = `version: 1
vendor: acme
endpoint: http://acme.example/v1
purpose: Tune my heating
expires: 2027-02-30
schedule: "0 3 * *"
share:
  - devices: { kind: thermostat, id: living }
    metrics: [temperature]
    window: 1m
    stats: [mean, maxx]
    min_samples: 0
    min_sample: 3
`;
    expect(problems(text)).toMatchInlineSnapshot(`
      "policies/broken.yaml: 8 problems
      policies/broken.yaml:3:11 SLUICE_ERR_POLICY_INVALID endpoint: expected an https:// URL (http:// only for 127.0.0.1 or localhost), got "http://acme.example/v1"
        endpoint: http://acme.example/v1
                  ^
      policies/broken.yaml:5:10 SLUICE_ERR_POLICY_INVALID expires: expected a real calendar date
        expires: 2027-02-30
                 ^
      policies/broken.yaml:6:11 SLUICE_ERR_POLICY_INVALID schedule: expected a cron expression of 5 fields (minute hour day month weekday), got "0 3 * *"
        schedule: "0 3 * *"
                  ^
      policies/broken.yaml:8:14 SLUICE_ERR_POLICY_INVALID share[0].devices: select devices by exactly one of id (one or a list) or kind
          - devices: { kind: thermostat, id: living }
                     ^
      policies/broken.yaml:10:13 SLUICE_ERR_POLICY_INVALID share[0].window: expected one of 1h, 1d, 7d, got "1m"
            window: 1m
                    ^
      policies/broken.yaml:11:19 SLUICE_ERR_POLICY_INVALID share[0].stats[1]: expected one of mean, min, max, sum, count, last, increase, p50, p75, p90, p95, p99, histogram, time_in_state, got "maxx"; did you mean "max"?
            stats: [mean, maxx]
                          ^
      policies/broken.yaml:12:18 SLUICE_ERR_POLICY_INVALID share[0].min_samples: Too small: expected number to be >=1
            min_samples: 0
                         ^
      policies/broken.yaml:13:5 SLUICE_ERR_POLICY_INVALID share[0].min_sample: unknown key "min_sample"; did you mean "min_samples"?
            min_sample: 3
            ^"
    `);
  });

  it('refuses a key inside the policy and a plain-http vendor; rules may have their own windows', () => {
    const text = VALID.replace('secret_env: ACME_SECRET', 'secret: hunter2').replace('https://acme.example/v1', 'http://127.0.0.1:8080/ok') +
      `  - devices: { id: [living, bedroom] }
    metrics: [humidity]
    window: 1h
    stats: [max]
`;
    expect(problems(text)).toMatchInlineSnapshot(`
      "policies/broken.yaml: 2 problems
      policies/broken.yaml:1:1 SLUICE_ERR_POLICY_INVALID secret_env: name exactly one of secret_env or secret_file (where the signing key is kept; never the key itself)
        version: 1
        ^
      policies/broken.yaml:7:1 SLUICE_ERR_POLICY_INVALID secret: unknown key "secret"
        secret: hunter2
        ^"
    `);
  });

  it('checks rules against the device profiles, with positions', () => {
    const pf = { name: 'p', file: 'policies/p.yaml', text: '', policy: undefined as never, parsed: undefined as never };
    const text = VALID.replace('metrics: [temperature]', 'metrics: [temperature, heating, watts]').replace('stats: [mean]', 'stats: [mean, increase]');
    const parsed = parseYaml(text, 'policies/p.yaml', policySchema, 'SLUICE_ERR_POLICY_INVALID');
    const thermostat = {
      name: 'thermostat',
      file: 'devices/thermostat.yaml',
      version: 1,
      kind: 'thermostat',
      metrics: {
        temperature: { type: 'number', unit: '°C', counter: false, never_store: false },
        heating: { type: 'boolean', never_store: false },
      },
    } as unknown as DeviceProfile;
    const { findings } = resolveEffective({ ...pf, text, policy: parsed.value, parsed }, [], new Map([['thermostat', thermostat]]));
    expect(formatFindings('policies/p.yaml', text, findings)).toMatchInlineSnapshot(`
      "policies/p.yaml:9:14 warning share[0].devices: no registered device has kind "thermostat" yet; nothing would be shared
          - devices: { kind: thermostat }
                     ^
      policies/p.yaml:10:37 SLUICE_ERR_POLICY_INVALID share[0].metrics[2]: profile thermostat has no metric "watts" (it has temperature, heating)
            metrics: [temperature, heating, watts]
                                            ^
      policies/p.yaml:12:12 SLUICE_ERR_POLICY_INVALID share[0].stats: "increase" needs a counter metric; "temperature" in profile thermostat is not a counter
            stats: [mean, increase]
                   ^
      policies/p.yaml:12:12 SLUICE_ERR_POLICY_INVALID share[0].stats: "heating" is a boolean metric: it has time_in_state and count, not mean, increase
            stats: [mean, increase]
                   ^"
    `);
  });

  it('a policy metric named like a built-in JavaScript property is not a metric of the profile', () => {
    const pf = { name: 'p', file: 'policies/p.yaml', text: '', policy: undefined as never, parsed: undefined as never };
    const text = VALID.replace('metrics: [temperature]', 'metrics: [temperature, constructor]');
    const parsed = parseYaml(text, 'policies/p.yaml', policySchema, 'SLUICE_ERR_POLICY_INVALID');
    const thermostat = {
      name: 'thermostat',
      file: 'devices/thermostat.yaml',
      version: 1,
      kind: 'thermostat',
      metrics: { temperature: { type: 'number', unit: '°C', counter: false, never_store: false } },
    } as unknown as DeviceProfile;
    const { findings } = resolveEffective({ ...pf, text, policy: parsed.value, parsed }, [], new Map([['thermostat', thermostat]]));
    expect(findings.filter((f) => f.severity === 'error').map((f) => f.message)).toEqual(['profile thermostat has no metric "constructor" (it has temperature)']);
  });

  it('docs/schemas/policy.json and summary.json are generated from the zod schemas', () => {
    for (const [file, schema] of [
      ['policy.json', policyJsonSchema()],
      ['summary.json', summaryJsonSchema()],
      ['defaults.json', defaultsJsonSchema()],
    ] as const) {
      const path = join(ROOT, 'docs', 'schemas', file);
      const text = `${JSON.stringify(schema, null, 2)}\n`;
      if (process.env.UPDATE_DOCS === '1') writeFileSync(path, text);
      expect(readFileSync(path, 'utf8')).toBe(text);
    }
  });

  it('every example policy points editors at the schema', () => {
    for (const name of ['acme-thermostat', 'energy-supplier']) {
      expect(readFileSync(join(ROOT, 'policies', `${name}.yaml`), 'utf8')).toMatch(/^# yaml-language-server: \$schema=\.\.\/docs\/schemas\/policy\.json\n/);
    }
  });
});
