import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MessageChannel, Worker, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { transferList, type SealBatch } from './seal-batch.js';

/** What the seal thread is started with (its `workerData`, besides the port). */
export interface SealThreadData {
  dbPath: string;
  /** sequence number of the last answered job, at index 0 */
  state: SharedArrayBuffer;
  maxPageCount?: number;
  /** pages (`storage.wal_autocheckpoint`), as the gateway's connection has it */
  walAutocheckpoint?: number;
  /** TEST ONLY: a gate (Int32 at index 0) the thread waits at before each commit until it is non-zero. */
  hold?: SharedArrayBuffer;
}

/** The seal thread's answer to one job; `held` only reports that a test gate was reached. */
export type SealAnswer = { id: number; ok: true; held?: undefined } | { id: number; ok: false; message: string; code: string; held?: undefined } | { id: number; held: true };

/** The answer to a finished job. */
export type SealOutcome = Exclude<SealAnswer, { held: true }>;

export interface SealWorkerOptions {
  dbPath: string;
  maxPageCount?: number;
  walAutocheckpoint?: number;
  /** TEST ONLY: see `SealThreadData.hold`. */
  hold?: SharedArrayBuffer;
  /** TEST ONLY: the next jobs fail before their commit while this returns true. */
  failing?: () => boolean;
  /** TEST ONLY: called when a job reached the hold gate. */
  onHeld?: (id: number) => void;
  /** The script to run (default: `seal-thread.js` beside this module). */
  script?: URL;
}

const THREAD_SCRIPT = new URL('./seal-thread.js', import.meta.url);

/**
 * The seal's encode and SQLite write on a worker thread with its own connection, so a seal of a
 * full head costs the event loop only the hand-over of its readings as columns. One job at a time.
 */
export class SealWorker {
  private readonly worker: Worker;
  private readonly port: MessagePort;
  private readonly state = new Int32Array(new SharedArrayBuffer(4));
  private nextId = 1;
  private pending: { id: number; done: (outcome: SealOutcome) => void } | undefined;
  private dead: Error | undefined;

  /** Whether the thread's script exists: it does in the built gateway (`dist/`), not when the sources run under a test runner. */
  static available(script: URL = THREAD_SCRIPT): boolean {
    return existsSync(fileURLToPath(script));
  }

  constructor(private readonly options: SealWorkerOptions) {
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    const data: SealThreadData & { port: MessagePort } = {
      dbPath: options.dbPath,
      state: this.state.buffer as SharedArrayBuffer,
      port: port2,
      ...(options.maxPageCount ? { maxPageCount: options.maxPageCount } : {}),
      ...(options.walAutocheckpoint !== undefined ? { walAutocheckpoint: options.walAutocheckpoint } : {}),
      ...(options.hold ? { hold: options.hold } : {}),
    };
    this.worker = new Worker(options.script ?? THREAD_SCRIPT, { workerData: data, transferList: [port2] });
    this.worker.unref();
    this.port.unref();
    this.port.on('message', (answer: SealAnswer) => this.answered(answer));
    const died = (err: Error) => {
      this.dead ??= err;
      const p = this.pending;
      this.pending = undefined;
      p?.done({ id: p.id, ok: false, message: `the seal worker stopped: ${err.message}`, code: 'SLUICE_SEAL_WORKER_EXIT' });
    };
    this.worker.on('error', died);
    this.worker.on('exit', (code) => died(new Error(`exit code ${code}`)));
  }

  /** A job is in flight. */
  get busy(): boolean {
    return this.pending !== undefined;
  }

  /** The thread died (it is not restarted; seals go back to the event loop). */
  get broken(): boolean {
    return this.dead !== undefined;
  }

  /** Hands a batch over (its buffers move to the thread); `done` runs on the event loop when the thread answered, or inside `wait`. */
  seal(batch: SealBatch, epoch: number, done: (outcome: SealOutcome) => void): void {
    if (this.pending) throw new Error('a seal is already in flight');
    if (this.dead) {
      done({ id: 0, ok: false, message: `the seal worker stopped: ${this.dead.message}`, code: 'SLUICE_SEAL_WORKER_EXIT' });
      return;
    }
    const id = this.nextId++;
    this.pending = { id, done };
    this.port.postMessage({ id, epoch, batch, ...(this.options.failing?.() ? { fail: true } : {}) }, transferList(batch));
  }

  /**
   * Blocks the event loop until the job in flight is answered, and settles it here (for erase,
   * backup and stop, which need the seal done before they go on). A thread that does not answer
   * within `timeoutMs` counts as failed.
   */
  wait(timeoutMs = 120_000): void {
    const p = this.pending;
    if (!p) return;
    const deadline = Date.now() + timeoutMs;
    while (this.pending === p) {
      // Read before looking at the port: an answer posted after the look raises it past `seen`.
      const seen = Atomics.load(this.state, 0);
      const message = receiveMessageOnPort(this.port);
      if (message) {
        this.answered(message.message as SealAnswer);
        continue;
      }
      const left = deadline - Date.now();
      if (left <= 0 || this.dead) {
        this.pending = undefined;
        p.done({ id: p.id, ok: false, message: this.dead ? `the seal worker stopped: ${this.dead.message}` : `the seal worker did not answer within ${timeoutMs} ms`, code: 'SLUICE_SEAL_WORKER_TIMEOUT' });
        return;
      }
      // The thread raises state[0] to the job's id after posting its answer.
      Atomics.wait(this.state, 0, seen, Math.min(left, 1000));
    }
  }

  /** Stops the thread (a job in flight is abandoned: its transaction never commits). */
  async close(): Promise<void> {
    this.port.close();
    await this.worker.terminate();
  }

  private answered(answer: SealAnswer): void {
    if (answer.held) {
      this.options.onHeld?.(answer.id);
      return;
    }
    const p = this.pending;
    if (!p || p.id !== answer.id) return;
    this.pending = undefined;
    p.done(answer);
  }
}
