import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { MqttClient, type IClientOptions } from 'mqtt';

/** A gateway child process for the broker benchmarks (fuzz, abuse), on port 0 in a temp data dir. */
export interface BrokerChild {
  port: number;
  pid: number;
  dataDir: string;
  /** Runs the CLI against the data dir (through the running gateway); returns stdout. */
  cli(args: string[]): string;
  /** Registers a device and returns its password. */
  addDevice(id: string, extra?: string[]): string;
  alive(): boolean;
  /** Peak RSS (VmHWM) in bytes. */
  peakRss(): number;
  /** Broker counters from `sluice status --json`. */
  brokerStats(): { limits_hit: Record<string, number>; [key: string]: unknown };
  /** SIGTERM, wait, remove the data dir; resolves to the exit code. */
  stop(): Promise<number | null>;
  /** The last stderr bytes (for reports). */
  stderr(): string;
}

/** The repository root: the nearest folder above this file holding bin/sluice.js (bench/ or dist/bench/). */
export function findRoot(): string {
  let dir = import.meta.dirname;
  while (!existsSync(join(dir, 'bin', 'sluice.js'))) {
    const up = resolve(dir, '..');
    if (up === dir) throw new Error('cannot find bin/sluice.js above bench/');
    dir = up;
  }
  return dir;
}

/**
 * Starts the gateway. Devices must exist before it starts only if `devices` is given; more can be
 * added later through `addDevice` (the CLI goes through the admin socket).
 */
export async function startBrokerChild(options: { root?: string; env?: Record<string, string>; devices?: Array<[string, string[]?]> } = {}): Promise<BrokerChild & { passwords: Record<string, string> }> {
  const root = options.root ?? findRoot();
  const bin = join(root, 'bin', 'sluice.js');
  const dataDir = mkdtempSync(join(tmpdir(), 'sluice-bench-'));
  const env = { ...process.env, SLUICE_DEVICES_DIR: join(root, 'devices'), SLUICE_POLICIES_DIR: join(root, 'policies'), SLUICE_MQTT_HOST: '127.0.0.1', SLUICE_WEB_PORT: '0', SLUICE_LOG_LEVEL: 'info', ...options.env };
  const cli = (args: string[]) => {
    const r = spawnSync(process.execPath, [bin, ...args, '--data', dataDir], { env, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`sluice ${args.join(' ')} failed: ${r.stderr}`);
    return r.stdout;
  };
  const addDevice = (id: string, extra: string[] = ['--profile', 'thermostat']) => (JSON.parse(cli(['devices', 'add', id, ...extra, '--json'])) as { password: string }).password;
  const passwords: Record<string, string> = {};
  for (const [id, extra] of options.devices ?? []) passwords[id] = addDevice(id, extra);

  const child = spawn(process.execPath, [bin, 'start', '--data', dataDir, '--mqtt-port', '0'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
  let port = 0;
  await new Promise<void>((res, rej) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      try {
        const l = JSON.parse(line) as Record<string, unknown>;
        if (l.msg === 'mqtt listening') port = l.port as number;
        if (l.msg === 'gateway started') res();
      } catch {
        /* not JSON */
      }
    });
    void exited.then((code) => rej(new Error(`gateway exited with ${code} before starting: ${stderr}`)));
  });
  const alive = () => child.exitCode === null && child.signalCode === null;
  return {
    port,
    pid: child.pid!,
    dataDir,
    passwords,
    cli,
    addDevice,
    alive,
    peakRss: () => {
      const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      return kb ? Number(kb[1]) * 1024 : 0;
    },
    brokerStats: () => (JSON.parse(cli(['status', '--json'])) as { broker: ReturnType<BrokerChild['brokerStats']> }).broker,
    async stop() {
      if (alive()) child.kill('SIGTERM');
      const code = await exited;
      rmSync(dataDir, { recursive: true, force: true });
      return code;
    },
    stderr: () => stderr,
  };
}

/** mulberry32: small, fast, seedable (the simulator's generator). */
export { seededRandom as prng } from '../src/simulate/index.js';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A TCP connection from a chosen loopback address; what the broker sends is read and discarded. */
export function rawSocket(port: number, localAddress: string): Promise<Socket> {
  return new Promise((res, rej) => {
    const s = connect({ host: '127.0.0.1', port, localAddress });
    s.once('connect', () => res(s));
    s.once('error', rej);
    s.on('error', () => undefined);
    s.resume();
  });
}

/** An MQTT.js 3.1.1 client from a chosen loopback address. */
export function mqttFrom(port: number, localAddress: string, options: IClientOptions): Promise<MqttClient> {
  const client = new MqttClient(() => connect({ host: '127.0.0.1', port, localAddress }), { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5000, ...options });
  return new Promise((res, rej) => {
    const onError = (err: Error) => {
      client.end(true);
      rej(err);
    };
    const onClose = () => onError(new Error('closed before CONNACK'));
    client.once('error', onError);
    client.once('close', onClose);
    client.once('connect', () => {
      client.off('error', onError);
      client.off('close', onClose);
      client.on('error', () => undefined); // later errors: MQTT.js reconnects (reconnectPeriod)
      res(client);
    });
  });
}

/** The well-behaved thermostat: QoS 1 readings at a steady pace from its own address. */
export async function steadyDevice(port: number, id: string, password: string, everyMs = 100, localAddress = '127.0.0.2') {
  const client = await mqttFrom(port, localAddress, { clientId: id, username: id, password, reconnectPeriod: 1000 });
  let acked = 0;
  let running = true;
  const failures: string[] = [];
  const loop = (async () => {
    let i = 0;
    while (running) {
      try {
        await client.publishAsync(`sluice/${id}/telemetry`, JSON.stringify({ temperature: 20 + (i++ % 50) / 10 }), { qos: 1 });
        acked++;
      } catch (err) {
        failures.push((err as Error).message);
      }
      await sleep(everyMs);
    }
  })();
  return {
    get acked() {
      return acked;
    },
    failures,
    async stop() {
      running = false;
      await loop;
      await client.endAsync().catch(() => undefined);
    },
  };
}

export function mib(bytes: number): number {
  return Math.round((bytes / 1024 / 1024) * 10) / 10;
}
