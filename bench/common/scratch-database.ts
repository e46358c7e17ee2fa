// A throwaway PostgreSQL database for a benchmark run, created beside the others on the server of
// KENEY_BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres) and dropped at the end.
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const BENCH_ADMIN_URL = process.env.KENEY_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface ScratchDatabase {
  /** Connection URL of the new database. */
  url: string;
  /** Drops it, closing whatever connections are left. */
  drop(): Promise<void>;
}

async function run(statement: string): Promise<void> {
  const admin = new pg.Client({ connectionString: BENCH_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(statement);
  } finally {
    await admin.end();
  }
}

/** Creates `<prefix>_<random>`: the prefix names the benchmark, so a leftover database says where it came from. */
export async function scratchDatabase(prefix: string): Promise<ScratchDatabase> {
  if (!/^[a-z][a-z0-9_]*$/.test(prefix)) throw new Error(`Not a database name prefix: ${prefix}`);
  const name = `${prefix}_${randomBytes(4).toString('hex')}`;
  await run(`CREATE DATABASE ${name}`);
  const url = new URL(BENCH_ADMIN_URL);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => run(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}
