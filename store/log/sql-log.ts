// The change log as an SQL table: PGlite in the embedded profile, PostgreSQL otherwise.
// Appends are group-committed: concurrent append() calls share one INSERT and one COMMIT.
// Offsets come from one sequence; appends are serialized by an advisory lock inside the appending
// transaction, so a reader never sees offset n+1 committed before offset n (no gaps that later fill).
import { EventEmitter } from 'node:events';
import type { ChangeSet, LogRecord } from '../change-set.js';
import { partitionFor } from '../change-set.js';
import type { Migration, SqlClient } from '../sql/sql-client.js';
import type { AppendResult, ChangeLog, ReadOptions } from './change-log.js';
import { GroupCommitter } from './group-commit.js';

const APPEND_LOCK = 7_340_002;

export const sqlLogMigrations: Migration[] = [
  {
    id: 'store-0001-change-log',
    sql: `
      CREATE TABLE change_log (
        "offset" bigserial PRIMARY KEY,
        partition integer NOT NULL,
        change_set_id uuid NOT NULL UNIQUE,
        partition_key text NOT NULL,
        origin text NOT NULL,
        bundle text NOT NULL,
        appended_at timestamptz NOT NULL
      );
      CREATE INDEX change_log_partition ON change_log (partition, "offset");
    `,
  },
];

interface Row {
  offset: number;
  partition: number;
  change_set_id: string;
  partition_key: string;
  origin: string;
  bundle: string;
  appended_at: Date | string;
}

export interface SqlChangeLogOptions {
  partitions?: number;
  /** How often a waiting read re-checks the table when the append happened in another process. */
  pollIntervalMs?: number;
  /** At most this many change sets per group commit. */
  maxBatch?: number;
}

export class SqlChangeLog implements ChangeLog {
  readonly kind = 'sql' as const;
  readonly partitions: number;
  private readonly appended = new EventEmitter();
  private readonly committer: GroupCommitter<ChangeSet, AppendResult>;
  private readonly pollIntervalMs: number;
  private closed = false;
  /** Durable writes (group commits) made so far. */
  flushes = 0;

  constructor(
    private readonly sql: SqlClient,
    options: SqlChangeLogOptions = {},
  ) {
    this.partitions = options.partitions ?? 1;
    this.pollIntervalMs = options.pollIntervalMs ?? 250;
    this.appended.setMaxListeners(0);
    this.committer = new GroupCommitter((batch) => this.insertBatch(batch), { maxBatch: options.maxBatch ?? 500 });
  }

  async init(): Promise<void> {
    // The table comes from sqlLogMigrations (applied by the hub with the other migrations).
  }

  append(changeSets: ChangeSet[]): Promise<AppendResult[]> {
    if (this.closed) return Promise.reject(new Error('The change log is closed: no more appends are accepted.'));
    return Promise.all(changeSets.map((cs) => this.committer.submit(cs)));
  }

  private async insertBatch(batch: ChangeSet[]): Promise<AppendResult[]> {
    const partitions = batch.map((cs) => partitionFor(cs.partitionKey, this.partitions));
    const results = await this.sql.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [APPEND_LOCK]);
      const inserted = await tx.query<{
        change_set_id: string;
        offset: number;
        partition: number;
        appended_at: Date | string;
      }>(
        `INSERT INTO change_log (partition, change_set_id, partition_key, origin, bundle, appended_at)
         SELECT p, id, k, o, b, clock_timestamp()
           FROM unnest($1::int[], $2::uuid[], $3::text[], $4::text[], $5::text[]) WITH ORDINALITY AS t(p, id, k, o, b, n)
          ORDER BY n
         ON CONFLICT (change_set_id) DO NOTHING
         RETURNING change_set_id, "offset", partition, appended_at`,
        [
          partitions,
          batch.map((cs) => cs.id),
          batch.map((cs) => cs.partitionKey),
          batch.map((cs) => JSON.stringify(cs.origin)),
          batch.map((cs) => JSON.stringify(cs.bundle)),
        ],
      );
      const byId = new Map(inserted.rows.map((r) => [r.change_set_id, r]));
      // A change set id already in the log (a retry after a lost reply) answers with its first append.
      const missing = batch.filter((cs) => !byId.has(cs.id)).map((cs) => cs.id);
      if (missing.length > 0) {
        const existing = await tx.query<{
          change_set_id: string;
          offset: number;
          partition: number;
          appended_at: Date | string;
        }>(
          'SELECT change_set_id, "offset", partition, appended_at FROM change_log WHERE change_set_id = ANY($1::uuid[])',
          [missing],
        );
        for (const row of existing.rows) byId.set(row.change_set_id, row);
      }
      return batch.map((cs) => {
        const row = byId.get(cs.id)!;
        return { partition: row.partition, offset: Number(row.offset), appendedAt: toIso(row.appended_at) };
      });
    });
    this.flushes++;
    for (const partition of new Set(results.map((r) => r.partition))) this.appended.emit(`p${partition}`);
    return results;
  }

  async read(partition: number, fromOffset: number, options: ReadOptions = {}): Promise<LogRecord[]> {
    const maxRecords = options.maxRecords ?? 500;
    const deadline = Date.now() + (options.waitMs ?? 0);
    for (;;) {
      const rows = await this.sql.query<Row>(
        `SELECT "offset", partition, change_set_id, partition_key, origin, bundle, appended_at
           FROM change_log WHERE partition = $1 AND "offset" >= $2 ORDER BY "offset" LIMIT $3`,
        [partition, fromOffset, maxRecords],
      );
      if (rows.rows.length > 0 || Date.now() >= deadline || options.signal?.aborted || this.closed) {
        return rows.rows.map(toRecord);
      }
      await this.waitForAppend(partition, Math.min(this.pollIntervalMs, deadline - Date.now()), options.signal);
    }
  }

  private waitForAppend(partition: number, ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const event = `p${partition}`;
      const done = () => {
        clearTimeout(timer);
        this.appended.off(event, done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(ms, 0));
      this.appended.once(event, done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  async endOffsets(): Promise<number[]> {
    const rows = await this.sql.query<{ partition: number; next: number }>(
      'SELECT partition, max("offset") + 1 AS next FROM change_log GROUP BY partition',
    );
    const ends = new Array<number>(this.partitions).fill(0);
    for (const row of rows.rows) ends[row.partition] = Number(row.next);
    return ends;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.committer.drain();
    this.appended.emit('close');
  }
}

function toIso(value: Date | string): string {
  return value instanceof Date ? value.toISOString() : new Date(value).toISOString();
}

function toRecord(row: Row): LogRecord {
  return {
    partition: row.partition,
    offset: Number(row.offset),
    appendedAt: toIso(row.appended_at),
    changeSet: {
      id: row.change_set_id,
      partitionKey: row.partition_key,
      origin: JSON.parse(row.origin),
      bundle: JSON.parse(row.bundle),
    },
  };
}
