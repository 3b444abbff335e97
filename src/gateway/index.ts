export { openContext, allMigrations, type GatewayContext } from './context.js';
export { buildOperations, type RuntimeStatus } from './operations.js';
export { dataOperations, buildMaintenance, maintenanceSettings, specResolver, parseBefore, RETENTION_JOB, CHECKPOINT_JOB, type DataRuntime } from './operations-data.js';
export { buildSharing, policyJobs, type Sharing } from './sharing.js';
