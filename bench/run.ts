/**
 * `npm run bench [-- <part>…] [--quick]`: runs the benchmark parts, writes raw JSON per part to
 * bench/results/ and appends a summary table to bench/RESULTS.md. Benchmarks never fail on a
 * number; the exit code is 1 only if the harness itself broke.
 */
import { join } from 'node:path';
import type { BenchOptions, Part, PartResult, SharedState } from './lib/part.js';
import { machineInfo, removeDir, ROOT } from './lib/procs.js';
import { appendResults, renderHeader, renderTable, writeRaw } from './lib/report.js';
import { durabilityPart } from './parts/durability.js';
import { footprintPart } from './parts/footprint.js';
import { ingestPart } from './parts/ingest.js';
import { abusePart, fuzzPart } from './parts/robustness.js';
import { latencyPart } from './parts/latency.js';
import { sdcardPart } from './parts/sdcard.js';
import { storagePart } from './parts/storage.js';
import { tornTailPart } from './parts/torn-tail.js';

/** In this order: later parts reuse ingest's max rate and storage's large store. */
const PARTS: Part[] = [ingestPart, latencyPart, durabilityPart, tornTailPart, storagePart, sdcardPart, footprintPart];

// ---- robustness runs (issue "hardening") -----------------------------------------------------
// bench/fuzz.ts and bench/abuse.ts (branch `hardening`) are wrapped as the parts `fuzz` and
// `abuse` in parts/robustness.ts. They are long, so they run only when named:
// `npm run bench -- fuzz abuse`. A further optional part goes into OPTIONAL_PARTS.
const OPTIONAL_PARTS: Part[] = [fuzzPart, abusePart];
// ------------------------------------------------------------------------------------------------

interface Args {
  parts: string[];
  quick: boolean;
  seed: number;
  runs?: number;
  warmups?: number;
  loadProcs: number;
  resultsDir: string;
  record: boolean;
  note: string;
}

const USAGE = `usage: npm run bench -- [part…] [--quick] [--seed N] [--runs N] [--warmups N] [--load-procs N]
                       [--results-dir DIR] [--no-record] [--note TEXT]
parts: ingest latency durability torn-tail storage sdcard footprint (default: all); fuzz, abuse (only when named)
--quick        tiny sizes, 0 warm-ups and 1 run, nothing appended to bench/RESULTS.md
--no-record    do not append to bench/RESULTS.md
--note TEXT    a remark appended to the machine line in bench/RESULTS.md`;

function parseArgs(argv: string[]): Args {
  const args: Args = { parts: [], quick: false, seed: 42, loadProcs: 2, resultsDir: join(ROOT, 'bench', 'results'), record: true, note: '' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--quick') args.quick = true;
    else if (a === '--seed') args.seed = Number(value());
    else if (a === '--runs') args.runs = Number(value());
    else if (a === '--warmups') args.warmups = Number(value());
    else if (a === '--load-procs') args.loadProcs = Number(value());
    else if (a === '--results-dir') args.resultsDir = value();
    else if (a === '--no-record') args.record = false;
    else if (a === '--note') args.note = value();
    else if (a === '--help' || a === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else if (a.startsWith('-')) throw new Error(`unknown option ${a}\n${USAGE}`);
    else args.parts.push(a);
  }
  if (args.quick) args.record = false;
  return args;
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const all = [...PARTS, ...OPTIONAL_PARTS];
  const selected = args.parts.length === 0 ? PARTS : args.parts.map((name) => all.find((p) => p.name === name) ?? fail(`unknown part "${name}"; known: ${all.map((p) => p.name).join(', ')}`));
  const shared: SharedState = { cleanup: [] };
  const started = Date.now();
  const log = (m: string) => console.log(`[bench +${((Date.now() - started) / 1000).toFixed(0)}s] ${m}`);
  const options: BenchOptions = {
    quick: args.quick,
    seed: args.seed,
    loadProcs: args.loadProcs,
    warmups: args.warmups ?? (args.quick ? 0 : 1),
    runs: args.runs ?? (args.quick ? 1 : 3),
    log,
    shared,
  };
  const machine = machineInfo();
  const stamp = machine.date.replace(/[:]/g, '-');
  log(`seed ${args.seed}; ${machine.nproc} × ${machine.cpu}, Node ${machine.node}, commit ${machine.commit}${args.quick ? '; QUICK mode (tiny sizes)' : ''}`);
  const done: Array<{ part: string; result: PartResult }> = [];
  let broken = false;
  try {
    for (const part of selected) {
      log(`── ${part.name}: ${part.title}`);
      const t0 = Date.now();
      try {
        const result = await part.run(options);
        const file = writeRaw(args.resultsDir, stamp, part.name, machine, { ...options, log: undefined, shared: undefined }, result);
        done.push({ part: part.name, result });
        log(`${part.name} done in ${((Date.now() - t0) / 1000).toFixed(0)} s; raw results in ${file}`);
      } catch (err) {
        broken = true;
        log(`${part.name} FAILED: ${(err as Error).stack ?? String(err)}`);
      }
    }
  } finally {
    for (const dir of shared.cleanup) removeDir(dir);
  }
  console.log(`\n${renderHeader(machine, args.note)}\n${renderTable(done)}\n`);
  for (const { part, result } of done) for (const n of result.notes ?? []) console.log(`- ${part}: ${n}`);
  if (args.record && done.length > 0) {
    appendResults(join(ROOT, 'bench', 'RESULTS.md'), machine, done, args.note);
    log('appended to bench/RESULTS.md');
  }
  return broken ? 1 : 0;
}

function fail(message: string): never {
  throw new Error(message);
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error((err as Error).message);
    process.exitCode = 2;
  },
);
