import { SluiceError } from './errors.js';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$/;

/** Parses `20ms`, `5m`, `7d` into milliseconds; undefined when the text is not a duration. */
export function tryParseDuration(text: string): number | undefined {
  const m = DURATION.exec(text.trim());
  if (!m) return undefined;
  return Math.round(Number(m[1]) * UNITS[m[2]!]!);
}

export function parseDuration(text: string, what = 'duration'): number {
  const ms = tryParseDuration(text);
  if (ms === undefined) {
    throw new SluiceError('SLUICE_ERR_USAGE', `${what}: expected a duration such as 20ms, 30s, 5m, 1h, 7d; got "${text}"`);
  }
  return ms;
}

/**
 * Parses a point in time for `--since`: a duration back from now (`1h`) or an ISO 8601 date
 * or date-time. A date-time without an offset is refused, because it would silently depend
 * on the machine's timezone.
 */
export function parseSince(text: string, now: number): number {
  const ago = tryParseDuration(text);
  if (ago !== undefined) return now - ago;
  if (/^\d{4}-\d{2}-\d{2}$/.test(text)) return Date.parse(`${text}T00:00:00Z`);
  if (/^\d{4}-\d{2}-\d{2}T.*(Z|[+-]\d{2}:?\d{2})$/.test(text)) {
    const t = Date.parse(text);
    if (!Number.isNaN(t)) return t;
  }
  throw new SluiceError(
    'SLUICE_ERR_USAGE',
    `--since: expected a duration (1h, 7d) or an ISO 8601 time with offset (2026-11-23T08:00:00Z); got "${text}"`,
  );
}
