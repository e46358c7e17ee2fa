// The projector folds the change log into the projection. It is the single writer of each partition it
// owns: it reads records in offset order and applies a batch per SQL transaction, each change set inside
// a savepoint, recording "change set N applied" and the partition's next offset in that same transaction
// (so a redelivered or re-read record is skipped: exactly-once effect). After the commit it publishes the
// outcomes so that a REST call or a channel can wait for its change (read-your-writes).
import { EventEmitter } from 'node:events';
import type { OperationOutcome } from '@medplum/fhirtypes';
import type { LogRecord } from '../change-set.js';
import { isFhirError } from '../fhir/outcome.js';
import type { ChangeLog } from '../log/change-log.js';
import type { SqlClient, SqlExecutor } from '../sql/sql-client.js';
import { ChangeSetApplier, type ChangeSetOutcome } from './apply.js';
import { PROJECTION_TABLES } from './schema.js';

export interface ProjectorLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface ProjectorOptions {
  /** Records per SQL transaction (default 200). */
  batchSize?: number;
  /** How long a read waits for new records before looping (default 1000 ms). */
  pollWaitMs?: number;
  /** Attempts before a change set that fails for a non-FHIR reason is rejected as an internal error. */
  maxAttempts?: number;
  logger?: ProjectorLogger;
  /** Called after each committed batch (cluster: NOTIFY other instances). */
  onCommitted?: (outcomes: ChangeSetOutcome[], partition: number) => Promise<void> | void;
}

export interface ProjectorEvents {
  outcome: [ChangeSetOutcome];
  lag: [partition: number, nextOffset: number];
}

const silent: ProjectorLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };

export class Projector extends EventEmitter<ProjectorEvents> {
  private readonly loops = new Map<number, { abort: AbortController; done: Promise<void> }>();
  private readonly batchSize: number;
  private readonly pollWaitMs: number;
  private readonly maxAttempts: number;
  private readonly logger: ProjectorLogger;
  readonly positions = new Map<number, number>();

  constructor(
    private readonly sql: SqlClient,
    private readonly log: ChangeLog,
    private readonly options: ProjectorOptions = {},
  ) {
    super();
    this.setMaxListeners(0);
    this.batchSize = options.batchSize ?? 200;
    this.pollWaitMs = options.pollWaitMs ?? 1000;
    this.maxAttempts = options.maxAttempts ?? 3;
    this.logger = options.logger ?? silent;
  }

  /** Starts folding the given partitions (idempotent per partition). */
  assign(partitions: readonly number[]): void {
    for (const partition of partitions) {
      if (this.loops.has(partition)) continue;
      const abort = new AbortController();
      const done = this.run(partition, abort.signal).catch((error) => {
        this.logger.error({ err: error, partition }, 'projector loop stopped on an unexpected error');
      });
      this.loops.set(partition, { abort, done });
    }
  }

  /** Stops folding these partitions after their current batch. */
  async revoke(partitions: readonly number[]): Promise<void> {
    await Promise.all(
      partitions.map(async (partition) => {
        const loop = this.loops.get(partition);
        if (!loop) return;
        loop.abort.abort();
        await loop.done;
        this.loops.delete(partition);
      }),
    );
  }

  owned(): number[] {
    return [...this.loops.keys()].sort((a, b) => a - b);
  }

  async stop(): Promise<void> {
    await this.revoke(this.owned());
  }

  /** Folds everything currently in the log for the owned partitions, then resolves (tests, rebuild). */
  async catchUp(partitions: readonly number[] = [...Array(this.log.partitions).keys()]): Promise<void> {
    const ends = await this.log.endOffsets();
    for (const partition of partitions) {
      let next = await this.nextOffset(partition);
      for (let empty = 0; next < (ends[partition] ?? 0);) {
        const records = await this.log.read(partition, next, {
          maxRecords: this.batchSize,
          waitMs: empty > 0 ? 200 : 0,
        });
        if (records.length === 0) {
          // The log said it holds records up to `end`: nothing at `next` is not "caught up". Stopping here would leave
          // a rebuild short without a word, so look again briefly, then say so.
          if (++empty > 25) {
            throw new Error(
              `The log gave no record at offset ${next} of partition ${partition}, though it reported records up to ` +
                `offset ${(ends[partition] ?? 0) - 1}. Check the log's health (broker logs) and run the command again.`,
            );
          }
          continue;
        }
        empty = 0;
        await this.applyWithRetry(partition, records);
        next = records.at(-1)!.offset + 1;
      }
    }
  }

  async nextOffset(partition: number): Promise<number> {
    const rows = await this.sql.query<{ next_offset: number }>(
      'SELECT next_offset FROM projection_offsets WHERE partition = $1',
      [partition],
    );
    return Number(rows.rows[0]?.next_offset ?? 0);
  }

  private async run(partition: number, signal: AbortSignal): Promise<void> {
    let next = await this.nextOffset(partition);
    this.positions.set(partition, next);
    while (!signal.aborted) {
      let records: LogRecord[];
      try {
        records = await this.log.read(partition, next, { maxRecords: this.batchSize, waitMs: this.pollWaitMs, signal });
      } catch (error) {
        if (signal.aborted) return;
        this.logger.warn({ err: error, partition }, 'reading the change log failed; retrying');
        await sleep(1000, signal);
        continue;
      }
      if (records.length === 0 || signal.aborted) continue;
      await this.applyWithRetry(partition, records, signal);
      next = records.at(-1)!.offset + 1;
      this.positions.set(partition, next);
      this.emit('lag', partition, next);
    }
  }

  /**
   * Applies a batch; on an infrastructure failure (database down…) retries with backoff, forever: the log
   * keeps everything, nothing is skipped. A change set that fails alone `maxAttempts` times for a
   * non-FHIR reason is rejected with a 500 outcome and an error log (an alert), so the partition moves on.
   */
  private async applyWithRetry(partition: number, records: LogRecord[], signal?: AbortSignal): Promise<void> {
    let delay = 200;
    for (let attempt = 1; ; attempt++) {
      try {
        const outcomes = await this.applyBatch(partition, records, attempt > this.maxAttempts && records.length === 1);
        this.publish(outcomes);
        await this.options.onCommitted?.(outcomes, partition);
        return;
      } catch (error) {
        if (signal?.aborted) throw error;
        this.logger.warn(
          { err: error, partition, attempt, records: records.length },
          'applying a batch of change sets failed; retrying',
        );
        if (records.length > 1 && attempt >= this.maxAttempts) {
          // Find the culprit: apply one by one.
          for (const record of records) await this.applyWithRetry(partition, [record], signal);
          return;
        }
        await sleep(delay, signal);
        delay = Math.min(delay * 2, 10_000);
      }
    }
  }

  private publish(outcomes: ChangeSetOutcome[]): void {
    for (const outcome of outcomes) this.emit('outcome', outcome);
  }

  /** One SQL transaction for the whole batch. */
  async applyBatch(partition: number, records: LogRecord[], rejectUnexpected = false): Promise<ChangeSetOutcome[]> {
    return this.sql.transaction(async (tx) => {
      const ids = records.map((r) => r.changeSet.id);
      const done = new Set(
        (
          await tx.query<{ change_set_id: string }>(
            'SELECT change_set_id FROM applied_change_sets WHERE change_set_id = ANY($1::uuid[])',
            [ids],
          )
        ).rows.map((r) => r.change_set_id),
      );
      const outcomes: (ChangeSetOutcome & { partition: number; offset: number })[] = [];
      for (const record of records) {
        if (done.has(record.changeSet.id)) continue;
        done.add(record.changeSet.id);
        const outcome = await this.applyOne(tx, record, rejectUnexpected);
        outcomes.push({ ...outcome, partition: record.partition, offset: record.offset });
      }
      if (outcomes.length > 0) {
        await tx.query(
          `INSERT INTO applied_change_sets (change_set_id, partition, "offset", status, http_status, outcome)
           SELECT * FROM unnest($1::uuid[], $2::int[], $3::bigint[], $4::text[], $5::int[], $6::text[])`,
          [
            outcomes.map((o) => o.changeSetId),
            outcomes.map((o) => o.partition),
            outcomes.map((o) => o.offset),
            outcomes.map((o) => o.status),
            outcomes.map((o) => o.httpStatus),
            outcomes.map((o) => JSON.stringify(o.response)),
          ],
        );
      }
      await tx.query(
        `INSERT INTO projection_offsets (partition, next_offset) VALUES ($1, $2)
         ON CONFLICT (partition) DO UPDATE SET next_offset = GREATEST(projection_offsets.next_offset, EXCLUDED.next_offset)`,
        [partition, records.at(-1)!.offset + 1],
      );
      return outcomes.map(({ partition: _p, offset: _o, ...outcome }) => outcome);
    });
  }

  private async applyOne(tx: SqlExecutor, record: LogRecord, rejectUnexpected: boolean): Promise<ChangeSetOutcome> {
    await tx.query('SAVEPOINT change_set');
    try {
      const outcome = await new ChangeSetApplier(tx, record).apply();
      await tx.query('RELEASE SAVEPOINT change_set');
      return outcome;
    } catch (error) {
      await tx.query('ROLLBACK TO SAVEPOINT change_set');
      if (isFhirError(error)) {
        return {
          changeSetId: record.changeSet.id,
          status: 'rejected',
          httpStatus: error.status,
          response: error.outcome,
        };
      }
      if (!rejectUnexpected) throw error;
      this.logger.error(
        { err: error, changeSetId: record.changeSet.id, partition: record.partition, offset: record.offset },
        'ALERT: a change set cannot be applied (internal error); it is recorded as rejected and can be replayed',
      );
      const outcome: OperationOutcome = {
        resourceType: 'OperationOutcome',
        issue: [
          {
            severity: 'fatal',
            code: 'exception',
            details: { text: `Internal error while applying: ${(error as Error).message}` },
          },
        ],
      };
      return { changeSetId: record.changeSet.id, status: 'rejected', httpStatus: 500, response: outcome };
    }
  }

  /** Empties the projection and refolds the whole log from offset 0. The projector must not be running. */
  async rebuild(onProgress?: (partition: number, offset: number, end: number) => void): Promise<void> {
    if (this.loops.size > 0) throw new Error('Stop the projector before rebuilding.');
    await this.sql.exec(`TRUNCATE ${PROJECTION_TABLES.join(', ')}`);
    const ends = await this.log.endOffsets();
    for (let partition = 0; partition < this.log.partitions; partition++) {
      let next = 0;
      const end = ends[partition] ?? 0;
      while (next < end) {
        const records = await this.log.read(partition, next, { maxRecords: this.batchSize });
        if (records.length === 0) break;
        await this.applyWithRetry(partition, records);
        next = records.at(-1)!.offset + 1;
        onProgress?.(partition, next, end);
      }
    }
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}

/**
 * A digest of every projection table, independent of physical row order: per table the row count and the
 * sum of a 60-bit prefix of each row's md5. Two projections with the same rows have the same digest.
 */
export async function projectionDigest(sql: SqlExecutor): Promise<Record<string, string>> {
  const digest: Record<string, string> = {};
  for (const table of PROJECTION_TABLES) {
    const rows = await sql.query<{ n: number; s: string | null }>(
      `SELECT count(*)::int AS n, sum(('x' || substr(md5(t::text), 1, 15))::bit(60)::bigint::numeric)::text AS s FROM ${table} t`,
    );
    digest[table] = `${rows.rows[0]!.n}:${rows.rows[0]!.s ?? '0'}`;
  }
  return digest;
}
