import { SluiceError, lockHolder } from '../core/index.js';
import { hashPassword } from '../devices/index.js';
import { text, type Command } from './command.js';
import { withGateway } from './connect.js';

/** `sluice web login`: a one-time dashboard link from the running gateway. */
const loginCommand: Command = {
  name: 'web login',
  usage: 'web login [--as MEMBER] [--json]',
  summary: 'Print a one-time login link to the dashboard of the running gateway (valid 10 minutes, single use); with --as, the session acts as that household member.',
  options: { as: { type: 'string' }, json: { type: 'boolean' } },
  args: 0,
  async run({ flags, config, print }) {
    const cfg = config();
    // The link is held in the running gateway's memory; without one there is nothing to log in to.
    if (lockHolder(cfg.data_dir)?.kind !== 'gateway') throw new SluiceError('SLUICE_ERR_GATEWAY_NOT_RUNNING', `no gateway is running on ${cfg.data_dir}; start it with \`sluice start\`, then run \`sluice web login\` again`);
    const r = await withGateway(cfg, (call) => call('web.login_link', { as: text(flags.as) }));
    if (flags.json) print(JSON.stringify(r));
    else print(`Open this link in your browser (it works once, for 10 minutes${r.member ? `; you act as ${r.member}` : ''}):\n${r.url}`);
    return 0;
  },
};

/** Reads all of stdin (a password piped in or typed, ended by Ctrl-D). */
async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const passwordCommand: Command = {
  name: 'web password',
  usage: 'web password [--json]',
  summary: 'Read a household password from stdin and print its scrypt hash for web.password_hash in sluice.yaml.',
  options: { json: { type: 'boolean' } },
  args: 0,
  async run({ flags, print }) {
    const password = (await readStdin()).replace(/\r?\n$/, '');
    if (password.length < 8) throw new SluiceError('SLUICE_ERR_USAGE', 'the household password must be at least 8 characters');
    const hash = await hashPassword(password);
    if (flags.json) print(JSON.stringify({ password_hash: hash }));
    else print(`Put this line under web: in sluice.yaml, then restart the gateway:\n  password_hash: "${hash}"`);
    return 0;
  },
};

/** The dashboard's commands. */
export const webCommands: Command[] = [loginCommand, passwordCommand];
