import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DB_FILE, EventBus, openDatabase, silentLogger, systemClock } from '../../src/core/index.js';
import type { MetricSpec } from '../../src/devices/index.js';
import { allMigrations } from '../../src/gateway/index.js';
import { ReadingWriter } from '../../src/store/index.js';
import { tmpDir } from '../helpers/tmp-dir.js';

const specs = { temperature: { type: 'number', unit: '°C', resolution: 0.01, counter: false, never_store: false } } as unknown as Record<string, MetricSpec>;

// A lone message is committed at once; only messages arriving right after a commit wait for
// the batch interval (that is where batching pays). Intervals are long so a busy machine
// cannot blur the two cases.
describe('ReadingWriter commit timing', () => {
  it('commits a message that arrives while idle without waiting for the batch interval', async () => {
    const db = await openDatabase({ path: join(tmpDir(), DB_FILE), migrations: allMigrations, logger: silentLogger() });
    const interval = 2000;
    const writer = new ReadingWriter({
      db,
      clock: systemClock,
      logger: silentLogger(),
      events: new EventBus(),
      options: { batchInterval: interval, batchSize: 500, quarantineMaxEntries: 10, quarantineMaxBytes: 4096 },
    });
    writer.start();
    let ts = Date.UTC(2026, 0, 1);
    const submit = async () => {
      const t0 = Date.now();
      await writer.submit({ deviceId: 'd1', specs, readings: [{ metric: 'temperature', component: '', value: 21, ts: ts++, timeSource: 'device' }] });
      return Date.now() - t0;
    };
    expect(await submit()).toBeLessThan(interval / 2);
    // Right after a commit: this one waits to be batched with whatever comes next.
    expect(await submit()).toBeGreaterThanOrEqual(interval * 0.9);
    await writer.stop();
    db.close();
  });
});
