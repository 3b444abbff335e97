import { describe, expect, it } from 'vitest';
import { addDevice, cli, connectClient, startGateway } from '../helpers/gateway.js';
import { RawMqtt } from '../helpers/raw-mqtt.js';
import { tmpDir } from '../helpers/tmp-dir.js';

interface ReadingJson {
  metric: string;
  value: unknown;
  unit: string | null;
  ts: string;
  time_source: string;
}

function readings(dataDir: string, id: string, extra: string[] = []): ReadingJson[] {
  const r = cli(['readings', id, '--since', '30d', '--json', ...extra], { dataDir });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return JSON.parse(r.stdout) as ReadingJson[];
}

describe('durable ingest through MQTT', () => {
  it('stores QoS 0 and QoS 1 readings with their units', async () => {
    const dataDir = tmpDir();
    const password = addDevice(dataDir, 'living-thermostat');
    const gw = await startGateway({ dataDir });
    try {
      const client = await connectClient(gw.port, { username: 'living-thermostat', password });
      const t0 = Date.now() - 60_000;
      await client.publishAsync('sluice/living-thermostat/telemetry', JSON.stringify({ temperature: 21.5, setpoint_heat: 21, ts: t0 }), { qos: 1 });
      await client.publishAsync('sluice/living-thermostat/telemetry', JSON.stringify({ temperature: 21.75, ts: t0 + 1000 }), { qos: 0 });
      await client.endAsync();
      // QoS 0 has no acknowledgement; the batch commits within the batch interval.
      await new Promise((r) => setTimeout(r, 200));
      expect(readings(dataDir, 'living-thermostat')).toEqual([
        { metric: 'setpoint_heat', value: 21, unit: '°C', ts: new Date(t0).toISOString(), time_source: 'device' },
        { metric: 'temperature', value: 21.5, unit: '°C', ts: new Date(t0).toISOString(), time_source: 'device' },
        { metric: 'temperature', value: 21.75, unit: '°C', ts: new Date(t0 + 1000).toISOString(), time_source: 'device' },
      ]);
      expect(readings(dataDir, 'living-thermostat', ['--metric', 'setpoint_heat'])).toHaveLength(1);
    } finally {
      await gw.stop();
    }
  });

  it('keeps every acknowledged reading across kill -9', async () => {
    const dataDir = tmpDir();
    const password = addDevice(dataDir, 'thermo');
    const gw = await startGateway({ dataDir });
    const client = await connectClient(gw.port, { username: 'thermo', password });
    const t0 = Date.now() - 3_600_000;
    const n = 300;
    const acked: Array<Promise<unknown>> = [];
    for (let i = 0; i < n; i++) {
      acked.push(client.publishAsync('sluice/thermo/telemetry', JSON.stringify({ temperature: 20 + (i % 100) / 100, ts: t0 + i * 1000 }), { qos: 1 }));
    }
    await Promise.all(acked);
    await gw.kill(); // SIGKILL right after the last PUBACK: no flush, no clean close
    client.end(true);
    const stored = readings(dataDir, 'thermo');
    expect(stored).toHaveLength(n);
    expect(stored[n - 1]).toMatchObject({ value: 20 + ((n - 1) % 100) / 100, ts: new Date(t0 + (n - 1) * 1000).toISOString() });
    // The lock left by the killed gateway is stale: a new gateway takes over.
    const again = await startGateway({ dataDir });
    expect(again.logs.some((l) => l.msg === 'gateway started')).toBe(true);
    expect(await again.stop()).toBe(0);
  });

  it('stores a redelivered message once, with or without a device timestamp', async () => {
    const dataDir = tmpDir();
    const password = addDevice(dataDir, 'thermo');
    const gw = await startGateway({ dataDir });
    try {
      const raw = await RawMqtt.open(gw.port);
      expect(await raw.connect('thermo-1', 'thermo', password, false)).toMatchObject({ returnCode: 0 });
      const send = (messageId: number, payload: string, dup: boolean) =>
        raw.send({ cmd: 'publish', topic: 'sluice/thermo/telemetry', payload: Buffer.from(payload), qos: 1, messageId, dup, retain: false });
      const withTs = JSON.stringify({ temperature: 19.5, ts: Date.now() - 1000 });
      send(10, withTs, false);
      await raw.waitFor((p) => p.cmd === 'puback' && p.messageId === 10);
      send(10, withTs, true);
      // No device ts: the gateway's time is used, and the DUP gets the first delivery's time.
      send(11, '{"temperature": 18.25}', false);
      await raw.waitFor((p) => p.cmd === 'puback' && p.messageId === 11);
      await new Promise((r) => setTimeout(r, 30));
      send(11, '{"temperature": 18.25}', true);
      // A new message that reuses the packet id is not a redelivery.
      send(11, '{"temperature": 18.5}', false);
      await new Promise((r) => setTimeout(r, 100));
      expect(raw.received.filter((p) => p.cmd === 'puback')).toHaveLength(5);
      raw.close();
      const stored = readings(dataDir, 'thermo').map((r) => [r.value, r.time_source]);
      expect(stored).toEqual([
        [19.5, 'device'],
        [18.25, 'gateway'],
        [18.5, 'gateway'],
      ]);
    } finally {
      await gw.stop();
    }
  });

  it('stores a redelivery once even after the gateway restarted in between', async () => {
    const dataDir = tmpDir();
    const password = addDevice(dataDir, 'thermo');
    let gw = await startGateway({ dataDir });
    const raw = await RawMqtt.open(gw.port);
    await raw.connect('thermo-1', 'thermo', password, false);
    raw.send({ cmd: 'publish', topic: 'sluice/thermo/telemetry', payload: Buffer.from('{"temperature": 17}'), qos: 1, messageId: 5, dup: false, retain: false });
    await raw.waitFor((p) => p.cmd === 'puback');
    await gw.kill();
    raw.close();
    gw = await startGateway({ dataDir });
    try {
      const again = await RawMqtt.open(gw.port);
      await again.connect('thermo-1', 'thermo', password, false);
      again.send({ cmd: 'publish', topic: 'sluice/thermo/telemetry', payload: Buffer.from('{"temperature": 17}'), qos: 1, messageId: 5, dup: true, retain: false });
      await again.waitFor((p) => p.cmd === 'puback');
      again.close();
      expect(readings(dataDir, 'thermo')).toHaveLength(1);
    } finally {
      await gw.stop();
    }
  });

  it('quarantines an invalid payload, acknowledges it, and keeps the connection', async () => {
    const dataDir = tmpDir();
    const password = addDevice(dataDir, 'thermo');
    const gw = await startGateway({ dataDir });
    try {
      const client = await connectClient(gw.port, { username: 'thermo', password });
      await client.publishAsync('sluice/thermo/telemetry', 'definitely not json', { qos: 1 });
      await client.publishAsync('sluice/thermo/telemetry', JSON.stringify({ temperature: 22, humidity: 400 }), { qos: 1 });
      expect(client.connected).toBe(true);
      await client.endAsync();
      const q = cli(['quarantine', '--json'], { dataDir });
      expect(q.status).toBe(0);
      const entries = JSON.parse(q.stdout) as Array<{ topic: string; reason: string; received_at: string; refused: unknown[]; payload_head: string }>;
      expect(entries.map((e) => [e.topic, e.reason])).toEqual([
        ['sluice/thermo/telemetry', 'out_of_range'],
        ['sluice/thermo/telemetry', 'not_json'],
      ]);
      expect(entries[1]!.payload_head).toBe('definitely not json');
      expect(entries[0]!.refused).toEqual([{ metric: 'humidity', reason: 'out_of_range', message: '400 % is outside 0…100' }]);
      expect(readings(dataDir, 'thermo').map((r) => r.value)).toEqual([22]);
      // [PRIV-3] the log names the reason, never the refused value.
      const logLine = gw.logs.find((l) => l.msg?.toString().startsWith('device message quarantined'));
      expect(logLine).toMatchObject({ deviceId: 'thermo', reason: 'not_json' });
      expect(JSON.stringify(gw.logs)).not.toContain('definitely not json');
      // Not the bare digits: a port or a timestamp in the log may contain them.
      expect(JSON.stringify(gw.logs)).not.toMatch(/[:=]\s*400\b|\b400 %/);
    } finally {
      await gw.stop();
    }
  });
});
