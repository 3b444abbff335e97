import type { Summary } from './stats.js';

/** What every part gets from the runner. */
export interface BenchOptions {
  quick: boolean;
  seed: number;
  /** load generator child processes per load */
  loadProcs: number;
  warmups: number;
  runs: number;
  log(message: string): void;
  /** Figures one part measures and a later part reuses (ingest's max rate, storage's 10 M DB). */
  shared: SharedState;
}

export interface SharedState {
  /** Sluice QoS 1 messages/s measured by the ingest part in this invocation. */
  maxRate?: number;
  /** A data dir holding the storage part's large reading store, for the start-up figure. */
  bigDataDir?: string;
  bigDataReadings?: number;
  /** Temporary directories to remove at the end. */
  cleanup: string[];
}

/** One row of the results table. */
export interface Figure {
  name: string;
  unit: string;
  value: Summary;
  baseline?: { name: string; value: Summary };
  /** value ÷ baseline (or baseline ÷ value where smaller is better; see `ratioNote`) */
  ratio?: Summary;
  ratioNote?: string;
  target?: string;
  /** undefined when the figure has no target */
  met?: boolean;
  note?: string;
}

export interface PartResult {
  figures: Figure[];
  /** Everything measured, per run, for bench/results/. */
  raw: unknown;
  notes?: string[];
}

export interface Part {
  name: string;
  title: string;
  run(options: BenchOptions): Promise<PartResult>;
}

/** The measured rounds: warm-ups first (flagged), then the measured runs. */
export function rounds(options: BenchOptions): Array<{ warmup: boolean; label: string }> {
  const out: Array<{ warmup: boolean; label: string }> = [];
  for (let i = 0; i < options.warmups; i++) out.push({ warmup: true, label: `warm-up ${i + 1}` });
  for (let i = 0; i < options.runs; i++) out.push({ warmup: false, label: `run ${i + 1}/${options.runs}` });
  return out;
}
