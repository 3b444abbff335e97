import { spawnSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DataDirLock, LOCK_FILE, ensureDataDir, isSluiceError, lockHolder } from '../../../src/core/index.js';
import { tmpDir } from '../../helpers/tmp-dir.js';

function deadPid(): number {
  // A pid that surely ran and exited.
  return Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
}

describe('data directory', () => {
  it('is created private (0700)', () => {
    const dir = join(tmpDir(), 'data');
    ensureDataDir(dir);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
  });

  it('is locked by one owner and names the holder to the next', async () => {
    const dir = tmpDir();
    const lock = await DataDirLock.acquire(dir, 'gateway');
    expect(lockHolder(dir)).toMatchObject({ pid: process.pid, kind: 'gateway' });
    expect(statSync(join(dir, LOCK_FILE)).mode & 0o777).toBe(0o600);
    lock.release();
    expect(lockHolder(dir)).toBeNull();
  });

  it('refuses while a live process holds the lock', async () => {
    const dir = tmpDir();
    // The test runner's parent is a live node process other than us.
    const livePid = process.ppid;
    writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid: livePid, kind: 'gateway', started_at: 'earlier' }));
    const err = await DataDirLock.acquire(dir, 'gateway').catch((e: unknown) => e);
    expect(isSluiceError(err, 'SLUICE_ERR_DATA_DIR_LOCKED')).toBe(true);
    expect((err as Error).message).toContain(`pid ${livePid}`);
  });

  it('takes over a stale lock left by a killed process', async () => {
    const dir = tmpDir();
    const pid = deadPid();
    writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid, kind: 'gateway', started_at: 'earlier' }));
    const lock = await DataDirLock.acquire(dir, 'gateway');
    expect(JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8'))).toMatchObject({ pid: process.pid });
    lock.release();
  });
});
