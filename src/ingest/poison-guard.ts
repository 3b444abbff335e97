import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import type { Migration, SluiceDatabase } from '../core/index.js';

/** The message ingest was working on when the gateway last died, read back from the marker file. */
export interface PoisonMessage {
  deviceId: string;
  clientId: string;
  topic: string;
  /** [PRIV-4] at most the first 256 bytes, base64 */
  head: string;
  bytes: number;
  digest: string;
  receivedAt: number;
}

export const POISON_FILE = 'ingest-inflight.json';
const HEAD_BYTES = 256;

export const poisonMigrations: Migration[] = [
  {
    // Registered as broker v1 since before ingest owned the guard: (module, version) is its identity in existing databases.
    module: 'broker',
    version: 1,
    description: 'messages that crashed ingest, refused without interpretation when redelivered',
    up: (db) =>
      db.exec(`CREATE TABLE ingest_poison (
        digest TEXT PRIMARY KEY,
        topic TEXT NOT NULL,
        seen_at INTEGER NOT NULL
      ) WITHOUT ROWID`),
  },
];

/**
 * Keeps a crash in ingest from becoming a crash loop. Before a message is interpreted its
 * topic, digest and first bytes are written to a marker file, and the file is emptied after.
 * A marker found at start names the message that killed the previous process: it goes to the
 * quarantine (reason ingest_crashed), and when the device redelivers it, it is acknowledged
 * without being interpreted again.
 */
export class PoisonGuard {
  private fd: number | undefined;
  /** Bytes of the longest marker written so far: the file's size, overwritten in place. */
  private width = 0;
  private blank = Buffer.alloc(0);
  private readonly known = new Set<string>();

  constructor(private readonly deps: { file: string; db: SluiceDatabase }) {
    for (const row of deps.db.raw.prepare<[], { digest: string }>('SELECT digest FROM ingest_poison').all()) this.known.add(row.digest);
  }

  /** Opens the marker and returns the message the previous process died on, if any; remembers it as poison. */
  open(now: number): PoisonMessage | undefined {
    let found: PoisonMessage | undefined;
    try {
      const text = readFileSync(this.deps.file, 'utf8');
      if (text.trim() !== '') found = JSON.parse(text) as PoisonMessage;
    } catch {
      // No marker, or a torn one (the crash hit the write itself): nothing to quarantine.
    }
    this.fd = openSync(this.deps.file, 'w', 0o600);
    if (found) {
      this.deps.db.raw.prepare('INSERT OR REPLACE INTO ingest_poison (digest, topic, seen_at) VALUES (?, ?, ?)').run(found.digest, found.topic, now);
      this.known.add(found.digest);
    }
    return found;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  /** Whether a message (its base64url message digest) killed an earlier process. */
  isPoison(digest: string): boolean {
    return this.known.size > 0 && this.known.has(digest);
  }

  /** Written before interpretation; a plain write without fsync: it guards against process death, not power loss. */
  mark(entry: { deviceId: string; clientId: string; topic: string; payload: Buffer; digest: string; receivedAt: number }): void {
    if (this.fd === undefined) return;
    const marker: PoisonMessage = {
      deviceId: entry.deviceId,
      clientId: entry.clientId,
      topic: entry.topic,
      head: entry.payload.subarray(0, HEAD_BYTES).toString('base64'),
      bytes: entry.payload.length,
      digest: entry.digest,
      receivedAt: entry.receivedAt,
    };
    // One positioned write, padded with spaces over any longer marker before it: truncating
    // the file for every message cost more than the rest of ingest (a metadata change each time).
    const text = Buffer.from(JSON.stringify(marker));
    if (text.length > this.width) {
      this.width = text.length;
      this.blank = Buffer.alloc(this.width, 0x20);
    }
    const padded = Buffer.alloc(this.width, 0x20);
    text.copy(padded);
    writeSync(this.fd, padded, 0, padded.length, 0);
  }

  /** Blanks the marker (spaces, read back as no marker) with one positioned write. */
  clear(): void {
    if (this.fd !== undefined && this.width > 0) writeSync(this.fd, this.blank, 0, this.blank.length, 0);
  }
}
