import { PassThrough } from 'node:stream';
import type { Client } from 'aedes';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Admission, AuthGate, PublishLimits, RefusedInput, SessionExpiry, SubscriptionLimits } from '../../../src/broker/guards/index.js';
import { LimitCounters } from '../../../src/broker/limit-counters.js';
import { RetainedIndex } from '../../../src/broker/retained-index.js';
import { TokenBucket } from '../../../src/broker/token-bucket.js';

const silent = pino({ level: 'silent' });

function fakeClock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

const clientOn = (conn: object, id = 'c1', subscriptions: Record<string, unknown> = {}) => ({ id, conn, subscriptions }) as unknown as Client;

describe('admission', () => {
  const limits = { maxConnections: 3, maxConnectionsPerAddress: 2, maxPacketBytes: 1024, maxOutboundBufferBytes: 1 << 20 };

  it('caps connections per address and overall, and releases them on close', async () => {
    const clock = fakeClock();
    const counters = new LimitCounters(silent);
    const admission = new Admission({ limits, clock, counters, publishBudget: () => new TokenBucket(1, 2, clock.now()) });
    const a1 = admission.admit(new PassThrough(), '127.0.0.2');
    const a2 = admission.admit(new PassThrough(), '127.0.0.2');
    const refused = new PassThrough();
    expect(admission.admit(refused, '127.0.0.2')).toBeUndefined();
    expect(refused.destroyed).toBe(true);
    expect(counters.get('connections_per_address')).toBe(1);
    expect(admission.admit(new PassThrough(), '127.0.0.3')).toBeDefined();
    expect(admission.admit(new PassThrough(), '127.0.0.4')).toBeUndefined();
    expect(counters.get('connections')).toBe(1);
    expect(admission.stats()).toEqual({ connections: 3 });

    a1!.destroy();
    await new Promise((r) => setImmediate(r));
    expect(admission.connectionsFrom('127.0.0.2')).toBe(1);
    expect(admission.admit(new PassThrough(), '127.0.0.2')).toBeDefined();
    expect(admission.addressOf(clientOn(a2!))).toBe('127.0.0.2');
    expect(admission.addressOf(clientOn(new PassThrough()))).toBe('unknown');
  });
});

describe('publish limits', () => {
  const limits = { publishRate: 1, publishBurst: 2, trustedPublishRate: 10, trustedPublishBurst: 20, maxTopicLength: 12, maxRetainedMessages: 2, maxRetainedBytes: 10 };
  const build = () => {
    const clock = fakeClock();
    const counters = new LimitCounters(silent);
    const retained = new RetainedIndex();
    return { clock, counters, retained, limits: new PublishLimits({ limits, clock, counters, retained, context: () => ({}) }) };
  };

  it('gives a device burst then rate, and a trusted client the larger budget', () => {
    const { clock, limits: publish } = build();
    const device = publish.deviceBudget();
    expect([device.tryTake(clock.now()), device.tryTake(clock.now()), device.tryTake(clock.now())]).toEqual([true, true, false]);
    clock.advance(1000);
    expect(device.tryTake(clock.now())).toBe(true);
    const trusted = publish.deviceBudget();
    publish.trust(trusted);
    clock.advance(10_000);
    let taken = 0;
    while (trusted.tryTake(clock.now())) taken++;
    expect(taken).toBe(20);
  });

  it('refuses a topic over the length', () => {
    const { counters, limits: publish } = build();
    expect(publish.checkTopic(null, 'sluice/a/b')).toEqual({ ok: true });
    expect(publish.checkTopic(null, 'sluice/abc/telemetry')).toEqual({ ok: false, reason: 'topic longer than 12 characters' });
    expect(counters.get('topic_too_long')).toBe(1);
  });

  it('clears the retain flag over the count or byte cap, counting what the store already keeps', () => {
    const { counters, retained, limits: publish } = build();
    retained.set('a', 4);
    retained.set('b', 4);
    const third = { topic: 'c', payload: 'x', retain: true };
    publish.capRetained(null, third);
    expect(third.retain).toBe(false);
    expect(counters.get('retained_count')).toBe(1);
    const replace = { topic: 'a', payload: 'xxxxxx', retain: true }; // 6 + 4 = 10 fits
    publish.capRetained(null, replace);
    expect(replace.retain).toBe(true);
    const tooBig = { topic: 'a', payload: 'xxxxxxx', retain: true };
    publish.capRetained(null, tooBig);
    expect(tooBig.retain).toBe(false);
    expect(counters.get('retained_bytes')).toBe(1);
    const clear = { topic: 'z', payload: '', retain: true };
    publish.capRetained(null, clear);
    expect(clear.retain).toBe(true);
    expect(publish.stats()).toEqual({ retained_messages: 2, retained_bytes: 8 });
  });
});

describe('auth gate', () => {
  const limits = { maxClientIdLength: 8, maxConcurrentAuth: 1, maxPendingAuth: 1, authFreeFailures: 1, authBackoffBase: 1000, authBackoffMax: 4000 };

  it('backs off an address and username after failures, and forgets on success', () => {
    const clock = fakeClock();
    const counters = new LimitCounters(silent);
    const gate = new AuthGate({ limits, clock, counters, addressOf: () => '127.0.0.2' });
    const client = clientOn({});
    gate.failed(client, 'plug');
    expect(gate.blockedFor(client, 'plug')).toBe(0);
    gate.failed(client, 'plug');
    expect(gate.blockedFor(client, 'plug')).toBe(1000);
    expect(counters.get('auth_backoff')).toBe(1);
    clock.advance(1000);
    expect(gate.blockedFor(client, 'plug')).toBe(0);
    gate.succeeded(client, 'plug');
    expect(gate.stats()).toEqual({ auth_backoff_entries: 0 });
    expect(gate.clientIdTooLong(client, '123456789')).toBe(true);
    expect(gate.clientIdTooLong(client, '12345678')).toBe(false);
    expect(counters.get('client_id_too_long')).toBe(1);
  });

  it('runs one check at a time, queues one, refuses the rest, and passes the slot on', async () => {
    const counters = new LimitCounters(silent);
    const gate = new AuthGate({ limits, clock: fakeClock(), counters, addressOf: () => '127.0.0.2' });
    const client = clientOn({});
    let release!: () => void;
    const first = gate.inSlot(client, () => new Promise<string>((r) => (release = () => r('first'))));
    const second = gate.inSlot(client, async () => 'second');
    expect(await gate.inSlot(client, async () => 'third')).toBeUndefined();
    expect(counters.get('auth_busy')).toBe(1);
    expect(gate.inFlight).toEqual({ running: 1, waiting: 1 });
    release();
    expect(await first).toBe('first');
    expect(await second).toBe('second');
    expect(gate.inFlight).toEqual({ running: 0, waiting: 0 });
  });
});

describe('subscription limits', () => {
  it('caps filter length and the number of subscriptions, a resubscription not counting', () => {
    const counters = new LimitCounters(silent);
    const subs = new SubscriptionLimits({ limits: { maxTopicLength: 10, maxSubscriptionsPerClient: 1 }, counters, context: () => ({}) });
    const client = clientOn({}, 'c1', { 'a/#': {} });
    expect(subs.allows(client, 'a/#')).toBe(true);
    expect(subs.allows(client, 'b/#')).toBe(false);
    expect(subs.allows(client, 'toString')).toBe(false); // own properties only
    expect(counters.get('subscriptions')).toBe(2);
    expect(subs.allows(client, 'a/very/long/filter')).toBe(false);
    expect(counters.get('topic_too_long')).toBe(1);
  });
});

describe('session expiry', () => {
  it('drops sessions offline longer than the expiry, not those that came back', async () => {
    const clock = fakeClock();
    const counters = new LimitCounters(silent);
    const dropped: string[] = [];
    const expiry = new SessionExpiry({ sessionExpiry: 1000, clock, logger: silent, counters, dropSession: async (id) => void dropped.push(id) });
    expiry.offline('gone');
    expiry.offline('back');
    clock.advance(500);
    expiry.offline('recent');
    expiry.online('back');
    clock.advance(600);
    await expiry.sweep();
    expect(dropped).toEqual(['gone']);
    expect(counters.get('sessions_expired')).toBe(1);
    expect(expiry.stats()).toEqual({ offline_sessions: 1 });
  });
});

describe('refused input', () => {
  it('acknowledges a withheld packet without publishing it, and publishes the rest', () => {
    const published: object[] = [];
    const aedes = { publish: (packet: object, _client: unknown, done: () => void) => (published.push(packet), done()) };
    const refused = new RefusedInput();
    refused.attach(aedes as never);
    const bad = { topic: 'sluice/p/status', retain: true };
    const good = { topic: 'sluice/p/status', retain: true };
    refused.withhold(bad);
    expect(bad.retain).toBe(false);
    const acked: string[] = [];
    (aedes.publish as (p: object, c: unknown, d: () => void) => void)(bad, {}, () => acked.push('bad'));
    (aedes.publish as (p: object, c: unknown, d: () => void) => void)(good, {}, () => acked.push('good'));
    expect(acked).toEqual(['bad', 'good']);
    expect(published).toEqual([good]);
    expect(refused.withheld).toBe(1);
  });
});

describe('retained index', () => {
  it('keeps one count and byte total, replacing and clearing by topic', () => {
    const index = new RetainedIndex();
    index.set('a', 3);
    index.set('b', 2);
    index.set('a', 5);
    expect([index.count, index.bytes]).toEqual([2, 7]);
    index.set('a', 0);
    expect([index.count, index.bytes, index.bytesOf('a')]).toEqual([1, 2, undefined]);
    expect(index.refusal('c', 1, { maxMessages: 1, maxBytes: 100 })).toBe('retained_count');
    expect(index.refusal('b', 101, { maxMessages: 1, maxBytes: 100 })).toBe('retained_bytes');
    expect(index.refusal('b', 100, { maxMessages: 1, maxBytes: 100 })).toBeUndefined();
  });
});
