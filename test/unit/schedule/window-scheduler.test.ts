import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/core/index.js';
import { lastClosedWindow } from '../../../src/policy/index.js';
import { WindowScheduler, dueWindows, type WindowJob, type TimeWindow } from '../../../src/schedule/index.js';
import { ledgerFixture } from '../../helpers/sharing-db.js';

const TZ = 'Europe/Berlin';

describe('WindowScheduler', () => {
  it('runs each due window once, records it with the effect, catches up after a restart and retries a failed run', async () => {
    const { db, clock } = await ledgerFixture(Date.parse('2026-11-20T12:00:00Z'));
    db.raw.exec('CREATE TABLE effects (job TEXT, start INTEGER)');
    const since = clock.now();
    let failing = true;
    const job = (name: string): WindowJob => ({
      name,
      wake: { cron: '0 3 * * *', timezone: TZ },
      dueWindows: (now, ran) => dueWindows({ now, cron: '0 3 * * *', timezone: TZ, since, windowAt: (t) => lastClosedWindow(t, '1d', TZ), ran, maxWindows: 31 }),
      run: ({ window, markRun }: { window: TimeWindow; markRun: () => void }) => {
        if (name === 'flaky' && failing) throw new Error('vendor down');
        db.tx(() => {
          db.raw.prepare('INSERT INTO effects VALUES (?, ?)').run(name, window.start);
          markRun();
        });
      },
    });
    const jobs = [job('steady'), job('flaky')];
    const make = () => new WindowScheduler({ db, clock, logger: silentLogger(), jobs: () => jobs, options: { tickInterval: 3_600_000 } });
    const count = (name: string) => (db.raw.prepare('SELECT COUNT(*) AS n FROM effects WHERE job = ?').get(name) as { n: number }).n;

    clock.set(Date.parse('2026-11-23T09:00:00Z')); // three 03:00 runs were missed while "down"
    const first = make();
    first.start();
    await first.tick();
    expect(count('steady')).toBe(3);
    expect(count('flaky')).toBe(0); // failed runs are not recorded, so they are due again
    expect(first.records.list('flaky')).toHaveLength(0);
    failing = false;
    await first.tick();
    expect(count('steady')).toBe(3);
    expect(count('flaky')).toBe(3);
    await first.stop();

    const second = make(); // a restart: the records, not timers, say what ran
    second.start();
    await second.tick();
    expect(count('steady')).toBe(3);
    expect(second.records.list('steady')).toHaveLength(3);
    await second.stop();
    db.close();
  });
});
