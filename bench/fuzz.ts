import { resolve } from 'node:path';
import mqttPacket from 'mqtt-packet';
import { mib, prng, rawSocket, sleep, startBrokerChild, steadyDevice } from './broker-child.js';

/** Options of one broker fuzz run against a gateway child process. */
export interface BrokerFuzzOptions {
  /** How long the fuzzing lasts (ms). */
  durationMs: number;
  /** PRNG seed; the same seed gives the same sequence of sessions and mutations. */
  seed: number;
  /** Concurrent fuzzing connections (default 6). */
  workers?: number;
  /** Peak RSS the gateway may reach (bytes; default 256 MiB, the bound stated in the README). */
  rssBoundBytes?: number;
  /** Repository root holding bin/sluice.js and dist/ (default: found from this file). */
  root?: string;
  /** Extra environment for the gateway (e.g. limits). */
  env?: Record<string, string>;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

export interface BrokerFuzzResult {
  seed: number;
  durationMs: number;
  sessions: number;
  persistentSessions: number;
  mutatedPackets: number;
  goodAcked: number;
  goodStored: number;
  goodFailures: string[];
  peakRssBytes: number;
  rssBoundBytes: number;
  gatewayAlive: boolean;
  gatewayExitCode: number | null;
  limitsHit: Record<string, number>;
  /** True when the gateway survived, stored every acknowledged reading and stayed under the bound. */
  ok: boolean;
  problems: string[];
}



/**
 * The broker fuzz: valid MQTT sessions (half of them persistent) interleaved with mutated
 * packets — random bytes, truncated and oversized remaining lengths, invalid UTF-8 and
 * wildcard topics in PUBLISH, bad QoS bits, protocol violations — while a well-behaved
 * thermostat on 127.0.0.2 publishes QoS 1 readings. Measures the gateway child's peak RSS
 * (VmHWM) and checks every acknowledged reading of the good device was stored.
 */
export async function runBrokerFuzz(options: BrokerFuzzOptions): Promise<BrokerFuzzResult> {
  const log = options.log ?? (() => undefined);
  const rssBoundBytes = options.rssBoundBytes ?? 256 * 1024 * 1024;
  const random = prng(options.seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const fuzzDevices = ['fz0', 'fz1', 'fz2'];
  const gw = await startBrokerChild({
    ...(options.root ? { root: options.root } : {}),
    ...(options.env ? { env: options.env } : {}),
    devices: [['good'], ['home', ['--role', 'household']], ...fuzzDevices.map((id): [string] => [id])],
  });
  const creds = gw.passwords;
  const port = gw.port;
  log(`fuzz seed=${options.seed} port=${port} pid=${gw.pid}`);

  // The well-behaved device on its own address.
  const good = await steadyDevice(port, 'good', creds.good!);

  let sessions = 0;
  let persistentSessions = 0;
  let mutatedPackets = 0;
  const deadline = Date.now() + options.durationMs;

  const session = async (n: number): Promise<void> => {
    const address = `127.0.${1 + Math.floor(random() * 3)}.${10 + Math.floor(random() * 240)}`;
    const who = random() < 0.5 ? 'home' : pick(fuzzDevices);
    const persistent = random() < 0.5;
    const clientId = persistent ? `p-${who}-${Math.floor(random() * 20)}` : `c${n}`;
    sessions++;
    if (persistent) persistentSessions++;
    const socket = await rawSocket(port, address).catch(() => undefined);
    if (!socket) return;
    const packets: Buffer[] = [];
    const valid = (p: mqttPacket.Packet) => packets.push(mqttPacket.generate(p));
    const badPassword = random() < 0.05;
    valid({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: !persistent, clientId, keepalive: 30, username: who, password: Buffer.from(badPassword ? 'wrong' : creds[who]!) });
    const subTopic = who === 'home' ? pick(['sluice/+/cmd/#', 'sluice/#', '$SYS/#', '#']) : `sluice/${who}/cmd/#`;
    valid({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: subTopic, qos: pick([0, 1] as const) }] });
    const count = 1 + Math.floor(random() * 20);
    for (let i = 0; i < count; i++) {
      const topic = who === 'home' ? `sluice/${pick(['lamp', 'fz0', 'good'])}/cmd/set` : `sluice/${who}/telemetry`;
      const payload = who === 'home' ? 'on' : JSON.stringify({ temperature: Math.round(random() * 4000) / 100 });
      valid({ cmd: 'publish', topic, payload, qos: pick([0, 1] as const), messageId: 2 + i, retain: random() < 0.05, dup: false });
      if (random() < 0.3) packets.push(mutate(random, pick));
    }
    if (random() < 0.5) valid({ cmd: 'disconnect' });
    mutatedPackets += packets.length - count - 2;
    for (const p of packets) {
      if (socket.destroyed) break;
      socket.write(p);
      if (random() < 0.2) await sleep(Math.floor(random() * 20));
    }
    await sleep(Math.floor(random() * 100));
    socket.destroy();
  };

  let n = 0;
  await Promise.all(
    [...Array(options.workers ?? 6).keys()].map(async () => {
      while (Date.now() < deadline && gw.alive()) {
        await session(n++).catch(() => undefined);
      }
    }),
  );

  await sleep(500);
  await good.stop();
  const gatewayAlive = gw.alive();
  const peakRssBytes = gatewayAlive ? gw.peakRss() : 0;
  let goodStored = -1;
  let limitsHit: Record<string, number> = {};
  if (gatewayAlive) {
    goodStored = (JSON.parse(gw.cli(['readings', 'good', '--json', '--since', '1h'])) as unknown[]).length;
    const stats = gw.brokerStats();
    limitsHit = stats.limits_hit;
    log(`broker after fuzz: ${JSON.stringify({ ...stats, limits_hit: undefined })}`);
  }
  const stderr = gw.stderr();
  const gatewayExitCode = await gw.stop();

  const problems: string[] = [];
  if (!gatewayAlive) problems.push(`gateway died during the fuzz (exit ${gatewayExitCode}): ${stderr.slice(-500)}`);
  else if (gatewayExitCode !== 0) problems.push(`gateway exited with ${gatewayExitCode} on SIGTERM`);
  if (good.failures.length > 0) problems.push(`the good device saw ${good.failures.length} failures: ${good.failures[0]}`);
  if (gatewayAlive && goodStored !== good.acked) problems.push(`the good device had ${good.acked} readings acknowledged but ${goodStored} stored`);
  if (peakRssBytes > rssBoundBytes) problems.push(`peak RSS ${mib(peakRssBytes)} MiB over the bound ${mib(rssBoundBytes)} MiB`);
  const result: BrokerFuzzResult = {
    seed: options.seed,
    durationMs: options.durationMs,
    sessions,
    persistentSessions,
    mutatedPackets,
    goodAcked: good.acked,
    goodStored,
    goodFailures: good.failures,
    peakRssBytes,
    rssBoundBytes,
    gatewayAlive,
    gatewayExitCode,
    limitsHit,
    ok: problems.length === 0,
    problems,
  };
  log(`fuzz done: ${sessions} sessions (${persistentSessions} persistent), ${mutatedPackets} mutated packets, peak RSS ${mib(peakRssBytes)} MiB, good ${goodStored}/${good.acked}`);
  return result;
}

/** One mutated or malformed packet. */
function mutate(random: () => number, pick: <T>(items: readonly T[]) => T): Buffer {
  const base = mqttPacket.generate({ cmd: 'publish', topic: 'sluice/fz0/telemetry', payload: '{"temperature":21}', qos: 1, messageId: 7, retain: false, dup: false });
  switch (pick(['random', 'flip', 'truncate', 'oversize', 'utf8', 'wildcard', 'qos3', 'reconnect', 'pubrel', 'zero'] as const)) {
    case 'random':
      return Buffer.from([...Array(1 + Math.floor(random() * 64))].map(() => Math.floor(random() * 256)));
    case 'flip': {
      const b = Buffer.from(base);
      for (let i = 0; i < 3; i++) {
        const at = Math.floor(random() * b.length);
        b[at] = b[at]! ^ (1 << Math.floor(random() * 8));
      }
      return b;
    }
    case 'truncate':
      return base.subarray(0, 1 + Math.floor(random() * (base.length - 1)));
    case 'oversize':
      // A header announcing up to 256 MiB, then a few bytes.
      return Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f, 1, 2, 3]);
    case 'utf8': {
      const topic = Buffer.from([0x73, 0xc3, 0x28, 0xff, 0xfe]); // invalid UTF-8
      return Buffer.concat([Buffer.from([0x30, 2 + topic.length + 1, 0, topic.length]), topic, Buffer.from('x')]);
    }
    case 'wildcard':
      return mqttPacket.generate({ cmd: 'publish', topic: pick(['sluice/+/telemetry', 'sluice/#', '#']), payload: 'x', qos: 0, retain: false, dup: false });
    case 'qos3': {
      const b = Buffer.from(base);
      b[0] = 0x36; // PUBLISH with both QoS bits set
      return b;
    }
    case 'reconnect':
      return mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: 'again', keepalive: 10 });
    case 'pubrel':
      return mqttPacket.generate({ cmd: 'pubrel', messageId: Math.floor(random() * 65535) + 1 });
    case 'zero':
      return Buffer.alloc(16);
  }
}





// Run directly: `node dist/bench/fuzz.js [seconds] [seed]` prints the result as JSON; exit 1 when not ok.
if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const seconds = Number(process.argv[2] ?? 60);
  const seed = Number(process.argv[3] ?? Math.floor(Math.random() * 2 ** 31));
  const result = await runBrokerFuzz({ durationMs: seconds * 1000, seed, log: (l) => process.stderr.write(`${l}\n`) });
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  process.exitCode = result.ok ? 0 : 1;
}
