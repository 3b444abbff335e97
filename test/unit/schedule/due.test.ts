import { describe, expect, it } from 'vitest';
import { dueSlot, nextSlot } from '../../../src/schedule/index.js';

const TZ = 'Europe/Berlin';
const at = (iso: string) => Date.parse(iso);

describe('dueSlot: a pure function of clock, cron, timezone and run records', () => {
  it('is due for the latest slot not yet recorded, once', () => {
    const now = at('2026-11-23T03:10:00+01:00');
    const slot = dueSlot('0 3 * * *', TZ, now, undefined);
    expect(slot).toBe(at('2026-11-23T03:00:00+01:00'));
    expect(dueSlot('0 3 * * *', TZ, now, slot)).toBeUndefined();
    expect(dueSlot('0 3 * * *', TZ, at('2026-11-23T03:00:00+01:00'), undefined)).toBe(slot);
  });

  it('catches up missed slots after downtime with one run', () => {
    const lastRun = at('2026-11-20T03:00:00+01:00');
    const now = at('2026-11-23T12:00:00+01:00');
    expect(dueSlot('0 3 * * *', TZ, now, lastRun)).toBe(at('2026-11-23T03:00:00+01:00'));
  });

  it('follows the household clock across spring-forward and fall-back', () => {
    // 03:00 local is 01:00Z on the spring-forward day and 02:00Z on the fall-back day.
    expect(dueSlot('0 3 * * *', TZ, at('2026-03-29T12:00:00Z'), undefined)).toBe(at('2026-03-29T01:00:00Z'));
    expect(dueSlot('0 3 * * *', TZ, at('2026-10-25T12:00:00Z'), undefined)).toBe(at('2026-10-25T02:00:00Z'));
    // An hourly job has 23 slots on the spring-forward day.
    let slots = 0;
    for (let t = at('2026-03-29T00:00:00+01:00'); t < at('2026-03-30T00:00:00+02:00'); t = nextSlot('0 * * * *', TZ, t)) slots++;
    expect(slots).toBe(23);
  });
});
