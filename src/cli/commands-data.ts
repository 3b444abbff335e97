import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { DB_FILE, DataDirLock, SluiceError, ensureDataDir, lockHolder, silentLogger } from '../core/index.js';
import { allMigrations, type CheckResult } from '../app/index.js';
import { quickCheck, recoverDatabase } from '../store/index.js';
import { text, type Command } from './command.js';
import { withGateway } from './connect.js';
import { table } from './format.js';

const json = { json: { type: 'boolean' } } as const;

function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return 'unknown';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(1)} ${units[u]}`;
}

function keyValues(rows: Array<[string, unknown]>): string {
  return table(['', ''], rows.map(([k, v]) => [k, v === null || v === undefined ? '-' : String(v)]))
    .split('\n')
    .slice(1)
    .join('\n');
}

/** `sluice db check` without a gateway: reads the file only, so a damaged one can be checked too. */
async function checkOffline(dataDir: string): Promise<CheckResult> {
  const path = join(dataDir, DB_FILE);
  if (!existsSync(path)) throw new SluiceError('SLUICE_ERR_USAGE', `there is no database at ${path}`);
  const lock = await DataDirLock.acquire(dataDir, 'cli', { waitMs: 2000 });
  try {
    let problems: string[];
    try {
      const raw = new Database(path, { readonly: true, fileMustExist: true });
      try {
        problems = quickCheck(raw);
      } finally {
        raw.close();
      }
    } catch (err) {
      problems = [(err as Error).message];
    }
    return { ok: problems.length === 0, problems, path };
  } finally {
    lock.release();
  }
}

export const dataCommands: Command[] = [
  {
    name: 'db info',
    usage: 'db info [--json]',
    summary: 'Size of the database, readings, series, oldest/newest reading, retention, free disk, durability mode, bytes written today, log fsync times.',
    options: json,
    args: 0,
    async run({ flags, config, print }) {
      const i = await withGateway(config(), (call) => call('db.info'));
      if (flags.json) return print(JSON.stringify(i)), 0;
      print(
        keyValues([
          ['database', i.path],
          ['size', `${bytes(i.bytes)} (${i.pages} pages of ${i.page_size} B, ${i.free_pages} free)`],
          ['readings', i.unsealed_readings > 0 ? `${i.readings} (+ ${i.unsealed_readings} in the hot log, not sealed yet)` : i.readings],
          ['series', i.series],
          ['oldest reading', i.oldest_reading],
          ['newest reading', i.newest_reading],
          ['hourly rollups', `${i.rollups}${i.oldest_rollup ? ` since ${i.oldest_rollup}` : ''}`],
          ['quarantine', i.quarantine],
          ['retention', `raw ${i.retention.raw_days} days, rollups ${i.retention.rollup_days} days${i.retention.overrides ? `, ${i.retention.overrides} override(s)` : ''}`],
          ['free disk', bytes(i.free_disk_bytes)],
          ['durability', i.durability ? `${i.durability.mode}: ${i.durability.reason}` : 'no gateway running'],
          ['written today', i.written_today_bytes === null ? 'unknown (no gateway running)' : bytes(i.written_today_bytes)],
          ['log fsync', i.log_sync ? `p50 ${i.log_sync.p50_ms} ms, p99 ${i.log_sync.p99_ms} ms, max ${i.log_sync.max_ms} ms over the last ${i.log_sync.syncs} syncs (${i.log_sync.over_10ms} over 10 ms)` : 'none yet'],
          ...i.jobs.map((j): [string, unknown] => [`job ${j.job}`, `last ${j.last_run ?? 'never'}${j.last_outcome ? ` (${j.last_outcome})` : ''}, next ${j.next}`]),
        ]),
      );
      return 0;
    },
  },
  {
    name: 'db check',
    usage: 'db check [--full] [--json]',
    summary: 'Check the database for damage (PRAGMA quick_check, or integrity_check with --full); exit 1 if damaged.',
    options: { full: { type: 'boolean' }, ...json },
    args: 0,
    async run({ flags, config, print }) {
      const cfg = config();
      const r =
        lockHolder(cfg.data_dir)?.kind === 'gateway'
          ? await withGateway(cfg, (call) => call('db.check', { full: flags.full === true }))
          : await checkOffline(cfg.data_dir);
      if (flags.json) print(JSON.stringify(r));
      else if (r.ok) print(`${r.path}: ok`);
      else print(`${r.path} is damaged:\n${r.problems.map((p) => `  ${p}`).join('\n')}\nRecover with: sluice db recover   (or: sluice db recover --from-backup)`);
      return r.ok ? 0 : 1;
    },
  },
  {
    name: 'db recover',
    usage: 'db recover [--from-backup] [--json]',
    summary: 'Move a damaged database aside (untouched) and salvage what can be read into a new one, or restore the pre-upgrade backup.',
    options: { 'from-backup': { type: 'boolean' }, ...json },
    args: 0,
    async run({ flags, config, print }) {
      const cfg = config();
      if (lockHolder(cfg.data_dir)?.kind === 'gateway') {
        throw new SluiceError('SLUICE_ERR_RECOVER', 'a gateway is running on this data directory; stop it before recovering its database');
      }
      const path = join(cfg.data_dir, DB_FILE);
      if (!existsSync(path)) throw new SluiceError('SLUICE_ERR_RECOVER', `there is no database at ${path}`);
      ensureDataDir(cfg.data_dir);
      const lock = await DataDirLock.acquire(cfg.data_dir, 'cli', { waitMs: 2000 });
      let report;
      try {
        report = await recoverDatabase({ path, fromBackup: flags['from-backup'] === true, migrations: allMigrations, logger: silentLogger(), now: Date.now() });
      } catch (err) {
        throw new SluiceError('SLUICE_ERR_RECOVER', (err as Error).message, { path }, { cause: err });
      } finally {
        lock.release();
      }
      if (flags.json) return print(JSON.stringify(report)), report.check.length === 0 ? 0 : 1;
      print(`The damaged database was moved aside, unchanged: ${report.damaged}`);
      if (report.method === 'backup') print(`Restored the backup ${path}.bak into ${path}.`);
      else if (Object.keys(report.tables).length === 0) {
        print(`Nothing could be read from the damaged file; ${path} is a new, empty database. Try: sluice db recover --from-backup (if sluice.db.bak exists).`);
      } else {
        print(`Salvaged into a new ${path}:`);
        print(table(['TABLE', 'ROWS', 'NOTE'], Object.entries(report.tables).map(([t, r]) => [t, r.copied, r.errors > 0 ? 'damaged pages skipped; rows on them are lost' : ''])));
      }
      print(report.check.length === 0 ? 'The new database passes quick_check.' : `The new database still has problems: ${report.check.join('; ')}`);
      return report.check.length === 0 ? 0 : 1;
    },
  },
  {
    name: 'erase',
    usage: 'erase (--device ID | --metric M | --before DATE | --all) [--yes] [--json]',
    summary: 'Delete readings, rollups and quarantine entries for real (secure_delete, WAL truncated, space given back).',
    options: { device: { type: 'string' }, metric: { type: 'string' }, before: { type: 'string' }, all: { type: 'boolean' }, yes: { type: 'boolean' }, ...json },
    args: 0,
    async run({ flags, config, print }) {
      const params = { device: text(flags.device), metric: text(flags.metric), before: text(flags.before), all: flags.all === true, yes: flags.yes === true };
      const r = await withGateway(config(), (call) => call('erase', params));
      if (!r.erased) {
        const w = r.would_remove!;
        if (flags.json) print(JSON.stringify(r));
        else print(`This would erase ${w.readings} readings, ${w.rollups} hourly rollups, ${w.quarantine} quarantined messages and ${w.series} series. Nothing was removed.`);
        throw new SluiceError('SLUICE_ERR_ERASE_UNCONFIRMED', 'run the same command with --yes to erase');
      }
      if (flags.json) return print(JSON.stringify(r)), 0;
      const d = r.removed!;
      print(
        `Erased ${d.readings} readings, ${d.rollups} hourly rollups, ${d.quarantine} quarantined messages and ${d.series} series. ` +
          `Database ${bytes(r.bytes_before)} → ${bytes(r.bytes_after)}; deleted bytes were overwritten and the WAL truncated.` +
          (r.backup_erased ? ' The pre-upgrade backup was erased the same way.' : ''),
      );
      return 0;
    },
  },
  {
    name: 'db maintain',
    usage: 'db maintain [--checkpoint] [--json]',
    summary: 'Run the rollup and retention job now (or only a WAL checkpoint); it also runs on its schedule.',
    options: { checkpoint: { type: 'boolean' }, ...json },
    args: 0,
    async run({ flags, config, print }) {
      const r = await withGateway(config(), (call) => call('db.maintain', { job: flags.checkpoint ? 'store.checkpoint' : 'store.retention' }));
      print(flags.json ? JSON.stringify(r) : keyValues(Object.entries((r ?? {}) as Record<string, unknown>)));
      return 0;
    },
  },
  {
    name: 'rollups',
    usage: 'rollups ID --metric M [--since 7d|ISO] [--until ISO] [--json]',
    summary: "Statistics of a device's metric over a window, read from hourly rollups (works after raw retention).",
    options: { metric: { type: 'string' }, since: { type: 'string' }, until: { type: 'string' }, ...json },
    args: 1,
    async run({ args, flags, config, print }) {
      const rows = await withGateway(config(), (call) => call('rollups', { id: args[0]!, metric: text(flags.metric) ?? '', since: text(flags.since), until: text(flags.until) }));
      if (flags.json) print(JSON.stringify(rows));
      else if (rows.length === 0) print('No rollups for that device and metric.');
      else for (const r of rows) print(keyValues(Object.entries(r).map(([k, v]) => [k, typeof v === 'object' && v !== null ? JSON.stringify(v) : v])));
      return 0;
    },
  },
];
