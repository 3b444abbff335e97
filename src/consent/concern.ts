import type { PolicyConcern } from '../policy/index.js';

/** A member's place in the household: who may approve, who only has a record. */
export type MemberRole = 'owner' | 'adult' | 'minor' | 'guest';
export const MEMBER_ROLES: readonly MemberRole[] = ['owner', 'adult', 'minor', 'guest'];

export interface Member {
  name: string;
  role: MemberRole;
  addedAt: number;
}

/** A device or a room given to one member, or (member null) a shared space. */
export interface Assignment {
  scopeKind: 'device' | 'room';
  scope: string;
  member: string | null;
}

/** How a shared space is decided: by every adult (strict, the default) or by the owners alone. */
export type SharedSpaces = 'every_adult' | 'owner_decides';

/** Whose approval a policy needs (a minor's data: one adult of any), whose data it covers, who may veto. */
export type Concern = PolicyConcern;

export const isAdult = (m: Member): boolean => m.role === 'owner' || m.role === 'adult';

/**
 * Who a policy over these devices concerns. A device belongs to the member it is assigned
 * to, else to the member of its room; anything else is a shared space — unassigned devices
 * included, so a device nobody placed never slips past the adults. Returns null when the
 * household has named no adult (the single-household approval of before members).
 */
export function concernOf(
  deviceIds: readonly string[],
  members: readonly Member[],
  assignments: readonly Assignment[],
  roomOf: (deviceId: string) => string | null,
  sharedSpaces: SharedSpaces = 'every_adult',
): Concern | null {
  const adults = members.filter(isAdult);
  if (adults.length === 0) return null;
  const byName = new Map(members.map((m) => [m.name.toLowerCase(), m]));
  const device = new Map(assignments.filter((a) => a.scopeKind === 'device').map((a) => [a.scope, a.member]));
  const room = new Map(assignments.filter((a) => a.scopeKind === 'room').map((a) => [a.scope, a.member]));
  const allOf = new Set<string>();
  const subjects = new Set<string>();
  let minorGroup = false;
  for (const id of deviceIds) {
    const r = roomOf(id);
    const owner = device.has(id) ? device.get(id)! : r !== null && room.has(r) ? room.get(r)! : null;
    const m = owner === null ? undefined : byName.get(owner.toLowerCase());
    if (!m) {
      // [CONSENT-1] a shared space concerns every adult who lives there; silence is never consent.
      for (const a of adults) if (sharedSpaces === 'every_adult' || a.role === 'owner') allOf.add(a.name);
      for (const x of members) if (x.role !== 'guest') subjects.add(x.name);
      continue;
    }
    subjects.add(m.name);
    if (m.role === 'minor') minorGroup = true; // [CONSENT-2] a minor's data needs an adult's approval and keeps the minor's record
    else allOf.add(m.name);
  }
  if (allOf.size === 0 && !minorGroup) {
    // A policy that selects no device yet covers whatever comes to match it: a shared space, never nobody's call.
    for (const a of adults) if (sharedSpaces === 'every_adult' || a.role === 'owner') allOf.add(a.name);
    for (const x of members) if (x.role !== 'guest') subjects.add(x.name);
  }
  const anyOf = minorGroup && ![...allOf].some((n) => isAdult(byName.get(n.toLowerCase())!)) ? [adults.map((a) => a.name).sort()] : [];
  const vetoers = new Set([...allOf, ...anyOf.flat(), ...[...subjects].filter((s) => byName.get(s.toLowerCase())?.role !== 'minor')]);
  return { allOf: [...allOf].sort(), anyOf, subjects: [...subjects].sort(), vetoers: [...vetoers].sort() };
}
