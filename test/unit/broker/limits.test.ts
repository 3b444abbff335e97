import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { canSubscribe } from '../../../src/broker/acl.js';
import { AuthBackoff } from '../../../src/broker/auth-backoff.js';
import { BoundedPersistence, type AedesPersistence } from '../../../src/broker/bounded-persistence.js';
import { containFailures, FAULT_EXIT_CODE } from '../../../src/broker/containment.js';
import { LimitCounters } from '../../../src/broker/limit-counters.js';
import { TokenBucket } from '../../../src/broker/token-bucket.js';
import type { DeviceRecord } from '../../../src/devices/index.js';

function memoryLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'debug', base: undefined }, new Writable({ write(chunk, _e, cb) { lines.push(JSON.parse(String(chunk)) as Record<string, unknown>); cb(); } }));
  return { logger, lines };
}

describe('limit counters', () => {
  it('count every hit and log only the first', () => {
    const { logger, lines } = memoryLogger();
    const counters = new LimitCounters(logger);
    counters.hit('slow_consumer', { remoteAddress: '127.0.0.9' });
    counters.hit('slow_consumer');
    counters.hit('offline_queue_dropped', {}, 5);
    expect(counters.get('slow_consumer')).toBe(2);
    expect(counters.snapshot().offline_queue_dropped).toBe(5);
    expect(lines.map((l) => l.limit)).toEqual(['slow_consumer', 'offline_queue_dropped']);
  });
});

describe('token bucket', () => {
  it('allows the burst, then the rate', () => {
    const bucket = new TokenBucket(10, 3, 0);
    expect([1, 2, 3, 4].map(() => bucket.tryTake(0))).toEqual([true, true, true, false]);
    expect(bucket.waitMs(0)).toBe(100);
    expect(bucket.tryTake(100)).toBe(true);
    expect(bucket.tryTake(100)).toBe(false);
  });

  it('takes a new rate and burst once the role is known', () => {
    const bucket = new TokenBucket(1, 1, 0);
    expect(bucket.tryTake(0)).toBe(true);
    bucket.reconfigure(1000, 10, 0);
    expect(bucket.tryTake(0)).toBe(false);
    expect(bucket.tryTake(1)).toBe(true);
    expect([...Array(20)].filter(() => bucket.tryTake(1000)).length).toBe(10);
  });
});

describe('authentication backoff', () => {
  const options = { freeFailures: 2, baseDelay: 1000, maxDelay: 8000, maxEntries: 3 };

  it('blocks an (address, username) pair after the free failures, doubling up to the cap', () => {
    const b = new AuthBackoff(options);
    b.failed('10.0.0.1', 'lamp', 0);
    b.failed('10.0.0.1', 'lamp', 0);
    expect(b.blockedFor('10.0.0.1', 'lamp', 0)).toBe(0);
    b.failed('10.0.0.1', 'lamp', 0);
    expect(b.blockedFor('10.0.0.1', 'lamp', 0)).toBe(1000);
    b.failed('10.0.0.1', 'lamp', 1000);
    expect(b.blockedFor('10.0.0.1', 'lamp', 1000)).toBe(2000);
    for (let i = 0; i < 10; i++) b.failed('10.0.0.1', 'lamp', 1000);
    expect(b.blockedFor('10.0.0.1', 'lamp', 1000)).toBe(8000);
  });

  it('does not lock out the same username elsewhere, nor other usernames', () => {
    const b = new AuthBackoff(options);
    for (let i = 0; i < 5; i++) b.failed('10.0.0.1', 'lamp', 0);
    expect(b.blockedFor('10.0.0.2', 'lamp', 0)).toBe(0);
    expect(b.blockedFor('10.0.0.1', 'fridge', 0)).toBe(0);
  });

  it('forgets on success and keeps at most maxEntries pairs', () => {
    const b = new AuthBackoff(options);
    for (let i = 0; i < 5; i++) b.failed('a', 'u', 0);
    b.succeeded('a', 'u');
    expect(b.blockedFor('a', 'u', 0)).toBe(0);
    for (const u of ['1', '2', '3', '4']) b.failed('a', u, 0);
    expect(b.size).toBe(3);
  });
});

describe('bounded persistence', () => {
  function inner(): AedesPersistence & { cleaned: string[] } {
    const cleaned: string[] = [];
    return { cleaned, setup: async () => undefined, cleanSubscriptions: async (c: { id: string }) => void cleaned.push(c.id), other: () => 'forwarded' };
  }

  it('drops the oldest queued messages of a session beyond the cap and counts them', async () => {
    const drops: Array<[string, number]> = [];
    const bounded = new BoundedPersistence(inner(), { maxQueuedPerSession: 3, onDrop: (id, n) => drops.push([id, n]) });
    const p = bounded.asAedesPersistence() as unknown as BoundedPersistence;
    for (let i = 0; i < 5; i++) await p.outgoingEnqueueCombi([{ clientId: 'a' }, { clientId: 'b' }], { topic: 't', payload: String(i), brokerId: 'x', brokerCounter: i });
    expect(bounded.queued('a')).toBe(3);
    expect(drops).toEqual([['a', 1], ['b', 1], ['a', 1], ['b', 1]]);
    const kept: unknown[] = [];
    for await (const packet of p.outgoingStream({ id: 'a' })) kept.push((packet as { payload: string }).payload);
    expect(kept).toEqual(['2', '3', '4']);
  });

  it('refuses new messages once all sessions together hold max_queued_total, and takes them again after a clear', async () => {
    const drops: Array<[string, number]> = [];
    const bounded = new BoundedPersistence(inner(), { maxQueuedPerSession: 10, maxQueuedTotal: 4, onDrop: (id, n) => drops.push([id, n]) });
    const p = bounded.asAedesPersistence() as unknown as BoundedPersistence;
    for (let i = 0; i < 3; i++) await p.outgoingEnqueueCombi([{ clientId: 'a' }, { clientId: 'b' }], { topic: 't', payload: String(i), brokerId: 'x', brokerCounter: i });
    expect([bounded.queued('a'), bounded.queued('b'), bounded.totalQueued()]).toEqual([2, 2, 4]);
    expect(drops).toEqual([['a', 1], ['b', 1]]);
    await bounded.dropSession('a');
    expect(bounded.totalQueued()).toBe(2);
    await p.outgoingEnqueue({ clientId: 'c' }, { topic: 't', payload: 'late', brokerId: 'x', brokerCounter: 9 });
    expect(bounded.queued('c')).toBe(1);
  });

  it('updates and clears by message id like the in-memory persistence, and forwards the rest', async () => {
    const base = inner();
    const bounded = new BoundedPersistence(base, { maxQueuedPerSession: 10, onDrop: () => undefined });
    const p = bounded.asAedesPersistence() as unknown as BoundedPersistence & { other(): string };
    await p.outgoingEnqueue({ clientId: 'a' }, { topic: 't', brokerId: 'x', brokerCounter: 1 });
    await p.outgoingUpdate({ id: 'a' }, { topic: 't', brokerId: 'x', brokerCounter: 1, messageId: 42 });
    expect(await p.outgoingClearMessageId({ id: 'a' }, { messageId: 42 })).toMatchObject({ brokerCounter: 1 });
    expect(bounded.queued('a')).toBe(0);
    // A packet the cap dropped in flight is sent once rather than failing the client.
    await expect(p.outgoingUpdate({ id: 'a' }, { brokerId: 'x', brokerCounter: 9, messageId: 1 })).resolves.toBeUndefined();
    expect(p.other()).toBe('forwarded');
    await bounded.dropSession('a');
    expect(base.cleaned).toEqual(['a']);
  });
});

describe('failure containment', () => {
  it('logs an uncaught exception with context and exits non-zero', () => {
    const { logger, lines } = memoryLogger();
    const exits: number[] = [];
    const release = containFailures(logger, (code) => exits.push(code));
    try {
      (process.emit as (event: string, ...args: unknown[]) => boolean)('uncaughtException', new Error('boom'), 'uncaughtException');
      process.emit('unhandledRejection', 'nope', Promise.resolve());
    } finally {
      release();
    }
    expect(exits).toEqual([FAULT_EXIT_CODE, FAULT_EXIT_CODE]);
    expect(lines[0]).toMatchObject({ level: 60, origin: 'uncaughtException', err: { message: 'boom' } });
    expect(lines[1]).toMatchObject({ origin: 'unhandledRejection', err: { message: 'nope' } });
  });
});

describe('$SYS', () => {
  const record = (role: DeviceRecord['role'], baseTopic: string | null = null) => ({ id: 'x', role, baseTopic }) as DeviceRecord;
  it('is readable by the household only', () => {
    expect(canSubscribe(record('household'), '$SYS/#')).toBe(true);
    expect(canSubscribe(record('device'), '$SYS/#')).toBe(false);
    expect(canSubscribe(record('bridge', '$SYS'), '$SYS/#')).toBe(false);
    expect(canSubscribe(record('bridge', 'zigbee2mqtt'), 'zigbee2mqtt/#')).toBe(true);
  });
});
