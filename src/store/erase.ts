import { existsSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';
import type { RawDatabase, SluiceDatabase } from '../core/index.js';
import { RollupRows, rollupsKeyedByHour } from './rollup-rows.js';
import { SealedReadings } from './sealed.js';

/** What `sluice erase` removes: a device, a metric, everything before an instant, or all. */
export interface EraseScope {
  deviceId?: string | undefined;
  metric?: string | undefined;
  /** ms: readings and quarantine entries before this instant, rollup hours starting before it */
  before?: number | undefined;
  all?: boolean | undefined;
}

export interface EraseCounts {
  readings: number;
  rollups: number;
  quarantine: number;
  series: number;
}

export interface EraseResult extends EraseCounts {
  /** bytes of the database and its WAL before and after */
  bytesBefore: number;
  bytesAfter: number;
  /** the pre-upgrade backup (`.bak`) was erased in the same scope too */
  backupErased: boolean;
}

/** Bytes of the database file and its WAL. */
export function databaseBytes(path: string): number {
  let n = 0;
  for (const p of [path, `${path}-wal`]) if (existsSync(p)) n += statSync(p).size;
  return n;
}

function hasTable(raw: RawDatabase, name: string): boolean {
  return raw.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== undefined;
}

function seriesIds(raw: RawDatabase, scope: EraseScope): number[] {
  return raw
    .prepare<[string | null, string | null, string | null, string | null], { id: number }>(
      'SELECT id FROM series WHERE (? IS NULL OR device_id = ?) AND (? IS NULL OR metric = ?)',
    )
    .all(scope.deviceId ?? null, scope.deviceId ?? null, scope.metric ?? null, scope.metric ?? null)
    .map((r) => r.id);
}

/**
 * One bounded step of an erase: deletes at most `limit` rows of one kind and returns the
 * counts; all zero means the scope is empty. Runs inside the caller's transaction.
 */
function eraseStep(raw: RawDatabase, scope: EraseScope, ids: readonly number[], limit: number): EraseCounts {
  const before = scope.before ?? Number.MAX_SAFE_INTEGER;
  const counts: EraseCounts = { readings: 0, rollups: 0, quarantine: 0, series: 0 };
  const sealed = new SealedReadings(raw);
  for (const id of ids) {
    // Whole chunks go; a chunk straddling `before` is re-encoded without the erased readings
    // (secure_delete overwrites the old cell).
    counts.readings = sealed.deleteBefore(id, before, limit);
    if (counts.readings > 0) return counts;
    if (hasTable(raw, 'rollups')) {
      // A pre-upgrade backup may still have the rollups of store v2 (keyed by series and hour).
      counts.rollups = rollupsKeyedByHour(raw)
        ? new RollupRows(raw).deleteRange(id, Number.MIN_SAFE_INTEGER, before, limit)
        : raw
            .prepare('DELETE FROM rollups WHERE series_id = ? AND hour IN (SELECT hour FROM rollups WHERE series_id = ? AND hour < ? ORDER BY hour LIMIT ?)')
            .run(id, id, before, limit).changes;
      if (counts.rollups > 0) return counts;
    }
  }
  // Quarantine rows hold up to 256 payload bytes; a metric's scope takes every message that names it.
  const metricNeedle = scope.metric === undefined ? null : Buffer.from(`"${scope.metric}"`);
  counts.quarantine = raw
    .prepare(
      `DELETE FROM quarantine WHERE id IN (SELECT id FROM quarantine
         WHERE (? IS NULL OR device_id = ?) AND received_at < ?
           AND (? IS NULL OR instr(payload_head, ?) > 0 OR instr(refused, ?) > 0)
         ORDER BY id LIMIT ?)`,
    )
    .run(scope.deviceId ?? null, scope.deviceId ?? null, before, metricNeedle, metricNeedle, scope.metric ?? null, limit).changes;
  if (counts.quarantine > 0) return counts;
  if (scope.before === undefined) {
    // Without a time bound the series themselves go too (device ids and metric names).
    for (const id of ids) counts.series += raw.prepare('DELETE FROM series WHERE id = ?').run(id).changes;
    if (scope.all) {
      raw.prepare('DELETE FROM deliveries').run();
      raw.prepare('DELETE FROM store_counters').run();
    }
  }
  return counts;
}

function add(total: EraseCounts, step: EraseCounts): void {
  total.readings += step.readings;
  total.rollups += step.rollups;
  total.quarantine += step.quarantine;
  total.series += step.series;
}

function isEmpty(c: EraseCounts): boolean {
  return c.readings + c.rollups + c.quarantine === 0;
}

/** Counts what an erase of this scope would remove, without removing it. */
export function eraseCounts(db: SluiceDatabase, scope: EraseScope): EraseCounts {
  const raw = db.raw;
  const before = scope.before ?? Number.MAX_SAFE_INTEGER;
  const ids = seriesIds(raw, scope);
  const counts: EraseCounts = { readings: 0, rollups: 0, quarantine: 0, series: scope.before === undefined ? ids.length : 0 };
  const sealed = new SealedReadings(raw);
  for (const id of ids) counts.readings += sealed.count(id, before);
  counts.rollups = new RollupRows(raw).countBefore(ids, before);
  const metricNeedle = scope.metric === undefined ? null : Buffer.from(`"${scope.metric}"`);
  counts.quarantine = raw
    .prepare<unknown[], { n: number }>(
      `SELECT COUNT(*) AS n FROM quarantine WHERE (? IS NULL OR device_id = ?) AND received_at < ?
         AND (? IS NULL OR instr(payload_head, ?) > 0 OR instr(refused, ?) > 0)`,
    )
    .get(scope.deviceId ?? null, scope.deviceId ?? null, before, metricNeedle, metricNeedle, scope.metric ?? null)!.n;
  return counts;
}

/**
 * Erases the scope for real: with secure_delete the freed bytes are overwritten, an
 * incremental vacuum gives the freed pages back, and a TRUNCATE checkpoint empties the WAL,
 * which still held the old page images. Deletes run in bounded transactions with `pause`
 * between them so ingest keeps flowing. The pre-upgrade backup next to the database is
 * erased in the same scope.
 */
export async function eraseScope(db: SluiceDatabase, scope: EraseScope, options: { batchSize: number; pause: () => Promise<void> }): Promise<EraseResult> {
  const raw = db.raw;
  const bytesBefore = databaseBytes(db.path);
  // [PRIV-6] erased readings must not linger in free pages or the WAL.
  raw.pragma('secure_delete = ON');
  const ids = seriesIds(raw, scope);
  const total: EraseCounts = { readings: 0, rollups: 0, quarantine: 0, series: 0 };
  for (;;) {
    const step = db.tx(() => eraseStep(raw, scope, ids, options.batchSize));
    add(total, step);
    if (isEmpty(step)) break;
    await options.pause();
  }
  raw.pragma('incremental_vacuum');
  raw.pragma('wal_checkpoint(TRUNCATE)');
  const backupErased = eraseBackup(`${db.path}.bak`, scope);
  return { ...total, bytesBefore, bytesAfter: databaseBytes(db.path), backupErased };
}

/** Applies the same erase to the pre-upgrade backup and rewrites it with VACUUM. */
function eraseBackup(path: string, scope: EraseScope): boolean {
  if (!existsSync(path)) return false;
  const bak = new Database(path);
  try {
    bak.pragma('secure_delete = ON');
    if (!hasTable(bak, 'series')) return false;
    const ids = seriesIds(bak, scope);
    for (;;) {
      const step = bak.transaction(() => eraseStep(bak, scope, ids, 100_000))();
      if (isEmpty(step)) break;
    }
    bak.exec('VACUUM');
    bak.pragma('wal_checkpoint(TRUNCATE)');
    return true;
  } finally {
    bak.close();
  }
}
