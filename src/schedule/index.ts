export { dueSlot, nextSlot } from './due.js';
export { Scheduler, type Job, type JobRun } from './scheduler.js';
export { scheduleMigrations } from './schema.js';
export { dueWindows, type DueWindowsInput, type Window } from './windows.js';
export { WindowScheduler, WindowRecords, type WindowJob, type WindowRun, type WindowSchedulerOptions } from './window-scheduler.js';
