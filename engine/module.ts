// The channel engine as a hub module: its tables (message store), its admin routes, and its lifecycle —
// start the channels once the store runs, stop them (finishing in-flight messages) before the store stops.
import { resolve } from 'node:path';
import { ConfigError } from '../hub/config.js';
import type { HubContext, HubModule } from '../hub/module.js';
import { PostgresClient } from '../store/sql/postgres-client.js';
import { engineAdminRoutes } from './admin-routes.js';
import { AlertCenter } from './alerts.js';
import { ChannelEngine } from './channel-engine.js';
import { ChannelStats } from './channel-stats.js';
import type { ConnectorFactory } from './connector-factory.js';
import { PostgresDestinationLocks } from './destination-locks.js';
import { EngineError, EngineErrorCode } from './errors.js';
import { loadMapperRegistry, type MapperRegistry } from './mapper-registry.js';
import { engineMigrations, MessageStore } from './message-store.js';

export interface EngineSettings {
  /** Where the `*.channel.yaml` files are (KENEY_CHANNELS_DIR, default ./channels). */
  channelsDir: string;
  /** Messages older than this many days are pruned (KENEY_MESSAGE_RETENTION_DAYS, default 30). */
  retentionDays: number;
}

/** Reads the engine's settings from the environment; a bad value stops the start-up with the fix. */
export function engineSettingsFromEnv(env: NodeJS.ProcessEnv): EngineSettings {
  const days = env.KENEY_MESSAGE_RETENTION_DAYS?.trim();
  const retentionDays = days ? Number(days) : 30;
  if (!Number.isInteger(retentionDays) || retentionDays < 1 || retentionDays > 36_500) {
    throw new ConfigError(
      `KENEY_MESSAGE_RETENTION_DAYS=${days} is not valid: give a whole number of days from 1 to 36500.`,
    );
  }
  return { channelsDir: resolve(env.KENEY_CHANNELS_DIR?.trim() || 'channels'), retentionDays };
}

export interface ChannelsModuleOptions extends Partial<EngineSettings> {
  /** Variables for ${VAR} in channel files (default: the process environment, plus KENEY_MLLP_PORT from the hub config). */
  env?: Readonly<Record<string, string | undefined>>;
  /** The mapper registry (default: mappings/index.ts). */
  mappers?: MapperRegistry;
  connectors?: ConnectorFactory;
  watch?: boolean;
  housekeepingIntervalMs?: number;
  deliveryPollMs?: number;
}

export interface ChannelsModule extends HubModule {
  /** The running engine (after start). */
  readonly engine: ChannelEngine | undefined;
  readonly messages: MessageStore | undefined;
}

const DAY_MS = 86_400_000;

export function channelsModule(options: ChannelsModuleOptions = {}): ChannelsModule {
  const settings = { ...engineSettingsFromEnv({}), ...options };
  let engine: ChannelEngine | undefined;
  let messages: MessageStore | undefined;
  let mappers: MapperRegistry | undefined;
  let env: Readonly<Record<string, string | undefined>> = options.env ?? {};
  let pruneTimer: NodeJS.Timeout | undefined;
  let onOutcome: ((outcome: { changeSetId: string; status: string; response: unknown }) => void) | undefined;
  let hubContext: HubContext | undefined;
  let ownPool: PostgresClient | undefined;

  const notStarted = () =>
    new EngineError(
      EngineErrorCode.ChannelState,
      'The channel engine is not running yet (the hub is starting or stopping); retry in a moment.',
    );

  return {
    name: 'channels',
    migrations: engineMigrations,
    get engine() {
      return engine;
    },
    get messages() {
      return messages;
    },

    async register(app, hub) {
      await app.register(
        engineAdminRoutes({
          engine: () => engine ?? throwError(notStarted()),
          messages: () => messages ?? throwError(notStarted()),
          mappers: () => mappers ?? throwError(notStarted()),
          retentionDays: settings.retentionDays,
          get env() {
            return env;
          },
        }),
        { prefix: '/admin', hub },
      );
    },

    async start(hub) {
      hubContext = hub;
      env = options.env ?? { ...process.env, KENEY_MLLP_PORT: String(hub.config.mllpPort) };
      // On PostgreSQL the message store has its own small pool: its commits are on the ACK path, and must not
      // wait behind the projector's transactions for a connection of the hub's pool.
      ownPool = hub.config.databaseUrl
        ? new PostgresClient(hub.config.databaseUrl, {
            max: 4,
            applicationName: `keney-hub ${hub.config.instanceId} message-store`,
          })
        : undefined;
      messages = new MessageStore(ownPool ?? hub.sql, hub.blobs);
      mappers = options.mappers ?? (await loadMapperRegistry());
      const postgres = hub.sql instanceof PostgresClient ? hub.sql : undefined;
      const logger = hub.logger.child({ component: 'channels' });
      engine = new ChannelEngine({
        channelsDir: settings.channelsDir,
        env,
        mappers,
        messages,
        store: hub.store,
        log: hub.log,
        projector: hub.projector,
        logger,
        instanceId: hub.config.instanceId,
        stats: new ChannelStats(hub.metrics.registry),
        alerts: new AlertCenter(logger, hub.config.instanceId),
        ...(postgres ? { locks: new PostgresDestinationLocks(postgres, logger) } : {}),
        ...(hub.config.profile === 'cluster'
          ? {
              liveInstances: async () =>
                (
                  await hub.sql.query<{ instance_id: string }>(
                    `SELECT instance_id FROM hub_instances WHERE seen_at > now() - interval '15 seconds'`,
                  )
                ).rows.map((r) => r.instance_id),
            }
          : {}),
        ...(options.connectors ? { connectors: options.connectors } : {}),
        ...(options.watch !== undefined ? { watch: options.watch } : {}),
        ...(options.housekeepingIntervalMs ? { housekeepingIntervalMs: options.housekeepingIntervalMs } : {}),
        ...(options.deliveryPollMs ? { deliveryPollMs: options.deliveryPollMs } : {}),
      });
      const running = engine;
      onOutcome = (outcome) => {
        if (outcome.status !== 'rejected') return;
        const issue = (outcome.response as { issue?: { details?: { text?: string }; diagnostics?: string }[] })
          .issue?.[0];
        void running
          .changeSetRejected(outcome.changeSetId, issue?.details?.text ?? issue?.diagnostics ?? 'rejected')
          .catch(() => undefined);
      };
      hub.projector.on('outcome', onOutcome as never);
      await engine.start();
      const prune = () =>
        void messages!
          .prune(new Date(Date.now() - settings.retentionDays * DAY_MS))
          .then((r) => r.days.length > 0 && logger.info(r, 'message store pruned (retention)'))
          .catch((error: Error) => logger.warn({ err: error }, 'pruning the message store failed'));
      prune();
      pruneTimer = setInterval(prune, 6 * 3_600_000);
      pruneTimer.unref();
    },

    async stop() {
      if (pruneTimer) clearInterval(pruneTimer);
      if (onOutcome && hubContext) hubContext.projector.off('outcome', onOutcome as never);
      await engine?.stop();
      await ownPool?.close();
      ownPool = undefined;
    },

    // Ready once the engine runs. A channel that failed to start (port taken…) does not make the whole hub unready:
    // the other channels and the API serve; it shows in /admin/channels with its error, and is logged.
    async ready() {
      return engine ? { ok: true } : { ok: false, reason: 'starting' };
    },
  };
}

function throwError(error: Error): never {
  throw error;
}
