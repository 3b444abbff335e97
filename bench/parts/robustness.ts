/**
 * The hardening helper's long runs (bench/fuzz.ts, bench/abuse.ts) as benchmark parts. They run
 * only when named — `npm run bench -- fuzz abuse` — because they are long and check robustness
 * rather than speed. Set BENCH_FUZZ_SECONDS (default 300) and BENCH_ABUSE_SCALE (default 1).
 */
import { runBrokerAbuse } from '../abuse.js';
import { runBrokerFuzz } from '../fuzz.js';
import type { BenchOptions, Part, PartResult } from '../lib/part.js';
import { ROOT } from '../lib/procs.js';
import { summarize } from '../lib/stats.js';

const MiB = 2 ** 20;

export const fuzzPart: Part = {
  name: 'fuzz',
  title: 'Broker fuzz: mutated packets and sessions beside a well-behaved device',
  async run(options: BenchOptions): Promise<PartResult> {
    const seconds = options.quick ? 3 : Number(process.env.BENCH_FUZZ_SECONDS ?? 300);
    const r = await runBrokerFuzz({ durationMs: seconds * 1000, seed: options.seed, root: ROOT, log: options.log });
    options.log(`fuzz: ${r.sessions} sessions, ${r.mutatedPackets} mutated packets, ${r.goodStored}/${r.goodAcked} good readings stored, peak RSS ${(r.peakRssBytes / MiB).toFixed(0)} MiB, ok=${r.ok}`);
    return {
      figures: [
        { name: `fuzz ${seconds} s (seed ${r.seed}): problems found`, unit: '', value: summarize([r.problems.length]), target: '0', met: r.ok, note: `${r.sessions} sessions, ${r.mutatedPackets} mutated packets; ${r.goodStored}/${r.goodAcked} acknowledged readings of the good device stored` },
        { name: 'peak RSS under fuzz', unit: 'MiB', value: summarize([r.peakRssBytes / MiB]), target: `≤ ${(r.rssBoundBytes / MiB).toFixed(0)} MiB`, met: r.peakRssBytes <= r.rssBoundBytes },
      ],
      raw: r,
      notes: r.problems.length ? r.problems.slice(0, 5) : [],
    };
  },
};

export const abusePart: Part = {
  name: 'abuse',
  title: 'Broker abuse: connection storm, slow connects, brute force, floods',
  async run(options: BenchOptions): Promise<PartResult> {
    const scale = options.quick ? 0.1 : Number(process.env.BENCH_ABUSE_SCALE ?? 1);
    const r = await runBrokerAbuse({ scale, root: ROOT, log: options.log });
    return {
      figures: [
        { name: `abuse scenarios (scale ${scale}): problems found`, unit: '', value: summarize([r.problems.length]), target: '0', met: r.ok, note: `good device: ${r.good.stored}/${r.good.acked} acknowledged readings stored` },
        { name: 'peak RSS under abuse', unit: 'MiB', value: summarize([r.peakRssBytes / MiB]), target: `≤ ${(r.rssBoundBytes / MiB).toFixed(0)} MiB`, met: r.peakRssBytes <= r.rssBoundBytes },
      ],
      raw: r,
      notes: r.problems.length ? r.problems.slice(0, 5) : [],
    };
  },
};
