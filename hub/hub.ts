// The composition root: builds one hub from its configuration — database, change log, projector,
// canonical store, audit trail, tokens, HTTP API — plus the capability modules, and runs its lifecycle.
// Building is separate from listening, so tests use `app.inject()` without a port.
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { fhirRoutes, type FhirAccess, type Principal } from '../store/api/fhir-routes.js';
import { AuditTrail, auditMigrations } from '../store/audit/audit-trail.js';
import type { BlobStore } from '../store/blob/blob-store.js';
import { FsBlobStore } from '../store/blob/fs-blob-store.js';
import { CanonicalStore } from '../store/canonical-store.js';
import { loadDefinitions } from '../store/fhir/definitions.js';
import { fhirErrors } from '../store/fhir/outcome.js';
import type { ChangeLog } from '../store/log/change-log.js';
import { SqlChangeLog } from '../store/log/sql-log.js';
import { storeMigrations } from '../store/migrations.js';
import { Projector } from '../store/projection/projector.js';
import { migrate } from '../store/sql/migrate.js';
import { PgliteClient } from '../store/sql/pglite-client.js';
import { PostgresClient } from '../store/sql/postgres-client.js';
import type { SqlClient } from '../store/sql/sql-client.js';
import { adminRoutes } from './admin-routes.js';
import { Profile, type HubConfig } from './config.js';
import { lockDataDir } from './data-dir-lock.js';
import { prepareEmbeddedDatabase } from './embedded-database.js';
import { createLogger } from './logger.js';
import { createMetrics } from './metrics.js';
import type { HubContext, HubModule } from './module.js';
import { APPLIED_CHANNEL, PartitionOwnership, clusterMigrations } from './partition-ownership.js';
import { checkLogSettings, settingsMigrations } from './settings.js';
import { Role, TokenStore, tokenMigrations, type TokenPrincipal } from './tokens.js';

export const HUB_VERSION: string = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

export interface Hub {
  app: FastifyInstance;
  context: HubContext;
  /** The admin token generated on the very first start (undefined afterwards): show it once. */
  firstAdminToken: string | undefined;
  /**
   * Milliseconds spent in each phase of building and starting this hub, in order (`definitions`, `database`,
   * `migrations`, …, `modules.<name>.start`, `listen`): where a slow start goes, logged by `keney serve`.
   */
  startup: Record<string, number>;
  /** Starts the projector and the modules, then listens; resolves with the URL. */
  start(): Promise<string>;
  /** Graceful stop: no new requests, in-flight work finished, everything closed. */
  stop(): Promise<void>;
}

export interface CreateHubOptions {
  modules?: HubModule[];
  logger?: Logger;
  /** Opens the database (tests pass a prepared one); by default from the configuration. */
  sql?: SqlClient;
  /** Offline administration (CLI): no first-start token is created. */
  offline?: boolean;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal?: TokenPrincipal;
  }
}

async function openDatabase(config: HubConfig, logger: Logger): Promise<SqlClient> {
  if (config.databaseUrl)
    return new PostgresClient(config.databaseUrl, { max: 16, applicationName: `keney-hub ${config.instanceId}` });
  const dir = join(config.dataDir, 'pglite');
  await prepareEmbeddedDatabase(dir, logger);
  return PgliteClient.open(dir);
}

async function openLog(config: HubConfig, sql: SqlClient, logger: Logger): Promise<ChangeLog> {
  if (config.profile === Profile.Cluster) {
    const { KafkaChangeLog } = await import('../store/log/kafka-log.js');
    return new KafkaChangeLog({
      ...config.kafka!,
      brokers: config.kafkaBrokers!,
      topic: config.kafkaTopic,
      partitions: config.logPartitions,
      clientId: `keney-hub-${config.instanceId}`,
      logger,
    });
  }
  return new SqlChangeLog(sql, { partitions: config.logPartitions });
}

const ACCESS_ROLES: Record<FhirAccess, string[]> = {
  read: [Role.Admin, Role.Write, Role.Read],
  write: [Role.Admin, Role.Write],
};

export async function createHub(config: HubConfig, options: CreateHubOptions = {}): Promise<Hub> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const modules = options.modules ?? [];
  const startup: Record<string, number> = {};
  let phaseStarted = performance.now();
  const phase = (name: string): void => {
    const now = performance.now();
    startup[name] = Math.round(now - phaseStarted);
    phaseStarted = now;
  };
  await mkdir(config.dataDir, { recursive: true });
  const releaseLock =
    config.profile === Profile.Embedded && !options.sql ? await lockDataDir(config.dataDir) : async () => undefined;
  phase('data dir');
  let sql: SqlClient | undefined;
  let closeBlobs = (): void => undefined;
  try {
    // The database opens while the definitions are indexed: PGlite compiles its WebAssembly on V8's background
    // threads and reads its files asynchronously, the indexing is synchronous JavaScript on this one.
    const opening = options.sql ? Promise.resolve(options.sql) : openDatabase(config, logger);
    opening.catch(() => undefined); // awaited below; not unhandled if the definitions throw first
    try {
      loadDefinitions();
    } catch (error) {
      await opening.then((db) => (options.sql ? undefined : db.close())).catch(() => undefined);
      throw error;
    }
    phase('definitions');
    sql = await opening;
    phase('database');
    await migrate(sql, [
      ...storeMigrations,
      ...auditMigrations,
      ...tokenMigrations,
      ...settingsMigrations,
      ...clusterMigrations,
      ...modules.flatMap((m) => m.migrations ?? []),
    ]);
    phase('migrations');
    await checkLogSettings(sql, config);
    const log = await openLog(config, sql, logger);
    await log.init();
    phase('log');
    const metrics = createMetrics();
    const postgres = config.profile === Profile.Cluster && sql instanceof PostgresClient ? sql : undefined;
    const projector = new Projector(sql, log, {
      logger: logger.child({ component: 'projector' }),
      // Cluster: tell the other instances which change sets were applied (their REST calls may be waiting).
      ...(postgres
        ? {
            onCommitted: async (outcomes) => {
              for (let i = 0; i < outcomes.length; i += 150) {
                const ids = outcomes
                  .slice(i, i + 150)
                  .map((o) => o.changeSetId)
                  .join(',');
                await postgres.query('SELECT pg_notify($1, $2)', [APPLIED_CHANNEL, ids]);
              }
            },
          }
        : {}),
    });
    const store = new CanonicalStore(sql, log, projector, {
      applyTimeoutMs: config.applyTimeoutMs,
      ...(config.publicUrl ? { search: { baseUrl: `${config.publicUrl}/fhir` } } : {}),
    });
    projector.on('outcome', (outcome) => metrics.changeSets.inc({ status: outcome.status }));
    const audit = new AuditTrail(sql, `${config.instanceId}@${new Date().toISOString()}`, config.auditDurability);
    const tokens = new TokenStore(sql);
    let firstAdminToken: string | undefined;
    if (config.adminToken) await tokens.ensure('KENEY_ADMIN_TOKEN', config.adminToken, [Role.Admin]);
    else if (!options.offline && (await tokens.count()) === 0)
      firstAdminToken = (await tokens.create('first admin', [Role.Admin])).token;
    phase('tokens');

    const principalOf = (request: FastifyRequest): TokenPrincipal => {
      if (!request.principal)
        throw fhirErrors.unauthorized(
          'Authentication required: send Authorization: Bearer <token> (see `keney token create`).',
        );
      return request.principal;
    };
    const requireRole = (principal: TokenPrincipal, ...roles: string[]): void => {
      if (!principal.roles.some((r) => roles.includes(r))) {
        throw fhirErrors.forbidden(
          `This needs one of the roles ${roles.join(', ')}; the token "${principal.name}" has ${principal.roles.join(', ') || 'none'}.`,
        );
      }
    };
    let blobs: BlobStore;
    if (config.s3) {
      // Loaded only when used: the AWS SDK is large, and on Node 20 it prints a deprecation warning at load.
      const { S3BlobStore } = await import('../store/blob/s3-blob-store.js');
      const s3 = new S3BlobStore(config.s3);
      await s3.init();
      blobs = s3;
      closeBlobs = () => s3.close();
    } else {
      blobs = new FsBlobStore(join(config.dataDir, 'blobs'));
    }
    const context: HubContext = {
      config,
      sql,
      log,
      projector,
      store,
      blobs,
      audit,
      tokens,
      logger,
      metrics,
      principalOf,
      requireRole,
    };

    const app: FastifyInstance = Fastify({
      loggerInstance: logger as unknown as FastifyBaseLogger,
      bodyLimit: config.bodyLimit,
      requestIdHeader: 'x-request-id',
      trustProxy: true,
    });
    app.addHook('onRequest', async (request) => {
      const auth = request.headers.authorization;
      if (auth?.startsWith('Bearer ')) {
        const principal = await tokens.verify(auth.slice(7).trim());
        if (principal) request.principal = principal;
      }
    });
    app.addHook('onResponse', async (request, reply) => {
      metrics.httpDuration.observe(
        { method: request.method, route: request.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) },
        reply.elapsedTime / 1000,
      );
    });
    app.get('/healthz', async () => ({ status: 'ok' }));
    app.get('/readyz', async (_request, reply) => {
      const checks: Record<string, string> = {};
      try {
        await sql!.query('SELECT 1');
        checks.database = 'ok';
      } catch (error) {
        checks.database = `down: ${(error as Error).message}`;
      }
      checks.projector = projector.owned().length > 0 || config.profile === Profile.Cluster ? 'ok' : 'not running';
      for (const module of modules) {
        if (!module.ready) continue;
        const state = await module.ready().catch((error: Error) => ({ ok: false, reason: error.message }));
        checks[module.name] = state.ok ? 'ok' : `not ready: ${state.reason ?? ''}`;
      }
      const ok = Object.values(checks).every((v) => v === 'ok');
      return reply.code(ok ? 200 : 503).send({ status: ok ? 'ready' : 'not ready', checks });
    });
    app.get('/metrics', async (_request, reply) => {
      const ends = await log.endOffsets().catch(() => undefined);
      if (ends) {
        for (const [partition, end] of ends.entries()) {
          const position = projector.positions.get(partition) ?? (await projector.nextOffset(partition));
          metrics.projectionLag.set({ partition: String(partition) }, Math.max(0, end - position));
        }
      }
      return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
    });
    await app.register(fhirRoutes, {
      prefix: '/fhir',
      store,
      audit,
      version: HUB_VERSION,
      ...(config.publicUrl ? { publicBaseUrl: `${config.publicUrl}/fhir` } : {}),
      principalOf: (request: FastifyRequest): Principal => principalOf(request),
      authorize: (principal: Principal, access: FhirAccess) =>
        requireRole(principal as TokenPrincipal, ...ACCESS_ROLES[access]),
    });
    await app.register(adminRoutes, { prefix: '/admin', hub: context });
    phase('routes');
    for (const module of modules) {
      if (!module.register) continue;
      await module.register(app, context);
      phase(`modules.${module.name}.register`);
    }

    let ownership: PartitionOwnership | undefined;
    const hub: Hub = {
      app,
      context,
      firstAdminToken,
      startup,
      async start() {
        phaseStarted = performance.now();
        if (postgres) {
          ownership = new PartitionOwnership(
            postgres,
            log.partitions,
            config.instanceId,
            {
              assign: (partitions) => projector.assign(partitions),
              revoke: (partitions) => projector.revoke(partitions),
              notified: (ids) => void store.outcomes.notified(ids).catch(() => undefined),
            },
            logger.child({ component: 'ownership' }),
          );
          await ownership.start();
        } else {
          projector.assign([...Array(log.partitions).keys()]);
        }
        phase('projector');
        for (const module of modules) {
          if (!module.start) continue;
          await module.start(context);
          phase(`modules.${module.name}.start`);
        }
        const url = await app.listen({ host: config.httpHost, port: config.httpPort });
        phase('listen');
        return url;
      },
      async stop() {
        // HTTP first (in-flight writes still need the projector to answer), then modules, then the store.
        await app.close();
        for (const module of [...modules].reverse())
          await module
            .stop?.()
            .catch((error: Error) => logger.error({ err: error, module: module.name }, 'module stop failed'));
        if (ownership) await ownership.stop();
        await projector.stop();
        store.close();
        await audit.flush();
        await log.close();
        closeBlobs();
        if (!options.sql) await sql!.close();
        await releaseLock();
      },
    };
    return hub;
  } catch (error) {
    closeBlobs();
    if (sql && !options.sql) await sql.close().catch(() => undefined);
    await releaseLock();
    throw error;
  }
}
