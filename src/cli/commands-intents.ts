import { SluiceError } from '../core/index.js';
import { text, type Command } from './command.js';
import { withGateway } from './connect.js';
import { table } from './format.js';

const json = { json: { type: 'boolean' } } as const;

function number(flag: string | boolean | undefined, what: string): number | undefined {
  const t = text(flag);
  if (t === undefined) return undefined;
  const n = Number(t);
  if (!Number.isFinite(n)) throw new SluiceError('SLUICE_ERR_USAGE', `${what} must be a number, got "${t}"`);
  return n;
}

const money = (b: { max: number; currency: string } | { amount: number; currency: string } | null) => (b === null ? '-' : `${'max' in b ? b.max : b.amount} ${b.currency}`);

/** `sluice intents …` and `sluice offers …`: the household's requests for offers and its inbox. */
export const intentCommands: Command[] = [
  {
    name: 'intents list',
    usage: 'intents list [--state draft|dropped|open|accepted|closed] [--json]',
    summary: 'List the intents drafted from your rules (drafts wait for your approval).',
    options: { state: { type: 'string' }, ...json },
    args: 0,
    async run({ flags, config, print }) {
      const rows = await withGateway(config(), (call) => call('intents.list', { state: text(flags.state) as never }));
      if (flags.json) print(JSON.stringify(rows));
      else if (rows.length === 0) print('No intents. They are drafted when a rule in intents/*.yaml fires.');
      else print(table(['ID', 'STATE', 'RULE', 'WHAT', 'QTY', 'NEED BY', 'BUDGET', 'VENDORS', 'OFFERS'], rows.map((r) => [String(r.id), r.state, r.rule, r.what, String(r.quantity), r.need_by, money(r.budget), r.vendors.join(', '), String(r.offers)])));
      return 0;
    },
  },
  {
    name: 'intents show',
    usage: 'intents show ID [--json]',
    summary: 'Show one intent: what fired it (kept here), what would be or was sent, and to whom.',
    options: json,
    args: 1,
    async run({ args, flags, config, print }) {
      const d = await withGateway(config(), (call) => call('intents.show', { id: Number(args[0]) }));
      if (flags.json) return print(JSON.stringify(d)), 0;
      print(`Intent ${d.id} (${d.state}) from rule ${d.rule}: ${d.quantity} × ${d.what}, need by ${d.need_by}, budget ${money(d.budget)}`);
      print(`Fired by ${d.device_id} ${d.reading.component ? `${d.reading.component}.` : ''}${d.reading.metric} = ${String(d.reading.value)} (stays home; the intent names no device).`);
      print(`Vendors: ${d.vendors.join(', ')}${d.offers_until ? `; offers until ${d.offers_until}` : ''}`);
      if (d.document) print(`Sent document:\n${JSON.stringify(d.document, null, 2)}`);
      for (const x of d.deliveries) print(`  ${x.vendor}: ${x.sent_at ? `sent ${x.sent_at}` : `not sent yet${x.last_error ? ` (${x.last_error})` : ''}`}`);
      return 0;
    },
  },
  {
    name: 'intents approve',
    usage: 'intents approve ID [--quantity N] [--need-by DATE] [--budget AMOUNT] [--json]',
    summary: 'Approve a draft (with edits): it is signed with a fresh key and sent to its vendors only.',
    options: { quantity: { type: 'string' }, 'need-by': { type: 'string' }, budget: { type: 'string' }, ...json },
    args: 1,
    async run({ args, flags, config, print }) {
      const d = await withGateway(config(), (call) =>
        call('intents.approve', { id: Number(args[0]), quantity: number(flags.quantity, '--quantity'), need_by: text(flags['need-by']), budget: number(flags.budget, '--budget') }),
      );
      print(flags.json ? JSON.stringify(d) : `Approved intent ${d.id}; it goes to ${d.vendors.join(', ')} and offers are fetched until ${d.offers_until}.`);
      return 0;
    },
  },
  {
    name: 'intents drop',
    usage: 'intents drop ID [--json]',
    summary: 'Drop a draft: nothing is sent.',
    options: json,
    args: 1,
    async run({ args, flags, config, print }) {
      const d = await withGateway(config(), (call) => call('intents.drop', { id: Number(args[0]) }));
      print(flags.json ? JSON.stringify(d) : `Dropped intent ${d.id}; nothing was sent.`);
      return 0;
    },
  },
  {
    name: 'offers list',
    usage: 'offers list [--intent ID] [--state received|accepted|declined] [--json]',
    summary: 'The local inbox of verified offers vendors made for your open intents.',
    options: { intent: { type: 'string' }, state: { type: 'string' }, ...json },
    args: 0,
    async run({ flags, config, print }) {
      const rows = await withGateway(config(), (call) => call('offers.list', { intent: number(flags.intent, '--intent'), state: text(flags.state) as never }));
      if (flags.json) print(JSON.stringify(rows));
      else if (rows.length === 0) print('No offers yet.');
      else print(table(['ID', 'INTENT', 'VENDOR', 'PRICE', 'DELIVERY BY', 'VALID UNTIL', 'TERMS', 'STATE'], rows.map((o) => [String(o.id), String(o.intent), o.vendor, money(o.price), o.delivery_by, o.valid_until, o.terms_accepted ? 'accepted' : 'not accepted', o.state])));
      return 0;
    },
  },
  {
    name: 'offers show',
    usage: 'offers show ID [--json]',
    summary: 'Show one offer as the vendor signed it.',
    options: json,
    args: 1,
    async run({ args, flags, config, print }) {
      const o = await withGateway(config(), (call) => call('offers.show', { id: Number(args[0]) }));
      print(flags.json ? JSON.stringify(o) : `Offer ${o.id} from ${o.vendor} for intent ${o.intent} (${o.state}):\n${JSON.stringify(o.document, null, 2)}`);
      return 0;
    },
  },
  {
    name: 'offers accept',
    usage: 'offers accept ID [--json]',
    summary: 'Accept an offer: only that vendor is told, with only household.deliver_to; recorded in the ledger.',
    options: json,
    args: 1,
    async run({ args, flags, config, print }) {
      const o = await withGateway(config(), (call) => call('offers.accept', { id: Number(args[0]) }));
      print(flags.json ? JSON.stringify(o) : `Accepted offer ${o.id} from ${o.vendor}; the acceptance goes to ${o.vendor} only.`);
      return 0;
    },
  },
  {
    name: 'offers decline',
    usage: 'offers decline ID [--json]',
    summary: 'Decline an offer (the vendor is not told).',
    options: json,
    args: 1,
    async run({ args, flags, config, print }) {
      const o = await withGateway(config(), (call) => call('offers.decline', { id: Number(args[0]) }));
      print(flags.json ? JSON.stringify(o) : `Declined offer ${o.id}.`);
      return 0;
    },
  },
];
