import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { SluiceError } from './errors.js';

export const LOCK_FILE = 'sluice.lock';
export const SOCKET_FILE = 'sluice.sock';
export const DB_FILE = 'sluice.db';

export type LockHolderKind = 'gateway' | 'cli';

export interface LockHolder {
  pid: number;
  kind: LockHolderKind;
  started_at: string;
}

/** Creates the data directory if needed and makes it private to the household's user (0700). */
export function ensureDataDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if ((statSync(dir).mode & 0o077) !== 0) chmodSync(dir, 0o700);
  } catch (err) {
    throw new SluiceError('SLUICE_ERR_DATA_DIR', `cannot prepare data directory ${dir}: ${(err as Error).message}`, { dir }, { cause: err });
  }
}

/** Reads who holds the data directory's lock, or null when nobody alive does. */
export function lockHolder(dir: string): LockHolder | null {
  const holder = readLock(join(dir, LOCK_FILE));
  return holder && isAlive(holder.pid) ? holder : null;
}

/**
 * The single-owner lock of a data directory. A lock left by a killed process (its pid no
 * longer runs) is taken over; a live holder is named in the error.
 */
export class DataDirLock {
  private released = false;

  private constructor(private readonly path: string) {}

  static async acquire(dir: string, kind: LockHolderKind, options: { waitMs?: number } = {}): Promise<DataDirLock> {
    const path = join(dir, LOCK_FILE);
    const deadline = Date.now() + (options.waitMs ?? 0);
    for (;;) {
      const got = tryCreate(path, kind);
      if (got) return new DataDirLock(path);
      const holder = readLock(path);
      if (holder && isAlive(holder.pid) && holder.pid !== process.pid) {
        // A CLI holds the lock only for one short command; a starting gateway waits for it.
        if (Date.now() < deadline && holder.kind === 'cli') {
          await new Promise((r) => setTimeout(r, 50));
          continue;
        }
        throw new SluiceError(
          'SLUICE_ERR_DATA_DIR_LOCKED',
          `data directory ${dir} is in use by ${holder.kind === 'gateway' ? 'a running gateway' : 'a sluice command'} (pid ${holder.pid}, since ${holder.started_at})`,
          { dir, pid: holder.pid, kind: holder.kind },
        );
      }
      takeOverStale(path, holder);
    }
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    const holder = readLock(this.path);
    if (holder?.pid === process.pid) unlinkSync(this.path);
  }
}

function tryCreate(path: string, kind: LockHolderKind): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new SluiceError('SLUICE_ERR_DATA_DIR', `cannot create lock file ${path}: ${(err as Error).message}`, { path }, { cause: err });
  }
  const holder: LockHolder = { pid: process.pid, kind, started_at: new Date().toISOString() };
  writeSync(fd, JSON.stringify(holder));
  closeSync(fd);
  return true;
}

/** Moves a dead holder's lock aside; if it turns out another process re-locked meanwhile, puts that back. */
function takeOverStale(path: string, stale: LockHolder | null): void {
  const aside = `${path}.stale-${process.pid}`;
  try {
    renameSync(path, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  const moved = readLock(aside);
  if (moved && stale && moved.pid !== stale.pid && isAlive(moved.pid)) {
    renameSync(aside, path);
    return;
  }
  unlinkSync(aside);
}

function readLock(path: string): LockHolder | null {
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as Partial<LockHolder>;
    if (typeof parsed.pid !== 'number') return null;
    return { pid: parsed.pid, kind: parsed.kind === 'cli' ? 'cli' : 'gateway', started_at: String(parsed.started_at ?? '') };
  } catch {
    return null;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  // After a reboot the pid may belong to an unrelated program: a Sluice holder runs node.
  const cmdline = `/proc/${pid}/cmdline`;
  if (existsSync('/proc/self/cmdline')) {
    try {
      return readFileSync(cmdline, 'utf8').includes('node');
    } catch {
      return false;
    }
  }
  return true;
}
