import { describe, expect, it } from 'vitest';
import { parseYaml } from '../../../src/config/index.js';
import type { DeviceProfile } from '../../../src/devices/index.js';
import { canonicalJson, sha256Hex } from '../../../src/core/index.js';
import { policySchema, resolveEffective } from '../../../src/policy/index.js';
import { householdPseudonym, summarise, summaryId, type Sample } from '../../../src/summarise/index.js';

const TZ = 'Europe/Berlin';
const WINDOW = { start: Date.parse('2026-11-21T23:00:00Z'), end: Date.parse('2026-11-22T23:00:00Z') };
const H = 3_600_000;

const thermostat = { name: 'thermostat', file: 'x', version: 1, kind: 'thermostat', metrics: { temperature: { type: 'number', unit: '°C', resolution: 0.01, counter: false, never_store: false } } } as unknown as DeviceProfile;
const plug = { name: 'plug', file: 'x', version: 1, kind: 'smart_plug', metrics: { energy: { type: 'number', unit: 'kWh', resolution: 0.001, counter: true, never_store: false } } } as unknown as DeviceProfile;
const profiles = new Map([
  ['thermostat', thermostat],
  ['plug', plug],
]);
const device = (id: string, profile: string) => ({ id, role: 'device' as const, profile, baseTopic: null, via: null, source: null, simulated: false, createdAt: 0 });

function policy(share: string) {
  const text = `version: 1\nvendor: Acme\nendpoint: https://a.example/x\npurpose: p\nexpires: 2099-01-01\nschedule: "0 3 * * *"\nsecret_env: K\nshare:\n${share}`;
  const parsed = parseYaml(text, 'p.yaml', policySchema, 'SLUICE_ERR_POLICY_INVALID');
  return resolveEffective({ name: 'p', file: 'p.yaml', text, policy: parsed.value, parsed }, [device('a', 'thermostat'), device('b', 'thermostat'), device('m', 'plug')], profiles).effective;
}

const series = (values: number[], from = WINDOW.start): Sample[] => values.map((value, i) => ({ ts: from + i * H, value }));

describe('summarise (pure)', () => {
  it('pools the selected devices, rounds, and carries only the listed statistics', () => {
    const p = policy('  - devices: { kind: thermostat }\n    metrics: [temperature]\n    window: 1d\n    stats: [mean, max]\n    round: 0.5\n');
    const data: Record<string, Sample[]> = { a: series([20, 21]), b: series([22.2, 23.4]) };
    const s = summarise({ policy: p, window: WINDOW, timezone: TZ, household: 'h'.repeat(32), ledgerHead: '0'.repeat(64), samples: (d) => data[d] ?? [] });
    expect(s.document.items).toEqual([{ rule: 1, metric: 'temperature', unit: '°C', window: '1d', stats: { mean: 21.5, max: 23.5 } }]);
    expect(s.document.window).toEqual({ start: '2026-11-22T00:00:00+01:00', end: '2026-11-23T00:00:00+01:00' });
    expect(s.body.toString()).toBe(canonicalJson(JSON.parse(s.body.toString())));
    expect(s.bodySha256).toBe(sha256Hex(s.body));
    expect(s.body.toString()).not.toMatch(/"a"|"b"|count/);
  });

  it('leaves out items under min_samples and says so (for the preview only)', () => {
    const p = policy('  - devices: { kind: thermostat }\n    metrics: [temperature]\n    window: 1d\n    stats: [mean, count]\n    min_samples: 3\n');
    const s = summarise({ policy: p, window: WINDOW, timezone: TZ, household: 'h'.repeat(32), ledgerHead: '0'.repeat(64), samples: (d) => (d === 'a' ? series([20, 21]) : []) });
    expect(s.document.items).toEqual([]);
    expect(s.omitted).toEqual([{ rule: 1, metric: 'temperature', samples: 2, minSamples: 3 }]);
  });

  it('ignores readings outside the window', () => {
    const p = policy('  - devices: { id: a }\n    metrics: [temperature]\n    window: 1d\n    stats: [count]\n');
    const s = summarise({ policy: p, window: WINDOW, timezone: TZ, household: 'h'.repeat(32), ledgerHead: '0'.repeat(64), samples: () => [...series([1], WINDOW.start - 1), ...series([2, 3]), ...series([4], WINDOW.end)] });
    expect(s.document.items[0]!.stats).toEqual({ count: 2 });
  });

  it('increase of an energy counter sums the rises and survives a reset', () => {
    const p = policy('  - devices: { kind: smart_plug }\n    metrics: [energy]\n    window: 1d\n    stats: [increase]\n    round: 0.1\n');
    const s = summarise({ policy: p, window: WINDOW, timezone: TZ, household: 'h'.repeat(32), ledgerHead: '0'.repeat(64), samples: () => series([100.0, 101.25, 103.0, 0.5, 1.0]) });
    expect(s.document.items[0]!.stats).toEqual({ increase: 4.0 });
  });

  it('the id is a deterministic hash of version and window; the household id differs per vendor and not by spelling', () => {
    expect(summaryId('v1', WINDOW)).toBe(summaryId('v1', WINDOW));
    expect(summaryId('v1', WINDOW)).not.toBe(summaryId('v2', WINDOW));
    const secret = Buffer.alloc(32, 7);
    expect(householdPseudonym(secret, 'Acme  Heating')).toBe(householdPseudonym(secret, ' acme heating'));
    expect(householdPseudonym(secret, 'acme heating')).not.toBe(householdPseudonym(secret, 'volt energy'));
    expect(householdPseudonym(Buffer.alloc(32, 8), 'acme heating')).not.toBe(householdPseudonym(secret, 'acme heating'));
  });
});
