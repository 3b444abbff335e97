import type { Migration } from '../core/index.js';
import { poisonMigrations } from './poison-guard.js';
import { persistenceMigrations } from './sqlite-persistence.js';

/** The broker module's tables, in version order. */
export const brokerMigrations: Migration[] = [...poisonMigrations, ...persistenceMigrations];
