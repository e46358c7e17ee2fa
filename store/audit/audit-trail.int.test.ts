import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestPglite } from '../../test/databases.js';
import { migrate } from '../sql/migrate.js';
import type { PgliteClient } from '../sql/pglite-client.js';
import { AuditTrail, auditMigrations } from './audit-trail.js';

describe('audit trail (hash chains)', () => {
  let sql: PgliteClient;
  beforeAll(async () => {
    sql = await openTestPglite();
    await migrate(sql, auditMigrations);
  });
  afterAll(() => sql.close());

  const event = (i: number) => ({
    actor: 'tok-1',
    action: 'read' as const,
    resourceType: 'Patient',
    resourceId: `p${i}`,
    outcome: 200,
    patientIds: [`p${i}`],
  });

  it('chains each process run after the previous one, group-commits, and verifies clean', async () => {
    const first = new AuditTrail(sql, 'hub-a@1');
    await Promise.all(Array.from({ length: 25 }, (_, i) => first.record(event(i))));
    const second = new AuditTrail(sql, 'hub-a@2');
    for (let i = 0; i < 5; i++) await second.record(event(100 + i));
    const rows = await sql.query<{ chain: string; seq: number; prev_hash: string; hash: string }>(
      'SELECT chain, seq, prev_hash, hash FROM audit_trail ORDER BY chain, seq',
    );
    expect(rows.rows.filter((r) => r.chain === 'hub-a@1').map((r) => Number(r.seq))).toEqual(
      Array.from({ length: 25 }, (_, i) => i + 1),
    );
    const head = rows.rows.filter((r) => r.chain === 'hub-a@1').at(-1)!;
    expect(rows.rows.find((r) => r.chain === 'hub-a@2' && Number(r.seq) === 1)!.prev_hash).toBe(head.hash);
    expect(await second.verify()).toMatchObject({ ok: true, rows: 30 });
  });

  it('reports a modified row, a deleted row, and a whole earlier chain removed', async () => {
    const trail = new AuditTrail(sql, 'verifier');
    await sql.query("UPDATE audit_trail SET outcome = 403 WHERE chain = 'hub-a@2' AND seq = 2");
    let result = await trail.verify();
    expect(result.ok).toBe(false);
    expect(result.problems).toContainEqual(expect.objectContaining({ chain: 'hub-a@2', seq: 2, kind: 'modified' }));

    await sql.query("DELETE FROM audit_trail WHERE chain = 'hub-a@2' AND seq = 4");
    result = await trail.verify();
    expect(result.problems).toContainEqual(expect.objectContaining({ chain: 'hub-a@2', seq: 4, kind: 'missing' }));

    await sql.query("DELETE FROM audit_trail WHERE chain = 'hub-a@1'");
    result = await trail.verify();
    expect(result.problems).toContainEqual(expect.objectContaining({ chain: 'hub-a@2', seq: 1, kind: 'broken-link' }));
  });
});
