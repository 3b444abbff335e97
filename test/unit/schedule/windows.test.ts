import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { lastClosedWindow } from '../../../src/policy/index.js';
import { dueWindows, type TimeWindow } from '../../../src/schedule/index.js';

const TZ = 'Europe/Berlin';
const at = (iso: string) => DateTime.fromISO(iso, { zone: TZ }).toMillis();
const show = (ws: TimeWindow[]) => ws.map((w) => `${DateTime.fromMillis(w.start, { zone: TZ }).toISO({ suppressMilliseconds: true })}/${DateTime.fromMillis(w.end, { zone: TZ }).toISO({ suppressMilliseconds: true })}`);

function daily(now: number, since: number, ran: Set<number> = new Set(), maxWindows = 31) {
  return dueWindows({
    now,
    cron: '0 3 * * *',
    timezone: TZ,
    since,
    windowAt: (fire) => lastClosedWindow(fire, '1d', TZ),
    ran: (w) => ran.has(w.start),
    maxWindows,
  });
}

describe('dueWindows (pure: clock, cron, timezone, run records)', () => {
  it('nothing is due before the first fire time after approval', () => {
    expect(daily(at('2026-11-23T02:59'), at('2026-11-22T15:00'))).toEqual([]);
  });

  it('at 03:00 the day that just closed is due, in the household timezone', () => {
    expect(show(daily(at('2026-11-23T03:00'), at('2026-11-22T15:00')))).toEqual(['2026-11-22T00:00:00+01:00/2026-11-23T00:00:00+01:00']);
  });

  it('after downtime every missed window is caught up once, oldest first, and never again once recorded', () => {
    const ran = new Set<number>();
    const due = daily(at('2026-11-26T10:00'), at('2026-11-22T15:00'), ran);
    expect(show(due)).toEqual([
      '2026-11-22T00:00:00+01:00/2026-11-23T00:00:00+01:00',
      '2026-11-23T00:00:00+01:00/2026-11-24T00:00:00+01:00',
      '2026-11-24T00:00:00+01:00/2026-11-25T00:00:00+01:00',
      '2026-11-25T00:00:00+01:00/2026-11-26T00:00:00+01:00',
    ]);
    for (const w of due) ran.add(w.start);
    expect(daily(at('2026-11-26T10:00'), at('2026-11-22T15:00'), ran)).toEqual([]);
    expect(daily(at('2026-11-27T03:00'), at('2026-11-22T15:00'), ran)).toHaveLength(1);
  });

  it('catching up is bounded: only the newest windows after a long outage', () => {
    expect(show(daily(at('2026-12-31T12:00'), at('2026-01-01T00:00'), new Set(), 2))).toEqual([
      '2026-12-29T00:00:00+01:00/2026-12-30T00:00:00+01:00',
      '2026-12-30T00:00:00+01:00/2026-12-31T00:00:00+01:00',
    ]);
  });

  it('a day across the DST change is 23 or 25 hours long', () => {
    const [spring] = daily(at('2026-03-30T03:00'), at('2026-03-29T12:00'));
    expect((spring!.end - spring!.start) / 3_600_000).toBe(23);
    const [autumn] = daily(at('2026-10-26T03:00'), at('2026-10-25T12:00'));
    expect((autumn!.end - autumn!.start) / 3_600_000).toBe(25);
  });

  it('many fire times of one window give that window once', () => {
    const due = dueWindows({
      now: at('2026-11-23T05:30'),
      cron: '*/5 * * * *',
      timezone: TZ,
      since: at('2026-11-23T03:10'),
      windowAt: (fire) => lastClosedWindow(fire, '1h', TZ),
      ran: () => false,
      maxWindows: 31,
    });
    expect(show(due)).toEqual([
      '2026-11-23T02:00:00+01:00/2026-11-23T03:00:00+01:00',
      '2026-11-23T03:00:00+01:00/2026-11-23T04:00:00+01:00',
      '2026-11-23T04:00:00+01:00/2026-11-23T05:00:00+01:00',
    ]);
  });

  it('stays cheap for a per-second cron and an approval long ago', () => {
    const started = performance.now();
    const due = dueWindows({
      now: at('2026-11-23T05:30'),
      cron: '* * * * * *',
      timezone: TZ,
      since: at('2025-11-23T00:00'),
      windowAt: (fire) => lastClosedWindow(fire, '1h', TZ),
      ran: (w) => w.end < at('2026-11-23T05:00'),
      maxWindows: 31,
    });
    expect(show(due)).toEqual(['2026-11-23T04:00:00+01:00/2026-11-23T05:00:00+01:00']);
    expect(performance.now() - started).toBeLessThan(500);
  });
});
