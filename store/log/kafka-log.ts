// The change log on a Kafka topic (cluster profile). See scripts/kafka/README.md for the decisions.
//
// - init() creates the topic with explicit partitions, retention (forever by default) and
//   message.timestamp.type=LogAppendTime (appendedAt is the broker's clock), or checks the existing one.
// - append() is group-committed: change sets queue up while one produce request is in flight, and the next
//   request carries all of them (bounded by maxBatchRecords / maxBatchBytes). The producer is idempotent
//   (producer id + per-partition sequence numbers) with acks=all: an append resolves only when every in-sync
//   replica has the records, and a retried request can never write a record twice. Only one produce request
//   is in flight at a time, so sequence numbers stay simple; after a request whose outcome is unknown the
//   producer takes a new producer id, so that later records are never mistaken for duplicates.
// - read() fetches one partition from an explicit offset (no consumer group: the projector chooses partitions
//   and keeps its offsets itself). Each concurrent read has its own connection, because a broker answers the
//   requests of one connection in order and a long poll would hold back the others.
//
// Built on @platformatic/kafka's protocol layer (Base client, negotiated API versions, connection pools, record
// batches): its Producer does not return the broker's log-append time and its Consumer is group-oriented.
import {
  Admin,
  ConnectionPool,
  NumericMap,
  type ConnectionOptions,
  type MessageRecord,
  type RecordsBatch,
} from '@platformatic/kafka';
import type { ChangeSet, LogRecord } from '../change-set.js';
import { partitionFor } from '../change-set.js';
import type { AppendResult, ChangeLog, ReadOptions } from './change-log.js';
import {
  decodeChangeSet,
  encodeChangeSet,
  RECORD_BATCH_OVERHEAD_BYTES,
  type EncodedChangeSet,
} from './kafka-log-codec.js';
import {
  kafkaChangeLogOptionsFromEnv,
  resolveKafkaChangeLogOptions,
  type KafkaChangeLogOptions,
  type ResolvedKafkaChangeLogOptions,
} from './kafka-log-config.js';
import {
  backoff,
  call,
  describeError,
  findBy,
  isFinal,
  isRetriableKafkaError,
  kafkaErrorName,
  LogClient,
  responseOf,
  sleep,
} from './kafka-log-client.js';
import { KafkaLogError, KafkaLogErrorCode } from './kafka-log-errors.js';

export { KafkaLogError, KafkaLogErrorCode, isKafkaLogError } from './kafka-log-errors.js';
export { kafkaChangeLogOptionsFromEnv, type KafkaChangeLogOptions } from './kafka-log-config.js';

const DEFAULT_MAX_RECORDS = 500;
/** A long poll is cut into fetches of at most this long (the broker's wait), so a lost broker is noticed. */
const MAX_FETCH_WAIT_MS = 10_000;
const TIMESTAMP_TYPE_LOG_APPEND_TIME = 0x08;
const CONTROL_BATCH = 0x20;
const SEQUENCE_MODULUS = 2 ** 31;
const LATEST = -1n;
const EARLIEST = -2n;
const READ_UNCOMMITTED = 0;

/** Kafka errors that mean "this producer's state on the broker does not match": start a new producer id. */
const PRODUCER_STATE_ERRORS = new Set([
  'OUT_OF_ORDER_SEQUENCE_NUMBER',
  'UNKNOWN_PRODUCER_ID',
  'INVALID_PRODUCER_EPOCH',
  'PRODUCER_FENCED',
]);
const TOO_LARGE_ERRORS = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE']);
/** Retriable answers after which the leader may have the batch (written, but not yet on enough replicas). */
const MAYBE_WRITTEN_ERRORS = new Set(['REQUEST_TIMED_OUT', 'NOT_ENOUGH_REPLICAS_AFTER_APPEND', 'NETWORK_EXCEPTION']);

export interface KafkaChangeLogStats {
  /** Group commits sent (each is one produce request per partition leader). */
  flushes: number;
  /** Change sets acknowledged. */
  appended: number;
  /** Producer ids taken (1 + one per reset after an append whose outcome was unknown). */
  producerIds: number;
}

/** What init() found or created. */
export interface KafkaTopicDescription {
  topic: string;
  topicId: string;
  partitions: number;
  retentionMs: number;
  maxMessageBytes: number;
  timestampType: string;
  created: boolean;
}

interface PendingAppend {
  encoded: EncodedChangeSet;
  partition: number;
  resolve: (result: AppendResult) => void;
  reject: (error: unknown) => void;
}

interface ProducerSession {
  id: bigint;
  epoch: number;
  /** Next sequence number per `topic:partition` (the key @platformatic/kafka's batch writer reads). */
  sequences: NumericMap;
}

interface FetchResponse {
  responses: { partitions: { partitionIndex: number; errorCode: number; records?: RecordsBatch[] }[] }[];
}

interface PartitionResponse {
  index: number;
  errorCode: number;
  baseOffset: bigint;
  logAppendTimeMs: bigint;
  errorMessage: string | null;
}

export class KafkaChangeLog implements ChangeLog {
  readonly kind = 'kafka' as const;
  readonly partitions: number;
  readonly topic: string;

  private readonly options: ResolvedKafkaChangeLogOptions;
  private readonly connectionOptions: ConnectionOptions;
  private readonly client: LogClient;
  private initializing?: Promise<KafkaTopicDescription>;
  private description?: KafkaTopicDescription;
  private producer?: ProducerSession;
  private producerStarting?: Promise<ProducerSession>;
  private queue: PendingAppend[] = [];
  private flushing?: Promise<void>;
  private closed = false;
  private closing?: Promise<void>;
  /** Connections for reads: one per concurrent read, reused. */
  private readonly idleReaders: ConnectionPool[] = [];
  private readonly busyReaders = new Set<ConnectionPool>();
  private readonly closeSignal = new AbortController();
  private readonly counters: KafkaChangeLogStats = { flushes: 0, appended: 0, producerIds: 0 };

  constructor(options: KafkaChangeLogOptions) {
    this.options = resolveKafkaChangeLogOptions(options);
    this.partitions = this.options.partitions;
    this.topic = this.options.topic;
    this.connectionOptions = {
      connectTimeout: this.options.connectTimeoutMs,
      // The broker may take the whole produce timeout to gather the in-sync replicas' acks: wait a bit longer.
      requestTimeout: this.options.requestTimeoutMs + 5_000,
      ...(this.options.tls && { tls: this.options.tls }),
      ...(this.options.sasl && { sasl: this.options.sasl }),
    };
    this.client = new LogClient({
      clientId: this.options.clientId,
      bootstrapBrokers: this.options.brokers,
      timeout: this.options.requestTimeoutMs,
      retries: 0, // this class retries itself, within deliveryTimeoutMs
      metadataMaxAge: 30_000,
      ...this.connectionOptions,
    });
  }

  /** A log configured from KENEY_KAFKA_* (see kafkaChangeLogOptionsFromEnv). */
  static fromEnv(env: NodeJS.ProcessEnv = process.env): KafkaChangeLog {
    return new KafkaChangeLog(kafkaChangeLogOptionsFromEnv(env));
  }

  get stats(): KafkaChangeLogStats {
    return { ...this.counters };
  }

  /** The topic as init() found or created it (undefined before init). */
  get topicDescription(): KafkaTopicDescription | undefined {
    return this.description;
  }

  async init(): Promise<void> {
    this.assertOpen();
    this.initializing ??= this.initialize().catch((error: unknown) => {
      this.initializing = undefined; // a later call may try again
      throw error;
    });
    await this.initializing;
  }

  // ---------------------------------------------------------------------------------------------- topic

  private async initialize(): Promise<KafkaTopicDescription> {
    const deadline = Date.now() + this.options.deliveryTimeoutMs;
    const admin = new Admin({
      clientId: `${this.options.clientId}-admin`,
      bootstrapBrokers: this.options.brokers,
      timeout: this.options.requestTimeoutMs,
      retries: 0,
      ...this.connectionOptions,
    });
    try {
      for (let attempt = 0; ; attempt++) {
        try {
          this.description = await this.ensureTopic(admin);
          await this.ensureProducer();
          return this.description;
        } catch (error) {
          if (isFinal(error) || Date.now() >= deadline || this.closed)
            throw this.unavailable('set up the change-log topic', error);
          await sleep(backoff(attempt), this.closeSignal.signal);
        }
      }
    } finally {
      await admin.close().catch(() => undefined);
    }
  }

  private async ensureTopic(admin: Admin): Promise<KafkaTopicDescription> {
    let created = false;
    const existing = await admin.listTopics({ includeInternals: false });
    if (!existing.includes(this.topic)) {
      const configs = {
        'retention.ms': String(this.options.retentionMs),
        'retention.bytes': '-1',
        'cleanup.policy': 'delete',
        'message.timestamp.type': 'LogAppendTime',
        'max.message.bytes': String(this.options.maxMessageBytes),
        ...this.options.topicConfig,
      };
      try {
        await admin.createTopics({
          topics: [this.topic],
          partitions: this.partitions,
          replicas: this.options.replicationFactor,
          configs: Object.entries(configs).map(([name, value]) => ({ name, value })),
        });
        created = true;
      } catch (error) {
        // Another hub instance created it at the same moment: check what it made.
        if (!findBy(error, 'apiId', 'TOPIC_ALREADY_EXISTS')) {
          if (isFinal(error)) {
            throw new KafkaLogError(
              KafkaLogErrorCode.Rejected,
              `Kafka refused to create topic ${this.topic}: ${describeError(error)}. ` +
                'Create it yourself with the same settings (see scripts/kafka/README.md) or grant the hub CREATE on the cluster.',
              { topic: this.topic, cause: error },
            );
          }
          throw error;
        }
      }
    }

    // Wait until every partition has a leader (a new topic takes a moment to spread: a broker that has not heard of
    // it yet answers "unknown topic", which the client reports as final — here it only means "not yet").
    const readMetadata = async () => {
      try {
        return await this.client.topicMetadata(this.topic, true);
      } catch (error) {
        if (error instanceof Error && error.message.startsWith('Unknown topic ')) return undefined;
        throw error;
      }
    };
    let metadata = await readMetadata();
    for (let attempt = 0; ; attempt++) {
      const partitions = metadata?.topics.get(this.topic)?.partitions ?? [];
      if (metadata && partitions.length > 0 && partitions.every((p) => p && p.leader >= 0)) break;
      if (attempt > 100)
        throw new Error(`topic ${this.topic} is unknown to the brokers or has partitions without a leader`);
      await sleep(backoff(attempt));
      metadata = await readMetadata();
    }
    const topicMetadata = metadata.topics.get(this.topic)!;
    if (topicMetadata.partitionsCount !== this.partitions) {
      throw new KafkaLogError(
        KafkaLogErrorCode.PartitionMismatch,
        `Topic ${this.topic} has ${topicMetadata.partitionsCount} partitions but the hub is configured for ${this.partitions}. ` +
          `A partition count never changes (each patient's changes would move to another partition and lose their order): ` +
          `set KENEY_KAFKA_PARTITIONS=${topicMetadata.partitionsCount}, or use a new topic (KENEY_KAFKA_TOPIC).`,
        { topic: this.topic },
      );
    }

    const [description] = await admin.describeConfigs({
      resources: [
        {
          resourceType: 2, // TOPIC
          resourceName: this.topic,
          configurationKeys: ['retention.ms', 'max.message.bytes', 'message.timestamp.type'],
        },
      ],
    });
    const config = new Map((description?.configs ?? []).map((c) => [c.name, c.value ?? '']));
    const timestampType = config.get('message.timestamp.type') ?? '';
    if (timestampType !== 'LogAppendTime') {
      throw new KafkaLogError(
        KafkaLogErrorCode.TopicMisconfigured,
        `Topic ${this.topic} has message.timestamp.type=${timestampType || '(unknown)'}; the change log needs LogAppendTime ` +
          `(appendedAt must come from the broker's clock, not from each producer's). Fix it with: ` +
          `kafka-configs.sh --alter --entity-type topics --entity-name ${this.topic} --add-config message.timestamp.type=LogAppendTime`,
        { topic: this.topic },
      );
    }
    const retentionMs = Number(config.get('retention.ms') ?? Number.NaN);
    if (!created && retentionMs !== this.options.retentionMs) {
      this.options.logger?.warn(
        { topic: this.topic, retentionMs, configuredRetentionMs: this.options.retentionMs },
        'The change-log topic exists with another retention than configured; its own setting applies.',
      );
    }
    return {
      topic: this.topic,
      topicId: topicMetadata.id,
      partitions: topicMetadata.partitionsCount,
      retentionMs,
      maxMessageBytes: Number(config.get('max.message.bytes') ?? this.options.maxMessageBytes),
      timestampType,
      created,
    };
  }

  /** The idempotent producer's id and sequences; a new producer id when there is none (concurrent callers share it). */
  private ensureProducer(): Promise<ProducerSession> {
    if (this.producer) return Promise.resolve(this.producer);
    this.producerStarting ??= this.startProducer().finally(() => {
      this.producerStarting = undefined;
    });
    return this.producerStarting;
  }

  private async startProducer(): Promise<ProducerSession> {
    const api = await this.client.api('InitProducerId');
    const connection = await this.client.anyConnection();
    // No transactional id: an idempotent (not transactional) producer; -1/-1 asks for a new producer id.
    const response = await call<{ producerId: bigint; producerEpoch: number }>(
      api,
      connection,
      null,
      this.options.requestTimeoutMs,
      -1n,
      -1,
    );
    this.producer = { id: response.producerId, epoch: response.producerEpoch, sequences: new NumericMap() };
    this.counters.producerIds++;
    return this.producer;
  }

  // --------------------------------------------------------------------------------------------- append

  append(changeSets: ChangeSet[]): Promise<AppendResult[]> {
    if (this.closed) return Promise.reject(this.closedError('append to'));
    if (!Array.isArray(changeSets)) {
      return Promise.reject(
        new KafkaLogError(KafkaLogErrorCode.InvalidArgument, 'append() takes an array of change sets.'),
      );
    }
    if (changeSets.length === 0) return Promise.resolve([]);
    let encoded: EncodedChangeSet[];
    try {
      // Validate and serialize everything first: a bad change set fails the call before anything is written.
      encoded = changeSets.map((changeSet, index) => encodeChangeSet(changeSet, index));
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.description) return this.enqueue(changeSets, encoded);
    return this.init().then(() => this.enqueue(changeSets, encoded));
  }

  private enqueue(changeSets: ChangeSet[], encoded: EncodedChangeSet[]): Promise<AppendResult[]> {
    if (this.closed) return Promise.reject(this.closedError('append to'));
    const limit = this.description!.maxMessageBytes;
    for (const [index, record] of encoded.entries()) {
      const size = record.size + RECORD_BATCH_OVERHEAD_BYTES;
      if (size > limit) {
        return Promise.reject(
          new KafkaLogError(
            KafkaLogErrorCode.RecordTooLarge,
            `Change set #${index} (${changeSets[index]!.id}) is ${size} bytes once serialized; topic ${this.topic} ` +
              `accepts at most ${limit} (max.message.bytes). Nothing of this append was written. Keep large binaries ` +
              `out of the Bundle (store them in the blob store and reference them), or raise max.message.bytes on the ` +
              `topic (KENEY_KAFKA_MAX_MESSAGE_BYTES for new topics).`,
            { topic: this.topic, index },
          ),
        );
      }
    }
    const promises = encoded.map(
      (record, index) =>
        new Promise<AppendResult>((resolve, reject) => {
          this.queue.push({
            encoded: record,
            partition: partitionFor(changeSets[index]!.partitionKey, this.partitions),
            resolve,
            reject,
          });
        }),
    );
    this.flushing ??= this.flushAll();
    return Promise.all(promises);
  }

  private async flushAll(): Promise<void> {
    // Let the appends of this tick (or of the linger time) join the first request.
    if (this.options.lingerMs > 0) await sleep(this.options.lingerMs);
    else await new Promise<void>((resolve) => setImmediate(resolve));
    while (this.queue.length > 0) {
      await this.send(this.takeBatch());
    }
    this.flushing = undefined;
  }

  /** The next group of change sets, in queue order, within the record and byte bounds (at least one). */
  private takeBatch(): PendingAppend[] {
    const limit = this.description!.maxMessageBytes;
    const perPartition = new Map<number, number>();
    let total = 0;
    let count = 0;
    for (const pending of this.queue) {
      if (count >= this.options.maxBatchRecords) break;
      const partitionBytes =
        (perPartition.get(pending.partition) ?? RECORD_BATCH_OVERHEAD_BYTES) + pending.encoded.size;
      if (count > 0 && (partitionBytes > limit || total + pending.encoded.size > this.options.maxBatchBytes)) break;
      perPartition.set(pending.partition, partitionBytes);
      total += pending.encoded.size;
      count++;
    }
    return this.queue.splice(0, count);
  }

  /** Sends one group commit; settles every change set in it (never throws). */
  private async send(batch: PendingAppend[]): Promise<void> {
    this.counters.flushes++;
    const byPartition = new Map<number, PendingAppend[]>();
    for (const pending of batch) {
      const list = byPartition.get(pending.partition);
      if (list) list.push(pending);
      else byPartition.set(pending.partition, [pending]);
    }
    const unsettled = new Set(byPartition.keys());
    // Partitions whose batch went out in a request that got no answer: the broker may have written it. Such a
    // batch may only be resent under the same producer id and sequence, which the broker recognises.
    const maybeWritten = new Set<number>();
    const deadline = Date.now() + this.options.deliveryTimeoutMs;
    let lastError: unknown;

    const settle = (partition: number, outcome: { results: AppendResult[] } | { error: KafkaLogError }): void => {
      const pendings = byPartition.get(partition)!;
      unsettled.delete(partition);
      maybeWritten.delete(partition);
      if ('results' in outcome) {
        pendings.forEach((pending, i) => pending.resolve(outcome.results[i]!));
        this.counters.appended += pendings.length;
      } else {
        for (const pending of pendings) pending.reject(outcome.error);
      }
    };
    /** Fails what is left, saying for each partition whether it may be in the log. */
    const giveUp = (partitions: Iterable<number>, reason: unknown): void => {
      for (const partition of [...partitions]) {
        const count = byPartition.get(partition)!.length;
        const error = this.unavailable(
          `acknowledge ${count} change set(s) for partition ${partition}`,
          reason,
          maybeWritten.has(partition),
        );
        settle(partition, { error });
      }
    };

    for (let attempt = 0; unsettled.size > 0; attempt++) {
      let newProducerNeeded = false;
      try {
        const producer = await this.ensureProducer();
        const metadata = await this.client.topicMetadata(this.topic);
        const partitionsMetadata = metadata.topics.get(this.topic)?.partitions ?? [];
        const byLeader = new Map<number, number[]>();
        for (const partition of unsettled) {
          const leader = partitionsMetadata[partition]?.leader ?? -1;
          if (leader < 0) {
            this.client.clearMetadata();
            throw new Error(`partition ${partition} of ${this.topic} has no leader`);
          }
          byLeader.set(leader, [...(byLeader.get(leader) ?? []), partition]);
        }
        const api = await this.client.api('Produce');
        const failures: unknown[] = [];
        await Promise.all(
          [...byLeader].map(async ([leader, partitions]) => {
            const broker = metadata.brokers.get(leader);
            const sentAt = Date.now();
            const messages: MessageRecord[] = [];
            for (const partition of partitions) {
              for (const pending of byPartition.get(partition)!) {
                messages.push({
                  key: pending.encoded.key,
                  value: pending.encoded.value,
                  headers: pending.encoded.headers,
                  topic: this.topic,
                  partition,
                  timestamp: BigInt(sentAt),
                });
              }
            }
            let responses: { name: string; partitionResponses: PartitionResponse[] }[];
            let sent = false;
            try {
              if (!broker) throw new Error(`broker ${leader} is not in the cluster metadata`);
              const connection = await this.client.connectionTo(broker);
              sent = true;
              const response = await call<{ responses: typeof responses }>(
                api,
                connection,
                -1, // acks=all
                this.options.requestTimeoutMs,
                messages,
                {
                  producerId: producer.id,
                  producerEpoch: producer.epoch,
                  sequences: producer.sequences,
                  compression: this.options.compression,
                },
              );
              responses = response.responses;
            } catch (error) {
              const partial = responseOf<{ responses: typeof responses }>(error);
              if (!partial?.responses) {
                // No answer to a request that left: the broker may have written these batches.
                if (sent) for (const partition of partitions) maybeWritten.add(partition);
                failures.push(error);
                return;
              }
              responses = partial.responses;
            }
            for (const { partitionResponses } of responses) {
              for (const answer of partitionResponses) {
                if (!unsettled.has(answer.index)) continue;
                const outcome = this.judge(answer, byPartition.get(answer.index)!, producer, sentAt);
                if ('retry' in outcome) {
                  lastError = new Error(`Kafka answered ${outcome.retry} for partition ${answer.index}`);
                  if (MAYBE_WRITTEN_ERRORS.has(outcome.retry)) maybeWritten.add(answer.index);
                  if (outcome.newProducer) newProducerNeeded = true;
                  continue;
                }
                settle(answer.index, outcome);
              }
            }
          }),
        );
        if (failures.length > 0) throw failures[0];
      } catch (error) {
        lastError = error;
        this.client.clearMetadata();
        if (isFinal(error)) {
          const rejected = new KafkaLogError(
            KafkaLogErrorCode.Rejected,
            `Kafka refused the append to ${this.topic}: ${describeError(error)}. A retry will not help: ` +
              'check the hub’s rights on the topic (WRITE, IDEMPOTENT_WRITE) and the broker log.',
            { topic: this.topic, cause: error },
          );
          for (const partition of [...unsettled]) settle(partition, { error: rejected });
        }
      }
      if (newProducerNeeded) {
        // The broker lost this producer's state, so the next attempt goes out under a new producer id; a batch
        // that may already be written cannot be resent under it (it would be written twice): it fails here.
        giveUp(
          [...unsettled].filter((partition) => maybeWritten.has(partition)),
          lastError,
        );
        this.producer = undefined;
      }
      if (unsettled.size === 0) break;
      if (Date.now() >= deadline) {
        const unknown = [...unsettled].some((partition) => maybeWritten.has(partition));
        giveUp(unsettled, lastError);
        // Their outcome is unknown: a new producer id keeps later records from being taken for their duplicates.
        if (unknown) this.producer = undefined;
        break;
      }
      await sleep(backoff(attempt));
    }
  }

  /** What one partition's answer to a produce request means. */
  private judge(
    answer: PartitionResponse,
    pendings: PendingAppend[],
    producer: ProducerSession,
    sentAt: number,
  ): { results: AppendResult[] } | { error: KafkaLogError } | { retry: string; newProducer: boolean } {
    const partition = answer.index;
    if (answer.errorCode === 0) {
      const key = `${this.topic}:${partition}`;
      producer.sequences.set(key, (producer.sequences.getWithDefault(key, 0) + pendings.length) % SEQUENCE_MODULUS);
      const appendedAt = new Date(answer.logAppendTimeMs >= 0n ? Number(answer.logAppendTimeMs) : sentAt).toISOString();
      const base = Number(answer.baseOffset);
      return { results: pendings.map((_, i) => ({ partition, offset: base + i, appendedAt })) };
    }
    const name = kafkaErrorName(answer.errorCode);
    const brokerSays = answer.errorMessage ? ` (${answer.errorMessage})` : '';
    if (TOO_LARGE_ERRORS.has(name)) {
      return {
        error: new KafkaLogError(
          KafkaLogErrorCode.RecordTooLarge,
          `Kafka refused ${pendings.length} change set(s) for partition ${partition} of ${this.topic} as too large ` +
            `(${name}${brokerSays}). The topic's max.message.bytes is smaller than the hub expected ` +
            `(${this.description?.maxMessageBytes}): restart the hub so it reads the topic's settings again, ` +
            `or raise max.message.bytes on the topic.`,
          { topic: this.topic, partition, kafkaError: name },
        ),
      };
    }
    if (PRODUCER_STATE_ERRORS.has(name)) return { retry: name, newProducer: true };
    if (isRetriableKafkaError(name)) {
      if (
        name === 'NOT_LEADER_OR_FOLLOWER' ||
        name === 'UNKNOWN_TOPIC_OR_PARTITION' ||
        name === 'LEADER_NOT_AVAILABLE'
      ) {
        this.client.clearMetadata();
      }
      return { retry: name, newProducer: false };
    }
    return {
      error: new KafkaLogError(
        KafkaLogErrorCode.Rejected,
        `Kafka refused ${pendings.length} change set(s) for partition ${partition} of ${this.topic}: ${name}${brokerSays}. ` +
          'A retry will not help; see the broker log.',
        { topic: this.topic, partition, kafkaError: name },
      ),
    };
  }

  // ----------------------------------------------------------------------------------------------- read

  async read(partition: number, fromOffset: number, options: ReadOptions = {}): Promise<LogRecord[]> {
    this.assertOpen('read from');
    if (!Number.isInteger(partition) || partition < 0 || partition >= this.partitions) {
      throw new KafkaLogError(
        KafkaLogErrorCode.InvalidArgument,
        `Partition ${partition} does not exist: ${this.topic} has partitions 0 to ${this.partitions - 1}.`,
      );
    }
    if (!Number.isSafeInteger(fromOffset) || fromOffset < 0) {
      throw new KafkaLogError(
        KafkaLogErrorCode.InvalidArgument,
        `fromOffset must be an integer >= 0 (got ${fromOffset}).`,
      );
    }
    const maxRecords = options.maxRecords ?? DEFAULT_MAX_RECORDS;
    if (!Number.isInteger(maxRecords) || maxRecords < 1) {
      throw new KafkaLogError(
        KafkaLogErrorCode.InvalidArgument,
        `maxRecords must be an integer >= 1 (got ${maxRecords}).`,
      );
    }
    const waitMs = options.waitMs ?? 0;
    if (!(waitMs >= 0) || !Number.isFinite(waitMs)) {
      throw new KafkaLogError(
        KafkaLogErrorCode.InvalidArgument,
        `waitMs must be a finite number >= 0 (got ${waitMs}).`,
      );
    }
    const signal = options.signal
      ? AbortSignal.any([options.signal, this.closeSignal.signal])
      : this.closeSignal.signal;
    if (signal.aborted) return [];
    if (!this.description) await this.init();

    const deadline = Date.now() + waitMs;
    let fetchOffset = fromOffset;
    let failingSince: number | undefined;
    let lastError: unknown;
    for (let attempt = 0; ;) {
      if (signal.aborted) return [];
      const wait = Math.min(Math.max(0, deadline - Date.now()), MAX_FETCH_WAIT_MS);
      let batches: RecordsBatch[] | 'aborted';
      try {
        batches = await this.fetch(partition, fetchOffset, wait, signal);
        failingSince = undefined;
        attempt = 0;
      } catch (error) {
        if (signal.aborted) return [];
        if (error instanceof KafkaLogError) throw error;
        if (isFinal(error)) {
          throw new KafkaLogError(
            KafkaLogErrorCode.Rejected,
            `Kafka refused to read partition ${partition} of ${this.topic}: ${describeError(error)}. ` +
              'Check the hub’s READ right on the topic.',
            { topic: this.topic, partition, cause: error },
          );
        }
        lastError = error;
        failingSince ??= Date.now();
        if (Date.now() - failingSince >= this.options.deliveryTimeoutMs) {
          throw this.unavailable(`read partition ${partition} from offset ${fetchOffset}`, lastError);
        }
        this.client.clearMetadata();
        await sleep(backoff(attempt++), signal);
        continue;
      }
      if (batches === 'aborted') return [];
      const { records, nextOffset } = this.decodeBatches(partition, fromOffset, fetchOffset, batches, maxRecords);
      if (records.length > 0) return records;
      if (nextOffset > fetchOffset) {
        fetchOffset = nextOffset; // only control records or records before fromOffset: look further at once
        continue;
      }
      if (Date.now() >= deadline) return [];
    }
  }

  private decodeBatches(
    partition: number,
    fromOffset: number,
    fetchOffset: number,
    batches: RecordsBatch[],
    maxRecords: number,
  ): { records: LogRecord[]; nextOffset: number } {
    const records: LogRecord[] = [];
    let nextOffset = fetchOffset;
    for (const batch of batches) {
      const first = Number(batch.firstOffset);
      const batchEnd = first + batch.lastOffsetDelta + 1;
      if ((batch.attributes & CONTROL_BATCH) === 0) {
        for (const record of batch.records) {
          const offset = first + record.offsetDelta;
          if (offset < fromOffset || offset < fetchOffset) continue;
          const timestamp =
            (batch.attributes & TIMESTAMP_TYPE_LOG_APPEND_TIME) !== 0
              ? batch.maxTimestamp
              : batch.firstTimestamp + record.timestampDelta;
          let changeSet: ChangeSet;
          try {
            changeSet = decodeChangeSet(
              { partition, offset, key: record.key, value: record.value, headers: record.headers },
              this.topic,
            );
          } catch (error) {
            // Hand out the good records before the bad one; the next read, starting at it, reports it.
            if (records.length > 0) return { records, nextOffset: offset };
            throw error;
          }
          records.push({ partition, offset, appendedAt: new Date(Number(timestamp)).toISOString(), changeSet });
          if (records.length >= maxRecords) return { records, nextOffset: offset + 1 };
        }
      }
      nextOffset = Math.max(nextOffset, batchEnd);
    }
    return { records, nextOffset };
  }

  /** One Fetch request for one partition, on a connection of its own; 'aborted' when the signal fired. */
  private async fetch(
    partition: number,
    offset: number,
    waitMs: number,
    signal: AbortSignal,
  ): Promise<RecordsBatch[] | 'aborted'> {
    const metadata = await this.client.topicMetadata(this.topic);
    const topicMetadata = metadata.topics.get(this.topic);
    const leader = topicMetadata?.partitions[partition]?.leader ?? -1;
    const broker = metadata.brokers.get(leader);
    if (!topicMetadata || !broker) throw new Error(`partition ${partition} of ${this.topic} has no leader`);
    const api = await this.client.api('Fetch');
    if (api.version < 13) {
      throw new KafkaLogError(
        KafkaLogErrorCode.Rejected,
        `The Kafka broker is too old for the change log (Fetch v${api.version}; topic ids need Kafka 3.1 or newer).`,
      );
    }
    const reader =
      this.idleReaders.pop() ?? new ConnectionPool(`${this.options.clientId}-reader`, this.readerOptions());
    this.busyReaders.add(reader);
    let aborted = false;
    const onAbort = () => {
      aborted = true;
      // The broker would hold the request until its wait ends: drop the connection instead.
      this.busyReaders.delete(reader);
      void reader.close().catch(() => undefined);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      const connection = await reader.get(broker);
      if (aborted) return 'aborted';
      const request = call<FetchResponse>(
        api,
        connection,
        waitMs,
        waitMs > 0 ? 1 : 0, // min bytes: answer as soon as one record is there
        this.options.fetchMaxBytes,
        READ_UNCOMMITTED, // no transactions here; the high watermark already hides unreplicated records
        0, // no fetch session
        -1,
        [
          {
            topicId: topicMetadata.id,
            partitions: [
              {
                partition,
                currentLeaderEpoch: -1,
                fetchOffset: BigInt(offset),
                lastFetchedEpoch: -1,
                partitionMaxBytes: this.options.fetchMaxBytes,
              },
            ],
          },
        ],
        [],
        '',
      );
      const abortedResult = new Promise<'aborted'>((resolve) => {
        if (aborted) resolve('aborted');
        signal.addEventListener('abort', () => resolve('aborted'), { once: true });
      });
      let response: FetchResponse;
      try {
        const outcome = await Promise.race([request, abortedResult]);
        if (outcome === 'aborted') {
          request.catch(() => undefined);
          return 'aborted';
        }
        response = outcome;
      } catch (error) {
        if (aborted) return 'aborted';
        const partial = responseOf<FetchResponse>(error);
        const answer = partial?.responses?.[0]?.partitions?.[0];
        if (!answer || answer.errorCode === 0) throw error;
        const name = kafkaErrorName(answer.errorCode);
        if (name === 'OFFSET_OUT_OF_RANGE') throw await this.outOfRange(partition, offset);
        throw error;
      }
      return response.responses[0]?.partitions[0]?.records ?? [];
    } finally {
      signal.removeEventListener('abort', onAbort);
      if (!aborted && this.busyReaders.delete(reader)) {
        if (this.closed) void reader.close().catch(() => undefined);
        else this.idleReaders.push(reader);
      }
    }
  }

  private readerOptions(): ConnectionOptions {
    return {
      ...this.connectionOptions,
      maxInflights: 1,
      requestTimeout: this.options.requestTimeoutMs + MAX_FETCH_WAIT_MS,
    };
  }

  private async outOfRange(partition: number, offset: number): Promise<KafkaLogError> {
    let bounds = '';
    let advice = 'The projection does not match this log.';
    try {
      // Best effort, but worth a retry: a busy broker or a metadata refresh can fail one ListOffsets, and the bounds
      // are what tells the operator which of the two causes it is.
      let offsets: [number[], number[]] | undefined;
      for (let attempt = 0; !offsets; attempt++) {
        try {
          offsets = await Promise.all([this.listOffsets(EARLIEST), this.listOffsets(LATEST)]);
        } catch (error) {
          if (attempt >= 3) throw error;
          this.client.clearMetadata();
          await sleep(backoff(attempt + 1));
        }
      }
      const [earliest, latest] = offsets;
      const start = earliest[partition]!;
      const end = latest[partition]!;
      bounds = ` (the partition holds offsets ${start} to ${end - 1})`;
      if (offset < start) {
        advice =
          `Records before offset ${start} were deleted (by the topic's retention, or by hand): the log no longer ` +
          'holds the whole record, and a projection cannot be rebuilt from it. Keep retention.ms=-1 on the ' +
          'change-log topic.';
      } else {
        advice =
          'The offset is beyond the end of the partition: the projection was built from another log ' +
          '(a recreated topic, or another KENEY_KAFKA_TOPIC). Rebuild the projection from offset 0.';
      }
    } catch {
      // Keep the general advice.
    }
    return new KafkaLogError(
      KafkaLogErrorCode.OffsetOutOfRange,
      `Offset ${offset} of partition ${partition} of ${this.topic} is out of range${bounds}. ${advice}`,
      { topic: this.topic, partition, offset },
    );
  }

  // --------------------------------------------------------------------------------------- end offsets

  async endOffsets(): Promise<number[]> {
    this.assertOpen('read from');
    if (!this.description) await this.init();
    const deadline = Date.now() + this.options.deliveryTimeoutMs;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.listOffsets(LATEST);
      } catch (error) {
        this.client.clearMetadata();
        if (isFinal(error) || Date.now() >= deadline || this.closed)
          throw this.unavailable('list the end offsets', error);
        await sleep(backoff(attempt), this.closeSignal.signal);
      }
    }
  }

  private async listOffsets(timestamp: bigint): Promise<number[]> {
    const metadata = await this.client.topicMetadata(this.topic);
    const partitions = metadata.topics.get(this.topic)?.partitions ?? [];
    const byLeader = new Map<number, number[]>();
    for (let partition = 0; partition < this.partitions; partition++) {
      const leader = partitions[partition]?.leader ?? -1;
      if (leader < 0) throw new Error(`partition ${partition} of ${this.topic} has no leader`);
      byLeader.set(leader, [...(byLeader.get(leader) ?? []), partition]);
    }
    const api = await this.client.api('ListOffsets');
    const offsets = new Array<number>(this.partitions).fill(0);
    await Promise.all(
      [...byLeader].map(async ([leader, ids]) => {
        const broker = metadata.brokers.get(leader);
        if (!broker) throw new Error(`broker ${leader} is not in the cluster metadata`);
        const connection = await this.client.connectionTo(broker);
        const response = await call<{ topics: { partitions: { partitionIndex: number; offset: bigint }[] }[] }>(
          api,
          connection,
          -1,
          READ_UNCOMMITTED,
          [
            {
              name: this.topic,
              partitions: ids.map((partitionIndex) => ({ partitionIndex, currentLeaderEpoch: -1, timestamp })),
            },
          ],
        );
        for (const answer of response.topics[0]?.partitions ?? [])
          offsets[answer.partitionIndex] = Number(answer.offset);
      }),
    );
    return offsets;
  }

  // --------------------------------------------------------------------------------------------- close

  /** Stops accepting appends, waits until the queued ones are acknowledged (or failed), ends waiting reads. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      while (this.flushing) await this.flushing;
      this.closeSignal.abort();
      const readers = [...this.idleReaders.splice(0), ...this.busyReaders];
      this.busyReaders.clear();
      await Promise.all(readers.map((reader) => reader.close().catch(() => undefined)));
      await this.client.close().catch(() => undefined);
    })();
    return this.closing;
  }

  // ----------------------------------------------------------------------------------------------- misc

  private assertOpen(action = 'use'): void {
    if (this.closed) throw this.closedError(action);
  }

  private closedError(action: string): KafkaLogError {
    return new KafkaLogError(
      KafkaLogErrorCode.Closed,
      `Cannot ${action} the change log: it is closed (the hub is shutting down). Open a new KafkaChangeLog to continue.`,
      { topic: this.topic },
    );
  }

  private unavailable(what: string, cause: unknown, outcomeUnknown = false): KafkaLogError {
    if (cause instanceof KafkaLogError) return cause;
    const ms = this.options.deliveryTimeoutMs;
    const within = ms < 10_000 ? `${ms} ms` : `${Math.round(ms / 1000)} s`;
    return new KafkaLogError(
      KafkaLogErrorCode.Unavailable,
      `Could not ${what} on Kafka (${this.options.brokers.join(', ')}, topic ${this.topic}) within ${within}: ` +
        `${describeError(cause)}. ` +
        (outcomeUnknown
          ? 'The change sets may or may not be in the log: retry the append (the projector applies a change set id once). '
          : '') +
        'Check that the brokers are up and reachable and that enough in-sync replicas are alive.',
      { topic: this.topic, cause },
    );
  }
}
