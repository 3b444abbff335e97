import { readFileSync } from 'node:fs';
import type { SluiceDatabase } from '../core/index.js';
import { HotLog, type HotDelivery, type HotRecord, type LogReplay } from './hot-log.js';
import { ReadingHead } from './reading-head.js';
import { SealedReadings, periodOf, type SealedSample } from './sealed.js';

export const HOT_LOG_DIR = 'hotlog';

/** What a seal moved from the hot log into SQLite. */
export interface SealResult {
  readings: number;
  deliveries: number;
  /** segments removed after the commit */
  segments: number;
}

/**
 * The hot path's storage: the append-only log and the in-memory head of its readings. Readings
 * reach SQLite only when sealed: one synchronous=FULL transaction per hour (or per full head)
 * of compressed chunks instead of one per message, which is what spares an SD card.
 */
export class HotStore {
  readonly head = new ReadingHead();
  private log: HotLog | undefined;
  private diskFull = false;

  private constructor(
    private readonly dir: string,
    /** The replay at open: its damage is reported at start. */
    readonly replay: LogReplay,
  ) {}

  /**
   * Opens the log at `dir`, replaying it into the head. `repair` (the gateway) truncates a torn
   * tail away and keeps the log open for appends; without it (a CLI command) nothing is written
   * until a seal needs to.
   */
  static open(dir: string, options: { repair: boolean }): HotStore {
    if (options.repair) {
      const { log, replay } = HotLog.open({ dir });
      const store = new HotStore(dir, replay);
      store.log = log;
      store.load(replay);
      return store;
    }
    const replay = HotLog.read({ dir });
    const store = new HotStore(dir, replay);
    store.load(replay);
    return store;
  }

  /** Appends one frame (one write()); the records join the head once it returned. */
  append(records: readonly HotRecord[], deliveries: readonly HotDelivery[]): number {
    if (this.diskFull) throw Object.assign(new Error('ENOSPC: no space left on device, write (simulated)'), { code: 'ENOSPC' });
    const bytes = this.writable().append(records, deliveries);
    for (const r of records) this.head.add(r);
    for (const d of deliveries) this.head.addDelivery(d);
    return bytes;
  }

  /** Group fdatasync of everything appended so far. */
  sync(): Promise<void> {
    return this.log ? this.log.sync() : Promise.resolve();
  }

  /**
   * Moves the head into compressed chunks (one per series and hour) and `deliveries` in one
   * transaction, then drops the sealed segments (zero-filled first with `overwrite`, for an
   * erase). A crash between the commit and the drop replays those readings again; the merge
   * into the chunks keeps the readings already sealed.
   */
  seal(db: SluiceDatabase, options: { overwrite?: boolean } = {}): SealResult {
    const log = this.writable();
    const segments = log.segments();
    if (this.head.isEmpty && log.currentSegmentBytes() === 0 && segments.length === 1) {
      return { readings: 0, deliveries: 0, segments: 0 };
    }
    const through = log.rotate();
    const drained = this.head.drain();
    try {
      const sealed = new SealedReadings(db.raw);
      const upsert = db.raw.prepare('INSERT OR REPLACE INTO deliveries (client_id, packet_id, payload_hash, ts) VALUES (?, ?, ?, ?)');
      // In key order (period, series): the B-tree grows at its end instead of splitting pages.
      const records = [...drained.records].sort((a, b) => periodOf(a.ts) - periodOf(b.ts) || a.seriesId - b.seriesId || a.ts - b.ts);
      const groups: Array<{ seriesId: number; samples: SealedSample[] }> = [];
      for (const r of records) {
        let group = groups.at(-1);
        if (!group || group.seriesId !== r.seriesId || periodOf(group.samples[0]!.ts) !== periodOf(r.ts)) groups.push((group = { seriesId: r.seriesId, samples: [] }));
        group.samples.push({ ts: r.ts, v: r.value, flags: r.flags === 1 ? 1 : 0 });
      }
      db.tx(() => {
        for (const g of groups) sealed.write(g.seriesId, g.samples);
        for (const d of drained.deliveries) upsert.run(d.clientId, d.packetId, d.payloadHash, d.ts);
      });
    } catch (err) {
      this.head.restore(drained);
      throw err;
    }
    const dropped = log.drop(through, { overwrite: options.overwrite ?? false });
    return { readings: drained.records.length, deliveries: drained.deliveries.length, segments: dropped.length };
  }

  /** Bytes in the log's segments not yet sealed (current segment only; older ones are dropped by seals). */
  pendingBytes(): number {
    return this.log?.currentSegmentBytes() ?? 0;
  }

  /** TEST ONLY (the `test.max_page_count` hook): appends fail as on a full disk while set. */
  simulateFullDisk(full: boolean): void {
    this.diskFull = full;
  }

  close(): void {
    this.log?.close();
    this.log = undefined;
  }

  private writable(): HotLog {
    // A CLI command opens the log for writing only when it must seal (erase, maintenance).
    this.log ??= HotLog.open({ dir: this.dir }).log;
    return this.log;
  }

  private load(replay: LogReplay): void {
    for (const r of replay.records) this.head.add(r);
    for (const d of replay.deliveries) this.head.addDelivery(d);
  }
}

/** Bytes this process has caused to be written to storage (`write_bytes` of /proc/self/io); null off Linux. */
export function processWriteBytes(): number | null {
  try {
    const m = /^write_bytes:\s*(\d+)/m.exec(readFileSync('/proc/self/io', 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}
