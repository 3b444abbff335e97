export { dueSlot, nextSlot } from './due.js';
export { Scheduler, type Job, type JobRun } from './scheduler.js';
export { scheduleMigrations } from './schema.js';
export { dueWindows, type DueWindowsInput } from './windows.js';
// One window type for schedules and policies; it lives in core.
export type { TimeWindow } from '../core/index.js';
export { WindowScheduler, WindowRecords, type WindowJob, type WindowRun, type WindowSchedulerOptions } from './window-scheduler.js';
