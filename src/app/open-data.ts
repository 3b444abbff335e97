import { SluiceError } from '../core/index.js';
import { OpenDataReleases, type OpenDataRun } from '../intents/index.js';
import { lastClosedWindow, notInForceError, type ApprovedPolicy } from '../policy/index.js';
import { dueWindows, type WindowJob } from '../schedule/index.js';
import { cryptoSource, PrivacyAccountant } from '../privacy/index.js';
import type { GatewayContext } from './context.js';
import { defineOperation, optionalText, params, requiredText } from './operation.js';
import { budgetLimitsOf, privacySpecsOf, resolutionOf } from '../privacy/index.js';
import type { Sharing } from './sharing.js';

/** The open-data release path over one context: noise and budget from src/privacy, the household cap shared with every vendor. */
export function openDataReleases(ctx: GatewayContext, sharing: Sharing): OpenDataReleases {
  return new OpenDataReleases({
    db: ctx.db,
    ledger: sharing.ledger,
    book: sharing.book,
    queries: ctx.queries,
    accountant: new PrivacyAccountant({ db: ctx.db }),
    clock: ctx.clock,
    specsOf: privacySpecsOf,
    limitsOf: budgetLimitsOf,
    resolutionOf,
    rng: cryptoSource,
    requestTimeout: ctx.config.intents.request_timeout,
    pausedFor: sharing.pausedFor,
  });
}

/** `sluice policy release NAME`: one window of an open-data policy, now. */
export const openDataOperations = {
  'policy.release': defineOperation({
    params: params({ name: requiredText('a policy NAME', 'a policy NAME is required'), window: optionalText('--window') }),
    run: async ({ context: ctx, sharing }, p): Promise<OpenDataRun> => {
      const standing = sharing.book.standing(p.name);
      if (!standing.inForce) {
        if (standing.reason === 'unapproved') sharing.book.status(p.name); // throws SLUICE_ERR_POLICY_UNKNOWN for a name with no file
        throw notInForceError(p.name, standing.reason);
      }
      const e = standing.approved.effective;
      if (e.policy.kind !== 'open-data') throw new SluiceError('SLUICE_ERR_USAGE', `policy ${p.name} is a vendor policy; release is for kind: open-data (use sluice policy run ${p.name})`);
      return openDataReleases(ctx, sharing).run(p.name, sharing.disclosures.window(e, p.window));
    },
  }),
};

/** The scheduled job of an open-data policy: every closed 7-day window since approval, once each; a failed send is tried again. */
export function openDataJob(ctx: GatewayContext, sharing: Sharing, name: string, approved: ApprovedPolicy, maxWindows = ctx.config.schedule.max_catch_up): WindowJob {
  const tz = ctx.config.timezone;
  const p = approved.effective.policy;
  return {
    name: `open-data:${name}`,
    wake: { cron: p.schedule, timezone: tz },
    dueWindows: (now, ran) => dueWindows({ now, cron: p.schedule, timezone: tz, since: approved.approvedAt, windowAt: (fire) => lastClosedWindow(fire, '7d', tz), ran, maxWindows }),
    run: async ({ window, markRun }) => {
      if (!sharing.book.standing(name).inForce) return;
      await openDataReleases(ctx, sharing).run(name, window, markRun);
    },
  };
}
