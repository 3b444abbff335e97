import { existsSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** When QoS 1 is acknowledged: after a group fsync, or after the write with an fsync every interval. */
export type DurabilityMode = 'fsync' | 'interval';

export interface DurabilityChoice {
  mode: DurabilityMode;
  /** One sentence for the start-up log, e.g. "data dir /var/lib/sluice is on mmcblk0, an SD/MMC card". */
  reason: string;
  /** The whole-disk device name found, when one was. */
  device?: string;
}

export interface FlashDetectOptions {
  /** Root of sysfs; tests pass a fake tree. */
  sysRoot?: string;
}

/** Linux's dev_t split (glibc `gnu_dev_major` / `gnu_dev_minor`). */
export function deviceNumbers(path: string): { major: number; minor: number } {
  const dev = statSync(path, { bigint: true }).dev;
  const major = Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn));
  const minor = Number((dev & 0xffn) | ((dev >> 12n) & ~0xffn));
  return { major, minor };
}

/**
 * Picks the default durability mode for a data directory: `interval` when it lives on an SD/MMC
 * card (an fsync per message wears the card out and stalls on its slow flushes), `fsync` on
 * anything else, including whenever the device cannot be found. Never throws.
 */
export function detectDurability(dataDir: string, options: FlashDetectOptions = {}): DurabilityChoice {
  const sysRoot = options.sysRoot ?? '/sys';
  let numbers: { major: number; minor: number };
  try {
    numbers = deviceNumbers(dataDir);
  } catch (err) {
    return { mode: 'fsync', reason: `cannot stat data dir ${dataDir} (${(err as Error).message}); fsync is the safe default` };
  }
  const id = `${numbers.major}:${numbers.minor}`;
  const link = join(sysRoot, 'dev', 'block', id);
  let disks: string[];
  try {
    disks = wholeDisks(realpathSync(link), sysRoot, 0);
  } catch {
    return { mode: 'fsync', reason: `data dir ${dataDir} is on device ${id} with no block device in sysfs (overlay, tmpfs or network file system); fsync is the safe default` };
  }
  const card = disks.find((d) => /^mmcblk\d+$/.test(d));
  if (card) return { mode: 'interval', reason: `data dir ${dataDir} is on ${card}, an SD/MMC card: acknowledging after the write and syncing every interval spares it`, device: card };
  const names = disks.join(', ') || id;
  return { mode: 'fsync', reason: `data dir ${dataDir} is on ${names}, not an SD/MMC card`, device: disks[0] };
}

/**
 * The whole disks under a sysfs block device: a partition's parent, and for device-mapper or md
 * (LVM, LUKS, RAID) the disks under its `slaves`, so LVM on an SD card still counts as the card.
 */
function wholeDisks(deviceDir: string, sysRoot: string, depth: number): string[] {
  const disk = existsSync(join(deviceDir, 'partition')) ? dirname(deviceDir) : deviceDir;
  const slavesDir = join(disk, 'slaves');
  const slaves = depth < 8 && existsSync(slavesDir) ? readdirSync(slavesDir) : [];
  if (slaves.length === 0) return [basename(disk)];
  return slaves.flatMap((name) => {
    try {
      return wholeDisks(realpathSync(join(slavesDir, name)), sysRoot, depth + 1);
    } catch {
      return [name];
    }
  });
}
