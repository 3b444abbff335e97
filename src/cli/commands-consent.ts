import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { SluiceError } from '../core/index.js';
import { text, type Command } from './command.js';
import { withGateway } from './connect.js';
import { localTime, table } from './format.js';

const json = { json: { type: 'boolean' } } as const;
const as = { as: { type: 'string' } } as const;

/** Household members, vetoes, consent records and privacy pauses. */
export const consentCommands: Command[] = [
  {
    name: 'ledger export',
    usage: 'ledger export [--out FILE] [--json]',
    summary: 'Export the whole ledger with every consent record it binds, as one JSON document (stdout, or FILE with mode 0600).',
    options: { out: { type: 'string' }, ...json },
    args: 0,
    async run({ flags, config, print }) {
      const doc = await withGateway(config(), (call) => call('ledger.export'));
      const out = text(flags.out);
      if (out === undefined) {
        print(JSON.stringify(doc, null, flags.json ? undefined : 2));
        return 0;
      }
      const file = resolve(out);
      writeFileSync(file, `${JSON.stringify(doc, null, 2)}\n`, { mode: 0o600 });
      const r = { file, rows: doc.rows.length, consent_records: doc.consent_records.length, head: doc.head };
      if (flags.json) print(JSON.stringify(r));
      else print(`Wrote ${file}: ${r.rows} ledger rows, ${r.consent_records} consent records, head ${doc.head?.hash ?? '(empty)'}.`);
      return 0;
    },
  },
  {
    name: 'members add',
    usage: 'members add NAME --role owner|adult|minor|guest [--as MEMBER] [--json]',
    summary: 'Add a household member; after the first, an owner or adult adds them (--as).',
    options: { role: { type: 'string' }, ...as, ...json },
    args: 1,
    async run({ args, flags, config, print }) {
      const r = await withGateway(config(), (call) => call('members.add', { name: args[0]!, role: text(flags.role) as 'owner', as: text(flags.as) }));
      if (flags.json) print(JSON.stringify(r));
      else print(`Added ${r.name} (${r.role}).`);
      return 0;
    },
  },
  {
    name: 'members list',
    usage: 'members list [--json]',
    summary: 'List household members with the devices and rooms that are theirs.',
    options: json,
    args: 0,
    async run({ flags, config, print }) {
      const [rows, spaces] = await withGateway(config(), async (call) => [await call('members.list'), await call('members.shared_spaces')] as const);
      if (flags.json) print(JSON.stringify(rows));
      else if (rows.length === 0) print('No household members: every policy is approved by the household as a whole.');
      else {
        print(table(['NAME', 'ROLE', 'DEVICES', 'ROOMS'], rows.map((r) => [r.name, r.role, r.devices.join(', '), r.rooms.join(', ')])));
        print(`Shared spaces: ${spaces.shared_spaces === 'owner-decides' ? 'the owners decide alone' : 'every adult decides'} (${spaces.source}).`);
      }
      return 0;
    },
  },
  {
    name: 'members remove',
    usage: 'members remove NAME --as MEMBER',
    summary: 'Remove a member; their devices and rooms become shared spaces.',
    options: as,
    args: 1,
    async run({ args, flags, config, print }) {
      const r = await withGateway(config(), (call) => call('members.remove', { name: args[0]!, as: text(flags.as) }));
      print(`Removed ${r.name}.`);
      return 0;
    },
  },
  {
    name: 'members assign',
    usage: 'members assign (--device ID | --room R) (--to NAME | --shared) [--as MEMBER] | members assign --device ID --room R',
    summary: "Give a device or room to a member, or make it a shared space; --device with --room puts the device in the room.",
    options: { device: { type: 'string' }, room: { type: 'string' }, to: { type: 'string' }, shared: { type: 'boolean' }, ...as, ...json },
    args: 0,
    async run({ flags, config, print }) {
      const r = await withGateway(config(), (call) =>
        call('members.assign', { device: text(flags.device), room: text(flags.room), to: text(flags.to), shared: flags.shared === true, as: text(flags.as) }),
      );
      if (flags.json) print(JSON.stringify(r));
      else print(`Assigned: ${JSON.stringify(r)}`);
      return 0;
    },
  },
  {
    name: 'policy veto',
    usage: 'policy veto NAME --as MEMBER',
    summary: 'A member it concerns stops a policy at once (like a revoke); it stays stopped until that member approves.',
    options: as,
    args: 1,
    async run({ args, flags, config, print }) {
      const by = text(flags.as);
      if (by === undefined) throw new SluiceError('SLUICE_ERR_USAGE', 'a veto names the member: --as NAME');
      const r = await withGateway(config(), (call) => call('policy.veto', { name: args[0]!, as: by }));
      print(`${r.by} vetoed ${r.name}.${r.stopped ? ' It stopped at once.' : ' It cannot come into force until they approve it.'}${r.dropped > 0 ? ` ${r.dropped} queued summaries were deleted unsent.` : ''}`);
      return 0;
    },
  },
  {
    name: 'consent list',
    usage: 'consent list [--policy NAME] [--subject MEMBER] [--json]',
    summary: 'List consent records: one per policy and person whose data it covers.',
    options: { policy: { type: 'string' }, subject: { type: 'string' }, ...json },
    args: 0,
    async run({ flags, config, print }) {
      const cfg = config();
      const rows = await withGateway(cfg, (call) => call('consent.list', { policy: text(flags.policy), subject: text(flags.subject) }));
      if (flags.json) print(JSON.stringify(rows));
      else if (rows.length === 0) print('No consent records: nothing was approved yet.');
      else print(table(['ID', 'POLICY', 'SUBJECT', 'VENDOR', 'STATE', 'UPDATED'], rows.map((r) => [r.id, r.policy, r.subject, r.vendor, r.state, localTime(r.updated_at, cfg.timezone)])));
      return 0;
    },
  },
  {
    name: 'consent show',
    usage: 'consent show ID [--format 27560|kantara] [--json]',
    summary: 'Print one consent record as ISO/IEC TS 27560 JSON (default) or as a Kantara Consent Receipt 1.1.',
    options: { format: { type: 'string' }, ...json },
    args: 1,
    async run({ args, flags, config, print }) {
      const r = await withGateway(config(), (call) => call('consent.show', { id: args[0]!, format: text(flags.format) as '27560' | undefined }));
      print(flags.json ? JSON.stringify(r) : JSON.stringify(r, null, 2));
      return 0;
    },
  },
  {
    name: 'pause',
    usage: 'pause [--room R | --device ID] [--for 2h | --until TIME] [--mode no-share|no-store] [--as MEMBER] [--json]',
    summary: 'Pause sharing (no-share) or storing (no-store) for a room, a device or the whole house; ends by itself. Safety alarms are never muted.',
    options: { room: { type: 'string' }, device: { type: 'string' }, for: { type: 'string' }, until: { type: 'string' }, mode: { type: 'string' }, ...as, ...json },
    args: 0,
    async run({ flags, config, print }) {
      const cfg = config();
      const r = await withGateway(cfg, (call) =>
        call('pause.start', { room: text(flags.room), device: text(flags.device), for: text(flags.for), until: text(flags.until), mode: text(flags.mode) as 'no-share' | undefined, as: text(flags.as) }),
      );
      if (flags.json) print(JSON.stringify(r));
      else print(`Pause ${r.id}: ${r.mode} for ${r.scope} until ${localTime(r.until, cfg.timezone)}. End it early with: sluice pause resume ${r.id}`);
      return 0;
    },
  },
  {
    name: 'pause list',
    usage: 'pause list [--json]',
    summary: 'List the privacy pauses running now.',
    options: json,
    args: 0,
    async run({ flags, config, print }) {
      const cfg = config();
      const rows = await withGateway(cfg, (call) => call('pause.list'));
      if (flags.json) print(JSON.stringify(rows));
      else if (rows.length === 0) print('No pause is running.');
      else print(table(['ID', 'SCOPE', 'MODE', 'UNTIL', 'BY'], rows.map((r) => [r.id, r.scope, r.mode, localTime(r.until, cfg.timezone), r.by ?? ''])));
      return 0;
    },
  },
  {
    name: 'pause resume',
    usage: 'pause resume ID [--as MEMBER]',
    summary: 'End a privacy pause now.',
    options: as,
    args: 1,
    async run({ args, flags, config, print }) {
      const r = await withGateway(config(), (call) => call('pause.resume', { id: Number(args[0]), as: text(flags.as) }));
      print(`Pause ${r.id} ended.`);
      return 0;
    },
  },
];
