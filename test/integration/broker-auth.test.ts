import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { addDevice, cli, connectClient, startGateway, type GatewayChild } from '../helpers/gateway.js';
import { RawMqtt } from '../helpers/raw-mqtt.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

let gw: GatewayChild;
let dataDir: string;
const pw: Record<string, string> = {};

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'sluice-auth-'));
  pw.thermo = addDevice(dataDir, 'thermo');
  pw.other = addDevice(dataDir, 'other');
  pw.home = addDevice(dataDir, 'home', '', ['--role', 'household']);
  pw.z2m = addDevice(dataDir, 'z2m', '', ['--role', 'bridge', '--base-topic', 'zigbee2mqtt']);
  gw = await startGateway({ dataDir });
});

afterAll(async () => {
  await gw?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

async function connack(clientId: string, username?: string, password?: string, clean = true): Promise<number | undefined> {
  const raw = await RawMqtt.open(gw.port);
  const p = await raw.connect(clientId, username, password, clean);
  raw.close();
  return (p as { returnCode?: number }).returnCode;
}

/** SUBACK return codes for the filters (MQTT.js turns any 0x80 into an error, so this uses a raw client). */
async function subscribe(user: string, filters: string[]): Promise<number[]> {
  const raw = await RawMqtt.open(gw.port);
  await raw.connect(`${user}-sub`, user, pw[user]);
  raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: filters.map((topic) => ({ topic, qos: 0 as const })) });
  const suback = (await raw.waitFor((p) => p.cmd === 'suback')) as { granted: number[] };
  raw.close();
  return suback.granted;
}

describe('broker credentials', () => {
  it('refuses anonymous clients, wrong passwords and unknown users', async () => {
    expect(await connack('anon')).toBe(5);
    expect(await connack('x', 'thermo', 'wrong-password')).toBe(4);
    expect(await connack('x', 'nobody', pw.thermo)).toBe(4);
    expect(await connack('x', 'thermo', pw.thermo)).toBe(0);
  });

  it('[MQTT-3.1.3-8] refuses an empty client id without a clean session with 0x02', async () => {
    expect(await connack('', 'thermo', pw.thermo, false)).toBe(2);
    expect(await connack('', 'thermo', pw.thermo, true)).toBe(0);
  });

  it('logs a clear line for an MQTT 5 client', async () => {
    const client = mqtt.connect(`mqtt://127.0.0.1:${gw.port}`, { protocolVersion: 5, username: 'thermo', password: pw.thermo, reconnectPeriod: 0 });
    await new Promise<void>((resolve) => {
      client.once('error', () => resolve());
      client.once('close', () => resolve());
    });
    client.end(true);
    const line = await gw.waitForLog((l) => String(l.msg).includes('MQTT 5 client'));
    expect(String(line.msg)).toContain('3.1.1');
    expect(String(line.msg)).toContain('mqtt.version: 4');
  });

  it('refuses MQTT 5 with CONNACK unacceptable protocol version, and logs it once per client', async () => {
    const codes: number[] = [];
    for (let i = 0; i < 2; i++) {
      const client = mqtt.connect(`mqtt://127.0.0.1:${gw.port}`, { protocolVersion: 5, clientId: 'z2m-v5', username: 'z2m', password: pw.z2m, reconnectPeriod: 0 });
      await new Promise<void>((resolve) => {
        client.once('error', (err) => {
          codes.push((err as { code?: number }).code ?? -1);
          resolve();
        });
        client.once('close', () => resolve());
      });
      client.end(true);
    }
    // 0x01 unacceptable protocol version, the 3.1.1 code aedes answers an MQTT 5 CONNECT with.
    expect(codes).toEqual([1, 1]);
    await gw.waitForLog((l) => String(l.msg).includes('MQTT 5 client') && l.clientId === 'z2m-v5');
    expect(gw.logs.filter((l) => String(l.msg).includes('MQTT 5 client') && l.clientId === 'z2m-v5')).toHaveLength(1);
  });
});

describe('topic ACL over MQTT', () => {
  it("disconnects a device that publishes into another device's namespace", async () => {
    const raw = await RawMqtt.open(gw.port);
    await raw.connect('t1', 'thermo', pw.thermo);
    raw.send({ cmd: 'publish', topic: 'sluice/other/telemetry', payload: Buffer.from('{"temperature":1}'), qos: 1, messageId: 1, dup: false, retain: false });
    await raw.closed;
    expect(raw.received.some((p) => p.cmd === 'puback')).toBe(false);
    // The client only saw its connection close: the log and the quarantine say why.
    const line = await gw.waitForLog((l) => String(l.msg).startsWith('not your topic: sluice/other/telemetry'));
    expect(line).toMatchObject({ deviceId: 'thermo', topic: 'sluice/other/telemetry' });
    const q = JSON.parse(cli(['quarantine', '--device', 'thermo', '--json'], { dataDir }).stdout) as Array<{ reason: string; topic: string; message: string }>;
    expect(q[0]).toMatchObject({ reason: 'not_your_topic', topic: 'sluice/other/telemetry', message: expect.stringContaining('sluice/thermo/') });
  });

  it('disconnects any client that publishes to $SYS', async () => {
    const raw = await RawMqtt.open(gw.port);
    await raw.connect('h1', 'home', pw.home);
    raw.send({ cmd: 'publish', topic: '$SYS/fake', payload: Buffer.from('x'), qos: 0, dup: false, retain: false });
    await raw.closed;
  });

  it('answers a subscription outside the namespace with SUBACK 0x80', async () => {
    expect(await subscribe('thermo', ['sluice/thermo/cmd/#', 'sluice/other/cmd/#', '#'])).toEqual([0, 128, 128]);
  });

  it('keeps a bridge inside its base topic', async () => {
    expect(await subscribe('z2m', ['zigbee2mqtt/+/set', 'sluice/#'])).toEqual([0, 128]);
    const client = await connectClient(gw.port, { username: 'z2m', password: pw.z2m });
    await client.publishAsync('zigbee2mqtt/hall', '{"contact":true}', { qos: 1 });
    await client.endAsync();
  });

  it('lets the household read everything and send a device its commands', async () => {
    const home = await connectClient(gw.port, { username: 'home', password: pw.home });
    const device = await connectClient(gw.port, { username: 'thermo', password: pw.thermo });
    await home.subscribeAsync('#', { qos: 1 });
    await device.subscribeAsync('sluice/thermo/cmd/#', { qos: 1 });
    const seenByHome = new Promise<string>((resolve) => home.on('message', (topic) => topic.endsWith('/telemetry') && resolve(topic)));
    const seenByDevice = new Promise<string>((resolve) => device.on('message', (_t, payload) => resolve(payload.toString())));
    await device.publishAsync('sluice/thermo/telemetry', JSON.stringify({ temperature: 20 }), { qos: 1 });
    await home.publishAsync('sluice/thermo/cmd/setpoint_heat', '21', { qos: 1 });
    expect(await seenByHome).toBe('sluice/thermo/telemetry');
    expect(await seenByDevice).toBe('21');
    await home.endAsync();
    await device.endAsync();
  });

  it('keeps a retained status and publishes the last will', async () => {
    const device = await connectClient(gw.port, {
      username: 'other',
      password: pw.other,
      clientId: 'other-1',
      will: { topic: 'sluice/other/status', payload: Buffer.from('offline'), qos: 1, retain: true },
    });
    await device.publishAsync('sluice/other/status', 'online', { qos: 1, retain: true });
    const home = await connectClient(gw.port, { username: 'home', password: pw.home });
    const statuses: string[] = [];
    home.on('message', (_t, p) => statuses.push(p.toString()));
    await home.subscribeAsync('sluice/other/status', { qos: 1 });
    await new Promise((r) => setTimeout(r, 100));
    device.stream.destroy(); // an abrupt loss, so the broker sends the will
    await new Promise((r) => setTimeout(r, 300));
    expect(statuses).toEqual(['online', 'offline']);
    await home.endAsync();
  });
});
