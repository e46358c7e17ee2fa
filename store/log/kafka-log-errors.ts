// The errors of the Kafka change log: one catalogue of codes, each error a value that says what happened and
// what to do. Callers switch on `code`, never on the message.

export const KafkaLogErrorCode = {
  /** Bad configuration (environment or options): the message names the setting and the accepted values. */
  ConfigInvalid: 'KAFKA_LOG_CONFIG_INVALID',
  /** The log was closed: no more appends or reads. */
  Closed: 'KAFKA_LOG_CLOSED',
  /** A change set is not well formed (id, partition key, origin or Bundle); nothing of that append was written. */
  InvalidChangeSet: 'KAFKA_LOG_INVALID_CHANGE_SET',
  /** A change set is larger than the topic accepts (max.message.bytes); nothing of that append was written. */
  RecordTooLarge: 'KAFKA_LOG_RECORD_TOO_LARGE',
  /** The existing topic's partition count differs from the configured one. */
  PartitionMismatch: 'KAFKA_LOG_PARTITION_MISMATCH',
  /** The existing topic has a setting the log cannot work with (e.g. CreateTime timestamps). */
  TopicMisconfigured: 'KAFKA_LOG_TOPIC_MISCONFIGURED',
  /** Kafka could not be reached, or did not acknowledge in time. The append may or may not be in the log. */
  Unavailable: 'KAFKA_LOG_UNAVAILABLE',
  /** Kafka refused a request for a reason a retry will not fix (authorization, policy, invalid record…). */
  Rejected: 'KAFKA_LOG_REJECTED',
  /** A read asked for an offset the partition does not hold (beyond its end, or deleted by retention). */
  OffsetOutOfRange: 'KAFKA_LOG_OFFSET_OUT_OF_RANGE',
  /** A record in the topic is not a change set this hub can read (foreign producer, unknown format version…). */
  RecordUnreadable: 'KAFKA_LOG_RECORD_UNREADABLE',
  /** A read or append argument is out of range (partition number, offset, maxRecords). */
  InvalidArgument: 'KAFKA_LOG_INVALID_ARGUMENT',
} as const;
export type KafkaLogErrorCode = (typeof KafkaLogErrorCode)[keyof typeof KafkaLogErrorCode];

export interface KafkaLogErrorDetails {
  topic?: string;
  partition?: number;
  offset?: number;
  /** Index of the change set in the append() call it belongs to. */
  index?: number;
  /** The Kafka protocol error name (e.g. NOT_ENOUGH_REPLICAS), when Kafka answered with one. */
  kafkaError?: string;
  cause?: unknown;
}

export class KafkaLogError extends Error {
  override readonly name = 'KafkaLogError';
  readonly topic?: string;
  readonly partition?: number;
  readonly offset?: number;
  readonly index?: number;
  readonly kafkaError?: string;

  constructor(
    readonly code: KafkaLogErrorCode,
    message: string,
    details: KafkaLogErrorDetails = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.topic = details.topic;
    this.partition = details.partition;
    this.offset = details.offset;
    this.index = details.index;
    this.kafkaError = details.kafkaError;
  }
}

export function isKafkaLogError(error: unknown, code?: KafkaLogErrorCode): error is KafkaLogError {
  return error instanceof KafkaLogError && (code === undefined || error.code === code);
}
