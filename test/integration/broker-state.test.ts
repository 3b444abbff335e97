import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { addDevice, connectClient, startGateway } from '../helpers/gateway.js';
import { tmpDir } from '../helpers/tmp-dir.js';

function collect(client: MqttClient): Array<{ topic: string; payload: string; retain: boolean }> {
  const got: Array<{ topic: string; payload: string; retain: boolean }> = [];
  client.on('message', (topic, payload, packet) => got.push({ topic, payload: payload.toString(), retain: packet.retain }));
  return got;
}

async function until(pred: () => boolean, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('broker state survives a gateway restart', () => {
  it('retained status and a persistent session with queued QoS 1 messages outlive kill -9', async () => {
    const dataDir = tmpDir();
    let gw = await startGateway({ dataDir });
    const devicePw = addDevice(dataDir, 'kitchen-plug', 'smart-plug');
    const toolPw = addDevice(dataDir, 'dashboard', '', ['--role', 'household']);

    // A household tool with a persistent session subscribes, then goes away.
    let tool = await connectClient(gw.port, { username: 'dashboard', password: toolPw, clientId: 'dashboard', clean: false });
    await tool.subscribeAsync('sluice/+/telemetry', { qos: 1 });
    await tool.endAsync();

    let device = await connectClient(gw.port, { username: 'kitchen-plug', password: devicePw, clientId: 'kitchen-plug' });
    await device.publishAsync('sluice/kitchen-plug/status', 'online', { qos: 1, retain: true });
    await device.publishAsync('sluice/kitchen-plug/telemetry', '{"power": 10}', { qos: 1 });
    await device.publishAsync('sluice/kitchen-plug/telemetry', '{"power": 11}', { qos: 1 });
    device.end(true);
    // aedes writes a persistent session's queue after the PUBACK: wait until both are on disk, so
    // the kill tests what survives a restart and not the race before the enqueue.
    const db = new Database(join(dataDir, 'sluice.db'), { readonly: true });
    await until(() => (db.prepare('SELECT COUNT(*) AS n FROM broker_outgoing').get() as { n: number }).n >= 2);
    db.close();
    await gw.kill();

    gw = await startGateway({ dataDir });
    let queued: ReturnType<typeof collect> = [];
    tool = await connectClient(gw.port, { username: 'dashboard', password: toolPw, clientId: 'dashboard', clean: false, reconnectPeriod: 0 }, (c) => {
      queued = collect(c);
    });
    expect(tool.connected).toBe(true);
    await until(() => queued.length >= 2);
    expect(queued.map((m) => m.payload)).toEqual(['{"power": 10}', '{"power": 11}']);

    // The subscription itself survived too: a new message reaches the session without resubscribing.
    device = await connectClient(gw.port, { username: 'kitchen-plug', password: devicePw, clientId: 'kitchen-plug' });
    await device.publishAsync('sluice/kitchen-plug/telemetry', '{"power": 12}', { qos: 1 });
    await until(() => queued.length >= 3);
    expect(queued[2]!.payload).toBe('{"power": 12}');

    const viewer = await connectClient(gw.port, { username: 'dashboard', password: toolPw, clientId: 'viewer' });
    const retained = collect(viewer);
    await viewer.subscribeAsync('sluice/+/status', { qos: 1 });
    await until(() => retained.length >= 1);
    expect(retained[0]).toEqual({ topic: 'sluice/kitchen-plug/status', payload: 'online', retain: true });

    await Promise.all([tool.endAsync(), device.endAsync(), viewer.endAsync()]);
    await gw.stop();
  });
});
