import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManualClock, openDatabase, silentLogger } from '../../../src/core/index.js';
import { Scheduler, scheduleMigrations } from '../../../src/schedule/index.js';
import { tmpDir } from '../../helpers/tmp-dir.js';

describe('Scheduler', () => {
  it('records each run, runs a slot once, and catches up missed slots with one run', async () => {
    const db = await openDatabase({ path: join(tmpDir(), 'sluice.db'), migrations: scheduleMigrations, logger: silentLogger() });
    const clock = new ManualClock(Date.parse('2026-10-24T03:30:00+02:00'));
    const runs: number[] = [];
    const scheduler = new Scheduler({
      db,
      clock,
      logger: silentLogger(),
      timeZone: 'Europe/Berlin',
      jobs: [{ name: 'nightly', cron: '0 3 * * *', run: (now) => void runs.push(now) }],
    });
    // tick() without start(): node-cron never wakes the process in this test; the clock decides.
    await scheduler.tick();
    await scheduler.tick();
    expect(runs).toHaveLength(1);
    // Down for two nights, across the fall-back night: one catch-up run for the latest slot.
    clock.set(Date.parse('2026-10-26T09:00:00+01:00'));
    await scheduler.tick();
    expect(runs).toHaveLength(2);
    const rows = db.raw.prepare('SELECT job, scheduled_for, trigger, outcome FROM schedule_runs ORDER BY id').all();
    expect(rows).toEqual([
      { job: 'nightly', scheduled_for: Date.parse('2026-10-24T03:00:00+02:00'), trigger: 'schedule', outcome: 'ok' },
      { job: 'nightly', scheduled_for: Date.parse('2026-10-26T03:00:00+01:00'), trigger: 'schedule', outcome: 'ok' },
    ]);
    // A manual run does not move the schedule.
    await scheduler.runNow('nightly');
    await scheduler.tick();
    expect(runs).toHaveLength(3);
    db.close();
  });

  it('a stop aborts the running job\'s signal and waits for it to end', async () => {
    const db = await openDatabase({ path: join(tmpDir(), 'sluice.db'), migrations: scheduleMigrations, logger: silentLogger() });
    const clock = new ManualClock(Date.parse('2026-10-24T03:30:00+02:00'));
    let began!: () => void;
    const running = new Promise<void>((resolve) => (began = resolve));
    let ended = false;
    const scheduler = new Scheduler({
      db,
      clock,
      logger: silentLogger(),
      timeZone: 'Europe/Berlin',
      jobs: [
        {
          name: 'long',
          cron: '0 3 * * *',
          // Runs until told to stop, as a first retention purge over millions of readings does.
          run: (_now, signal) =>
            new Promise((resolve) => {
              began();
              signal.addEventListener('abort', () => {
                ended = true;
                resolve({ interrupted: true });
              });
            }),
        },
      ],
    });
    scheduler.start();
    await running;
    await scheduler.stop();
    expect(ended).toBe(true);
    expect(db.raw.prepare('SELECT outcome, detail FROM schedule_runs').all()).toEqual([{ outcome: 'ok', detail: '{"interrupted":true}' }]);
    db.close();
  });

  it('records a failing job as failed and keeps going', async () => {
    const db = await openDatabase({ path: join(tmpDir(), 'sluice.db'), migrations: scheduleMigrations, logger: silentLogger() });
    const clock = new ManualClock(Date.parse('2026-03-29T04:00:00+02:00'));
    const scheduler = new Scheduler({
      db,
      clock,
      logger: silentLogger(),
      timeZone: 'Europe/Berlin',
      jobs: [
        {
          name: 'broken',
          cron: '0 * * * *',
          run: () => {
            throw new Error('boom');
          },
        },
      ],
    });
    await scheduler.tick();
    expect(scheduler.overview()[0]!.last).toMatchObject({ outcome: 'failed', detail: { error: 'boom' } });
    db.close();
  });
});
