// The hub's configuration, read once from the environment into a typed object (no hidden global reads
// elsewhere). Invalid values stop the start-up with a message that names the variable and the fix.
import type { S3BlobStoreOptions } from '../store/blob/s3-blob-store.js';
import { resolve } from 'node:path';
import { kafkaChangeLogOptionsFromEnv, type KafkaChangeLogOptions } from '../store/log/kafka-log-config.js';

export const Profile = { Embedded: 'embedded', Server: 'server', Cluster: 'cluster' } as const;
export type Profile = (typeof Profile)[keyof typeof Profile];

export interface HubConfig {
  /** embedded: PGlite + SQL log; server: PostgreSQL + SQL log; cluster: PostgreSQL + Kafka. */
  profile: Profile;
  dataDir: string;
  httpHost: string;
  httpPort: number;
  /** Public base URL of the hub (e.g. https://hub.example.org); derived from requests when absent. */
  publicUrl?: string;
  databaseUrl?: string;
  kafkaBrokers?: string[];
  /** Kafka client settings (KENEY_KAFKA_*), cluster profile only. */
  kafka?: KafkaChangeLogOptions;
  kafkaTopic: string;
  /** Partitions of the change log (fixed once the log exists). */
  logPartitions: number;
  adminToken?: string;
  logLevel: string;
  /** Largest request body accepted (bytes). */
  bodyLimit: number;
  /** How long a write waits for the projection before answering 202. */
  applyTimeoutMs: number;
  mllpPort: number;
  dicomPort: number;
  dicomAeTitle: string;
  /** Unique name of this instance (cluster: partition ownership, logs). */
  instanceId: string;
  /** Audit rows flushed to disk before each response (`sync`), or committed in memory (`async`, PostgreSQL only). */
  auditDurability: 'sync' | 'async';
  /** Blobs in an S3-compatible store (KENEY_S3_BUCKET…); on the filesystem under dataDir/blobs when absent. */
  s3?: Omit<S3BlobStoreOptions, 'forcePathStyle'>;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

function integer(
  env: NodeJS.ProcessEnv,
  name: string,
  fallback: number,
  min = 0,
  max = Number.MAX_SAFE_INTEGER,
): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name}=${raw} is not valid: expected an integer between ${min} and ${max}.`);
  }
  return value;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): HubConfig {
  const databaseUrl = env.KENEY_DATABASE_URL?.trim() || undefined;
  const kafkaBrokers = env.KENEY_KAFKA_BROKERS?.split(',')
    .map((b) => b.trim())
    .filter(Boolean);
  if (kafkaBrokers?.length && !databaseUrl) {
    throw new ConfigError(
      'KENEY_KAFKA_BROKERS is set but KENEY_DATABASE_URL is not: the cluster profile needs PostgreSQL for the projection.',
    );
  }
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError(
      `KENEY_DATABASE_URL must be a postgres:// URL, got "${databaseUrl.replace(/:[^:@/]*@/, ':***@')}".`,
    );
  }
  const profile: Profile = kafkaBrokers?.length ? Profile.Cluster : databaseUrl ? Profile.Server : Profile.Embedded;
  const publicUrl = env.KENEY_PUBLIC_URL?.trim().replace(/\/$/, '') || undefined;
  if (publicUrl && !/^https?:\/\//.test(publicUrl))
    throw new ConfigError(`KENEY_PUBLIC_URL must start with http:// or https://, got "${publicUrl}".`);
  const adminToken = env.KENEY_ADMIN_TOKEN?.trim() || undefined;
  if (adminToken !== undefined && adminToken.length < 16) {
    throw new ConfigError(
      'KENEY_ADMIN_TOKEN is too short: use at least 16 characters (e.g. `openssl rand -base64 32`).',
    );
  }
  const auditDurability = env.KENEY_AUDIT_DURABILITY?.trim() || 'sync';
  if (auditDurability !== 'sync' && auditDurability !== 'async') {
    throw new ConfigError(`KENEY_AUDIT_DURABILITY must be sync or async, got "${auditDurability}".`);
  }
  const bucket = env.KENEY_S3_BUCKET?.trim();
  const s3Endpoint = env.KENEY_S3_ENDPOINT?.trim();
  if (s3Endpoint && !bucket)
    throw new ConfigError('KENEY_S3_ENDPOINT is set but KENEY_S3_BUCKET is not: name the bucket that holds the blobs.');
  if (s3Endpoint && !/^https?:\/\//.test(s3Endpoint))
    throw new ConfigError(`KENEY_S3_ENDPOINT must start with http:// or https://, got "${s3Endpoint}".`);
  const optional = (name: string) => env[name]?.trim() || undefined;
  const s3 = bucket
    ? (Object.fromEntries(
        Object.entries({
          bucket,
          endpoint: s3Endpoint,
          region: optional('KENEY_S3_REGION'),
          accessKeyId: optional('KENEY_S3_ACCESS_KEY_ID'),
          secretAccessKey: optional('KENEY_S3_SECRET_ACCESS_KEY'),
          prefix: optional('KENEY_S3_PREFIX'),
        }).filter(([, v]) => v !== undefined),
      ) as NonNullable<HubConfig['s3']>)
    : undefined;
  return {
    ...(s3 ? { s3 } : {}),
    auditDurability,
    profile,
    dataDir: resolve(env.KENEY_DATA_DIR?.trim() || './data'),
    httpHost: env.KENEY_HTTP_HOST?.trim() || '0.0.0.0',
    httpPort: integer(env, 'KENEY_HTTP_PORT', 8080, 0, 65535),
    ...(publicUrl ? { publicUrl } : {}),
    ...(databaseUrl ? { databaseUrl } : {}),
    ...(kafkaBrokers?.length ? { kafkaBrokers, kafka: kafkaChangeLogOptionsFromEnv(env) } : {}),
    kafkaTopic: env.KENEY_KAFKA_TOPIC?.trim() || 'keney.changes',
    logPartitions: integer(env, 'KENEY_LOG_PARTITIONS', profile === Profile.Cluster ? 12 : 1, 1, 1024),
    ...(adminToken ? { adminToken } : {}),
    logLevel: env.KENEY_LOG_LEVEL?.trim() || 'info',
    bodyLimit: integer(env, 'KENEY_BODY_LIMIT', 64 * 1024 * 1024, 1024),
    applyTimeoutMs: integer(env, 'KENEY_APPLY_TIMEOUT_MS', 30_000, 100),
    mllpPort: integer(env, 'KENEY_MLLP_PORT', 2575, 0, 65535),
    dicomPort: integer(env, 'KENEY_DICOM_PORT', 11112, 0, 65535),
    dicomAeTitle: env.KENEY_DICOM_AE_TITLE?.trim() || 'KENEY',
    instanceId: env.KENEY_INSTANCE_ID?.trim() || `${(env.HOSTNAME ?? 'hub').slice(0, 40)}-${process.pid}`,
  };
}
