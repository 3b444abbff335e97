import type { Migration } from '../core/index.js';

export const termsMigrations: Migration[] = [
  {
    module: 'terms',
    version: 1,
    description: "the household's IEEE 7012 terms with each vendor: proffers, the vendors' signed answers, agreements, pinned vendor keys",
    up: (db) =>
      db.exec(`
        CREATE TABLE terms_exchanges (
          id TEXT PRIMARY KEY,
          vendor TEXT NOT NULL,
          vendor_name TEXT NOT NULL,
          policy TEXT NOT NULL,
          term TEXT NOT NULL,
          endpoint TEXT NOT NULL,
          state TEXT NOT NULL CHECK (state IN ('proffered', 'countered', 'accepting', 'accepted', 'declined', 'refused', 'failed', 'superseded')),
          proffer BLOB NOT NULL,
          sent BLOB NOT NULL,
          sent_id TEXT NOT NULL,
          answer BLOB,
          counter BLOB,
          agreed_term TEXT,
          agreement BLOB,
          agreement_sha256 TEXT,
          vendor_key TEXT,
          attempts INTEGER NOT NULL DEFAULT 0,
          next_attempt_at INTEGER,
          last_error TEXT,
          http_status INTEGER,
          decided_by TEXT,
          created_at INTEGER NOT NULL,
          updated_at INTEGER NOT NULL
        );
        CREATE INDEX terms_exchanges_vendor ON terms_exchanges (vendor);
        CREATE INDEX terms_exchanges_due ON terms_exchanges (state, next_attempt_at);
        CREATE TABLE terms_vendor_keys (
          vendor TEXT PRIMARY KEY,
          public_key TEXT NOT NULL,
          pinned_at INTEGER NOT NULL
        ) WITHOUT ROWID;
      `),
  },
];
