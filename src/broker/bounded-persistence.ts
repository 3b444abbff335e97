import { Readable } from 'node:stream';

/** The slice of an aedes persistence (aedes-persistence 11, promise form) this wrapper touches. */
export interface AedesPersistence {
  setup(broker: unknown): Promise<void>;
  cleanSubscriptions(client: { id: string }): Promise<unknown>;
  [method: string]: unknown;
}

export interface BoundedPersistenceOptions {
  /** Messages queued for one session beyond this drop the oldest (0 = no cap). */
  maxQueuedPerSession: number;
  /** Told how many queued messages were dropped for which session. */
  onDrop: (clientId: string, dropped: number) => void;
}

interface QueuedPacket {
  brokerId?: string;
  brokerCounter?: number;
  messageId?: number;
  [key: string]: unknown;
}

/**
 * Caps the per-session outgoing queue of any aedes persistence: it keeps the outgoing
 * (QoS 1/2 to persistent sessions) queues itself, drops the oldest beyond the cap, and
 * forwards everything else to the wrapped persistence. With aedes' in-memory persistence this
 * is the whole bound; a persistence that stores queues on disk should take
 * `maxQueuedPerSession` and `onDrop` itself and not be wrapped (see the README, "Limits").
 */
export class BoundedPersistence {
  private readonly queues = new Map<string, QueuedPacket[]>();

  constructor(
    private readonly inner: AedesPersistence,
    private readonly options: BoundedPersistenceOptions,
  ) {}

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
    return this.queues.get(clientId)?.length ?? 0;
  }

  /** Messages queued over all sessions. */
  totalQueued(): number {
    let total = 0;
    for (const queue of this.queues.values()) total += queue.length;
    return total;
  }

  /** Forgets a session: its subscriptions and its queue. */
  async dropSession(clientId: string): Promise<void> {
    this.queues.delete(clientId);
    await this.inner.cleanSubscriptions({ id: clientId });
  }

  async setup(broker: unknown): Promise<void> {
    await this.inner.setup(broker);
  }

  async cleanSubscriptions(client: { id: string }): Promise<unknown> {
    this.queues.delete(client.id);
    return this.inner.cleanSubscriptions(client);
  }

  async outgoingEnqueue(sub: { clientId: string }, packet: QueuedPacket): Promise<void> {
    this.enqueue(sub.clientId, packet);
  }

  async outgoingEnqueueCombi(subs: Array<{ clientId: string }>, packet: QueuedPacket): Promise<void> {
    for (const sub of subs) this.enqueue(sub.clientId, packet);
  }

  // The three below follow aedes-persistence 11's in-memory semantics exactly.
  async outgoingUpdate(client: { id: string }, packet: QueuedPacket): Promise<void> {
    const queue = this.queues.get(client.id) ?? [];
    for (let i = 0; i < queue.length; i++) {
      const queued = queue[i]!;
      if (queued.brokerId === packet.brokerId) {
        if (queued.brokerCounter === packet.brokerCounter) {
          queued.messageId = packet.messageId;
          return;
        }
      } else if (queued.messageId === packet.messageId) {
        queue[i] = packet;
        return;
      }
    }
    // Not found: the cap dropped it while it was on its way to an online client. aedes would
    // treat a throw as a client error and disconnect it; sending it once, unqueued, is better.
  }

  async outgoingClearMessageId(client: { id: string }, packet: QueuedPacket): Promise<QueuedPacket | undefined> {
    const queue = this.queues.get(client.id);
    if (!queue) return undefined;
    for (let i = 0; i < queue.length; i++) {
      if (queue[i]!.messageId === packet.messageId) {
        const [removed] = queue.splice(i, 1);
        if (queue.length === 0) this.queues.delete(client.id);
        return removed;
      }
    }
    return undefined;
  }

  outgoingStream(client: { id: string }): Readable {
    return Readable.from([...(this.queues.get(client.id) ?? [])]);
  }

  private enqueue(clientId: string, packet: QueuedPacket): void {
    let queue = this.queues.get(clientId);
    if (!queue) this.queues.set(clientId, (queue = []));
    // A copy per session, as aedes-packet does: each session numbers its own message ids.
    queue.push({ ...packet, messageId: undefined });
    const cap = this.options.maxQueuedPerSession;
    if (cap > 0 && queue.length > cap) {
      const over = queue.length - cap;
      queue.splice(0, over); // oldest first
      this.options.onDrop(clientId, over);
    }
  }
}

const OWN = new Set(['setup', 'cleanSubscriptions', 'outgoingEnqueue', 'outgoingEnqueueCombi', 'outgoingUpdate', 'outgoingClearMessageId', 'outgoingStream']);
