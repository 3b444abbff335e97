import type { Logger } from '../core/index.js';

/** Exit status after an unexpected fault: distinct from 1 (runtime failure) so supervisors can tell. */
export const FAULT_EXIT_CODE = 70;

/**
 * Turns an uncaught exception or unhandled rejection into one fatal log line with its context,
 * then a non-zero exit. Continuing after one would leave aedes or the writer in an unknown
 * state; every acknowledged reading is already committed (PUBACK follows commit), so exiting
 * loses nothing a device was promised, and a supervisor (systemd, Docker) restarts the gateway.
 * Returns a function that removes the handlers.
 */
export function containFailures(logger: Logger, exit: (code: number) => void = (code) => process.exit(code)): () => void {
  const onException = (err: Error, origin: string) => {
    logger.fatal({ err, origin, pid: process.pid, uptimeS: Math.round(process.uptime()), rssBytes: process.memoryUsage.rss() }, 'unexpected fault; the gateway exits so it can be restarted cleanly');
    exit(FAULT_EXIT_CODE);
  };
  const onRejection = (reason: unknown) => onException(reason instanceof Error ? reason : new Error(String(reason)), 'unhandledRejection');
  process.on('uncaughtException', onException);
  process.on('unhandledRejection', onRejection);
  return () => {
    process.off('uncaughtException', onException);
    process.off('unhandledRejection', onRejection);
  };
}
