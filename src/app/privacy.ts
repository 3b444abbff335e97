import { SluiceError } from '../core/index.js';
import { isoInZone, notInForceError, parseWindowText } from '../policy/index.js';
import { signingKeyStatus, type StoredSummary } from '../share/index.js';
import type { GatewayContext } from './context.js';
import { defineOperation, optionalText, params, requiredText } from './operation.js';

/** A stored summary with the exact bytes that left (or would leave) the house. */
export interface SentSummary {
  id: string;
  policy: string;
  vendor: string;
  window: { start: string; end: string };
  state: StoredSummary['state'];
  attempts: number | null;
  http_status: number | null;
  body_sha256: string;
  /** The stored body as UTF-8 text (the summary is canonical JSON). */
  body: string;
}

function shown(ctx: GatewayContext, s: StoredSummary): SentSummary {
  const iso = (ms: number) => isoInZone(ms, ctx.config.timezone);
  if (s.body === null) throw new SluiceError('SLUICE_ERR_SUMMARY_UNKNOWN', `summary ${s.id} was deleted unsent (${s.state}); only its hash ${s.bodySha256} stays`);
  return {
    id: s.id,
    policy: s.policy,
    vendor: s.vendor,
    window: { start: iso(s.windowStart), end: iso(s.windowEnd) },
    state: s.state,
    attempts: s.attempts,
    http_status: s.httpStatus,
    body_sha256: s.bodySha256,
    body: s.body.toString('utf8'),
  };
}

/** A policy's stored summary for a window (START/END), or its newest one. */
function summaryFor(ctx: GatewayContext, list: StoredSummary[], name: string, windowText: string | undefined): StoredSummary {
  const kept = list.filter((s) => s.state !== 'dropped');
  if (windowText === undefined) {
    const newest = kept.at(-1);
    if (!newest) throw new SluiceError('SLUICE_ERR_SUMMARY_UNKNOWN', `policy ${name} has no stored summary`);
    return newest;
  }
  const w = parseWindowText(windowText, ctx.config.timezone);
  if (!w) throw new SluiceError('SLUICE_ERR_WINDOW_INVALID', `--window must be START/END, e.g. 2026-11-22/2026-11-23; got "${windowText}"`);
  const found = kept.find((s) => s.windowStart === w.start && s.windowEnd === w.end);
  if (!found) throw new SluiceError('SLUICE_ERR_SUMMARY_UNKNOWN', `policy ${name} has no stored summary for ${windowText} (a window with too little data sends nothing; see sluice ledger show)`);
  return found;
}

/** What left the house, byte for byte, and sending a failed summary again. */
export const privacyOperations = {
  'policy.sent': defineOperation({
    params: params({ name: requiredText('a policy NAME'), window: optionalText('--window') }),
    run: ({ context: ctx, sharing: { outbox } }, p): SentSummary => shown(ctx, summaryFor(ctx, outbox.list({ policy: p.name }), p.name, p.window)),
  }),
  'policy.resend': defineOperation({
    params: params({ name: requiredText('a policy NAME'), window: requiredText('--window START/END', '--window START/END is required: which failed summary to send again') }),
    run: ({ context: ctx, sharing: { book, outbox } }, p) => {
      const s = summaryFor(ctx, outbox.list({ policy: p.name }), p.name, p.window);
      const standing = book.standing(p.name);
      if (!standing.inForce) throw notInForceError(p.name, standing.reason);
      const key = signingKeyStatus(standing.approved.effective.policy, ctx.config.policies_dir);
      if (!key.ok) throw new SluiceError('SLUICE_ERR_SECRET_MISSING', key.message);
      // [PRIV-14] the same id and the same stored bytes: the vendor's Idempotency-Key still holds.
      const again = ctx.db.tx(() => outbox.resend(s.id, standing.approved.effective.policy.endpoint));
      ctx.events.emit('summary.queued', { summaryId: again.id, policy: p.name });
      return { summary_id: again.id, state: again.state, body_sha256: again.bodySha256 };
    },
  }),
  'ledger.body': defineOperation({
    params: params({ seq: requiredText('SEQ', 'ledger show --body needs a row number (SEQ)') }),
    run: ({ context: ctx, sharing: { ledger, outbox } }, p): SentSummary & { seq: number; kind: string } => {
      const seq = Number(p.seq);
      const row = Number.isInteger(seq) ? ledger.rows().find((r) => r.seq === seq) : undefined;
      if (!row) throw new SluiceError('SLUICE_ERR_SUMMARY_UNKNOWN', `the ledger has no row ${p.seq}`);
      const s = row.summaryId ? outbox.get(row.summaryId) : null;
      if (!s) throw new SluiceError('SLUICE_ERR_SUMMARY_UNKNOWN', `ledger row ${seq} (${row.kind}) names no stored summary`);
      return { seq, kind: row.kind, ...shown(ctx, s) };
    },
  }),
};
