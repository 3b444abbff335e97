import type { TimeSource } from './types.js';

// Device timestamps below this are not epoch milliseconds (before 2001-09-09): epoch seconds,
// an uptime counter, or 0 — none of which can be trusted as the time of the reading.
const MIN_EPOCH_MS = 1_000_000_000_000;
const ISO_WITH_OFFSET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/i;

/** Decides a message's time: the device's `ts` when it is trustworthy, else the receive time. */
export function resolveTimestamp(ts: unknown, receivedAt: number): { ts: number; timeSource: TimeSource } {
  if (typeof ts === 'number' && Number.isFinite(ts) && ts >= MIN_EPOCH_MS) return { ts: Math.round(ts), timeSource: 'device' };
  if (typeof ts === 'string' && ISO_WITH_OFFSET.test(ts)) {
    const ms = Date.parse(ts);
    if (!Number.isNaN(ms)) return { ts: ms, timeSource: 'device' };
  }
  return { ts: receivedAt, timeSource: 'gateway' };
}
