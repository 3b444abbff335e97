import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDevice, cli, startGateway, type GatewayChild } from '../helpers/gateway.js';
import { closedWithin, connectFrom, connectPacket, rawSocket, subscribePacket } from '../helpers/mqtt-raw.js';

/** Offline queues, session expiry and slow consumers, against one gateway child. */
const LIMITS = {
  SLUICE_BROKER_LIMITS_PUBLISH_RATE: '100000',
  SLUICE_BROKER_LIMITS_PUBLISH_BURST: '100000',
  SLUICE_BROKER_LIMITS_MAX_QUEUED_PER_SESSION: '10',
  SLUICE_BROKER_LIMITS_SESSION_EXPIRY: '1000',
  SLUICE_BROKER_LIMITS_MAX_OUTBOUND_BUFFER_BYTES: '65536',
  SLUICE_BROKER_LIMITS_SLOW_CONSUMER_TIMEOUT: '1000',
  SLUICE_BROKER_LIMITS_MAX_SUBSCRIPTIONS_PER_CLIENT: '3',
  SLUICE_LOG_LEVEL: 'info',
};

let gw: GatewayChild;
let dataDir: string;
let home: string;

function limitsHit(): Record<string, number> {
  const r = cli(['status', '--json'], { dataDir });
  return (JSON.parse(r.stdout) as { broker: { limits_hit: Record<string, number> } }).broker.limits_hit;
}

const household = (clientId: string, clean = true, before?: (c: MqttClient) => void) =>
  connectFrom(gw.port, '127.0.0.3', { clientId, username: 'home', password: home, clean }, before);

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'sluice-sessions-')); // shared by the file, removed in afterAll
  home = addDevice(dataDir, 'home', '', ['--role', 'household']);
  gw = await startGateway({ dataDir, env: LIMITS });
});

afterAll(async () => {
  await gw?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('persistent sessions and slow consumers', () => {
  it('keeps only the newest queued messages of an offline session', async () => {
    const keeper = await household('keeper', false);
    await keeper.subscribeAsync('sluice/+/cmd/#', { qos: 1 });
    await keeper.endAsync();
    const sender = await household('sender');
    for (let i = 0; i < 30; i++) await sender.publishAsync('sluice/lamp/cmd/n', String(i), { qos: 1 });
    await sender.endAsync();
    const received: string[] = [];
    // The queue is sent right after CONNACK, so the listener must be there before connecting.
    const back = await household('keeper', false, (c) => c.on('message', (_t, payload) => received.push(payload.toString())));
    await new Promise((r) => setTimeout(r, 500));
    await back.endAsync();
    expect(received).toEqual(['20', '21', '22', '23', '24', '25', '26', '27', '28', '29']);
    expect(limitsHit().offline_queue_dropped).toBe(20);
  });

  it('expires a persistent session left offline past the expiry', async () => {
    const gone = await household('gone', false);
    await gone.subscribeAsync('sluice/+/cmd/#', { qos: 1 });
    await gone.endAsync();
    await new Promise((r) => setTimeout(r, 1800));
    const back = await household('gone', false);
    const received: string[] = [];
    back.on('message', (_t, p) => received.push(p.toString()));
    const sender = await household('sender2');
    await sender.publishAsync('sluice/lamp/cmd/x', 'after-expiry', { qos: 1 });
    await new Promise((r) => setTimeout(r, 300));
    await Promise.all([back.endAsync(), sender.endAsync()]);
    expect(received).toEqual([]); // its subscription went with the session
    expect(limitsHit().sessions_expired).toBeGreaterThanOrEqual(1);
  });

  it('refuses subscriptions beyond the per-client cap with SUBACK 0x80', async () => {
    const c = await household('many-subs');
    const outcomes: string[] = [];
    for (const topic of ['a/1', 'a/2', 'a/3', 'a/4', 'a/5']) {
      // MQTT.js turns a SUBACK 0x80 into a rejection.
      await c.subscribeAsync(topic).then(
        (granted) => outcomes.push(String(granted[0]?.qos)),
        () => outcomes.push('refused'),
      );
    }
    await c.endAsync();
    expect(outcomes).toEqual(['0', '0', '0', 'refused', 'refused']);
    expect(limitsHit().subscriptions).toBeGreaterThanOrEqual(2);
  });

  it('refuses over-long client ids, over-long topics and over-deep topics', async () => {
    await expect(household('x'.repeat(100))).rejects.toThrow(/identifier rejected/i);
    for (const topic of [`sluice/lamp/cmd/${'a'.repeat(300)}`, `sluice/lamp/cmd/${'a/'.repeat(20)}z`]) {
      const c = await household('topics');
      const closed = new Promise<void>((r) => c.once('close', () => r()));
      c.publish(topic, 'on', { qos: 0 });
      await closed;
      c.end(true);
    }
    const hits = limitsHit();
    expect(hits.client_id_too_long).toBe(1);
    expect(hits.topic_too_long).toBe(1);
    expect(hits.topic_too_deep).toBe(1);
  });

  it('disconnects a subscriber that stops reading, and keeps serving the others', async () => {
    const slow = await rawSocket(gw.port, '127.0.0.4');
    slow.on('error', () => undefined);
    slow.write(connectPacket({ clientId: 'slow', username: 'home', password: home }));
    slow.write(subscribePacket('sluice/+/cmd/#'));
    slow.pause();
    const reader = await household('reader');
    await reader.subscribeAsync('sluice/+/cmd/#', { qos: 0 });
    let read = 0;
    reader.on('message', () => read++);
    await new Promise((r) => setTimeout(r, 200));
    const sender = await household('bulk');
    const payload = Buffer.alloc(16 * 1024, 0x62);
    for (let i = 0; i < 400 && !slow.destroyed; i++) {
      sender.publish('sluice/lamp/cmd/bulk', payload, { qos: 0 });
      if (i % 20 === 0) await new Promise((r) => setTimeout(r, 5));
    }
    await new Promise((r) => setTimeout(r, 1500)); // past slow_consumer_timeout
    slow.resume(); // reading again, it finds the connection closed by the broker
    expect(await closedWithin(slow, 5000)).toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    await Promise.all([sender.endAsync(), reader.endAsync()]);
    expect(read).toBeGreaterThan(0);
    expect(limitsHit().slow_consumer).toBeGreaterThanOrEqual(1);
    expect(gw.child.exitCode).toBeNull();
  });
});
