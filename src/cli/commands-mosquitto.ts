import { type Command } from './command.js';
import { withGateway } from './connect.js';

/** `sluice mosquitto-config`: what the household pastes into Mosquitto in external-broker mode. */
export const mosquittoCommands: Command[] = [
  {
    name: 'mosquitto-config',
    usage: 'mosquitto-config [--new-passwords] [--json]',
    summary: "Print Mosquitto password_file and acl_file lines for the registered devices; --new-passwords re-issues every device's password so it can have a password line.",
    options: { 'new-passwords': { type: 'boolean' }, json: { type: 'boolean' } },
    args: 0,
    async run({ flags, config, print }) {
      const r = await withGateway(config(), (call) => call('mosquitto.config', { newPasswords: flags['new-passwords'] === true }));
      if (flags.json) {
        print(JSON.stringify(r));
        return 0;
      }
      const out: string[] = [];
      out.push('# ---- password_file (mosquitto.conf: password_file /etc/mosquitto/sluice.passwd) ----');
      out.push(...r.password_file);
      if (r.without_password.length > 0) {
        out.push(`# no password line for: ${r.without_password.join(', ')} (Sluice keeps only scrypt hashes; run with --new-passwords, or add them with mosquitto_passwd)`);
      }
      out.push('', '# ---- acl_file (mosquitto.conf: acl_file /etc/mosquitto/sluice.acl) ----', ...r.acl_file);
      const ids = Object.keys(r.new_passwords);
      if (ids.length > 0) {
        out.push('# ---- new device passwords, shown once: set each on its device ----');
        for (const id of ids) out.push(`#   ${id}  ${r.new_passwords[id]}`);
      }
      print(out.join('\n'));
      return 0;
    },
  },
];
