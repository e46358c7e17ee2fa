// The channel runtime: every `channels/*.channel.yaml` becomes a running channel — a source connector feeding
// its pipeline, and one delivery worker per queued destination. Channels start, pause (the source stops, the
// queues keep draining) and stop (everything stops) one by one, and the state chosen through the admin API is
// kept in the database. The directory is watched: a changed file is applied without dropping the listener
// when its address is unchanged; a file that becomes invalid leaves the last good version running and says why.
// At start, messages whose processing a crash interrupted are processed again.
import type { Bundle } from '@medplum/fhirtypes';
import type { Logger } from 'pino';
import type { CanonicalStore } from '../store/canonical-store.js';
import type { ChangeLog } from '../store/log/change-log.js';
import type { Projector } from '../store/projection/projector.js';
import { AlertCenter, AlertKind, type Alert } from './alerts.js';
import {
  listenerIdentity,
  queuedDestinations,
  type ChannelConfig,
  type LoadedChannel,
  type QueuedDestinationConfig,
} from './channel-config.js';
import { CHANNEL_FILE_SUFFIX, loadChannelDirectory, type ParseChannelOptions } from './channel-loader.js';
import { ChannelStats, StatName, type ChannelCounts } from './channel-stats.js';
import type { InboundOutcome, OutboundMessage, SourceConnector, SourceStatus } from './connector.js';
import { defaultConnectors, type ConnectorFactory } from './connector-factory.js';
import { DeliveryWorker, type DeliveryWorkerStatus } from './delivery-worker.js';
import { DirectoryReloader } from './directory-reloader.js';
import type { DestinationLocks } from './destination-locks.js';
import { EngineError, EngineErrorCode, messageError, MessageErrorCode, type ChannelConfigIssue } from './errors.js';
import type { MapperRegistry } from './mapper-registry.js';
import { MessageStatus, Stage, type MessageStore, type QueuedDelivery } from './message-store.js';
import type { ModuleChannels } from './module-channels.js';
import { ChannelPipeline } from './pipeline.js';
import { SubscriptionSource } from './subscription-source.js';

export const ChannelState = {
  /** Source listening, destinations draining. */
  Started: 'started',
  /** Source stopped (senders get connection refused), destinations still draining their queues. */
  Paused: 'paused',
  /** Source and destinations stopped; queued messages wait. */
  Stopped: 'stopped',
  /** The channel file does not load: see `issues`. */
  Invalid: 'invalid',
  /** Starting failed (port taken, TLS file missing…): see `error`. */
  Failed: 'failed',
} as const;
export type ChannelState = (typeof ChannelState)[keyof typeof ChannelState];
export type DesiredState = typeof ChannelState.Started | typeof ChannelState.Paused | typeof ChannelState.Stopped;
export const DESIRED_STATES: readonly DesiredState[] = [
  ChannelState.Started,
  ChannelState.Paused,
  ChannelState.Stopped,
];

export interface ChannelEngineOptions {
  channelsDir: string;
  env: Readonly<Record<string, string | undefined>>;
  mappers: MapperRegistry;
  messages: MessageStore;
  store: CanonicalStore;
  log: ChangeLog;
  projector?: Projector;
  logger: Logger;
  instanceId: string;
  locks?: DestinationLocks;
  stats?: ChannelStats;
  alerts?: AlertCenter;
  connectors?: ConnectorFactory;
  /** Watch the directory and apply changes (default true). */
  watch?: boolean;
  /** Cluster: the ids of live hub instances (their unfinished messages are not taken over). */
  liveInstances?: () => Promise<string[]>;
  /** How often queue depths are measured and stuck messages looked for (default 5 s). */
  housekeepingIntervalMs?: number;
  /** Destination workers look for work queued elsewhere this often (default 1 s). */
  deliveryPollMs?: number;
}

/** What a reload changed: channel ids. */
export interface ReloadResult {
  added: string[];
  updated: string[];
  removed: string[];
  invalid: string[];
}

export interface ChannelView {
  id: string;
  name: string;
  file: string;
  state: ChannelState;
  desired: DesiredState;
  description?: string;
  source: SourceStatus | null;
  mapping: string | null;
  destinations: (DeliveryWorkerStatus & { pending: number; dead: number })[];
  stats: ChannelCounts;
  inFlight: number;
  alerts: Alert[];
  error: string | null;
  issues: readonly ChannelConfigIssue[];
  /** The file on disk was changed to something invalid; the last good version keeps running. */
  pendingFileError: string | null;
}

/** One channel: its current (last good) config, pipeline, source and workers. */
class ChannelRuntime {
  loaded: LoadedChannel | undefined;
  pipeline: ChannelPipeline | undefined;
  source: SourceConnector | undefined;
  readonly workers = new Map<string, DeliveryWorker>();
  state: ChannelState = ChannelState.Stopped;
  desired: DesiredState = ChannelState.Started;
  error: string | null = null;
  issues: readonly ChannelConfigIssue[] = [];
  pendingFileError: string | null = null;
  file: string;

  constructor(
    readonly id: string,
    file: string,
  ) {
    this.file = file;
  }

  get config(): ChannelConfig | undefined {
    return this.loaded?.config;
  }
}

export class ChannelEngine {
  private readonly channels = new Map<string, ChannelRuntime>();
  private readonly connectors: ConnectorFactory;
  readonly stats: ChannelStats;
  readonly alerts: AlertCenter;
  private readonly directory: DirectoryReloader<ReloadResult>;
  private housekeeping: NodeJS.Timeout | undefined;
  private queueDepth = new Map<string, { pending: number; dead: number }>();
  private stopped = false;
  private recovering: Promise<void> = Promise.resolve();

  constructor(private readonly options: ChannelEngineOptions) {
    this.connectors = options.connectors ?? defaultConnectors;
    this.stats = options.stats ?? new ChannelStats();
    this.alerts = options.alerts ?? new AlertCenter(options.logger, options.instanceId);
    this.directory = new DirectoryReloader({
      directory: options.channelsDir,
      suffix: CHANNEL_FILE_SUFFIX,
      reload: () => this.doReload(),
      logger: options.logger,
      label: 'the channels directory',
      manualReload: 'POST /admin/channels/reload',
    });
  }

  private get logger(): Logger {
    return this.options.logger;
  }

  private parseOptions(): ParseChannelOptions & { displayRoot: string } {
    const mappers = this.options.mappers;
    return {
      env: this.options.env,
      mappings: { has: (id) => mappers.get(id) !== undefined, ids: () => mappers.ids() },
      encoders: { has: (id) => mappers.encoder?.(id) !== undefined, ids: () => mappers.encoderIds?.() ?? [] },
      displayRoot: this.options.channelsDir,
    };
  }

  // ---- lifecycle ----

  async start(): Promise<void> {
    this.stopped = false;
    await this.options.messages.ensurePartitions();
    const states = await this.options.messages.channelStates();
    const { loaded, failed } = await loadChannelDirectory(this.options.channelsDir, this.parseOptions());
    for (const channel of loaded) {
      const runtime = new ChannelRuntime(channel.config.id, channel.file);
      runtime.loaded = channel;
      runtime.pipeline = this.newPipeline(channel.config);
      runtime.desired =
        (states.get(channel.config.id) as DesiredState | undefined) ??
        (channel.config.enabled ? ChannelState.Started : ChannelState.Stopped);
      this.channels.set(runtime.id, runtime);
    }
    for (const failure of failed) this.markInvalid(failure.id, failure.file, failure.error);
    // Finish what a crash interrupted before taking new messages.
    await this.recoverUnfinished();
    for (const runtime of this.channels.values()) if (runtime.loaded) await this.applyDesired(runtime);
    if (this.options.watch !== false) this.directory.watch();
    this.housekeeping = setInterval(() => void this.houseKeep(), this.options.housekeepingIntervalMs ?? 5000);
    this.housekeeping.unref();
    void this.houseKeep();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.housekeeping) clearInterval(this.housekeeping);
    await this.directory.close();
    await this.recovering;
    await Promise.all([...this.channels.values()].map((runtime) => this.stopSource(runtime)));
    await Promise.all([...this.channels.values()].map((runtime) => runtime.pipeline?.settle()));
    await Promise.all([...this.channels.values()].map((runtime) => this.stopWorkers(runtime, true)));
    await this.options.messages.drain();
    await this.options.locks?.close();
  }

  private newPipeline(config: ChannelConfig): ChannelPipeline {
    return new ChannelPipeline(config, {
      messages: this.options.messages,
      store: this.options.store,
      mappers: this.options.mappers,
      logger: this.logger.child({ channel: config.id }),
      instanceId: this.options.instanceId,
      events: {
        processed: (channel, outcome) => this.countOutcome(channel, outcome),
        queued: (channel, destinations) => {
          const runtime = this.channels.get(channel);
          for (const name of destinations) runtime?.workers.get(name)?.wake();
        },
        storeFailed: (channel, error) => {
          const config = this.channels.get(channel)?.config;
          this.alerts.set(
            true,
            {
              kind: AlertKind.StoreUnavailable,
              channel,
              message: `Channel ${channel}: change sets cannot be made durable (${error.message}); messages are kept and answered AE.`,
            },
            config?.alerts.webhook,
          );
        },
      },
    });
  }

  private countOutcome(channel: string, outcome: InboundOutcome): void {
    if (outcome.duplicate) {
      this.stats.count(channel, StatName.Duplicate);
      return;
    }
    this.stats.count(channel, StatName.Received);
    if (outcome.status === MessageStatus.Filtered) this.stats.count(channel, StatName.Filtered);
    else if (outcome.status === MessageStatus.Error) this.stats.count(channel, StatName.Errored);
    else if (outcome.ack === 'accept') {
      this.stats.count(channel, StatName.Accepted);
      const config = this.channels.get(channel)?.config;
      this.alerts.set(
        false,
        { kind: AlertKind.StoreUnavailable, channel, message: `Channel ${channel}: change sets are durable again.` },
        config?.alerts.webhook,
      );
    }
  }

  private markInvalid(id: string, file: string, error: EngineError): void {
    const runtime = this.channels.get(id) ?? new ChannelRuntime(id, file);
    runtime.state = ChannelState.Invalid;
    runtime.issues = error.issues;
    runtime.error = error.message;
    this.channels.set(id, runtime);
    this.logger.error({ channel: id, file }, error.message);
  }

  private async applyDesired(runtime: ChannelRuntime): Promise<void> {
    if (!runtime.loaded || this.stopped) return;
    try {
      switch (runtime.desired) {
        case ChannelState.Started:
          this.startWorkers(runtime);
          await this.startSource(runtime);
          break;
        case ChannelState.Paused:
          await this.stopSource(runtime);
          this.startWorkers(runtime);
          break;
        case ChannelState.Stopped:
          await this.stopSource(runtime);
          await this.stopWorkers(runtime, false);
          break;
        default:
          runtime.desired satisfies never;
      }
      runtime.state = runtime.desired;
      runtime.error = null;
    } catch (error) {
      runtime.state = ChannelState.Failed;
      runtime.error = (error as Error).message;
      this.logger.error(
        { err: error, channel: runtime.id },
        `channel ${runtime.id} could not start: ${(error as Error).message}`,
      );
    }
  }

  private async startSource(runtime: ChannelRuntime): Promise<void> {
    if (runtime.source || !runtime.loaded || !runtime.pipeline) return;
    const config = runtime.loaded.config;
    const source =
      config.source.type === 'subscription'
        ? new SubscriptionSource(config.source, config, {
            log: this.options.log,
            store: this.options.store,
            projector: this.options.projector,
            messages: this.options.messages,
            mappers: this.options.mappers,
            locks: this.options.locks,
            logger: this.logger.child({ channel: config.id }),
          })
        : this.connectors.source(config.source, this.logger.child({ channel: config.id }));
    await source.start(runtime.pipeline);
    runtime.source = source;
  }

  private async stopSource(runtime: ChannelRuntime): Promise<void> {
    const source = runtime.source;
    runtime.source = undefined;
    await source
      ?.stop()
      .catch((error: Error) => this.logger.warn({ err: error, channel: runtime.id }, 'stopping the source failed'));
  }

  private startWorkers(runtime: ChannelRuntime): void {
    const config = runtime.loaded!.config;
    for (const destination of queuedDestinations(config)) {
      let worker = runtime.workers.get(destination.name);
      if (!worker) {
        worker = this.newWorker(config.id, destination);
        runtime.workers.set(destination.name, worker);
      }
      worker.start();
    }
  }

  private newWorker(channel: string, destination: QueuedDestinationConfig): DeliveryWorker {
    return new DeliveryWorker(channel, destination, this.connectors.destination(destination, this.logger), {
      messages: this.options.messages,
      load: (delivery, config) => this.loadOutbound(delivery, config),
      ...(this.options.locks ? { locks: this.options.locks } : {}),
      logger: this.logger.child({ channel, destination: destination.name }),
      ...(this.options.deliveryPollMs ? { pollIntervalMs: this.options.deliveryPollMs } : {}),
      events: {
        delivered: (ch, name) => {
          this.stats.count(ch, StatName.Sent, name);
          this.alerts.set(
            false,
            {
              kind: AlertKind.DeliveryFailures,
              channel: ch,
              destination: name,
              message: `${ch} → ${name} delivers again.`,
            },
            this.channels.get(ch)?.config?.alerts.webhook,
          );
        },
        failed: (ch, name, info) => {
          this.stats.count(ch, info.dead ? StatName.DeadLettered : StatName.DeliveryFailed, name);
          const alerts = this.channels.get(ch)?.config?.alerts;
          const threshold = alerts?.consecutiveFailures ?? 5;
          this.alerts.set(
            info.consecutiveFailures >= threshold,
            {
              kind: AlertKind.DeliveryFailures,
              channel: ch,
              destination: name,
              value: info.consecutiveFailures,
              threshold,
              message: `${ch} → ${name} failed ${info.consecutiveFailures} time(s) in a row: ${info.error}`,
            },
            alerts?.webhook,
          );
        },
      },
    });
  }

  private async stopWorkers(runtime: ChannelRuntime, closeConnectors: boolean): Promise<void> {
    await Promise.all([...runtime.workers.values()].map((w) => (closeConnectors ? w.close() : w.stop())));
    if (closeConnectors) runtime.workers.clear();
  }

  /** What a destination sends: the raw bytes, and the change set's Bundle (from the row, or read back from the log). */
  private async loadOutbound(
    delivery: QueuedDelivery,
    destination: QueuedDestinationConfig,
  ): Promise<OutboundMessage | undefined> {
    const row = await this.options.messages.outbound(delivery.messageId);
    if (!row) return undefined;
    const wantsBundle = destination.type === 'fhir' || ('content' in destination && destination.content === 'bundle');
    let bundle: Bundle | undefined;
    if (wantsBundle) {
      if (row.changeSet) bundle = JSON.parse(row.changeSet) as Bundle;
      else if (row.logPosition && row.changeSetId) {
        const [record] = await this.options.log.read(row.logPosition.partition, row.logPosition.offset, {
          maxRecords: 1,
        });
        if (record?.changeSet.id === row.changeSetId) bundle = record.changeSet.bundle;
      }
    }
    return {
      messageId: delivery.messageId,
      channel: delivery.channel,
      destination: delivery.destination,
      receivedAt: row.receivedAt,
      raw: row.raw,
      ...(row.controlId ? { controlId: row.controlId } : {}),
      ...(bundle ? { bundle } : {}),
      ...(row.changeSetId ? { changeSetId: row.changeSetId } : {}),
    };
  }

  // ---- reload ----

  /** Re-reads the directory and applies every change (after a reload in progress); resolves with what changed. */
  reload(): Promise<ReloadResult> {
    return this.directory.reload();
  }

  private async doReload(): Promise<ReloadResult> {
    const result = { added: [] as string[], updated: [] as string[], removed: [] as string[], invalid: [] as string[] };
    if (this.stopped) return result;
    const { loaded, failed } = await loadChannelDirectory(this.options.channelsDir, this.parseOptions());
    const seen = new Set<string>();
    for (const channel of loaded) {
      seen.add(channel.config.id);
      const runtime = this.channels.get(channel.config.id);
      if (!runtime || !runtime.loaded) {
        const fresh = runtime ?? new ChannelRuntime(channel.config.id, channel.file);
        fresh.loaded = channel;
        fresh.file = channel.file;
        fresh.issues = [];
        fresh.error = null;
        fresh.pendingFileError = null;
        fresh.pipeline = this.newPipeline(channel.config);
        const states = await this.options.messages.channelStates();
        fresh.desired =
          (states.get(channel.config.id) as DesiredState | undefined) ??
          (channel.config.enabled ? ChannelState.Started : ChannelState.Stopped);
        fresh.state = ChannelState.Stopped;
        this.channels.set(fresh.id, fresh);
        await this.applyDesired(fresh);
        result.added.push(fresh.id);
        continue;
      }
      runtime.pendingFileError = null;
      if (runtime.loaded.digest === channel.digest) continue;
      await this.update(runtime, channel);
      result.updated.push(runtime.id);
    }
    for (const failure of failed) {
      seen.add(failure.id);
      result.invalid.push(failure.id);
      const runtime = this.channels.get(failure.id);
      if (runtime?.loaded) {
        // Keep the last good version running; say what is wrong with the file.
        runtime.pendingFileError = failure.error.message;
        runtime.issues = failure.error.issues;
        this.logger.error(
          { channel: failure.id },
          `${failure.error.message}\nThe channel keeps running its previous version until the file is fixed.`,
        );
      } else this.markInvalid(failure.id, failure.file, failure.error);
    }
    for (const [id, runtime] of [...this.channels]) {
      if (seen.has(id)) continue;
      await this.stopSource(runtime);
      await runtime.pipeline?.settle();
      await this.stopWorkers(runtime, true);
      this.alerts.clearChannel(id);
      this.channels.delete(id);
      result.removed.push(id);
    }
    if (result.added.length + result.updated.length + result.removed.length > 0)
      this.logger.info(result, 'channels reloaded');
    return result;
  }

  /** Applies a changed file to a running channel, keeping its listener when the listener settings are the same. */
  private async update(runtime: ChannelRuntime, next: LoadedChannel): Promise<void> {
    const previous = runtime.loaded!.config;
    const config = next.config;
    runtime.loaded = next;
    runtime.file = next.file;
    runtime.issues = [];
    runtime.pipeline!.setConfig(config);
    if (listenerIdentity(previous.source) !== listenerIdentity(config.source) && runtime.source) {
      await this.stopSource(runtime);
      // The new listener starts below, according to the desired state.
    }
    const names = new Set(queuedDestinations(config).map((d) => d.name));
    for (const [name, worker] of [...runtime.workers]) {
      if (names.has(name)) continue;
      await worker.close();
      runtime.workers.delete(name);
    }
    for (const destination of queuedDestinations(config)) {
      const worker = runtime.workers.get(destination.name);
      if (worker && JSON.stringify(worker.config) !== JSON.stringify(destination)) {
        worker.replace(destination, this.connectors.destination(destination, this.logger));
      }
    }
    if (runtime.desired === ChannelState.Started || runtime.state === ChannelState.Failed)
      await this.applyDesired(runtime);
    else if (runtime.desired === ChannelState.Paused) this.startWorkers(runtime);
  }

  // ---- operations ----

  private readonly moduleChannels = new Set<ModuleChannels>();

  /**
   * A hub module running channels of its own over the message store (DICOM) registers them here, so that the admin
   * routes hand their messages to it (replay). Returns the function that unregisters them (at the module's stop).
   */
  registerModuleChannels(channels: ModuleChannels): () => void {
    this.moduleChannels.add(channels);
    return () => this.moduleChannels.delete(channels);
  }

  /** The module that runs this channel, when it is not one of the engine's own. */
  moduleChannelsOf(channelId: string): ModuleChannels | undefined {
    if (this.channels.has(channelId)) return undefined;
    for (const channels of this.moduleChannels) if (channels.owns(channelId)) return channels;
    return undefined;
  }

  runtime(id: string): ChannelRuntime {
    const runtime = this.channels.get(id);
    if (!runtime)
      throw new EngineError(
        EngineErrorCode.ChannelNotFound,
        `No channel "${id}": the channels are ${[...this.channels.keys()].join(', ') || 'none'} (files ${this.options.channelsDir}/*${CHANNEL_FILE_SUFFIX}).`,
      );
    return runtime;
  }

  pipeline(id: string): ChannelPipeline {
    const runtime = this.runtime(id);
    if (!runtime.pipeline) {
      throw new EngineError(
        EngineErrorCode.ChannelState,
        `Channel "${id}" did not load (${runtime.error ?? 'invalid file'}); fix ${runtime.file} first.`,
      );
    }
    return runtime.pipeline;
  }

  async setState(id: string, desired: DesiredState, by: string): Promise<ChannelView> {
    const runtime = this.runtime(id);
    if (!runtime.loaded)
      throw new EngineError(
        EngineErrorCode.ChannelState,
        `Channel "${id}" did not load (${runtime.error ?? 'invalid file'}); fix ${runtime.file} first.`,
      );
    runtime.desired = desired;
    await this.options.messages.setChannelState(id, desired, by);
    await this.applyDesired(runtime);
    return this.view(id);
  }

  /** The port a channel's listener actually bound (tests ask for port 0). */
  listenerPort(id: string): number | undefined {
    const source = this.runtime(id).source as (SourceConnector & { port?: number }) | undefined;
    return source?.port;
  }

  ids(): string[] {
    return [...this.channels.keys()].sort();
  }

  view(id: string): ChannelView {
    const runtime = this.runtime(id);
    const config = runtime.config;
    const destinations = config
      ? queuedDestinations(config).map((d) => {
          const worker = runtime.workers.get(d.name);
          const depth = this.queueDepth.get(`${id}/${d.name}`) ?? { pending: 0, dead: 0 };
          return {
            ...(worker?.status() ?? {
              destination: d.name,
              type: d.type,
              draining: false,
              consecutiveFailures: 0,
              lastError: null,
              lastErrorAt: null,
              lastDeliveredAt: null,
              nextAttemptAt: null,
            }),
            ...depth,
          };
        })
      : [];
    return {
      id,
      name: config?.name ?? id,
      file: runtime.file,
      state: runtime.state,
      desired: runtime.desired,
      ...(config?.description ? { description: config.description } : {}),
      source: runtime.source?.status() ?? (config ? { type: config.source.type, listening: false } : null),
      mapping: config?.mapping ?? null,
      destinations,
      stats: this.stats.of(id),
      inFlight: runtime.pipeline?.inFlight ?? 0,
      alerts: this.alerts.list(id),
      error: runtime.error,
      issues: runtime.issues,
      pendingFileError: runtime.pendingFileError,
    };
  }

  list(): ChannelView[] {
    return this.ids().map((id) => this.view(id));
  }

  /** Queue depths now (also refreshes the gauges and the queue alerts). */
  async refreshQueueDepths(): Promise<void> {
    const depths = await this.options.messages.queueDepths();
    const next = new Map<string, { pending: number; dead: number }>();
    for (const d of depths) next.set(`${d.channel}/${d.destination}`, { pending: d.pending, dead: d.dead });
    for (const [id, runtime] of this.channels) {
      for (const destination of runtime.config ? queuedDestinations(runtime.config) : []) {
        const depth = next.get(`${id}/${destination.name}`) ?? { pending: 0, dead: 0 };
        this.stats.queueDepth.set({ channel: id, destination: destination.name, status: 'pending' }, depth.pending);
        this.stats.queueDepth.set({ channel: id, destination: destination.name, status: 'dead' }, depth.dead);
        const limit = runtime.config!.alerts.queueDepth;
        if (limit !== undefined) {
          this.alerts.set(
            depth.pending > limit,
            {
              kind: AlertKind.QueueDepth,
              channel: id,
              destination: destination.name,
              value: depth.pending,
              threshold: limit,
              message: `${id} → ${destination.name}: ${depth.pending} messages queued (alert above ${limit}).`,
            },
            runtime.config!.alerts.webhook,
          );
        }
      }
    }
    this.queueDepth = next;
  }

  private async houseKeep(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.refreshQueueDepths();
      await this.options.messages.ensurePartitions();
      this.recovering = this.recovering.then(async () => {
        await this.recoverUnfinished(new Date(Date.now() - 60_000));
      });
      await this.recovering;
    } catch (error) {
      this.logger.warn({ err: error }, 'engine housekeeping failed');
    }
  }

  /**
   * Processes again the messages persisted but not finished: at start, every one (a crash interrupted them);
   * later, those older than `olderThan` that nobody is processing (the log was down, or — in a cluster — their
   * instance is gone). Deterministic change set ids make this idempotent.
   */
  async recoverUnfinished(olderThan?: Date): Promise<number> {
    const live = (await this.options.liveInstances?.()) ?? [];
    const others = live.filter((i) => i !== this.options.instanceId);
    let recovered = 0;
    for (;;) {
      const batch = await this.options.messages.unfinished({
        ...(olderThan ? { olderThan } : {}),
        limit: 200,
        instances: { exclude: others },
      });
      let progressed = false;
      for (const { id, channel } of batch) {
        if (this.stopped) return recovered;
        const pipeline = this.channels.get(channel)?.pipeline;
        if (!pipeline) continue;
        if (!(await this.options.messages.claim(id, this.options.instanceId, (await this.instanceOf(id)) ?? null)))
          continue;
        try {
          const outcome = await pipeline.reprocess(id, { reason: 'recovery' });
          if (outcome.status !== MessageStatus.Received) {
            recovered++;
            progressed = true;
          }
        } catch (error) {
          this.logger.warn(
            { err: error, channel, messageId: id },
            'reprocessing an unfinished message failed; it stays unfinished',
          );
        }
      }
      if (!progressed || batch.length < 200) break;
    }
    if (recovered > 0) this.logger.info({ recovered }, 'processed messages that a previous run left unfinished');
    return recovered;
  }

  private async instanceOf(id: string): Promise<string | undefined> {
    return (await this.options.messages.instanceOf(id)) ?? undefined;
  }

  /** The projector rejected a change set that a channel produced: the message goes to the error state, an alert fires. */
  async changeSetRejected(changeSetId: string, detail: string): Promise<void> {
    const rows = await this.options.messages.markError(changeSetId, {
      stage: Stage.Apply,
      severity: 'error',
      ...messageError(MessageErrorCode.ChangeSetRejected, { detail }),
    });
    const first = rows[0];
    if (!first) return; // not a channel's change set (or already recorded as refused by its own commit)
    const config = this.channels.get(first.channel)?.config;
    this.stats.count(first.channel, StatName.Errored);
    this.alerts.raise(
      {
        kind: AlertKind.ChangeSetRejected,
        channel: first.channel,
        message: `Message ${first.id} of channel ${first.channel}: the store refused its change set (${detail}).`,
      },
      config?.alerts.webhook,
    );
  }
}
