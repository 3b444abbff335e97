import { randomUUID } from 'node:crypto';
import { SluiceError, canonicalJson, sha256Hex, type Clock, type SluiceDatabase } from '../core/index.js';
import type { Ledger } from '../ledger/index.js';
import type { ConsentEvent, ConsentHooks, EffectivePolicy, PolicyConcern } from '../policy/index.js';
import type { SharedSpaces } from './concern.js';
import type { Members } from './members.js';
import { buildRecord, toKantara, withAgreement, type ConsentRecord, type DataSubject, type KantaraReceipt } from './records.js';

export interface StoredRecord {
  id: string;
  policy: string;
  subject: string;
  vendor: string;
  state: string;
  recordSha256: string;
  updatedAt: number;
  record: ConsentRecord;
}

interface Row {
  id: string;
  policy: string;
  subject: string;
  vendor: string;
  state: string;
  record: string;
  record_sha256: string;
  updated_at: number;
}

const toStored = (r: Row): StoredRecord => ({ id: r.id, policy: r.policy, subject: r.subject, vendor: r.vendor, state: r.state, recordSha256: r.record_sha256, updatedAt: r.updated_at, record: JSON.parse(r.record) as ConsentRecord });

/**
 * [CONSENT-4] "owner decides" for shared spaces, as the household defaults of this very version
 * say (policies/defaults.yaml `consent.shared_spaces`): so the version in force keeps the rule it was approved under.
 */
export function sharedSpacesOf(effective: EffectivePolicy): SharedSpaces | undefined {
  const key = (effective.defaults as Partial<EffectivePolicy['defaults']> | undefined)?.consent?.shared_spaces;
  return key === 'owner-decides' ? 'owner_decides' : key === 'every-adult' ? 'every_adult' : undefined;
}

/** The sha256 of a record's canonical JSON: what the ledger row carries, and what an exported record is checked against. */
export const recordHash = (r: ConsentRecord): string => sha256Hex(canonicalJson(r));

/**
 * The household's consent records: one per policy and data subject, updated by every decision
 * inside its transaction, each version's hash on the ledger. Also the book's source of whose
 * approval a policy needs.
 */
export class ConsentRecords implements ConsentHooks {
  constructor(
    private readonly deps: {
      db: SluiceDatabase;
      ledger: Ledger;
      clock: Clock;
      members: Members;
      jurisdiction: string;
      newId?: () => string;
      /** The household's accepted terms with a vendor (src/terms), stamped in each new version of its records. */
      agreementOf?: (vendor: string) => string | null;
    },
  ) {}

  concern(effective: EffectivePolicy): PolicyConcern | null {
    return this.deps.members.concern([...new Set(effective.rules.flatMap((r) => r.devices))], sharedSpacesOf(effective));
  }

  record(event: ConsentEvent): void {
    const raw = this.deps.db.raw;
    if (!raw.inTransaction) throw new SluiceError('SLUICE_ERR_INTERNAL', 'consent records are written inside the transaction of the decision they record');
    const now = this.deps.clock.now();
    for (const subject of this.subjects(event)) {
      const prevRow = raw.prepare<[string, string], Row>('SELECT * FROM consent_records WHERE policy = ? AND subject = ?').get(event.policy, subject.id);
      const prev = prevRow ? (JSON.parse(prevRow.record) as ConsentRecord) : null;
      const record = buildRecord({ prev, id: this.deps.newId?.() ?? randomUUID(), subject, event, at: now, agreement: this.deps.agreementOf?.(event.vendor) ?? null });
      this.store(record, event.policy, subject.id, event.vendor, now);
      // [CONSENT-3] each version of a record is bound to the ledger by its hash, in the transaction of the decision.
      this.deps.ledger.append({
        kind: 'consent.recorded',
        vendor: event.vendor,
        policy: event.policy,
        version: event.version,
        detail: { record_id: record.record_id, subject: subject.id, state: record.state, event: event.kind, by: event.by, record_sha256: recordHash(record), decision_seq: event.ledgerSeq },
      });
    }
  }

  /**
   * The vendor accepted the household's terms: every standing record naming it (given or
   * requested) carries the agreement's hash from now on, each new version on the ledger.
   * Inside the agreement's transaction.
   */
  agreed(isVendor: (vendor: string) => boolean, sha256: string, ledgerSeq: number, by: string | null): void {
    const raw = this.deps.db.raw;
    if (!raw.inTransaction) throw new SluiceError('SLUICE_ERR_INTERNAL', 'consent records are written inside the transaction of the decision they record');
    const now = this.deps.clock.now();
    for (const row of raw.prepare<[], Row>('SELECT * FROM consent_records ORDER BY policy, subject').all()) {
      // A withdrawn, refused or expired consent keeps the terms it was under.
      if (!isVendor(row.vendor) || (row.state !== 'dpv:ConsentGiven' && row.state !== 'dpv:ConsentRequested')) continue;
      const record = withAgreement(JSON.parse(row.record) as ConsentRecord, { sha256, at: now, by, ledgerSeq });
      this.store(record, row.policy, row.subject, row.vendor, now);
      this.deps.ledger.append({
        kind: 'consent.recorded',
        vendor: row.vendor,
        policy: row.policy,
        version: record.policy.version,
        detail: { record_id: record.record_id, subject: row.subject, state: record.state, event: 'terms-agreed', by, record_sha256: recordHash(record), decision_seq: ledgerSeq },
      });
    }
  }

  private store(record: ConsentRecord, policy: string, subject: string, vendor: string, now: number): void {
    const hash = recordHash(record);
    this.deps.db.raw
        .prepare(
          `INSERT INTO consent_records (id, policy, subject, vendor, state, record, record_sha256, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (id) DO UPDATE SET vendor = excluded.vendor, state = excluded.state, record = excluded.record, record_sha256 = excluded.record_sha256, updated_at = excluded.updated_at`,
        )
        .run(record.record_id, policy, subject, vendor, record.state, canonicalJson(record), hash, now, now);
  }

  list(filter: { policy?: string | undefined; subject?: string | undefined } = {}): StoredRecord[] {
    return this.deps.db.raw
      .prepare<unknown[], Row>('SELECT * FROM consent_records WHERE (? IS NULL OR policy = ?) AND (? IS NULL OR subject = ?) ORDER BY policy, subject')
      .all(filter.policy ?? null, filter.policy ?? null, filter.subject ?? null, filter.subject ?? null)
      .map(toStored);
  }

  get(id: string): StoredRecord {
    const row = this.deps.db.raw.prepare<[string], Row>('SELECT * FROM consent_records WHERE id = ?').get(id);
    if (!row) throw new SluiceError('SLUICE_ERR_CONSENT_UNKNOWN', `no consent record ${id}; list them with: sluice consent list`);
    return toStored(row);
  }

  kantara(id: string): KantaraReceipt {
    return toKantara(this.get(id).record, { jurisdiction: this.deps.jurisdiction });
  }

  private subjects(event: ConsentEvent): DataSubject[] {
    const names = event.concern?.subjects ?? [];
    if (names.length === 0) return [{ id: 'household', role: 'household' }];
    return names.map((n) => ({ id: n, role: this.deps.members.get(n)?.role ?? 'household' }));
  }
}
