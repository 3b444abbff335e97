import { join } from 'node:path';
import type { SluiceConfig } from '../config/index.js';
import { SOCKET_FILE, callAdmin, isSluiceError, lockHolder, silentLogger, systemClock } from '../core/index.js';
import { buildApp, buildMaintenance, buildSharing, openContext, type Call } from '../app/index.js';

export type { Call } from '../app/index.js';

/**
 * Runs CLI work against the data directory's one owner: through the running gateway's admin
 * socket when a gateway holds the lock, otherwise by opening the database under the same lock.
 * Either way the same application operation answers.
 */
export async function withGateway<T>(config: Readonly<SluiceConfig>, work: (call: Call) => Promise<T>): Promise<T> {
  const holder = lockHolder(config.data_dir);
  if (holder?.kind === 'gateway') {
    const socket = join(config.data_dir, SOCKET_FILE);
    // The gateway parses the params with the operation's schema; the answer is its result, as JSON.
    return work(((op: string, params?: Record<string, unknown>) => callWithRetry(socket, op, params ?? {})) as Call);
  }
  const context = await openContext(config, { kind: 'cli', logger: silentLogger(), clock: systemClock });
  try {
    const app = buildApp({ context, sharing: buildSharing(context), maintenance: buildMaintenance(context) });
    return await work(app.call);
  } finally {
    context.close();
  }
}

/** Operations that may take longer than the socket's default answer time (ms): a backup copies the whole database. */
const SLOW_OPERATIONS: Readonly<Record<string, number>> = { 'backup.create': 60 * 60_000 };

/** A gateway that just took the lock may not listen yet; give it a few seconds. */
async function callWithRetry(socket: string, op: string, params: Record<string, unknown>): Promise<unknown> {
  const deadline = Date.now() + 5000;
  for (;;) {
    try {
      return await callAdmin(socket, op, params, Object.hasOwn(SLOW_OPERATIONS, op) ? SLOW_OPERATIONS[op] : undefined);
    } catch (err) {
      const unreachable = isSluiceError(err, 'SLUICE_ERR_ADMIN_SOCKET') && /ENOENT|ECONNREFUSED/.test(err.message);
      if (!unreachable || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
