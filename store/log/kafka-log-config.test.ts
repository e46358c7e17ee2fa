import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  kafkaChangeLogDefaults,
  kafkaChangeLogOptionsFromEnv,
  resolveKafkaChangeLogOptions,
} from './kafka-log-config.js';
import { KafkaLogErrorCode } from './kafka-log-errors.js';

function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect((error as { code?: string }).code).toBe(KafkaLogErrorCode.ConfigInvalid);
    return (error as Error).message;
  }
  throw new Error('the configuration was accepted');
}

describe('Kafka change-log configuration', () => {
  it('needs only the brokers; everything else has the documented default', () => {
    const options = kafkaChangeLogOptionsFromEnv({ KENEY_KAFKA_BROKERS: 'kafka-1:9092, kafka-2:9092' });
    expect(options).toMatchObject({
      brokers: ['kafka-1:9092', 'kafka-2:9092'],
      topic: 'keney.changes',
      partitions: 12,
      retentionMs: -1,
      replicationFactor: -1,
      clientId: 'keney-hub',
      compression: 'none',
    });
    expect(options.tls).toBeUndefined();
    expect(options.sasl).toBeUndefined();
    expect(kafkaChangeLogDefaults.maxMessageBytes).toBe(16 * 1024 * 1024);
  });

  it('reads every setting from KENEY_KAFKA_*', () => {
    const options = kafkaChangeLogOptionsFromEnv({
      KENEY_KAFKA_BROKERS: '[::1]:9093',
      KENEY_KAFKA_TOPIC: 'chu.changes',
      KENEY_KAFKA_PARTITIONS: '24',
      KENEY_KAFKA_CLIENT_ID: 'hub-a',
      KENEY_KAFKA_REPLICATION_FACTOR: '3',
      KENEY_KAFKA_MIN_INSYNC_REPLICAS: '2',
      KENEY_KAFKA_RETENTION_MS: '604800000',
      KENEY_KAFKA_MAX_MESSAGE_BYTES: '2097152',
      KENEY_KAFKA_COMPRESSION: 'GZIP',
      KENEY_KAFKA_LINGER_MS: '2',
      KENEY_KAFKA_MAX_BATCH_RECORDS: '300',
      KENEY_KAFKA_MAX_BATCH_BYTES: '1048576',
      KENEY_KAFKA_DELIVERY_TIMEOUT_MS: '60000',
      KENEY_KAFKA_REQUEST_TIMEOUT_MS: '10000',
    });
    expect(options).toMatchObject({
      brokers: ['[::1]:9093'],
      topic: 'chu.changes',
      partitions: 24,
      clientId: 'hub-a',
      replicationFactor: 3,
      topicConfig: { 'min.insync.replicas': '2' },
      retentionMs: 604800000,
      maxMessageBytes: 2097152,
      compression: 'gzip',
      lingerMs: 2,
      maxBatchRecords: 300,
      maxBatchBytes: 1048576,
      deliveryTimeoutMs: 60000,
      requestTimeoutMs: 10000,
    });
  });

  it('passes TLS files and SASL credentials through to the client', () => {
    const dir = mkdtempSync(join(tmpdir(), 'keney-kafka-config-'));
    for (const name of ['ca.pem', 'cert.pem', 'key.pem']) writeFileSync(join(dir, name), `-----${name}-----`);
    writeFileSync(join(dir, 'password'), 's3cret\n');
    const options = kafkaChangeLogOptionsFromEnv({
      KENEY_KAFKA_BROKERS: 'kafka:9094',
      KENEY_KAFKA_TLS_CA_FILE: join(dir, 'ca.pem'),
      KENEY_KAFKA_TLS_CERT_FILE: join(dir, 'cert.pem'),
      KENEY_KAFKA_TLS_KEY_FILE: join(dir, 'key.pem'),
      KENEY_KAFKA_TLS_SERVERNAME: 'kafka.chu.example',
      KENEY_KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KENEY_KAFKA_SASL_USERNAME: 'hub',
      KENEY_KAFKA_SASL_PASSWORD_FILE: join(dir, 'password'),
    });
    expect(options.tls?.ca?.toString()).toBe('-----ca.pem-----');
    expect(options.tls?.cert?.toString()).toBe('-----cert.pem-----');
    expect(options.tls?.key?.toString()).toBe('-----key.pem-----');
    expect(options.tls?.servername).toBe('kafka.chu.example');
    expect(options.sasl).toEqual({ mechanism: 'SCRAM-SHA-512', username: 'hub', password: 's3cret' });

    expect(kafkaChangeLogOptionsFromEnv({ KENEY_KAFKA_BROKERS: 'k:1', KENEY_KAFKA_TLS: 'true' }).tls).toEqual({});
    expect(
      kafkaChangeLogOptionsFromEnv({
        KENEY_KAFKA_BROKERS: 'k:1',
        KENEY_KAFKA_SASL_MECHANISM: 'OAUTHBEARER',
        KENEY_KAFKA_SASL_TOKEN: 'eyJ',
      }).sasl,
    ).toEqual({ mechanism: 'OAUTHBEARER', token: 'eyJ' });
  });

  it('names the wrong setting and what it accepts', () => {
    expect(configError(() => kafkaChangeLogOptionsFromEnv({}))).toMatch(/KENEY_KAFKA_BROKERS is not set/);
    expect(configError(() => kafkaChangeLogOptionsFromEnv({ KENEY_KAFKA_BROKERS: 'kafka' }))).toMatch(
      /"kafka" is not host:port/,
    );
    expect(configError(() => kafkaChangeLogOptionsFromEnv({ KENEY_KAFKA_BROKERS: 'kafka:99999' }))).toMatch(
      /not host:port/,
    );
    const env = { KENEY_KAFKA_BROKERS: 'kafka:9092' };
    expect(configError(() => kafkaChangeLogOptionsFromEnv({ ...env, KENEY_KAFKA_PARTITIONS: 'twelve' }))).toMatch(
      /KENEY_KAFKA_PARTITIONS must be an integer \(got "twelve"\)/,
    );
    expect(configError(() => kafkaChangeLogOptionsFromEnv({ ...env, KENEY_KAFKA_PARTITIONS: '0' }))).toMatch(
      /partitions must be an integer from 1/,
    );
    expect(configError(() => kafkaChangeLogOptionsFromEnv({ ...env, KENEY_KAFKA_TOPIC: 'keney changes' }))).toMatch(
      /not a valid Kafka topic name/,
    );
    expect(configError(() => kafkaChangeLogOptionsFromEnv({ ...env, KENEY_KAFKA_COMPRESSION: 'zstd' }))).toMatch(
      /compression must be one of none, gzip, snappy, lz4/,
    );
    expect(configError(() => kafkaChangeLogOptionsFromEnv({ ...env, KENEY_KAFKA_RETENTION_MS: '0' }))).toMatch(
      /-1 = forever/,
    );
    expect(configError(() => kafkaChangeLogOptionsFromEnv({ ...env, KENEY_KAFKA_TLS: 'maybe' }))).toMatch(
      /true or false/,
    );
    expect(
      configError(() => kafkaChangeLogOptionsFromEnv({ ...env, KENEY_KAFKA_TLS_CA_FILE: '/nonexistent/ca.pem' })),
    ).toMatch(/KENEY_KAFKA_TLS_CA_FILE=\/nonexistent\/ca.pem cannot be read/);
    expect(configError(() => kafkaChangeLogOptionsFromEnv({ ...env, KENEY_KAFKA_SASL_MECHANISM: 'GSSAPI' }))).toMatch(
      /must be one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER/,
    );
    expect(configError(() => kafkaChangeLogOptionsFromEnv({ ...env, KENEY_KAFKA_SASL_MECHANISM: 'PLAIN' }))).toMatch(
      /needs KENEY_KAFKA_SASL_USERNAME and KENEY_KAFKA_SASL_PASSWORD/,
    );
    expect(configError(() => resolveKafkaChangeLogOptions({ brokers: [] }))).toMatch(/at least one Kafka broker/);
    expect(configError(() => resolveKafkaChangeLogOptions({ brokers: ['k:1'], maxBatchRecords: 1.5 }))).toMatch(
      /maxBatchRecords must be an integer/,
    );
  });
});
