import { mkdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { staleReason } from '../../../bin/build-if-stale.js';
import { tmpDir } from '../../helpers/tmp-dir.js';

const T = Date.parse('2026-11-23T12:00:00Z') / 1000; // s, as utimes takes them

function put(root: string, rel: string, mtime: number): void {
  const file = join(root, rel);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, '');
  utimesSync(file, mtime, mtime);
}

/** A package whose every source was compiled after it was written. */
function built(): string {
  const root = tmpDir();
  put(root, 'tsconfig.json', T);
  put(root, 'tsconfig.build.json', T);
  for (const rel of ['cli/main', 'core/clock', 'main']) {
    put(root, `src/${rel}.ts`, T + 10);
    put(root, `dist/src/${rel}.js`, T + 20);
  }
  return root;
}

describe('build-if-stale (npm prestart)', () => {
  it('skips tsc when every output is at least as new as its source', () => {
    expect(staleReason(built())).toBeUndefined();
  });

  it('rebuilds when a source was edited after the build', () => {
    const root = built();
    utimesSync(join(root, 'src/core/clock.ts'), T + 30, T + 30);
    expect(staleReason(root)).toBe('src/core/clock.ts is newer than dist/src/core/clock.js');
  });

  it('rebuilds a fresh clone with no dist, and a new source with no output', () => {
    const root = built();
    put(root, 'src/core/window.ts', T + 5);
    expect(staleReason(root)).toBe('src/core/window.ts has no compiled dist/src/core/window.js');
    rmSync(join(root, 'dist'), { recursive: true });
    expect(staleReason(root)).toBe('dist/src/cli/main.js does not exist');
  });

  it('rebuilds when a tsconfig changed after the build', () => {
    const root = built();
    utimesSync(join(root, 'tsconfig.build.json'), T + 30, T + 30);
    expect(staleReason(root)).toBe('tsconfig.build.json is newer than dist/src/cli/main.js');
  });
});
