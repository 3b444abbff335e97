import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { allMigrations } from '../../../src/app/index.js';
import { EventBus, ManualClock, openDatabase, silentLogger } from '../../../src/core/index.js';
import type { MetricSpec } from '../../../src/devices/index.js';
import { ReadingWriter, StoreMaintenance, StoreQueries, eraseScope, yieldToEventLoop } from '../../../src/store/index.js';
import { tmpDir } from '../../helpers/tmp-dir.js';

const temperature: MetricSpec = { type: 'number', unit: '°C', min: -40, max: 80, resolution: 0.01 } as MetricSpec;

describe("the writer follows the store's purges through the event bus", () => {
  it('after an erase announced as store.purged, a reading of the erased series is stored under a new series', async () => {
    const clock = new ManualClock(Date.parse('2026-11-23T12:00:00Z'));
    const db = await openDatabase({ path: join(tmpDir(), 'p.db'), migrations: allMigrations, logger: silentLogger() });
    const events = new EventBus();
    const writer = new ReadingWriter({ db, clock, logger: silentLogger(), events, options: { batchInterval: 0, batchSize: 1, quarantineMaxEntries: 100, quarantineMaxBytes: 1 << 20 } });
    writer.start();
    const write = (ts: number, value: number) =>
      writer.submit({ deviceId: 'thermo', specs: { temperature }, readings: [{ metric: 'temperature', component: '', value, ts, timeSource: 'device' }] });
    const stored = () => new StoreQueries(db).readings({ deviceId: 'thermo', since: 0, limit: 10 }).map((r) => r.value);

    await write(clock.now(), 21);
    await eraseScope(db, { deviceId: 'thermo' }, { batchSize: 100, pause: yieldToEventLoop });
    events.emit('store.purged', { by: 'erase' });
    await write(clock.now() + 1000, 22);
    // A writer that kept the erased series id would write the reading under a series that no longer exists.
    expect(stored()).toEqual([22]);
    await writer.stop();
    db.close();
  });

  it('a retention run announces store.purged', async () => {
    const db = await openDatabase({ path: join(tmpDir(), 'r.db'), migrations: allMigrations, logger: silentLogger() });
    const events = new EventBus();
    const heard: string[] = [];
    events.on('store.purged', heard, (e) => heard.push(e.by));
    const maintenance = new StoreMaintenance({
      db,
      events,
      specOf: () => undefined,
      settings: { rawDays: 7, rollupDays: 365, overrides: [], batchSize: 100, recheck: 2, hold: 7_200_000, timeZone: 'Europe/Berlin', walAutocheckpoint: 1000 },
    });
    await maintenance.retention(Date.parse('2026-11-23T12:00:00Z'));
    expect(heard).toEqual(['retention']);
    db.close();
  });
});
