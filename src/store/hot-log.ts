import { closeSync, existsSync, fdatasync, fdatasyncSync, fstatSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, unlinkSync, writeSync, fsyncSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import * as zlib from 'node:zlib';
import { SyncTimes } from './sync-times.js';

/** One reading as the hot log carries it: the stored value (scaled integer, 0/1, REAL or enum text). */
export interface HotRecord {
  seriesId: number;
  ts: number; // ms
  value: number | string;
  /** The `readings.flags` column: 0 when the device stamped the reading, 1 for gateway time. */
  flags: number;
}

/** A QoS 1 delivery stamped with gateway time, logged in the frame of its readings so a redelivery after a crash gets the same ts. */
export interface HotDelivery {
  clientId: string;
  packetId: number;
  payloadHash: Buffer;
  ts: number; // ms
}

/** A frame that replay could not read, and what it cut away. */
export interface LogDamage {
  segment: number;
  /** Byte offset of the first frame that was discarded. */
  offset: number;
  /** Bytes removed from the segment (the damaged frame and everything after it in that segment). */
  discardedBytes: number;
  reason: 'torn' | 'checksum' | 'malformed';
}

export interface LogReplay {
  /** Every record of every complete frame, in append order, oldest segment first. */
  records: HotRecord[];
  deliveries: HotDelivery[];
  segments: number[];
  /** Empty on a clean log; a torn write shows up as one `torn` entry at the tail of the last segment. */
  damage: LogDamage[];
}

export interface HotLogOptions {
  /** Folder of the segments, e.g. `<data>/hotlog`; created when missing. */
  dir: string;
}

// Frame: u32 payload length, u32 CRC32 of the payload, payload = u8 format + records.
// Format 2 (written): a 48-bit signed base ts (the frame's first), then per record a u8 of kind
// (low 4 bits) and flags (high 4), a varint series id, the zigzag varint ts − base, then the
// value: a zigzag varint (kind 4, safe integers: the scaled integers and 0/1 of most series), an
// f64 (kind 1) or a varint length + UTF-8 text (kind 2). Delivery (kind 3): varint packet id,
// zigzag ts − base, varint length + client id, varint length + hash. ~5 bytes a reading, where
// format 1 took 20.
// Format 1 (read only, logs of an older gateway): u8 kind, u8 flags, u32 series id, 48-bit ts,
// then an f64 or u16 length + text; delivery: u8 kind, u8 hash length, u32 packet id, 48-bit ts,
// u16 client id length, client id, hash.
const FRAME_HEADER = 8;
const FRAME_FORMAT = 2;
const FRAME_FORMAT_FIXED = 1;
const KIND_NUMBER = 1;
const KIND_TEXT = 2;
const KIND_DELIVERY = 3;
const KIND_INTEGER = 4;
// A frame is one acknowledged group; nothing the writer batches comes near this, so a larger
// length field is damage, not data.
const MAX_FRAME = 16 * 2 ** 20;
const SEGMENT_NAME = /^(\d{6,})\.log$/;

/**
 * Node has `zlib.crc32` from 20.15 and 22.2; `engines` says >= 20, so older 20.x get the same
 * CRC-32 (IEEE, as zlib computes it) from a table.
 */
const crc32: (data: Uint8Array) => number = typeof (zlib as { crc32?: unknown }).crc32 === 'function' ? (data) => zlib.crc32(data) : tableCrc32;

const CRC_TABLE = Uint32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

/** CRC-32 (IEEE 802.3, reflected, as zlib computes it). */
export function tableCrc32(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of data) crc = CRC_TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** Encodes records as one frame (exported for tests that cut frames at chosen bytes). */
export function encodeFrame(records: readonly HotRecord[], deliveries: readonly HotDelivery[] = []): Buffer {
  const out = new ByteWriter(FRAME_HEADER + 16 + records.length * 8);
  out.skip(FRAME_HEADER);
  out.u8(FRAME_FORMAT);
  // Timestamps are stored relative to the frame's first one: a message's readings share theirs.
  const base = records[0]?.ts ?? deliveries[0]?.ts ?? 0;
  out.int48(base);
  for (const r of records) {
    if (r.flags < 0 || r.flags > 15 || !Number.isInteger(r.flags)) throw new RangeError(`flags ${r.flags} do not fit a log record`);
    const v = r.value;
    if (typeof v === 'string') {
      const text = Buffer.from(v, 'utf8');
      if (text.length > 0xffff) throw new RangeError(`enum value of ${text.length} bytes does not fit a log record`);
      out.u8(KIND_TEXT | (r.flags << 4));
      out.varint(r.seriesId);
      out.zigzag(r.ts - base);
      out.varint(text.length);
      out.bytes(text);
    } else if (Number.isSafeInteger(v) && !Object.is(v, -0)) {
      out.u8(KIND_INTEGER | (r.flags << 4));
      out.varint(r.seriesId);
      out.zigzag(r.ts - base);
      out.zigzag(v);
    } else {
      out.u8(KIND_NUMBER | (r.flags << 4));
      out.varint(r.seriesId);
      out.zigzag(r.ts - base);
      out.f64(v);
    }
  }
  for (const d of deliveries) {
    const id = Buffer.from(d.clientId, 'utf8');
    if (id.length > 0xffff || d.payloadHash.length > 0xff) throw new RangeError('delivery does not fit a log record');
    out.u8(KIND_DELIVERY);
    out.varint(d.packetId);
    out.zigzag(d.ts - base);
    out.varint(id.length);
    out.bytes(id);
    out.varint(d.payloadHash.length);
    out.bytes(d.payloadHash);
  }
  const buf = out.finish();
  if (buf.length - FRAME_HEADER > MAX_FRAME) throw new RangeError(`a group of ${records.length} records is larger than a log frame`);
  buf.writeUInt32LE(buf.length - FRAME_HEADER, 0);
  buf.writeUInt32LE(crc32(buf.subarray(FRAME_HEADER)), 4);
  return buf;
}

type FrameRead = { ok: true; records: HotRecord[]; deliveries: HotDelivery[]; next: number } | { ok: false; reason: LogDamage['reason'] };

function readFrame(buf: Buffer, at: number): FrameRead {
  if (buf.length - at < FRAME_HEADER) return { ok: false, reason: 'torn' };
  const length = buf.readUInt32LE(at);
  if (length < 1 || length > MAX_FRAME) return { ok: false, reason: 'malformed' };
  const end = at + FRAME_HEADER + length;
  if (end > buf.length) return { ok: false, reason: 'torn' };
  const payload = buf.subarray(at + FRAME_HEADER, end);
  if (crc32(payload) !== buf.readUInt32LE(at + 4)) return { ok: false, reason: 'checksum' };
  const parsed = payload[0] === FRAME_FORMAT ? readCompactPayload(payload) : payload[0] === FRAME_FORMAT_FIXED ? readFixedPayload(payload) : undefined;
  if (!parsed) return { ok: false, reason: 'malformed' };
  return { ok: true, ...parsed, next: end };
}

/** Format 2: varint series ids, ts relative to the frame's base, integers as zigzag varints. */
function readCompactPayload(payload: Buffer): { records: HotRecord[]; deliveries: HotDelivery[] } | undefined {
  const records: HotRecord[] = [];
  const deliveries: HotDelivery[] = [];
  const r = new ByteReader(payload, 1);
  const base = r.int48();
  while (r.ok && !r.done) {
    const head = r.u8();
    const kind = head & 15;
    const flags = head >> 4;
    if (kind === KIND_DELIVERY) {
      const packetId = r.varint();
      const ts = base + r.zigzag();
      const clientId = r.bytes(r.varint()).toString('utf8');
      const payloadHash = Buffer.from(r.bytes(r.varint()));
      if (r.ok) deliveries.push({ clientId, packetId, payloadHash, ts });
      continue;
    }
    const seriesId = r.varint();
    const ts = base + r.zigzag();
    let value: number | string;
    if (kind === KIND_INTEGER) value = r.zigzag();
    else if (kind === KIND_NUMBER) value = r.f64();
    else if (kind === KIND_TEXT) value = r.bytes(r.varint()).toString('utf8');
    else return undefined;
    if (r.ok) records.push({ seriesId, ts, value, flags });
  }
  return r.ok ? { records, deliveries } : undefined;
}

/** Format 1 (logs written before the compact records): fixed-width fields. */
function readFixedPayload(payload: Buffer): { records: HotRecord[]; deliveries: HotDelivery[] } | undefined {
  const records: HotRecord[] = [];
  const deliveries: HotDelivery[] = [];
  let p = 1;
  while (p < payload.length) {
    if (payload.length - p < 12) return undefined;
    const kind = payload[p]!;
    const flags = payload[p + 1]!;
    const seriesId = payload.readUInt32LE(p + 2);
    const ts = payload.readIntLE(p + 6, 6);
    p += 12;
    if (kind === KIND_NUMBER) {
      if (payload.length - p < 8) return undefined;
      records.push({ seriesId, ts, value: payload.readDoubleLE(p), flags });
      p += 8;
    } else if (kind === KIND_TEXT) {
      const n = payload.length - p >= 2 ? payload.readUInt16LE(p) : -1;
      if (n < 0 || payload.length - p - 2 < n) return undefined;
      records.push({ seriesId, ts, value: payload.toString('utf8', p + 2, p + 2 + n), flags });
      p += 2 + n;
    } else if (kind === KIND_DELIVERY) {
      const n = payload.length - p >= 2 ? payload.readUInt16LE(p) : -1;
      if (n < 0 || payload.length - p - 2 < n + flags) return undefined;
      const clientId = payload.toString('utf8', p + 2, p + 2 + n);
      const payloadHash = Buffer.from(payload.subarray(p + 2 + n, p + 2 + n + flags));
      deliveries.push({ clientId, packetId: seriesId, payloadHash, ts });
      p += 2 + n + flags;
    } else return undefined;
  }
  return { records, deliveries };
}

class ByteWriter {
  private buf: Buffer;
  private at = 0;

  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(Math.max(size, 32));
  }

  private room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + n));
    this.buf.copy(grown, 0, 0, this.at);
    this.buf = grown;
  }

  skip(n: number): void {
    this.room(n);
    this.at += n;
  }

  u8(v: number): void {
    this.room(1);
    this.buf[this.at++] = v;
  }

  int48(v: number): void {
    this.room(6);
    this.buf.writeIntLE(v, this.at, 6);
    this.at += 6;
  }

  f64(v: number): void {
    this.room(8);
    this.buf.writeDoubleLE(v, this.at);
    this.at += 8;
  }

  varint(value: number): void {
    let v = value;
    this.room(8);
    while (v >= 0x80) {
      this.buf[this.at++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.at++] = v;
  }

  zigzag(v: number): void {
    this.varint(v >= 0 ? v * 2 : -v * 2 - 1);
  }

  bytes(b: Buffer): void {
    this.room(b.length);
    b.copy(this.buf, this.at);
    this.at += b.length;
  }

  finish(): Buffer {
    return this.buf.subarray(0, this.at);
  }
}

/** Reads what ByteWriter wrote; `ok` turns false (and stays) at the first read past the end. */
class ByteReader {
  ok = true;

  constructor(
    private readonly buf: Buffer,
    private at: number,
  ) {}

  get done(): boolean {
    return this.at >= this.buf.length;
  }

  private take(n: number): number {
    const at = this.at;
    if (!this.ok || at + n > this.buf.length) {
      this.ok = false;
      return -1;
    }
    this.at += n;
    return at;
  }

  u8(): number {
    const at = this.take(1);
    return at < 0 ? 0 : this.buf[at]!;
  }

  int48(): number {
    const at = this.take(6);
    return at < 0 ? 0 : this.buf.readIntLE(at, 6);
  }

  f64(): number {
    const at = this.take(8);
    return at < 0 ? 0 : this.buf.readDoubleLE(at);
  }

  varint(): number {
    let value = 0;
    let scale = 1;
    for (;;) {
      const at = this.take(1);
      if (at < 0) return 0;
      const byte = this.buf[at]!;
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 0x80;
      if (scale > 2 ** 56) {
        this.ok = false;
        return 0;
      }
    }
  }

  zigzag(): number {
    const zz = this.varint();
    return zz % 2 === 0 ? zz / 2 : -(zz + 1) / 2;
  }

  bytes(n: number): Buffer {
    const at = this.take(n);
    return at < 0 ? Buffer.alloc(0) : this.buf.subarray(at, at + n);
  }
}

/**
 * The append-only hot log: each `append` is one checksummed frame written with one write(), so
 * a crash of the process loses nothing it returned from, and a power cut loses at most what
 * came after the last `sync`. Segments are dropped once their readings are sealed.
 */
export class HotLog {
  private fd: number | undefined;
  private current: number;
  private currentBytes: number;
  private segmentIds: number[];
  private inFlight: Promise<void> | undefined;
  private queued: Promise<void> | undefined;
  /** the group fdatasyncs' durations, queueing on the libuv pool included */
  readonly syncTimes = new SyncTimes();

  private constructor(
    private readonly dir: string,
    segments: number[],
    bytes: number,
  ) {
    this.segmentIds = segments;
    this.current = segments[segments.length - 1]!;
    this.currentBytes = bytes;
  }

  /** Opens the log, replays every segment, and truncates any damaged frame away (reported, not thrown). */
  static open(options: HotLogOptions): { log: HotLog; replay: LogReplay } {
    mkdirSync(options.dir, { recursive: true });
    const segments = listSegments(options.dir);
    const records: HotRecord[] = [];
    const deliveries: HotDelivery[] = [];
    const damage: LogDamage[] = [];
    let lastBytes = 0;
    for (const segment of segments) {
      const path = segmentPath(options.dir, segment);
      const buf = readFileSync(path);
      let at = 0;
      while (at < buf.length) {
        const frame = readFrame(buf, at);
        if (!frame.ok) {
          damage.push({ segment, offset: at, discardedBytes: buf.length - at, reason: frame.reason });
          truncateFile(path, at);
          break;
        }
        for (const r of frame.records) records.push(r);
        for (const d of frame.deliveries) deliveries.push(d);
        at = frame.next;
      }
      lastBytes = at;
    }
    if (segments.length === 0) {
      segments.push(1);
      lastBytes = 0;
    }
    const log = new HotLog(options.dir, segments, lastBytes);
    log.openCurrent();
    return { log, replay: { records, deliveries, segments: [...segments], damage } };
  }

  /** Replays the segments without repairing anything: for a reader (a CLI command) that must not write. */
  static read(options: HotLogOptions): LogReplay {
    const replay: LogReplay = { records: [], deliveries: [], segments: [], damage: [] };
    if (!existsSync(options.dir)) return replay;
    for (const segment of listSegments(options.dir)) {
      replay.segments.push(segment);
      const buf = readFileSync(segmentPath(options.dir, segment));
      let at = 0;
      while (at < buf.length) {
        const frame = readFrame(buf, at);
        if (!frame.ok) {
          replay.damage.push({ segment, offset: at, discardedBytes: buf.length - at, reason: frame.reason });
          break;
        }
        for (const r of frame.records) replay.records.push(r);
        for (const d of frame.deliveries) replay.deliveries.push(d);
        at = frame.next;
      }
    }
    return replay;
  }

  /** Appends one group of records as one frame with one write(); returns the bytes written. */
  append(records: readonly HotRecord[], deliveries: readonly HotDelivery[] = []): number {
    if (records.length === 0 && deliveries.length === 0) return 0;
    const frame = encodeFrame(records, deliveries);
    const fd = this.requireFd();
    let done = 0;
    try {
      // A regular file takes the whole buffer in one write(); the loop only guards a short write.
      while (done < frame.length) done += writeSync(fd, frame, done, frame.length - done);
    } catch (err) {
      // ENOSPC after a partial write: cut the partial frame off, or every frame appended after
      // it would sit behind damage and be discarded by the next replay.
      if (done > 0) {
        try {
          ftruncateSync(fd, this.currentBytes);
        } catch {
          // The replay discards the torn tail; nothing acknowledged follows it yet.
        }
      }
      throw err;
    }
    this.currentBytes += frame.length;
    return frame.length;
  }

  /**
   * Makes every frame appended before this call durable (fdatasync on the libuv pool). Calls
   * that arrive while one sync runs share a single next one: that is the group commit.
   */
  sync(): Promise<void> {
    if (!this.inFlight) {
      const fd = this.requireFd();
      const t0 = performance.now();
      this.inFlight = new Promise<void>((resolve, reject) =>
        fdatasync(fd, (err) => {
          this.syncTimes.record(performance.now() - t0);
          if (err) reject(err);
          else resolve();
        }),
      ).finally(() => {
        this.inFlight = undefined;
      });
      return this.inFlight;
    }
    this.queued ??= this.inFlight
      .catch(() => undefined)
      .then(() => {
        this.queued = undefined;
        return this.sync();
      });
    return this.queued;
  }

  /** fdatasync on the calling thread, for shutdown and before a seal. */
  syncBlocking(): void {
    fdatasyncSync(this.requireFd());
  }

  /** Starts a new segment for the appends that follow; returns the id of the segment that was current. */
  rotate(): number {
    const sealed = this.current;
    const oldFd = this.requireFd();
    fdatasyncSync(oldFd);
    // An fdatasync still running on the pool must not meet a closed (or reused) descriptor.
    if (this.inFlight) void this.inFlight.catch(() => undefined).finally(() => closeSync(oldFd));
    else closeSync(oldFd);
    this.fd = undefined;
    this.current = sealed + 1;
    this.currentBytes = 0;
    this.segmentIds.push(this.current);
    this.openCurrent();
    return sealed;
  }

  /**
   * Removes every segment up to and including `throughSegment` (never the current one), after
   * their readings were sealed. With `overwrite`, each is first filled with zeros and synced, so
   * an erase leaves no readable copy in the file system (flash remaps writes: see your-data.md).
   */
  drop(throughSegment: number, options: { overwrite: boolean }): number[] {
    const dropped = this.segmentIds.filter((s) => s <= throughSegment && s !== this.current);
    for (const segment of dropped) {
      const path = segmentPath(this.dir, segment);
      if (options.overwrite) overwriteWithZeros(path);
      unlinkSync(path);
    }
    this.segmentIds = this.segmentIds.filter((s) => !dropped.includes(s));
    if (dropped.length > 0) syncDir(this.dir);
    return dropped;
  }

  /**
   * Rewrites the log without the records `erased` selects: the survivors go into a fresh
   * segment (synced), then every older segment is zero-filled and removed.
   */
  rewriteWithout(erased: (record: HotRecord) => boolean): { kept: number; removed: number } {
    this.syncBlocking();
    const kept: HotRecord[] = [];
    const deliveries: HotDelivery[] = [];
    let removed = 0;
    for (const segment of this.segmentIds) {
      const buf = readFileSync(segmentPath(this.dir, segment));
      let at = 0;
      while (at < buf.length) {
        const frame = readFrame(buf, at);
        if (!frame.ok) break;
        for (const r of frame.records) {
          if (erased(r)) removed++;
          else kept.push(r);
        }
        for (const d of frame.deliveries) deliveries.push(d);
        at = frame.next;
      }
    }
    const old = this.rotate();
    // Split so no frame nears MAX_FRAME however large the head is.
    for (let i = 0; i < kept.length; i += 50_000) this.append(kept.slice(i, i + 50_000));
    if (deliveries.length > 0) this.append([], deliveries);
    this.syncBlocking();
    this.drop(old, { overwrite: true });
    return { kept: kept.length, removed };
  }

  /** Segment ids on disk, oldest first; the last is the one appends go to. */
  segments(): number[] {
    return [...this.segmentIds];
  }

  /** Bytes in the current segment. */
  currentSegmentBytes(): number {
    return this.currentBytes;
  }

  close(): void {
    const fd = this.fd;
    if (fd === undefined) return;
    fdatasyncSync(fd);
    this.fd = undefined;
    if (this.inFlight) void this.inFlight.catch(() => undefined).finally(() => closeSync(fd));
    else closeSync(fd);
  }

  private openCurrent(): void {
    const path = segmentPath(this.dir, this.current);
    this.fd = openSync(path, 'a', 0o600);
    // A new file's directory entry must be durable too, or a synced frame can vanish with it.
    if (fstatSync(this.fd).size === 0) syncDir(this.dir);
  }

  private requireFd(): number {
    if (this.fd === undefined) throw new Error('hot log is closed');
    return this.fd;
  }
}

function listSegments(dir: string): number[] {
  return readdirSync(dir)
    .map((name) => SEGMENT_NAME.exec(name))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
}

export function segmentPath(dir: string, segment: number): string {
  return join(dir, `${String(segment).padStart(6, '0')}.log`);
}

function truncateFile(path: string, length: number): void {
  const fd = openSync(path, 'r+');
  try {
    ftruncateSync(fd, length);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function overwriteWithZeros(path: string): void {
  const fd = openSync(path, 'r+');
  try {
    const size = fstatSync(fd).size;
    const zeros = Buffer.alloc(Math.min(size, 1 << 20));
    for (let at = 0; at < size; ) at += writeSync(fd, zeros, 0, Math.min(zeros.length, size - at), at);
    fdatasyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function syncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
