import type { SeriesType } from './codec.js';

/**
 * How a chunk holds its values: `int` for scaled integers and booleans (0/1), `float` for REAL
 * series without a resolution (Gorilla XOR), `enum` for text states (a dictionary + indices).
 */
export type ChunkKind = 'int' | 'float' | 'enum';

/** The samples of one chunk, in the order they were given (sealed chunks are sorted by ts). */
export type ChunkSamples =
  | { kind: 'int'; ts: number[]; values: number[] }
  | { kind: 'float'; ts: number[]; values: number[] }
  | { kind: 'enum'; ts: number[]; values: string[] };

/** The chunk kind that stores a series' values exactly as `encodeValue` produces them. */
export function chunkKindFor(type: SeriesType, scale: number | null): ChunkKind {
  if (type === 'boolean') return 'int';
  if (type === 'enum') return 'enum';
  return scale ? 'int' : 'float';
}

const FORMAT_VERSION = 1;
const KIND_CODES: Record<ChunkKind, number> = { int: 0, float: 1, enum: 2 };
const KINDS: ChunkKind[] = ['int', 'float', 'enum'];

// ±2^50 ms is ±35,000 years around 1970: every delta and delta-of-delta then stays a safe
// integer, so the codec never needs BigInt.
const MAX_TS = 2 ** 50;
const TWO_32 = 2 ** 32;

/**
 * Encodes samples: timestamps as delta-of-delta in variable-width buckets (Gorilla, widened for
 * millisecond jitter), `int` values as bucketed deltas, `float` values as XOR of the previous
 * value's bits, `enum` values as dictionary indices coded like `int`. Lossless (an `int` chunk
 * reads -0 back as 0: a scaled integer has no sign of zero).
 */
export function encodeChunk(samples: ChunkSamples): Uint8Array {
  const { ts } = samples;
  const count = ts.length;
  if (samples.values.length !== count) throw new RangeError(`chunk has ${count} timestamps but ${samples.values.length} values`);
  const head: number[] = [FORMAT_VERSION, KIND_CODES[samples.kind]];
  writeVarint(head, count);
  let ints: number[] | undefined;
  if (samples.kind === 'enum') {
    const index = new Map<string, number>();
    ints = samples.values.map((state) => {
      let i = index.get(state);
      if (i === undefined) {
        i = index.size;
        index.set(state, i);
      }
      return i;
    });
    writeVarint(head, index.size);
    const utf8 = new TextEncoder();
    for (const state of index.keys()) {
      const bytes = utf8.encode(state);
      writeVarint(head, bytes.length);
      for (const b of bytes) head.push(b);
    }
  } else if (samples.kind === 'int') {
    ints = samples.values;
  }

  const bits = new BitWriter(count * 3 + 16);
  writeTimestamps(bits, ts);
  if (ints) writeIntegers(bits, ints);
  else writeFloats(bits, samples.values as number[]);
  const body = bits.finish();
  const out = new Uint8Array(head.length + body.length);
  out.set(head, 0);
  out.set(body, head.length);
  return out;
}

/**
 * A chunk in parts (format 2: a part count, then each part's length and its format-1 bytes):
 * a seal that only adds readings after a chunk's last one appends a part instead of decoding and
 * re-encoding the whole chunk, which made each of a burst's seals cost more than the one before.
 */
const PARTS_VERSION = 2;

/** The chunk `existing` (either format) with `part` (format 1, every ts after existing's last) appended. */
export function appendChunk(existing: Uint8Array, part: Uint8Array): Uint8Array {
  const parts = chunkParts(existing);
  parts.push(part);
  const head: number[] = [PARTS_VERSION];
  writeVarint(head, parts.length);
  let size = 0;
  const lengths: number[][] = parts.map((p) => {
    const l: number[] = [];
    writeVarint(l, p.length);
    size += l.length + p.length;
    return l;
  });
  const out = new Uint8Array(head.length + size);
  out.set(head, 0);
  let at = head.length;
  parts.forEach((p, i) => {
    out.set(lengths[i]!, at);
    at += lengths[i]!.length;
    out.set(p, at);
    at += p.length;
  });
  return out;
}

/** The kind of a chunk's (first part's) values. */
export function chunkKindOf(bytes: Uint8Array): ChunkKind | undefined {
  const first = chunkParts(bytes)[0];
  return first && first[0] === FORMAT_VERSION ? KINDS[first[1] ?? -1] : undefined;
}

/** How many parts a chunk has (1 for format 1). */
export function chunkPartCount(bytes: Uint8Array): number {
  return bytes[0] === PARTS_VERSION ? readVarint(bytes, { at: 1 }) : 1;
}

function chunkParts(bytes: Uint8Array): Uint8Array[] {
  if (bytes[0] !== PARTS_VERSION) return [bytes];
  const cursor = { at: 1 };
  const count = readVarint(bytes, cursor);
  const parts: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const length = readVarint(bytes, cursor);
    if (cursor.at + length > bytes.length) throw new RangeError('chunk part runs past its end');
    parts.push(bytes.subarray(cursor.at, cursor.at + length));
    cursor.at += length;
  }
  return parts;
}

/** Decodes a chunk written by `encodeChunk` (or `appendChunk`); throws a RangeError on bytes it does not recognise. */
export function decodeChunk(bytes: Uint8Array): ChunkSamples {
  if (bytes[0] === PARTS_VERSION) {
    const parts = chunkParts(bytes).map(decodePart);
    const first = parts[0];
    if (!first) throw new RangeError('chunk has no parts');
    // Parts of one series share a kind, except that integral numbers and floats may alternate.
    const kind = parts.every((p) => p.kind === first.kind) ? first.kind : parts.some((p) => p.kind === 'enum') ? undefined : 'float';
    if (!kind) throw new RangeError('chunk parts mix text and numbers');
    return { kind, ts: parts.flatMap((p) => p.ts), values: parts.flatMap((p) => p.values as Array<number | string>) } as ChunkSamples;
  }
  return decodePart(bytes);
}

function decodePart(bytes: Uint8Array): ChunkSamples {
  if (bytes[0] !== FORMAT_VERSION) throw new RangeError(`unknown chunk format ${bytes[0]}`);
  const kind = KINDS[bytes[1] ?? -1];
  if (!kind) throw new RangeError(`unknown chunk kind ${bytes[1]}`);
  const cursor = { at: 2 };
  const count = readVarint(bytes, cursor);
  let dictionary: string[] | undefined;
  if (kind === 'enum') {
    const size = readVarint(bytes, cursor);
    const utf8 = new TextDecoder('utf-8', { fatal: true });
    dictionary = [];
    for (let i = 0; i < size; i++) {
      const length = readVarint(bytes, cursor);
      if (cursor.at + length > bytes.length) throw new RangeError('chunk dictionary runs past its end');
      dictionary.push(utf8.decode(bytes.subarray(cursor.at, cursor.at + length)));
      cursor.at += length;
    }
  }
  const bits = new BitReader(bytes.subarray(cursor.at));
  const ts = readTimestamps(bits, count);
  if (kind === 'float') return { kind, ts, values: readFloats(bits, count) };
  const ints = readIntegers(bits, count);
  if (kind === 'int') return { kind, ts, values: ints };
  const states = ints.map((i) => {
    const state = dictionary![i];
    if (state === undefined) throw new RangeError(`chunk refers to state ${i} of ${dictionary!.length}`);
    return state;
  });
  return { kind, ts, values: states };
}

/** The number of samples in a chunk, read from its header(s) without decoding it. */
export function chunkCount(bytes: Uint8Array): number {
  if (bytes[0] === PARTS_VERSION) return chunkParts(bytes).reduce((n, p) => n + readVarint(p, { at: 2 }), 0);
  return readVarint(bytes, { at: 2 });
}

// --- timestamps: delta-of-delta --------------------------------------------------------------

// Bucket widths (bits of the zigzagged delta-of-delta) after a unary prefix 0, 10, 110, 1110,
// 11110; 11111 is a raw sign + 53-bit magnitude. A gateway-stamped 10 s series jitters by tens of
// ms, so the 10-bit bucket (±512 ms) carries most of it; Gorilla's second-resolution buckets
// would push ms jitter into the wide ones.
const TS_BUCKETS = [7, 10, 14, 24];

function writeTimestamps(bits: BitWriter, ts: readonly number[]): void {
  let prev = 0;
  let prevDelta = 0;
  for (let i = 0; i < ts.length; i++) {
    const t = ts[i]!;
    if (!Number.isInteger(t) || Math.abs(t) > MAX_TS) throw new RangeError(`timestamp ${t} is not an integer ms within ±2^50`);
    if (i === 0) {
      writeRaw(bits, t);
    } else {
      const delta = t - prev;
      const dod = delta - prevDelta;
      if (!writeBucketed(bits, dod, TS_BUCKETS)) writeEscape(bits, TS_BUCKETS, dod);
      prevDelta = delta;
    }
    prev = t;
  }
}

function readTimestamps(bits: BitReader, count: number): number[] {
  const ts: number[] = [];
  let prev = 0;
  let prevDelta = 0;
  for (let i = 0; i < count; i++) {
    if (i === 0) {
      prev = readRaw(bits);
    } else {
      prevDelta += readBucketed(bits, TS_BUCKETS);
      prev += prevDelta;
    }
    ts.push(prev);
  }
  return ts;
}

// --- integers: bucketed deltas ---------------------------------------------------------------

// A room temperature at 0.01 °C moves a few steps between readings: an unchanged value costs one
// bit and a small step six. A counter or power reading takes the wider buckets.
const INT_BUCKETS = [4, 8, 16, 32];

function writeIntegers(bits: BitWriter, values: readonly number[]): void {
  let prev = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isSafeInteger(v)) throw new RangeError(`value ${v} is not a safe integer (an int chunk holds scaled integers)`);
    if (i === 0) writeRaw(bits, v);
    else {
      const delta = v - prev;
      // A jump wider than the widest bucket (or past the safe range) stores the value itself.
      if (!Number.isSafeInteger(delta) || !writeBucketed(bits, delta, INT_BUCKETS)) writeEscape(bits, INT_BUCKETS, v);
    }
    prev = v;
  }
}

function readIntegers(bits: BitReader, count: number): number[] {
  const values: number[] = [];
  let prev = 0;
  for (let i = 0; i < count; i++) {
    if (i === 0) prev = readRaw(bits);
    else {
      const step = readBucketedOrEscape(bits, INT_BUCKETS);
      prev = step.raw ? step.value : prev + step.value;
    }
    values.push(prev);
  }
  return values;
}

/**
 * Zero is a single 0 bit; bucket k is k+1 ones, a zero and the zigzagged value; the escape (all
 * ones) is written by the caller. Returns false, writing nothing, when no bucket is wide enough.
 */
function writeBucketed(bits: BitWriter, value: number, buckets: readonly number[]): boolean {
  if (value === 0) {
    bits.write(0, 1);
    return true;
  }
  const zz = value >= 0 ? value * 2 : -value * 2 - 1;
  for (let k = 0; k < buckets.length; k++) {
    const width = buckets[k]!;
    if (zz < 2 ** width) {
      bits.write((2 ** (k + 2) - 2) >>> 0, k + 2);
      writeWide(bits, zz, width);
      return true;
    }
  }
  return false;
}

function writeEscape(bits: BitWriter, buckets: readonly number[], value: number): void {
  bits.write(2 ** (buckets.length + 1) - 1, buckets.length + 1);
  writeRaw(bits, value);
}

function readBucketed(bits: BitReader, buckets: readonly number[]): number {
  return readBucketedOrEscape(bits, buckets).value;
}

function readBucketedOrEscape(bits: BitReader, buckets: readonly number[]): { value: number; raw: boolean } {
  let ones = 0;
  while (ones <= buckets.length && bits.read(1) === 1) ones++;
  if (ones === 0) return { value: 0, raw: false };
  if (ones > buckets.length) return { value: readRaw(bits), raw: true };
  const zz = readWide(bits, buckets[ones - 1]!);
  return { value: zz % 2 === 0 ? zz / 2 : -(zz + 1) / 2, raw: false };
}

/** A sign bit and a 53-bit magnitude: any safe integer. */
function writeRaw(bits: BitWriter, value: number): void {
  bits.write(value < 0 ? 1 : 0, 1);
  writeWide(bits, Math.abs(value), 53);
}

function readRaw(bits: BitReader): number {
  const negative = bits.read(1) === 1;
  const magnitude = readWide(bits, 53);
  return negative ? -magnitude : magnitude;
}

/** Writes a non-negative integer below 2^width (width ≤ 64, value safe). */
function writeWide(bits: BitWriter, value: number, width: number): void {
  if (width <= 32) {
    bits.write(value >>> 0, width);
    return;
  }
  bits.write(Math.floor(value / TWO_32) >>> 0, width - 32);
  bits.write(value % TWO_32 >>> 0, 32);
}

function readWide(bits: BitReader, width: number): number {
  if (width <= 32) return bits.read(width);
  const hi = bits.read(width - 32);
  return hi * TWO_32 + bits.read(32);
}

// --- floats: Gorilla XOR ---------------------------------------------------------------------

function writeFloats(bits: BitWriter, values: readonly number[]): void {
  const view = new DataView(new ArrayBuffer(8));
  let prevHi = 0;
  let prevLo = 0;
  // The previous meaningful-bit window; -1 until one exists.
  let windowLeading = -1;
  let windowTrailing = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (typeof v !== 'number') throw new RangeError(`value ${String(v)} is not a number`);
    view.setFloat64(0, v);
    const hi = view.getUint32(0);
    const lo = view.getUint32(4);
    if (i === 0) {
      bits.write(hi, 32);
      bits.write(lo, 32);
    } else {
      const xHi = (hi ^ prevHi) >>> 0;
      const xLo = (lo ^ prevLo) >>> 0;
      if (xHi === 0 && xLo === 0) bits.write(0, 1);
      else {
        const leading = xHi !== 0 ? Math.clz32(xHi) : 32 + Math.clz32(xLo);
        const trailing = xLo !== 0 ? ctz32(xLo) : 32 + ctz32(xHi);
        if (windowLeading >= 0 && leading >= windowLeading && trailing >= windowTrailing) {
          // '10': the meaningful bits fit the previous window.
          bits.write(0b10, 2);
          writeBits64(bits, xHi, xLo, windowTrailing, 64 - windowLeading - windowTrailing);
        } else {
          // '11': a new window; the leading count is capped at 31 to fit 5 bits.
          const lead = Math.min(leading, 31);
          const length = 64 - lead - trailing;
          bits.write(0b11, 2);
          bits.write(lead, 5);
          bits.write(length & 63, 6); // 64 is stored as 0 (a length of 0 never occurs)
          writeBits64(bits, xHi, xLo, trailing, length);
          windowLeading = lead;
          windowTrailing = trailing;
        }
      }
    }
    prevHi = hi;
    prevLo = lo;
  }
}

function readFloats(bits: BitReader, count: number): number[] {
  const view = new DataView(new ArrayBuffer(8));
  const values: number[] = [];
  let hi = 0;
  let lo = 0;
  let windowLeading = 0;
  let windowTrailing = 0;
  for (let i = 0; i < count; i++) {
    if (i === 0) {
      hi = bits.read(32);
      lo = bits.read(32);
    } else if (bits.read(1) === 1) {
      if (bits.read(1) === 1) {
        windowLeading = bits.read(5);
        const length = bits.read(6) || 64;
        windowTrailing = 64 - windowLeading - length;
      }
      const [xHi, xLo] = readBits64(bits, windowTrailing, 64 - windowLeading - windowTrailing);
      hi = (hi ^ xHi) >>> 0;
      lo = (lo ^ xLo) >>> 0;
    }
    view.setUint32(0, hi);
    view.setUint32(4, lo);
    values.push(view.getFloat64(0));
  }
  return values;
}

/** Writes `length` bits of the 64-bit word (hi, lo) starting `shift` bits above its lowest bit. */
function writeBits64(bits: BitWriter, hi: number, lo: number, shift: number, length: number): void {
  let sHi: number;
  let sLo: number;
  if (shift === 0) [sHi, sLo] = [hi, lo];
  else if (shift >= 32) [sHi, sLo] = [0, hi >>> (shift - 32)];
  else [sHi, sLo] = [hi >>> shift, ((lo >>> shift) | (hi << (32 - shift))) >>> 0];
  if (length > 32) {
    bits.write(sHi, length - 32);
    bits.write(sLo, 32);
  } else bits.write(sLo, length);
}

function readBits64(bits: BitReader, shift: number, length: number): [number, number] {
  let sHi = 0;
  let sLo: number;
  if (length > 32) {
    sHi = bits.read(length - 32);
    sLo = bits.read(32);
  } else sLo = bits.read(length);
  if (shift === 0) return [sHi, sLo];
  if (shift >= 32) return [(sLo << (shift - 32)) >>> 0, 0];
  return [((sHi << shift) | (sLo >>> (32 - shift))) >>> 0, (sLo << shift) >>> 0];
}

function ctz32(x: number): number {
  return 31 - Math.clz32(x & -x);
}

// --- bit and byte plumbing -------------------------------------------------------------------

class BitWriter {
  private buf: Uint8Array;
  private bitLength = 0;

  constructor(bytes: number) {
    this.buf = new Uint8Array(Math.max(bytes, 16));
  }

  /** Appends the low `n` bits of `value` (n ≤ 32), most significant first. */
  write(value: number, n: number): void {
    let remaining = n;
    while (remaining > 0) {
      const index = this.bitLength >>> 3;
      if (index >= this.buf.length) {
        const grown = new Uint8Array(this.buf.length * 2);
        grown.set(this.buf);
        this.buf = grown;
      }
      const free = 8 - (this.bitLength & 7);
      const take = Math.min(free, remaining);
      const part = Math.floor(value / 2 ** (remaining - take)) & ((1 << take) - 1);
      this.buf[index] = this.buf[index]! | (part << (free - take));
      this.bitLength += take;
      remaining -= take;
    }
  }

  finish(): Uint8Array {
    return this.buf.slice(0, (this.bitLength + 7) >>> 3);
  }
}

class BitReader {
  private bitOffset = 0;

  constructor(private readonly bytes: Uint8Array) {}

  /** Reads `n` bits (n ≤ 32) as an unsigned integer. */
  read(n: number): number {
    let result = 0;
    let remaining = n;
    while (remaining > 0) {
      const index = this.bitOffset >>> 3;
      const byte = this.bytes[index];
      if (byte === undefined) throw new RangeError('chunk ends before its last sample');
      const available = 8 - (this.bitOffset & 7);
      const take = Math.min(available, remaining);
      const part = (byte >>> (available - take)) & ((1 << take) - 1);
      result = result * 2 ** take + part;
      this.bitOffset += take;
      remaining -= take;
    }
    return result;
  }
}

function writeVarint(out: number[], value: number): void {
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
}

function readVarint(bytes: Uint8Array, cursor: { at: number }): number {
  let value = 0;
  let scale = 1;
  for (;;) {
    const byte = bytes[cursor.at++];
    if (byte === undefined) throw new RangeError('chunk header ends inside a number');
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) return value;
    scale *= 0x80;
    if (scale > 2 ** 49) throw new RangeError('chunk header number is too long');
  }
}
