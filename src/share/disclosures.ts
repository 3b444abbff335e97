import { SluiceError, type Clock, type EventBus, type SluiceDatabase } from '../core/index.js';
import type { Ledger } from '../ledger/index.js';
import { isAlignedWindow, isoInZone, lastClosedWindow, notInForceError, parseWindowText, type EffectivePolicy, type PolicyBook, type Standing, type TimeWindow, type WindowSize } from '../policy/index.js';
import type { StoreQueries } from '../store/index.js';
import { householdPseudonym, summarise, type Sample, type Summary } from '../summarise/index.js';
import type { Outbox } from './outbox.js';
import { householdSecret } from './secrets.js';

export interface DisclosuresDeps {
  db: SluiceDatabase;
  ledger: Ledger;
  book: PolicyBook;
  outbox: Outbox;
  queries: StoreQueries;
  clock: Clock;
  events: EventBus;
  timezone: string;
  dataDir: string;
}

export interface Preview {
  summary: Summary;
  window: TimeWindow;
  /** Which version the bytes are of: the one in force, or the file awaiting approval. */
  basis: 'approved' | 'pending';
}

export interface RunResult {
  summaryId: string;
  created: boolean;
  state: string;
  window: { start: string; end: string };
}

/**
 * Produces summaries of approved policies: the same function serves `policy preview` (bytes
 * only), `policy run` and the scheduler (bytes stored with their outbox row in one transaction).
 */
export class Disclosures {
  constructor(private readonly deps: DisclosuresDeps) {}

  /** The exact bytes a run of this window would send now. */
  preview(name: string, windowText?: string): Preview {
    const status = this.deps.book.status(name);
    const pendingOk = status.current !== null && !status.findings.some((f) => f.severity === 'error') && status.error === null;
    const useApproved = status.state === 'approved' || (!pendingOk && status.inForce);
    const effective = useApproved ? status.approved!.effective : status.current;
    if (!effective || (!useApproved && !pendingOk)) {
      throw status.error ?? new SluiceError('SLUICE_ERR_POLICY_INVALID', `policy ${name} has problems; see sluice policy check ${name}`);
    }
    const window = this.window(effective, windowText);
    const summary = this.deps.db.tx(() => this.build(effective, window));
    return { summary, window, basis: useApproved ? 'approved' : 'pending' };
  }

  /** Produces one window's summary under the approved version and queues it; a second run of a window adds nothing. */
  run(name: string, window: TimeWindow, markRun?: () => void): RunResult {
    const result = this.deps.db.tx((): RunResult | Exclude<Standing, { inForce: true }> => {
      const standing = this.deps.book.standing(name);
      if (!standing.inForce) {
        // The expiry goes on the record with this (committed) answer, not with a rolled-back throw.
        if (standing.reason === 'expired') this.deps.book.recordExpiries();
        return standing;
      }
      const approved = standing.approved;
      const summary = this.build(approved.effective, window);
      const created = this.deps.outbox.enqueue(summary, approved.effective.policy.endpoint);
      markRun?.();
      const stored = this.deps.outbox.get(summary.document.id);
      return { summaryId: summary.document.id, created, state: stored?.state ?? 'queued', window: summary.document.window };
    });
    if ('reason' in result) throw notInForceError(name, result.reason);
    if (result.created) this.deps.events.emit('summary.queued', { summaryId: result.summaryId, policy: name });
    return result;
  }

  /** The window named by `START/END`, or the newest closed one; it must be one whole, closed window of the policy's size. */
  window(effective: EffectivePolicy, text?: string): TimeWindow {
    const size = effective.policy.share[0]!.window as WindowSize;
    const tz = this.deps.timezone;
    const now = this.deps.clock.now();
    if (text === undefined) return lastClosedWindow(now, size, tz);
    const w = parseWindowText(text, tz);
    // [PRIV-10] only whole approved windows: a shorter window would approximate raw readings.
    if (!w || !isAlignedWindow(w, size, tz)) {
      const example = lastClosedWindow(now, size, tz);
      throw new SluiceError('SLUICE_ERR_WINDOW_INVALID', `--window must be one whole ${size} window in ${tz}, e.g. ${isoInZone(example.start, tz)}/${isoInZone(example.end, tz)}; got "${text}"`);
    }
    if (w.end > now) throw new SluiceError('SLUICE_ERR_WINDOW_INVALID', `the window ${text} has not ended yet`);
    return w;
  }

  /** Builds the summary; inside a transaction, so the ledger head it carries is the committed one. */
  private build(effective: EffectivePolicy, window: TimeWindow): Summary {
    const { queries } = this.deps;
    return summarise({
      policy: effective,
      window,
      timezone: this.deps.timezone,
      household: householdPseudonym(householdSecret(this.deps.dataDir), effective.policy.vendor),
      ledgerHead: this.deps.ledger.headHash(),
      samples: (deviceId, metric) =>
        queries
          .readings({ deviceId, metric, since: window.start, until: window.end, limit: Number.MAX_SAFE_INTEGER })
          .filter((r): r is typeof r & { value: number } => typeof r.value === 'number')
          .map((r): Sample => ({ ts: r.ts, value: r.value })),
    });
  }
}
