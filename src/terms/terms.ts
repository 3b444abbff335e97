import { createHmac } from 'node:crypto';
import { SluiceError, sha256Hex, type Clock, type SluiceDatabase } from '../core/index.js';
import type { Ledger, LedgerKind } from '../ledger/index.js';
import type { ApprovedPolicy, PolicyBook } from '../policy/index.js';
import { gatewaySecret } from '../share/index.js';
import { householdPseudonym, normaliseVendor, vendorKey } from '../summarise/index.js';
import { acceptanceDocument, agreementOf, checkAnswer, documentBytes, profferDocument, termsKey } from './documents.js';
import { DEFAULT_TERM, TERMS, isTermId, type TermId } from './roster.js';

export type ExchangeState = 'proffered' | 'countered' | 'accepting' | 'accepted' | 'declined' | 'refused' | 'failed' | 'superseded';

/** One round of terms with one vendor, as the household sees it. */
export interface Exchange {
  id: string;
  vendor: string;
  vendorName: string;
  policy: string;
  term: TermId;
  endpoint: string;
  state: ExchangeState;
  proffer: Record<string, unknown>;
  answer: Record<string, unknown> | null;
  counter: Record<string, unknown> | null;
  agreedTerm: TermId | null;
  agreement: Record<string, unknown> | null;
  agreementSha256: string | null;
  vendorKey: string | null;
  attempts: number;
  nextAttemptAt: number | null;
  lastError: string | null;
  httpStatus: number | null;
  decidedBy: string | null;
  createdAt: number;
  updatedAt: number;
}

/** What the household's terms with a vendor are to be, from its policies in force. */
export interface WantedTerms {
  vendor: string;
  vendorName: string;
  /** The policy whose settings and signing key the exchange uses: the first by name. */
  policy: ApprovedPolicy;
  term: TermId;
  endpoint: string;
  pinnedKey: string | null;
}

/** A claimed delivery of the household's current document (proffer or acceptance). */
export interface TermsClaim {
  exchangeId: string;
  policy: ApprovedPolicy;
  vendorName: string;
  endpoint: string;
  body: Buffer;
  sentId: string;
  attempt: number;
}

/** Whether summaries may go to a vendor: the agreement in force, or why not. */
export type TermsStanding = { ok: true; sha256: string; term: TermId } | { ok: false; message: string; state: ExchangeState | 'none' };

export interface TermsDeps {
  db: SluiceDatabase;
  ledger: Ledger;
  book: PolicyBook;
  clock: Clock;
  dataDir: string;
  /** Called inside the agreement's transaction: the consent records of this vendor carry its hash. */
  onAgreed?: (vendor: string, sha256: string, ledgerSeq: number, by: string | null) => void;
}

interface Row {
  id: string;
  vendor: string;
  vendor_name: string;
  policy: string;
  term: string;
  endpoint: string;
  state: ExchangeState;
  proffer: Buffer;
  sent: Buffer;
  sent_id: string;
  answer: Buffer | null;
  counter: Buffer | null;
  agreed_term: string | null;
  agreement: Buffer | null;
  agreement_sha256: string | null;
  vendor_key: string | null;
  attempts: number;
  next_attempt_at: number | null;
  last_error: string | null;
  http_status: number | null;
  decided_by: string | null;
  created_at: number;
  updated_at: number;
}

const json = (b: Buffer | null): Record<string, unknown> | null => (b ? (JSON.parse(b.toString('utf8')) as Record<string, unknown>) : null);

const toExchange = (r: Row): Exchange => ({
  id: r.id,
  vendor: r.vendor,
  vendorName: r.vendor_name,
  policy: r.policy,
  term: r.term as TermId,
  endpoint: r.endpoint,
  state: r.state,
  proffer: json(r.proffer)!,
  answer: json(r.answer),
  counter: json(r.counter),
  agreedTerm: (r.agreed_term as TermId | null) ?? null,
  agreement: json(r.agreement),
  agreementSha256: r.agreement_sha256,
  vendorKey: r.vendor_key,
  attempts: r.attempts,
  nextAttemptAt: r.next_attempt_at,
  lastError: r.last_error,
  httpStatus: r.http_status,
  decidedBy: r.decided_by,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

/** The default terms endpoint: `/.well-known/myterms.json` at the origin of the summaries' endpoint. */
export function defaultTermsEndpoint(endpoint: string): string {
  return new URL('/.well-known/myterms.json', endpoint).href;
}

/**
 * The household's terms with each vendor (IEEE 7012 MyTerms). [TERMS-1] nothing is produced
 * or sent to a vendor until it has accepted the household's term; the proffer itself leaves
 * only once a policy for that vendor is in force, since it tells the vendor the household exists.
 */
export class Terms {
  constructor(private readonly deps: TermsDeps) {}

  /** The terms each vendor with a policy in force is to be proffered, keyed by normalised vendor. */
  wanted(): Map<string, WantedTerms> {
    const { book } = this.deps;
    const out = new Map<string, WantedTerms>();
    for (const name of book.names()) {
      const approved = book.inForce(name);
      if (!approved) continue;
      const p = approved.effective.policy;
      // [PRIV-OPEN-1] an open-data collector gets no proffer: it would carry a household pseudonym and a signature.
      if ((p as { kind?: string }).kind === 'open-data') continue;
      const v = normaliseVendor(p.vendor);
      // [TERMS-2] only SD-BASE-DP or SD-BASE from a file; the strictest of a vendor's policies is proffered.
      const term: TermId = p.terms?.proffer ?? approved.effective.defaults.terms?.proffer ?? DEFAULT_TERM;
      const prev = out.get(v);
      if (!prev) {
        out.set(v, { vendor: v, vendorName: p.vendor, policy: approved, term, endpoint: p.terms?.endpoint ?? defaultTermsEndpoint(p.endpoint), pinnedKey: p.terms?.vendor_key ?? null });
      } else {
        if (TERMS[term].rank < TERMS[prev.term].rank) prev.term = term;
        prev.pinnedKey ??= p.terms?.vendor_key ?? null;
      }
    }
    return out;
  }

  /** The latest exchange with a vendor. */
  current(vendor: string): Exchange | null {
    const row = this.deps.db.raw
      .prepare<[string], Row>('SELECT * FROM terms_exchanges WHERE vendor = ? ORDER BY rowid DESC LIMIT 1')
      .get(normaliseVendor(vendor));
    return row ? toExchange(row) : null;
  }

  list(): Exchange[] {
    return this.deps.db.raw
      .prepare<[], Row>('SELECT e.* FROM terms_exchanges e WHERE e.rowid = (SELECT MAX(rowid) FROM terms_exchanges x WHERE x.vendor = e.vendor) ORDER BY e.vendor')
      .all()
      .map(toExchange);
  }

  /** Every exchange with one vendor, oldest first. */
  history(vendor: string): Exchange[] {
    return this.deps.db.raw.prepare<[string], Row>('SELECT * FROM terms_exchanges WHERE vendor = ? ORDER BY rowid').all(normaliseVendor(vendor)).map(toExchange);
  }

  /** Whether summaries may go to this vendor now; reads only. */
  standing(vendor: string, wanted: WantedTerms | undefined = this.wanted().get(normaliseVendor(vendor))): TermsStanding {
    const cur = this.current(vendor);
    if (cur?.state === 'accepted' && cur.agreementSha256 && (!wanted || wanted.term === cur.term)) return { ok: true, sha256: cur.agreementSha256, term: cur.agreedTerm ?? cur.term };
    const name = cur?.vendorName ?? wanted?.vendorName ?? vendor;
    const waiting = `terms not accepted by ${name}`;
    if (!cur || cur.state === 'superseded' || cur.state === 'accepted') return { ok: false, state: 'none', message: `${waiting}: ${wanted?.term ?? DEFAULT_TERM} is not proffered yet (it is once a policy for ${name} is in force and the gateway runs)` };
    const detail: Record<Exclude<ExchangeState, 'superseded' | 'accepted'>, string> = {
      proffered: `${cur.term} proffered, waiting for its answer${cur.lastError ? ` (last attempt: ${cur.lastError})` : ''}`,
      countered: `${name} counter-offered ${cur.counter ? String((cur.counter.term as { id: string }).id) : '?'}: sluice terms accept|decline ${name}`,
      accepting: `the household accepted ${name}'s counter-offer; waiting for ${name} to confirm`,
      declined: `${name} declined ${cur.term}`,
      refused: `the household declined ${name}'s counter-offer`,
      failed: `the proffer could not be delivered: ${cur.lastError ?? 'failed'} (sluice terms proffer ${name} asks again)`,
    };
    return { ok: false, state: cur.state, message: `${waiting}: ${detail[cur.state]}` };
  }

  /** The agreement hash in force with this vendor, or null. */
  agreementSha256(vendor: string): string | null {
    const s = this.standing(vendor);
    return s.ok ? s.sha256 : null;
  }

  /**
   * Queues a proffer for every vendor with a policy in force whose wanted term has no exchange
   * yet (or a different term: the old one is superseded); a declined or failed one waits for the
   * household (`terms proffer`). Returns how many were queued.
   */
  prepare(): number {
    return this.deps.db.tx(() => {
      const wanted = this.wanted();
      let queued = 0;
      for (const w of wanted.values()) {
        const cur = this.current(w.vendor);
        if (cur && cur.state !== 'superseded' && cur.term === w.term) continue;
        if (cur && cur.state !== 'superseded') this.supersede(cur, `the household now proffers ${w.term}`);
        this.proffer(w);
        queued++;
      }
      // A vendor with no policy in force any more is not asked again.
      for (const cur of this.list()) {
        if ((cur.state === 'proffered' || cur.state === 'accepting') && !wanted.has(cur.vendor)) this.supersede(cur, `no policy for ${cur.vendorName} is in force`);
      }
      return queued;
    });
  }

  /** The household asks again (after a decline, a failed delivery or its own refusal). */
  reproffer(vendor: string, by: string | null): Exchange {
    return this.deps.db.tx(() => {
      const w = this.wanted().get(normaliseVendor(vendor));
      if (!w) throw new SluiceError('SLUICE_ERR_TERMS_STATE', `no policy for ${vendor} is in force: terms are proffered only to a vendor the household shares with`);
      const cur = this.current(w.vendor);
      if (cur && cur.state !== 'superseded') this.supersede(cur, by ? `${by} asked again` : 'the household asked again');
      return this.proffer(w);
    });
  }

  /** Claims the next due document to send; the lease keeps it from being claimed twice while in flight. */
  claim(leaseMs: number): TermsClaim | null {
    const { db, clock } = this.deps;
    return db.tx(() => {
      const now = clock.now();
      const due = db.raw.prepare<[number], Row>(`SELECT * FROM terms_exchanges WHERE state IN ('proffered', 'accepting') AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT 1`);
      for (let row = due.get(now); row; row = due.get(now)) {
        const w = this.wanted().get(row.vendor);
        if (!w) {
          this.supersede(toExchange(row), `no policy for ${row.vendor_name} is in force`);
          continue;
        }
        const attempt = row.attempts + 1;
        db.raw.prepare('UPDATE terms_exchanges SET attempts = ?, next_attempt_at = ?, updated_at = ? WHERE id = ?').run(attempt, now + leaseMs, now, row.id);
        return { exchangeId: row.id, policy: w.policy, vendorName: row.vendor_name, endpoint: row.endpoint, body: row.sent, sentId: row.sent_id, attempt };
      }
      return null;
    });
  }

  /** When the next document is due (null: none waiting). */
  nextDueAt(): number | null {
    return this.deps.db.raw.prepare<[], { at: number | null }>(`SELECT MIN(next_attempt_at) AS at FROM terms_exchanges WHERE state IN ('proffered', 'accepting')`).get()?.at ?? null;
  }

  /**
   * The vendor's answer to the document claimed: checked (format, the document it answers, the
   * vendor's signature), then applied with its ledger rows. An answer that does not check is
   * refused on the record; the caller retries or gives up.
   */
  answered(claim: TermsClaim, body: Buffer): { taken: true; state: ExchangeState } | { taken: false; reason: string } {
    const { db, clock, ledger } = this.deps;
    return db.tx(() => {
      const row = db.raw.prepare<[string], Row>('SELECT * FROM terms_exchanges WHERE id = ?').get(claim.exchangeId);
      if (!row || (row.state !== 'proffered' && row.state !== 'accepting') || row.sent_id !== claim.sentId) return { taken: false as const, reason: 'the exchange moved on while the request was in flight' };
      const ex = toExchange(row);
      const now = clock.now();
      const w = this.wanted().get(row.vendor);
      const pinned = w?.pinnedKey ?? db.raw.prepare<[string], { public_key: string }>('SELECT public_key FROM terms_vendor_keys WHERE vendor = ?').get(row.vendor)?.public_key ?? null;
      let raw: unknown;
      try {
        raw = JSON.parse(body.toString('utf8'));
      } catch {
        raw = undefined;
      }
      const checked = checkAnswer(raw, { id: row.sent_id, sha256: sha256Hex(row.sent) }, pinned);
      const base = { vendor: ex.vendorName, policy: ex.policy, version: claim.policy.hash, summaryId: ex.id };
      if (!checked.ok) {
        ledger.append({ ...base, kind: 'terms.answer_refused', detail: { reason: checked.reason, answer_sha256: sha256Hex(body), attempt: claim.attempt } });
        return { taken: false as const, reason: checked.reason };
      }
      const { answer, publicKey } = checked;
      // Trust on first use when the policy pins no key: every later answer must be signed by this one.
      if (pinned === null) db.raw.prepare('INSERT OR IGNORE INTO terms_vendor_keys (vendor, public_key, pinned_at) VALUES (?, ?, ?)').run(row.vendor, publicKey, now);
      const answerBytes = documentBytes(answer);
      const answered = ledger.append({
        ...base,
        kind: 'terms.answered',
        detail: { decision: answer.decision, term: answer.term.id, answer_sha256: sha256Hex(answerBytes), to: row.state === 'proffered' ? 'proffer' : 'acceptance', vendor_key_sha256: sha256Hex(publicKey), key_pinned: pinned !== null ? 'pinned' : 'first use' },
      });
      const set = (state: ExchangeState, extra: string, ...args: unknown[]) =>
        db.raw.prepare(`UPDATE terms_exchanges SET state = ?, answer = ?, vendor_key = ?, next_attempt_at = NULL, last_error = NULL, http_status = 200, updated_at = ?${extra} WHERE id = ?`).run(state, answerBytes, publicKey, now, ...args, ex.id);
      const expected: TermId = row.state === 'proffered' ? ex.term : (ex.counter!.term as { id: TermId }).id;
      if (answer.decision === 'accept' && answer.term.id === expected) {
        const agreement = agreementOf(JSON.parse(row.sent.toString('utf8')) as Record<string, unknown>, answer);
        set('accepted', ', agreed_term = ?, agreement = ?, agreement_sha256 = ?', expected, agreement.bytes, agreement.sha256);
        const agreed = ledger.append({ ...base, kind: 'terms.agreed', detail: { term: expected, proffered: ex.term, agreement_sha256: agreement.sha256, decision_seq: answered.seq } });
        this.deps.onAgreed?.(ex.vendorName, agreement.sha256, agreed.seq, ex.decidedBy);
        return { taken: true as const, state: 'accepted' as const };
      }
      if (answer.decision === 'counter' && row.state === 'proffered' && answer.term.id !== ex.term) {
        set('countered', ', counter = ?', answerBytes);
        return { taken: true as const, state: 'countered' as const };
      }
      // A decline, an accept of another term, or a second counter-offer: the vendor does not take the household's term.
      set('declined', '');
      return { taken: true as const, state: 'declined' as const };
    });
  }

  retryLater(claim: TermsClaim, retryAt: number, error: string, status: number | null): void {
    this.deps.db.tx(() => {
      this.deps.db.raw.prepare('UPDATE terms_exchanges SET next_attempt_at = ?, last_error = ?, http_status = ?, updated_at = ? WHERE id = ? AND sent_id = ?').run(retryAt, error, status, this.deps.clock.now(), claim.exchangeId, claim.sentId);
      this.append('terms.retrying', claim, { attempt: claim.attempt, status, error, retry_at: new Date(retryAt).toISOString() });
    });
  }

  failed(claim: TermsClaim, status: number | null, error: string): void {
    this.deps.db.tx(() => {
      this.deps.db.raw
        .prepare(`UPDATE terms_exchanges SET state = 'failed', next_attempt_at = NULL, last_error = ?, http_status = ?, updated_at = ? WHERE id = ? AND sent_id = ? AND state IN ('proffered', 'accepting')`)
        .run(error, status, this.deps.clock.now(), claim.exchangeId, claim.sentId);
      this.append('terms.failed', claim, { attempt: claim.attempt, status, error });
    });
  }

  /** A member takes the vendor's counter-offer: the household's signed acceptance is queued for the vendor to confirm. */
  accept(vendor: string, by: string | null): Exchange {
    return this.choose(vendor, by, 'accept');
  }

  /** A member declines the vendor's counter-offer: nothing is sent to that vendor. */
  decline(vendor: string, by: string | null): Exchange {
    return this.choose(vendor, by, 'decline');
  }

  private choose(vendor: string, by: string | null, choice: 'accept' | 'decline'): Exchange {
    const { db, clock, ledger } = this.deps;
    return db.tx(() => {
      const cur = this.current(vendor);
      if (!cur) throw new SluiceError('SLUICE_ERR_TERMS_UNKNOWN', `no terms with ${vendor}; list them with: sluice terms list`);
      if (cur.state !== 'countered' || !cur.counter) {
        throw new SluiceError('SLUICE_ERR_TERMS_STATE', `the terms with ${cur.vendorName} are ${cur.state}; only a counter-offer is accepted or declined by the household`);
      }
      const now = clock.now();
      const counterTerm = (cur.counter.term as { id: string }).id;
      if (!isTermId(counterTerm)) throw new SluiceError('SLUICE_ERR_INTERNAL', `stored counter-offer names an unknown term ${counterTerm}`);
      const w = this.wanted().get(cur.vendor);
      const version = w?.policy.hash ?? null;
      if (choice === 'decline') {
        db.raw.prepare(`UPDATE terms_exchanges SET state = 'refused', decided_by = ?, updated_at = ? WHERE id = ?`).run(by, now, cur.id);
        ledger.append({ kind: 'terms.chosen', vendor: cur.vendorName, policy: cur.policy, version, summaryId: cur.id, detail: { choice, by, term: counterTerm, proffered: cur.term } });
        return this.current(vendor)!;
      }
      const key = this.vendorKeyOf(cur.vendorName);
      const id = this.documentId(key, 'acceptance', counterTerm, now);
      const doc = acceptanceDocument({ id, vendor: cur.vendorName, household: householdPseudonym(key), term: counterTerm, counterSha256: sha256Hex(documentBytes(cur.counter)), at: new Date(now).toISOString(), key: termsKey(key) });
      const bytes = documentBytes(doc);
      db.raw
        .prepare(`UPDATE terms_exchanges SET state = 'accepting', sent = ?, sent_id = ?, decided_by = ?, attempts = 0, next_attempt_at = ?, last_error = NULL, updated_at = ? WHERE id = ?`)
        .run(bytes, id, by, now, now, cur.id);
      ledger.append({ kind: 'terms.chosen', vendor: cur.vendorName, policy: cur.policy, version, summaryId: cur.id, detail: { choice, by, term: counterTerm, proffered: cur.term, endpoint: cur.endpoint, body_sha256: sha256Hex(bytes) } });
      return this.current(vendor)!;
    });
  }

  private proffer(w: WantedTerms): Exchange {
    const { db, clock, ledger } = this.deps;
    const now = clock.now();
    const key = this.vendorKeyOf(w.vendorName);
    const id = this.documentId(key, 'proffer', w.term, now);
    const doc = profferDocument({ id, vendor: w.vendorName, household: householdPseudonym(key), term: w.term, at: new Date(now).toISOString(), key: termsKey(key) });
    const bytes = documentBytes(doc);
    db.raw
      .prepare(
        `INSERT INTO terms_exchanges (id, vendor, vendor_name, policy, term, endpoint, state, proffer, sent, sent_id, attempts, next_attempt_at, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, 'proffered', ?, ?, ?, 0, ?, ?, ?)`,
      )
      .run(id, w.vendor, w.vendorName, w.policy.name, w.term, w.endpoint, bytes, bytes, id, now, now, now);
    ledger.append({ kind: 'terms.proffered', vendor: w.vendorName, policy: w.policy.name, version: w.policy.hash, summaryId: id, detail: { term: w.term, endpoint: w.endpoint, body_sha256: sha256Hex(bytes), vendor_key: w.pinnedKey !== null ? 'pinned' : 'first use' } });
    return this.current(w.vendor)!;
  }

  private supersede(ex: Exchange, reason: string): void {
    this.deps.db.raw.prepare(`UPDATE terms_exchanges SET state = 'superseded', next_attempt_at = NULL, updated_at = ? WHERE id = ?`).run(this.deps.clock.now(), ex.id);
    this.deps.ledger.append({ kind: 'terms.superseded', vendor: ex.vendorName, policy: ex.policy, version: null, summaryId: ex.id, detail: { was: ex.state, reason } });
  }

  private append(kind: LedgerKind, claim: TermsClaim, detail: Record<string, unknown>): void {
    this.deps.ledger.append({ kind, vendor: claim.vendorName, policy: claim.policy.name, version: claim.policy.hash, summaryId: claim.exchangeId, detail });
  }

  private vendorKeyOf(vendor: string): Buffer {
    return vendorKey(gatewaySecret(this.deps.dataDir), vendor);
  }

  /** A document id keyed for this vendor: unique per round, and meaningless to any other vendor. */
  private documentId(key: Buffer, kind: string, term: string, now: number): string {
    const n = this.deps.db.raw.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM terms_exchanges').get()?.n ?? 0;
    return createHmac('sha256', key).update(['sluice-terms-id/1', kind, term, String(now), String(n)].join('\n')).digest('hex').slice(0, 32);
  }
}
