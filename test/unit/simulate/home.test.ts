import { describe, expect, it } from 'vitest';
import { loadProfiles } from '../../../src/devices/index.js';
import { interpretMessage } from '../../../src/ingest/index.js';
import { createHome } from '../../../src/simulate/index.js';
import { DEVICES_DIR } from '../../helpers/gateway.js';

const START = Date.parse('2026-11-16T00:00:00Z'); // a Monday
const STEP = 5 * 60_000;
const SEED = 20261123;

function run(seed: number, devices: number, days: number): Array<{ id: string; ts: number; body: Record<string, unknown> }> {
  const home = createHome({ seed, devices, timezone: 'Europe/Berlin' });
  const out: Array<{ id: string; ts: number; body: Record<string, unknown> }> = [];
  for (let t = START; t < START + days * 86_400_000; t += STEP) {
    for (const d of home) out.push({ id: d.id, ts: t, body: d.step(t, STEP) });
  }
  return out;
}

describe(`simulated home (seed ${SEED})`, () => {
  const week = run(SEED, 10, 7);
  const of = (id: string) => week.filter((m) => m.id === id);

  it('is a pure function of the seed', () => {
    expect(run(SEED, 10, 1)).toEqual(week.slice(0, 10 * 288));
    expect(run(SEED + 1, 10, 1)).not.toEqual(week.slice(0, 10 * 288));
  });

  it('every message passes its profile', () => {
    const profiles = loadProfiles(DEVICES_DIR).profiles;
    const home = createHome({ seed: SEED, devices: 10, timezone: 'Europe/Berlin' });
    for (const m of week.slice(0, 10 * 288)) {
      const profile = profiles.get(home.find((d) => d.id === m.id)!.profile)!;
      const outcome = interpretMessage({
        deviceId: m.id,
        subtopic: 'telemetry',
        payload: Buffer.from(JSON.stringify({ ...m.body, ts: m.ts })),
        receivedAt: m.ts,
        profile,
        limits: { maxPayloadBytes: 16_384, maxFuture: 300_000, maxPast: 7 * 86_400_000 },
      });
      expect(outcome.kind === 'readings' && outcome.refused, `${m.id} ${JSON.stringify(m.body)}`).toEqual([]);
    }
  });

  it('the fridge cycles between 3 and 5 °C, with door openings and compressor power', () => {
    const fridge = of('sim-fridge-1').slice(24); // after the first two hours
    const temps = fridge.map((m) => (m.body.cooler as { temperature: number }).temperature);
    expect(Math.min(...temps)).toBeGreaterThan(2);
    expect(Math.max(...temps)).toBeLessThan(6.5);
    expect(fridge.some((m) => (m.body.cooler as { door_open: boolean }).door_open)).toBe(true);
    expect(new Set(fridge.map((m) => (m.body.power as number) > 50)).size).toBe(2);
  });

  it('the plug energy counter grows, and resets once', () => {
    const energy = of('sim-plug-1').map((m) => m.body.energy as number);
    const drops = energy.filter((e, i) => i > 0 && e < energy[i - 1]!);
    expect(drops).toHaveLength(1);
    expect(energy[energy.length - 1]).toBeGreaterThan(0);
  });

  it('the smoke alarm tests itself on Sunday morning; lights are on in the evening; the thermostat follows its schedule', () => {
    const tests = of('sim-smoke-alarm-1').filter((m) => m.body.test_in_progress);
    expect(tests.map((m) => new Date(m.ts).toISOString())).toEqual(['2026-11-22T09:00:00.000Z']);
    const lightOn = of('sim-light-1').filter((m) => m.body.on).map((m) => new Date(m.ts).getUTCHours());
    expect(lightOn.length).toBeGreaterThan(0);
    expect(lightOn.every((h) => h >= 5 && h <= 23)).toBe(true);
    const setpoints = new Set(of('sim-thermostat-1').map((m) => m.body.setpoint_heat));
    expect([...setpoints].sort()).toEqual([16, 17, 21]);
  });
});
