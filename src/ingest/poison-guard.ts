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
/**
 * How long after a start that found the previous run dead without a word (SIGKILL, OOM, a native
 * abort) every message's marker is written before interpretation, as a plain write; see PoisonGuard.
 */
export const CAREFUL_AFTER_UNCLEAN_START_MS = 3_600_000;

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

/** A message under interpretation; its digest is computed only if the marker is ever written. */
export interface InFlight {
  deviceId: string;
  clientId: string;
  topic: string;
  payload: Buffer;
  digest: () => string;
  receivedAt: number;
}

/** What the marker file says about the previous run. */
type FileState = { kind: 'clean' } | { kind: 'died-in-ingest'; message: PoisonMessage } | { kind: 'died-silently' };

/** Written at start and kept while the process runs: a start that still finds it knows the previous run died unannounced. */
const RUNNING = Buffer.from('{"running":true}');

/**
 * Keeps a crash in ingest from becoming a crash loop. While a message is interpreted it is held
 * in memory; if the process exits meanwhile (process.exit, or the fatal handler after an uncaught
 * exception) the `exit` hook writes it to a marker file. A marker found at start names the
 * message that killed the previous process: it goes to the quarantine (reason ingest_crashed),
 * and when the device redelivers it, it is acknowledged without being interpreted again.
 *
 * A death that runs no JavaScript (SIGKILL, the OOM killer, a native abort) cannot write the
 * marker, so the file also says whether the last run ended cleanly: `{"running":true}` while a
 * process runs, blank after a clean stop. A start that finds "running" was preceded by an
 * unannounced death, and for CAREFUL_AFTER_UNCLEAN_START_MS every message's marker is written
 * before interpretation (two positioned writes, no fsync: page cache survives process death),
 * as all messages were before. A poison message that kills natively therefore costs two crashes
 * instead of one: the first puts the guard on its guard, the redelivery after the restart is
 * caught by the marker. In steady state the guard costs no system call per message.
 */
export class PoisonGuard {
  private fd: number | undefined;
  /** Bytes of the longest content written so far: the file's size, overwritten in place. */
  private width = 0;
  private readonly known = new Set<string>();
  private inFlight: InFlight | undefined;
  /** ms until which markers are written before interpretation (after an unannounced death) */
  private carefulUntil = -Infinity;
  /** whether the in-flight marker is in the file (careful mode), so clear() must overwrite it */
  private written = false;
  private readonly onExit = () => this.writeInFlight();

  constructor(private readonly deps: { file: string; db: SluiceDatabase }) {
    for (const row of deps.db.raw.prepare<[], { digest: string }>('SELECT digest FROM ingest_poison').all()) this.known.add(row.digest);
  }

  /** Opens the marker and returns the message the previous process died on, if any; remembers it as poison. */
  open(now: number): PoisonMessage | undefined {
    const state = readState(this.deps.file);
    this.fd = openSync(this.deps.file, 'w', 0o600);
    this.put(RUNNING);
    process.on('exit', this.onExit);
    // A marker means the death was announced; either way, a run that did not stop cleanly may have been killed by a message.
    if (state.kind !== 'clean') this.carefulUntil = now + CAREFUL_AFTER_UNCLEAN_START_MS;
    if (state.kind !== 'died-in-ingest') return undefined;
    const found = state.message;
    this.deps.db.raw.prepare('INSERT OR REPLACE INTO ingest_poison (digest, topic, seen_at) VALUES (?, ?, ?)').run(found.digest, found.topic, now);
    this.known.add(found.digest);
    return found;
  }

  /** A clean stop: the blank file tells the next start that this run ended cleanly. */
  close(): void {
    process.off('exit', this.onExit);
    if (this.fd === undefined) return;
    this.put(Buffer.alloc(0));
    closeSync(this.fd);
    this.fd = undefined;
  }

  /** Whether any message ever killed an earlier process (else isPoison needs no digest). */
  get watching(): boolean {
    return this.known.size > 0;
  }

  /** Whether a message (its base64url message digest) killed an earlier process. */
  isPoison(digest: string): boolean {
    return this.known.size > 0 && this.known.has(digest);
  }

  /** Whether markers are written before interpretation (the first hour after an unannounced death). */
  careful(now: number): boolean {
    return now < this.carefulUntil;
  }

  /** Holds the message under interpretation; written to the file only in careful mode or when the process exits. */
  mark(entry: InFlight): void {
    if (this.fd === undefined) return;
    this.inFlight = entry;
    if (this.careful(entry.receivedAt)) {
      this.writeInFlight();
      this.written = true;
    }
  }

  /** The message was interpreted: forget it (and put the running state back in the file if its marker was written). */
  clear(): void {
    this.inFlight = undefined;
    if (this.written) {
      this.written = false;
      this.put(RUNNING);
    }
  }

  /** The `exit` hook (public for tests): writes the message under interpretation, if there is one. */
  writeInFlight(): void {
    const entry = this.inFlight;
    if (this.fd === undefined || !entry) return;
    const marker: PoisonMessage = {
      deviceId: entry.deviceId,
      clientId: entry.clientId,
      topic: entry.topic,
      head: entry.payload.subarray(0, HEAD_BYTES).toString('base64'),
      bytes: entry.payload.length,
      digest: entry.digest(),
      receivedAt: entry.receivedAt,
    };
    this.put(Buffer.from(JSON.stringify(marker)));
  }

  /**
   * One positioned write, padded with spaces over anything longer before it: truncating the
   * file each time cost more than the rest of ingest (a metadata change each time).
   */
  private put(content: Buffer): void {
    if (this.fd === undefined) return;
    this.width = Math.max(this.width, content.length);
    const padded = Buffer.alloc(this.width, 0x20);
    content.copy(padded);
    writeSync(this.fd, padded, 0, padded.length, 0);
  }
}

function readState(file: string): FileState {
  let text: string;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch {
    return { kind: 'clean' }; // no file: the first start
  }
  if (text === '') return { kind: 'clean' };
  try {
    const parsed = JSON.parse(text) as Partial<PoisonMessage> & { running?: unknown };
    if (typeof parsed.digest === 'string' && typeof parsed.topic === 'string') return { kind: 'died-in-ingest', message: parsed as PoisonMessage };
  } catch {
    // A torn marker (the death hit the write itself): it names nothing, but the run did not end cleanly.
  }
  return { kind: 'died-silently' };
}
