import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import mqtt, { type MqttClient } from 'mqtt';
import { addDevice, cli, connectClient, startGateway, type GatewayChild } from '../helpers/gateway.js';
import { requireMosquitto, startMosquitto, type MosquittoChild } from '../helpers/mosquitto.js';
import { tmpDir } from '../helpers/tmp-dir.js';

const haveMosquitto = requireMosquitto();
const hasOpenssl = spawnSync('openssl', ['version']).status === 0;

interface Row {
  metric: string;
  value: number;
  ts: number;
}

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

function externalEnv(broker: MosquittoChild): Record<string, string> {
  // Fast reconnects so a broker restart is noticed within the test's time.
  return { SLUICE_BROKER_MODE: 'external', SLUICE_BROKER_EXTERNAL_URL: broker.url, SLUICE_BROKER_EXTERNAL_RECONNECT_MIN: '50', SLUICE_BROKER_EXTERNAL_RECONNECT_MAX: '400' };
}

async function startExternal(dataDir: string, broker: MosquittoChild, env: Record<string, string> = {}): Promise<GatewayChild> {
  const gw = await startGateway({ dataDir, mqttPort: false, readyLog: 'external broker mode', env: { ...externalEnv(broker), ...env } });
  cleanups.push(() => gw.stop());
  // Subscribed (SUBACK), not merely connected: only then does Mosquitto keep messages for Sluice.
  await gw.waitForLog((l) => l.msg === 'subscribed on the external broker');
  return gw;
}

async function publisher(broker: MosquittoChild, clientId: string): Promise<MqttClient> {
  const client = await connectClient(broker.port, { clientId });
  cleanups.push(() => client.endAsync());
  return client;
}

function readings(dataDir: string, id: string, env: Record<string, string>): Row[] {
  const r = cli(['readings', id, '--since', '7d', '--json'], { dataDir, env });
  if (r.status !== 0) throw new Error(r.stderr);
  // ts comes as ISO 8601; compared as ms.
  return (JSON.parse(r.stdout) as Array<Omit<Row, 'ts'> & { ts: string | number }>).map((x) => ({ ...x, ts: typeof x.ts === 'string' ? Date.parse(x.ts) : x.ts }));
}

function status(dataDir: string, env: Record<string, string>): Record<string, unknown> {
  const r = cli(['status', '--json'], { dataDir, env });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = probe();
    if (got !== undefined) return got;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe.skipIf(!haveMosquitto)('external-broker mode against a real Mosquitto', { timeout: 120_000 }, () => {
  it('ingests native telemetry, has no listener of its own, and says so in status', async () => {
    const dataDir = tmpDir();
    const broker = await startMosquitto({ dir: tmpDir('mosq-') });
    cleanups.push(() => broker.stop());
    addDevice(dataDir, 'thermo', 'thermostat');
    const gw = await startExternal(dataDir, broker);
    const env = externalEnv(broker);
    expect(gw.logs.some((l) => l.msg === 'mqtt listening')).toBe(false);
    const device = await publisher(broker, 'thermo');
    const ts = Date.now() - 60_000;
    await device.publishAsync('sluice/thermo/telemetry', JSON.stringify({ temperature: 21.5, ts }), { qos: 1 });
    // A topic outside every namespace is the household's bus: not ingested.
    await device.publishAsync('livingroom/lamp', '{"temperature": 99}', { qos: 1 });
    const rows = await until('the reading', () => {
      const r = readings(dataDir, 'thermo', env);
      return r.length > 0 ? r : undefined;
    });
    expect(rows).toMatchObject([{ metric: 'temperature', value: 21.5, ts }]);
    const s = status(dataDir, env);
    expect(s).toMatchObject({ running: true, broker_mode: 'external', mqtt_port: null, external: { url: broker.url, client_id: 'sluice-gateway', connected: true, last_error: null } });
    // The listener flags make no sense here and are refused, not silently ignored.
    const refused = cli(['start', '--mqtt-port', '1884'], { dataDir: tmpDir(), env });
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain('off in external-broker mode');
  });

  it('SIGKILL mid-stream while the device keeps publishing: every message stored exactly once', async () => {
    const dataDir = tmpDir();
    const broker = await startMosquitto({ dir: tmpDir('mosq-') });
    cleanups.push(() => broker.stop());
    addDevice(dataDir, 'thermo', 'thermostat');
    const env = externalEnv(broker);
    let gw = await startExternal(dataDir, broker);
    const device = await publisher(broker, 'thermo');
    const total = 300;
    const base = Date.now() - 3_600_000;
    let sent = 0;
    const stream = (async () => {
      for (; sent < total; sent++) {
        await device.publishAsync('sluice/thermo/telemetry', JSON.stringify({ temperature: 10 + sent / 100, ts: base + sent * 1000 }), { qos: 1 });
        await new Promise((r) => setTimeout(r, 3));
      }
    })();
    // Kill at a deterministic point: once part of the stream is stored and the device is still publishing.
    await until('a first part of the stream', () => (readings(dataDir, 'thermo', env).length >= 40 ? true : undefined));
    await gw.kill();
    const atKill = sent;
    expect(atKill).toBeLessThan(total);
    // Published while Sluice is down: Mosquitto queues them in Sluice's session.
    await until('more messages while down', () => (sent >= atKill + 30 || sent === total ? true : undefined));
    gw = await startExternal(dataDir, broker);
    await stream;
    const rows = await until('every message', () => {
      const r = readings(dataDir, 'thermo', env);
      return r.length >= total ? r : undefined;
    });
    expect(rows).toHaveLength(total);
    const byTs = new Map(rows.map((r) => [r.ts, r.value]));
    expect(byTs.size).toBe(total);
    for (let i = 0; i < total; i++) expect(byTs.get(base + i * 1000)).toBeCloseTo(10 + i / 100, 5);
    await gw.stop();
  });

  it('killed after a commit and before its PUBACK, without device timestamps: the redelivery is stored once', async () => {
    const dataDir = tmpDir();
    const broker = await startMosquitto({ dir: tmpDir('mosq-') });
    cleanups.push(() => broker.stop());
    addDevice(dataDir, 'thermo', 'thermostat');
    // The marker message kills Sluice after its readings are committed and before the PUBACK.
    const marker = '{ "temperature": 55.55 }';
    const env = { ...externalEnv(broker), SLUICE_TEST_KILL_AFTER_COMMIT: marker };
    const first = await startExternal(dataDir, broker, env);
    const device = await publisher(broker, 'thermo');
    const total = 200;
    let sent = 0;
    const stream = (async () => {
      for (; sent < total; sent++) {
        // No ts: Sluice stamps gateway time; a redelivery must get the first delivery's time back.
        const payload = sent === 60 ? marker : JSON.stringify({ temperature: 10 + sent / 100 });
        await device.publishAsync('sluice/thermo/telemetry', payload, { qos: 1 });
        await new Promise((r) => setTimeout(r, 3));
      }
    })();
    expect(await first.exited).toBeNull(); // killed by the signal
    expect(first.child.signalCode).toBe('SIGKILL');
    const gw = await startExternal(dataDir, broker, env);
    await stream;
    const want = [...Array.from({ length: total }, (_, i) => (i === 60 ? 5555 : 1000 + i))].sort((a, b) => a - b);
    await until('every message', () => (readings(dataDir, 'thermo', env).length >= total ? true : undefined));
    // Mosquitto redelivered the unacknowledged marker with DUP set; it was recognised, not stored again.
    await gw.waitForLog((l) => l.msg === 'redelivery from the external broker');
    const values = readings(dataDir, 'thermo', env)
      .map((r) => Math.round(r.value * 100))
      .sort((a, b) => a - b);
    expect(values).toEqual(want);
    await gw.stop();
  });

  it('a Mosquitto restart: Sluice reconnects, resubscribes and goes on; status says whether it is connected', async () => {
    const dataDir = tmpDir();
    const broker = await startMosquitto({ dir: tmpDir('mosq-') });
    cleanups.push(() => broker.stop());
    addDevice(dataDir, 'thermo', 'thermostat');
    const env = externalEnv(broker);
    const gw = await startExternal(dataDir, broker);
    await broker.stop();
    await gw.waitForLog((l) => l.msg === 'disconnected from the external broker; reconnecting');
    expect(status(dataDir, env)).toMatchObject({ external: { connected: false } });
    await broker.restart();
    await until('reconnected', () => (gw.logs.filter((l) => l.msg === 'connected to the external broker').length >= 2 ? true : undefined));
    const device = await publisher(broker, 'thermo');
    const ts = Date.now() - 1000;
    await device.publishAsync('sluice/thermo/telemetry', JSON.stringify({ temperature: 19, ts }), { qos: 1 });
    await until('the reading after the restart', () => (readings(dataDir, 'thermo', env).length === 1 ? true : undefined));
    expect(status(dataDir, env)).toMatchObject({ external: { connected: true } });
    // A clean stop does not hang on a broker that is gone.
    await device.endAsync();
    await broker.stop();
    expect(await gw.stop()).toBe(0);
  });

  it('a Zigbee2MQTT bridge through the external broker: a registered device is ingested, the rest is not kept', async () => {
    const dataDir = tmpDir();
    const broker = await startMosquitto({ dir: tmpDir('mosq-') });
    cleanups.push(() => broker.stop());
    const env = externalEnv(broker);
    const gw = await startExternal(dataDir, broker);
    // Registered while Sluice runs: its base topic is subscribed at once.
    addDevice(dataDir, 'zigbee2', '', ['--role', 'bridge', '--base-topic', 'zigbee2mqtt']);
    const r = cli(['devices', 'add', 'hall-door', '--profile', 'z2m-contact', '--via', 'zigbee2', '--source', 'hall/door', '--json'], { dataDir });
    expect(r.status, r.stderr).toBe(0);
    await gw.waitForLog((l) => l.msg === 'subscribed on the external broker' && JSON.stringify(l.filters) === '["zigbee2mqtt/#"]');
    const z2m = await publisher(broker, 'zigbee2mqtt-bridge');
    await z2m.publishAsync('zigbee2mqtt/bridge/state', '{"state":"online"}', { qos: 1 });
    await z2m.publishAsync('zigbee2mqtt/garage_sensor', '{"contact": true}', { qos: 1 });
    await z2m.publishAsync('zigbee2mqtt/hall/door', '{"contact": false, "battery": 87}', { qos: 1 });
    const rows = await until('the bridged reading', () => {
      const got = readings(dataDir, 'hall-door', env);
      return got.length > 0 ? got : undefined;
    });
    expect(rows.map((x) => [x.metric, x.value]).sort()).toEqual([['battery', 87], ['open', true]]);
    const q = JSON.parse(cli(['quarantine', '--json'], { dataDir, env }).stdout) as unknown[];
    expect(q).toEqual([]);
  });

  it('mosquitto-config: a real Mosquitto accepts its password and ACL lines, and refuses a device publishing in another namespace', async () => {
    const dataDir = tmpDir();
    const mosqDir = tmpDir('mosq-');
    const configFile = join(dataDir, 'sluice.yaml');
    writeFileSync(configFile, ['version: 1', 'broker:', '  mode: external', '  external:', '    username: sluice', '    password_env: SLUICE_BROKER_PASSWORD', ''].join('\n'));
    const env = { SLUICE_CONFIG: configFile, SLUICE_BROKER_PASSWORD: 'gateway-secret' };
    const oldPassword = addDevice(dataDir, 'thermo', 'thermostat');
    addDevice(dataDir, 'other', 'thermostat');
    addDevice(dataDir, 'zigbee2', '', ['--role', 'bridge', '--base-topic', 'zigbee2mqtt']);

    const plain = cli(['mosquitto-config'], { dataDir, env });
    expect(plain.status, plain.stderr).toBe(0);
    // Without --new-passwords Sluice cannot print device password lines (it keeps scrypt hashes only).
    expect(plain.stdout).toContain('# no password line for: other, thermo, zigbee2');
    expect(plain.stdout).toMatch(/^sluice:\$7\$101\$/m);

    const r = cli(['mosquitto-config', '--new-passwords', '--json'], { dataDir, env });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { password_file: string[]; acl_file: string[]; new_passwords: Record<string, string> };
    expect(out.password_file.map((l) => l.split(':')[0])).toEqual(['sluice', 'other', 'thermo', 'zigbee2']);
    expect(out.acl_file).toEqual(expect.arrayContaining(['user thermo', 'topic write sluice/thermo/#', 'topic read sluice/thermo/cmd/#', 'user zigbee2', 'topic readwrite zigbee2mqtt/#', 'topic read zigbee2mqtt/#']));
    writeFileSync(join(mosqDir, 'sluice.passwd'), `${out.password_file.join('\n')}\n`);
    writeFileSync(join(mosqDir, 'sluice.acl'), out.acl_file.join('\n'));
    const broker = await startMosquitto({ dir: mosqDir, allowAnonymous: false, extra: [`password_file ${mosqDir}/sluice.passwd`, `acl_file ${mosqDir}/sluice.acl`] });
    cleanups.push(() => broker.stop());
    await startExternal(dataDir, broker, env);

    // The old password was re-issued: Mosquitto refuses it.
    await expect(connectClient(broker.port, { clientId: 'thermo-old', username: 'thermo', password: oldPassword })).rejects.toThrow(/Not authorized|Bad username/i);
    const thermo = await connectClient(broker.port, { clientId: 'thermo', username: 'thermo', password: out.new_passwords.thermo! });
    cleanups.push(() => thermo.endAsync());
    const ts = Date.now() - 5000;
    // Published first, in another device's namespace: Mosquitto's ACL drops it (MQTT 3.1.1 still acknowledges).
    await thermo.publishAsync('sluice/other/telemetry', JSON.stringify({ temperature: 30, ts }), { qos: 1 });
    await thermo.publishAsync('sluice/thermo/telemetry', JSON.stringify({ temperature: 20, ts }), { qos: 1 });
    await until('the permitted reading', () => (readings(dataDir, 'thermo', env).length === 1 ? true : undefined));
    expect(readings(dataDir, 'other', env)).toEqual([]);
  });

  it.skipIf(!hasOpenssl)('mqtts:// with ca_file: connects over TLS and ingests; without the CA it says why it is not connected', async () => {
    const dataDir = tmpDir();
    const mosqDir = tmpDir('mosq-');
    const cert = join(mosqDir, 'cert.pem');
    const key = join(mosqDir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=home-broker', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
    const broker = await startMosquitto({ dir: mosqDir, extra: [`certfile ${cert}`, `keyfile ${key}`] });
    cleanups.push(() => broker.stop());
    addDevice(dataDir, 'thermo', 'thermostat');
    const url = `mqtts://127.0.0.1:${broker.port}`;
    const untrusted = await startGateway({ dataDir, mqttPort: false, readyLog: 'external broker mode', env: { ...externalEnv(broker), SLUICE_BROKER_EXTERNAL_URL: url } });
    cleanups.push(() => untrusted.stop());
    await untrusted.waitForLog((l) => l.msg === 'external broker error');
    const s = status(dataDir, {});
    expect(s).toMatchObject({ external: { connected: false } });
    expect(String((s.external as { last_error: string }).last_error)).toMatch(/certificate/i);
    await untrusted.stop();

    const gw = await startExternal(dataDir, broker, { SLUICE_BROKER_EXTERNAL_URL: url, SLUICE_BROKER_EXTERNAL_CA_FILE: cert });
    const device = await mqtt.connectAsync(url, { protocolVersion: 4, clientId: 'thermo', ca: readFileSync(cert), reconnectPeriod: 0 });
    cleanups.push(() => device.endAsync());
    const ts = Date.now() - 2000;
    await device.publishAsync('sluice/thermo/telemetry', JSON.stringify({ temperature: 22, ts }), { qos: 1 });
    await until('the reading over TLS', () => (readings(dataDir, 'thermo', {}).length === 1 ? true : undefined));
    expect(status(dataDir, {})).toMatchObject({ external: { url, connected: true } });
    await gw.stop();
  });
});
