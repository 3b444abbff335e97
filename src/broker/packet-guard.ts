import { Duplex } from 'node:stream';
import type { LimitName } from './limit-counters.js';
import type { TokenBucket } from './token-bucket.js';

export interface PacketGuardOptions {
  /** Largest whole packet (fixed header + remaining length) let through, in bytes. */
  maxPacketBytes: number;
  /** Bytes waiting to be sent to a client beyond which it is disconnected as a slow consumer. */
  maxOutboundBytes: number;
  /** Bytes the transport itself still holds for sending (defaults to its writableLength). */
  outboundBytes?: () => number;
  /** Per-connection publish budget; excess QoS 0 dropped, excess QoS 1/2 waits (so its ack does). */
  rate?: TokenBucket | undefined;
  now: () => number;
  onLimit: (name: LimitName) => void;
}

const PUBLISH = 3;

/**
 * Sits between a transport (TCP, TLS or WebSocket stream) and aedes. It frames MQTT packets
 * from their fixed headers alone, so a packet announcing more than the allowed size is refused
 * — and the connection closed — before a byte of its body is buffered (mqtt-packet would
 * otherwise collect all 256 MiB a header may announce). It also drops or delays publishes
 * over the client's rate without parsing them, and caps what a slow reader can make the
 * broker hold for it.
 */
export class PacketGuard extends Duplex {
  /** Body bytes of the current packet still to pass on (or to skip, when `skipping`). */
  private bodyLeft = 0;
  private skipping = false;
  /** An incomplete fixed header carried over to the next chunk (at most 4 bytes). */
  private carry: Buffer | undefined;
  /** Input whose processing waits for the rate limit; the transport is paused meanwhile. */
  private held: Buffer | undefined;
  private rateTimer: NodeJS.Timeout | undefined;
  private reading = true;

  constructor(
    private readonly transport: Duplex,
    private readonly options: PacketGuardOptions,
  ) {
    super({ allowHalfOpen: false });
    transport.on('data', (chunk: Buffer) => this.onData(chunk));
    transport.on('end', () => this.push(null));
    transport.on('error', (err) => this.destroy(err));
    transport.on('close', () => this.destroy());
  }

  override _read(): void {
    this.reading = true;
    if (!this.held) this.transport.resume();
  }

  /**
   * Refuses to buffer more than `maxOutboundBytes` for a client that does not read: aedes
   * writes every delivery whatever the previous write returned, so without this a slow reader
   * subscribed to a busy topic would make the broker hold an unbounded backlog for it.
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  override write(chunk: any, encoding?: any, callback?: any): boolean {
    const size = typeof chunk === 'string' ? Buffer.byteLength(chunk) : (chunk as Buffer).length;
    if (!this.destroyed && this.writableLength + this.transportPending() + size > this.options.maxOutboundBytes) {
      this.options.onLimit('slow_consumer');
      this.destroy();
      return false;
    }
    return super.write(chunk, encoding, callback);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, callback: (err?: Error | null) => void): void {
    if (this.transport.destroyed) return callback();
    // Honest backpressure: aedes waits for 'drain' (up to its drainTimeout) before it treats
    // a delivery as done, and replays offline queues only as fast as the client reads.
    if (this.transport.write(chunk)) callback();
    else this.transport.once('drain', () => callback());
  }

  /**
   * What aedes writes in one tick (mqtt-packet corks the stream: a burst of PUBACKs, a packet's
   * header and payload) reaches the socket as one write — one syscall, not one per chunk, which
   * under load had cost more of the gateway's time than storing the readings.
   */
  override _writev(chunks: Array<{ chunk: Buffer; encoding: BufferEncoding }>, callback: (err?: Error | null) => void): void {
    this._write(chunks.length === 1 ? chunks[0]!.chunk : Buffer.concat(chunks.map((c) => c.chunk)), chunks[0]!.encoding, callback);
  }

  override _final(callback: (err?: Error | null) => void): void {
    this.transport.end();
    callback();
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    if (this.rateTimer) clearTimeout(this.rateTimer);
    this.held = undefined;
    this.transport.destroy();
    callback(err);
  }

  private transportPending(): number {
    return this.options.outboundBytes?.() ?? this.transport.writableLength;
  }

  private onData(chunk: Buffer): void {
    if (this.destroyed) return;
    if (this.held) {
      this.held = Buffer.concat([this.held, chunk]); // only what arrived before pause() took hold
      return;
    }
    this.process(chunk, false);
  }

  /** Frames the input; passes runs of allowed bytes on, skips dropped publishes. */
  private process(chunk: Buffer, prepaid: boolean): void {
    const data = this.carry ? Buffer.concat([this.carry, chunk]) : chunk;
    this.carry = undefined;
    let i = 0;
    let passFrom = 0;
    const flush = (to: number) => {
      if (to > passFrom && !this.push(data.subarray(passFrom, to))) this.reading = false;
      passFrom = to;
    };
    while (i < data.length) {
      if (this.bodyLeft > 0) {
        const n = Math.min(this.bodyLeft, data.length - i);
        i += n;
        this.bodyLeft -= n;
        if (this.skipping) passFrom = i;
        continue;
      }
      // A fixed header: one type byte, then 1–4 bytes of remaining length (MQTT 3.1.1 §2.2.3).
      let j = i + 1;
      while (j < data.length && data[j]! & 0x80) {
        if (j - i === 4) return this.refuse('malformed_header');
        j++;
      }
      if (j >= data.length) {
        flush(i);
        this.carry = Buffer.from(data.subarray(i));
        break;
      }
      let remaining = 0;
      for (let k = j; k > i; k--) remaining = remaining * 128 + (data[k]! & 0x7f);
      const headerBytes = j - i + 1;
      if (headerBytes + remaining > this.options.maxPacketBytes) return this.refuse('packet_too_large');
      const first = data[i]!;
      if (first >> 4 === PUBLISH && this.options.rate && !prepaid) {
        const now = this.options.now();
        if (!this.options.rate.tryTake(now)) {
          flush(i);
          if (((first >> 1) & 3) === 0) {
            this.options.onLimit('publish_rate_dropped');
            i += headerBytes;
            this.bodyLeft = remaining;
            this.skipping = true;
            passFrom = i;
            continue;
          }
          this.options.onLimit('publish_rate_delayed');
          return this.hold(Buffer.from(data.subarray(i)), this.options.rate.waitMs(now));
        }
      }
      prepaid = false;
      i += headerBytes;
      this.bodyLeft = remaining;
      this.skipping = false;
    }
    if (this.carry === undefined) flush(data.length);
    if (!this.reading) this.transport.pause();
  }

  private hold(rest: Buffer, waitMs: number): void {
    this.held = rest;
    this.transport.pause();
    this.rateTimer = setTimeout(() => {
      this.rateTimer = undefined;
      const held = this.held;
      this.held = undefined;
      if (!held || this.destroyed) return;
      this.options.rate!.tryTake(this.options.now()); // the token this publish waited for
      this.process(held, true);
      if (!this.held && this.reading) this.transport.resume();
    }, Math.max(1, waitMs));
  }

  private refuse(name: LimitName): void {
    this.options.onLimit(name);
    this.destroy();
  }
}
