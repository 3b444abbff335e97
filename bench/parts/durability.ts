import { join } from 'node:path';
import { HOT_LOG_DIR, HotStore, SealedReadings } from '../../src/store/index.js';
import type { Figure, Part, PartResult, BenchOptions } from '../lib/part.js';
import { openReadOnly, provision } from '../lib/provision.js';
import { removeDir, runLoad, sleep, startGateway, UNTHROTTLED } from '../lib/procs.js';
import { seededRandom, summarize } from '../lib/stats.js';
import { maxRate } from './latency.js';

const METRICS = ['temperature', 'humidity', 'setpoint_heat', 'heating'];

interface Cycle {
  cycle: number;
  /** ms after the load started that the gateway was SIGKILLed */
  killAfterMs: number;
  restartMs: number;
  ackedMessages: number;
  lostReadings: number;
}

/** Readings of acknowledged messages that are not in the database (4 per message). */
async function lostReadings(dataDir: string, acked: Record<string, number[]>): Promise<number> {
  const db = await openReadOnly(dataDir);
  // Sealed chunks (and rows of an older layout) plus the hot log the restarted gateway replayed, read without writing.
  const hot = HotStore.open(join(dataDir, HOT_LOG_DIR), { repair: false });
  try {
    const seriesOf = db.raw.prepare<[string, string], { id: number }>("SELECT id FROM series WHERE device_id = ? AND component = '' AND metric = ?");
    const sealed = new SealedReadings(db.raw);
    const has = { get: (seriesId: number, ts: number) => hot.head.has(seriesId, ts) || sealed.range(seriesId, ts, ts + 1).length > 0 };
    let lost = 0;
    for (const [deviceId, list] of Object.entries(acked)) {
      for (const metric of METRICS) {
        const series = seriesOf.get(deviceId, metric);
        if (!series) {
          lost += list.length;
          continue;
        }
        for (const ts of list) if (!has.get(series.id, ts)) lost++;
      }
    }
    return lost;
  } finally {
    hot.close();
    db.close();
  }
}

export const durabilityPart: Part = {
  name: 'durability',
  title: 'Durability under load: SIGKILL at random moments, acknowledged vs stored',
  async run(options: BenchOptions): Promise<PartResult> {
    const kills = options.quick ? 2 : 20;
    const devices = options.quick ? 4 : 50;
    const prov = await provision(devices);
    options.shared.cleanup.push(prov.template);
    const max = await maxRate(options, prov);
    const intervalMs = (devices / (max / 2)) * 1000;
    const rnd = seededRandom(options.seed);
    const dataDir = prov.clone('durability');
    options.shared.cleanup.push(dataDir);
    options.log(`durability: ${kills} kills at 50% of max (${Math.round(max / 2)} msg/s), seed ${options.seed}`);

    const cycles: Cycle[] = [];
    let gw = await startGateway({ dataDir, env: UNTHROTTLED });
    const firstStartMs = gw.startMs;
    for (let i = 0; i < kills; i++) {
      // Seeded moment in [0.3 s, 3 s) after the load starts publishing.
      const killAfterMs = Math.round(300 + rnd() * 2700);
      const current = gw;
      const results = await runLoad(
        { port: current.port, mode: 'rate', qos: 1, intervalMs, durationMs: 0, recordAcked: true, seed: options.seed + i },
        prov.devices,
        options.loadProcs,
        { onGo: () => void sleep(killAfterMs).then(() => current.kill()) },
      );
      await current.kill();
      const acked: Record<string, number[]> = {};
      for (const r of results) for (const [id, list] of Object.entries(r.ackedTs ?? {})) (acked[id] ??= []).push(...list);
      const ackedMessages = Object.values(acked).reduce((n, l) => n + l.length, 0);
      gw = await startGateway({ dataDir, env: UNTHROTTLED });
      const lost = await lostReadings(dataDir, acked);
      cycles.push({ cycle: i + 1, killAfterMs, restartMs: gw.startMs, ackedMessages, lostReadings: lost });
      options.log(`kill ${i + 1}/${kills} at +${killAfterMs} ms: ${ackedMessages} messages acknowledged, ${lost} readings lost; restart ${gw.startMs.toFixed(0)} ms`);
    }
    await gw.stop();
    await gw.kill();
    removeDir(dataDir);

    const lost = cycles.reduce((n, c) => n + c.lostReadings, 0);
    const acked = cycles.reduce((n, c) => n + c.ackedMessages, 0);
    const figures: Figure[] = [
      {
        name: `readings lost after ${kills} SIGKILLs at 50% of max`,
        unit: 'readings',
        value: summarize([lost]),
        target: '0',
        met: lost === 0,
        note: `${acked} acknowledged messages (${acked * METRICS.length} readings) checked`,
      },
      { name: 'restart time after SIGKILL (spawn → accepting connections)', unit: 'ms', value: summarize(cycles.map((c) => c.restartMs)), target: '≤ 1,500 ms', met: summarize(cycles.map((c) => c.restartMs)).median <= 1500, note: `over ${kills} restarts` },
    ];
    return { figures, raw: { kills, devices, intervalMs, maxRate: max, firstStartMs, cycles }, notes: ['one series of kills (the kill count is the repetition), not 1 warm-up + 3 runs.'] };
  },
};
