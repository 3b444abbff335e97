import type { Figure, Part, PartResult, BenchOptions } from '../lib/part.js';
import { provision } from '../lib/provision.js';
import { admin, prefill } from '../lib/steady.js';
import { removeDir, runLoad, sleep, startGateway, UNTHROTTLED, waitForLog } from '../lib/procs.js';
import { seededRandom, summarize } from '../lib/stats.js';
import { maxRate } from './latency.js';

const METRICS = ['temperature', 'humidity', 'setpoint_heat', 'heating'];

interface Cycle {
  cycle: number;
  /** ingest.durability of the gateway that was killed */
  mode: 'fsync' | 'interval';
  /** ms after the load started that the gateway was SIGKILLed */
  killAfterMs: number;
  restartMs: number;
  ackedMessages: number;
  lostReadings: number;
}

/**
 * Readings of acknowledged messages (4 per message) the restarted gateway does not return. Asked
 * through its admin socket (`readings`, as `sluice readings` does), so the answer covers sealed
 * data and the replayed hot log alike, whatever the store's layout.
 */
async function lostReadings(dataDir: string, acked: Record<string, number[]>): Promise<number> {
  let lost = 0;
  for (const [deviceId, list] of Object.entries(acked)) {
    if (list.length === 0) continue;
    const since = new Date(Math.min(...list)).toISOString();
    const rows = await admin<Array<{ metric: string; ts: string }>>(dataDir, 'readings', { id: deviceId, since, limit: 10_000_000 });
    const have = new Set(rows.map((r) => `${r.metric}@${Date.parse(r.ts)}`));
    for (const ts of list) for (const metric of METRICS) if (!have.has(`${metric}@${ts}`)) lost++;
  }
  return lost;
}

export const durabilityPart: Part = {
  name: 'durability',
  title: 'Durability under load: SIGKILL at random moments, acknowledged vs stored',
  async run(options: BenchOptions): Promise<PartResult> {
    const kills = options.quick ? 2 : 20;
    const devices = options.quick ? 4 : 50;
    const prov = await provision(devices);
    options.shared.cleanup.push(prov.template);
    const filled = await prefill(prov, options);
    const max = await maxRate(options, prov);
    const intervalMs = (devices / (max / 2)) * 1000;
    const rnd = seededRandom(options.seed);
    const dataDir = prov.clone('durability');
    options.shared.cleanup.push(dataDir);
    options.log(`durability: ${kills} kills at 50% of max (${Math.round(max / 2)} msg/s), seed ${options.seed}`);

    const cycles: Cycle[] = [];
    // The two durability modes take turns, so each promise is tested by half the kills.
    const modeOf = (i: number): 'fsync' | 'interval' => (i % 2 === 0 ? 'interval' : 'fsync');
    const envOf = (i: number) => ({ ...UNTHROTTLED, SLUICE_INGEST_DURABILITY: modeOf(i) });
    let gw = await startGateway({ dataDir, env: envOf(0) });
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
      gw = await startGateway({ dataDir, env: envOf(i + 1) });
      await waitForLog(gw, 'gateway started');
      const lost = await lostReadings(dataDir, acked);
      cycles.push({ cycle: i + 1, mode: modeOf(i), killAfterMs, restartMs: gw.startMs, ackedMessages, lostReadings: lost });
      options.log(`kill ${i + 1}/${kills} (${modeOf(i)}) at +${killAfterMs} ms: ${ackedMessages} messages acknowledged, ${lost} readings lost; restart ${gw.startMs.toFixed(0)} ms`);
    }
    await gw.stop();
    await gw.kill();
    removeDir(dataDir);

    const lost = cycles.reduce((n, c) => n + c.lostReadings, 0);
    const acked = cycles.reduce((n, c) => n + c.ackedMessages, 0);
    const perMode = (['interval', 'fsync'] as const)
      .map((m) => {
        const c = cycles.filter((x) => x.mode === m);
        return `${m}: ${c.length} kills, ${c.reduce((n, x) => n + x.ackedMessages, 0)} messages, ${c.reduce((n, x) => n + x.lostReadings, 0)} readings lost`;
      })
      .join('; ');
    const figures: Figure[] = [
      {
        name: `readings lost after ${kills} SIGKILLs at 50% of max`,
        unit: 'readings',
        value: summarize([lost]),
        target: '0',
        met: lost === 0,
        note: `${acked} acknowledged messages (${acked * METRICS.length} readings) checked; ${perMode}`,
      },
      { name: 'restart time after SIGKILL (spawn → accepting connections)', unit: 'ms', value: summarize(cycles.map((c) => c.restartMs)), target: '≤ 1,500 ms', met: summarize(cycles.map((c) => c.restartMs)).median <= 1500, note: `over ${kills} restarts` },
    ];
    return { figures, raw: { kills, devices, intervalMs, maxRate: max, prefill: filled, firstStartMs, cycles }, notes: [`one series of kills (the kill count is the repetition), not 1 warm-up + 3 runs; store prefilled with ${filled.messages} messages; ingest.durability alternates interval/fsync between kills; readings checked through the restarted gateway's admin socket.`] };
  },
};
