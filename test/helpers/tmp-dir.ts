import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';

/** What the gateway helper appends to a data dir's path for its copy of the shipped policies. */
export const POLICIES_COPY_SUFFIX = '.policies';

/**
 * A fresh temporary directory, removed when the test finishes (with the policies copy the
 * gateway helper may have made beside it). Short path: unix sockets live in it.
 */
export function tmpDir(prefix = 'sluice-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  onTestFinished(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(`${dir}${POLICIES_COPY_SUFFIX}`, { recursive: true, force: true });
  });
  return dir;
}
