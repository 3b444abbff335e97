import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, writeSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import Database from 'better-sqlite3';
import { z } from 'zod';
import type { SluiceConfig } from '../config/index.js';
import { DB_FILE, DataDirLock, SluiceError, ensureDataDir, type Clock, type Logger } from '../core/index.js';
import { POISON_FILE } from '../ingest/index.js';
import { LEDGER_HEAD_FILE, writeFileAtomic } from '../ledger/index.js';
import { GATEWAY_SECRET_FILE } from '../share/index.js';
import { HOT_LOG_DIR, SealedReadings, quickCheck } from '../store/index.js';
import { packArchive, unpackArchive, type BackupManifest } from './backup-archive.js';
import { allMigrations, openContext } from './context.js';
import { defineOperation, flag, params } from './operation.js';
import { buildSharing } from './sharing.js';

/** Tables that hold what devices sent (readings and their by-products); `--config-only` empties them in the copy. */
const READING_TABLES = ['readings', 'chunks', 'rollups', 'quarantine', 'deliveries', 'broker_retained', 'broker_outgoing', 'broker_incoming', 'broker_wills'];

/** What `sluice backup create` answers. */
export interface BackupResult {
  file: string;
  bytes: number;
  encrypted: boolean;
  config_only: boolean;
  readings: number;
  ledger_head: { seq: number; hash: string } | null;
  files: string[];
}

/** Backups: an online copy taken by whoever owns the database (the gateway when it runs). */
export const backupOperations = {
  'backup.create': defineOperation({
    params: params({
      file: z.string({ error: 'backup needs a FILE' }).min(1, { error: 'backup needs a FILE' }).refine(isAbsolute, { error: 'the backup file must be an absolute path' }),
      passphrase: z.string().min(8, { error: 'the passphrase must have at least 8 characters' }).optional(),
      configOnly: flag('--config-only'),
    }),
    run: async ({ context: ctx, writer }, p): Promise<BackupResult> => {
      const { config } = ctx;
      // Readings still in the hot log are sealed into the database first, so the copy holds every acknowledged reading.
      if (!p.configOnly) {
        if (writer?.durability) writer.seal();
        else ctx.hot.seal(ctx.db);
      }
      const tmp = `${p.file}.db-tmp-${process.pid}`;
      let manifest: Omit<BackupManifest, 'files' | 'format'>;
      let dbBytes: Buffer;
      try {
        // SQLite's online backup: pages copied in steps while ingest goes on; writes through this
        // same connection are carried into the copy, so it is one consistent moment.
        await ctx.db.raw.backup(tmp);
        const copy = new Database(tmp);
        try {
          const schema = Object.fromEntries(
            (copy.prepare('SELECT module, MAX(version) AS version FROM schema_migrations GROUP BY module').all() as Array<{ module: string; version: number }>).map((r) => [r.module, r.version]),
          );
          const head = (copy.prepare('SELECT seq, hash FROM ledger ORDER BY seq DESC LIMIT 1').get() as { seq: number; hash: string } | undefined) ?? null;
          const readings = new SealedReadings(copy).totals().readings;
          if (p.configOnly) {
            const present = new Set((copy.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{ name: string }>).map((r) => r.name));
            // [PRIV-2] an off-site copy without what devices sent.
            for (const t of READING_TABLES) if (present.has(t)) copy.exec(`DELETE FROM ${t}`);
            copy.exec('VACUUM');
          }
          copy.pragma('journal_mode = DELETE');
          manifest = { created_at: new Date(ctx.clock.now()).toISOString(), config_only: p.configOnly, schema, ledger_head: head, readings: p.configOnly ? 0 : readings };
        } finally {
          copy.close();
        }
        dbBytes = readFileSync(tmp);
      } finally {
        rmSync(tmp, { force: true });
        rmSync(`${tmp}-wal`, { force: true });
        rmSync(`${tmp}-shm`, { force: true });
      }
      const files = [{ path: `data/${DB_FILE}`, data: dbBytes }];
      // The head file as of the copy, not the live one, which may already be ahead of it.
      if (manifest.ledger_head) files.push({ path: `data/${LEDGER_HEAD_FILE}`, data: Buffer.from(`${JSON.stringify(manifest.ledger_head)}\n`) });
      const secret = join(config.data_dir, GATEWAY_SECRET_FILE);
      if (existsSync(secret)) files.push({ path: `data/${GATEWAY_SECRET_FILE}`, data: readFileSync(secret) });
      // Policies with the signing keys they read from `secret_file` beside them (`*.secret`).
      files.push(...dirFiles(config.policies_dir, 'policies', ['.yaml', '.yml', '.secret']), ...dirFiles(config.devices_dir, 'profiles', ['.yaml', '.yml']));
      files.push({ path: 'config/effective.json', data: Buffer.from(`${JSON.stringify(config, null, 2)}\n`) });
      const archive = await packArchive(manifest, files, p.passphrase);
      writeDurably(p.file, archive);
      return {
        file: p.file,
        bytes: archive.length,
        encrypted: p.passphrase !== undefined,
        config_only: p.configOnly,
        readings: manifest.readings,
        ledger_head: manifest.ledger_head,
        files: files.map((f) => f.path),
      };
    },
  }),
};

/** What `sluice backup restore` answers. */
export interface RestoreResult {
  restored: boolean;
  created_at: string;
  config_only: boolean;
  files: string[];
  db_check: { ok: boolean; problems: string[] };
  ledger: { ok: boolean; rows: number; problem: string | null };
}

/**
 * Restores a backup into the configured directories. Only with no gateway on the data
 * directory (its lock names the pid otherwise), never from a newer schema, never over existing
 * files without `yes`. Afterwards the ledger records the restore, and the database and the
 * ledger are checked.
 */
export async function restoreBackup(
  config: Readonly<SluiceConfig>,
  archive: Buffer,
  options: { passphrase: string | undefined; yes: boolean; logger: Logger; clock: Clock },
): Promise<RestoreResult> {
  const { manifest, files } = await unpackArchive(archive, options.passphrase);
  const known = new Map<string, number>();
  for (const m of allMigrations) known.set(m.module, Math.max(known.get(m.module) ?? 0, m.version));
  for (const [module, version] of Object.entries(manifest.schema)) {
    const max = known.get(module);
    if (max === undefined || version > max) {
      throw new SluiceError('SLUICE_ERR_BACKUP_TOO_NEW', `the backup has schema ${module} v${version}, but this Sluice knows ${max === undefined ? 'no such module' : `up to v${max}`}; restore it with a newer Sluice`, {
        module,
        version,
        known: max ?? null,
      });
    }
  }
  ensureDataDir(config.data_dir);
  const lock = await DataDirLock.acquire(config.data_dir, 'cli', { waitMs: 2000 });
  const written: string[] = [];
  try {
    const targets = [...files.entries()].map(([path, data]) => ({ path, data, to: destination(config, path) }));
    const overwritten = targets.filter((t) => t.to !== null && existsSync(t.to) && !readFileSync(t.to).equals(t.data)).map((t) => t.to!);
    if (overwritten.length > 0 && !options.yes) {
      throw new SluiceError('SLUICE_ERR_BACKUP_OVERWRITE', `restoring would replace ${overwritten.length} file(s), among them ${overwritten.slice(0, 3).join(', ')}; nothing was changed — run again with --yes to replace them`, {
        files: overwritten,
      });
    }
    for (const t of targets) {
      if (!t.to) continue;
      // A file already as in the backup is left alone (policies and profiles are often shared or
      // read-only); never the database, whose write-ahead log may hold changes made since.
      if (t.path !== `data/${DB_FILE}` && existsSync(t.to) && readFileSync(t.to).equals(t.data)) continue;
      if (t.path === `data/${DB_FILE}`) {
        // A WAL left by the replaced database would be replayed into the restored one.
        rmSync(`${t.to}-wal`, { force: true });
        rmSync(`${t.to}-shm`, { force: true });
        writeDurably(t.to, t.data);
      } else {
        mkdirSync(join(t.to, '..'), { recursive: true });
        writeFileAtomic(t.to, t.data.toString('utf8'));
      }
      written.push(t.to);
    }
    // Its message, and the unsealed readings of the hot log, belonged to the replaced database.
    rmSync(join(config.data_dir, POISON_FILE), { force: true });
    rmSync(join(config.data_dir, HOT_LOG_DIR), { recursive: true, force: true });
  } finally {
    lock.release();
  }

  // Opening migrates an older schema forward (keeping sluice.db.bak), as a start would.
  const ctx = await openContext(config, { kind: 'cli', logger: options.logger, clock: options.clock });
  try {
    const { ledger } = buildSharing(ctx);
    ctx.db.raw.transaction(() =>
      ledger.append({ kind: 'backup.restored', vendor: null, policy: null, version: null, detail: { backup_created_at: manifest.created_at, config_only: manifest.config_only, ledger_head_at_backup: manifest.ledger_head } }),
    ).immediate();
    ledger.writeHead();
    const problems = quickCheck(ctx.db.raw);
    const report = ledger.verify();
    return {
      restored: true,
      created_at: manifest.created_at,
      config_only: manifest.config_only,
      files: written,
      db_check: { ok: problems.length === 0, problems },
      ledger: { ok: report.ok, rows: report.rows, problem: report.problem?.message ?? null },
    };
  } finally {
    ctx.close();
  }
}

/** Where an archive path goes in this installation; null for what is kept only for reference. */
function destination(config: Readonly<SluiceConfig>, path: string): string | null {
  const [area, ...rest] = path.split('/');
  const name = rest.join('/');
  // Names come from the archive: no way out of the directory they belong in.
  if (!name || name.includes('..') || name.includes('/')) return null;
  switch (area) {
    case 'data':
      return join(config.data_dir, name);
    case 'policies':
      return join(config.policies_dir, name);
    case 'profiles':
      return join(config.devices_dir, name);
    case 'config':
      // The effective settings at backup time, beside the data for the household to compare.
      return join(config.data_dir, `restored-${name}`);
    default:
      return null;
  }
}

function dirFiles(dir: string, area: string, endings: string[]): Array<{ path: string; data: Buffer }> {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => endings.some((e) => n.endsWith(e)))
    .sort()
    .map((n) => ({ path: `${area}/${n}`, data: readFileSync(join(dir, n)) }));
}

/** Writes beside the target, fsyncs and renames, so a crash leaves the old file or the whole new one (mode 0600). */
function writeDurably(path: string, data: Buffer): void {
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}
