import type { Duplex } from 'node:stream';
import type { Aedes, AedesOptions, Client } from 'aedes';
import { createRequire } from 'node:module';
import type { Clock, Logger } from '../core/index.js';
import { AuthBackoff } from './auth-backoff.js';
import { createBoundedEmitter } from './bounded-emitter.js';
import { BoundedPersistence, type AedesPersistence } from './bounded-persistence.js';
import { LimitCounters, type LimitName } from './limit-counters.js';
import { PacketGuard } from './packet-guard.js';
import { TokenBucket } from './token-bucket.js';

/** The broker limits (the `broker.limits` section of sluice.yaml, in code units: ms, bytes). */
export interface BrokerLimits {
  maxPacketBytes: number;
  maxConnections: number;
  maxConnectionsPerAddress: number;
  connectTimeout: number;
  maxClientIdLength: number;
  maxConcurrentAuth: number;
  maxPendingAuth: number;
  authFreeFailures: number;
  authBackoffBase: number;
  authBackoffMax: number;
  publishRate: number;
  publishBurst: number;
  trustedPublishRate: number;
  trustedPublishBurst: number;
  maxTopicLength: number;
  maxTopicLevels: number;
  maxSubscriptionsPerClient: number;
  maxRetainedMessages: number;
  maxRetainedBytes: number;
  maxQueuedPerSession: number;
  maxQueuedTotal: number;
  sessionExpiry: number;
  maxOutboundBufferBytes: number;
  slowConsumerTimeout: number;
  maxQueuedDeliveries: number;
}

// aedes-persistence is CommonJS whose typings declare an ESM default; require gives the factory.
const memoryPersistence = createRequire(import.meta.url)('aedes-persistence') as () => AedesPersistence;

/** An aedes persistence that bounds its per-session queues and can forget an expired session. */
export interface SessionStore {
  asAedesPersistence(): AedesPersistence;
  totalQueued(): number;
  dropSession(clientId: string): Promise<void>;
  /** Tells the store whom to tell when its cap drops a session's oldest messages. */
  onQueueDrop?(listener: (clientId: string, dropped: number) => void): void;
}

/** Nested synchronous deliveries before the emitter continues on a fresh stack. */
const EMITTER_SYNC_DEPTH = 64;

/** What a publish check decided. */
export type PublishCheck = { ok: true } | { ok: false; reason: string };

/**
 * Everything that keeps the broker alive and its memory bounded under floods, fuzz and abuse:
 * admission of connections (count cap + packet guard), authentication backoff, topic,
 * subscription and retained-message caps, offline queues and session expiry. Each limit is
 * counted in `counters` and logged once.
 */
export class BrokerHardening {
  readonly counters: LimitCounters;
  private readonly backoff: AuthBackoff;
  private readonly persistence: SessionStore;
  private readonly addresses = new WeakMap<object, string>();
  private readonly buckets = new WeakMap<object, TokenBucket>();
  private readonly open = new Set<Duplex>();
  private readonly perAddress = new Map<string, number>();
  private readonly retained = new Map<string, number>();
  private retainedBytes = 0;
  private readonly offlineSince = new Map<string, number>();
  private sweepTimer: NodeJS.Timeout | undefined;
  private authRunning = 0;
  private readonly authWaiting: Array<() => void> = [];
  private emitter: ReturnType<typeof createBoundedEmitter> | undefined;

  constructor(
    private readonly deps: { limits: BrokerLimits; clock: Clock; logger: Logger; persistence?: SessionStore },
  ) {
    const { limits, logger } = deps;
    this.counters = new LimitCounters(logger);
    this.backoff = new AuthBackoff({ freeFailures: limits.authFreeFailures, baseDelay: limits.authBackoffBase, maxDelay: limits.authBackoffMax, maxEntries: 10_000 });
    const onDrop = (clientId: string, dropped: number) => this.counters.hit('offline_queue_dropped', { clientId }, dropped);
    // A durable store bounds its own queues; otherwise aedes' in-memory one is wrapped to bound it.
    this.persistence = deps.persistence ?? new BoundedPersistence(memoryPersistence(), { maxQueuedPerSession: limits.maxQueuedPerSession, maxQueuedTotal: limits.maxQueuedTotal, onDrop });
    deps.persistence?.onQueueDrop?.(onDrop);
  }

  /** aedes options that carry limits aedes enforces itself, plus the bounded emitter and persistence. */
  aedesOptions(): Partial<AedesOptions> {
    const { limits } = this.deps;
    this.emitter = createBoundedEmitter({
      concurrency: 100,
      maxSyncDepth: EMITTER_SYNC_DEPTH,
      maxQueued: limits.maxQueuedDeliveries,
      onDrop: () => this.counters.hit('emitter_dropped'),
    });
    return {
      mq: this.emitter,
      persistence: this.persistence.asAedesPersistence(),
      connectTimeout: limits.connectTimeout,
      drainTimeout: limits.slowConsumerTimeout,
      maxClientsIdLength: limits.maxClientIdLength,
      maxTopicLevels: limits.maxTopicLevels,
    };
  }

  /** Counts what aedes reports and tracks persistent sessions for expiry. */
  attach(aedes: Aedes): void {
    const onError = (client: Client | null, err: Error) => {
      if (err.message === 'connect did not arrive in time') this.count('connect_timeout', client);
      else if (err.message === 'topic has too many levels') this.count('topic_too_deep', client);
      else if (err.message === 'drain timeout') this.count('slow_consumer', client);
    };
    aedes.on('connectionError', onError);
    aedes.on('clientError', onError);
    aedes.on('client', (client) => this.offlineSince.delete(client.id));
    aedes.on('clientDisconnect', (client) => {
      if (!(client as Client & { clean: boolean }).clean) this.offlineSince.set(client.id, this.deps.clock.now());
    });
    const every = Math.max(10, Math.min(60_000, Math.floor(this.deps.limits.sessionExpiry / 4)));
    this.sweepTimer = setInterval(() => void this.expireSessions(), every);
    this.sweepTimer.unref();
  }

  stop(): void {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
  }

  /**
   * Wraps a new transport in the packet guard, or closes it when the connection cap is reached.
   * Returns the stream to hand aedes, or undefined when refused.
   */
  admit(transport: Duplex, remoteAddress: string, outboundBytes?: () => number): Duplex | undefined {
    const { limits, clock } = this.deps;
    if (this.open.size >= limits.maxConnections) {
      this.counters.hit('connections', { remoteAddress });
      transport.destroy();
      return undefined;
    }
    const fromAddress = this.perAddress.get(remoteAddress) ?? 0;
    if (fromAddress >= limits.maxConnectionsPerAddress) {
      this.counters.hit('connections_per_address', { remoteAddress });
      transport.destroy();
      return undefined;
    }
    this.perAddress.set(remoteAddress, fromAddress + 1);
    // Until the client's role is known it gets a device's budget.
    const rate = new TokenBucket(limits.publishRate, limits.publishBurst, clock.now());
    const guard = new PacketGuard(transport, {
      maxPacketBytes: limits.maxPacketBytes,
      maxOutboundBytes: limits.maxOutboundBufferBytes,
      outboundBytes,
      rate,
      now: () => clock.now(),
      onLimit: (name) => this.counters.hit(name, { remoteAddress }),
    });
    this.open.add(guard);
    this.addresses.set(guard, remoteAddress);
    this.buckets.set(guard, rate);
    guard.once('close', () => {
      this.open.delete(guard);
      const left = (this.perAddress.get(remoteAddress) ?? 1) - 1;
      if (left > 0) this.perAddress.set(remoteAddress, left);
      else this.perAddress.delete(remoteAddress);
    });
    guard.on('error', () => undefined); // aedes reports stream errors itself
    return guard;
  }

  get connections(): number {
    return this.open.size;
  }

  /** Remote address of an aedes client's connection. */
  addressOf(client: Client): string {
    return this.addresses.get(client.conn as object) ?? 'unknown';
  }

  /** ms this (address, username) must still wait; 0 when its credentials may be checked. */
  authBlockedFor(client: Client, username: string): number {
    const wait = this.backoff.blockedFor(this.addressOf(client), username, this.deps.clock.now());
    if (wait > 0) this.counters.hit('auth_backoff', { remoteAddress: this.addressOf(client), username });
    return wait;
  }

  /**
   * Runs a password check in one of the few slots: each scrypt check holds 16 MiB, so a login
   * storm must queue instead of multiplying that. Resolves to undefined when even the queue is
   * full (the caller refuses the login as "server unavailable").
   */
  async inAuthSlot<T>(client: Client, check: () => Promise<T>): Promise<T | undefined> {
    const { limits } = this.deps;
    if (this.authRunning >= limits.maxConcurrentAuth) {
      if (this.authWaiting.length >= limits.maxPendingAuth) {
        this.counters.hit('auth_busy', { remoteAddress: this.addressOf(client) });
        return undefined;
      }
      await new Promise<void>((resolve) => this.authWaiting.push(resolve));
    } else {
      this.authRunning++;
    }
    try {
      return await check();
    } finally {
      const next = this.authWaiting.shift();
      if (next) next(); // the slot passes on
      else this.authRunning--;
    }
  }

  authFailed(client: Client, username: string): void {
    this.backoff.failed(this.addressOf(client), username, this.deps.clock.now());
  }

  /** Clears the backoff and gives bridges and household tools their larger publish budget. */
  /** `trusted`: a bridge, a household tool, or the household's own simulator — the higher publish rate applies. */
  authSucceeded(client: Client, username: string, trusted: boolean): void {
    this.backoff.succeeded(this.addressOf(client), username);
    if (trusted) {
      const { limits, clock } = this.deps;
      this.buckets.get(client.conn as object)?.reconfigure(limits.trustedPublishRate, limits.trustedPublishBurst, clock.now());
    }
  }

  /** aedes checks maxClientsIdLength for MQTT 3.1 only; this covers 3.1.1 (answered with CONNACK 0x02). */
  clientIdTooLong(client: Client, clientId: string): boolean {
    if (clientId.length <= this.deps.limits.maxClientIdLength) return false;
    this.counters.hit('client_id_too_long', { remoteAddress: this.addressOf(client) });
    return true;
  }

  /** Topic length, checked before the ACL and ingest look at the topic. */
  checkPublish(client: Client | null, packet: { topic: string }): PublishCheck {
    const { limits } = this.deps;
    if (packet.topic.length > limits.maxTopicLength) {
      this.count('topic_too_long', client);
      return { ok: false, reason: `topic longer than ${limits.maxTopicLength} characters` };
    }
    return { ok: true };
  }

  /**
   * The retained caps, for an authorized publish with the retain flag: over a cap the message
   * is still delivered but not kept (its retain flag is cleared before aedes stores it).
   */
  admitRetained(client: Client | null, packet: { topic: string; payload: Buffer | string; retain?: boolean }): void {
    if (packet.retain) this.trackRetained(client, packet as { topic: string; payload: Buffer | string; retain: boolean });
  }

  /** Whether one more subscription (to `filter`) is within the client's caps. */
  checkSubscribe(client: Client, filter: string): boolean {
    const { limits } = this.deps;
    if (filter.length > limits.maxTopicLength) {
      this.count('topic_too_long', client);
      return false;
    }
    const current = (client as Client & { subscriptions: Record<string, unknown> }).subscriptions;
    if (!(filter in current) && Object.keys(current).length >= limits.maxSubscriptionsPerClient) {
      this.count('subscriptions', client);
      return false;
    }
    return true;
  }

  stats(): Record<string, unknown> {
    const memory = process.memoryUsage();
    return {
      rss_bytes: memory.rss,
      heap_used_bytes: memory.heapUsed,
      heap_total_bytes: memory.heapTotal,
      external_bytes: memory.external + memory.arrayBuffers,
      queued_for_sessions: this.persistence.totalQueued(),
      connections: this.open.size,
      retained_messages: this.retained.size,
      retained_bytes: this.retainedBytes,
      offline_sessions: this.offlineSince.size,
      queued_deliveries: this.emitter?.length ?? 0,
      auth_backoff_entries: this.backoff.size,
      limits_hit: this.counters.snapshot(),
    };
  }

  private trackRetained(client: Client | null, packet: { topic: string; payload: Buffer | string; retain: boolean }): void {
    const { limits } = this.deps;
    const bytes = Buffer.byteLength(packet.payload);
    const before = this.retained.get(packet.topic);
    if (bytes === 0) {
      // An empty retained message clears the topic [MQTT-3.3.1-10].
      if (before !== undefined) {
        this.retained.delete(packet.topic);
        this.retainedBytes -= before;
      }
      return;
    }
    if (before === undefined && this.retained.size >= limits.maxRetainedMessages) {
      this.count('retained_count', client);
      packet.retain = false;
      return;
    }
    if (this.retainedBytes - (before ?? 0) + bytes > limits.maxRetainedBytes) {
      this.count('retained_bytes', client);
      packet.retain = false;
      return;
    }
    this.retained.set(packet.topic, bytes);
    this.retainedBytes += bytes - (before ?? 0);
  }

  private async expireSessions(): Promise<void> {
    const cutoff = this.deps.clock.now() - this.deps.limits.sessionExpiry;
    for (const [clientId, since] of this.offlineSince) {
      if (since > cutoff) continue;
      this.offlineSince.delete(clientId);
      this.counters.hit('sessions_expired', { clientId });
      try {
        await this.persistence.dropSession(clientId);
      } catch (err) {
        this.deps.logger.error({ err, clientId }, 'an expired session could not be removed');
      }
    }
  }

  private count(name: LimitName, client: Client | null): void {
    this.counters.hit(name, client ? { clientId: client.id, remoteAddress: this.addressOf(client) } : {});
  }
}
