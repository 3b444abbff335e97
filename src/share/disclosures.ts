import { SluiceError, canonicalJson, type Clock, type EventBus, type SluiceDatabase } from '../core/index.js';
import type { Ledger } from '../ledger/index.js';
import { isAlignedWindow, isoInZone, lastClosedWindow, notInForceError, parseWindowText, type EffectivePolicy, type PolicyBook, type Standing, type TimeWindow, type WindowSize } from '../policy/index.js';
import { budgetLimitsOf, budgetVendor, PrivacyAccountant } from '../privacy/index.js';
import type { StoreQueries, WindowSource } from '../store/index.js';
import { policyWindowSizes, summarise, type ItemSource, type PausedInterval, type Sample, type Summary, type SummaryOutcome } from '../summarise/index.js';
import type { Outbox, TermsGate } from './outbox.js';
import { gatewaySecret } from './vendor-keys.js';

export interface DisclosuresDeps {
  db: SluiceDatabase;
  ledger: Ledger;
  book: PolicyBook;
  outbox: Outbox;
  queries: StoreQueries;
  /** Raw readings within raw retention, hourly rollups past it; without it every window reads raw readings. */
  readings?: WindowSource;
  clock: Clock;
  events: EventBus;
  timezone: string;
  dataDir: string;
  /** The no-share privacy pauses of a device's metric inside a window (none for safety alarms); the household's members supply them. */
  pausedFor?: (deviceId: string, metric: string, window: TimeWindow) => PausedInterval[];
  /** The household's terms with each vendor; without it (unit tests of this module) no agreement is asked for or stamped. */
  terms?: TermsGate;
}

export interface Preview {
  /** The summary that would be sent, or nothing and why. */
  outcome: SummaryOutcome;
  /** The bytes, when something would be sent (preview() refuses an empty window). */
  summary: Summary;
  window: TimeWindow;
  /** Which version the bytes are of: the one in force, or the file awaiting approval. */
  basis: 'approved' | 'pending';
}

export interface RunResult {
  /** null when the window had nothing to send (recorded in the ledger as disclosure.withheld). */
  summaryId: string | null;
  created: boolean;
  state: string;
  window: { start: string; end: string };
  /** Why nothing left, when state is 'withheld'. */
  reason?: 'no-rule-for-window' | 'too-few-readings' | 'paused' | 'budget';
  message?: string;
  /** raw when every item read raw readings, rollup when every item read hourly rollups (past raw retention), else mixed. */
  source: WindowSourceKind;
}

export type WindowSourceKind = 'raw' | 'rollup' | 'mixed';

/** One word for the sources of a window's items. */
export function windowSource(sources: readonly ItemSource[]): WindowSourceKind {
  const kinds = new Set(sources.map((s) => s.source));
  return kinds.size > 1 ? 'mixed' : kinds.has('rollup') ? 'rollup' : 'raw';
}

/**
 * Produces summaries of approved policies: the same function serves `policy preview` (bytes
 * only), `policy run` and the scheduler (bytes stored with their outbox row in one transaction).
 */
export class Disclosures {
  private readonly accountant: PrivacyAccountant;

  constructor(private readonly deps: DisclosuresDeps) {
    this.accountant = new PrivacyAccountant({ db: deps.db });
  }

  /** The privacy budget ledger this path spends from (policy list, policy budget, open data). */
  get privacy(): PrivacyAccountant {
    return this.accountant;
  }

  /** The exact bytes a run of this window would send; refuses a window with nothing to send. */
  preview(name: string, windowText?: string): Preview {
    const p = this.previewOutcome(name, windowText);
    if (p.outcome.kind === 'nothing') throw new SluiceError('SLUICE_ERR_NOTHING_TO_SEND', `policy ${name}: ${p.outcome.message}`, { reason: p.outcome.reason, omitted: p.outcome.omitted });
    return { ...p, summary: p.outcome.summary };
  }

  /** What a run of this window would produce: the same pure function of (version, window, readings) as run(). */
  previewOutcome(name: string, windowText?: string): Omit<Preview, 'summary'> {
    const status = this.deps.book.status(name);
    const pendingOk = status.current !== null && !status.findings.some((f) => f.severity === 'error') && status.error === null;
    const useApproved = status.state === 'approved' || (!pendingOk && status.inForce);
    const effective = useApproved ? status.approved!.effective : status.current;
    if (!effective || (!useApproved && !pendingOk)) {
      throw status.error ?? new SluiceError('SLUICE_ERR_POLICY_INVALID', `policy ${name} has problems; see sluice policy check ${name}`);
    }
    const window = this.window(effective, windowText);
    const outcome = this.deps.db.tx(() => this.build(effective, window));
    return { outcome, window, basis: useApproved ? 'approved' : 'pending' };
  }

  /** Produces one window's summary under the approved version and queues it; a second run of a window adds nothing. */
  run(name: string, window: TimeWindow, markRun?: () => void): RunResult {
    const result = this.deps.db.tx((): RunResult | Exclude<Standing, { inForce: true }> | { terms: string } => {
      const standing = this.deps.book.standing(name);
      if (!standing.inForce) {
        // The expiry goes on the record with this (committed) answer, not with a rolled-back throw.
        if (standing.reason === 'expired') this.deps.book.recordExpiries();
        return standing;
      }
      const approved = standing.approved;
      const terms = this.deps.terms?.standing(approved.effective.policy.vendor);
      // [TERMS-1] no window is produced (nor marked run) before the vendor accepts: it is produced once it has.
      if (terms && !terms.ok) return { terms: terms.message };
      const outcome = this.build(approved.effective, window);
      if (outcome.kind === 'nothing') {
        // The window was considered: the ledger says why nothing left (the vendor sees nothing, not even a marker).
        this.deps.ledger.append({
          kind: 'disclosure.withheld',
          vendor: approved.effective.policy.vendor,
          policy: name,
          version: approved.effective.hash,
          detail: { window: outcome.window, reason: outcome.reason, omitted: outcome.omitted.map((o) => ({ rule: o.rule, metric: o.metric, samples: o.samples, min_samples: o.minSamples, ...(o.coverage !== undefined ? { coverage: o.coverage } : {}) })) },
        });
        markRun?.();
        return { summaryId: null, created: false, state: 'withheld', window: outcome.window, reason: outcome.reason, message: outcome.message, source: windowSource(outcome.sources) };
      }
      const summary = outcome.summary;
      const existing = this.deps.outbox.get(summary.document.id);
      if (summary.releases.length > 0 && (!existing || existing.state === 'dropped')) {
        const withheld = this.spend(approved.effective, name, window, summary);
        if (withheld) {
          markRun?.();
          return withheld;
        }
      }
      const created = this.deps.outbox.enqueue(summary, approved.effective.policy.endpoint);
      markRun?.();
      const stored = this.deps.outbox.get(summary.document.id);
      return { summaryId: summary.document.id, created, state: stored?.state ?? 'queued', window: summary.document.window, source: windowSource(summary.sources) };
    });
    if ('inForce' in result) throw notInForceError(name, result.reason, result.waitingFor);
    if ('terms' in result) throw new SluiceError('SLUICE_ERR_TERMS_NOT_ACCEPTED', `policy ${name} is waiting: ${result.terms}`);
    if (result.created && result.summaryId !== null) this.deps.events.emit('summary.queued', { summaryId: result.summaryId, policy: name });
    return result;
  }

  /**
   * Spends the budget of a noisy summary and keeps its draws, in the run's transaction, so a
   * crash can neither send without spending nor spend without the stored bytes. A release over
   * either budget is withheld: nothing is queued, the ledger says why. [PRIV-DP-3]
   */
  private spend(effective: EffectivePolicy, name: string, window: TimeWindow, summary: Summary): RunResult | null {
    const now = this.deps.clock.now();
    const vendor = budgetVendor(effective.policy.vendor);
    const limits = budgetLimitsOf(effective);
    const epsilon = Math.round(summary.releases.reduce((a, r) => a + r.epsilon, 0) * 1e9) / 1e9;
    const release = { vendor, policy: name, window, epsilon, at: now };
    // The spec names the version: another version's release of the same window is another draw, charged again.
    const spec = canonicalJson({ version: effective.hash, items: summary.releases.map((r) => [r.item, r.epsilon, r.clamp, r.unit]) });
    const decision = this.accountant.spend({ ...release, spec, summaryId: summary.document.id }, limits);
    const about = { vendor: effective.policy.vendor, policy: name, version: effective.hash };
    if (!decision.ok) {
      this.accountant.recordWithheld(release, decision);
      const tz = this.deps.timezone;
      const renewal = decision.nextRenewal === null ? `it never fits a cap of ${decision.cap}` : `releases fit again from ${isoInZone(decision.nextRenewal, tz)}`;
      const message = `withheld: budget — the ${decision.limit === 'vendor' ? `${effective.policy.vendor} budget` : 'household budget'} has ${round6(decision.spent)} of ${decision.cap} ε spent in its period and this window needs ${epsilon}; nothing is sent (${renewal})`;
      this.deps.ledger.append({
        ...about,
        kind: 'disclosure.withheld',
        detail: { window: summary.document.window, reason: 'budget', limit: decision.limit, epsilon, spent: round6(decision.spent), cap: decision.cap, next_renewal: decision.nextRenewal === null ? null : isoInZone(decision.nextRenewal, tz) },
      });
      return { summaryId: null, created: false, state: 'withheld', window: summary.document.window, reason: 'budget', message, source: windowSource(summary.sources) };
    }
    for (const r of summary.releases) this.accountant.storeNoise(vendor, name, window, r.item, r.noise, now);
    this.deps.ledger.append({
      ...about,
      kind: 'disclosure.noised',
      summaryId: summary.document.id,
      detail: {
        window: summary.document.window,
        epsilon,
        charged: decision.charged !== false,
        vendor_spent: round6(decision.vendorSpent),
        vendor_cap: limits.vendor.epsilon,
        household_spent: round6(decision.householdSpent),
        household_cap: limits.household.epsilon,
        body_sha256: summary.bodySha256,
        items: summary.releases.map((r) => ({ rule: r.rule, metric: r.metric, stat: r.stat, epsilon: r.epsilon, mechanism: r.mechanism, clamp: r.clamp, unit: r.unit, sensitivity: r.sensitivity })),
      },
    });
    return null;
  }

  /**
   * The window named by `START/END`, or the newest closed one of the policy's smallest rule
   * window; it must be one whole, closed window of a size some rule uses.
   */
  window(effective: EffectivePolicy, text?: string): TimeWindow {
    const sizes = policyWindowSizes(effective);
    const size = sizes[0] ?? ('1d' as WindowSize);
    const tz = this.deps.timezone;
    const now = this.deps.clock.now();
    if (text === undefined) return lastClosedWindow(now, size, tz);
    const w = parseWindowText(text, tz);
    // [PRIV-10] only whole approved windows: a shorter window would approximate raw readings.
    if (!w || !sizes.some((sz) => isAlignedWindow(w, sz, tz))) {
      const example = lastClosedWindow(now, size, tz);
      throw new SluiceError('SLUICE_ERR_WINDOW_INVALID', `--window must be one whole ${size} window in ${tz}, e.g. ${isoInZone(example.start, tz)}/${isoInZone(example.end, tz)}; got "${text}"`);
    }
    if (w.end > now) throw new SluiceError('SLUICE_ERR_WINDOW_INVALID', `the window ${text} has not ended yet`);
    return w;
  }

  /**
   * Builds the summary from (approved version, window, stored readings, gateway secret) only —
   * no ledger head or send history — so preview and sent bytes are equal. [PRIV-14] The clock
   * only decides whether the window is past raw retention (then rollups are read): once it is,
   * the raw readings are going, and `policy sent` keeps the bytes that left.
   */
  private build(effective: EffectivePolicy, window: TimeWindow): SummaryOutcome {
    const { queries, readings, pausedFor } = this.deps;
    const vendor = budgetVendor(effective.policy.vendor);
    const tz = this.deps.timezone;
    const size = policyWindowSizes(effective).find((sz) => isAlignedWindow(window, sz, tz)) ?? ('1d' as WindowSize);
    const read = readings?.forWindow(window, this.deps.clock.now());
    return summarise({
      policy: effective,
      window,
      size,
      timezone: tz,
      gatewaySecret: gatewaySecret(this.deps.dataDir),
      samples: (deviceId, metric) =>
        read
          ? read.samples(deviceId, metric)
          : queries
              .readings({ deviceId, metric, since: window.start, until: window.end, limit: Number.MAX_SAFE_INTEGER })
              .map((r): Sample => ({ ts: r.ts, value: r.value as Sample['value'] })),
      ...(read ? { rollups: read } : {}),
      // [PAUSE-2] applied here, before any release: a withheld window spends no privacy budget.
      ...(pausedFor ? { paused: (deviceId: string, metric: string) => pausedFor(deviceId, metric, window) } : {}),
      // A window released before keeps its draw (reading only: a preview spends and stores nothing).
      storedNoise: (item) => this.accountant.storedNoise(vendor, effective.name, window, item),
    });
  }
}

function round6(v: number): number {
  return Math.round(v * 1e6) / 1e6;
}
