import { parseYaml } from '../../../src/config/index.js';
import type { DeviceProfile, DeviceRecord } from '../../../src/devices/index.js';
import { BUILTIN_DEFAULTS, policySchema, resolveEffective, type HouseholdDefaults } from '../../../src/policy/index.js';

const num = (unit: string, resolution: number, counter = false) => ({ type: 'number', unit, resolution, counter, never_store: false });
export const thermostat = { name: 'thermostat', file: 'x', version: 1, kind: 'thermostat', metrics: { temperature: num('°C', 0.01), heating: { type: 'boolean', never_store: false } } } as unknown as DeviceProfile;
export const plug = { name: 'plug', file: 'x', version: 1, kind: 'smart_plug', metrics: { energy: num('kWh', 0.001, true), power: num('W', 0.1) } } as unknown as DeviceProfile;
export const sensor = {
  name: 'sensor',
  file: 'x',
  version: 1,
  kind: 'sensor',
  metrics: { humidity: num('%', 0.1), mode: { type: 'enum', values: ['eco', 'comfort', 'off'], never_store: false }, occupied: { type: 'boolean', never_store: false } },
} as unknown as DeviceProfile;
export const profiles = new Map([
  ['thermostat', thermostat],
  ['plug', plug],
  ['sensor', sensor],
]);
export const device = (id: string, profile: string, simulated = false): DeviceRecord =>
  ({ id, role: 'device', profile, baseTopic: null, via: null, source: null, simulated, createdAt: 0 }) as unknown as DeviceRecord;
export const DEVICES = [device('a', 'thermostat'), device('b', 'thermostat'), device('m', 'plug'), device('s', 'sensor')];

export function policyText(share: string, vendor = 'Acme'): string {
  return `version: 1\nvendor: ${vendor}\nendpoint: https://a.example/x\npurpose: p\nexpires: 2099-01-01\nschedule: "0 3 * * *"\nsecret_env: K\nshare:\n${share}`;
}

export function resolve(share: string, opts: { vendor?: string; name?: string; devices?: DeviceRecord[]; defaults?: HouseholdDefaults } = {}) {
  const text = policyText(share, opts.vendor);
  const parsed = parseYaml(text, 'p.yaml', policySchema, 'SLUICE_ERR_POLICY_INVALID');
  return resolveEffective({ name: opts.name ?? 'p', file: 'p.yaml', text, policy: parsed.value, parsed }, opts.devices ?? DEVICES, profiles, opts.defaults ?? BUILTIN_DEFAULTS);
}

export function policy(share: string, opts: Parameters<typeof resolve>[1] = {}) {
  const r = resolve(share, opts);
  const errors = r.findings.filter((f) => f.severity === 'error');
  if (errors.length > 0) throw new Error(errors.map((f) => f.message).join('\n'));
  return r.effective;
}
