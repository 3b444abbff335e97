import { SluiceError, isSluiceError, type Clock, type Migration, type SluiceDatabase } from '../core/index.js';
import type { DeviceProfile, DeviceRecord } from '../devices/index.js';
import type { Ledger } from '../ledger/index.js';
import { readDefaultsFile, type DefaultsFile } from './defaults.js';
import { listPolicyNames, readPolicyFile, resolveEffective, type EffectivePolicy, type Finding, type PolicyFile } from './effective.js';
import { expiryInstant } from './windows.js';

export const policyMigrations: Migration[] = [
  {
    module: 'policy',
    version: 1,
    description: 'approval state of each policy: the approved effective version, revocation, expiry',
    up: (db) =>
      db.exec(`
        CREATE TABLE policy_approvals (
          name TEXT PRIMARY KEY,
          vendor TEXT NOT NULL,
          hash TEXT NOT NULL,
          effective TEXT NOT NULL,
          approved_at INTEGER NOT NULL,
          revoked_at INTEGER,
          expired_at INTEGER,
          changed_hash TEXT
        ) WITHOUT ROWID;
      `),
  },
  {
    module: 'policy',
    version: 2,
    description: 'each household member\'s latest decision on a policy: approval of one version, or a veto',
    up: (db) =>
      db.exec(`
        CREATE TABLE policy_member_decisions (
          name TEXT NOT NULL,
          member TEXT NOT NULL COLLATE NOCASE,
          hash TEXT NOT NULL,
          decision TEXT NOT NULL CHECK (decision IN ('approve', 'veto')),
          decided_at INTEGER NOT NULL,
          PRIMARY KEY (name, member)
        ) WITHOUT ROWID;
      `),
  },
  {
    module: 'policy',
    version: 3,
    description: 'who approved the version in force, so a member added later is asked and a newer pending approval does not lose them',
    up: (db) => db.exec('ALTER TABLE policy_approvals ADD COLUMN approvers TEXT'),
  },
];

/** Whose approval a policy needs and whose data it covers (computed by the household's member list). */
export interface PolicyConcern {
  /** Every one of these must approve the same version. */
  allOf: string[];
  /** From each group at least one must approve. */
  anyOf: string[][];
  /** The data subjects, each with a consent record of their own. */
  subjects: string[];
  /** Who may veto it. */
  vetoers: string[];
}

/** One consent decision, handed to the consent records inside the transaction that makes it. */
export interface ConsentEvent {
  kind: 'given' | 'consented' | 'changed' | 'revoked' | 'vetoed' | 'expired';
  policy: string;
  vendor: string;
  /** The version the decision is about. */
  version: string;
  effective: EffectivePolicy;
  /** The member who decided; null for the household as a whole or for Sluice (expiry, a removed file). */
  by: string | null;
  waitingFor: string[];
  concern: PolicyConcern | null;
  /** The ledger row of the decision itself. */
  ledgerSeq: number;
}

/** What the household's members add to the book: whose approval a policy needs, and a record of each decision. */
export interface ConsentHooks {
  /** Null when the household has named no adult members: one approval, by the household. */
  concern(effective: EffectivePolicy): PolicyConcern | null;
  /** Called inside the transaction of the decision. */
  record(event: ConsentEvent): void;
}

/** Who still has to approve, given the members who approved the version in question. */
export function waitingFor(concern: PolicyConcern, approvedBy: ReadonlySet<string>): string[] {
  const has = (n: string) => approvedBy.has(n.toLowerCase());
  const out = concern.allOf.filter((n) => !has(n));
  for (const group of concern.anyOf) if (!group.some(has)) out.push(group.length === 1 ? group[0]! : `one of ${group.join(', ')}`);
  return out;
}

/** What an approval by one member achieved: the policy in force, or whom it still waits for. */
export interface ApprovalOutcome {
  approved: ApprovedPolicy | null;
  version: string;
  waitingFor: string[];
}

/** The version of a policy the household approved, as it was approved. */
export interface ApprovedPolicy {
  name: string;
  vendor: string;
  hash: string;
  effective: EffectivePolicy;
  approvedAt: number;
  revokedAt: number | null;
  expiredAt: number | null;
  /** First instant after the last day (household timezone). */
  expiresAt: number;
}

/** Why a policy is not in force ('waiting': approved, but a member it concerns now has not approved it). */
export type NotInForce = 'unapproved' | 'revoked' | 'expired' | 'waiting';

/** A policy's standing now: the approval in force, or why there is none. */
export type Standing = { inForce: true; approved: ApprovedPolicy } | { inForce: false; reason: NotInForce; approved: ApprovedPolicy | null; waitingFor?: string[] };

export type PolicyState = 'unapproved' | 'approved' | 'changed' | 'revoked' | 'expired' | 'invalid';

export interface PolicyStatus {
  name: string;
  state: PolicyState;
  /** Whether summaries are produced and sent now (under `approved`). */
  inForce: boolean;
  approved: ApprovedPolicy | null;
  current: EffectivePolicy | null;
  file: PolicyFile | null;
  findings: Finding[];
  /** The file's own validation error, when it does not load. */
  error: SluiceError | null;
  /** Members whose approval of the current version is still missing (empty without members). */
  waitingFor: string[];
  /** Members whose standing decision on this policy is a veto. */
  vetoedBy: string[];
}

interface Row {
  name: string;
  vendor: string;
  hash: string;
  effective: string;
  approved_at: number;
  revoked_at: number | null;
  expired_at: number | null;
  changed_hash: string | null;
}

export interface PolicyBookDeps {
  db: SluiceDatabase;
  ledger: Ledger;
  clock: Clock;
  timezone: string;
  policiesDir: string;
  devices: () => readonly DeviceRecord[];
  profiles: () => ReadonlyMap<string, DeviceProfile>;
  /** The household's members; without them one approval by the household suffices. */
  consent?: ConsentHooks;
  /** Called inside the transaction that records an expiry or a removed file's revocation (erasure requests). */
  onStopped?: (approved: ApprovedPolicy, reason: 'expired' | 'revoked') => void;
}

/**
 * The household's decisions about each policy. Default deny: a policy is in force only once
 * approved, until revoked or expired; a changed file or device set waits for a new approval
 * while the version approved last stays in force.
 */
export class PolicyBook {
  /** The last defaults file that loaded: a broken edit keeps it in force (and says so) instead of dropping every floor. */
  private lastGoodDefaults: DefaultsFile | null = null;

  constructor(private readonly deps: PolicyBookDeps) {}

  /**
   * policies/defaults.yaml as read now; when it does not load, the last good version (or none,
   * so nothing new can be approved) and the error with file:line:col.
   */
  defaults(): { current: DefaultsFile | null; error: SluiceError | null } {
    try {
      this.lastGoodDefaults = readDefaultsFile(this.deps.policiesDir);
      return { current: this.lastGoodDefaults, error: null };
    } catch (err) {
      if (!isSluiceError(err)) throw err;
      const kept = this.lastGoodDefaults ? 'the last good version stays in force' : 'no policy can be approved until it loads';
      return { current: this.lastGoodDefaults, error: new SluiceError(err.code, `${err.message}\nthe household defaults do not load; ${kept}`, err.details) };
    }
  }

  names(): string[] {
    const approved = this.deps.db.raw.prepare<[], { name: string }>('SELECT name FROM policy_approvals').all().map((r) => r.name);
    return [...new Set([...listPolicyNames(this.deps.policiesDir), ...approved])].sort();
  }

  /** The approval row of a policy, or null when it was never approved. */
  approved(name: string): ApprovedPolicy | null {
    const row = this.deps.db.raw.prepare<[string], Row>('SELECT * FROM policy_approvals WHERE name = ?').get(name);
    if (!row) return null;
    const effective = JSON.parse(row.effective) as EffectivePolicy;
    return {
      name: row.name,
      vendor: row.vendor,
      hash: row.hash,
      effective,
      approvedAt: row.approved_at,
      revokedAt: row.revoked_at,
      expiredAt: row.expired_at,
      expiresAt: expiryInstant(effective.policy.expires, this.deps.timezone),
    };
  }

  /** Whether a policy is in force now and, when not, why; reads only (expiry is recorded by `recordExpiries`). */
  standing(name: string): Standing {
    const a = this.approved(name);
    if (!a) return { inForce: false, reason: 'unapproved', approved: null };
    if (a.revokedAt !== null) return { inForce: false, reason: 'revoked', approved: a };
    if (this.deps.clock.now() >= a.expiresAt) return { inForce: false, reason: 'expired', approved: a };
    const waiting = this.waitingInForce(a);
    if (waiting.length > 0) return { inForce: false, reason: 'waiting', approved: a, waitingFor: waiting };
    return { inForce: true, approved: a };
  }

  /**
   * [CONSENT-1] Members the approved version concerns now (a member added, or given a device or
   * room, after it came into force) who have not approved it: until they do, nothing of it is
   * produced or sent. Silence is never consent.
   */
  private waitingInForce(a: ApprovedPolicy): string[] {
    const concern = this.deps.consent?.concern(a.effective) ?? null;
    if (!concern) return [];
    return waitingFor(concern, this.approvedBy(a.name, a.hash));
  }

  /** The approved version in force now, or null; reads only. */
  inForce(name: string): ApprovedPolicy | null {
    const s = this.standing(name);
    return s.inForce ? s.approved : null;
  }

  /**
   * Records in the ledger every approval whose expiry has passed and is not yet on the record;
   * inside the caller's transaction when there is one, so the note commits with the act it explains.
   */
  recordExpiries(): number {
    const now = this.deps.clock.now();
    const names = this.deps.db.raw.prepare<[], { name: string }>('SELECT name FROM policy_approvals WHERE revoked_at IS NULL AND expired_at IS NULL').all();
    let recorded = 0;
    const write = () => {
      for (const { name } of names) {
        const a = this.approved(name);
        if (a && a.revokedAt === null && now >= a.expiresAt && this.noteExpired(a)) recorded++;
      }
    };
    if (this.deps.db.raw.inTransaction) write();
    else this.deps.db.tx(write);
    return recorded;
  }

  /** Reads the file, resolves it against today's devices and compares it with the approval. */
  status(name: string): PolicyStatus {
    const approved = this.approved(name);
    let file: PolicyFile | null = null;
    let error: SluiceError | null = null;
    let current: EffectivePolicy | null = null;
    let findings: Finding[] = [];
    try {
      file = readPolicyFile(this.deps.policiesDir, name);
      const defaults = this.defaults();
      if (!defaults.current) throw defaults.error!;
      const resolved = resolveEffective(file, this.deps.devices(), this.deps.profiles(), defaults.current.defaults);
      current = resolved.effective;
      findings = resolved.findings;
    } catch (err) {
      if (!isSluiceError(err)) throw err;
      if (err.code === 'SLUICE_ERR_POLICY_UNKNOWN' && !approved) throw err;
      error = err;
    }
    const invalid = error !== null || findings.some((f) => f.severity === 'error');
    const now = this.deps.clock.now();
    let state: PolicyState;
    if (approved?.revokedAt != null) state = 'revoked';
    else if (approved && now >= approved.expiresAt) state = 'expired';
    else if (approved && current && current.hash === approved.hash) state = 'approved';
    else if (approved) state = invalid ? 'invalid' : 'changed';
    else state = invalid ? 'invalid' : 'unapproved';
    const running = approved !== null && approved.revokedAt === null && now < approved.expiresAt;
    const waitingNow = running ? this.waitingInForce(approved) : [];
    const inForce = running && waitingNow.length === 0;
    const concern = current && !invalid ? (this.deps.consent?.concern(current) ?? null) : null;
    const pendingCurrent = concern && current && (state === 'unapproved' || state === 'changed' || state === 'revoked' || state === 'expired') ? waitingFor(concern, this.approvedBy(name, current.hash)) : [];
    const pending = [...new Set([...waitingNow, ...pendingCurrent])];
    return { name, state, inForce, approved, current, file, findings, error, waitingFor: pending, vetoedBy: this.vetoedBy(name) };
  }

  /**
   * Evaluates every policy and records in the ledger what the household should know: a
   * policy whose effective version changed since approval, or one that expired.
   */
  refresh(): PolicyStatus[] {
    const statuses = this.names().map((n) => this.status(n));
    this.deps.db.tx(() => {
      for (const s of statuses) {
        if (!s.approved) continue;
        if (s.state === 'expired') this.noteExpired(s.approved);
        if (s.error?.code === 'SLUICE_ERR_POLICY_UNKNOWN' && s.approved.revokedAt === null) {
          // Deleting the file is the household saying "stop": it counts as a revocation, on the record.
          this.deps.db.raw.prepare('UPDATE policy_approvals SET revoked_at = ? WHERE name = ?').run(this.deps.clock.now(), s.name);
          const row = this.deps.ledger.append({ kind: 'policy.revoked', vendor: s.approved.vendor, policy: s.name, version: s.approved.hash, detail: { reason: 'policy file removed' } });
          this.clearApprovals(s.name);
          this.recordConsent('revoked', s.approved.effective, null, row.seq);
          this.deps.onStopped?.(s.approved, 'revoked');
          continue;
        }
        if (s.state === 'changed' || s.state === 'invalid') {
          const hash = s.current?.hash ?? 'invalid';
          if (hash === this.changedHash(s.name)) continue;
          this.deps.db.raw.prepare('UPDATE policy_approvals SET changed_hash = ? WHERE name = ?').run(hash, s.name);
          this.deps.ledger.append({
            kind: 'policy.changed',
            vendor: s.approved.vendor,
            policy: s.name,
            version: s.approved.hash,
            detail: { new_version: s.current?.hash ?? null, note: 'changed — awaiting approval; the approved version stays in force' },
          });
          this.recordConsent('changed', s.approved.effective, null, this.deps.ledger.head()!.seq);
        }
      }
    });
    return statuses.map((s) => (s.error?.code === 'SLUICE_ERR_POLICY_UNKNOWN' ? this.status(s.name) : s));
  }

  /** Approves the policy as it is now; `expectedHash` guards against a change since the household reviewed it. */
  approve(name: string, expectedHash?: string): ApprovedPolicy {
    const outcome = this.approveAs(name, { expectedHash });
    if (!outcome.approved) throw new SluiceError('SLUICE_ERR_CONSENT_WAITING', `policy ${name} is waiting for ${outcome.waitingFor.join(', ')}`, { waiting_for: outcome.waitingFor });
    return outcome.approved;
  }

  /**
   * One member's approval of the policy as it is now. With household members, the policy comes
   * into force only when every adult it concerns has approved this same version; until then it
   * is waiting for them, and the versions approved before stay as they were.
   */
  approveAs(
    name: string,
    opts: {
      expectedHash?: string | undefined;
      by?: string | undefined;
      /** Runs inside the transaction once the version is in force (before its ledger row); what it returns joins that row's detail. */
      inForce?: (approved: ApprovedPolicy) => Record<string, unknown> | undefined;
    } = {},
  ): ApprovalOutcome {
    const expectedHash = opts.expectedHash;
    const s = this.status(name);
    if (s.error) throw s.error;
    const errors = s.findings.filter((f) => f.severity === 'error');
    if (!s.current || errors.length > 0) {
      throw new SluiceError('SLUICE_ERR_POLICY_INVALID', `policy ${name} has problems; fix them first (sluice policy check ${name})`, { findings: errors });
    }
    const current = s.current;
    if (expectedHash !== undefined && expectedHash !== current.hash) {
      throw new SluiceError('SLUICE_ERR_POLICY_STALE_REVIEW', `policy ${name} changed while it was being reviewed; review it again`, { expected: expectedHash, current: current.hash });
    }
    const expiresAt = expiryInstant(current.policy.expires, this.deps.timezone);
    if (this.deps.clock.now() >= expiresAt) {
      throw new SluiceError('SLUICE_ERR_POLICY_EXPIRED', `policy ${name} expired on ${current.policy.expires}; change "expires" to approve it`);
    }
    const now = this.deps.clock.now();
    const concern = this.deps.consent?.concern(current) ?? null;
    const by = opts.by;
    if (concern) {
      const asked = [...concern.allOf, ...concern.anyOf.flat()];
      const missing = waitingFor(concern, this.approvedBy(name, current.hash));
      if (by === undefined) {
        throw new SluiceError('SLUICE_ERR_MEMBER_REQUIRED', `policy ${name} concerns household members; approve as one of them with --as NAME (waiting for ${missing.join(', ') || 'nobody'})`, { waiting_for: missing });
      }
      if (!asked.some((n) => n.toLowerCase() === by.toLowerCase())) {
        throw new SluiceError('SLUICE_ERR_MEMBER_NOT_ALLOWED', `${by} is not asked about policy ${name}; it needs the approval of ${[...new Set(asked)].join(', ')}`, { asked });
      }
    }
    let waiting: string[] = [];
    this.deps.db.tx(() => {
      if (concern && by !== undefined) {
        this.deps.db.raw
          .prepare(
            `INSERT INTO policy_member_decisions (name, member, hash, decision, decided_at) VALUES (?, ?, ?, 'approve', ?)
             ON CONFLICT (name, member) DO UPDATE SET hash = excluded.hash, decision = 'approve', decided_at = excluded.decided_at`,
          )
          .run(name, by, current.hash, now);
        waiting = waitingFor(concern, this.approvedBy(name, current.hash));
        if (waiting.length > 0) {
          // [CONSENT-1] silence is never consent: one adult's approval leaves the policy waiting for the others.
          const row = this.deps.ledger.append({ kind: 'policy.consented', vendor: current.policy.vendor, policy: name, version: current.hash, detail: { by, waiting_for: waiting } });
          this.recordConsent('consented', current, by, row.seq, concern, waiting);
          return;
        }
      }
      // [CONSENT-6] the version in force stays approved from when it came into force: a member's
      // approval that ends a waiting period must not move `approvedAt`, or the windows that came due
      // while it waited would silently fall before it and never be caught up.
      this.deps.db.raw
        .prepare(
          `INSERT INTO policy_approvals (name, vendor, hash, effective, approved_at, revoked_at, expired_at, changed_hash, approvers)
           VALUES (?, ?, ?, ?, ?, NULL, NULL, NULL, ?)
           ON CONFLICT (name) DO UPDATE SET vendor = excluded.vendor, hash = excluded.hash, effective = excluded.effective,
             approved_at = CASE WHEN policy_approvals.hash = excluded.hash AND policy_approvals.revoked_at IS NULL AND policy_approvals.expired_at IS NULL
                                THEN policy_approvals.approved_at ELSE excluded.approved_at END,
             revoked_at = NULL, expired_at = NULL, changed_hash = NULL, approvers = excluded.approvers`,
        )
        .run(name, current.policy.vendor, current.hash, JSON.stringify(current), now, JSON.stringify(concern ? this.approvers(name, current.hash) : by !== undefined ? [by] : []));
      const extra = opts.inForce?.(this.approved(name)!) ?? {};
      this.deps.ledger.append({
        kind: 'policy.approved',
        vendor: current.policy.vendor,
        policy: name,
        version: current.hash,
        detail: {
          endpoint: current.policy.endpoint,
          purpose: current.policy.purpose,
          expires: current.policy.expires,
          schedule: current.policy.schedule,
          rules: current.rules.map((r) => ({ devices: r.devices, metrics: r.rule.metrics, window: r.rule.window, stats: r.rule.stats })),
          ...(concern ? { by: this.approvers(name, current.hash) } : by !== undefined ? { by: [by] } : {}),
          ...extra,
        },
      });
      this.recordConsent('given', current, by ?? null, this.deps.ledger.head()!.seq, concern);
    });
    return { approved: waiting.length > 0 ? null : this.approved(name)!, version: current.hash, waitingFor: waiting };
  }

  /** Revokes the approval; run `also` inside the same transaction (the outbox drops the policy's queued summaries). */
  revoke(name: string, also?: () => void, by?: string): ApprovedPolicy {
    const a = this.approved(name);
    if (!a) throw new SluiceError('SLUICE_ERR_POLICY_NOT_APPROVED', `policy ${name} is not approved, so there is nothing to revoke`);
    if (a.revokedAt !== null) throw new SluiceError('SLUICE_ERR_POLICY_NOT_APPROVED', `policy ${name} is already revoked`);
    const concern = this.deps.consent?.concern(a.effective) ?? null;
    if (concern && by === undefined) throw new SluiceError('SLUICE_ERR_MEMBER_REQUIRED', `policy ${name} concerns household members; revoke as one of them with --as NAME`);
    this.deps.db.tx(() => {
      this.deps.db.raw.prepare('UPDATE policy_approvals SET revoked_at = ? WHERE name = ?').run(this.deps.clock.now(), name);
      const row = this.deps.ledger.append({ kind: 'policy.revoked', vendor: a.vendor, policy: name, version: a.hash, ...(by !== undefined ? { detail: { by } } : {}) });
      this.clearApprovals(name);
      this.recordConsent('revoked', a.effective, by ?? null, row.seq, concern);
      also?.();
    });
    return this.approved(name)!;
  }

  /**
   * A member's veto: it stops the policy at once, like a revocation, and stands — the policy
   * waits for the vetoing member's own approval before it can come into force again.
   */
  veto(name: string, by: string, also?: () => void): { name: string; version: string; stopped: boolean } {
    const s = this.status(name);
    const a = s.approved;
    const effective = s.current ?? a?.effective;
    if (!effective) throw s.error ?? new SluiceError('SLUICE_ERR_POLICY_UNKNOWN', `no policy ${name}`);
    const concern = this.deps.consent?.concern(effective) ?? (a ? (this.deps.consent?.concern(a.effective) ?? null) : null);
    const vetoers = new Set([...(concern?.vetoers ?? []), ...(a ? (this.deps.consent?.concern(a.effective)?.vetoers ?? []) : [])].map((n) => n.toLowerCase()));
    if (!vetoers.has(by.toLowerCase())) {
      throw new SluiceError('SLUICE_ERR_MEMBER_NOT_ALLOWED', `${by} cannot veto policy ${name}: it does not concern them${concern ? ` (it concerns ${concern.vetoers.join(', ')})` : ''}`);
    }
    const inForce = a !== null && a.revokedAt === null && this.deps.clock.now() < a.expiresAt;
    this.deps.db.tx(() => {
      this.deps.db.raw
        .prepare(
          `INSERT INTO policy_member_decisions (name, member, hash, decision, decided_at) VALUES (?, ?, ?, 'veto', ?)
           ON CONFLICT (name, member) DO UPDATE SET hash = excluded.hash, decision = 'veto', decided_at = excluded.decided_at`,
        )
        .run(name, by, effective.hash, this.deps.clock.now());
      let seq: number;
      if (inForce) {
        this.deps.db.raw.prepare('UPDATE policy_approvals SET revoked_at = ? WHERE name = ?').run(this.deps.clock.now(), name);
        seq = this.deps.ledger.append({ kind: 'policy.revoked', vendor: a.vendor, policy: name, version: a.hash, detail: { by, veto: true } }).seq;
        also?.();
      } else {
        seq = this.deps.ledger.append({ kind: 'policy.vetoed', vendor: effective.policy.vendor, policy: name, version: effective.hash, detail: { by } }).seq;
      }
      this.clearApprovals(name);
      this.recordConsent('vetoed', inForce ? a.effective : effective, by, seq, concern);
    });
    return { name, version: inForce ? a.hash : effective.hash, stopped: inForce };
  }

  /** Members who approved this version of the policy (lower-cased). */
  private approvedBy(name: string, hash: string): Set<string> {
    return new Set(this.approvers(name, hash).map((m) => m.toLowerCase()));
  }

  /**
   * Members who approved this version: their standing decisions, and — for the version in force —
   * those it was approved by (a member's later approval of a newer file replaces their decision row).
   */
  private approvers(name: string, hash: string): string[] {
    const decided = this.deps.db.raw.prepare<[string, string], { member: string }>("SELECT member FROM policy_member_decisions WHERE name = ? AND hash = ? AND decision = 'approve'").all(name, hash).map((r) => r.member);
    const stored = this.deps.db.raw.prepare<[string, string], { approvers: string | null }>('SELECT approvers FROM policy_approvals WHERE name = ? AND hash = ? AND revoked_at IS NULL AND expired_at IS NULL').get(name, hash)?.approvers;
    const out = new Map<string, string>();
    for (const m of [...decided, ...(stored ? (JSON.parse(stored) as string[]) : [])]) if (!out.has(m.toLowerCase())) out.set(m.toLowerCase(), m);
    return [...out.values()].sort((a, b) => a.localeCompare(b));
  }

  private vetoedBy(name: string): string[] {
    return this.deps.db.raw.prepare<[string], { member: string }>("SELECT member FROM policy_member_decisions WHERE name = ? AND decision = 'veto' ORDER BY member").all(name).map((r) => r.member);
  }

  /** A stop (revocation, expiry, veto) ends every approval: coming back into force needs everyone again. */
  private clearApprovals(name: string): void {
    this.deps.db.raw.prepare("DELETE FROM policy_member_decisions WHERE name = ? AND decision = 'approve'").run(name);
  }

  private recordConsent(kind: ConsentEvent['kind'], effective: EffectivePolicy, by: string | null, ledgerSeq: number, concern?: PolicyConcern | null, waiting: string[] = []): void {
    const hooks = this.deps.consent;
    if (!hooks) return;
    hooks.record({ kind, policy: effective.name, vendor: effective.policy.vendor, version: effective.hash, effective, by, waitingFor: waiting, concern: concern === undefined ? hooks.concern(effective) : concern, ledgerSeq });
  }

  private changedHash(name: string): string | null {
    return this.deps.db.raw.prepare<[string], { changed_hash: string | null }>('SELECT changed_hash FROM policy_approvals WHERE name = ?').get(name)?.changed_hash ?? null;
  }

  /** Writes the expiry of one approval; must run inside a transaction. */
  private noteExpired(a: ApprovedPolicy): boolean {
    if (a.expiredAt !== null) return false;
    const done = this.deps.db.raw.prepare('UPDATE policy_approvals SET expired_at = ? WHERE name = ? AND expired_at IS NULL').run(this.deps.clock.now(), a.name);
    if (done.changes !== 1) return false;
    const row = this.deps.ledger.append({ kind: 'policy.expired', vendor: a.vendor, policy: a.name, version: a.hash, detail: { expires: a.effective.policy.expires } });
    this.clearApprovals(a.name);
    this.recordConsent('expired', a.effective, null, row.seq);
    this.deps.onStopped?.(a, 'expired');
    return true;
  }
}

/** The one refusal for acting on a policy that is not in force. */
export function notInForceError(name: string, reason: NotInForce, waiting: readonly string[] = []): SluiceError {
  if (reason === 'waiting') return new SluiceError('SLUICE_ERR_POLICY_WAITING_FOR_MEMBER', `policy ${name} is waiting for ${waiting.join(', ')} (it concerns them now); nothing is produced or sent until they approve`, { waiting_for: [...waiting] });
  const why = reason === 'unapproved' ? 'is not approved' : reason === 'revoked' ? 'was revoked' : 'has expired';
  return new SluiceError('SLUICE_ERR_POLICY_NOT_APPROVED', `policy ${name} ${why}; nothing is produced or sent`);
}
