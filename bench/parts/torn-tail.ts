import { cpSync, readdirSync, readFileSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { LOCK_FILE, SOCKET_FILE } from '../../src/core/index.js';
import { HotLog } from '../../src/store/index.js';
import type { Figure, Part, PartResult, BenchOptions } from '../lib/part.js';
import { provision } from '../lib/provision.js';
import { benchTmp, removeDir, runLoad, sleep, startGateway, waitForLog } from '../lib/procs.js';
import { seededRandom, summarize } from '../lib/stats.js';
import { admin, storedReadings } from '../lib/steady.js';

const DAMAGE = 'hot log: discarded a damaged record at its tail (never acknowledged)';
const HOT_DIR = 'hotlog';

interface Cut {
  cut: number;
  /** start of the frame the cut falls in; equal to `cut` when it falls on a frame boundary */
  frameStart: number;
  started: boolean;
  startMs: number;
  reported: { offset: number; discardedBytes: number; reason: string } | null;
  expectedReadings: number;
  readings: number;
  ok: boolean;
  problem?: string;
}

/** Frame boundaries of a segment: every frame is a u32 payload length, a u32 CRC and the payload. */
function frameBoundaries(buf: Buffer): number[] {
  const out = [0];
  let at = 0;
  while (at + 8 <= buf.length) {
    const next = at + 8 + buf.readUInt32LE(at);
    if (next > buf.length) break;
    out.push(next);
    at = next;
  }
  return out;
}

function lastSegment(dataDir: string): string {
  const names = readdirSync(join(dataDir, HOT_DIR)).filter((n) => n.endsWith('.log')).sort();
  if (names.length === 0) throw new Error('no hot log segment to cut');
  return join(dataDir, HOT_DIR, names[names.length - 1]!);
}

export const tornTailPart: Part = {
  name: 'torn-tail',
  title: 'A torn write at the hot log tail: the gateway starts, discards only the torn record and reports it',
  async run(options: BenchOptions): Promise<PartResult> {
    const q = options.quick;
    const devices = q ? 2 : 10;
    const cutsWanted = q ? 6 : 40;
    const prov = await provision(devices);
    options.shared.cleanup.push(prov.template);
    const env = { SLUICE_INGEST_DURABILITY: 'interval' };

    // A log with frames of every size a household makes: devices at 10 msg/s each, then SIGKILL (nothing sealed).
    const pristine = prov.clone('torn-pristine');
    options.shared.cleanup.push(pristine);
    const gw = await startGateway({ dataDir: pristine, env });
    const results = await runLoad({ port: gw.port, mode: 'rate', qos: 1, intervalMs: 100, durationMs: q ? 1000 : 5000, drainMs: 2000, recordAcked: true, seed: options.seed }, prov.devices, options.loadProcs);
    await sleep(200);
    await gw.kill();
    const acked = results.reduce((n, r) => n + r.acked, 0);
    const segment = lastSegment(pristine);
    const bytes = readFileSync(segment);
    const bounds = frameBoundaries(bytes);
    if (bounds[bounds.length - 1] !== bytes.length) throw new Error(`the killed gateway's log does not end on a frame boundary (${bytes.length} bytes, last frame ends at ${bounds[bounds.length - 1]})`);
    const frames = bounds.length - 1;
    options.log(`torn-tail: ${acked} messages acknowledged, log segment of ${bytes.length} B in ${frames} frames`);

    // Cuts: a few at the edges of the last frame (inside its header, right after it, its last
    // byte), the rest at seeded bytes of the last 50 frames.
    const rnd = seededRandom(options.seed);
    const lastStart = bounds[frames - 1]!;
    const tailStart = bounds[Math.max(0, frames - 50)]!;
    const cuts = new Set<number>([lastStart + 1, lastStart + 7, lastStart + 8, lastStart + 9, bytes.length - 1].filter((c) => c > lastStart && c < bytes.length));
    while (cuts.size < Math.min(cutsWanted, bytes.length - tailStart)) cuts.add(tailStart + Math.floor(rnd() * (bytes.length - tailStart)));

    const sealedBefore = storedReadings(pristine) - HotLog.read({ dir: join(pristine, HOT_DIR) }).records.length;
    const done: Cut[] = [];
    for (const cut of [...cuts].sort((a, b) => a - b)) {
      const dir = benchTmp('torn');
      try {
        cpSync(pristine, dir, { recursive: true, filter: (src) => !src.endsWith(SOCKET_FILE) && !src.endsWith(LOCK_FILE) });
        const seg = join(dir, HOT_DIR, segment.slice(segment.lastIndexOf('/') + 1));
        truncateSync(seg, cut);
        const frameStart = bounds.filter((b) => b <= cut).pop()!;
        // What the cut leaves whole, read by the log's own reader on the prefix of whole frames.
        const whole = benchTmp('torn-prefix');
        cpSync(join(dir, HOT_DIR), join(whole, HOT_DIR), { recursive: true });
        truncateSync(join(whole, HOT_DIR, seg.slice(seg.lastIndexOf('/') + 1)), frameStart);
        const expectedReadings = sealedBefore + HotLog.read({ dir: join(whole, HOT_DIR) }).records.length;
        removeDir(whole);
        const record: Cut = { cut, frameStart, started: false, startMs: Number.NaN, reported: null, expectedReadings, readings: -1, ok: false };
        try {
          const g = await startGateway({ dataDir: dir, env });
          record.startMs = g.startMs;
          try {
            await waitForLog(g, 'gateway started');
            record.started = true;
            const line = g.logs.find((l) => l.msg === DAMAGE);
            record.reported = line ? { offset: line.offset as number, discardedBytes: line.discardedBytes as number, reason: String(line.reason) } : null;
            const info = await admin<{ readings: number; unsealed_readings: number }>(dir, 'db.info');
            record.readings = info.readings + info.unsealed_readings;
          } finally {
            await g.kill();
          }
        } catch (err) {
          record.problem = (err as Error).message;
        }
        const torn = cut !== frameStart;
        const reportOk = torn ? record.reported?.offset === frameStart && record.reported.discardedBytes === cut - frameStart : record.reported === null;
        record.ok = record.started && reportOk && record.readings === expectedReadings;
        if (!record.ok && !record.problem) record.problem = `reported ${JSON.stringify(record.reported)}, ${record.readings} readings (expected ${expectedReadings}, frame at ${frameStart})`;
        done.push(record);
        options.log(`torn-tail cut at byte ${cut} (${torn ? `${cut - frameStart} B into the frame at ${frameStart}` : 'a frame boundary'}): ${record.ok ? 'ok' : `PROBLEM: ${record.problem}`}`);
      } finally {
        removeDir(dir);
      }
    }
    const good = done.filter((c) => c.ok).length;
    const lostBeyond = done.reduce((n, c) => n + Math.max(0, c.expectedReadings - Math.max(0, c.readings)), 0);
    const figures: Figure[] = [
      {
        name: `cuts of the hot log tail after which the gateway started, discarded only the torn record and reported it`,
        unit: 'cuts',
        value: summarize([good]),
        target: `${done.length} of ${done.length}`,
        met: good === done.length,
        note: `${done.length} cuts at seeded bytes of the last ${Math.min(50, frames)} of ${frames} frames (${acked} acknowledged messages, interval mode, SIGKILL)`,
      },
      { name: 'readings lost beyond the torn record, over all cuts', unit: 'readings', value: summarize([lostBeyond]), target: '0', met: lostBeyond === 0 },
      { name: 'start-up with a torn tail (spawn → accepting connections)', unit: 'ms', value: summarize(done.filter((c) => c.started).map((c) => c.startMs)) },
    ];
    return { figures, raw: { devices, acked, segmentBytes: bytes.length, frames, cuts: done }, notes: ['each cut is a copy of the same killed data dir, truncated at that byte; the expected readings are what the log\'s own reader finds in the whole frames before the cut, plus the sealed ones.'] };
  },
};
