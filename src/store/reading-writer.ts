import { statfsSync } from 'node:fs';
import { dirname } from 'node:path';
import { isStorageFault, ownValue, type Clock, type EventBus, type Logger, type Service, type SluiceDatabase } from '../core/index.js';
import type { SluiceConfig } from '../config/index.js';
import type { ReadingSink, StoredDelivery, WriteRequest } from '../ingest/index.js';
import { encodeValue } from './codec.js';
import { detectDurability, type DurabilityMode } from './flash-detect.js';
import type { HotDelivery, HotRecord } from './hot-log.js';
import { processWriteBytes, type HotStore, type SealResult } from './hot-store.js';
import { QuarantineWriter } from './quarantine.js';
import { SealWorker, type SealWorkerOptions } from './seal-worker.js';
import { SeriesCatalog } from './series.js';
import type { SyncTimesSummary } from './sync-times.js';

/** How long the seal thread outlives the last full-head seal (a burst comes in waves). */
const SEAL_WORKER_IDLE_MS = 60_000;

/** A commit set for this turn of the event loop (only a Timeout can be refreshed). */
const isImmediate = (t: NodeJS.Timeout | NodeJS.Immediate): t is NodeJS.Immediate => !('refresh' in t);

/** The writer's options from sluice.yaml's `ingest` and `quarantine` sections. */
export function writerOptionsFrom(config: Pick<SluiceConfig, 'ingest' | 'quarantine' | 'storage'>): ReadingWriterOptions {
  return {
    batchInterval: config.ingest.batch_interval,
    batchSize: config.ingest.batch_size,
    idleCommit: config.ingest.idle_commit,
    quarantineMaxEntries: config.quarantine.max_entries,
    quarantineMaxBytes: config.quarantine.max_bytes,
    sealWorker: config.ingest.seal_off_thread ? { walAutocheckpoint: config.storage.wal_autocheckpoint } : false,
  };
}

/**
 * The requests that arrived between two commits. They share one promise, which settles when
 * the commit that holds them does: one promise per batch instead of one (and a copy of the
 * request) per message.
 */
interface Batch {
  requests: WriteRequest[];
  committed: Promise<void>;
  resolve(): void;
  reject(err: unknown): void;
}

function openBatch(): Batch {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const committed = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { requests: [], committed, resolve, reject };
}

/** The hot path: readings go to the append-only log, and reach SQLite when sealed. */
export interface HotPath {
  store: HotStore;
  /** fsync: resolve after a group fdatasync; interval: resolve after the write, fdatasync every `fsyncInterval`. */
  durability: DurabilityMode;
  /** why this mode: the configuration, or what flash detection found */
  reason: string;
  /** ms between fdatasyncs in `interval` mode */
  fsyncInterval: number;
  /** ms between seals */
  sealInterval: number;
  /** readings in the head that trigger a seal */
  sealRecords: number;
}

/** The hot path from sluice.yaml's `ingest` section; `auto` durability asks the block device under the data directory. */
export function hotPathFrom(config: Pick<SluiceConfig, 'ingest' | 'data_dir'>, store: HotStore, detect: (dir: string) => { mode: DurabilityMode; reason: string } = detectDurability): HotPath {
  const chosen = config.ingest.durability;
  const detected = chosen === 'auto' ? detect(config.data_dir) : undefined;
  return {
    store,
    durability: detected?.mode ?? (chosen as DurabilityMode),
    reason: detected?.reason ?? `ingest.durability is set to ${chosen} in the configuration`,
    fsyncInterval: config.ingest.fsync_interval,
    sealInterval: config.ingest.seal_interval,
    sealRecords: config.ingest.seal_records,
  };
}

export interface ReadingWriterOptions {
  /** ms a request waits for its batch to commit */
  batchInterval: number;
  /** readings that trigger an immediate commit */
  batchSize: number;
  /** Commit at once when the last commit was small (default true); false: always wait batchInterval. */
  idleCommit?: boolean;
  quarantineMaxEntries: number;
  quarantineMaxBytes: number;
  /** ms between retries while the disk is full or failing */
  faultRetry?: number;
  /** For tests: awaited before each commit, to make commits slow on purpose. */
  beforeCommit?: () => Promise<void>;
  afterCommit?: (count: number) => void;
  /**
   * Hourly and head-full seals run on a worker thread with its own connection (default, when the
   * database is a file and the thread's script is built); false: on the event loop, as erase,
   * backup and stop always do. The object carries test seams; `idleMs` is how long the thread
   * outlives the last burst that needed it (default 60 s).
   */
  sealWorker?: false | (Omit<SealWorkerOptions, 'dbPath'> & { idleMs?: number });
}

/**
 * Batches readings and quarantine entries into one transaction every few ms; a request's
 * promise resolves only after its batch is committed, so the broker can PUBACK after commit.
 * While SQLite reports a storage fault (disk full), batches are held and retried, and no
 * promise resolves: devices keep their unacknowledged readings and resend.
 */
export class ReadingWriter implements Service, ReadingSink {
  readonly name = 'reading-writer';
  /** Batches waiting for a commit, oldest first; only the last one takes new requests. */
  private queue: Batch[] = [];
  private queuedReadings = 0;
  /** Requests whose quarantine entry is committed already (a later hot-log append failed and is retried). */
  private readonly quarantined = new WeakSet<WriteRequest>();
  /** A setImmediate for a commit on this turn of the event loop (delay 0), else a setTimeout. */
  private timer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  /** ms (clock) when the last commit ended, and its size in batch units (readings + 1 per request) */
  private lastCommitAt = Number.NEGATIVE_INFINITY;
  private lastBatchUnits = 0;
  private committing: Promise<void> | undefined;
  private faulted = false;
  private fault: StoreFault | undefined;
  private stopped = false;
  private readonly series: SeriesCatalog;
  private readonly quarantine: QuarantineWriter;
  private readonly insertReading;
  private readonly upsertDelivery;
  private readonly selectDelivery;

  private syncTimer: NodeJS.Timeout | undefined;
  private sealTimer: NodeJS.Timeout | undefined;
  private sealWorker: SealWorker | undefined;
  /** How to start the seal thread, when this writer may use one. */
  private sealWorkerOptions: SealWorkerOptions | undefined;
  private sealWorkerIdleMs = SEAL_WORKER_IDLE_MS;
  private workerIdle: NodeJS.Timeout | undefined;
  /** The last seal on the worker failed: the next one runs on the event loop (and says why if it fails too). */
  private sealOnLoop = false;
  /** write_bytes of /proc/self/io at the start of the household's day (for `sluice db info`) */
  private writeBaseline: { day: string; bytes: number } | undefined;

  constructor(
    private readonly deps: { db: SluiceDatabase; clock: Clock; logger: Logger; events: EventBus; options: ReadingWriterOptions; hot?: HotPath },
  ) {
    this.series = new SeriesCatalog(deps.db);
    this.quarantine = new QuarantineWriter(deps.db, deps.options.quarantineMaxEntries, deps.options.quarantineMaxBytes);
    this.insertReading = deps.db.raw.prepare('INSERT OR IGNORE INTO readings (series_id, ts, v, flags) VALUES (?, ?, ?, ?)');
    this.upsertDelivery = deps.db.raw.prepare('INSERT OR REPLACE INTO deliveries (client_id, packet_id, payload_hash, ts) VALUES (?, ?, ?, ?)');
    this.selectDelivery = deps.db.raw.prepare<[string, number], { payload_hash: Buffer; ts: number }>('SELECT payload_hash, ts FROM deliveries WHERE client_id = ? AND packet_id = ?');
  }

  start(): void {
    this.stopped = false;
    // Erase and retention delete series and quarantine rows this writer keeps ids and totals of.
    this.deps.events.on('store.purged', this, () => this.refreshCaches());
    const hot = this.deps.hot;
    if (!hot) return;
    this.writtenToday();
    if (hot.durability === 'interval') {
      this.syncTimer = setInterval(() => {
        hot.store.sync().catch((err: unknown) => this.deps.logger.error({ err: (err as Error).message }, 'cannot sync the hot log'));
      }, hot.fsyncInterval);
      this.syncTimer.unref();
    }
    const off = this.deps.options.sealWorker;
    if (off !== false && this.deps.db.path !== ':memory:' && SealWorker.available(off?.script)) {
      const { idleMs, ...workerOptions } = off ?? {};
      if (idleMs !== undefined) this.sealWorkerIdleMs = idleMs;
      this.sealWorkerOptions = {
        ...workerOptions,
        dbPath: this.deps.db.path,
        onHeld: (id) => {
          this.deps.logger.warn({ seal: id }, 'hot log seal held before its commit (test seam)');
          off?.onHeld?.(id);
        },
      };
    }
    this.sealTimer = setInterval(() => {
      this.writtenToday();
      this.sealSoon(false);
    }, hot.sealInterval);
    this.sealTimer.unref();
  }

  /** Commits what is queued, seals the hot log, then refuses new work. */
  async stop(): Promise<void> {
    await this.flush();
    this.stopped = true;
    this.deps.events.off(this);
    this.cancelTimer();
    if (this.syncTimer) clearInterval(this.syncTimer);
    if (this.sealTimer) clearInterval(this.sealTimer);
    if (this.deps.hot) {
      // Waits for a seal in flight on the worker, then seals the rest on the event loop.
      this.sealNow();
      this.deps.hot.store.close();
    }
    clearTimeout(this.workerIdle);
    const worker = this.sealWorker;
    this.sealWorker = undefined;
    await worker?.close();
  }

  /** How ingest acknowledges, when readings go through the hot log. */
  get durability(): { mode: DurabilityMode; reason: string } | undefined {
    const hot = this.deps.hot;
    return hot ? { mode: hot.durability, reason: hot.reason } : undefined;
  }

  /** How long the hot log's last fdatasyncs took (the PUBACK wait in `fsync` mode); null without a hot log or before the first. */
  syncTimes(): SyncTimesSummary | null {
    return this.deps.hot?.store.syncTimes() ?? null;
  }

  /**
   * Seals the hot log's readings into SQLite chunks now (before rollups, retention and erase read the
   * table). `overwrite` zero-fills the sealed segments. Returns undefined without a hot log or
   * when the commit failed (the readings stay in the head and the log).
   */
  seal(options: { overwrite?: boolean } = {}): SealResult | undefined {
    const hot = this.deps.hot;
    if (!hot) return undefined;
    return hot.store.seal(this.deps.db, options);
  }

  /** Bytes this process wrote to storage since the household's day began (or since start, if later). */
  writtenToday(): { bytes: number; since: number } | null {
    const now = processWriteBytes();
    if (now === null) return null;
    const day = new Date(this.deps.clock.now()).toISOString().slice(0, 10);
    if (!this.writeBaseline || this.writeBaseline.day !== day) this.writeBaseline = { day, bytes: now };
    return { bytes: now - this.writeBaseline.bytes, since: Date.parse(`${this.writeBaseline.day}T00:00:00Z`) };
  }

  private sealNow(): void {
    try {
      this.seal();
      this.sealOnLoop = false;
    } catch (err) {
      this.deps.logger.error({ err: (err as Error).message, code: String((err as { code?: unknown }).code) }, 'cannot seal the hot log; its readings stay in the log');
    }
  }

  /**
   * Starts a seal on the worker (the hourly timer, a full head); the event loop keeps serving
   * while it encodes and commits. Without a worker, or after its last seal failed, seals here.
   */
  private sealSoon(full: boolean): void {
    const hot = this.deps.hot;
    if (!hot || this.stopped) return;
    // The hourly seal at household rate (~70,000 readings, ~70 ms) runs on the event loop unless
    // a burst left the thread running: the thread costs 6–11 MiB of RSS (bench/RESULTS.md), which
    // only a burst of full heads pays back.
    const worker = full ? this.burstWorker() : this.sealWorker;
    if (!worker || worker.broken || this.sealOnLoop) return this.sealNow();
    clearTimeout(this.workerIdle);
    try {
      hot.store.sealOffThread(this.deps.db, worker, (outcome) => {
        if (!outcome.ok) {
          this.sealOnLoop = true;
          this.deps.logger.error({ err: outcome.message, code: outcome.code }, 'the seal worker could not seal the hot log; its readings stay in the log, the next seal runs on the event loop');
          return;
        }
        // A burst fills the head again while the worker seals: go on at once.
        if (hot.store.head.liveSize >= hot.sealRecords) this.sealSoon(true);
        else this.closeWorkerWhenIdle();
      });
    } catch (err) {
      this.deps.logger.error({ err: (err as Error).message, code: String((err as { code?: unknown }).code) }, 'cannot seal the hot log; its readings stay in the log');
    }
  }

  /** The seal thread for a full head, started at the first burst (never when it could not start before). */
  private burstWorker(): SealWorker | undefined {
    if (this.sealWorker && !this.sealWorker.broken) return this.sealWorker;
    const options = this.sealWorkerOptions;
    if (!options) return undefined;
    try {
      this.sealWorker = new SealWorker(options);
    } catch (err) {
      // Seals on the event loop, as without a worker: slower under a burst, never wrong.
      this.sealWorkerOptions = undefined;
      this.deps.logger.warn({ err: (err as Error).message }, 'cannot start the seal worker; seals run on the main thread');
    }
    return this.sealWorker;
  }

  /** Ends the seal thread once no burst has needed it for a while, so a quiet home does not keep its memory. */
  private closeWorkerWhenIdle(): void {
    clearTimeout(this.workerIdle);
    this.workerIdle = setTimeout(() => {
      const worker = this.sealWorker;
      if (!worker || worker.busy) return;
      this.sealWorker = undefined;
      void worker.close();
    }, this.sealWorkerIdleMs);
    this.workerIdle.unref();
  }

  get isFaulted(): boolean {
    return this.faulted;
  }

  /** Since when and why commits fail, with the free disk space at that moment; undefined while storage works. */
  get faultInfo(): StoreFault | undefined {
    return this.fault;
  }

  /** Forgets cached series ids and quarantine totals, after an erase removed rows. */
  private refreshCaches(): void {
    this.series.clear();
    this.quarantine.resync();
  }

  /** Queues a write; resolves after the commit that holds it. */
  submit(request: WriteRequest): Promise<void> {
    if (this.stopped) return Promise.reject(new Error('reading writer is stopped'));
    let batch = this.queue[this.queue.length - 1];
    if (!batch) {
      batch = openBatch();
      this.queue.push(batch);
    }
    batch.requests.push(request);
    this.queuedReadings += request.readings.length + 1;
    if (this.queuedReadings >= this.deps.options.batchSize) this.schedule(0);
    else this.schedule(this.underLoad() ? this.deps.options.batchInterval : 0);
    return batch.committed;
  }

  /** The committed delivery row of (client id, packet id), for ingest's redelivery memory. */
  storedDelivery(clientId: string, packetId: number): StoredDelivery | undefined {
    const logged = this.deps.hot?.store.head.delivery(clientId, packetId);
    if (logged) return { payloadHash: logged.payloadHash, ts: logged.ts };
    const row = this.selectDelivery.get(clientId, packetId);
    return row ? { payloadHash: row.payload_hash, ts: row.ts } : undefined;
  }

  /** Commits everything queued now. */
  async flush(): Promise<void> {
    while (this.queue.length > 0 || this.committing) {
      if (this.committing) await this.committing;
      else await this.commitNow();
    }
  }

  /**
   * Waiting up to batch_interval for company only pays under load, i.e. when the last commit
   * was a big one (a quarter of batch_size or more) that ended within the interval. Otherwise —
   * a household's few messages a second — a message is committed on the next turn of the event
   * loop; what arrives meanwhile still shares that commit (group commit).
   */
  private underLoad(): boolean {
    if (this.deps.options.idleCommit === false) return true;
    return this.lastBatchUnits * 4 >= this.deps.options.batchSize && this.deps.clock.now() - this.lastCommitAt < this.deps.options.batchInterval;
  }

  private schedule(delay: number): void {
    if (this.committing) return; // the running commit reschedules when done
    // A pending timer that fires no later than asked is kept: re-arming it for every message
    // cost a timer-list removal and insertion each.
    if (this.timer && (delay > 0 || isImmediate(this.timer))) return;
    this.cancelTimer();
    const fire = () => {
      this.timer = undefined;
      void this.commitNow();
    };
    // setTimeout(0) waits a whole millisecond; setImmediate runs after this poll phase, so what
    // arrived in the same read still shares the commit, and a quiet household's PUBACK is 1 ms sooner.
    this.timer = delay === 0 ? setImmediate(fire) : setTimeout(fire, delay);
  }

  private cancelTimer(): void {
    if (!this.timer) return;
    if (isImmediate(this.timer)) clearImmediate(this.timer);
    else clearTimeout(this.timer);
    this.timer = undefined;
  }

  private commitNow(): Promise<void> {
    if (this.committing || this.queue.length === 0) return this.committing ?? Promise.resolve();
    this.cancelTimer();
    this.committing = this.commitBatch().finally(() => {
      this.committing = undefined;
      this.lastCommitAt = this.deps.clock.now();
      if (this.queue.length > 0) this.schedule(this.faulted ? (this.deps.options.faultRetry ?? 1000) : 0);
    });
    return this.committing;
  }

  private async commitBatch(): Promise<void> {
    const batches = this.queue;
    const requests = batches.length === 1 ? batches[0]!.requests : batches.flatMap((b) => b.requests);
    this.lastBatchUnits = this.queuedReadings;
    this.queue = [];
    this.queuedReadings = 0;
    try {
      if (this.deps.options.beforeCommit) await this.deps.options.beforeCommit();
      if (this.deps.hot) await this.appendBatch(requests, this.deps.hot);
      else this.deps.db.tx(() => this.writeBatch(requests));
    } catch (err) {
      // The transaction rolled back: series ids and quarantine totals cached during it are void.
      this.series.clear();
      this.quarantine.resync();
      if (isStorageFault(err) || isFileSystemFault(err)) {
        // Keep the batch, ahead of anything queued meanwhile, and try again later.
        this.queue = batches.concat(this.queue);
        let held = 0;
        this.queuedReadings = 0;
        for (const b of this.queue) {
          held += b.requests.length;
          for (const p of b.requests) this.queuedReadings += p.readings.length + 1;
        }
        if (!this.faulted) {
          this.faulted = true;
          // Logged once per fault, with the space left, so the household knows what to free.
          const freeBytes = freeDiskBytes(this.deps.db.path);
          this.fault = { since: this.deps.clock.now(), message: (err as Error).message, code: String((err as { code?: unknown }).code), freeBytes };
          this.deps.logger.error(
            { err: (err as Error).message, code: this.fault.code, freeBytes, held },
            'cannot commit readings; acknowledgements are held until storage works again',
          );
          this.deps.events.emit('store.faulted', { message: (err as Error).message });
        }
        return;
      }
      for (const b of batches) b.reject(err);
      return;
    }
    if (this.faulted) {
      this.faulted = false;
      this.fault = undefined;
      this.deps.logger.warn({ held: requests.length }, 'storage works again; acknowledging readings');
      this.deps.events.emit('store.recovered', {});
    }
    let count = 0;
    const devices = new Set<string>();
    for (const p of requests) {
      if (p.readings.length === 0) continue;
      count += p.readings.length;
      devices.add(p.deviceId);
    }
    for (const b of batches) b.resolve();
    this.deps.options.afterCommit?.(count);
    if (count > 0) this.deps.events.emit('readings.committed', { count, deviceIds: [...devices] });
    if (this.deps.hot && !this.deps.hot.store.sealing && this.deps.hot.store.head.liveSize >= this.deps.hot.sealRecords) this.sealSoon(true);
  }

  /**
   * The hot path of a batch: only new series and quarantine entries touch SQLite; the readings
   * and deliveries go to the log as one frame, and in `fsync` mode wait for a group fdatasync.
   */
  private async appendBatch(batch: readonly WriteRequest[], hot: HotPath): Promise<void> {
    // One pass with the cached series; only a batch with a new series or a quarantine entry
    // opens a transaction, and is then encoded again.
    let records = this.encodeCached(batch);
    if (!records) {
      this.deps.db.tx(() => {
        for (const p of batch) {
          for (const r of p.readings) {
            const spec = ownValue(p.specs, r.metric);
            if (spec) this.series.resolve(p.deviceId, r.component, r.metric, spec);
          }
          if (p.quarantine && !this.quarantined.has(p)) this.quarantine.add(p.quarantine);
        }
      });
      for (const p of batch) if (p.quarantine) this.quarantined.add(p);
      records = this.encodeCached(batch)!;
    }
    const deliveries: HotDelivery[] = [];
    for (const p of batch) {
      const d = p.delivery;
      if (d) deliveries.push({ clientId: d.clientId, packetId: d.packetId, payloadHash: d.payloadHash, ts: d.ts });
    }
    hot.store.append(records, deliveries);
    if (hot.durability === 'fsync') await hot.store.sync();
  }

  /** The batch's log records from cached series; undefined when a series is new or a quarantine entry is still to commit. */
  private encodeCached(batch: readonly WriteRequest[]): HotRecord[] | undefined {
    const records: HotRecord[] = [];
    for (const p of batch) {
      if (p.quarantine && !this.quarantined.has(p)) return undefined;
      for (const r of p.readings) {
        const spec = ownValue(p.specs, r.metric);
        if (!spec) continue;
        const s = this.series.cachedInfo(p.deviceId, r.component, r.metric);
        if (!s) return undefined;
        records.push({ seriesId: s.id, ts: r.ts, value: encodeValue(s.type, s.scale, r.value), flags: r.timeSource === 'gateway' ? 1 : 0 });
      }
    }
    return records;
  }

  private writeBatch(batch: readonly WriteRequest[]): void {
    for (const p of batch) {
      for (const r of p.readings) {
        const spec = ownValue(p.specs, r.metric);
        if (!spec) continue;
        const s = this.series.resolve(p.deviceId, r.component, r.metric, spec);
        this.insertReading.run(s.id, r.ts, storable(encodeValue(s.type, s.scale, r.value)), r.timeSource === 'gateway' ? 1 : null);
      }
      if (p.delivery) this.upsertDelivery.run(p.delivery.clientId, p.delivery.packetId, p.delivery.payloadHash, p.delivery.ts);
      if (p.quarantine) this.quarantine.add(p.quarantine);
    }
  }
}

export interface StoreFault {
  /** ms */
  since: number;
  message: string;
  /** SQLite's code, e.g. SQLITE_FULL */
  code: string;
  /** free bytes on the database's file system when the fault began; null if unknown */
  freeBytes: number | null;
}

/** The hot log's write or fdatasync failing for want of space or a failing disk: hold, do not drop. */
function isFileSystemFault(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT' || code === 'EIO' || code === 'EROFS';
}

function freeDiskBytes(dbPath: string): number | null {
  try {
    const s = statfsSync(dirname(dbPath));
    return s.bavail * s.bsize;
  } catch {
    return null;
  }
}

/**
 * better-sqlite3 binds every JS number as a double, and `v` has no type affinity, so a scaled
 * integer would be stored as an 8-byte REAL. Bound as a BigInt it is stored as an integer of
 * 0–3 bytes (0 and 1 take none), which is what keeps a reading near 18 bytes on disk.
 */
function storable(v: number | string): number | bigint | string {
  return typeof v === 'number' && Number.isSafeInteger(v) ? BigInt(v) : v;
}
