import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { join } from 'node:path';

/** Where Debian puts the broker; `/usr/sbin` is not on a non-root PATH. */
export function mosquittoBinary(): string | null {
  for (const candidate of ['/usr/sbin/mosquitto', '/usr/bin/mosquitto']) if (existsSync(candidate)) return candidate;
  const found = spawnSync('sh', ['-c', 'command -v mosquitto'], { encoding: 'utf8' });
  return found.status === 0 && found.stdout.trim() ? found.stdout.trim() : null;
}

/** Under CI=true a missing Mosquitto is a failure (`.ci/run` installs it); elsewhere such tests skip. */
export function requireMosquitto(): boolean {
  if (mosquittoBinary()) return true;
  if (process.env.CI === 'true') throw new Error('mosquitto is not installed; .ci/run installs the Debian package');
  return false;
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

export interface MosquittoOptions {
  /** A directory of the test's own (config, persistence and password files live here). */
  dir: string;
  /** mosquitto.conf lines added after the listener (e.g. `password_file …`, `acl_file …`). */
  extra?: string[];
  /** Default true: anonymous clients may connect unless the test sets up a password file. */
  allowAnonymous?: boolean;
}

export interface MosquittoChild {
  port: number;
  url: string;
  /** SIGTERM and wait: Mosquitto writes its persistence file on a clean stop. */
  stop(): Promise<void>;
  /** SIGKILL and wait. */
  kill(): Promise<void>;
  /** Starts again on the same port and persistence directory. */
  restart(): Promise<void>;
}

/** A real Mosquitto on a free loopback port, with persistence in the test's directory. */
export async function startMosquitto(options: MosquittoOptions): Promise<MosquittoChild> {
  const binary = mosquittoBinary();
  if (!binary) throw new Error('mosquitto is not installed');
  const port = await freePort();
  const conf = join(options.dir, 'mosquitto.conf');
  writeFileSync(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      `allow_anonymous ${options.allowAnonymous === false ? 'false' : 'true'}`,
      'persistence true',
      `persistence_location ${options.dir}/`,
      'autosave_interval 1',
      'log_dest stdout',
      'log_type error',
      'log_type warning',
      // Mosquitto refuses to run as root unless told which user to stay.
      ...(process.getuid?.() === 0 ? ['user root'] : []),
      ...(options.extra ?? []),
      '',
    ].join('\n'),
  );
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const launch = async () => {
    const proc = spawn(binary, ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    proc.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    proc.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    child = proc;
    exited = new Promise((resolve) => proc.once('exit', () => resolve()));
    const deadline = Date.now() + 10_000;
    while (!(await canConnect(port))) {
      if (proc.exitCode !== null) throw new Error(`mosquitto exited with ${proc.exitCode}: ${output}`);
      if (Date.now() > deadline) throw new Error(`mosquitto did not listen on ${port}: ${output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const end = async (signal: NodeJS.Signals) => {
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill(signal);
      await exited;
    }
  };
  await launch();
  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    stop: () => end('SIGTERM'),
    kill: () => end('SIGKILL'),
    restart: async () => {
      await end('SIGTERM');
      await launch();
    },
  };
}

/** Adds a user to a Mosquitto password file with Mosquitto's own tool (its hash format is its own). */
export function mosquittoPasswd(file: string, user: string, password: string): void {
  const tool = ['/usr/bin/mosquitto_passwd', '/usr/sbin/mosquitto_passwd'].find((p) => existsSync(p)) ?? 'mosquitto_passwd';
  const args = existsSync(file) ? ['-b', file, user, password] : ['-c', '-b', file, user, password];
  const r = spawnSync(tool, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`mosquitto_passwd failed: ${r.stderr}`);
}

async function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
