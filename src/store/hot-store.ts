import { readFileSync } from 'node:fs';
import type { SluiceDatabase } from '../core/index.js';
import { HotLog, type HotDelivery, type HotRecord, type LogReplay } from './hot-log.js';
import { ReadingHead } from './reading-head.js';
import { packRecords, packSealBatch, writeSealBatch } from './seal-batch.js';
import type { SealOutcome, SealWorker } from './seal-worker.js';
import type { SyncTimesSummary } from './sync-times.js';

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
  /** The seal on the worker: the log segments it covers, the epoch its commit records, the erase's zero-fill if one waits for it. */
  private inFlight: SealFlight | undefined;
  /** a synchronous seal is running */
  private sealingNow = false;

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

  /** How long the last group fdatasyncs took; null before the first (or without a writable log). */
  syncTimes(): SyncTimesSummary | null {
    return this.log?.syncTimes.summary() ?? null;
  }

  /**
   * Moves the head into compressed chunks (one per series and hour) and `deliveries` in one
   * transaction on the event loop, then drops the sealed segments (zero-filled first with
   * `overwrite`, for an erase). A seal in flight on the worker is waited for first (and its
   * segments are zero-filled too with `overwrite`), so everything appended before this call is
   * sealed when it returns. A crash between the commit and the drop replays those readings again;
   * the merge into the chunks keeps the readings already sealed.
   */
  seal(db: SluiceDatabase, options: { overwrite?: boolean } = {}): SealResult {
    this.sealingNow = true;
    try {
      return this.sealHere(db, options);
    } finally {
      this.sealingNow = false;
    }
  }

  private sealHere(db: SluiceDatabase, options: { overwrite?: boolean }): SealResult {
    const waited = this.waitForSeal({ overwrite: options.overwrite ?? false });
    const log = this.writable();
    const segments = log.segments();
    if (this.head.isEmpty && log.currentSegmentBytes() === 0 && segments.length === 1) {
      return waited ?? { readings: 0, deliveries: 0, segments: 0 };
    }
    const through = log.rotate();
    const drained = this.head.drain();
    try {
      writeSealBatch(db.raw, packRecords(drained.records, drained.deliveries));
    } catch (err) {
      this.head.restore(drained);
      throw err;
    }
    const dropped = log.drop(through, { overwrite: options.overwrite ?? false });
    return { readings: drained.records.length + (waited?.readings ?? 0), deliveries: drained.deliveries.length + (waited?.deliveries ?? 0), segments: dropped.length + (waited?.segments ?? 0) };
  }

  /**
   * Starts a seal of the head on the worker and returns at once; false when one is in flight or
   * there is nothing to seal. Until the worker commits, the sealed readings stay in the head's
   * frozen part (readable as before); after, they are in SQLite and the segments are dropped; on
   * failure they go back into the head and the segments stay. `ended` runs when it is over.
   */
  sealOffThread(db: SluiceDatabase, worker: SealWorker, ended?: (outcome: SealOutcome, result: SealResult | undefined) => void): boolean {
    // Inside a synchronous seal (an `ended` callback run by its wait), a new seal in flight would
    // leave readings unsealed when it returns, and erase relies on it leaving none.
    if (this.inFlight || worker.busy || this.sealingNow) return false;
    const log = this.writable();
    if (this.head.isEmpty && log.currentSegmentBytes() === 0 && log.segments().length === 1) return false;
    const epoch = committedEpoch(db) + 1;
    const through = log.rotate();
    const frozen = this.head.freeze();
    const flight: SealFlight = { worker, through, epoch, overwrite: false, readings: frozen.size, deliveries: frozen.deliveries.size };
    this.inFlight = flight;
    const settle = (outcome: SealOutcome) => {
      this.inFlight = undefined;
      if (!outcome.ok) {
        this.head.thaw();
        ended?.(outcome, undefined);
        return;
      }
      this.head.release();
      let dropped = 0;
      try {
        dropped = log.drop(through, { overwrite: flight.overwrite }).length;
      } finally {
        // The commit stands even if a segment cannot be removed: the next seal's drop retries it.
        const result = { readings: flight.readings, deliveries: flight.deliveries, segments: dropped };
        flight.dropped = dropped;
        ended?.(outcome, result);
      }
    };
    try {
      worker.seal(packSealBatch(frozen, frozen.deliveries.values()), epoch, settle);
    } catch (err) {
      // Never handed over: the readings go back to the head, the segments stay.
      this.inFlight = undefined;
      this.head.thaw();
      throw err;
    }
    return true;
  }

  /** A seal is in flight on the worker. */
  get sealing(): boolean {
    return this.inFlight !== undefined;
  }

  /**
   * Readings not yet sealed, each counted once against the sealed totals read in the same
   * snapshot of `db`: a frozen part whose commit that snapshot already sees is sealed. Call inside
   * the read transaction that also counts the sealed readings.
   */
  unsealedReadings(db: SluiceDatabase): number {
    const flight = this.inFlight;
    if (flight && committedEpoch(db) >= flight.epoch) return this.head.liveSize;
    return this.head.size;
  }

  /** Blocks until a seal in flight has ended (undefined when none was); its readings are sealed or back in the head. */
  private waitForSeal(options: { overwrite: boolean }): SealResult | undefined {
    const flight = this.inFlight;
    if (!flight) return undefined;
    if (options.overwrite) flight.overwrite = true;
    flight.worker.wait();
    return flight.dropped === undefined ? undefined : { readings: flight.readings, deliveries: flight.deliveries, segments: flight.dropped };
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

interface SealFlight {
  worker: SealWorker;
  /** the last log segment the seal covers */
  through: number;
  /** recorded by the seal's commit (store_counters.seal_epoch) */
  epoch: number;
  /** an erase waits for it: zero-fill its segments */
  overwrite: boolean;
  readings: number;
  deliveries: number;
  /** segments dropped, once it committed */
  dropped?: number;
}

/** The epoch of the last seal the worker committed (its transaction records it). */
function committedEpoch(db: SluiceDatabase): number {
  return db.raw.prepare<[], { value: number }>("SELECT value FROM store_counters WHERE name = 'seal_epoch'").get()?.value ?? 0;
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
