import { isoInZone } from '../policy/index.js';
import { defineOperation, noParams } from './operation.js';
import { privacyOperations } from './privacy.js';

const DAY = 86_400_000;
/** A budget with less than this share left is "near exhausted". */
const LOW_SHARE = 0.25;

/** A privacy budget the household should hear about: a release withheld for it, or little left. */
export interface BudgetAlert {
  policy: string;
  vendor: string;
  /** `withheld`: a release was skipped because it would exceed a budget; `low`: less than a quarter is left. */
  kind: 'withheld' | 'low';
  /** Which budget: this vendor's, or the household's cap across every vendor. */
  budget: 'vendor' | 'household';
  /** Releases withheld for budget in the last 30 days (0 for `low`). */
  withheld: number;
  /** When the latest was withheld (ISO, household time), or null. */
  last_withheld: string | null;
  left: number;
  cap: number;
  /** When spent ε starts coming back (ISO), or null when nothing is spent. */
  next_renewal: string | null;
}

/** What the dashboard shows on top of the CLI's operations. */
export const dashboardOperations = {
  /** Banners for the Home and Sharing pages: releases withheld for budget, budgets near exhausted. */
  'sharing.budget_alerts': defineOperation({
    params: noParams,
    run: (app): BudgetAlert[] => {
      const { context: ctx, sharing } = app;
      const now = ctx.clock.now();
      const tz = ctx.config.timezone;
      const withheld = new Map<string, { count: number; last: number }>();
      for (const r of sharing.ledger.rows()) {
        if (r.kind !== 'disclosure.withheld' || r.policy === null || r.at < now - 30 * DAY) continue;
        if ((r.detail as { reason?: unknown }).reason !== 'budget') continue;
        const w = withheld.get(r.policy) ?? { count: 0, last: 0 };
        withheld.set(r.policy, { count: w.count + 1, last: Math.max(w.last, r.at) });
      }
      sharing.book.refresh();
      const alerts: BudgetAlert[] = [];
      for (const name of sharing.book.names()) {
        let b: ReturnType<(typeof privacyOperations)['policy.budget']['run']>;
        try {
          b = privacyOperations['policy.budget'].run(app, { name });
        } catch {
          continue; // a policy that does not load has no budget; its page names the problem
        }
        const w = withheld.get(name);
        // The tighter of the two budgets is the one that withholds first.
        const tight = b.household_budget.left / (b.household_budget.cap || 1) < b.vendor_budget.left / (b.vendor_budget.cap || 1) ? 'household' : 'vendor';
        const budget = tight === 'household' ? b.household_budget : b.vendor_budget;
        const base = { policy: name, vendor: b.vendor, budget: tight, left: budget.left, cap: budget.cap, next_renewal: budget.next_renewal } as const;
        if (w) alerts.push({ ...base, kind: 'withheld', withheld: w.count, last_withheld: isoInZone(w.last, tz) });
        else if (b.noised && budget.cap > 0 && budget.left < budget.cap * LOW_SHARE) alerts.push({ ...base, kind: 'low', withheld: 0, last_withheld: null });
      }
      return alerts;
    },
  }),
};
