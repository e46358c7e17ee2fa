// The DICOM channels at work. Every instance the hub archives (DIMSE C-STORE or STOW-RS) goes through each
// enabled DICOM channel, as one message of that channel in the engine's message store (raw = the Part-10
// file, kept in the blob store next to the archived copy):
//
//   persist (message store) → filters → store destination: the record (StudyRecorder, awaited)
//   → queued destinations (C-STORE / STOW-RS workers: retry with backoff, dead letter) → status
//
// The sender is answered once every channel is done: an error of one channel's record (refused, log down)
// is the sender's DIMSE status / STOW failure reason; filtered is success. Statistics go to the channel
// statistics (/metrics); messages are found and read with /admin/messages; replay is /admin/dicom/messages/:id/replay.
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { QueuedDestinationConfig } from '../../../engine/channel-config.js';
import { StatName, type ChannelStats } from '../../../engine/channel-stats.js';
import type { DestinationConnector } from '../../../engine/connector.js';
import { DeliveryWorker, type DeliveryWorkerStatus } from '../../../engine/delivery-worker.js';
import type { DestinationLocks } from '../../../engine/destination-locks.js';
import {
  MessageStatus,
  Stage,
  type MessageHeaderFacts,
  type MessageIssue,
  type MessageStore,
} from '../../../engine/message-store.js';
import { personNameDisplay } from '../../../adapters/dicom/fhir/common.js';
import { uuidV5 } from '../../../store/uuid.js';
import { InstanceProcessingError, type DicomService, type InstanceStoredEvent } from '../dicom-service.js';
import type { InstanceSource } from '../instance-store.js';
import { RecordErrorCode, type StudyRecorder } from '../record/study-recorder.js';
import { channelDigest, type DicomChannelConfig, type LoadedDicomChannel } from './config.js';
import { CStoreDestination, StowDestination, type DicomDestination } from './destinations.js';
import { applyDicomFilters } from './filters.js';

export interface DicomChannelsDeps {
  messages: MessageStore;
  recorder: StudyRecorder;
  /** The archive (replay stores the message's file again: normally "unchanged"). */
  archive: DicomService;
  stats: ChannelStats;
  logger: Logger;
  /** Our AE title: the calling AE of C-STORE destinations that do not name one. */
  aeTitle: string;
  instanceId?: string;
  locks?: DestinationLocks;
  deliveryPollMs?: number;
  /** Builds a destination's connector (tests may wrap it). */
  connector?: (destination: DicomDestination) => DestinationConnector;
}

export interface ChannelResult {
  channel: string;
  messageId: string;
  status: MessageStatus;
  changeSetId?: string;
  error?: InstanceProcessingError;
}

interface RunningChannel {
  loaded: LoadedDicomChannel;
  workers: Map<string, DeliveryWorker>;
}

export interface DicomChannelView {
  id: string;
  name: string;
  file: string | null;
  enabled: boolean;
  filters: DicomChannelConfig['filters'];
  destinations: (Partial<DeliveryWorkerStatus> & { name: string; type: string; pending: number; dead: number })[];
  stats: ReturnType<ChannelStats['of']>;
}

function describeSource(source: InstanceSource): string {
  switch (source.protocol) {
    case 'dimse':
      return `dimse ${source.callingAeTitle ?? '?'}@${source.remoteAddress ?? '?'}`;
    case 'stow-rs':
      return `stow-rs ${source.user ?? '?'}@${source.remoteAddress ?? '?'}`;
    case 'api':
      return `api ${source.user ?? ''}`.trim();
    default:
      return source.protocol satisfies never;
  }
}

/** What the message store indexes about an instance: sender, type (`DICOM^CT`), SOP Instance UID, patient. */
export function headerFacts(event: Pick<InstanceStoredEvent, 'metadata' | 'source'>): MessageHeaderFacts {
  const { metadata, source } = event;
  const patientIds: string[] = [];
  for (const id of [metadata.patient.id, ...metadata.patient.otherIds]) {
    if (!id?.value) continue;
    patientIds.push(id.value);
    const authority = id.issuer ?? id.issuerUniversalId;
    if (authority) patientIds.push(`${authority}|${id.value}`);
    if (id.issuerUniversalId && id.issuerUniversalId !== authority)
      patientIds.push(`${id.issuerUniversalId}|${id.value}`);
  }
  const sender = source.callingAeTitle ?? source.user;
  const messageType = `DICOM^${metadata.series.modality ?? 'OT'}`;
  const name = personNameDisplay(metadata.patient.name);
  const words = [
    metadata.instance.sopInstanceUid,
    sender,
    messageType,
    metadata.study.accessionNumber,
    name,
    metadata.patient.birthDate,
    ...patientIds,
  ];
  return {
    ...(sender ? { sender } : {}),
    messageType,
    controlId: metadata.instance.sopInstanceUid,
    patientIds: [...new Set(patientIds)],
    searchText: words.filter(Boolean).join(' ').toLowerCase(),
  };
}

export class DicomChannels {
  /** The channels that route, replaced as a whole by `apply()`: a route sees one set, the old or the new. */
  private running = new Map<string, RunningChannel>();
  /** Every channel id that ran in this process: the queues of those removed since stay visible. */
  private readonly known = new Set<string>();
  /** Routes under way (a reload waits for them before closing the workers it retires). */
  private readonly inFlight = new Set<Promise<unknown>>();
  private started = false;
  private depths = new Map<string, { pending: number; dead: number }>();
  private allDepths: { channel: string; destination: string; pending: number; dead: number }[] = [];

  constructor(
    channels: readonly LoadedDicomChannel[],
    private readonly deps: DicomChannelsDeps,
  ) {
    for (const loaded of channels) {
      const workers = new Map<string, DeliveryWorker>();
      for (const destination of queuedOf(loaded.config))
        workers.set(destination.name, this.newWorker(loaded.config.id, destination));
      this.running.set(loaded.config.id, { loaded, workers });
      this.known.add(loaded.config.id);
    }
  }

  ids(): string[] {
    return [...this.running.keys()];
  }

  /** The channels running now, as loaded. */
  loaded(): LoadedDicomChannel[] {
    return [...this.running.values()].map((c) => c.loaded);
  }

  /** A channel that ran in this process and was removed since (its messages and queues are kept). */
  isRetired(id: string): boolean {
    return this.known.has(id) && !this.running.has(id);
  }

  /**
   * Runs `next` instead of the current channels: new ones start, changed ones get their new settings, removed
   * ones stop. The set is swapped at once — an instance is routed by the old set or by the new, never by a mix
   * and never by neither; the workers retired are closed once the routes begun before the swap are done. What
   * their queues hold stays in the message store (pending, dead) and is listed by `retiredQueues()`.
   */
  async apply(next: readonly LoadedDicomChannel[]): Promise<{ added: string[]; updated: string[]; removed: string[] }> {
    const result = { added: [] as string[], updated: [] as string[], removed: [] as string[] };
    const channels = new Map<string, RunningChannel>();
    const retired: DeliveryWorker[] = [];
    for (const loaded of next) {
      const id = loaded.config.id;
      const current = this.running.get(id);
      if (current && current.loaded.file === loaded.file && sameConfig(current.loaded.config, loaded.config)) {
        channels.set(id, current);
        continue;
      }
      const workers = new Map<string, DeliveryWorker>();
      for (const destination of queuedOf(loaded.config)) {
        const worker = current?.workers.get(destination.name);
        if (!worker) {
          const fresh = this.newWorker(id, destination);
          if (this.started) fresh.start();
          workers.set(destination.name, fresh);
          continue;
        }
        if (JSON.stringify(worker.config) !== JSON.stringify(destination))
          worker.replace(destination as unknown as QueuedDestinationConfig, this.connectorOf(destination));
        workers.set(destination.name, worker);
      }
      for (const [name, worker] of current?.workers ?? []) if (!workers.has(name)) retired.push(worker);
      channels.set(id, { loaded, workers });
      this.known.add(id);
      (current ? result.updated : result.added).push(id);
    }
    for (const [id, current] of this.running) {
      if (channels.has(id)) continue;
      retired.push(...current.workers.values());
      result.removed.push(id);
    }
    const before = [...this.inFlight];
    this.running = channels;
    await Promise.allSettled(before);
    await Promise.all(retired.map((worker) => worker.close()));
    return result;
  }

  private connectorOf(destination: DicomDestination): DestinationConnector {
    return (
      this.deps.connector?.(destination) ??
      (destination.type === 'dicom'
        ? new CStoreDestination(destination, this.deps.aeTitle)
        : new StowDestination(destination))
    );
  }

  private newWorker(channel: string, destination: DicomDestination): DeliveryWorker {
    const connector = this.connectorOf(destination);
    // The engine's worker reads name, type and retry of its destination settings.
    return new DeliveryWorker(channel, destination as unknown as QueuedDestinationConfig, connector, {
      messages: this.deps.messages,
      logger: this.deps.logger.child({ channel, destination: destination.name }),
      ...(this.deps.locks ? { locks: this.deps.locks } : {}),
      ...(this.deps.deliveryPollMs ? { pollIntervalMs: this.deps.deliveryPollMs } : {}),
      load: async (delivery) => {
        const stored = await this.deps.messages.outbound(delivery.messageId);
        if (!stored) return undefined;
        return {
          messageId: delivery.messageId,
          channel,
          destination: destination.name,
          receivedAt: delivery.receivedAt,
          raw: stored.raw,
          ...(stored.controlId ? { controlId: stored.controlId } : {}),
        };
      },
      events: {
        delivered: (ch, name) => this.deps.stats.count(ch, StatName.Sent, name),
        failed: (ch, name, info) => {
          this.deps.stats.count(ch, info.dead ? StatName.DeadLettered : StatName.DeliveryFailed, name);
          if (info.dead)
            this.deps.logger.warn(
              { channel: ch, destination: name },
              `DICOM delivery dead-lettered after ${info.consecutiveFailures} failure(s): ${info.error}`,
            );
        },
      },
    });
  }

  /** Starts the destination workers, then processes what a crash left unfinished. */
  async start(): Promise<void> {
    this.started = true;
    for (const channel of this.running.values()) for (const worker of channel.workers.values()) worker.start();
    await this.recover().catch((error: Error) =>
      this.deps.logger.warn({ err: error }, 'recovering unfinished DICOM messages failed'),
    );
  }

  async stop(): Promise<void> {
    await Promise.all([...this.running.values()].flatMap((c) => [...c.workers.values()].map((w) => w.close())));
    await this.deps.messages.drain().catch(() => undefined);
    // The lock connection is a pooled client: released here, or closing the pool would wait for it forever.
    await this.deps.locks?.close().catch(() => undefined);
  }

  /**
   * Routes one archived instance through every enabled channel; throws the first channel's record failure
   * (as an InstanceProcessingError: the sender's status) once all are done.
   */
  async route(event: InstanceStoredEvent): Promise<ChannelResult[]> {
    const routing = this.routeThrough([...this.running.values()], event);
    this.inFlight.add(routing);
    try {
      return await routing;
    } finally {
      this.inFlight.delete(routing);
    }
  }

  private async routeThrough(channels: RunningChannel[], event: InstanceStoredEvent): Promise<ChannelResult[]> {
    const results: ChannelResult[] = [];
    for (const channel of channels) {
      if (!channel.loaded.config.enabled) continue;
      results.push(await this.receive(channel, event));
    }
    const failed = results.find((r) => r.error);
    if (failed?.error) throw failed.error;
    return results;
  }

  private async receive(channel: RunningChannel, event: InstanceStoredEvent): Promise<ChannelResult> {
    const id = channel.loaded.config.id;
    let received;
    try {
      received = await this.deps.messages.receive({
        channel: id,
        raw: event.file,
        source: describeSource(event.source),
        header: headerFacts(event),
        ...(this.deps.instanceId ? { instanceId: this.deps.instanceId } : {}),
      });
    } catch (error) {
      this.deps.logger.error(
        { err: error, channel: id },
        'a DICOM message could not be persisted: the sender is asked to send again',
      );
      throw new InstanceProcessingError(
        'DICOM_MESSAGE_STORE_UNAVAILABLE',
        `The message store is unavailable (${(error as Error).message}); send again later.`,
        0xa700,
        {
          comment: 'Message store unavailable, send again later',
        },
      );
    }
    return this.process(channel, received.id, received.rawSha256, 0, event);
  }

  private async process(
    channel: RunningChannel,
    messageId: string,
    rawSha256: string,
    revision: number,
    event: InstanceStoredEvent,
    only?: { storeOnly?: boolean },
  ): Promise<ChannelResult> {
    const config = channel.loaded.config;
    const messages = this.deps.messages;
    const verdict = applyDicomFilters(
      { dataSet: event.dataSet, source: event.source, transferSyntaxUid: event.transferSyntaxUid },
      config.filters,
    );
    if (!verdict.pass) {
      await messages.finish({
        id: messageId,
        channel: config.id,
        status: MessageStatus.Filtered,
        ackCode: 'AA',
        revision,
        warnings: [
          { stage: Stage.Filter, severity: 'information', code: 'FILTERED', message: verdict.reason ?? 'filtered' },
        ],
      });
      this.count(config.id, MessageStatus.Filtered);
      return { channel: config.id, messageId, status: MessageStatus.Filtered };
    }
    let changeSetId: string | undefined;
    const warnings: MessageIssue[] = [];
    if (config.destinations.some((d) => d.type === 'store')) {
      try {
        const recorded = await this.deps.recorder.record(event, {
          messageId,
          channel: config.id,
          changeSetId: uuidV5(`dicom-message/${messageId}/${revision}`),
          rawSha256,
        });
        changeSetId = recorded.changeSetId;
        warnings.push(
          ...recorded.issues.map((i) => ({ stage: Stage.Map, severity: i.severity, code: i.code, message: i.message })),
        );
      } catch (error) {
        const failure =
          error instanceof InstanceProcessingError
            ? error
            : new InstanceProcessingError(
                RecordErrorCode.Unavailable,
                `Recording failed: ${(error as Error).message}`,
                0xa700,
                { comment: 'Record unavailable, send again later' },
              );
        const stage =
          failure.code === RecordErrorCode.Unavailable
            ? Stage.Store
            : failure.code === RecordErrorCode.Invalid
              ? Stage.Map
              : Stage.Apply;
        await messages.finish({
          id: messageId,
          channel: config.id,
          status: MessageStatus.Error,
          ackCode: failure.status === 0xa700 ? 'AE' : 'AR',
          revision,
          errors: [
            {
              stage,
              severity: 'error',
              code: failure.code,
              message: `${failure.message} Fix it, then replay the message (POST /admin/dicom/messages/${messageId}/replay).`,
            },
          ],
          warnings,
        });
        this.count(config.id, MessageStatus.Error);
        return { channel: config.id, messageId, status: MessageStatus.Error, error: failure };
      }
    }
    const queued = only?.storeOnly ? [] : queuedOf(config);
    const generations =
      revision > 0 && queued.length > 0 ? await this.nextGenerations(messageId) : new Map<string, number>();
    const status = queued.length > 0 ? MessageStatus.Queued : MessageStatus.Sent;
    await messages.finish({
      id: messageId,
      channel: config.id,
      status,
      ackCode: 'AA',
      revision,
      ...(changeSetId ? { changeSetId } : {}),
      warnings,
      deliveries: queued.map((d) => ({ destination: d.name, generation: generations.get(d.name) ?? 0 })),
    });
    this.count(config.id, status);
    for (const d of queued) channel.workers.get(d.name)?.wake();
    return { channel: config.id, messageId, status, ...(changeSetId ? { changeSetId } : {}) };
  }

  private count(channel: string, status: MessageStatus): void {
    this.deps.stats.count(channel, StatName.Received);
    if (status === MessageStatus.Filtered) this.deps.stats.count(channel, StatName.Filtered);
    else if (status === MessageStatus.Error) this.deps.stats.count(channel, StatName.Errored);
    else this.deps.stats.count(channel, StatName.Accepted);
  }

  private async nextGenerations(messageId: string): Promise<Map<string, number>> {
    const generations = new Map<string, number>();
    for (const d of await this.deps.messages.deliveries(messageId))
      generations.set(d.destination, Math.max(generations.get(d.destination) ?? 0, d.generation + 1));
    return generations;
  }

  /** The archived instance a stored message carries (stored again: normally "unchanged"), and the raw's sha256. */
  private async eventOf(messageId: string, user: string): Promise<{ event: InstanceStoredEvent; rawSha256: string }> {
    const raw = await this.deps.messages.raw(messageId);
    const stored = await this.deps.archive.store.store({ file: raw, source: { protocol: 'api', user } });
    return { event: { ...stored }, rawSha256: createHash('sha256').update(raw).digest('hex') };
  }

  /**
   * Replays a DICOM message: through its whole channel again (record + every destination, under its next
   * revision), or to one destination only (`store` for the record alone, or a queued destination's name).
   */
  async replay(messageId: string, options: { destination?: string; by: string }): Promise<ChannelResult> {
    const state = await this.deps.messages.state(messageId);
    if (!state)
      throw Object.assign(new Error(`No message ${messageId} in the message store (never received, or pruned).`), {
        statusCode: 404,
      });
    const channel = this.running.get(state.channel);
    if (!channel && this.isRetired(state.channel)) {
      throw Object.assign(
        new Error(
          `Message ${messageId} belongs to DICOM channel "${state.channel}", whose file was removed: put the file back in the DICOM channels directory to replay it.`,
        ),
        { statusCode: 409 },
      );
    }
    if (!channel) {
      throw Object.assign(
        new Error(
          `Message ${messageId} belongs to channel "${state.channel}", which is not a DICOM channel of this hub: replay it with POST /admin/messages/${messageId}/replay.`,
        ),
        { statusCode: 409 },
      );
    }
    const config = channel.loaded.config;
    const destination = options.destination;
    if (destination && destination !== 'store' && !queuedOf(config).some((d) => d.name === destination)) {
      throw Object.assign(
        new Error(
          `Channel ${config.id} has no destination "${destination}"; its destinations are ${config.destinations.map((d) => d.name).join(', ')}.`,
        ),
        { statusCode: 404 },
      );
    }
    if (destination && destination !== 'store') {
      const generation = (await this.nextGenerations(messageId)).get(destination) ?? 0;
      await this.deps.messages.enqueue(messageId, config.id, [{ destination, generation }]);
      channel.workers.get(destination)?.wake();
      return { channel: config.id, messageId, status: MessageStatus.Queued };
    }
    const { event, rawSha256 } = await this.eventOf(messageId, options.by);
    const revision = state.revision + 1;
    await this.deps.messages.beginReplay(messageId, revision, this.deps.instanceId);
    return this.process(
      channel,
      messageId,
      rawSha256,
      revision,
      event,
      destination === 'store' ? { storeOnly: true } : undefined,
    );
  }

  /** Messages a crash left "received" (older than a minute, nobody's): processed again, once. */
  async recover(olderThanMs = 60_000): Promise<number> {
    let recovered = 0;
    for (const [id, channel] of this.running) {
      const unfinished = await this.deps.messages.unfinished({
        channel: id,
        olderThan: new Date(Date.now() - olderThanMs),
        limit: 500,
      });
      for (const { id: messageId } of unfinished) {
        const owner = (await this.deps.messages.instanceOf(messageId)) ?? null;
        if (this.deps.instanceId && !(await this.deps.messages.claim(messageId, this.deps.instanceId, owner))) continue;
        try {
          const state = await this.deps.messages.state(messageId);
          const { event, rawSha256 } = await this.eventOf(messageId, 'recovery');
          await this.process(channel, messageId, rawSha256, state?.revision ?? 0, event);
          recovered++;
        } catch (error) {
          this.deps.logger.warn(
            { err: error, channel: id, messageId },
            'an unfinished DICOM message could not be processed again',
          );
        }
      }
    }
    if (recovered > 0)
      this.deps.logger.info({ recovered }, 'processed DICOM messages that a previous run left unfinished');
    return recovered;
  }

  async refreshQueueDepths(): Promise<void> {
    const next = new Map<string, { pending: number; dead: number }>();
    const all = await this.deps.messages.queueDepths();
    for (const d of all) {
      if (this.running.has(d.channel)) next.set(`${d.channel}/${d.destination}`, { pending: d.pending, dead: d.dead });
    }
    this.depths = next;
    this.allDepths = all;
  }

  /**
   * Queues no running channel drains any more — a removed channel's, or a destination taken out of a file — that
   * still hold pending or dead deliveries (as of the last `refreshQueueDepths()`): their messages are kept.
   */
  retiredQueues(): { channel: string; destination: string; pending: number; dead: number }[] {
    return this.allDepths.filter((d) => {
      if (!this.known.has(d.channel)) return false;
      const channel = this.running.get(d.channel);
      return !channel || !queuedOf(channel.loaded.config).some((q) => q.name === d.destination);
    });
  }

  view(): DicomChannelView[] {
    return [...this.running.values()].map(({ loaded, workers }) => ({
      id: loaded.config.id,
      name: loaded.config.name,
      file: loaded.file ?? null,
      enabled: loaded.config.enabled,
      filters: loaded.config.filters,
      destinations: loaded.config.destinations.map((d) => ({
        name: d.name,
        type: d.type,
        ...(workers.get(d.name)?.status() ?? {}),
        ...(this.depths.get(`${loaded.config.id}/${d.name}`) ?? { pending: 0, dead: 0 }),
      })),
      stats: this.deps.stats.of(loaded.config.id),
    }));
  }
}

function sameConfig(a: DicomChannelConfig, b: DicomChannelConfig): boolean {
  return channelDigest(a) === channelDigest(b);
}

function queuedOf(config: DicomChannelConfig): DicomDestination[] {
  return config.destinations.filter((d): d is DicomDestination => d.type !== 'store');
}
