import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { restoreBackup } from '../app/index.js';
import { SluiceError, createLogger, systemClock } from '../core/index.js';
import { text, type Command } from './command.js';
import { withGateway } from './connect.js';

const json = { json: { type: 'boolean' } } as const;

/** The passphrase from the variable `--passphrase-env` names; never from the command line, where `ps` shows it. */
function passphrase(flag: string | boolean | undefined): string | undefined {
  const name = text(flag);
  if (name === undefined) return undefined;
  const value = process.env[name];
  if (value === undefined || value === '') throw new SluiceError('SLUICE_ERR_USAGE', `--passphrase-env names ${name}, which is not set`);
  return value;
}

export const backupCommands: Command[] = [
  {
    name: 'backup create',
    usage: 'backup create FILE [--passphrase-env VAR] [--config-only] [--json]',
    summary: 'Write a consistent backup (database, ledger head, secrets, policies, profiles, settings) while the gateway runs; encrypted with a passphrase; --config-only leaves readings out.',
    options: { 'passphrase-env': { type: 'string' }, 'config-only': { type: 'boolean' }, ...json },
    args: 1,
    async run({ args, flags, config, print }) {
      const r = await withGateway(config(), (call) =>
        call('backup.create', { file: resolve(args[0]!), passphrase: passphrase(flags['passphrase-env']), configOnly: flags['config-only'] === true }),
      );
      if (flags.json) print(JSON.stringify(r));
      else
        print(
          `Wrote ${r.file} (${r.bytes} bytes${r.encrypted ? ', encrypted' : ', NOT encrypted: keep it as private as the data directory'}): ${r.config_only ? 'settings only, no readings' : `${r.readings} readings`}, ledger at row ${r.ledger_head?.seq ?? 0}.`,
        );
      return 0;
    },
  },
  {
    name: 'backup restore',
    usage: 'backup restore FILE [--passphrase-env VAR] [--yes] [--json]',
    summary: 'Restore a backup with no gateway running; replaces existing files only with --yes; then checks the database and the ledger.',
    options: { 'passphrase-env': { type: 'string' }, yes: { type: 'boolean' }, ...json },
    args: 1,
    async run({ args, flags, config, print }) {
      const cfg = config();
      let archive: Buffer;
      try {
        archive = readFileSync(resolve(args[0]!));
      } catch (err) {
        throw new SluiceError('SLUICE_ERR_USAGE', `cannot read ${args[0]!}: ${(err as Error).message}`);
      }
      const r = await restoreBackup(cfg, archive, { passphrase: passphrase(flags['passphrase-env']), yes: flags.yes === true, logger: createLogger({ level: 'warn' }), clock: systemClock });
      if (flags.json) print(JSON.stringify(r));
      else {
        print(`Restored the backup of ${r.created_at}${r.config_only ? ' (settings only, no readings)' : ''}: ${r.files.length} file(s).`);
        print(`db check: ${r.db_check.ok ? 'ok' : r.db_check.problems.join('; ')}; ledger verify: ${r.ledger.ok ? `ok (${r.ledger.rows} rows, the last records this restore)` : r.ledger.problem}`);
      }
      return r.db_check.ok && r.ledger.ok ? 0 : 1;
    },
  },
];
