import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DB_FILE, EventBus, openDatabase, silentLogger, systemClock } from '../../src/core/index.js';
import type { MetricSpec } from '../../src/devices/index.js';
import { allMigrations } from '../../src/app/index.js';
import { ReadingWriter } from '../../src/store/index.js';
import { tmpDir } from '../helpers/tmp-dir.js';

const specs = { temperature: { type: 'number', unit: '°C', resolution: 0.01, counter: false, never_store: false } } as unknown as Record<string, MetricSpec>;

// A household's lone message is committed at once; only right after a big commit (under load)
// does a message wait for the batch interval. Intervals are long so a busy machine
// cannot blur the two cases.
describe('ReadingWriter commit timing', () => {
  it('commits at once unless the last commit was big and recent', async () => {
    const db = await openDatabase({ path: join(tmpDir(), DB_FILE), migrations: allMigrations, logger: silentLogger() });
    const interval = 2000;
    const writer = new ReadingWriter({
      db,
      clock: systemClock,
      logger: silentLogger(),
      events: new EventBus(),
      options: { batchInterval: interval, batchSize: 40, quarantineMaxEntries: 10, quarantineMaxBytes: 4096 },
    });
    writer.start();
    let ts = Date.UTC(2026, 0, 1);
    const submit = async (readings: number) => {
      const t0 = Date.now();
      await writer.submit({
        deviceId: 'd1',
        specs,
        readings: Array.from({ length: readings }, () => ({ metric: 'temperature', component: '', value: 21, ts: ts++, timeSource: 'device' as const })),
      });
      return Date.now() - t0;
    };
    // After small commits: at once.
    expect(await submit(1)).toBeLessThan(interval / 2);
    expect(await submit(1)).toBeLessThan(interval / 2);
    // A big one (a quarter of batch_size or more) is still committed at once…
    expect(await submit(12)).toBeLessThan(interval / 2);
    // …but right after it the writer is under load: the next message waits to be batched.
    expect(await submit(1)).toBeGreaterThanOrEqual(interval * 0.9);
    await writer.stop();
    db.close();
  });
});

describe('ReadingWriter with idleCommit false', () => {
  it('always waits the batch interval (fewer commits, e.g. for an SD card)', async () => {
    const db = await openDatabase({ path: join(tmpDir(), DB_FILE), migrations: allMigrations, logger: silentLogger() });
    const interval = 1000;
    const writer = new ReadingWriter({
      db,
      clock: systemClock,
      logger: silentLogger(),
      events: new EventBus(),
      options: { batchInterval: interval, batchSize: 40, idleCommit: false, quarantineMaxEntries: 10, quarantineMaxBytes: 4096 },
    });
    writer.start();
    const t0 = Date.now();
    await writer.submit({ deviceId: 'd1', specs, readings: [{ metric: 'temperature', component: '', value: 21, ts: Date.UTC(2026, 0, 1), timeSource: 'device' }] });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(interval * 0.9);
    await writer.stop();
    db.close();
  });
});
