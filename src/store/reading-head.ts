import type { HotDelivery, HotRecord } from './hot-log.js';

/** One unsealed reading: the stored value (as `encodeValue` makes it) and the `readings.flags` column. */
export interface HeadEntry {
  ts: number; // ms
  value: number | string;
  flags: number;
}

/**
 * One series' unsealed readings in arrival order, as parallel arrays: a head of 100,000
 * readings is a few arrays of unboxed numbers, not 100,000 objects and map entries that every
 * garbage collection copies and traces (that was a third of ingest's CPU under a burst).
 */
class SeriesHead {
  readonly ts: number[] = [];
  readonly values: Array<number | string> = [];
  readonly flags: number[] = [];
  /** The largest ts held: a reading newer than it (the usual case) needs no lookup. */
  maxTs = Number.NEGATIVE_INFINITY;
  /** Every ts held, built at the first reading that is not the newest, and kept from then on. */
  private index: Set<number> | undefined;

  has(ts: number): boolean {
    if (ts > this.maxTs) return false;
    this.index ??= new Set(this.ts);
    return this.index.has(ts);
  }

  add(ts: number, value: number | string, flags: number): boolean {
    if (this.has(ts)) return false;
    if (ts > this.maxTs) this.maxTs = ts;
    this.index?.add(ts);
    this.ts.push(ts);
    this.values.push(value);
    this.flags.push(flags);
    return true;
  }

  entry(i: number): HeadEntry {
    return { ts: this.ts[i]!, value: this.values[i]!, flags: this.flags[i]! };
  }
}

/**
 * The readings that are in the hot log but not yet sealed into SQLite, per series, plus the
 * gateway-stamped deliveries logged with them. Filled by appends and by the replay at start;
 * emptied by a seal. First write of a (series, ts) wins, as `INSERT OR IGNORE` does.
 */
export class ReadingHead {
  private readonly series = new Map<number, SeriesHead>();
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
      m = new SeriesHead();
      this.series.set(r.seriesId, m);
    }
    if (!m.add(r.ts, r.value, r.flags)) return false;
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
    for (let i = 0; i < m.ts.length; i++) {
      const ts = m.ts[i]!;
      if (ts >= from && ts < to) out.push(m.entry(i));
    }
    return out.sort((a, b) => a.ts - b.ts);
  }

  /** The series' newest reading. */
  latest(seriesId: number): HeadEntry | undefined {
    const m = this.series.get(seriesId);
    if (!m) return undefined;
    // Usually the last one appended.
    for (let i = m.ts.length - 1; i >= 0; i--) if (m.ts[i] === m.maxTs) return m.entry(i);
    return undefined;
  }

  seriesIds(): number[] {
    return [...this.series.keys()];
  }

  /** Takes everything out, for a seal; `restore` puts it back when the seal's transaction fails. */
  drain(): { records: HotRecord[]; deliveries: HotDelivery[] } {
    const records: HotRecord[] = [];
    for (const [seriesId, m] of this.series) for (let i = 0; i < m.ts.length; i++) records.push({ seriesId, ts: m.ts[i]!, value: m.values[i]!, flags: m.flags[i]! });
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
