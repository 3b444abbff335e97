import type { Migration, SluiceDatabase, TimeWindow } from '../core/index.js';
import type { DrawnNoise } from './release.js';

export const privacyMigrations: Migration[] = [
  {
    module: 'privacy',
    version: 1,
    description: 'privacy budget releases and stored noise',
    up(db) {
      // One row per noisy release: what the accountant sums over its sliding period.
      db.exec(`CREATE TABLE privacy_releases (
        id INTEGER PRIMARY KEY,
        vendor TEXT NOT NULL,
        policy TEXT NOT NULL,
        window_start INTEGER NOT NULL,
        window_end INTEGER NOT NULL,
        epsilon REAL NOT NULL,
        at INTEGER NOT NULL,
        spec TEXT NOT NULL,
        summary_id TEXT,
        UNIQUE (vendor, policy, window_start, window_end, spec)
      )`);
      db.exec('CREATE INDEX privacy_releases_at ON privacy_releases (at)');
      // The noise of a release, drawn once: a resend or a re-run of the window reads it back.
      db.exec(`CREATE TABLE privacy_noise (
        vendor TEXT NOT NULL,
        policy TEXT NOT NULL,
        window_start INTEGER NOT NULL,
        window_end INTEGER NOT NULL,
        item TEXT NOT NULL,
        noise TEXT NOT NULL,
        drawn_at INTEGER NOT NULL,
        PRIMARY KEY (vendor, policy, window_start, window_end, item)
      ) WITHOUT ROWID`);
    },
  },
  {
    module: 'privacy',
    version: 2,
    description: 'windows withheld because a privacy budget was spent, for policy list',
    up(db) {
      db.exec(`CREATE TABLE privacy_withheld (
        policy TEXT NOT NULL,
        window_start INTEGER NOT NULL,
        window_end INTEGER NOT NULL,
        vendor TEXT NOT NULL,
        at INTEGER NOT NULL,
        epsilon REAL NOT NULL,
        limit_name TEXT NOT NULL CHECK (limit_name IN ('vendor', 'household')),
        spent REAL NOT NULL,
        cap REAL NOT NULL,
        next_renewal INTEGER,
        PRIMARY KEY (policy, window_start, window_end)
      ) WITHOUT ROWID`);
    },
  },
];

/** A budget: at most `epsilon` spent within any `perMs` sliding period. */
export interface BudgetLimit {
  epsilon: number;
  perMs: number;
}

export interface BudgetLimits {
  /** From the approved policy's `budget:` for this vendor. */
  vendor: BudgetLimit;
  /** policies/defaults.yaml's household-wide cap across every vendor (default 2.0 per 30 days). */
  household: BudgetLimit;
}

export const DEFAULT_HOUSEHOLD_BUDGET: BudgetLimit = { epsilon: 2.0, perMs: 30 * 86_400_000 };

/** One release as the accountant counts it. */
export interface SpentRelease {
  vendor: string;
  policy: string;
  window: TimeWindow;
  epsilon: number;
  /** ms since the epoch */
  at: number;
}

/** A release to record: `spec` names what was released (e.g. the canonical JSON of the rules' privacy specs). */
export interface NewRelease extends SpentRelease {
  /** A re-run of the same window under the same spec is not charged again; a changed ε or clamp is a new release. */
  spec: string;
  summaryId?: string | null;
}

export type SpendDecision =
  /** `charged` is false when this window was already recorded under the same spec (a re-run spends nothing). */
  | { ok: true; vendorSpent: number; householdSpent: number; charged?: boolean }
  | {
      ok: false;
      reason: 'budget';
      /** Which limit the release would exceed (vendor is named first when both would). */
      limit: 'vendor' | 'household';
      spent: number;
      cap: number;
      /** When enough earlier releases have left the period for this release to fit; null if it never fits. */
      nextRenewal: number | null;
    };

/** The newest window of a policy withheld because a budget was spent. */
export interface WithheldForBudget {
  window: TimeWindow;
  /** ms since the epoch */
  at: number;
  epsilon: number;
  limit: 'vendor' | 'household';
  spent: number;
  cap: number;
  nextRenewal: number | null;
}

/** What `policy budget NAME` shows for one limit. */
export interface BudgetStanding {
  spent: number;
  left: number;
  cap: number;
  perMs: number;
  /** When the oldest release in the period leaves it and gives its ε back; null when nothing is spent. */
  nextRenewal: number | null;
}

// ε values are decimals from YAML; summing 0.1 ten times must still fit a cap of 1.0.
const SLACK = 1e-9;

function inPeriod(releases: readonly SpentRelease[], limit: BudgetLimit, now: number): SpentRelease[] {
  return releases.filter((r) => r.at > now - limit.perMs && r.at <= now).sort((a, b) => a.at - b.at);
}

function total(releases: readonly SpentRelease[]): number {
  return releases.reduce((a, r) => a + r.epsilon, 0);
}

/** The first time a release of eps fits under the limit as releases age out of the period. */
function renewalFor(releases: SpentRelease[], limit: BudgetLimit, eps: number): number | null {
  if (eps > limit.epsilon + SLACK) return null;
  let spent = total(releases);
  for (const r of releases) {
    spent -= r.epsilon;
    if (spent + eps <= limit.epsilon + SLACK) return r.at + limit.perMs;
  }
  return null;
}

/**
 * Whether a release of eps for this vendor fits both its own budget and the household's cap
 * now. Pure over the releases given (the accountant's rows, or a replay's simulated ones).
 * [PRIV-DP-3] vendors may collude, so the household cap sums every vendor's losses.
 */
export function decideSpend(releases: readonly SpentRelease[], vendor: string, eps: number, now: number, limits: BudgetLimits): SpendDecision {
  const mine = inPeriod(releases.filter((r) => r.vendor === vendor), limits.vendor, now);
  const all = inPeriod(releases, limits.household, now);
  const vendorSpent = total(mine);
  const householdSpent = total(all);
  if (vendorSpent + eps > limits.vendor.epsilon + SLACK) {
    return { ok: false, reason: 'budget', limit: 'vendor', spent: vendorSpent, cap: limits.vendor.epsilon, nextRenewal: renewalFor(mine, limits.vendor, eps) };
  }
  if (householdSpent + eps > limits.household.epsilon + SLACK) {
    return { ok: false, reason: 'budget', limit: 'household', spent: householdSpent, cap: limits.household.epsilon, nextRenewal: renewalFor(all, limits.household, eps) };
  }
  return { ok: true, vendorSpent, householdSpent };
}

/** Spent / left / next renewal of one limit, over the given releases. */
export function standing(releases: readonly SpentRelease[], limit: BudgetLimit, now: number): BudgetStanding {
  const within = inPeriod(releases, limit, now);
  const spent = total(within);
  return { spent: round6(spent), left: round6(Math.max(0, limit.epsilon - spent)), cap: limit.epsilon, perMs: limit.perMs, nextRenewal: within.length > 0 ? within[0]!.at + limit.perMs : null };
}

function round6(v: number): number {
  return Math.round(v * 1e6) / 1e6;
}

export interface PrivacyAccountantDeps {
  db: SluiceDatabase;
}

/**
 * The privacy budget ledger over SQLite. Vendors are keyed by the caller's normalised vendor
 * name (the same normalisation as the household pseudonym), never by policy version: a new
 * version of a policy does not get a fresh budget. `record` and `storeNoise` must run inside the
 * caller's transaction that writes the release, so a crash cannot send without spending.
 */
export class PrivacyAccountant {
  constructor(private readonly deps: PrivacyAccountantDeps) {}

  /** Every release still inside the longest period that matters. */
  releasesSince(since: number): SpentRelease[] {
    const rows = this.deps.db.raw
      .prepare('SELECT vendor, policy, window_start, window_end, epsilon, at FROM privacy_releases WHERE at > ? ORDER BY at, id')
      .all(since) as Array<{ vendor: string; policy: string; window_start: number; window_end: number; epsilon: number; at: number }>;
    return rows.map((r) => ({ vendor: r.vendor, policy: r.policy, window: { start: r.window_start, end: r.window_end }, epsilon: r.epsilon, at: r.at }));
  }

  /** Whether a release of eps may go now; reads only. */
  canSpend(vendor: string, eps: number, now: number, limits: BudgetLimits): SpendDecision {
    return decideSpend(this.releasesSince(now - Math.max(limits.vendor.perMs, limits.household.perMs)), vendor, eps, now, limits);
  }

  /** A vendor's and the household's standing, for `policy budget NAME` and the dashboard. */
  standing(vendor: string, now: number, limits: BudgetLimits): { vendor: BudgetStanding; household: BudgetStanding } {
    const releases = this.releasesSince(now - Math.max(limits.vendor.perMs, limits.household.perMs));
    return { vendor: standing(releases.filter((r) => r.vendor === vendor), limits.vendor, now), household: standing(releases, limits.household, now) };
  }

  /**
   * Checks and records one release in the caller's transaction; returns the decision. A window
   * already recorded for this vendor and policy is not charged twice (a re-run reuses its noise).
   */
  spend(release: NewRelease, limits: BudgetLimits): SpendDecision {
    const { db } = this.deps;
    if (!db.raw.inTransaction) throw new Error('PrivacyAccountant.spend must run inside the transaction that writes the release');
    const existing = db.raw
      .prepare('SELECT 1 FROM privacy_releases WHERE vendor = ? AND policy = ? AND window_start = ? AND window_end = ? AND spec = ?')
      .get(release.vendor, release.policy, release.window.start, release.window.end, release.spec);
    if (existing) {
      const releases = this.releasesSince(release.at - Math.max(limits.vendor.perMs, limits.household.perMs));
      return { ok: true, charged: false, vendorSpent: total(inPeriod(releases.filter((r) => r.vendor === release.vendor), limits.vendor, release.at)), householdSpent: total(inPeriod(releases, limits.household, release.at)) };
    }
    const decision = this.canSpend(release.vendor, release.epsilon, release.at, limits);
    if (!decision.ok) return decision;
    db.raw
      .prepare('INSERT INTO privacy_releases (vendor, policy, window_start, window_end, epsilon, at, spec, summary_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(release.vendor, release.policy, release.window.start, release.window.end, release.epsilon, release.at, release.spec, release.summaryId ?? null);
    return { ok: true, charged: true, vendorSpent: decision.vendorSpent + release.epsilon, householdSpent: decision.householdSpent + release.epsilon };
  }

  /** Records a window withheld for budget, in the caller's transaction (the ledger row is the record; this is for `policy list`). */
  recordWithheld(release: SpentRelease, decision: Extract<SpendDecision, { ok: false }>): void {
    const { db } = this.deps;
    if (!db.raw.inTransaction) throw new Error('PrivacyAccountant.recordWithheld must run inside the transaction that withholds the release');
    db.raw
      .prepare(
        `INSERT OR REPLACE INTO privacy_withheld (policy, window_start, window_end, vendor, at, epsilon, limit_name, spent, cap, next_renewal)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(release.policy, release.window.start, release.window.end, release.vendor, release.at, release.epsilon, decision.limit, decision.spent, decision.cap, decision.nextRenewal);
  }

  /** The policy's newest withholding for budget when nothing was released under it since; null otherwise. */
  withheldNow(policy: string): WithheldForBudget | null {
    const row = this.deps.db.raw
      .prepare(
        `SELECT w.* FROM privacy_withheld w WHERE w.policy = ?
            AND w.at >= COALESCE((SELECT MAX(r.at) FROM privacy_releases r WHERE r.policy = w.policy), 0)
          ORDER BY w.at DESC, w.window_end DESC LIMIT 1`,
      )
      .get(policy) as { window_start: number; window_end: number; at: number; epsilon: number; limit_name: 'vendor' | 'household'; spent: number; cap: number; next_renewal: number | null } | undefined;
    if (!row) return null;
    return { window: { start: row.window_start, end: row.window_end }, at: row.at, epsilon: row.epsilon, limit: row.limit_name, spent: round6(row.spent), cap: row.cap, nextRenewal: row.next_renewal };
  }

  /** The noise stored for one item of a release window, or null if none was drawn yet. */
  storedNoise(vendor: string, policy: string, window: TimeWindow, item: string): DrawnNoise | null {
    const row = this.deps.db.raw
      .prepare('SELECT noise FROM privacy_noise WHERE vendor = ? AND policy = ? AND window_start = ? AND window_end = ? AND item = ?')
      .get(vendor, policy, window.start, window.end, item) as { noise: string } | undefined;
    return row ? (JSON.parse(row.noise) as DrawnNoise) : null;
  }

  /** Keeps the noise of one item so it is never drawn again; in the caller's transaction. First draw wins. */
  storeNoise(vendor: string, policy: string, window: TimeWindow, item: string, noise: DrawnNoise, at: number): DrawnNoise {
    const { db } = this.deps;
    if (!db.raw.inTransaction) throw new Error('PrivacyAccountant.storeNoise must run inside the transaction that writes the release');
    db.raw
      .prepare('INSERT OR IGNORE INTO privacy_noise (vendor, policy, window_start, window_end, item, noise, drawn_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(vendor, policy, window.start, window.end, item, JSON.stringify(noise), at);
    return this.storedNoise(vendor, policy, window, item)!;
  }
}
