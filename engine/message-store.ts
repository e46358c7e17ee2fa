// The message store: one row per inbound (or outbound) message — raw bytes with their sha256, what the
// header says (type, control id, sender, patient identifiers), the status, the change set produced, errors
// with their stage — and one row per destination delivery (status, attempts, response). Both tables are
// partitioned by receive day: searches by time touch only their days, and pruning drops whole partitions,
// which frees the space at once. Writes are group-committed: under load, many messages share one commit.
import { createHash } from 'node:crypto';
import type { BlobStore } from '../store/blob/blob-store.js';
import { GroupCommitter } from '../store/log/group-commit.js';
import type { Migration, SqlClient, SqlExecutor } from '../store/sql/sql-client.js';
import { EngineError, EngineErrorCode, messageError, MessageErrorCode } from './errors.js';
import { isMessageId, messageTime, newMessageId } from './message-id.js';

export const engineMigrations: Migration[] = [
  {
    id: 'engine-0001-message-store',
    sql: `
      CREATE EXTENSION IF NOT EXISTS pg_trgm;
      CREATE TABLE engine_messages (
        id uuid NOT NULL,
        received_at timestamptz NOT NULL,
        channel text NOT NULL,
        status text NOT NULL,
        source text,
        sender text,
        message_type text,
        control_id text,
        patient_ids text[] NOT NULL DEFAULT '{}',
        search_text text NOT NULL DEFAULT '',
        raw_sha256 text NOT NULL,
        raw_size integer NOT NULL,
        raw bytea,
        dedup_key bytea,
        duplicates integer NOT NULL DEFAULT 0,
        last_duplicate_at timestamptz,
        revision integer NOT NULL DEFAULT 0,
        change_set_id uuid,
        log_partition integer,
        log_offset bigint,
        change_set text,
        ack_code text,
        error_stage text,
        errors text,
        warnings text,
        edited_from uuid,
        edit_note text,
        instance_id text,
        processed_at timestamptz,
        updated_at timestamptz NOT NULL,
        PRIMARY KEY (received_at, id)
      ) PARTITION BY RANGE (received_at);
      CREATE INDEX engine_messages_channel ON engine_messages (channel, received_at, id);
      CREATE INDEX engine_messages_status ON engine_messages (status, received_at, id);
      CREATE INDEX engine_messages_type ON engine_messages (message_type text_pattern_ops, received_at);
      CREATE INDEX engine_messages_control_id ON engine_messages (control_id);
      CREATE INDEX engine_messages_patient ON engine_messages USING gin (patient_ids);
      CREATE INDEX engine_messages_text ON engine_messages USING gin (search_text gin_trgm_ops);
      CREATE INDEX engine_messages_dedup ON engine_messages (dedup_key) WHERE dedup_key IS NOT NULL;
      CREATE INDEX engine_messages_change_set ON engine_messages (change_set_id) WHERE change_set_id IS NOT NULL;
      CREATE INDEX engine_messages_edited ON engine_messages (edited_from) WHERE edited_from IS NOT NULL;
      CREATE INDEX engine_messages_unfinished ON engine_messages (received_at) WHERE status = 'received';

      CREATE SEQUENCE engine_delivery_seq;
      CREATE TABLE engine_deliveries (
        seq bigint NOT NULL DEFAULT nextval('engine_delivery_seq'),
        received_at timestamptz NOT NULL,
        message_id uuid NOT NULL,
        channel text NOT NULL,
        destination text NOT NULL,
        generation integer NOT NULL,
        status text NOT NULL,
        attempts integer NOT NULL DEFAULT 0,
        next_attempt_at timestamptz,
        last_error text,
        response text,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        PRIMARY KEY (received_at, message_id, destination, generation)
      ) PARTITION BY RANGE (received_at);
      CREATE INDEX engine_deliveries_queue ON engine_deliveries (channel, destination, seq) WHERE status = 'pending';
      CREATE INDEX engine_deliveries_dead ON engine_deliveries (channel, destination, seq) WHERE status = 'dead';

      CREATE TABLE engine_subscription_cursors (
        channel text NOT NULL,
        partition integer NOT NULL,
        next_offset bigint NOT NULL,
        updated_at timestamptz NOT NULL,
        PRIMARY KEY (channel, partition)
      );

      CREATE TABLE engine_channel_state (
        channel text PRIMARY KEY,
        state text NOT NULL,
        changed_by text,
        changed_at timestamptz NOT NULL
      );
    `,
  },
];

export const MessageStatus = {
  /** Persisted; processing not finished (or interrupted: recovered at start). */
  Received: 'received',
  /** A filter did not let it through: acknowledged, kept, not processed further. */
  Filtered: 'filtered',
  /** Accepted; at least one destination still has it in its queue. */
  Queued: 'queued',
  /** Accepted and delivered to every destination. */
  Sent: 'sent',
  /** Failed at some stage (see error_stage and errors): fix and replay. */
  Error: 'error',
} as const;
export type MessageStatus = (typeof MessageStatus)[keyof typeof MessageStatus];
export const MESSAGE_STATUSES: readonly MessageStatus[] = Object.values(MessageStatus);

export const Stage = {
  Receive: 'receive',
  Decode: 'decode',
  Filter: 'filter',
  Map: 'map',
  Quality: 'quality',
  Store: 'store',
  Apply: 'apply',
  Encode: 'encode',
  Destination: 'destination',
} as const;
export type Stage = (typeof Stage)[keyof typeof Stage];

export const DeliveryStatus = { Pending: 'pending', Sent: 'sent', Dead: 'dead', Cancelled: 'cancelled' } as const;
export type DeliveryStatus = (typeof DeliveryStatus)[keyof typeof DeliveryStatus];

/** A problem (or a warning) with a message, and the stage that found it. */
export interface MessageIssue {
  stage: Stage;
  severity: 'error' | 'warning' | 'information';
  code: string;
  message: string;
  /** HL7 location such as `OBX[3]-6.1`. */
  location?: string;
  rule?: string;
  /**
   * The parameters of `code` when it is one of the engine's own (errors.ts MessageErrorCode), so that a console
   * words the error in its language; absent on other issues and on rows written before.
   */
  params?: Record<string, string | number>;
  expression?: string;
  destination?: string;
  /** HL7 table 0357 condition code written in ERR-3 (when known). */
  hl7Condition?: string;
}

/** The MSA-1 code the sender got (AA/AE/AR), or CA/CE/CR when only the commit acknowledgment went out. */
export type StoredAckCode = 'AA' | 'AE' | 'AR';

/** What the header of a message says, extracted when it arrives (for search and duplicate detection). */
export interface MessageHeaderFacts {
  sender?: string;
  messageType?: string;
  controlId?: string;
  patientIds: string[];
  /** Lower-case words searched by `text=` (names, identifiers, type, sender, control id). */
  searchText: string;
}

export interface NewMessage {
  channel: string;
  raw: Buffer;
  /** sha256 (hex) of raw, when the caller computed it already. */
  rawSha256?: string;
  receivedAt?: Date;
  /** How it arrived, e.g. `mllp 10.1.2.3:51234`. */
  source: string;
  header?: MessageHeaderFacts;
  /** Same key = the same delivery again (channel + sender + control id + content hash). */
  dedupKey?: Buffer;
  /** Already known to be an error (e.g. an oversized frame): stored in the error state at once. */
  failed?: { errors: MessageIssue[]; ackCode?: StoredAckCode };
  editedFrom?: { id: string; by: string; reason: string };
  instanceId?: string;
}

export interface ReceivedMessage {
  id: string;
  receivedAt: Date;
  rawSha256: string;
  /** Set when the same delivery is already in the store: that message's state (nothing was inserted). */
  duplicateOf?: StoredMessageState;
}

export interface StoredMessageState {
  id: string;
  receivedAt: Date;
  channel: string;
  status: MessageStatus;
  ackCode: StoredAckCode | undefined;
  errors: MessageIssue[];
  dedupKey: Buffer | undefined;
  revision: number;
}

export interface MessageOutcome {
  id: string;
  channel: string;
  status: MessageStatus;
  ackCode?: StoredAckCode;
  revision?: number;
  changeSetId?: string;
  logPosition?: { partition: number; offset: number };
  /** The Bundle produced, kept in the row only when it is not in the change log (no store destination). */
  changeSet?: string;
  errors?: MessageIssue[];
  warnings?: MessageIssue[];
  /** Deliveries to queue (status pending), generation = revision. */
  deliveries?: { destination: string; generation: number }[];
}

export interface MessageSummary {
  id: string;
  receivedAt: string;
  channel: string;
  status: MessageStatus;
  source: string | null;
  sender: string | null;
  messageType: string | null;
  controlId: string | null;
  patientIds: string[];
  rawSize: number;
  ackCode: string | null;
  errorStage: string | null;
  duplicates: number;
  revision: number;
  editedFrom: string | null;
}

export interface MessageDetail extends MessageSummary {
  rawSha256: string;
  rawInBlobStore: boolean;
  changeSetId: string | null;
  logPosition: { partition: number; offset: number } | null;
  changeSet: unknown;
  errors: MessageIssue[];
  warnings: MessageIssue[];
  editNote: { by: string; reason: string } | null;
  processedAt: string | null;
  updatedAt: string;
  lastDuplicateAt: string | null;
  deliveries: DeliveryRecord[];
  /** Messages made from this one by edit-then-replay. */
  edits: string[];
}

export interface DeliveryRecord {
  seq: number;
  destination: string;
  generation: number;
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAt: string | null;
  lastError: string | null;
  response: string | null;
  createdAt: string;
  updatedAt: string;
}

/** A queued delivery as a destination worker sees it. */
export interface QueuedDelivery {
  seq: number;
  messageId: string;
  receivedAt: Date;
  channel: string;
  destination: string;
  generation: number;
  attempts: number;
  nextAttemptAt: Date | null;
}

export interface MessageQuery {
  channel?: string;
  status?: MessageStatus[];
  /** Inclusive lower bound of the receive time. */
  from?: Date;
  /** Exclusive upper bound of the receive time. */
  to?: Date;
  /** `ORU` (every ORU) or `ORU^R01`. */
  messageType?: string;
  controlId?: string;
  /** A patient identifier value, or `authority|value`. */
  patient?: string;
  /** Words in the searchable header text (names, identifiers…), at least 3 characters. */
  text?: string;
  /** Bytes anywhere in the raw message: slow; combine with a time range or channel. */
  content?: string;
  errorStage?: string;
  editedFrom?: string;
  limit?: number;
  /** From a previous page's `next`. */
  cursor?: string;
  /** Oldest first (default newest first). */
  ascending?: boolean;
}

export interface MessageStoreOptions {
  /** Raw messages larger than this go to the blob store (default 1 MiB). */
  inlineRawLimit?: number;
  /** How far back a duplicate is looked for (default 30 days). */
  dedupWindowDays?: number;
  /** Partitions created ahead of today (default 7). */
  partitionsAhead?: number;
  maxBatch?: number;
}

const DAY_MS = 86_400_000;
const PARTITION_LOCK = 7_345_001;
const DAY_PATTERN = /^\d{8}$/;

interface MessageRow {
  id: string;
  received_at: Date | string;
  channel: string;
  status: MessageStatus;
  source: string | null;
  sender: string | null;
  message_type: string | null;
  control_id: string | null;
  patient_ids: string[] | null;
  raw_size: number;
  ack_code: string | null;
  error_stage: string | null;
  duplicates: number;
  revision: number;
  edited_from: string | null;
}

const SUMMARY_COLUMNS =
  'id, received_at, channel, status, source, sender, message_type, control_id, patient_ids, raw_size, ack_code, error_stage, duplicates, revision, edited_from';

export class MessageStore {
  private readonly receiver: GroupCommitter<PreparedMessage, ReceivedMessage>;
  private readonly finisher: GroupCommitter<MessageOutcome, void>;
  private readonly inlineRawLimit: number;
  private readonly dedupWindowDays: number;
  private readonly partitionsAhead: number;
  private readonly knownPartitions = new Set<string>();
  /** Durable writes (group commits) made so far, both kinds. */
  flushes = 0;

  constructor(
    private readonly sql: SqlClient,
    private readonly blobs: BlobStore,
    options: MessageStoreOptions = {},
  ) {
    this.inlineRawLimit = options.inlineRawLimit ?? 1024 * 1024;
    this.dedupWindowDays = options.dedupWindowDays ?? 30;
    this.partitionsAhead = options.partitionsAhead ?? 7;
    this.receiver = new GroupCommitter((batch) => this.insertBatch(batch), { maxBatch: options.maxBatch ?? 500 });
    this.finisher = new GroupCommitter((batch) => this.finishBatch(batch), { maxBatch: options.maxBatch ?? 500 });
  }

  // ---- partitions ----

  /** Creates the daily partitions from `from` (default yesterday) to `partitionsAhead` days ahead. */
  async ensurePartitions(
    from: Date = new Date(Date.now() - DAY_MS),
    until: Date = new Date(Date.now() + this.partitionsAhead * DAY_MS),
  ): Promise<void> {
    const days: string[] = [];
    for (let t = startOfDay(from).getTime(); t <= until.getTime(); t += DAY_MS) {
      const day = dayKey(new Date(t));
      if (!this.knownPartitions.has(day)) days.push(day);
    }
    if (days.length === 0) return;
    await this.sql.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [PARTITION_LOCK]);
      const existing = new Set((await this.partitionDays(tx)).map((p) => p.day));
      for (const day of days) {
        if (!existing.has(day)) {
          const [lower, upper] = dayBounds(day);
          await tx.exec(
            `CREATE TABLE engine_messages_p${day} PARTITION OF engine_messages FOR VALUES FROM ('${lower}') TO ('${upper}');
             CREATE TABLE engine_deliveries_p${day} PARTITION OF engine_deliveries FOR VALUES FROM ('${lower}') TO ('${upper}');`,
          );
        }
        this.knownPartitions.add(day);
      }
    });
  }

  private async partitionDays(executor: SqlExecutor = this.sql): Promise<{ day: string; table: string }[]> {
    const rows = await executor.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
        WHERE p.relname = 'engine_messages' ORDER BY c.relname`,
    );
    return rows.rows
      .map((r) => ({ day: r.name.slice('engine_messages_p'.length), table: r.name }))
      .filter((p) => DAY_PATTERN.test(p.day));
  }

  /** The days kept, oldest first, with their row counts and sizes (for the admin API and pruning). */
  async partitions(): Promise<{ day: string; messages: number; bytes: number }[]> {
    const days = await this.partitionDays();
    const out: { day: string; messages: number; bytes: number }[] = [];
    for (const { day, table } of days) {
      const size = await this.sql.query<{ bytes: number; n: number }>(
        `SELECT (pg_total_relation_size($1::regclass) + pg_total_relation_size($2::regclass))::bigint AS bytes,
                (SELECT count(*) FROM ${table})::bigint AS n`,
        [table, `engine_deliveries_p${day}`],
      );
      out.push({ day, messages: Number(size.rows[0]!.n), bytes: Number(size.rows[0]!.bytes) });
    }
    return out;
  }

  /**
   * Drops every day entirely older than `before` (messages and deliveries), and the blobs only they used.
   * Returns what was freed. A dropped partition's files are deleted at once (no VACUUM needed).
   */
  async prune(before: Date): Promise<{ days: string[]; messages: number; bytes: number; blobs: number }> {
    const cutoff = dayKey(startOfDay(before));
    const victims = (await this.partitions()).filter((p) => p.day < cutoff);
    let messages = 0;
    let bytes = 0;
    let blobs = 0;
    for (const victim of victims) {
      const blobRows = await this.sql.query<{ raw_sha256: string }>(
        `SELECT DISTINCT raw_sha256 FROM engine_messages_p${victim.day} WHERE raw IS NULL`,
      );
      await this.sql.transaction(async (tx) => {
        await tx.query('SELECT pg_advisory_xact_lock($1)', [PARTITION_LOCK]);
        await tx.exec(
          `DROP TABLE IF EXISTS engine_messages_p${victim.day}; DROP TABLE IF EXISTS engine_deliveries_p${victim.day};`,
        );
      });
      this.knownPartitions.delete(victim.day);
      for (const { raw_sha256: sha } of blobRows.rows) {
        const still = await this.sql.query(
          'SELECT 1 FROM engine_messages WHERE raw_sha256 = $1 AND raw IS NULL LIMIT 1',
          [sha],
        );
        if (still.rows.length === 0) {
          await this.blobs.delete(sha);
          blobs++;
        }
      }
      messages += victim.messages;
      bytes += victim.bytes;
    }
    return { days: victims.map((v) => v.day), messages, bytes, blobs };
  }

  // ---- receive ----

  /**
   * Persists a message durably (raw bytes first: the blob store above the inline limit) and resolves once
   * committed. When the same delivery is already stored (same dedup key within the window), nothing is
   * inserted and `duplicateOf` says what happened to the first one.
   */
  async receive(input: NewMessage): Promise<ReceivedMessage> {
    const receivedAt = new Date(input.receivedAt?.getTime() ?? Date.now());
    const rawSha256 = input.rawSha256 ?? createHash('sha256').update(input.raw).digest('hex');
    const inBlob = input.raw.length > this.inlineRawLimit;
    if (inBlob) await this.blobs.put(input.raw);
    if (!this.knownPartitions.has(dayKey(receivedAt))) await this.ensurePartitions(receivedAt, receivedAt);
    return this.receiver.submit({ ...input, id: newMessageId(receivedAt), receivedAt, rawSha256, inBlob });
  }

  private async insertBatch(batch: PreparedMessage[]): Promise<ReceivedMessage[]> {
    const results = await this.sql
      .transaction(async (tx) => {
        const keys = batch.map((m) => m.dedupKey).filter((k): k is Buffer => k !== undefined);
        const existing = new Map<string, StoredMessageState>();
        if (keys.length > 0) {
          const since = new Date(Math.min(...batch.map((m) => m.receivedAt.getTime())) - this.dedupWindowDays * DAY_MS);
          const found = await tx.query<StateRow>(
            `SELECT DISTINCT ON (dedup_key) id, received_at, channel, status, ack_code, errors, dedup_key, revision FROM engine_messages
            WHERE dedup_key = ANY($1::bytea[]) AND received_at >= $2 AND edited_from IS NULL ORDER BY dedup_key, received_at`,
            [keys, since],
          );
          for (const row of found.rows) existing.set(Buffer.from(row.dedup_key!).toString('hex'), toState(row));
        }
        const inserted: PreparedMessage[] = [];
        const out: ReceivedMessage[] = batch.map((m) => {
          const key = m.dedupKey && !m.editedFrom ? m.dedupKey.toString('hex') : undefined;
          const first = key ? existing.get(key) : undefined;
          if (first) return { id: m.id, receivedAt: m.receivedAt, rawSha256: m.rawSha256, duplicateOf: first };
          if (key) {
            existing.set(key, {
              id: m.id,
              receivedAt: m.receivedAt,
              channel: m.channel,
              status: MessageStatus.Received,
              ackCode: undefined,
              errors: [],
              dedupKey: m.dedupKey,
              revision: 0,
            });
          }
          inserted.push(m);
          return { id: m.id, receivedAt: m.receivedAt, rawSha256: m.rawSha256 };
        });
        if (inserted.length > 0) {
          await tx.query(
            `INSERT INTO engine_messages (id, received_at, channel, status, source, sender, message_type, control_id, patient_ids, search_text,
                                        raw_sha256, raw_size, raw, dedup_key, errors, ack_code, error_stage, edited_from, edit_note, instance_id, updated_at)
           SELECT u.id, u.received_at, u.channel, u.status, u.source, u.sender, u.message_type, u.control_id,
                  CASE WHEN u.patient_ids = '' THEN '{}'::text[] ELSE string_to_array(u.patient_ids, E'\\x1f') END, u.search_text,
                  u.raw_sha256, u.raw_size, u.raw, u.dedup_key, u.errors, u.ack_code, u.error_stage, u.edited_from, u.edit_note, u.instance_id, now()
             FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
                         $11::text[], $12::int[], $13::bytea[], $14::bytea[], $15::text[], $16::text[], $17::text[], $18::uuid[], $19::text[], $20::text[])
               AS u(id, received_at, channel, status, source, sender, message_type, control_id, patient_ids, search_text,
                    raw_sha256, raw_size, raw, dedup_key, errors, ack_code, error_stage, edited_from, edit_note, instance_id)`,
            [
              inserted.map((m) => m.id),
              inserted.map((m) => m.receivedAt.toISOString()),
              inserted.map((m) => m.channel),
              inserted.map((m) => (m.failed ? MessageStatus.Error : MessageStatus.Received)),
              inserted.map((m) => m.source),
              inserted.map((m) => m.header?.sender ?? null),
              inserted.map((m) => m.header?.messageType ?? null),
              inserted.map((m) => m.header?.controlId ?? null),
              inserted.map((m) => (m.header?.patientIds ?? []).map((p) => p.replaceAll('\x1f', ' ')).join('\x1f')),
              inserted.map((m) => m.header?.searchText ?? ''),
              inserted.map((m) => m.rawSha256),
              inserted.map((m) => m.raw.length),
              inserted.map((m) => (m.inBlob ? null : m.raw)),
              inserted.map((m) => m.dedupKey ?? null),
              inserted.map((m) => (m.failed ? JSON.stringify(m.failed.errors) : null)),
              inserted.map((m) => m.failed?.ackCode ?? null),
              inserted.map((m) => (m.failed ? (m.failed.errors[0]?.stage ?? Stage.Receive) : null)),
              inserted.map((m) => m.editedFrom?.id ?? null),
              inserted.map((m) =>
                m.editedFrom ? JSON.stringify({ by: m.editedFrom.by, reason: m.editedFrom.reason }) : null,
              ),
              inserted.map((m) => m.instanceId ?? null),
            ],
          );
        }
        const duplicates = out.filter((r) => r.duplicateOf && !inserted.some((m) => m.id === r.duplicateOf!.id));
        for (const d of duplicates) {
          await tx.query(
            'UPDATE engine_messages SET duplicates = duplicates + 1, last_duplicate_at = now() WHERE received_at = $1 AND id = $2',
            [d.duplicateOf!.receivedAt.toISOString(), d.duplicateOf!.id],
          );
        }
        return out;
      })
      .catch(async (error: unknown) => {
        // A day without its partition (clock jump, a message from the future): create it and try once more.
        if ((error as { code?: string }).code === '23514') {
          for (const m of batch) await this.ensurePartitions(m.receivedAt, m.receivedAt);
          this.knownPartitions.clear();
          return this.insertBatch(batch);
        }
        throw error;
      });
    this.flushes++;
    return results;
  }

  // ---- finish ----

  /** Records how processing ended (status, ACK code, change set, issues) and queues the deliveries; group-committed. */
  finish(outcome: MessageOutcome): Promise<void> {
    if (!isMessageId(outcome.id)) return Promise.reject(new Error(`Not a message id: ${outcome.id}`));
    return this.finisher.submit(outcome);
  }

  private async finishBatch(batch: MessageOutcome[]): Promise<void[]> {
    await this.sql.transaction(async (tx) => {
      // One statement per message, keyed by (received_at, id): each touches one partition through its primary key
      // (a join with an array would make the planner scan every partition as the store grows).
      for (const o of batch) {
        await tx.query(
          `UPDATE engine_messages
              SET status = $3, ack_code = COALESCE($4, ack_code), revision = COALESCE($5, revision),
                  change_set_id = COALESCE($6, change_set_id), log_partition = COALESCE($7, log_partition),
                  log_offset = COALESCE($8, log_offset), change_set = COALESCE($9, change_set),
                  errors = $10, warnings = $11, error_stage = $12, processed_at = now(), updated_at = now()
            WHERE received_at = $1 AND id = $2`,
          [
            messageTime(o.id).toISOString(),
            o.id,
            o.status,
            o.ackCode ?? null,
            o.revision ?? null,
            o.changeSetId ?? null,
            o.logPosition?.partition ?? null,
            o.logPosition?.offset ?? null,
            o.changeSet ?? null,
            o.errors?.length ? JSON.stringify(o.errors) : null,
            o.warnings?.length ? JSON.stringify(o.warnings) : null,
            o.errors?.length ? o.errors[0]!.stage : null,
          ],
        );
      }
      // The projector may have refused a change set before this commit: such a message is in error, not sent.
      const appended = batch.filter((o) => o.changeSetId);
      if (appended.length > 0) {
        const refused = await tx.query<{ change_set_id: string; detail: string | null }>(
          `SELECT change_set_id, COALESCE(outcome::json #>> '{issue,0,details,text}', outcome::json #>> '{issue,0,diagnostics}') AS detail
             FROM applied_change_sets WHERE change_set_id = ANY($1::uuid[]) AND status = 'rejected'`,
          [appended.map((o) => o.changeSetId)],
        );
        for (const row of refused.rows) {
          const o = appended.find((a) => a.changeSetId === row.change_set_id)!;
          const issue: MessageIssue = {
            stage: Stage.Apply,
            severity: 'error',
            ...messageError(MessageErrorCode.ChangeSetRejected, { detail: row.detail ?? 'rejected' }),
          };
          await tx.query(
            `UPDATE engine_messages SET status = 'error', error_stage = 'apply', errors = $3 WHERE received_at = $1 AND id = $2`,
            [messageTime(o.id).toISOString(), o.id, JSON.stringify([issue])],
          );
        }
      }
      const deliveries = batch.flatMap((o) =>
        (o.deliveries ?? []).map((d) => ({ ...d, id: o.id, channel: o.channel })),
      );
      if (deliveries.length > 0) await insertDeliveries(tx, deliveries);
    });
    this.flushes++;
    return batch.map(() => undefined);
  }

  /** Waits until every write submitted so far is committed. */
  async drain(): Promise<void> {
    await this.receiver.drain();
    await this.finisher.drain();
  }

  // ---- deliveries ----

  /** Queues deliveries now (replay to one destination), in one transaction. */
  async enqueue(
    messageId: string,
    channel: string,
    entries: { destination: string; generation: number }[],
  ): Promise<void> {
    await this.sql.transaction(async (tx) => {
      await insertDeliveries(
        tx,
        entries.map((e) => ({ ...e, id: messageId, channel })),
      );
      await rollUp(tx, messageId);
    });
  }

  /** The head of a destination's queue: pending deliveries in FIFO order. */
  async queueHead(channel: string, destination: string, limit: number): Promise<QueuedDelivery[]> {
    const rows = await this.sql.query<{
      seq: number;
      message_id: string;
      received_at: Date | string;
      channel: string;
      destination: string;
      generation: number;
      attempts: number;
      next_attempt_at: Date | string | null;
    }>(
      `SELECT seq, message_id, received_at, channel, destination, generation, attempts, next_attempt_at FROM engine_deliveries
        WHERE channel = $1 AND destination = $2 AND status = 'pending' ORDER BY seq LIMIT $3`,
      [channel, destination, limit],
    );
    return rows.rows.map((r) => ({
      seq: Number(r.seq),
      messageId: r.message_id,
      receivedAt: new Date(r.received_at),
      channel: r.channel,
      destination: r.destination,
      generation: r.generation,
      attempts: r.attempts,
      nextAttemptAt: r.next_attempt_at ? new Date(r.next_attempt_at) : null,
    }));
  }

  /** Records one delivery attempt: sent, failed (to retry at `retryAt`), or dead (dead letter). */
  async recordAttempt(
    delivery: QueuedDelivery,
    result:
      | { status: 'sent'; response?: string }
      | { status: 'failed'; error: string; response?: string; retryAt: Date }
      | { status: 'dead'; error: string; response?: string },
  ): Promise<void> {
    await this.sql.transaction(async (tx) => {
      await tx.query(
        `UPDATE engine_deliveries SET status = $5, attempts = attempts + 1, next_attempt_at = $6, last_error = $7, response = COALESCE($8, response), updated_at = now()
          WHERE received_at = $1 AND message_id = $2 AND destination = $3 AND generation = $4`,
        [
          delivery.receivedAt.toISOString(),
          delivery.messageId,
          delivery.destination,
          delivery.generation,
          result.status === 'failed' ? DeliveryStatus.Pending : result.status,
          result.status === 'failed' ? result.retryAt.toISOString() : null,
          result.status === 'sent' ? null : result.error,
          result.response ?? null,
        ],
      );
      if (result.status !== 'failed') await rollUp(tx, delivery.messageId);
    });
  }

  /** Pending deliveries per destination of a channel (or of all channels). */
  async queueDepths(
    channel?: string,
  ): Promise<{ channel: string; destination: string; pending: number; dead: number }[]> {
    const rows = await this.sql.query<{ channel: string; destination: string; pending: number; dead: number }>(
      `SELECT channel, destination, count(*) FILTER (WHERE status = 'pending')::int AS pending, count(*) FILTER (WHERE status = 'dead')::int AS dead
         FROM engine_deliveries WHERE status IN ('pending', 'dead') ${channel ? 'AND channel = $1' : ''} GROUP BY channel, destination`,
      channel ? [channel] : [],
    );
    return rows.rows;
  }

  // ---- reads ----

  async state(id: string): Promise<StoredMessageState | undefined> {
    if (!isMessageId(id)) return undefined;
    const rows = await this.sql.query<StateRow>(
      'SELECT id, received_at, channel, status, ack_code, errors, dedup_key, revision FROM engine_messages WHERE received_at = $1 AND id = $2',
      [messageTime(id).toISOString(), id],
    );
    return rows.rows[0] ? toState(rows.rows[0]) : undefined;
  }

  /** The raw bytes of a message (from its row or the blob store). */
  async raw(id: string): Promise<Buffer> {
    if (!isMessageId(id)) throw notFound(id);
    const rows = await this.sql.query<{ raw: Uint8Array | null; raw_sha256: string }>(
      'SELECT raw, raw_sha256 FROM engine_messages WHERE received_at = $1 AND id = $2',
      [messageTime(id).toISOString(), id],
    );
    const row = rows.rows[0];
    if (!row) throw notFound(id);
    if (row.raw) return Buffer.from(row.raw.buffer, row.raw.byteOffset, row.raw.byteLength);
    const blob = await this.blobs.get(row.raw_sha256);
    if (!blob)
      throw new Error(`The raw bytes of message ${id} are missing from the blob store (sha256 ${row.raw_sha256}).`);
    return blob;
  }

  async get(id: string): Promise<MessageDetail> {
    if (!isMessageId(id)) throw notFound(id);
    const at = messageTime(id).toISOString();
    const rows = await this.sql.query<
      MessageRow & {
        raw_sha256: string;
        raw_in_blob: boolean;
        change_set_id: string | null;
        log_partition: number | null;
        log_offset: number | null;
        change_set: string | null;
        errors: string | null;
        warnings: string | null;
        edit_note: string | null;
        processed_at: Date | string | null;
        updated_at: Date | string;
        last_duplicate_at: Date | string | null;
      }
    >(
      `SELECT ${SUMMARY_COLUMNS}, raw_sha256, raw IS NULL AS raw_in_blob, change_set_id, log_partition, log_offset, change_set, errors, warnings,
              edit_note, processed_at, updated_at, last_duplicate_at
         FROM engine_messages WHERE received_at = $1 AND id = $2`,
      [at, id],
    );
    const row = rows.rows[0];
    if (!row) throw notFound(id);
    const deliveries = await this.deliveries(id);
    const edits = await this.sql.query<{ id: string }>(
      'SELECT id FROM engine_messages WHERE edited_from = $1 ORDER BY received_at',
      [id],
    );
    return {
      ...toSummary(row),
      rawSha256: row.raw_sha256,
      rawInBlobStore: row.raw_in_blob,
      changeSetId: row.change_set_id,
      logPosition:
        row.log_partition !== null && row.log_offset !== null
          ? { partition: row.log_partition, offset: Number(row.log_offset) }
          : null,
      changeSet: row.change_set ? JSON.parse(row.change_set) : null,
      errors: row.errors ? (JSON.parse(row.errors) as MessageIssue[]) : [],
      warnings: row.warnings ? (JSON.parse(row.warnings) as MessageIssue[]) : [],
      editNote: row.edit_note ? (JSON.parse(row.edit_note) as { by: string; reason: string }) : null,
      processedAt: row.processed_at ? iso(row.processed_at) : null,
      updatedAt: iso(row.updated_at),
      lastDuplicateAt: row.last_duplicate_at ? iso(row.last_duplicate_at) : null,
      deliveries,
      edits: edits.rows.map((r) => r.id),
    };
  }

  async deliveries(id: string): Promise<DeliveryRecord[]> {
    const rows = await this.sql.query<{
      seq: number;
      destination: string;
      generation: number;
      status: DeliveryStatus;
      attempts: number;
      next_attempt_at: Date | string | null;
      last_error: string | null;
      response: string | null;
      created_at: Date | string;
      updated_at: Date | string;
    }>(
      `SELECT seq, destination, generation, status, attempts, next_attempt_at, last_error, response, created_at, updated_at
         FROM engine_deliveries WHERE received_at = $1 AND message_id = $2 ORDER BY destination, generation`,
      [messageTime(id).toISOString(), id],
    );
    return rows.rows.map((r) => ({
      seq: Number(r.seq),
      destination: r.destination,
      generation: r.generation,
      status: r.status,
      attempts: r.attempts,
      nextAttemptAt: r.next_attempt_at ? iso(r.next_attempt_at) : null,
      lastError: r.last_error,
      response: r.response,
      createdAt: iso(r.created_at),
      updatedAt: iso(r.updated_at),
    }));
  }

  /** Messages persisted but whose processing did not finish (a crash): reprocessed at start. */
  async unfinished(
    options: { channel?: string; olderThan?: Date; limit?: number; instances?: { exclude: string[] } } = {},
  ): Promise<{ id: string; channel: string }[]> {
    const params: unknown[] = [];
    const conditions = [`status = 'received'`];
    if (options.channel) conditions.push(`channel = $${params.push(options.channel)}`);
    if (options.olderThan) conditions.push(`received_at < $${params.push(options.olderThan.toISOString())}`);
    if (options.instances?.exclude.length)
      conditions.push(
        `(instance_id IS NULL OR NOT (instance_id = ANY($${params.push(options.instances.exclude)}::text[])))`,
      );
    const rows = await this.sql.query<{ id: string; channel: string }>(
      `SELECT id, channel FROM engine_messages WHERE ${conditions.join(' AND ')} ORDER BY received_at, id LIMIT $${params.push(options.limit ?? 1000)}`,
      params,
    );
    return rows.rows;
  }

  /** Takes over an unfinished message (cluster: from an instance that is gone); false if someone else did. */
  async claim(id: string, instanceId: string, fromInstance: string | null): Promise<boolean> {
    const rows = await this.sql.query(
      `UPDATE engine_messages SET instance_id = $3, updated_at = now() WHERE received_at = $1 AND id = $2 AND status = 'received' AND instance_id IS NOT DISTINCT FROM $4`,
      [messageTime(id).toISOString(), id, instanceId, fromInstance],
    );
    return rows.rowCount > 0;
  }

  /** Starts a replay: the message is "received" again under its next revision (a crash mid-replay resumes it). */
  async beginReplay(id: string, revision: number, instanceId?: string): Promise<void> {
    await this.sql.query(
      `UPDATE engine_messages SET status = 'received', revision = $3, instance_id = $4, updated_at = now() WHERE received_at = $1 AND id = $2`,
      [messageTime(id).toISOString(), id, revision, instanceId ?? null],
    );
  }

  /** What a destination needs to send a message: its bytes, control id, and where its change set is. */
  async outbound(id: string): Promise<
    | {
        raw: Buffer;
        controlId: string | null;
        changeSetId: string | null;
        logPosition: { partition: number; offset: number } | null;
        changeSet: string | null;
        receivedAt: Date;
        channel: string;
      }
    | undefined
  > {
    if (!isMessageId(id)) return undefined;
    const rows = await this.sql.query<{
      control_id: string | null;
      change_set_id: string | null;
      log_partition: number | null;
      log_offset: number | null;
      change_set: string | null;
      channel: string;
    }>(
      'SELECT control_id, change_set_id, log_partition, log_offset, change_set, channel FROM engine_messages WHERE received_at = $1 AND id = $2',
      [messageTime(id).toISOString(), id],
    );
    const row = rows.rows[0];
    if (!row) return undefined;
    return {
      raw: await this.raw(id),
      controlId: row.control_id,
      changeSetId: row.change_set_id,
      logPosition:
        row.log_partition !== null && row.log_offset !== null
          ? { partition: row.log_partition, offset: Number(row.log_offset) }
          : null,
      changeSet: row.change_set,
      receivedAt: messageTime(id),
      channel: row.channel,
    };
  }

  async instanceOf(id: string): Promise<string | null | undefined> {
    if (!isMessageId(id)) return undefined;
    const rows = await this.sql.query<{ instance_id: string | null }>(
      'SELECT instance_id FROM engine_messages WHERE received_at = $1 AND id = $2',
      [messageTime(id).toISOString(), id],
    );
    return rows.rows[0]?.instance_id;
  }

  // ---- subscription cursors (outbound channels) ----

  async cursor(channel: string, partition: number): Promise<number | undefined> {
    const rows = await this.sql.query<{ next_offset: number }>(
      'SELECT next_offset FROM engine_subscription_cursors WHERE channel = $1 AND partition = $2',
      [channel, partition],
    );
    return rows.rows[0] ? Number(rows.rows[0].next_offset) : undefined;
  }

  async saveCursor(channel: string, partition: number, nextOffset: number): Promise<void> {
    await this.sql.query(
      `INSERT INTO engine_subscription_cursors (channel, partition, next_offset, updated_at) VALUES ($1, $2, $3, now())
       ON CONFLICT (channel, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset, updated_at = now()`,
      [channel, partition, nextOffset],
    );
  }

  /** Marks a message in error at a stage found after its processing (the projector rejected its change set). */
  async markError(changeSetId: string, issue: MessageIssue): Promise<{ id: string; channel: string }[]> {
    // A finish still in the group commit would overwrite the status: let it land first.
    await this.finisher.drain();
    const rows = await this.sql.query<{ id: string; channel: string }>(
      `UPDATE engine_messages SET status = 'error', error_stage = $2, errors = $3, updated_at = now()
        WHERE change_set_id = $1 RETURNING id, channel`,
      [changeSetId, issue.stage, JSON.stringify([issue])],
    );
    return rows.rows;
  }

  /** Search with keyset paging, newest first (or oldest first). */
  async search(query: MessageQuery): Promise<{ messages: MessageSummary[]; next?: string }> {
    const params: unknown[] = [];
    const where: string[] = [];
    const p = (value: unknown) => `$${params.push(value)}`;
    if (query.channel) where.push(`channel = ${p(query.channel)}`);
    if (query.status?.length)
      where.push(
        query.status.length === 1 ? `status = ${p(query.status[0])}` : `status = ANY(${p(query.status)}::text[])`,
      );
    if (query.from) where.push(`received_at >= ${p(query.from.toISOString())}`);
    if (query.to) where.push(`received_at < ${p(query.to.toISOString())}`);
    if (query.messageType) {
      if (query.messageType.includes('^')) where.push(`message_type = ${p(query.messageType)}`);
      else
        where.push(
          `(message_type LIKE ${p(`${escapeLike(query.messageType)}^%`)} OR message_type = ${p(query.messageType)})`,
        );
    }
    if (query.controlId) where.push(`control_id = ${p(query.controlId)}`);
    if (query.patient) where.push(`patient_ids @> ARRAY[${p(query.patient)}]::text[]`);
    if (query.errorStage) where.push(`error_stage = ${p(query.errorStage)}`);
    if (query.editedFrom) where.push(`edited_from = ${p(query.editedFrom)}`);
    if (query.text) {
      for (const word of query.text.toLowerCase().split(/\s+/).filter(Boolean)) {
        if (word.length < 3)
          throw new EngineError(
            EngineErrorCode.InvalidRequest,
            `"${word}": text search words need at least 3 characters.`,
          );
        where.push(`search_text LIKE ${p(`%${escapeLike(word)}%`)}`);
      }
    }
    if (query.content) where.push(`position(${p(Buffer.from(query.content, 'utf8'))}::bytea in raw) > 0`);
    const descending = !query.ascending;
    if (query.cursor) {
      const [at, id] = decodeCursor(query.cursor);
      where.push(`(received_at, id) ${descending ? '<' : '>'} (${p(at.toISOString())}::timestamptz, ${p(id)}::uuid)`);
    }
    const limit = Math.min(Math.max(query.limit ?? 50, 1), 1000);
    const order = descending ? 'DESC' : 'ASC';
    const filter = where.length ? `WHERE ${where.join(' AND ')}` : '';
    // A patient's messages are few among millions: collect them through the identifier index first. Left to itself,
    // the planner walks the time index hoping to fill the page early, and reads the whole table when it cannot.
    const text = query.patient
      ? `WITH hits AS MATERIALIZED (SELECT ${SUMMARY_COLUMNS} FROM engine_messages ${filter})
         SELECT * FROM hits ORDER BY received_at ${order}, id ${order} LIMIT ${p(limit + 1)}`
      : `SELECT ${SUMMARY_COLUMNS} FROM engine_messages ${filter} ORDER BY received_at ${order}, id ${order} LIMIT ${p(limit + 1)}`;
    const rows = await this.sql.query<MessageRow>(text, params);
    const page = rows.rows.slice(0, limit).map(toSummary);
    const last = page.at(-1);
    return {
      messages: page,
      ...(rows.rows.length > limit && last ? { next: encodeCursor(new Date(last.receivedAt), last.id) } : {}),
    };
  }

  /** Ids of the messages a query selects, oldest first (time-range replay), at most `limit`. */
  async selectIds(query: MessageQuery, limit: number): Promise<{ ids: string[]; next?: string }> {
    const page = await this.search({ ...query, ascending: true, limit });
    return { ids: page.messages.map((m) => m.id), ...(page.next ? { next: page.next } : {}) };
  }

  // ---- channel states ----

  async channelStates(): Promise<Map<string, string>> {
    const rows = await this.sql.query<{ channel: string; state: string }>(
      'SELECT channel, state FROM engine_channel_state',
    );
    return new Map(rows.rows.map((r) => [r.channel, r.state]));
  }

  async setChannelState(channel: string, state: string, by: string): Promise<void> {
    await this.sql.query(
      `INSERT INTO engine_channel_state (channel, state, changed_by, changed_at) VALUES ($1, $2, $3, now())
       ON CONFLICT (channel) DO UPDATE SET state = EXCLUDED.state, changed_by = EXCLUDED.changed_by, changed_at = now()`,
      [channel, state, by],
    );
  }
}

interface PreparedMessage extends NewMessage {
  id: string;
  receivedAt: Date;
  rawSha256: string;
  inBlob: boolean;
}

interface StateRow {
  id: string;
  received_at: Date | string;
  channel: string;
  status: MessageStatus;
  ack_code: StoredAckCode | null;
  errors: string | null;
  dedup_key: Uint8Array | null;
  revision: number;
}

function toState(row: StateRow): StoredMessageState {
  return {
    id: row.id,
    receivedAt: new Date(row.received_at),
    channel: row.channel,
    status: row.status,
    ackCode: row.ack_code ?? undefined,
    errors: row.errors ? (JSON.parse(row.errors) as MessageIssue[]) : [],
    dedupKey: row.dedup_key ? Buffer.from(row.dedup_key) : undefined,
    revision: row.revision,
  };
}

async function insertDeliveries(
  tx: SqlExecutor,
  deliveries: { id: string; channel: string; destination: string; generation: number }[],
): Promise<void> {
  await tx.query(
    `INSERT INTO engine_deliveries (received_at, message_id, channel, destination, generation, status, created_at, updated_at)
     SELECT u.received_at, u.id, u.channel, u.destination, u.generation, 'pending', now(), now()
       FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::text[], $5::int[]) WITH ORDINALITY AS u(id, received_at, channel, destination, generation, n)
      ORDER BY u.n
     ON CONFLICT DO NOTHING`,
    [
      deliveries.map((d) => d.id),
      deliveries.map((d) => messageTime(d.id).toISOString()),
      deliveries.map((d) => d.channel),
      deliveries.map((d) => d.destination),
      deliveries.map((d) => d.generation),
    ],
  );
}

/** Recomputes a message's status from its deliveries (unless it failed before them). */
async function rollUp(tx: SqlExecutor, messageId: string): Promise<void> {
  const at = messageTime(messageId).toISOString();
  await tx.query(
    `UPDATE engine_messages m SET
        status = CASE WHEN d.dead > 0 THEN 'error' WHEN d.pending > 0 THEN 'queued' ELSE 'sent' END,
        error_stage = CASE WHEN d.dead > 0 THEN 'destination' ELSE NULL END,
        errors = CASE WHEN d.dead > 0 THEN d.errors ELSE NULL END,
        updated_at = now()
       FROM (SELECT count(*) FILTER (WHERE x.status = 'pending') AS pending,
                    count(*) FILTER (WHERE x.status = 'dead') AS dead,
                    (json_agg(json_build_object('stage', 'destination', 'severity', 'error', 'code', 'DEAD_LETTER', 'destination', x.destination,
                             'params', json_build_object('destination', x.destination, 'attempts', x.attempts, 'lastError', COALESCE(x.last_error, 'unknown error')),
                             'message', 'Delivery to ' || x.destination || ' failed ' || x.attempts || ' time(s): ' || COALESCE(x.last_error, 'unknown error')))
                      FILTER (WHERE x.status = 'dead'))::text AS errors
               FROM (SELECT DISTINCT ON (destination) destination, status, attempts, last_error FROM engine_deliveries
                      WHERE received_at = $1 AND message_id = $2 ORDER BY destination, generation DESC) x) d
      WHERE m.received_at = $1 AND m.id = $2 AND m.status IN ('queued', 'sent', 'error') AND (m.error_stage IS NULL OR m.error_stage = 'destination')`,
    [at, messageId],
  );
}

function toSummary(row: MessageRow): MessageSummary {
  return {
    id: row.id,
    receivedAt: iso(row.received_at),
    channel: row.channel,
    status: row.status,
    source: row.source,
    sender: row.sender,
    messageType: row.message_type,
    controlId: row.control_id,
    patientIds: row.patient_ids ?? [],
    rawSize: row.raw_size,
    ackCode: row.ack_code,
    errorStage: row.error_stage,
    duplicates: row.duplicates,
    revision: row.revision,
    editedFrom: row.edited_from,
  };
}

function notFound(id: string): EngineError {
  return new EngineError(
    EngineErrorCode.MessageNotFound,
    `No message ${id} in the message store (wrong id, or pruned by retention).`,
  );
}

function iso(value: Date | string): string {
  return (value instanceof Date ? value : new Date(value)).toISOString();
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

export function encodeCursor(at: Date, id: string): string {
  return Buffer.from(`${at.getTime()}:${id}`, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): [Date, string] {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const [ms, id] = text.split(':');
  if (!ms || !/^\d+$/.test(ms) || !id || !isMessageId(id)) {
    throw new EngineError(
      EngineErrorCode.InvalidRequest,
      'The cursor is not valid: pass the `next` value of the previous page unchanged.',
    );
  }
  return [new Date(Number(ms)), id];
}

function startOfDay(date: Date): Date {
  return new Date(Math.floor(date.getTime() / DAY_MS) * DAY_MS);
}

/** `20260124` for a UTC day. */
export function dayKey(date: Date): string {
  return date.toISOString().slice(0, 10).replace(/-/g, '');
}

function dayBounds(day: string): [string, string] {
  if (!DAY_PATTERN.test(day)) throw new Error(`Not a day key: ${day}`);
  const lower = new Date(`${day.slice(0, 4)}-${day.slice(4, 6)}-${day.slice(6, 8)}T00:00:00Z`);
  return [lower.toISOString(), new Date(lower.getTime() + DAY_MS).toISOString()];
}
