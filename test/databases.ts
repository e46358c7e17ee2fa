// Fresh databases for tests, cheaply.
// - Embedded: PGlite takes seconds to create, about one to clone, so every test database is a clone of
//   one template data directory (made once per run by the global setup, kept in a temporary file).
// - PostgreSQL: a new database per call on the test server, dropped by the returned cleanup.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rmdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { PgliteClient } from '../store/sql/pglite-client.js';
import { PostgresClient } from '../store/sql/postgres-client.js';
import { testServiceConfig } from './services.js';

export const PGLITE_TEMPLATE = join(tmpdir(), `keney-pglite-template-${process.env.KENEY_TEST_RUN_ID ?? 'dev'}.tar`);

/**
 * Creates the template on first need (one test worker makes it, the others wait for it); later calls return at
 * once. Runs that need no database never pay for it.
 */
export async function preparePgliteTemplate(): Promise<void> {
  const lock = `${PGLITE_TEMPLATE}.lock`;
  for (;;) {
    if (existsSync(PGLITE_TEMPLATE)) return;
    try {
      await mkdir(lock);
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 200));
      continue;
    }
    try {
      if (existsSync(PGLITE_TEMPLATE)) return;
      const client = await PgliteClient.open();
      const dump = await client.dumpDataDir();
      await client.close();
      const temporary = `${PGLITE_TEMPLATE}.${process.pid}.tmp`;
      await writeFile(temporary, Buffer.from(await dump.arrayBuffer()));
      await rename(temporary, PGLITE_TEMPLATE);
      return;
    } finally {
      await rmdir(lock).catch(() => undefined);
    }
  }
}

/** A new, empty in-memory embedded database. */
export async function openTestPglite(): Promise<PgliteClient> {
  await preparePgliteTemplate();
  const bytes = await readFile(PGLITE_TEMPLATE);
  return PgliteClient.open(undefined, { loadDataDir: new Blob([bytes]) });
}

/** A new, empty PostgreSQL database on the test server; `drop` removes it. */
export async function openTestPostgres(): Promise<{ client: PostgresClient; url: string; drop: () => Promise<void> }> {
  const adminUrl = testServiceConfig.postgresUrl;
  const name = `keney_t_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const client = new PostgresClient(url.toString(), { max: 8, applicationName: 'keney-test' });
  return {
    client,
    url: url.toString(),
    drop: async () => {
      await client.close();
      const again = new pg.Client({ connectionString: adminUrl });
      await again.connect();
      await again.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await again.end();
    },
  };
}

/** Fills `<dataDir>/pglite` with a copy of the template (a hub process then opens it in about a second). */
export async function prepareEmbeddedDataDir(dataDir: string): Promise<void> {
  await preparePgliteTemplate();
  const target = join(dataDir, 'pglite');
  const { execFile } = await import('node:child_process');
  const { promisify } = await import('node:util');
  await mkdir(target, { recursive: true });
  await promisify(execFile)('tar', ['-xf', PGLITE_TEMPLATE, '-C', target]);
}
