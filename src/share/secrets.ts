import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { SluiceError } from '../core/index.js';
import type { PolicyV1 } from '../policy/index.js';
import { keyFingerprint } from './sign.js';

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

/** The signing key a policy names, read now (so a key set later is picked up without a restart). */
export const signingKey = vendorKey;

/** Whether the policy's signing key is available now: for check, approve, run and `policy list` ("waiting: signing key missing"). */
export function signingKeyStatus(policy: PolicyV1, policiesDir: string, env: NodeJS.ProcessEnv = process.env): { ok: true; kid: string } | { ok: false; message: string } {
  try {
    return { ok: true, kid: vendorKey(policy, policiesDir, env).kid };
  } catch (err) {
    if (err instanceof SluiceError && err.code === 'SLUICE_ERR_SECRET_MISSING') return { ok: false, message: err.message };
    throw err;
  }
}
