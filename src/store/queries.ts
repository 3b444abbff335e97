import type { SluiceDatabase } from '../core/index.js';
import type { ReadingValue, RefusedMetric, TimeSource } from '../ingest/index.js';
import { decodeValue, type SeriesType } from './codec.js';
import type { ReadingHead } from './reading-head.js';
import { SealedReadings } from './sealed.js';

export interface StoredReading {
  metric: string;
  component: string;
  value: ReadingValue;
  unit: string | null;
  /** ms since the epoch */
  ts: number;
  timeSource: TimeSource;
}

export interface ReadingQuery {
  deviceId: string;
  metric?: string | undefined;
  /** ms since the epoch, inclusive */
  since?: number | undefined;
  /** ms since the epoch, exclusive */
  until?: number | undefined;
  limit?: number | undefined;
}

export interface QuarantinedMessage {
  id: number;
  deviceId: string | null;
  clientId: string | null;
  topic: string;
  reason: string;
  message: string;
  refused: RefusedMetric[];
  payloadHead: Buffer;
  payloadBytes: number;
  receivedAt: number;
}

interface Row {
  series_id: number;
  metric: string;
  component: string;
  type: SeriesType;
  unit: string | null;
  scale: number | null;
  ts: number;
  v: number | string;
  flags: number | null;
}

function toReading(r: Row): StoredReading {
  return {
    metric: r.metric,
    component: r.component,
    value: decodeValue(r.type, r.scale, r.v),
    unit: r.unit,
    ts: r.ts,
    timeSource: r.flags === 1 ? 'gateway' : 'device',
  };
}

interface SeriesRow {
  series_id: number;
  metric: string;
  component: string;
  type: SeriesType;
  unit: string | null;
  scale: number | null;
}

function byTimeThenName(a: Row, b: Row): number {
  return a.ts - b.ts || cmp(a.component, b.component) || cmp(a.metric, b.metric);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Read access to stored readings (sealed chunks and rows, and the hot log's head) and the quarantine. */
export class StoreQueries {
  private readonly sealed: SealedReadings;

  /** `head`: the readings not yet sealed; a sealed reading wins over a head entry of the same (series, ts). */
  constructor(
    private readonly db: SluiceDatabase,
    private readonly head?: ReadingHead,
  ) {
    this.sealed = new SealedReadings(db.raw);
  }

  readings(q: ReadingQuery): StoredReading[] {
    const since = q.since ?? 0;
    const until = q.until ?? Number.MAX_SAFE_INTEGER;
    const limit = q.limit ?? 10_000;
    const rows: Row[] = [];
    // The first `limit` readings of the device are among the first `limit` of each series.
    for (const s of this.seriesOf(q.deviceId, q.metric)) {
      const sealed = this.sealed.range(s.series_id, since, until, limit);
      const seen = new Set<number>();
      for (const r of sealed) {
        seen.add(r.ts);
        rows.push({ ...s, ts: r.ts, v: r.v, flags: r.flags === 1 ? 1 : null });
      }
      for (const e of this.head?.range(s.series_id, since, until) ?? []) {
        if (!seen.has(e.ts)) rows.push({ ...s, ts: e.ts, v: e.value, flags: e.flags === 1 ? 1 : null });
      }
    }
    return rows.sort(byTimeThenName).slice(0, limit).map(toReading);
  }

  /** The newest reading of each of the device's series. */
  latest(deviceId: string): StoredReading[] {
    const rows: Row[] = [];
    for (const s of this.seriesOf(deviceId, undefined)) {
      const sealed = this.sealed.latest(s.series_id);
      const e = this.head?.latest(s.series_id);
      if (e && (!sealed || e.ts > sealed.ts)) rows.push({ ...s, ts: e.ts, v: e.value, flags: e.flags === 1 ? 1 : null });
      else if (sealed) rows.push({ ...s, ts: sealed.ts, v: sealed.v, flags: sealed.flags === 1 ? 1 : null });
    }
    return rows.sort((a, b) => cmp(a.component, b.component) || cmp(a.metric, b.metric)).map(toReading);
  }

  private seriesOf(deviceId: string, metric: string | undefined): SeriesRow[] {
    return this.db.raw
      .prepare<unknown[], SeriesRow>('SELECT id AS series_id, metric, component, type, unit, scale FROM series WHERE device_id = ? AND (? IS NULL OR metric = ?)')
      .all(deviceId, metric ?? null, metric ?? null);
  }

  quarantine(options: { deviceId?: string | undefined; limit?: number } = {}): QuarantinedMessage[] {
    const rows = this.db.raw
      .prepare<unknown[], { id: number; device_id: string | null; client_id: string | null; topic: string; reason: string; message: string; refused: string | null; payload_head: Buffer | null; payload_bytes: number; received_at: number }>(
        `SELECT * FROM quarantine WHERE (? IS NULL OR device_id = ?) ORDER BY id DESC LIMIT ?`,
      )
      .all(options.deviceId ?? null, options.deviceId ?? null, options.limit ?? 1000);
    return rows.map((r) => ({
      id: r.id,
      deviceId: r.device_id,
      clientId: r.client_id,
      topic: r.topic,
      reason: r.reason,
      message: r.message,
      refused: r.refused ? (JSON.parse(r.refused) as RefusedMetric[]) : [],
      payloadHead: r.payload_head ?? Buffer.alloc(0),
      payloadBytes: r.payload_bytes,
      receivedAt: r.received_at,
    }));
  }

  counter(name: string): number {
    return this.db.raw.prepare<[string], { value: number }>('SELECT value FROM store_counters WHERE name = ?').get(name)?.value ?? 0;
  }
}
