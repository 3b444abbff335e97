import { appendFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Figure, PartResult } from './part.js';
import type { MachineInfo } from './procs.js';
import { fmt, fmtSummary } from './stats.js';

/** Writes one part's raw measurements as JSON under the results directory. */
export function writeRaw(dir: string, stamp: string, part: string, machine: MachineInfo, options: unknown, result: PartResult): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${stamp}-${part}.json`);
  writeFileSync(file, `${JSON.stringify({ part, machine, options, figures: result.figures, notes: result.notes ?? [], raw: result.raw }, null, 2)}\n`);
  return file;
}

function verdict(f: Figure): string {
  if (f.met === undefined) return '';
  return f.met ? 'met' : '**missed**';
}

/** The markdown table of one invocation: ratio rows first, then the other figures. */
export function renderTable(parts: Array<{ part: string; result: PartResult }>): string {
  const rows: string[] = [];
  const withRatio: Array<[string, Figure]> = [];
  const others: Array<[string, Figure]> = [];
  for (const { part, result } of parts) for (const f of result.figures) (f.ratio ? withRatio : others).push([part, f]);
  rows.push('| part | figure | ratio | Sluice, median (min–max) | baseline, median (min–max) | target | |');
  rows.push('| --- | --- | --- | --- | --- | --- | --- |');
  for (const [part, f] of [...withRatio, ...others]) {
    const ratio = f.ratio ? `${fmtSummary(f.ratio, 2)}×${f.ratioNote ? ` ${f.ratioNote}` : ''}` : '';
    const value = `${fmtSummary(f.value)} ${f.unit}`;
    const baseline = f.baseline ? `${f.baseline.name}: ${fmtSummary(f.baseline.value)} ${f.unit}` : '';
    const note = f.note ? ` — ${f.note}` : '';
    rows.push(`| ${part} | ${f.name}${note} | ${ratio} | ${value} | ${baseline} | ${f.target ?? ''} | ${verdict(f)} |`);
  }
  return rows.join('\n');
}

export function renderHeader(machine: MachineInfo, extra: string): string {
  return (
    `### ${machine.date} — commit ${machine.commit}\n\n` +
    `nproc ${machine.nproc}, ${machine.cpu}, ${fmt(machine.memoryGiB, 1)} GiB RAM, Node ${machine.node}, load average at start ${machine.load || 'n/a'}${extra ? `. ${extra}` : ''}\n`
  );
}

/** Appends one invocation's table to bench/RESULTS.md (created with a preamble if missing). */
export function appendResults(file: string, machine: MachineInfo, parts: Array<{ part: string; result: PartResult }>, extra: string): void {
  if (!existsSync(file)) {
    writeFileSync(
      file,
      '# Benchmark results\n\n' +
        'Appended by `npm run bench` (see `bench/README.md`). Each figure: 1 warm-up and 3 measured runs, median with\n' +
        'min–max; baselines measured in the same invocation on the same machine. Raw JSON per run is in\n' +
        '`bench/results/` (not committed).\n\n',
    );
  }
  const notes = parts.flatMap(({ part, result }) => (result.notes ?? []).map((n) => `- ${part}: ${n}`));
  appendFileSync(file, `\n${renderHeader(machine, extra)}\n${renderTable(parts)}\n${notes.length ? `\n${notes.join('\n')}\n` : ''}`);
}
