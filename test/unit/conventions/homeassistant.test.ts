import { describe, expect, it } from 'vitest';
import { compileTemplate, homeassistant, homeassistantStateTopics, renderTemplate, type HaState } from '../../../src/conventions/index.js';
import * as f from '../../fixtures/conventions/homeassistant.js';

const ctx = { base: f.base, namespace: f.namespace };
const now = 1_767_225_600_000;

function feed(messages: [string, Buffer][], state: HaState = homeassistant.initialState()) {
  const outcomes = [];
  for (const [t, p] of messages) {
    const r = homeassistant.interpret(state, ctx, t, p, now);
    state = r.state;
    outcomes.push(...r.outcomes);
  }
  return { state, outcomes };
}

describe('value_template subset', () => {
  const render = (t: string, payload: string) => renderTemplate(compileTemplate(t), payload);
  it('renders the common forms', () => {
    expect(render('{{ value }}', '21.5')).toEqual({ ok: true, value: '21.5' });
    expect(render('{{ value_json.a.b }}', '{"a":{"b":3}}')).toEqual({ ok: true, value: 3 });
    expect(render("{{ value_json['a-b'] }}", '{"a-b":4}')).toEqual({ ok: true, value: 4 });
    expect(render('{{ value_json["t"] | float | round(1) }}', '{"t":"21.46"}')).toEqual({ ok: true, value: 21.5 });
    expect(render('{{ value_json.p | float / 1000 }}', '{"p":1520}')).toEqual({ ok: true, value: 1.52 });
    expect(render('{{ value | int }}', '42.9')).toEqual({ ok: true, value: 42 });
    expect(render('{{ value | multiply(0.1) }}', '215')).toEqual({ ok: true, value: 21.5 });
    expect(render('{{ value_json.l[1] }}', '{"l":[1,2]}')).toEqual({ ok: true, value: 2 });
    expect(render('{{ value_json.on }}', '{"on":true}')).toEqual({ ok: true, value: 'True' });
    expect(render('{{ value | float(0) }}', 'nan?')).toEqual({ ok: true, value: 0 });
  });
  it('does not reach the prototype and reports missing fields', () => {
    expect(render('{{ value_json.constructor }}', '{}')).toEqual({ ok: false, reason: 'value_json has no constructor' });
    expect(render('{{ value_json.__proto__ }}', '{"a":1}')).toEqual({ ok: false, reason: 'value_json has no __proto__' });
  });
  it('refuses what it cannot evaluate', () => {
    for (const t of ['{% if value %}1{% endif %}', '{{ states("sensor.x") }}', '{{ value_json.x | timestamp_local }}', '{{ value_json.a if value_json.a else 0 }}', '{{ value }} W']) {
      expect(compileTemplate(t).ok).toBe(false);
    }
  });
});

describe('homeassistant convention', () => {
  it('learns a single-component sensor with abbreviations, converting °F to °C', () => {
    const { state, outcomes } = feed([[f.temperatureTopic, f.temperatureConfig]]);
    expect(outcomes).toEqual([
      {
        kind: 'devices',
        removed: [],
        devices: [{ key: 'kitchen-node-ea3344', name: 'Kitchen node', kind: 'sensor', manufacturer: 'Espressif', model: 'esp32dev', flags: [], metrics: [{ metric: 'temperature', component: '', type: 'number', unit: '°C' }] }],
      },
    ]);
    expect(homeassistantStateTopics(state).sort()).toEqual(['kitchen-node/sensor/climate/state', 'kitchen-node/status']);
    const r = homeassistant.interpret(state, ctx, 'kitchen-node/sensor/climate/state', f.climateState, now).outcomes;
    expect(r).toEqual([{ kind: 'readings', deviceKey: 'kitchen-node-ea3344', readings: [{ metric: 'temperature', component: '', value: 22, unit: '°C' }], notes: [] }]);
    expect(homeassistant.interpret(state, ctx, 'kitchen-node/status', Buffer.from('offline'), now).outcomes).toEqual([{ kind: 'availability', deviceKey: 'kitchen-node-ea3344', online: false }]);
  });

  it('learns device-based discovery: shared state topic, Wh → kWh, arithmetic templates, flags what it cannot read', () => {
    const { state, outcomes } = feed([[f.deviceTopic, f.deviceConfig]]);
    const d = outcomes[0]!;
    if (d.kind !== 'devices') throw new Error(d.kind);
    expect(d.devices[0]!.metrics).toEqual([
      { metric: 'humidity', component: '', type: 'number', unit: '%' },
      { metric: 'power', component: '', type: 'number', unit: 'W' },
      { metric: 'energy', component: '', type: 'number', unit: 'kWh', counter: true },
    ]);
    expect(d.devices[0]!.flags.map((x) => x.code)).toEqual(['unsupported_template', 'unsupported_component']);
    const climate = homeassistant.interpret(state, ctx, 'kitchen-node/sensor/climate/state', f.climateState, now).outcomes;
    expect(climate).toEqual([
      { kind: 'readings', deviceKey: 'kitchen-node-ea3344', readings: [{ metric: 'humidity', component: '', value: 43.7, unit: '%' }, { metric: 'power', component: '', value: 1520.4, unit: 'W' }], notes: [] },
    ]);
    expect(homeassistant.interpret(state, ctx, 'kitchen-node/status', Buffer.from('online'), now).outcomes).toEqual([{ kind: 'availability', deviceKey: 'kitchen-node-ea3344', online: true }]);
    const energy = homeassistant.interpret(state, ctx, 'kitchen-node/sensor/energy/state', Buffer.from('12345'), now).outcomes;
    expect(energy).toEqual([{ kind: 'readings', deviceKey: 'kitchen-node-ea3344', readings: [{ metric: 'energy', component: '', value: 12.345, unit: 'kWh' }], notes: [] }]);
  });

  it('merges single-component configs of one device and removes an entity on an empty config', () => {
    const both = feed([[f.temperatureTopic, f.temperatureConfig], [f.deviceTopic, f.deviceConfig]]);
    const last = both.outcomes[1]!;
    expect(last.kind === 'devices' && last.devices[0]!.metrics.map((m) => m.metric)).toEqual(['temperature', 'humidity', 'power', 'energy']);
    const gone = homeassistant.interpret(both.state, ctx, f.temperatureTopic, Buffer.alloc(0), now);
    expect(gone.outcomes[0]!.kind === 'devices' && gone.outcomes[0]!.devices[0]!.metrics.map((m) => m.metric)).toEqual(['humidity', 'power', 'energy']);
    const all = homeassistant.interpret(gone.state, ctx, f.deviceTopic, Buffer.alloc(0), now);
    expect(all.outcomes).toEqual([{ kind: 'devices', devices: [], removed: ['kitchen-node-ea3344'] }]);
    expect(all.state.entities.size).toBe(0);
  });

  it('reads a JSON-schema light with ~ topics; brightness 0–255 → %, mired → K', () => {
    const { state, outcomes } = feed([[f.lightTopic, f.lightConfig]]);
    expect(outcomes[0]!.kind === 'devices' && outcomes[0]!.devices[0]!.kind).toBe('light');
    const r = homeassistant.interpret(state, ctx, 'homeassistant/light/kitchen/state', f.lightState, now).outcomes;
    expect(r).toEqual([
      {
        kind: 'readings',
        deviceKey: 'light-ea33',
        readings: [
          { metric: 'on', component: '', value: true },
          { metric: 'brightness', component: '', value: 20, unit: '%' },
          { metric: 'color_temperature', component: '', value: 4000, unit: 'K' },
        ],
        notes: [],
      },
    ]);
  });

  it('maps a door binary sensor to open with HA polarity (ON = open)', () => {
    const { state, outcomes } = feed([[f.doorTopic, f.doorConfig]]);
    expect(outcomes[0]!.kind === 'devices' && outcomes[0]!.devices[0]!.kind).toBe('contact_sensor');
    const t = 'homeassistant/binary_sensor/garden/state';
    expect(homeassistant.interpret(state, ctx, t, Buffer.from('ON'), now).outcomes[0]).toMatchObject({ readings: [{ metric: 'open', value: true }] });
    expect(homeassistant.interpret(state, ctx, t, Buffer.from('OFF'), now).outcomes[0]).toMatchObject({ readings: [{ metric: 'open', value: false }] });
    expect(homeassistant.interpret(state, ctx, t, Buffer.from('ajar'), now).outcomes[0]).toMatchObject({ readings: [], notes: ['open: unexpected value "ajar"'] });
  });

  it('refuses configs pointing outside the publisher’s namespace, and malformed ones', () => {
    const s = homeassistant.initialState();
    const spy = homeassistant.interpret(s, ctx, 'homeassistant/sensor/spy/config', f.malformed.foreign, now);
    expect(spy.outcomes[0]).toMatchObject({ kind: 'rejected', reason: 'outside_namespace' });
    expect(spy.state.entities.size).toBe(0);
    const narrow = { base: f.base, namespace: ['homeassistant/sensor/kitchen-node/#', 'kitchen-node/#'] };
    expect(homeassistant.interpret(s, narrow, f.doorTopic, f.doorConfig, now).outcomes[0]).toMatchObject({ kind: 'rejected', reason: 'outside_namespace' });
    expect(homeassistant.interpret(s, narrow, f.temperatureTopic, f.temperatureConfig, now).outcomes[0]!.kind).toBe('devices');
    expect(homeassistant.interpret(s, ctx, f.temperatureTopic, f.malformed.notJson, now).outcomes[0]).toMatchObject({ kind: 'rejected', reason: 'not_json' });
    expect(homeassistant.interpret(s, ctx, f.temperatureTopic, f.malformed.notObject, now).outcomes[0]).toMatchObject({ kind: 'rejected', reason: 'not_object' });
    expect(homeassistant.interpret(s, ctx, f.deviceTopic, f.malformed.noCmps, now).outcomes[0]).toMatchObject({ kind: 'rejected', reason: 'malformed' });
    expect(homeassistant.interpret(s, ctx, 'homeassistant/status', Buffer.from('online'), now).outcomes[0]!.kind).toBe('ignored');
  });
});
