import type { RawDatabase } from '../core/index.js';
import type { HotDelivery, HotRecord } from './hot-log.js';
import type { FrozenHead, HeadEntry } from './reading-head.js';
import { SealedReadings, periodOf, type EncodedChunk, type SealedSample } from './sealed.js';

/**
 * The readings of one seal as columns, so they cross to the seal worker as transferred buffers
 * instead of a structured clone of 100,000 objects. A text value is an index into `texts`, marked
 * by bit 1 of its flags; bit 0 is the `readings.flags` bit (gateway-stamped).
 */
export interface SealBatch {
  series: Uint32Array;
  ts: Float64Array;
  values: Float64Array;
  flags: Uint8Array;
  texts: string[];
  deliveries: HotDelivery[];
}

const TEXT = 2;

/** Packs head entries (the frozen part of a seal off the event loop) into columns. */
export function packSealBatch(frozen: Pick<FrozenHead, 'series' | 'size'>, deliveries: Iterable<HotDelivery>): SealBatch {
  const n = frozen.size;
  const batch: SealBatch = { series: new Uint32Array(n), ts: new Float64Array(n), values: new Float64Array(n), flags: new Uint8Array(n), texts: [], deliveries: [...deliveries] };
  let i = 0;
  for (const [seriesId, m] of frozen.series) {
    for (let j = 0; j < m.ts.length; j++) {
      batch.series[i] = seriesId;
      batch.ts[i] = m.ts[j]!;
      put(batch, i, m.values[j]!, m.flags[j]!);
      i++;
    }
  }
  if (i !== n) throw new Error(`the frozen head holds ${i} readings, not ${n}`);
  return batch;
}

/** Packs drained records (a seal on the event loop) into columns. */
export function packRecords(records: readonly HotRecord[], deliveries: readonly HotDelivery[]): SealBatch {
  const n = records.length;
  const batch: SealBatch = { series: new Uint32Array(n), ts: new Float64Array(n), values: new Float64Array(n), flags: new Uint8Array(n), texts: [], deliveries: [...deliveries] };
  for (let i = 0; i < n; i++) {
    const r = records[i]!;
    batch.series[i] = r.seriesId;
    batch.ts[i] = r.ts;
    put(batch, i, r.value, r.flags);
  }
  return batch;
}

function put(batch: SealBatch, i: number, value: HeadEntry['value'], flags: number): void {
  const gateway = flags === 1 ? 1 : 0;
  if (typeof value === 'string') {
    batch.values[i] = batch.texts.push(value) - 1;
    batch.flags[i] = gateway | TEXT;
  } else {
    batch.values[i] = value;
    batch.flags[i] = gateway;
  }
}

/** The buffers to transfer with a batch (it must not be used afterwards on the sending side). */
export function transferList(batch: SealBatch): ArrayBuffer[] {
  return [batch.series.buffer, batch.ts.buffer, batch.values.buffer, batch.flags.buffer] as ArrayBuffer[];
}

/** What a seal's transaction does besides the chunks and deliveries (the worker's epoch and test seams). */
export interface SealWriteOptions {
  /** `deferred`: the chunks are computed in a read snapshot and the write lock is taken only to store them (SQLITE_BUSY_SNAPSHOT if the gateway wrote meanwhile: retry with `immediate`). */
  transaction?: 'immediate' | 'deferred';
  /** Runs inside the transaction, after the writes, before the commit. */
  beforeCommit?: (raw: RawDatabase) => void;
}

/**
 * Writes a batch into chunks (one per series and hour, merged with what is sealed already) and
 * `deliveries`, in one transaction of `raw`. The same code runs on the seal worker's connection
 * and, for a synchronous seal, on the gateway's.
 */
export function writeSealBatch(raw: RawDatabase, batch: SealBatch, options: SealWriteOptions = {}): void {
  const sealed = new SealedReadings(raw);
  const upsert = raw.prepare('INSERT OR REPLACE INTO deliveries (client_id, packet_id, payload_hash, ts) VALUES (?, ?, ?, ?)');
  const n = batch.ts.length;
  // In key order (period, series): the B-tree grows at its end instead of splitting pages.
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const { series, ts } = batch;
  order.sort((a, b) => periodOf(ts[a]!) - periodOf(ts[b]!) || series[a]! - series[b]! || ts[a]! - ts[b]!);
  const run = raw.transaction(() => {
    const rows: EncodedChunk[] = [];
    let samples: SealedSample[] = [];
    let groupSeries = -1;
    let groupPeriod = Number.NaN;
    for (let k = 0; k < n; k++) {
      const i = order[k]!;
      const s = series[i]!;
      const p = periodOf(ts[i]!);
      if (s !== groupSeries || p !== groupPeriod) {
        if (samples.length > 0) rows.push(...sealed.merged(groupSeries, samples));
        samples = [];
        groupSeries = s;
        groupPeriod = p;
      }
      const f = batch.flags[i]!;
      samples.push({ ts: ts[i]!, v: f & TEXT ? batch.texts[batch.values[i]!]! : batch.values[i]!, flags: f & 1 });
    }
    if (samples.length > 0) rows.push(...sealed.merged(groupSeries, samples));
    for (const row of rows) sealed.putRow(row);
    for (const d of batch.deliveries) upsert.run(d.clientId, d.packetId, Buffer.from(d.payloadHash.buffer, d.payloadHash.byteOffset, d.payloadHash.byteLength), d.ts);
    options.beforeCommit?.(raw);
  });
  if (options.transaction === 'deferred') run.deferred();
  else run.immediate();
}
