import { SluiceError } from '../core/index.js';
import { isoInZone, lastClosedWindow, notInForceError, parseWindowText, type EffectivePolicy, type PolicyBook, type TimeWindow, type WindowSize } from '../policy/index.js';
import { budgetLimitsOf, budgetVendor as vendorKey, cryptoSource, declaredLinks, PrivacyAccountant, privacySpecsOf, releaseProfileOf, resolutionOf, type BudgetStanding, replayPolicy, scoreCoalitions, scoreProfile, type ReplayLine, type ReplayOutcome, type ReplaySource, type RiskLevel, type RiskReason } from '../privacy/index.js';
import { gatewaySecret, signingKeyStatus, type StoredSummary } from '../share/index.js';
import { mechanismSamples, policyWindowSizes, summarise, type Sample } from '../summarise/index.js';
import type { GatewayContext } from './context.js';
import { windowSourceOf, type Sharing } from './sharing.js';
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

/** `policy risk`: a heuristic score of what one policy shows, and of every group of vendors that could link their views. */
export interface RiskResult {
  name: string;
  vendor: string;
  level: RiskLevel;
  points: number;
  /** Every reason that fired, strongest first, each with its source. */
  reasons: RiskReason[];
  /** "a heuristic, not a probability", said with every score. */
  note: string;
  /** Groups this policy's vendor belongs to, scored as one combined view. */
  coalitions: Array<{ vendors: string[]; links: string[]; level: RiskLevel; points: number; reasons: RiskReason[] }>;
}

/** The version a score is about: as written now, else as approved; other policies as in force (or as written). */
function scoredVersions(book: PolicyBook, name: string): { self: EffectivePolicy | null; others: EffectivePolicy[] } {
  const s = book.status(name);
  const others: EffectivePolicy[] = [];
  for (const n of book.names()) {
    if (n === name) continue;
    try {
      const o = book.status(n);
      const e = o.inForce ? o.approved?.effective : (o.current ?? null);
      if (e) others.push(e);
    } catch {
      // A policy that does not load releases nothing.
    }
  }
  return { self: s.current ?? s.approved?.effective ?? null, others };
}

/** The risk score of a policy, or null when no version of it loads. */
export function policyRisk(ctx: GatewayContext, book: PolicyBook, name: string): RiskResult | null {
  const { self, others } = scoredVersions(book, name);
  if (!self) return null;
  const profiles = ctx.profiles();
  const base = { now: ctx.clock.now(), kindOf: (p: string) => profiles.get(p)?.kind ?? null };
  const profileOf = (e: EffectivePolicy) => releaseProfileOf(e, { ...base, accountLinked: e.policy.account !== undefined, epsilonByRule: new Map([...privacySpecsOf(e)].map(([rule, spec]) => [rule, spec.epsilon])) });
  const mine = profileOf(self);
  const score = scoreProfile(mine);
  const rest = others.filter((o) => o.policy.vendor !== self.policy.vendor);
  const coalitions = scoreCoalitions([mine, ...rest.map(profileOf)], declaredLinks([self, ...rest]))
    .filter((c) => c.vendors.includes(mine.vendor))
    .map((c) => ({ vendors: c.vendors, links: c.links, level: c.level, points: c.points, reasons: c.reasons }));
  return { name, vendor: mine.vendor, level: score.level, points: score.points, reasons: score.reasons, note: score.note, coalitions };
}

/** The risk in words, for `policy explain` and `policy risk`. */
export function riskText(r: RiskResult): string {
  const lines = [`Risk: ${r.level} (${r.points} points). ${r.note}`];
  for (const x of r.reasons) lines.push(`  ${x.points >= 0 ? '+' : ''}${x.points} ${x.text} (source: ${x.source})`);
  for (const c of r.coalitions) {
    lines.push(`Together, ${c.vendors.join(', ')}: ${c.level} (${c.points} points), because ${c.links.join('; ')}.`);
    for (const x of c.reasons) lines.push(`  ${x.points >= 0 ? '+' : ''}${x.points} ${x.text} (source: ${x.source})`);
  }
  return lines.join('\n');
}

const DAY = 86_400_000;

/** One window of `policy replay`, as JSON. */
export interface ReplayRow {
  window: { start: string; end: string };
  size: WindowSize;
  sent: boolean;
  items: ReplayLine['items'];
  suppressed: ReplayLine['suppressed'];
  epsilon: number;
  bytes: number;
  sources: ReplaySource[];
  /** Why nothing would have been sent, as `policy run` says it ('paused', 'too-few-readings', 'budget', …); null when something would. */
  reason: ReplayLine['reason'];
}

/** `policy replay`: what the policy would have sent; nothing is sent, stored or spent. */
export interface ReplayResult {
  name: string;
  days: number;
  /** Which version was replayed: the file as written (pending approval or equal to the approved one), or the approved one. */
  basis: 'current' | 'approved';
  windows: ReplayRow[];
  totals: { windows: number; sent: number; epsilon: number; bytes: number };
}

/** The closed windows of one size that lie within the last `days` days, oldest first. */
function windowsWithin(now: number, days: number, size: WindowSize, tz: string): TimeWindow[] {
  const out: TimeWindow[] = [];
  for (let w = lastClosedWindow(now, size, tz); w.start >= now - days * DAY; w = lastClosedWindow(w.start, size, tz)) out.push(w);
  return out.reverse();
}

function replayOf(ctx: GatewayContext, sharing: Sharing, name: string, days: number): ReplayResult {
  const { book } = sharing;
  const s = book.status(name);
  const pendingOk = s.current !== null && s.error === null && !s.findings.some((f) => f.severity === 'error');
  const policy = pendingOk ? s.current! : (s.approved?.effective ?? null);
  if (!policy) throw s.error ?? new SluiceError('SLUICE_ERR_POLICY_INVALID', `policy ${name} has problems; see sluice policy check ${name}`);
  const tz = ctx.config.timezone;
  const now = ctx.clock.now();
  const secret = gatewaySecret(ctx.config.data_dir);
  const privacy = privacySpecsOf(policy);
  const readings = windowSourceOf(ctx);
  const rows: ReplayRow[] = [];
  for (const size of policyWindowSizes(policy)) {
    const lines = replayPolicy({
      policy,
      windows: windowsWithin(now, days, size, tz),
      timezone: tz,
      size,
      gatewaySecret: secret,
      // As the real run reads them: raw readings within raw retention, hourly rollups past it.
      samples: (deviceId, metric, w) => {
        const source = readings.sourceOf(deviceId, metric, w, now);
        if (source === 'raw') return { samples: readings.samples(deviceId, metric, w).map((p) => ({ ts: p.ts, value: p.value as number })), source };
        return { samples: mechanismSamples(readings.hours(deviceId, metric, w)), source };
      },
      // [PAUSE-2] the pauses the real path applies, through the same function.
      paused: sharing.pausedFor,
      privacy,
      // A simulated copy of the real spending so far; the replay never spends from it.
      ...(privacy.size > 0 ? { budget: { vendor: vendorKey(policy.policy.vendor), releases: new PrivacyAccountant({ db: ctx.db }).releasesSince(now - days * DAY - 2 * budgetLimitsOf(policy).vendor.perMs), limits: budgetLimitsOf(policy) } } : {}),
      resolutionOf: (rule, metric) => resolutionOf(policy, rule, metric),
      // Throw-away noise: never stored, so the real release draws its own.
      noise: cryptoSource,
      summarise: (input): ReplayOutcome => {
        const o = summarise({ ...input, samples: (d, m) => input.samples(d, m) as readonly Sample[], rollups: readings.forWindow(input.window, now) });
        const sources = o.kind === 'summary' ? o.summary.sources : o.sources;
        return o.kind === 'summary' ? { kind: 'summary', summary: o.summary, sources } : { kind: 'nothing', omitted: o.omitted, reason: o.reason, sources };
      },
    });
    for (const l of lines) rows.push({ window: { start: isoInZone(l.window.start, tz), end: isoInZone(l.window.end, tz) }, size, sent: l.sent, items: l.items, suppressed: l.suppressed, epsilon: l.epsilon, bytes: l.bytes, sources: l.sources, reason: l.reason });
  }
  rows.sort((a, b) => Date.parse(a.window.start) - Date.parse(b.window.start) || Date.parse(a.window.end) - Date.parse(b.window.end));
  const epsilon = Math.round(rows.reduce((a, r) => a + r.epsilon, 0) * 1e9) / 1e9;
  return { name, days, basis: pendingOk ? 'current' : 'approved', windows: rows, totals: { windows: rows.length, sent: rows.filter((r) => r.sent).length, epsilon, bytes: rows.reduce((a, r) => a + r.bytes, 0) } };
}

/** What left the house, byte for byte, and sending a failed summary again. */
export const privacyOperations = {
  'policy.budget': defineOperation({
    params: params({ name: requiredText('a policy NAME', 'a policy NAME is required') }),
    run: ({ context: ctx, sharing: { book } }, p) => {
      const s = book.status(p.name);
      const policy = s.approved?.effective ?? s.current;
      if (!policy) throw s.error ?? new SluiceError('SLUICE_ERR_POLICY_INVALID', `policy ${p.name} does not load; see sluice policy check ${p.name}`);
      const limits = budgetLimitsOf(policy);
      const now = ctx.clock.now();
      const st = new PrivacyAccountant({ db: ctx.db }).standing(vendorKey(policy.policy.vendor), now, limits);
      const shown = (b: BudgetStanding) => ({ spent: b.spent, left: b.left, cap: b.cap, per_days: b.perMs / DAY, next_renewal: b.nextRenewal === null ? null : isoInZone(b.nextRenewal, ctx.config.timezone) });
      return { name: p.name, vendor: policy.policy.vendor, noised: privacySpecsOf(policy).size > 0, vendor_budget: shown(st.vendor), household_budget: shown(st.household) };
    },
  }),
  'policy.replay': defineOperation({
    params: params({ name: requiredText('a policy NAME', 'a policy NAME is required'), days: optionalText('--days') }),
    run: ({ context: ctx, sharing }, p): ReplayResult => {
      const days = p.days === undefined ? 30 : Number(p.days);
      if (!Number.isInteger(days) || days < 1 || days > 730) throw new SluiceError('SLUICE_ERR_USAGE', `--days must be a whole number of days from 1 to 730; got "${p.days}"`);
      return replayOf(ctx, sharing, p.name, days);
    },
  }),
  'policy.risk': defineOperation({
    params: params({ name: requiredText('a policy NAME', 'a policy NAME is required') }),
    run: ({ context: ctx, sharing: { book } }, p): RiskResult & { text: string } => {
      const r = policyRisk(ctx, book, p.name);
      if (!r) throw new SluiceError('SLUICE_ERR_POLICY_INVALID', `policy ${p.name} does not load, so it cannot be scored; see sluice policy check ${p.name}`);
      return { ...r, text: riskText(r) };
    },
  }),
  'policy.sent': defineOperation({
    params: params({ name: requiredText('a policy NAME'), window: optionalText('--window') }),
    run: ({ context: ctx, sharing: { outbox } }, p): SentSummary => shown(ctx, summaryFor(ctx, outbox.list({ policy: p.name }), p.name, p.window)),
  }),
  'policy.resend': defineOperation({
    params: params({ name: requiredText('a policy NAME'), window: requiredText('--window START/END', '--window START/END is required: which failed summary to send again') }),
    run: ({ context: ctx, sharing: { book, outbox } }, p) => {
      const s = summaryFor(ctx, outbox.list({ policy: p.name }), p.name, p.window);
      const standing = book.standing(p.name);
      if (!standing.inForce) throw notInForceError(p.name, standing.reason, standing.waitingFor);
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
