import mqemitter from 'mqemitter';
import { describe, expect, it } from 'vitest';
import { createBoundedEmitter } from '../../../src/broker/bounded-emitter.js';

const MESSAGES = 100_000;

/**
 * Queues 100k messages behind one held delivery slot, then releases it: every later message
 * finishes synchronously, so mqemitter's `released` recurses once per message.
 */
function floodThenRelease(emitter: mqemitter.MQEmitter): Promise<number> {
  let held: (() => void) | undefined;
  emitter.on('flood/x', (_message, done) => {
    if (!held) held = done;
    else done(); // synchronous, like a delivery to a subscriber that is gone
  });
  let delivered = 0;
  const all = new Promise<number>((resolve) => {
    for (let i = 0; i < MESSAGES; i++) {
      emitter.emit({ topic: 'flood/x', qos: 1, i }, () => {
        if (++delivered === MESSAGES) resolve(delivered);
      });
    }
  });
  held!();
  return all;
}

describe('bounded emitter', () => {
  // Shown once (2026-11-23, mqemitter 7.1.0, Node 20): the same 100k synchronous releases through
  // the plain `mqemitter({ concurrency: 1 })` throw "RangeError: Maximum call stack size exceeded"
  // from held() — the crash aedes inherits (moscajs/aedes#193). The second test pins that.
  it('survives 100k synchronous releases', async () => {
    const emitter = createBoundedEmitter({ concurrency: 1, maxSyncDepth: 64, maxQueued: 0 });
    expect(await floodThenRelease(emitter)).toBe(MESSAGES);
  });

  it('the plain mqemitter overflows the stack on the same releases', () => {
    const plain = mqemitter({ concurrency: 1 });
    expect(() => floodThenRelease(plain)).toThrow(RangeError);
  });

  it('keeps the order of queued messages', async () => {
    const emitter = createBoundedEmitter({ concurrency: 1, maxSyncDepth: 4, maxQueued: 0 });
    const seen: number[] = [];
    emitter.on('t', (m, done) => {
      seen.push(m.i as number);
      done();
    });
    await new Promise<void>((resolve) => {
      for (let i = 0; i < 100; i++) emitter.emit({ topic: 't', qos: 1, i }, i === 99 ? () => resolve() : undefined);
    });
    expect(seen).toEqual([...Array(100).keys()]);
  });

  it('drops QoS 0 messages beyond the queue cap and counts them', async () => {
    let dropped = 0;
    const emitter = createBoundedEmitter({ concurrency: 1, maxSyncDepth: 64, maxQueued: 10, onDrop: () => dropped++ });
    let held: (() => void) | undefined;
    let delivered = 0;
    emitter.on('t', (_m, done) => {
      delivered++;
      if (!held) held = done;
      else done();
    });
    for (let i = 0; i < 100; i++) emitter.emit({ topic: 't', qos: 0 });
    emitter.emit({ topic: 't', qos: 1 }); // QoS 1 is never dropped here
    expect(dropped).toBe(89); // 1 in flight + 10 queued
    held!();
    await new Promise((r) => setImmediate(r));
    expect(delivered).toBe(12);
  });
});
