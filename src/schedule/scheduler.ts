import cron, { type ScheduledTask } from 'node-cron';
import { SerialPass, type Clock, type Logger, type Service, type SluiceDatabase } from '../core/index.js';
import { dueSlot, nextSlot } from './due.js';

/** A named job the gateway runs on a cron schedule; `run` gets the clock's time. */
export interface Job {
  name: string;
  /** cron expression, in the household's timezone */
  cron: string;
  /**
   * Returns a small JSON-able summary of what it did, recorded with the run. `signal` aborts
   * when the scheduler stops: a long job ends early at a safe point rather than hold up the stop.
   */
  run(now: number, signal: AbortSignal): Promise<Record<string, unknown> | void> | Record<string, unknown> | void;
}

export interface JobRun {
  job: string;
  scheduledFor: number;
  trigger: 'schedule' | 'manual';
  startedAt: number;
  finishedAt: number | null;
  outcome: 'running' | 'ok' | 'failed';
  detail: Record<string, unknown> | null;
}

interface RunRow {
  job: string;
  scheduled_for: number;
  trigger: 'schedule' | 'manual';
  started_at: number;
  finished_at: number | null;
  outcome: 'running' | 'ok' | 'failed';
  detail: string | null;
}

/**
 * Runs jobs when due. node-cron only wakes the process; whether a job is due is decided by
 * dueSlot() from the clock and the recorded runs, so a run missed while the gateway was down
 * is caught up once at start, and a slot already recorded (even a crashed 'running' one) is
 * never run again.
 */
export class Scheduler implements Service {
  readonly name = 'scheduler';
  private tasks: ScheduledTask[] = [];
  private readonly passes = new SerialPass({ run: () => this.runDue(), onError: (err) => this.deps.logger.error({ err }, 'cannot run the due jobs') });
  private firstTick: NodeJS.Timeout | undefined;

  constructor(private readonly deps: { db: SluiceDatabase; clock: Clock; logger: Logger; timeZone: string; jobs: readonly Job[] }) {
    // Ticks run before start() too: the clock and the run records decide, node-cron only wakes.
    this.passes.start();
  }

  start(): void {
    this.passes.start();
    for (const job of this.deps.jobs) {
      this.tasks.push(cron.schedule(job.cron, () => void this.tick(), { timezone: this.deps.timeZone, name: job.name, noOverlap: true }));
    }
    // Catch up after start-up has finished, not inside it.
    this.firstTick = setTimeout(() => void this.tick(), 0);
  }

  async stop(): Promise<void> {
    const stopped = this.passes.stop();
    clearTimeout(this.firstTick);
    for (const t of this.tasks) await t.destroy();
    this.tasks = [];
    await stopped;
  }

  /** Runs every due job, one at a time; a tick during a tick runs once more afterwards. */
  tick(): Promise<void> {
    return this.passes.kick();
  }

  private async runDue(): Promise<void> {
    for (const job of this.deps.jobs) {
      if (this.passes.stopped) return;
      const slot = dueSlot(job.cron, this.deps.timeZone, this.deps.clock.now(), this.lastSlot(job.name));
      if (slot !== undefined) await this.execute(job, slot, 'schedule');
    }
  }

  /** Runs a job now, outside its schedule (recorded as manual; its schedule is unchanged). */
  async runNow(name: string): Promise<JobRun> {
    const job = this.deps.jobs.find((j) => j.name === name);
    if (!job) throw new Error(`no job named ${name}`);
    // Wait for a scheduled run of the same jobs to finish, so two runs never overlap.
    await this.passes.settled();
    return this.execute(job, this.deps.clock.now(), 'manual');
  }

  /** The latest run of each job, and when it is next due. */
  overview(): Array<{ job: string; cron: string; next: number; last: JobRun | null }> {
    const now = this.deps.clock.now();
    return this.deps.jobs.map((j) => ({ job: j.name, cron: j.cron, next: nextSlot(j.cron, this.deps.timeZone, now), last: this.lastRun(j.name) }));
  }

  /** When each job last finished well (ms), or null when it never did. */
  lastSuccess(): Array<{ job: string; at: number | null }> {
    const q = this.deps.db.raw.prepare<[string], { at: number | null }>("SELECT MAX(finished_at) AS at FROM schedule_runs WHERE job = ? AND outcome = 'ok'");
    return this.deps.jobs.map((j) => ({ job: j.name, at: q.get(j.name)?.at ?? null }));
  }

  private lastSlot(job: string): number | undefined {
    const row = this.deps.db.raw
      .prepare<[string], { s: number | null }>("SELECT MAX(scheduled_for) AS s FROM schedule_runs WHERE job = ? AND trigger = 'schedule'")
      .get(job);
    return row?.s ?? undefined;
  }

  private lastRun(job: string): JobRun | null {
    const row = this.deps.db.raw.prepare<[string], RunRow>('SELECT * FROM schedule_runs WHERE job = ? ORDER BY id DESC LIMIT 1').get(job);
    return row ? toRun(row) : null;
  }

  private async execute(job: Job, scheduledFor: number, trigger: 'schedule' | 'manual'): Promise<JobRun> {
    const { db, clock, logger } = this.deps;
    const startedAt = clock.now();
    let id: number | undefined;
    try {
      id = Number(
        db.raw
          .prepare("INSERT INTO schedule_runs (job, scheduled_for, trigger, started_at, outcome) VALUES (?, ?, ?, ?, 'running')")
          .run(job.name, scheduledFor, trigger, startedAt).lastInsertRowid,
      );
    } catch (err) {
      // Storage faulted (disk full): skip this slot's run; the next tick tries again.
      logger.warn({ job: job.name, err: (err as Error).message }, 'cannot record a job run; not running it now');
      return { job: job.name, scheduledFor, trigger, startedAt, finishedAt: null, outcome: 'failed', detail: { error: (err as Error).message } };
    }
    let outcome: 'ok' | 'failed' = 'ok';
    let detail: Record<string, unknown> | null = null;
    try {
      detail = (await this.passes.abortable((controller) => Promise.resolve(job.run(startedAt, controller.signal)))) ?? null;
    } catch (err) {
      outcome = 'failed';
      detail = { error: (err as Error).message };
      logger.error({ job: job.name, err }, 'scheduled job failed');
    }
    const finishedAt = clock.now();
    try {
      db.raw.prepare('UPDATE schedule_runs SET finished_at = ?, outcome = ?, detail = ? WHERE id = ?').run(finishedAt, outcome, detail ? JSON.stringify(detail) : null, id);
    } catch (err) {
      logger.warn({ job: job.name, err: (err as Error).message }, 'cannot record the end of a job run');
    }
    if (outcome === 'ok') logger.debug({ job: job.name, trigger, ms: finishedAt - startedAt, ...detail }, 'job finished');
    return { job: job.name, scheduledFor, trigger, startedAt, finishedAt, outcome, detail };
  }
}

function toRun(r: RunRow): JobRun {
  return {
    job: r.job,
    scheduledFor: r.scheduled_for,
    trigger: r.trigger,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    outcome: r.outcome,
    detail: r.detail ? (JSON.parse(r.detail) as Record<string, unknown>) : null,
  };
}
