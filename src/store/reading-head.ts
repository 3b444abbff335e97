import type { HotDelivery, HotRecord } from './hot-log.js';

/** One unsealed reading: the stored value (as `encodeValue` makes it) and the `readings.flags` column. */
export interface HeadEntry {
  ts: number; // ms
  value: number | string;
  flags: number;
}

/**
 * The readings that are in the hot log but not yet sealed into SQLite, per series, plus the
 * gateway-stamped deliveries logged with them. Filled by appends and by the replay at start;
 * emptied by a seal. First write of a (series, ts) wins, as `INSERT OR IGNORE` does.
 */
export class ReadingHead {
  private readonly series = new Map<number, Map<number, HeadEntry>>();
  private readonly deliveryMap = new Map<string, HotDelivery>();
  private count = 0;

  /** Readings held. */
  get size(): number {
    return this.count;
  }

  /** Nothing held: no reading and no delivery. */
  get isEmpty(): boolean {
    return this.count === 0 && this.deliveryMap.size === 0;
  }

  /** Adds a reading unless its (series, ts) is already held; returns whether it was added. */
  add(r: HotRecord): boolean {
    let m = this.series.get(r.seriesId);
    if (!m) {
      m = new Map();
      this.series.set(r.seriesId, m);
    }
    if (m.has(r.ts)) return false;
    m.set(r.ts, { ts: r.ts, value: r.value, flags: r.flags });
    this.count++;
    return true;
  }

  has(seriesId: number, ts: number): boolean {
    return this.series.get(seriesId)?.has(ts) ?? false;
  }

  addDelivery(d: HotDelivery): void {
    this.deliveryMap.set(deliveryKey(d.clientId, d.packetId), d);
  }

  delivery(clientId: string, packetId: number): HotDelivery | undefined {
    return this.deliveryMap.get(deliveryKey(clientId, packetId));
  }

  /** The series' readings with from <= ts < to, oldest first. */
  range(seriesId: number, from: number, to: number): HeadEntry[] {
    const m = this.series.get(seriesId);
    if (!m) return [];
    const out: HeadEntry[] = [];
    for (const e of m.values()) if (e.ts >= from && e.ts < to) out.push(e);
    return out.sort((a, b) => a.ts - b.ts);
  }

  /** The series' newest reading. */
  latest(seriesId: number): HeadEntry | undefined {
    let best: HeadEntry | undefined;
    for (const e of this.series.get(seriesId)?.values() ?? []) if (!best || e.ts > best.ts) best = e;
    return best;
  }

  seriesIds(): number[] {
    return [...this.series.keys()];
  }

  /** Takes everything out, for a seal; `restore` puts it back when the seal's transaction fails. */
  drain(): { records: HotRecord[]; deliveries: HotDelivery[] } {
    const records: HotRecord[] = [];
    for (const [seriesId, m] of this.series) for (const e of m.values()) records.push({ seriesId, ts: e.ts, value: e.value, flags: e.flags });
    const deliveries = [...this.deliveryMap.values()];
    this.clear();
    return { records, deliveries };
  }

  restore(drained: { records: readonly HotRecord[]; deliveries: readonly HotDelivery[] }): void {
    for (const r of drained.records) this.add(r);
    // Deliveries that arrived meanwhile are newer: keep them.
    for (const d of drained.deliveries) if (!this.delivery(d.clientId, d.packetId)) this.addDelivery(d);
  }

  clear(): void {
    this.series.clear();
    this.deliveryMap.clear();
    this.count = 0;
  }
}

function deliveryKey(clientId: string, packetId: number): string {
  return `${packetId}\0${clientId}`;
}
