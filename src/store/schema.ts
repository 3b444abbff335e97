import type { Migration } from '../core/index.js';

export const storeMigrations: Migration[] = [
  {
    module: 'store',
    version: 1,
    description: 'series, compact readings, quarantine, QoS 1 delivery memory',
    up: (db) =>
      db.exec(`
        CREATE TABLE series (
          id INTEGER PRIMARY KEY,
          device_id TEXT NOT NULL,
          component TEXT NOT NULL DEFAULT '',
          metric TEXT NOT NULL,
          type TEXT NOT NULL CHECK (type IN ('number', 'boolean', 'enum')),
          unit TEXT,
          scale REAL,
          UNIQUE (device_id, component, metric)
        );
        -- One row per reading, ~17 bytes: v is an integer of the series' scale where it has one.
        -- flags: NULL when the device stamped the reading, 1 when the gateway's receive time was used.
        CREATE TABLE readings (
          series_id INTEGER NOT NULL,
          ts INTEGER NOT NULL,
          v,
          flags INTEGER,
          PRIMARY KEY (series_id, ts)
        ) WITHOUT ROWID;
        CREATE TABLE quarantine (
          id INTEGER PRIMARY KEY,
          device_id TEXT,
          client_id TEXT,
          topic TEXT NOT NULL,
          reason TEXT NOT NULL,
          message TEXT NOT NULL,
          refused TEXT,
          payload_head BLOB,
          payload_bytes INTEGER NOT NULL,
          received_at INTEGER NOT NULL
        );
        CREATE INDEX quarantine_device ON quarantine (device_id, received_at);
        -- Last QoS 1 message per (client, packet id) that was stamped with gateway time, so a
        -- redelivery (DUP) gets the same timestamp and is stored once.
        CREATE TABLE deliveries (
          client_id TEXT NOT NULL,
          packet_id INTEGER NOT NULL,
          payload_hash BLOB NOT NULL,
          ts INTEGER NOT NULL,
          PRIMARY KEY (client_id, packet_id)
        ) WITHOUT ROWID;
        CREATE TABLE store_counters (
          name TEXT PRIMARY KEY,
          value INTEGER NOT NULL
        ) WITHOUT ROWID;
      `),
  },
  {
    module: 'store',
    version: 2,
    description: 'hourly rollups kept after raw retention',
    up: (db) =>
      db.exec(`
        -- One row per series and hour of the household's clock (hour = its UTC start, ms).
        -- first/last hold the decoded value (REAL, 0/1, or enum text); sum/min/max are REAL.
        -- tw_sum/tw_ms give the time-weighted mean; states is JSON {state: ms} for booleans
        -- and enums; sketch is a mergeable quantile sketch (see sketch.ts).
        CREATE TABLE rollups (
          series_id INTEGER NOT NULL,
          hour INTEGER NOT NULL,
          count INTEGER NOT NULL,
          sum REAL NOT NULL,
          min REAL,
          max REAL,
          first,
          first_ts INTEGER,
          last,
          last_ts INTEGER,
          tw_sum REAL NOT NULL,
          tw_ms INTEGER NOT NULL,
          increase REAL,
          resets INTEGER NOT NULL,
          states TEXT,
          sketch BLOB,
          PRIMARY KEY (series_id, hour)
        ) WITHOUT ROWID;
        CREATE INDEX rollups_hour ON rollups (hour);
      `),
  },
  {
    module: 'store',
    version: 3,
    description: 'sealed readings as compressed chunks per series and hour',
    up: (db) =>
      db.exec(`
        -- One row per (hour since the epoch, series): the readings the hourly seal moved out of
        -- the hot log, delta-of-delta timestamps and delta/XOR values (chunk-codec.ts), ~2-3
        -- bytes a reading. id = hour × 2^21 + series_id, so a seal appends rows at the end of the
        -- table and SQLite packs its pages full.
        -- flags: NULL when every reading was stamped by its device, else run-length pairs.
        -- Rows of the readings table (databases from before) are read alongside (sealed.ts).
        CREATE TABLE chunks (
          id INTEGER PRIMARY KEY,
          series_id INTEGER NOT NULL,
          first_ts INTEGER NOT NULL,
          last_ts INTEGER NOT NULL,
          count INTEGER NOT NULL,
          flags BLOB,
          data BLOB NOT NULL
        );
      `),
  },
  {
    module: 'store',
    version: 4,
    description: 'rollups keyed by hour × 2^21 + series id, so each hourly rollup appends',
    up: (db) =>
      db.exec(`
        -- The key scheme of the chunks (rollup-rows.ts): id = UTC hour since the epoch × 2^21 +
        -- series_id. (series_id, hour) WITHOUT ROWID touched a page per series per hour.
        -- Rows are read by id (point lookups per hour); no index by series or hour.
        CREATE TABLE rollups_by_hour (
          id INTEGER PRIMARY KEY,
          series_id INTEGER NOT NULL,
          hour INTEGER NOT NULL,
          count INTEGER NOT NULL,
          sum REAL NOT NULL,
          min REAL,
          max REAL,
          first,
          first_ts INTEGER,
          last,
          last_ts INTEGER,
          tw_sum REAL NOT NULL,
          tw_ms INTEGER NOT NULL,
          increase REAL,
          resets INTEGER NOT NULL,
          states TEXT,
          sketch BLOB
        );
        -- Rollups are small (one row per series and hour): copied in time order, the table is
        -- written once, packed. Two household hours in one UTC hour (a zone changed from
        -- +05:30 to +01:00) keep the later one.
        INSERT OR REPLACE INTO rollups_by_hour
          (id, series_id, hour, count, sum, min, max, first, first_ts, last, last_ts, tw_sum, tw_ms, increase, resets, states, sketch)
          SELECT (hour / 3600000) * 2097152 + series_id, series_id, hour, count, sum, min, max, first, first_ts, last, last_ts, tw_sum, tw_ms, increase, resets, states, sketch
          FROM rollups ORDER BY hour, series_id;
        DROP TABLE rollups;
        ALTER TABLE rollups_by_hour RENAME TO rollups;
      `),
  },
];
