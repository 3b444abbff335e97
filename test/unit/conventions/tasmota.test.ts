import { describe, expect, it } from 'vitest';
import { tasmota, type TasmotaState } from '../../../src/conventions/index.js';
import * as f from '../../fixtures/conventions/tasmota.js';

const ctx = { base: '', namespace: ['tele/washer/#', 'stat/washer/#', 'tasmota/discovery/#'] };
const now = 1_768_498_630_000;

function feed(messages: [string, Buffer][], state: TasmotaState = tasmota.initialState()) {
  const outcomes = [];
  for (const [t, p] of messages) {
    const r = tasmota.interpret(state, ctx, t, p, now);
    state = r.state;
    outcomes.push(...r.outcomes);
  }
  return { state, outcomes };
}

const discovered = () => feed([[`tasmota/discovery/${f.mac}/config`, f.discoveryConfig], [`tasmota/discovery/${f.mac}/sensors`, f.discoverySensors]]);

describe('tasmota convention', () => {
  it('subscribes to tele, stat and native discovery', () => {
    expect(tasmota.subscriptions('')).toEqual(['tele/+/+', 'stat/+/+', 'tasmota/discovery/#']);
    expect(tasmota.subscriptions('home')).toEqual(['home/tele/+/+', 'home/stat/+/+', 'tasmota/discovery/#']);
  });

  it('learns a plug from tasmota/discovery, identified by MAC, metrics from its sensors', () => {
    const { outcomes } = discovered();
    const last = outcomes[1]!;
    if (last.kind !== 'devices') throw new Error(last.kind);
    expect(last.devices[0]).toMatchObject({ key: 'DC4F22AABB01', name: 'Washing machine', kind: 'smart_plug', model: 'Sonoff Pow R2' });
    expect(last.devices[0]!.metrics).toEqual([
      { metric: 'on', component: '', type: 'boolean' },
      { metric: 'energy', component: '', type: 'number', unit: 'kWh', counter: true },
      { metric: 'power', component: '', type: 'number', unit: 'W' },
      { metric: 'voltage', component: '', type: 'number', unit: 'V' },
      { metric: 'current', component: '', type: 'number', unit: 'A' },
    ]);
  });

  it('reads ENERGY in neutral units and notes that Time has no offset', () => {
    const { state } = discovered();
    const o = tasmota.interpret(state, ctx, 'tele/washer/SENSOR', f.energySensor, now).outcomes;
    const note = 'Time 2026-01-15T17:37:10 has no UTC offset; the receive time is used (set the timezone and SetOption52 1 on the device)';
    // Factor was not in the discovery sensors: the device learns a metric first.
    expect(o[0]).toMatchObject({ kind: 'devices', devices: [{ key: 'DC4F22AABB01' }] });
    expect(o[0]!.kind === 'devices' && o[0]!.devices[0]!.metrics.at(-1)).toEqual({ metric: 'power_factor', component: '', type: 'number' });
    expect(o.slice(1)).toEqual([
      {
        kind: 'readings',
        deviceKey: 'DC4F22AABB01',
        notes: [],
        readings: [
          { metric: 'energy', component: '', value: 6.294, unit: 'kWh', tsNote: note },
          { metric: 'power', component: '', value: 2635, unit: 'W', tsNote: note },
          { metric: 'voltage', component: '', value: 227, unit: 'V', tsNote: note },
          { metric: 'current', component: '', value: 11.661, unit: 'A', tsNote: note },
          { metric: 'power_factor', component: '', value: 0.99, tsNote: note },
        ],
      },
    ]);
  });

  it('uses Time when it carries an offset', () => {
    const { state } = discovered();
    const o = tasmota.interpret(state, ctx, 'tele/washer/SENSOR', f.energyWithOffset, now).outcomes.at(-1)!;
    expect(o.kind === 'readings' && o.readings[0]).toEqual({ metric: 'energy', component: '', value: 6.3, unit: 'kWh', ts: Date.parse('2026-01-15T16:37:10Z') });
  });

  it('notes an energy counter reset', () => {
    const { outcomes } = feed([['tele/washer/SENSOR', f.energySensor], ['tele/washer/SENSOR', f.energyAfterReset]], discovered().state);
    const last = outcomes.at(-1)!;
    expect(last.kind === 'readings' && last.notes).toEqual(['energy counter reset: Total 0.002 after 6.294']);
  });

  it('reads STATE POWER, stat POWER and LWT', () => {
    const { state } = discovered();
    expect(tasmota.interpret(state, ctx, 'tele/washer/STATE', f.state, now).outcomes.at(-1)).toMatchObject({ kind: 'readings', readings: [{ metric: 'on', component: '', value: true }] });
    expect(tasmota.interpret(state, ctx, 'stat/washer/POWER', Buffer.from('OFF'), now).outcomes.at(-1)).toMatchObject({ readings: [{ metric: 'on', value: false }] });
    expect(tasmota.interpret(state, ctx, 'tele/washer/LWT', Buffer.from('Offline'), now).outcomes).toEqual([{ kind: 'availability', deviceKey: 'DC4F22AABB01', online: false }]);
  });

  it('converts °F per TempUnit and names components when a device has several sensors', () => {
    const s0 = tasmota.initialState();
    const a = tasmota.interpret(s0, ctx, 'tele/probe/SENSOR', f.ds18b20Fahrenheit, now).outcomes;
    expect(a[0]).toMatchObject({ kind: 'devices', devices: [{ key: 'probe', kind: 'sensor', metrics: [{ metric: 'temperature', unit: '°C' }] }] });
    expect(a[1]).toMatchObject({ kind: 'readings', readings: [{ metric: 'temperature', component: '', value: 21, unit: '°C' }] });
    const b = tasmota.interpret(s0, ctx, 'tele/probe/SENSOR', f.twoSensors, now).outcomes.at(-1)!;
    expect(b.kind === 'readings' && b.readings.map((r) => [r.metric, r.component, r.value])).toEqual([
      ['temperature', 'am2301', 21],
      ['humidity', 'am2301', 40],
      ['temperature', 'ds18b20', 20.5],
    ]);
  });

  it('rejects malformed messages and notes wrong types', () => {
    const { state } = discovered();
    expect(tasmota.interpret(state, ctx, 'tele/washer/SENSOR', f.malformed.notJson, now).outcomes[0]).toMatchObject({ kind: 'rejected', reason: 'not_json' });
    expect(tasmota.interpret(state, ctx, 'tele/washer/SENSOR', f.malformed.notObject, now).outcomes[0]).toMatchObject({ kind: 'rejected', reason: 'not_object' });
    expect(tasmota.interpret(state, ctx, 'tele/washer/LWT', f.malformed.lwt, now).outcomes[0]).toMatchObject({ kind: 'rejected', reason: 'malformed' });
    expect(tasmota.interpret(state, ctx, `tasmota/discovery/${f.mac}/config`, f.malformed.noTopic, now).outcomes[0]).toMatchObject({ kind: 'rejected', reason: 'malformed' });
    expect(tasmota.interpret(state, ctx, 'tele/washer/SENSOR', f.malformed.wrongType, now).outcomes.at(-1)).toMatchObject({ readings: [], notes: ['power: expected a number'] });
    expect(tasmota.interpret(state, ctx, 'tele/washer/INFO1', Buffer.from('{}'), now).outcomes[0]!.kind).toBe('ignored');
  });
});
