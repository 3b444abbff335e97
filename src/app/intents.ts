import { userInfo } from 'node:os';
import { z } from 'zod';
import { IntentBook, type DeviceLatest } from '../intents/index.js';
import type { GatewayContext } from './context.js';
import type { Sharing } from './sharing.js';
import { defineOperation, optionalText, params, type AppContext } from './operation.js';

/** The household's intents and offers over one context and its ledger. */
export function intentBook(ctx: GatewayContext, sharing: Sharing): IntentBook {
  return new IntentBook({ db: ctx.db, ledger: sharing.ledger, clock: ctx.clock, timezone: ctx.config.timezone });
}

/** A device's latest readings with its profile's kind, as the intent rules see them. */
export function latestOf(ctx: GatewayContext): (deviceId: string) => DeviceLatest {
  return (deviceId) => {
    const profile = ctx.registry.get(deviceId)?.profile;
    const kind = profile ? (ctx.profiles().get(profile)?.kind ?? null) : null;
    return { deviceId, kind, latest: ctx.queries.latest(deviceId).map((r) => ({ metric: r.metric, component: r.component, value: r.value, ts: r.ts })) };
  };
}

const book = ({ context, sharing }: AppContext) => intentBook(context, sharing);
const id = (what: string) => z.coerce.number({ error: `${what} must be a number` }).int({ error: `${what} must be a whole number` }).positive({ error: `${what} must be a number from the list` });
const by = optionalText('--by').transform((v) => v ?? whoAmI());

function whoAmI(): string {
  try {
    return userInfo().username;
  } catch {
    return 'household';
  }
}

/** Drafts, approvals and the inbox of offers: `sluice intents …` and `sluice offers …`. */
export const intentOperations = {
  'intents.list': defineOperation({
    params: params({ state: z.enum(['draft', 'dropped', 'open', 'accepted', 'closed'], { error: '--state: expected draft, dropped, open, accepted or closed' }).nullish().transform((v) => v ?? undefined) }),
    run: (app, p) => book(app).list({ state: p.state }),
  }),
  'intents.show': defineOperation({
    params: params({ id: id('the intent id') }),
    run: (app, p) => book(app).show(p.id),
  }),
  'intents.approve': defineOperation({
    params: params({
      id: id('the intent id'),
      by,
      quantity: z.number({ error: '--quantity must be a number' }).int().positive().max(1000).nullish().transform((v) => v ?? undefined),
      need_by: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, { error: '--need-by: expected a date such as 2026-04-30' }).nullish().transform((v) => v ?? undefined),
      budget: z.number({ error: '--budget must be a number' }).positive().nullish().transform((v) => v ?? undefined),
    }),
    run: (app, p) => {
      const b = book(app);
      const current = b.show(p.id);
      const h = app.context.config.household;
      const budget = p.budget === undefined ? undefined : { max: p.budget, currency: current.budget?.currency ?? 'EUR' };
      const detail = b.approve(p.id, { by: p.by, where: { country: h.country, postalPrefix: h.postal_prefix || undefined }, edits: { quantity: p.quantity, needBy: p.need_by, budget } });
      app.context.events.emit('intent.decided', { intent: p.id, decision: 'approved' });
      return detail;
    },
  }),
  'intents.drop': defineOperation({
    params: params({ id: id('the intent id'), by }),
    run: (app, p) => book(app).drop(p.id, p.by),
  }),
  'offers.list': defineOperation({
    params: params({
      intent: id('--intent').nullish().transform((v) => v ?? undefined),
      state: z.enum(['received', 'accepted', 'declined'], { error: '--state: expected received, accepted or declined' }).nullish().transform((v) => v ?? undefined),
    }),
    run: (app, p) => book(app).offers({ intent: p.intent, state: p.state }),
  }),
  'offers.show': defineOperation({
    params: params({ id: id('the offer id') }),
    run: (app, p) => book(app).offer(p.id),
  }),
  'offers.accept': defineOperation({
    params: params({ id: id('the offer id'), by }),
    run: (app, p) => {
      // [PRIV-INTENT-3] accepting is the only moment more leaves, and only what the household set for deliveries.
      const deliverTo = app.context.config.household.deliver_to;
      const row = book(app).accept(p.id, { by: p.by, disclose: deliverTo ? { deliver_to: deliverTo } : {} });
      app.context.events.emit('intent.decided', { intent: row.intent, decision: 'accepted' });
      return row;
    },
  }),
  'offers.decline': defineOperation({
    params: params({ id: id('the offer id'), by }),
    run: (app, p) => book(app).decline(p.id, p.by),
  }),
};
