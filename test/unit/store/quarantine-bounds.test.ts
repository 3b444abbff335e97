import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EventBus, ManualClock, openDatabase, silentLogger } from '../../../src/core/index.js';
import { allMigrations } from '../../../src/app/index.js';
import { ReadingWriter, StoreQueries } from '../../../src/store/index.js';
import { tmpDir } from '../../helpers/tmp-dir.js';

async function setup(maxEntries: number, maxBytes: number) {
  const db = await openDatabase({ path: join(tmpDir(), 'q.db'), migrations: allMigrations, logger: silentLogger() });
  const writer = new ReadingWriter({
    db,
    clock: new ManualClock(0),
    logger: silentLogger(),
    events: new EventBus(),
    options: { batchInterval: 0, batchSize: 1, quarantineMaxEntries: maxEntries, quarantineMaxBytes: maxBytes },
  });
  writer.start();
  const add = (n: number, payload: Buffer) =>
    writer.submit({
      deviceId: 'd',
      readings: [],
      specs: {},
      quarantine: { deviceId: 'd', clientId: 'c', topic: 't', reason: 'not_json', message: `m${n}`, payload, receivedAt: n },
    });
  return { db, writer, add, queries: new StoreQueries(db) };
}

describe('quarantine bounds', () => {
  it('drops the oldest beyond the entry cap and counts the drops', async () => {
    const { add, queries, db, writer } = await setup(3, 1 << 20);
    for (let i = 1; i <= 5; i++) await add(i, Buffer.from(`p${i}`));
    expect(queries.quarantine().map((q) => q.receivedAt)).toEqual([5, 4, 3]);
    expect(queries.counter('quarantine_dropped')).toBe(2);
    await writer.stop();
    db.close();
  });

  it('keeps at most 256 bytes of a payload and drops the oldest beyond the byte cap', async () => {
    const { add, queries, db, writer } = await setup(100, 1024);
    for (let i = 1; i <= 6; i++) await add(i, Buffer.alloc(1000, 0x61));
    const rows = queries.quarantine();
    expect(rows.every((r) => r.payloadHead.length === 256 && r.payloadBytes === 1000)).toBe(true);
    // 256 + "mN" + "t" = 259 bytes each: three fit in 1024.
    expect(rows.map((r) => r.receivedAt)).toEqual([6, 5, 4]);
    expect(queries.counter('quarantine_dropped')).toBe(3);
    await writer.stop();
    db.close();
  });

  it('counts the entries already on disk when it starts', async () => {
    const first = await setup(2, 1 << 20);
    await first.add(1, Buffer.from('a'));
    await first.add(2, Buffer.from('b'));
    const path = first.db.path;
    await first.writer.stop();
    first.db.close();
    const db = await openDatabase({ path, migrations: allMigrations, logger: silentLogger() });
    const writer = new ReadingWriter({ db, clock: new ManualClock(0), logger: silentLogger(), events: new EventBus(), options: { batchInterval: 0, batchSize: 1, quarantineMaxEntries: 2, quarantineMaxBytes: 1 << 20 } });
    writer.start();
    await writer.submit({ deviceId: 'd', readings: [], specs: {}, quarantine: { deviceId: 'd', clientId: 'c', topic: 't', reason: 'x', message: 'm', payload: Buffer.from('c'), receivedAt: 3 } });
    expect(new StoreQueries(db).quarantine().map((q) => q.receivedAt)).toEqual([3, 2]);
    await writer.stop();
    db.close();
  });
});
