/**
 * `node dist/bench/micro-seal.js [readings]`: what one seal costs per reading (CPU µs of this
 * thread, `writeSealBatch` as both the seal worker and a synchronous seal run it), into an empty
 * hour and into an hour whose chunks already hold readings (a burst seals several times an hour,
 * each time re-encoding the hour's chunk of every series). 400 series, as the ingest bench's 100
 * devices × 4 metrics; 3 runs each, median.
 */
import { join } from 'node:path';
import { openDatabase, silentLogger } from '../src/core/index.js';
import { allMigrations } from '../src/app/index.js';
import { writeSealBatch, type SealBatch } from '../src/store/seal-batch.js';
import { benchTmp, removeDir } from './lib/procs.js';

const SERIES = 400;
const HOUR = Date.UTC(2026, 0, 15, 10);

function batch(readings: number, offset: number): SealBatch {
  const perSeries = Math.ceil(readings / SERIES);
  const b: SealBatch = { series: new Uint32Array(readings), ts: new Float64Array(readings), values: new Float64Array(readings), flags: new Uint8Array(readings), texts: [], deliveries: [] };
  for (let i = 0; i < readings; i++) {
    const s = i % SERIES;
    const k = Math.floor(i / SERIES) + offset * perSeries;
    b.series[i] = s + 1;
    b.ts[i] = HOUR + k * 7 + s; // ms: a burst, every series within the hour
    b.values[i] = 2000 + ((k * 31 + s) % 97);
  }
  return b;
}

async function once(readings: number, sealedBefore: number): Promise<number> {
  const dir = benchTmp('micro-seal');
  try {
    const db = await openDatabase({ path: join(dir, 's.db'), migrations: allMigrations, logger: silentLogger() });
    const series = db.raw.prepare("INSERT INTO series (id, device_id, component, metric, type, unit, scale) VALUES (?, 'd', '', ?, 'number', NULL, 0.01)");
    for (let s = 1; s <= SERIES; s++) series.run(s, `m${s}`);
    for (let k = 0; k < sealedBefore / readings; k++) writeSealBatch(db.raw, batch(readings, k));
    const t0 = process.cpuUsage();
    writeSealBatch(db.raw, batch(readings, sealedBefore / readings));
    const used = process.cpuUsage(t0);
    db.close();
    return (used.user + used.system) / readings;
  } finally {
    removeDir(dir);
  }
}

const readings = Number(process.argv[2] ?? 100_000);
for (const before of [0, readings, 3 * readings]) {
  const runs: number[] = [];
  for (let r = 0; r < 3; r++) runs.push(await once(readings, before));
  runs.sort((a, b) => a - b);
  console.log(`seal of ${readings} readings into ${SERIES} series, ${before} sealed in the same hour before: ${runs[1]!.toFixed(2)} µs/reading (${runs.map((x) => x.toFixed(2)).join(', ')})`);
}
