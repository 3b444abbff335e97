export { dueWindows, type DueWindowsInput, type Window } from './due.js';
export { Scheduler, RunRecords, scheduleMigrations, type ScheduledJob, type JobRun, type SchedulerOptions } from './scheduler.js';
