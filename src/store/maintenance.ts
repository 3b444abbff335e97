import { existsSync, statSync, statfsSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import type { SluiceConfig } from '../config/index.js';
import type { EventBus, RawDatabase, SluiceDatabase } from '../core/index.js';
import { databaseBytes } from './erase.js';
import { RetentionPurger, type RetentionSettings } from './retention.js';
import { RollupRows } from './rollup-rows.js';
import { SealedReadings } from './sealed.js';
import { Rollups, type SpecOf } from './rollups.js';

export interface StoreMaintenanceSettings extends RetentionSettings {
  timeZone: string;
  /** ms a value is held for time-weighted statistics */
  hold: number;
  walAutocheckpoint: number;
}

/** The scheduler job names of the store's upkeep (their run records are keyed by them). */
export const RETENTION_JOB = 'store.retention';
export const CHECKPOINT_JOB = 'store.checkpoint';

/** The maintenance settings from the gateway's configuration. */
export function maintenanceSettings(config: Readonly<SluiceConfig>): StoreMaintenanceSettings {
  const r = config.retention;
  return {
    rawDays: r.raw_days,
    rollupDays: r.rollup_days,
    overrides: r.overrides,
    batchSize: r.batch_size,
    recheck: r.recheck,
    hold: r.hold,
    timeZone: config.timezone,
    walAutocheckpoint: config.storage.wal_autocheckpoint,
  };
}

/** Free bytes for an unprivileged writer on the file system holding `path`; null if unknown. */
export function freeDiskBytes(path: string): number | null {
  try {
    const s = statfsSync(path);
    return s.bavail * s.bsize;
  } catch {
    return null;
  }
}

/** The result of `PRAGMA quick_check`: 'ok' or the problems it found (at most `max`). */
export function quickCheck(raw: RawDatabase, max = 20): string[] {
  const rows = raw.pragma(`quick_check(${max})`) as Array<{ quick_check: string }>;
  const problems = rows.map((r) => r.quick_check).filter((m) => m !== 'ok');
  return problems;
}

/** A macrotask turn, so MQTT traffic and commits run between two bounded steps. */
/** Thrown by the pause between two retention steps once the run was asked to stop. */
class RetentionInterrupted extends Error {}

export const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * The raw store's upkeep: hourly rollups, retention purge, WAL checkpoints. Built by the
 * composition root; its jobs run on the gateway's scheduler.
 */
export class StoreMaintenance {
  readonly rollups: Rollups;
  readonly purger: RetentionPurger;

  constructor(private readonly deps: { db: SluiceDatabase; specOf: SpecOf; settings: StoreMaintenanceSettings; events?: EventBus; pause?: () => Promise<void> }) {
    const { db, specOf, settings } = deps;
    this.rollups = new Rollups({ db, timeZone: settings.timeZone, hold: settings.hold, specOf });
    this.purger = new RetentionPurger({ db, rollups: this.rollups, timeZone: settings.timeZone, specOf, settings });
  }

  /** Connection settings for an SD card: fewer, larger checkpoints; deleted bytes overwritten. */
  configureConnection(): void {
    const raw = this.deps.db.raw;
    raw.pragma(`wal_autocheckpoint = ${this.deps.settings.walAutocheckpoint}`);
    // [PRIV-6] purged and erased readings are overwritten, not just unlinked.
    raw.pragma('secure_delete = ON');
  }

  /** Rolls up recent hours, purges what retention no longer keeps, gives pages back, truncates the WAL. */
  async retention(now: number, signal?: AbortSignal): Promise<Record<string, unknown>> {
    const base = this.deps.pause ?? yieldToEventLoop;
    // A first purge over millions of readings runs for minutes; a stop ends it between two
    // bounded steps (each its own transaction), and the next run goes on from the oldest reading
    // left, instead of the service manager killing the process mid-way.
    const pause = async (): Promise<void> => {
      await base();
      if (signal?.aborted) throw new RetentionInterrupted();
    };
    let rolled: { series: number; hours: number };
    let purged: Awaited<ReturnType<RetentionPurger['purge']>>;
    try {
      rolled = await this.rollups.rollRecent(now, { recheck: this.deps.settings.recheck, batchSize: this.deps.settings.batchSize, pause });
      purged = await this.purger.purge(now, pause);
    } catch (err) {
      if (err instanceof RetentionInterrupted) return { interrupted: true };
      throw err;
    }
    this.deps.events?.emit('store.purged', { by: 'retention' });
    const raw = this.deps.db.raw;
    // Bounded like the deletes: at most 1000 pages (4 MB) per run.
    raw.pragma('incremental_vacuum(1000)');
    const checkpoint = this.checkpoint('TRUNCATE');
    const backupRemoved = this.expireBackup(now);
    return { backup_removed: backupRemoved, rolled_series: rolled.series, rolled_hours: rolled.hours, purged_readings: purged.readings, purged_rollups: purged.rollups, purged_quarantine: purged.quarantine, steps: purged.steps, ...checkpoint };
  }

  /**
   * [PRIV-5] The copy made before an upgrade holds raw readings too: it is removed once it is
   * older than raw retention, so it never keeps readings longer than the database would.
   */
  private expireBackup(now: number): boolean {
    const backup = `${this.deps.db.path}.bak`;
    if (!existsSync(backup)) return false;
    if (statSync(backup).mtimeMs > now - this.deps.settings.rawDays * 86_400_000) return false;
    unlinkSync(backup);
    return true;
  }

  /** Copies WAL pages into the database; TRUNCATE also empties the WAL file. */
  checkpoint(mode: 'PASSIVE' | 'TRUNCATE'): { wal_pages: number; checkpointed: number; busy: boolean } {
    const [r] = this.deps.db.raw.pragma(`wal_checkpoint(${mode})`) as Array<{ busy: number; log: number; checkpointed: number }>;
    return { wal_pages: r?.log ?? 0, checkpointed: r?.checkpointed ?? 0, busy: (r?.busy ?? 0) !== 0 };
  }

  /** What `sluice db info` shows. */
  info(): DatabaseInfo {
    return databaseInfo(this.deps.db, this.deps.settings);
  }
}

export interface DatabaseInfo {
  path: string;
  bytes: number;
  page_size: number;
  pages: number;
  free_pages: number;
  readings: number;
  series: number;
  rollups: number;
  quarantine: number;
  oldest_reading: string | null;
  newest_reading: string | null;
  oldest_rollup: string | null;
  retention: { raw_days: number; rollup_days: number; overrides: number };
  free_disk_bytes: number | null;
}

export function databaseInfo(db: SluiceDatabase, settings: Pick<RetentionSettings, 'rawDays' | 'rollupDays' | 'overrides'>): DatabaseInfo {
  const raw = db.raw;
  const one = (sql: string) => (raw.prepare<[], { v: number | null }>(sql).get()?.v ?? null) as number | null;
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  const sealed = new SealedReadings(raw).totals();
  return {
    path: db.path,
    bytes: databaseBytes(db.path),
    page_size: one('SELECT page_size AS v FROM pragma_page_size') ?? 0,
    pages: one('SELECT page_count AS v FROM pragma_page_count') ?? 0,
    free_pages: one('SELECT freelist_count AS v FROM pragma_freelist_count') ?? 0,
    readings: sealed.readings,
    series: one('SELECT COUNT(*) AS v FROM series') ?? 0,
    rollups: one('SELECT COUNT(*) AS v FROM rollups') ?? 0,
    quarantine: one('SELECT COUNT(*) AS v FROM quarantine') ?? 0,
    oldest_reading: iso(sealed.oldest),
    newest_reading: iso(sealed.newest),
    oldest_rollup: iso(new RollupRows(raw).oldestHour()),
    retention: { raw_days: settings.rawDays, rollup_days: settings.rollupDays, overrides: settings.overrides.length },
    free_disk_bytes: freeDiskBytes(dirname(db.path)),
  };
}
