#!/usr/bin/env node
// `npm start` runs this first: compiling on every start takes seconds (far longer on a Pi), so
// tsc runs only when a source file is newer than its compiled output, or the output is missing.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const CONFIGS = ['tsconfig.json', 'tsconfig.build.json'];
const ENTRY = join('dist', 'src', 'cli', 'main.js');

/**
 * Why the build in `root` is out of date, or undefined when dist/ is current: every
 * src/**\/*.ts has a dist/src/**\/*.js at least as new, and no tsconfig is newer than the entry.
 * @param {string} root the package folder
 * @returns {string | undefined}
 */
export function staleReason(root) {
  const entry = join(root, ENTRY);
  if (!existsSync(entry)) return `${ENTRY} does not exist`;
  const entryTime = statSync(entry).mtimeMs;
  for (const config of CONFIGS) {
    const file = join(root, config);
    if (existsSync(file) && statSync(file).mtimeMs > entryTime) return `${config} is newer than ${ENTRY}`;
  }
  for (const source of sources(join(root, 'src'))) {
    const rel = relative(root, source);
    const output = join(root, 'dist', rel.replace(/\.ts$/, '.js'));
    if (!existsSync(output)) return `${rel} has no compiled ${relative(root, output)}`;
    if (statSync(source).mtimeMs > statSync(output).mtimeMs) return `${rel} is newer than ${relative(root, output)}`;
  }
  return undefined;
}

/** @param {string} dir @returns {string[]} */
function sources(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sources(path);
    return e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [path] : [];
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = resolve(fileURLToPath(import.meta.url), '..', '..');
  const reason = staleReason(root);
  if (reason !== undefined) {
    process.stderr.write(`sluice: building (${reason})\n`);
    const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
    const r = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit', cwd: root });
    process.exit(r.status ?? 1);
  }
}
