import { DateTime } from 'luxon';
import type { TimeWindow } from '../core/index.js';
import type { WindowSize } from './schema.js';


/** The calendar unit each window size is aligned to, in the household's timezone. */
function unitOf(size: WindowSize): 'hour' | 'day' | 'week' {
  return size === '1h' ? 'hour' : size === '1d' ? 'day' : 'week';
}

/**
 * The newest complete window of this size that ends at or before `t`: hours on the hour, days
 * from local midnight (23 or 25 hours across a DST change), weeks from Monday 00:00.
 */
export function lastClosedWindow(t: number, size: WindowSize, timezone: string): TimeWindow {
  const unit = unitOf(size);
  const end = DateTime.fromMillis(t, { zone: timezone }).startOf(unit);
  const start = end.minus({ [`${unit}s`]: 1 });
  return { start: start.toMillis(), end: end.toMillis() };
}

/** True when the window is exactly one calendar unit of this size, aligned in the timezone. */
export function isAlignedWindow(w: TimeWindow, size: WindowSize, timezone: string): boolean {
  const candidate = lastClosedWindow(w.end, size, timezone);
  return candidate.start === w.start && candidate.end === w.end;
}

/** ISO 8601 with the household's offset, e.g. `2026-11-22T00:00:00+01:00`. */
export function isoInZone(ms: number, timezone: string): string {
  return DateTime.fromMillis(ms, { zone: timezone }).toISO({ suppressMilliseconds: true })!;
}

/** Parses `START/END` (ISO 8601 with offset or a date in the household's timezone). */
export function parseWindowText(text: string, timezone: string): TimeWindow | null {
  const parts = text.split('/');
  if (parts.length !== 2) return null;
  const parse = (s: string) => {
    const dt = /^\d{4}-\d{2}-\d{2}$/.test(s) ? DateTime.fromISO(s, { zone: timezone }) : DateTime.fromISO(s, { setZone: true });
    if (!dt.isValid) return null;
    // A date-time without an offset would silently depend on the machine's timezone.
    if (!/^\d{4}-\d{2}-\d{2}$/.test(s) && !/(Z|[+-]\d{2}:?\d{2})$/.test(s)) return null;
    return dt.toMillis();
  };
  const start = parse(parts[0]!);
  const end = parse(parts[1]!);
  if (start === null || end === null || end <= start) return null;
  return { start, end };
}

/** The first instant after the policy's last day, in the household's timezone. */
export function expiryInstant(expires: string, timezone: string): number {
  return DateTime.fromISO(expires, { zone: timezone }).plus({ days: 1 }).startOf('day').toMillis();
}
