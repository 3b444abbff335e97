import { describe, expect, it } from 'vitest';
import { BridgeInterpreter, CONVENTION_NAMES, conventions, type ConventionName } from '../../../src/conventions/index.js';
import * as ha from '../../fixtures/conventions/homeassistant.js';
import * as z2m from '../../fixtures/conventions/zigbee2mqtt.js';

const now = 1_768_498_650_000;

// Messages each convention must survive without throwing: odd topics and hostile payloads.
const payloads = ['', 'null', '[]', '{}', '"x"', '{"__proto__":{"x":1}}', '{"constructor":{"prototype":{}}}', 'online', '\u0000\uffff', '{"params":{"ts":"soon"},"method":"NotifyStatus"}', '[{"ieee_address":1}]', '{"cmps":[]}'];
const suffixes = ['', '/', '#', 'bridge/devices', 'x/availability', '__proto__', 'constructor/$properties', '5/x/$description', 'tele/x/SENSOR', 'stat/x/POWER', 'x/events/rpc', 'x/status/switch:0', 'sensor/x/config', 'device/x/config', 'x/$state', 'toString/toString/toString'];

describe('every convention meets the Convention contract', () => {
  it('lists the five bridge profiles', () => {
    expect([...CONVENTION_NAMES].sort()).toEqual(['homeassistant', 'homie', 'shelly', 'tasmota', 'zigbee2mqtt']);
  });

  for (const name of CONVENTION_NAMES) {
    const c = conventions[name];
    it(`${name}: subscribes under its base, never throws, answers every message, leaves the given state alone`, () => {
      const base = c.defaultBaseTopic;
      const ctx = { base, namespace: ['#'] };
      expect(c.subscriptions(base).length).toBeGreaterThan(0);
      let state: unknown = c.initialState();
      // The contract is the same for every state type: erase it here.
      const interpret = c.interpret as unknown as (st: unknown, ...a: unknown[]) => { state: unknown; outcomes: { kind: string }[] };
      for (const s of suffixes) {
        for (const p of payloads) {
          const topic = base === '' ? s : `${base}/${s}`;
          const before = structuredClone(state);
          const r = interpret(state, ctx, topic, Buffer.from(p), now);
          expect(r.outcomes.length).toBeGreaterThan(0);
          expect(state).toEqual(before);
          state = r.state;
        }
      }
      expect(Object.getPrototypeOf({})).toBe(Object.prototype);
      expect(({} as Record<string, unknown>).x).toBeUndefined();
    });
  }

  it('BridgeInterpreter carries a bridge’s state between messages', () => {
    const bridge = new BridgeInterpreter('zigbee2mqtt');
    const ctx = { base: 'zigbee2mqtt', namespace: ['zigbee2mqtt/#'] };
    expect(bridge.interpret(ctx, 'zigbee2mqtt/hall/door', z2m.contactState, now)[0]!.kind).toBe('ignored');
    bridge.interpret(ctx, 'zigbee2mqtt/bridge/devices', z2m.devicesMessage([z2m.coordinator, z2m.contact]), now);
    expect(bridge.interpret(ctx, 'zigbee2mqtt/hall/door', z2m.contactState, now)[0]!.kind).toBe('readings');
    const name: ConventionName = 'homeassistant';
    const other = new BridgeInterpreter(name);
    other.interpret({ base: 'homeassistant', namespace: ha.namespace }, ha.doorTopic, ha.doorConfig, now);
    expect(other.state.entities.size).toBe(1);
  });
});
