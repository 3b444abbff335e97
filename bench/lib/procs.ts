import { spawn, spawnSync, fork, type ChildProcess } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { performance } from 'node:perf_hooks';
import type { LoadConfig, LoadDevice, LoadResult } from '../load-client.js';

/** The repository root (dist/bench/lib → ../../..). */
export const ROOT = resolve(import.meta.dirname, '..', '..', '..');
const BIN = join(ROOT, 'bin', 'sluice.js');
const DIST_BENCH = resolve(import.meta.dirname, '..');

export function benchTmp(label: string): string {
  return mkdtempSync(join(tmpdir(), `sluice-bench-${label}-`));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** A broker child (gateway, bare aedes or Mosquitto) listening on 127.0.0.1. */
export interface BrokerChild {
  kind: string;
  child: ChildProcess;
  pid: number;
  port: number;
  /** ms from spawn to the listening line (or an accepted TCP connection for Mosquitto) */
  startMs: number;
  /** bytes the child wrote to stdout/stderr (its logs) */
  logBytes(): number;
  logs: Array<Record<string, unknown>>;
  stop(): Promise<void>;
  kill(): Promise<void>;
  exited: Promise<void>;
}

function attach(kind: string, child: ChildProcess, t0: number) {
  const logs: Array<Record<string, unknown>> = [];
  const lineListeners: Array<(l: Record<string, unknown>) => void> = [];
  let bytes = 0;
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    bytes += d.length;
    stderr = (stderr + d.toString()).slice(-4000);
  });
  child.stdout?.on('data', (d: Buffer) => (bytes += d.length));
  if (child.stdout) {
    createInterface({ input: child.stdout }).on('line', (line) => {
      let parsed: Record<string, unknown>;
      try {
        parsed = JSON.parse(line) as Record<string, unknown>;
      } catch {
        parsed = { msg: line };
      }
      if (logs.length < 10_000) logs.push(parsed);
      for (const l of lineListeners) l(parsed);
    });
  }
  const exited = new Promise<void>((res) => child.once('exit', () => res()));
  const alive = () => child.exitCode === null && child.signalCode === null;
  return {
    logs,
    lineListeners,
    exited,
    logBytes: () => bytes,
    stderr: () => stderr,
    stop: async () => {
      if (alive()) child.kill('SIGTERM');
      await exited;
    },
    kill: async () => {
      if (alive()) child.kill('SIGKILL');
      await exited;
    },
    t0,
    kind,
  };
}

function waitListening(a: ReturnType<typeof attach>, timeoutMs: number): Promise<{ port: number; at: number }> {
  return new Promise((res, rej) => {
    // The last log lines say where start-up stood (a migration, a replay), stderr why it died.
    const timer = setTimeout(() => rej(new Error(`${a.kind} did not start within ${timeoutMs} ms: ${a.stderr()} last log lines: ${a.logs.slice(-5).map((l) => JSON.stringify(l)).join(' ')}`)), timeoutMs);
    const check = (l: Record<string, unknown>) => {
      if (l.msg === 'mqtt listening') {
        clearTimeout(timer);
        res({ port: l.port as number, at: performance.now() });
      }
    };
    for (const l of a.logs) check(l);
    a.lineListeners.push(check);
    void a.exited.then(() => {
      clearTimeout(timer);
      rej(new Error(`${a.kind} exited before listening: ${a.stderr()}`));
    });
  });
}

/**
 * For the parts that measure the ingest pipeline at its maximum: the per-device publish rate
 * limit (broker.limits.publish_rate, 20/s by default) would otherwise be what is measured.
 * Household-rate parts keep every default.
 */
export const UNTHROTTLED: Record<string, string> = {
  SLUICE_BROKER_LIMITS_PUBLISH_RATE: '1000000',
  SLUICE_BROKER_LIMITS_PUBLISH_BURST: '1000000',
};

export interface GatewayOptions {
  dataDir: string;
  logLevel?: string;
  env?: Record<string, string>;
  /** Extra node flags, e.g. --cpu-prof (also from BENCH_GATEWAY_NODE_ARGS). */
  nodeArgs?: string[];
  /** Another build's bin/sluice.js, e.g. the old layout as a baseline (default: this checkout's). */
  bin?: string;
}

/** Starts the built gateway (`node bin/sluice.js start`) on port 0 and waits until it accepts connections. */
export async function startGateway(options: GatewayOptions): Promise<BrokerChild> {
  const nodeArgs = [...(process.env.BENCH_GATEWAY_NODE_ARGS?.split(' ').filter(Boolean) ?? []), ...(options.nodeArgs ?? [])];
  const t0 = performance.now();
  const child = spawn(process.execPath, [...nodeArgs, options.bin ?? BIN, 'start', '--data', options.dataDir, '--mqtt-port', '0'], {
    cwd: options.dataDir,
    env: {
      ...process.env,
      SLUICE_MQTT_HOST: '127.0.0.1',
      // Gateways run side by side in the suite: the dashboard takes any free port.
      SLUICE_WEB_PORT: '0',
      SLUICE_DEVICES_DIR: join(ROOT, 'devices'),
      SLUICE_POLICIES_DIR: join(ROOT, 'policies'),
      SLUICE_LOG_LEVEL: options.logLevel ?? 'info',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const a = attach('sluice', child, t0);
  const { port, at } = await waitListening(a, 30_000).catch(async (err: unknown) => {
    await a.kill();
    throw err;
  });
  return { kind: 'sluice', child, pid: child.pid!, port, startMs: at - t0, logs: a.logs, logBytes: a.logBytes, stop: a.stop, kill: a.kill, exited: a.exited };
}

/** Starts bare aedes (the baseline) as a child. */
export async function startBareAedes(): Promise<BrokerChild> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [join(DIST_BENCH, 'bare-aedes.js')], { stdio: ['ignore', 'pipe', 'pipe'] });
  const a = attach('aedes', child, t0);
  const { port, at } = await waitListening(a, 30_000).catch(async (err: unknown) => {
    await a.kill();
    throw err;
  });
  return { kind: 'aedes', child, pid: child.pid!, port, startMs: at - t0, logs: a.logs, logBytes: a.logBytes, stop: a.stop, kill: a.kill, exited: a.exited };
}

/** The Mosquitto binary if the Debian package is installed. */
export function mosquittoBinary(): string | undefined {
  for (const p of ['/usr/sbin/mosquitto', '/usr/local/sbin/mosquitto', '/usr/bin/mosquitto']) if (existsSync(p)) return p;
  const r = spawnSync('sh', ['-c', 'command -v mosquitto'], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() ? r.stdout.trim() : undefined;
}

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

/** Starts Mosquitto (broker only, no persistence, anonymous) on a free loopback port. */
export async function startMosquitto(bin: string, dir: string): Promise<BrokerChild> {
  const port = await freePort();
  const conf = join(dir, `mosquitto-${port}.conf`);
  writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest stderr\nlog_type error\nset_tcp_nodelay true\nmax_inflight_messages 0\nmax_queued_messages 0\n`);
  const t0 = performance.now();
  const child = spawn(bin, ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  const a = attach('mosquitto', child, t0);
  const deadline = Date.now() + 10_000;
  for (;;) {
    const ok = await new Promise<boolean>((res) => {
      const s = new Socket();
      s.once('connect', () => {
        s.destroy();
        res(true);
      });
      s.once('error', () => res(false));
      s.connect(port, '127.0.0.1');
    });
    if (ok) break;
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`mosquitto did not start: ${a.stderr()}`);
    await sleep(20);
  }
  return { kind: 'mosquitto', child, pid: child.pid!, port, startMs: performance.now() - t0, logs: a.logs, logBytes: a.logBytes, stop: a.stop, kill: a.kill, exited: a.exited };
}

/** Resolves when the child has logged a line with this `msg` (already or later). */
export function waitForLog(child: BrokerChild, msg: string, timeoutMs = 30_000): Promise<Record<string, unknown>> {
  return new Promise((res, rej) => {
    const deadline = Date.now() + timeoutMs;
    const look = () => {
      const line = child.logs.find((l) => l.msg === msg);
      if (line) return res(line);
      if (Date.now() > deadline) return rej(new Error(`${child.kind} did not log "${msg}" within ${timeoutMs} ms`));
      if (child.child.exitCode !== null || child.child.signalCode !== null) return rej(new Error(`${child.kind} exited before logging "${msg}"`));
      setTimeout(look, 20);
    };
    look();
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((res) => setTimeout(res, ms));
}

/** Splits devices over `procs` load generator children, starts them together and collects their results. */
export async function runLoad(config: Omit<LoadConfig, 'devices'>, devices: LoadDevice[], procs: number, hooks: { onGo?: () => void; stopAfter?: Promise<void> } = {}): Promise<LoadResult[]> {
  const n = Math.max(1, Math.min(procs, devices.length));
  const children: ChildProcess[] = [];
  const ready: Array<Promise<{ connected: number; errors: string[] }>> = [];
  const done: Array<Promise<LoadResult>> = [];
  // 16 devices per loopback address: each looks like a host of its own, as in a house, and
  // stays under the gateway's connections-per-address limit.
  const placed = devices.map((d, j) => ({ ...d, localAddress: d.localAddress ?? `127.0.${Math.floor(j / 16 / 250)}.${10 + (Math.floor(j / 16) % 250)}` }));
  for (let i = 0; i < n; i++) {
    const share = placed.filter((_, j) => j % n === i);
    const cfg: LoadConfig = { ...config, devices: share, seed: (config.seed ?? 1) * 31 + i };
    const child = fork(join(DIST_BENCH, 'load-client.js'), [JSON.stringify(cfg)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    children.push(child);
    // 'close' comes after the IPC channel is drained, unlike 'exit'.
    const exited = new Promise<void>((res) => child.once('close', () => res()));
    ready.push(
      new Promise((res, rej) => {
        child.on('message', (m: { type: string; connected: number; errors: string[] }) => {
          if (m.type === 'ready') res(m);
        });
        void exited.then(() => rej(new Error('load generator exited before it was ready')));
      }),
    );
    done.push(
      new Promise((res) => {
        child.on('message', (m: { type: string; result: LoadResult }) => {
          if (m.type === 'done') res(m.result);
        });
        void exited.then(() => res({ connected: 0, startedAt: 0, endedAt: 0, sent: 0, acked: 0, errors: ['load generator exited without a result'] }));
      }),
    );
  }
  const readies = await Promise.all(ready);
  const errors = readies.flatMap((r) => r.errors);
  if (errors.length > 0 && readies.every((r) => r.connected === 0)) {
    for (const c of children) c.kill('SIGKILL');
    throw new Error(`no load client could connect: ${errors.slice(0, 3).join('; ')}`);
  }
  for (const c of children) c.send({ type: 'go' });
  hooks.onGo?.();
  if (hooks.stopAfter) {
    void hooks.stopAfter.then(() => {
      for (const c of children) if (c.connected) c.send({ type: 'stop' });
    });
  }
  const results = await Promise.all(done);
  await Promise.all(children.map((c) => (c.exitCode === null && c.signalCode === null ? new Promise<void>((res) => c.once('exit', () => res())) : Promise.resolve())));
  return results;
}

/** messages/s over all generators: total acknowledged over first start to last end. */
export function throughput(results: LoadResult[]): { messages: number; seconds: number; perSecond: number } {
  const live = results.filter((r) => r.connected > 0);
  const start = Math.min(...live.map((r) => r.startedAt));
  const end = Math.max(...live.map((r) => r.endedAt));
  const messages = live.reduce((n, r) => n + r.acked, 0);
  const seconds = (end - start) / 1000;
  return { messages, seconds, perSecond: messages / seconds };
}

export interface ProcIo {
  writeBytes: number;
  wchar: number;
  cancelledWriteBytes: number;
}

export function readProcIo(pid: number): ProcIo {
  const text = readFileSync(`/proc/${pid}/io`, 'utf8');
  const get = (k: string) => Number(new RegExp(`^${k}:\\s*(\\d+)`, 'm').exec(text)?.[1] ?? 0);
  return { writeBytes: get('write_bytes'), wchar: get('wchar'), cancelledWriteBytes: get('cancelled_write_bytes') };
}

/** VmHWM and VmRSS in bytes. */
export function readProcMemory(pid: number): { hwm: number; rss: number } {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s*(\\d+) kB`, 'm').exec(text)?.[1] ?? 0) * 1024;
  return { hwm: kb('VmHWM'), rss: kb('VmRSS') };
}

let clockTicks: number | undefined;

/** utime + stime of a process in seconds (every thread); with `tid`, of that one thread (the main thread's tid is the pid). */
export function readProcCpu(pid: number, tid?: number): number {
  const text = readFileSync(tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`, 'utf8');
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  clockTicks ??= Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
  return ticks / clockTicks;
}

export interface MachineInfo {
  date: string;
  nproc: number;
  cpu: string;
  memoryGiB: number;
  node: string;
  commit: string;
  load: string;
}

export function machineInfo(): MachineInfo {
  const git = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' });
  const dirty = spawnSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: ROOT, encoding: 'utf8' }).stdout.trim() ? '+dirty' : '';
  let load = '';
  try {
    load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    /* not Linux */
  }
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    nproc: cpus().length,
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    commit: (git.stdout.trim() || 'unknown') + dirty,
    load,
  };
}

/** Copies a provisioned data directory (database and hot log) to a fresh one. */
export function cloneDataDir(template: string, label: string, dbFile: string): string {
  const dir = benchTmp(label);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  copyFileSync(join(template, dbFile), join(dir, dbFile));
  // A template left by a killed gateway holds readings not yet sealed: they are part of its store.
  if (existsSync(join(template, 'hotlog'))) cpSync(join(template, 'hotlog'), join(dir, 'hotlog'), { recursive: true });
  return dir;
}
