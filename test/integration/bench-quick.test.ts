import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/gateway.js';
import { tmpDir } from '../helpers/tmp-dir.js';

interface RawResult {
  part: string;
  figures: Array<{ name: string; unit: string; value: { median: number } }>;
}

// Proves the benchmark harness works end to end at tiny sizes; it never asserts a number.
describe('npm run bench -- --quick', () => {
  it('runs every part, writes raw JSON per part and prints the table', async () => {
    const results = tmpDir();
    const out = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
      const child = spawn(process.execPath, [join(ROOT, 'dist', 'bench', 'run.js'), '--quick', '--results-dir', results], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stdout += d.toString()));
      child.on('exit', (code) => resolve({ code, stdout }));
    });
    expect(out.code, out.stdout).toBe(0);
    const files = readdirSync(results).filter((f) => f.endsWith('.json'));
    const parts = files.map((f) => (JSON.parse(readFileSync(join(results, f), 'utf8')) as RawResult).part).sort();
    expect(parts).toEqual(['durability', 'footprint', 'ingest', 'latency', 'sdcard', 'storage', 'torn-tail']);
    for (const f of files) {
      const raw = JSON.parse(readFileSync(join(results, f), 'utf8')) as RawResult;
      expect(raw.figures.length, f).toBeGreaterThan(0);
    }
    expect(out.stdout).toContain('| part | figure | ratio |');
  }, 360_000);
});
