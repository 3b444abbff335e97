import { join } from 'node:path';
import type { SluiceConfig } from '../config/index.js';
import { SOCKET_FILE, SluiceError, callAdmin, isSluiceError, lockHolder, silentLogger, systemClock } from '../core/index.js';
import { buildOperations, openContext } from '../gateway/index.js';

export type Call = (op: string, params?: Record<string, unknown>) => Promise<unknown>;

/**
 * Runs CLI work against the data directory's one owner: through the running gateway's admin
 * socket when a gateway holds the lock, otherwise by opening the database under the same lock.
 */
export async function withGateway<T>(config: Readonly<SluiceConfig>, work: (call: Call) => Promise<T>): Promise<T> {
  const holder = lockHolder(config.data_dir);
  if (holder?.kind === 'gateway') {
    const socket = join(config.data_dir, SOCKET_FILE);
    return work((op, params) => callWithRetry(socket, op, params ?? {}));
  }
  const ctx = await openContext(config, { kind: 'cli', logger: silentLogger(), clock: systemClock });
  try {
    const ops = buildOperations(ctx);
    return await work(async (op, params) => {
      const handler = ops[op];
      if (!handler) throw new SluiceError('SLUICE_ERR_INTERNAL', `unknown operation ${op}`);
      return handler(params ?? {});
    });
  } finally {
    ctx.close();
  }
}

/** A gateway that just took the lock may not listen yet; give it a few seconds. */
async function callWithRetry(socket: string, op: string, params: Record<string, unknown>): Promise<unknown> {
  const deadline = Date.now() + 5000;
  for (;;) {
    try {
      return await callAdmin(socket, op, params);
    } catch (err) {
      const unreachable = isSluiceError(err, 'SLUICE_ERR_ADMIN_SOCKET') && /ENOENT|ECONNREFUSED/.test(err.message);
      if (!unreachable || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
