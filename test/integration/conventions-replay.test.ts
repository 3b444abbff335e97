import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { addDevice, cli, connectClient, startGateway, type GatewayChild } from '../helpers/gateway.js';
import * as ha from '../fixtures/conventions/homeassistant.js';
import * as homie from '../fixtures/conventions/homie.js';
import * as shelly from '../fixtures/conventions/shelly.js';
import * as tasmota from '../fixtures/conventions/tasmota.js';
import * as z2m from '../fixtures/conventions/zigbee2mqtt.js';

// Each bridge is registered once; its devices register themselves from the convention's own
// announcements, and their readings land in neutral metrics and units.
let gw: GatewayChild;
let dataDir: string;
const clients: MqttClient[] = [];

interface Row {
  id: string;
  role: string;
  kind: string | null;
  name: string | null;
  room: string | null;
  via: string | null;
  source: string | null;
  discovered: boolean;
  profile: string | null;
}
type ReadingRow = { metric: string; component?: string; value: unknown; unit: string | null; time_source: string };

function json<T>(args: string[]): T {
  const r = cli([...args, '--json'], { dataDir });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as T;
}
const devices = () => json<Row[]>(['devices', 'list']);
const discovered = (via: string) => devices().filter((d) => d.via === via);
function readings(id: string): Record<string, { value: unknown; unit: string | null; time_source: string }> {
  const rows = json<ReadingRow[]>(['readings', id, '--since', '1d']);
  // The latest of each metric.
  return Object.fromEntries(rows.map((r) => [r.component ? `${r.component}.${r.metric}` : r.metric, { value: r.value, unit: r.unit, time_source: r.time_source }]));
}
const quarantine = (device?: string) => json<Array<{ topic: string; reason: string; message: string; device: string }>>(['quarantine', ...(device ? ['--device', device] : [])]);

async function bridge(id: string, profile: string, extra: string[] = []): Promise<MqttClient> {
  const password = addDevice(dataDir, id, profile, ['--role', 'bridge', ...extra]);
  const c = await connectClient(gw.port, { username: id, password, clientId: id });
  clients.push(c);
  return c;
}
const send = (c: MqttClient, topic: string, payload: Buffer | string, retain = false) => c.publishAsync(topic, payload, { qos: 1, retain });

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'sluice-conv-'));
  gw = await startGateway({ dataDir });
});

afterAll(async () => {
  for (const c of clients) await c.endAsync(true);
  await gw?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

// Many CLI round trips per test; generous on a shared 2-core machine.
describe('conventions replayed over MQTT into the gateway', { timeout: 120_000 }, () => {
  it('zigbee2mqtt: device list, states, availability, a rename, a removal; polarity and units', async () => {
    const c = await bridge('z2m', 'zigbee2mqtt');
    const reg = json<{ id: string }[]>(['devices', 'list']).find((d) => d.id === 'z2m') as Row | undefined;
    expect(reg).toMatchObject({ role: 'bridge', profile: 'zigbee2mqtt', base_topic: 'zigbee2mqtt' });
    await send(c, 'zigbee2mqtt/bridge/state', '{"state":"online"}', true);
    await send(c, 'zigbee2mqtt/bridge/devices', z2m.devicesMessage([z2m.coordinator, z2m.contact, z2m.plug, z2m.light]), true);
    const list = discovered('z2m');
    expect(list.map((d) => [d.id, d.kind, d.name, d.source, d.discovered]).sort()).toEqual(
      [
        ['z2m-0x00158d0001a2b3c4', 'contact_sensor', 'hall/door', '0x00158d0001a2b3c4', true],
        [`z2m-${z2m.plug.ieee_address}`, 'smart_plug', z2m.plug.friendly_name, z2m.plug.ieee_address, true],
        [`z2m-${z2m.light.ieee_address}`, 'light', z2m.light.friendly_name, z2m.light.ieee_address, true],
      ].sort(),
    );
    await send(c, 'zigbee2mqtt/hall/door', z2m.contactState);
    await send(c, 'zigbee2mqtt/hall/door/availability', z2m.availabilityJson, true);
    await send(c, `zigbee2mqtt/${z2m.plug.friendly_name}`, z2m.plugState);
    await send(c, `zigbee2mqtt/${z2m.light.friendly_name}`, z2m.lightState);
    // contact: true means closed: open is false.
    expect(readings('z2m-0x00158d0001a2b3c4')).toEqual({
      open: { value: false, unit: null, time_source: 'gateway' },
      battery: { value: 100, unit: '%', time_source: 'gateway' },
      battery_voltage: { value: 3.045, unit: 'V', time_source: 'gateway' },
    });
    expect(readings(`z2m-${z2m.plug.ieee_address}`)).toMatchObject({ on: { value: true }, power: { value: 1520.4, unit: 'W' }, voltage: { value: 229.8, unit: 'V' }, energy: { value: 12.345, unit: 'kWh' } });
    // 0–254 → %, mired → K.
    expect(readings(`z2m-${z2m.light.ieee_address}`)).toMatchObject({ on: { value: false }, brightness: { value: 50, unit: '%' }, color_temperature: { value: 2703, unit: 'K' } });

    // A rename on the bridge keeps the id; the new friendly name carries the state.
    await send(c, 'zigbee2mqtt/bridge/devices', z2m.devicesMessage([z2m.coordinator, z2m.contact, z2m.plug, z2m.lightRenamed]), true);
    const renamed = discovered('z2m').find((d) => d.source === z2m.light.ieee_address)!;
    expect(renamed.id).toBe(`z2m-${z2m.light.ieee_address}`);
    await send(c, `zigbee2mqtt/${z2m.lightRenamed.friendly_name}`, Buffer.from('{"state":"ON","brightness":254}'));
    expect(readings(renamed.id)).toMatchObject({ on: { value: true }, brightness: { value: 100 } });

    // Removed from the bridge: gone from the list.
    await send(c, 'zigbee2mqtt/bridge/devices', z2m.devicesMessage([z2m.coordinator, z2m.contact, z2m.lightRenamed]), true);
    expect(discovered('z2m').map((d) => d.source)).not.toContain(z2m.plug.ieee_address);

    // Malformed variants are quarantined with a reason.
    await send(c, 'zigbee2mqtt/bridge/devices', z2m.malformed.devicesNotArray);
    await send(c, 'zigbee2mqtt/hall/door', z2m.malformed.stateNotObject);
    await send(c, 'zigbee2mqtt/hall/door', z2m.malformed.stateWrongType);
    const q = quarantine();
    expect(q.find((x) => x.topic === 'zigbee2mqtt/bridge/devices')).toMatchObject({ reason: 'malformed', device: 'z2m' });
    const door = q.filter((x) => x.topic === 'zigbee2mqtt/hall/door');
    expect(door.find((x) => x.reason === 'not_object')).toMatchObject({ device: 'z2m' });
    expect(door.find((x) => x.reason === 'wrong_type')).toMatchObject({ device: 'z2m-0x00158d0001a2b3c4', message: expect.stringContaining('open') });
    // The device list from before the bad one still holds.
    expect(discovered('z2m')).toHaveLength(2);
  });

  it('a 35-device home: one registration, a device list over the telemetry size limit, HA discovery from the bridge', async () => {
    const c = await bridge('z2m-home', 'zigbee2mqtt', ['--base-topic', 'z2m-home']);
    const list = Array.from({ length: 35 }, (_, i) => ({ ...(i % 2 ? z2m.plug : z2m.contact), ieee_address: `0x00158d00010000${String(i).padStart(2, '0')}`, friendly_name: `room${i}/device` }));
    const payload = z2m.devicesMessage([z2m.coordinator, ...list]);
    expect(payload.length).toBeGreaterThan(16_384);
    await send(c, 'z2m-home/bridge/devices', payload, true);
    expect(discovered('z2m-home')).toHaveLength(35);
    // Zigbee2MQTT's own Home Assistant integration publishes under homeassistant/: allowed, not ingested twice.
    await send(c, 'homeassistant/binary_sensor/0x00158d0001000000/contact/config', JSON.stringify({ state_topic: 'z2m-home/room0/device', device_class: 'door' }), true);
    await send(c, 'z2m-home/room0/device', z2m.contactOpenState);
    expect(readings('z2m-home-0x00158d0001000000')).toMatchObject({ open: { value: true }, battery: { value: 99 } });
    expect(c.connected).toBe(true);
  });

  it('the household renames, places, retypes and ignores a discovered device', async () => {
    const id = 'z2m-0x00158d0001a2b3c4';
    json(['devices', 'rename', id, 'Front door']);
    json(['devices', 'set', id, '--room', 'hall', '--kind', 'door_sensor']);
    expect(devices().find((d) => d.id === id)).toMatchObject({ id, name: 'Front door', room: 'hall', kind: 'door_sensor', discovered: true });
    const ignored = json<{ ignored: boolean }>(['devices', 'ignore', id]);
    expect(ignored.ignored).toBe(true);
    expect(devices().map((d) => d.id)).not.toContain(id);
    // Still on the bridge's list and still talking: nothing comes back, nothing is stored.
    const c = clients[0]!;
    await send(c, 'zigbee2mqtt/bridge/devices', z2m.devicesMessage([z2m.coordinator, z2m.contact, z2m.lightRenamed]), true);
    await send(c, 'zigbee2mqtt/hall/door', z2m.contactOpenState);
    expect(devices().map((d) => d.id)).not.toContain(id);
    const native = cli(['devices', 'ignore', 'z2m'], { dataDir });
    expect(native.status).toBe(2);
    expect(native.stderr).toContain('was not discovered');
  });

  it('tasmota: native discovery, SENSOR without an offset noted, LWT; malformed quarantined', async () => {
    const c = await bridge('tasmota', 'tasmota');
    await send(c, `tasmota/discovery/${tasmota.mac}/config`, tasmota.discoveryConfig, true);
    await send(c, `tasmota/discovery/${tasmota.mac}/sensors`, tasmota.discoverySensors, true);
    const [washer] = discovered('tasmota');
    expect(washer).toMatchObject({ name: 'Washing machine', source: tasmota.mac, discovered: true });
    await send(c, 'tele/washer/LWT', 'Online', true);
    await send(c, 'tele/washer/SENSOR', tasmota.energySensor);
    await send(c, 'stat/washer/POWER', 'ON');
    expect(readings(washer!.id)).toMatchObject({
      power: { value: 2635, unit: 'W', time_source: 'gateway' },
      energy: { value: 6.294, unit: 'kWh' },
      voltage: { value: 227, unit: 'V' },
      current: { value: 11.661, unit: 'A' },
    });
    // The device's Time had no offset: the maker hears why the receive time was used.
    const notes = quarantine(washer!.id);
    expect(notes.find((n) => n.reason === 'ts_unusable')?.message).toContain('no UTC offset');
    await send(c, 'tele/washer/SENSOR', tasmota.malformed.notJson);
    await send(c, 'tele/washer/SENSOR', tasmota.malformed.wrongType);
    const reasons = quarantine().filter((x) => x.topic === 'tele/washer/SENSOR').map((x) => x.reason);
    expect(reasons).toEqual(expect.arrayContaining(['not_json', 'ts_unusable']));
    expect(reasons.some((r) => r === 'wrong_type')).toBe(true);
  });

  it('shelly: Gen2 status and NotifyStatus, Wh → kWh; malformed quarantined', async () => {
    const c = await bridge('shelly', 'shelly');
    const now = Date.now() / 1000;
    const t = (b: Buffer) => Buffer.from(b.toString().replace(/"ts":[0-9.]+/, `"ts":${now}`));
    await send(c, `shellies/${shelly.id}/online`, 'true', true);
    await send(c, `shellies/${shelly.id}/status/switch:0`, shelly.fullSwitch);
    await send(c, `shellies/${shelly.id}/events/rpc`, t(shelly.notifyEnergy));
    const [plug] = discovered('shelly');
    expect(plug).toMatchObject({ source: shelly.id, discovered: true });
    const rows = json<ReadingRow[]>(['readings', plug!.id, '--since', '1d']).map(({ metric, value, unit, time_source }) => ({ metric, value, unit, time_source }));
    // The full status (gateway time: it carries none) and the partial NotifyStatus (the device's epoch time).
    expect(rows).toEqual(
      expect.arrayContaining([
        { metric: 'energy', value: 1.5204, unit: 'kWh', time_source: 'gateway' },
        { metric: 'voltage', value: 232.7, unit: 'V', time_source: 'gateway' },
        { metric: 'on', value: false, unit: null, time_source: 'gateway' },
        { metric: 'energy', value: 1.5404, unit: 'kWh', time_source: 'device' },
        { metric: 'power', value: 1200.5, unit: 'W', time_source: 'device' },
      ]),
    );
    await send(c, `shellies/${shelly.id}/events/rpc`, shelly.malformed.notJson);
    await send(c, `shellies/${shelly.id}/events/rpc`, t(shelly.malformed.wrongType));
    const reasons = quarantine().filter((x) => x.topic.startsWith(`shellies/${shelly.id}`)).map((x) => x.reason);
    expect(reasons).toEqual(expect.arrayContaining(['not_json', 'wrong_type']));
  });

  it('homeassistant (ESPHome): discovery configs, states in °F → °C; a foreign topic is refused', async () => {
    const c = await bridge('kitchen-node', 'homeassistant');
    await send(c, ha.temperatureTopic, ha.temperatureConfig, true);
    await send(c, ha.deviceTopic, ha.deviceConfig, true);
    const [node] = discovered('kitchen-node');
    expect(node).toMatchObject({ name: 'Kitchen node', kind: expect.any(String), discovered: true });
    await send(c, 'kitchen-node/status', 'online', true);
    await send(c, 'kitchen-node/sensor/climate/state', ha.climateState);
    await send(c, 'kitchen-node/sensor/energy/state', '1520.4');
    expect(readings(node!.id)).toMatchObject({
      temperature: { value: 22, unit: '°C' },
      humidity: { value: 43.7, unit: '%' },
      power: { value: 1520.4, unit: 'W' },
      energy: { value: 1.5204, unit: 'kWh' },
    });
    // A template Sluice cannot evaluate is flagged on the device, never guessed.
    expect(quarantine(node!.id).map((x) => x.reason)).toEqual(expect.arrayContaining(['unsupported_template']));
    // A config pointing at another device's topic is refused and not retained.
    await send(c, 'homeassistant/sensor/kitchen-node/spy/config', ha.malformed.foreign, true);
    await send(c, 'homeassistant/sensor/kitchen-node/bad/config', ha.malformed.notJson, true);
    const q = quarantine('kitchen-node');
    expect(q.find((x) => x.topic.endsWith('/spy/config'))).toMatchObject({ reason: 'outside_namespace' });
    expect(q.find((x) => x.topic.endsWith('/bad/config'))).toMatchObject({ reason: 'not_json' });
    expect(discovered('kitchen-node')).toHaveLength(1);
  });

  it('homie: v4 attributes, °F → °C, enum; malformed value quarantined', async () => {
    const c = await bridge('homie', 'homie');
    for (const [topic, payload] of homie.v4) await send(c, topic, payload, true);
    const [boiler] = discovered('homie');
    expect(boiler).toMatchObject({ name: 'Boiler room', source: 'boiler-room', discovered: true });
    await send(c, 'homie/boiler-room/tank/temperature', '140');
    await send(c, 'homie/boiler-room/tank/mode', 'eco');
    await send(c, 'homie/boiler-room/pump/energy', '1520.4');
    expect(readings(boiler!.id)).toMatchObject({ 'tank.temperature': { value: 60, unit: '°C' }, 'tank.mode': { value: 'eco' }, 'pump.energy': { value: 1.5204, unit: 'kWh' } });
    await send(c, 'homie/boiler-room/tank/temperature', homie.malformed.temperature);
    expect(quarantine(boiler!.id).map((x) => x.reason)).toContain('wrong_type');
  });

  it('what a bridge learned survives a restart: readings are read before the retained list returns', async () => {
    for (const c of clients.splice(0)) await c.endAsync(true);
    await gw.stop();
    gw = await startGateway({ dataDir });
    const password = cli(['devices', 'passwd', 'z2m', '--json'], { dataDir });
    const c = await connectClient(gw.port, { username: 'z2m', password: (JSON.parse(password.stdout) as { password: string }).password, clientId: 'z2m-2' });
    clients.push(c);
    const light = `z2m-${z2m.light.ieee_address}`;
    await send(c, `zigbee2mqtt/${z2m.lightRenamed.friendly_name}`, Buffer.from('{"state":"OFF","brightness":0}'));
    expect(readings(light)).toMatchObject({ on: { value: false }, brightness: { value: 0 } });
  });
});
