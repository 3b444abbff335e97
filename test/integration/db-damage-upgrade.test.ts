import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, openSync, readFileSync, readdirSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openDatabase, silentLogger } from '../../src/core/index.js';
import { deviceMigrations, hashPassword } from '../../src/devices/index.js';
import { allMigrations } from '../../src/app/index.js';
import { storeMigrations } from '../../src/store/index.js';
import { addDevice, cli, connectClient, startGateway } from '../helpers/gateway.js';
import { tmpDir } from '../helpers/tmp-dir.js';

const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
const READINGS = 20_000;

/** A data dir with a registered device and many readings, closed cleanly (WAL folded in). */
function populated(): { dataDir: string; db: string } {
  const dataDir = tmpDir();
  addDevice(dataDir, 'thermo');
  const path = join(dataDir, 'sluice.db');
  const raw = new Database(path);
  raw.exec("INSERT INTO series (device_id, component, metric, type, unit, scale) VALUES ('thermo', '', 'temperature', 'number', '°C', 0.01)");
  const insert = raw.prepare('INSERT INTO readings (series_id, ts, v) VALUES (1, ?, ?)');
  const t0 = Date.now() - READINGS * 1000;
  raw.transaction(() => {
    for (let i = 0; i < READINGS; i++) insert.run(t0 + i * 1000, 2000 + (i % 500));
  })();
  raw.pragma('wal_checkpoint(TRUNCATE)');
  raw.close();
  return { dataDir, db: path };
}

/** Overwrites one leaf page of the readings table with garbage. */
function corruptReadingsPage(path: string): void {
  const raw = new Database(path, { readonly: true });
  const pages = raw.prepare<[], { pageno: number }>("SELECT pageno FROM dbstat WHERE name = 'readings' AND pagetype = 'leaf' ORDER BY pageno").all();
  const pageSize = raw.pragma('page_size', { simple: true }) as number;
  raw.close();
  const victim = pages[Math.floor(pages.length / 2)]!.pageno;
  const fd = openSync(path, 'r+');
  writeSync(fd, Buffer.alloc(pageSize, 0xa5), 0, pageSize, (victim - 1) * pageSize);
  closeSync(fd);
}

describe('a damaged database', () => {
  it('is refused at start without being changed, and `sluice db recover` salvages what can be read', async () => {
    const { dataDir, db } = populated();
    corruptReadingsPage(db);
    const hash = sha(db);

    const start = cli(['start', '--mqtt-port', '0'], { dataDir, env: { SLUICE_MQTT_HOST: '127.0.0.1' } });
    expect(start.status).toBe(1);
    expect(start.stderr).toMatch(/SLUICE_ERR_DB_DAMAGED/);
    expect(start.stderr).toMatch(/sluice db recover/);
    expect(sha(db)).toBe(hash);

    const check = cli(['db', 'check'], { dataDir });
    expect(check.status).toBe(1);
    expect(check.stdout).toMatch(/is damaged/);

    const recover = cli(['db', 'recover', '--json'], { dataDir });
    expect(recover.status, recover.stderr).toBe(0);
    const report = JSON.parse(recover.stdout) as { damaged: string; tables: Record<string, { copied: number; errors: number }>; check: string[] };
    // The damaged file lies aside, byte for byte as it was.
    expect(sha(report.damaged)).toBe(hash);
    expect(report.tables.devices!.copied).toBe(1);
    expect(report.tables.readings!.errors).toBeGreaterThan(0);
    // Only the rows of the damaged page are lost (a 4 KB page holds a few hundred readings).
    expect(report.tables.readings!.copied).toBeGreaterThan(READINGS - 600);
    expect(report.tables.readings!.copied).toBeLessThan(READINGS);
    expect(report.check).toEqual([]);

    expect(cli(['db', 'check'], { dataDir }).status).toBe(0);
    const gw = await startGateway({ dataDir });
    await gw.stop();
  });

  it('can be replaced by the backup made before the last upgrade', () => {
    const { dataDir, db } = populated();
    copyFileSync(db, `${db}.bak`);
    corruptReadingsPage(db);
    const r = cli(['db', 'recover', '--from-backup', '--json'], { dataDir });
    expect(r.status, r.stderr).toBe(0);
    const info = JSON.parse(cli(['db', 'info', '--json'], { dataDir }).stdout) as { readings: number };
    expect(info.readings).toBe(READINGS);
    expect(readdirSync(dataDir).some((f) => f.startsWith('sluice.db.damaged-'))).toBe(true);
  });
});

describe('upgrading a database made by the first schema version', () => {
  it('backs it up, migrates in one transaction, and keeps its data', async () => {
    const dataDir = tmpDir();
    const path = join(dataDir, 'sluice.db');
    // The first schema: devices v1 and store v1 only (no rollups, no schedule).
    const v1 = [...deviceMigrations.filter((m) => m.version === 1), ...storeMigrations.filter((m) => m.version === 1)];
    const old = await openDatabase({ path, migrations: v1, logger: silentLogger() });
    // Written as the first version wrote it (today's registry knows columns v1 lacks).
    const password = 'first-version-password';
    old.raw
      .prepare("INSERT INTO devices (id, role, profile, base_topic, simulated, password_hash, created_at) VALUES ('thermo', 'device', 'thermostat', NULL, 0, ?, ?)")
      .run(await hashPassword(password), Date.now());
    old.raw.exec("INSERT INTO series (device_id, component, metric, type, unit, scale) VALUES ('thermo', '', 'temperature', 'number', '°C', 0.01)");
    const ts = Date.now() - 60_000;
    old.raw.prepare('INSERT INTO readings (series_id, ts, v) VALUES (1, ?, 2150)').run(ts);
    old.raw
      .prepare("INSERT INTO quarantine (device_id, topic, reason, message, payload_head, payload_bytes, received_at) VALUES ('thermo', 'sluice/thermo/telemetry', 'not_json', 'x', ?, 3, ?)")
      .run(Buffer.from('{{{'), ts);
    old.close();

    const readings = cli(['readings', 'thermo', '--since', '1h', '--json'], { dataDir });
    expect(readings.status, readings.stderr).toBe(0);
    expect(JSON.parse(readings.stdout)).toMatchObject([{ metric: 'temperature', value: 21.5, unit: '°C', ts: new Date(ts).toISOString() }]);
    expect(JSON.parse(cli(['quarantine', '--json'], { dataDir }).stdout)).toHaveLength(1);

    expect(existsSync(`${path}.bak`)).toBe(true);
    const bak = new Database(`${path}.bak`, { readonly: true });
    expect(bak.prepare("SELECT MAX(version) AS v FROM schema_migrations WHERE module = 'store'").get()).toEqual({ v: 1 });
    bak.close();
    const now = new Database(path, { readonly: true });
    const versions = now.prepare('SELECT module, MAX(version) AS v FROM schema_migrations GROUP BY module ORDER BY module').all();
    now.close();
    const latest = new Map<string, number>();
    for (const m of allMigrations) latest.set(m.module, Math.max(latest.get(m.module) ?? 0, m.version));
    expect(versions).toEqual([...latest].sort(([a], [b]) => a.localeCompare(b)).map(([module, v]) => ({ module, v })));
    // The device still authenticates and the rollup job works on the old readings.
    const gw = await startGateway({ dataDir });
    try {
      const client = await connectClient(gw.port, { username: 'thermo', password });
      await client.endAsync();
      const maintain = cli(['db', 'maintain', '--json'], { dataDir });
      expect(maintain.status, maintain.stderr).toBe(0);
      // The backup is young: kept until it is older than raw retention.
      expect(JSON.parse(maintain.stdout)).toMatchObject({ backup_removed: false });
      expect(existsSync(`${path}.bak`)).toBe(true);
    } finally {
      await gw.stop();
    }
  });
});
