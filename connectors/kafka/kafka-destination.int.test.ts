// The Kafka destination against the real broker: each accepted message's change set lands on the topic (key =
// change set id, headers = channel and message ids); an unreachable broker is retried, then dead-lettered.
import { randomBytes } from 'node:crypto';
import type { Bundle } from '@medplum/fhirtypes';
import { Admin, Consumer } from '@platformatic/kafka';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MllpClient } from '../../mllp/index.js';
import { freePort } from '../../mllp/test-support.js';
import { hasService, testServiceConfig } from '../../test/services.js';
import { eventually, openChannelHub, oru, readAckText, type ChannelTestHub } from '../../engine/test-support.js';

describe.skipIf(!hasService('kafka'))('Kafka destination (real broker)', () => {
  const topic = `keney.test.destination.${randomBytes(6).toString('hex')}`;
  let hub: ChannelTestHub;
  let deadBroker: number;

  beforeAll(async () => {
    deadBroker = await freePort();
    const admin = new Admin({ clientId: 'keney-test-admin', bootstrapBrokers: [testServiceConfig.kafkaBrokers] });
    await admin.createTopics({ topics: [topic], partitions: 1, replicas: 1 });
    await admin.close();
    hub = await openChannelHub('embedded', {
      events: `source:
  type: mllp
  host: 127.0.0.1
  port: 0
mapping: test/patient
destinations:
  - type: store
  - type: kafka
    name: bus
    brokers: ${testServiceConfig.kafkaBrokers}
    topic: ${topic}
`,
      nowhere: `source:
  type: mllp
  host: 127.0.0.1
  port: 0
mapping: test/patient
destinations:
  - type: kafka
    name: bus
    brokers: 127.0.0.1:${deadBroker}
    topic: ${topic}
    timeoutMs: 1000
    retry: { maxAttempts: 2, initialDelayMs: 20, maxDelayMs: 50 }
`,
    });
  });
  afterAll(async () => hub?.close());

  const send = async (channel: string, controlId: string) => {
    const client = new MllpClient({ host: '127.0.0.1', port: hub.channels.engine!.listenerPort(channel)! });
    try {
      expect(readAckText(await client.send(oru(controlId, `P-${controlId}`))).code).toBe('AA');
    } finally {
      await client.close();
    }
  };

  it('produces the change set of each accepted message, keyed and labelled', async () => {
    await send('events', 'KAFKA-1');
    await send('events', 'KAFKA-2');
    const sent = await eventually(async () => {
      const page = await hub.channels.messages!.search({ channel: 'events', ascending: true });
      return page.messages.length === 2 && page.messages.every((m) => m.status === 'sent') ? page.messages : undefined;
    }, 'both delivered to Kafka', 60_000);
    const detail = await hub.channels.messages!.get(sent[0]!.id);
    expect(detail.deliveries[0]!.response).toMatch(new RegExp(`^${topic.replace(/\./g, '\\.')}\\[0\\]@\\d+$`));

    const consumer = new Consumer({ groupId: `keney-test-${randomBytes(4).toString('hex')}`, clientId: 'keney-test', bootstrapBrokers: [testServiceConfig.kafkaBrokers] });
    try {
      const stream = await consumer.consume({ topics: [topic], mode: 'earliest', autocommit: false });
      const records: { key: string; value: Bundle; headers: Record<string, string> }[] = [];
      for await (const message of stream) {
        const headers: Record<string, string> = {};
        for (const [k, v] of message.headers) headers[Buffer.from(k).toString()] = Buffer.from(v).toString();
        records.push({ key: Buffer.from(message.key).toString(), value: JSON.parse(Buffer.from(message.value).toString()) as Bundle, headers });
        if (records.length === 2) break;
      }
      await stream.close();
      expect(records.map((r) => r.headers['keney-control-id'])).toEqual(['KAFKA-1', 'KAFKA-2']);
      expect(records[0]!.key).toBe(detail.changeSetId);
      expect(records[0]!.headers).toMatchObject({ 'keney-channel': 'events', 'keney-message-id': sent[0]!.id, 'content-type': 'application/fhir+json' });
      expect(records[0]!.value.type).toBe('transaction');
    } finally {
      await consumer.close(true);
    }
  }, 120_000);

  it('retries an unreachable broker, then moves the message to the dead letter', async () => {
    await send('nowhere', 'KAFKA-DOWN');
    const dead = await eventually(async () => {
      const [m] = (await hub.channels.messages!.search({ channel: 'nowhere' })).messages;
      return m?.status === 'error' ? hub.channels.messages!.get(m.id) : undefined;
    }, 'the dead letter', 60_000);
    expect(dead.deliveries[0]).toMatchObject({ status: 'dead', attempts: 2 });
    expect(dead.deliveries[0]!.lastError).toContain(`127.0.0.1:${deadBroker}`);
  }, 120_000);
});
