import { rounds, type BenchOptions, type Figure, type Part, type PartResult } from '../lib/part.js';
import { provision } from '../lib/provision.js';
import { readProcCpu, readProcMemory, removeDir, runLoad, sleep, startGateway } from '../lib/procs.js';
import { summarize } from '../lib/stats.js';
import { prefill } from '../lib/steady.js';
import { buildSluiceStore } from './storage.js';

/** deploy/sluice.service and the Dockerfile set these (issue 15: 147 → 106 MiB measured then). */
export const MEMORY_FLAGS_ENV: Record<string, string> = { MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '131072' };
export const MEMORY_FLAGS_NODE = ['--max-semi-space-size=1'];

interface FootRun {
  warmup: boolean;
  startEmptyMs: number;
  /** VmHWM right after start, and once every device has connected (scrypt checks done) */
  hwmStarted: number;
  hwmConnected: number;
  hwm: number;
  rssAfterLoad: number;
  connected: number;
  idleCpuPercent: number;
}

export const footprintPart: Part = {
  name: 'footprint',
  title: 'Memory, idle CPU and start-up time',
  async run(options: BenchOptions): Promise<PartResult> {
    const q = options.quick;
    const devices = q ? 6 : 200;
    const intervalMs = q ? 200 : 10_000;
    const loadMs = q ? 1000 : 20_000;
    const idleMs = q ? 1000 : 60_000;
    const prov = await provision(devices);
    options.shared.cleanup.push(prov.template);
    // Steady state: a store already holding 1000 messages per device (its page cache is part of RSS).
    const filled = await prefill(prov, options);
    const runs: FootRun[] = [];
    for (const round of rounds(options)) {
      const dataDir = prov.clone('footprint');
      const gw = await startGateway({ dataDir });
      try {
        const hwmStarted = readProcMemory(gw.pid).hwm;
        let hwmConnected = 0;
        const results = await runLoad({ port: gw.port, mode: 'rate', qos: 1, intervalMs, durationMs: round.warmup ? loadMs / 4 : loadMs, seed: options.seed }, prov.devices, options.loadProcs, {
          onGo: () => (hwmConnected = readProcMemory(gw.pid).hwm),
        });
        const mem = readProcMemory(gw.pid);
        const connected = results.reduce((n, r) => n + r.connected, 0);
        // Idle: every device gone, nothing published; let disconnects settle first.
        await sleep(q ? 200 : 2000);
        const cpu0 = readProcCpu(gw.pid);
        const t0 = Date.now();
        await sleep(round.warmup ? idleMs / 6 : idleMs);
        const idleCpuPercent = ((readProcCpu(gw.pid) - cpu0) / ((Date.now() - t0) / 1000)) * 100;
        runs.push({ warmup: round.warmup, startEmptyMs: gw.startMs, hwmStarted, hwmConnected, hwm: mem.hwm, rssAfterLoad: mem.rss, connected, idleCpuPercent });
        options.log(`footprint ${round.label}: start ${gw.startMs.toFixed(0)} ms, VmHWM ${(hwmStarted / 2 ** 20).toFixed(1)} MiB after start, ${(hwmConnected / 2 ** 20).toFixed(1)} after ${connected} devices connected, ${(mem.hwm / 2 ** 20).toFixed(1)} after the load (RSS then ${(mem.rss / 2 ** 20).toFixed(1)}), idle CPU ${idleCpuPercent.toFixed(2)}%`);
      } finally {
        await gw.stop();
        await gw.kill();
        removeDir(dataDir);
      }
    }

    // The memory flags of the systemd unit and the Docker image (deploy/): glibc keeps two arenas
    // and returns big freed blocks (the scrypt buffers of password checks, 1 MiB each) at once; V8's
    // young generation stays at 1 MiB semi-spaces. bin/sluice.js cannot apply them itself
    // without a re-exec (a second pid), so the figure is given with and without them.
    const flagRuns: number[] = [];
    for (const round of rounds(options)) {
      const dataDir = prov.clone('footprint-flags');
      const gw = await startGateway({ dataDir, env: MEMORY_FLAGS_ENV, nodeArgs: MEMORY_FLAGS_NODE });
      try {
        await runLoad({ port: gw.port, mode: 'rate', qos: 1, intervalMs, durationMs: round.warmup ? loadMs / 4 : loadMs, seed: options.seed }, prov.devices, options.loadProcs);
        const hwm = readProcMemory(gw.pid).hwm;
        if (!round.warmup) flagRuns.push(hwm);
        options.log(`footprint ${round.label} with the memory flags: VmHWM ${(hwm / 2 ** 20).toFixed(1)} MiB`);
      } finally {
        await gw.stop();
        await gw.kill();
        removeDir(dataDir);
      }
    }

    // Start-up on a large store: the storage part's, or one built here the same way.
    let bigDir = options.shared.bigDataDir;
    let bigReadings = options.shared.bigDataReadings ?? 0;
    if (!bigDir) {
      // BENCH_FOOTPRINT_BIG_READINGS sizes it when only the memory figures are wanted (building 10 M takes minutes).
      const big = Number(process.env.BENCH_FOOTPRINT_BIG_READINGS) || (q ? 20_000 : 10_000_000);
      const build = await buildSluiceStore(big, options.seed, [], options.log);
      options.shared.cleanup.push(build.dataDir);
      bigDir = build.dataDir;
      bigReadings = build.readings;
    }
    const bigStarts: Array<{ warmup: boolean; ms: number }> = [];
    for (const round of rounds(options)) {
      const gw = await startGateway({ dataDir: bigDir });
      bigStarts.push({ warmup: round.warmup, ms: gw.startMs });
      options.log(`footprint ${round.label}: start on ${(bigReadings / 1e6).toFixed(2)} M readings ${gw.startMs.toFixed(0)} ms`);
      await gw.stop();
      await gw.kill();
    }

    const m = runs.filter((r) => !r.warmup);
    const hwm = summarize(m.map((r) => r.hwm / 2 ** 20));
    const flagHwm = summarize(flagRuns.map((b) => b / 2 ** 20));
    const idle = summarize(m.map((r) => r.idleCpuPercent));
    const startEmpty = summarize(m.map((r) => r.startEmptyMs));
    const startBig = summarize(bigStarts.filter((s) => !s.warmup).map((s) => s.ms));
    const figures: Figure[] = [
      { name: `peak RSS (VmHWM), ${devices} devices connected at household rate, as \`node bin/sluice.js start\` runs`, unit: 'MiB', value: hwm, target: '≤ 110 MiB', met: hwm.median <= 110 },
      {
        name: `peak RSS (VmHWM), ${devices} devices, with the memory flags of the systemd unit and Docker image`,
        unit: 'MiB',
        value: flagHwm,
        target: '≤ 110 MiB',
        met: flagHwm.median <= 110,
        note: `${Object.entries(MEMORY_FLAGS_ENV).map(([k, v]) => `${k}=${v}`).join(' ')} node ${MEMORY_FLAGS_NODE.join(' ')}`,
      },
      { name: 'VmHWM right after start, before any device', unit: 'MiB', value: summarize(m.map((r) => r.hwmStarted / 2 ** 20)) },
      { name: `VmHWM once ${devices} devices have connected (scrypt password checks, 1 MiB each)`, unit: 'MiB', value: summarize(m.map((r) => r.hwmConnected / 2 ** 20)) },
      { name: 'RSS at the end of the load', unit: 'MiB', value: summarize(m.map((r) => r.rssAfterLoad / 2 ** 20)) },
      { name: `idle CPU over ${idleMs / 1000} s, no traffic`, unit: '%', value: idle, target: '≈ 0', met: idle.median < 0.5 },
      { name: `start-up to accepting connections, store prefilled with ${filled.messages} messages`, unit: 'ms', value: startEmpty, target: '≤ 1,500 ms', met: startEmpty.median <= 1500 },
      { name: `start-up to accepting connections, ${(bigReadings / 1e6).toFixed(2)} M readings`, unit: 'ms', value: startBig, target: '≤ 1,500 ms', met: startBig.median <= 1500, note: 'warm page cache' },
    ];
    return { figures, raw: { devices, intervalMs, loadMs, idleMs, prefill: filled, runs, flagRuns, bigReadings, bigStarts }, notes: [`store prefilled with ${filled.messages} messages before each run.`, 'start-up is measured from spawning `node bin/sluice.js start` to its `mqtt listening` line, so it includes Node\'s own start.'] };
  },
};
