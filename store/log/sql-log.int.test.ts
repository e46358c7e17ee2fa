// The SQL change log passes the same contract as the Kafka log, on PGlite and on PostgreSQL.
import { describe } from 'vitest';
import { openTestPglite, openTestPostgres } from '../../test/databases.js';
import { hasService } from '../../test/services.js';
import { migrate } from '../sql/migrate.js';
import { describeChangeLogContract } from './change-log.contract.js';
import { SqlChangeLog, sqlLogMigrations } from './sql-log.js';

describe('SqlChangeLog on PGlite', () => {
  describeChangeLogContract('sql-pglite', async () => {
    const sql = await openTestPglite();
    await migrate(sql, sqlLogMigrations);
    const log = new SqlChangeLog(sql, { partitions: 4, pollIntervalMs: 50 });
    return { log, flushes: () => log.flushes, dispose: () => sql.close() };
  });
});

describe.skipIf(!hasService('postgres'))('SqlChangeLog on PostgreSQL', () => {
  describeChangeLogContract('sql-postgres', async () => {
    const db = await openTestPostgres();
    await migrate(db.client, sqlLogMigrations);
    const log = new SqlChangeLog(db.client, { partitions: 4, pollIntervalMs: 50 });
    return { log, flushes: () => log.flushes, dispose: db.drop };
  });
});
