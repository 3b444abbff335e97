import type { SluiceDatabase } from '../core/index.js';
import type { ReadingValue, RefusedMetric, TimeSource } from '../ingest/index.js';
import { decodeValue, type SeriesType } from './codec.js';

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

/** Read access to stored readings and the quarantine. */
export class StoreQueries {
  constructor(private readonly db: SluiceDatabase) {}

  readings(q: ReadingQuery): StoredReading[] {
    const rows = this.db.raw
      .prepare<unknown[], Row>(
        `SELECT s.metric, s.component, s.type, s.unit, s.scale, r.ts, r.v, r.flags
           FROM series s JOIN readings r ON r.series_id = s.id
          WHERE s.device_id = ? AND (? IS NULL OR s.metric = ?) AND r.ts >= ? AND r.ts < ?
          ORDER BY r.ts, s.component, s.metric
          LIMIT ?`,
      )
      .all(q.deviceId, q.metric ?? null, q.metric ?? null, q.since ?? 0, q.until ?? Number.MAX_SAFE_INTEGER, q.limit ?? 10_000);
    return rows.map(toReading);
  }

  /** The newest reading of each of the device's series. */
  latest(deviceId: string): StoredReading[] {
    const rows = this.db.raw
      .prepare<[string], Row>(
        `SELECT s.metric, s.component, s.type, s.unit, s.scale, r.ts, r.v, r.flags
           FROM series s JOIN readings r ON r.series_id = s.id
            AND r.ts = (SELECT MAX(ts) FROM readings WHERE series_id = s.id)
          WHERE s.device_id = ? ORDER BY s.component, s.metric`,
      )
      .all(deviceId);
    return rows.map(toReading);
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
