import type { TimeSource } from './types.js';

// Device timestamps below this are not epoch milliseconds (before 2001-09-09): epoch seconds,
// an uptime counter, or 0 — none of which can be trusted as the time of the reading.
const MIN_EPOCH_MS = 1_000_000_000_000;
const ISO_WITH_OFFSET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/i;

/** Decides a message's time: the device's `ts` when it is trustworthy, else the receive time. */
export function resolveTimestamp(ts: unknown, receivedAt: number): { ts: number; timeSource: TimeSource; note?: string } {
  if (typeof ts === 'number' && Number.isFinite(ts) && ts >= MIN_EPOCH_MS) return { ts: Math.round(ts), timeSource: 'device' };
  if (typeof ts === 'string' && ISO_WITH_OFFSET.test(ts)) {
    const ms = Date.parse(ts);
    if (!Number.isNaN(ms)) return { ts: ms, timeSource: 'device' };
  }
  const gateway = { ts: receivedAt, timeSource: 'gateway' as const };
  if (ts === undefined || ts === null) return gateway;
  // A ts was sent but cannot be trusted: say why, so the maker can fix it.
  return { ...gateway, note: unusable(ts) };
}

function unusable(ts: unknown): string {
  if (typeof ts === 'number') {
    if (!Number.isFinite(ts)) return 'ts is not a finite number';
    if (ts >= 1_000_000_000 && ts < MIN_EPOCH_MS) return `ts ${ts} looks like epoch seconds; send epoch milliseconds`;
    return `ts ${ts} is not epoch milliseconds (an uptime counter or 0?)`;
  }
  if (typeof ts === 'string') {
    if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(ts)) return `ts ${JSON.stringify(ts.slice(0, 40))} has no UTC offset; add Z or +hh:mm`;
    return `ts ${JSON.stringify(ts.slice(0, 40))} is not ISO 8601 with an offset nor epoch milliseconds`;
  }
  return `ts of type ${Array.isArray(ts) ? 'array' : typeof ts} is neither epoch milliseconds nor ISO 8601`;
}
