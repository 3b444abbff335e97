import { describe, expect, it } from 'vitest';
import { shelly, shellyStatus, type ShellyState } from '../../../src/conventions/index.js';
import * as f from '../../fixtures/conventions/shelly.js';

const ctx = { base: 'shellies', namespace: ['shellies/#'] };
const now = 1_768_498_650_000;
const t = (suffix: string) => `shellies/${f.id}/${suffix}`;

function feed(messages: [string, Buffer][], state: ShellyState = shelly.initialState()) {
  const outcomes = [];
  for (const [topic, p] of messages) {
    const r = shelly.interpret(state, ctx, topic, p, now);
    state = r.state;
    outcomes.push(...r.outcomes);
  }
  return { state, outcomes };
}

describe('shelly convention', () => {
  it('learns a Gen2 plug from its full switch status, Wh → kWh', () => {
    const { outcomes } = feed([[t('status/switch:0'), f.fullSwitch]]);
    expect(outcomes[0]).toEqual({
      kind: 'devices',
      removed: [],
      devices: [
        {
          key: f.id,
          name: f.id,
          kind: 'smart_plug',
          flags: [],
          metrics: [
            { metric: 'on', component: '', type: 'boolean' },
            { metric: 'power', component: '', type: 'number', unit: 'W' },
            { metric: 'voltage', component: '', type: 'number', unit: 'V' },
            { metric: 'current', component: '', type: 'number', unit: 'A' },
            { metric: 'energy', component: '', type: 'number', unit: 'kWh', counter: true },
          ],
        },
      ],
    });
    expect(outcomes[1]).toMatchObject({ kind: 'readings', readings: [{ metric: 'on', value: false }, { value: 0 }, { value: 232.7 }, { value: 0 }, { metric: 'energy', value: 1.5204, unit: 'kWh' }] });
  });

  it('merges NotifyStatus partial updates onto the last full status and reads only what changed, with the device ts', () => {
    const { state, outcomes } = feed([[t('status/switch:0'), f.fullSwitch], [t('events/rpc'), f.notifyOutput], [t('events/rpc'), f.notifyEnergy]]);
    expect(outcomes.filter((o) => o.kind === 'readings').slice(1)).toEqual([
      { kind: 'readings', deviceKey: f.id, notes: [], readings: [{ metric: 'on', component: '', value: true, ts: 1_768_498_632_850 }] },
      {
        kind: 'readings',
        deviceKey: f.id,
        notes: [],
        readings: [
          { metric: 'power', component: '', value: 1200.5, unit: 'W', ts: 1_768_498_640_500 },
          { metric: 'energy', component: '', value: 1.5404, unit: 'kWh', ts: 1_768_498_640_500 },
        ],
      },
    ]);
    expect(shellyStatus(state, f.id, 'switch:0')).toMatchObject({ output: true, apower: 1200.5, voltage: 232.7, source: 'WS_in', aenergy: { total: 1540.4, by_minute: [20, 0, 0] }, temperature: { tC: 39.2 } });
  });

  it('keeps a __proto__ key in a partial update as data', () => {
    const evil = Buffer.from('{"method":"NotifyStatus","params":{"ts":1768498640.5,"__proto__":{"output":true},"switch:0":{"__proto__":{"polluted":true},"apower":5}}}');
    const { state, outcomes } = feed([[t('status/switch:0'), f.fullSwitch], [t('events/rpc'), evil]]);
    expect(outcomes.at(-1)).toMatchObject({ readings: [{ metric: 'power', value: 5 }] });
    const merged = shellyStatus(state, f.id, 'switch:0')!;
    expect(Object.getPrototypeOf(merged)).toBe(Object.prototype);
    expect((merged as { polluted?: unknown }).polluted).toBeUndefined();
    expect(shellyStatus(state, f.id, '__proto__')).toBeUndefined();
  });

  it('notes an uptime ts before NTP sync instead of using it', () => {
    const o = feed([[t('events/rpc'), f.notifyBeforeNtp]]).outcomes.at(-1)!;
    expect(o.kind === 'readings' && o.readings).toEqual([{ metric: 'voltage', component: '', value: 231.9, unit: 'V', tsNote: 'ts 1.61 is not an epoch time (clock not yet synced); the receive time is used' }]);
  });

  it('ignores statuses and events without readings; reads online', () => {
    const { state } = feed([[t('status/switch:0'), f.fullSwitch]]);
    expect(shelly.interpret(state, ctx, t('events/rpc'), f.notifyMqttOnly, now).outcomes.at(-1)!.kind).toBe('ignored');
    expect(shelly.interpret(state, ctx, t('events/rpc'), f.notifyEvent, now).outcomes.at(-1)!.kind).toBe('ignored');
    expect(shelly.interpret(state, ctx, t('status/sys'), f.sys, now).outcomes.at(-1)!.kind).toBe('ignored');
    expect(shelly.interpret(state, ctx, t('online'), Buffer.from('false'), now).outcomes).toEqual([{ kind: 'availability', deviceKey: f.id, online: false }]);
  });

  it('reads Gen1: relay on/off, energy in watt-minutes and emeter totals in Wh', () => {
    const g = 'shellies/shelly1pm-8CAAB54B98DF';
    const { outcomes } = feed([
      ['shellies/announce', f.gen1Announce],
      [`${g}/relay/0`, Buffer.from('on')],
      [`${g}/relay/0/power`, Buffer.from('61.3')],
      [`${g}/relay/0/energy`, Buffer.from('120000')],
      ['shellies/shellyem-1/emeter/1/total', Buffer.from('2500.0')],
    ]);
    expect(outcomes[0]).toMatchObject({ kind: 'devices', devices: [{ key: 'shelly1pm-8CAAB54B98DF', model: 'SHSW-PM' }] });
    const readings = outcomes.flatMap((o) => (o.kind === 'readings' ? o.readings.map((r) => [o.deviceKey, r.metric, r.component, r.value, r.unit]) : []));
    expect(readings).toEqual([
      ['shelly1pm-8CAAB54B98DF', 'on', '', true, undefined],
      ['shelly1pm-8CAAB54B98DF', 'power', '', 61.3, 'W'],
      ['shelly1pm-8CAAB54B98DF', 'energy', '', 2, 'kWh'],
      ['shellyem-1', 'energy', 'ch1', 2.5, 'kWh'],
    ]);
  });

  it('rejects malformed messages and notes wrong types', () => {
    const s = shelly.initialState();
    expect(shelly.interpret(s, ctx, t('events/rpc'), f.malformed.notJson, now).outcomes[0]).toMatchObject({ kind: 'rejected', reason: 'not_json' });
    expect(shelly.interpret(s, ctx, t('status/switch:0'), f.malformed.notObject, now).outcomes[0]).toMatchObject({ kind: 'rejected', reason: 'not_object' });
    expect(shelly.interpret(s, ctx, t('events/rpc'), f.malformed.noParams, now).outcomes[0]).toMatchObject({ kind: 'rejected', reason: 'malformed' });
    expect(shelly.interpret(s, ctx, t('online'), f.malformed.online, now).outcomes[0]).toMatchObject({ kind: 'rejected', reason: 'malformed' });
    expect(shelly.interpret(s, ctx, 'shellies/x/relay/0', f.malformed.relay, now).outcomes[0]).toMatchObject({ kind: 'rejected', reason: 'malformed' });
    expect(shelly.interpret(s, ctx, t('events/rpc'), f.malformed.wrongType, now).outcomes.at(-1)).toMatchObject({ kind: 'readings', readings: [], notes: ['on: expected a boolean', 'power: expected a number'] });
  });
});
