import { chmodSync, existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { SluiceError } from './errors.js';
import type { Logger } from './logger.js';

export type RawDatabase = Database.Database;

/** One numbered schema step of one module; a module's versions start at 1 and only grow. */
export interface Migration {
  module: string;
  version: number;
  description: string;
  up(db: RawDatabase): void;
}

export interface OpenDatabaseOptions {
  path: string;
  migrations: readonly Migration[];
  logger: Logger;
  readonly?: boolean;
  /** Run `PRAGMA quick_check` before anything else and refuse a damaged file. */
  check?: boolean;
}

/** The gateway's one SQLite connection: WAL, synchronous=FULL, migrations applied. */
export class SluiceDatabase {
  constructor(
    readonly raw: RawDatabase,
    readonly path: string,
  ) {}

  /** Runs fn in one IMMEDIATE transaction; fn must be synchronous (no await inside). */
  tx<T>(fn: () => T): T {
    return this.raw.transaction(fn).immediate();
  }

  close(): void {
    if (this.raw.open) this.raw.close();
  }
}

const SQLITE_IO_CODES = new Set(['SQLITE_FULL', 'SQLITE_IOERR', 'SQLITE_READONLY', 'SQLITE_CORRUPT', 'SQLITE_NOTADB', 'SQLITE_CANTOPEN']);

/** True for SQLite faults of the storage itself (disk full, I/O, damage), as opposed to bugs. */
export function isStorageFault(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && [...SQLITE_IO_CODES].some((c) => code.startsWith(c));
}

export async function openDatabase(options: OpenDatabaseOptions): Promise<SluiceDatabase> {
  const { path, logger } = options;
  const isNew = !existsSync(path);
  let raw: RawDatabase;
  try {
    raw = new Database(path, { readonly: options.readonly ?? false });
  } catch (err) {
    throw new SluiceError('SLUICE_ERR_DB_IO', `cannot open database ${path}: ${(err as Error).message}`, { path }, { cause: err });
  }
  try {
    if (!isNew && options.check) refuseDamaged(raw, path);
    if (options.readonly) {
      raw.pragma('busy_timeout = 5000');
      return new SluiceDatabase(raw, path);
    }
    if (isNew) {
      // Must precede the first table; lets erase and retention give pages back to the card.
      raw.pragma('auto_vacuum = INCREMENTAL');
      chmodSync(path, 0o600);
    }
    raw.pragma('journal_mode = WAL');
    // Acknowledged readings, the ledger and the outbox must survive a power cut.
    raw.pragma('synchronous = FULL');
    raw.pragma('foreign_keys = ON');
    raw.pragma('busy_timeout = 5000');
    await migrate(raw, path, options.migrations, logger);
    return new SluiceDatabase(raw, path);
  } catch (err) {
    raw.close();
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && (code.startsWith('SQLITE_CORRUPT') || code.startsWith('SQLITE_NOTADB'))) throw damaged(path, [(err as Error).message], err);
    throw err;
  }
}

function damaged(path: string, problems: string[], cause?: unknown): SluiceError {
  return new SluiceError(
    'SLUICE_ERR_DB_DAMAGED',
    `database ${path} is damaged (${problems.slice(0, 3).join('; ')}); Sluice will not run on it and has not changed it. ` +
      'Recover with `sluice db recover` (moves it aside and salvages what can be read) or `sluice db recover --from-backup` (restores the backup made before the last upgrade).',
    { path, problems },
    { cause },
  );
}

/** Damage is found before migrations or the WAL pragma touch the file, so the file stays as it was. */
function refuseDamaged(raw: RawDatabase, path: string): void {
  const rows = raw.pragma('quick_check(20)') as Array<{ quick_check: string }>;
  const problems = rows.map((r) => r.quick_check).filter((m) => m !== 'ok');
  if (problems.length > 0) throw damaged(path, problems);
}

async function migrate(raw: RawDatabase, path: string, migrations: readonly Migration[], logger: Logger): Promise<void> {
  raw.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    module TEXT NOT NULL,
    version INTEGER NOT NULL,
    description TEXT NOT NULL,
    applied_at INTEGER NOT NULL,
    PRIMARY KEY (module, version)
  ) WITHOUT ROWID`);
  const applied = raw.prepare('SELECT module, MAX(version) AS version FROM schema_migrations GROUP BY module').all() as Array<{
    module: string;
    version: number;
  }>;
  const known = new Map<string, number>();
  for (const m of migrations) known.set(m.module, Math.max(known.get(m.module) ?? 0, m.version));
  for (const a of applied) {
    const max = known.get(a.module);
    if (max === undefined || a.version > max) {
      throw new SluiceError(
        'SLUICE_ERR_DB_TOO_NEW',
        `database ${path} has schema ${a.module} v${a.version}, but this Sluice knows ${max === undefined ? 'no such module' : `up to v${max}`}; it was made by a newer version`,
        { path, module: a.module, version: a.version, known: max ?? null },
      );
    }
  }
  const appliedVersion = new Map(applied.map((a) => [a.module, a.version]));
  const pending = migrations.filter((m) => m.version > (appliedVersion.get(m.module) ?? 0));
  if (pending.length === 0) return;

  if (applied.length > 0) {
    // An upgrade: keep a consistent copy next to the database before touching the schema.
    const backupPath = `${path}.bak`;
    await raw.backup(backupPath);
    chmodSync(backupPath, 0o600);
    logger.info({ backup: backupPath }, 'database backed up before migrating');
  }
  const insert = raw.prepare('INSERT INTO schema_migrations (module, version, description, applied_at) VALUES (?, ?, ?, ?)');
  let current: Migration | undefined;
  try {
    raw.transaction(() => {
      for (const m of pending) {
        current = m;
        m.up(raw);
        insert.run(m.module, m.version, m.description, Date.now());
      }
    }).immediate();
  } catch (err) {
    throw new SluiceError(
      'SLUICE_ERR_DB_MIGRATION',
      `migration ${current?.module} v${current?.version} (${current?.description}) failed: ${(err as Error).message}`,
      { path },
      { cause: err },
    );
  }
  logger.info({ migrations: pending.map((m) => `${m.module}@${m.version}`) }, 'database schema migrated');
}
