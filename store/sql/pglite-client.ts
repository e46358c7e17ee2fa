// Embedded profile: PostgreSQL compiled to WebAssembly (PGlite), one data directory, nothing to install.
// PGlite is a single connection: queries are serialized by PGlite itself, a transaction holds it exclusively.
import { mkdir } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import type { QueryResult, SqlClient, SqlExecutor } from './sql-client.js';

export class PgliteClient implements SqlClient {
  readonly dialect = 'pglite' as const;

  private constructor(private readonly db: PGlite) {}

  /** Opens (or creates, which takes several seconds the first time) the database in `dataDir`; in memory when undefined. */
  static async open(dataDir?: string, options: { loadDataDir?: Blob } = {}): Promise<PgliteClient> {
    if (dataDir) await mkdir(dataDir, { recursive: true });
    const db = await PGlite.create(dataDir ?? 'memory://', {
      extensions: { pg_trgm },
      ...(options.loadDataDir ? { loadDataDir: options.loadDataDir } : {}),
    });
    await db.exec('CREATE EXTENSION IF NOT EXISTS pg_trgm');
    return new PgliteClient(db);
  }

  async query<Row = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<QueryResult<Row>> {
    const result = await this.db.query<Row>(text, params as unknown[] | undefined);
    return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length };
  }

  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return this.db.transaction(async (tx) =>
      fn({
        async query<Row = Record<string, unknown>>(text: string, params?: readonly unknown[]) {
          const result = await tx.query<Row>(text, params as unknown[] | undefined);
          return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length };
        },
        async exec(script: string) {
          await tx.exec(script);
        },
      }),
    );
  }

  async exec(script: string): Promise<void> {
    await this.db.exec(script);
  }

  /** Writes a consistent copy of the data directory as a tarball (used to clone prepared test databases). */
  async dumpDataDir(): Promise<Blob> {
    return (await this.db.dumpDataDir('none')) as Blob;
  }

  async close(): Promise<void> {
    if (!this.db.closed) await this.db.close();
  }
}
