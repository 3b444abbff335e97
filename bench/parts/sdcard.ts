import { rounds, type BenchOptions, type Figure, type Part, type PartResult } from '../lib/part.js';
import { provision } from '../lib/provision.js';
import { readProcIo, removeDir, runLoad, startGateway } from '../lib/procs.js';
import { summarize } from '../lib/stats.js';

interface SdRun {
  warmup: boolean;
  whatIf: boolean;
  seconds: number;
  messages: number;
  writeBytes: number;
  logBytes: number;
  perDay: number;
  perMessage: number;
}

/**
 * Bytes the gateway makes the kernel write to disk (/proc/<pid>/io write_bytes: database, WAL,
 * checkpoints) plus the bytes of log it prints (journald would store them), at household rate.
 * The load runs at the real rate — compressing time would merge messages into fewer commits
 * and flatter the figure — for a window that is then scaled to a day.
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
    // The last round is a what-if: ingest.batch_interval 5 s (PUBACK waits up to 5 s, so
    // messages share commits) — one run, to show what batching can and cannot save.
    const whatIf = { warmup: false, label: 'what-if batch_interval 5s', whatIf: true };
    for (const round of [...rounds(options).map((r) => ({ ...r, whatIf: false })), whatIf]) {
      const dataDir = prov.clone('sdcard');
      const gw = await startGateway({ dataDir, logLevel: 'info', env: round.whatIf ? { SLUICE_INGEST_BATCH_INTERVAL: q ? '100ms' : '5s', SLUICE_INGEST_IDLE_COMMIT: 'false' } : {} });
      try {
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
        const writeBytes = io1.writeBytes - io0.writeBytes - (io1.cancelledWriteBytes - io0.cancelledWriteBytes);
        const logBytes = gw.logBytes() - log0;
        // Scale by the household's real message count per day, not by wall time alone, so a
        // short window with a few messages more or less is not over- or under-counted.
        const perMessage = (writeBytes + logBytes) / Math.max(1, messages);
        const perDay = perMessage * ((devices * 86_400_000) / intervalMs) * (q ? intervalMs / 10_000 : 1);
        runs.push({ warmup: round.warmup, whatIf: round.whatIf, seconds, messages, writeBytes, logBytes, perDay, perMessage });
        options.log(`sdcard ${round.label}: ${messages} messages in ${seconds.toFixed(0)} s, ${writeBytes} B written + ${logBytes} B logs → ${(perDay / 2 ** 20).toFixed(0)} MiB/day (${perMessage.toFixed(0)} B/message)`);
      } finally {
        await gw.stop();
        await gw.kill();
        removeDir(dataDir);
      }
    }
    const measured = runs.filter((r) => !r.warmup && !r.whatIf);
    const what = runs.filter((r) => r.whatIf);
    const perDay = summarize(measured.map((r) => r.perDay / 2 ** 20));
    const figures: Figure[] = [
      {
        name: `disk writes per day at household rate (${devices} devices × 1 msg/10 s), DB + WAL + logs`,
        unit: 'MiB/day',
        value: perDay,
        target: '≤ 50 MB/day',
        met: perDay.median * 2 ** 20 <= 50e6,
        note: `scaled from ${durationMs / 1000} s windows`,
      },
      { name: 'disk bytes written per acknowledged message', unit: 'B', value: summarize(measured.map((r) => r.perMessage)) },
      {
        name: `disk writes per day, what-if ingest.batch_interval = ${q ? '100 ms' : '5 s'}, idle_commit = false (1 run)`,
        unit: 'MiB/day',
        value: summarize(what.map((r) => r.perDay / 2 ** 20)),
        note: `${summarize(what.map((r) => r.perMessage)).median.toFixed(0)} B/message`,
      },
    ];
    return { figures, raw: { devices, intervalMs, durationMs, runs }, notes: [`each ${durationMs / 1000} s window at the real household rate is scaled to 24 h by message count (a "simulated hour" compressed in time would batch messages and under-count).`] };
  },
};
