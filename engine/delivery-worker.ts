// One destination's queue, drained in order: the oldest pending delivery is sent first, and a failure is
// retried (exponential backoff) before anything behind it, so the destination receives messages in the order
// they were accepted. After `retry.maxAttempts` failures (or a refusal that retrying cannot fix) the delivery
// goes to the dead letter (status dead, message in error: visible, replayable) and the queue moves on.
// In a cluster only the instance holding the destination's advisory lock drains it.
import type { Logger } from 'pino';
import type { QueuedDestinationConfig, RetryConfig } from './channel-config.js';
import { DeliveryError, type DestinationConnector, type OutboundMessage } from './connector.js';
import type { DestinationLocks } from './destination-locks.js';
import type { MessageStore, QueuedDelivery } from './message-store.js';

export interface DeliveryWorkerEvents {
  delivered?(channel: string, destination: string, delivery: QueuedDelivery): void;
  failed?(
    channel: string,
    destination: string,
    info: { error: string; consecutiveFailures: number; dead: boolean; delivery: QueuedDelivery },
  ): void;
}

export interface DeliveryWorkerDeps {
  messages: MessageStore;
  /** Builds what the connector sends (raw bytes, the change set's Bundle…); undefined when the message is gone (pruned). */
  load(delivery: QueuedDelivery, destination: QueuedDestinationConfig): Promise<OutboundMessage | undefined>;
  locks?: DestinationLocks;
  logger: Logger;
  events?: DeliveryWorkerEvents;
  /** How often an idle worker looks for work queued by another instance (default 1 s). */
  pollIntervalMs?: number;
}

export interface DeliveryWorkerStatus {
  destination: string;
  type: string;
  draining: boolean;
  consecutiveFailures: number;
  lastError: string | null;
  lastErrorAt: string | null;
  lastDeliveredAt: string | null;
  /** When the head of the queue is retried next (backing off). */
  nextAttemptAt: string | null;
}

const HEAD_BATCH = 20;

/** The delay before attempt `attempt + 1`, given `attempt` failures so far: initial × 2^(attempt−1), capped, ±10 %. */
export function backoffDelay(retry: RetryConfig, attempt: number, random: () => number = Math.random): number {
  const base = Math.min(retry.maxDelayMs, retry.initialDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.max(1, Math.round(base * (0.9 + 0.2 * random())));
}

export class DeliveryWorker {
  private stopped = true;
  private loop: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  private abort = new AbortController();
  private consecutiveFailures = 0;
  private lastError: string | null = null;
  private lastErrorAt: Date | null = null;
  private lastDeliveredAt: Date | null = null;
  private nextAttemptAt: Date | null = null;
  private holdsLock = false;
  private readonly interrupters = new Set<() => void>();

  constructor(
    readonly channel: string,
    private destination: QueuedDestinationConfig,
    private connector: DestinationConnector,
    private readonly deps: DeliveryWorkerDeps,
  ) {}

  get name(): string {
    return this.destination.name;
  }

  get config(): QueuedDestinationConfig {
    return this.destination;
  }

  private get lockKey(): string {
    return `${this.channel}/${this.destination.name}`;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.abort = new AbortController();
    this.loop = this.run().catch((error) =>
      this.deps.logger.error(
        { err: error, channel: this.channel, destination: this.name },
        'delivery worker stopped on an unexpected error',
      ),
    );
  }

  /** Stops after the delivery in progress (aborted if it takes longer than `graceMs`); closes nothing. */
  async stop(graceMs = 5000): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.wake();
    for (const interrupt of [...this.interrupters]) interrupt();
    const timer = setTimeout(() => this.abort.abort(new Error('the destination worker is stopping')), graceMs);
    await this.loop;
    clearTimeout(timer);
    if (this.holdsLock) {
      await this.deps.locks?.release(this.lockKey);
      this.holdsLock = false;
    }
  }

  /** Stops and closes the connector (channel removed or hub stopping). */
  async close(): Promise<void> {
    await this.stop();
    await this.connector.close().catch(() => undefined);
  }

  /** Hot reload: new settings (and connector) for the next attempts. */
  replace(destination: QueuedDestinationConfig, connector: DestinationConnector): void {
    const previous = this.connector;
    this.destination = destination;
    this.connector = connector;
    void previous.close().catch(() => undefined);
    this.wake();
  }

  get running(): boolean {
    return !this.stopped;
  }

  /** New deliveries were queued: look now instead of at the next poll. Backoff delays are kept. */
  wake(): void {
    const wake = this.wakeUp;
    this.wakeUp = undefined;
    wake?.();
  }

  status(): DeliveryWorkerStatus {
    return {
      destination: this.destination.name,
      type: this.destination.type,
      draining: !this.stopped && (this.deps.locks ? this.holdsLock : true),
      consecutiveFailures: this.consecutiveFailures,
      lastError: this.lastError,
      lastErrorAt: this.lastErrorAt?.toISOString() ?? null,
      lastDeliveredAt: this.lastDeliveredAt?.toISOString() ?? null,
      nextAttemptAt: this.nextAttemptAt?.toISOString() ?? null,
    };
  }

  private async run(): Promise<void> {
    const poll = this.deps.pollIntervalMs ?? 1000;
    while (!this.stopped) {
      if (this.deps.locks) {
        this.holdsLock = await this.deps.locks.hold(this.lockKey).catch(() => false);
        if (!this.holdsLock) {
          await this.idle(poll * 5);
          continue;
        }
      }
      let head: QueuedDelivery[];
      try {
        head = await this.deps.messages.queueHead(this.channel, this.destination.name, HEAD_BATCH);
      } catch (error) {
        if (this.stopped) return;
        this.deps.logger.warn(
          { err: error, channel: this.channel, destination: this.name },
          'reading the destination queue failed; retrying',
        );
        await this.idle(poll);
        continue;
      }
      if (head.length === 0) {
        await this.idle(poll);
        continue;
      }
      for (const delivery of head) {
        if (this.stopped) return;
        const wait = delivery.nextAttemptAt ? delivery.nextAttemptAt.getTime() - Date.now() : 0;
        if (wait > 0) {
          this.nextAttemptAt = delivery.nextAttemptAt;
          await this.sleep(wait);
          if (this.stopped) return;
        }
        this.nextAttemptAt = null;
        const sent = await this.attempt(delivery);
        if (!sent) break;
      }
    }
  }

  /** One attempt; true when the queue may move on (sent, or dead-lettered). */
  private async attempt(delivery: QueuedDelivery): Promise<boolean> {
    const destination = this.destination;
    let message: OutboundMessage | undefined;
    let outcome: Parameters<MessageStore['recordAttempt']>[1];
    try {
      message = await this.deps.load(delivery, destination);
    } catch (error) {
      this.deps.logger.warn(
        { err: error, channel: this.channel, destination: this.name },
        'could not load a message to deliver; retrying',
      );
      await this.sleep(1000);
      return false;
    }
    if (!message) {
      outcome = { status: 'dead', error: 'The message is no longer in the message store (pruned).' };
    } else {
      try {
        const result = await this.connector.send(message, this.abort.signal);
        outcome = { status: 'sent', ...(result.response !== undefined ? { response: result.response } : {}) };
      } catch (error) {
        const attempts = delivery.attempts + 1;
        const permanent = error instanceof DeliveryError && !error.retryable;
        const text = (error as Error).message;
        const response = error instanceof DeliveryError ? error.response : undefined;
        outcome =
          permanent || attempts >= destination.retry.maxAttempts
            ? {
                status: 'dead',
                error: permanent ? `${text} (not retried: the destination refused it)` : text,
                ...(response ? { response } : {}),
              }
            : {
                status: 'failed',
                error: text,
                retryAt: new Date(Date.now() + backoffDelay(destination.retry, attempts)),
                ...(response ? { response } : {}),
              };
      }
    }
    try {
      await this.deps.messages.recordAttempt(delivery, outcome);
    } catch (error) {
      // Sent but not recorded: it will be sent again (at least once); receivers de-duplicate by control id.
      this.deps.logger.error(
        { err: error, channel: this.channel, destination: this.name },
        'could not record a delivery attempt; it will be attempted again',
      );
      await this.sleep(1000);
      return false;
    }
    if (outcome.status === 'sent') {
      this.consecutiveFailures = 0;
      this.lastDeliveredAt = new Date();
      this.deps.events?.delivered?.(this.channel, this.name, delivery);
      return true;
    }
    this.consecutiveFailures++;
    this.lastError = outcome.error;
    this.lastErrorAt = new Date();
    const dead = outcome.status === 'dead';
    this.deps.events?.failed?.(this.channel, this.name, {
      error: outcome.error,
      consecutiveFailures: this.consecutiveFailures,
      dead,
      delivery,
    });
    if (dead) {
      this.deps.logger.warn(
        {
          channel: this.channel,
          destination: this.name,
          messageId: delivery.messageId,
          attempts: delivery.attempts + 1,
        },
        'delivery moved to the dead letter',
      );
    }
    return dead;
  }

  private idle(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = done;
    });
  }

  /** Sleeps (backoff): a wake does not cut it short, a stop does. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const finish = (): void => {
        clearTimeout(timer);
        this.interrupters.delete(finish);
        resolve();
      };
      const timer = setTimeout(finish, ms);
      this.interrupters.add(finish);
    });
  }
}
