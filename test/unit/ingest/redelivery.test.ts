import { describe, expect, it } from 'vitest';
import { RedeliveryMemory, type StoredDelivery } from '../../../src/ingest/index.js';

const hash = (text: string) => Buffer.from(text.padEnd(12, '.'));

describe('redelivery memory', () => {
  it('answers a held delivery until it settles, then the stored one', () => {
    const stored = new Map<string, StoredDelivery>();
    const memory = new RedeliveryMemory({ stored: (c, p) => stored.get(`${c}/${p}`) });
    const first = { clientId: 'c', packetId: 7, payloadHash: hash('a'), ts: 1000 };
    expect(memory.previous('c', 7, hash('a'))).toBeUndefined();
    memory.remember(first);
    expect(memory.previous('c', 7, hash('a'))).toBe(1000);
    // Same packet id, other payload: a new message, not a redelivery.
    expect(memory.previous('c', 7, hash('b'))).toBeUndefined();
    // Other client, same packet id.
    expect(memory.previous('d', 7, hash('a'))).toBeUndefined();
    stored.set('c/7', { payloadHash: first.payloadHash, ts: 1000 }); // the commit wrote the row
    memory.settled(first);
    expect(memory.size).toBe(0);
    expect(memory.previous('c', 7, hash('a'))).toBe(1000);
  });

  it('a held delivery hides the stored row of a reused packet id', () => {
    const memory = new RedeliveryMemory({ stored: () => ({ payloadHash: hash('old'), ts: 1 }) });
    memory.remember({ clientId: 'c', packetId: 7, payloadHash: hash('new'), ts: 2 });
    expect(memory.previous('c', 7, hash('old'))).toBeUndefined();
    expect(memory.previous('c', 7, hash('new'))).toBe(2);
  });

  it('settling an older delivery keeps the newer one of the same packet id', () => {
    const memory = new RedeliveryMemory({ stored: () => undefined });
    const older = { clientId: 'c', packetId: 7, payloadHash: hash('a'), ts: 1 };
    const newer = { clientId: 'c', packetId: 7, payloadHash: hash('b'), ts: 2 };
    memory.remember(older);
    memory.remember(newer);
    memory.settled(older);
    expect(memory.previous('c', 7, hash('b'))).toBe(2);
    memory.settled(newer);
    expect(memory.size).toBe(0);
  });
});
