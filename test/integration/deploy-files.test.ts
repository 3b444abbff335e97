import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { configSchema, envKeys, loadConfig } from '../../src/config/index.js';
import { DEVICES_DIR, ROOT, startGateway, type GatewayChild } from '../helpers/gateway.js';
import { tmpDir } from '../helpers/tmp-dir.js';

// Docker and systemd cannot run here; these tests hold the deployment files to the code they
// deploy: every path they copy or mount exists, every SLUICE_* variable is one the config reads,
// every port is the one the gateway listens on by default.

const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const DEFAULTS = configSchema.parse({});
/** Every environment variable Sluice reads: one per setting, plus SLUICE_CONFIG (config/load.ts). */
const SLUICE_ENV = new Set(['SLUICE_CONFIG', ...envKeys().map(([name]) => name)]);

interface Instruction {
  line: number;
  op: string;
  args: string;
}

/** Dockerfile instructions with continuation lines joined and comments dropped. */
function dockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending: { line: number; text: string } | undefined;
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (!pending && (line === '' || line.startsWith('#'))) continue;
    if (pending && line.startsWith('#')) continue;
    const body = line.endsWith('\\') ? line.slice(0, -1).trim() : line;
    pending = pending ? { line: pending.line, text: `${pending.text} ${body}` } : { line: i + 1, text: body };
    if (!line.endsWith('\\')) {
      const [op, ...rest] = pending.text.split(/\s+/);
      out.push({ line: pending.line, op: op!.toUpperCase(), args: rest.join(' ') });
      pending = undefined;
    }
  }
  return out;
}

interface Stage {
  name: string | undefined;
  from: string;
  instructions: Instruction[];
}

function stages(instructions: Instruction[]): { args: Map<string, string>; stages: Stage[] } {
  const args = new Map<string, string>();
  const list: Stage[] = [];
  for (const ins of instructions) {
    if (ins.op === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args)!;
      const from = m[1]!.replace(/\$\{(\w+)\}/g, (_, name: string) => args.get(name) ?? `\${${name}}`);
      list.push({ name: m[2], from, instructions: [] });
    } else if (list.length === 0 && ins.op === 'ARG') {
      const [name, value] = ins.args.split('=', 2);
      args.set(name!, value ?? '');
    } else list.at(-1)?.instructions.push(ins);
  }
  return { args, stages: list };
}

/** `ENV A=1 B=2` (with `\` continuations already joined) as a map. */
function envOf(stage: Stage): Map<string, string> {
  const env = new Map<string, string>();
  for (const ins of stage.instructions.filter((i) => i.op === 'ENV')) {
    for (const m of ins.args.matchAll(/(\w+)=(\S+)/g)) env.set(m[1]!, m[2]!);
  }
  return env;
}

/** Whether .dockerignore keeps `path` out of the build context (the plain patterns it uses). */
function dockerIgnored(path: string, patterns: string[]): boolean {
  return patterns.some((p) => path === p || path.startsWith(`${p}/`) || (p.startsWith('*') && path.endsWith(p.slice(1))));
}

describe('Dockerfile', () => {
  const text = read('Dockerfile');
  const { args, stages: all } = stages(dockerfile(text));
  const runtime = all.at(-1)!;
  const env = envOf(runtime);
  const ignore = read('.dockerignore')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));

  it('builds on a full Node 22 image and runs on the slim one of the same release', () => {
    expect(args.get('NODE_VERSION')).toBe('22');
    expect(all[0]!.from).toBe('node:22-bookworm');
    expect(runtime.from).toBe('node:22-bookworm-slim');
    const runs = all.flatMap((s) => s.instructions.filter((i) => i.op === 'RUN').map((i) => i.args));
    expect(runs.some((r) => r.includes('npm ci --omit=dev'))).toBe(true);
    expect(runs.some((r) => r.includes('npm run build'))).toBe(true);
    // Multi-platform: nothing depends on the CPU.
    for (const r of runs) expect(r).not.toMatch(/amd64|arm64|x86_64|aarch64|armv7|armhf/i);
    expect(all.every((s) => !/--platform/.test(s.from))).toBe(true);
    expect(text).toContain('docker buildx build --platform linux/amd64,linux/arm64');
    // The code keeps supporting Node 20 while the image runs 22.
    expect((JSON.parse(read('package.json')) as { engines: { node: string } }).engines.node).toBe('>=20');
  });

  it('copies only files that exist and that .dockerignore lets through; --from names a stage', () => {
    const names = new Set(all.map((s) => s.name));
    const copies = all.flatMap((s) => s.instructions.filter((i) => i.op === 'COPY'));
    expect(copies.length).toBeGreaterThan(5);
    for (const copy of copies) {
      const words = copy.args.split(/\s+/);
      const from = words.find((w) => w.startsWith('--from='));
      const paths = words.filter((w) => !w.startsWith('--'));
      const sources = paths.slice(0, -1);
      if (from) {
        expect(names.has(from.slice('--from='.length)), `line ${copy.line}: ${from}`).toBe(true);
        continue;
      }
      for (const source of sources) {
        expect(existsSync(join(ROOT, source)), `line ${copy.line}: ${source} exists`).toBe(true);
        expect(dockerIgnored(source, ignore), `line ${copy.line}: ${source} is not in .dockerignore`).toBe(false);
      }
    }
    // What the runtime needs at its paths: the CLI entry, package.json ("type": "module"), the build.
    const workdir = runtime.instructions.filter((i) => i.op === 'WORKDIR').at(-1)!.args;
    const inImage = runtime.instructions
      .filter((i) => i.op === 'COPY')
      .flatMap((i) => {
        const paths = i.args.split(/\s+/).filter((w) => !w.startsWith('--'));
        const target = posix.resolve(workdir, paths.at(-1)!);
        return paths.at(-1)!.endsWith('/') ? paths.slice(0, -1).map((p) => posix.join(target, posix.basename(p))) : [target];
      });
    for (const path of ['bin', 'dist', 'node_modules', 'package.json', 'devices', 'deploy/healthcheck.js']) {
      expect(inImage).toContain(posix.join(workdir, path));
    }
    // Secrets and local state never enter the build context.
    for (const p of ['.git', 'node_modules', 'data', '.env', 'sluice.yaml', 'test']) expect(dockerIgnored(p, ignore), p).toBe(true);
  });

  it('runs as a non-root user with its data in /data, the settings Sluice reads, and the default MQTT port', () => {
    const user = runtime.instructions.filter((i) => i.op === 'USER').at(-1)?.args;
    expect(user).toBeDefined();
    expect(['root', '0', '0:0']).not.toContain(user);
    expect(env.get('SLUICE_DATA_DIR')).toBe('/data');
    expect(runtime.instructions.find((i) => i.op === 'VOLUME')?.args).toContain('"/data"');
    for (const name of env.keys()) if (name.startsWith('SLUICE_')) expect(SLUICE_ENV.has(name), name).toBe(true);
    // SLUICE_CONFIG must name a file the image has: a missing explicit config file is an error.
    const configCopy = runtime.instructions.find((i) => i.op === 'COPY' && i.args.endsWith(` ${env.get('SLUICE_CONFIG')}`));
    expect(configCopy?.args).toBe('deploy/sluice.yaml /etc/sluice/sluice.yaml');
    expect(runtime.instructions.find((i) => i.op === 'COPY' && i.args.endsWith(` ${env.get('SLUICE_POLICIES_DIR')}`))).toBeDefined();
    const exposed = runtime.instructions.filter((i) => i.op === 'EXPOSE').flatMap((i) => i.args.split(/\s+/).map(Number));
    expect(exposed).toEqual([DEFAULTS.mqtt.port]);
    expect(DEFAULTS.mqtt.port).toBe(1883);
  });

  it('starts the gateway and checks its health with the healthcheck script it copied', () => {
    expect(runtime.instructions.find((i) => i.op === 'ENTRYPOINT')?.args).toBe('["node", "bin/sluice.js"]');
    expect(runtime.instructions.find((i) => i.op === 'CMD')?.args).toBe('["start"]');
    const health = runtime.instructions.find((i) => i.op === 'HEALTHCHECK')!.args;
    expect(health).toMatch(/CMD \["node", "deploy\/healthcheck\.js"\]$/);
    expect(text).toMatch(/127\.0\.0\.1:8420\/healthz/); // the later dashboard check is noted
  });

  it("the runtime stage's files, laid out as the image has them, run a gateway its health check calls healthy", async () => {
    // The image's file system under a temporary root: each runtime COPY from the repo (or, for
    // --from stages, from this checkout's build), its ENV with absolute paths moved under root.
    const root = tmpDir('sluice-img-');
    const at = (p: string) => join(root, p);
    const workdir = runtime.instructions.filter((i) => i.op === 'WORKDIR').at(-1)!.args;
    for (const copy of runtime.instructions.filter((i) => i.op === 'COPY')) {
      const words = copy.args.split(/\s+/);
      const from = words.find((w) => w.startsWith('--from='));
      const [source, target] = words.filter((w) => !w.startsWith('--')) as [string, string];
      const dest = at(target.endsWith('/') ? posix.join(posix.resolve(workdir, target), posix.basename(source)) : posix.resolve(workdir, target));
      mkdirSync(dirname(dest), { recursive: true });
      const origin = from ? join(ROOT, posix.relative(workdir, source)) : join(ROOT, source);
      if (posix.basename(source) === 'node_modules') symlinkSync(origin, dest);
      else cpSync(origin, dest, { recursive: true });
    }
    mkdirSync(at('data'), { mode: 0o700 });
    const imageEnv: Record<string, string> = {};
    for (const [k, v] of env) imageEnv[k] = v.startsWith('/') ? at(v) : v;
    const childEnv = { PATH: process.env.PATH ?? '', ...imageEnv, SLUICE_MQTT_HOST: '127.0.0.1', SLUICE_MQTT_PORT: '0', SLUICE_WEB_PORT: '0' };
    const cwd = at(workdir);

    const [entry, ...entryArgs] = JSON.parse(runtime.instructions.find((i) => i.op === 'ENTRYPOINT')!.args) as string[];
    const cmd = JSON.parse(runtime.instructions.find((i) => i.op === 'CMD')!.args) as string[];
    expect(entry).toBe('node');
    const child = spawn(process.execPath, [...entryArgs, ...cmd], { cwd, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
    try {
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const lines: Array<Record<string, unknown>> = [];
      await new Promise<void>((res, rej) => {
        const timer = setTimeout(() => rej(new Error(`gateway did not start: ${stderr}`)), 20_000);
        void exited.then((code) => rej(new Error(`gateway exited with ${code}: ${stderr}`)));
        createInterface({ input: child.stdout }).on('line', (line) => {
          lines.push(JSON.parse(line) as Record<string, unknown>);
          if (lines.at(-1)!.msg === 'gateway started') {
            clearTimeout(timer);
            res();
          }
        });
      });
      const port = lines.find((l) => l.msg === 'mqtt listening')!.port as number;
      // Its data went where the volume is, and its settings came from the copied sluice.yaml.
      expect(existsSync(join(imageEnv.SLUICE_DATA_DIR!, 'sluice.sock'))).toBe(true);

      const [healthBin, ...healthArgs] = JSON.parse(runtime.instructions.find((i) => i.op === 'HEALTHCHECK')!.args.replace(/^.*CMD /, '')) as string[];
      expect(healthBin).toBe('node');
      const health = spawnSync(process.execPath, healthArgs, { cwd, env: childEnv, encoding: 'utf8' });
      expect(health.stdout.trim()).toBe(`healthy: gateway running, mqtt port ${port}`);
      expect(health.status).toBe(0);
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  });
});

describe('docker-compose.yml', () => {
  interface Service {
    build?: string;
    image?: string;
    profiles?: string[];
    command?: string | string[];
    ports?: string[];
    volumes?: string[];
    environment?: Record<string, string>;
    network_mode?: string;
    working_dir?: string;
  }
  const compose = parse(read('docker-compose.yml')) as { services: Record<string, Service>; volumes: Record<string, unknown> };
  const imageEnv = envOf(stages(dockerfile(read('Dockerfile'))).stages.at(-1)!);
  const { sluice, mosquitto, vendor } = compose.services;

  it('runs the gateway from the image, without installing anything at start', () => {
    expect(sluice!.build).toBe('.');
    expect(JSON.stringify(sluice)).not.toMatch(/npm (ci|install|start)/);
    expect(sluice!.profiles).toBeUndefined();
    expect(sluice!.ports).toEqual([`${DEFAULTS.mqtt.port}:${DEFAULTS.mqtt.port}`]);
    // Other names may be signing keys a policy's secret_env reads; SLUICE_* ones must be settings.
    for (const name of Object.keys(sluice!.environment ?? {})) if (name.startsWith('SLUICE_')) expect(SLUICE_ENV.has(name), name).toBe(true);
    expect(Object.keys(sluice!.environment ?? {})).toContain('SLUICE_TIMEZONE');
  });

  it('mounts files that exist where the image looks for them, and declares every named volume', () => {
    for (const [name, service] of Object.entries(compose.services)) {
      for (const volume of service.volumes ?? []) {
        const [source, target] = volume.split(':') as [string, string];
        if (source.startsWith('.')) expect(existsSync(join(ROOT, source)), `${name}: ${source}`).toBe(true);
        else expect(Object.keys(compose.volumes), `${name}: volume ${source}`).toContain(source);
        expect(posix.isAbsolute(target), `${name}: ${target}`).toBe(true);
      }
    }
    const mountOf = (target: string | undefined) => sluice!.volumes!.find((v) => v.split(':')[1] === target)?.split(':')[0];
    expect(mountOf(imageEnv.get('SLUICE_DATA_DIR'))).toBe('sluice-data');
    expect(mountOf(imageEnv.get('SLUICE_CONFIG'))).toBe('./deploy/sluice.yaml');
    expect(mountOf(imageEnv.get('SLUICE_POLICIES_DIR'))).toBe('./policies');
    // The mounted settings file is one the gateway accepts, and keeps the published port.
    const config = loadConfig({ file: join(ROOT, 'deploy', 'sluice.yaml'), env: {} });
    expect(config.mqtt.port).toBe(DEFAULTS.mqtt.port);
  });

  it('has Mosquitto under the "external" profile with a config whose files are in the mounted dir', () => {
    expect(mosquitto!.image).toBe('eclipse-mosquitto:2');
    expect(mosquitto!.profiles).toEqual(['external']);
    expect(mosquitto!.volumes).toContain('./deploy/mosquitto:/mosquitto/config');
    const conf = read('deploy/mosquitto/mosquitto.conf');
    for (const m of conf.matchAll(/^(?:password_file|acl_file)\s+(\S+)/gm)) {
      expect(m[1]!.startsWith('/mosquitto/config/'), m[1]).toBe(true);
      expect(existsSync(join(ROOT, 'deploy', 'mosquitto', m[1]!.slice('/mosquitto/config/'.length))), m[1]).toBe(true);
    }
    // Its host port does not collide with the gateway's own broker.
    expect(mosquitto!.ports!.map((p) => p.split(':')[0])).not.toContain(String(DEFAULTS.mqtt.port));
  });

  it('has the example vendor receiver under the "vendor" profile, on the gateway\'s loopback', () => {
    expect(vendor!.profiles).toEqual(['vendor']);
    // A policy may use plain http:// only to 127.0.0.1, so the receiver shares the gateway's network.
    expect(vendor!.network_mode).toBe('service:sluice');
    const mount = vendor!.volumes!.find((v) => v.split(':')[1] === vendor!.working_dir)!;
    const script = (vendor!.command as string[])[1]!;
    expect(existsSync(join(ROOT, mount.split(':')[0]!, script))).toBe(true);
    const server = read('examples/vendor-receiver/server.js');
    for (const name of Object.keys(vendor!.environment ?? {})) expect(server).toContain(`process.env.${name}`);
  });
});

describe('deploy/healthcheck.js', () => {
  const running: GatewayChild[] = [];
  afterEach(async () => {
    for (const g of running.splice(0)) await g.kill();
  });
  const check = (dataDir: string) =>
    spawnSync(process.execPath, [join(ROOT, 'deploy', 'healthcheck.js')], {
      cwd: dataDir,
      env: { PATH: process.env.PATH ?? '', SLUICE_DATA_DIR: dataDir, SLUICE_DEVICES_DIR: DEVICES_DIR, SLUICE_POLICIES_DIR: join(ROOT, 'policies') },
      encoding: 'utf8',
    });

  it('fails while no gateway runs (where `sluice status` itself exits 0) and passes while one does', async () => {
    const dataDir = tmpDir();
    const stopped = check(dataDir);
    expect(stopped.stdout).toContain('unhealthy: no gateway runs');
    expect(stopped.status).toBe(1);
    // Without a gateway it leaves the data directory alone (`sluice status` would create the database).
    expect(readdirSync(dataDir)).toEqual([]);

    const gw = await startGateway({ dataDir });
    running.push(gw);
    const up = check(dataDir);
    expect(up.stdout.trim()).toBe(`healthy: gateway running, mqtt port ${gw.port}`);
    expect(up.status).toBe(0);

    expect(await gw.stop()).toBe(0);
    running.splice(0);
    expect(check(dataDir).status).toBe(1);
  });
});

describe('deploy/sluice.service', () => {
  const unit = read('deploy/sluice.service');
  const directives = new Map<string, string[]>();
  for (const line of unit.split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (m) directives.set(m[1]!, [...(directives.get(m[1]!) ?? []), m[2]!]);
  }
  const one = (key: string) => directives.get(key)?.at(-1);

  it('has the hardening and lifecycle directives the install guide promises', () => {
    const required: Record<string, string> = {
      User: 'sluice',
      StateDirectory: 'sluice',
      ConfigurationDirectory: 'sluice',
      ProtectSystem: 'strict',
      ProtectHome: 'yes',
      PrivateTmp: 'yes',
      NoNewPrivileges: 'yes',
      CapabilityBoundingSet: '',
      RestrictAddressFamilies: 'AF_UNIX AF_INET AF_INET6',
      SystemCallFilter: '@system-service',
      UMask: '0077',
      Restart: 'on-failure',
    };
    for (const [key, value] of Object.entries(required)) expect(one(key), key).toBe(value);
    // It would kill V8, whose JIT writes executable memory.
    expect(directives.has('MemoryDenyWriteExecute')).toBe(false);
  });

  it('points Sluice at /etc/sluice and /var/lib/sluice through variables it reads', () => {
    const env = new Map((directives.get('Environment') ?? []).map((e) => e.split('=', 2) as [string, string]));
    for (const name of env.keys()) if (name.startsWith('SLUICE_')) expect(SLUICE_ENV.has(name), name).toBe(true);
    expect(env.get('SLUICE_CONFIG')).toBe(`/etc/${one('ConfigurationDirectory')}/sluice.yaml`);
    expect(env.get('SLUICE_DATA_DIR')).toBe(`/var/lib/${one('StateDirectory')}`);
    expect(env.get('SLUICE_POLICIES_DIR')!.startsWith('/etc/sluice/')).toBe(true);
    expect(one('ExecStart')).toBe(`/usr/bin/node ${one('WorkingDirectory')}/bin/sluice.js start`);
    expect(env.get('SLUICE_DEVICES_DIR')).toBe(`${one('WorkingDirectory')}/devices`);
  });

  it('runs as the user deploy/sysusers.d/sluice.conf creates', () => {
    const sysusers = read('deploy/sysusers.d/sluice.conf')
      .split('\n')
      .filter((l) => l.trim() !== '' && !l.startsWith('#'));
    expect(sysusers).toHaveLength(1);
    const [type, name, , , home] = sysusers[0]!.match(/"[^"]*"|\S+/g)!;
    expect([type, name, home]).toEqual(['u', one('User'), `/var/lib/${one('StateDirectory')}`]);
  });

  const analyze = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
  const haveAnalyze = analyze.status === 0;
  // .ci/run installs systemd (for this binary only); under CI its absence fails instead of skipping.
  const skipAnalyze = !haveAnalyze && process.env.CI !== 'true';
  if (skipAnalyze) console.warn('skipping systemd-analyze verify: systemd-analyze is not installed');
  it.skipIf(skipAnalyze)('passes `systemd-analyze verify` without a warning', () => {
    expect(haveAnalyze, 'systemd-analyze is installed').toBe(true);
    // Verify checks that ExecStart's binary exists: use this machine's node for it.
    const dir = tmpDir('sluice-unit-');
    const copy = join(dir, 'sluice.service');
    copyFileSync(join(ROOT, 'deploy', 'sluice.service'), copy);
    writeFileSync(copy, readFileSync(copy, 'utf8').replace('ExecStart=/usr/bin/node', `ExecStart=${process.execPath}`));
    expect(statSync(copy).isFile()).toBe(true);
    const r = spawnSync('systemd-analyze', ['verify', copy], { encoding: 'utf8' });
    expect(r.stderr.trim()).toBe('');
    expect(r.status).toBe(0);
  });
});
