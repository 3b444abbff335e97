import { randomBytes } from 'node:crypto';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SluiceError } from '../core/index.js';

export const GATEWAY_SECRET_FILE = 'gateway.secret';

/**
 * The gateway's own 32-byte secret, from which every vendor's key is derived
 * (summarise `vendorKey`). Made once in the data directory with mode 0600; losing it gives
 * the household new pseudonyms and ids at every vendor. Never logged, never sent.
 */
export function gatewaySecret(dataDir: string): Buffer {
  const path = join(dataDir, GATEWAY_SECRET_FILE);
  try {
    // 'wx': two processes racing to create it keep the first one's secret.
    writeFileSync(path, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  chmodSync(path, 0o600);
  const text = readFileSync(path, 'utf8').trim();
  if (!/^[0-9a-f]{64}$/.test(text)) {
    throw new SluiceError('SLUICE_ERR_DATA_DIR', `${path} is damaged (expected 64 hex digits); restore it from a backup, or delete it to give the household new ids at every vendor`);
  }
  return Buffer.from(text, 'hex');
}
