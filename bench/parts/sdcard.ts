import { join } from 'node:path';
import Database from 'better-sqlite3';
import { DB_FILE, callAdmin } from '../../src/core/index.js';
import { rounds, type BenchOptions, type Figure, type Part, type PartResult } from '../lib/part.js';
import { provision } from '../lib/provision.js';
import { readProcIo, removeDir, runLoad, startGateway } from '../lib/procs.js';

type ProcIo = ReturnType<typeof readProcIo>;
import { summarize } from '../lib/stats.js';

interface SdRun {
  variant: string;
  warmup: boolean;
  seconds: number;
  messages: number;
  /** bytes during the load window */
  loadBytes: number;
  /** bytes of the seal, rollups, retention and checkpoint of an hour of readings (the prefill) */
  hourSealBytes: number;
  logBytes: number;
  perDay: number;
  perMessage: number;
}

interface Variant {
  label: string;
  env: Record<string, string>;
  bin?: string;
}

/**
 * The template is provisioned by this build; a baseline build before store v3 refuses its newer
 * schema. Its only store v3 object is the chunks table, empty in the template: remove both.
 */
function downgradeForBaseline(dataDir: string): void {
  const raw = new Database(join(dataDir, DB_FILE));
  try {
    raw.exec("DROP TABLE IF EXISTS chunks; DELETE FROM schema_migrations WHERE module = 'store' AND version > 2;");
  } finally {
    raw.close();
  }
}

/**
 * Bytes the gateway makes the kernel write to disk (/proc/<pid>/io write_bytes: hot log,
 * database, WAL, checkpoints) plus the bytes of log it prints (journald would store them), at
 * household rate, per durability mode and for the old layout (BENCH_BASELINE_BIN: another
 * build's bin/sluice.js, e.g. main before the flash store) as the baseline.
 * After a prefill of an hour of readings per device, the hourly work (seal, rollups, retention,
 * checkpoint: the "folds") runs once and is measured; then the load runs at the real rate —
 * compressing time would merge messages into fewer commits and flatter the figure — for a
 * window scaled to a day by message count, plus 24 hourly seals.
 */
export const sdcardPart: Part = {
  name: 'sdcard',
  title: 'SD-card writes per day at household rate',
  async run(options: BenchOptions): Promise<PartResult> {
    const q = options.quick;
    const devices = q ? 4 : 50;
    const intervalMs = q ? 200 : 10_000;
    const durationMs = q ? 1500 : 60_000;
    const prov = await provision(devices);
    options.shared.cleanup.push(prov.template);
    const runs: SdRun[] = [];
    const variants: Variant[] = [
      { label: 'interval', env: { SLUICE_INGEST_DURABILITY: 'interval' } },
      { label: 'fsync', env: { SLUICE_INGEST_DURABILITY: 'fsync' } },
    ];
    const baselineBin = process.env.BENCH_BASELINE_BIN;
    if (baselineBin) variants.push({ label: 'old layout', env: {}, bin: baselineBin });
    for (const variant of variants) {
      for (const round of rounds(options)) {
        const dataDir = prov.clone('sdcard');
        if (variant.bin) downgradeForBaseline(dataDir);
        const gw = await startGateway({ dataDir, logLevel: 'info', env: variant.env, ...(variant.bin ? { bin: variant.bin } : {}) });
        try {
          const socket = join(dataDir, 'sluice.sock');
          const maintain = async () => {
            await callAdmin(socket, 'db.maintain', { job: 'store.retention' });
            await callAdmin(socket, 'db.maintain', { job: 'store.checkpoint' });
          };
          const written = (a: ProcIo, b: ProcIo) => b.writeBytes - a.writeBytes - (b.cancelledWriteBytes - a.cancelledWriteBytes);
          // Prefill: an hour of every device's readings (360 messages each, as fast as the
          // publish limit lets them in), so every series exists and the head holds an hour;
          // then the hourly seal + rollups + checkpoint, measured on its own.
          await runLoad({ port: gw.port, mode: 'burst', qos: 1, messages: q ? 20 : 360, window: 10, seed: options.seed }, prov.devices, options.loadProcs);
          const s0 = readProcIo(gw.pid);
          await maintain();
          const hourSealBytes = written(s0, readProcIo(gw.pid));
          const d = round.warmup ? durationMs / 4 : durationMs;
          let io0 = readProcIo(gw.pid);
          let log0 = gw.logBytes();
          let t0 = Date.now();
          const results = await runLoad({ port: gw.port, mode: 'rate', qos: 1, intervalMs, durationMs: d, seed: options.seed }, prov.devices, options.loadProcs, {
            onGo: () => {
              // Count from the first publish: connecting (scrypt, registry) is not the steady state.
              io0 = readProcIo(gw.pid);
              log0 = gw.logBytes();
              t0 = Date.now();
            },
          });
          const io1 = readProcIo(gw.pid);
          const seconds = (Date.now() - t0) / 1000;
          const messages = results.reduce((n, r) => n + r.acked, 0);
          const loadBytes = written(io0, io1);
          const logBytes = gw.logBytes() - log0;
          // Scale the steady state by the household's real message count per day, not by wall
          // time alone, and add 24 hourly seals.
          const perDayMessages = ((devices * 86_400_000) / intervalMs) * (q ? intervalMs / 10_000 : 1);
          const perMessage = (loadBytes + logBytes) / Math.max(1, messages);
          const perDay = perMessage * perDayMessages + 24 * hourSealBytes;
          runs.push({ variant: variant.label, warmup: round.warmup, seconds, messages, loadBytes, hourSealBytes, logBytes, perDay, perMessage: perDay / perDayMessages });
          options.log(
            `sdcard ${variant.label} ${round.label}: ${messages} messages in ${seconds.toFixed(0)} s, ${loadBytes} B + ${logBytes} B logs; hourly seal/rollups/checkpoint ${hourSealBytes} B → ${(perDay / 2 ** 20).toFixed(1)} MiB/day`,
          );
        } finally {
          await gw.stop();
          await gw.kill();
          removeDir(dataDir);
        }
      }
    }
    const figures: Figure[] = [];
    const floor = 32 * 2 ** 20;
    for (const variant of variants) {
      const measured = runs.filter((r) => !r.warmup && r.variant === variant.label);
      const perDay = summarize(measured.map((r) => r.perDay / 2 ** 20));
      figures.push({
        name: `disk writes per day at household rate (${devices} devices × 1 msg/10 s), ${variant.label}${variant.label === 'old layout' ? ' (baseline)' : ' mode'}: log + DB + WAL + seal + checkpoint + logs`,
        unit: 'MiB/day',
        value: perDay,
        ...(variant.label === 'interval' ? { target: '≤ 100 MB/day', met: perDay.median * 2 ** 20 <= 100e6 } : {}),
        note: `${durationMs / 1000} s windows + 24 hourly seals of ${summarize(measured.map((r) => r.hourSealBytes / 2 ** 10)).median.toFixed(0)} KiB; ${summarize(measured.map((r) => r.perMessage)).median.toFixed(0)} B/message; floor ${floor / 2 ** 20} MiB/day`,
      });
    }
    return {
      figures,
      raw: { devices, intervalMs, durationMs, runs },
      notes: [
        `after a prefill of an hour of readings per device and its seal/rollups/checkpoint (measured, ×24), each ${durationMs / 1000} s window at the real household rate is scaled to 24 h by message count.`,
        baselineBin ? `old layout: ${baselineBin}` : 'old layout not measured (set BENCH_BASELINE_BIN to another build of bin/sluice.js)',
      ],
    };
  },
};
