import { externalBrokerOptionsFrom, hasLogin, mosquittoAcl, mosquittoPasswordLine } from '../broker/index.js';
import { defineOperation, flag, params } from './operation.js';

/** What `sluice mosquitto-config` prints: lines for Mosquitto's password_file and acl_file. */
export interface MosquittoConfigResult {
  password_file: string[];
  acl_file: string[];
  /** Only with --new-passwords: each device's new MQTT password, shown once. */
  new_passwords: Record<string, string>;
  /** Logins without a password line (Sluice keeps only scrypt hashes, which Mosquitto cannot read). */
  without_password: string[];
}

/** Mosquitto as the household's broker: the lines that let it authenticate and confine Sluice's devices. */
export const mosquittoOperations = {
  'mosquitto.config': defineOperation({
    params: params({ newPasswords: flag('--new-passwords') }),
    run: async ({ context: ctx }, p): Promise<MosquittoConfigResult> => {
      const devices = ctx.registry.list();
      const ext = ctx.config.broker.external;
      const sluiceUser = ext.username || undefined;
      const passwordFile: string[] = [];
      const newPasswords: Record<string, string> = {};
      const without: string[] = [];
      if (sluiceUser) {
        let own: string | undefined;
        try {
          own = externalBrokerOptionsFrom(ctx.config).password;
        } catch {
          own = undefined; // the variable is set only where the gateway runs
        }
        if (own !== undefined) passwordFile.push(mosquittoPasswordLine(sluiceUser, own));
        else without.push(sluiceUser);
      }
      for (const d of devices) {
        if (!hasLogin(d)) continue;
        if (!p.newPasswords) {
          without.push(d.id);
          continue;
        }
        // Re-issued: the old password stops working in Sluice too, so both sides agree.
        const { password } = await ctx.registry.passwd(d.id);
        ctx.events.emit('device.changed', { deviceId: d.id, change: 'passwd' });
        newPasswords[d.id] = password;
        passwordFile.push(mosquittoPasswordLine(d.id, password));
      }
      return { password_file: passwordFile, acl_file: mosquittoAcl(devices, sluiceUser), new_passwords: newPasswords, without_password: without };
    },
  }),
};
