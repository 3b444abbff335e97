import { SluiceError } from '../core/index.js';
import { notInForceError, ownerDecides, describeChanges, expiryInstant, describeOverlaps, explainPolicy, formatFindings, isoInZone, nextRuns, stateText, type EffectivePolicy, type PolicyBook, type PolicyState, type PolicyStatus } from '../policy/index.js';
import { explainNoise } from '../privacy/index.js';
import { signingKeyStatus, windowSource, type Erasures } from '../share/index.js';
import type { ApprovedPolicy } from '../policy/index.js';
import type { GatewayContext } from './context.js';
import { openDataJob } from './open-data.js';
import { catchUpOf, type Sharing } from './sharing.js';
import { policyRisk, riskText, type RiskResult } from './privacy.js';
import { defineOperation, flag, noParams, optionalText, params, requiredText } from './operation.js';

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
  /** Whether the signing key the policy names can be read now. */
  signing_key: 'ok' | 'missing';
  /** Summaries waiting for a first attempt, waiting for a retry, failed for good. */
  queued: number;
  retrying: number;
  failed: number;
  /** Members whose approval of the current version is missing. */
  waiting_for: string[];
  vetoed_by: string[];
  /** The newest window withheld because a privacy budget was spent, while nothing was released since; null otherwise. */
  withheld: { reason: 'budget'; limit: 'vendor' | 'household'; window: { start: string; end: string }; epsilon: number; spent: number; cap: number; next_renewal: string | null } | null;
}

/** The state in words, with whom the policy waits for and who vetoed it. */
function stateWords(s: PolicyStatus): string {
  const parts = [stateText(s)];
  if (s.vetoedBy.length > 0) parts.push(`vetoed by ${s.vetoedBy.join(', ')}`);
  if (s.waitingFor.length > 0) parts.push(`waiting for ${s.waitingFor.join(', ')}`);
  if (ownerDecides(s.current ?? s.approved?.effective)) parts.push('owners decide shared spaces');
  return parts.join(' — ');
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
  /** Where another vendor receives the same statistic of the same series and window. */
  overlaps: string[];
  /** The heuristic risk score of the version explained (null when none loads). */
  risk: RiskResult | null;
}

function problemsText(s: PolicyStatus): string | null {
  if (s.error) return s.error.message;
  if (s.findings.length === 0 || !s.file) return null;
  return formatFindings(s.file.parsed.file, s.file.text, s.findings);
}

/** Problems one per paragraph, each once (a defaults file that never loaded is also the policy's own error). */
function joinProblems(...all: Array<string | null>): string | null {
  return [...new Set(all.filter((x): x is string => x !== null))].join('\n') || null;
}

/** The signing key problem of a policy version, or null when its key can be read now (read each time: a key set later counts at once). */
function keyProblem(ctx: GatewayContext, e: EffectivePolicy | null | undefined): string | null {
  if (!e) return null;
  const k = signingKeyStatus(e.policy, ctx.config.policies_dir);
  return k.ok ? null : k.message;
}

function requireKey(ctx: GatewayContext, e: EffectivePolicy): void {
  const problem = keyProblem(ctx, e);
  if (problem) throw new SluiceError('SLUICE_ERR_SECRET_MISSING', `${problem}; nothing can be signed or sent under ${e.name}`);
}

/** The noise caveats, accuracy and budgets of a policy with privacy: rules, after a blank line; nothing without. */
function noiseLines(e: EffectivePolicy | null | undefined, others: readonly EffectivePolicy[]): string[] {
  if (!e) return [];
  const noisyVendors = others.filter((o) => o.policy.vendor !== e.policy.vendor && o.rules.some((r) => r.rule.privacy !== undefined)).map((o) => o.policy.vendor);
  const lines = explainNoise(e, [...new Set(noisyVendors)]);
  return lines.length > 0 ? ['', ...lines] : [];
}

/** Every other policy's version as it is now (or as approved), for overlaps between vendors. */
/** Queues an erasure request inside the decision's transaction and wakes the forwarder once it commits. */
function requestErasure(ctx: GatewayContext, erasures: Erasures, a: ApprovedPolicy, reason: 'revoked' | 'vetoed' | 'requested'): string | null {
  const e = erasures.request(a, reason);
  if (e) queueMicrotask(() => ctx.events.emit('summary.queued', { summaryId: e.id, policy: a.name }));
  return e?.id ?? null;
}

function otherVersions(book: PolicyBook, name: string): EffectivePolicy[] {
  const out: EffectivePolicy[] = [];
  for (const n of book.names()) {
    if (n === name) continue;
    try {
      const s = book.status(n);
      const e = s.inForce ? s.approved?.effective : (s.current ?? null);
      if (e) out.push(e);
    } catch {
      // A policy that does not load overlaps with nothing.
    }
  }
  return out;
}

/** What an approval now changes, against the version approved last — also after a revocation or expiry. */
function changesSince(s: PolicyStatus, now: number): string[] {
  if (!s.current) return [];
  const a = s.approved;
  if (!a) return describeChanges(null, s.current);
  const diff = describeChanges(a.effective, s.current);
  const stopped = a.revokedAt !== null ? 'revocation' : now >= a.expiresAt ? 'expiry' : null;
  if (!stopped) return diff;
  return [`re-approval after ${stopped}; compared with the version approved last (${new Date(a.approvedAt).toISOString()}):`, ...(diff.length > 0 ? diff : ['  no changes: the same version as approved last'])];
}

/** What an approval that ends a waiting period does with the windows that came due meanwhile (`catch_up` of the `policy.approve` result). */
export interface ApprovalCatchUp {
  /** Windows the scheduler now produces and sends, oldest first, under the approved version. */
  windows: number;
  /** Windows that came due and will never be produced: past the catch-up bound, or because a new version came into force. */
  not_produced: number;
  reason: 'catch-up-bound' | 'new-version' | null;
}

/**
 * [CONSENT-6] The last approval ends a waiting period: the same version stays approved from
 * when it first came into force, so the windows that came due meanwhile are caught up like
 * windows missed during downtime (bounded by schedule.max_catch_up), each through the one
 * disclosure path (pauses, budget). A new version is a new consent: nothing before it is
 * produced under it, and the ledger says how many windows that leaves out.
 */
function waitingEnded(ctx: GatewayContext, sharing: Sharing, name: string, waited: ApprovedPolicy, approved: ApprovedPolicy): { result: ApprovalCatchUp; ledger: Record<string, unknown> } {
  const tz = ctx.config.timezone;
  if (approved.hash !== waited.hash || approved.approvedAt !== waited.approvedAt) {
    const lost = catchUpOf(ctx, sharing, name, waited, openDataJob);
    const n = lost.windows.length + lost.beyondBound;
    return { result: { windows: 0, not_produced: n, reason: n > 0 ? 'new-version' : null }, ledger: { windows: 0, not_produced: n, ...(n > 0 ? { reason: 'new-version' } : {}), waited_version: waited.hash } };
  }
  const c = catchUpOf(ctx, sharing, name, approved, openDataJob);
  const span = c.windows.length > 0 ? { from: isoInZone(c.windows[0]!.start, tz), to: isoInZone(c.windows.at(-1)!.end, tz) } : {};
  return {
    result: { windows: c.windows.length, not_produced: c.beyondBound, reason: c.beyondBound > 0 ? 'catch-up-bound' : null },
    ledger: { windows: c.windows.length, ...span, not_produced: c.beyondBound, ...(c.beyondBound > 0 ? { reason: 'catch-up-bound', max_catch_up: ctx.config.schedule.max_catch_up } : {}) },
  };
}

/** The disclosure path: policies, previews, approvals, runs and queued summaries. */
export const policyOperations = {
  'policy.list': defineOperation({
    params: noParams,
    run: ({ context: ctx, sharing: { book, outbox, terms, termsRequired, disclosures } }): PolicyRow[] => {
      const tz = ctx.config.timezone;
      book.refresh();
      return book.names().map((n): PolicyRow => {
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
        const keyMissing = keyProblem(ctx, s.inForce ? s.approved?.effective : e) !== null;
        const termsWaiting = termsRequired && s.inForce && s.approved ? !terms.standing(s.approved.effective.policy.vendor).ok : false;
        const w = s.inForce ? disclosures.privacy.withheldNow(n) : null;
        const withheld = w && { reason: 'budget' as const, limit: w.limit, window: { start: isoInZone(w.window.start, tz), end: isoInZone(w.window.end, tz) }, epsilon: w.epsilon, spent: w.spent, cap: w.cap, next_renewal: w.nextRenewal === null ? null : isoInZone(w.nextRenewal, tz) };
        // [PRIV-DP-3] the household is told when its budget stops what it approved.
        const words = keyMissing ? 'waiting: signing key missing' : termsWaiting ? `waiting: terms not accepted by ${s.approved!.effective.policy.vendor}` : withheld ? `${stateWords(s)} — withheld: budget (${withheld.limit === 'vendor' ? 'vendor' : 'household'} ${withheld.spent} of ${withheld.cap} ε spent${withheld.next_renewal ? `; fits again ${withheld.next_renewal}` : ''})` : stateWords(s);
        return {
          name: n,
          vendor: e?.policy.vendor ?? null,
          state: s.state,
          state_text: s.inForce ? words : stateWords(s),
          in_force: s.inForce,
          version: s.approved?.hash ?? null,
          pending_version: s.state === 'changed' ? (s.current?.hash ?? null) : null,
          approved_at: s.approved ? new Date(s.approved.approvedAt).toISOString() : null,
          expires: e?.policy.expires ?? null,
          next_run: next,
          signing_key: keyMissing ? 'missing' : 'ok',
          ...outbox.counts(n),
          waiting_for: s.waitingFor,
          vetoed_by: s.vetoedBy,
          withheld,
        };
      });
    },
  }),
  'policy.check': defineOperation({
    params: params({ name: optionalText('a policy NAME') }),
    run: ({ context: ctx, sharing: { book } }, p) => {
      // NAME or a path to a file (policies/acme.yaml): a path is checked as written, against today's devices.
      const names = p.name !== undefined ? [p.name] : book.names();
      book.refresh();
      const defaultsError = book.defaults().error?.message ?? null;
      return names.map((n) => {
        const s = book.status(n);
        const key = s.error === null ? keyProblem(ctx, s.current ?? s.approved?.effective) : null;
        const errors = s.error !== null || s.findings.some((f) => f.severity === 'error') || key !== null || defaultsError !== null;
        const problems = joinProblems(defaultsError, problemsText(s), key);
        return { name: n, ok: !errors, state: s.state, problems, version: s.current?.hash ?? null };
      });
    },
  }),
  'policy.explain': defineOperation({
    params: named,
    run: ({ context: ctx, sharing: { book } }, p): ExplainResult => {
      const s = book.status(p.name);
      const others = otherVersions(book, p.name);
      const e = s.current ?? s.approved?.effective;
      const risk = policyRisk(ctx, book, p.name);
      return {
        name: s.name,
        state: s.state,
        state_text: stateWords(s),
        text: [explainPolicy(s, ctx.config.timezone, ctx.clock.now(), others), ...retentionNote(ctx, e), ...noiseLines(e, others), ...(risk ? ['', riskText(risk)] : [])].join('\n'),
        version: s.current?.hash ?? null,
        approved_version: s.approved?.hash ?? null,
        changes: changesSince(s, ctx.clock.now()),
        problems: joinProblems(book.defaults().error?.message ?? null, problemsText(s), keyProblem(ctx, e)),
        overlaps: e ? describeOverlaps(e, others) : [],
        risk,
      };
    },
  }),
  'policy.preview': defineOperation({
    params: params({ name: policyName, window: optionalText('--window') }),
    run: ({ context: ctx, sharing: { book, disclosures } }, p) => {
      const tz = ctx.config.timezone;
      // An open-data release is noised when it is made: a preview of exact values would show what never leaves.
      const s = book.status(p.name);
      if ((s.current ?? s.approved?.effective)?.policy.kind === 'open-data')
        throw new SluiceError('SLUICE_ERR_USAGE', `policy ${p.name} is an open-data policy: its releases are noised when made, so there is no exact preview; see sluice policy explain ${p.name}`);
      const preview = disclosures.previewOutcome(p.name, p.window);
      const o = preview.outcome;
      const omitted = (o.kind === 'summary' ? o.summary.omitted : o.omitted).map((x) => ({ rule: x.rule, metric: x.metric, samples: x.samples, min_samples: x.minSamples, ...(x.coverage !== undefined ? { coverage: x.coverage } : {}) }));
      const sources = o.kind === 'summary' ? o.summary.sources : o.sources;
      // Which readings the bytes come from: raw within raw retention, hourly rollups past it.
      const common = { basis: preview.basis, window: { start: isoInZone(preview.window.start, tz), end: isoInZone(preview.window.end, tz) }, omitted, source: windowSource(sources), sources };
      // [PRIV-15] an empty window is an answer, not a failure: nothing would leave, and why.
      if (o.kind === 'nothing') return { state: 'withheld' as const, body: null, body_sha256: null, reason: o.reason, message: o.message, ...common };
      return { state: 'summary' as const, body: o.summary.body.toString('utf8'), body_sha256: o.summary.bodySha256, reason: null, message: null, ...common };
    },
  }),
  'policy.approve': defineOperation({
    params: params({ name: policyName, hash: optionalText('hash'), as: optionalText('--as'), accept_risk: optionalText('--accept-risk') }),
    run: ({ context: ctx, sharing }, p) => {
      const { book, outbox } = sharing;
      const before = book.status(p.name);
      const risk = before.current ? policyRisk(ctx, book, p.name) : null;
      if (risk?.level === 'high' && p.accept_risk !== 'high')
        throw new SluiceError('SLUICE_ERR_POLICY_RISK_NOT_ACCEPTED', `policy ${p.name} scores high risk (${risk.points} points, a heuristic, not a probability): ${risk.reasons.filter((r) => r.points > 0).map((r) => r.text).join('; ')}. Make it coarser, or approve with --accept-risk high`, { level: risk.level, points: risk.points });
      // The key is checked after what book.approve refuses first (problems, expiry), so those keep their own codes.
      const approvable = before.current !== null && before.error === null && !before.findings.some((f) => f.severity === 'error') && ctx.clock.now() < expiryInstant(before.current.policy.expires, ctx.config.timezone);
      if (approvable) requireKey(ctx, before.current!);
      const changes = changesSince(before, ctx.clock.now());
      // A version in force that came to wait for a member (CONSENT-1): this approval may end the waiting period.
      const prior = book.standing(p.name);
      const waited = !prior.inForce && prior.reason === 'waiting' ? prior.approved : null;
      let catchUp: ApprovalCatchUp = { windows: 0, not_produced: 0, reason: null };
      const outcome = book.approveAs(p.name, {
        expectedHash: p.hash,
        by: p.as,
        inForce: (approved) => {
          if (!waited) return undefined;
          const detail = waitingEnded(ctx, sharing, p.name, waited, approved);
          catchUp = detail.result;
          return { catch_up: { ...detail.ledger, held: outbox.releaseHeld(p.name) } };
        },
      });
      if (!outcome.approved) return { name: p.name, version: outcome.version, changes, in_force: false, waiting_for: outcome.waitingFor, overlaps: [] as string[], catch_up: catchUp };
      ctx.events.emit('policy.decided', { policy: p.name, decision: 'approved' });
      return {
        name: p.name,
        version: outcome.approved.hash,
        changes,
        in_force: true,
        waiting_for: [] as string[],
        overlaps: describeOverlaps(outcome.approved.effective, otherVersions(book, p.name)),
        catch_up: catchUp,
      };
    },
  }),
  'policy.veto': defineOperation({
    params: params({ name: policyName, as: requiredText('--as', 'a veto names the member: --as NAME') }),
    run: ({ context: ctx, sharing: { book, outbox, erasures } }, p) => {
      let dropped = 0;
      const v = book.veto(p.name, p.as, () => {
        const a = book.standing(p.name).approved;
        if (a) requestErasure(ctx, erasures, a, 'vetoed');
        dropped = outbox.dropPolicy(p.name, 'revoked');
      });
      ctx.events.emit('policy.decided', { policy: p.name, decision: 'revoked' });
      return { name: p.name, version: v.version, stopped: v.stopped, dropped, by: p.as };
    },
  }),
  'policy.erase-request': defineOperation({
    params: params({ name: policyName, resend: flag('--resend') }),
    run: ({ context: ctx, sharing: { book, erasures } }, p) => {
      if (p.resend) {
        const e = ctx.db.tx(() => erasures.resend(p.name));
        queueMicrotask(() => ctx.events.emit('summary.queued', { summaryId: e.id, policy: p.name }));
        return { name: p.name, id: e.id, endpoint: e.endpoint, household: e.document.household, versions: e.document.versions, windows: e.document.windows, state: e.state };
      }
      const a = book.standing(p.name).approved;
      if (!a) throw new SluiceError('SLUICE_ERR_POLICY_NOT_APPROVED', `policy ${p.name} was never approved, so nothing was sent to erase`);
      if (!a.effective.policy.deletion_endpoint) throw new SluiceError('SLUICE_ERR_POLICY_INVALID', `policy ${p.name} names no deletion_endpoint`);
      const id = ctx.db.tx(() => requestErasure(ctx, erasures, a, 'requested'));
      if (id === null) throw new SluiceError('SLUICE_ERR_NOTHING_TO_SEND', `policy ${p.name}: nothing was sent to ${a.vendor}, so there is nothing to erase`);
      const e = erasures.get(id)!;
      return { name: p.name, id, endpoint: e.endpoint, household: e.document.household, versions: e.document.versions, windows: e.document.windows, state: e.state };
    },
  }),
  'policy.revoke': defineOperation({
    params: params({ name: policyName, as: optionalText('--as') }),
    run: ({ context: ctx, sharing: { book, outbox, erasures } }, p) => {
      let dropped = 0;
      const revoked = book.revoke(p.name, () => {
        // The request is queued before the drop, so it names the windows that were being attempted too.
        const a = book.standing(p.name).approved;
        if (a) requestErasure(ctx, erasures, a, 'revoked');
        dropped = outbox.dropPolicy(p.name, 'revoked');
      }, p.as);
      ctx.events.emit('policy.decided', { policy: p.name, decision: 'revoked' });
      return { name: p.name, version: revoked.hash, dropped };
    },
  }),
  'policy.run': defineOperation({
    params: params({ name: policyName, window: optionalText('--window') }),
    run: async ({ context: ctx, sharing: { book, disclosures, terms, termsRequired }, termsExchange }, p) => {
      const standing = book.standing(p.name);
      if (!standing.inForce) {
        if (standing.reason === 'unapproved') book.status(p.name); // throws SLUICE_ERR_POLICY_UNKNOWN for a name with no file
        if (standing.reason === 'expired') book.recordExpiries(); // the refusal is where the household learns of it
        throw notInForceError(p.name, standing.reason, standing.waitingFor);
      }
      if (standing.approved.effective.policy.kind === 'open-data') throw new SluiceError('SLUICE_ERR_USAGE', `policy ${p.name} is an open-data policy: release it with sluice policy release ${p.name}`);
      requireKey(ctx, standing.approved.effective);
      // A run right after an approval asks the vendor for its answer to the household's terms first.
      if (termsRequired && termsExchange && !terms.standing(standing.approved.effective.policy.vendor).ok) {
        termsExchange.kick();
        await termsExchange.settled();
      }
      const window = disclosures.window(standing.approved.effective, p.window);
      const r = disclosures.run(p.name, window);
      return { summary_id: r.summaryId, created: r.created, state: r.state, window: r.window, reason: r.reason ?? null, message: r.message ?? null, source: r.source };
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

/** What changes for windows past raw retention, said only to a policy whose statistics it changes (percentiles, histogram). */
function retentionNote(ctx: GatewayContext, e: EffectivePolicy | null | undefined): string[] {
  const stats = new Set(e?.rules.flatMap((r) => r.rule.stats as readonly string[]) ?? []);
  const percentiles = [...stats].some((x) => /^p\d\d$/.test(x));
  if (!percentiles && !stats.has('histogram')) return [];
  const days = ctx.config.retention.raw_days;
  const what = [percentiles ? 'percentiles are read from an hourly sketch, within 1 %' : null, stats.has('histogram') ? 'the histogram is left out' : null].filter(Boolean).join(' and ');
  return [`A window reaching past raw retention (${days} days, or a device's or metric's own) is summarised from the hourly rollups: ${what}; the vendor is told in the summary.`];
}
