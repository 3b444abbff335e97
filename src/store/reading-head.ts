import type { HotDelivery, HotRecord } from './hot-log.js';

/** One unsealed reading: the stored value (as `encodeValue` makes it) and the `readings.flags` column. */
export interface HeadEntry {
  ts: number; // ms
  value: number | string;
  flags: number;
}

/** One series' readings as the head holds them: parallel arrays in arrival order. */
export interface SeriesColumns {
  readonly ts: readonly number[];
  readonly values: ReadonlyArray<number | string>;
  readonly flags: readonly number[];
  readonly maxTs: number;
  has(ts: number): boolean;
}

/** A part of the head taken out for a seal off the event loop; it stays readable until that seal commits. */
export interface FrozenHead {
  readonly series: ReadonlyMap<number, SeriesColumns>;
  readonly deliveries: ReadonlyMap<string, HotDelivery>;
  readonly size: number;
}

/**
 * One series' unsealed readings in arrival order, as parallel arrays: a head of 100,000
 * readings is a few arrays of unboxed numbers, not 100,000 objects and map entries that every
 * garbage collection copies and traces (that was a third of ingest's CPU under a burst).
 */
class SeriesHead implements SeriesColumns {
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
}

function entryAt(m: SeriesColumns, i: number): HeadEntry {
  return { ts: m.ts[i]!, value: m.values[i]!, flags: m.flags[i]! };
}

function recordsOf(series: ReadonlyMap<number, SeriesColumns>, into: HotRecord[]): HotRecord[] {
  for (const [seriesId, m] of series) for (let i = 0; i < m.ts.length; i++) into.push({ seriesId, ts: m.ts[i]!, value: m.values[i]!, flags: m.flags[i]! });
  return into;
}

/**
 * The readings that are in the hot log but not yet sealed into SQLite, per series, plus the
 * gateway-stamped deliveries logged with them. Filled by appends and by the replay at start;
 * emptied by a seal. First write of a (series, ts) wins, as `INSERT OR IGNORE` does.
 *
 * A seal on the seal worker freezes the head first: the frozen part is what the worker writes,
 * and every read here still sees it until `release` (the worker committed) or `thaw` (it failed),
 * so a reading is in exactly one of live, frozen or SQLite from the event loop's point of view.
 */
export class ReadingHead {
  private series = new Map<number, SeriesHead>();
  private deliveryMap = new Map<string, HotDelivery>();
  private count = 0;
  private frozenPart: FrozenHead | undefined;

  /** Readings held, the frozen part included. */
  get size(): number {
    return this.count + (this.frozenPart?.size ?? 0);
  }

  /** Readings added since the last freeze (what makes the head "full" again). */
  get liveSize(): number {
    return this.count;
  }

  /** The part a seal in flight is writing, if any. */
  get frozen(): FrozenHead | undefined {
    return this.frozenPart;
  }

  /** Nothing held: no reading and no delivery. */
  get isEmpty(): boolean {
    return this.size === 0 && this.deliveryMap.size === 0 && (this.frozenPart?.deliveries.size ?? 0) === 0;
  }

  /** Adds a reading unless its (series, ts) is already held; returns whether it was added. */
  add(r: HotRecord): boolean {
    if (this.frozenPart?.series.get(r.seriesId)?.has(r.ts)) return false;
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
    return (this.series.get(seriesId)?.has(ts) ?? false) || (this.frozenPart?.series.get(seriesId)?.has(ts) ?? false);
  }

  addDelivery(d: HotDelivery): void {
    this.deliveryMap.set(deliveryKey(d.clientId, d.packetId), d);
  }

  delivery(clientId: string, packetId: number): HotDelivery | undefined {
    const key = deliveryKey(clientId, packetId);
    return this.deliveryMap.get(key) ?? this.frozenPart?.deliveries.get(key);
  }

  /** The series' readings with from <= ts < to, oldest first. */
  range(seriesId: number, from: number, to: number): HeadEntry[] {
    const out: HeadEntry[] = [];
    for (const m of [this.frozenPart?.series.get(seriesId), this.series.get(seriesId)]) {
      if (!m) continue;
      for (let i = 0; i < m.ts.length; i++) {
        const ts = m.ts[i]!;
        if (ts >= from && ts < to) out.push(entryAt(m, i));
      }
    }
    return out.sort((a, b) => a.ts - b.ts);
  }

  /** The series' newest reading. */
  latest(seriesId: number): HeadEntry | undefined {
    let best: HeadEntry | undefined;
    for (const m of [this.frozenPart?.series.get(seriesId), this.series.get(seriesId)]) {
      if (!m || (best && m.maxTs <= best.ts)) continue;
      // Usually the last one appended.
      for (let i = m.ts.length - 1; i >= 0; i--) {
        if (m.ts[i] === m.maxTs) {
          best = entryAt(m, i);
          break;
        }
      }
    }
    return best;
  }

  seriesIds(): number[] {
    return [...new Set([...(this.frozenPart?.series.keys() ?? []), ...this.series.keys()])];
  }

  /** Moves everything live into the frozen part (in O(1)), for a seal off the event loop. */
  freeze(): FrozenHead {
    if (this.frozenPart) throw new Error('a seal is already in flight');
    const frozen: FrozenHead = { series: this.series, deliveries: this.deliveryMap, size: this.count };
    this.frozenPart = frozen;
    this.series = new Map();
    this.deliveryMap = new Map();
    this.count = 0;
    return frozen;
  }

  /** The frozen part is sealed (the worker committed): forget it. */
  release(): void {
    this.frozenPart = undefined;
  }

  /** The seal of the frozen part failed: it goes back into the live head. */
  thaw(): void {
    const frozen = this.frozenPart;
    if (!frozen) return;
    this.frozenPart = undefined;
    this.restore({ records: recordsOf(frozen.series, []), deliveries: [...frozen.deliveries.values()] });
  }

  /** Takes everything live out, for a seal on the event loop; `restore` puts it back when the seal's transaction fails. */
  drain(): { records: HotRecord[]; deliveries: HotDelivery[] } {
    const records = recordsOf(this.series, []);
    const deliveries = [...this.deliveryMap.values()];
    this.clear();
    return { records, deliveries };
  }

  restore(drained: { records: readonly HotRecord[]; deliveries: readonly HotDelivery[] }): void {
    for (const r of drained.records) this.add(r);
    // Deliveries that arrived meanwhile are newer: keep them.
    for (const d of drained.deliveries) if (!this.delivery(d.clientId, d.packetId)) this.addDelivery(d);
  }

  /** Forgets the live part (a drain); a frozen part stays until its seal ends. */
  clear(): void {
    this.series.clear();
    this.deliveryMap.clear();
    this.count = 0;
  }
}

function deliveryKey(clientId: string, packetId: number): string {
  return `${packetId}\0${clientId}`;
}
