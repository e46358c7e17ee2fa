// DICOM in the hub (a HubModule): the DIMSE SCP on KENEY_DICOM_PORT with AE title KENEY_DICOM_AE_TITLE,
// DICOMweb at /dicomweb (authenticated like /fhir, every access audited), the archive in the hub's database
// and blob store, and every stored instance put into the canonical record (ImagingStudy, Patient,
// ServiceRequest, DiagnosticReport for SR, DocumentReference for encapsulated PDF/CDA) before the sender is
// answered. DIMSE reads (C-FIND, C-MOVE, C-GET) are audited too.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { TlsOptions } from 'node:tls';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Counter } from 'prom-client';
import type { Logger } from 'pino';
import { ConfigError } from '../../../hub/config.js';
import type { HubContext, HubModule } from '../../../hub/module.js';
import { Role, type TokenPrincipal } from '../../../hub/tokens.js';
import { AuditAction, type AuditEventInput } from '../../../store/audit/audit-trail.js';
import { OriginKind } from '../../../store/change-set.js';
import { isFhirError } from '../../../store/fhir/outcome.js';
import { parseSearch } from '../../../store/search/search-query.js';
import { DicomService, InstanceProcessingError, type DimseAccess, type InstanceStoredEvent } from '../dicom-service.js';
import { dicomWebPlugin } from '../dicomweb/plugin.js';
import type { RemoteAe } from '../dimse/scu.js';
import { ChannelStats } from '../../../engine/channel-stats.js';
import { PostgresDestinationLocks } from '../../../engine/destination-locks.js';
import { EngineError, EngineErrorCode } from '../../../engine/errors.js';
import type { ChannelsModule } from '../../../engine/module.js';
import { engineMigrations, MessageStore } from '../../../engine/message-store.js';
import { PostgresClient } from '../../../store/sql/postgres-client.js';
import { DicomChannelDirectory } from '../channels/directory.js';
import { DicomChannels } from '../channels/router.js';
import { dicomMigrations } from '../index/migrations.js';
import { dicomWebEndpoint } from '../record/endpoint.js';
import { uuidV5 } from '../../../store/uuid.js';
import { escapeSearchValue } from '../record/identity.js';
import { StudyRecorder, type StudyRecorderOptions } from '../record/study-recorder.js';

export const DICOMWEB_PATH = '/dicomweb';

export interface DicomSettings {
  /** Address the DIMSE SCP listens on (KENEY_DICOM_HOST, default 0.0.0.0). */
  host: string;
  /** Calling AE titles allowed to associate (KENEY_DICOM_ALLOWED_AES, comma list; default: any). */
  allowedCallingAeTitles?: string[];
  /** Remote AEs for C-MOVE (KENEY_DICOM_REMOTE_AES: `PACS2@10.0.0.5:104,VIEWER@host:11112`). */
  remoteAes?: Record<string, Omit<RemoteAe, 'aeTitle'>>;
  /** TLS for DIMSE (KENEY_DICOM_TLS_CERT, _KEY, _CA PEM files; KENEY_DICOM_TLS_REQUIRE_CLIENT_CERT=true). */
  tls?: TlsOptions;
  maxAssociations?: number;
  /** Largest instance accepted, bytes (KENEY_DICOM_MAX_INSTANCE_BYTES). */
  maxInstanceBytes?: number;
  /** How instances become the record (KENEY_DICOM_DEFAULT_ISSUER, KENEY_DICOM_ACCESSION_SYSTEM, KENEY_DICOM_TIME_ZONE). */
  record: StudyRecorderOptions;
  /** Where the DICOM channel files are (KENEY_DICOM_CHANNELS_DIR, default <KENEY_CHANNELS_DIR or ./channels>/dicom). */
  channelsDir: string;
}

export interface DicomModuleOptions extends Partial<DicomSettings> {
  /** Override the hub's AE title / port (tests: port 0). */
  aeTitle?: string;
  port?: number;
  /** Start the DIMSE listener (default true). */
  dimse?: boolean;
  /**
   * The hub's channel engine module, when it runs in the same hub: its tables are then already there and the
   * DICOM channels count in its statistics (/metrics). Without it, this module brings the message store tables.
   */
  channels?: ChannelsModule;
  /** Variables for ${VAR} in DICOM channel files (default: the process environment). */
  env?: Readonly<Record<string, string | undefined>>;
  /** Delivery workers look for work queued by another instance this often (default 1 s). */
  deliveryPollMs?: number;
  /** Watch the DICOM channels directory and apply its changes (default true). */
  watch?: boolean;
}

export interface DicomModule extends HubModule {
  /** The DICOM service (after register). */
  readonly service: DicomService | undefined;
  readonly recorder: StudyRecorder | undefined;
  /** The DICOM channels (after start). */
  readonly channels: DicomChannels | undefined;
  /** Their files (after start): reload, the last reload, the invalid files. */
  readonly channelFiles: DicomChannelDirectory | undefined;
  /** The DIMSE port actually listened on (after start). */
  readonly dimsePort: number | undefined;
}

const AE_TITLE = /^[\x20-\x5b\x5d-\x7e]{1,16}$/;

export function checkAeTitle(name: string, value: string): string {
  if (!AE_TITLE.test(value) || value.trim() === '') {
    throw new ConfigError(
      `${name}="${value}" is not a valid AE title: use 1 to 16 printable ASCII characters without backslash (e.g. KENEY).`,
    );
  }
  return value;
}

function parseRemoteAes(raw: string): Record<string, Omit<RemoteAe, 'aeTitle'>> {
  const out: Record<string, Omit<RemoteAe, 'aeTitle'>> = {};
  for (const item of raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const m = /^([^@]{1,16})@(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(item);
    if (!m || Number(m[3]) > 65535) {
      throw new ConfigError(`KENEY_DICOM_REMOTE_AES: "${item}" is not AE@host:port (e.g. PACS2@10.0.0.5:104).`);
    }
    out[checkAeTitle('KENEY_DICOM_REMOTE_AES', m[1]!)] = { host: m[2]!.replace(/^\[|\]$/g, ''), port: Number(m[3]) };
  }
  return out;
}

function positive(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const raw = env[name]?.trim();
  if (!raw) return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1)
    throw new ConfigError(`${name}=${raw} is not valid: expected a positive integer.`);
  return value;
}

/** The module's settings from the environment; a bad value stops the start with the fix. */
export function dicomSettingsFromEnv(env: NodeJS.ProcessEnv): DicomSettings {
  const allowed = env.KENEY_DICOM_ALLOWED_AES?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const file = (name: string): Buffer | undefined => {
    const path = env[name]?.trim();
    if (!path) return undefined;
    try {
      return readFileSync(path);
    } catch (error) {
      throw new ConfigError(
        `${name}=${path} cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}): give the path of a PEM file.`,
      );
    }
  };
  const cert = file('KENEY_DICOM_TLS_CERT');
  const key = file('KENEY_DICOM_TLS_KEY');
  const ca = file('KENEY_DICOM_TLS_CA');
  if ((cert && !key) || (key && !cert))
    throw new ConfigError('DICOM TLS needs both KENEY_DICOM_TLS_CERT and KENEY_DICOM_TLS_KEY.');
  const requireClient = env.KENEY_DICOM_TLS_REQUIRE_CLIENT_CERT?.trim() === 'true';
  const timeZone = env.KENEY_DICOM_TIME_ZONE?.trim();
  if (timeZone) {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone });
    } catch {
      throw new ConfigError(`KENEY_DICOM_TIME_ZONE=${timeZone} is not an IANA time zone (e.g. Europe/Paris).`);
    }
  }
  const accessionSystem = env.KENEY_DICOM_ACCESSION_SYSTEM?.trim();
  if (accessionSystem && !/^(urn:|https?:\/\/)\S+$/.test(accessionSystem)) {
    throw new ConfigError(
      `KENEY_DICOM_ACCESSION_SYSTEM=${accessionSystem} must be a URI (urn:oid:1.2.3… or https://…).`,
    );
  }
  const maxAssociations = positive(env, 'KENEY_DICOM_MAX_ASSOCIATIONS');
  const maxInstanceBytes = positive(env, 'KENEY_DICOM_MAX_INSTANCE_BYTES');
  const defaultIssuer = env.KENEY_DICOM_DEFAULT_ISSUER?.trim();
  return {
    host: env.KENEY_DICOM_HOST?.trim() || '0.0.0.0',
    channelsDir: resolve(
      env.KENEY_DICOM_CHANNELS_DIR?.trim() || join(env.KENEY_CHANNELS_DIR?.trim() || 'channels', 'dicom'),
    ),
    ...(allowed?.length
      ? { allowedCallingAeTitles: allowed.map((a) => checkAeTitle('KENEY_DICOM_ALLOWED_AES', a)) }
      : {}),
    ...(env.KENEY_DICOM_REMOTE_AES?.trim() ? { remoteAes: parseRemoteAes(env.KENEY_DICOM_REMOTE_AES) } : {}),
    ...(cert && key
      ? {
          tls: {
            cert,
            key,
            ...(ca ? { ca } : {}),
            ...(requireClient ? { requestCert: true, rejectUnauthorized: true } : {}),
          },
        }
      : {}),
    ...(maxAssociations ? { maxAssociations } : {}),
    ...(maxInstanceBytes ? { maxInstanceBytes } : {}),
    record: {
      ...(defaultIssuer ? { defaultIssuer } : {}),
      ...(accessionSystem ? { accessionSystem } : {}),
      ...(timeZone ? { timeZone } : {}),
    },
  };
}

/** Study Instance UID → the Patient ids of its ImagingStudy (for audit rows); bounded, refreshed by each record. */
class StudyPatients {
  private readonly known = new Map<string, string[]>();
  constructor(private readonly limit = 10_000) {}

  get(study: string): string[] | undefined {
    return this.known.get(study);
  }

  set(study: string, patients: string[]): void {
    this.known.delete(study);
    this.known.set(study, patients);
    if (this.known.size > this.limit) this.known.delete(this.known.keys().next().value!);
  }
}

interface DicomWebAudit {
  action: AuditAction;
  study?: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    dicomAudit?: DicomWebAudit;
  }
}

export function dicomModule(options: DicomModuleOptions = {}): DicomModule {
  let service: DicomService | undefined;
  let recorder: StudyRecorder | undefined;
  let hubContext: HubContext | undefined;
  let logger: Logger | undefined;
  let started = false;
  let dimseError: string | undefined;
  let router: DicomChannels | undefined;
  let unregisterFromEngine: (() => void) | undefined;
  let channelFiles: DicomChannelDirectory | undefined;
  let settings: DicomSettings | undefined;
  const studyPatients = new StudyPatients();
  let instances: Counter<'protocol' | 'outcome'> | undefined;

  /** The Patient ids of a study's ImagingStudy, from the record (cached). */
  const patientsOfStudy = async (hub: HubContext, study: string): Promise<string[]> => {
    const cached = studyPatients.get(study);
    if (cached) return cached;
    try {
      const result = await hub.store.search(
        parseSearch(
          'ImagingStudy',
          new URLSearchParams({ identifier: `urn:dicom:uid|${escapeSearchValue(`urn:oid:${study}`)}` }),
          { strict: false, defaultCount: 2 },
        ),
      );
      const ids = result.matches.flatMap((m) => {
        const ref = (JSON.parse(m.content) as { subject?: { reference?: string } }).subject?.reference;
        return ref?.startsWith('Patient/') ? [ref.slice('Patient/'.length)] : [];
      });
      if (ids.length > 0) studyPatients.set(study, ids);
      return ids;
    } catch {
      return [];
    }
  };

  const auditDimse = async (hub: HubContext, access: DimseAccess): Promise<void> => {
    const patientIds = [
      ...new Set((await Promise.all(access.studies.slice(0, 20).map((s) => patientsOfStudy(hub, s)))).flat()),
    ];
    const keys = access.query.matches.map((m) => `${m.tag.toString(16).padStart(8, '0')}=${m.value}`).join('&');
    await hub.audit.record({
      actor: `dicom:${access.association?.callingAeTitle ?? 'unknown'}`,
      action: access.kind === 'find' ? AuditAction.Search : AuditAction.Read,
      resourceType: 'ImagingStudy',
      query:
        `${access.kind === 'find' ? 'C-FIND' : 'C-MOVE/C-GET'} ${access.query.level} ${keys} (${access.count})`.slice(
          0,
          2000,
        ),
      outcome: 200,
      ...(access.association?.remoteAddress ? { sourceIp: access.association.remoteAddress } : {}),
      ...(access.association?.id ? { requestId: access.association.id } : {}),
      purpose: 'TREAT',
      ...(patientIds.length ? { patientIds } : {}),
    });
  };

  const route = async (event: InstanceStoredEvent): Promise<void> => {
    const protocol = event.source.protocol;
    if (!router) {
      throw new InstanceProcessingError(
        'DICOM_NOT_STARTED',
        'The hub is starting or stopping: send again in a moment.',
        0xa700,
        {
          comment: 'Hub starting, send again later',
        },
      );
    }
    try {
      const results = await router.route(event);
      instances?.inc({ protocol, outcome: results.some((r) => r.changeSetId) ? 'recorded' : 'archived' });
    } catch (error) {
      instances?.inc({
        protocol,
        outcome: (error as { code?: string }).code === 'DICOM_RECORD_UNAVAILABLE' ? 'unavailable' : 'refused',
      });
      logger?.warn(
        {
          code: (error as { code?: string }).code,
          study: event.identity.studyInstanceUid,
          sopInstanceUid: event.identity.sopInstanceUid,
        },
        (error as Error).message,
      );
      throw error;
    }
  };

  const module: DicomModule = {
    name: 'dicom',
    migrations: [...dicomMigrations, ...(options.channels ? [] : engineMigrations)],
    get service() {
      return service;
    },
    get recorder() {
      return recorder;
    },
    get channels() {
      return router;
    },
    get channelFiles() {
      return channelFiles;
    },
    get dimsePort() {
      return service?.dimsePort;
    },

    async register(app: FastifyInstance, hub: HubContext) {
      hubContext = hub;
      logger = hub.logger.child({ component: 'dicom' });
      settings = { ...dicomSettingsFromEnv({}), ...options, record: { ...options.record } };
      const aeTitle = checkAeTitle('KENEY_DICOM_AE_TITLE', options.aeTitle ?? hub.config.dicomAeTitle);
      instances = new Counter({
        name: 'keney_dicom_instances_total',
        help: 'DICOM instances received, by protocol (dimse, stow-rs) and outcome (recorded, durable, refused, unavailable)',
        labelNames: ['protocol', 'outcome'],
        registers: [hub.metrics.registry],
      });
      const associations = new Counter({
        name: 'keney_dicom_associations_total',
        help: 'DIMSE associations by outcome (accepted, rejected, protocol-error)',
        labelNames: ['outcome'],
        registers: [hub.metrics.registry],
      });
      service = await DicomService.create({
        sql: hub.sql,
        blobs: hub.blobs,
        aeTitle,
        port: options.port ?? hub.config.dicomPort,
        host: settings.host,
        migrate: false,
        ...(settings.allowedCallingAeTitles ? { allowedCallingAeTitles: settings.allowedCallingAeTitles } : {}),
        ...(settings.remoteAes ? { remoteAes: settings.remoteAes } : {}),
        ...(settings.tls ? { tls: settings.tls } : {}),
        ...(settings.maxAssociations ? { maxAssociations: settings.maxAssociations } : {}),
        ...(settings.maxInstanceBytes ? { maxInstanceBytes: settings.maxInstanceBytes } : {}),
        onScpEvent: (event) => {
          switch (event.type) {
            case 'association-accepted':
              associations.inc({ outcome: 'accepted' });
              break;
            case 'association-rejected':
              associations.inc({ outcome: 'rejected' });
              logger?.warn(
                { callingAeTitle: event.callingAeTitle, remoteAddress: event.remoteAddress },
                `DICOM association rejected: ${event.why}`,
              );
              break;
            case 'protocol-error':
              associations.inc({ outcome: 'protocol-error' });
              logger?.warn({ remoteAddress: event.remoteAddress }, `DICOM protocol error: ${event.message}`);
              break;
            case 'request-failed':
              logger?.warn(
                { callingAeTitle: event.association.callingAeTitle, command: event.command },
                `DICOM request failed: ${event.message}`,
              );
              break;
            case 'association-closed':
              break;
            default:
              event satisfies never;
          }
        },
        onAccess: (access) => auditDimse(hub, access),
      });
      recorder = new StudyRecorder(
        {
          store: hub.store,
          index: service.index,
          sql: hub.sql,
          logger: logger,
          onRecorded: ({ studyInstanceUid, result }) => {
            const patient = result.patient?.split('/')[1];
            if (patient) studyPatients.set(studyInstanceUid, [patient]);
          },
        },
        { outcomeTimeoutMs: Math.min(hub.config.applyTimeoutMs, 10_000), ...settings.record },
      );
      service.onInstanceStored(route);

      // What an administrator asks first: is DIMSE listening, as whom, and what does the archive hold.
      app.get('/admin/dicom', async (request) => {
        hub.requireRole(hub.principalOf(request), Role.Admin);
        await router?.refreshQueueDepths();
        return {
          aeTitle,
          dimse: {
            enabled: options.dimse !== false,
            listening: service?.dimsePort !== undefined,
            port: service?.dimsePort ?? null,
            error: dimseError ?? null,
            allowedCallingAeTitles: settings!.allowedCallingAeTitles ?? null,
            remoteAes: Object.keys(settings!.remoteAes ?? {}),
          },
          dicomweb: DICOMWEB_PATH,
          archive: await service!.index.counts(),
          ...channelListing(),
        };
      });
      // The DICOM channels alone: what runs (with the error of a file changed into something invalid), the files
      // that run nothing, the queues of removed channels, and the last reload.
      app.get('/admin/dicom/channels', async (request) => {
        hub.requireRole(hub.principalOf(request), Role.Admin, Role.Write, Role.Read);
        await router?.refreshQueueDepths();
        return channelListing();
      });
      // Re-read the directory now (it is also watched): for file systems that do not report changes.
      app.post('/admin/dicom/channels/reload', async (request, reply) => {
        const principal = hub.principalOf(request);
        hub.requireRole(principal, Role.Admin);
        if (!channelFiles)
          return reply.code(503).send({
            error: {
              code: 'DICOM_NOT_STARTED',
              message: 'The DICOM module is starting or stopping; retry in a moment.',
            },
          });
        const result = await channelFiles.reload();
        await hub.audit.record({
          actor: principal.id,
          action: AuditAction.Operation,
          query: `DICOM channels reloaded: ${JSON.stringify({ added: result.added, updated: result.updated, removed: result.removed, invalid: result.invalid })}`,
          outcome: 200,
          sourceIp: request.ip,
          requestId: String(request.id),
        });
        await router?.refreshQueueDepths();
        return { ...result, ...channelListing() };
      });
      // Replay a DICOM message: the whole channel again, or one destination (`store` = the record only).
      app.post<{ Params: { id: string }; Body: { destination?: string } | undefined }>(
        '/admin/dicom/messages/:id/replay',
        async (request, reply) => {
          const principal = hub.principalOf(request);
          hub.requireRole(principal, Role.Admin, Role.Write);
          if (!router)
            return reply.code(503).send({
              error: {
                code: 'DICOM_NOT_STARTED',
                message: 'The DICOM module is starting or stopping; retry in a moment.',
              },
            });
          try {
            const result = await router.replay(request.params.id, {
              ...(request.body?.destination ? { destination: request.body.destination } : {}),
              by: principal.name,
            });
            await hub.audit.record({
              actor: principal.id,
              action: AuditAction.Operation,
              query: `replay DICOM message ${request.params.id}${request.body?.destination ? ` to ${request.body.destination}` : ''}`,
              outcome: 200,
              sourceIp: request.ip,
              requestId: String(request.id),
            });
            const { error, ...rest } = result;
            return { ...rest, ...(error ? { error: { code: error.code, message: error.message } } : {}) };
          } catch (error) {
            const status = (error as { statusCode?: number }).statusCode ?? 500;
            return reply.code(status).send({
              error: {
                code: status === 404 ? 'DICOM_NOT_FOUND' : status === 409 ? 'DICOM_CONFLICT' : 'DICOM_REPLAY_FAILED',
                message: (error as Error).message,
              },
            });
          }
        },
      );

      await app.register(
        async (scope) => {
          scope.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
            let principal: TokenPrincipal;
            try {
              principal = hub.principalOf(request);
              hub.requireRole(
                principal,
                ...(request.method === 'POST' ? [Role.Admin, Role.Write] : [Role.Admin, Role.Write, Role.Read]),
              );
            } catch (error) {
              const status = isFhirError(error) ? error.status : 401;
              if (status === 401) reply.header('WWW-Authenticate', 'Bearer realm="keney"');
              return reply.code(status).send({
                error: {
                  code: status === 401 ? 'DICOMWEB_UNAUTHORIZED' : 'DICOMWEB_FORBIDDEN',
                  message: (error as Error).message,
                },
              });
            }
            const study = (request.params as { study?: string } | undefined)?.study;
            request.dicomAudit = {
              action:
                request.method === 'POST'
                  ? AuditAction.Create
                  : /\/(studies|series|instances)\/?$/.test(request.routeOptions.url ?? '')
                    ? AuditAction.Search
                    : AuditAction.Read,
              ...(study ? { study } : {}),
            };
            return undefined;
          });
          // Audit before the answer leaves: a read that cannot be audited is not answered.
          scope.addHook('onSend', async (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
            const context = request.dicomAudit;
            if (!context || !request.principal) return payload;
            const patientIds = context.study ? await patientsOfStudy(hub, context.study) : [];
            const event: AuditEventInput = {
              actor: request.principal.id,
              action: context.action,
              resourceType: 'ImagingStudy',
              query: `${request.method} ${request.url}`.slice(0, 2000),
              outcome: reply.statusCode,
              sourceIp: request.ip,
              requestId: String(request.id),
              purpose:
                typeof request.headers['x-purpose-of-use'] === 'string' ? request.headers['x-purpose-of-use'] : 'TREAT',
              ...(patientIds.length ? { patientIds } : {}),
            };
            await hub.audit.record(event);
            return payload;
          });
          await scope.register(dicomWebPlugin, {
            service: service!,
            ...(hub.config.publicUrl ? { publicBaseUrl: `${hub.config.publicUrl}${DICOMWEB_PATH}` } : {}),
            sourceOf: (request) => (request.principal ? { user: request.principal.name } : {}),
          });
        },
        { prefix: DICOMWEB_PATH },
      );
    },

    async start(hub: HubContext) {
      // The Endpoint every ImagingStudy points to: durable now, applied with the log (unchanged → nothing written).
      const endpoint = dicomWebEndpoint(hub.config.publicUrl, DICOMWEB_PATH);
      const changeSet = await hub.store.changeSet({
        id: uuidV5(`dicom-endpoint/${JSON.stringify(endpoint)}`),
        bundle: {
          resourceType: 'Bundle',
          type: 'transaction',
          entry: [{ resource: endpoint, request: { method: 'PUT', url: `Endpoint/${endpoint.id}` } }],
        },
        origin: { kind: OriginKind.System, actor: 'dicom', reason: 'DICOMweb endpoint of the hub' },
      });
      await hub.store.append(changeSet);

      // The DICOM channels: the files of channels/dicom/, or the built-in one (everything into the record).
      channelFiles = new DicomChannelDirectory({
        directory: settings!.channelsDir,
        env: options.env ?? process.env,
        takenIds: () => options.channels?.engine?.ids() ?? [],
        logger: logger!,
      });
      const channelsToRun = await channelFiles.initial();
      // Raw messages always in the blob store: the same bytes as the archived file, kept once.
      const messages = new MessageStore(hub.sql, hub.blobs, { inlineRawLimit: 0 });
      await messages.ensurePartitions();
      const engineStats = options.channels?.engine?.stats;
      const postgres = hub.sql instanceof PostgresClient ? hub.sql : undefined;
      router = new DicomChannels(channelsToRun, {
        messages,
        recorder: recorder!,
        archive: service!,
        stats: engineStats ?? ownStats(hub),
        logger: logger!,
        aeTitle: service!.aeTitle,
        instanceId: hub.config.instanceId,
        ...(postgres ? { locks: new PostgresDestinationLocks(postgres, logger!) } : {}),
        ...(options.deliveryPollMs ? { deliveryPollMs: options.deliveryPollMs } : {}),
      });
      await router.start();
      channelFiles.attach(router, options.watch !== false);
      logger?.info({ channels: router.ids() }, 'DICOM channels running');
      // The console replays from one place: the engine's /admin/messages routes hand DICOM messages to us.
      unregisterFromEngine = options.channels?.engine?.registerModuleChannels({
        kind: 'DICOM',
        replayRoute: '/admin/dicom/messages/:id/replay',
        owns: (channelId) => (router?.ids().includes(channelId) || router?.isRetired(channelId)) ?? false,
        replay: async (messageId, replayOptions) => {
          if (!router)
            throw new EngineError(EngineErrorCode.ChannelState, 'The DICOM module is stopping; retry in a moment.');
          try {
            const { error, ...rest } = await router.replay(messageId, replayOptions);
            return { ...rest, ...(error ? { error: { code: error.code, message: error.message } } : {}) };
          } catch (error) {
            const status = (error as { statusCode?: number }).statusCode;
            if (status === 404)
              throw new EngineError(
                /no destination/.test((error as Error).message)
                  ? EngineErrorCode.DestinationNotFound
                  : EngineErrorCode.MessageNotFound,
                (error as Error).message,
              );
            if (status === 409) throw new EngineError(EngineErrorCode.ChannelState, (error as Error).message);
            throw error;
          }
        },
      });
      started = true;
      if (options.dimse !== false) await listen();
    },

    async stop() {
      started = false;
      if (retryTimer) clearTimeout(retryTimer);
      retryTimer = undefined;
      unregisterFromEngine?.();
      unregisterFromEngine = undefined;
      await channelFiles?.close();
      await service?.stop();
      await router?.stop();
      router = undefined;
    },

    // The hub serves (API, DICOMweb) even when the DIMSE port cannot be bound; /admin/dicom says why, the log too.
    async ready() {
      return started ? { ok: true } : { ok: false, reason: 'starting' };
    },
  };

  /** The DICOM channels as an administrator reads them (`refreshQueueDepths()` first for fresh counts). */
  const channelListing = () => {
    const views = router?.view() ?? [];
    return {
      channelsDir: settings!.channelsDir,
      watching: channelFiles?.watching ?? false,
      channels: channelFiles?.channels(views) ?? views,
      invalidChannels: channelFiles?.invalid(views.map((v) => v.file)) ?? [],
      retiredQueues: router?.retiredQueues() ?? [],
      lastReload: channelFiles?.lastReload() ?? null,
    };
  };

  /** Channel statistics of our own when the engine's are not shared (registered on /metrics once). */
  let stats: ChannelStats | undefined;
  const ownStats = (hub: HubContext): ChannelStats => {
    if (stats) return stats;
    try {
      stats = new ChannelStats(hub.metrics.registry);
    } catch {
      // The engine registered the same metrics (it runs in this hub but was not given to us): count without exporting.
      stats = new ChannelStats();
    }
    return stats;
  };

  let retryTimer: NodeJS.Timeout | undefined;
  const listen = async (): Promise<void> => {
    if (!started || !service) return;
    try {
      const scp = await service.startDimse();
      dimseError = undefined;
      logger?.info(
        { aeTitle: service.aeTitle, port: scp.port },
        `DICOM listening: ${service.aeTitle} on port ${scp.port}`,
      );
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const port = options.port ?? hubContext?.config.dicomPort;
      dimseError =
        code === 'EADDRINUSE'
          ? `Port ${port} is already in use: set KENEY_DICOM_PORT to a free port or stop the other DICOM listener; retrying every 30 s.`
          : `The DIMSE listener could not start (${(error as Error).message}); retrying every 30 s.`;
      logger?.error({ err: error }, dimseError);
      retryTimer = setTimeout(() => void listen(), 30_000);
      retryTimer.unref();
    }
  };
  return module;
}
