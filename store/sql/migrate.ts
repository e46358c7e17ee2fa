// Applies schema migrations once each, in id order. Each module exports its own list (store, engine,
// dicom, xds…); the hub passes them all. Concurrent hubs on one PostgreSQL serialize on an advisory lock.
import type { Migration, SqlClient } from './sql-client.js';

const MIGRATION_LOCK = 7_340_001;

export async function migrate(sql: SqlClient, migrations: readonly Migration[]): Promise<string[]> {
  const ids = new Set<string>();
  for (const m of migrations) {
    if (ids.has(m.id)) throw new Error(`Migration id "${m.id}" is declared twice: migration ids must be unique.`);
    ids.add(m.id);
  }
  const ordered = [...migrations].sort((a, b) => a.id.localeCompare(b.id));
  return sql.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await tx.query(
      'CREATE TABLE IF NOT EXISTS schema_migrations (id text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const done = new Set((await tx.query<{ id: string }>('SELECT id FROM schema_migrations')).rows.map((r) => r.id));
    const applied: string[] = [];
    for (const migration of ordered) {
      if (done.has(migration.id)) continue;
      try {
        await tx.exec(migration.sql);
      } catch (error) {
        throw new Error(`Migration ${migration.id} failed: ${(error as Error).message}`, { cause: error });
      }
      await tx.query('INSERT INTO schema_migrations (id) VALUES ($1)', [migration.id]);
      applied.push(migration.id);
    }
    return applied;
  });
}
