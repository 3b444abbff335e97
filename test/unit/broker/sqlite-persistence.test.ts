import assert from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, it } from 'vitest';
import { SqlitePersistence } from '../../../src/broker/index.js';
import { openDatabase, silentLogger, type SluiceDatabase } from '../../../src/core/index.js';
import { allMigrations } from '../../../src/app/index.js';

const require = createRequire(import.meta.url);
const abstractSuite = require('aedes-persistence/abstract.js') as (opts: { test: unknown; persistence: () => Promise<unknown>; testAsync: boolean }) => void;

const dir = mkdtempSync(join(tmpdir(), 'sluice-persist-'));
const dbs: SluiceDatabase[] = [];
let n = 0;
afterAll(() => {
  for (const db of dbs) db.close();
  rmSync(dir, { recursive: true, force: true });
});

/** node:test's context, as the abstract suite uses it, on top of vitest. */
interface NodeTestContext {
  assert: typeof assert;
  diagnostic(msg: string): void;
  plan(n: number): void;
}

describe('aedes-persistence abstract suite on SqlitePersistence', () => {
  abstractSuite({
    test: (name: string, fn: (t: NodeTestContext) => Promise<void>) => it(name, () => fn({ assert, diagnostic: () => {}, plan: () => {} })),
    testAsync: true,
    persistence: async () => {
      const db = await openDatabase({ path: join(dir, `p${n++}.db`), migrations: allMigrations, logger: silentLogger() });
      dbs.push(db);
      return new SqlitePersistence({ db, limits: { maxRetained: 1000, maxRetainedBytes: 1 << 20, maxQueuedPerSession: 1000 } });
    },
  });
});

describe('SqlitePersistence across a restart', () => {
  const limits = { maxRetained: 2, maxRetainedBytes: 1 << 20, maxQueuedPerSession: 2 };
  const broker = (id: string) => ({ id, counter: 0, mq: { on() {}, emit() {}, removeListener() {} }, publish() {}, subscribe() {}, unsubscribe() {} });
  const drain = async (stream: AsyncIterable<unknown>) => {
    const out: Array<Record<string, unknown>> = [];
    for await (const p of stream) out.push(p as Record<string, unknown>);
    return out;
  };

  it('reloads retained messages, subscriptions, queued packets with their ids, and wills; applies the caps', async () => {
    const path = join(dir, `restart${n++}.db`);
    let db = await openDatabase({ path, migrations: allMigrations, logger: silentLogger() });
    let p = new SqlitePersistence({ db, limits });
    await p.setup(broker('b1'));
    await p.storeRetained({ cmd: 'publish', topic: 'sluice/a/status', payload: Buffer.from('online'), qos: 1, retain: true });
    await p.storeRetained({ cmd: 'publish', topic: 'zigbee2mqtt/bridge/devices', payload: Buffer.from('[]'), qos: 0, retain: true });
    await p.storeRetained({ cmd: 'publish', topic: 'third', payload: Buffer.from('x'), qos: 0, retain: true }); // over the cap
    await p.addSubscriptions({ id: 'tool' }, [{ topic: 'sluice/+/status', qos: 1 }]);
    const q1 = { cmd: 'publish', topic: 'sluice/a/status', payload: Buffer.from('offline'), qos: 1, retain: false, dup: false, brokerId: 'b1', brokerCounter: 7 };
    await p.outgoingEnqueueCombi([{ clientId: 'tool' }], q1);
    await p.outgoingUpdate({ id: 'tool' }, { ...q1, messageId: 42 });
    await p.outgoingEnqueueCombi([{ clientId: 'tool' }], { ...q1, brokerCounter: 8 });
    await p.outgoingEnqueueCombi([{ clientId: 'tool' }], { ...q1, brokerCounter: 9 }); // over the per-session cap: 7 goes
    await p.putWill({ id: 'dev' }, { cmd: 'publish', topic: 'sluice/dev/status', payload: Buffer.from('offline'), qos: 1, retain: true });
    await p.destroy();
    db.close();

    db = await openDatabase({ path, migrations: allMigrations, logger: silentLogger() });
    dbs.push(db);
    p = new SqlitePersistence({ db, limits });
    await p.setup(broker('b2'));
    const retained = await drain(p.createRetainedStream('#'));
    assert.deepStrictEqual(retained.map((r) => [r.topic, String(r.payload)]), [
      ['sluice/a/status', 'online'],
      ['zigbee2mqtt/bridge/devices', '[]'],
    ]);
    assert.deepStrictEqual((await p.subscriptionsByClient({ id: 'tool' })).map((s) => [s.topic, s.qos]), [['sluice/+/status', 1]]);
    const queued = await drain(p.outgoingStream({ id: 'tool' }));
    // [issue 6] the cap drops a session's oldest queued messages, on disk as in memory.
    assert.deepStrictEqual(queued.map((q) => [q.brokerCounter, q.messageId, String(q.payload)]), [
      [8, undefined, 'offline'],
      [9, undefined, 'offline'],
    ]);
    // A packet id given before the restart survives it: a PUBACK then clears it, in memory and on disk.
    await p.outgoingUpdate({ id: 'tool' }, { ...q1, brokerCounter: 8, messageId: 43 });
    await p.destroy();
    db.close();
    db = await openDatabase({ path, migrations: allMigrations, logger: silentLogger() });
    dbs.push(db);
    p = new SqlitePersistence({ db, limits });
    await p.setup(broker('b2'));
    assert.deepStrictEqual((await drain(p.outgoingStream({ id: 'tool' }))).map((q) => [q.brokerCounter, q.messageId]), [
      [8, 43],
      [9, undefined],
    ]);
    await p.outgoingClearMessageId({ id: 'tool' }, { cmd: 'puback', messageId: 43 });
    assert.strictEqual(db.raw.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM broker_outgoing').get()!.n, 1);
    const wills = await drain(p.streamWill({ b2: Date.now() }));
    assert.deepStrictEqual(wills.map((w) => [w.clientId, w.brokerId]), [['dev', 'b1']]);
  });
});
