import cron, { type ScheduledTask } from 'node-cron';
import { SerialPass, type Clock, type Logger, type Service, type SluiceDatabase } from '../core/index.js';
import type { TimeWindow } from '../core/index.js';

export interface WindowRun {
  window: TimeWindow;
  /** Records the run; call it inside the job's own transaction so effect and record commit together. */
  markRun(): void;
}

/** A named job over time windows: what wakes it, which windows are due, and how one window runs. */
export interface WindowJob {
  name: string;
  /** The cron expression and timezone that wake the scheduler for this job (null: only ticks). */
  wake: { cron: string; timezone: string } | null;
  dueWindows(now: number, ran: (w: TimeWindow) => boolean): TimeWindow[];
  run(run: WindowRun): Promise<void> | void;
}

/** Run records of window jobs; a window recorded once never runs again. */
export class WindowRecords {
  constructor(private readonly db: SluiceDatabase) {}

  has(job: string, w: TimeWindow): boolean {
    return this.db.raw.prepare('SELECT 1 FROM schedule_windows WHERE job = ? AND window_start = ? AND window_end = ?').get(job, w.start, w.end) !== undefined;
  }

  /** Returns false when the window was already recorded. */
  record(job: string, w: TimeWindow, at: number): boolean {
    return this.db.raw.prepare('INSERT OR IGNORE INTO schedule_windows (job, window_start, window_end, ran_at) VALUES (?, ?, ?, ?)').run(job, w.start, w.end, at).changes === 1;
  }

  list(job: string): Array<TimeWindow & { ranAt: number }> {
    return this.db.raw
      .prepare<[string], { window_start: number; window_end: number; ran_at: number }>('SELECT * FROM schedule_windows WHERE job = ? ORDER BY window_start')
      .all(job)
      .map((r) => ({ start: r.window_start, end: r.window_end, ranAt: r.ran_at }));
  }
}

export interface WindowSchedulerOptions {
  /** A safety tick besides the cron wake-ups (ms); catches a wake-up that fired a hair early. */
  tickInterval: number;
}

/**
 * Runs due windows of named jobs (a policy's daily summaries): unlike Scheduler's one slot per
 * job, every closed window since the job's start is produced once (bounded catch-up), and the
 * job list may change at runtime (approvals, revocations). Which windows are due is computed from the clock and the run
 * records (pure `dueWindows`), so node-cron only wakes the process and a restart catches up.
 */
export class WindowScheduler implements Service {
  readonly name = 'window-scheduler';
  private tasks: ScheduledTask[] = [];
  private interval: NodeJS.Timeout | undefined;
  private readonly passes = new SerialPass({ run: () => this.runDue(), onError: (err) => this.deps.logger.error({ err }, 'cannot run the due windows') });
  private soon: NodeJS.Timeout | undefined;
  readonly records: WindowRecords;

  constructor(private readonly deps: { db: SluiceDatabase; clock: Clock; logger: Logger; jobs: () => readonly WindowJob[]; options: WindowSchedulerOptions }) {
    this.records = new WindowRecords(deps.db);
  }

  /** Schedules the wake-ups and runs whatever is due now (missed runs after downtime). */
  start(): void {
    this.passes.start();
    this.reschedule();
    this.interval = setInterval(() => void this.tick(), this.deps.options.tickInterval);
    this.interval.unref();
  }

  async stop(): Promise<void> {
    const stopped = this.passes.stop();
    if (this.interval) clearInterval(this.interval);
    clearTimeout(this.soon);
    for (const t of this.tasks) await t.destroy();
    this.tasks = [];
    await stopped;
  }

  /** Re-reads the jobs (after an approval or revocation) and runs whatever is due. */
  reschedule(): void {
    for (const t of this.tasks) void t.destroy();
    this.tasks = [];
    if (this.passes.stopped) return;
    const wakes = new Map<string, { cron: string; timezone: string }>();
    for (const job of this.deps.jobs()) if (job.wake) wakes.set(`${job.wake.cron}\0${job.wake.timezone}`, job.wake);
    for (const w of wakes.values()) {
      this.tasks.push(cron.schedule(w.cron, () => void this.tick(), { timezone: w.timezone, name: `sluice ${w.cron}` }));
    }
    // Catch up after start-up (or the approval) has finished, not inside it.
    clearTimeout(this.soon);
    this.soon = setTimeout(() => void this.tick(), 0);
  }

  /** Runs every due window of every job, one at a time; overlapping ticks coalesce. */
  tick(): Promise<void> {
    return this.passes.kick();
  }

  private async runDue(): Promise<void> {
    for (const job of this.deps.jobs()) {
      if (this.passes.stopped) return;
      await this.runJob(job);
    }
  }

  private async runJob(job: WindowJob): Promise<void> {
    let windows: TimeWindow[];
    try {
      windows = job.dueWindows(this.deps.clock.now(), (w) => this.records.has(job.name, w));
    } catch (err) {
      this.deps.logger.error({ err, job: job.name }, 'cannot compute due windows');
      return;
    }
    for (const window of windows) {
      if (this.passes.stopped) return;
      let marked = false;
      try {
        await job.run({ window, markRun: () => void (marked = this.records.record(job.name, window, this.deps.clock.now()) || marked) });
        if (!marked) this.deps.db.tx(() => this.records.record(job.name, window, this.deps.clock.now()));
        this.deps.logger.info({ job: job.name, window: { start: new Date(window.start).toISOString(), end: new Date(window.end).toISOString() } }, 'scheduled run done');
      } catch (err) {
        // Not recorded, so the next tick tries this window again.
        this.deps.logger.error({ err, job: job.name }, 'scheduled run failed');
      }
    }
  }
}
