import { resolve } from 'node:path';
import type { Socket } from 'node:net';
import mqttPacket from 'mqtt-packet';
import { mib, mqttFrom, rawSocket, sleep, startBrokerChild, steadyDevice } from './broker-child.js';

export interface BrokerAbuseOptions {
  /** Multiplies counts and durations (1 ≈ 1 minute in all). */
  scale?: number;
  /** Limits for the run (`SLUICE_BROKER_LIMITS_*`); the defaults except those named in DEFAULT_ENV. */
  env?: Record<string, string>;
  root?: string;
  rssBoundBytes?: number;
  log?: (line: string) => void;
}

/** What each abuse scenario did and what the limits held. */
export interface BrokerAbuseResult {
  connectionStorm: { attempted: number; openAtPeak: number; refusedByLimits: number };
  slowConnects: { opened: number; closedByBroker: number; secondsUntilAllClosed: number };
  bruteForce: { attempts: number; refusedUnchecked: number; deviceStillConnects: boolean };
  fastDevice: { qos0Sent: number; qos0Stored: number; qos0Dropped: number; qos1Sent: number; qos1Stored: number; qos1Seconds: number };
  retainedFlood: { published: number; retained: number; notRetained: number };
  qos0Flood: { published: number; publishers: number; gatewaySurvived: boolean };
  good: { acked: number; stored: number; failures: number };
  peakRssBytes: number;
  rssBoundBytes: number;
  limitsHit: Record<string, number>;
  ok: boolean;
  problems: string[];
}

/** Limits lowered for the run so each scenario reaches its limit within its time. */
const DEFAULT_ENV: Record<string, string> = {
  SLUICE_BROKER_LIMITS_CONNECT_TIMEOUT: '2000',
  SLUICE_BROKER_LIMITS_MAX_RETAINED_MESSAGES: '500',
};

/**
 * The broker abuse benchmark: a connection storm, slow CONNECTs, a password brute force, a
 * device at 10x its rate, a retained-message flood and a QoS 0 flood with abrupt disconnects,
 * one after another against one gateway child, while a well-behaved thermostat on 127.0.0.2
 * publishes throughout. Reports what each limit held, the good device's stored readings and the
 * child's peak RSS.
 */
export async function runBrokerAbuse(options: BrokerAbuseOptions = {}): Promise<BrokerAbuseResult> {
  const scale = options.scale ?? 1;
  const log = options.log ?? (() => undefined);
  const rssBoundBytes = options.rssBoundBytes ?? 256 * 1024 * 1024;
  const gw = await startBrokerChild({
    ...(options.root ? { root: options.root } : {}),
    env: { ...DEFAULT_ENV, ...options.env },
    devices: [['good'], ['fast'], ['home', ['--role', 'household']]],
  });
  const { port, passwords } = gw;
  const good = await steadyDevice(port, 'good', passwords.good!, 200);
  const hits = () => gw.brokerStats().limits_hit;
  const problems: string[] = [];

  // 1. Connection storm from ten addresses at once.
  const attempted = Math.round(1000 * scale);
  const before = hits();
  const storm = await Promise.allSettled([...Array(attempted).keys()].map((i) => rawSocket(port, `127.0.9.${10 + (i % 10)}`)));
  await sleep(500);
  const openAtPeak = gw.brokerStats().connections as number;
  const after = hits();
  const refusedByLimits = after.connections! + after.connections_per_address! - before.connections! - before.connections_per_address!;
  for (const s of storm) if (s.status === 'fulfilled') s.value.destroy();
  log(`connection storm: ${attempted} attempted, ${openAtPeak} open at peak, ${refusedByLimits} refused`);

  // 2. Slow CONNECTs: connections that never finish their CONNECT.
  const slow = await Promise.all([...Array(Math.round(50 * scale)).keys()].map(() => rawSocket(port, '127.0.0.4')));
  slow.slice(0, slow.length / 2).forEach((s) => s.write(Buffer.from([0x10, 0x20, 0x00])));
  const slowStart = Date.now();
  const closedTimes = await Promise.all(slow.map((s) => closed(s, 30_000).then((ok) => (ok ? Date.now() - slowStart : Infinity))));
  const slowConnects = { opened: slow.length, closedByBroker: closedTimes.filter(Number.isFinite).length, secondsUntilAllClosed: Math.max(...closedTimes) / 1000 };
  log(`slow connects: ${JSON.stringify(slowConnects)}`);

  // 3. Password brute force against the good device's username from another address.
  const bfAttempts = Math.round(30 * scale);
  const bfBefore = hits().auth_backoff!;
  for (let i = 0; i < bfAttempts; i++) await mqttFrom(port, '127.0.0.5', { clientId: `bf${i}`, username: 'good', password: `guess-${i}` }).then((c) => c.end(true), () => undefined);
  const deviceStillConnects = await mqttFrom(port, '127.0.0.2', { clientId: 'good-again', username: 'good', password: passwords.good! }).then(
    (c) => (c.end(true), true),
    () => false,
  );
  const bruteForce = { attempts: bfAttempts, refusedUnchecked: hits().auth_backoff! - bfBefore, deviceStillConnects };
  log(`brute force: ${JSON.stringify(bruteForce)}`);

  // 4. A device at 10x the publish rate, QoS 0 then QoS 1.
  const rate = Number(options.env?.SLUICE_BROKER_LIMITS_PUBLISH_RATE ?? 20);
  const fast = await mqttFrom(port, '127.0.0.6', { clientId: 'fast', username: 'fast', password: passwords.fast! });
  const t0 = Date.now();
  const qos0Sent = Math.round(rate * 10 * 5 * scale);
  const droppedBefore = hits().publish_rate_dropped!;
  for (let i = 0; i < qos0Sent; i++) {
    fast.publish('sluice/fast/telemetry', JSON.stringify({ temperature: 18, ts: t0 + i }), { qos: 0 });
    if (i % 10 === 9) await sleep(1000 / rate); // 10 messages per 1/rate s: 10x the rate
  }
  const qos1Sent = Math.round(rate * 3 * scale);
  const q1Start = Date.now();
  for (let i = 0; i < qos1Sent; i++) await fast.publishAsync('sluice/fast/telemetry', JSON.stringify({ temperature: 19, ts: t0 + qos0Sent + i }), { qos: 1 });
  const qos1Seconds = (Date.now() - q1Start) / 1000;
  await fast.endAsync();
  await sleep(200);
  const fastReadings = JSON.parse(gw.cli(['readings', 'fast', '--json', '--since', '1h'])) as Array<{ value: number }>;
  const fastDevice = {
    qos0Sent,
    qos0Stored: fastReadings.filter((r) => r.value === 18).length,
    qos0Dropped: hits().publish_rate_dropped! - droppedBefore,
    qos1Sent,
    qos1Stored: fastReadings.filter((r) => r.value === 19).length,
    qos1Seconds,
  };
  if (fastDevice.qos1Stored !== qos1Sent) problems.push(`the fast device's QoS 1 readings: ${fastDevice.qos1Stored} of ${qos1Sent} stored`);
  log(`fast device: ${JSON.stringify(fastDevice)}`);

  // 5. Retained flood from the household's tools, over several connections.
  const published = Math.round(1000 * scale);
  const notRetainedBefore = hits().retained_count! + hits().retained_bytes!;
  const perConnection = Math.ceil(published / 10);
  await Promise.all(
    [...Array(10).keys()].map(async (k) => {
      const home = await mqttFrom(port, `127.0.8.${10 + k}`, { clientId: `retain${k}`, username: 'home', password: passwords.home! });
      for (let i = 0; i < perConnection; i++) home.publish(`sluice/r${k}/cmd/${i}`, 'on', { qos: 0, retain: true });
      await sleep(200);
      await home.endAsync();
    }),
  );
  const retainedFlood = { published: perConnection * 10, retained: gw.brokerStats().retained_messages as number, notRetained: hits().retained_count! + hits().retained_bytes! - notRetainedBefore };
  log(`retained flood: ${JSON.stringify(retainedFlood)}`);

  // 6. QoS 0 flood to a subscriber that stops reading, then everyone vanishes at once.
  const sub = await rawSocket(port, '127.0.0.7');
  sub.write(connect('stalled', passwords.home!));
  sub.write(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'sluice/+/cmd/#', qos: 0 }] }));
  sub.pause();
  await sleep(300);
  const batch = Buffer.concat(Array(256).fill(mqttPacket.generate({ cmd: 'publish', topic: 'sluice/lamp/cmd/set', payload: 'x'.repeat(32), qos: 0, retain: false, dup: false })) as Buffer[]);
  let floodSent = 0;
  let flooding = true;
  const publishers: Socket[] = [];
  for (let k = 0; k < 8; k++) {
    const p = await rawSocket(port, `127.0.7.${10 + k}`);
    p.write(connect(`flood${k}`, passwords.home!));
    publishers.push(p);
    const pump = () => {
      while (flooding && !p.destroyed) {
        floodSent += 256;
        if (!p.write(batch)) return void p.once('drain', pump);
      }
    };
    setImmediate(pump);
  }
  await sleep(4000 * scale);
  flooding = false;
  for (const s of [sub, ...publishers]) s.resetAndDestroy();
  await sleep(3000);
  const qos0Flood = { published: floodSent, publishers: publishers.length, gatewaySurvived: gw.alive() };
  log(`qos0 flood: ${JSON.stringify(qos0Flood)}`);

  await sleep(500);
  await good.stop();
  const alive = gw.alive();
  const goodStored = alive ? (JSON.parse(gw.cli(['readings', 'good', '--json', '--since', '1h'])) as unknown[]).length : -1;
  const peakRssBytes = alive ? gw.peakRss() : 0;
  const limitsHit = alive ? hits() : {};
  const stderr = gw.stderr();
  const exitCode = await gw.stop();
  if (!alive) problems.push(`the gateway died: ${stderr.slice(-500)}`);
  else if (exitCode !== 0) problems.push(`the gateway exited with ${exitCode} on SIGTERM`);
  if (good.failures.length > 0) problems.push(`the good device saw ${good.failures.length} failures: ${good.failures[0]}`);
  if (alive && goodStored !== good.acked) problems.push(`the good device had ${good.acked} readings acknowledged, ${goodStored} stored`);
  if (!deviceStillConnects) problems.push('the good device could not connect during the brute force');
  if (peakRssBytes > rssBoundBytes) problems.push(`peak RSS ${mib(peakRssBytes)} MiB over ${mib(rssBoundBytes)} MiB`);
  log(`abuse done: peak RSS ${mib(peakRssBytes)} MiB, good ${goodStored}/${good.acked}, problems: ${problems.length}`);
  return {
    connectionStorm: { attempted, openAtPeak, refusedByLimits },
    slowConnects,
    bruteForce,
    fastDevice,
    retainedFlood,
    qos0Flood,
    good: { acked: good.acked, stored: goodStored, failures: good.failures.length },
    peakRssBytes,
    rssBoundBytes,
    limitsHit,
    ok: problems.length === 0,
    problems,
  };
}

function connect(clientId: string, password: string): Buffer {
  return mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId, keepalive: 60, username: 'home', password: Buffer.from(password) });
}

function closed(socket: Socket, ms: number): Promise<boolean> {
  if (socket.destroyed) return Promise.resolve(true);
  return new Promise((res) => {
    const timer = setTimeout(() => res(false), ms);
    socket.once('close', () => {
      clearTimeout(timer);
      res(true);
    });
  });
}

// Run directly: `node dist/bench/abuse.js [scale]` prints the result as JSON; exit 1 when not ok.
if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const result = await runBrokerAbuse({ scale: Number(process.argv[2] ?? 1), log: (l) => process.stderr.write(`${l}\n`) });
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  process.exitCode = result.ok ? 0 : 1;
}
