import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import { RetainedIndex } from './retained-index.js';

const AedesPacket = createRequire(import.meta.url)('aedes-packet') as new (packet: object) => object;

/** The slice of an aedes persistence (aedes-persistence 11, promise form) this wrapper touches. */
export interface AedesPersistence {
  setup(broker: unknown): Promise<void>;
  cleanSubscriptions(client: { id: string }): Promise<unknown>;
  [method: string]: unknown;
}

export interface BoundedPersistenceOptions {
  /** Messages queued for one session beyond this drop the oldest (0 = no cap). */
  maxQueuedPerSession: number;
  /** Messages queued over all sessions beyond this are refused (0 = no cap): many persistent sessions must not add up without bound. */
  maxQueuedTotal?: number;
  /** Told how many queued messages were dropped for which session. */
  onDrop: (clientId: string, dropped: number) => void;
}

export interface QueuedPacket {
  brokerId?: string;
  brokerCounter?: number;
  messageId?: number;
  [key: string]: unknown;
}

/**
 * Per-session queues of outgoing QoS 1/2 messages with aedes-persistence 11's in-memory
 * semantics, bounded: beyond the cap the oldest messages of that session are dropped.
 */
export class OutgoingQueues {
  private readonly queues = new Map<string, QueuedPacket[]>();
  private count = 0;

  constructor(private readonly options: BoundedPersistenceOptions) {}

  /**
   * Adds a copy for the session; returns how many of its oldest messages were dropped, or null
   * when the message was refused because all sessions together hold the most allowed.
   */
  enqueue(clientId: string, packet: QueuedPacket): number | null {
    const total = this.options.maxQueuedTotal ?? 0;
    if (total > 0 && this.count >= total) {
      this.options.onDrop(clientId, 1);
      return null;
    }
    let queue = this.queues.get(clientId);
    if (!queue) this.queues.set(clientId, (queue = []));
    // A fresh aedes packet per session, as aedes' own persistence makes: each session numbers
    // its own message ids, and wire-only fields (length) are not kept.
    queue.push(new AedesPacket(packet as never) as unknown as QueuedPacket);
    this.count++;
    const cap = this.options.maxQueuedPerSession;
    if (cap > 0 && queue.length > cap) {
      const over = queue.length - cap;
      queue.splice(0, over); // oldest first
      this.count -= over;
      this.options.onDrop(clientId, over);
      return over;
    }
    return 0;
  }

  /** Returns the index of the updated message, or -1 when it is not queued. */
  update(clientId: string, packet: QueuedPacket): number {
    const queue = this.queues.get(clientId) ?? [];
    for (let i = 0; i < queue.length; i++) {
      const queued = queue[i]!;
      if (queued.brokerId === packet.brokerId) {
        if (queued.brokerCounter === packet.brokerCounter) {
          queued.messageId = packet.messageId;
          return i;
        }
      } else if (queued.messageId === packet.messageId) {
        queue[i] = packet;
        return i;
      }
    }
    // Not found: the cap dropped it while it was on its way to an online client. aedes would
    // treat a throw as a client error and disconnect it; sending it once, unqueued, is better.
    return -1;
  }

  clear(clientId: string, messageId: number | undefined): QueuedPacket | undefined {
    const queue = this.queues.get(clientId);
    if (!queue) return undefined;
    for (let i = 0; i < queue.length; i++) {
      if (queue[i]!.messageId === messageId) {
        const [removed] = queue.splice(i, 1);
        this.count--;
        if (queue.length === 0) this.queues.delete(clientId);
        return removed;
      }
    }
    return undefined;
  }

  stream(clientId: string): Readable {
    return Readable.from([...(this.queues.get(clientId) ?? [])]);
  }

  drop(clientId: string): void {
    this.count -= this.queues.get(clientId)?.length ?? 0;
    this.queues.delete(clientId);
  }

  queued(clientId: string): number {
    return this.queues.get(clientId)?.length ?? 0;
  }

  total(): number {
    return this.count;
  }
}

/**
 * Caps the per-session outgoing queue of any aedes persistence: it keeps the outgoing
 * (QoS 1/2 to persistent sessions) queues itself, drops the oldest beyond the cap, and
 * forwards everything else to the wrapped persistence. With aedes' in-memory persistence this
 * is the whole bound; a persistence that stores queues on disk should take
 * `maxQueuedPerSession` and `onDrop` itself and not be wrapped (see the README, "Limits").
 */
export class BoundedPersistence {
  private readonly queues: OutgoingQueues;
  /** What the wrapped persistence retains; the broker's caps keep it bounded. */
  readonly retainedIndex = new RetainedIndex();

  constructor(
    private readonly inner: AedesPersistence,
    options: BoundedPersistenceOptions,
  ) {
    this.queues = new OutgoingQueues(options);
  }

  /** The object to hand aedes as `persistence`. */
  asAedesPersistence(): AedesPersistence {
    return new Proxy(this.inner, {
      get: (target, prop, receiver) => {
        if (typeof prop === 'string' && OWN.has(prop)) {
          const own = (this as unknown as Record<string, (...args: unknown[]) => unknown>)[prop]!;
          return own.bind(this);
        }
        const value = Reflect.get(target, prop, receiver) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
  }

  /** Messages queued for a session right now. */
  queued(clientId: string): number {
    return this.queues.queued(clientId);
  }

  /** Messages queued over all sessions. */
  totalQueued(): number {
    return this.queues.total();
  }

  /** Forgets a session: its subscriptions and its queue. */
  async dropSession(clientId: string): Promise<void> {
    this.queues.drop(clientId);
    await this.inner.cleanSubscriptions({ id: clientId });
  }

  async setup(broker: unknown): Promise<void> {
    await this.inner.setup(broker);
  }

  async storeRetained(packet: { topic: string; payload?: Buffer | string }): Promise<unknown> {
    const stored = await (this.inner.storeRetained as (p: unknown) => Promise<unknown>)(packet);
    this.retainedIndex.set(packet.topic, Buffer.byteLength(packet.payload ?? ''));
    return stored;
  }

  async cleanSubscriptions(client: { id: string }): Promise<unknown> {
    this.queues.drop(client.id);
    return this.inner.cleanSubscriptions(client);
  }

  async outgoingEnqueue(sub: { clientId: string }, packet: QueuedPacket): Promise<void> {
    this.queues.enqueue(sub.clientId, packet);
  }

  async outgoingEnqueueCombi(subs: Array<{ clientId: string }>, packet: QueuedPacket): Promise<void> {
    for (const sub of subs) this.queues.enqueue(sub.clientId, packet);
  }

  async outgoingUpdate(client: { id: string }, packet: QueuedPacket): Promise<void> {
    this.queues.update(client.id, packet);
  }

  async outgoingClearMessageId(client: { id: string }, packet: QueuedPacket): Promise<QueuedPacket | undefined> {
    return this.queues.clear(client.id, packet.messageId);
  }

  outgoingStream(client: { id: string }): Readable {
    return this.queues.stream(client.id);
  }
}

const OWN = new Set(['setup', 'storeRetained', 'cleanSubscriptions', 'outgoingEnqueue', 'outgoingEnqueueCombi', 'outgoingUpdate', 'outgoingClearMessageId', 'outgoingStream']);
