import { text, type Command } from './command.js';
import { withGateway } from './connect.js';

const json = { json: { type: 'boolean' } } as const;

/** The household's say over discovered devices: ignore one, or give any device a name, room or kind. */
export const deviceCommands: Command[] = [
  {
    name: 'devices ignore',
    usage: 'devices ignore ID [--json]',
    summary: 'Forget a device a bridge discovered and store nothing of it from now on.',
    options: json,
    args: 1,
    async run({ args, flags, config, print }) {
      const r = await withGateway(config(), (call) => call('devices.ignore', { id: args[0]! }));
      print(flags.json ? JSON.stringify(r) : `Ignoring ${r.id} (${r.source ?? ''} on bridge ${r.via ?? ''}); nothing of it is stored from now on.`);
      return 0;
    },
  },
  {
    name: 'devices rename',
    usage: 'devices rename ID NAME [--json]',
    summary: "Give a device a display name (its id, and so its readings' series, stay).",
    options: json,
    args: 2,
    async run({ args, flags, config, print }) {
      const r = await withGateway(config(), (call) => call('devices.set', { id: args[0]!, name: args[1]! }));
      print(flags.json ? JSON.stringify(r) : `${r.id} is now called "${r.name ?? ''}".`);
      return 0;
    },
  },
  {
    name: 'devices set',
    usage: 'devices set ID [--name N] [--room R] [--kind K] [--json]',
    summary: "Set a device's name or room, or a discovered device's kind (policies select by kind).",
    options: { name: { type: 'string' }, room: { type: 'string' }, kind: { type: 'string' }, ...json },
    args: 1,
    async run({ args, flags, config, print }) {
      const r = await withGateway(config(), (call) => call('devices.set', { id: args[0]!, name: text(flags.name), room: text(flags.room), kind: text(flags.kind) }));
      print(flags.json ? JSON.stringify(r) : `${r.id}: name ${r.name ?? '-'}, room ${r.room ?? '-'}, kind ${r.kind ?? '-'}.`);
      return 0;
    },
  },
];
