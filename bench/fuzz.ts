import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { MqttClient } from 'mqtt';
import mqttPacket from 'mqtt-packet';

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

/** mulberry32: small, fast, seedable. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The repository root: the nearest folder above this file holding bin/sluice.js (bench/ or dist/bench/). */
function findRoot(): string {
  let dir = import.meta.dirname;
  while (!existsSync(join(dir, 'bin', 'sluice.js'))) {
    const up = resolve(dir, '..');
    if (up === dir) throw new Error('cannot find bin/sluice.js above bench/fuzz');
    dir = up;
  }
  return dir;
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The broker fuzz: valid MQTT sessions (half of them persistent) interleaved with mutated
 * packets — random bytes, truncated and oversized remaining lengths, invalid UTF-8 and
 * wildcard topics in PUBLISH, bad QoS bits, protocol violations — while a well-behaved
 * thermostat on 127.0.0.2 publishes QoS 1 readings. Measures the gateway child's peak RSS
 * (VmHWM) and checks every acknowledged reading of the good device was stored.
 */
export async function runBrokerFuzz(options: BrokerFuzzOptions): Promise<BrokerFuzzResult> {
  const root = options.root ?? findRoot();
  const bin = join(root, 'bin', 'sluice.js');
  const log = options.log ?? (() => undefined);
  const rssBoundBytes = options.rssBoundBytes ?? 256 * 1024 * 1024;
  const random = prng(options.seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const dataDir = mkdtempSync(join(tmpdir(), 'sluice-fuzz-'));
  const env = { ...process.env, SLUICE_DEVICES_DIR: join(root, 'devices'), SLUICE_POLICIES_DIR: join(root, 'policies'), SLUICE_MQTT_HOST: '127.0.0.1', SLUICE_LOG_LEVEL: 'info', ...options.env };
  const cli = (args: string[]) => {
    const r = spawnSync(process.execPath, [bin, ...args, '--data', dataDir], { env, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`sluice ${args.join(' ')} failed: ${r.stderr}`);
    return r.stdout;
  };
  const add = (id: string, extra: string[] = ['--profile', 'thermostat']) => (JSON.parse(cli(['devices', 'add', id, ...extra, '--json'])) as { password: string }).password;

  const creds: Record<string, string> = { good: add('good'), home: add('home', ['--role', 'household']) };
  const fuzzDevices = ['fz0', 'fz1', 'fz2'];
  for (const id of fuzzDevices) creds[id] = add(id);

  const child = spawn(process.execPath, [bin, 'start', '--data', dataDir, '--mqtt-port', '0'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
  let port = 0;
  const limitLines: string[] = [];
  await new Promise<void>((res, rej) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      try {
        const l = JSON.parse(line) as Record<string, unknown>;
        if (l.msg === 'mqtt listening') port = l.port as number;
        if (l.msg === 'gateway started') res();
        if (typeof l.limit === 'string') limitLines.push(l.limit);
      } catch {
        /* not JSON */
      }
    });
    void exited.then((code) => rej(new Error(`gateway exited with ${code} before starting: ${stderr}`)));
  });
  log(`fuzz seed=${options.seed} port=${port} pid=${child.pid}`);

  // The well-behaved device on its own address.
  const good = await mqttFrom(port, '127.0.0.2', 'good', creds.good!);
  let goodAcked = 0;
  const goodFailures: string[] = [];
  let running = true;
  const goodLoop = (async () => {
    let i = 0;
    while (running) {
      try {
        await good.publishAsync('sluice/good/telemetry', JSON.stringify({ temperature: 20 + (i++ % 50) / 10 }), { qos: 1 });
        goodAcked++;
      } catch (err) {
        goodFailures.push((err as Error).message);
      }
      await sleep(100);
    }
  })();

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
      while (Date.now() < deadline && child.exitCode === null) {
        await session(n++).catch(() => undefined);
      }
    }),
  );

  await sleep(500);
  running = false;
  await goodLoop;
  await good.endAsync().catch(() => undefined);
  const gatewayAlive = child.exitCode === null && child.signalCode === null;
  const peakRssBytes = gatewayAlive ? peakRss(child.pid!) : 0;
  let goodStored = -1;
  let limitsHit: Record<string, number> = {};
  if (gatewayAlive) {
    goodStored = (JSON.parse(cli(['readings', 'good', '--json', '--since', '1h'])) as unknown[]).length;
    const status = JSON.parse(cli(['status', '--json'])) as { broker?: { limits_hit?: Record<string, number> } };
    limitsHit = status.broker?.limits_hit ?? {};
    log(`broker after fuzz: ${JSON.stringify({ ...status.broker, limits_hit: undefined })}`);
    child.kill('SIGTERM');
  }
  const gatewayExitCode = await exited;
  rmSync(dataDir, { recursive: true, force: true });

  const problems: string[] = [];
  if (!gatewayAlive) problems.push(`gateway died during the fuzz (exit ${gatewayExitCode}): ${stderr.slice(-500)}`);
  else if (gatewayExitCode !== 0) problems.push(`gateway exited with ${gatewayExitCode} on SIGTERM`);
  if (goodFailures.length > 0) problems.push(`the good device saw ${goodFailures.length} failures: ${goodFailures[0]}`);
  if (gatewayAlive && goodStored !== goodAcked) problems.push(`the good device had ${goodAcked} readings acknowledged but ${goodStored} stored`);
  if (peakRssBytes > rssBoundBytes) problems.push(`peak RSS ${mib(peakRssBytes)} MiB over the bound ${mib(rssBoundBytes)} MiB`);
  const result: BrokerFuzzResult = {
    seed: options.seed,
    durationMs: options.durationMs,
    sessions,
    persistentSessions,
    mutatedPackets,
    goodAcked,
    goodStored,
    goodFailures,
    peakRssBytes,
    rssBoundBytes,
    gatewayAlive,
    gatewayExitCode,
    limitsHit,
    ok: problems.length === 0,
    problems,
  };
  log(`fuzz done: ${sessions} sessions (${persistentSessions} persistent), ${mutatedPackets} mutated packets, peak RSS ${mib(peakRssBytes)} MiB, good ${goodStored}/${goodAcked}`);
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

function rawSocket(port: number, localAddress: string): Promise<Socket> {
  return new Promise((res, rej) => {
    const s = connect({ host: '127.0.0.1', port, localAddress });
    s.once('connect', () => res(s));
    s.once('error', rej);
    s.on('error', () => undefined);
    s.resume(); // read and discard whatever the broker answers
  });
}

function mqttFrom(port: number, localAddress: string, id: string, password: string): Promise<MqttClient> {
  const client = new MqttClient(() => connect({ host: '127.0.0.1', port, localAddress }), { protocolVersion: 4, reconnectPeriod: 1000, clientId: id, username: id, password, connectTimeout: 5000 });
  return new Promise((res, rej) => {
    client.once('connect', () => res(client));
    client.once('error', rej);
  });
}

function peakRss(pid: number): number {
  const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return kb ? Number(kb[1]) * 1024 : 0;
}

function mib(bytes: number): number {
  return Math.round((bytes / 1024 / 1024) * 10) / 10;
}

// Run directly: `node dist/bench/fuzz.js [seconds] [seed]` prints the result as JSON; exit 1 when not ok.
if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const seconds = Number(process.argv[2] ?? 60);
  const seed = Number(process.argv[3] ?? Math.floor(Math.random() * 2 ** 31));
  const result = await runBrokerFuzz({ durationMs: seconds * 1000, seed, log: (l) => process.stderr.write(`${l}\n`) });
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  process.exitCode = result.ok ? 0 : 1;
}
