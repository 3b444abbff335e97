export { dueSlot, nextSlot } from './due.js';
export { Scheduler, type Job, type JobRun } from './scheduler.js';
export { scheduleMigrations } from './schema.js';
