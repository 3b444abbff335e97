import { createRequire } from 'node:module';
import { BoundedPersistence, type AedesPersistence } from './bounded-persistence.js';
import type { RetainedIndex } from './retained-index.js';

/** An aedes persistence that bounds its per-session queues, can forget an expired session, and counts what it retains. */
export interface SessionStore {
  asAedesPersistence(): AedesPersistence;
  totalQueued(): number;
  dropSession(clientId: string): Promise<void>;
  /** Tells the store whom to tell when its cap drops a session's oldest messages. */
  onQueueDrop?(listener: (clientId: string, dropped: number) => void): void;
  /** The one count of retained messages, including those kept from before a restart. */
  readonly retainedIndex: RetainedIndex;
}

// aedes-persistence is CommonJS whose typings declare an ESM default; require gives the factory.
const memoryPersistence = createRequire(import.meta.url)('aedes-persistence') as () => AedesPersistence;

/** aedes' in-memory persistence, wrapped to bound its queues: for a broker without a durable store. */
export function memorySessionStore(limits: { maxQueuedPerSession: number; maxQueuedTotal: number }, onDrop: (clientId: string, dropped: number) => void): SessionStore {
  return new BoundedPersistence(memoryPersistence(), { ...limits, onDrop });
}
