import { chmodSync, copyFileSync, constants, existsSync, renameSync } from 'node:fs';
import Database from 'better-sqlite3';
import { openDatabase, type Logger, type Migration, type RawDatabase } from '../core/index.js';
import { quickCheck } from './maintenance.js';

export interface RecoverReport {
  /** where the damaged file now lies, untouched */
  damaged: string;
  method: 'salvage' | 'backup';
  /** rows copied per table (salvage) */
  tables: Record<string, { copied: number; errors: number }>;
  /** quick_check of the new database */
  check: string[];
}

/** Moves the database and its WAL/SHM aside under a new name; never overwrites anything. */
function moveAside(path: string, now: number): string {
  const stamp = new Date(now).toISOString().replace(/[:.]/g, '-');
  let aside = `${path}.damaged-${stamp}`;
  for (let n = 1; existsSync(aside); n++) aside = `${path}.damaged-${stamp}-${n}`;
  renameSync(path, aside);
  for (const suffix of ['-wal', '-shm']) if (existsSync(path + suffix)) renameSync(path + suffix, aside + suffix);
  return aside;
}

/**
 * Recovers a damaged database: moves it aside (it is never written to), then either copies
 * the pre-upgrade backup into place, or builds a fresh database with the current schema and
 * salvages every row SQLite can still read from the damaged one, table by table.
 */
export async function recoverDatabase(options: { path: string; fromBackup: boolean; migrations: readonly Migration[]; logger: Logger; now: number }): Promise<RecoverReport> {
  const { path, migrations, logger } = options;
  const backup = `${path}.bak`;
  if (options.fromBackup && !existsSync(backup)) throw new Error(`there is no backup ${backup} to restore`);
  const damaged = existsSync(path) ? moveAside(path, options.now) : path;
  if (options.fromBackup) {
    copyFileSync(backup, path, constants.COPYFILE_EXCL);
    chmodSync(path, 0o600);
    const db = await openDatabase({ path, migrations, logger });
    const check = quickCheck(db.raw);
    db.close();
    return { damaged, method: 'backup', tables: {}, check };
  }
  const fresh = await openDatabase({ path, migrations, logger });
  const tables: RecoverReport['tables'] = {};
  try {
    let source: RawDatabase | undefined;
    try {
      source = new Database(damaged, { readonly: true, fileMustExist: true });
      source.prepare('SELECT COUNT(*) FROM sqlite_master').get();
    } catch (err) {
      source?.close();
      source = undefined;
      logger.error({ err: (err as Error).message }, 'the damaged database cannot be read at all; only a backup can help');
    }
    if (source) {
      const names = fresh.raw
        .prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'schema_migrations' ORDER BY name")
        .all()
        .map((r) => r.name);
      for (const name of names) tables[name] = salvageTable(source, fresh.raw, name);
      source.close();
    }
    return { damaged, method: 'salvage', tables, check: quickCheck(fresh.raw) };
  } finally {
    fresh.close();
  }
}

/**
 * Copies what can be read of one table: scans forward until SQLite reports damage, then
 * backward from the end until it does again, so only the rows on the damaged pages are lost.
 */
function salvageTable(source: RawDatabase, target: RawDatabase, table: string): { copied: number; errors: number } {
  let sourceColumns: string[];
  try {
    sourceColumns = (source.pragma(`table_info("${table}")`) as Array<{ name: string }>).map((c) => c.name);
  } catch {
    return { copied: 0, errors: 1 };
  }
  const targetColumns = new Set((target.pragma(`table_info("${table}")`) as Array<{ name: string }>).map((c) => c.name));
  const columns = sourceColumns.filter((c) => targetColumns.has(c));
  if (columns.length === 0) return { copied: 0, errors: 0 };
  const list = columns.map((c) => `"${c}"`).join(', ');
  const insert = target.prepare(`INSERT OR IGNORE INTO "${table}" (${list}) VALUES (${columns.map(() => '?').join(', ')})`);
  let copied = 0;
  let errors = 0;
  // Forward until the first damaged page, then backward from the end up to it.
  if (!scanRowwise(source, target, table, list, insert, 'ASC', (n) => (copied += n))) {
    errors++;
    if (!scanRowwise(source, target, table, list, insert, 'DESC', (n) => (copied += n))) errors++;
  }
  return { copied, errors };
}

/** Iterates rows in key order, inserting each as it is read; returns false when SQLite reports damage. */
function scanRowwise(
  source: RawDatabase,
  target: RawDatabase,
  table: string,
  list: string,
  insert: Database.Statement,
  order: 'ASC' | 'DESC',
  onCopied: (n: number) => void,
): boolean {
  const sql = source.prepare<[string], { sql: string }>('SELECT sql FROM sqlite_master WHERE name = ?').get(table)?.sql ?? '';
  const withoutRowid = /WITHOUT\s+ROWID/i.test(sql);
  const pk = (source.pragma(`table_info("${table}")`) as Array<{ name: string; pk: number }>)
    .filter((c) => c.pk > 0)
    .sort((a, b) => a.pk - b.pk)
    .map((c) => `"${c.name}" ${order}`);
  const orderBy = withoutRowid && pk.length > 0 ? pk.join(', ') : `rowid ${order}`;
  let batch: unknown[][] = [];
  const flush = () => {
    const rows = batch;
    batch = [];
    target.transaction(() => {
      for (const r of rows) onCopied(insert.run(...r).changes);
    })();
  };
  try {
    for (const row of source.prepare(`SELECT ${list} FROM "${table}" ORDER BY ${orderBy}`).raw().iterate()) {
      batch.push(row as unknown[]);
      if (batch.length >= 1000) flush();
    }
    flush();
    return true;
  } catch {
    flush();
    return false;
  }
}
