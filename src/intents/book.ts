import type { Clock, Migration, SluiceDatabase } from '../core/index.js';
import { SluiceError, canonicalJson, sha256Hex } from '../core/index.js';
import type { Ledger } from '../ledger/index.js';
import { acceptanceDocument, freshIdentity, intentContent, intentDocument, offersDeadline, type IntentRequest, type IntentWhere, type OfferDocument } from './documents.js';
import { baselineKey, type Firing, type RuleMemory } from './evaluate.js';
import type { IntentRule } from './rules.js';

export const intentMigrations: Migration[] = [
  {
    module: 'intents',
    version: 1,
    description: 'draft and open intents, where each went, the offers received, and what each rule remembers',
    up: (db) =>
      db.exec(`
        CREATE TABLE intents (
          id INTEGER PRIMARY KEY AUTOINCREMENT,
          rule TEXT NOT NULL,
          device_id TEXT NOT NULL,
          reading TEXT NOT NULL,
          request TEXT NOT NULL,
          vendors TEXT NOT NULL,
          draft_sha256 TEXT NOT NULL,
          offers_for INTEGER NOT NULL,
          state TEXT NOT NULL CHECK (state IN ('draft', 'dropped', 'open', 'accepted', 'closed')),
          created_at INTEGER NOT NULL,
          decided_at INTEGER,
          decided_by TEXT,
          offers_until INTEGER,
          reply TEXT,
          document TEXT,
          private_key TEXT,
          closed_at INTEGER,
          close_reason TEXT
        );
        CREATE INDEX intents_state ON intents (state);
        CREATE TABLE intent_deliveries (
          intent_id INTEGER NOT NULL REFERENCES intents (id),
          vendor TEXT NOT NULL,
          endpoint TEXT NOT NULL,
          public_key TEXT NOT NULL,
          sent_at INTEGER,
          polled_at INTEGER,
          last_error TEXT,
          PRIMARY KEY (intent_id, vendor)
        ) WITHOUT ROWID;
        CREATE TABLE offers (
          id INTEGER PRIMARY KEY AUTOINCREMENT,
          intent_id INTEGER NOT NULL REFERENCES intents (id),
          vendor TEXT NOT NULL,
          offer_id TEXT NOT NULL,
          body TEXT NOT NULL,
          amount REAL NOT NULL,
          currency TEXT NOT NULL,
          delivery_by TEXT NOT NULL,
          valid_until INTEGER NOT NULL,
          terms_accepted INTEGER NOT NULL,
          received_at INTEGER NOT NULL,
          state TEXT NOT NULL CHECK (state IN ('received', 'accepted', 'declined')),
          acceptance TEXT,
          acceptance_sent_at INTEGER,
          acceptance_error TEXT,
          UNIQUE (intent_id, vendor, offer_id)
        );
        CREATE TABLE intent_rule_memory (
          rule TEXT NOT NULL,
          device_id TEXT NOT NULL,
          last_fired_at INTEGER,
          baseline REAL,
          PRIMARY KEY (rule, device_id)
        ) WITHOUT ROWID;
      `),
  },
  {
    module: 'intents',
    version: 2,
    description: "each vendor's copy of an intent is its own: a key pair, reply reference and id per vendor",
    // Rows of version 1 keep the intent's one identity in `intents`; the COALESCEs below read either.
    up: (db) =>
      db.exec(`
        ALTER TABLE intent_deliveries ADD COLUMN reply TEXT;
        ALTER TABLE intent_deliveries ADD COLUMN document TEXT;
        ALTER TABLE intent_deliveries ADD COLUMN private_key TEXT;
        CREATE UNIQUE INDEX intent_deliveries_reply ON intent_deliveries (reply) WHERE reply IS NOT NULL;
      `),
  },
];

export type IntentState = 'draft' | 'dropped' | 'open' | 'accepted' | 'closed';

/** `sluice intents list --json`: one row per intent. */
export interface IntentRow {
  id: number;
  rule: string;
  state: IntentState;
  what: string;
  quantity: number;
  need_by: string;
  budget: { max: number; currency: string } | null;
  vendors: string[];
  created_at: string;
  offers_until: string | null;
  offers: number;
}

/** `sluice intents show --json`: the row plus what fired it (kept here) and the document as sent. */
export interface IntentDetail extends IntentRow {
  device_id: string;
  reading: { metric: string; component: string; value: unknown; ts: number };
  draft_sha256: string;
  decided_by: string | null;
  closed_at: string | null;
  close_reason: string | null;
  /** What every vendor's copy says; the ids, key and signature differ per vendor (in `deliveries`). */
  document: Record<string, unknown> | null;
  deliveries: Array<{ vendor: string; sent_at: string | null; last_error: string | null; document: Record<string, unknown> | null }>;
}

/** `sluice offers list --json`. */
export interface OfferRow {
  id: number;
  intent: number;
  vendor: string;
  price: { amount: number; currency: string };
  delivery_by: string;
  valid_until: string;
  terms_accepted: boolean;
  received_at: string;
  state: 'received' | 'accepted' | 'declined';
  acceptance_sent: boolean;
}

export interface StoredVendor {
  name: string;
  endpoint: string;
  public_key: string;
}

interface IntentDbRow {
  id: number;
  rule: string;
  device_id: string;
  reading: string;
  request: string;
  vendors: string;
  draft_sha256: string;
  offers_for: number;
  state: IntentState;
  created_at: number;
  decided_at: number | null;
  decided_by: string | null;
  offers_until: number | null;
  reply: string | null;
  document: string | null;
  private_key: string | null;
  closed_at: number | null;
  close_reason: string | null;
  offers: number;
}

interface OfferDbRow {
  id: number;
  intent_id: number;
  vendor: string;
  offer_id: string;
  body: string;
  amount: number;
  currency: string;
  delivery_by: string;
  valid_until: number;
  terms_accepted: number;
  received_at: number;
  state: 'received' | 'accepted' | 'declined';
  acceptance: string | null;
  acceptance_sent_at: number | null;
  acceptance_error: string | null;
}

/** Work the service does outbound: intents to send, intents to poll, acceptances to deliver. */
export interface PendingDelivery {
  intentId: number;
  vendor: string;
  endpoint: string;
  publicKey: string;
  reply: string;
  document: string;
  sent: boolean;
}

export interface PendingAcceptance {
  offerId: number;
  intentId: number;
  vendor: string;
  endpoint: string;
  body: string;
}

/** The approved policy and consent records an acceptance that discloses more is made under. */
export interface AcceptanceCover {
  policy: string;
  /** The approved version's hash. */
  version: string;
  consentRecords: Array<{ id: string; subject: string; sha256: string }>;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export interface IntentBookDeps {
  db: SluiceDatabase;
  ledger: Ledger;
  clock: Clock;
  timezone: string;
}

/**
 * The household's intents and offers. Every act — draft, approval, drop, each delivery, each
 * offer, the choice, closure — commits in one transaction with its ledger row.
 */
export class IntentBook {
  constructor(private readonly deps: IntentBookDeps) {}

  private get raw() {
    return this.deps.db.raw;
  }

  /** What the rules remember: read by the evaluator. */
  memory(): RuleMemory {
    const lastFired = new Map<string, number>();
    const baselines = new Map<string, number>();
    for (const r of this.raw.prepare<[], { rule: string; device_id: string; last_fired_at: number | null; baseline: number | null }>('SELECT * FROM intent_rule_memory').all()) {
      if (r.last_fired_at !== null) lastFired.set(r.rule, Math.max(lastFired.get(r.rule) ?? 0, r.last_fired_at));
      if (r.baseline !== null) baselines.set(baselineKey(r.rule, r.device_id), r.baseline);
    }
    return { lastFired, baselines };
  }

  /** Remembers counter baselines seen without a firing. */
  rememberBaselines(baselines: ReadonlyArray<{ key: string; value: number }>): void {
    if (baselines.length === 0) return;
    const put = this.raw.prepare(
      `INSERT INTO intent_rule_memory (rule, device_id, baseline) VALUES (?, ?, ?) ON CONFLICT (rule, device_id) DO UPDATE SET baseline = excluded.baseline`,
    );
    this.deps.db.tx(() => {
      for (const b of baselines) {
        const [rule, device] = b.key.split('\u0000') as [string, string];
        put.run(rule, device, b.value);
      }
    });
  }

  /** Drafts an intent from a firing; the draft stays home until the household approves it. */
  draft(firing: Firing, needBy: string): number {
    const { rule } = firing;
    const request: IntentRequest = {
      what: rule.request.what,
      product: rule.request.product,
      quantity: rule.request.quantity,
      needBy,
      budget: rule.request.budget,
    };
    const vendors: StoredVendor[] = rule.vendors.map((v) => ({ name: v.name, endpoint: v.endpoint, public_key: v.public_key }));
    const draftSha = sha256Hex(canonicalJson({ rule: rule.name, request, vendors: vendors.map((v) => v.name) }));
    return this.deps.db.tx(() => {
      const now = this.deps.clock.now();
      const id = Number(
        this.raw
          .prepare(`INSERT INTO intents (rule, device_id, reading, request, vendors, draft_sha256, offers_for, state, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'draft', ?)`)
          .run(rule.name, firing.deviceId, JSON.stringify(firing.reading), JSON.stringify(request), JSON.stringify(vendors), draftSha, rule.request.offers_for, now).lastInsertRowid,
      );
      const baseline = rule.trigger.every !== undefined && typeof firing.reading.value === 'number' ? firing.reading.value : null;
      this.raw
        .prepare(
          `INSERT INTO intent_rule_memory (rule, device_id, last_fired_at, baseline) VALUES (?, ?, ?, ?)
           ON CONFLICT (rule, device_id) DO UPDATE SET last_fired_at = excluded.last_fired_at, baseline = COALESCE(excluded.baseline, baseline)`,
        )
        .run(rule.name, firing.deviceId, firing.at, baseline);
      this.deps.ledger.append({ kind: 'intent.drafted', vendor: null, policy: null, version: draftSha, detail: { intent: id, rule: rule.name, what: request.what, quantity: request.quantity } });
      return id;
    });
  }

  list(filter: { state?: IntentState | undefined } = {}): IntentRow[] {
    return this.rows(filter.state ?? null, null).map((r) => this.toRow(r));
  }

  show(id: number): IntentDetail {
    const r = this.rows(null, id)[0];
    if (!r) throw new SluiceError('SLUICE_ERR_INTENT_UNKNOWN', `no intent ${id}`, { id });
    const deliveries = this.raw
      .prepare<[number], { vendor: string; sent_at: number | null; last_error: string | null; document: string | null }>(
        'SELECT d.vendor, d.sent_at, d.last_error, COALESCE(d.document, i.document) AS document FROM intent_deliveries d JOIN intents i ON i.id = d.intent_id WHERE d.intent_id = ? ORDER BY d.vendor',
      )
      .all(id);
    return {
      ...this.toRow(r),
      device_id: r.device_id,
      reading: JSON.parse(r.reading) as IntentDetail['reading'],
      draft_sha256: r.draft_sha256,
      decided_by: r.decided_by,
      closed_at: iso(r.closed_at),
      close_reason: r.close_reason,
      document: r.document ? (JSON.parse(r.document) as Record<string, unknown>) : null,
      deliveries: deliveries.map((d) => ({ vendor: d.vendor, sent_at: iso(d.sent_at), last_error: d.last_error, document: d.document ? (JSON.parse(d.document) as Record<string, unknown>) : null })),
    };
  }

  /**
   * Approves a draft (with the household's edits): per chosen vendor a fresh key pair, reply
   * reference and id, and that vendor's own signed copy; nothing is sent until the service runs.
   * [PRIV-INTENT-4] two vendors holding copies of one intent share no id, key or signature.
   */
  approve(id: number, options: { by: string; where: IntentWhere; edits?: Partial<Pick<IntentRequest, 'quantity' | 'needBy' | 'budget'>> }): IntentDetail {
    if (!options.where.country) throw new SluiceError('SLUICE_ERR_INTENT_STATE', 'set household.country in sluice.yaml (and household.postal_prefix, at most 3 characters, if vendors need it) before approving an intent');
    this.deps.db.tx(() => {
      const r = this.one(id);
      if (r.state !== 'draft') throw new SluiceError('SLUICE_ERR_INTENT_STATE', `intent ${id} is ${r.state}; only a draft can be approved`, { id, state: r.state });
      const request = { ...(JSON.parse(r.request) as IntentRequest), ...definedOnly(options.edits ?? {}) };
      const vendors = JSON.parse(r.vendors) as StoredVendor[];
      const offersUntil = offersDeadline(this.deps.clock.now(), r.offers_for);
      const copies = vendors.map((v) => {
        const identity = freshIdentity();
        const text = canonicalJson(intentDocument(identity, request, options.where, offersUntil));
        return { vendor: v, identity, text };
      });
      const content = canonicalJson(intentContent(request, options.where, offersUntil));
      this.raw
        .prepare(`UPDATE intents SET state = 'open', request = ?, decided_at = ?, decided_by = ?, offers_until = ?, reply = NULL, document = ?, private_key = NULL WHERE id = ?`)
        .run(JSON.stringify(request), this.deps.clock.now(), options.by, offersUntil, content, id);
      const put = this.raw.prepare('INSERT INTO intent_deliveries (intent_id, vendor, endpoint, public_key, reply, document, private_key) VALUES (?, ?, ?, ?, ?, ?, ?)');
      for (const c of copies) put.run(id, c.vendor.name, c.vendor.endpoint, c.vendor.public_key, c.identity.reply, c.text, c.identity.privateKey);
      this.deps.ledger.append({
        kind: 'intent.approved',
        vendor: null,
        policy: null,
        version: r.draft_sha256,
        detail: {
          intent: id,
          rule: r.rule,
          by: options.by,
          content_sha256: sha256Hex(content),
          documents_sha256: Object.fromEntries(copies.map((c) => [c.vendor.name, sha256Hex(c.text)])),
          vendors: vendors.map((v) => v.name),
          offers_until: new Date(offersUntil).toISOString(),
        },
      });
    });
    return this.show(id);
  }

  drop(id: number, by: string): IntentDetail {
    this.deps.db.tx(() => {
      const r = this.one(id);
      if (r.state !== 'draft') throw new SluiceError('SLUICE_ERR_INTENT_STATE', `intent ${id} is ${r.state}; only a draft can be dropped`, { id, state: r.state });
      this.raw.prepare(`UPDATE intents SET state = 'dropped', decided_at = ?, decided_by = ? WHERE id = ?`).run(this.deps.clock.now(), by, id);
      this.deps.ledger.append({ kind: 'intent.dropped', vendor: null, policy: null, version: r.draft_sha256, detail: { intent: id, rule: r.rule, by } });
    });
    return this.show(id);
  }

  /** Deliveries of open intents still inside their offer window: to send, or to poll. */
  pendingDeliveries(): PendingDelivery[] {
    const now = this.deps.clock.now();
    return this.raw
      .prepare<[number], { intent_id: number; vendor: string; endpoint: string; public_key: string; reply: string; document: string; sent_at: number | null }>(
        `SELECT d.intent_id, d.vendor, d.endpoint, d.public_key, COALESCE(d.reply, i.reply) AS reply, COALESCE(d.document, i.document) AS document, d.sent_at
           FROM intent_deliveries d JOIN intents i ON i.id = d.intent_id
          WHERE i.state = 'open' AND i.offers_until > ? ORDER BY d.intent_id, d.vendor`,
      )
      .all(now)
      .map((r) => ({ intentId: r.intent_id, vendor: r.vendor, endpoint: r.endpoint, publicKey: r.public_key, reply: r.reply, document: r.document, sent: r.sent_at !== null }));
  }

  /** The intent reached a vendor: recorded with where it went. */
  sent(d: PendingDelivery, status: number): void {
    this.deps.db.tx(() => {
      this.raw.prepare('UPDATE intent_deliveries SET sent_at = ?, last_error = NULL WHERE intent_id = ? AND vendor = ?').run(this.deps.clock.now(), d.intentId, d.vendor);
      this.deps.ledger.append({ kind: 'intent.sent', vendor: d.vendor, policy: null, version: null, detail: { intent: d.intentId, endpoint: d.endpoint, status, document_sha256: sha256Hex(d.document) } });
    });
  }

  deliveryFailed(d: PendingDelivery, error: string): void {
    this.raw.prepare('UPDATE intent_deliveries SET last_error = ? WHERE intent_id = ? AND vendor = ?').run(error, d.intentId, d.vendor);
  }

  /** Stores a verified offer once (by the vendor's offer id); true when it is new. */
  received(d: PendingDelivery, offer: OfferDocument): boolean {
    return this.deps.db.tx(() => {
      const now = this.deps.clock.now();
      this.raw.prepare('UPDATE intent_deliveries SET polled_at = ? WHERE intent_id = ? AND vendor = ?').run(now, d.intentId, d.vendor);
      const body = canonicalJson(offer);
      const res = this.raw
        .prepare(
          `INSERT OR IGNORE INTO offers (intent_id, vendor, offer_id, body, amount, currency, delivery_by, valid_until, terms_accepted, received_at, state)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'received')`,
        )
        .run(d.intentId, d.vendor, offer.offer_id, body, offer.price.amount, offer.price.currency, offer.delivery_by, Date.parse(offer.valid_until), offer.terms_accepted ? 1 : 0, now);
      if (res.changes === 0) return false;
      this.deps.ledger.append({
        kind: 'offer.received',
        vendor: d.vendor,
        policy: null,
        version: null,
        detail: { intent: d.intentId, offer: Number(res.lastInsertRowid), vendor_offer_id: offer.offer_id, price: offer.price, terms_accepted: offer.terms_accepted, offer_sha256: sha256Hex(body) },
      });
      return true;
    });
  }

  offers(filter: { intent?: number | undefined; state?: OfferRow['state'] | undefined } = {}): OfferRow[] {
    return this.raw
      .prepare<unknown[], OfferDbRow>(`SELECT * FROM offers WHERE (? IS NULL OR intent_id = ?) AND (? IS NULL OR state = ?) ORDER BY id`)
      .all(filter.intent ?? null, filter.intent ?? null, filter.state ?? null, filter.state ?? null)
      .map(toOfferRow);
  }

  offer(id: number): OfferRow & { document: Record<string, unknown>; acceptance: Record<string, unknown> | null; acceptance_error: string | null } {
    const r = this.oneOffer(id);
    return { ...toOfferRow(r), document: JSON.parse(r.body) as Record<string, unknown>, acceptance: r.acceptance ? (JSON.parse(r.acceptance) as Record<string, unknown>) : null, acceptance_error: r.acceptance_error };
  }

  /**
   * The household's choice: the only moment more than the intent may leave, and only to this
   * vendor, only the fields named in `disclose`. The acceptance is signed with the intent's key.
   */
  accept(id: number, options: { by: string; disclose: Record<string, string>; cover?: AcceptanceCover | null }): OfferRow {
    this.deps.db.tx(() => {
      const o = this.oneOffer(id);
      const i = this.one(o.intent_id);
      const now = this.deps.clock.now();
      if (o.state !== 'received') throw new SluiceError('SLUICE_ERR_INTENT_STATE', `offer ${id} is already ${o.state}`, { id });
      const identity = this.raw
        .prepare<[number, string], { reply: string | null; private_key: string | null }>(
          `SELECT COALESCE(d.reply, i.reply) AS reply, COALESCE(d.private_key, i.private_key) AS private_key FROM intent_deliveries d JOIN intents i ON i.id = d.intent_id WHERE d.intent_id = ? AND d.vendor = ?`,
        )
        .get(i.id, o.vendor);
      if (i.state !== 'open' || !identity?.private_key || !identity.reply) throw new SluiceError('SLUICE_ERR_INTENT_STATE', `intent ${i.id} is ${i.state}; its offers can no longer be accepted`, { id: i.id });
      if (o.valid_until <= now) throw new SluiceError('SLUICE_ERR_INTENT_STATE', `offer ${id} expired at ${new Date(o.valid_until).toISOString()}`, { id });
      const cover = options.cover ?? null;
      // Anything beyond the intent leaves only under an approved policy to this vendor (checked by the caller, recorded here).
      if (Object.keys(options.disclose).length > 0 && !cover) throw new SluiceError('SLUICE_ERR_OFFER_NOT_COVERED', `accepting offer ${id} would disclose ${Object.keys(options.disclose).join(', ')} without an approved policy to ${o.vendor}`, { id });
      const acceptance = canonicalJson(acceptanceDocument({ reply: identity.reply, privateKey: identity.private_key }, o.offer_id, options.disclose));
      this.raw.prepare(`UPDATE offers SET state = 'accepted', acceptance = ? WHERE id = ?`).run(acceptance, id);
      this.raw.prepare(`UPDATE intents SET state = 'accepted' WHERE id = ?`).run(i.id);
      this.deps.ledger.append({
        kind: 'offer.accepted',
        vendor: o.vendor,
        policy: cover?.policy ?? null,
        version: cover?.version ?? null,
        detail: {
          intent: i.id,
          offer: id,
          by: options.by,
          disclose: Object.keys(options.disclose).sort(),
          acceptance_sha256: sha256Hex(acceptance),
          ...(cover ? { consent_records: cover.consentRecords.map((r) => ({ record_id: r.id, subject: r.subject, record_sha256: r.sha256 })) } : {}),
        },
      });
    });
    return toOfferRow(this.oneOffer(id));
  }

  /** The endpoint the household chose for this vendor in the intent's rule. */
  deliveryEndpoint(intentId: number, vendor: string): string {
    const r = this.raw.prepare<[number, string], { endpoint: string }>('SELECT endpoint FROM intent_deliveries WHERE intent_id = ? AND vendor = ?').get(intentId, vendor);
    if (!r) throw new SluiceError('SLUICE_ERR_INTENT_UNKNOWN', `intent ${intentId} did not go to ${vendor}`, { id: intentId });
    return r.endpoint;
  }

  decline(id: number, by: string): OfferRow {
    this.deps.db.tx(() => {
      const o = this.oneOffer(id);
      if (o.state !== 'received') throw new SluiceError('SLUICE_ERR_INTENT_STATE', `offer ${id} is already ${o.state}`, { id });
      this.raw.prepare(`UPDATE offers SET state = 'declined' WHERE id = ?`).run(id);
      this.deps.ledger.append({ kind: 'offer.declined', vendor: o.vendor, policy: null, version: null, detail: { intent: o.intent_id, offer: id, by } });
    });
    return toOfferRow(this.oneOffer(id));
  }

  /** Accepted offers whose acceptance has not reached the vendor yet. */
  pendingAcceptances(): PendingAcceptance[] {
    return this.raw
      .prepare<[], { id: number; intent_id: number; vendor: string; endpoint: string; acceptance: string }>(
        `SELECT o.id, o.intent_id, o.vendor, d.endpoint, o.acceptance FROM offers o
           JOIN intent_deliveries d ON d.intent_id = o.intent_id AND d.vendor = o.vendor
          WHERE o.state = 'accepted' AND o.acceptance_sent_at IS NULL ORDER BY o.id`,
      )
      .all()
      .map((r) => ({ offerId: r.id, intentId: r.intent_id, vendor: r.vendor, endpoint: r.endpoint, body: r.acceptance }));
  }

  /** The acceptance reached its vendor: the disclosure is recorded and the intent closes (its key is forgotten). */
  acceptanceSent(a: PendingAcceptance, status: number): void {
    this.deps.db.tx(() => {
      const now = this.deps.clock.now();
      this.raw.prepare('UPDATE offers SET acceptance_sent_at = ?, acceptance_error = NULL WHERE id = ?').run(now, a.offerId);
      this.deps.ledger.append({ kind: 'acceptance.sent', vendor: a.vendor, policy: null, version: null, detail: { intent: a.intentId, offer: a.offerId, endpoint: a.endpoint, status, acceptance_sha256: sha256Hex(a.body) } });
      this.close(a.intentId, 'accepted', now);
    });
  }

  acceptanceFailed(a: PendingAcceptance, error: string): void {
    this.raw.prepare('UPDATE offers SET acceptance_error = ? WHERE id = ?').run(error, a.offerId);
  }

  /** Closes open intents whose offer window is over and whose offers have all run out; returns their ids. */
  closeExpired(): number[] {
    const now = this.deps.clock.now();
    return this.deps.db.tx(() => {
      const ids = this.raw
        .prepare<[number, number], { id: number }>(
          `SELECT id FROM intents i WHERE state = 'open' AND offers_until <= ?
             AND NOT EXISTS (SELECT 1 FROM offers o WHERE o.intent_id = i.id AND o.state = 'received' AND o.valid_until > ?)`,
        )
        .all(now, now)
        .map((r) => r.id);
      for (const id of ids) this.close(id, 'expired', now);
      return ids;
    });
  }

  private close(id: number, reason: 'accepted' | 'expired', now: number): void {
    // The intent's private key goes with it: nothing can be signed in its name afterwards.
    this.raw.prepare(`UPDATE intents SET state = 'closed', closed_at = ?, close_reason = ?, private_key = NULL WHERE id = ?`).run(now, reason, id);
    this.raw.prepare('UPDATE intent_deliveries SET private_key = NULL WHERE intent_id = ?').run(id);
    this.deps.ledger.append({ kind: 'intent.closed', vendor: null, policy: null, version: null, detail: { intent: id, reason } });
  }

  private one(id: number): IntentDbRow {
    const r = this.rows(null, id)[0];
    if (!r) throw new SluiceError('SLUICE_ERR_INTENT_UNKNOWN', `no intent ${id}`, { id });
    return r;
  }

  private oneOffer(id: number): OfferDbRow {
    const r = this.raw.prepare<[number], OfferDbRow>('SELECT * FROM offers WHERE id = ?').get(id);
    if (!r) throw new SluiceError('SLUICE_ERR_OFFER_UNKNOWN', `no offer ${id}`, { id });
    return r;
  }

  private rows(state: IntentState | null, id: number | null): IntentDbRow[] {
    return this.raw
      .prepare<unknown[], IntentDbRow>(
        `SELECT i.*, (SELECT COUNT(*) FROM offers o WHERE o.intent_id = i.id) AS offers FROM intents i
          WHERE (? IS NULL OR state = ?) AND (? IS NULL OR id = ?) ORDER BY id`,
      )
      .all(state, state, id, id);
  }

  private toRow(r: IntentDbRow): IntentRow {
    const request = JSON.parse(r.request) as IntentRequest;
    return {
      id: r.id,
      rule: r.rule,
      state: r.state,
      what: request.what,
      quantity: request.quantity,
      need_by: request.needBy,
      budget: request.budget ?? null,
      vendors: (JSON.parse(r.vendors) as StoredVendor[]).map((v) => v.name),
      created_at: new Date(r.created_at).toISOString(),
      offers_until: iso(r.offers_until),
      offers: r.offers,
    };
  }
}

function toOfferRow(r: OfferDbRow): OfferRow {
  return {
    id: r.id,
    intent: r.intent_id,
    vendor: r.vendor,
    price: { amount: r.amount, currency: r.currency },
    delivery_by: r.delivery_by,
    valid_until: new Date(r.valid_until).toISOString(),
    terms_accepted: r.terms_accepted === 1,
    received_at: new Date(r.received_at).toISOString(),
    state: r.state,
    acceptance_sent: r.acceptance_sent_at !== null,
  };
}

function definedOnly<T extends Record<string, unknown>>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export type { IntentRule };
