import { mkdtempSync, rmSync } from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { addDevice, cli, startGateway, type GatewayChild } from '../helpers/gateway.js';
import { closedWithin, connectFrom, connectPacket, peakRss, rawSocket } from '../helpers/mqtt-raw.js';
import { startSteadyDevice, type SteadyDevice } from '../helpers/steady-device.js';

/**
 * Abuse against one gateway child while a well-behaved thermostat on 127.0.0.2 keeps
 * publishing: each scenario must be held by a limit, and every reading of the good device
 * must be stored at the end.
 */
const LIMITS = {
  SLUICE_BROKER_LIMITS_PUBLISH_RATE: '10',
  SLUICE_BROKER_LIMITS_PUBLISH_BURST: '10',
  SLUICE_BROKER_LIMITS_CONNECT_TIMEOUT: '500',
  SLUICE_BROKER_LIMITS_MAX_CONNECTIONS: '200',
  SLUICE_BROKER_LIMITS_MAX_CONNECTIONS_PER_ADDRESS: '50',
  SLUICE_BROKER_LIMITS_MAX_RETAINED_MESSAGES: '20',
  SLUICE_BROKER_LIMITS_MAX_PACKET_BYTES: '65536',
  SLUICE_BROKER_LIMITS_AUTH_BACKOFF_BASE: '5000',
  SLUICE_LOG_LEVEL: 'info',
};
/** Peak RSS the gateway child may reach in this file (bytes). */
const RSS_BOUND = 200 * 1024 * 1024;

let gw: GatewayChild;
let dataDir: string;
let good: SteadyDevice;
const passwords: Record<string, string> = {};

function brokerStats(): { connections: number; retained_messages: number; limits_hit: Record<string, number> } {
  const r = cli(['status', '--json'], { dataDir });
  expect(r.status, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { broker: ReturnType<typeof brokerStats> }).broker;
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'sluice-abuse-')); // shared by the whole file, removed in afterAll
  passwords.good = addDevice(dataDir, 'good');
  passwords.fast = addDevice(dataDir, 'fast');
  passwords.home = addDevice(dataDir, 'home', '', ['--role', 'household']);
  gw = await startGateway({ dataDir, env: LIMITS });
  good = await startSteadyDevice(gw.port, 'good', passwords.good!);
});

afterAll(async () => {
  await good?.stop().catch(() => undefined);
  await gw?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('broker under abuse', () => {
  it('holds 1000 connections at once to the per-address cap', async () => {
    const attempts = await Promise.allSettled([...Array(1000).keys()].map(() => rawSocket(gw.port, '127.0.0.3')));
    const sockets = attempts.filter((a): a is PromiseFulfilledResult<Socket> => a.status === 'fulfilled').map((a) => a.value);
    for (const s of sockets) s.on('error', () => undefined);
    // Refusals land as the gateway gets to them: on a loaded machine that takes a while, so wait for them, not a fixed time.
    await vi.waitFor(
      () => {
        const open = sockets.filter((s) => !s.destroyed && !s.closed && s.readyState === 'open');
        const stats = brokerStats();
        expect(stats.connections).toBeLessThanOrEqual(50 + 5); // the good device and the status call
        expect(stats.limits_hit.connections_per_address).toBeGreaterThanOrEqual(900);
        expect(open.length).toBeLessThanOrEqual(60);
      },
      { timeout: 20_000, interval: 250 },
    );
    for (const s of sockets) s.destroy();
  }, 60_000);

  it('closes connections that never finish CONNECT', async () => {
    const sockets = await Promise.all([...Array(20).keys()].map(() => rawSocket(gw.port, '127.0.0.4')));
    // Half of them send the first bytes of a CONNECT and stall.
    sockets.slice(0, 10).forEach((s) => s.write(connectPacket({ clientId: 'slow' }).subarray(0, 5)));
    const closed = await Promise.all(sockets.map((s) => closedWithin(s, 3000)));
    expect(closed.every(Boolean)).toBe(true);
    expect(brokerStats().limits_hit.connect_timeout).toBeGreaterThanOrEqual(20);
  });

  it('backs off a password brute force per (address, username) without locking out the device', async () => {
    const outcomes: string[] = [];
    for (let i = 0; i < 15; i++) {
      const started = Date.now();
      await connectFrom(gw.port, '127.0.0.5', { clientId: `bf${i}`, username: 'good', password: `guess-${i}` }).then(
        (c) => (outcomes.push('connected'), c.end(true)),
        (err: Error) => outcomes.push(`${err.message} ${Date.now() - started}ms`),
      );
    }
    expect(outcomes.some((o) => o === 'connected')).toBe(false);
    expect(brokerStats().limits_hit.auth_backoff).toBeGreaterThanOrEqual(10);
    // Even the right password is refused from the attacking address while it is backed off…
    await expect(connectFrom(gw.port, '127.0.0.5', { clientId: 'bf-right', username: 'good', password: passwords.good! })).rejects.toThrow();
    // …while the real device, from its own address, connects at once.
    const again = await connectFrom(gw.port, '127.0.0.2', { clientId: 'good-2', username: 'good', password: passwords.good! });
    await again.endAsync();
  });

  it('drops QoS 0 and slows QoS 1 from a device at 10x its rate', async () => {
    const fast = await connectFrom(gw.port, '127.0.0.6', { clientId: 'fast', username: 'fast', password: passwords.fast! });
    const started = Date.now();
    for (let i = 0; i < 200; i++) {
      fast.publish('sluice/fast/telemetry', JSON.stringify({ temperature: 18, ts: started + i }), { qos: 0 });
      await new Promise((r) => setTimeout(r, 10)); // 100/s against a rate of 10/s
    }
    const qos0Seconds = (Date.now() - started) / 1000;
    const q1Start = Date.now();
    for (let i = 0; i < 25; i++) await fast.publishAsync('sluice/fast/telemetry', JSON.stringify({ temperature: 19, ts: started + 1000 + i }), { qos: 1 });
    const q1Seconds = (Date.now() - q1Start) / 1000;
    await fast.endAsync();
    const stats = brokerStats();
    expect(stats.limits_hit.publish_rate_dropped).toBeGreaterThan(100);
    expect(stats.limits_hit.publish_rate_delayed).toBeGreaterThan(0);
    // 25 QoS 1 at 10/s with the bucket drained take about 2.5 s; none is lost.
    expect(q1Seconds).toBeGreaterThan(1.5);
    const r = cli(['readings', 'fast', '--json', '--since', '1h'], { dataDir });
    const stored = JSON.parse(r.stdout) as Array<{ value: number }>;
    expect(stored.filter((x) => x.value === 19)).toHaveLength(25);
    expect(stored.filter((x) => x.value === 18).length).toBeLessThanOrEqual(10 + Math.ceil(qos0Seconds * 10) + 5);
  });

  it('stops retaining beyond the retained-message cap', async () => {
    const home = await connectFrom(gw.port, '127.0.0.7', { clientId: 'home', username: 'home', password: passwords.home! });
    for (let i = 0; i < 40; i++) await home.publishAsync(`sluice/any/cmd/r${i}`, 'on', { qos: 1, retain: true });
    await home.endAsync();
    const stats = brokerStats();
    expect(stats.retained_messages).toBeLessThanOrEqual(20);
    expect(stats.limits_hit.retained_count).toBeGreaterThan(0);
  });

  it('closes a connection announcing an oversized packet before buffering it', async () => {
    const s = await rawSocket(gw.port, '127.0.0.8');
    s.on('error', () => undefined);
    s.write(connectPacket({ clientId: 'big', username: 'home', password: passwords.home! }));
    // PUBLISH announcing 64 MiB, then 8 MiB of it.
    s.write(Buffer.from([0x30, 0x80, 0x80, 0x80, 0x20]));
    const chunk = Buffer.alloc(1024 * 1024, 0x61);
    for (let i = 0; i < 8 && !s.destroyed; i++) s.write(chunk);
    expect(await closedWithin(s, 3000)).toBe(true);
    expect(brokerStats().limits_hit.packet_too_large).toBe(1);
  });

  it('served the well-behaved device throughout, stayed within its memory bound, and is still up', async () => {
    await new Promise((r) => setTimeout(r, 500));
    await good.stop();
    expect(good.failures).toEqual([]);
    expect(good.acked).toBeGreaterThan(10);
    expect(good.stored(dataDir)).toBe(good.acked);
    expect(gw.child.exitCode).toBeNull();
    expect(peakRss(gw.child.pid!)).toBeLessThan(RSS_BOUND);
  });
});
