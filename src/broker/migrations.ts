import type { Migration } from '../core/index.js';
import { poisonMigrations } from '../ingest/index.js';
import { persistenceMigrations } from './sqlite-persistence.js';

/**
 * The broker module's tables, in version order. Its v1 is the ingest poison table (registered
 * here before ingest owned the guard), so ingest's migration stays in this list.
 */
export const brokerMigrations: Migration[] = [...poisonMigrations, ...persistenceMigrations];
