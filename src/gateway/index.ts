export { openContext, allMigrations, type GatewayContext } from './context.js';
export { buildOperations, type RuntimeStatus } from './operations.js';
