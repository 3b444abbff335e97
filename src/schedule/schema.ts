import type { Migration } from '../core/index.js';

export const scheduleMigrations: Migration[] = [
  {
    module: 'schedule',
    version: 1,
    description: 'a record of every scheduled job run',
    up: (db) =>
      db.exec(`
        -- trigger: 'schedule' (due by cron) or 'manual'; only scheduled runs decide due-ness.
        CREATE TABLE schedule_runs (
          id INTEGER PRIMARY KEY,
          job TEXT NOT NULL,
          scheduled_for INTEGER NOT NULL,
          trigger TEXT NOT NULL CHECK (trigger IN ('schedule', 'manual')),
          started_at INTEGER NOT NULL,
          finished_at INTEGER,
          outcome TEXT NOT NULL CHECK (outcome IN ('running', 'ok', 'failed')),
          detail TEXT
        );
        CREATE INDEX schedule_runs_job ON schedule_runs (job, trigger, scheduled_for);
      `),
  },
  {
    module: 'schedule',
    version: 2,
    description: 'windows produced by window jobs (policy summaries), one row per job and window',
    up: (db) =>
      db.exec(`
        CREATE TABLE schedule_windows (
          job TEXT NOT NULL,
          window_start INTEGER NOT NULL,
          window_end INTEGER NOT NULL,
          ran_at INTEGER NOT NULL,
          PRIMARY KEY (job, window_start, window_end)
        ) WITHOUT ROWID;
      `),
  },
];
