// One channel's processing of one message, as a readable list of stages:
//
//   persist raw (message store, group commit) → [commit ACK] → decode → filter → map → quality
//   → change set appended to the log (durable) → status + deliveries recorded (durable) → application ACK
//
// The same stages serve reprocessing after a crash, replay and edit-then-replay, and (without any storage)
// `keney channel test`. The change set id is derived from the message (and the replay number), so a message
// processed twice after a crash is applied once.
import { createHash } from 'node:crypto';
import type { Bundle } from '@medplum/fhirtypes';
import type { Logger } from 'pino';
import type { Hl7Error, Hl7Message } from '../adapters/hl7v2/index.js';
import type { MappingIssue } from '../mappings/mapper.js';
import type { CanonicalStore } from '../store/canonical-store.js';
import { OriginKind, type ChangeOrigin } from '../store/change-set.js';
import { hasStoreDestination, queuedDestinations, type ChannelConfig } from './channel-config.js';
import type { InboundChannel, InboundOutcome, ReceiveHooks, ReceiveMeta } from './connector.js';
import { messageError, MessageErrorCode } from './errors.js';
import { applyFilters, decodeHl7, decodeIssue, dedupKey, type AckOutcome, type DecodeResult } from './hl7v2-format.js';
import type { MapperRegistry } from './mapper-registry.js';
import { changeSetIdFor } from './message-id.js';
import {
  MessageStatus,
  Stage,
  type MessageHeaderFacts,
  type MessageIssue,
  type MessageOutcome,
  type MessageStore,
  type StoredMessageState,
} from './message-store.js';

export interface PipelineEvents {
  /** A message reached a final status (or was answered as a duplicate). */
  processed?(channel: string, outcome: InboundOutcome): void;
  /** Deliveries were queued for these destinations (wake their workers). */
  queued?(channel: string, destinations: string[]): void;
  /** The change set could not be made durable (log down): the message waits for recovery. */
  storeFailed?(channel: string, error: Error): void;
}

export interface PipelineDeps {
  messages: MessageStore;
  /** The canonical store (absent in a dry run). */
  store?: CanonicalStore;
  mappers: MapperRegistry;
  logger: Logger;
  instanceId?: string;
  events?: PipelineEvents;
}

/** What a message becomes once decoded, filtered, mapped and checked — before anything durable. */
export type Evaluation =
  | { kind: 'rejected'; error: Hl7Error; issues: MessageIssue[] }
  | { kind: 'filtered'; decoded: Hl7Message; reason: string }
  | { kind: 'failed'; decoded: Hl7Message; issues: MessageIssue[]; bundle?: Bundle }
  | { kind: 'mapped'; decoded: Hl7Message; issues: MessageIssue[]; bundle?: Bundle; partitionKey?: string };

interface ProcessInput {
  id: string;
  receivedAt: Date;
  rawSha256: string;
  header?: MessageHeaderFacts;
  dedupKey?: Buffer;
  decoded: DecodeResult;
  revision: number;
  reason?: string;
  /** Replay to the store only (no queued destinations). */
  storeOnly?: boolean;
  /** Generation of each destination's delivery (replays: one more than the last). */
  generations?: Map<string, number>;
}

const DEFAULT_PROCESSING_TIMEOUT_MS = 30_000;

export class ChannelPipeline implements InboundChannel {
  private readonly inflight = new Map<string, Promise<InboundOutcome>>();

  constructor(
    private current: ChannelConfig,
    private readonly deps: PipelineDeps,
  ) {}

  get id(): string {
    return this.current.id;
  }

  get config(): ChannelConfig {
    return this.current;
  }

  get logger(): Logger {
    return this.deps.logger;
  }

  /** Hot reload: the next messages use the new filters, mapping and destinations. */
  setConfig(config: ChannelConfig): void {
    this.current = config;
  }

  /** Messages being processed right now. */
  get inFlight(): number {
    return this.inflight.size;
  }

  /** Waits for the messages in progress (graceful stop). */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.inflight.values()]);
  }

  private maxBytes(): number | undefined {
    const source = this.current.source;
    return 'maxMessageBytes' in source ? source.maxMessageBytes : undefined;
  }

  private processingTimeoutMs(): number {
    const source = this.current.source;
    return ('processingTimeoutMs' in source ? source.processingTimeoutMs : undefined) ?? DEFAULT_PROCESSING_TIMEOUT_MS;
  }

  // ---- inbound ----

  async receive(raw: Buffer, meta: ReceiveMeta, hooks: ReceiveHooks = {}): Promise<InboundOutcome> {
    const config = this.current;
    const decoded = decodeHl7(raw, this.maxBytes());
    const rawSha256 = createHash('sha256').update(raw).digest('hex');
    const key = meta.dedupKey ?? dedupKey(config.id, decoded.header, rawSha256);
    let received;
    try {
      received = await this.deps.messages.receive({
        channel: config.id,
        raw,
        rawSha256,
        source: meta.source,
        ...(decoded.header ? { header: decoded.header } : {}),
        ...(key ? { dedupKey: key } : {}),
        ...(this.deps.instanceId ? { instanceId: this.deps.instanceId } : {}),
      });
    } catch (error) {
      this.deps.logger.error(
        { err: error, channel: config.id },
        'could not persist an inbound message: answering AE, the sender must resend',
      );
      return {
        status: MessageStatus.Error,
        ack: 'error',
        errors: [
          {
            stage: Stage.Receive,
            severity: 'error',
            ...messageError(MessageErrorCode.MessageStoreUnavailable, {}),
            hl7Condition: '207',
          },
        ],
        duplicate: false,
        ...(decoded.ok ? { decoded: decoded.message } : {}),
      };
    }
    const decodedMessage = decoded.ok ? decoded.message : undefined;
    if (received.duplicateOf) return this.answerDuplicate(received.duplicateOf, raw, decoded);
    if (hooks.onPersisted) {
      try {
        await hooks.onPersisted({ messageId: received.id, ...(decodedMessage ? { decoded: decodedMessage } : {}) });
      } catch (error) {
        this.deps.logger.warn(
          { err: error, channel: config.id, messageId: received.id },
          'the commit acknowledgment could not be sent',
        );
      }
    }
    return this.track(received.id, () =>
      this.process({
        id: received.id,
        receivedAt: received.receivedAt,
        rawSha256,
        ...(decoded.header ? { header: decoded.header } : {}),
        ...(key ? { dedupKey: key } : {}),
        decoded,
        revision: 0,
      }),
    );
  }

  async receiveFailure(raw: Buffer, meta: ReceiveMeta, issue: MessageIssue): Promise<string | undefined> {
    const decoded = decodeHl7(raw);
    try {
      const received = await this.deps.messages.receive({
        channel: this.current.id,
        raw: raw.length > 0 ? raw : Buffer.from('(empty)'),
        source: meta.source,
        ...(decoded.header ? { header: decoded.header } : {}),
        failed: { errors: [issue], ackCode: 'AR' },
        ...(meta.dedupKey ? { dedupKey: meta.dedupKey } : {}),
        ...(this.deps.instanceId ? { instanceId: this.deps.instanceId } : {}),
      });
      this.deps.events?.processed?.(this.current.id, {
        messageId: received.id,
        status: MessageStatus.Error,
        ack: 'reject',
        errors: [issue],
        duplicate: false,
      });
      return received.id;
    } catch (error) {
      this.deps.logger.error({ err: error, channel: this.current.id }, 'could not record a refused inbound message');
      return undefined;
    }
  }

  private async answerDuplicate(
    first: StoredMessageState,
    raw: Buffer,
    decoded: DecodeResult,
  ): Promise<InboundOutcome> {
    const running = this.inflight.get(first.id);
    let outcome: InboundOutcome;
    if (running) outcome = await running;
    else if (first.status === MessageStatus.Received) {
      // The first delivery never finished (a crash, or the log was down): process it now, once.
      outcome = await this.track(first.id, () =>
        this.process({
          id: first.id,
          receivedAt: first.receivedAt,
          rawSha256: createHash('sha256').update(raw).digest('hex'),
          ...(decoded.header ? { header: decoded.header } : {}),
          ...(first.dedupKey ? { dedupKey: first.dedupKey } : {}),
          decoded,
          revision: first.revision,
        }),
      );
    } else {
      outcome = {
        messageId: first.id,
        status: first.status,
        ack: first.ackCode === 'AA' ? 'accept' : first.ackCode === 'AR' ? 'reject' : 'error',
        errors: first.errors,
        duplicate: true,
      };
    }
    const answer: InboundOutcome = { ...outcome, duplicate: true, ...(decoded.ok ? { decoded: decoded.message } : {}) };
    this.deps.events?.processed?.(this.current.id, answer);
    return answer;
  }

  private track(id: string, run: () => Promise<InboundOutcome>): Promise<InboundOutcome> {
    const existing = this.inflight.get(id);
    if (existing) return existing;
    const promise = run().finally(() => this.inflight.delete(id));
    this.inflight.set(id, promise);
    return promise;
  }

  // ---- stages ----

  /** Decode → filter → map → quality: pure, nothing stored (also what `keney channel test` runs). */
  async evaluate(
    decoded: DecodeResult,
    context: { messageId: string; rawSha256: string; receivedAt: Date },
  ): Promise<Evaluation> {
    const config = this.current;
    if (!decoded.ok) return { kind: 'rejected', error: decoded.error, issues: [decodeIssue(decoded.error)] };
    const message = decoded.message;
    const verdict = applyFilters(message, config.filters);
    if (!verdict.pass) return { kind: 'filtered', decoded: message, reason: verdict.reason ?? 'filtered' };
    if (!config.mapping) return { kind: 'mapped', decoded: message, issues: [] };
    const mapper = this.deps.mappers.get(config.mapping);
    if (!mapper) {
      return {
        kind: 'failed',
        decoded: message,
        issues: [
          {
            stage: Stage.Map,
            severity: 'error',
            ...messageError(MessageErrorCode.MappingNotFound, { mapping: config.mapping }),
            hl7Condition: '207',
          },
        ],
      };
    }
    let bundle: Bundle;
    let partitionKey: string | undefined;
    const issues: MessageIssue[] = [];
    try {
      const result = await mapper.map(message, {
        channelId: config.id,
        messageId: context.messageId,
        rawSha256: context.rawSha256,
        receivedAt: context.receivedAt.toISOString(),
      });
      bundle = result.bundle;
      partitionKey = result.partitionKey;
      issues.push(...result.issues.map((i) => fromMappingIssue(i, Stage.Map)));
    } catch (error) {
      issues.push({
        stage: Stage.Map,
        severity: 'error',
        ...messageError(MessageErrorCode.MappingFailed, { mapping: config.mapping, detail: (error as Error).message }),
        // A mapper that throws a coded error keeps its code (its text is the English one above).
        ...((error as { code?: string }).code ? { code: (error as { code: string }).code } : {}),
        hl7Condition: (error as { conditionCode?: string }).conditionCode ?? '207',
      });
      return { kind: 'failed', decoded: message, issues };
    }
    if (config.quality && this.deps.mappers.quality && !issues.some((i) => i.severity === 'error')) {
      try {
        issues.push(...this.deps.mappers.quality.check(bundle).map((i) => fromMappingIssue(i, Stage.Quality)));
      } catch (error) {
        issues.push({
          stage: Stage.Quality,
          severity: 'error',
          ...messageError(MessageErrorCode.QualityCheckFailed, { detail: (error as Error).message }),
          hl7Condition: '207',
        });
      }
    }
    if (issues.some((i) => i.severity === 'error')) return { kind: 'failed', decoded: message, issues, bundle };
    return { kind: 'mapped', decoded: message, issues, bundle, ...(partitionKey ? { partitionKey } : {}) };
  }

  private async process(input: ProcessInput): Promise<InboundOutcome> {
    const config = this.current;
    const messages = this.deps.messages;
    const evaluation = await this.evaluate(input.decoded, {
      messageId: input.id,
      rawSha256: input.rawSha256,
      receivedAt: input.receivedAt,
    });
    const finish = async (
      partial: Omit<MessageOutcome, 'channel'>,
      ack: AckOutcome,
      decoded?: Hl7Message,
    ): Promise<InboundOutcome> => {
      const outcome: MessageOutcome = { ...partial, channel: config.id };
      await messages.finish(outcome);
      const result: InboundOutcome = {
        messageId: input.id,
        status: outcome.status,
        ack,
        errors: outcome.errors ?? [],
        duplicate: false,
        ...(decoded ? { decoded } : {}),
      };
      this.deps.events?.processed?.(config.id, result);
      return result;
    };
    switch (evaluation.kind) {
      case 'rejected':
        return finish(
          {
            id: input.id,
            status: MessageStatus.Error,
            ackCode: 'AR',
            revision: input.revision,
            errors: evaluation.issues,
          },
          'reject',
        );
      case 'filtered':
        return finish(
          {
            id: input.id,
            status: MessageStatus.Filtered,
            ackCode: 'AA',
            revision: input.revision,
            warnings: [{ stage: Stage.Filter, severity: 'information', code: 'FILTERED', message: evaluation.reason }],
          },
          'accept',
          evaluation.decoded,
        );
      case 'failed':
        return finish(
          {
            id: input.id,
            status: MessageStatus.Error,
            ackCode: 'AE',
            revision: input.revision,
            errors: evaluation.issues.filter((i) => i.severity === 'error'),
            warnings: evaluation.issues.filter((i) => i.severity !== 'error'),
          },
          'error',
          evaluation.decoded,
        );
      case 'mapped':
        break;
      default:
        return evaluation satisfies never;
    }

    // The change set: durable in the log before anything is acknowledged.
    let changeSetId: string | undefined;
    let logPosition: { partition: number; offset: number } | undefined;
    if (hasStoreDestination(config) && evaluation.bundle) {
      const store = this.deps.store;
      if (!store)
        throw new Error('This channel writes to the store but the pipeline has none (dry run): use evaluate().');
      changeSetId = changeSetIdFor({ id: input.id, dedupKey: input.dedupKey ?? null }, input.revision);
      const header = input.header;
      const origin: ChangeOrigin = {
        kind: OriginKind.Channel,
        actor: config.id,
        channel: config.id,
        messageId: input.id,
        rawSha256: input.rawSha256,
        ...(header?.controlId ? { controlId: header.controlId } : {}),
        ...(header?.sender ? { sender: header.sender } : {}),
        ...(input.reason ? { reason: input.reason } : {}),
      };
      try {
        const changeSet = await store.changeSet({
          bundle: evaluation.bundle,
          origin,
          id: changeSetId,
          ...(evaluation.partitionKey ? { partitionKey: evaluation.partitionKey } : {}),
        });
        const appended = await withTimeout(store.append(changeSet), this.processingTimeoutMs());
        logPosition = { partition: appended.partition, offset: appended.offset };
      } catch (error) {
        this.deps.logger.error(
          { err: error, channel: config.id, messageId: input.id },
          'the change set could not be made durable; the message is kept and will be processed again',
        );
        this.deps.events?.storeFailed?.(config.id, error as Error);
        const result: InboundOutcome = {
          messageId: input.id,
          status: MessageStatus.Received,
          ack: 'error',
          errors: [
            {
              stage: Stage.Store,
              severity: 'error',
              ...messageError(MessageErrorCode.StoreUnavailable, {}),
              hl7Condition: '207',
            },
          ],
          duplicate: false,
          decoded: evaluation.decoded,
        };
        return result;
      }
    }

    const destinations = input.storeOnly ? [] : queuedDestinations(config);
    const generations =
      input.generations ??
      (input.revision > 0 && destinations.length > 0 ? await this.nextGenerations(input.id) : undefined);
    const deliveries = destinations.map((d) => ({ destination: d.name, generation: generations?.get(d.name) ?? 0 }));
    const keepBundle =
      evaluation.bundle &&
      !changeSetId &&
      destinations.some((d) => d.type === 'fhir' || ('content' in d && d.content === 'bundle'));
    const outcome = await finish(
      {
        id: input.id,
        status: deliveries.length > 0 ? MessageStatus.Queued : MessageStatus.Sent,
        ackCode: 'AA',
        revision: input.revision,
        ...(changeSetId ? { changeSetId } : {}),
        ...(logPosition ? { logPosition } : {}),
        ...(keepBundle ? { changeSet: JSON.stringify(evaluation.bundle) } : {}),
        warnings: evaluation.issues.filter((i) => i.severity !== 'error'),
        deliveries,
      },
      'accept',
      evaluation.decoded,
    );
    if (deliveries.length > 0)
      this.deps.events?.queued?.(
        config.id,
        deliveries.map((d) => d.destination),
      );
    return outcome;
  }

  // ---- reprocessing, replay, edit ----

  /** Processes a stored message again: after a crash (same revision), or as a replay (next revision). */
  async reprocess(
    messageId: string,
    options: { replay?: boolean; storeOnly?: boolean; reason?: string } = {},
  ): Promise<InboundOutcome> {
    const messages = this.deps.messages;
    const state = await messages.state(messageId);
    if (!state) throw new Error(`No message ${messageId}.`);
    const raw = await messages.raw(messageId);
    const decoded = decodeHl7(raw, this.maxBytes());
    const revision = options.replay ? state.revision + 1 : state.revision;
    if (options.replay) await messages.beginReplay(messageId, revision, this.deps.instanceId);
    return this.track(messageId, () =>
      this.process({
        id: messageId,
        receivedAt: state.receivedAt,
        rawSha256: createHash('sha256').update(raw).digest('hex'),
        ...(decoded.header ? { header: decoded.header } : {}),
        ...(state.dedupKey ? { dedupKey: state.dedupKey } : {}),
        decoded,
        revision,
        ...(options.reason ? { reason: options.reason } : {}),
        ...(options.storeOnly ? { storeOnly: true } : {}),
      }),
    );
  }

  /** For each destination, one more than the last delivery generation of this message. */
  async nextGenerations(messageId: string): Promise<Map<string, number>> {
    const generations = new Map<string, number>();
    for (const d of await this.deps.messages.deliveries(messageId))
      generations.set(d.destination, Math.max(generations.get(d.destination) ?? 0, d.generation + 1));
    return generations;
  }

  /** Edit-then-replay: the edited bytes become a new message (the original is kept), processed now. */
  async receiveEdit(raw: Buffer, original: string, edit: { by: string; reason: string }): Promise<InboundOutcome> {
    const config = this.current;
    const decoded = decodeHl7(raw, this.maxBytes());
    const rawSha256 = createHash('sha256').update(raw).digest('hex');
    const received = await this.deps.messages.receive({
      channel: config.id,
      raw,
      rawSha256,
      source: `edit of ${original}`,
      ...(decoded.header ? { header: decoded.header } : {}),
      editedFrom: { id: original, by: edit.by, reason: edit.reason },
      ...(this.deps.instanceId ? { instanceId: this.deps.instanceId } : {}),
    });
    return this.track(received.id, () =>
      this.process({
        id: received.id,
        receivedAt: received.receivedAt,
        rawSha256,
        ...(decoded.header ? { header: decoded.header } : {}),
        decoded,
        revision: 0,
        reason: 'edit',
      }),
    );
  }
}

function fromMappingIssue(issue: MappingIssue, stage: Stage): MessageIssue {
  return {
    stage,
    severity: issue.severity,
    code: issue.code,
    message: issue.message,
    ...(issue.location ? { location: issue.location } : {}),
    ...(issue.rule ? { rule: issue.rule } : {}),
    ...(issue.expression ? { expression: issue.expression } : {}),
    ...(issue.params ? { params: issue.params } : {}),
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not durable within ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}
