import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadProfiles, type DeviceRecord } from '../../../src/devices/index.js';
import { readPolicyFile, resolveEffective } from '../../../src/policy/index.js';
import { classifyMetric, releaseProfileOf, scoreCoalitions, scoreProfile, RISK_NOTE, type ReleaseProfile } from '../../../src/privacy/index.js';

const ROOT = join(import.meta.dirname, '../../..');
const NOW = Date.parse('2026-11-23T12:00:00Z');
const { profiles } = loadProfiles(join(ROOT, 'devices'));
const device = (id: string, profile: string): DeviceRecord => ({ id, role: 'device', profile, baseTopic: null, via: null, source: null, simulated: false, createdAt: 0 });
const devices = [device('hall-thermostat', 'thermostat'), device('kitchen-plug', 'smart-plug')];

function shipped(name: string) {
  const { effective, findings } = resolveEffective(readPolicyFile(join(ROOT, 'policies'), name), devices, profiles);
  expect(findings.filter((f) => f.severity === 'error')).toEqual([]);
  return releaseProfileOf(effective, { now: NOW, kindOf: (p) => profiles.get(p)?.kind ?? null });
}

const base: ReleaseProfile = { vendor: 'a', granularityMs: 86_400_000, classes: ['health'], metrics: ['battery'], series: ['d/battery/mean'], perDevice: false, historyDays: 30, stablePseudonym: true, accountLinked: false, rounded: false, dpEpsilon: null };

describe('risk score (heuristic)', () => {
  it('pins the score of each shipped example policy', () => {
    const acme = scoreProfile(shipped('acme-thermostat'));
    expect({ level: acme.level, points: acme.points, codes: acme.reasons.map((r) => r.code) }).toEqual({
      level: 'medium',
      points: 7,
      // no rounding mitigation: round 0.5 is the setpoint's own resolution, so it coarsens nothing there
      codes: ['class.heating_schedule', 'granularity.daily', 'class.climate', 'combined.metrics', 'breakdown.per_device', 'linkability.history'],
    });
    const volt = scoreProfile(shipped('energy-supplier'));
    expect({ level: volt.level, points: volt.points, codes: volt.reasons.map((r) => r.code) }).toEqual({
      level: 'medium',
      points: 4,
      codes: ['class.consumption', 'granularity.daily', 'breakdown.per_device', 'linkability.history', 'mitigation.rounding'],
    });
    expect(volt.note).toBe(RISK_NOTE);
    expect(volt.note).toMatch(/heuristic, not a probability/);
    for (const r of [...acme.reasons, ...volt.reasons]) expect(r.source.length).toBeGreaterThan(10);
  });

  it('granularity buckets, classes, mitigations: each reason in plain words with its source', () => {
    const minutely = scoreProfile({ ...base, granularityMs: 60_000, classes: ['presence'], accountLinked: true });
    expect(minutely.level).toBe('high');
    expect(minutely.reasons.find((r) => r.code === 'granularity.sub15min')!.source).toMatch(/Private memoirs of a smart meter/);
    const hourly = scoreProfile({ ...base, granularityMs: 3_600_000, classes: ['consumption'] });
    expect(hourly.reasons[0]).toMatchObject({ code: 'granularity.hourly', source: expect.stringMatching(/Kleiminger.*Beckel/) });
    expect(scoreProfile({ ...base, granularityMs: 3_600_000, classes: ['consumption'], dpEpsilon: 0.5 }).level).toBe('low');
    expect(scoreProfile({ ...base, granularityMs: 30 * 86_400_000 }).level).toBe('low');
    expect(classifyMetric('door_lock', 'battery')).toBe('presence');
    expect(classifyMetric('fridge', 'energy')).toBe('consumption');
    expect(classifyMetric('thermostat', 'setpoint_heat')).toBe('heating_schedule');
    expect(classifyMetric('thermostat', 'humidity')).toBe('climate');
    expect(classifyMetric('coffee_machine', 'water_tank_empty')).toBe('health');
  });

  it('coalitions: same series, shared identity or a named partner; ε adds up', () => {
    const a: ReleaseProfile = { ...base, vendor: 'acme', classes: ['consumption'], metrics: ['energy'], series: ['p1/energy/increase'], dpEpsilon: 0.6 };
    const b: ReleaseProfile = { ...base, vendor: 'volt', classes: ['consumption'], metrics: ['energy'], series: ['p1/energy/increase'], dpEpsilon: 0.6 };
    const c: ReleaseProfile = { ...base, vendor: 'heatco', classes: ['climate'], metrics: ['temperature'], series: ['t1/temperature/mean'], granularityMs: 3_600_000 };
    const d: ReleaseProfile = { ...base, vendor: 'lonely', series: ['x/battery/mean'] };
    const groups = scoreCoalitions([a, b, c, d], [{ vendors: ['volt', 'heatco'], why: 'partner' }]);
    expect(groups).toHaveLength(1);
    expect(groups[0]!.vendors).toEqual(['acme', 'volt', 'heatco']);
    expect(groups[0]!.links).toEqual(['acme and volt receive the same statistics of the same series (p1/energy/increase)', 'volt names heatco as a partner']);
    const codes = groups[0]!.reasons.map((r) => r.code);
    expect(codes).toContain('coalition.linked');
    expect(codes).toContain('granularity.hourly'); // the finest of them
    expect(codes).not.toContain('mitigation.dp'); // heatco adds no noise, and 0.6 + 0.6 > 1 anyway
    expect(scoreCoalitions([a, b])[0]!.reasons.find((r) => r.code.startsWith('mitigation.dp'))!.text).toMatch(/ε 1.2/);
    expect(scoreCoalitions([a, d])).toEqual([]);
  });
});
