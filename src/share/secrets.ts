import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { SluiceError } from '../core/index.js';
import type { PolicyV1 } from '../policy/index.js';
import { keyFingerprint } from './sign.js';

export const HOUSEHOLD_SECRET_FILE = 'household.secret';

/**
 * The gateway's own secret behind every vendor pseudonym; made on first use, mode 0600.
 * Losing it gives the household new pseudonyms at every vendor.
 */
export function householdSecret(dataDir: string): Buffer {
  const path = join(dataDir, HOUSEHOLD_SECRET_FILE);
  if (!existsSync(path)) {
    try {
      writeFileSync(path, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  chmodSync(path, 0o600);
  return Buffer.from(readFileSync(path, 'utf8').trim(), 'hex');
}

export interface VendorKey {
  kid: string;
  key: Buffer;
}

/**
 * The HMAC key a policy names: an environment variable or a file, never the policy text.
 * [PRIV-3] the key is never logged; errors name where it was looked for, not what it is.
 */
export function vendorKey(policy: PolicyV1, policiesDir: string, env: NodeJS.ProcessEnv = process.env): VendorKey {
  let text: string | undefined;
  if (policy.secret_env) {
    text = env[policy.secret_env];
    if (!text) throw new SluiceError('SLUICE_ERR_SECRET_MISSING', `the signing key for ${policy.vendor} is not set: environment variable ${policy.secret_env} is empty`);
  } else if (policy.secret_file) {
    const path = isAbsolute(policy.secret_file) ? policy.secret_file : join(policiesDir, policy.secret_file);
    try {
      text = readFileSync(path, 'utf8').trim();
    } catch {
      throw new SluiceError('SLUICE_ERR_SECRET_MISSING', `the signing key for ${policy.vendor} cannot be read from ${path}`);
    }
    if (!text) throw new SluiceError('SLUICE_ERR_SECRET_MISSING', `the signing key file ${path} is empty`);
  }
  const key = Buffer.from(text ?? '', 'utf8');
  return { kid: policy.key_id ?? keyFingerprint(key), key };
}
