import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { join, relative, resolve } from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { POLICIES_COPY_SUFFIX, tmpDir } from './tmp-dir.js';

export const ROOT = resolve(import.meta.dirname, '..', '..');
export const BIN = join(ROOT, 'bin', 'sluice.js');
export const DEVICES_DIR = join(ROOT, 'devices');
const SHIPPED_POLICIES = join(ROOT, 'policies');

/**
 * The default policies folder of a data dir's gateway and CLI calls: a copy of the shipped
 * policies/, made beside the data dir on first use and shared by every call on that data dir,
 * so a test that writes drafts or restores a backup never writes into the repo. tmpDir()
 * removes it with the data dir. Without a data dir: a fresh copy (a CLI call such as --help).
 */
export function policiesDirFor(dataDir: string | undefined, cwd = process.cwd()): string {
  const dir = dataDir ? `${resolve(cwd, dataDir)}${POLICIES_COPY_SUFFIX}` : join(tmpDir('sluice-policies-'), 'policies');
  if (!relative(ROOT, dir).startsWith('..')) throw new Error(`a test's policies copy would be inside the repo (${dir}): give the test a data dir from tmpDir()`);
  if (!existsSync(dir)) cpSync(SHIPPED_POLICIES, dir, { recursive: true });
  return dir;
}

export interface GatewayChild {
  child: ChildProcess;
  port: number;
  dataDir: string;
  /** Every JSON log line the child printed so far. */
  logs: Array<Record<string, unknown>>;
  /** Waits for a log line matching the predicate. */
  waitForLog(pred: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** SIGTERM and wait for exit; returns the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL and wait for exit. */
  kill(): Promise<void>;
  exited: Promise<number | null>;
}

export interface StartOptions {
  dataDir: string;
  env?: Record<string, string>;
  args?: string[];
  devicesDir?: string;
  /** The listener log line that means "ready" (default "mqtt listening"; e.g. "mqtts listening" with TCP off). */
  readyLog?: string;
  /** Default true; false for external-broker mode, where Sluice has no listener and refuses --mqtt-port. */
  mqttPort?: boolean;
}

/**
 * Scenes are written with synchronous CLI calls, which block a vendor receiver in the test
 * process from answering the household's terms; so the terms exchange is off unless a test turns
 * it on with `SLUICE_SHARE_REQUIRE_TERMS: 'true'` (test/integration/terms.test.ts).
 */
export const TERMS_OFF = { SLUICE_SHARE_REQUIRE_TERMS: 'false' } as const;

/** Starts the built gateway as a child process on port 0 and waits for its listening log line. */
export async function startGateway(options: StartOptions): Promise<GatewayChild> {
  const child = spawn(process.execPath, [BIN, 'start', '--data', options.dataDir, ...(options.mqttPort === false ? [] : ['--mqtt-port', '0']), ...(options.args ?? [])], {
    env: {
      ...process.env,
      SLUICE_MQTT_HOST: '127.0.0.1',
      SLUICE_DEVICES_DIR: options.devicesDir ?? DEVICES_DIR,
      SLUICE_POLICIES_DIR: options.env?.SLUICE_POLICIES_DIR ?? policiesDirFor(options.dataDir),
      SLUICE_LOG_LEVEL: 'debug',
      // Many gateways run at once in the suite: each dashboard takes a free port.
      SLUICE_WEB_PORT: '0',
      ...TERMS_OFF,
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Array<Record<string, unknown>> = [];
  const waiters: Array<{ pred: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }> = [];
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  createInterface({ input: child.stdout! }).on('line', (line) => {
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(line) as Record<string, unknown>;
    } catch {
      parsed = { msg: line };
    }
    logs.push(parsed);
    for (const w of [...waiters]) {
      if (w.pred(parsed)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(parsed);
      }
    }
  });
  const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
  const waitForLog = (pred: (l: Record<string, unknown>) => boolean, timeoutMs = 15_000) => {
    const found = logs.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise<Record<string, unknown>>((res, rej) => {
      const timer = setTimeout(() => rej(new Error(`timed out waiting for a log line; stderr: ${stderr}\nlogs: ${JSON.stringify(logs.slice(-10))}`)), timeoutMs);
      const w = {
        pred,
        resolve: (l: Record<string, unknown>) => {
          clearTimeout(timer);
          res(l);
        },
      };
      waiters.push(w);
      void exited.then((code) => {
        if (waiters.includes(w)) {
          clearTimeout(timer);
          rej(new Error(`gateway exited with ${code} before the awaited log line; stderr: ${stderr}`));
        }
      });
    });
  };
  const listening = await waitForLog((l) => l.msg === (options.readyLog ?? 'mqtt listening'));
  await waitForLog((l) => l.msg === 'gateway started');
  return {
    child,
    port: listening.port as number,
    dataDir: options.dataDir,
    logs,
    waitForLog,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI synchronously against a data dir. */
export function cli(args: string[], options: { dataDir?: string; env?: Record<string, string>; cwd?: string } = {}): CliResult {
  const r = spawnSync(process.execPath, [BIN, ...args, ...(options.dataDir ? ['--data', options.dataDir] : [])], {
    env: { ...process.env, SLUICE_DEVICES_DIR: DEVICES_DIR, SLUICE_POLICIES_DIR: options.env?.SLUICE_POLICIES_DIR ?? policiesDirFor(options.dataDir, options.cwd ?? ROOT), ...TERMS_OFF, ...options.env },
    cwd: options.cwd ?? ROOT,
    encoding: 'utf8',
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Registers a device through the CLI and returns its password. */
export function addDevice(dataDir: string, id: string, profile = 'thermostat', extra: string[] = []): string {
  const r = cli(['devices', 'add', id, ...(profile ? ['--profile', profile] : []), ...extra, '--json'], { dataDir });
  if (r.status !== 0) throw new Error(`devices add failed: ${r.stderr}`);
  return (JSON.parse(r.stdout) as { password: string }).password;
}

/** Connects an MQTT.js 3.1.1 client; the caller ends it. */
export async function connectClient(port: number, options: IClientOptions = {}, beforeConnect?: (client: MqttClient) => void): Promise<MqttClient> {
  const client = mqtt.connect(`mqtt://127.0.0.1:${port}`, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5000, ...options });
  // Messages queued in a persistent session can arrive in the CONNACK's own TCP chunk, before an
  // awaited connect returns: listeners that must see them are attached here, before connecting.
  beforeConnect?.(client);
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => {
      client.end(true);
      reject(err);
    };
    client.once('connect', () => {
      client.off('error', onError);
      resolve(client);
    });
    client.once('error', onError);
    client.once('close', () => {
      if (!client.connected) onError(new Error('connection closed before CONNACK'));
    });
  });
}
