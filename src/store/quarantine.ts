import type { SluiceDatabase } from '../core/index.js';
import type { QuarantineEntry } from '../ingest/index.js';

/** [PRIV-4] the quarantine keeps at most this much of a refused payload. */
export const QUARANTINE_PAYLOAD_BYTES = 256;

/** Appends quarantine rows, dropping the oldest beyond the count and byte caps (drops are counted). */
export class QuarantineWriter {
  private readonly insert;
  private readonly dropOldest;
  private readonly countDrops;
  private readonly count;
  private entries: number;
  private bytes: number;

  constructor(
    db: SluiceDatabase,
    private readonly maxEntries: number,
    private readonly maxBytes: number,
  ) {
    this.insert = db.raw.prepare(
      'INSERT INTO quarantine (device_id, client_id, topic, reason, message, refused, payload_head, payload_bytes, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.dropOldest = db.raw.prepare<[], { bytes: number }>(
      'DELETE FROM quarantine WHERE id = (SELECT MIN(id) FROM quarantine) RETURNING length(payload_head) + length(message) + length(topic) AS bytes',
    );
    this.countDrops = db.raw.prepare(
      "INSERT INTO store_counters (name, value) VALUES ('quarantine_dropped', 1) ON CONFLICT (name) DO UPDATE SET value = value + 1",
    );
    this.count = db.raw.prepare<[], { n: number; bytes: number | null }>(
      'SELECT COUNT(*) AS n, SUM(length(payload_head) + length(message) + length(topic)) AS bytes FROM quarantine',
    );
    const row = this.count.get()!;
    this.entries = row.n;
    this.bytes = row.bytes ?? 0;
  }

  /** Re-reads the totals, after a rolled-back transaction or an erase left them stale. */
  resync(): void {
    const row = this.count.get()!;
    this.entries = row.n;
    this.bytes = row.bytes ?? 0;
  }

  /** Must run inside the write transaction. */
  add(entry: QuarantineEntry): void {
    const head = entry.payload.subarray(0, QUARANTINE_PAYLOAD_BYTES);
    const message = entry.message.slice(0, 1000);
    this.insert.run(
      entry.deviceId,
      entry.clientId,
      entry.topic,
      entry.reason,
      message,
      entry.refused && entry.refused.length > 0 ? JSON.stringify(entry.refused) : null,
      head,
      entry.payload.length,
      entry.receivedAt,
    );
    this.entries++;
    this.bytes += head.length + Buffer.byteLength(message) + Buffer.byteLength(entry.topic);
    while (this.entries > this.maxEntries || (this.bytes > this.maxBytes && this.entries > 1)) {
      const dropped = this.dropOldest.get();
      if (!dropped) break;
      this.entries--;
      this.bytes -= dropped.bytes;
      this.countDrops.run();
    }
  }
}
