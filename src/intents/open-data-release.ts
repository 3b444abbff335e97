import { SluiceError, canonicalJson, sha256Hex, type Clock, type Migration, type SluiceDatabase, type TimeWindow } from '../core/index.js';
import { isLoopbackHost } from '../config/index.js';
import type { Ledger } from '../ledger/index.js';
import type { ApprovedPolicy, EffectivePolicy, PolicyBook } from '../policy/index.js';
import { noisyStatistic, type BudgetLimits, type IntegerSource, type NoisyRelease, type NoisyStat, type PrivacyAccountant, type PrivacySpec } from '../privacy/index.js';
import type { StoreQueries } from '../store/index.js';
import { openDataRelease } from './open-data.js';

export const openDataMigrations: Migration[] = [
  {
    module: 'open-data',
    version: 1,
    description: 'open-data releases: the bytes of each window, drawn and spent once, and whether the collector took them',
    up: (db) =>
      db.exec(`
        CREATE TABLE open_data_releases (
          policy TEXT NOT NULL,
          window_start INTEGER NOT NULL,
          window_end INTEGER NOT NULL,
          rule INTEGER NOT NULL,
          release_id TEXT NOT NULL UNIQUE,
          body TEXT NOT NULL,
          epsilon REAL NOT NULL,
          created_at INTEGER NOT NULL,
          sent_at INTEGER,
          last_error TEXT,
          PRIMARY KEY (policy, window_start, window_end, rule)
        ) WITHOUT ROWID;
      `),
  },
];

/**
 * The budget key of open data: the collector is one more recipient of the household's privacy
 * loss, so it spends from the same household cap as every vendor. [PRIV-DP-3]
 */
export const OPEN_DATA_BUDGET_PREFIX = 'open-data:';

export interface OpenDataReleasesDeps {
  db: SluiceDatabase;
  ledger: Ledger;
  book: PolicyBook;
  queries: StoreQueries;
  accountant: PrivacyAccountant;
  clock: Clock;
  /** Each rule's privacy spec (rule index → spec), as the policy layer resolves defaults. */
  specsOf: (policy: EffectivePolicy) => Map<number, PrivacySpec>;
  limitsOf: (policy: EffectivePolicy) => BudgetLimits;
  /** Integer step of a rule's metric (noise is drawn in whole steps). */
  resolutionOf: (policy: EffectivePolicy, rule: number, metric: string) => number;
  rng: IntegerSource;
  /** A fresh random release id; injected in tests. */
  newId?: () => string;
  requestTimeout: number; // ms
  /** [PAUSE-2] the no-share pauses of a device's metric in a window: readings inside them are never released. */
  pausedFor?: (deviceId: string, metric: string, window: TimeWindow) => ReadonlyArray<{ from: number; to: number }>;
}

export interface OpenDataRun {
  window: { start: string; end: string };
  releases: Array<{ rule: number; release_id: string; state: 'sent' | 'failed'; error?: string }>;
  withheld: Array<{ rule: number; reason: 'no-readings' | 'budget'; message: string }>;
}

interface StoredRelease {
  rule: number;
  release_id: string;
  body: string;
  sent_at: number | null;
}

/**
 * Releases of `kind: open-data` policies: one noisy whole-home aggregate per rule and window,
 * sent to the collector with no household id, no key id and no policy version — only a fresh
 * random release id, so two releases of one home cannot be linked by anything in them.
 * [PRIV-OPEN-1] The noise and the budget come from src/privacy; the spend commits with the bytes.
 */
export class OpenDataReleases {
  constructor(private readonly deps: OpenDataReleasesDeps) {}

  /**
   * Builds (once) and sends this window's releases under the approved version. A release whose
   * send failed is sent again, the same bytes, on the next run; it is never drawn or spent twice.
   */
  async run(name: string, window: TimeWindow, markRun?: () => void): Promise<OpenDataRun> {
    const { db, book } = this.deps;
    const approved = book.inForce(name);
    if (!approved) throw new SluiceError('SLUICE_ERR_POLICY_NOT_APPROVED', `policy ${name} is not in force; nothing is released`);
    if (approved.effective.policy.kind !== 'open-data') throw new SluiceError('SLUICE_ERR_INTERNAL', `policy ${name} is not an open-data policy`);
    const withheld: OpenDataRun['withheld'] = [];
    const stored = db.tx(() => this.prepare(approved, window, withheld));
    const releases: OpenDataRun['releases'] = [];
    for (const r of stored) {
      if (r.sent_at !== null) {
        releases.push({ rule: r.rule, release_id: r.release_id, state: 'sent' });
        continue;
      }
      const res = await this.post(approved.effective.policy.endpoint, r.body);
      db.tx(() => {
        if (res.ok) {
          db.raw.prepare('UPDATE open_data_releases SET sent_at = ?, last_error = NULL WHERE release_id = ?').run(this.deps.clock.now(), r.release_id);
          this.deps.ledger.append({ kind: 'open-data.sent', vendor: null, policy: name, version: approved.hash, detail: { rule: r.rule, window: iso(window), endpoint: approved.effective.policy.endpoint, status: res.status, body_sha256: sha256Hex(r.body) } });
        } else {
          db.raw.prepare('UPDATE open_data_releases SET last_error = ? WHERE release_id = ?').run(res.error, r.release_id);
        }
      });
      releases.push({ rule: r.rule, release_id: r.release_id, state: res.ok ? 'sent' : 'failed', ...(res.ok ? {} : { error: res.error }) });
    }
    // The window counts as run only once every release reached the collector; otherwise the scheduler tries again.
    if (releases.every((r) => r.state === 'sent')) db.tx(() => markRun?.());
    else throw new SluiceError('SLUICE_ERR_OPEN_DATA_REFUSED', `policy ${name}: the collector did not take ${releases.filter((r) => r.state !== 'sent').length} release(s): ${releases.map((r) => r.error).filter(Boolean).join('; ')}`);
    return { window: iso(window), releases, withheld };
  }

  /** The bodies stored for a window (for tests and `ledger show --body`-like inspection). */
  stored(name: string, window: TimeWindow): Array<{ rule: number; releaseId: string; body: string; sentAt: number | null }> {
    return this.rows(name, window).map((r) => ({ rule: r.rule, releaseId: r.release_id, body: r.body, sentAt: r.sent_at }));
  }

  /** Draws, spends and stores each rule's release of the window once; inside one transaction. */
  private prepare(approved: ApprovedPolicy, window: TimeWindow, withheld: OpenDataRun['withheld']): StoredRelease[] {
    const { db, ledger, accountant, clock } = this.deps;
    const e = approved.effective;
    const name = e.name;
    const existing = new Map(this.rows(name, window).map((r) => [r.rule, r]));
    const specs = this.deps.specsOf(e);
    const limits = this.deps.limitsOf(e);
    const now = clock.now();
    for (const r of e.rules) {
      if (existing.has(r.index)) continue;
      const spec = specs.get(r.index);
      // The schema refuses open-data rules without privacy:; this is the belt to its braces.
      if (!spec) throw new SluiceError('SLUICE_ERR_POLICY_INVALID', `policy ${name} rule ${r.index} has no privacy: block; open data is always noised`);
      const metric = r.rule.metrics[0]!;
      const perDevice = r.devices.map((deviceId) => {
        const paused = this.deps.pausedFor?.(deviceId, metric, window) ?? [];
        return this.deps.queries
          .readings({ deviceId, metric, since: window.start, until: window.end, limit: 1_000_000 })
          .filter((x): x is typeof x & { value: number } => typeof x.value === 'number' && !paused.some((p) => x.ts >= p.from && x.ts < p.to))
          .map((x) => ({ ts: x.ts, value: x.value }));
      });
      if (perDevice.every((d) => d.length === 0)) {
        const message = `no ${metric} readings in the window`;
        withheld.push({ rule: r.index, reason: 'no-readings', message });
        ledger.append({ kind: 'open-data.withheld', vendor: null, policy: name, version: approved.hash, detail: { rule: r.index, window: iso(window), reason: 'no-readings' } });
        continue;
      }
      const stats = r.rule.stats as NoisyStat[];
      const budgetKey = `${OPEN_DATA_BUDGET_PREFIX}${name}`;
      const epsilon = spec.epsilon;
      const decision = accountant.spend({ vendor: budgetKey, policy: name, window, epsilon, at: now, spec: canonicalJson({ rule: r.index, spec }) }, limits);
      if (!decision.ok) {
        const message = `the ${decision.limit} privacy budget has ${Math.max(0, decision.cap - decision.spent)} of ${decision.cap} ε left; this release needs ${epsilon}`;
        withheld.push({ rule: r.index, reason: 'budget', message });
        ledger.append({ kind: 'open-data.withheld', vendor: null, policy: name, version: approved.hash, detail: { rule: r.index, window: iso(window), reason: 'budget', limit: decision.limit, spent: decision.spent, cap: decision.cap } });
        continue;
      }
      const resolution = this.deps.resolutionOf(e, r.index, metric);
      // All statistics of the rule share its ε, as in the vendor path.
      const share = { ...spec, epsilon: epsilon / stats.length };
      const noisy: NoisyRelease[] = stats.map((stat) => {
        const item = `${r.index}:${metric}:${stat}`;
        const release = noisyStatistic({ stat, spec: share, resolution, perDevice, stored: accountant.storedNoise(budgetKey, name, window, item), rng: this.deps.rng });
        accountant.storeNoise(budgetKey, name, window, item, release.noise, now);
        return release;
      });
      const built = openDataRelease({ aggregate: metric, window, releases: noisy, ...(this.deps.newId ? { newId: this.deps.newId } : {}) });
      if (!built.ok) throw new SluiceError('SLUICE_ERR_POLICY_INVALID', `policy ${name}: ${built.reason}`);
      const body = canonicalJson(built.document);
      db.raw
        .prepare('INSERT INTO open_data_releases (policy, window_start, window_end, rule, release_id, body, epsilon, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
        .run(name, window.start, window.end, r.index, built.document.release_id, body, epsilon, now);
      ledger.append({
        kind: 'open-data.released',
        vendor: null,
        policy: name,
        version: approved.hash,
        detail: { rule: r.index, window: iso(window), aggregate: metric, stats, epsilon, household_spent: decision.householdSpent, body_sha256: sha256Hex(body) },
      });
    }
    return this.rows(name, window);
  }

  private rows(name: string, window: TimeWindow): StoredRelease[] {
    return this.deps.db.raw
      .prepare<[string, number, number], StoredRelease>('SELECT rule, release_id, body, sent_at FROM open_data_releases WHERE policy = ? AND window_start = ? AND window_end = ? ORDER BY rule')
      .all(name, window.start, window.end);
  }

  private async post(endpoint: string, body: string): Promise<{ ok: true; status: number } | { ok: false; error: string }> {
    const target = new URL(endpoint);
    // [PRIV-7] verified TLS, or plain http to this machine only (the schema says so too; checked again here).
    if (!(target.protocol === 'https:' || (target.protocol === 'http:' && isLoopbackHost(target.hostname)))) return { ok: false, error: `refused to send to ${target.origin}` };
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.deps.requestTimeout);
    try {
      // No signature, no key id, no idempotency key beyond the release id in the body: each is a stable id.
      const res = await fetch(target, { method: 'POST', body, headers: { 'content-type': 'application/json', 'user-agent': 'sluice/1' }, redirect: 'manual', signal: controller.signal });
      await res.arrayBuffer();
      return res.status >= 200 && res.status < 300 ? { ok: true, status: res.status } : { ok: false, error: `HTTP ${res.status}` };
    } catch (err) {
      return { ok: false, error: controller.signal.aborted ? `no answer within ${this.deps.requestTimeout} ms` : `request failed: ${(err as Error).message}` };
    } finally {
      clearTimeout(timer);
    }
  }
}

function iso(w: TimeWindow): { start: string; end: string } {
  return { start: new Date(w.start).toISOString(), end: new Date(w.end).toISOString() };
}
