import { z } from 'zod';
import { SluiceError, parseDuration } from '../core/index.js';
import { MEMBER_ROLES, type MemberRole, type PauseMode, type PauseScope } from '../consent/index.js';
import { DEFAULTS_FILE, isoInZone } from '../policy/index.js';
import { defineOperation, flag, noParams, optionalText, params, requiredText } from './operation.js';

const member = requiredText('a member NAME');
const as = optionalText('--as');

/** One row of `members list`. */
export interface MemberRow {
  name: string;
  role: MemberRole;
  devices: string[];
  rooms: string[];
}

/** One row of `consent list`. */
export interface ConsentRow {
  id: string;
  policy: string;
  subject: string;
  vendor: string;
  state: string;
  record_sha256: string;
  updated_at: string;
}

/** One row of `pause list`. */
export interface PauseRow {
  id: number;
  scope: string;
  mode: PauseMode;
  started_at: string;
  until: string;
  by: string | null;
}

/** Parses `--until TIME` (ISO 8601) or `--for 2h` into an end instant. */
function pauseEnd(now: number, forText: string | undefined, untilText: string | undefined): number {
  if (forText !== undefined && untilText !== undefined) throw new SluiceError('SLUICE_ERR_USAGE', 'give --for or --until, not both');
  if (untilText !== undefined) {
    const t = Date.parse(untilText);
    if (Number.isNaN(t)) throw new SluiceError('SLUICE_ERR_USAGE', `--until must be a time such as 2026-11-23T18:00+01:00; got "${untilText}"`);
    return t;
  }
  return now + parseDuration(forText ?? '1h', '--for');
}

/** `ledger export`: the whole chain as stored, with the consent records it binds. */
export interface LedgerExport {
  format: 'sluice.ledger-export/1';
  exported_at: string;
  head: { seq: number; hash: string } | null;
  /** Every row as stored: `hash` = rowHash(prev_hash, the other fields) (src/ledger/ledger.ts), `at` in ms. */
  rows: Array<{ seq: number; at: number; kind: string; vendor: string | null; policy: string | null; version: string | null; summary_id: string | null; detail: Record<string, unknown>; prev_hash: string; hash: string }>;
  /** Each consent record as it stands (ISO/IEC TS 27560 shape), its SHA-256 and the ledger row that carries that hash. */
  consent_records: Array<{ id: string; policy: string; subject: string; state: string; record_sha256: string; ledger_seq: number | null; record: unknown }>;
}

/** Household members, consent records and privacy pauses. */
export const consentOperations = {
  'ledger.export': defineOperation({
    params: noParams,
    run: ({ context: ctx, sharing: { ledger, consent } }): LedgerExport =>
      // One transaction, so the rows and the records are of the same moment.
      ctx.db.tx(() => {
        const rows = ledger.rows();
        const seqOf = new Map<string, number>();
        for (const r of rows) if (r.kind === 'consent.recorded' && typeof r.detail.record_sha256 === 'string') seqOf.set(r.detail.record_sha256, r.seq);
        const last = rows.at(-1);
        return {
          format: 'sluice.ledger-export/1' as const,
          exported_at: new Date(ctx.clock.now()).toISOString(),
          head: last ? { seq: last.seq, hash: last.hash } : null,
          rows: rows.map((r) => ({ seq: r.seq, at: r.at, kind: r.kind, vendor: r.vendor, policy: r.policy, version: r.version, summary_id: r.summaryId, detail: r.detail, prev_hash: r.prevHash, hash: r.hash })),
          consent_records: consent.records.list().map((r) => ({ id: r.id, policy: r.policy, subject: r.subject, state: r.state, record_sha256: r.recordSha256, ledger_seq: seqOf.get(r.recordSha256) ?? null, record: r.record })),
        };
      }),
  }),
  'members.add': defineOperation({
    params: params({ name: member, role: z.enum(MEMBER_ROLES as [MemberRole, ...MemberRole[]], { error: `--role must be one of ${MEMBER_ROLES.join(', ')}` }), as }),
    run: ({ sharing: { consent } }, p) => {
      // The first member may be added by anyone at the console; after that an owner or adult adds them.
      if (consent.members.list().length > 0) {
        const by = p.as === undefined ? null : consent.members.require(p.as);
        if (!by || (by.role !== 'owner' && by.role !== 'adult')) throw new SluiceError('SLUICE_ERR_MEMBER_NOT_ALLOWED', 'members are added by an owner or adult: repeat with --as NAME');
      }
      const m = consent.members.add(p.name, p.role, p.as ?? null);
      return { name: m.name, role: m.role };
    },
  }),
  'members.list': defineOperation({
    params: noParams,
    run: ({ sharing: { consent } }): MemberRow[] => {
      const assignments = consent.members.assignments();
      const mine = (name: string, kind: 'device' | 'room') => assignments.filter((a) => a.scopeKind === kind && a.member?.toLowerCase() === name.toLowerCase()).map((a) => a.scope);
      return consent.members.list().map((m) => ({ name: m.name, role: m.role, devices: mine(m.name, 'device'), rooms: mine(m.name, 'room') }));
    },
  }),
  /** Who decides shared spaces under policies/defaults.yaml as it is now (each policy version keeps the rule it was approved under). */
  'members.shared_spaces': defineOperation({
    params: noParams,
    run: ({ sharing: { book, consent } }): { shared_spaces: 'every-adult' | 'owner-decides'; source: string } => {
      const key = book.defaults().current?.defaults.consent?.shared_spaces;
      if (key !== undefined) return { shared_spaces: key, source: `${DEFAULTS_FILE} consent.shared_spaces` };
      return { shared_spaces: consent.members.sharedSpaces() === 'owner_decides' ? 'owner-decides' : 'every-adult', source: 'default' };
    },
  }),
  'members.remove': defineOperation({
    params: params({ name: member, as }),
    run: ({ sharing: { consent } }, p) => {
      const by = p.as === undefined ? null : consent.members.require(p.as);
      if (!by || (by.role !== 'owner' && by.role !== 'adult')) throw new SluiceError('SLUICE_ERR_MEMBER_NOT_ALLOWED', 'members are removed by an owner or adult: repeat with --as NAME');
      const m = consent.members.remove(p.name, by.name);
      return { name: m.name };
    },
  }),
  'members.assign': defineOperation({
    params: params({ device: optionalText('--device'), room: optionalText('--room'), to: optionalText('--to'), shared: flag('--shared'), as }),
    run: ({ sharing: { consent } }, p) => {
      if (p.device !== undefined && p.room !== undefined && p.to === undefined && !p.shared) {
        // `--device ID --room R`: puts the device in the room.
        consent.members.place(p.device, p.room, p.as ?? null);
        return { device: p.device, room: p.room, member: null };
      }
      if ((p.device === undefined) === (p.room === undefined)) throw new SluiceError('SLUICE_ERR_USAGE', 'give --device ID or --room R (both together put the device in the room)');
      if ((p.to === undefined) === !p.shared) throw new SluiceError('SLUICE_ERR_USAGE', 'give --to NAME or --shared');
      const a = consent.members.assign(p.device !== undefined ? 'device' : 'room', (p.device ?? p.room)!, p.shared ? null : p.to!, p.as ?? null);
      return { [a.scopeKind]: a.scope, member: a.member };
    },
  }),
  'consent.list': defineOperation({
    params: params({ policy: optionalText('--policy'), subject: optionalText('--subject') }),
    run: ({ context: ctx, sharing: { consent } }, p): ConsentRow[] =>
      consent.records.list(p).map((r) => ({ id: r.id, policy: r.policy, subject: r.subject, vendor: r.vendor, state: r.state, record_sha256: r.recordSha256, updated_at: isoInZone(r.updatedAt, ctx.config.timezone) })),
  }),
  'consent.show': defineOperation({
    params: params({ id: requiredText('a record ID'), format: z.enum(['27560', 'kantara'], { error: '--format must be 27560 or kantara' }).nullish().transform((v) => v ?? '27560') }),
    run: ({ sharing: { consent } }, p) => (p.format === 'kantara' ? consent.records.kantara(p.id) : consent.records.get(p.id).record),
  }),
  'pause.start': defineOperation({
    params: params({ room: optionalText('--room'), device: optionalText('--device'), for: optionalText('--for'), until: optionalText('--until'), mode: z.enum(['no-share', 'no-store'], { error: '--mode must be no-share or no-store' }).nullish().transform((v) => v ?? 'no-share'), as }),
    run: ({ context: ctx, sharing: { consent } }, p): PauseRow => {
      if (p.room !== undefined && p.device !== undefined) throw new SluiceError('SLUICE_ERR_USAGE', 'give --room or --device, not both');
      const scope: PauseScope = p.room !== undefined ? { kind: 'room', room: p.room } : p.device !== undefined ? { kind: 'device', deviceId: p.device } : { kind: 'household' };
      const pause = consent.pauses.start({ scope, mode: p.mode, until: pauseEnd(ctx.clock.now(), p.for, p.until), by: p.as });
      return pauseRow(pause, ctx.config.timezone);
    },
  }),
  'pause.list': defineOperation({
    params: noParams,
    run: ({ context: ctx, sharing: { consent } }): PauseRow[] => consent.pauses.list().map((x) => pauseRow(x, ctx.config.timezone)),
  }),
  'pause.resume': defineOperation({
    params: params({ id: z.coerce.number({ error: 'a pause ID is required' }).int({ error: 'a pause ID is a whole number' }), as }),
    run: ({ context: ctx, sharing: { consent } }, p): PauseRow => pauseRow(consent.pauses.resume(p.id, p.as), ctx.config.timezone),
  }),
};

function pauseRow(p: import('../consent/index.js').Pause, tz: string): PauseRow {
  const scope = p.scope.kind === 'household' ? 'household' : p.scope.kind === 'room' ? `room ${p.scope.room}` : `device ${p.scope.deviceId}`;
  return { id: p.id, scope, mode: p.mode, started_at: isoInZone(p.startedAt, tz), until: isoInZone(p.endedAt ?? p.until, tz), by: p.by };
}
