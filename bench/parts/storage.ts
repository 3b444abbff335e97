import { existsSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import { DB_FILE, EventBus, openDatabase, silentLogger, systemClock } from '../../src/core/index.js';
import { allMigrations } from '../../src/app/index.js';
import { HOT_LOG_DIR, HotStore, ReadingWriter } from '../../src/store/index.js';
import { householdMessages } from '../lib/device-mix.js';
import type { BenchOptions, Figure, Part, PartResult } from '../lib/part.js';
import { benchTmp } from '../lib/procs.js';
import { summarize } from '../lib/stats.js';

/** Database plus WAL, after a TRUNCATE checkpoint. */
function bytesOnDisk(raw: Database.Database, file: string): number {
  raw.pragma('wal_checkpoint(TRUNCATE)');
  const wal = `${file}-wal`;
  return statSync(file).size + (existsSync(wal) ? statSync(wal).size : 0);
}

export interface StoreBuild {
  dataDir: string;
  readings: number;
  seconds: number;
  /** readings table: share of its page bytes holding cells, and bytes of cell payload per reading */
  fill?: { pages: number; fill: number; payloadPerReading: number };
  /** bytes on disk after VACUUM INTO (a rebuilt, tightly packed copy) */
  vacuumedBytes?: number;
  /** readings → bytes on disk, at each checkpoint */
  sizes: Array<{ readings: number; bytes: number }>;
}

/**
 * Writes the household mix through Sluice's own write path (ReadingWriter: series catalogue,
 * codec, INSERT OR IGNORE, IMMEDIATE transactions, synchronous=FULL) into a fresh data dir.
 * Batches are larger than the gateway's 500 so 10 M readings take minutes, not an hour of
 * fsyncs; the row format, and so the bytes per reading, does not depend on the batch size.
 */
export async function buildSluiceStore(readings: number, seed: number, checkpoints: number[], log: (m: string) => void, options: { analyse?: boolean } = {}): Promise<StoreBuild> {
  const dataDir = benchTmp('store');
  const file = join(dataDir, DB_FILE);
  const db = await openDatabase({ path: file, migrations: allMigrations, logger: silentLogger() });
  const writer = new ReadingWriter({
    db,
    clock: systemClock,
    logger: silentLogger(),
    events: new EventBus(),
    options: { batchInterval: 5, batchSize: 20_000, quarantineMaxEntries: 10_000, quarantineMaxBytes: 4 * 1024 * 1024 },
  });
  writer.start();
  const sizes: StoreBuild['sizes'] = [];
  const marks = [...checkpoints].sort((a, b) => a - b);
  const t0 = Date.now();
  let written = 0;
  let pending: Promise<void> | undefined;
  let messages = 0;
  for (const m of householdMessages(readings, seed)) {
    pending = writer.submit({ deviceId: m.deviceId, readings: m.readings, specs: m.specs });
    written += m.readings.length;
    if (++messages % 5000 === 0) await pending;
    if (marks[0] !== undefined && written >= marks[0]) {
      await writer.flush();
      sizes.push({ readings: written, bytes: bytesOnDisk(db.raw, file) });
      marks.shift();
    }
    if (messages % 500_000 === 0) log(`storage: ${(written / 1e6).toFixed(1)} M readings written (${Math.round(written / ((Date.now() - t0) / 1000))} readings/s)`);
  }
  await pending;
  await writer.stop();
  if (sizes[sizes.length - 1]?.readings !== written) sizes.push({ readings: written, bytes: bytesOnDisk(db.raw, file) });
  const seconds = (Date.now() - t0) / 1000;
  const result: StoreBuild = { dataDir, readings: written, seconds, sizes };
  if (options.analyse) {
    // Where the bytes go: B-tree pages filled by appends at each series' tail split half-full.
    const stat = db.raw
      .prepare<[], { pages: number; total: number; unused: number; payload: number }>("SELECT COUNT(*) AS pages, SUM(pgsize) AS total, SUM(unused) AS unused, SUM(payload) AS payload FROM dbstat WHERE name = 'readings'")
      .get()!;
    result.fill = { pages: stat.pages, fill: 1 - stat.unused / stat.total, payloadPerReading: stat.payload / written };
    const packed = join(dataDir, 'vacuumed.db');
    db.raw.exec(`VACUUM INTO '${packed}'`);
    result.vacuumedBytes = statSync(packed).size;
    rmSync(packed, { force: true });
  }
  db.close();
  return result;
}

export interface ChunkBuild {
  readings: number;
  seconds: number;
  seals: number;
  /** DB + WAL after a TRUNCATE checkpoint (every table, the chunks among them) */
  bytes: number;
  /** pages of the chunks table alone, and their cell payload */
  chunkPages: { bytes: number; payload: number; rows: number };
}

/**
 * The same household mix through the hot path, as the gateway stores it: the hot log, the head,
 * and a seal into compressed chunks each time the readings' clock passes an hour (as the hourly
 * seal does in real time), then a TRUNCATE checkpoint.
 */
export async function buildChunkStore(readings: number, seed: number, log: (m: string) => void): Promise<ChunkBuild> {
  const dataDir = benchTmp('chunks');
  const file = join(dataDir, DB_FILE);
  try {
    const db = await openDatabase({ path: file, migrations: allMigrations, logger: silentLogger() });
    const store = HotStore.open(join(dataDir, HOT_LOG_DIR), { repair: true });
    const writer = new ReadingWriter({
      db,
      clock: systemClock,
      logger: silentLogger(),
      events: new EventBus(),
      hot: { store, durability: 'interval', reason: 'bench', fsyncInterval: 3_600_000, sealInterval: 2 ** 31 - 1, sealRecords: 100_000_000 },
      options: { batchInterval: 5, batchSize: 20_000, quarantineMaxEntries: 10_000, quarantineMaxBytes: 4 * 1024 * 1024 },
    });
    writer.start();
    const t0 = Date.now();
    let written = 0;
    let messages = 0;
    let seals = 0;
    let hour: number | undefined;
    let pending: Promise<void> | undefined;
    for (const m of householdMessages(readings, seed)) {
      const h = Math.floor(m.ts / 3_600_000);
      if (hour !== undefined && h !== hour) {
        await pending;
        await writer.flush();
        writer.seal();
        seals++;
      }
      hour = h;
      pending = writer.submit({ deviceId: m.deviceId, readings: m.readings, specs: m.specs });
      written += m.readings.length;
      if (++messages % 5000 === 0) await pending;
      if (messages % 500_000 === 0) log(`storage: ${(written / 1e6).toFixed(1)} M readings sealed into chunks`);
    }
    await pending;
    await writer.stop();
    seals++;
    const seconds = (Date.now() - t0) / 1000;
    const bytes = bytesOnDisk(db.raw, file);
    const stat = db.raw.prepare<[], { total: number; payload: number }>("SELECT SUM(pgsize) AS total, SUM(payload) AS payload FROM dbstat WHERE name = 'chunks'").get()!;
    const rows = (db.raw.prepare('SELECT COUNT(*) AS n FROM chunks').get() as { n: number }).n;
    db.close();
    return { readings: written, seconds, seals, bytes, chunkPages: { bytes: stat.total, payload: stat.payload, rows } };
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

function openBaseline(file: string): Database.Database {
  const raw = new Database(file);
  raw.pragma('journal_mode = WAL');
  raw.pragma('synchronous = NORMAL');
  return raw;
}

/** Baseline 1: one row per message holding the JSON payload, indexed by device and time. */
function buildJsonRows(dir: string, readings: number, seed: number): { readings: number; bytes: number } {
  const file = join(dir, 'json-rows.db');
  const raw = openBaseline(file);
  raw.exec(`CREATE TABLE messages (id INTEGER PRIMARY KEY, device_id TEXT NOT NULL, ts INTEGER NOT NULL, payload TEXT NOT NULL);
            CREATE INDEX messages_device_ts ON messages (device_id, ts);`);
  const insert = raw.prepare('INSERT INTO messages (device_id, ts, payload) VALUES (?, ?, ?)');
  let n = 0;
  let batch: Array<[string, number, string]> = [];
  const flush = raw.transaction((rows: Array<[string, number, string]>) => {
    for (const r of rows) insert.run(...r);
  });
  for (const m of householdMessages(readings, seed)) {
    batch.push([m.deviceId, m.ts, m.json]);
    n += m.readings.length;
    if (batch.length >= 5000) {
      flush(batch);
      batch = [];
    }
  }
  flush(batch);
  const bytes = bytesOnDisk(raw, file);
  raw.close();
  return { readings: n, bytes };
}

/**
 * Baseline 2: Home Assistant's recorder `states` table (schema 4x: metadata_id, float
 * timestamps, binary context ids, old_state_id) with its five indexes; one row per reading,
 * as HA writes one state per entity update.
 */
function buildHaStates(dir: string, readings: number, seed: number): { readings: number; bytes: number } {
  const file = join(dir, 'ha-states.db');
  const raw = openBaseline(file);
  raw.exec(`
    CREATE TABLE states_meta (metadata_id INTEGER NOT NULL, entity_id VARCHAR(255), PRIMARY KEY (metadata_id));
    CREATE UNIQUE INDEX ix_states_meta_entity_id ON states_meta (entity_id);
    CREATE TABLE state_attributes (attributes_id INTEGER NOT NULL, hash BIGINT, shared_attrs TEXT, PRIMARY KEY (attributes_id));
    CREATE INDEX ix_state_attributes_hash ON state_attributes (hash);
    CREATE TABLE states (
      state_id INTEGER NOT NULL, entity_id CHAR(0), state VARCHAR(255), attributes CHAR(0), event_id SMALLINT,
      last_changed CHAR(0), last_changed_ts FLOAT, last_reported_ts FLOAT, last_updated CHAR(0), last_updated_ts FLOAT,
      old_state_id INTEGER, attributes_id INTEGER, context_id CHAR(0), context_user_id CHAR(0), context_parent_id CHAR(0),
      origin_idx SMALLINT, context_id_bin BLOB, context_user_id_bin BLOB, context_parent_id_bin BLOB, metadata_id INTEGER,
      PRIMARY KEY (state_id),
      FOREIGN KEY(old_state_id) REFERENCES states (state_id),
      FOREIGN KEY(attributes_id) REFERENCES state_attributes (attributes_id),
      FOREIGN KEY(metadata_id) REFERENCES states_meta (metadata_id)
    );
    CREATE INDEX ix_states_attributes_id ON states (attributes_id);
    CREATE INDEX ix_states_context_id_bin ON states (context_id_bin);
    CREATE INDEX ix_states_last_updated_ts ON states (last_updated_ts);
    CREATE INDEX ix_states_metadata_id_last_updated_ts ON states (metadata_id, last_updated_ts);
    CREATE INDEX ix_states_old_state_id ON states (old_state_id);`);
  const insertMeta = raw.prepare('INSERT INTO states_meta (entity_id) VALUES (?)');
  const insertAttrs = raw.prepare('INSERT INTO state_attributes (hash, shared_attrs) VALUES (?, ?)');
  const insert = raw.prepare(
    'INSERT INTO states (state, last_updated_ts, old_state_id, attributes_id, origin_idx, context_id_bin, metadata_id) VALUES (?, ?, ?, ?, 0, ?, ?)',
  );
  const entities = new Map<string, { metadataId: number; attributesId: number; last: number | null }>();
  let n = 0;
  let batch: Array<{ entity: string; unit: string | null; state: string; ts: number }> = [];
  const flush = raw.transaction((rows: typeof batch) => {
    for (const r of rows) {
      let e = entities.get(r.entity);
      if (!e) {
        const metadataId = Number(insertMeta.run(r.entity).lastInsertRowid);
        const attributesId = Number(insertAttrs.run(entities.size, JSON.stringify({ unit_of_measurement: r.unit, state_class: 'measurement', friendly_name: r.entity })).lastInsertRowid);
        e = { metadataId, attributesId, last: null };
        entities.set(r.entity, e);
      }
      // A ULID-like context id: 48 bits of ms time, 80 random bits.
      const ctx = Buffer.concat([Buffer.from(r.ts.toString(16).padStart(12, '0'), 'hex'), randomBytes(10)]);
      const id = Number(insert.run(r.state, r.ts / 1000, e.last, e.attributesId, ctx, e.metadataId).lastInsertRowid);
      e.last = id;
    }
  });
  for (const m of householdMessages(readings, seed)) {
    for (const r of m.readings) {
      const spec = m.specs[r.metric];
      const unit = spec && spec.type === 'number' ? spec.unit : null;
      const state = typeof r.value === 'boolean' ? (r.value ? 'on' : 'off') : String(r.value);
      batch.push({ entity: `sensor.${m.deviceId.replace(/-/g, '_')}${r.component ? `_${r.component}` : ''}_${r.metric}`, unit, state, ts: r.ts });
      n++;
    }
    if (batch.length >= 20_000) {
      flush(batch);
      batch = [];
    }
  }
  flush(batch);
  const bytes = bytesOnDisk(raw, file);
  raw.close();
  return { readings: n, bytes };
}

export const storagePart: Part = {
  name: 'storage',
  title: 'Bytes on disk per reading',
  async run(options: BenchOptions): Promise<PartResult> {
    const total = options.quick ? 20_000 : 10_000_000;
    const baselineReadings = options.quick ? 20_000 : 2_000_000;
    const build = await buildSluiceStore(total, options.seed, [baselineReadings], options.log, { analyse: true });
    options.shared.cleanup.push(build.dataDir);
    options.shared.bigDataDir = build.dataDir;
    options.shared.bigDataReadings = build.readings;
    options.log(`storage: Sluice wrote ${build.readings} readings in ${build.seconds.toFixed(0)} s; ${build.sizes.map((s) => `${s.readings}: ${(s.bytes / s.readings).toFixed(2)} B/reading`).join(', ')}`);
    const dir = benchTmp('baselines');
    options.shared.cleanup.push(dir);
    const t1 = Date.now();
    const json = buildJsonRows(dir, baselineReadings, options.seed);
    options.log(`storage: JSON rows ${(json.bytes / json.readings).toFixed(2)} B/reading (${((Date.now() - t1) / 1000).toFixed(0)} s)`);
    const t2 = Date.now();
    const ha = buildHaStates(dir, baselineReadings, options.seed);
    options.log(`storage: HA states ${(ha.bytes / ha.readings).toFixed(2)} B/reading (${((Date.now() - t2) / 1000).toFixed(0)} s)`);

    const t3 = Date.now();
    const chunks = await buildChunkStore(baselineReadings, options.seed, options.log);
    options.log(`storage: sealed chunks ${(chunks.bytes / chunks.readings).toFixed(2)} B/reading on disk, chunks table ${(chunks.chunkPages.bytes / chunks.readings).toFixed(2)} B/reading (${((Date.now() - t3) / 1000).toFixed(0)} s, ${chunks.seals} seals)`);

    const at = build.sizes.find((s) => s.readings >= baselineReadings) ?? build.sizes[build.sizes.length - 1]!;
    const full = build.sizes[build.sizes.length - 1]!;
    const perAt = at.bytes / at.readings;
    const perFull = full.bytes / full.readings;
    const same = (n: number) => summarize([n]);
    const figures: Figure[] = [
      {
        name: `bytes/reading vs one JSON row per message, at ${(at.readings / 1e6).toFixed(2)} M readings`,
        unit: 'B',
        value: same(perAt),
        baseline: { name: 'JSON rows', value: same(json.bytes / json.readings) },
        ratio: same(json.bytes / json.readings / perAt),
        ratioNote: 'smaller',
      },
      {
        name: `bytes/reading vs Home Assistant recorder states, at ${(at.readings / 1e6).toFixed(2)} M readings`,
        unit: 'B',
        value: same(perAt),
        baseline: { name: 'HA states + 5 indexes', value: same(ha.bytes / ha.readings) },
        ratio: same(ha.bytes / ha.readings / perAt),
        ratioNote: 'smaller',
      },
      {
        name: `bytes/reading after ${(full.readings / 1e6).toFixed(2)} M readings (DB + WAL after checkpoint)`,
        unit: 'B',
        value: same(perFull),
        target: '≤ 20 B',
        met: perFull <= 20,
        note: `${(full.bytes / 2 ** 20).toFixed(0)} MiB`,
      },
      {
        name: 'bytes/reading after VACUUM, what-if (a periodic rebuild packs the pages)',
        unit: 'B',
        value: same((build.vacuumedBytes ?? Number.NaN) / full.readings),
        note: build.fill ? `before it, readings pages are ${(build.fill.fill * 100).toFixed(0)}% full; ${build.fill.payloadPerReading.toFixed(1)} B of row payload per reading` : '',
      },
      {
        name: `bytes/reading at rest, sealed chunks (hot log → hourly seal), at ${(chunks.readings / 1e6).toFixed(2)} M readings: DB + WAL after checkpoint`,
        unit: 'B',
        value: same(chunks.bytes / chunks.readings),
        baseline: { name: 'rows of the readings table (old layout)', value: same(perAt) },
        ratio: same(perAt / (chunks.bytes / chunks.readings)),
        ratioNote: 'smaller',
        target: '≤ 4 B',
        met: chunks.bytes / chunks.readings <= 4,
        note: `chunks table alone ${(chunks.chunkPages.bytes / chunks.readings).toFixed(2)} B/reading in ${chunks.chunkPages.rows} chunks (${(chunks.chunkPages.payload / chunks.readings).toFixed(2)} B of cell payload); ${chunks.seals} seals`,
      },
      { name: 'write path throughput, in-process (ReadingWriter, 20,000-reading batches)', unit: 'readings/s', value: same(build.readings / build.seconds) },
    ];
    return {
      figures,
      raw: { total, baselineReadings, sluice: build, json, ha, chunks },
      notes: ['sizes are deterministic for a seed, so storage is measured once (no warm-up or repeats); the baselines hold the first readings of the same simulated household.'],
    };
  },
};
