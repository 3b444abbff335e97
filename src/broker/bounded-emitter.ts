import mqemitter from 'mqemitter';

/** What Sluice hands aedes as `mq`: mqemitter's public face plus the queue depth. */
export type BrokerEmitter = mqemitter.MQEmitter & { readonly length: number };

export interface BoundedEmitterOptions {
  /** Messages delivered at once (aedes' own default is 100). */
  concurrency: number;
  /** Nested synchronous deliveries allowed before the next one continues on a fresh stack. */
  maxSyncDepth: number;
  /** QoS 0 messages waiting for a delivery slot beyond this are dropped (0 = no cap). */
  maxQueued: number;
  /** Told about every dropped QoS 0 message. */
  onDrop?: () => void;
}

/** The internals of mqemitter 7 this wrapper relies on (stable since v4). */
interface EmitterInternals {
  current: number;
  _doing: boolean;
  _messageQueue: Queue;
  _messageCallbacks: Queue;
  _do(message: mqemitter.Message, callback: (err?: Error) => void): unknown;
}

/** The part of an array mqemitter uses for its queues. */
interface Queue {
  push(item: unknown): number;
  shift(): unknown;
  readonly length: number;
}

/**
 * A first-in first-out queue with an O(1) shift. mqemitter queues in plain arrays, whose
 * shift() moves every element once the array is large: draining a flood of 100,000 queued
 * messages took 9 s of CPU (quadratic); with this it is linear.
 */
class Fifo implements Queue {
  private items: unknown[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: unknown): number {
    this.items.push(item);
    return this.length;
  }

  shift(): unknown {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined;
    // Drop the consumed front now and then, so memory follows the queue, not its history.
    if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}

/**
 * mqemitter with its release recursion broken. When a delivery finishes synchronously (no
 * subscriber left, e.g. after a flood's subscriber disconnected), mqemitter's `released`
 * starts the next queued message on the same stack; a queue of tens of thousands of such
 * messages overflows the stack ("Maximum call stack size exceeded", moscajs/aedes#193).
 * Following the idea of the unmerged mcollina/mqemitter#204, after `maxSyncDepth` nested
 * deliveries the next one continues from `setImmediate`. It also caps the queue of QoS 0
 * messages waiting for a slot, which otherwise grows without bound behind a slow consumer.
 */
export function createBoundedEmitter(options: BoundedEmitterOptions): BrokerEmitter {
  const emitter = mqemitter({ concurrency: options.concurrency, matchEmptyLevels: true }); // [MQTT-4.7.1-3]
  const inner = emitter as unknown as EmitterInternals;
  inner._messageQueue = new Fifo();
  inner._messageCallbacks = new Fifo();
  const originalDo = inner._do;
  const originalEmit = emitter.emit;
  let depth = 0;

  inner._do = function boundedDo(this: EmitterInternals, message, callback) {
    if (depth >= options.maxSyncDepth) {
      // Hold the delivery slot while deferred so later messages still queue behind this one.
      this.current++;
      this._doing = true;
      setImmediate(() => {
        this.current--;
        boundedDo.call(this, message, callback);
      });
      return this;
    }
    depth++;
    try {
      return originalDo.call(this, message, callback);
    } finally {
      depth--;
    }
  };

  if (options.maxQueued > 0) {
    emitter.emit = function cappedEmit(this: mqemitter.MQEmitter, message, callback) {
      if ((message as { qos?: number }).qos === 0 && inner._messageQueue.length >= options.maxQueued) {
        options.onDrop?.();
        callback?.();
        return;
      }
      originalEmit.call(this, message, callback);
    };
  }
  return emitter as BrokerEmitter;
}
