import { createHmac } from 'node:crypto';
import { canonicalJson, sha256Hex, SluiceError, type Clock, type SluiceDatabase } from '../core/index.js';
import type { Ledger } from '../ledger/index.js';
import { isoInZone, type ApprovedPolicy, type PolicyBook } from '../policy/index.js';
import { householdPseudonym, vendorKey as vendorIdKey, vendorVersion } from '../summarise/index.js';
import type { AttemptOutcome } from './outbox.js';
import { gatewaySecret } from './vendor-keys.js';

export const ERASURE_FORMAT = 'sluice.erasure/v1';

export interface ErasureDocument {
  format: typeof ERASURE_FORMAT;
  id: string;
  vendor: string;
  household: string;
  policy: string;
  versions: string[];
  windows: { start: string; end: string }[];
  requested_at: string;
}

export interface StoredErasure {
  id: string;
  policy: string;
  vendor: string;
  endpoint: string;
  bodySha256: string;
  state: 'queued' | 'acknowledged' | 'failed';
  attempts: number;
  httpStatus: number | null;
  lastError: string | null;
  document: ErasureDocument;
}

export interface ErasureClaim {
  erasureId: string;
  policy: ApprovedPolicy;
  endpoint: string;
  body: Buffer;
  bodySha256: string;
  attempt: number;
}

export type ErasureClaimOutcome = { kind: 'none'; nextDueAt: number | null } | { kind: 'deferred'; erasureId: string; error: SluiceError } | { kind: 'claimed'; claim: ErasureClaim };

/**
 * Erasure requests: when a policy with a `deletion_endpoint` stops (revoke, veto, expiry) or on
 * demand, the vendor is asked to delete what it received. The request names only ids the vendor
 * already holds — its own household pseudonym and keyed versions — never a global id. [PRIV-13]
 * Kept apart from the summaries' outbox so a revocation's drop of queued summaries (PRIV-9)
 * can never take the request with it.
 */
export class Erasures {
  constructor(private readonly deps: { db: SluiceDatabase; ledger: Ledger; book: PolicyBook; clock: Clock; timezone: string; dataDir: string }) {}

  /**
   * Queues a request for everything of this policy that may have reached the vendor (summaries
   * delivered, failed, or attempted), inside the caller's transaction (before queued summaries
   * are dropped). Null when the policy names no deletion_endpoint or nothing may have left.
   */
  request(approved: ApprovedPolicy, reason: 'revoked' | 'expired' | 'vetoed' | 'requested'): StoredErasure | null {
    const { db, clock, ledger } = this.deps;
    if (!db.raw.inTransaction) throw new SluiceError('SLUICE_ERR_INTERNAL', 'an erasure request is queued inside its decision\'s transaction');
    const policy = approved.effective.policy;
    const endpoint = policy.deletion_endpoint;
    if (!endpoint) return null;
    const rows = db.raw
      .prepare<[string], { version: string; window_start: number; window_end: number }>(
        `SELECT s.version, s.window_start, s.window_end FROM summaries s LEFT JOIN outbox o ON o.summary_id = s.id
          WHERE s.policy = ? AND (s.state IN ('delivered', 'failed') OR o.attempts > 0)
          ORDER BY s.window_start, s.window_end`,
      )
      .all(approved.name);
    if (rows.length === 0) return null;
    const key = vendorIdKey(gatewaySecret(this.deps.dataDir), policy.vendor);
    const now = clock.now();
    const tz = this.deps.timezone;
    const versions = [...new Set(rows.map((r) => vendorVersion(key, r.version)))].sort();
    const seen = new Set<string>();
    const windows: ErasureDocument['windows'] = [];
    for (const r of rows) {
      const k = `${r.window_start}/${r.window_end}`;
      if (seen.has(k)) continue;
      seen.add(k);
      windows.push({ start: isoInZone(r.window_start, tz), end: isoInZone(r.window_end, tz) });
    }
    const id = createHmac('sha256', key).update(['sluice-erasure-id/1', approved.name, String(now)].join('\n')).digest('hex').slice(0, 32);
    const document: ErasureDocument = {
      format: ERASURE_FORMAT,
      id,
      vendor: policy.vendor,
      household: householdPseudonym(key),
      policy: approved.name,
      versions,
      windows,
      requested_at: isoInZone(now, tz),
    };
    const body = Buffer.from(canonicalJson(document), 'utf8');
    const bodySha256 = sha256Hex(body);
    db.raw
      .prepare(
        `INSERT INTO erasures (id, policy, vendor, version, endpoint, body, body_sha256, created_at, state, attempts, next_attempt_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'queued', 0, ?)`,
      )
      .run(id, approved.name, policy.vendor, approved.hash, endpoint, body, bodySha256, now, now);
    ledger.append({
      kind: 'erasure.requested',
      vendor: policy.vendor,
      policy: approved.name,
      version: approved.hash,
      summaryId: id,
      detail: { reason, endpoint, body_sha256: bodySha256, windows: windows.length, versions: versions.length },
    });
    return this.get(id);
  }

  /**
   * Queues the policy's newest erasure request again after it failed for good: the same id and
   * the same bytes, so the vendor can tell it is the same request; on the ledger as
   * `erasure.resent`. Inside the caller's transaction. (An older failed request is covered by the
   * newest: each names every window that may have reached the vendor.)
   */
  resend(policy: string): StoredErasure {
    const { db, clock, ledger } = this.deps;
    if (!db.raw.inTransaction) throw new SluiceError('SLUICE_ERR_INTERNAL', 'an erasure request is resent inside a transaction');
    const newest = this.list(policy).at(-1);
    if (!newest || newest.state !== 'failed') {
      const why = !newest ? 'has no erasure request' : newest.state === 'queued' ? 'has its erasure request still queued (it is retried on its own)' : 'had its erasure request acknowledged by the vendor';
      throw new SluiceError('SLUICE_ERR_ERASURE_NOT_RESENDABLE', `policy ${policy} ${why}; only a request that failed for good is sent again`);
    }
    const now = clock.now();
    db.raw.prepare(`UPDATE erasures SET state = 'queued', attempts = 0, next_attempt_at = ?, last_error = NULL, finished_at = NULL, http_status = NULL WHERE id = ?`).run(now, newest.id);
    const version = db.raw.prepare<[string], { version: string }>('SELECT version FROM erasures WHERE id = ?').get(newest.id)!.version;
    ledger.append({ kind: 'erasure.resent', vendor: newest.vendor, policy, version, summaryId: newest.id, detail: { endpoint: newest.endpoint, body_sha256: newest.bodySha256, failed_attempts: newest.attempts, last_status: newest.httpStatus } });
    return this.get(newest.id)!;
  }

  get(id: string): StoredErasure | null {
    return this.list().find((e) => e.id === id) ?? null;
  }

  list(policy?: string): StoredErasure[] {
    const rows = this.deps.db.raw
      .prepare<[string | null, string | null], Record<string, unknown>>('SELECT * FROM erasures WHERE (? IS NULL OR policy = ?) ORDER BY created_at, id')
      .all(policy ?? null, policy ?? null);
    return rows.map((r) => ({
      id: r.id as string,
      policy: r.policy as string,
      vendor: r.vendor as string,
      endpoint: r.endpoint as string,
      bodySha256: r.body_sha256 as string,
      state: r.state as StoredErasure['state'],
      attempts: r.attempts as number,
      httpStatus: (r.http_status as number | null) ?? null,
      lastError: (r.last_error as string | null) ?? null,
      document: JSON.parse((r.body as Buffer).toString('utf8')) as ErasureDocument,
    }));
  }

  /** Claims the next due request; the policy is not re-checked (a stopped policy is why it exists), only its signing key. */
  claim(leaseMs: number, keyCheck: (policy: ApprovedPolicy) => void): ErasureClaimOutcome {
    const { db, clock, ledger, book } = this.deps;
    return db.tx((): ErasureClaimOutcome => {
      const now = clock.now();
      const row = db.raw
        .prepare<[number], { id: string; policy: string; endpoint: string; attempts: number; body: Buffer; body_sha256: string }>(
          `SELECT id, policy, endpoint, attempts, body, body_sha256 FROM erasures WHERE state = 'queued' AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT 1`,
        )
        .get(now);
      if (!row) {
        const next = db.raw.prepare<[], { at: number | null }>(`SELECT MIN(next_attempt_at) AS at FROM erasures WHERE state = 'queued'`).get();
        return { kind: 'none', nextDueAt: next?.at ?? null };
      }
      const approved = book.standing(row.policy).approved ?? null;
      try {
        if (!approved) throw new SluiceError('SLUICE_ERR_POLICY_NOT_APPROVED', `policy ${row.policy} has no approved version to sign its erasure request with`);
        keyCheck(approved);
      } catch (err) {
        if (!(err instanceof SluiceError)) throw err;
        db.raw.prepare('UPDATE erasures SET next_attempt_at = ?, last_error = ? WHERE id = ?').run(now + leaseMs, err.message, row.id);
        return { kind: 'deferred', erasureId: row.id, error: err };
      }
      const attempt = row.attempts + 1;
      db.raw.prepare('UPDATE erasures SET attempts = ?, next_attempt_at = ? WHERE id = ?').run(attempt, now + leaseMs, row.id);
      ledger.append({ kind: 'erasure.attempted', vendor: approved.vendor, policy: row.policy, version: approved.hash, summaryId: row.id, detail: { endpoint: row.endpoint, attempt, body_sha256: row.body_sha256 } });
      return { kind: 'claimed', claim: { erasureId: row.id, policy: approved, endpoint: row.endpoint, body: row.body, bodySha256: row.body_sha256, attempt } };
    });
  }

  acknowledged(claim: ErasureClaim, status: number): void {
    this.finish(claim, 'acknowledged', status, { status, attempt: claim.attempt });
  }

  failed(claim: ErasureClaim, status: number | null, error: string, outcome: AttemptOutcome): void {
    this.finish(claim, 'failed', status, { status, outcome, error, attempt: claim.attempt });
  }

  retryLater(claim: ErasureClaim, retryAt: number, error: string, status: number | null, outcome: AttemptOutcome): void {
    this.deps.db.tx(() => {
      this.deps.db.raw.prepare('UPDATE erasures SET next_attempt_at = ?, last_error = ? WHERE id = ?').run(retryAt, error, claim.erasureId);
      this.deps.ledger.append({
        kind: 'erasure.retrying',
        vendor: claim.policy.vendor,
        policy: claim.policy.name,
        version: claim.policy.hash,
        summaryId: claim.erasureId,
        detail: { attempt: claim.attempt, status, outcome, error, retry_at: new Date(retryAt).toISOString() },
      });
    });
  }

  private finish(claim: ErasureClaim, state: 'acknowledged' | 'failed', status: number | null, detail: Record<string, unknown>): void {
    this.deps.db.tx(() => {
      this.deps.db.raw.prepare('UPDATE erasures SET state = ?, finished_at = ?, http_status = ?, next_attempt_at = NULL WHERE id = ?').run(state, this.deps.clock.now(), status, claim.erasureId);
      this.deps.ledger.append({ kind: state === 'acknowledged' ? 'erasure.acknowledged' : 'erasure.failed', vendor: claim.policy.vendor, policy: claim.policy.name, version: claim.policy.hash, summaryId: claim.erasureId, detail });
    });
  }
}
