import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManualClock, openDatabase, silentLogger } from '../../../src/core/index.js';
import { allMigrations } from '../../../src/app/index.js';
import { DeviceRegistry, discoveredId, loadProfiles } from '../../../src/devices/index.js';
import { BridgeReader } from '../../../src/ingest/index.js';
import { parseYaml } from '../../../src/config/index.js';
import { policySchema, resolveEffective } from '../../../src/policy/index.js';
import * as tasmota from '../../fixtures/conventions/tasmota.js';
import * as z2m from '../../fixtures/conventions/zigbee2mqtt.js';
import { DEVICES_DIR } from '../../helpers/gateway.js';
import { tmpDir } from '../../helpers/tmp-dir.js';

const now = 1_768_498_650_000;

async function registry(path = join(tmpDir(), 'd.db')) {
  const db = await openDatabase({ path, migrations: allMigrations, logger: silentLogger() });
  const files = loadProfiles(DEVICES_DIR).profiles;
  return { db, path, reg: new DeviceRegistry({ db, clock: new ManualClock(now), profiles: () => files }) };
}

describe('discovered devices', () => {
  it('derive a stable, valid id from the bridge and the convention key', () => {
    expect(discoveredId('z2m', '0x00158d0001a2b3c4')).toBe('z2m-0x00158d0001a2b3c4');
    expect(discoveredId('esphome', 'Kitchen Node/EA:33')).toBe('esphome-kitchen-node-ea-33');
    const long = discoveredId('ha', 'x'.repeat(200));
    expect(long).toMatch(/^[a-z0-9][a-z0-9_-]{0,63}$/);
    expect(long).not.toBe(discoveredId('ha', `${'x'.repeat(199)}y`));
  });

  it('a bridge registers its devices, a rename on the bridge keeps ids, and the state survives a restart', async () => {
    const { db, path, reg } = await registry();
    const bridge = (await reg.add({ id: 'z2m', role: 'bridge', profile: 'zigbee2mqtt' })).record;
    expect(bridge.baseTopic).toBe('zigbee2mqtt');
    const reader = new BridgeReader({ directory: reg, profiles: () => reg.profiles() });
    const learned = reader.read(bridge, 'zigbee2mqtt/bridge/devices', z2m.devicesMessage([z2m.coordinator, z2m.contact, z2m.light]), now);
    expect(learned.added.map((d) => [d.id, d.kind, d.name]).sort()).toEqual(
      [
        [`z2m-${z2m.light.ieee_address}`, 'light', z2m.light.friendly_name],
        ['z2m-0x00158d0001a2b3c4', 'contact_sensor', 'hall/door'],
      ].sort(),
    );
    // Policies see a discovered device through its own profile, like a file's.
    expect(reg.profiles().get('zigbee2mqtt/z2m-0x00158d0001a2b3c4')).toMatchObject({ kind: 'contact_sensor', metrics: { open: { type: 'boolean' }, battery: { unit: '%' } } });
    const r = reader.read(bridge, 'zigbee2mqtt/hall/door', z2m.contactState, now);
    expect(r.readings[0]!.readings.map((x) => [x.metric, x.value])).toEqual(expect.arrayContaining([['open', false], ['battery_voltage', 3.045]]));
    db.close();

    // A new process: the saved state reads states before the retained list comes back.
    const again = await registry(path);
    const bridge2 = again.reg.get('z2m')!;
    const reader2 = new BridgeReader({ directory: again.reg, profiles: () => again.reg.profiles() });
    const after = reader2.read(bridge2, `zigbee2mqtt/${z2m.light.friendly_name}`, z2m.lightState, now);
    expect(after.readings[0]!.device.id).toBe(`z2m-${z2m.light.ieee_address}`);
    expect(after.readings[0]!.readings.map((x) => x.metric)).toEqual(expect.arrayContaining(['on', 'brightness']));
    // Maps in a convention's state survive the round trip too.
    const t = (await again.reg.add({ id: 'tasmota', role: 'bridge', profile: 'tasmota' })).record;
    expect(t.baseTopic).toBe('');
    reader2.read(t, `tasmota/discovery/${tasmota.mac}/config`, tasmota.discoveryConfig, now);
    const reader3 = new BridgeReader({ directory: again.reg, profiles: () => again.reg.profiles() });
    expect(reader3.read(t, 'tele/washer/SENSOR', tasmota.energySensor, now).readings[0]!.readings.length).toBeGreaterThan(0);
    again.db.close();
  });

  it('the household renames, retypes and ignores; policies select by the new kind', async () => {
    const { db, reg } = await registry();
    const bridge = (await reg.add({ id: 'z2m', role: 'bridge', profile: 'zigbee2mqtt' })).record;
    const reader = new BridgeReader({ directory: reg, profiles: () => reg.profiles() });
    reader.read(bridge, 'zigbee2mqtt/bridge/devices', z2m.devicesMessage([z2m.contact]), now);
    const id = 'z2m-0x00158d0001a2b3c4';
    reg.describe(id, { name: 'Front door', room: 'hall', kind: 'door_sensor' });
    expect(reg.get(id)).toMatchObject({ id, name: 'Front door', room: 'hall', kind: 'door_sensor' });
    const policy = `version: 1\nvendor: acme\nendpoint: https://acme.example/v1\nsecret_env: X\npurpose: test\nexpires: 2027-06-30\nschedule: "0 3 * * *"\nshare:\n  - devices: { kind: door_sensor }\n    metrics: [battery]\n    window: 1d\n    stats: [mean]\n    min_samples: 1\n`;
    const parsed = parseYaml(policy, 'p.yaml', policySchema, 'SLUICE_ERR_POLICY_INVALID');
    const { effective, findings } = resolveEffective({ name: 'p', file: 'p.yaml', text: policy, policy: parsed.value, parsed }, reg.list(), reg.profiles());
    expect(findings.filter((f) => f.severity === 'error')).toEqual([]);
    expect(effective.rules[0]!.devices).toEqual([id]);
    // A native device's kind is its profile's.
    await reg.add({ id: 'thermo', profile: 'thermostat' });
    expect(() => reg.describe('thermo', { kind: 'x' })).toThrow(/only a discovered device/);
    reg.ignore(id);
    expect(reg.get(id)).toBeUndefined();
    // Still announced by the bridge: it does not come back, and its state is not stored.
    expect(reader.read(bridge, 'zigbee2mqtt/bridge/devices', z2m.devicesMessage([z2m.contact]), now).added).toEqual([]);
    expect(reader.read(bridge, 'zigbee2mqtt/hall/door', z2m.contactState, now).readings).toEqual([]);
    // Removing the bridge takes its discovered devices with it.
    reader.read(bridge, 'zigbee2mqtt/bridge/devices', z2m.devicesMessage([z2m.contact, z2m.light]), now);
    reg.remove('z2m');
    expect(reg.list().map((d) => d.id)).toEqual(['thermo']);
    db.close();
  });
});
