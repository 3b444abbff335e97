import { createHash } from 'node:crypto';
import type { Delivery } from './sink.js';

/** The digest that identifies a message (topic and payload), computed once per message. */
export type MessageDigest = (topic: string, payload: Buffer) => Buffer;

/** sha256 over topic, a NUL and the payload. */
export const messageDigest: MessageDigest = (topic, payload) => createHash('sha256').update(topic).update('\0').update(payload).digest();

/** Bytes of the message digest kept per delivery: enough to tell a redelivery from a new message with a reused packet id. */
export const DELIVERY_HASH_BYTES = 12;

/** A delivery row as persisted (the store's `deliveries` table, written in the readings' commit). */
export type StoredDelivery = Pick<Delivery, 'payloadHash' | 'ts'>;

/**
 * Remembers, per (client id, packet id), the gateway time given to a QoS 1 message without a
 * device ts, so its DUP redelivery gets the same time and the reading is stored once. Deliveries
 * not yet committed are held here; committed ones are read back through `stored`, which is
 * what survives a restart.
 */
export class RedeliveryMemory {
  private readonly pending = new Map<string, Delivery>();

  constructor(private readonly deps: { stored: (clientId: string, packetId: number) => StoredDelivery | undefined }) {}

  /** The time given to an earlier delivery of the same message, if there was one. */
  previous(clientId: string, packetId: number, payloadHash: Buffer): number | undefined {
    const earlier = this.pending.get(key(clientId, packetId)) ?? this.deps.stored(clientId, packetId);
    return earlier && earlier.payloadHash.equals(payloadHash) ? earlier.ts : undefined;
  }

  /** Holds a delivery until its commit settles (`settled`). */
  remember(delivery: Delivery): void {
    this.pending.set(key(delivery.clientId, delivery.packetId), delivery);
  }

  /** Forgets a held delivery once committed (the store answers for it) or failed. */
  settled(delivery: Delivery): void {
    const k = key(delivery.clientId, delivery.packetId);
    // A later message that reused the packet id keeps its own entry.
    if (this.pending.get(k) === delivery) this.pending.delete(k);
  }

  /** Deliveries waiting for their commit. */
  get size(): number {
    return this.pending.size;
  }
}

function key(clientId: string, packetId: number): string {
  return `${clientId}\0${packetId}`;
}
