import { text, type Command } from './command.js';
import { withGateway } from './connect.js';

const json = { json: { type: 'boolean' } } as const;
const window = { window: { type: 'string' } } as const;

/** What left the house, byte for byte, and sending a failed summary again. */
export const privacyCommands: Command[] = [
  {
    name: 'policy budget',
    usage: 'policy budget NAME [--json]',
    summary: "The privacy budget of a policy's vendor and of the household: ε spent, left, and when the oldest spending leaves the period.",
    options: json,
    args: 1,
    async run({ args, flags, config, print }) {
      const r = await withGateway(config(), (call) => call('policy.budget', { name: args[0]!}));
      if (flags.json) return print(JSON.stringify(r)), 0;
      const line = (who: string, b: typeof r.vendor_budget) => `${who}: ε ${b.spent} of ${b.cap} spent per ${b.per_days} days, ${b.left} left; ${b.next_renewal === null ? 'nothing to renew' : `next renewal ${b.next_renewal}`}`;
      print(line(r.vendor, r.vendor_budget));
      print(line('household (all vendors)', r.household_budget));
      if (!r.noised) print(`No rule of ${r.name} adds noise (privacy:), so it spends no budget.`);
      return 0;
    },
  },
  {
    name: 'policy replay',
    usage: 'policy replay NAME [--days 30] [--json]',
    summary: 'What the policy would have sent over the last N days, window by window (noised with throw-away noise); sends, stores and spends nothing; works before approval.',
    options: { days: { type: 'string' }, ...json },
    args: 1,
    async run({ args, flags, config, print }) {
      const r = await withGateway(config(), (call) => call('policy.replay', { name: args[0]!, days: text(flags.days) }));
      if (flags.json) return print(JSON.stringify(r)), 0;
      print(`Replay of ${r.name} (${r.basis === 'current' ? 'the file as written' : 'the approved version'}) over the last ${r.days} days: nothing is sent, stored or spent.`);
      for (const w of r.windows) {
        const head = `${w.window.start} — ${w.window.end}`;
        // Which readings the window was read from: raw within raw retention, hourly rollups past it.
        const from = `from ${w.sources.map((x) => (x === 'rollup' ? 'hourly rollups (past raw retention)' : 'raw readings')).join(' and ') || 'no readings'}`;
        if (!w.sent) print(`${head}  nothing sent${w.suppressed.length > 0 ? `: ${w.suppressed.map((x) => `${x.metric ?? 'window'}${x.stat ? ` ${x.stat}` : ''}: ${x.why}`).join('; ')}` : ''}  ${from}`);
        else {
          const values = w.items.map((i) => `${i.metric} ${Object.entries(i.stats).map(([k, v]) => `${k} ${v}${i.noise ? ` ±${i.noise.accuracy95[k]}` : ''}`).join(', ')}${i.unit ? ` ${i.unit}` : ''}${i.coverage !== undefined ? ` (covers ${Math.round(i.coverage * 100)}% of the window: a no-share pause)` : ''}`).join('; ');
          const left = w.suppressed.length > 0 ? ` (left out: ${w.suppressed.map((x) => `${x.metric ?? 'window'}${x.stat ? ` ${x.stat}` : ''}: ${x.why}`).join('; ')})` : '';
          print(`${head}  ${values}${left}  ε ${w.epsilon}  ${w.bytes} bytes  ${from}`);
        }
      }
      print(`${r.totals.sent} of ${r.totals.windows} windows would have been sent: ${r.totals.bytes} bytes, ε ${r.totals.epsilon} spent.`);
      return 0;
    },
  },
  {
    name: 'policy risk',
    usage: 'policy risk NAME [--json]',
    summary: 'A heuristic risk score of what a policy shows (not a probability): level, every reason with its source, and vendors that could combine their views.',
    options: json,
    args: 1,
    async run({ args, flags, config, print }) {
      const r = await withGateway(config(), (call) => call('policy.risk', { name: args[0]! }));
      print(flags.json ? JSON.stringify(r) : r.text);
      return 0;
    },
  },
  {
    name: 'policy sent',
    usage: 'policy sent NAME [--window START/END] [--json]',
    summary: 'Print the exact stored bytes of a summary of this policy (default: the newest); --json adds its state and hash.',
    options: { ...window, ...json },
    args: 1,
    async run({ args, flags, config, print }) {
      const r = await withGateway(config(), (call) => call('policy.sent', { name: args[0]!, window: text(flags.window) }));
      if (flags.json) print(JSON.stringify(r));
      else process.stdout.write(r.body);
      return 0;
    },
  },
  {
    name: 'policy resend',
    usage: 'policy resend NAME --window START/END [--json]',
    summary: 'Queue a summary whose delivery failed again: the same id and the same bytes.',
    options: { ...window, ...json },
    args: 1,
    async run({ args, flags, config, print }) {
      const r = await withGateway(config(), (call) => call('policy.resend', { name: args[0]!, window: text(flags.window) ?? '' }));
      if (flags.json) print(JSON.stringify(r));
      else print(`Queued summary ${r.summary_id} again (same bytes, sha256 ${r.body_sha256}).`);
      return 0;
    },
  },
];
