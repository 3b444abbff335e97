import { cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { DEVICES_DIR, cli, connectClient, startGateway, type GatewayChild } from '../helpers/gateway.js';
import { requireMosquitto, startMosquitto } from '../helpers/mosquitto.js';
import { tmpDir } from '../helpers/tmp-dir.js';
import * as z2m from '../fixtures/conventions/zigbee2mqtt.js';

const haveMosquitto = requireMosquitto();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

// A smoke alarm whose field only its profile names: `alarm_1` is smoke, which no raw-name check can know.
const MAPPED_SMOKE = `version: 1
kind: smoke_co_alarm
description: A smoke alarm that calls its alarm alarm_1
metrics:
  smoke:
    type: boolean
  battery:
    type: number
    unit: "%"
    min: 0
    max: 100
mappings:
  - topic: telemetry
    readings:
      - metric: smoke
        path: alarm_1
      - metric: battery
        path: battery
`;

/** A household with the repo's profiles plus the mapped smoke alarm; the CLI and the gateway read the same ones. */
function household() {
  const dataDir = tmpDir();
  const devicesDir = tmpDir('devices-');
  cpSync(DEVICES_DIR, devicesDir, { recursive: true });
  writeFileSync(join(devicesDir, 'mapped-smoke.yaml'), MAPPED_SMOKE);
  const env = { SLUICE_DEVICES_DIR: devicesDir };
  const ok = (args: string[]) => {
    const r = cli(args, { dataDir, env });
    if (r.status !== 0) throw new Error(`sluice ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const json = <T>(args: string[]): T => JSON.parse(ok([...args, '--json'])) as T;
  const add = (id: string, profile: string, extra: string[] = []) => json<{ password: string }>(['devices', 'add', id, ...(profile ? ['--profile', profile] : []), ...extra]).password;
  const readings = (id: string) => json<Array<{ metric: string; value: unknown }>>(['readings', id, '--since', '1d']);
  return { dataDir, devicesDir, env, ok, json, add, readings };
}

/** Every retained message a fresh subscriber is handed on these filters (the broker sends them at SUBACK): topic → payload. */
async function retainedOn(port: number, login: { username: string; password: string }, filters: string[]): Promise<Record<string, string>> {
  const viewer = await connectClient(port, { ...login, clientId: `viewer-${Math.random().toString(36).slice(2)}` });
  const seen: Record<string, string> = {};
  viewer.on('message', (topic, payload, packet) => {
    if (packet.retain) seen[topic] = payload.toString();
  });
  await viewer.subscribeAsync(filters, { qos: 1 });
  await sleep(300);
  await viewer.endAsync();
  return seen;
}

async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = probe();
    if (got !== undefined) return got;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describe('a no-store pause and retained state decided after interpretation [PAUSE-3]', { timeout: 180_000 }, () => {
  it('a bridged device in a paused room is not retained, its unpaused neighbour is; a profile-mapped safety alarm is retained and stored; after resume retained works again', async () => {
    const h = household();
    const bridgePw = h.add('zigbee2', 'zigbee2mqtt', ['--role', 'bridge']);
    const alarmPw = h.add('alarm', 'mapped-smoke');
    const home = { username: 'home', password: h.add('home', '', ['--role', 'household']) };
    const gw: GatewayChild = await startGateway({ dataDir: h.dataDir, devicesDir: h.devicesDir, env: h.env });
    cleanups.push(() => gw.stop());
    const bridge: MqttClient = await connectClient(gw.port, { username: 'zigbee2', password: bridgePw, clientId: 'zigbee2' });
    cleanups.push(() => bridge.endAsync());
    const alarm: MqttClient = await connectClient(gw.port, { username: 'alarm', password: alarmPw, clientId: 'alarm' });
    cleanups.push(() => alarm.endAsync());
    const send = (c: MqttClient, topic: string, payload: Buffer | string) => c.publishAsync(topic, payload, { qos: 1, retain: true });

    await send(bridge, 'zigbee2mqtt/bridge/devices', z2m.devicesMessage([z2m.coordinator, z2m.contact, z2m.plug]));
    const door = `zigbee2-${z2m.contact.ieee_address}`;
    const plug = `zigbee2-${z2m.plug.ieee_address}`;
    await until('both devices discovered', () => (h.json<Array<{ id: string }>>(['devices', 'list']).filter((d) => d.id === door || d.id === plug).length === 2 ? true : undefined));
    h.ok(['members', 'assign', '--device', door, '--room', 'bedroom']);
    h.ok(['members', 'assign', '--device', 'alarm', '--room', 'bedroom']);

    // Before the pause, the door's state is retained as ever.
    await send(bridge, 'zigbee2mqtt/hall/door', z2m.contactState);
    const pause = h.json<{ id: number }>(['pause', '--room', 'bedroom', '--mode', 'no-store', '--for', '1h']);

    // During the pause a live subscriber still hears the bridged door; nothing of it is kept for the next one.
    const live = await connectClient(gw.port, { ...home, clientId: 'live' });
    cleanups.push(() => live.endAsync());
    const heard: string[] = [];
    live.on('message', (topic, payload, packet) => {
      if (!packet.retain && topic === 'zigbee2mqtt/hall/door') heard.push(payload.toString());
    });
    await live.subscribeAsync('zigbee2mqtt/hall/door', { qos: 1 });
    await send(bridge, 'zigbee2mqtt/hall/door', z2m.contactOpenState);
    await send(bridge, 'zigbee2mqtt/hall/door/availability', z2m.availabilityJson);
    await send(bridge, `zigbee2mqtt/${z2m.plug.friendly_name}`, z2m.plugState);
    await send(bridge, `zigbee2mqtt/${z2m.plug.friendly_name}/availability`, z2m.availabilityJson);
    await send(alarm, 'sluice/alarm/telemetry', '{"alarm_1":true,"battery":80}');
    await until('the paused state heard live', () => (heard.length > 0 ? true : undefined));
    expect(heard).toEqual([z2m.contactOpenState.toString()]);

    const retained = await retainedOn(gw.port, home, ['zigbee2mqtt/#', 'sluice/alarm/#']);
    // The door's paused state and availability are not kept; the state from before the pause stays (a pause erases nothing).
    expect(retained['zigbee2mqtt/hall/door']).toBe(z2m.contactState.toString());
    expect(retained).not.toHaveProperty(['zigbee2mqtt/hall/door/availability']);
    // The plug behind the same bridge is not paused; the bridge's own device list is the bridge's.
    expect(retained[`zigbee2mqtt/${z2m.plug.friendly_name}`]).toBe(z2m.plugState.toString());
    expect(retained[`zigbee2mqtt/${z2m.plug.friendly_name}/availability`]).toBe(z2m.availabilityJson.toString());
    expect(retained).toHaveProperty(['zigbee2mqtt/bridge/devices']);
    // A safety alarm is never muted, though only the profile knows alarm_1 is smoke: retained and stored, the rest not.
    expect(retained['sluice/alarm/telemetry']).toBe('{"alarm_1":true,"battery":80}');
    expect(h.readings('alarm').map((r) => [r.metric, r.value])).toEqual([['smoke', true]]);
    // Nothing of the door during the pause was stored: only the reading from before it.
    expect(h.readings(door).filter((r) => r.metric === 'open').map((r) => r.value)).toEqual([false]);

    // After resume, the door's retained state is kept again.
    h.ok(['pause', 'resume', String(pause.id)]);
    await send(bridge, 'zigbee2mqtt/hall/door', z2m.contactOpenState);
    await send(bridge, 'zigbee2mqtt/hall/door/availability', z2m.availabilityJson);
    const after = await retainedOn(gw.port, home, ['zigbee2mqtt/hall/#']);
    expect(after).toEqual({ 'zigbee2mqtt/hall/door': z2m.contactOpenState.toString(), 'zigbee2mqtt/hall/door/availability': z2m.availabilityJson.toString() });
    expect(h.readings(door).filter((r) => r.metric === 'open').map((r) => r.value)).toEqual([false, true]);
  });

  it.skipIf(!haveMosquitto)('external mode: Sluice clears a paused device\'s retained state on the household\'s Mosquitto, within the ACL mosquitto-config writes', async () => {
    const h = household();
    const configFile = join(h.dataDir, 'sluice.yaml');
    writeFileSync(configFile, ['version: 1', 'broker:', '  mode: external', '  external:', '    username: sluice', '    password_env: SLUICE_BROKER_PASSWORD', ''].join('\n'));
    Object.assign(h.env, { SLUICE_CONFIG: configFile, SLUICE_BROKER_PASSWORD: 'gateway-secret' });
    h.add('thermo', 'thermostat');
    h.add('zigbee2', 'zigbee2mqtt', ['--role', 'bridge']);
    h.add('home', '', ['--role', 'household']);
    // The household's Mosquitto runs with the password and ACL lines Sluice generates, nothing more.
    const generated = h.json<{ password_file: string[]; acl_file: string[]; new_passwords: Record<string, string> }>(['mosquitto-config', '--new-passwords']);
    const mosqDir = tmpDir('mosq-');
    writeFileSync(join(mosqDir, 'sluice.passwd'), `${generated.password_file.join('\n')}\n`);
    writeFileSync(join(mosqDir, 'sluice.acl'), generated.acl_file.join('\n'));
    const broker = await startMosquitto({ dir: mosqDir, allowAnonymous: false, extra: [`password_file ${mosqDir}/sluice.passwd`, `acl_file ${mosqDir}/sluice.acl`] });
    cleanups.push(() => broker.stop());
    Object.assign(h.env, { SLUICE_BROKER_EXTERNAL_URL: broker.url });
    const gw = await startGateway({ dataDir: h.dataDir, devicesDir: h.devicesDir, mqttPort: false, readyLog: 'external broker mode', env: h.env });
    cleanups.push(() => gw.stop());
    await gw.waitForLog((l) => l.msg === 'subscribed on the external broker' && JSON.stringify(l.filters).includes('zigbee2mqtt/#'));
    const login = (username: string) => ({ username, password: generated.new_passwords[username]! });
    const bridge = await connectClient(broker.port, { ...login('zigbee2'), clientId: 'zigbee2' });
    cleanups.push(() => bridge.endAsync());
    const thermo = await connectClient(broker.port, { ...login('thermo'), clientId: 'thermo' });
    cleanups.push(() => thermo.endAsync());
    const send = (c: MqttClient, topic: string, payload: Buffer | string) => c.publishAsync(topic, payload, { qos: 1, retain: true });

    await send(bridge, 'zigbee2mqtt/bridge/devices', z2m.devicesMessage([z2m.coordinator, z2m.contact, z2m.plug]));
    const door = `zigbee2-${z2m.contact.ieee_address}`;
    const plug = `zigbee2-${z2m.plug.ieee_address}`;
    await until('both devices discovered', () => (h.json<Array<{ id: string }>>(['devices', 'list']).filter((d) => d.id === door || d.id === plug).length === 2 ? true : undefined));
    h.ok(['members', 'assign', '--device', plug, '--room', 'bedroom']);
    h.ok(['members', 'assign', '--device', 'thermo', '--room', 'bedroom']);
    const pause = h.json<{ id: number }>(['pause', '--room', 'bedroom', '--mode', 'no-store', '--for', '1h']);

    const plugTopic = `zigbee2mqtt/${z2m.plug.friendly_name}`;
    const live = await connectClient(broker.port, { ...login('home'), clientId: 'live' });
    cleanups.push(() => live.endAsync());
    const heard: string[] = [];
    live.on('message', (topic, payload, packet) => {
      if (!packet.retain && topic === plugTopic) heard.push(payload.toString());
    });
    await live.subscribeAsync(plugTopic, { qos: 1 });
    await send(bridge, plugTopic, z2m.plugState);
    await send(thermo, 'sluice/thermo/telemetry', '{"temperature":25}');
    await send(bridge, 'zigbee2mqtt/hall/door', z2m.contactState);
    await until('the unpaused door stored', () => (h.readings(door).length > 0 ? true : undefined));
    // Mosquitto kept both paused messages; Sluice clears them once it has read them.
    let seen: Record<string, string> = {};
    for (let i = 0; i < 40; i++) {
      seen = await retainedOn(broker.port, login('home'), ['zigbee2mqtt/#', 'sluice/#']);
      if (!(plugTopic in seen) && !('sluice/thermo/telemetry' in seen)) break;
    }
    expect(seen).not.toHaveProperty([plugTopic]);
    expect(seen).not.toHaveProperty(['sluice/thermo/telemetry']);
    // The unpaused door behind the same bridge, and the bridge's device list, stay retained.
    expect(seen['zigbee2mqtt/hall/door']).toBe(z2m.contactState.toString());
    expect(seen).toHaveProperty(['zigbee2mqtt/bridge/devices']);
    // A live subscriber heard the paused state, then the empty message that cleared it.
    expect(heard).toEqual([z2m.plugState.toString(), '']);
    // Nothing of the pause was stored, and Sluice did not take its own clearing for a device's message.
    expect(h.readings(plug)).toEqual([]);
    expect(h.readings('thermo')).toEqual([]);
    expect(h.json<unknown[]>(['quarantine'])).toEqual([]);

    // After resume nothing is cleared: the household's broker keeps the state again.
    h.ok(['pause', 'resume', String(pause.id)]);
    await send(bridge, plugTopic, z2m.plugState);
    await until('the plug stored after the pause', () => (h.readings(plug).length > 0 ? true : undefined));
    await sleep(500);
    expect((await retainedOn(broker.port, login('home'), [plugTopic]))[plugTopic]).toBe(z2m.plugState.toString());
    expect(heard).toEqual([z2m.plugState.toString(), '', z2m.plugState.toString()]);
  });
});
