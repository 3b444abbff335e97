import { closeSync, fdatasync, fdatasyncSync, fstatSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, unlinkSync, writeSync, fsyncSync } from 'node:fs';
import { join } from 'node:path';
import * as zlib from 'node:zlib';

/** One reading as the hot log carries it: the stored value (scaled integer, 0/1, REAL or enum text). */
export interface HotRecord {
  seriesId: number;
  ts: number; // ms
  value: number | string;
  /** The `readings.flags` column: 0 when the device stamped the reading, 1 for gateway time. */
  flags: number;
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
  segments: number[];
  /** Empty on a clean log; a torn write shows up as one `torn` entry at the tail of the last segment. */
  damage: LogDamage[];
}

export interface HotLogOptions {
  /** Folder of the segments, e.g. `<data>/hotlog`; created when missing. */
  dir: string;
}

// Frame: u32 payload length, u32 CRC32 of the payload, payload = u8 format + records.
// Record: u8 kind, u8 flags, u32 series id, 48-bit signed ts (±4,400 years of ms), then an f64
// (kind 1; scaled integers up to 2^53 are exact in it) or u16 length + UTF-8 text (kind 2).
const FRAME_HEADER = 8;
const FRAME_FORMAT = 1;
const KIND_NUMBER = 1;
const KIND_TEXT = 2;
const NUMBER_RECORD = 1 + 1 + 4 + 6 + 8;
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
export function encodeFrame(records: readonly HotRecord[]): Buffer {
  let size = FRAME_HEADER + 1;
  const texts: Array<Buffer | undefined> = records.map((r) => {
    if (typeof r.value === 'number') {
      size += NUMBER_RECORD;
      return undefined;
    }
    const text = Buffer.from(r.value, 'utf8');
    if (text.length > 0xffff) throw new RangeError(`enum value of ${text.length} bytes does not fit a log record`);
    size += NUMBER_RECORD - 8 + 2 + text.length;
    return text;
  });
  if (size - FRAME_HEADER > MAX_FRAME) throw new RangeError(`a group of ${records.length} records is larger than a log frame`);
  const buf = Buffer.allocUnsafe(size);
  let at = FRAME_HEADER;
  buf.writeUInt8(FRAME_FORMAT, at++);
  records.forEach((r, i) => {
    const text = texts[i];
    buf.writeUInt8(text ? KIND_TEXT : KIND_NUMBER, at);
    buf.writeUInt8(r.flags, at + 1);
    buf.writeUInt32LE(r.seriesId, at + 2);
    buf.writeIntLE(r.ts, at + 6, 6);
    at += 12;
    if (text) {
      buf.writeUInt16LE(text.length, at);
      text.copy(buf, at + 2);
      at += 2 + text.length;
    } else {
      buf.writeDoubleLE(r.value as number, at);
      at += 8;
    }
  });
  buf.writeUInt32LE(size - FRAME_HEADER, 0);
  buf.writeUInt32LE(crc32(buf.subarray(FRAME_HEADER)), 4);
  return buf;
}

type FrameRead = { ok: true; records: HotRecord[]; next: number } | { ok: false; reason: LogDamage['reason'] };

function readFrame(buf: Buffer, at: number): FrameRead {
  if (buf.length - at < FRAME_HEADER) return { ok: false, reason: 'torn' };
  const length = buf.readUInt32LE(at);
  if (length < 1 || length > MAX_FRAME) return { ok: false, reason: 'malformed' };
  const end = at + FRAME_HEADER + length;
  if (end > buf.length) return { ok: false, reason: 'torn' };
  const payload = buf.subarray(at + FRAME_HEADER, end);
  if (crc32(payload) !== buf.readUInt32LE(at + 4)) return { ok: false, reason: 'checksum' };
  if (payload[0] !== FRAME_FORMAT) return { ok: false, reason: 'malformed' };
  const records: HotRecord[] = [];
  let p = 1;
  while (p < payload.length) {
    if (payload.length - p < 12) return { ok: false, reason: 'malformed' };
    const kind = payload[p]!;
    const flags = payload[p + 1]!;
    const seriesId = payload.readUInt32LE(p + 2);
    const ts = payload.readIntLE(p + 6, 6);
    p += 12;
    if (kind === KIND_NUMBER) {
      if (payload.length - p < 8) return { ok: false, reason: 'malformed' };
      records.push({ seriesId, ts, value: payload.readDoubleLE(p), flags });
      p += 8;
    } else if (kind === KIND_TEXT) {
      const n = payload.length - p >= 2 ? payload.readUInt16LE(p) : -1;
      if (n < 0 || payload.length - p - 2 < n) return { ok: false, reason: 'malformed' };
      records.push({ seriesId, ts, value: payload.toString('utf8', p + 2, p + 2 + n), flags });
      p += 2 + n;
    } else return { ok: false, reason: 'malformed' };
  }
  return { ok: true, records, next: end };
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
    return { log, replay: { records, segments: [...segments], damage } };
  }

  /** Appends one group of records as one frame with one write(); returns the bytes written. */
  append(records: readonly HotRecord[]): number {
    if (records.length === 0) return 0;
    const frame = encodeFrame(records);
    const fd = this.requireFd();
    let done = 0;
    // A regular file takes the whole buffer in one write(); the loop only guards a short write.
    while (done < frame.length) done += writeSync(fd, frame, done, frame.length - done);
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
      this.inFlight = new Promise<void>((resolve, reject) => fdatasync(fd, (err) => (err ? reject(err) : resolve()))).finally(() => {
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
        at = frame.next;
      }
    }
    const old = this.rotate();
    // Split so no frame nears MAX_FRAME however large the head is.
    for (let i = 0; i < kept.length; i += 50_000) this.append(kept.slice(i, i + 50_000));
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
