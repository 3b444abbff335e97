import { SluiceError, lockHolder } from '../core/index.js';
import type { Command } from './command.js';
import { withGateway } from './connect.js';

/** The dashboard's commands. */
export const webCommands: Command[] = [
  {
    name: 'web login',
    usage: 'web login [--json]',
    summary: 'Print a one-time login link to the dashboard of the running gateway (valid 10 minutes, single use).',
    options: { json: { type: 'boolean' } },
    args: 0,
    async run({ flags, config, print }) {
      const cfg = config();
      // The link is held in the running gateway's memory; without one there is nothing to log in to.
      if (lockHolder(cfg.data_dir)?.kind !== 'gateway') throw new SluiceError('SLUICE_ERR_GATEWAY_NOT_RUNNING', `no gateway is running on ${cfg.data_dir}; start it with \`sluice start\`, then run \`sluice web login\` again`);
      const r = await withGateway(cfg, (call) => call('web.login_link'));
      if (flags.json) print(JSON.stringify(r));
      else print(`Open this link in your browser (it works once, for 10 minutes):\n${r.url}`);
      return 0;
    },
  },
];
