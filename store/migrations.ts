// All schema migrations of the store, in one list for the hub to apply.
import { sqlLogMigrations } from './log/sql-log.js';
import { projectionMigrations } from './projection/schema.js';
import type { Migration } from './sql/sql-client.js';

export const storeMigrations: Migration[] = [...sqlLogMigrations, ...projectionMigrations];
