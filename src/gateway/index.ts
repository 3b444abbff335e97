export { openContext, allMigrations, type GatewayContext } from './context.js';
export { buildOperations, type RuntimeStatus } from './operations.js';
export { buildSharing, policyJobs, type Sharing } from './sharing.js';
