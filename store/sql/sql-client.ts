// The SQL seam: one interface over PGlite (embedded) and PostgreSQL (cluster). SQL is written once, in the
// PostgreSQL dialect both understand, and always with parameters ($1, $2…), never by string concatenation of values.

export interface QueryResult<Row> {
  rows: Row[];
  rowCount: number;
}

export interface SqlExecutor {
  query<Row = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<QueryResult<Row>>;
  /** Runs a script of several statements without parameters (migrations). */
  exec(script: string): Promise<void>;
}

export interface SqlClient extends SqlExecutor {
  readonly dialect: 'pglite' | 'postgres';
  /** Runs fn in one transaction (BEGIN … COMMIT, ROLLBACK on throw). */
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** A schema change, applied once, in id order, recorded in `schema_migrations`. */
export interface Migration {
  /** Globally unique and sortable, e.g. `store-0001-log`, `engine-0001-messages`. */
  id: string;
  sql: string;
}
