import { copyFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EventBus, ManualClock, openDatabase, silentLogger } from '../../../src/core/index.js';
import { allMigrations } from '../../../src/app/index.js';
import { HotStore, ReadingWriter, SealedReadings, StoreQueries, type HotPath } from '../../../src/store/index.js';
import { tmpDir } from '../../helpers/tmp-dir.js';

const T0 = Date.UTC(2026, 0, 15, 10);
const spec = { temperature: { type: 'number' as const, unit: '°C', resolution: 0.01, counter: false, never_store: false } };

async function setup(durability: HotPath['durability'] = 'interval', afterCommit?: (readings: number) => void) {
  const dir = tmpDir();
  const db = await openDatabase({ path: join(dir, 'h.db'), migrations: allMigrations, logger: silentLogger() });
  const store = HotStore.open(join(dir, 'hotlog'), { repair: true });
  const writer = new ReadingWriter({
    db,
    clock: new ManualClock(T0),
    logger: silentLogger(),
    events: new EventBus(),
    hot: { store, durability, reason: 'test', fsyncInterval: 60_000, sealInterval: 3_600_000, sealRecords: 1_000_000 },
    options: { batchInterval: 0, batchSize: 1, quarantineMaxEntries: 10, quarantineMaxBytes: 1 << 20, ...(afterCommit ? { afterCommit } : {}) },
  });
  writer.start();
  const submit = (ts: number, value: number, delivery?: { clientId: string; packetId: number }) =>
    writer.submit({
      deviceId: 'thermo',
      readings: [{ component: '', metric: 'temperature', value, ts, timeSource: delivery ? 'gateway' : 'device' }],
      specs: spec,
      ...(delivery ? { delivery: { ...delivery, payloadHash: Buffer.from('0123456789abcdef'), ts } } : {}),
    });
  // Sealed readings in either layout (chunks since store v3).
  const rows = () => new SealedReadings(db.raw).totals().readings;
  return { dir, db, store, writer, submit, rows, queries: new StoreQueries(db, store.head) };
}

describe('hot store', () => {
  it('acknowledges from the log: nothing reaches the readings table until a seal, queries see both', async () => {
    const { writer, submit, rows, queries, store } = await setup();
    await submit(T0, 20.5);
    await submit(T0 + 1000, 20.75);
    expect(rows()).toBe(0);
    expect(store.head.size).toBe(2);
    expect(queries.readings({ deviceId: 'thermo' }).map((r) => r.value)).toEqual([20.5, 20.75]);
    expect(writer.seal()).toMatchObject({ readings: 2 });
    expect(rows()).toBe(2);
    expect(store.head.size).toBe(0);
    await submit(T0 + 2000, 21);
    expect(queries.readings({ deviceId: 'thermo' }).map((r) => r.value)).toEqual([20.5, 20.75, 21]);
    expect(queries.readings({ deviceId: 'thermo', limit: 2 }).map((r) => r.value)).toEqual([20.5, 20.75]);
    expect(queries.latest('thermo').map((r) => r.value)).toEqual([21]);
    await writer.stop();
  });

  it('commits a quiet message on this turn of the event loop (setImmediate, not a 1 ms timer), and what is submitted in the same turn shares that commit', async () => {
    const commits: number[] = [];
    const { writer, submit } = await setup('interval', (n) => commits.push(n));
    await submit(T0, 20); // the new series is written once; later commits only append to the log
    await new Promise((resolve) => setImmediate(resolve)); // and that commit has wound up
    commits.length = 0;
    let acked = 0;
    for (let i = 1; i <= 3; i++) void submit(T0 + i * 1000, 20 + i).then(() => acked++);
    // An immediate queued after the submits runs after the writer's (and its promise jobs).
    await new Promise((resolve) => setImmediate(resolve));
    expect(acked).toBe(3);
    expect(commits).toEqual([3]);
    await writer.stop();
  });

  it('a crash between the seal commit and the segment drop replays those readings; the next seal keeps one row each', async () => {
    const { dir, db, writer, submit, rows } = await setup();
    await submit(T0, 20.5);
    await submit(T0 + 1000, 20.75, { clientId: 'c', packetId: 7 });
    const logDir = join(dir, 'hotlog');
    const saved = readdirSync(logDir).map((n) => [n, join(dir, `${n}.saved`)] as const);
    for (const [n, copy] of saved) copyFileSync(join(logDir, n), copy);
    writer.seal();
    expect(rows()).toBe(2);
    // The drop "did not happen": the sealed segment is back, as after a power cut at that moment.
    for (const [n, copy] of saved) copyFileSync(copy, join(logDir, n));
    const again = HotStore.open(logDir, { repair: true });
    expect(again.head.size).toBe(2);
    expect(again.head.delivery('c', 7)).toMatchObject({ ts: T0 + 1000 });
    const queries = new StoreQueries(db, again.head);
    expect(queries.readings({ deviceId: 'thermo' }).map((r) => r.value)).toEqual([20.5, 20.75]);
    again.seal(db);
    expect(rows()).toBe(2);
    expect(queries.readings({ deviceId: 'thermo' }).map((r) => [r.value, r.timeSource])).toEqual([
      [20.5, 'device'],
      [20.75, 'gateway'],
    ]);
    expect(db.raw.prepare('SELECT ts FROM deliveries WHERE client_id = ? AND packet_id = ?').get('c', 7)).toEqual({ ts: T0 + 1000 });
    again.close();
  });

  it('remembers a gateway-stamped delivery from the log, so a redelivery gets the same ts', async () => {
    const { writer, submit } = await setup('fsync');
    await submit(T0 + 5, 20.5, { clientId: 'c', packetId: 9 });
    expect(writer.storedDelivery('c', 9)).toMatchObject({ ts: T0 + 5 });
    writer.seal();
    expect(writer.storedDelivery('c', 9)).toMatchObject({ ts: T0 + 5 });
    await writer.stop();
  });

  it('erase seals with zero-fill: no segment but an empty current one is left', async () => {
    const { dir, writer, submit } = await setup();
    await submit(T0, 20.5);
    writer.seal({ overwrite: true });
    const logDir = join(dir, 'hotlog');
    expect(readdirSync(logDir)).toHaveLength(1);
    expect(HotStore.open(logDir, { repair: false }).head.size).toBe(0);
    await writer.stop();
  });
});
