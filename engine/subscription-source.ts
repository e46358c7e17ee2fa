// The source of outbound channels: it follows the change log like the projector does (its own position per
// partition, kept in engine_subscription_cursors), waits for each change set to be applied, and for every
// resource of the subscribed type it wrote — and that matches the criteria — runs the channel's encoder and
// hands the encoded message to the channel (filters, destinations with their queues, ACK checks). The
// duplicate key is the change set + the resource, so a crash between encoding and moving the position on
// sends nothing twice. A new channel starts at the end of the log (it does not resend history).
import { createHash } from 'node:crypto';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import type { Logger } from 'pino';
import type { Hl7Message } from '../adapters/hl7v2/index.js';
import type { CanonicalStore } from '../store/canonical-store.js';
import type { LogRecord } from '../store/change-set.js';
import type { ChangeLog } from '../store/log/change-log.js';
import type { ChangeSetOutcome } from '../store/projection/apply.js';
import type { Projector } from '../store/projection/projector.js';
import { parseSearch } from '../store/search/search-query.js';
import type { ChannelConfig, SubscriptionSourceConfig } from './channel-config.js';
import type { InboundChannel, SourceConnector, SourceStatus } from './connector.js';
import type { DestinationLocks } from './destination-locks.js';
import { messageError, MessageErrorCode } from './errors.js';
import type { MapperRegistry } from './mapper-registry.js';
import { Stage, type MessageStore } from './message-store.js';

export interface SubscriptionDeps {
  log: ChangeLog;
  store: CanonicalStore;
  projector?: Projector | undefined;
  messages: MessageStore;
  mappers: MapperRegistry;
  locks?: DestinationLocks | undefined;
  logger: Logger;
}

export class SubscriptionSource implements SourceConnector {
  readonly type = 'subscription';
  private abort = new AbortController();
  private loops: Promise<void>[] = [];
  private channel: InboundChannel | undefined;
  private encoded = 0;
  private lastError: string | undefined;
  private readonly positions = new Map<number, number>();

  constructor(
    private readonly source: SubscriptionSourceConfig,
    private readonly config: ChannelConfig,
    private readonly deps: SubscriptionDeps,
  ) {}

  async start(channel: InboundChannel): Promise<void> {
    if (!this.config.encoder || !this.deps.mappers.encoder?.(this.config.encoder)) {
      throw new Error(`The encoder "${this.config.encoder ?? ''}" is not installed.`);
    }
    this.channel = channel;
    this.abort = new AbortController();
    const ends = await this.deps.log.endOffsets();
    for (let partition = 0; partition < this.deps.log.partitions; partition++) {
      if ((await this.deps.messages.cursor(this.config.id, partition)) === undefined) {
        await this.deps.messages.saveCursor(this.config.id, partition, ends[partition] ?? 0);
      }
      this.loops.push(this.follow(partition, this.abort.signal));
    }
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await Promise.allSettled(this.loops);
    this.loops = [];
    for (let partition = 0; partition < this.deps.log.partitions; partition++)
      await this.deps.locks?.release(this.lockKey(partition));
  }

  status(): SourceStatus {
    return {
      type: 'subscription',
      endpoint: `fhir:${this.source.resourceType}${this.source.criteria ? `?${this.source.criteria}` : ''}`,
      listening: this.loops.length > 0 && !this.abort.signal.aborted,
      detail: {
        encoded: this.encoded,
        positions: Object.fromEntries(this.positions),
        ...(this.lastError ? { lastError: this.lastError } : {}),
      },
    };
  }

  private lockKey(partition: number): string {
    return `subscription/${this.config.id}/${partition}`;
  }

  private async follow(partition: number, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        if (this.deps.locks && !(await this.deps.locks.hold(this.lockKey(partition)))) {
          await sleep(5000, signal);
          continue;
        }
        const offset = (await this.deps.messages.cursor(this.config.id, partition)) ?? 0;
        this.positions.set(partition, offset);
        const records = await this.deps.log.read(partition, offset, { maxRecords: 50, waitMs: 1000, signal });
        for (const record of records) {
          if (signal.aborted) return;
          const outcome = await this.applied(record, signal);
          if (!outcome) return;
          if (outcome.status === 'applied') await this.emit(record, outcome);
          await this.deps.messages.saveCursor(this.config.id, partition, record.offset + 1);
          this.positions.set(partition, record.offset + 1);
        }
      } catch (error) {
        if (signal.aborted) return;
        this.lastError = (error as Error).message;
        this.deps.logger.warn({ err: error, partition }, 'the subscription could not follow the change log; retrying');
        await sleep(2000, signal);
      }
    }
  }

  /** Waits until the projector has applied the record (its outcome is the resource ids written). */
  private async applied(record: LogRecord, signal: AbortSignal): Promise<ChangeSetOutcome | undefined> {
    for (let delay = 50; !signal.aborted; delay = Math.min(delay * 2, 2000)) {
      const [outcome] = await this.deps.store.outcomes.fetch([record.changeSet.id]);
      if (outcome) return outcome;
      await sleep(delay, signal);
    }
    return undefined;
  }

  private async emit(record: LogRecord, outcome: ChangeSetOutcome): Promise<void> {
    const channel = this.channel!;
    const response = outcome.response as Bundle;
    const targets = new Set<string>();
    for (const entry of response.entry ?? []) {
      const location = entry.response?.location;
      if (!location) continue;
      const [type, id] = location.split('/');
      if (type === this.source.resourceType && id) targets.add(`${type}/${id}`);
    }
    for (const target of targets) {
      const [type, id] = target.split('/') as [string, string];
      if (this.source.criteria && !(await this.matches(type, id, this.source.criteria))) continue;
      let resource: Resource;
      try {
        resource = JSON.parse((await this.deps.store.read(type, id)).content) as Resource;
      } catch {
        continue; // deleted since
      }
      const sourceName = `subscription ${record.changeSet.id} ${target}`;
      const dedupKey = createHash('sha256')
        .update(`${this.config.id}\x1f${record.changeSet.id}\x1f${target}`)
        .digest()
        .subarray(0, 16);
      const encoder = this.deps.mappers.encoder!(this.config.encoder!)!;
      let result;
      try {
        // Encoders read nothing: they get the resource first, then what it references (patient, encounter, requester…).
        const bundle = await this.withReferences(resource);
        result = await encoder.encode(bundle, {
          channelId: this.config.id,
          changeSetId: record.changeSet.id,
          at: record.appendedAt,
        });
      } catch (error) {
        result = {
          issues: [
            { severity: 'error' as const, code: MessageErrorCode.EncoderFailed, message: (error as Error).message },
          ],
        };
      }
      const errors = result.issues.filter((i) => i.severity === 'error');
      if (!result.message || errors.length > 0) {
        const first = errors[0];
        const changeSet = record.changeSet.id;
        await channel.receiveFailure(
          Buffer.from(JSON.stringify(resource)),
          { source: sourceName, dedupKey },
          {
            stage: Stage.Encode,
            severity: 'error',
            ...(!first
              ? messageError(MessageErrorCode.EncoderNoMessage, { target, changeSet })
              : first.code === MessageErrorCode.EncoderFailed
                ? messageError(MessageErrorCode.EncoderFailed, { detail: first.message, target, changeSet })
                : { code: first.code, message: `${first.message} (${target}, change set ${changeSet})` }),
          },
        );
        continue;
      }
      const raw = toBytes(result.message);
      await channel.receive(raw, { source: sourceName, dedupKey });
      this.encoded++;
    }
  }

  /** A collection Bundle: the resource, then the resources it references (one level, literal references, at most 50). */
  private async withReferences(resource: Resource): Promise<Bundle> {
    const references = new Set<string>();
    const visit = (node: unknown): void => {
      if (!node || typeof node !== 'object' || references.size >= 50) return;
      if (Array.isArray(node)) return node.forEach(visit);
      const reference = (node as { reference?: unknown }).reference;
      if (typeof reference === 'string' && /^[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64}$/.test(reference))
        references.add(reference);
      for (const value of Object.values(node)) visit(value);
    };
    visit(resource);
    const entry: NonNullable<Bundle['entry']> = [{ fullUrl: `${resource.resourceType}/${resource.id}`, resource }];
    for (const reference of references) {
      const [type, id] = reference.split('/') as [string, string];
      try {
        entry.push({
          fullUrl: reference,
          resource: JSON.parse((await this.deps.store.read(type, id)).content) as Resource,
        });
      } catch {
        // gone or never there: the encoder says what it misses
      }
    }
    return { resourceType: 'Bundle', type: 'collection', entry };
  }

  private async matches(type: string, id: string, criteria: string): Promise<boolean> {
    const params = new URLSearchParams(criteria);
    params.set('_id', id);
    const result = await this.deps.store.search(parseSearch(type, params, { strict: true, defaultCount: 1 }));
    return result.matches.length > 0;
  }
}

function toBytes(message: Hl7Message | Buffer | string): Buffer {
  if (Buffer.isBuffer(message)) return message;
  if (typeof message === 'string') return Buffer.from(message, 'utf8');
  return message.toBuffer();
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
