import type { Clock, Migration, SluiceDatabase } from '../core/index.js';
import { SluiceError, isSluiceError } from '../core/index.js';
import type { Ledger } from '../ledger/index.js';
import { notInForceError, type ApprovedPolicy, type PolicyBook } from '../policy/index.js';
import type { Summary } from '../summarise/index.js';
import type { PreviousSummary } from './chain.js';

export const shareMigrations: Migration[] = [
  {
    module: 'share',
    version: 1,
    description: 'summaries as sent (exact body bytes) and the outbox of pending deliveries',
    up: (db) =>
      db.exec(`
        CREATE TABLE summaries (
          id TEXT PRIMARY KEY,
          policy TEXT NOT NULL,
          vendor TEXT NOT NULL,
          version TEXT NOT NULL,
          window_start INTEGER NOT NULL,
          window_end INTEGER NOT NULL,
          body BLOB,
          body_sha256 TEXT NOT NULL,
          created_at INTEGER NOT NULL,
          state TEXT NOT NULL CHECK (state IN ('queued', 'delivered', 'failed', 'dropped')),
          finished_at INTEGER,
          http_status INTEGER
        ) WITHOUT ROWID;
        CREATE TABLE outbox (
          summary_id TEXT PRIMARY KEY REFERENCES summaries (id),
          policy TEXT NOT NULL,
          endpoint TEXT NOT NULL,
          attempts INTEGER NOT NULL DEFAULT 0,
          next_attempt_at INTEGER NOT NULL,
          last_error TEXT
        ) WITHOUT ROWID;
        CREATE INDEX outbox_due ON outbox (next_attempt_at);
      `),
  },
  {
    module: 'share',
    version: 2,
    description: 'erasure requests to a policy\'s deletion_endpoint, with their delivery state',
    up: (db) =>
      db.exec(`
        CREATE TABLE erasures (
          id TEXT PRIMARY KEY,
          policy TEXT NOT NULL,
          vendor TEXT NOT NULL,
          version TEXT NOT NULL,
          endpoint TEXT NOT NULL,
          body BLOB NOT NULL,
          body_sha256 TEXT NOT NULL,
          created_at INTEGER NOT NULL,
          state TEXT NOT NULL CHECK (state IN ('queued', 'acknowledged', 'failed')),
          attempts INTEGER NOT NULL DEFAULT 0,
          next_attempt_at INTEGER,
          last_error TEXT,
          finished_at INTEGER,
          http_status INTEGER
        ) WITHOUT ROWID;
        CREATE INDEX erasures_due ON erasures (state, next_attempt_at);
      `),
  },
];

export interface StoredSummary {
  id: string;
  policy: string;
  vendor: string;
  version: string;
  windowStart: number;
  windowEnd: number;
  body: Buffer | null;
  bodySha256: string;
  createdAt: number;
  state: 'queued' | 'delivered' | 'failed' | 'dropped';
  finishedAt: number | null;
  httpStatus: number | null;
  attempts: number | null;
  lastError: string | null;
}

/**
 * Whether the vendor has accepted the household's terms (src/terms implements it). [TERMS-1]
 * without an agreement nothing is produced for or sent to the vendor.
 */
export interface TermsGate {
  standing(vendor: string): { ok: true; sha256: string } | { ok: false; message: string };
}

/** A claimed delivery: the same stored bytes on every attempt. */
export interface Claim {
  summaryId: string;
  policy: ApprovedPolicy;
  endpoint: string;
  body: Buffer;
  bodySha256: string;
  attempt: number;
  /** The last summary this vendor acknowledged before this one, for `Sluice-Previous` (null: none yet). */
  previous: PreviousSummary | null;
  /** SHA-256 of the household's IEEE 7012 agreement in force with the vendor, for `Sluice-Agreement` (null: terms not required). */
  agreement: string | null;
}

/** How one attempt ended when it did not reach a 2xx. */
export type AttemptOutcome = 'http' | 'refused' | 'timeout' | 'tls' | 'network';

/** A policy's summaries by where they are: waiting for a first attempt, waiting to be retried, given up. */
export interface DeliveryCounts {
  queued: number;
  retrying: number;
  failed: number;
}

export type ClaimOutcome =
  | { kind: 'none'; nextDueAt: number | null }
  | { kind: 'dropped'; summaryId: string; reason: string }
  | { kind: 'deferred'; summaryId: string; error: SluiceError }
  | { kind: 'claimed'; claim: Claim };

interface DueRow {
  summary_id: string;
  policy: string;
  endpoint: string;
  attempts: number;
  body: Buffer;
  body_sha256: string;
  vendor: string;
  version: string;
}

/**
 * Summaries waiting to leave, and the record of those that left. Every state change that
 * matters to the household commits together with its ledger row.
 */
export class Outbox {
  constructor(private readonly deps: { db: SluiceDatabase; ledger: Ledger; book: PolicyBook; clock: Clock; terms?: TermsGate }) {}

  /** Stores a summary and queues it, inside the caller's transaction; false when it already exists. */
  enqueue(summary: Summary, endpoint: string): boolean {
    const d = summary.document;
    const now = this.deps.clock.now();
    const windowStart = Date.parse(d.window.start);
    const windowEnd = Date.parse(d.window.end);
    // A summary dropped at a revocation may be produced again after a new approval.
    this.deps.db.raw.prepare(`DELETE FROM summaries WHERE id = ? AND state = 'dropped'`).run(d.id);
    const inserted = this.deps.db.raw
      .prepare(
        `INSERT OR IGNORE INTO summaries (id, policy, vendor, version, window_start, window_end, body, body_sha256, created_at, state)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'queued')`,
      )
      .run(d.id, d.policy, d.vendor, summary.policyVersion, windowStart, windowEnd, summary.body, summary.bodySha256, now);
    if (inserted.changes === 0) return false;
    this.deps.db.raw.prepare('INSERT INTO outbox (summary_id, policy, endpoint, attempts, next_attempt_at) VALUES (?, ?, ?, 0, ?)').run(d.id, d.policy, endpoint, now);
    return true;
  }

  get(id: string): StoredSummary | null {
    return this.list({ id })[0] ?? null;
  }

  list(filter: { id?: string; policy?: string } = {}): StoredSummary[] {
    const rows = this.deps.db.raw
      .prepare<unknown[], Record<string, unknown>>(
        `SELECT s.*, o.attempts, o.last_error FROM summaries s LEFT JOIN outbox o ON o.summary_id = s.id
          WHERE (? IS NULL OR s.id = ?) AND (? IS NULL OR s.policy = ?) ORDER BY s.window_start, s.id`,
      )
      .all(filter.id ?? null, filter.id ?? null, filter.policy ?? null, filter.policy ?? null);
    return rows.map((r) => ({
      id: r.id as string,
      policy: r.policy as string,
      vendor: r.vendor as string,
      version: r.version as string,
      windowStart: r.window_start as number,
      windowEnd: r.window_end as number,
      body: (r.body as Buffer | null) ?? null,
      bodySha256: r.body_sha256 as string,
      createdAt: r.created_at as number,
      state: r.state as StoredSummary['state'],
      finishedAt: (r.finished_at as number | null) ?? null,
      httpStatus: (r.http_status as number | null) ?? null,
      attempts: (r.attempts as number | null) ?? null,
      lastError: (r.last_error as string | null) ?? null,
    }));
  }

  /**
   * Claims the next due delivery in one transaction that re-checks the policy: a revoked or
   * expired policy's summary is deleted, never sent; otherwise the attempt is recorded in the
   * ledger with the body's hash before a byte leaves. `leaseMs` keeps a claimed row from being
   * claimed again while its request is in flight (or after a crash, until the lease ends).
   */
  claim(leaseMs: number, keyCheck: (policy: ApprovedPolicy) => void): ClaimOutcome {
    return this.deps.db.tx((): ClaimOutcome => {
      const now = this.deps.clock.now();
      const row = this.deps.db.raw
        .prepare<[number], DueRow>(
          `SELECT o.summary_id, o.policy, o.endpoint, o.attempts, s.body, s.body_sha256, s.vendor, s.version
             FROM outbox o JOIN summaries s ON s.id = o.summary_id
            WHERE o.next_attempt_at <= ? ORDER BY o.next_attempt_at, s.window_start, o.summary_id LIMIT 1`,
        )
        .get(now);
      if (!row) {
        const next = this.deps.db.raw.prepare<[], { at: number | null }>('SELECT MIN(next_attempt_at) AS at FROM outbox').get();
        return { kind: 'none', nextDueAt: next?.at ?? null };
      }
      const standing = this.deps.book.standing(row.policy);
      if (!standing.inForce && standing.reason === 'waiting') {
        // [CONSENT-1] a member it concerns now has not approved: it waits, unsent, until they do (a veto drops it).
        const err = notInForceError(row.policy, standing.reason, standing.waitingFor);
        this.deps.db.raw.prepare('UPDATE outbox SET next_attempt_at = ?, last_error = ? WHERE summary_id = ?').run(now + leaseMs, err.message, row.summary_id);
        return { kind: 'deferred', summaryId: row.summary_id, error: err };
      }
      if (!standing.inForce) {
        const reason = standing.reason === 'revoked' ? 'revoked' : 'expired';
        // The expiry is recorded in the transaction that drops the summary it stops.
        if (standing.reason === 'expired') this.deps.book.recordExpiries();
        this.dropRow(row.summary_id, row.vendor, row.policy, row.version, reason);
        return { kind: 'dropped', summaryId: row.summary_id, reason };
      }
      const policy = standing.approved;
      const terms = this.deps.terms?.standing(row.vendor);
      try {
        keyCheck(policy);
        // [TERMS-1] a summary queued under an agreement that is no longer in force waits, unsent.
        if (terms && !terms.ok) throw new SluiceError('SLUICE_ERR_TERMS_NOT_ACCEPTED', `summary ${row.summary_id} waits: ${terms.message}`);
      } catch (err) {
        if (!isSluiceError(err)) throw err;
        this.deps.db.raw.prepare('UPDATE outbox SET next_attempt_at = ?, last_error = ? WHERE summary_id = ?').run(now + leaseMs, err.message, row.summary_id);
        return { kind: 'deferred', summaryId: row.summary_id, error: err };
      }
      const attempt = row.attempts + 1;
      this.deps.db.raw.prepare('UPDATE outbox SET attempts = ?, next_attempt_at = ? WHERE summary_id = ?').run(attempt, now + leaseMs, row.summary_id);
      const previous = this.lastDelivered(row.vendor, row.summary_id);
      this.deps.ledger.append({
        kind: 'disclosure.attempted',
        vendor: row.vendor,
        policy: row.policy,
        version: row.version,
        summaryId: row.summary_id,
        detail: { endpoint: row.endpoint, attempt, body_sha256: row.body_sha256, bytes: row.body.length, previous: previous?.id ?? null, ...(terms?.ok ? { agreement: terms.sha256 } : {}) },
      });
      return { kind: 'claimed', claim: { summaryId: row.summary_id, policy, endpoint: row.endpoint, body: row.body, bodySha256: row.body_sha256, attempt, previous, agreement: terms?.ok ? terms.sha256 : null } };
    });
  }

  /** The vendor acknowledged (2xx): the ledger says so, in the same transaction as the outbox. */
  acknowledged(claim: Claim, status: number): void {
    this.finish(claim, 'delivered', status, 'disclosure.acknowledged', (now) => ({ status, at: new Date(now).toISOString(), attempt: claim.attempt }));
  }

  /** A retryable failure: try again at `retryAt`; the attempt's outcome goes on the record. */
  retryLater(claim: Claim, retryAt: number, error: string, status: number | null = null, outcome: AttemptOutcome = status === null ? 'network' : 'http'): void {
    this.deps.db.tx(() => {
      this.deps.db.raw.prepare('UPDATE outbox SET next_attempt_at = ?, last_error = ? WHERE summary_id = ?').run(retryAt, error, claim.summaryId);
      this.deps.ledger.append({
        kind: 'disclosure.retrying',
        vendor: claim.policy.vendor,
        policy: claim.policy.name,
        version: claim.policy.hash,
        summaryId: claim.summaryId,
        detail: { attempt: claim.attempt, status, outcome, error, retry_at: new Date(retryAt).toISOString() },
      });
    });
  }

  /** A permanent failure (the vendor refused it, or attempts ran out): no more attempts. */
  failed(claim: Claim, status: number | null, error: string, outcome: AttemptOutcome = status === null ? 'network' : 'http'): void {
    this.finish(claim, 'failed', status, 'disclosure.failed', () => ({ status, outcome, error, attempt: claim.attempt }));
  }

  /** The last summary acknowledged by this vendor (other than `except`), newest first by when it was acknowledged. */
  lastDelivered(vendor: string, except?: string): PreviousSummary | null {
    const row = this.deps.db.raw
      .prepare<[string, string], { id: string; body_sha256: string }>(
        `SELECT id, body_sha256 FROM summaries WHERE vendor = ? AND state = 'delivered' AND id <> ? ORDER BY finished_at DESC, id DESC LIMIT 1`,
      )
      .get(vendor, except ?? '');
    return row ? { id: row.id, bodySha256: row.body_sha256 } : null;
  }

  /** How many summaries wait to leave (a first attempt or a retry), over every policy. */
  depth(): number {
    return this.deps.db.raw.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM outbox').get()?.n ?? 0;
  }

  /** How many of a policy's summaries wait for a first attempt, wait for a retry, or failed for good. */
  counts(policy: string): DeliveryCounts {
    const r = this.deps.db.raw
      .prepare<[{ policy: string }], DeliveryCounts>(
        `SELECT (SELECT COUNT(*) FROM outbox WHERE policy = @policy AND attempts = 0) AS queued,
                (SELECT COUNT(*) FROM outbox WHERE policy = @policy AND attempts > 0) AS retrying,
                (SELECT COUNT(*) FROM summaries WHERE policy = @policy AND state = 'failed') AS failed`,
      )
      .get({ policy });
    return r ?? { queued: 0, retrying: 0, failed: 0 };
  }

  /**
   * Queues a failed summary again: the same id and the same stored bytes, so the vendor's
   * Idempotency-Key still holds; the household's request is on the record. Inside the caller's transaction.
   */
  resend(id: string, endpoint: string): StoredSummary {
    const s = this.get(id);
    if (!s || s.state !== 'failed' || s.body === null) {
      throw new SluiceError('SLUICE_ERR_SUMMARY_NOT_RESENDABLE', `summary ${id} ${!s ? 'does not exist' : `is ${s.state}`}; only a failed summary can be sent again`);
    }
    const now = this.deps.clock.now();
    this.deps.db.raw.prepare(`UPDATE summaries SET state = 'queued', finished_at = NULL, http_status = NULL WHERE id = ?`).run(id);
    this.deps.db.raw.prepare('INSERT INTO outbox (summary_id, policy, endpoint, attempts, next_attempt_at) VALUES (?, ?, ?, 0, ?)').run(id, s.policy, endpoint, now);
    this.deps.ledger.append({ kind: 'disclosure.resent', vendor: s.vendor, policy: s.policy, version: s.version, summaryId: id, detail: { body_sha256: s.bodySha256 } });
    return this.get(id)!;
  }

  /** Ends a summary's delivery: out of the outbox, its final state, and the ledger row, in one transaction. */
  private finish(claim: Claim, state: 'delivered' | 'failed', status: number | null, kind: 'disclosure.acknowledged' | 'disclosure.failed', detail: (now: number) => Record<string, unknown>): void {
    this.deps.db.tx(() => {
      const now = this.deps.clock.now();
      this.deps.db.raw.prepare('DELETE FROM outbox WHERE summary_id = ?').run(claim.summaryId);
      this.deps.db.raw.prepare('UPDATE summaries SET state = ?, finished_at = ?, http_status = ? WHERE id = ?').run(state, now, status, claim.summaryId);
      this.deps.ledger.append({
        kind,
        vendor: claim.policy.vendor,
        policy: claim.policy.name,
        version: claim.policy.hash,
        summaryId: claim.summaryId,
        detail: detail(now),
      });
    });
  }

  /**
   * [CONSENT-6] The policy's summaries held while it waited for a member, never attempted, are due
   * at once, so they leave before the windows caught up after them (claims go oldest window first
   * among equally due rows). Inside the approval's transaction; returns how many.
   */
  releaseHeld(policy: string): number {
    const now = this.deps.clock.now();
    return this.deps.db.raw.prepare('UPDATE outbox SET next_attempt_at = ? WHERE policy = ? AND attempts = 0 AND next_attempt_at > ?').run(now, policy, now).changes;
  }

  /** Deletes every queued summary of a policy (inside the revocation's transaction); returns how many. */
  dropPolicy(policy: string, reason: string): number {
    const rows = this.deps.db.raw
      .prepare<[string], { summary_id: string; vendor: string; version: string }>(
        'SELECT o.summary_id, s.vendor, s.version FROM outbox o JOIN summaries s ON s.id = o.summary_id WHERE o.policy = ?',
      )
      .all(policy);
    for (const r of rows) this.dropRow(r.summary_id, r.vendor, policy, r.version, reason);
    return rows.length;
  }

  private dropRow(summaryId: string, vendor: string, policy: string, version: string, reason: string): void {
    if (!this.deps.db.raw.inTransaction) throw new SluiceError('SLUICE_ERR_INTERNAL', 'dropRow runs inside a transaction');
    this.deps.db.raw.prepare('DELETE FROM outbox WHERE summary_id = ?').run(summaryId);
    // [PRIV-9] a summary that may no longer be sent is deleted, body and all; only its hash stays.
    this.deps.db.raw.prepare(`UPDATE summaries SET state = 'dropped', body = NULL, finished_at = ? WHERE id = ?`).run(this.deps.clock.now(), summaryId);
    this.deps.ledger.append({ kind: 'disclosure.dropped', vendor, policy, version, summaryId, detail: { reason } });
  }
}
