import type { LoadDevice } from '../load-client.js';
import { rounds, type BenchOptions, type Figure, type Part, type PartResult } from '../lib/part.js';
import { provision } from '../lib/provision.js';
import { prefill, storedReadings } from '../lib/steady.js';
import { mosquittoBinary, readProcCpu, removeDir, runLoad, startBareAedes, startGateway, startMosquitto, throughput, benchTmp, UNTHROTTLED, type BrokerChild } from '../lib/procs.js';
import { summarize } from '../lib/stats.js';

const READINGS_PER_MESSAGE = 4;

interface Sizes {
  devices: number;
  messages: number;
  window: number;
}

export function ingestSizes(quick: boolean): Sizes {
  return quick ? { devices: 4, messages: 50, window: 10 } : { devices: 100, messages: 1000, window: 10 };
}

interface RunRecord {
  system: string;
  qos: 0 | 1;
  warmup: boolean;
  messages: number;
  seconds: number;
  perSecond: number;
  /** broker CPU (user + system) per message, µs: robust where wall time is not (shared cores) */
  cpuPerMessageUs: number;
  /** CPU of the main thread alone (the event loop), µs per message; the rest is worker threads (the seal, libuv) */
  loopCpuPerMessageUs: number;
  stored?: number;
  errors: string[];
}

/** One burst against one broker; for Sluice, also checks that every reading was stored. */
export async function burstOnce(
  system: 'sluice' | 'aedes' | 'mosquitto',
  qos: 0 | 1,
  devices: LoadDevice[],
  sizes: Sizes,
  options: BenchOptions,
  dirs: { clone(label: string): string; scratch: string },
): Promise<Omit<RunRecord, 'warmup'>> {
  let broker: BrokerChild;
  let dataDir: string | undefined;
  if (system === 'sluice') {
    dataDir = dirs.clone('ingest');
    broker = await startGateway({ dataDir, logLevel: 'info', env: UNTHROTTLED });
  } else if (system === 'aedes') {
    broker = await startBareAedes();
  } else {
    broker = await startMosquitto(mosquittoBinary()!, dirs.scratch);
  }
  try {
    let cpu0 = 0;
    let loop0 = 0;
    const results = await runLoad({ port: broker.port, mode: 'burst', qos, messages: sizes.messages, window: sizes.window, seed: options.seed }, devices, options.loadProcs, {
      onGo: () => ((cpu0 = readProcCpu(broker.pid)), (loop0 = readProcCpu(broker.pid, broker.pid))),
    });
    const cpu = readProcCpu(broker.pid) - cpu0;
    const loop = readProcCpu(broker.pid, broker.pid) - loop0;
    const t = throughput(results);
    const record: Omit<RunRecord, 'warmup'> = {
      system,
      qos,
      messages: t.messages,
      seconds: t.seconds,
      perSecond: t.perSecond,
      cpuPerMessageUs: (cpu / Math.max(1, t.messages)) * 1e6,
      loopCpuPerMessageUs: (loop / Math.max(1, t.messages)) * 1e6,
      errors: results.flatMap((r) => r.errors),
    };
    await broker.stop();
    if (dataDir) record.stored = storedReadings(dataDir);
    return record;
  } finally {
    await broker.kill();
    if (dataDir) removeDir(dataDir);
  }
}

export const ingestPart: Part = {
  name: 'ingest',
  title: 'Ingest throughput',
  async run(options: BenchOptions): Promise<PartResult> {
    const sizes = ingestSizes(options.quick);
    const prov = await provision(sizes.devices);
    // Steady state: the store already holds 1000 messages per device before anything is measured.
    const filled = await prefill(prov, options);
    const scratch = benchTmp('ingest-scratch');
    options.shared.cleanup.push(prov.template, scratch);
    const mosquitto = mosquittoBinary();
    const systems: Array<'sluice' | 'aedes' | 'mosquitto'> = ['sluice', 'aedes', ...(mosquitto ? (['mosquitto'] as const) : [])];
    const records: RunRecord[] = [];
    for (const qos of [1, 0] as const) {
      for (const round of rounds(options)) {
        // Systems alternate within a round, so drift on a shared machine hits each alike.
        for (const system of systems) {
          const r = await burstOnce(system, qos, prov.devices, sizes, options, { clone: prov.clone, scratch });
          records.push({ ...r, warmup: round.warmup });
          options.log(`ingest QoS ${qos} ${round.label} ${system}: ${Math.round(r.perSecond)} msg/s (${r.messages} in ${r.seconds.toFixed(2)} s, ${r.cpuPerMessageUs.toFixed(1)} µs CPU/msg, main thread ${r.loopCpuPerMessageUs.toFixed(1)})${r.stored !== undefined ? `, ${r.stored} readings stored` : ''}${r.errors.length ? `, errors: ${r.errors.slice(0, 2).join('; ')}` : ''}`);
        }
      }
    }
    const figures: Figure[] = [];
    const notes: string[] = [];
    for (const qos of [1, 0] as const) {
      const measured = (system: string) => records.filter((r) => r.qos === qos && r.system === system && !r.warmup);
      const sluice = measured('sluice');
      const aedes = measured('aedes');
      const ratios = sluice.map((s, i) => s.perSecond / (aedes[i]?.perSecond ?? Number.NaN));
      const expected = filled.readings + sizes.devices * sizes.messages * READINGS_PER_MESSAGE;
      const short = sluice.filter((s) => s.stored !== expected);
      figures.push({
        name: `ingest QoS ${qos}, ${sizes.devices}×${sizes.messages} msgs${qos === 1 ? `, ${sizes.window} in flight` : ''}`,
        unit: 'msg/s',
        value: summarize(sluice.map((s) => s.perSecond)),
        baseline: { name: 'bare aedes', value: summarize(aedes.map((a) => a.perSecond)) },
        ratio: summarize(ratios),
        target: qos === 1 ? '≥ 0.5×' : '',
        met: qos === 1 ? summarize(ratios).median >= 0.5 : undefined,
        note: `${short.length === 0 ? 'every reading stored' : `${short.length} run(s) stored other than ${expected} readings`}; store prefilled with ${filled.messages} messages`,
      });
      figures.push({
        name: `broker CPU per message, QoS ${qos}`,
        unit: 'µs',
        value: summarize(sluice.map((s) => s.cpuPerMessageUs)),
        baseline: { name: 'bare aedes', value: summarize(aedes.map((a) => a.cpuPerMessageUs)) },
        ratio: summarize(sluice.map((s, i) => (aedes[i]?.cpuPerMessageUs ?? Number.NaN) / s.cpuPerMessageUs)),
        ratioNote: '(aedes ÷ Sluice: as a throughput ratio)',
        note: 'user+system CPU of the broker process; less sensitive to other load on shared cores than msg/s',
      });
      figures.push({
        name: `gateway main-thread (event loop) CPU per message, QoS ${qos}`,
        unit: 'µs',
        value: summarize(sluice.map((s) => s.loopCpuPerMessageUs)),
        baseline: { name: 'bare aedes', value: summarize(aedes.map((a) => a.loopCpuPerMessageUs)) },
        note: 'the main thread alone (/proc/PID/task/PID/stat); the rest of the process CPU is worker threads (the seal worker, libuv)',
      });
      figures.push({
        name: `ingest QoS ${qos} readings`,
        unit: 'readings/s',
        value: summarize(sluice.map((s) => s.perSecond * READINGS_PER_MESSAGE)),
      });
      if (mosquitto) {
        const mq = measured('mosquitto');
        figures.push({
          name: `ingest QoS ${qos} vs Mosquitto`,
          unit: 'msg/s',
          value: summarize(sluice.map((s) => s.perSecond)),
          baseline: { name: 'Mosquitto', value: summarize(mq.map((m) => m.perSecond)) },
          ratio: summarize(sluice.map((s, i) => s.perSecond / (mq[i]?.perSecond ?? Number.NaN))),
        });
        figures.push({
          name: `broker CPU per message, QoS ${qos}, vs Mosquitto`,
          unit: 'µs',
          value: summarize(sluice.map((s) => s.cpuPerMessageUs)),
          baseline: { name: 'Mosquitto', value: summarize(mq.map((m) => m.cpuPerMessageUs)) },
          ratio: summarize(sluice.map((s, i) => (mq[i]?.cpuPerMessageUs ?? Number.NaN) / s.cpuPerMessageUs)),
          ratioNote: '(Mosquitto ÷ Sluice)',
        });
      }
    }
    if (!mosquitto) notes.push('Mosquitto is not installed here, so it is not measured (install the Debian package `mosquitto` to add it).');
    const q1 = records.filter((r) => r.qos === 1 && r.system === 'sluice' && !r.warmup);
    options.shared.maxRate = summarize(q1.map((r) => r.perSecond)).median;
    return { figures, raw: { sizes, loadProcs: options.loadProcs, prefill: filled, records }, notes };
  },
};
