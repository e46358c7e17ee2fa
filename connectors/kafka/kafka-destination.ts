// Kafka destination: produces each message (the change set's Bundle as JSON by default, or the raw bytes) to a
// topic, keyed by the message's change set (or message) id, with an idempotent producer and acks=all: sent means
// every in-sync replica has it. Headers carry the channel, message id and control id.
import { Producer } from '@platformatic/kafka';
import type { KafkaDestinationConfig } from '../../engine/channel-config.js';
import { DeliveryError, type DeliveryResult, type DestinationConnector, type OutboundMessage } from '../../engine/connector.js';

export class KafkaDestination implements DestinationConnector {
  readonly type = 'kafka';
  private producer: Producer | undefined;

  constructor(private readonly config: KafkaDestinationConfig) {}

  private client(): Producer {
    this.producer ??= new Producer({
      clientId: `keney-hub-destination-${this.config.name}`,
      bootstrapBrokers: this.config.brokers.split(',').map((b) => b.trim()).filter(Boolean),
      idempotent: true,
      acks: -1,
      timeout: this.config.timeoutMs ?? 30_000,
      retries: 0,
    });
    return this.producer;
  }

  async send(message: OutboundMessage, signal: AbortSignal): Promise<DeliveryResult> {
    const bundle = this.config.content === 'bundle';
    if (bundle && !message.bundle) throw new DeliveryError('This destination sends the change set (content: bundle) but the message has none.', false);
    const value = bundle ? Buffer.from(JSON.stringify(message.bundle)) : message.raw;
    const headers = new Map<Buffer, Buffer>([
      [Buffer.from('keney-channel'), Buffer.from(message.channel)],
      [Buffer.from('keney-message-id'), Buffer.from(message.messageId)],
      ...(message.controlId ? [[Buffer.from('keney-control-id'), Buffer.from(message.controlId)] as [Buffer, Buffer]] : []),
      [Buffer.from('content-type'), Buffer.from(bundle ? 'application/fhir+json' : 'x-application/hl7-v2+er7')],
    ]);
    signal.throwIfAborted();
    const timeoutMs = this.config.timeoutMs ?? 30_000;
    try {
      // The client may keep trying an unreachable broker: the attempt ends at the timeout (or when the worker stops).
      const result = await deadline(
        this.client().send({ messages: [{ topic: this.config.topic, key: Buffer.from(message.changeSetId ?? message.messageId), value, headers }] }),
        timeoutMs,
        signal,
      );
      const at = result.offsets?.[0];
      return { response: at ? `${at.topic}[${at.partition}]@${at.offset}` : 'produced' };
    } catch (error) {
      // The producer's state after a failed send is unknown: start a new one for the next attempt.
      const producer = this.producer;
      this.producer = undefined;
      await Promise.resolve(producer?.close(true)).catch(() => undefined);
      throw new DeliveryError(`Kafka ${this.config.brokers} topic ${this.config.topic}: ${(error as Error).message}`, true);
    }
  }

  async close(): Promise<void> {
    await this.producer?.close().catch(() => undefined);
    this.producer = undefined;
  }
}

function deadline<T>(promise: Promise<T>, ms: number, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => finish(() => reject(new Error(`no acknowledgment from the brokers within ${ms} ms (unreachable, or the topic has no leader)`))), ms);
    const onAbort = () => finish(() => reject(new Error('the destination worker is stopping')));
    signal.addEventListener('abort', onAbort, { once: true });
    function finish(settle: () => void) {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      settle();
    }
    promise.then(
      (value) => finish(() => resolve(value)),
      (error: unknown) => finish(() => reject(error instanceof Error ? error : new Error(String(error)))),
    );
  });
}
