// The log is the record (DESIGN.md, invariant 2). One interface, two implementations:
// - sql-log.ts   : a table in PGlite (embedded) or PostgreSQL;
// - kafka-log.ts : a Kafka topic (idempotent producer, acks=all).
// The projector is the only reader that matters for state: it reads one partition in offset order and
// keeps its own position in the projection database, in the same transaction as the state it writes.
import type { ChangeSet, LogRecord } from '../change-set.js';

export interface AppendResult {
  partition: number;
  offset: number;
  appendedAt: string;
}

export interface ReadOptions {
  /** At most this many records (default 500). */
  maxRecords?: number;
  /** When nothing is available yet, wait up to this long for new records (long poll; default 0). */
  waitMs?: number;
  /** Aborts a waiting read (shutdown): the read then resolves with [] (as it does when the log is closed). */
  signal?: AbortSignal;
}

export interface ChangeLog {
  readonly kind: 'sql' | 'kafka';
  /** Number of partitions; fixed at creation. */
  readonly partitions: number;
  /** Creates the table / topic if needed (explicit partitions and retention for Kafka). Idempotent. */
  init(): Promise<void>;
  /**
   * Appends change sets durably: resolves only once the records are committed (SQL commit, or Kafka
   * acks=all). Concurrent calls are grouped into one flush (group commit). Results are in input order.
   * A rejected call may still have written some of its change sets (Kafka, across partitions), and a
   * retried change set may appear twice in the log (Kafka cannot refuse a duplicate id): the projector
   * applies a change set id once, whatever the log holds.
   */
  append(changeSets: ChangeSet[]): Promise<AppendResult[]>;
  /** Records of one partition with offset >= fromOffset, in offset order. */
  read(partition: number, fromOffset: number, options?: ReadOptions): Promise<LogRecord[]>;
  /** The next offset to be written, per partition (the "high watermark"). */
  endOffsets(): Promise<number[]>;
  close(): Promise<void>;
}
