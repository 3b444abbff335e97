import { SluiceError, createLogger } from '../core/index.js';
import { runGateway } from '../main.js';
import { dataCommands } from './commands-data.js';
import { text, type Command } from './command.js';
import { withGateway } from './connect.js';
import { localTime, table } from './format.js';
import type { DeviceCredentials } from '../app/index.js';
import { simulateCommands } from './commands-simulate.js';
import { policyCommands } from './commands-policy.js';
import { privacyCommands } from './commands-privacy.js';
import { consentCommands } from './commands-consent.js';
import { intentCommands } from './commands-intents.js';
import { openDataCommands } from './commands-open-data.js';
import { termsCommands } from './commands-terms.js';
import { mosquittoCommands } from './commands-mosquitto.js';
import { backupCommands } from './commands-backup.js';
import { deviceCommands } from './commands-devices.js';
import { webCommands } from './commands-web.js';

const json = { json: { type: 'boolean' } } as const;

/** The most readings one `sluice readings` prints (the admin operation's default limit). */
const READINGS_LIMIT = 10_000;

function printCredentials(print: (t: string) => void, r: DeviceCredentials, asJson: boolean, verb: string): void {
  if (asJson) return print(JSON.stringify(r));
  if (r.password === null) return print(`${verb} ${r.id} behind bridge ${r.via ?? ''}; the bridge publishes its messages, so it has no password of its own.`);
  print(
    [
      `${verb} ${r.id} (role ${r.role}).`,
      `  MQTT username: ${r.username}`,
      `  MQTT password: ${r.password}`,
      'The password is shown only now; put it into the device. Sluice keeps only its scrypt hash.',
      r.role === 'device' ? `The device publishes readings to sluice/${r.id}/telemetry and its state to sluice/${r.id}/status.` : '',
    ]
      .filter(Boolean)
      .join('\n'),
  );
}

export const commands: Command[] = [
  {
    name: 'start',
    usage: 'start [--mqtt-port N] [--mqtt-host ADDR] [--web-port N] [--data DIR] [--config FILE]',
    summary: 'Run the gateway in the foreground until Ctrl-C (SIGINT) or SIGTERM.',
    options: { 'mqtt-port': { type: 'string' }, 'mqtt-host': { type: 'string' }, 'web-port': { type: 'string' } },
    args: 0,
    async run({ config, flags }) {
      const cfg = config();
      if (cfg.broker.mode === 'external' && (flags['mqtt-port'] !== undefined || flags['mqtt-host'] !== undefined)) {
        throw new SluiceError('SLUICE_ERR_USAGE', '--mqtt-port and --mqtt-host are off in external-broker mode (broker.mode: external): the household broker listens, Sluice does not');
      }
      const logger = createLogger({ level: cfg.log.level });
      return runGateway(cfg, logger);
    },
  },
  {
    name: 'devices add',
    usage: 'devices add ID --profile P [--role device|bridge|household] [--base-topic T] [--via BRIDGE [--source NAME]] [--json]',
    summary: 'Register a device (or bridge, or household tool) and print its MQTT password once; --via registers a device behind a bridge.',
    options: { profile: { type: 'string' }, role: { type: 'string' }, 'base-topic': { type: 'string' }, via: { type: 'string' }, source: { type: 'string' }, ...json },
    args: 1,
    async run({ args, flags, config, print }) {
      const r = (await withGateway(config(), (call) =>
        call('devices.add', { id: args[0]!, profile: text(flags.profile), role: text(flags.role), baseTopic: text(flags['base-topic']), via: text(flags.via), source: text(flags.source) }),
      ));
      printCredentials(print, r, flags.json === true, 'Added');
      return 0;
    },
  },
  {
    name: 'devices list',
    usage: 'devices list [--json]',
    summary: 'List registered devices.',
    options: json,
    args: 0,
    async run({ flags, config, print }) {
      const rows = await withGateway(config(), (call) => call('devices.list'));
      if (flags.json) print(JSON.stringify(rows));
      else if (rows.length === 0) print('No devices yet. Add one with: sluice devices add ID --profile P');
      else
        print(
          table(
            ['ID', 'ROLE', 'KIND', 'NAME', 'ROOM', 'SOURCE', 'PROFILE', 'ADDED'],
            rows.map((d) => [d.id, d.role, d.kind ?? '', d.name ?? '', d.room ?? '', d.via ? `${d.via}: ${d.source ?? ''}${d.discovered ? ' (discovered)' : ''}` : '', d.profile ?? d.base_topic ?? '', d.simulated ? `${d.created_at} (simulated)` : d.created_at]),
          ),
        );
      return 0;
    },
  },
  {
    name: 'devices show',
    usage: 'devices show ID [--json]',
    summary: 'Show one device and its latest reading of each metric.',
    options: json,
    args: 1,
    async run({ args, flags, config, print }) {
      const cfg = config();
      const d = await withGateway(cfg, (call) => call('devices.show', { id: args[0]! }));
      if (flags.json) return print(JSON.stringify(d)), 0;
      print(`${d.id}  role ${d.role}${d.profile ? `, profile ${d.profile}` : ''}${d.simulated ? ', simulated' : ''}, added ${d.created_at}`);
      if (d.latest.length === 0) print('No readings yet.');
      else print(table(['METRIC', 'VALUE', 'UNIT', 'AT'], d.latest.map((r) => [r.component ? `${r.component}.${r.metric}` : r.metric, String(r.value), r.unit, localTime(r.ts, cfg.timezone)])));
      return 0;
    },
  },
  {
    name: 'devices remove',
    usage: 'devices remove ID',
    summary: 'Remove a device and its credentials (its stored readings stay until erased).',
    options: json,
    args: 1,
    async run({ args, flags, config, print }) {
      const r = await withGateway(config(), (call) => call('devices.remove', { id: args[0]! }));
      print(flags.json ? JSON.stringify(r) : `Removed ${args[0]}; it can no longer connect.`);
      return 0;
    },
  },
  {
    name: 'devices passwd',
    usage: 'devices passwd ID [--json]',
    summary: 'Give a device a new random password (the old one stops working at once).',
    options: json,
    args: 1,
    async run({ args, flags, config, print }) {
      const r = await withGateway(config(), (call) => call('devices.passwd', { id: args[0]! }));
      printCredentials(print, r, flags.json === true, 'New password for');
      return 0;
    },
  },
  {
    name: 'readings',
    usage: 'readings ID [--metric M] [--since 1h|ISO] [--json]',
    summary: "Show a device's stored readings (default: the last hour).",
    options: { metric: { type: 'string' }, since: { type: 'string' }, ...json },
    args: 1,
    async run({ args, flags, config, print }) {
      const cfg = config();
      const rows = await withGateway(cfg, (call) => call('readings', { id: args[0]!, metric: text(flags.metric), since: text(flags.since) }));
      if (rows.length >= READINGS_LIMIT) process.stderr.write(`sluice: showing the first ${READINGS_LIMIT} readings; narrow the period with --since or --metric\n`);
      if (flags.json) print(JSON.stringify(rows));
      else if (rows.length === 0) print('No readings in that period.');
      else
        print(
          table(
            ['TIME', 'METRIC', 'VALUE', 'UNIT', 'NOTE'],
            rows.map((r) => [localTime(r.ts, cfg.timezone), r.component ? `${r.component}.${r.metric}` : r.metric, String(r.value), r.unit, r.time_source === 'gateway' ? 'gateway time' : '']),
          ),
        );
      return 0;
    },
  },
  {
    name: 'quarantine',
    usage: 'quarantine [--device ID] [--json]',
    summary: 'Show refused device messages, newest first, with the reason.',
    options: { device: { type: 'string' }, ...json },
    args: 0,
    async run({ flags, config, print }) {
      const cfg = config();
      const rows = await withGateway(cfg, (call) => call('quarantine', { device: text(flags.device) }));
      if (flags.json) print(JSON.stringify(rows));
      else if (rows.length === 0) print('The quarantine is empty.');
      else print(table(['RECEIVED', 'TOPIC', 'REASON', 'DETAIL'], rows.map((q) => [localTime(q.received_at, cfg.timezone), q.topic, q.reason, q.message])));
      return 0;
    },
  },
  {
    name: 'status',
    usage: 'status [--json]',
    summary: 'Say whether a gateway runs on the data directory, and how it is doing.',
    options: json,
    args: 0,
    async run({ flags, config, print }) {
      const s = await withGateway(config(), (call) => call('status'));
      if (flags.json) print(JSON.stringify(s));
      else print(table(['', ''], Object.entries(s).map(([k, v]) => [k, v === null ? '-' : typeof v === 'object' ? JSON.stringify(v) : String(v)])).split('\n').slice(1).join('\n'));
      return 0;
    },
  },
  ...simulateCommands,
  ...dataCommands,
  ...policyCommands,
  ...privacyCommands,
  ...consentCommands,
  ...intentCommands,
  ...openDataCommands,
  ...termsCommands,
  ...mosquittoCommands,
  ...backupCommands,
  ...deviceCommands,
  ...webCommands,
];
