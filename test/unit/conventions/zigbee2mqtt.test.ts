import { describe, expect, it } from 'vitest';
import { zigbee2mqtt, type Z2mState } from '../../../src/conventions/index.js';
import * as f from '../../fixtures/conventions/zigbee2mqtt.js';

const ctx = { base: f.base, namespace: ['zigbee2mqtt/#'] };
const now = 1_767_225_600_000;

function learn(list: unknown[], state: Z2mState = zigbee2mqtt.initialState()) {
  return zigbee2mqtt.interpret(state, ctx, 'zigbee2mqtt/bridge/devices', f.devicesMessage(list), now);
}

describe('zigbee2mqtt convention', () => {
  it('subscribes under its base, zigbee2mqtt by default', () => {
    expect(zigbee2mqtt.defaultBaseTopic).toBe('zigbee2mqtt');
    expect(zigbee2mqtt.subscriptions('z2m')).toEqual(['z2m/#']);
  });

  it('learns devices from bridge/devices, leaving out the coordinator', () => {
    const { outcomes } = learn([f.coordinator, f.contact, f.plug, f.light, f.unsupported]);
    expect(outcomes).toHaveLength(1);
    const o = outcomes[0]!;
    if (o.kind !== 'devices') throw new Error(o.kind);
    expect(o.devices.map((d) => [d.key, d.name, d.kind])).toEqual(
      expect.arrayContaining([
        ['0x00158d0001a2b3c4', 'hall/door', 'contact_sensor'],
        ['0xa4c138d2e1f0a001', 'kitchen_plug', 'smart_plug'],
        ['0x0017880104dfc05e', 'hue_back_tv', 'light'],
        ['0x1111111111111111', '0x1111111111111111', 'unknown'],
      ]),
    );
    expect(o.devices.some((d) => d.key === f.coordinator.ieee_address)).toBe(false);
    const door = o.devices.find((d) => d.name === 'hall/door')!;
    expect(door.metrics).toEqual([
      { metric: 'open', component: '', type: 'boolean' },
      { metric: 'battery', component: '', type: 'number', unit: '%', min: 0, max: 100 },
      { metric: 'battery_voltage', component: '', type: 'number', unit: 'V' },
    ]);
    const lamp = o.devices.find((d) => d.kind === 'light')!;
    expect(lamp.metrics).toEqual([
      { metric: 'on', component: '', type: 'boolean' },
      { metric: 'brightness', component: '', type: 'number', unit: '%', min: 0, max: 100 },
      { metric: 'color_temperature', component: '', type: 'number', unit: 'K', min: 2000, max: 6536 },
    ]);
    expect(o.devices.find((d) => d.kind === 'unknown')!.flags[0]!.code).toBe('unsupported_component');
  });

  it('reads contact: true as closed (open false), voltage mV → V on a battery sensor, never from the prototype', () => {
    const { state } = learn([f.contact]);
    const { outcomes } = zigbee2mqtt.interpret(state, ctx, 'zigbee2mqtt/hall/door', f.contactState, now);
    expect(outcomes).toEqual([
      {
        kind: 'readings',
        deviceKey: '0x00158d0001a2b3c4',
        readings: [
          { metric: 'open', component: '', value: false },
          { metric: 'battery', component: '', value: 100, unit: '%' },
          { metric: 'battery_voltage', component: '', value: 3.045, unit: 'V' },
        ],
        notes: [],
      },
    ]);
    const open = zigbee2mqtt.interpret(state, ctx, 'zigbee2mqtt/hall/door', f.contactOpenState, now).outcomes[0]!;
    expect(open.kind === 'readings' && open.readings[0]).toEqual({ metric: 'open', component: '', value: true });
  });

  it('keeps a plug voltage in V as declared by its exposes', () => {
    const { state } = learn([f.plug]);
    const o = zigbee2mqtt.interpret(state, ctx, 'zigbee2mqtt/kitchen_plug', f.plugState, now).outcomes[0]!;
    expect(o.kind === 'readings' && o.readings).toEqual([
      { metric: 'on', component: '', value: true },
      { metric: 'power', component: '', value: 1520.4, unit: 'W' },
      { metric: 'voltage', component: '', value: 229.8, unit: 'V' },
      { metric: 'current', component: '', value: 6.62, unit: 'A' },
      { metric: 'energy', component: '', value: 12.345, unit: 'kWh' },
    ]);
  });

  it('matches friendly names containing / longest first', () => {
    const { state } = learn([f.contact, f.contactLeft]);
    const left = zigbee2mqtt.interpret(state, ctx, 'zigbee2mqtt/hall/door/left', f.contactState, now).outcomes[0]!;
    expect(left.kind === 'readings' && left.deviceKey).toBe('0x00158d0001a2b3c5');
    const door = zigbee2mqtt.interpret(state, ctx, 'zigbee2mqtt/hall/door', f.contactState, now).outcomes[0]!;
    expect(door.kind === 'readings' && door.deviceKey).toBe('0x00158d0001a2b3c4');
    const avail = zigbee2mqtt.interpret(state, ctx, 'zigbee2mqtt/hall/door/left/availability', f.availabilityJson, now).outcomes[0]!;
    expect(avail).toEqual({ kind: 'availability', deviceKey: '0x00158d0001a2b3c5', online: true });
  });

  it('keeps identity across a rename: same ieee key, state on the new name', () => {
    const first = learn([f.light]);
    const renamed = learn([f.lightRenamed], first.state);
    const o = renamed.outcomes[0]!;
    expect(o.kind === 'devices' && o.devices.map((d) => [d.key, d.name])).toEqual([['0x0017880104dfc05e', 'living/tv_light']]);
    expect(o.kind === 'devices' && o.removed).toEqual([]);
    const r = zigbee2mqtt.interpret(renamed.state, ctx, 'zigbee2mqtt/living/tv_light', f.lightState, now).outcomes[0]!;
    expect(r.kind === 'readings' && r.deviceKey).toBe('0x0017880104dfc05e');
    expect(r.kind === 'readings' && r.readings).toEqual([
      { metric: 'on', component: '', value: false },
      { metric: 'brightness', component: '', value: 50, unit: '%' },
      { metric: 'color_temperature', component: '', value: 2703, unit: 'K' },
    ]);
    expect(zigbee2mqtt.interpret(renamed.state, ctx, 'zigbee2mqtt/hue_back_tv', f.lightState, now).outcomes[0]!.kind).toBe('ignored');
  });

  it('reads one state per endpoint as components, and skips a numeric expose without a unit', () => {
    const { state, outcomes } = learn([f.twoGang]);
    expect(outcomes[0]).toMatchObject({ devices: [{ kind: 'smart_plug', metrics: [{ metric: 'on', component: 'l1' }, { metric: 'on', component: 'l2' }] }] });
    expect(outcomes[0]!.kind === 'devices' && outcomes[0]!.devices[0]!.metrics).toHaveLength(2);
    const r = zigbee2mqtt.interpret(state, ctx, 'zigbee2mqtt/stairs/switch', f.twoGangState, now).outcomes[0]!;
    expect(r.kind === 'readings' && r.readings).toEqual([
      { metric: 'on', component: 'l1', value: true },
      { metric: 'on', component: 'l2', value: false },
    ]);
  });

  it('reports a device that left the network as removed', () => {
    const first = learn([f.contact, f.plug]);
    const o = learn([f.plug], first.state).outcomes[0]!;
    expect(o.kind === 'devices' && o.removed).toEqual(['0x00158d0001a2b3c4']);
  });

  it('understands availability in JSON (2.x) and plain text (1.x)', () => {
    const { state } = learn([f.plug]);
    expect(zigbee2mqtt.interpret(state, ctx, 'zigbee2mqtt/kitchen_plug/availability', f.availabilityJson, now).outcomes[0]).toEqual({ kind: 'availability', deviceKey: '0xa4c138d2e1f0a001', online: true });
    expect(zigbee2mqtt.interpret(state, ctx, 'zigbee2mqtt/kitchen_plug/availability', f.availabilityLegacy, now).outcomes[0]).toEqual({ kind: 'availability', deviceKey: '0xa4c138d2e1f0a001', online: false });
  });

  it('ignores the bridge’s own topics and set/get echoes', () => {
    const { state } = learn([f.plug]);
    for (const t of ['zigbee2mqtt/bridge/state', 'zigbee2mqtt/bridge/info', 'zigbee2mqtt/kitchen_plug/set', 'zigbee2mqtt/unknown_thing']) {
      expect(zigbee2mqtt.interpret(state, ctx, t, Buffer.from('{"state":"online"}'), now).outcomes[0]!.kind).toBe('ignored');
    }
  });

  it('rejects malformed messages with a reason and notes wrong-typed values', () => {
    const s0 = zigbee2mqtt.initialState();
    expect(zigbee2mqtt.interpret(s0, ctx, 'zigbee2mqtt/bridge/devices', f.malformed.devicesNotJson, now).outcomes[0]).toMatchObject({ kind: 'rejected', reason: 'not_json' });
    expect(zigbee2mqtt.interpret(s0, ctx, 'zigbee2mqtt/bridge/devices', f.malformed.devicesNotArray, now).outcomes[0]).toMatchObject({ kind: 'rejected', reason: 'malformed' });
    const { state } = learn([f.contact]);
    expect(zigbee2mqtt.interpret(state, ctx, 'zigbee2mqtt/hall/door', f.malformed.stateNotObject, now).outcomes[0]).toMatchObject({ kind: 'rejected', reason: 'not_object' });
    expect(zigbee2mqtt.interpret(state, ctx, 'zigbee2mqtt/hall/door', f.malformed.stateWrongType, now).outcomes[0]).toEqual({
      kind: 'readings',
      deviceKey: '0x00158d0001a2b3c4',
      readings: [],
      notes: ['open: unexpected value "yes"', 'battery: expected a number'],
    });
    expect(zigbee2mqtt.interpret(state, ctx, 'zigbee2mqtt/hall/door/availability', f.malformed.availabilityOdd, now).outcomes[0]).toMatchObject({ kind: 'rejected', reason: 'malformed' });
  });
});
