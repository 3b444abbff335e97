import type { RawDatabase } from '../core/index.js';
import { appendChunk, chunkKindOf, chunkPartCount, decodeChunk, encodeChunk, type ChunkSamples } from './chunk-codec.js';

/**
 * One sealed chunk covers one series for one period, aligned to the epoch: the hourly seal then
 * writes each series' chunk once, and a retention cutoff on a whole hour never cuts a chunk.
 */
export const CHUNK_PERIOD = 3_600_000;

/** One sealed reading: the stored value (as `encodeValue` makes it) and the flags (1: gateway-stamped). */
export interface SealedSample {
  ts: number;
  v: number | string;
  flags: number;
}

interface ChunkRow {
  id: number;
  first_ts: number;
  last_ts: number;
  count: number;
  flags: Buffer | null;
  data: Buffer;
}

export function periodOf(ts: number): number {
  return Math.floor(ts / CHUNK_PERIOD) * CHUNK_PERIOD;
}

/**
 * A chunk's rowid: its hour since the epoch × 2^21 + its series id. Rowids grow with time, so a
 * seal appends at the end of the table, where SQLite fills pages to the brim (a WITHOUT ROWID
 * key of (period, series) left them half empty: B-tree splits of an index tree).
 */
const SERIES_SPAN = 2 ** 21;

function chunkId(period: number, seriesId: number): number {
  if (!Number.isInteger(seriesId) || seriesId < 0 || seriesId >= SERIES_SPAN) throw new RangeError(`series id ${seriesId} does not fit a chunk id`);
  return (period / CHUNK_PERIOD) * SERIES_SPAN + seriesId;
}

function periodOfId(id: number): number {
  return Math.floor(id / SERIES_SPAN) * CHUNK_PERIOD;
}

/**
 * The sealed readings of every series, in both layouts an installation can hold: compressed
 * chunks (what seals write, ~2 B per reading) and the rows of the `readings` table (what a
 * database from before the chunks holds, and what the writer without a hot log writes). Every
 * reader in the store goes through this class, so neither layout is read anywhere else.
 *
 * Chunks are keyed by (period, series) in one rowid: a seal appends its chunks at the end of the
 * B-tree, a few full pages for the whole household instead of one page per series. A series'
 * chunks are found by point lookups over the periods between the oldest and newest chunk of the
 * table, a span that retention keeps short.
 */
export class SealedReadings {
  private readonly hasChunks: boolean;
  private readonly st;

  constructor(private readonly raw: RawDatabase) {
    // A pre-upgrade backup (`sluice.db.bak`) may predate the chunks table.
    this.hasChunks = raw.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'chunks'").get() !== undefined;
    const chunkSql = this.hasChunks
      ? {
          chunk: raw.prepare<[number], ChunkRow>('SELECT id, first_ts, last_ts, count, flags, data FROM chunks WHERE id = ?'),
          // Two subqueries: SQLite answers a lone MIN or MAX from the B-tree's edge, but scans every row for both at once.
          span: raw.prepare<[], { lo: number | null; hi: number | null }>('SELECT (SELECT MIN(id) FROM chunks) AS lo, (SELECT MAX(id) FROM chunks) AS hi'),
          put: raw.prepare('INSERT OR REPLACE INTO chunks (id, series_id, first_ts, last_ts, count, flags, data) VALUES (?, ?, ?, ?, ?, ?, ?)'),
          drop: raw.prepare('DELETE FROM chunks WHERE id = ?'),
        }
      : undefined;
    this.st = {
      ...chunkSql,
      legacyRange: raw.prepare<[number, number, number, number], { ts: number; v: number | string; flags: number | null }>(
        'SELECT ts, v, flags FROM readings WHERE series_id = ? AND ts >= ? AND ts < ? ORDER BY ts LIMIT ?',
      ),
      legacyBefore: raw.prepare<[number, number], { ts: number; v: number | string; flags: number | null }>('SELECT ts, v, flags FROM readings WHERE series_id = ? AND ts < ? ORDER BY ts DESC LIMIT 1'),
      legacyLatest: raw.prepare<[number], { ts: number; v: number | string; flags: number | null }>('SELECT ts, v, flags FROM readings WHERE series_id = ? ORDER BY ts DESC LIMIT 1'),
      legacyOldest: raw.prepare<[number], { ts: number | null }>('SELECT MIN(ts) AS ts FROM readings WHERE series_id = ?'),
      legacyCount: raw.prepare<[number, number], { n: number }>('SELECT COUNT(*) AS n FROM readings WHERE series_id = ? AND ts < ?'),
      legacyDelete: raw.prepare('DELETE FROM readings WHERE series_id = ? AND ts IN (SELECT ts FROM readings WHERE series_id = ? AND ts < ? ORDER BY ts LIMIT ?)'),
    };
  }

  /** The series' sealed readings with from <= ts < to, oldest first, at most `limit`. */
  range(seriesId: number, from: number, to: number, limit = Number.MAX_SAFE_INTEGER): SealedSample[] {
    const legacy = this.st.legacyRange.all(seriesId, from, to, Math.min(limit, Number.MAX_SAFE_INTEGER)).map(fromRow);
    const chunked: SealedSample[] = [];
    for (const row of this.chunksForward(seriesId, from, to)) {
      for (const s of samplesOf(row)) {
        if (s.ts >= from && s.ts < to) chunked.push(s);
      }
      if (chunked.length >= limit) break;
    }
    return mergeSamples(legacy, chunked).slice(0, limit);
  }

  /** The series' newest sealed reading before `ts`. */
  previous(seriesId: number, ts: number): SealedSample | undefined {
    const legacy = this.st.legacyBefore.get(seriesId, ts);
    let best = legacy ? fromRow(legacy) : undefined;
    for (const row of this.chunksBackward(seriesId, ts)) {
      if (best && row.last_ts < best.ts) break;
      const before = samplesOf(row).filter((s) => s.ts < ts);
      const last = before.at(-1);
      if (last) {
        if (!best || last.ts > best.ts) best = last;
        break;
      }
    }
    return best;
  }

  /** The series' newest sealed reading. */
  latest(seriesId: number): SealedSample | undefined {
    return this.previous(seriesId, Number.MAX_SAFE_INTEGER);
  }

  /** ms of the series' oldest sealed reading; null when it has none. */
  oldest(seriesId: number): number | null {
    const legacy = this.st.legacyOldest.get(seriesId)?.ts ?? null;
    const first = this.chunksForward(seriesId, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER).next();
    const chunked = first.done ? null : first.value.first_ts;
    if (legacy === null) return chunked;
    return chunked === null ? legacy : Math.min(legacy, chunked);
  }

  /** Sealed readings of the series with ts < before. */
  count(seriesId: number, before = Number.MAX_SAFE_INTEGER): number {
    let n = this.st.legacyCount.get(seriesId, before)!.n;
    for (const row of this.chunksForward(seriesId, Number.MIN_SAFE_INTEGER, before)) {
      n += row.last_ts < before ? row.count : samplesOf(row).filter((s) => s.ts < before).length;
    }
    return n;
  }

  /** The ts of the reading `offset` places after the first one at or after `from`, if there is one. */
  tsAt(seriesId: number, from: number, offset: number): number | undefined {
    return this.range(seriesId, from, Number.MAX_SAFE_INTEGER, offset + 1)[offset]?.ts;
  }

  /**
   * Adds readings to the series' chunks (read, merge, re-encode one chunk per period). A reading
   * already sealed at the same ts is kept and the new one ignored, as `INSERT OR IGNORE` did, so
   * a hot log replayed after a crash between a seal and its segment drop adds nothing twice.
   * Call inside a transaction.
   */
  write(seriesId: number, samples: readonly SealedSample[]): void {
    for (const row of this.merged(seriesId, samples)) this.putRow(row);
  }

  /**
   * The chunk rows `write` would store, without storing them: the seal worker computes every row
   * first and takes SQLite's write lock only to put them, so the gateway's own writes wait less.
   */
  merged(seriesId: number, samples: readonly SealedSample[]): EncodedChunk[] {
    const st = this.chunkStatements();
    const byPeriod = new Map<number, SealedSample[]>();
    for (const s of samples) {
      const p = periodOf(s.ts);
      let list = byPeriod.get(p);
      if (!list) byPeriod.set(p, (list = []));
      list.push(s);
    }
    const rows: EncodedChunk[] = [];
    for (const [period, list] of byPeriod) {
      const existing = st.chunk.get(chunkId(period, seriesId));
      rows.push((existing && appended(existing, seriesId, list)) || this.encodeRow(period, seriesId, mergeInto(existing ? samplesOf(existing) : [], list)));
    }
    return rows;
  }

  /** Stores a row made by `merged` (replacing the chunk of its series and period). Call inside a transaction. */
  putRow(row: EncodedChunk): void {
    this.chunkStatements().put.run(row.id, row.seriesId, row.firstTs, row.lastTs, row.count, row.flags, row.data);
  }

  /**
   * Removes the series' readings with ts < end, oldest first, stopping once `limit` are gone
   * (a chunk is taken whole, so a step may remove up to a chunk more). A chunk that straddles
   * `end` is re-encoded with what it keeps. Returns the readings removed. Call inside a transaction.
   */
  deleteBefore(seriesId: number, end: number, limit = Number.MAX_SAFE_INTEGER): number {
    let removed = this.st.legacyDelete.run(seriesId, seriesId, end, Math.min(limit, Number.MAX_SAFE_INTEGER)).changes;
    if (!this.hasChunks) return removed;
    const st = this.chunkStatements();
    for (const row of [...this.chunksForward(seriesId, Number.MIN_SAFE_INTEGER, end)]) {
      if (removed >= limit) break;
      if (row.last_ts < end) {
        st.drop.run(row.id);
        removed += row.count;
        continue;
      }
      const kept = samplesOf(row).filter((s) => s.ts >= end);
      removed += row.count - kept.length;
      if (kept.length === 0) st.drop.run(row.id);
      else this.putChunk(periodOfId(row.id), seriesId, kept);
    }
    return removed;
  }

  /** Every sealed reading and the oldest and newest ts, over all series. */
  totals(): { readings: number; oldest: number | null; newest: number | null } {
    const raw = this.raw;
    const legacy = raw.prepare<[], { n: number; lo: number | null; hi: number | null }>(
      // Per series through the primary key, instead of a scan of every reading for MIN and MAX.
      `SELECT (SELECT COUNT(*) FROM readings) AS n,
              (SELECT MIN((SELECT MIN(ts) FROM readings WHERE series_id = s.id)) FROM series s) AS lo,
              (SELECT MAX((SELECT MAX(ts) FROM readings WHERE series_id = s.id)) FROM series s) AS hi`,
    ).get()!;
    if (!this.hasChunks) return { readings: legacy.n, oldest: legacy.lo, newest: legacy.hi };
    const chunked = raw
      .prepare<[], { n: number | null; lo: number | null; hi: number | null }>(
        `SELECT (SELECT SUM(count) FROM chunks) AS n,
                (SELECT MIN(first_ts) FROM chunks WHERE id < (SELECT MIN(id) FROM chunks) / ${SERIES_SPAN} * ${SERIES_SPAN} + ${SERIES_SPAN}) AS lo,
                (SELECT MAX(last_ts) FROM chunks WHERE id >= (SELECT MAX(id) FROM chunks) / ${SERIES_SPAN} * ${SERIES_SPAN}) AS hi`,
      )
      .get()!;
    const pick = (a: number | null, b: number | null, f: (x: number, y: number) => number) => (a === null ? b : b === null ? a : f(a, b));
    return { readings: legacy.n + (chunked.n ?? 0), oldest: pick(legacy.lo, chunked.lo, Math.min), newest: pick(legacy.hi, chunked.hi, Math.max) };
  }

  private chunkStatements() {
    const { chunk, span, put, drop } = this.st;
    if (!chunk || !span || !put || !drop) throw new Error('this database has no chunks table (run its migrations first)');
    return { chunk, span, put, drop };
  }

  private putChunk(period: number, seriesId: number, sorted: readonly SealedSample[]): void {
    this.putRow(this.encodeRow(period, seriesId, sorted));
  }

  private encodeRow(period: number, seriesId: number, sorted: readonly SealedSample[]): EncodedChunk {
    const { data, flags } = encodeSamples(sorted);
    return { id: chunkId(period, seriesId), seriesId, firstTs: sorted[0]!.ts, lastTs: sorted.at(-1)!.ts, count: sorted.length, flags, data };
  }

  /** The series' chunks that may hold readings in [from, to), oldest first. */
  private *chunksForward(seriesId: number, from: number, to: number): Generator<ChunkRow> {
    if (!this.st.chunk || !this.st.span) return;
    const { lo, hi } = this.st.span.get()!;
    if (lo === null || hi === null) return;
    const last = Math.min(periodOfId(hi), periodOf(Math.min(to - 1, Number.MAX_SAFE_INTEGER)));
    for (let p = Math.max(periodOfId(lo), periodOf(from)); p <= last; p += CHUNK_PERIOD) {
      const row = this.st.chunk.get(chunkId(p, seriesId));
      if (row) yield row;
    }
  }

  /** The series' chunks that may hold readings before `ts`, newest first. */
  private *chunksBackward(seriesId: number, ts: number): Generator<ChunkRow> {
    if (!this.st.chunk || !this.st.span) return;
    const { lo, hi } = this.st.span.get()!;
    if (lo === null || hi === null) return;
    for (let p = Math.min(periodOfId(hi), periodOf(Math.min(ts - 1, Number.MAX_SAFE_INTEGER))); p >= periodOfId(lo); p -= CHUNK_PERIOD) {
      const row = this.st.chunk.get(chunkId(p, seriesId));
      if (row) yield row;
    }
  }
}

/** One chunk row, encoded and ready to store. */
export interface EncodedChunk {
  id: number;
  seriesId: number;
  firstTs: number;
  lastTs: number;
  count: number;
  flags: Buffer | null;
  data: Buffer;
}

/** A chunk takes this many appended parts before a seal re-encodes it whole (each part costs ~15 bytes of headers). */
const MAX_PARTS = 16;

/**
 * The chunk with `added` appended as a part of its own, when every added sample is after its
 * last one (a burst sealing several times an hour): no decode and re-encode of what is sealed.
 * Undefined when the samples must be merged instead.
 */
function appended(existing: ChunkRow, seriesId: number, added: readonly SealedSample[]): EncodedChunk | undefined {
  if (added.length === 0 || added[0]!.ts <= existing.last_ts || chunkPartCount(existing.data) >= MAX_PARTS) return undefined;
  for (let i = 1; i < added.length; i++) if (added[i]!.ts <= added[i - 1]!.ts) return undefined;
  const part = encodeSamples(added);
  const kinds = [chunkKindOf(existing.data), chunkKindOf(part.data)];
  // Text and numbers never share a chunk (the whole-chunk path reports it).
  if (kinds.includes(undefined) || (kinds[0] !== kinds[1] && kinds.includes('enum'))) return undefined;
  const flags = existing.flags || part.flags ? Buffer.concat([existing.flags ?? deviceStamped(existing.count), part.flags ?? deviceStamped(added.length)]) : null;
  return { id: existing.id, seriesId, firstTs: existing.first_ts, lastTs: added.at(-1)!.ts, count: existing.count + added.length, flags, data: Buffer.from(appendChunk(existing.data, part.data)) };
}

/** The flags of `count` device-stamped readings, as one run. */
function deviceStamped(count: number): Buffer {
  const out: number[] = [];
  varint(out, 0);
  varint(out, count);
  return Buffer.from(out);
}

/**
 * Sealed samples (sorted, unique ts) with new ones added, sorted; a new sample at a ts already
 * sealed is ignored, and of new samples at one ts the first wins. New samples after the sealed
 * ones (every seal but one replayed after a crash) are appended without a merge.
 */
function mergeInto(sealed: SealedSample[], added: readonly SealedSample[]): SealedSample[] {
  let ascending = true;
  for (let i = 1; i < added.length && ascending; i++) ascending = added[i]!.ts > added[i - 1]!.ts;
  if (ascending && (sealed.length === 0 || added.length === 0 || added[0]!.ts > sealed.at(-1)!.ts)) return sealed.length === 0 ? [...added] : sealed.concat(added);
  const merged = new Map<number, SealedSample>();
  for (const s of added) if (!merged.has(s.ts)) merged.set(s.ts, s);
  for (const s of sealed) merged.set(s.ts, s);
  return [...merged.values()].sort((a, b) => a.ts - b.ts);
}

function fromRow(r: { ts: number; v: number | string; flags: number | null }): SealedSample {
  return { ts: r.ts, v: r.v, flags: r.flags === 1 ? 1 : 0 };
}

/** Both layouts, oldest first; where both hold a ts (a log replayed into chunks over old rows), the row wins. */
function mergeSamples(legacy: SealedSample[], chunked: SealedSample[]): SealedSample[] {
  if (legacy.length === 0) return chunked;
  if (chunked.length === 0) return legacy;
  const byTs = new Map<number, SealedSample>();
  for (const s of chunked) byTs.set(s.ts, s);
  for (const s of legacy) byTs.set(s.ts, s);
  return [...byTs.values()].sort((a, b) => a.ts - b.ts);
}

function samplesOf(row: ChunkRow): SealedSample[] {
  const decoded = decodeChunk(row.data);
  const flags = decodeFlags(row.flags, decoded.ts.length);
  return decoded.ts.map((ts, i) => ({ ts, v: decoded.values[i]!, flags: flags[i]! }));
}

/**
 * The chunk for a series' stored values: scaled integers, 0/1 and integral numbers as `int`
 * deltas, other numbers as Gorilla XOR floats, text as an enum dictionary.
 */
export function encodeSamples(sorted: readonly SealedSample[]): { data: Buffer; flags: Buffer | null } {
  const ts = sorted.map((s) => s.ts);
  // -0 is stored as 0, as the row layout (an integer bound as BigInt) always did.
  const values = sorted.map((s) => (Object.is(s.v, -0) ? 0 : s.v));
  let samples: ChunkSamples;
  if (values.every((v): v is string => typeof v === 'string')) samples = { kind: 'enum', ts, values };
  else if (values.every((v): v is number => typeof v === 'number' && Number.isSafeInteger(v))) samples = { kind: 'int', ts, values };
  else if (values.every((v): v is number => typeof v === 'number')) samples = { kind: 'float', ts, values };
  else throw new RangeError('a chunk cannot mix text and numbers');
  return { data: Buffer.from(encodeChunk(samples)), flags: encodeFlags(sorted.map((s) => s.flags)) };
}

/** Run-length pairs (flag, run) as varints; NULL when every reading was stamped by its device. */
function encodeFlags(flags: readonly number[]): Buffer | null {
  if (flags.every((f) => f === 0)) return null;
  const out: number[] = [];
  for (let i = 0; i < flags.length; ) {
    let j = i;
    while (j < flags.length && flags[j] === flags[i]) j++;
    varint(out, flags[i]!);
    varint(out, j - i);
    i = j;
  }
  return Buffer.from(out);
}

function decodeFlags(bytes: Buffer | null, count: number): number[] {
  if (!bytes) return new Array<number>(count).fill(0);
  const out: number[] = [];
  const cursor = { at: 0 };
  while (cursor.at < bytes.length && out.length < count) {
    const flag = readVarint(bytes, cursor);
    const run = readVarint(bytes, cursor);
    for (let k = 0; k < run; k++) out.push(flag);
  }
  while (out.length < count) out.push(0);
  return out.slice(0, count);
}

function varint(out: number[], value: number): void {
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
}

function readVarint(bytes: Buffer, cursor: { at: number }): number {
  let value = 0;
  let scale = 1;
  for (;;) {
    const byte = bytes[cursor.at++];
    if (byte === undefined) return value;
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) return value;
    scale *= 0x80;
  }
}
