import type { TermsRow } from '../app/index.js';
import { text, type Command } from './command.js';
import { withGateway } from './connect.js';
import { localTime, table } from './format.js';

const json = { json: { type: 'boolean' } } as const;
const as = { as: { type: 'string' } } as const;

function describe(r: TermsRow): string {
  const lines = [`${r.vendor}: ${r.state_text}`, `  proffered: ${r.term} to ${r.endpoint}`];
  if (r.counter) lines.push(`  counter-offer: ${r.counter.term} (${r.counter.title})${r.counter.reason ? ` — "${r.counter.reason}"` : ''}`);
  if (r.agreement_sha256) lines.push(`  agreement: ${r.agreed_term} sha256 ${r.agreement_sha256}`);
  if (r.decided_by) lines.push(`  decided by: ${r.decided_by}`);
  return lines.join('\n');
}

/** The household's own terms with each vendor (IEEE 7012 MyTerms). */
export const termsCommands: Command[] = [
  {
    name: 'terms list',
    usage: 'terms list [--json]',
    summary: "Where the household's terms stand with each vendor; nothing is sent to a vendor until it accepts them.",
    options: json,
    args: 0,
    async run({ flags, config, print }) {
      const cfg = config();
      const rows = await withGateway(cfg, (call) => call('terms.list'));
      if (flags.json) print(JSON.stringify(rows));
      else if (rows.length === 0) print('No terms yet: they are proffered to a vendor once a policy for it is approved and the gateway runs.');
      else print(table(['VENDOR', 'TERM', 'STATE', 'UPDATED'], rows.map((r) => [r.vendor, r.agreed_term ?? r.term, r.state_text, localTime(r.updated_at, cfg.timezone)])));
      return 0;
    },
  },
  {
    name: 'terms show',
    usage: 'terms show VENDOR [--json]',
    summary: "The household's proffer to a vendor, its signed answer, any counter-offer and the agreement.",
    options: json,
    args: 1,
    async run({ args, flags, config, print }) {
      const r = await withGateway(config(), (call) => call('terms.show', { vendor: args[0]! }));
      print(flags.json ? JSON.stringify(r) : `${describe(r)}\n${JSON.stringify({ proffer: r.proffer, answer: r.answer, agreement: r.agreement }, null, 2)}`);
      return 0;
    },
  },
  {
    name: 'terms accept',
    usage: 'terms accept VENDOR [--as MEMBER] [--json]',
    summary: "Take a vendor's counter-offer: the household's signed acceptance goes to the vendor, and sharing starts once it confirms.",
    options: { ...as, ...json },
    args: 1,
    async run({ args, flags, config, print }) {
      const r = await withGateway(config(), (call) => call('terms.accept', { vendor: args[0]!, as: text(flags.as) }));
      print(flags.json ? JSON.stringify(r) : describe(r));
      return 0;
    },
  },
  {
    name: 'terms decline',
    usage: 'terms decline VENDOR [--as MEMBER] [--json]',
    summary: "Decline a vendor's counter-offer: nothing is sent to that vendor.",
    options: { ...as, ...json },
    args: 1,
    async run({ args, flags, config, print }) {
      const r = await withGateway(config(), (call) => call('terms.decline', { vendor: args[0]!, as: text(flags.as) }));
      print(flags.json ? JSON.stringify(r) : describe(r));
      return 0;
    },
  },
  {
    name: 'terms proffer',
    usage: 'terms proffer VENDOR [--as MEMBER] [--json]',
    summary: "Proffer the household's term to a vendor again (after a decline or a failed delivery).",
    options: { ...as, ...json },
    args: 1,
    async run({ args, flags, config, print }) {
      const r = await withGateway(config(), (call) => call('terms.proffer', { vendor: args[0]!, as: text(flags.as) }));
      print(flags.json ? JSON.stringify(r) : describe(r));
      return 0;
    },
  },
];
