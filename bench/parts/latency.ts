import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { LoadDevice } from '../load-client.js';
import { rounds, type BenchOptions, type Figure, type Part, type PartResult } from '../lib/part.js';
import { provision, type Provisioned } from '../lib/provision.js';
import { admin, prefill } from '../lib/steady.js';
import { benchTmp, removeDir, runLoad, startBareAedes, startGateway, throughput, UNTHROTTLED, type BrokerChild } from '../lib/procs.js';
import { percentiles, summarize } from '../lib/stats.js';

/**
 * Sluice's QoS 1 messages/s from this invocation's ingest part, or from a short saturating
 * burst when the part runs alone.
 */
export async function maxRate(options: BenchOptions, prov: Provisioned): Promise<number> {
  if (options.shared.maxRate) return options.shared.maxRate;
  const dataDir = prov.clone('calibrate');
  const gw = await startGateway({ dataDir, env: UNTHROTTLED });
  try {
    const results = await runLoad({ port: gw.port, mode: 'burst', qos: 1, messages: options.quick ? 20 : 300, window: 10, seed: options.seed }, prov.devices, options.loadProcs);
    const rate = throughput(results).perSecond;
    options.log(`calibration: Sluice takes ${Math.round(rate)} QoS 1 msg/s with ${prov.devices.length} devices (ingest part not run in this invocation)`);
    options.shared.maxRate = rate;
    return rate;
  } finally {
    await gw.stop();
    await gw.kill();
    removeDir(dataDir);
  }
}

interface LatencyRun {
  load: string;
  warmup: boolean;
  sent: number;
  acked: number;
  seconds: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  /** the gateway's own hot log fdatasyncs during the run (`db info`'s log_sync); null for bare aedes or when none ran */
  logSync: LogSync | null;
}

interface LogSync {
  syncs: number;
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
  over_10ms: number;
}

async function latencyRun(devices: LoadDevice[], prov: Provisioned, intervalMs: number, durationMs: number, options: BenchOptions, env: Record<string, string>, broker: 'sluice' | 'aedes'): Promise<Omit<LatencyRun, 'load' | 'warmup'>> {
  const dataDir = broker === 'sluice' ? prov.clone('latency') : undefined;
  const gw: BrokerChild = dataDir ? await startGateway({ dataDir, env }) : await startBareAedes();
  try {
    const results = await runLoad({ port: gw.port, mode: 'rate', qos: 1, intervalMs, durationMs, drainMs: 5000, recordLatency: true, seed: options.seed }, devices, options.loadProcs);
    const lat = results.flatMap((r) => r.latencies ?? []);
    const p = percentiles(lat);
    const t = throughput(results);
    // The fdatasyncs this gateway's PUBACKs waited for: the disk's share of the latency, measured in the same run.
    const logSync = dataDir ? (await admin<{ log_sync: LogSync | null }>(dataDir, 'db.info')).log_sync : null;
    return { sent: results.reduce((n, r) => n + r.sent, 0), acked: t.messages, seconds: t.seconds, p50: p.p50, p95: p.p95, p99: p.p99, max: p.max, logSync };
  } finally {
    await gw.stop();
    await gw.kill();
    if (dataDir) removeDir(dataDir);
  }
}

/** One fsync of a freshly written 4 KiB page, as SQLite does per commit with synchronous=FULL. */
function fsyncTimes(dir: string, count: number): number[] {
  const file = join(dir, 'fsync-probe');
  const fd = openSync(file, 'w');
  const page = Buffer.alloc(4096, 7);
  const out: number[] = [];
  try {
    for (let i = 0; i < count; i++) {
      writeSync(fd, page, 0, page.length, (i % 64) * 4096);
      const t0 = performance.now();
      fsyncSync(fd);
      out.push(performance.now() - t0);
    }
  } finally {
    closeSync(fd);
  }
  return out;
}

export const latencyPart: Part = {
  name: 'latency',
  title: 'Publish → PUBACK latency (the reading is on disk at PUBACK)',
  async run(options: BenchOptions): Promise<PartResult> {
    const q = options.quick;
    const household = { devices: q ? 4 : 50, intervalMs: q ? 200 : 10_000, durationMs: Number(process.env.BENCH_LATENCY_HOUSEHOLD_S) * 1000 || (q ? 1000 : 60_000), warmupMs: q ? 500 : 5_000 };
    const loaded = { durationMs: q ? 1000 : 15_000, warmupMs: q ? 500 : 5_000 };
    const prov = await provision(household.devices);
    const scratch = benchTmp('fsync');
    options.shared.cleanup.push(prov.template, scratch);
    // Steady state: every run starts on a store holding 1000 messages per device.
    const filled = await prefill(prov, options);

    const fsyncs = fsyncTimes(scratch, q ? 20 : 500);
    const fs = percentiles(fsyncs);
    options.log(`fsync of 4 KiB: p50 ${fs.p50.toFixed(2)} ms, p99 ${fs.p99.toFixed(2)} ms (${fs.n} samples)`);

    const max = await maxRate(options, prov);
    const half = max / 2;
    const halfInterval = (household.devices / half) * 1000;
    const runs: LatencyRun[] = [];
    // The third load is a what-if: the same household rate with ingest.batch_interval = 0, i.e.
    // commit as soon as the event loop is free instead of waiting up to 20 ms for a batch.
    const loads: Array<{ load: string; intervalMs: number; durationMs: number; warmupMs: number; env: Record<string, string>; broker?: 'aedes' }> = [
      // The baseline: bare aedes at the same rate, with the same load generator, on the same machine.
      { load: 'household, bare aedes', intervalMs: household.intervalMs, durationMs: household.durationMs, warmupMs: household.warmupMs, env: {}, broker: 'aedes' },
      { load: 'household', intervalMs: household.intervalMs, durationMs: household.durationMs, warmupMs: household.warmupMs, env: {} },
      { load: '50% of max', intervalMs: halfInterval, durationMs: loaded.durationMs, warmupMs: loaded.warmupMs, env: UNTHROTTLED },
      { load: 'household, batch_interval 0', intervalMs: household.intervalMs, durationMs: household.durationMs, warmupMs: household.warmupMs, env: { SLUICE_INGEST_BATCH_INTERVAL: '0' } },
      // Each durability mode at household rate, whatever this disk's default is.
      { load: 'household, durability interval', intervalMs: household.intervalMs, durationMs: household.durationMs, warmupMs: household.warmupMs, env: { SLUICE_INGEST_DURABILITY: 'interval' } },
      { load: 'household, durability fsync', intervalMs: household.intervalMs, durationMs: household.durationMs, warmupMs: household.warmupMs, env: { SLUICE_INGEST_DURABILITY: 'fsync' } },
    ];
    // A p99 of a 30 s household run (150 messages) is decided by one or two of them:
    // BENCH_LATENCY_HOUSEHOLD_S lengthens the household runs, BENCH_LATENCY_LOADS (names separated by |, e.g. "household|household, durability fsync") picks loads.
    const only = process.env.BENCH_LATENCY_LOADS?.split('|').map((name) => name.trim());
    const chosen = only ? loads.filter((l) => only.includes(l.load)) : loads;
    for (const l of chosen) {
      for (const round of rounds(options)) {
        const r = await latencyRun(prov.devices, prov, l.intervalMs, round.warmup ? l.warmupMs : l.durationMs, options, l.env, l.broker ?? 'sluice');
        runs.push({ load: l.load, warmup: round.warmup, ...r });
        const sync = r.logSync ? `; log fdatasync ×${r.logSync.syncs} p50 ${r.logSync.p50_ms} p99 ${r.logSync.p99_ms} max ${r.logSync.max_ms} ms, ${r.logSync.over_10ms} over 10 ms` : '';
        options.log(`latency ${l.load} ${round.label}: ${r.acked}/${r.sent} acked over ${r.seconds.toFixed(1)} s, p50 ${r.p50.toFixed(2)} p95 ${r.p95.toFixed(2)} p99 ${r.p99.toFixed(2)} max ${r.max.toFixed(2)} ms${sync}`);
      }
    }
    const figures: Figure[] = [];
    const bare = runs.filter((r) => r.load === 'household, bare aedes' && !r.warmup);
    for (const l of chosen) {
      if (l.broker === 'aedes') continue;
      const measured = runs.filter((r) => r.load === l.load && !r.warmup);
      const rate = (household.devices / l.intervalMs) * 1000;
      const householdLabel = `household rate (${household.devices} devices × 1 msg/${l.intervalMs / 1000} s)`;
      const atHousehold = l.intervalMs === household.intervalMs;
      const label =
        l.load === 'household'
          ? householdLabel
          : l.load === '50% of max'
            ? `50% of max (${Math.round(rate)} msg/s from ${household.devices} devices)`
            : l.load.includes('durability')
              ? `${householdLabel}, ingest.durability = ${l.load.split(' ').pop()}`
              : `${householdLabel}, what-if ingest.batch_interval = 0`;
      const syncs = measured.map((r) => r.logSync).filter((x): x is LogSync => x !== null && x.syncs >= 20);
      for (const p of ['p50', 'p95', 'p99'] as const) {
        if ((l.load.includes('batch_interval') || l.load.includes('durability')) && p === 'p95') continue;
        const f: Figure = { name: `PUBACK latency ${p}, ${label}`, unit: 'ms', value: summarize(measured.map((r) => r[p])) };
        if (atHousehold && bare.length > 0) f.baseline = { name: 'bare aedes, same rate', value: summarize(bare.map((r) => r[p])) };
        if ((l.load === 'household' || l.load.includes('durability')) && p === 'p99') {
          f.target = '≤ 10 ms';
          f.met = f.value.median <= 10;
          // A PUBACK in fsync mode waits for the flush: when the disk's own p99 in these very
          // runs is over the target, no gateway could meet it on this disk.
          if (syncs.length > 0 && !f.met) f.note = `the disk's own flush p99 in these runs: ${syncs.map((x) => x.p99_ms).join(', ')} ms`;
        }
        figures.push(f);
      }
      // Only the runs that waited for a sync per group (fsync mode) have enough to report.
      if (atHousehold && syncs.length > 0) {
        figures.push({
          name: `hot log fdatasync p99 inside the gateway, ${label}`,
          unit: 'ms',
          value: summarize(syncs.map((x) => x.p99_ms)),
          note: `max ${syncs.map((x) => x.max_ms).join(', ')} ms; over 10 ms: ${syncs.map((x) => `${x.over_10ms} of ${x.syncs}`).join(', ')}`,
        });
      }
    }
    figures.push({ name: 'fsync of a 4 KiB write, p50', unit: 'ms', value: summarize([fs.p50]), note: `${fs.n} fsyncs in a row on the data disk (a fraction of a second: the flush stalls of a long run are in the gateway's own figures above)` });
    figures.push({ name: 'fsync of a 4 KiB write, p99', unit: 'ms', value: summarize([fs.p99]) });
    const notes = [`store prefilled with ${filled.messages} messages (${filled.readings} readings) before every run.`, `household runs last ${household.durationMs / 1000} s each (${Math.round((household.devices * household.durationMs) / household.intervalMs)} messages), not an hour; an SD card's fsync is typically 2–20 ms, which adds to every PUBACK.`];
    return { figures, raw: { household, loaded, prefill: filled, maxRate: max, runs, fsync: { samples: fsyncs.length, ...fs } }, notes };
  },
};
