import { describe, expect, it } from 'vitest';
import { homie, type HomieState } from '../../../src/conventions/index.js';
import * as f from '../../fixtures/conventions/homie.js';

const ctx = { base: 'homie', namespace: ['homie/#'] };
const now = 1_768_498_650_000;

function feed(messages: [string, string][], state: HomieState = homie.initialState()) {
  const outcomes = [];
  for (const [t, p] of messages) {
    const r = homie.interpret(state, ctx, t, Buffer.from(p), now);
    state = r.state;
    outcomes.push(...r.outcomes);
  }
  return { state, outcomes };
}

describe('homie convention', () => {
  it('learns a v4 device from its attributes: °F → °C on range and values, enums, Wh → kWh, string not kept', () => {
    const { outcomes } = feed(f.v4);
    const last = outcomes.filter((o) => o.kind === 'devices').at(-1)!;
    if (last.kind !== 'devices') throw new Error(last.kind);
    expect(last.devices[0]).toEqual({
      key: 'boiler-room',
      name: 'Boiler room',
      kind: 'smart_plug',
      flags: [{ code: 'unsupported_component', detail: 'tank/label: datatype string is not read' }],
      metrics: [
        { metric: 'temperature', component: 'tank', type: 'number', unit: '°C', min: 0, max: 100 },
        { metric: 'mode', component: 'tank', type: 'enum', values: ['eco', 'boost', 'off'] },
        { metric: 'on', component: 'pump', type: 'boolean' },
        { metric: 'energy', component: 'pump', type: 'number', unit: 'kWh' },
      ],
    });
    expect(outcomes.at(-1)).toEqual({ kind: 'availability', deviceKey: 'boiler-room', online: true });
  });

  it('reads v4 values in neutral units and treats $state lost (the will) as offline', () => {
    const { state } = feed(f.v4);
    const r = feed(
      [
        ['homie/boiler-room/tank/temperature', '140'],
        ['homie/boiler-room/tank/mode', 'boost'],
        ['homie/boiler-room/pump/power', 'true'],
        ['homie/boiler-room/pump/energy', '1500'],
        ['homie/boiler-room/pump/power/set', 'false'],
        ['homie/boiler-room/tank/label', 'hello'],
        ['homie/boiler-room/$state', 'lost'],
      ],
      state,
    ).outcomes;
    expect(r.slice(0, 4).map((o) => o.kind === 'readings' && o.readings[0])).toEqual([
      { metric: 'temperature', component: 'tank', value: 60, unit: '°C' },
      { metric: 'mode', component: 'tank', value: 'boost' },
      { metric: 'on', component: 'pump', value: true },
      { metric: 'energy', component: 'pump', value: 1.5, unit: 'kWh' },
    ]);
    expect(r[4]!.kind).toBe('ignored');
    expect(r[5]!.kind).toBe('ignored');
    expect(r[6]).toEqual({ kind: 'availability', deviceKey: 'boiler-room', online: false });
  });

  it('learns a v5 device from $description and reads its values under homie/5', () => {
    const { state, outcomes } = feed([['homie/5/kitchen-light/$description', f.v5Description], ['homie/5/kitchen-light/$state', 'ready']]);
    expect(outcomes[0]).toEqual({
      kind: 'devices',
      removed: [],
      devices: [
        {
          key: 'kitchen-light',
          name: 'Kitchen light',
          kind: 'light',
          flags: [],
          metrics: [
            { metric: 'on', component: 'light', type: 'boolean' },
            { metric: 'brightness', component: 'light', type: 'number', unit: '%', min: 0, max: 100 },
            // An own key named constructor is a property like any other; __proto__ is not a Homie id.
            { metric: 'constructor', component: 'light', type: 'number' },
          ],
        },
      ],
    });
    const r = feed([['homie/5/kitchen-light/light/brightness', '40'], ['homie/5/kitchen-light/light/brightness/$target', '100']], state).outcomes;
    expect(r[0]).toEqual({ kind: 'readings', deviceKey: 'kitchen-light', readings: [{ metric: 'brightness', component: 'light', value: 40, unit: '%' }], notes: [] });
    expect(r[1]!.kind).toBe('ignored');
  });

  it('looks nodes up as own keys: a node named constructor is just a node', () => {
    const { state } = feed([['homie/odd/$nodes', 'constructor,toString'], ['homie/odd/toString/temperature', '20'], ['homie/odd/constructor/$properties', 'x']]);
    expect(feed([['homie/odd/toString/temperature', '20']], state).outcomes[0]).toMatchObject({ kind: 'ignored', why: 'property not described yet' });
    expect(feed([['homie/odd/constructor/y', '1']], state).outcomes[0]).toMatchObject({ kind: 'ignored' });
  });

  it('removes a device whose $state is cleared', () => {
    const { state } = feed(f.v4);
    expect(feed([['homie/boiler-room/$state', '']], state).outcomes).toEqual([{ kind: 'devices', devices: [], removed: ['boiler-room'] }]);
  });

  it('rejects malformed attributes and notes bad values', () => {
    const { state } = feed(f.v4);
    expect(feed([['homie/boiler-room/$state', f.malformed.state]], state).outcomes[0]).toMatchObject({ kind: 'rejected', reason: 'malformed' });
    expect(feed([['homie/5/x/$description', f.malformed.description]]).outcomes[0]).toMatchObject({ kind: 'rejected', reason: 'malformed' });
    expect(feed([['homie/5/x/$description', f.malformed.descriptionNotJson]]).outcomes[0]).toMatchObject({ kind: 'rejected', reason: 'not_json' });
    expect(feed([['homie/boiler-room/tank/temperature', f.malformed.temperature]], state).outcomes[0]).toEqual({ kind: 'readings', deviceKey: 'boiler-room', readings: [], notes: ['temperature: expected a number'] });
    expect(feed([['homie/Bad_Id/$state', 'ready']]).outcomes[0]!.kind).toBe('ignored');
  });
});
