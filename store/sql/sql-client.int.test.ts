import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestPglite, openTestPostgres } from '../../test/databases.js';
import { hasService } from '../../test/services.js';
import { migrate } from './migrate.js';
import type { SqlClient } from './sql-client.js';

const profiles: Array<{
  name: string;
  available: () => boolean;
  open: () => Promise<{ client: SqlClient; drop: () => Promise<void> }>;
}> = [
  {
    name: 'pglite',
    available: () => true,
    open: async () => {
      const client = await openTestPglite();
      return { client, drop: () => client.close() };
    },
  },
  { name: 'postgres', available: () => hasService('postgres'), open: openTestPostgres },
];

for (const profile of profiles) {
  describe.skipIf(!profile.available())(`SQL client on ${profile.name}`, () => {
    let client: SqlClient;
    let drop: () => Promise<void>;
    beforeAll(async () => {
      ({ client, drop } = await profile.open());
    });
    afterAll(() => drop());

    it('applies each migration once, in id order, and refuses duplicate ids', async () => {
      const migrations = [
        { id: 't-0002-b', sql: 'ALTER TABLE t ADD COLUMN b text' },
        { id: 't-0001-a', sql: 'CREATE TABLE t (a int PRIMARY KEY)' },
      ];
      expect(await migrate(client, migrations)).toEqual(['t-0001-a', 't-0002-b']);
      expect(await migrate(client, migrations)).toEqual([]);
      await expect(migrate(client, [migrations[0]!, migrations[0]!])).rejects.toThrow(/declared twice/);
    });

    it('names the migration that fails and applies none of the batch', async () => {
      await expect(
        migrate(client, [
          { id: 'u-0001-ok', sql: 'CREATE TABLE u (a int)' },
          { id: 'u-0002-bad', sql: 'ALTER TABLE missing_table ADD COLUMN x int' },
        ]),
      ).rejects.toThrow(/Migration u-0002-bad failed/);
      const rows = await client.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_tables WHERE tablename = 'u'");
      expect(rows.rows[0]!.n).toBe(0);
    });

    it('rolls a transaction back when its function throws', async () => {
      await client.query('CREATE TABLE IF NOT EXISTS r (a int)');
      await expect(
        client.transaction(async (tx) => {
          await tx.query('INSERT INTO r VALUES ($1)', [1]);
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      expect((await client.query('SELECT * FROM r')).rows).toEqual([]);
    });

    it('passes values only as parameters: a hostile string stays data', async () => {
      await client.query('CREATE TABLE IF NOT EXISTS h (v text)');
      const hostile = "x'); DROP TABLE h; --";
      await client.query('INSERT INTO h VALUES ($1)', [hostile]);
      expect((await client.query<{ v: string }>('SELECT v FROM h')).rows[0]!.v).toBe(hostile);
    });
  });
}
