import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadProfiles, profileSchema, type DeviceProfile } from '../../../src/devices/index.js';
import { interpretMessage, matchTopic, resolveTimestamp, type IngestOutcome } from '../../../src/ingest/index.js';
import { DEVICES_DIR } from '../../helpers/gateway.js';

const NOW = Date.parse('2026-11-23T12:00:00Z');
const limits = { maxPayloadBytes: 1024, maxFuture: 5 * 60_000, maxPast: 7 * 86_400_000 };
const shipped = loadProfiles(DEVICES_DIR);

function profile(name: string): DeviceProfile {
  const p = shipped.profiles.get(name);
  if (!p) throw new Error(`no profile ${name}: ${shipped.errors.map((e) => e.message).join('\n')}`);
  return p;
}

function inline(yaml: Record<string, unknown>): DeviceProfile {
  return { ...profileSchema.parse({ version: 1, ...yaml }), name: 'inline', file: 'inline.yaml' };
}

function run(p: DeviceProfile, subtopic: string, payload: string | object, extra: { receivedAt?: number; viaBridge?: boolean } = {}): IngestOutcome {
  const text = typeof payload === 'string' ? payload : JSON.stringify(payload);
  return interpretMessage({ deviceId: 'd1', subtopic, payload: Buffer.from(text), receivedAt: extra.receivedAt ?? NOW, profile: p, limits, viaBridge: extra.viaBridge ?? false });
}

function values(o: IngestOutcome): Record<string, unknown> {
  if (o.kind !== 'readings') throw new Error(`expected readings, got ${JSON.stringify(o)}`);
  return Object.fromEntries(o.readings.map((r) => [r.component ? `${r.component}.${r.metric}` : r.metric, r.value]));
}

describe('shipped profiles', () => {
  it('all load without errors', () => {
    expect(shipped.errors.map((e) => e.message)).toEqual([]);
    expect([...shipped.profiles.keys()]).toEqual(
      expect.arrayContaining(['thermostat', 'radiator-valve', 'light', 'fridge', 'smart-plug', 'smoke-co-alarm', 'contact-sensor', 'motion-sensor', 'door-lock', 'coffee-machine', 'z2m-contact', 'z2m-light', 'tasmota-plug', 'shelly-plug']),
    );
  });
});

describe('mapping language', () => {
  it('Zigbee2MQTT contact: inverts contact, converts mV to V, ignores unmapped fields', () => {
    const o = run(profile('z2m-contact'), '', { contact: true, battery: 100, voltage: 3045, linkquality: 96, last_seen: '2026-11-23T12:00:00+01:00' }, { viaBridge: true });
    expect(values(o)).toEqual({ open: false, battery: 100, battery_voltage: 3.045 });
    expect(o.kind === 'readings' && o.timeSource).toBe('gateway');
  });

  it('Zigbee2MQTT light: ON/OFF map, 0–254 to %, mired to K', () => {
    expect(values(run(profile('z2m-light'), '', { state: 'ON', brightness: 254, color_temp: 370 }, { viaBridge: true }))).toEqual({ on: true, brightness: 100, color_temperature: 2702.7027027 });
    expect(values(run(profile('z2m-light'), '', { state: 'OFF', brightness: 127 }, { viaBridge: true }))).toEqual({ on: false, brightness: 50 });
  });

  it('Zigbee2MQTT availability in both generations', () => {
    expect(run(profile('z2m-light'), 'availability', { state: 'offline' }, { viaBridge: true })).toEqual({ kind: 'status', online: false });
    expect(run(profile('z2m-light'), 'availability', 'online', { viaBridge: true })).toEqual({ kind: 'status', online: true });
    expect(run(profile('z2m-light'), 'set', { state: 'ON' }, { viaBridge: true })).toEqual({ kind: 'ignored' });
  });

  it('Tasmota: nested paths, text topic, ISO time without offset → gateway time', () => {
    const o = run(profile('tasmota-plug'), 'tele/SENSOR', { Time: '2026-11-23T11:59:00', ENERGY: { Total: 6.294, Power: 2635, Voltage: 227, Current: 11.661 } });
    expect(values(o)).toEqual({ power: 2635, energy: 6.294, voltage: 227, current: 11.661 });
    expect(o.kind === 'readings' && o.ts).toBe(NOW);
    expect(values(run(profile('tasmota-plug'), 'stat/POWER', 'OFF'))).toEqual({ on: false });
    expect(run(profile('tasmota-plug'), 'tele/LWT', 'Offline')).toEqual({ kind: 'status', online: false });
    expect(run(profile('tasmota-plug'), 'stat/RESULT', { POWER: 'ON' })).toEqual({ kind: 'ignored' });
  });

  it('Shelly Gen2: Wh to kWh, partial NotifyStatus, updates of other parts skipped', () => {
    expect(values(run(profile('shelly-plug'), 'status/switch:0', { id: 0, output: true, apower: 12.3, voltage: 232.6, current: 0.051, aenergy: { total: 1520.4 } }))).toEqual({
      on: true,
      power: 12.3,
      voltage: 232.6,
      current: 0.051,
      energy: 1.5204,
    });
    expect(values(run(profile('shelly-plug'), 'events/rpc', { method: 'NotifyStatus', params: { ts: 1661517432.85, 'switch:0': { id: 0, output: false } } }))).toEqual({ on: false });
    expect(run(profile('shelly-plug'), 'events/rpc', { method: 'NotifyStatus', params: { ts: 1.61, mqtt: { connected: true } } })).toEqual({ kind: 'ignored' });
    expect(run(profile('shelly-plug'), 'online', 'false')).toEqual({ kind: 'status', online: false });
  });

  it('°F to °C with a range, enum maps from numbers, topic placeholders as components', () => {
    const p = inline({
      kind: 'fridge',
      components: ['cooler', 'freezer'],
      metrics: { temperature: { type: 'number', unit: '°C', min: -40, max: 30, resolution: 0.1 }, mode: { type: 'enum', values: ['normal', 'eco'] } },
      mappings: [
        {
          topic: '{component}/state',
          readings: [
            { metric: 'temperature', component: '{component}', path: 'temp_f', range: { from: [32, 212], to: [0, 100] } },
            { metric: 'mode', component: '{component}', path: 'mode', map: { '0': 'normal', '1': 'eco' } },
          ],
        },
      ],
    });
    const o = run(p, 'freezer/state', { temp_f: -0.4, mode: 1 });
    expect(o.kind === 'readings' && o.readings.map((r) => [r.component, r.metric, r.value])).toEqual([
      ['freezer', 'temperature', -18],
      ['freezer', 'mode', 'eco'],
    ]);
    const bad = run(p, 'pantry/state', { temp_f: 40 });
    expect(bad).toMatchObject({ kind: 'rejected', reason: 'unknown_component' });
    expect(run(p, 'freezer/other', { temp_f: 40 })).toMatchObject({ kind: 'rejected', reason: 'unknown_topic' });
  });

  it('native fridge: components nested by name', () => {
    const o = run(profile('fridge'), 'telemetry', { cooler: { temperature: 4.1, setpoint: 4, door_open: true }, freezer: { temperature: -18.2 }, power: 85.5, energy: 312.25 });
    expect(values(o)).toEqual({ 'cooler.temperature': 4.1, 'cooler.setpoint': 4, 'cooler.door_open': true, 'freezer.temperature': -18.2, power: 85.5, energy: 312.25 });
  });

  it('never-stored metrics are checked, then dropped', () => {
    const o = run(profile('door-lock'), 'telemetry', { locked: false, unlocked_by: 2 });
    expect(values(o)).toEqual({ locked: false });
    expect(run(profile('door-lock'), 'telemetry', { unlocked_by: -1 })).toMatchObject({ kind: 'rejected', reason: 'out_of_range' });
  });

  it('topic patterns: +, #, placeholders inside a level', () => {
    expect(matchTopic('', '')).toEqual({});
    expect(matchTopic('', 'set')).toBeUndefined();
    expect(matchTopic('#', '')).toEqual({});
    expect(matchTopic('tele/+', 'tele/SENSOR')).toEqual({});
    expect(matchTopic('status/switch:{channel}', 'status/switch:1')).toEqual({ channel: '1' });
    expect(matchTopic('status/switch:{channel}', 'status/cover:1')).toBeUndefined();
  });
});

describe('bad input (reason codes are part of the documented interface)', () => {
  const t = profile('thermostat');
  const cases: Array<[string, string, string]> = [
    ['not json', '{"temperature": 21', 'not_json'],
    ['not an object', '[21.5]', 'not_object'],
    ['a bare number', '21.5', 'not_object'],
    ['unknown metric', '{"tempreature": 21}', 'unknown_metric'],
    ['wrong type', '{"temperature": "21.5"}', 'wrong_type'],
    ['out of range', '{"temperature": 300}', 'out_of_range'],
    ['NaN as text', '{"temperature": "NaN"}', 'not_finite'],
    ['Infinity as text', '{"temperature": "-Infinity"}', 'not_finite'],
    ['enum not in list', '{"mode": "turbo"}', 'wrong_type'],
    ['no metric', `{"ts": ${NOW}}`, 'no_metrics'],
    ['too large', `{"temperature": 21, "pad": "${'x'.repeat(1100)}"}`, 'too_large'],
  ];
  for (const [what, payload, reason] of cases) {
    it(`${what} → ${reason}`, () => expect(run(t, 'telemetry', payload)).toMatchObject({ kind: 'rejected', reason }));
  }

  it('an unknown topic is refused; status is understood', () => {
    expect(run(t, 'telemetry/x', '{}')).toMatchObject({ kind: 'rejected', reason: 'unknown_topic' });
    expect(run(t, 'status', 'offline')).toEqual({ kind: 'status', online: false });
  });

  it('a partial message keeps its valid metrics and names the refused ones', () => {
    const o = run(t, 'telemetry', { temperature: 21.5, humidity: 140, colour: 'red', setpoint_heat: 'NaN' });
    expect(o).toMatchObject({ kind: 'readings', readings: [{ metric: 'temperature', value: 21.5 }] });
    expect(o.kind === 'readings' && o.refused.map((r) => [r.metric, r.reason])).toEqual([
      ['humidity', 'out_of_range'],
      ['colour', 'unknown_metric'],
      ['setpoint_heat', 'not_finite'],
    ]);
  });
});

describe('time rules (injected receive time)', () => {
  const t = profile('thermostat');
  const at = (ts: unknown) => run(t, 'telemetry', { temperature: 20, ts });
  it.each([
    ['epoch ms', NOW - 60_000, NOW - 60_000, 'device'],
    ['ISO with Z', '2026-11-23T11:59:00Z', NOW - 60_000, 'device'],
    ['ISO with offset', '2026-11-23T12:59:00.000+01:00', NOW - 60_000, 'device'],
    ['missing', undefined, NOW, 'gateway'],
    ['zero', 0, NOW, 'gateway'],
    ['epoch seconds', Math.floor(NOW / 1000) - 60, NOW, 'gateway'],
    ['uptime counter', 66_972, NOW, 'gateway'],
    ['ISO without offset', '2026-11-23T11:59:00', NOW, 'gateway'],
    ['garbage text', 'yesterday', NOW, 'gateway'],
  ])('%s', (_what, ts, expected, source) => {
    expect(at(ts)).toMatchObject({ kind: 'readings', ts: expected, timeSource: source });
  });

  it('beyond max_future / max_past is quarantined', () => {
    expect(at(NOW + 5 * 60_000 + 1)).toMatchObject({ kind: 'rejected', reason: 'ts_too_far_future' });
    expect(at(NOW + 5 * 60_000)).toMatchObject({ kind: 'readings' });
    expect(at(NOW - 7 * 86_400_000 - 1)).toMatchObject({ kind: 'rejected', reason: 'ts_too_far_past' });
  });

  it('resolveTimestamp rounds fractional ms', () => {
    expect(resolveTimestamp(NOW + 0.6, NOW)).toEqual({ ts: NOW + 1, timeSource: 'device' });
  });
});

describe('profile validation', () => {
  it('reports mapping mistakes at their path', () => {
    const r = profileSchema.safeParse({
      version: 1,
      kind: 'x',
      metrics: { on: { type: 'boolean' }, mode: { type: 'enum', values: ['a'] } },
      mappings: [{ topic: '', readings: [{ metric: 'nope' }, { metric: 'on', scale: 2 }, { metric: 'mode', map: { '1': 'b' } }, { metric: 'on', component: 'x' }] }, { topic: 'y' }],
    });
    expect(r.success).toBe(false);
    expect(r.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`)).toMatchInlineSnapshot(`
      [
        "mappings.1: a mapping has exactly one of readings, status or ignore: true",
        "mappings.0.readings.0.metric: "nope" is not a metric of this profile (declare it under metrics)",
        "mappings.0.readings.1: reciprocal, range, scale and offset apply to number metrics; "on" is boolean",
        "mappings.0.readings.2.map.1: maps to "b", which is not one of a",
        "mappings.0.readings.3.component: "x" is neither a declared component nor a placeholder of the topic",
      ]
    `);
  });

  it('a mapping metric or component named like a built-in JavaScript property must be declared', () => {
    const r = profileSchema.safeParse({
      version: 1,
      kind: 'x',
      components: ['constructor'],
      metrics: { on: { type: 'boolean' } },
      mappings: [{ topic: '', readings: [{ metric: 'constructor' }, { metric: 'on', component: 'constructor' }] }],
    });
    expect(r.success).toBe(false);
    // Neither "has the name of a metric" for the component nor a pass for the undeclared metric.
    expect(r.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`)).toEqual(['mappings.0.readings.0.metric: "constructor" is not a metric of this profile (declare it under metrics)']);
  });

  it('a topic placeholder named like a built-in JavaScript property is captured as such', () => {
    const captures = matchTopic('switch/{__proto__}/{constructor}', 'switch/1/2');
    expect(captures && Object.entries(captures)).toEqual([
      ['__proto__', '1'],
      ['constructor', '2'],
    ]);
  });

  it('keeps the foundation profile shape valid', () => {
    expect(profileSchema.safeParse({ version: 1, kind: 'thermostat', metrics: { temperature: { type: 'number', unit: '°C' } } }).success).toBe(true);
  });

  it('sluice.yaml never_store marks a metric never-stored', () => {
    const loaded = loadProfiles(DEVICES_DIR, { neverStore: ['thermostat.humidity'] });
    expect(loaded.profiles.get('thermostat')!.metrics.humidity!.never_store).toBe(true);
    expect(join(DEVICES_DIR)).toBeTruthy();
  });
});
