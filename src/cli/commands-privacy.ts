import { text, type Command } from './command.js';
import { withGateway } from './connect.js';

const json = { json: { type: 'boolean' } } as const;
const window = { window: { type: 'string' } } as const;

/** What left the house, byte for byte, and sending a failed summary again. */
export const privacyCommands: Command[] = [
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
