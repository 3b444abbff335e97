import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import type { Clock, Migration, SluiceDatabase } from '../core/index.js';
import { SluiceError, canonicalJson, sha256Hex } from '../core/index.js';

/** What a ledger row records: a consent decision about a policy, or one step of a disclosure. */
export type LedgerKind =
  | 'policy.approved'
  | 'policy.changed'
  | 'policy.revoked'
  | 'policy.expired'
  | 'disclosure.attempted'
  | 'disclosure.acknowledged'
  | 'disclosure.failed'
  | 'disclosure.dropped'
  /** A window was considered and nothing left (too few readings, no rule for it, a privacy budget spent). */
  | 'disclosure.withheld'
  /** A summary with differential-privacy noise was queued: ε, mechanism, clamp and sensitivity of each noisy statistic, and the budget spent. */
  | 'disclosure.noised'
  /** One attempt did not reach a 2xx: its HTTP status or error (refused, timeout, tls, network); another follows. */
  | 'disclosure.retrying'
  /** Erasure requests (sluice.erasure/v1) to a policy's deletion_endpoint: queued, each attempt and its outcome. */
  | 'erasure.requested'
  | 'erasure.attempted'
  | 'erasure.retrying'
  | 'erasure.acknowledged'
  | 'erasure.failed'
  /** `policy erase-request NAME --resend`: a request that failed for good, queued again with its id and bytes. */
  | 'erasure.resent'
  /** The household asked to send a failed summary again: same id, same bytes. */
  | 'disclosure.resent'
  // household consent (members, records, pauses)
  | 'policy.consented'
  | 'policy.vetoed'
  | 'consent.recorded'
  | 'member.changed'
  | 'pause.started'
  | 'pause.ended'
  // The intention economy (src/intents): a draft, its approval, where it went, each offer, the choice, closure.
  | 'intent.drafted'
  | 'intent.approved'
  | 'intent.dropped'
  | 'intent.sent'
  | 'intent.closed'
  | 'offer.received'
  | 'offer.accepted'
  | 'offer.declined'
  | 'acceptance.sent'
  // Open data (kind: open-data policies): a release drawn and spent, sent to the collector, or withheld (no readings, budget).
  | 'open-data.released'
  | 'open-data.sent'
  | 'open-data.withheld'
  // The household's own terms (IEEE 7012, src/terms): the proffer, each delivery outcome, the vendor's signed answer, the household's choice.
  | 'terms.proffered'
  | 'terms.retrying'
  | 'terms.failed'
  | 'terms.answered'
  | 'terms.answer_refused'
  | 'terms.agreed'
  | 'terms.chosen'
  | 'terms.superseded'
  /** `sluice backup restore` replaced the database with a backup; the row after it continues that backup's chain. */
  | 'backup.restored';

export interface LedgerEntry {
  kind: LedgerKind;
  vendor: string | null;
  policy: string | null;
  /** The approved policy version (hash of the effective policy) the row is about. */
  version: string | null;
  summaryId?: string | null;
  detail?: Record<string, unknown>;
}

export interface LedgerRow {
  seq: number;
  /** ms since the epoch */
  at: number;
  kind: LedgerKind;
  vendor: string | null;
  policy: string | null;
  version: string | null;
  summaryId: string | null;
  detail: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

export interface LedgerHead {
  seq: number;
  hash: string;
}

export interface VerifyReport {
  ok: boolean;
  rows: number;
  head: LedgerHead | null;
  /** The first problem found, naming the row; null when the chain is intact. */
  problem: { seq: number | null; message: string } | null;
  /** Rows appended after the head file was last written (a crash between commit and write). */
  lagging: number;
}

export const GENESIS_HASH = '0'.repeat(64);
export const LEDGER_HEAD_FILE = 'ledger.head';

export const ledgerMigrations: Migration[] = [
  {
    module: 'ledger',
    version: 1,
    description: 'append-only hash-chained ledger of consents and disclosures',
    up: (db) =>
      db.exec(`
        CREATE TABLE ledger (
          seq INTEGER PRIMARY KEY AUTOINCREMENT,
          at INTEGER NOT NULL,
          kind TEXT NOT NULL,
          vendor TEXT,
          policy TEXT,
          version TEXT,
          summary_id TEXT,
          detail TEXT NOT NULL,
          prev_hash TEXT NOT NULL,
          hash TEXT NOT NULL UNIQUE
        );
        CREATE INDEX ledger_vendor ON ledger (vendor, seq);
        CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
        CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
      `),
  },
];

interface Row {
  seq: number;
  at: number;
  kind: LedgerKind;
  vendor: string | null;
  policy: string | null;
  version: string | null;
  summary_id: string | null;
  detail: string;
  prev_hash: string;
  hash: string;
}

/** The hash of a row: its predecessor's hash and the canonical JSON of its content. */
export function rowHash(prevHash: string, r: Omit<LedgerRow, 'prevHash' | 'hash'>): string {
  const content = canonicalJson({
    seq: r.seq,
    at: r.at,
    kind: r.kind,
    vendor: r.vendor,
    policy: r.policy,
    version: r.version,
    summary_id: r.summaryId,
    detail: r.detail,
  });
  return sha256Hex(`${prevHash}\n${content}`);
}

function toRow(r: Row): LedgerRow {
  return {
    seq: r.seq,
    at: r.at,
    kind: r.kind,
    vendor: r.vendor,
    policy: r.policy,
    version: r.version,
    summaryId: r.summary_id,
    detail: JSON.parse(r.detail) as Record<string, unknown>,
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}

/**
 * The household's record of every consent and every disclosure. Any module may append, inside
 * its own transaction, so the record and the act it records commit together. After each commit
 * the chain head is also written to a file beside the database: a chain shorter than the file
 * says has lost rows from its end.
 */
export class Ledger {
  private headWriteQueued = false;

  constructor(private readonly deps: { db: SluiceDatabase; clock: Clock; headFile: string }) {}

  /** Appends one row; must run inside the caller's transaction. */
  append(entry: LedgerEntry): LedgerRow {
    const raw = this.deps.db.raw;
    if (!raw.inTransaction) throw new SluiceError('SLUICE_ERR_INTERNAL', 'ledger rows are appended inside the transaction of the act they record');
    const last = raw.prepare<[], { seq: number; hash: string }>('SELECT seq, hash FROM ledger ORDER BY seq DESC LIMIT 1').get();
    const prevHash = last?.hash ?? GENESIS_HASH;
    const at = this.deps.clock.now();
    const detail = entry.detail ?? {};
    // AUTOINCREMENT never reuses a seq, so a removed last row leaves a gap that verify sees;
    // we are inside an IMMEDIATE transaction, so nobody else can take the next number.
    const used = raw.prepare<[], { seq: number }>("SELECT seq FROM sqlite_sequence WHERE name = 'ledger'").get()?.seq ?? 0;
    const seq = Math.max(used, last?.seq ?? 0) + 1;
    const row: LedgerRow = { seq, at, kind: entry.kind, vendor: entry.vendor, policy: entry.policy, version: entry.version, summaryId: entry.summaryId ?? null, detail, prevHash, hash: '' };
    row.hash = rowHash(prevHash, row);
    raw
      .prepare(`INSERT INTO ledger (seq, at, kind, vendor, policy, version, summary_id, detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
      .run(seq, at, entry.kind, entry.vendor, entry.policy, entry.version, row.summaryId, canonicalJson(detail), prevHash, row.hash);
    this.queueHeadWrite();
    return row;
  }

  /** The newest row's seq and hash, or null for an empty ledger. */
  head(): LedgerHead | null {
    return this.deps.db.raw.prepare<[], LedgerHead>('SELECT seq, hash FROM ledger ORDER BY seq DESC LIMIT 1').get() ?? null;
  }

  /** The hash a new summary carries: the current head, or the genesis hash for an empty ledger. */
  headHash(): string {
    return this.head()?.hash ?? GENESIS_HASH;
  }

  rows(filter: { vendor?: string | undefined; policy?: string | undefined; summaryId?: string | undefined; limit?: number } = {}): LedgerRow[] {
    const rows = this.deps.db.raw
      .prepare<unknown[], Row>(
        `SELECT * FROM ledger WHERE (? IS NULL OR vendor = ? COLLATE NOCASE) AND (? IS NULL OR policy = ?) AND (? IS NULL OR summary_id = ?) ORDER BY seq LIMIT ?`,
      )
      .all(filter.vendor ?? null, filter.vendor ?? null, filter.policy ?? null, filter.policy ?? null, filter.summaryId ?? null, filter.summaryId ?? null, filter.limit ?? 1_000_000);
    return rows.map(toRow);
  }

  /** How many rows of each of these kinds the ledger holds, per vendor (append-only, so it only grows). */
  countByKind(kinds: readonly LedgerKind[]): Array<{ vendor: string | null; kind: LedgerKind; count: number }> {
    if (kinds.length === 0) return [];
    return this.deps.db.raw
      .prepare<string[], { vendor: string | null; kind: LedgerKind; count: number }>(`SELECT vendor, kind, COUNT(*) AS count FROM ledger WHERE kind IN (${kinds.map(() => '?').join(', ')}) GROUP BY vendor, kind ORDER BY vendor, kind`)
      .all(...kinds);
  }

  /** Writes the committed head to the head file now (also done after every append's commit). */
  writeHead(): void {
    this.headWriteQueued = false;
    if (!this.deps.db.raw.open) return;
    const head = this.head();
    if (!head) return;
    const onFile = readHeadFile(this.deps.headFile);
    // Never move the file back: a chain shorter than the file has lost rows, and verify must see it.
    if (onFile && onFile.seq > head.seq) return;
    writeFileAtomic(this.deps.headFile, `${JSON.stringify(head)}\n`);
  }

  /** Walks the chain from its first row and compares its end with the head file. */
  verify(): VerifyReport {
    const rows = this.deps.db.raw.prepare<[], Row>('SELECT * FROM ledger ORDER BY seq').all().map(toRow);
    const fileHead = readHeadFile(this.deps.headFile);
    const fail = (seq: number | null, message: string): VerifyReport => ({ ok: false, rows: rows.length, head: rows.at(-1) ? { seq: rows.at(-1)!.seq, hash: rows.at(-1)!.hash } : null, problem: { seq, message }, lagging: 0 });
    let prev = GENESIS_HASH;
    let expectedSeq = 1;
    for (const row of rows) {
      if (row.seq !== expectedSeq) return fail(expectedSeq, `row ${expectedSeq} is missing (the chain jumps from row ${expectedSeq - 1} to row ${row.seq}): a row was deleted`);
      if (row.prevHash !== prev) return fail(row.seq, `row ${row.seq} does not follow row ${row.seq - 1}: its previous-hash does not match (a row before it was deleted or replaced)`);
      if (rowHash(prev, row) !== row.hash) return fail(row.seq, `row ${row.seq} was altered: its content does not match its hash`);
      prev = row.hash;
      expectedSeq++;
    }
    const last = rows.at(-1);
    if (!fileHead) {
      if (last) return fail(null, `the head file ${this.deps.headFile} is missing or unreadable, so truncation cannot be ruled out`);
      return { ok: true, rows: 0, head: null, problem: null, lagging: 0 };
    }
    const atHead = rows.find((r) => r.seq === fileHead.seq);
    if (!atHead) {
      return fail(last?.seq ?? null, `the chain ends at row ${last?.seq ?? 0}, but the head file names row ${fileHead.seq}: rows were removed from the end`);
    }
    if (atHead.hash !== fileHead.hash) return fail(atHead.seq, `row ${atHead.seq} does not match the head file's hash: the chain was rewritten`);
    return { ok: true, rows: rows.length, head: last ? { seq: last.seq, hash: last.hash } : null, problem: null, lagging: last!.seq - fileHead.seq };
  }

  private queueHeadWrite(): void {
    if (this.headWriteQueued) return;
    this.headWriteQueued = true;
    // A microtask runs after the synchronous transaction has committed or rolled back, and
    // writeHead reads what is committed, so the file never names an uncommitted row.
    queueMicrotask(() => this.writeHead());
  }
}

function readHeadFile(path: string): LedgerHead | null {
  if (!existsSync(path)) return null;
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as Partial<LedgerHead>;
    if (typeof parsed.seq !== 'number' || typeof parsed.hash !== 'string') return null;
    return { seq: parsed.seq, hash: parsed.hash };
  } catch {
    return null;
  }
}

/** Writes a small file so a reader sees either the old or the new content; mode 0600. */
export function writeFileAtomic(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}
