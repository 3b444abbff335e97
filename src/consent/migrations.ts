import type { Migration } from '../core/index.js';

export const consentMigrations: Migration[] = [
  {
    module: 'consent',
    version: 1,
    description: 'household members, what each owns or shares, consent records, privacy pauses',
    up: (db) =>
      db.exec(`
        CREATE TABLE consent_members (
          name TEXT PRIMARY KEY COLLATE NOCASE,
          role TEXT NOT NULL CHECK (role IN ('owner', 'adult', 'minor', 'guest')),
          added_at INTEGER NOT NULL
        ) WITHOUT ROWID;
        -- A device or a room belongs to a member, or (member NULL) is a shared space.
        CREATE TABLE consent_assignments (
          scope_kind TEXT NOT NULL CHECK (scope_kind IN ('device', 'room')),
          scope TEXT NOT NULL,
          member TEXT COLLATE NOCASE REFERENCES consent_members (name) ON DELETE CASCADE,
          assigned_at INTEGER NOT NULL,
          PRIMARY KEY (scope_kind, scope)
        ) WITHOUT ROWID;
        -- Which room a device is in, until the device registry carries a room of its own.
        CREATE TABLE consent_device_rooms (
          device_id TEXT PRIMARY KEY,
          room TEXT NOT NULL
        ) WITHOUT ROWID;
        CREATE TABLE consent_settings (
          key TEXT PRIMARY KEY,
          value TEXT NOT NULL
        ) WITHOUT ROWID;
        CREATE TABLE consent_records (
          id TEXT PRIMARY KEY,
          policy TEXT NOT NULL,
          subject TEXT NOT NULL COLLATE NOCASE,
          vendor TEXT NOT NULL,
          state TEXT NOT NULL,
          record TEXT NOT NULL,
          record_sha256 TEXT NOT NULL,
          created_at INTEGER NOT NULL,
          updated_at INTEGER NOT NULL,
          UNIQUE (policy, subject)
        ) WITHOUT ROWID;
        CREATE TABLE consent_pauses (
          id INTEGER PRIMARY KEY AUTOINCREMENT,
          scope_kind TEXT NOT NULL CHECK (scope_kind IN ('household', 'room', 'device')),
          scope TEXT NOT NULL,
          mode TEXT NOT NULL CHECK (mode IN ('no-share', 'no-store')),
          started_at INTEGER NOT NULL,
          until INTEGER NOT NULL,
          by TEXT,
          ended_at INTEGER
        );
        CREATE INDEX consent_pauses_open ON consent_pauses (until) WHERE ended_at IS NULL;
      `),
  },
];
