// The audit trail: who did what to which health data, when and why. Append-only, and hash-chained:
// each row stores the hash of the previous row and its own hash over its content, and sequence numbers
// are dense, so a modified, deleted or inserted row breaks the chain and `keney audit verify` finds it.
// Writes are group-committed (many requests, one transaction) and awaited before the response is sent.
import { createHash } from 'node:crypto';
import { GroupCommitter } from '../log/group-commit.js';
import type { Migration, SqlClient } from '../sql/sql-client.js';

export const AuditAction = {
  Read: 'read',
  Vread: 'vread',
  Search: 'search',
  History: 'history',
  Create: 'create',
  Update: 'update',
  Delete: 'delete',
  Transaction: 'transaction',
  Batch: 'batch',
  Operation: 'operation',
  Export: 'export',
  Admin: 'admin',
} as const;
export type AuditAction = (typeof AuditAction)[keyof typeof AuditAction];

export interface AuditEventInput {
  /** Who: the principal (token subject) or the channel. */
  actor: string;
  action: AuditAction;
  resourceType?: string;
  resourceId?: string;
  /** The query or operation details (never a request body). */
  query?: string;
  /** HTTP status (or equivalent) of the outcome. */
  outcome: number;
  /** Why: purpose of use (e.g. TREAT, from the X-Purpose-Of-Use header). */
  purpose?: string;
  sourceIp?: string;
  requestId?: string;
  /** Whose data was touched, when known. */
  patientIds?: string[];
}

export interface AuditRow extends AuditEventInput {
  seq: number;
  recordedAt: string;
  prevHash: string;
  hash: string;
}

export const auditMigrations: Migration[] = [
  {
    id: 'store-0003-audit-trail',
    sql: `
      CREATE TABLE audit_trail (
        seq bigint PRIMARY KEY,
        recorded_at timestamptz NOT NULL,
        actor text NOT NULL,
        action text NOT NULL,
        resource_type text,
        resource_id text,
        query text,
        outcome integer NOT NULL,
        purpose text,
        source_ip text,
        request_id text,
        patient_ids text[],
        prev_hash text NOT NULL,
        hash text NOT NULL
      );
      CREATE INDEX audit_trail_time ON audit_trail (recorded_at);
      CREATE INDEX audit_trail_resource ON audit_trail (resource_type, resource_id);
      CREATE INDEX audit_trail_actor ON audit_trail (actor, recorded_at);
    `,
  },
];

const CHAIN_LOCK = 7_340_003;
export const GENESIS_HASH = '0'.repeat(64);

/** The hash of a row: sha256 over the previous hash and the row's fields in a fixed order. */
export function auditHash(prevHash: string, row: Omit<AuditRow, 'hash' | 'prevHash'>): string {
  const fields = [
    row.seq,
    row.recordedAt,
    row.actor,
    row.action,
    row.resourceType ?? null,
    row.resourceId ?? null,
    row.query ?? null,
    row.outcome,
    row.purpose ?? null,
    row.sourceIp ?? null,
    row.requestId ?? null,
    row.patientIds ?? null,
  ];
  return createHash('sha256').update(prevHash).update('\n').update(JSON.stringify(fields)).digest('hex');
}

export interface AuditSink {
  record(event: AuditEventInput): Promise<void>;
}

export interface AuditProblem {
  seq: number;
  kind: 'modified' | 'missing' | 'broken-link';
  detail: string;
}

export interface AuditVerification {
  ok: boolean;
  rows: number;
  problems: AuditProblem[];
}

export class AuditTrail implements AuditSink {
  private readonly committer: GroupCommitter<AuditEventInput, void>;

  constructor(private readonly sql: SqlClient) {
    this.committer = new GroupCommitter((batch) => this.write(batch), { maxBatch: 1000 });
  }

  record(event: AuditEventInput): Promise<void> {
    return this.committer.submit(event);
  }

  async flush(): Promise<void> {
    await this.committer.drain();
  }

  private async write(batch: AuditEventInput[]): Promise<void[]> {
    await this.sql.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [CHAIN_LOCK]);
      const last = await tx.query<{ seq: number; hash: string }>('SELECT seq, hash FROM audit_trail ORDER BY seq DESC LIMIT 1');
      let seq = Number(last.rows[0]?.seq ?? 0);
      let prevHash = last.rows[0]?.hash ?? GENESIS_HASH;
      const rows: AuditRow[] = [];
      for (const event of batch) {
        seq += 1;
        const base = { ...event, seq, recordedAt: new Date().toISOString() };
        const hash = auditHash(prevHash, base);
        rows.push({ ...base, prevHash, hash });
        prevHash = hash;
      }
      await tx.query(
        `INSERT INTO audit_trail (seq, recorded_at, actor, action, resource_type, resource_id, query, outcome, purpose,
                                  source_ip, request_id, patient_ids, prev_hash, hash)
         SELECT s, t, a, ac, rt, ri, q, o, p, ip, rq, CASE WHEN pi IS NULL THEN NULL ELSE string_to_array(pi, E'\\x1f') END, ph, h
           FROM unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::int[],
                       $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[])
             AS u(s, t, a, ac, rt, ri, q, o, p, ip, rq, pi, ph, h)`,
        [
          rows.map((r) => r.seq),
          rows.map((r) => r.recordedAt),
          rows.map((r) => r.actor),
          rows.map((r) => r.action),
          rows.map((r) => r.resourceType ?? null),
          rows.map((r) => r.resourceId ?? null),
          rows.map((r) => r.query ?? null),
          rows.map((r) => r.outcome),
          rows.map((r) => r.purpose ?? null),
          rows.map((r) => r.sourceIp ?? null),
          rows.map((r) => r.requestId ?? null),
          rows.map((r) => (r.patientIds ? r.patientIds.join('\x1f') : null)),
          rows.map((r) => r.prevHash),
          rows.map((r) => r.hash),
        ],
      );
    });
    return batch.map(() => undefined);
  }

  /** Walks the whole chain in order; reports every row whose content, link or presence is wrong. */
  async verify(onProgress?: (rows: number) => void): Promise<AuditVerification> {
    const problems: AuditProblem[] = [];
    let expectedSeq = 1;
    let prevHash = GENESIS_HASH;
    let count = 0;
    let after = 0;
    for (;;) {
      const page = await this.sql.query<{
        seq: number;
        recorded_at: Date | string;
        actor: string;
        action: AuditAction;
        resource_type: string | null;
        resource_id: string | null;
        query: string | null;
        outcome: number;
        purpose: string | null;
        source_ip: string | null;
        request_id: string | null;
        patient_ids: string[] | null;
        prev_hash: string;
        hash: string;
      }>('SELECT * FROM audit_trail WHERE seq > $1 ORDER BY seq LIMIT 5000', [after]);
      if (page.rows.length === 0) break;
      for (const r of page.rows) {
        const seq = Number(r.seq);
        if (seq !== expectedSeq) {
          problems.push({ seq: expectedSeq, kind: 'missing', detail: `rows ${expectedSeq}..${seq - 1} are missing (deleted)` });
        }
        if (r.prev_hash !== prevHash) {
          problems.push({ seq, kind: 'broken-link', detail: `row ${seq} does not follow the previous row's hash` });
        }
        const recomputed = auditHash(r.prev_hash, {
          seq,
          recordedAt: new Date(r.recorded_at).toISOString(),
          actor: r.actor,
          action: r.action,
          ...(r.resource_type !== null ? { resourceType: r.resource_type } : {}),
          ...(r.resource_id !== null ? { resourceId: r.resource_id } : {}),
          ...(r.query !== null ? { query: r.query } : {}),
          outcome: r.outcome,
          ...(r.purpose !== null ? { purpose: r.purpose } : {}),
          ...(r.source_ip !== null ? { sourceIp: r.source_ip } : {}),
          ...(r.request_id !== null ? { requestId: r.request_id } : {}),
          ...(r.patient_ids !== null ? { patientIds: r.patient_ids } : {}),
        });
        if (recomputed !== r.hash) {
          problems.push({ seq, kind: 'modified', detail: `row ${seq} was modified after it was written (its hash does not match its content)` });
        }
        prevHash = r.hash;
        expectedSeq = seq + 1;
        count++;
      }
      after = Number(page.rows.at(-1)!.seq);
      onProgress?.(count);
    }
    return { ok: problems.length === 0, rows: count, problems };
  }
}
