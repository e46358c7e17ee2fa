// Settings of the Kafka change log: explicit options, with defaults, and how they are read from the environment
// (KENEY_KAFKA_*; see scripts/kafka/README.md for the list). Nothing here reads process.env unless asked to.
import { readFileSync } from 'node:fs';
import type { ConnectionOptions as TlsOptions } from 'node:tls';
import type { SASLOptions } from '@platformatic/kafka';
import { KafkaLogError, KafkaLogErrorCode } from './kafka-log-errors.js';

export const KafkaCompression = { None: 'none', Gzip: 'gzip', Snappy: 'snappy', Lz4: 'lz4' } as const;
export type KafkaCompression = (typeof KafkaCompression)[keyof typeof KafkaCompression];

export const SaslMechanism = {
  Plain: 'PLAIN',
  ScramSha256: 'SCRAM-SHA-256',
  ScramSha512: 'SCRAM-SHA-512',
  OAuthBearer: 'OAUTHBEARER',
} as const;
export type SaslMechanism = (typeof SaslMechanism)[keyof typeof SaslMechanism];

/** Anything with pino's `warn(object, message)`. */
export interface KafkaLogLogger {
  warn(details: object, message: string): void;
}

export interface KafkaChangeLogOptions {
  /** Bootstrap brokers, `host:port`. */
  brokers: string[];
  /** Topic of the log (default `keney.changes`). */
  topic?: string;
  /** Partition count, fixed when the topic is created (default 12). */
  partitions?: number;
  /** Kafka client id, shown in broker logs and quotas (default `keney-hub`). */
  clientId?: string;
  /** Replicas per partition at creation; -1 takes the broker's default.replication.factor (default -1). */
  replicationFactor?: number;
  /** retention.ms at creation; -1 keeps records forever: the log is the record (default -1). */
  retentionMs?: number;
  /** max.message.bytes at creation: the largest record (one change set) the topic accepts (default 16 MiB). */
  maxMessageBytes?: number;
  /** More topic settings at creation, e.g. { 'min.insync.replicas': '2' }. */
  topicConfig?: Record<string, string>;
  /** Record batch compression (default none). */
  compression?: KafkaCompression;
  /** How long an idle appender waits for more change sets before sending the first ones (default 0). */
  lingerMs?: number;
  /** At most this many change sets in one produce request (default 1000). */
  maxBatchRecords?: number;
  /** At most this many bytes in one produce request, unless a single change set is larger (default 8 MiB). */
  maxBatchBytes?: number;
  /** How long an append keeps retrying while Kafka is unreachable or has too few in-sync replicas (default 30 s). */
  deliveryTimeoutMs?: number;
  /** Timeout of one request to a broker (default 30 s). */
  requestTimeoutMs?: number;
  /** Timeout of a TCP (and TLS) connection to a broker (default 5 s). */
  connectTimeoutMs?: number;
  /** At most this many bytes of records fetched by one read (default 8 MiB; a larger record is still returned). */
  fetchMaxBytes?: number;
  /** TLS to the brokers (node:tls options: ca, cert, key, servername…); absent = plaintext. */
  tls?: TlsOptions;
  /** SASL authentication (mechanism, username/password or token). */
  sasl?: SASLOptions;
  /** Where warnings go (an existing topic whose retention differs from the setting, …). */
  logger?: KafkaLogLogger;
}

export type ResolvedKafkaChangeLogOptions = Required<Omit<KafkaChangeLogOptions, 'tls' | 'sasl' | 'logger'>> &
  Pick<KafkaChangeLogOptions, 'tls' | 'sasl' | 'logger'>;

export const kafkaChangeLogDefaults = {
  topic: 'keney.changes',
  partitions: 12,
  clientId: 'keney-hub',
  replicationFactor: -1,
  retentionMs: -1,
  maxMessageBytes: 16 * 1024 * 1024,
  compression: KafkaCompression.None,
  lingerMs: 0,
  maxBatchRecords: 1000,
  maxBatchBytes: 8 * 1024 * 1024,
  deliveryTimeoutMs: 30_000,
  requestTimeoutMs: 30_000,
  connectTimeoutMs: 5_000,
  fetchMaxBytes: 8 * 1024 * 1024,
} as const;

const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;
const BROKER = /^(\[[0-9a-fA-F:.]+\]|[^\s:/,[\]]+):(\d{1,5})$/;

function invalid(message: string): KafkaLogError {
  return new KafkaLogError(KafkaLogErrorCode.ConfigInvalid, message);
}

function integerIn(name: string, value: number, min: number, max: number): number {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw invalid(`${name} must be an integer from ${min} to ${max} (got ${String(value)}).`);
  }
  return value;
}

/** Checks options and fills in the defaults; throws KAFKA_LOG_CONFIG_INVALID naming the wrong setting. */
export function resolveKafkaChangeLogOptions(options: KafkaChangeLogOptions): ResolvedKafkaChangeLogOptions {
  const merged = { ...kafkaChangeLogDefaults, topicConfig: {}, ...stripUndefined(options) };
  if (!Array.isArray(merged.brokers) || merged.brokers.length === 0) {
    throw invalid('brokers must list at least one Kafka broker as host:port (KENEY_KAFKA_BROKERS=host:9092,…).');
  }
  for (const broker of merged.brokers) {
    const match = BROKER.exec(broker);
    if (!match || Number(match[2]) < 1 || Number(match[2]) > 65535) {
      throw invalid(`Kafka broker ${JSON.stringify(broker)} is not host:port (for example 127.0.0.1:9092).`);
    }
  }
  if (!TOPIC_NAME.test(merged.topic) || merged.topic === '.' || merged.topic === '..') {
    throw invalid(
      `Topic name ${JSON.stringify(merged.topic)} is not a valid Kafka topic name: use 1 to 249 of a-z A-Z 0-9 . _ -.`,
    );
  }
  if (!/^[a-zA-Z0-9._-]{1,200}$/.test(merged.clientId)) {
    throw invalid(`Client id ${JSON.stringify(merged.clientId)} must be 1 to 200 of a-z A-Z 0-9 . _ -.`);
  }
  integerIn('partitions', merged.partitions, 1, 10_000);
  if (merged.replicationFactor !== -1)
    integerIn('replicationFactor (-1 = broker default)', merged.replicationFactor, 1, 32);
  if (merged.retentionMs !== -1)
    integerIn('retentionMs (-1 = forever)', merged.retentionMs, 1, Number.MAX_SAFE_INTEGER);
  integerIn('maxMessageBytes', merged.maxMessageBytes, 1024, 1024 * 1024 * 1024);
  integerIn('lingerMs', merged.lingerMs, 0, 60_000);
  integerIn('maxBatchRecords', merged.maxBatchRecords, 1, 100_000);
  integerIn('maxBatchBytes', merged.maxBatchBytes, 1024, 1024 * 1024 * 1024);
  integerIn('deliveryTimeoutMs', merged.deliveryTimeoutMs, 1, 24 * 3600_000);
  integerIn('requestTimeoutMs', merged.requestTimeoutMs, 100, 3600_000);
  integerIn('connectTimeoutMs', merged.connectTimeoutMs, 100, 3600_000);
  integerIn('fetchMaxBytes', merged.fetchMaxBytes, 1024, 1024 * 1024 * 1024);
  if (!Object.values(KafkaCompression).includes(merged.compression)) {
    throw invalid(
      `compression must be one of ${Object.values(KafkaCompression).join(', ')} (got ${String(merged.compression)}).`,
    );
  }
  for (const [name, value] of Object.entries(merged.topicConfig)) {
    if (typeof value !== 'string') throw invalid(`topicConfig[${JSON.stringify(name)}] must be a string.`);
  }
  if (merged.sasl && !Object.values(SaslMechanism).includes(merged.sasl.mechanism as SaslMechanism)) {
    throw invalid(
      `SASL mechanism must be one of ${Object.values(SaslMechanism).join(', ')} (got ${String(merged.sasl.mechanism)}).`,
    );
  }
  return merged;
}

/**
 * Reads the settings from the environment (cluster profile). KENEY_KAFKA_BROKERS is required; everything else
 * has a default. Certificate and password files are read here, so that a wrong path fails at start-up.
 */
export function kafkaChangeLogOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): KafkaChangeLogOptions {
  const text = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value ? value : undefined;
  };
  const int = (name: string): number | undefined => {
    const value = text(name);
    if (value === undefined) return undefined;
    if (!/^-?\d+$/.test(value)) throw invalid(`${name} must be an integer (got ${JSON.stringify(value)}).`);
    return Number(value);
  };
  const file = (name: string): Buffer | undefined => {
    const path = text(name);
    if (path === undefined) return undefined;
    try {
      return readFileSync(path);
    } catch (cause) {
      throw new KafkaLogError(
        KafkaLogErrorCode.ConfigInvalid,
        `${name}=${path} cannot be read: ${(cause as Error).message}.`,
        {
          cause,
        },
      );
    }
  };
  const flag = (name: string): boolean | undefined => {
    const value = text(name)?.toLowerCase();
    if (value === undefined) return undefined;
    if (['1', 'true', 'yes', 'on'].includes(value)) return true;
    if (['0', 'false', 'no', 'off'].includes(value)) return false;
    throw invalid(`${name} must be true or false (got ${JSON.stringify(value)}).`);
  };

  const brokers = text('KENEY_KAFKA_BROKERS');
  if (!brokers) throw invalid('KENEY_KAFKA_BROKERS is not set: list the Kafka brokers as host:port,host:port.');

  const topicConfig: Record<string, string> = {};
  const minInsync = int('KENEY_KAFKA_MIN_INSYNC_REPLICAS');
  if (minInsync !== undefined)
    topicConfig['min.insync.replicas'] = String(integerIn('KENEY_KAFKA_MIN_INSYNC_REPLICAS', minInsync, 1, 32));

  const compression = text('KENEY_KAFKA_COMPRESSION')?.toLowerCase();
  const ca = file('KENEY_KAFKA_TLS_CA_FILE');
  const cert = file('KENEY_KAFKA_TLS_CERT_FILE');
  const key = file('KENEY_KAFKA_TLS_KEY_FILE');
  const servername = text('KENEY_KAFKA_TLS_SERVERNAME');
  const tlsWanted = flag('KENEY_KAFKA_TLS') ?? Boolean(ca || cert || key || servername);
  if ((cert && !key) || (key && !cert)) {
    throw invalid(
      'KENEY_KAFKA_TLS_CERT_FILE and KENEY_KAFKA_TLS_KEY_FILE go together (a client certificate and its key).',
    );
  }
  const tls: TlsOptions | undefined = tlsWanted
    ? { ...(ca && { ca }), ...(cert && { cert }), ...(key && { key }), ...(servername && { servername }) }
    : undefined;

  let sasl: SASLOptions | undefined;
  const mechanism = text('KENEY_KAFKA_SASL_MECHANISM')?.toUpperCase();
  if (mechanism) {
    if (!Object.values(SaslMechanism).includes(mechanism as SaslMechanism)) {
      throw invalid(
        `KENEY_KAFKA_SASL_MECHANISM must be one of ${Object.values(SaslMechanism).join(', ')} (got ${JSON.stringify(mechanism)}).`,
      );
    }
    if (mechanism === SaslMechanism.OAuthBearer) {
      const token = text('KENEY_KAFKA_SASL_TOKEN') ?? file('KENEY_KAFKA_SASL_TOKEN_FILE')?.toString('utf8').trim();
      if (!token)
        throw invalid(
          'KENEY_KAFKA_SASL_MECHANISM=OAUTHBEARER needs KENEY_KAFKA_SASL_TOKEN or KENEY_KAFKA_SASL_TOKEN_FILE.',
        );
      sasl = { mechanism: SaslMechanism.OAuthBearer, token };
    } else {
      const username = text('KENEY_KAFKA_SASL_USERNAME');
      const password =
        env.KENEY_KAFKA_SASL_PASSWORD ??
        file('KENEY_KAFKA_SASL_PASSWORD_FILE')
          ?.toString('utf8')
          .replace(/\r?\n$/, '');
      if (!username || !password) {
        throw invalid(
          `KENEY_KAFKA_SASL_MECHANISM=${mechanism} needs KENEY_KAFKA_SASL_USERNAME and KENEY_KAFKA_SASL_PASSWORD (or KENEY_KAFKA_SASL_PASSWORD_FILE).`,
        );
      }
      sasl = { mechanism: mechanism as SaslMechanism, username, password };
    }
  }

  return resolveKafkaChangeLogOptions({
    brokers: brokers
      .split(',')
      .map((b) => b.trim())
      .filter(Boolean),
    topic: text('KENEY_KAFKA_TOPIC'),
    partitions: int('KENEY_KAFKA_PARTITIONS'),
    clientId: text('KENEY_KAFKA_CLIENT_ID'),
    replicationFactor: int('KENEY_KAFKA_REPLICATION_FACTOR'),
    retentionMs: int('KENEY_KAFKA_RETENTION_MS'),
    maxMessageBytes: int('KENEY_KAFKA_MAX_MESSAGE_BYTES'),
    topicConfig,
    compression: compression as KafkaCompression | undefined,
    lingerMs: int('KENEY_KAFKA_LINGER_MS'),
    maxBatchRecords: int('KENEY_KAFKA_MAX_BATCH_RECORDS'),
    maxBatchBytes: int('KENEY_KAFKA_MAX_BATCH_BYTES'),
    deliveryTimeoutMs: int('KENEY_KAFKA_DELIVERY_TIMEOUT_MS'),
    requestTimeoutMs: int('KENEY_KAFKA_REQUEST_TIMEOUT_MS'),
    tls,
    sasl,
  });
}

function stripUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
