import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { allMigrations } from '../../../src/app/index.js';
import { openDatabase, silentLogger, type RawDatabase } from '../../../src/core/index.js';
import { Rollups, eraseScope, yieldToEventLoop } from '../../../src/store/index.js';
import { tmpDir } from '../../helpers/tmp-dir.js';

const HOUR = 3_600_000;
const T0 = Date.parse('2026-11-02T00:00:00Z');
const beforeV4 = allMigrations.filter((m) => !(m.module === 'store' && m.version >= 4));
const COLUMNS = 'series_id, hour, count, sum, min, max, first, first_ts, last, last_ts, tw_sum, tw_ms, increase, resets, states, sketch';

function addSeries(raw: RawDatabase, n: number): void {
  const insert = raw.prepare("INSERT INTO series (id, device_id, component, metric, type, unit, scale) VALUES (?, ?, '', 'temperature', 'number', '°C', 0.01)");
  for (let id = 1; id <= n; id++) insert.run(id, `thermo-${id}`);
}

/** One rollup row as the v2 table holds it (values differ per series and hour, so a mix-up shows). */
function row(seriesId: number, hour: number): unknown[] {
  const k = seriesId * 1000 + (hour - T0) / HOUR;
  return [seriesId, hour, 60, k * 60, k - 1, k + 1, k - 0.5, hour + 1000, k + 0.5, hour + HOUR - 1000, k * HOUR, HOUR, null, 0, null, null];
}

const insertOld = (raw: RawDatabase) => raw.prepare(`INSERT INTO rollups (${COLUMNS}) VALUES (${COLUMNS.split(', ').map(() => '?').join(', ')})`);

/** WAL frames (pages) one transaction appended. */
function framesOf(raw: RawDatabase, write: () => void): number {
  raw.pragma('wal_checkpoint(TRUNCATE)');
  raw.transaction(write)();
  return (raw.pragma('wal_checkpoint(PASSIVE)') as Array<{ log: number }>)[0]!.log;
}

describe('rollups keyed by hour × 2^21 + series id (store v4, issue 15)', () => {
  it('the migration moves every rollup to its id unchanged, the readers find them, and an erase handles the old layout in the pre-upgrade backup', async () => {
    const path = join(tmpDir(), 'r.db');
    const old = await openDatabase({ path, migrations: beforeV4, logger: silentLogger() });
    addSeries(old.raw, 3);
    const hours = [0, 1, 2, 5, 30].map((h) => T0 + h * HOUR);
    // A household at +05:30: its hours start on the half hour.
    hours.push(T0 + 40 * HOUR + HOUR / 2);
    const written: unknown[][] = [];
    for (const s of [1, 2, 3]) for (const h of hours) written.push(row(s, h));
    const insert = insertOld(old.raw);
    for (const r of written) insert.run(...r);
    old.close();

    const db = await openDatabase({ path, migrations: allMigrations, logger: silentLogger() });
    const sql = (db.raw.prepare("SELECT sql FROM sqlite_master WHERE name = 'rollups'").get() as { sql: string }).sql;
    expect(sql).not.toMatch(/WITHOUT ROWID/i);
    const rows = db.raw.prepare(`SELECT id, ${COLUMNS} FROM rollups ORDER BY series_id, hour`).raw().all() as unknown[][];
    expect(rows.map((r) => r.slice(1))).toEqual(written);
    for (const r of rows) expect(r[0]).toBe(Math.floor((r[2] as number) / HOUR) * 2 ** 21 + (r[1] as number));

    const rollups = new Rollups({ db, timeZone: 'UTC', hold: HOUR, specOf: () => undefined });
    const [series2] = rollups.seriesOf('thermo-2', 'temperature');
    expect(rollups.hoursOf(series2!, T0 + HOUR, T0 + 41 * HOUR).map((h) => h.hour)).toEqual(hours.slice(1));
    expect(rollups.hoursOf(series2!, T0 + HOUR, T0 + 41 * HOUR).map((h) => h.sum)).toEqual(hours.slice(1).map((h) => row(2, h)[3]));
    expect(rollups.lastRolledBefore(series2!, T0 + 30 * HOUR)).toEqual({ ts: T0 + 6 * HOUR - 1000, value: row(2, T0 + 5 * HOUR)[8] });
    expect(rollups.lastRolledBefore(series2!, T0)).toBeUndefined();

    // The upgrade left the v3 database beside it; an erase reaches into both layouts.
    expect(existsSync(`${path}.bak`)).toBe(true);
    const erased = await eraseScope(db, { deviceId: 'thermo-2' }, { batchSize: 4, pause: yieldToEventLoop });
    expect(erased.rollups).toBe(hours.length);
    expect(erased.backupErased).toBe(true);
    expect(db.raw.prepare('SELECT DISTINCT series_id AS s FROM rollups ORDER BY s').all()).toEqual([{ s: 1 }, { s: 3 }]);
    const bak = new Database(`${path}.bak`, { readonly: true });
    expect(bak.prepare('SELECT DISTINCT series_id AS s FROM rollups ORDER BY s').all()).toEqual([{ s: 1 }, { s: 3 }]);
    bak.close();
    db.close();
  });

  it('an hourly rollup of 200 series with two weeks of history appends a few pages (the old key touched one per series)', async () => {
    const series = 200;
    const history = 14 * 24;
    const fill = (raw: RawDatabase, put: (s: number, h: number) => void) =>
      raw.transaction(() => {
        for (let h = 0; h < history; h++) for (let s = 1; s <= series; s++) put(s, T0 + h * HOUR);
      })();
    const nextHour = T0 + history * HOUR;

    const db = await openDatabase({ path: join(tmpDir(), 'new.db'), migrations: allMigrations, logger: silentLogger() });
    addSeries(db.raw, series);
    const rollups = new Rollups({ db, timeZone: 'UTC', hold: HOUR, specOf: () => undefined });
    const put = (s: number, h: number) => rollups.rows.replace(s, h, h + HOUR, [{ hour: h, values: row(s, h).slice(2) as never }]);
    fill(db.raw, put);
    const appended = framesOf(db.raw, () => {
      for (let s = 1; s <= series; s++) put(s, nextHour);
    });
    db.close();

    const old = await openDatabase({ path: join(tmpDir(), 'old.db'), migrations: beforeV4, logger: silentLogger() });
    addSeries(old.raw, series);
    const insert = insertOld(old.raw);
    fill(old.raw, (s, h) => insert.run(...row(s, h)));
    const scattered = framesOf(old.raw, () => {
      for (let s = 1; s <= series; s++) insert.run(...row(s, nextHour));
    });
    old.close();

    // Measured: 7 pages against 293. 200 rows of ~70 bytes fill about 4 pages, plus the B-tree's interior pages and page 1.
    expect(appended).toBeLessThanOrEqual(12);
    expect(scattered).toBeGreaterThanOrEqual(series / 2);
  });
});
