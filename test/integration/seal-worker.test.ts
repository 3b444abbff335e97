import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it, vi } from 'vitest';
import { EventBus, ManualClock, openDatabase, silentLogger, type SluiceDatabase } from '../../src/core/index.js';
import { allMigrations } from '../../src/app/index.js';
import { HotStore, ReadingWriter, SealedReadings, StoreQueries, type ReadingWriterOptions } from '../../src/store/index.js';
import { ROOT } from '../helpers/gateway.js';
import { tmpDir } from '../helpers/tmp-dir.js';

// The thread runs the built module (a worker cannot load the TypeScript sources); `npm run build` first, as for every integration test.
const SCRIPT = pathToFileURL(join(ROOT, 'dist', 'src', 'store', 'seal-thread.js'));
const T0 = Date.UTC(2026, 0, 15, 10);
const spec = { temperature: { type: 'number' as const, unit: '°C', resolution: 0.01, counter: false, never_store: false } };
const SEAL_RECORDS = 5;

async function setup(sealWorker: NonNullable<ReadingWriterOptions['sealWorker']>) {
  const dir = tmpDir();
  const db = await openDatabase({ path: join(dir, 'h.db'), migrations: allMigrations, logger: silentLogger() });
  const store = HotStore.open(join(dir, 'hotlog'), { repair: true });
  const writer = new ReadingWriter({
    db,
    clock: new ManualClock(T0),
    logger: silentLogger(),
    events: new EventBus(),
    hot: { store, durability: 'interval', reason: 'test', fsyncInterval: 60_000, sealInterval: 3_600_000, sealRecords: SEAL_RECORDS },
    options: { batchInterval: 0, batchSize: 1, quarantineMaxEntries: 10, quarantineMaxBytes: 1 << 20, sealWorker: sealWorker === false ? false : { script: SCRIPT, ...sealWorker } },
  });
  writer.start();
  const submit = (i: number) =>
    writer.submit({ deviceId: 'thermo', readings: [{ component: '', metric: 'temperature', value: 20 + i / 100, ts: T0 + i * 1000, timeSource: 'device' }], specs: spec });
  const queries = new StoreQueries(db, store.head);
  return { dir, db, store, writer, submit, queries };
}

/** What `sluice db info` counts: sealed + unsealed, in one read snapshot. */
function counted(db: SluiceDatabase, store: HotStore): { sealed: number; unsealed: number } {
  return db.raw.transaction(() => ({ sealed: new SealedReadings(db.raw).totals().readings, unsealed: store.unsealedReadings(db) })).deferred();
}

function timestamps(queries: StoreQueries): number[] {
  return queries.readings({ deviceId: 'thermo' }).map((r) => r.ts);
}

const expected = (n: number) => Array.from({ length: n }, (_, i) => T0 + i * 1000);

function segments(dir: string): string[] {
  return readdirSync(join(dir, 'hotlog')).filter((n) => n.endsWith('.log'));
}

describe('seal worker (the head sealed off the event loop)', () => {
  it('a reading is visible exactly once before, during and after an off-thread seal, also between its commit and the event loop hearing of it', async () => {
    const gate = new Int32Array(new SharedArrayBuffer(4));
    let held!: () => void;
    const reached = new Promise<void>((resolve) => (held = resolve));
    const { db, store, writer, submit, queries } = await setup({ hold: gate.buffer as SharedArrayBuffer, onHeld: () => held() });
    for (let i = 0; i < SEAL_RECORDS - 1; i++) await submit(i);
    // Before: all in the head, none sealed.
    expect(timestamps(queries)).toEqual(expected(SEAL_RECORDS - 1));
    expect(counted(db, store)).toEqual({ sealed: 0, unsealed: SEAL_RECORDS - 1 });
    expect(store.sealing).toBe(false);
    // The thread starts only for a full head (a quiet home never pays its memory).
    const thread = () => (writer as unknown as { sealWorker?: unknown }).sealWorker;
    expect(thread()).toBeUndefined();

    await submit(SEAL_RECORDS - 1); // the head is full: the commit hands it to the worker
    expect(thread()).toBeDefined();
    await reached;
    // During: the worker wrote its transaction and waits at the commit; the frozen part is read.
    expect(store.sealing).toBe(true);
    await submit(SEAL_RECORDS); // appended meanwhile: live head
    expect(store.head.frozen?.size).toBe(SEAL_RECORDS);
    expect(store.head.liveSize).toBe(1);
    expect(timestamps(queries)).toEqual(expected(SEAL_RECORDS + 1));
    expect(queries.latest('thermo').map((r) => r.ts)).toEqual([T0 + SEAL_RECORDS * 1000]);
    expect(counted(db, store)).toEqual({ sealed: 0, unsealed: SEAL_RECORDS + 1 });

    // Committed, but the event loop has not run the answer yet (no await in this block): the
    // chunks and the frozen part both hold the readings; each is still counted once.
    Atomics.store(gate, 0, 1);
    Atomics.notify(gate, 0);
    const pause = new Int32Array(new SharedArrayBuffer(4));
    let spins = 0;
    while (new SealedReadings(db.raw).totals().readings === 0 && spins++ < 10_000) Atomics.wait(pause, 0, 0, 5);
    expect(new SealedReadings(db.raw).totals().readings).toBe(SEAL_RECORDS);
    expect(store.sealing).toBe(true);
    expect(store.head.frozen?.size).toBe(SEAL_RECORDS);
    expect(timestamps(queries)).toEqual(expected(SEAL_RECORDS + 1));
    expect(counted(db, store)).toEqual({ sealed: SEAL_RECORDS, unsealed: 1 });

    // After: the answer ran, the frozen part is gone, the sealed segments are dropped.
    await vi.waitFor(() => expect(store.sealing).toBe(false), { timeout: 30_000 });
    expect(store.head.frozen).toBeUndefined();
    expect(timestamps(queries)).toEqual(expected(SEAL_RECORDS + 1));
    expect(counted(db, store)).toEqual({ sealed: SEAL_RECORDS, unsealed: 1 });

    await writer.stop();
    expect(counted(db, store)).toEqual({ sealed: SEAL_RECORDS + 1, unsealed: 0 });
    expect(timestamps(queries)).toEqual(expected(SEAL_RECORDS + 1));
  }, 60_000);

  it('a synchronous seal (erase, backup, stop) waits for the seal in flight and leaves nothing unsealed', async () => {
    const { dir, db, store, writer, submit, queries } = await setup({});
    for (let i = 0; i < SEAL_RECORDS; i++) await submit(i);
    expect(store.sealing).toBe(true);
    await submit(SEAL_RECORDS);
    const result = writer.seal({ overwrite: true });
    expect(result).toMatchObject({ readings: SEAL_RECORDS + 1 });
    expect(store.sealing).toBe(false);
    expect(store.head.size).toBe(0);
    expect(counted(db, store)).toEqual({ sealed: SEAL_RECORDS + 1, unsealed: 0 });
    expect(timestamps(queries)).toEqual(expected(SEAL_RECORDS + 1));
    // Zero-filled and dropped: only the empty current segment is left.
    expect(segments(dir)).toHaveLength(1);
    await writer.stop();
  }, 60_000);

  it('a synchronous seal whose wait ends a seal in flight over a full head starts no other seal: nothing is left unsealed for the erase after it', async () => {
    const gate = new Int32Array(new SharedArrayBuffer(4));
    let held!: () => void;
    const reached = new Promise<void>((resolve) => (held = resolve));
    const { db, store, writer, submit, queries } = await setup({ hold: gate.buffer as SharedArrayBuffer, onHeld: () => held() });
    for (let i = 0; i < SEAL_RECORDS; i++) await submit(i);
    await reached;
    for (let i = SEAL_RECORDS; i < 2 * SEAL_RECORDS; i++) await submit(i); // the live head is full again
    expect(store.head.liveSize).toBe(SEAL_RECORDS);
    Atomics.store(gate, 0, 1);
    Atomics.notify(gate, 0);
    expect(writer.seal({ overwrite: true })).toMatchObject({ readings: 2 * SEAL_RECORDS });
    expect(store.sealing).toBe(false);
    expect(store.head.size).toBe(0);
    expect(counted(db, store)).toEqual({ sealed: 2 * SEAL_RECORDS, unsealed: 0 });
    expect(timestamps(queries)).toEqual(expected(2 * SEAL_RECORDS));
    await writer.stop();
  }, 60_000);

  it('a worker failure puts the readings back into the head and keeps their log segments; the next seal (on the event loop) seals them once', async () => {
    let failing = true;
    const { dir, db, store, writer, submit, queries } = await setup({ failing: () => failing });
    for (let i = 0; i < SEAL_RECORDS; i++) await submit(i);
    expect(store.sealing).toBe(true);
    const logged = segments(dir).length;
    await vi.waitFor(() => expect(store.sealing).toBe(false), { timeout: 30_000 });
    expect(store.head.frozen).toBeUndefined();
    expect(store.head.size).toBe(SEAL_RECORDS);
    expect(counted(db, store)).toEqual({ sealed: 0, unsealed: SEAL_RECORDS });
    expect(timestamps(queries)).toEqual(expected(SEAL_RECORDS));
    expect(segments(dir).length).toBe(logged); // rotated, not dropped

    // The log still holds them: a restart would replay them.
    expect(HotStore.open(join(dir, 'hotlog'), { repair: false }).replay.records).toHaveLength(SEAL_RECORDS);

    failing = false;
    await submit(SEAL_RECORDS); // the head is over the threshold: after a failure this seal runs on the event loop
    expect(store.sealing).toBe(false);
    expect(counted(db, store)).toEqual({ sealed: SEAL_RECORDS + 1, unsealed: 0 });
    expect(timestamps(queries)).toEqual(expected(SEAL_RECORDS + 1));
    for (let i = SEAL_RECORDS + 1; i < 2 * SEAL_RECORDS + 1; i++) await submit(i); // and back on the worker
    expect(store.sealing).toBe(true);
    await writer.stop();
    expect(counted(db, store)).toEqual({ sealed: 2 * SEAL_RECORDS + 1, unsealed: 0 });
    expect(timestamps(queries)).toEqual(expected(2 * SEAL_RECORDS + 1));
  }, 60_000);

  it('the thread ends once no burst needed it for idleMs, and the next full head starts another that seals as well', async () => {
    const { db, store, writer, submit, queries } = await setup({ idleMs: 50 });
    const thread = () => (writer as unknown as { sealWorker?: { broken: boolean } }).sealWorker;
    for (let i = 0; i < SEAL_RECORDS; i++) await submit(i);
    const first = thread();
    expect(first).toBeDefined();
    await vi.waitFor(() => expect(store.sealing).toBe(false), { timeout: 30_000 });
    expect(counted(db, store)).toEqual({ sealed: SEAL_RECORDS, unsealed: 0 });
    // Idle: the writer lets go of the thread and the thread exits (terminate() ends it: broken).
    await vi.waitFor(() => expect(thread()).toBeUndefined(), { timeout: 30_000 });
    await vi.waitFor(() => expect(first!.broken).toBe(true), { timeout: 30_000 });

    for (let i = SEAL_RECORDS; i < 2 * SEAL_RECORDS; i++) await submit(i);
    const second = thread();
    expect(second).toBeDefined();
    expect(second).not.toBe(first);
    await vi.waitFor(() => expect(store.sealing).toBe(false), { timeout: 30_000 });
    expect(counted(db, store)).toEqual({ sealed: 2 * SEAL_RECORDS, unsealed: 0 });
    expect(timestamps(queries)).toEqual(expected(2 * SEAL_RECORDS));
    await writer.stop();
  }, 60_000);
});
