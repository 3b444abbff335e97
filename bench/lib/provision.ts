import { join } from 'node:path';
import { loadConfig } from '../../src/config/index.js';
import { DB_FILE, openDatabase, silentLogger, systemClock } from '../../src/core/index.js';
import { allMigrations, openContext } from '../../src/app/index.js';
import { HOT_LOG_DIR, HotStore, SealedReadings } from '../../src/store/index.js';
import type { LoadDevice } from '../load-client.js';
import { benchTmp, cloneDataDir, ROOT } from './procs.js';

export { DB_FILE };

/** A data directory with `count` thermostat devices registered, to copy for each run. */
export interface Provisioned {
  template: string;
  devices: LoadDevice[];
  /** A fresh copy of the template for one run. */
  clone(label: string): string;
}

/**
 * Registers devices in-process, the same way `sluice devices add … --json` does without a
 * running gateway (scrypt hashes, same table); 100 CLI processes would take a minute here.
 */
export async function provision(count: number, prefix = 'bench'): Promise<Provisioned> {
  const template = benchTmp('template');
  const config = loadConfig({ flags: { data_dir: template, devices_dir: join(ROOT, 'devices'), policies_dir: join(ROOT, 'policies') }, env: {}, cwd: template });
  const ctx = await openContext(config, { kind: 'cli', logger: silentLogger(), clock: systemClock });
  const devices: LoadDevice[] = [];
  try {
    const ids = Array.from({ length: count }, (_, i) => `${prefix}-${String(i).padStart(4, '0')}`);
    // scrypt runs on the libuv pool; a few at a time keeps memory (16 MiB each) bounded.
    for (let i = 0; i < ids.length; i += 4) {
      const added = await Promise.all(ids.slice(i, i + 4).map((id) => ctx.registry.add({ id, profile: 'thermostat' })));
      for (const a of added) {
        if (a.password === null) throw new Error(`device ${a.record.id} got no password`);
        devices.push({ id: a.record.id, password: a.password });
      }
    }
  } finally {
    ctx.close();
  }
  return { template, devices, clone: (label) => cloneDataDir(template, label, DB_FILE) };
}

/** Opens a data directory's database read-only (safe beside a running gateway: WAL). */
export async function openReadOnly(dataDir: string) {
  return openDatabase({ path: join(dataDir, DB_FILE), migrations: allMigrations, logger: silentLogger(), readonly: true });
}

/** Readings stored in a data directory. */
export async function countReadings(dataDir: string): Promise<number> {
  const db = await openReadOnly(dataDir);
  try {
    // Sealed readings in either layout, plus those still in the hot log.
    const hot = HotStore.open(join(dataDir, HOT_LOG_DIR), { repair: false });
    try {
      return new SealedReadings(db.raw).totals().readings + hot.head.size;
    } finally {
      hot.close();
    }
  } finally {
    db.close();
  }
}
