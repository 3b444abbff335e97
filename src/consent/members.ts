import { SluiceError, type Clock, type SluiceDatabase } from '../core/index.js';
import type { Ledger } from '../ledger/index.js';
import { concernOf, MEMBER_ROLES, type Assignment, type Concern, type Member, type MemberRole, type SharedSpaces } from './concern.js';

export const MEMBER_NAME = /^[A-Za-z][A-Za-z0-9 _.-]{0,39}$/;

export interface MembersDeps {
  db: SluiceDatabase;
  ledger: Ledger;
  clock: Clock;
  /** The room the device registry knows for a device, when it knows one. */
  registryRoom?: (deviceId: string) => string | null;
}

/** The household's members, what each owns, and the shared spaces; every change goes on the ledger. */
export class Members {
  constructor(private readonly deps: MembersDeps) {}

  list(): Member[] {
    return this.deps.db.raw
      .prepare<[], { name: string; role: MemberRole; added_at: number }>('SELECT name, role, added_at FROM consent_members ORDER BY added_at, name')
      .all()
      .map((r) => ({ name: r.name, role: r.role, addedAt: r.added_at }));
  }

  get(name: string): Member | null {
    return this.list().find((m) => m.name.toLowerCase() === name.toLowerCase()) ?? null;
  }

  /** The member named, or a refusal that says how to add them. */
  require(name: string): Member {
    const m = this.get(name);
    if (!m) throw new SluiceError('SLUICE_ERR_MEMBER_UNKNOWN', `no household member "${name}"; add one with: sluice members add NAME --role owner|adult|minor|guest`);
    return m;
  }

  add(name: string, role: MemberRole, by: string | null): Member {
    if (!MEMBER_NAME.test(name)) throw new SluiceError('SLUICE_ERR_USAGE', `"${name}" is not a member name (a letter, then letters, digits, space, "_", ".", "-"; at most 40)`);
    if (!MEMBER_ROLES.includes(role)) throw new SluiceError('SLUICE_ERR_USAGE', `--role must be one of ${MEMBER_ROLES.join(', ')}; got "${role}"`);
    if (this.get(name)) throw new SluiceError('SLUICE_ERR_USAGE', `member ${name} already exists`);
    const now = this.deps.clock.now();
    this.deps.db.tx(() => {
      this.deps.db.raw.prepare('INSERT INTO consent_members (name, role, added_at) VALUES (?, ?, ?)').run(name, role, now);
      this.deps.ledger.append({ kind: 'member.changed', vendor: null, policy: null, version: null, detail: { change: 'added', member: name, role, by } });
    });
    return this.require(name);
  }

  remove(name: string, by: string | null): Member {
    const m = this.require(name);
    this.deps.db.tx(() => {
      // Their devices and rooms become shared spaces again (strict: every adult decides).
      this.deps.db.raw.prepare('UPDATE consent_assignments SET member = NULL WHERE member = ?').run(m.name);
      this.deps.db.raw.prepare('DELETE FROM consent_members WHERE name = ?').run(m.name);
      this.deps.ledger.append({ kind: 'member.changed', vendor: null, policy: null, version: null, detail: { change: 'removed', member: m.name, by } });
    });
    return m;
  }

  /** Gives a device or a room to a member, or (member null) makes it a shared space. */
  assign(scopeKind: 'device' | 'room', scope: string, member: string | null, by: string | null): Assignment {
    const owner = member === null ? null : this.require(member).name;
    this.deps.db.tx(() => {
      this.deps.db.raw
        .prepare(`INSERT INTO consent_assignments (scope_kind, scope, member, assigned_at) VALUES (?, ?, ?, ?)
                  ON CONFLICT (scope_kind, scope) DO UPDATE SET member = excluded.member, assigned_at = excluded.assigned_at`)
        .run(scopeKind, scope, owner, this.deps.clock.now());
      this.deps.ledger.append({ kind: 'member.changed', vendor: null, policy: null, version: null, detail: { change: 'assigned', [scopeKind]: scope, member: owner ?? 'shared', by } });
    });
    return { scopeKind, scope, member: owner };
  }

  /** Puts a device in a room (until the device registry carries rooms itself). */
  place(deviceId: string, room: string, by: string | null): void {
    this.deps.db.tx(() => {
      this.deps.db.raw.prepare('INSERT INTO consent_device_rooms (device_id, room) VALUES (?, ?) ON CONFLICT (device_id) DO UPDATE SET room = excluded.room').run(deviceId, room);
      this.deps.ledger.append({ kind: 'member.changed', vendor: null, policy: null, version: null, detail: { change: 'placed', device: deviceId, room, by } });
    });
  }

  assignments(): Assignment[] {
    return this.deps.db.raw
      .prepare<[], { scope_kind: 'device' | 'room'; scope: string; member: string | null }>('SELECT scope_kind, scope, member FROM consent_assignments ORDER BY scope_kind, scope')
      .all()
      .map((r) => ({ scopeKind: r.scope_kind, scope: r.scope, member: r.member }));
  }

  roomOf(deviceId: string): string | null {
    const fromRegistry = this.deps.registryRoom?.(deviceId) ?? null;
    if (fromRegistry !== null) return fromRegistry;
    return this.deps.db.raw.prepare<[string], { room: string }>('SELECT room FROM consent_device_rooms WHERE device_id = ?').get(deviceId)?.room ?? null;
  }

  sharedSpaces(): SharedSpaces {
    const v = this.deps.db.raw.prepare<[], { value: string }>("SELECT value FROM consent_settings WHERE key = 'shared_spaces'").get()?.value;
    return v === 'owner_decides' ? 'owner_decides' : 'every_adult';
  }

  /** Only an owner may let owners decide shared spaces alone; the change is on the ledger for every member to see. */
  setSharedSpaces(value: SharedSpaces, by: string): void {
    if (this.require(by).role !== 'owner') throw new SluiceError('SLUICE_ERR_MEMBER_NOT_ALLOWED', `${by} is not an owner; only an owner may change how shared spaces are decided`);
    this.deps.db.tx(() => {
      this.deps.db.raw.prepare("INSERT INTO consent_settings (key, value) VALUES ('shared_spaces', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value").run(value);
      this.deps.ledger.append({ kind: 'member.changed', vendor: null, policy: null, version: null, detail: { change: 'shared_spaces', value, by } });
    });
  }

  /**
   * Whose approval a policy over these devices needs; null when the household has no adult members.
   * `sharedSpaces` comes from the policy version's household defaults when they say (defaults.yaml `consent.shared_spaces`).
   */
  concern(deviceIds: readonly string[], sharedSpaces?: SharedSpaces): Concern | null {
    return concernOf(deviceIds, this.list(), this.assignments(), (id) => this.roomOf(id), sharedSpaces ?? this.sharedSpaces());
  }
}
