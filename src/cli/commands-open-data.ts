import { text, type Command } from './command.js';
import { withGateway } from './connect.js';

/** `sluice policy release NAME`: an open-data policy's release of one window, now. */
export const openDataCommands: Command[] = [
  {
    name: 'policy release',
    usage: 'policy release NAME [--window START/END] [--json]',
    summary: 'Release one 7-day window of a kind: open-data policy now (noised, no household id); default: the newest closed window.',
    options: { window: { type: 'string' }, json: { type: 'boolean' } },
    args: 1,
    async run({ args, flags, config, print }) {
      const r = await withGateway(config(), (call) => call('policy.release', { name: args[0]!, window: text(flags.window) }));
      if (flags.json) print(JSON.stringify(r));
      else {
        for (const x of r.releases) print(`${x.state === 'sent' ? 'Sent' : 'Not sent'} release ${x.release_id} (rule ${x.rule}) for ${r.window.start} — ${r.window.end}${x.error ? `: ${x.error}` : ''}.`);
        for (const w of r.withheld) print(`Withheld rule ${w.rule}: ${w.message}.`);
        if (r.releases.length === 0 && r.withheld.length === 0) print('Nothing to release.');
      }
      return 0;
    },
  },
];
