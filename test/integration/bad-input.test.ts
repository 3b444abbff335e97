import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { addDevice, cli, connectClient, startGateway, type GatewayChild } from '../helpers/gateway.js';

let gw: GatewayChild;
let dataDir: string;
let client: MqttClient;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'sluice-bad-'));
  // A small payload limit so "too large" is cheap to send.
  gw = await startGateway({ dataDir, env: { SLUICE_INGEST_MAX_PAYLOAD_BYTES: '512' } });
  const password = addDevice(dataDir, 'bad-thermo', 'thermostat');
  client = await connectClient(gw.port, { username: 'bad-thermo', password, clientId: 'bad-thermo' });
});

afterAll(async () => {
  await client?.endAsync();
  await gw?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

interface QuarantineRow {
  topic: string;
  reason: string;
  message: string;
  refused: Array<{ metric: string; reason: string }>;
  payload_bytes: number;
  payload_head: string;
}

function quarantine(): QuarantineRow[] {
  const r = cli(['quarantine', '--device', 'bad-thermo', '--json'], { dataDir });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as QuarantineRow[];
}

const now = () => Date.now();

describe('bad input over MQTT: quarantined with its reason, then acknowledged', () => {
  // Each case: payload, expected reason. Every publish is QoS 1: a resolved publishAsync is the PUBACK.
  const corpus: Array<[string, () => string, string]> = [
    ['not JSON', () => '{"temperature": 21', 'not_json'],
    ['not an object', () => '[21.5, 22]', 'not_object'],
    ['unknown metric', () => '{"tempreature": 21.5}', 'unknown_metric'],
    ['wrong type', () => '{"temperature": "21.5"}', 'wrong_type'],
    ['out of range', () => '{"temperature": 150}', 'out_of_range'],
    ['NaN', () => '{"temperature": "NaN"}', 'not_finite'],
    ['Infinity', () => '{"humidity": "Infinity"}', 'not_finite'],
    ['too large', () => JSON.stringify({ temperature: 20, note: 'x'.repeat(600) }), 'too_large'],
    ['ts too far ahead', () => JSON.stringify({ temperature: 20, ts: now() + 6 * 60_000 }), 'ts_too_far_future'],
    ['ts too far behind', () => JSON.stringify({ temperature: 20, ts: now() - 8 * 86_400_000 }), 'ts_too_far_past'],
    ['no metric at all', () => '{}', 'no_metrics'],
  ];

  it('pins every reason code, keeps at most 256 bytes, and never disconnects the device', async () => {
    for (const [, make] of corpus) await client.publishAsync('sluice/bad-thermo/telemetry', make(), { qos: 1 });
    await client.publishAsync('sluice/bad-thermo/firmware', 'v1', { qos: 1 });
    expect(client.connected).toBe(true);
    const rows = quarantine().reverse(); // oldest first
    expect(rows.map((r) => r.reason)).toEqual([...corpus.map((c) => c[2]), 'unknown_topic']);
    const large = rows.find((r) => r.reason === 'too_large')!;
    expect(large.payload_bytes).toBeGreaterThan(600);
    expect(Buffer.byteLength(large.payload_head)).toBeLessThanOrEqual(256);
    expect(readings()).toEqual([]);
  });

  it('a partial message keeps its valid metrics; the quarantine entry names the refused ones', async () => {
    await client.publishAsync('sluice/bad-thermo/telemetry', JSON.stringify({ temperature: 21.5, humidity: 140, colour: 'red', setpoint_heat: 'NaN' }), { qos: 1 });
    expect(readings().map((r) => [r.metric, r.value])).toEqual([['temperature', 21.5]]);
    const entry = quarantine()[0]!;
    expect(entry.reason).toBe('out_of_range');
    expect(entry.refused.map((r) => [r.metric, r.reason])).toEqual([
      ['humidity', 'out_of_range'],
      ['colour', 'unknown_metric'],
      ['setpoint_heat', 'not_finite'],
    ]);
    expect(entry.message).toMatch(/^1 reading\(s\) stored; refused humidity: /);
  });

  it('a key named like a built-in JavaScript property is an unknown metric; the good metrics of its message are stored', async () => {
    const odd = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf'];
    // Written by hand: JSON.stringify of an object literal would drop "__proto__".
    for (const [i, key] of odd.entries()) await client.publishAsync('sluice/bad-thermo/telemetry', `{"temperature": ${30 + i}, "${key}": 5}`, { qos: 1 });
    expect(client.connected).toBe(true);
    const temperatures = readings().filter((r) => r.metric === 'temperature').map((r) => r.value);
    expect(temperatures).toEqual(expect.arrayContaining([30, 31, 32, 33, 34]));
    const entries = quarantine().slice(0, odd.length).reverse(); // oldest first
    expect(entries.map((e) => [e.reason, e.refused.map((r) => [r.metric, r.reason])])).toEqual(odd.map((key) => ['unknown_metric', [[key, 'unknown_metric']]]));
  });

  it('logs bad input from one device at most once a minute, without values', () => {
    const lines = gw.logs.filter((l) => l.msg?.toString().startsWith('device message quarantined') && l.deviceId === 'bad-thermo');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ reason: 'not_json', topic: 'sluice/bad-thermo/telemetry' });
    // [PRIV-3] no payload text in any log line.
    expect(JSON.stringify(gw.logs)).not.toContain('tempreature');
  });
});

function readings(): Array<{ metric: string; value: unknown }> {
  const r = cli(['readings', 'bad-thermo', '--since', '30d', '--json'], { dataDir });
  return JSON.parse(r.stdout) as Array<{ metric: string; value: unknown }>;
}
