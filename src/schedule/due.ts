import { CronExpressionParser } from 'cron-parser';

/** A half-open span of time [start, end) in ms since the epoch. */
export interface Window {
  start: number;
  end: number;
}

export interface DueWindowsInput {
  /** ms since the epoch */
  now: number;
  cron: string;
  timezone: string;
  /** Only fire times after this instant count (e.g. when the policy was approved). */
  since: number;
  /** The window a run at this fire time produces. */
  windowAt(fireTime: number): Window;
  /** True when a run of this window is already recorded. */
  ran(window: Window): boolean;
  /** At most this many windows are caught up after downtime; the newest are kept. */
  maxWindows: number;
  /** Bound on fire times examined (a per-minute cron over a long outage). */
  maxFireTimes?: number;
}

/**
 * The windows whose runs are due now: one per distinct window of the fire times in
 * (since, now], newest first up to `maxWindows`, minus those already recorded; returned
 * oldest first. Pure, so missed runs after downtime are computed, not remembered by a timer.
 */
export function dueWindows(input: DueWindowsInput): Window[] {
  if (input.now <= input.since) return [];
  const it = CronExpressionParser.parse(input.cron, { tz: input.timezone, currentDate: new Date(input.now + 1) });
  const seen = new Set<number>();
  const due: Window[] = [];
  const limit = input.maxFireTimes ?? 10_000;
  for (let i = 0; i < limit && due.length < input.maxWindows; i++) {
    let fire: number;
    try {
      fire = it.prev().getTime();
    } catch {
      break; // no earlier fire time
    }
    if (fire <= input.since) break;
    const w = input.windowAt(fire);
    if (w.end > input.now || seen.has(w.start)) continue;
    seen.add(w.start);
    if (!input.ran(w)) due.push(w);
  }
  return due.reverse();
}
