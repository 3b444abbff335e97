/**
 * The seal worker's thread: its own better-sqlite3 connection to the gateway's database (WAL, so
 * the gateway keeps reading while this writes) encodes and commits each batch the gateway hands
 * over. Every answer is posted on the port, then the sequence number in `state` is raised, so a
 * gateway that must wait (erase, backup, stop) can block on it and read the answer synchronously.
 */
import Database from 'better-sqlite3';
import { workerData, type MessagePort } from 'node:worker_threads';
import { writeSealBatch, type SealBatch } from './seal-batch.js';
import type { SealAnswer, SealThreadData } from './seal-worker.js';

interface SealJob {
  id: number;
  epoch: number;
  batch: SealBatch;
  /** TEST ONLY: the transaction fails before its commit. */
  fail?: boolean;
}

const data = workerData as SealThreadData & { port: MessagePort };
const state = new Int32Array(data.state);
let db: Database.Database | undefined;

function connection(): Database.Database {
  if (db) return db;
  const raw = new Database(data.dbPath);
  try {
    raw.pragma('journal_mode = WAL');
    // The seal moves acknowledged readings out of the hot log, whose segments are dropped after this commit.
    raw.pragma('synchronous = FULL');
    raw.pragma('foreign_keys = ON');
    raw.pragma('busy_timeout = 5000');
    // [PRIV-6] a chunk this connection replaces is overwritten, as on the gateway's connection:
    // an erase later reaches only live pages, so an old copy must not linger in a free one.
    raw.pragma('secure_delete = ON');
    if (data.walAutocheckpoint !== undefined) raw.pragma(`wal_autocheckpoint = ${Math.floor(data.walAutocheckpoint)}`);
    if (data.maxPageCount) raw.pragma(`max_page_count = ${data.maxPageCount}`);
  } catch (err) {
    raw.close();
    throw err;
  }
  db = raw;
  return raw;
}

function seal(job: SealJob): SealAnswer {
  try {
    const raw = connection();
    const beforeCommit = (tx: Database.Database) => {
      tx.prepare("INSERT INTO store_counters (name, value) VALUES ('seal_epoch', ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value").run(job.epoch);
      if (data.hold) {
        data.port.postMessage({ id: job.id, held: true } satisfies SealAnswer);
        // TEST ONLY: wait at the commit until the test opens the gate (or kills the process).
        const gate = new Int32Array(data.hold);
        while (Atomics.load(gate, 0) === 0) Atomics.wait(gate, 0, 0);
      }
      if (job.fail) throw Object.assign(new Error('seal failed before its commit (test)'), { code: 'SLUICE_TEST_SEAL_FAIL' });
    };
    try {
      writeSealBatch(raw, job.batch, { transaction: 'deferred', beforeCommit });
    } catch (err) {
      // The gateway wrote since this snapshot (or holds the lock): compute again under the lock.
      if (!String((err as { code?: unknown }).code).startsWith('SQLITE_BUSY')) throw err;
      writeSealBatch(raw, job.batch, { transaction: 'immediate', beforeCommit });
    }
    return { id: job.id, ok: true };
  } catch (err) {
    return { id: job.id, ok: false, message: (err as Error).message, code: String((err as { code?: unknown }).code ?? '') };
  }
}

data.port.on('message', (job: SealJob) => {
  const answer = seal(job);
  data.port.postMessage(answer);
  Atomics.store(state, 0, job.id);
  Atomics.notify(state, 0);
});
