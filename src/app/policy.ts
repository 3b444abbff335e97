import { notInForceError, describeChanges, explainPolicy, formatFindings, isoInZone, nextRuns, stateText, type PolicyState, type PolicyStatus } from '../policy/index.js';
import { defineOperation, noParams, optionalText, params, requiredText } from './operation.js';

const policyName = requiredText('a policy NAME', 'a policy NAME is required');
const named = params({ name: policyName });

/** One row of `policy list`. */
export interface PolicyRow {
  name: string;
  vendor: string | null;
  state: PolicyState;
  state_text: string;
  in_force: boolean;
  version: string | null;
  pending_version: string | null;
  approved_at: string | null;
  expires: string | null;
  next_run: string | null;
}

/** `policy explain`. */
export interface ExplainResult {
  name: string;
  state: PolicyState;
  state_text: string;
  text: string;
  version: string | null;
  approved_version: string | null;
  changes: string[];
  problems: string | null;
}

function problemsText(s: PolicyStatus): string | null {
  if (s.error) return s.error.message;
  if (s.findings.length === 0 || !s.file) return null;
  return formatFindings(s.file.parsed.file, s.file.text, s.findings);
}

/** The disclosure path: policies, previews, approvals, runs and queued summaries. */
export const policyOperations = {
  'policy.list': defineOperation({
    params: noParams,
    run: ({ context: ctx, sharing: { book } }): PolicyRow[] => {
      const tz = ctx.config.timezone;
      book.refresh();
      return book.names().map((n) => {
        const s = book.status(n);
        const e = s.current ?? s.approved?.effective;
        let next: string | null = null;
        if (s.inForce && s.approved) {
          try {
            next = nextRuns(s.approved.effective.policy.schedule, tz, ctx.clock.now(), 1)[0] ?? null;
          } catch {
            next = null;
          }
        }
        return {
          name: n,
          vendor: e?.policy.vendor ?? null,
          state: s.state,
          state_text: stateText(s),
          in_force: s.inForce,
          version: s.approved?.hash ?? null,
          pending_version: s.state === 'changed' ? (s.current?.hash ?? null) : null,
          approved_at: s.approved ? new Date(s.approved.approvedAt).toISOString() : null,
          expires: e?.policy.expires ?? null,
          next_run: next,
        };
      });
    },
  }),
  'policy.check': defineOperation({
    params: params({ name: optionalText('a policy NAME') }),
    run: ({ sharing: { book } }, p) => {
      const names = p.name !== undefined ? [p.name] : book.names();
      book.refresh();
      return names.map((n) => {
        const s = book.status(n);
        const errors = s.error !== null || s.findings.some((f) => f.severity === 'error');
        return { name: n, ok: !errors, state: s.state, problems: problemsText(s), version: s.current?.hash ?? null };
      });
    },
  }),
  'policy.explain': defineOperation({
    params: named,
    run: ({ context: ctx, sharing: { book } }, p): ExplainResult => {
      const s = book.status(p.name);
      return {
        name: s.name,
        state: s.state,
        state_text: stateText(s),
        text: explainPolicy(s, ctx.config.timezone, ctx.clock.now()),
        version: s.current?.hash ?? null,
        approved_version: s.approved?.hash ?? null,
        changes: s.current ? describeChanges(s.approved && s.approved.revokedAt === null ? s.approved.effective : null, s.current) : [],
        problems: problemsText(s),
      };
    },
  }),
  'policy.preview': defineOperation({
    params: params({ name: policyName, window: optionalText('--window') }),
    run: ({ context: ctx, sharing: { disclosures } }, p) => {
      const tz = ctx.config.timezone;
      const preview = disclosures.preview(p.name, p.window);
      return {
        body: preview.summary.body.toString('utf8'),
        body_sha256: preview.summary.bodySha256,
        basis: preview.basis,
        window: { start: isoInZone(preview.window.start, tz), end: isoInZone(preview.window.end, tz) },
        omitted: preview.summary.omitted.map((o) => ({ rule: o.rule, metric: o.metric, samples: o.samples, min_samples: o.minSamples })),
      };
    },
  }),
  'policy.approve': defineOperation({
    params: params({ name: policyName, hash: optionalText('hash') }),
    run: ({ context: ctx, sharing: { book } }, p) => {
      const before = book.approved(p.name);
      const approved = book.approve(p.name, p.hash);
      ctx.events.emit('policy.decided', { policy: p.name, decision: 'approved' });
      return {
        name: p.name,
        version: approved.hash,
        changes: describeChanges(before && before.revokedAt === null ? before.effective : null, approved.effective),
      };
    },
  }),
  'policy.revoke': defineOperation({
    params: named,
    run: ({ context: ctx, sharing: { book, outbox } }, p) => {
      let dropped = 0;
      const revoked = book.revoke(p.name, () => {
        dropped = outbox.dropPolicy(p.name, 'revoked');
      });
      ctx.events.emit('policy.decided', { policy: p.name, decision: 'revoked' });
      return { name: p.name, version: revoked.hash, dropped };
    },
  }),
  'policy.run': defineOperation({
    params: params({ name: policyName, window: optionalText('--window') }),
    run: ({ sharing: { book, disclosures } }, p) => {
      const standing = book.standing(p.name);
      if (!standing.inForce) {
        if (standing.reason === 'unapproved') book.status(p.name); // throws SLUICE_ERR_POLICY_UNKNOWN for a name with no file
        if (standing.reason === 'expired') book.recordExpiries(); // the refusal is where the household learns of it
        throw notInForceError(p.name, standing.reason);
      }
      const window = disclosures.window(standing.approved.effective, p.window);
      const r = disclosures.run(p.name, window);
      return { summary_id: r.summaryId, created: r.created, state: r.state, window: r.window };
    },
  }),
  'policy.summaries': defineOperation({
    params: params({ name: optionalText('a policy NAME') }),
    run: ({ context: ctx, sharing: { outbox } }, p) => {
      const tz = ctx.config.timezone;
      return outbox.list({ policy: p.name }).map((s) => ({
        id: s.id,
        policy: s.policy,
        vendor: s.vendor,
        window: { start: isoInZone(s.windowStart, tz), end: isoInZone(s.windowEnd, tz) },
        state: s.state,
        attempts: s.attempts,
        last_error: s.lastError,
        http_status: s.httpStatus,
        body_sha256: s.bodySha256,
      }));
    },
  }),
};
