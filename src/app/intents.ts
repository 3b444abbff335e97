import { mkdirSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { DateTime } from 'luxon';
import { z } from 'zod';
import { SluiceError } from '../core/index.js';
import { IntentBook, type AcceptanceCover, type DeviceLatest } from '../intents/index.js';
import type { AcceptanceField } from '../policy/index.js';
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

/** The approved policy to the offer's vendor that covers the fields, with its consent records; or a draft of one and a refusal. */
function requireCover(app: AppContext, b: IntentBook, offerId: number, fields: AcceptanceField[]): AcceptanceCover {
  const offer = b.offer(offerId);
  const endpoint = b.deliveryEndpoint(offer.intent, offer.vendor);
  const { book: policies, consent } = app.sharing;
  const candidates: string[] = [];
  for (const name of policies.names()) {
    const approved = policies.inForce(name);
    const e = approved?.effective;
    if (!e || e.policy.kind === 'open-data' || !sameVendor(e.policy, offer.vendor, endpoint)) continue;
    candidates.push(name);
    const covered = e.policy.disclose_on_acceptance ?? [];
    if (!fields.every((f) => covered.includes(f))) continue;
    const records = consent.records.list({ policy: name }).filter((r) => r.state === 'dpv:ConsentGiven' && r.record.policy.version === approved.hash);
    if (records.length === 0) continue;
    return { policy: name, version: approved.hash, consentRecords: records.map((r) => ({ id: r.id, subject: r.subject, sha256: r.recordSha256 })) };
  }
  const draft = draftCoverPolicy(app, offer.vendor, endpoint, fields, offerId);
  const why = candidates.length > 0 ? `no approved policy to ${offer.vendor} (${candidates.join(', ')}) lists ${fields.join(', ')} in disclose_on_acceptance` : `no approved policy to ${offer.vendor} covers it`;
  throw new SluiceError(
    'SLUICE_ERR_OFFER_NOT_COVERED',
    `accepting offer ${offerId} would tell ${offer.vendor} your ${fields.join(', ')}, and ${why}; ${draft.written ? 'a draft was written to' : 'see the draft in'} ${draft.file}: review it (sluice policy explain ${draft.name}), approve it (sluice policy approve ${draft.name}), then accept again. Nothing was accepted or sent.`,
    { offer: offerId, vendor: offer.vendor, fields, draft: draft.name },
  );
}

/** The vendor of an intent rule and of a policy are one when the names match and the policy's endpoint is on the same origin. */
function sameVendor(policy: { vendor: string; endpoint: string }, vendor: string, endpoint: string): boolean {
  if (policy.vendor.toLowerCase() !== vendor.toLowerCase()) return false;
  try {
    return new URL(policy.endpoint).origin === new URL(endpoint).origin;
  } catch {
    return false;
  }
}

/** Writes policies/VENDOR-delivery.yaml unless it exists: a draft is a file awaiting approval, like any policy. */
function draftCoverPolicy(app: AppContext, vendor: string, endpoint: string, fields: AcceptanceField[], offerId: number): { name: string; file: string; written: boolean } {
  const name = `${vendor}-delivery`.slice(0, 64);
  const dir = app.context.config.policies_dir;
  const file = join(dir, `${name}.yaml`);
  const expires = DateTime.fromMillis(app.context.clock.now() + 30 * 86_400_000, { zone: app.context.config.timezone }).toISODate()!;
  const text = [
    '# yaml-language-server: $schema=../docs/schemas/policy.json',
    `# Drafted by \`sluice offers accept ${offerId}\`: approve it to let ${vendor} receive these fields once, when you accept one of its offers.`,
    '# It sends no summaries (no share rules); the schedule is unused.',
    'version: 1',
    `vendor: ${vendor}`,
    `endpoint: ${endpoint}`,
    `purpose: Deliver what I accept from ${vendor}'s offers`,
    `expires: ${expires}`,
    'schedule: "0 3 * * *"',
    `disclose_on_acceptance: [${fields.join(', ')}]`,
    '',
  ].join('\n');
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(file, text, { flag: 'wx' });
    return { name, file, written: true };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return { name, file, written: false };
    throw err;
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
      // [PRIV-INTENT-3] accepting is the only moment more leaves, and only what the household set for deliveries,
      // under an approved policy to that vendor that names those fields, with its consent record.
      const deliverTo = app.context.config.household.deliver_to;
      const disclose: Record<string, string> = deliverTo ? { deliver_to: deliverTo } : {};
      const b = book(app);
      const cover = Object.keys(disclose).length > 0 ? requireCover(app, b, p.id, Object.keys(disclose) as AcceptanceField[]) : null;
      const row = b.accept(p.id, { by: p.by, disclose, cover });
      app.context.events.emit('intent.decided', { intent: row.intent, decision: 'accepted' });
      return row;
    },
  }),
  'offers.decline': defineOperation({
    params: params({ id: id('the offer id'), by }),
    run: (app, p) => book(app).decline(p.id, p.by),
  }),
};
