// A canonical store on a fresh database for tests: embedded (PGlite + SQL log) or, when asked and
// available, PostgreSQL with the SQL log. The projector runs; `close()` tears everything down.
import { CanonicalStore } from '../store/canonical-store.js';
import { loadDefinitions } from '../store/fhir/definitions.js';
import type { ChangeLog } from '../store/log/change-log.js';
import { SqlChangeLog } from '../store/log/sql-log.js';
import { storeMigrations } from '../store/migrations.js';
import { Projector } from '../store/projection/projector.js';
import { migrate } from '../store/sql/migrate.js';
import type { Migration, SqlClient } from '../store/sql/sql-client.js';
import { openTestPglite, openTestPostgres } from './databases.js';

export type TestProfile = 'pglite' | 'postgres';

export interface TestStore {
  sql: SqlClient;
  log: ChangeLog;
  projector: Projector;
  store: CanonicalStore;
  close(): Promise<void>;
}

export async function openTestStore(
  profile: TestProfile = 'pglite',
  options: { migrations?: Migration[]; log?: (sql: SqlClient) => Promise<ChangeLog>; startProjector?: boolean } = {},
): Promise<TestStore> {
  loadDefinitions();
  let sql: SqlClient;
  let drop: () => Promise<void>;
  if (profile === 'pglite') {
    const client = await openTestPglite();
    sql = client;
    drop = () => client.close();
  } else {
    const db = await openTestPostgres();
    sql = db.client;
    drop = db.drop;
  }
  await migrate(sql, [...storeMigrations, ...(options.migrations ?? [])]);
  const log = options.log ? await options.log(sql) : new SqlChangeLog(sql, { pollIntervalMs: 50 });
  await log.init();
  const projector = new Projector(sql, log, { pollWaitMs: 200 });
  const store = new CanonicalStore(sql, log, projector, { applyTimeoutMs: 15_000 });
  if (options.startProjector !== false) projector.assign([...Array(log.partitions).keys()]);
  return {
    sql,
    log,
    projector,
    store,
    async close() {
      store.close();
      await projector.stop();
      await log.close();
      await drop();
    },
  };
}
