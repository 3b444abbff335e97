import { OutgoingQueues, type AedesPersistence } from './bounded-persistence.js';
import { createRequire } from 'node:module';
import type { Readable } from 'node:stream';
import type { Logger, Migration, SluiceDatabase } from '../core/index.js';
import { RetainedIndex } from './retained-index.js';

const require = createRequire(import.meta.url);

/** A packet as aedes hands it to its persistence (aedes-packet plus wire fields). */
export interface StoredPacket {
  cmd: string;
  topic?: string;
  payload?: Buffer | string;
  qos?: number;
  retain?: boolean;
  dup?: boolean;
  messageId?: number;
  brokerId?: string;
  brokerCounter?: number;
  clientId?: string;
  [key: string]: unknown;
}
interface ClientRef {
  id: string;
}
interface Sub {
  topic: string;
  qos: number;
  rh?: number;
  rap?: number;
  nl?: number;
  subscriptionIdentifier?: number;
}

/** The in-memory persistence aedes ships; Sluice keeps its structures and writes every change through to SQLite. */
interface MemoryPersistence {
  setup(broker: unknown): Promise<void>;
  storeRetained(packet: StoredPacket): Promise<void>;
  createRetainedStream(pattern: string): Readable;
  createRetainedStreamCombi(patterns: string[]): Readable;
  addSubscriptions(client: ClientRef, subs: Sub[]): Promise<void>;
  removeSubscriptions(client: ClientRef, topics: string[]): Promise<void>;
  subscriptionsByClient(client: ClientRef): Promise<Sub[]>;
  cleanSubscriptions(client: ClientRef): Promise<void>;
  outgoingEnqueue(sub: { clientId: string }, packet: StoredPacket): Promise<void>;
  outgoingEnqueueCombi(subs: Array<{ clientId: string }>, packet: StoredPacket): Promise<void>;
  outgoingUpdate(client: ClientRef, packet: StoredPacket): Promise<void>;
  outgoingClearMessageId(client: ClientRef, packet: StoredPacket): Promise<StoredPacket | undefined>;
  outgoingStream(client: ClientRef): Readable;
  streamWill(brokers?: Record<string, unknown>): Readable;
  incomingStorePacket(client: ClientRef, packet: StoredPacket): Promise<void>;
  incomingDelPacket(client: ClientRef, packet: StoredPacket): Promise<void>;
  cleanIncoming(client: ClientRef): Promise<void>;
  putWill(client: ClientRef, packet: StoredPacket): Promise<void>;
  delWill(client: ClientRef): Promise<StoredPacket | undefined>;
  destroy(): Promise<void>;
}
const MemoryBase = require('aedes-persistence/asyncPersistence.js') as new (opts?: object) => MemoryPersistence;

export const persistenceMigrations: Migration[] = [
  {
    module: 'broker',
    version: 2,
    description: 'broker state that survives a restart: retained messages, persistent sessions, queued QoS 1/2',
    up: (db) =>
      db.exec(`
        CREATE TABLE broker_retained (id INTEGER PRIMARY KEY, topic TEXT NOT NULL UNIQUE, packet TEXT NOT NULL, bytes INTEGER NOT NULL);
        CREATE TABLE broker_subscriptions (client_id TEXT NOT NULL, topic TEXT NOT NULL, sub TEXT NOT NULL, PRIMARY KEY (client_id, topic)) WITHOUT ROWID;
        CREATE TABLE broker_outgoing (
          id INTEGER PRIMARY KEY AUTOINCREMENT,
          client_id TEXT NOT NULL,
          broker_id TEXT,
          broker_counter INTEGER,
          message_id INTEGER,
          packet TEXT NOT NULL
        );
        CREATE INDEX broker_outgoing_client ON broker_outgoing (client_id, id);
        CREATE TABLE broker_incoming (client_id TEXT NOT NULL, message_id INTEGER NOT NULL, packet TEXT NOT NULL, PRIMARY KEY (client_id, message_id)) WITHOUT ROWID;
        CREATE TABLE broker_wills (client_id TEXT PRIMARY KEY, packet TEXT NOT NULL) WITHOUT ROWID;
      `),
  },
];

export interface PersistenceLimits {
  /** Retained messages kept at most; a new retained topic beyond this is not stored. */
  maxRetained: number;
  /** Bytes of retained payloads kept at most. */
  maxRetainedBytes: number;
  /** Messages queued per persistent session at most; beyond it the session's oldest are dropped. */
  maxQueuedPerSession: number;
  /** Messages queued over all sessions at most (0 = no cap). */
  maxQueuedTotal?: number;
}

/**
 * aedes persistence on SQLite: retained messages, persistent sessions (clean=0 subscriptions)
 * and their queued QoS 1/2 messages survive a gateway restart. The in-memory structures of
 * aedes-persistence serve every lookup; each change is also written to SQLite, and loaded
 * back at setup. Passes aedes-persistence's abstract test suite.
 */
export class SqlitePersistence extends MemoryBase {
  private dropListener: (clientId: string, dropped: number) => void = () => {};
  /** Outgoing queues live here, not in the base class, so the cap can drop a session's oldest. */
  private readonly outgoing: OutgoingQueues;
  /** What is retained, loaded from disk at setup: the broker's caps and status count this. */
  readonly retainedIndex = new RetainedIndex();
  private readonly sql;

  constructor(private readonly deps: { db: SluiceDatabase; limits: PersistenceLimits; logger?: Logger }) {
    super();
    this.outgoing = new OutgoingQueues({ maxQueuedPerSession: deps.limits.maxQueuedPerSession, maxQueuedTotal: deps.limits.maxQueuedTotal, onDrop: (clientId, dropped) => this.dropListener(clientId, dropped) });
    const raw = deps.db.raw;
    this.sql = {
      putRetained: raw.prepare('INSERT INTO broker_retained (topic, packet, bytes) VALUES (?, ?, ?) ON CONFLICT (topic) DO UPDATE SET packet = excluded.packet, bytes = excluded.bytes'),
      delRetained: raw.prepare('DELETE FROM broker_retained WHERE topic = ?'),
      putSub: raw.prepare('INSERT OR REPLACE INTO broker_subscriptions (client_id, topic, sub) VALUES (?, ?, ?)'),
      delSub: raw.prepare('DELETE FROM broker_subscriptions WHERE client_id = ? AND topic = ?'),
      delSubs: raw.prepare('DELETE FROM broker_subscriptions WHERE client_id = ?'),
      enqueue: raw.prepare('INSERT INTO broker_outgoing (client_id, broker_id, broker_counter, message_id, packet) VALUES (?, ?, ?, NULL, ?)'),
      outgoingOf: raw.prepare<[string], { id: number; broker_id: string | null; broker_counter: number | null; message_id: number | null }>(
        'SELECT id, broker_id, broker_counter, message_id FROM broker_outgoing WHERE client_id = ? ORDER BY id',
      ),
      setMessageId: raw.prepare('UPDATE broker_outgoing SET message_id = ? WHERE id = ?'),
      replaceOutgoing: raw.prepare('UPDATE broker_outgoing SET broker_id = ?, broker_counter = ?, message_id = ?, packet = ? WHERE id = ?'),
      dropOldest: raw.prepare('DELETE FROM broker_outgoing WHERE id IN (SELECT id FROM broker_outgoing WHERE client_id = ? ORDER BY id LIMIT ?)'),
      dropSession: raw.prepare('DELETE FROM broker_outgoing WHERE client_id = ?'),
      clearOutgoing: raw.prepare('DELETE FROM broker_outgoing WHERE id = (SELECT MIN(id) FROM broker_outgoing WHERE client_id = ? AND message_id = ?)'),
      putIncoming: raw.prepare('INSERT OR REPLACE INTO broker_incoming (client_id, message_id, packet) VALUES (?, ?, ?)'),
      delIncoming: raw.prepare('DELETE FROM broker_incoming WHERE client_id = ? AND message_id = ?'),
      cleanIncoming: raw.prepare('DELETE FROM broker_incoming WHERE client_id = ?'),
      putWill: raw.prepare('INSERT OR REPLACE INTO broker_wills (client_id, packet) VALUES (?, ?)'),
      delWill: raw.prepare('DELETE FROM broker_wills WHERE client_id = ?'),
    };
  }

  override async setup(broker: unknown): Promise<void> {
    await super.setup(broker);
    const raw = this.deps.db.raw;
    for (const row of raw.prepare<[], { topic: string; packet: string; bytes: number }>('SELECT topic, packet, bytes FROM broker_retained ORDER BY id').all()) {
      await super.storeRetained(decode(row.packet));
      this.retainedIndex.set(row.topic, row.bytes);
    }
    const subs = new Map<string, Sub[]>();
    for (const row of raw.prepare<[], { client_id: string; topic: string; sub: string }>('SELECT client_id, topic, sub FROM broker_subscriptions').all()) {
      const list = subs.get(row.client_id) ?? [];
      list.push({ topic: row.topic, ...(JSON.parse(row.sub) as Omit<Sub, 'topic'>) });
      subs.set(row.client_id, list);
    }
    for (const [id, list] of subs) await super.addSubscriptions({ id }, list);
    for (const row of raw.prepare<[], { client_id: string; message_id: number | null; packet: string }>('SELECT client_id, message_id, packet FROM broker_outgoing ORDER BY id').all()) {
      const packet = decode(row.packet);
      this.outgoing.enqueue(row.client_id, packet);
      // Enqueueing forgets the packet id; put it back so PUBACKs after the restart find their message.
      if (row.message_id !== null) this.outgoing.update(row.client_id, { ...packet, messageId: row.message_id });
    }
    for (const row of raw.prepare<[], { client_id: string; packet: string }>('SELECT client_id, packet FROM broker_incoming').all()) {
      await super.incomingStorePacket({ id: row.client_id }, decode(row.packet));
    }
    for (const row of raw.prepare<[], { client_id: string; packet: string }>('SELECT client_id, packet FROM broker_wills').all()) {
      const will = decode(row.packet);
      const brokerId = will.brokerId;
      await super.putWill({ id: row.client_id }, will);
      // putWill stamps the current broker id; restore the previous run's, so aedes sees a will of
      // a broker that is gone and publishes it unless the client reconnects first.
      will.brokerId = brokerId;
    }
  }

  override async storeRetained(packet: StoredPacket): Promise<void> {
    const topic = packet.topic!;
    const bytes = payloadOf(packet).length;
    const index = this.retainedIndex;
    if (bytes === 0) {
      await super.storeRetained(packet);
      if (index.bytesOf(topic) !== undefined) {
        this.sql.delRetained.run(topic);
        index.set(topic, 0);
      }
      return;
    }
    // The broker checks these caps before it lets a retained publish through; this is the backstop.
    if (index.refusal(topic, bytes, { maxMessages: this.deps.limits.maxRetained, maxBytes: this.deps.limits.maxRetainedBytes })) {
      this.deps.logger?.warn({ topic, retained: index.count, bytes: index.bytes }, 'retained message not kept: the retained store is full (broker.max_retained / max_retained_bytes)');
      return;
    }
    await super.storeRetained(packet);
    this.sql.putRetained.run(topic, encode(packet), bytes);
    index.set(topic, bytes);
  }

  override async addSubscriptions(client: ClientRef, subs: Sub[]): Promise<void> {
    await super.addSubscriptions(client, subs);
    this.deps.db.tx(() => {
      for (const { topic, ...rest } of subs) this.sql.putSub.run(client.id, topic, JSON.stringify(rest));
    });
  }

  override async removeSubscriptions(client: ClientRef, topics: string[]): Promise<void> {
    await super.removeSubscriptions(client, topics);
    this.deps.db.tx(() => {
      for (const topic of topics) this.sql.delSub.run(client.id, topic);
    });
  }

  /** For the broker's session handling: this store is handed to aedes as it is. */
  asAedesPersistence(): AedesPersistence {
    return this as unknown as AedesPersistence;
  }

  onQueueDrop(listener: (clientId: string, dropped: number) => void): void {
    this.dropListener = listener;
  }

  /** Messages queued over all persistent sessions. */
  totalQueued(): number {
    return this.outgoing.total();
  }

  /** Forgets an expired session: its subscriptions and its queued messages on disk. */
  async dropSession(clientId: string): Promise<void> {
    await this.cleanSubscriptions({ id: clientId });
    this.sql.dropSession.run(clientId);
    this.outgoing.drop(clientId);
  }

  override async cleanSubscriptions(client: ClientRef): Promise<void> {
    await super.cleanSubscriptions(client);
    this.sql.delSubs.run(client.id);
  }

  override async outgoingEnqueue(sub: { clientId: string }, packet: StoredPacket): Promise<void> {
    await this.outgoingEnqueueCombi([sub], packet);
  }

  override async outgoingEnqueueCombi(subs: Array<{ clientId: string }>, packet: StoredPacket): Promise<void> {
    const text = encode(packet);
    this.deps.db.tx(() => {
      for (const s of subs) {
        const dropped = this.outgoing.enqueue(s.clientId, packet);
        if (dropped === null) continue; // refused: every session together holds the most allowed
        this.sql.enqueue.run(s.clientId, packet.brokerId ?? null, packet.brokerCounter ?? null, text);
        if (dropped > 0) this.sql.dropOldest.run(s.clientId, dropped);
      }
    });
  }

  override async outgoingUpdate(client: ClientRef, packet: StoredPacket): Promise<void> {
    const index = this.outgoing.update(client.id, packet);
    if (index < 0) return;
    // The rows are in queue order, so the queue's index names the row.
    const row = this.sql.outgoingOf.all(client.id)[index];
    if (!row) return;
    if (row.broker_id === (packet.brokerId ?? null) && row.broker_counter === (packet.brokerCounter ?? null)) {
      this.sql.setMessageId.run(packet.messageId ?? null, row.id);
    } else {
      this.sql.replaceOutgoing.run(packet.brokerId ?? null, packet.brokerCounter ?? null, packet.messageId ?? null, encode(packet), row.id);
    }
  }

  override async outgoingClearMessageId(client: ClientRef, packet: StoredPacket): Promise<StoredPacket | undefined> {
    const cleared = this.outgoing.clear(client.id, packet.messageId);
    if (cleared) this.sql.clearOutgoing.run(client.id, packet.messageId ?? null);
    return cleared as StoredPacket | undefined;
  }

  override outgoingStream(client: ClientRef): Readable {
    return this.outgoing.stream(client.id);
  }

  override async incomingStorePacket(client: ClientRef, packet: StoredPacket): Promise<void> {
    await super.incomingStorePacket(client, packet);
    this.sql.putIncoming.run(client.id, packet.messageId ?? 0, encode(packet));
  }

  override async incomingDelPacket(client: ClientRef, packet: StoredPacket): Promise<void> {
    await super.incomingDelPacket(client, packet);
    this.sql.delIncoming.run(client.id, packet.messageId ?? 0);
  }

  override async cleanIncoming(client: ClientRef): Promise<void> {
    await super.cleanIncoming(client);
    this.sql.cleanIncoming.run(client.id);
  }

  override async putWill(client: ClientRef, packet: StoredPacket): Promise<void> {
    await super.putWill(client, packet);
    this.sql.putWill.run(client.id, encode(packet));
  }

  override async delWill(client: ClientRef): Promise<StoredPacket | undefined> {
    const will = await super.delWill(client);
    this.sql.delWill.run(client.id);
    return will;
  }
}

function payloadOf(packet: StoredPacket): Buffer {
  const p = packet.payload;
  return Buffer.isBuffer(p) ? p : Buffer.from(p ?? '');
}

/** JSON with the payload (and any other Buffer) as base64, so the row is plain text. */
function encode(packet: StoredPacket): string {
  return JSON.stringify(packet, (_key, value: unknown) => {
    if (value && typeof value === 'object' && (value as { type?: string }).type === 'Buffer' && Array.isArray((value as { data?: unknown }).data)) {
      return { $b64: Buffer.from((value as { data: number[] }).data).toString('base64') };
    }
    return value;
  });
}

function decode(text: string): StoredPacket {
  return JSON.parse(text, (_key, value: unknown) => {
    if (value && typeof value === 'object' && typeof (value as { $b64?: unknown }).$b64 === 'string') return Buffer.from((value as { $b64: string }).$b64, 'base64');
    return value;
  }) as StoredPacket;
}
