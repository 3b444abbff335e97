import { CronExpressionParser } from 'cron-parser';

/**
 * The slot a job is due for at `now`: the latest time ≤ now its cron names (in the household's
 * timezone), unless a run was already recorded for that slot or a later one. A pure function
 * of (clock, cron, timezone, run records): after downtime the missed slots collapse into one
 * catch-up run, and a slot never runs twice. Times that do not exist on a DST day are skipped
 * and times that happen twice run once (cron-parser's rules).
 */
export function dueSlot(cron: string, timeZone: string, now: number, lastScheduledFor: number | undefined): number | undefined {
  const slot = CronExpressionParser.parse(cron, { currentDate: new Date(now + 1), tz: timeZone }).prev().getTime();
  if (lastScheduledFor !== undefined && slot <= lastScheduledFor) return undefined;
  return slot;
}

/** The next slot after `now` (for display). */
export function nextSlot(cron: string, timeZone: string, now: number): number {
  return CronExpressionParser.parse(cron, { currentDate: new Date(now), tz: timeZone }).next().getTime();
}
