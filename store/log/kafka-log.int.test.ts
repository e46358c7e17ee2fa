// KafkaChangeLog against a real broker: the shared ChangeLog contract, then what is specific to Kafka.
// The shared broker is testServiceConfig.kafkaBrokers (scripts/kafka/start.sh); every topic here is unique to
// this run and deleted at the end. The restart test starts a broker of its own on other ports (never the shared
// one), through the same scripts, and stops it.
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Admin, Producer } from '@platformatic/kafka';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasService, testServiceConfig } from '../../test/services.js';
import type { LogRecord } from '../change-set.js';
import { partitionFor } from '../change-set.js';
import { describeChangeLogContract, sampleChangeSet } from './change-log.contract.js';
import { KafkaChangeLog, KafkaLogError, KafkaLogErrorCode } from './kafka-log.js';

const run = promisify(execFile);
const brokers = testServiceConfig.kafkaBrokers.split(',').map((b) => b.trim());
const runId = `${process.pid}-${randomBytes(3).toString('hex')}`;
const topicFor = (label: string) => `keney.test.${label}.${runId}`;
const repository = join(import.meta.dirname, '..', '..');
const scripts = join(repository, 'scripts', 'kafka');
const brokerJarsFetched = existsSync(join(repository, '.work', 'kafka', 'libs', '.pom.sha256'));

async function expectLogError(promise: Promise<unknown>, code: KafkaLogErrorCode): Promise<KafkaLogError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(KafkaLogError);
  expect((error as KafkaLogError).code).toBe(code);
  return error as KafkaLogError;
}

/** Every record of every partition, from offset 0. */
/** Every record, up to the end offsets the log reports: an empty page before the end is an error, not the end. */
async function readEverything(log: KafkaChangeLog): Promise<LogRecord[]> {
  const all: LogRecord[] = [];
  const ends = await log.endOffsets();
  for (let partition = 0; partition < log.partitions; partition++) {
    for (let offset = 0; offset < ends[partition]!;) {
      const page = await log.read(partition, offset, { maxRecords: 500, waitMs: 2_000 });
      if (page.length === 0)
        throw new Error(`partition ${partition}: nothing at offset ${offset}, end ${ends[partition]}`);
      all.push(...page);
      offset = page[page.length - 1]!.offset + 1;
    }
  }
  return all;
}

describe.skipIf(!hasService('kafka'))('KafkaChangeLog (real broker)', () => {
  const topics = new Set<string>();
  let admin: Admin;

  beforeAll(() => {
    admin = new Admin({ clientId: 'keney-test-admin', bootstrapBrokers: brokers });
  });

  afterAll(async () => {
    if (topics.size > 0) await admin.deleteTopics({ topics: [...topics] }).catch(() => undefined);
    await admin.close();
  });

  function openLog(
    label: string,
    options: Partial<ConstructorParameters<typeof KafkaChangeLog>[0]> = {},
  ): KafkaChangeLog {
    const topic = options.topic ?? topicFor(label);
    topics.add(topic);
    return new KafkaChangeLog({ brokers, partitions: 4, ...options, topic });
  }

  const contractTopic = topicFor('contract');
  describeChangeLogContract('kafka', async () => {
    const log = openLog('contract', { topic: contractTopic });
    return { log, flushes: () => log.stats.flushes };
  });

  describe('topic', () => {
    it('is created with the configured partitions, retention forever and the broker’s clock for timestamps', async () => {
      const log = openLog('created', { partitions: 5 });
      try {
        await log.init();
        const metadata = await admin.metadata({ topics: [log.topic] });
        expect(metadata.topics.get(log.topic)?.partitionsCount).toBe(5);
        const [description] = await admin.describeConfigs({
          resources: [{ resourceType: 2, resourceName: log.topic, configurationKeys: null }],
        });
        const config = Object.fromEntries(description!.configs.map((c) => [c.name, c.value]));
        expect(config['retention.ms']).toBe('-1');
        expect(config['retention.bytes']).toBe('-1');
        expect(config['message.timestamp.type']).toBe('LogAppendTime');
        expect(config['cleanup.policy']).toBe('delete');
        expect(config['max.message.bytes']).toBe(String(16 * 1024 * 1024));
        expect(log.topicDescription).toMatchObject({ partitions: 5, retentionMs: -1, created: true });
      } finally {
        await log.close();
      }
    });

    it('takes its retention and extra settings from the configuration', async () => {
      const week = 7 * 24 * 3600 * 1000;
      const log = openLog('retention', { retentionMs: week, topicConfig: { 'segment.ms': '3600000' } });
      try {
        await log.init();
        const [description] = await admin.describeConfigs({
          resources: [{ resourceType: 2, resourceName: log.topic, configurationKeys: ['retention.ms', 'segment.ms'] }],
        });
        const config = Object.fromEntries(description!.configs.map((c) => [c.name, c.value]));
        expect(config).toMatchObject({ 'retention.ms': String(week), 'segment.ms': '3600000' });
        // A second hub instance finds the topic and accepts it.
        const again = new KafkaChangeLog({ brokers, topic: log.topic, partitions: 4, retentionMs: week });
        await again.init();
        expect(again.topicDescription).toMatchObject({ created: false, retentionMs: week });
        await again.close();
      } finally {
        await log.close();
      }
    });

    it('refuses an existing topic whose partition count differs, naming both counts', async () => {
      const first = openLog('mismatch', { partitions: 3 });
      await first.init();
      await first.close();
      const second = new KafkaChangeLog({ brokers, topic: first.topic, partitions: 6 });
      const error = await expectLogError(second.init(), KafkaLogErrorCode.PartitionMismatch);
      expect(error.message).toContain('3 partitions');
      expect(error.message).toContain('KENEY_KAFKA_PARTITIONS=3');
      await expectLogError(second.append([sampleChangeSet('p')]), KafkaLogErrorCode.PartitionMismatch);
      await second.close();
    });

    it('lets several hub instances create the topic at the same moment', async () => {
      const topic = topicFor('race');
      const logs = Array.from({ length: 3 }, () => openLog('race', { topic, partitions: 6 }));
      try {
        await Promise.all(logs.map((log) => log.init()));
        expect(logs.filter((log) => log.topicDescription?.created)).toHaveLength(1);
        expect(logs.map((log) => log.topicDescription?.partitions)).toEqual([6, 6, 6]);
      } finally {
        await Promise.all(logs.map((log) => log.close()));
      }
    });

    it('refuses an existing topic that keeps producer timestamps (CreateTime)', async () => {
      const topic = topicFor('create-time');
      topics.add(topic);
      await admin.createTopics({
        topics: [topic],
        partitions: 4,
        replicas: 1,
        configs: [{ name: 'message.timestamp.type', value: 'CreateTime' }],
      });
      const log = new KafkaChangeLog({ brokers, topic, partitions: 4 });
      const error = await expectLogError(log.init(), KafkaLogErrorCode.TopicMisconfigured);
      expect(error.message).toContain('message.timestamp.type=LogAppendTime');
      await log.close();
    });
  });

  describe('append', () => {
    let log: KafkaChangeLog;
    beforeAll(async () => {
      log = openLog('append', { maxMessageBytes: 64 * 1024 });
      await log.init();
    });
    afterAll(() => log.close());

    it('sends change sets submitted together in one produce request, bounded by maxBatchRecords and size', async () => {
      const roomy = openLog('group');
      try {
        await roomy.init();
        await Promise.all(Array.from({ length: 200 }, (_, i) => roomy.append([sampleChangeSet(`group-${i % 13}`)])));
        expect(roomy.stats.flushes).toBe(1);
      } finally {
        await roomy.close();
      }

      // This log's topic takes 64 KiB per partition and request: 200 change sets of ~2.5 KB need several.
      const before = log.stats.flushes;
      const sizes = await Promise.all(
        Array.from({ length: 200 }, (_, i) => {
          const changeSet = sampleChangeSet(`sized-${i % 13}`);
          return log.append([changeSet]).then(() => Buffer.byteLength(JSON.stringify(changeSet)));
        }),
      );
      const total = sizes.reduce((a, b) => a + b, 0);
      expect(log.stats.flushes - before).toBeGreaterThanOrEqual(Math.ceil(total / (4 * 64 * 1024)));

      const bounded = openLog('bounded', { maxBatchRecords: 50 });
      try {
        await bounded.init();
        const results = await Promise.all(
          Array.from({ length: 200 }, (_, i) => bounded.append([sampleChangeSet(`b-${i % 13}`)])),
        );
        expect(bounded.stats.flushes).toBe(4);
        expect(new Set(results.map(([r]) => `${r!.partition}:${r!.offset}`)).size).toBe(200);
      } finally {
        await bounded.close();
      }
    });

    it('refuses a change set larger than the topic accepts, precisely, and writes nothing of that call', async () => {
      const key = `too-large-${randomUUID()}`;
      const partition = partitionFor(key, log.partitions);
      const before = await log.endOffsets();
      const huge = sampleChangeSet(key, { attachmentBytes: 100 * 1024 });
      const neighbours = Array.from({ length: 5 }, () => log.append([sampleChangeSet(key)]));
      const error = await expectLogError(
        log.append([sampleChangeSet(key), huge, sampleChangeSet(key)]),
        KafkaLogErrorCode.RecordTooLarge,
      );
      expect(error.index).toBe(1);
      expect(error.message).toContain(huge.id);
      expect(error.message).toContain(`at most ${64 * 1024}`);
      // Change sets appended at the same moment by other callers are not affected.
      const written = await Promise.all(neighbours);
      expect(written).toHaveLength(5);
      expect((await log.endOffsets())[partition]).toBe(before[partition]! + 5);
    });

    it('turns the broker’s own size refusal into the same precise error', async () => {
      const small = openLog('broker-limit');
      try {
        await small.init();
        await admin.incrementalAlterConfigs({
          resources: [
            {
              resourceType: 2,
              resourceName: small.topic,
              configs: [{ name: 'max.message.bytes', configOperation: 0, value: '4096' }],
            },
          ],
        });
        // The hub still believes the topic takes 16 MiB; the broker now refuses more than 4 KiB.
        let error: unknown;
        for (let attempt = 0; attempt < 100 && !error; attempt++) {
          error = await small.append([sampleChangeSet(`limit-${attempt}`, { attachmentBytes: 8 * 1024 })]).then(
            () => undefined,
            (e: unknown) => e,
          );
          if (!error) await new Promise((resolve) => setTimeout(resolve, 100));
        }
        expect(error).toBeInstanceOf(KafkaLogError);
        expect((error as KafkaLogError).code).toBe(KafkaLogErrorCode.RecordTooLarge);
        expect((error as KafkaLogError).kafkaError).toBe('MESSAGE_TOO_LARGE');
        // The producer goes on: a change set that fits is still appended.
        await expect(small.append([sampleChangeSet('fits')])).resolves.toHaveLength(1);
      } finally {
        await small.close();
      }
    });

    it('refuses malformed change sets before writing anything', async () => {
      const before = await log.endOffsets();
      const good = sampleChangeSet('good');
      const cases: [unknown, RegExp][] = [
        [{ ...good, id: 'not-a-uuid' }, /id must be a UUID/],
        [{ ...good, partitionKey: '' }, /partitionKey must be a non-empty string/],
        [{ ...good, partitionKey: 'x\uD800' }, /unpaired UTF-16 surrogate/],
        [{ ...good, partitionKey: 'k'.repeat(2000) }, /at most 1024/],
        [{ ...good, origin: { kind: 'telepathy' } }, /origin.kind must be one of/],
        [
          { ...good, bundle: { resourceType: 'Bundle', type: 'collection' } },
          /bundle.type must be "transaction" or "batch"/,
        ],
        [{ ...good, bundle: { resourceType: 'Patient' } }, /bundle.resourceType must be "Bundle"/],
        [{ ...good, bundle: { resourceType: 'Bundle', type: 'batch', entry: {} } }, /bundle.entry must be an array/],
        [{ ...good, bundle: { resourceType: 'Bundle', type: 'batch', total: 10n } }, /cannot be serialized as JSON/],
        [null, /must be an object/],
      ];
      for (const [changeSet, message] of cases) {
        const error = await expectLogError(log.append([good, changeSet as never]), KafkaLogErrorCode.InvalidChangeSet);
        expect(error.message).toMatch(message);
        expect(error.index).toBe(1);
      }
      await expectLogError(log.append('nope' as never), KafkaLogErrorCode.InvalidArgument);
      expect(await log.endOffsets()).toEqual(before);
    });

    it('says clearly when Kafka cannot be reached', async () => {
      const nowhere = new KafkaChangeLog({
        brokers: ['127.0.0.1:1'],
        topic: topicFor('nowhere'),
        deliveryTimeoutMs: 1000,
        connectTimeoutMs: 500,
      });
      const error = await expectLogError(nowhere.append([sampleChangeSet('k')]), KafkaLogErrorCode.Unavailable);
      expect(error.message).toContain('127.0.0.1:1');
      expect(error.message).toMatch(/brokers are up/);
      await nowhere.close();
    });
  });

  describe('read', () => {
    let log: KafkaChangeLog;
    beforeAll(async () => {
      log = openLog('read');
      await log.init();
    });
    afterAll(() => log.close());

    it('refuses a partition or an offset that does not exist, saying what does', async () => {
      await expectLogError(log.read(4, 0), KafkaLogErrorCode.InvalidArgument);
      await expectLogError(log.read(-1, 0), KafkaLogErrorCode.InvalidArgument);
      await expectLogError(log.read(0, -5), KafkaLogErrorCode.InvalidArgument);
      await expectLogError(log.read(0, 0, { maxRecords: 0 }), KafkaLogErrorCode.InvalidArgument);
      const [result] = await log.append([sampleChangeSet('beyond')]);
      const error = await expectLogError(
        log.read(result!.partition, result!.offset + 1000),
        KafkaLogErrorCode.OffsetOutOfRange,
      );
      expect(error.message).toContain(`holds offsets 0 to ${result!.offset}`);
      expect(error.message).toContain('Rebuild the projection');
    });

    it('says so when the records asked for are no longer in the log', async () => {
      const key = `deleted-${randomUUID()}`;
      const results = await log.append([sampleChangeSet(key), sampleChangeSet(key), sampleChangeSet(key)]);
      const { partition } = results[0]!;
      await admin.deleteRecords({
        topics: [{ name: log.topic, partitions: [{ partition, offset: BigInt(results[2]!.offset) }] }],
      });
      const error = await expectLogError(log.read(partition, results[0]!.offset), KafkaLogErrorCode.OffsetOutOfRange);
      expect(error.message).toContain(`Records before offset ${results[2]!.offset} were deleted`);
      expect(error.message).toContain('retention.ms=-1');
      const [kept] = await log.read(partition, results[2]!.offset);
      expect(kept!.offset).toBe(results[2]!.offset);
    });

    it('reports a record it cannot read with its position, after handing out the good ones before it', async () => {
      const key = `foreign-${randomUUID()}`;
      const partition = partitionFor(key, log.partitions);
      const [good] = await log.append([sampleChangeSet(key)]);
      const producer = new Producer({ clientId: 'keney-test-foreign', bootstrapBrokers: brokers });
      try {
        await producer.send({
          messages: [{ topic: log.topic, partition, key: Buffer.from(key), value: Buffer.from('{"hello":"world"}') }],
        });
        await producer.send({
          messages: [
            {
              topic: log.topic,
              partition,
              key: Buffer.from(key),
              value: Buffer.from('{}'),
              headers: new Map([[Buffer.from('keney-format'), Buffer.from('7')]]),
            },
          ],
        });
      } finally {
        await producer.close();
      }
      const records = await log.read(partition, good!.offset);
      expect(records.map((r) => r.offset)).toEqual([good!.offset]);
      const foreign = await expectLogError(log.read(partition, good!.offset + 1), KafkaLogErrorCode.RecordUnreadable);
      expect(foreign.offset).toBe(good!.offset + 1);
      expect(foreign.message).toContain('not written by Keney Hub');
      const future = await expectLogError(log.read(partition, good!.offset + 2), KafkaLogErrorCode.RecordUnreadable);
      expect(future.message).toMatch(/format "7".*Upgrade the hub/);
    });

    it('serves concurrent long polls on several partitions independently', async () => {
      const ends = await log.endOffsets();
      const waiting = [0, 1, 2, 3].map((p) => log.read(p, ends[p]!, { waitMs: 120_000 }));
      // One key per partition, appended one after the other: each waiting read gets its own.
      const keys = new Map<number, string>();
      for (let i = 0; keys.size < 4; i++) keys.set(partitionFor(`poll-${i}`, 4), `poll-${i}`);
      const appended = new Map<number, string>();
      for (const p of [3, 2, 1, 0]) {
        const changeSet = sampleChangeSet(keys.get(p)!);
        await log.append([changeSet]);
        appended.set(p, changeSet.id);
      }
      const results = await Promise.all(waiting);
      results.forEach((records, p) => expect(records[0]!.changeSet.id).toBe(appended.get(p)));
    });

    it('ends waiting reads when the log closes', async () => {
      const closing = openLog('read-close');
      await closing.init();
      const waiting = closing.read(0, 0, { waitMs: 120_000 });
      await new Promise((resolve) => setTimeout(resolve, 50));
      await closing.close();
      expect(await waiting).toEqual([]);
      await expectLogError(closing.read(0, 0), KafkaLogErrorCode.Closed);
    });
  });
});

// ------------------------------------------------------------------------------------------------------------
// A broker of this test's own, stopped and restarted under load (safe: other ports and data than the shared one).

async function freePortPair(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const { port: p } = server.address() as { port: number };
        server.close(() => resolve(p));
      });
    });
    if (port >= 65535) continue;
    const nextFree = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(port + 1, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (nextFree) return port;
  }
}

describe.skipIf(!hasService('kafka') || !brokerJarsFetched)('KafkaChangeLog across a broker restart', () => {
  let port: number;
  let env: NodeJS.ProcessEnv;
  const script = (name: string, extra: NodeJS.ProcessEnv = {}) =>
    run('bash', [join(scripts, name)], { env: { ...env, ...extra }, timeout: 180_000 });

  beforeAll(async () => {
    port = await freePortPair();
    env = { ...process.env, KENEY_KAFKA_PORT: String(port), KENEY_KAFKA_CONTROLLER_PORT: String(port + 1) };
    await script('start.sh', { KENEY_KAFKA_FRESH: '1' });
  }, 180_000);

  afterAll(async () => {
    await script('stop.sh', { KENEY_KAFKA_STOP_SIGNAL: 'KILL', KENEY_KAFKA_PURGE: '1' });
  }, 120_000);

  for (const stop of ['TERM', 'KILL'] as const) {
    it(`loses and duplicates nothing when the broker is stopped (SIG${stop}) and restarted mid-stream`, async () => {
      const topic = `keney.test.restart-${stop.toLowerCase()}.${runId}`;
      const broker = [`127.0.0.1:${port}`];
      // Rides through the outage: its appends wait for the broker.
      const patient = new KafkaChangeLog({ brokers: broker, topic, partitions: 3, deliveryTimeoutMs: 120_000 });
      // Gives up quickly: its appends fail during the outage, with a clear error, and work again afterwards.
      const hasty = new KafkaChangeLog({ brokers: broker, topic, partitions: 3, deliveryTimeoutMs: 500 });
      await patient.init();
      await hasty.init();

      const acknowledged = new Map<string, { partition: number; offset: number }>();
      const attempted = new Set<string>();
      const failures: unknown[] = [];
      let stopWriting = false;
      const writer = async (log: KafkaChangeLog, name: string) => {
        for (let i = 0; !stopWriting; i++) {
          const changeSet = sampleChangeSet(`${name}-${i % 5}`);
          attempted.add(changeSet.id);
          try {
            const [result] = await log.append([changeSet]);
            acknowledged.set(changeSet.id, { partition: result!.partition, offset: result!.offset });
          } catch (error) {
            failures.push(error);
            await new Promise((resolve) => setTimeout(resolve, 50));
          }
        }
      };
      const until = async (condition: () => boolean) => {
        while (!condition()) await new Promise((resolve) => setTimeout(resolve, 20));
      };
      // A projector-like reader tails partition 0 throughout, long-polling, and carries on after errors.
      const tail: LogRecord[] = [];
      const readErrors: unknown[] = [];
      let stopReading = false;
      const tailer = (async () => {
        for (let offset = 0; !stopReading;) {
          try {
            const page = await patient.read(0, offset, { waitMs: 500, maxRecords: 50 });
            tail.push(...page);
            if (page.length > 0) offset = page[page.length - 1]!.offset + 1;
          } catch (error) {
            readErrors.push(error);
            await new Promise((resolve) => setTimeout(resolve, 100));
          }
        }
      })();
      const writers = [writer(patient, 'a'), writer(patient, 'b'), writer(hasty, 'c')];

      await until(() => acknowledged.size >= 60);
      await script('stop.sh', { KENEY_KAFKA_STOP_SIGNAL: stop });
      // Keep the broker down until the hasty writer has seen its appends fail.
      await until(() => failures.length >= 1);
      const acknowledgedBeforeRestart = acknowledged.size;
      await script('start.sh');
      await until(() => acknowledged.size >= acknowledgedBeforeRestart + 60);
      stopWriting = true;
      await Promise.all(writers);
      // The reader catches up with everything written, across the restart, then stops.
      const end = (await patient.endOffsets())[0]!;
      await until(() => (tail.at(-1)?.offset ?? -1) >= end - 1);
      stopReading = true;
      await tailer;

      for (const failure of failures) {
        expect(failure).toBeInstanceOf(KafkaLogError);
        expect((failure as KafkaLogError).code).toBe(KafkaLogErrorCode.Unavailable);
        expect((failure as KafkaLogError).message).toContain(`127.0.0.1:${port}`);
      }

      const reader = new KafkaChangeLog({ brokers: broker, topic, partitions: 3 });
      const records = await readEverything(reader);
      await Promise.all([patient.close(), hasty.close(), reader.close()]);

      // The tailing reader saw all of partition 0, in order, without gaps or repeats, across the restart.
      for (const error of readErrors) expect((error as KafkaLogError).code).toBe(KafkaLogErrorCode.Unavailable);
      const partition0 = records.filter((r) => r.partition === 0);
      expect(tail.map((r) => `${r.offset}:${r.changeSet.id}`)).toEqual(
        partition0.map((r) => `${r.offset}:${r.changeSet.id}`),
      );

      const seen = new Map<string, number>();
      for (const record of records) seen.set(record.changeSet.id, (seen.get(record.changeSet.id) ?? 0) + 1);
      // Nothing twice, nothing that was never sent.
      expect([...seen.values()].filter((count) => count > 1)).toEqual([]);
      for (const id of seen.keys()) expect(attempted.has(id)).toBe(true);
      // Every acknowledged append is there, where append() said.
      const position = new Map(records.map((r) => [r.changeSet.id, { partition: r.partition, offset: r.offset }]));
      const missing = [...acknowledged.keys()].filter((id) => !position.has(id));
      expect(missing).toEqual([]);
      for (const [id, at] of acknowledged) expect(position.get(id)).toEqual(at);
    }, 240_000);
  }
});
