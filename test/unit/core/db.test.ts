import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isSluiceError, openDatabase, silentLogger, type Migration } from '../../../src/core/index.js';
import { tmpDir } from '../../helpers/tmp-dir.js';

const v1: Migration = { module: 'things', version: 1, description: 'things', up: (db) => db.exec('CREATE TABLE things (id INTEGER PRIMARY KEY, name TEXT)') };
const v2: Migration = { module: 'things', version: 2, description: 'colour', up: (db) => db.exec('ALTER TABLE things ADD COLUMN colour TEXT') };
const logger = silentLogger();

describe('db', () => {
  it('opens in WAL with synchronous=FULL and records migrations per module', async () => {
    const path = join(tmpDir(), 'x.db');
    const db = await openDatabase({ path, migrations: [v1], logger });
    expect(db.raw.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.raw.pragma('synchronous', { simple: true })).toBe(2);
    expect(db.raw.prepare('SELECT module, version FROM schema_migrations').all()).toEqual([{ module: 'things', version: 1 }]);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    db.close();
  });

  it('backs up an existing database before an upgrade and keeps its data', async () => {
    const path = join(tmpDir(), 'x.db');
    const old = await openDatabase({ path, migrations: [v1], logger });
    old.raw.prepare("INSERT INTO things (name) VALUES ('kettle')").run();
    old.close();
    const db = await openDatabase({ path, migrations: [v1, v2], logger });
    expect(db.raw.prepare('SELECT name, colour FROM things').all()).toEqual([{ name: 'kettle', colour: null }]);
    expect(existsSync(`${path}.bak`)).toBe(true);
    db.close();
  });

  it('refuses a database made by a newer version', async () => {
    const path = join(tmpDir(), 'x.db');
    (await openDatabase({ path, migrations: [v1, v2], logger })).close();
    const err = await openDatabase({ path, migrations: [v1], logger }).catch((e: unknown) => e);
    expect(isSluiceError(err, 'SLUICE_ERR_DB_TOO_NEW')).toBe(true);
    expect((err as Error).message).toMatch(/things v2, but this Sluice knows up to v1/);
  });

  it('rolls back a failing migration as a whole', async () => {
    const path = join(tmpDir(), 'x.db');
    const bad: Migration = { module: 'things', version: 2, description: 'broken', up: (db) => db.exec('CREATE TABLE ok (x); SELECT * FROM missing') };
    const err = await openDatabase({ path, migrations: [v1, bad], logger }).catch((e: unknown) => e);
    expect(isSluiceError(err, 'SLUICE_ERR_DB_MIGRATION')).toBe(true);
    const db = await openDatabase({ path, migrations: [], logger });
    expect(db.raw.prepare("SELECT name FROM sqlite_master WHERE name IN ('ok', 'things')").all()).toEqual([]);
    expect(db.raw.prepare('SELECT COUNT(*) AS n FROM schema_migrations').get()).toEqual({ n: 0 });
    db.close();
  });

  it('runs a synchronous transaction and rolls it back on throw', async () => {
    const db = await openDatabase({ path: join(tmpDir(), 'x.db'), migrations: [v1], logger });
    expect(() =>
      db.tx(() => {
        db.raw.prepare("INSERT INTO things (name) VALUES ('a')").run();
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(db.raw.prepare('SELECT COUNT(*) AS n FROM things').get()).toEqual({ n: 0 });
    db.close();
  });
});
