import { join } from 'node:path';
import type { SluiceConfig } from '../config/index.js';
import {
  DB_FILE,
  DataDirLock,
  EventBus,
  ensureDataDir,
  openDatabase,
  type Clock,
  type Logger,
  type Migration,
  type SluiceDatabase,
} from '../core/index.js';
import { DeviceRegistry, deviceMigrations, loadProfiles, type DeviceProfile } from '../devices/index.js';
import { scheduleMigrations } from '../schedule/index.js';
import { HOT_LOG_DIR, HotStore, StoreQueries, storeMigrations } from '../store/index.js';
import { brokerMigrations } from '../broker/index.js';
import { ledgerMigrations } from '../ledger/index.js';
import { policyMigrations } from '../policy/index.js';
import { shareMigrations } from '../share/index.js';
import { privacyMigrations } from '../privacy/index.js';
import { consentMigrations } from '../consent/index.js';
import { intentMigrations, openDataMigrations } from '../intents/index.js';
import { termsMigrations } from '../terms/index.js';

/** Every module's migrations, in dependency order. */
export const allMigrations: readonly Migration[] = [...deviceMigrations, ...storeMigrations, ...brokerMigrations, ...scheduleMigrations,
  ...ledgerMigrations, ...policyMigrations, ...shareMigrations, ...privacyMigrations, ...consentMigrations, ...intentMigrations, ...openDataMigrations, ...termsMigrations];

/**
 * What both a running gateway and a CLI command without a gateway need: the locked data
 * directory, the database, the profiles and the registry.
 */
export interface GatewayContext {
  config: Readonly<SluiceConfig>;
  logger: Logger;
  clock: Clock;
  events: EventBus;
  lock: DataDirLock;
  db: SluiceDatabase;
  profiles: () => ReadonlyMap<string, DeviceProfile>;
  registry: DeviceRegistry;
  queries: StoreQueries;
  /** The hot log and its head: the readings not yet sealed into the database. */
  hot: HotStore;
  close(): void;
}

export async function openContext(
  config: Readonly<SluiceConfig>,
  options: { kind: 'gateway' | 'cli'; logger: Logger; clock: Clock },
): Promise<GatewayContext> {
  const { logger, clock } = options;
  ensureDataDir(config.data_dir);
  const lock = await DataDirLock.acquire(config.data_dir, options.kind, { waitMs: options.kind === 'gateway' ? 5000 : 2000 });
  let db: SluiceDatabase | undefined;
  try {
    // The gateway checks the file before it runs on it; a CLI command stays quick (`sluice db check` checks on demand).
    db = await openDatabase({ path: join(config.data_dir, DB_FILE), migrations: allMigrations, logger, check: options.kind === 'gateway' });
    const loaded = loadProfiles(config.devices_dir, { neverStore: config.devices.never_store });
    for (const err of loaded.errors) logger.error({ code: err.code }, err.message);
    const registry = new DeviceRegistry({ db, clock, profiles: () => loaded.profiles });
    // Discovered devices carry their own profiles; everyone else reads them through this one map.
    const profiles = () => registry.profiles();
    // The gateway repairs a torn tail at start; a CLI command only reads the log.
    const hot = HotStore.open(join(config.data_dir, HOT_LOG_DIR), { repair: options.kind === 'gateway' });
    const queries = new StoreQueries(db, hot.head);
    const opened = db;
    return {
      config,
      logger,
      clock,
      events: new EventBus(),
      lock,
      db: opened,
      profiles,
      registry,
      queries,
      hot,
      close() {
        hot.close();
        opened.close();
        lock.release();
      },
    };
  } catch (err) {
    db?.close();
    lock.release();
    throw err;
  }
}
