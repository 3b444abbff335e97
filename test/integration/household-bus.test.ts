import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IClientOptions, MqttClient } from 'mqtt';
import mqttPacket from 'mqtt-packet';
import { addDevice, cli, connectClient, startGateway, type GatewayChild } from '../helpers/gateway.js';
import { RawMqtt } from '../helpers/raw-mqtt.js';

// The ten behaviours of the paho MQTT 3.1.1 interoperability suite (client_test.py), with MQTT.js
// over a household credential: outside the devices' namespaces the household's tools have an
// ordinary broker.
const topics = ['TopicA', 'TopicA/B', 'Topic/C', 'TopicA/C', '/TopicA'];
const wildtopics = ['TopicA/+', '+/C', '#', '/#', '/+', '+/+', 'TopicA/#'];

let gw: GatewayChild;
let dataDir: string;
let password: string;
const open: MqttClient[] = [];

type Msg = { topic: string; payload: string; qos: number; retain: boolean };

async function client(clientId: string, extra: IClientOptions = {}): Promise<{ c: MqttClient; got: Msg[] }> {
  const got: Msg[] = [];
  const c = await connectClient(gw.port, { username: 'home', password, clientId, ...extra }, (cl) =>
    cl.on('message', (topic, payload, packet) => got.push({ topic, payload: payload.toString(), qos: packet.qos, retain: packet.retain })),
  );
  open.push(c);
  return { c, got };
}

const settle = (ms = 300) => new Promise((r) => setTimeout(r, ms));
async function until(pred: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error('timed out');
    await settle(25);
  }
}

async function cleanRetained(): Promise<void> {
  const { c, got } = await client('clean-retained');
  await c.subscribeAsync('#', { qos: 0 });
  await settle();
  for (const m of got) if (m.retain) await c.publishAsync(m.topic, '', { qos: 0, retain: true });
  await c.endAsync();
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'sluice-bus-'));
  const config = join(dataDir, 'sluice.yaml');
  writeFileSync(config, 'version: 1\nhousehold:\n  deny_subscribe: [test/nosubscribe]\n');
  gw = await startGateway({ dataDir, args: ['--config', config] });
  password = addDevice(dataDir, 'home', '', ['--role', 'household']);
  addDevice(dataDir, 'thermo', 'thermostat');
});

afterAll(async () => {
  for (const c of open) await c.endAsync(true).catch(() => undefined);
  await gw?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('the household bus passes the paho interoperability behaviours', () => {
  it('basic: subscribe, publish at QoS 0, 1 and 2, receive all three', async () => {
    const { c, got } = await client('myclientid');
    await c.subscribeAsync(topics[0]!, { qos: 2 });
    await c.publishAsync(topics[0]!, 'qos 0', { qos: 0 });
    await c.publishAsync(topics[0]!, 'qos 1', { qos: 1 });
    await c.publishAsync(topics[0]!, 'qos 2', { qos: 2 });
    await until(() => got.length === 3);
    expect(got.map((m) => [m.payload, m.qos])).toEqual([
      ['qos 0', 0],
      ['qos 1', 1],
      ['qos 2', 2],
    ]);
    await c.endAsync();
  });

  it('retained messages are kept, delivered on subscribe, and cleared by an empty one', async () => {
    const { c, got } = await client('myclientid');
    await c.publishAsync(topics[1]!, 'qos 0', { qos: 0, retain: true });
    await c.publishAsync(topics[2]!, 'qos 1', { qos: 1, retain: true });
    await c.publishAsync(topics[3]!, 'qos 2', { qos: 2, retain: true });
    await settle();
    await c.subscribeAsync(wildtopics[5]!, { qos: 2 });
    await until(() => got.length === 3);
    expect(got.every((m) => m.retain)).toBe(true);
    await c.endAsync();
    await cleanRetained();
    const again = await client('myclientid');
    await again.c.subscribeAsync(wildtopics[5]!, { qos: 2 });
    await settle(500);
    expect(again.got).toEqual([]);
    await again.c.endAsync();
  });

  it('offline queueing: a persistent session gets what was published while it was away', async () => {
    const a = await client('myclientid', { clean: false });
    await a.c.subscribeAsync(wildtopics[5]!, { qos: 2 });
    await a.c.endAsync();
    const b = await client('myclientid2');
    await b.c.publishAsync(topics[1]!, 'qos 0', { qos: 0 });
    await b.c.publishAsync(topics[2]!, 'qos 1', { qos: 1 });
    await b.c.publishAsync(topics[3]!, 'qos 2', { qos: 2 });
    await b.c.endAsync();
    const back = await client('myclientid', { clean: false });
    await until(() => back.got.length >= 2);
    await settle();
    // QoS 0 may be dropped while offline; QoS 1 and 2 are queued.
    expect(back.got.map((m) => m.payload)).toEqual(expect.arrayContaining(['qos 1', 'qos 2']));
    await back.c.endAsync();
    // Leave no session behind.
    const clean = await client('myclientid', { clean: true });
    await clean.c.endAsync();
  });

  it('will: an abnormal disconnect publishes the will message', async () => {
    const b = await client('myclientid2');
    await b.c.subscribeAsync(topics[2]!, { qos: 2 });
    const a = await client('myclientid', { will: { topic: topics[2]!, payload: Buffer.from('client not disconnected'), qos: 2, retain: false }, keepalive: 2 });
    a.c.stream.destroy(); // no DISCONNECT
    await until(() => b.got.length === 1);
    expect(b.got[0]).toMatchObject({ topic: topics[2], payload: 'client not disconnected' });
    await b.c.endAsync();
  });

  it('overlapping subscriptions: a message matching two filters arrives at the higher QoS', async () => {
    const { c, got } = await client('myclientid');
    await c.subscribeAsync({ [wildtopics[6]!]: { qos: 2 }, [wildtopics[0]!]: { qos: 1 } });
    await c.publishAsync(topics[3]!, 'overlapping topic filters', { qos: 2 });
    await until(() => got.length >= 1);
    await settle();
    expect(got.length === 1 ? got[0]!.qos === 2 : got.map((m) => m.qos).sort().join() === '1,2').toBe(true);
    await c.endAsync();
  });

  it('keepalive: a silent client is disconnected and its will published', async () => {
    const b = await client('myclientid2');
    await b.c.subscribeAsync(topics[4]!, { qos: 2 });
    const raw = await RawMqtt.open(gw.port);
    raw.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: 'silent', keepalive: 2, username: 'home', password: Buffer.from(password), will: { topic: topics[4]!, payload: Buffer.from('keepalive expiry'), qos: 2, retain: false } } as never);
    expect(await raw.waitFor((p) => p.cmd === 'connack')).toMatchObject({ returnCode: 0 });
    // No PINGREQ: after 1.5 × keepalive the broker closes the connection.
    await raw.closed;
    await until(() => b.got.length === 1, 8000);
    expect(b.got[0]!.payload).toBe('keepalive expiry');
    await b.c.endAsync();
  });

  it('redelivery on reconnect: unacknowledged QoS 1 and 2 messages come again', async () => {
    const raw = await RawMqtt.open(gw.port);
    expect(await raw.connect('redeliver', 'home', password, false)).toMatchObject({ returnCode: 0 });
    raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: wildtopics[6]!, qos: 2 }] } as never);
    await raw.waitFor((p) => p.cmd === 'suback');
    const b = await client('myclientid2');
    await b.c.publishAsync(topics[1]!, 'qos 1', { qos: 1 });
    await b.c.publishAsync(topics[3]!, 'qos 2', { qos: 2 });
    // Received, never acknowledged.
    await raw.waitFor((p) => p.cmd === 'publish' && p.qos === 2);
    raw.socket.destroy();
    await raw.closed;
    const again = await RawMqtt.open(gw.port);
    expect(await again.connect('redeliver', 'home', password, false)).toMatchObject({ returnCode: 0, sessionPresent: true });
    const first = await again.waitFor((p) => p.cmd === 'publish' && p.qos === 1);
    const second = await again.waitFor((p) => p.cmd === 'publish' && p.qos === 2);
    expect([first, second].map((p) => (p.cmd === 'publish' ? p.payload.toString() : ''))).toEqual(['qos 1', 'qos 2']);
    for (const p of again.received) {
      if (p.cmd === 'publish' && p.qos === 1) again.send({ cmd: 'puback', messageId: p.messageId! } as never);
      if (p.cmd === 'publish' && p.qos === 2) again.send({ cmd: 'pubrec', messageId: p.messageId! } as never);
    }
    again.sendBytes(mqttPacket.generate({ cmd: 'disconnect' }));
    await b.c.endAsync();
    const clean = await client('redeliver', { clean: true });
    await clean.c.endAsync();
  });

  it('$ topics: a wildcard at the first level does not match them', async () => {
    const { c, got } = await client('myclientid');
    await c.subscribeAsync(wildtopics[5]!, { qos: 2 });
    await settle();
    got.length = 0;
    await c.publishAsync(`$${topics[1]!}`, '', { qos: 1 });
    await settle();
    expect(got).toEqual([]);
    expect(c.connected).toBe(true);
    await c.endAsync();
  });

  it('subscribe failure: a refused filter gets SUBACK 0x80', async () => {
    const raw = await RawMqtt.open(gw.port);
    expect(await raw.connect('myclientid', 'home', password)).toMatchObject({ returnCode: 0 });
    raw.send({ cmd: 'subscribe', messageId: 7, subscriptions: [{ topic: 'test/nosubscribe', qos: 2 }, { topic: topics[0]!, qos: 2 }] } as never);
    expect(await raw.waitFor((p) => p.cmd === 'suback')).toMatchObject({ messageId: 7, granted: [128, 2] });
    raw.socket.destroy();
  });

  it('unsubscribe: nothing arrives on filters unsubscribed', async () => {
    const { c, got } = await client('myclientid');
    await c.subscribeAsync({ [topics[1]!]: { qos: 2 }, [topics[2]!]: { qos: 2 }, [topics[3]!]: { qos: 2 } });
    await c.unsubscribeAsync([topics[1]!, topics[2]!]);
    await c.publishAsync(topics[1]!, 'topic 0 - unsubscribed', { qos: 1 });
    await c.publishAsync(topics[2]!, 'topic 1', { qos: 1 });
    await c.publishAsync(topics[3]!, 'topic 2', { qos: 1 });
    await until(() => got.length >= 1);
    await settle();
    expect(got.map((m) => m.topic)).toEqual([topics[3]]);
    await c.endAsync();
  });

  it('zero-length client id: accepted with a clean session, refused (0x02) without one', async () => {
    const ok = await RawMqtt.open(gw.port);
    expect(await ok.connect('', 'home', password, true)).toMatchObject({ returnCode: 0 });
    ok.socket.destroy();
    const refused = await RawMqtt.open(gw.port);
    expect(await refused.connect('', 'home', password, false)).toMatchObject({ returnCode: 2 });
  });
});

describe('the household bus and the device namespaces', () => {
  it('nothing on the household bus is ingested; devices still hear only their commands', async () => {
    const { c } = await client('node-red');
    await c.publishAsync('node-red/flows/kitchen', '{"temperature": 21}', { qos: 1, retain: true });
    await c.publishAsync('homeassistant/status', 'online', { qos: 1 });
    await c.publishAsync('sluice/thermo/cmd/setpoint', '21', { qos: 1 });
    expect(JSON.parse(cli(['quarantine', '--json'], { dataDir }).stdout)).toEqual([]);
    const thermoPassword = JSON.parse(cli(['devices', 'passwd', 'thermo', '--json'], { dataDir }).stdout) as { password: string };
    const thermo = await RawMqtt.open(gw.port);
    expect(await thermo.connect('thermo', 'thermo', thermoPassword.password)).toMatchObject({ returnCode: 0 });
    thermo.send({ cmd: 'subscribe', messageId: 3, subscriptions: [{ topic: 'node-red/#', qos: 1 }, { topic: 'sluice/thermo/cmd/#', qos: 1 }] } as never);
    expect(await thermo.waitFor((p) => p.cmd === 'suback')).toMatchObject({ granted: [128, 1] });
    thermo.socket.destroy();
  });

  it('inside a device namespace the household may still only publish commands', async () => {
    const watcher = await client('watcher');
    await watcher.c.subscribeAsync('sluice/thermo/#', { qos: 1 });
    const { c } = await client('spoof');
    // Acknowledged (the tool keeps its connection), but neither retained, delivered nor stored.
    await c.publishAsync('sluice/thermo/telemetry', '{"temperature": 99}', { qos: 1, retain: true });
    await c.publishAsync('sluice/thermo/cmd/setpoint', '20', { qos: 1 });
    await until(() => watcher.got.length === 1);
    expect(watcher.got.map((m) => m.topic)).toEqual(['sluice/thermo/cmd/setpoint']);
    expect(c.connected).toBe(true);
    expect(JSON.parse(cli(['readings', 'thermo', '--json'], { dataDir }).stdout)).toEqual([]);
    const line = await gw.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('not your topic: sluice/thermo/telemetry'));
    expect(line).toMatchObject({ deviceId: 'home', topic: 'sluice/thermo/telemetry' });
    const q = JSON.parse(cli(['quarantine', '--device', 'home', '--json'], { dataDir }).stdout) as Array<{ reason: string; message: string; topic: string }>;
    expect(q[0]).toMatchObject({ reason: 'not_your_topic', topic: 'sluice/thermo/telemetry', message: expect.stringContaining('not your topic: sluice/thermo/telemetry') });
  });
});
