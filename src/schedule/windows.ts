import { CronExpressionParser } from 'cron-parser';
import type { TimeWindow } from '../core/index.js';


export interface DueWindowsInput {
  /** ms since the epoch */
  now: number;
  cron: string;
  timezone: string;
  /** Only fire times after this instant count (e.g. when the policy was approved). */
  since: number;
  /** The window a run at this fire time produces; never decreasing as the fire time grows, and ending at or before it. */
  windowAt(fireTime: number): TimeWindow;
  /** True when a run of this window is already recorded. */
  ran(window: TimeWindow): boolean;
  /** Only the newest this many windows are considered, so catching up after downtime is bounded. */
  maxWindows: number;
  /** Bound on fire times examined (a per-minute cron over a long outage). */
  maxFireTimes?: number;
}

/**
 * The windows whose runs are due now: one per distinct window of the fire times in
 * (since, now] — the newest `maxWindows` of them — minus those already recorded; returned
 * oldest first. Pure, so missed runs after downtime are computed, not remembered by a timer.
 */
export function dueWindows(input: DueWindowsInput): TimeWindow[] {
  if (input.now <= input.since) return [];
  const seen = new Set<number>();
  const due: TimeWindow[] = [];
  const limit = input.maxFireTimes ?? 10_000;
  let before = input.now + 1;
  for (let i = 0; i < limit && seen.size < input.maxWindows; i++) {
    let fire: number;
    try {
      // prev() is strictly before `before`; re-parsing lets us jump over a window's other fire times.
      fire = CronExpressionParser.parse(input.cron, { tz: input.timezone, currentDate: new Date(before) }).prev().getTime();
    } catch {
      break; // no earlier fire time
    }
    if (fire <= input.since) break;
    const w = input.windowAt(fire);
    // Every fire time from w.end on maps to w or later, so the next older window's fires are before w.end.
    before = Math.min(fire, w.end);
    if (w.end > input.now || seen.has(w.start)) continue;
    seen.add(w.start);
    if (!input.ran(w)) due.push(w);
  }
  return due.reverse();
}
