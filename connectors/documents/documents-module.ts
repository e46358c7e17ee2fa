// The documents capability as a hub module: XDS.b repository + registry (/xds/repository, /xds/registry), MHD on
// /fhir (ITI-65 on POST /fhir, ITI-66/67 through the store's searches, ITI-68 on GET /fhir/Binary/{id}), the CDA
// narrative as safe HTML (GET /fhir/DocumentReference/{id}/$html), the MSSanté mailboxes (IMAP, SMTP) and the
// outbound destinations (ITI-41 Document Source, MSSanté SMTP), the admin API under /admin/documents.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { adminError } from '../../hub/admin-routes.js';
import type { HubContext, HubModule } from '../../hub/module.js';
import { Role } from '../../hub/tokens.js';
import { PostgresDestinationLocks } from '../../engine/destination-locks.js';
import type { ChannelsModule } from '../../engine/module.js';
import { engineMigrations, MessageStore } from '../../engine/message-store.js';
import { isFhirError } from '../../store/fhir/outcome.js';
import { PostgresClient } from '../../store/sql/postgres-client.js';
import type { Migration } from '../../store/sql/sql-client.js';
import { ImapMailboxSource } from '../mssante/imap-source.js';
import { MailIntake } from '../mssante/mail-intake.js';
import { mailTrackingMigrations, MailTracking } from '../mssante/mail-tracking.js';
import { SmtpMailSource } from '../mssante/smtp.js';
import { registerMhd } from '../xds/mhd.js';
import { xdsRoutes } from '../xds/xds-routes.js';
import { DocumentRegistry, oidOfUuid } from './document-registry.js';
import { registerDocumentRoutes } from './document-routes.js';
import { loadDocumentsConfig, type DocumentsConfig } from './documents-config.js';
import { DocumentJournal } from './journal.js';
import { DocumentOutbox, OutboundError } from './outbound.js';

export const documentsMigrations: Migration[] = [
  ...mailTrackingMigrations,
  {
    id: 'documents-0002-settings',
    sql: `CREATE TABLE documents_settings (key text PRIMARY KEY, value text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());`,
  },
];

export interface DocumentsModuleOptions {
  /**
   * The channel engine module when the hub runs one: its message store is shared (and its migrations create the
   * tables). Without it this module brings the message-store migrations itself — never both in one hub.
   */
  channels?: ChannelsModule;
  /** The configuration (tests); default: the YAML file named by KENEY_DOCUMENTS_CONFIG, if set. */
  config?: DocumentsConfig;
  env?: Readonly<Record<string, string | undefined>>;
  /** How often idle delivery workers look for work queued by another instance (default 1 s). */
  deliveryPollMs?: number;
}

export interface DocumentsModule extends HubModule {
  readonly registry: DocumentRegistry | undefined;
  readonly outbox: DocumentOutbox | undefined;
  readonly messages: MessageStore | undefined;
  readonly tracking: MailTracking | undefined;
  /** The mailbox sources, by name (after start). */
  readonly mailboxes: ReadonlyMap<string, ImapMailboxSource | SmtpMailSource>;
}

export function documentsModule(options: DocumentsModuleOptions = {}): DocumentsModule {
  const env = options.env ?? process.env;
  const config: DocumentsConfig =
    options.config ?? (env.KENEY_DOCUMENTS_CONFIG ? loadDocumentsConfig(env.KENEY_DOCUMENTS_CONFIG, env) : {});
  let hub: HubContext | undefined;
  let registry: DocumentRegistry | undefined;
  let journal: DocumentJournal | undefined;
  let messages: MessageStore | undefined;
  let tracking: MailTracking | undefined;
  let outbox: DocumentOutbox | undefined;
  const mailboxes = new Map<string, ImapMailboxSource | SmtpMailSource>();
  const notReady = () => {
    throw Object.assign(new Error('The documents module is starting or stopping: retry in a moment.'), {
      statusCode: 503,
    });
  };

  const module: DocumentsModule = {
    name: 'documents',
    migrations: [...documentsMigrations, ...(options.channels ? [] : engineMigrations)],
    get registry() {
      return registry;
    },
    get outbox() {
      return outbox;
    },
    get messages() {
      return messages;
    },
    get tracking() {
      return tracking;
    },
    mailboxes,

    async register(app: FastifyInstance, context: HubContext) {
      const xds = config.xds ?? {};
      await app.register(xdsRoutes, {
        prefix: '/xds',
        hub: context,
        registry: () => registry ?? notReady(),
        journal: () => journal ?? notReady(),
        authentication: xds.authentication ?? 'token',
        maxRequestBytes: xds.maxRequestBytes ?? 100 * 1024 * 1024,
        frenchMetadataWarnings: xds.frenchMetadataWarnings ?? true,
      });
      registerMhd(app, { hub: context, registry: () => registry ?? notReady(), journal: () => journal ?? notReady() });
      registerDocumentRoutes(app, { hub: context, registry: () => registry ?? notReady() });
      await app.register(adminDocumentRoutes, {
        prefix: '/admin/documents',
        hub: context,
        module: () => module,
        outbox: () => outbox ?? notReady(),
      });
    },

    async start(context: HubContext) {
      hub = context;
      const logger = context.logger.child({ component: 'documents' });
      messages = options.channels?.messages ?? new MessageStore(context.sql, context.blobs);
      journal = new DocumentJournal(messages);
      tracking = new MailTracking(context.sql);
      const repositoryUniqueId =
        config.repositoryUniqueId ??
        env.KENEY_XDS_REPOSITORY_ID ??
        (await generatedSetting(context, 'repositoryUniqueId', () => oidOfUuid(randomUUID())));
      registry = new DocumentRegistry(context.store, context.blobs, {
        repositoryUniqueId,
        ...(config.homeCommunityId ? { homeCommunityId: config.homeCommunityId } : {}),
        ...(config.xds?.requireKnownPatient !== undefined
          ? { requireKnownPatient: config.xds.requireKnownPatient }
          : {}),
        ...(config.xds?.maxQueryResults ? { maxQueryResults: config.xds.maxQueryResults } : {}),
      });
      const intake = new MailIntake({
        registry: () => registry ?? notReady(),
        journal: () => journal ?? notReady(),
        store: () => context.store,
        tracking: () => tracking ?? notReady(),
        logger,
      });
      const postgres = context.sql instanceof PostgresClient ? context.sql : undefined;
      outbox = new DocumentOutbox({
        registry,
        journal,
        messages,
        tracking,
        logger,
        ...(postgres ? { locks: new PostgresDestinationLocks(postgres, logger) } : {}),
        sourceId: config.sourceId ?? repositoryUniqueId,
        senderName: config.senderName ?? 'Keney Hub',
        ...(options.deliveryPollMs ? { pollIntervalMs: options.deliveryPollMs } : {}),
      });
      for (const destination of config.destinations ?? []) outbox.add(destination);
      outbox.start();
      for (const mailbox of config.mailboxes ?? []) {
        if (mailbox.kind === 'imap') {
          const source = new ImapMailboxSource(mailbox, intake, () => tracking ?? notReady(), logger);
          mailboxes.set(mailbox.name, source);
          source.start();
        } else {
          const source = new SmtpMailSource(mailbox, intake, logger);
          mailboxes.set(mailbox.name, source);
          await source.start();
        }
      }
    },

    async stop() {
      for (const source of mailboxes.values()) await source.stop().catch(() => undefined);
      await outbox?.stop();
      await messages?.drain().catch(() => undefined);
      registry = undefined;
    },

    async ready() {
      return registry ? { ok: true } : { ok: false, reason: 'starting' };
    },
  };
  void hub;
  return module;
}

/** A value generated once per deployment (the repository uniqueId): kept in the database, shared by the cluster. */
async function generatedSetting(hub: HubContext, key: string, make: () => string): Promise<string> {
  await hub.sql.query('INSERT INTO documents_settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING', [
    key,
    make(),
  ]);
  const rows = await hub.sql.query<{ value: string }>('SELECT value FROM documents_settings WHERE key = $1', [key]);
  return rows.rows[0]!.value;
}

interface AdminOptions {
  hub: HubContext;
  module: () => DocumentsModule;
  outbox: () => DocumentOutbox;
}

async function adminDocumentRoutes(app: FastifyInstance, { hub, module, outbox }: AdminOptions): Promise<void> {
  app.setErrorHandler((error: unknown, request, reply) => {
    if (error instanceof OutboundError)
      return reply
        .code(error.status)
        .send({ ...adminError(error.status, 'documents.outbound', error.message), issues: error.issues });
    if (isFhirError(error)) {
      const issue = error.outcome.issue?.[0];
      return reply
        .code(error.status)
        .send(adminError(error.status, issue?.code ?? 'error', issue?.details?.text ?? error.message));
    }
    const e = error as { statusCode?: number; message?: string; code?: string };
    if (e.statusCode && e.statusCode < 600 && e.statusCode !== 500)
      return reply.code(e.statusCode).send(adminError(e.statusCode, e.code ?? 'invalid', e.message ?? 'Bad request'));
    request.log.error({ err: error }, 'documents admin request failed');
    return reply
      .code(500)
      .send(adminError(500, 'internal', 'Internal error; the details are in the hub log under this request id.'));
  });

  /** Sends stored documents to a destination (ITI-41 repository or MSSanté mail); 202 once queued. */
  app.post<{
    Body: {
      destination?: unknown;
      documentReferences?: unknown;
      to?: unknown;
      subject?: unknown;
      text?: unknown;
      title?: unknown;
    };
  }>('/outbound', async (request, reply) => {
    const principal = hub.principalOf(request);
    hub.requireRole(principal, Role.Admin, Role.Write);
    const body = request.body ?? {};
    const strings = (v: unknown) =>
      Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : undefined;
    if (typeof body.destination !== 'string' || !strings(body.documentReferences)) {
      return reply
        .code(400)
        .send(
          adminError(
            400,
            'invalid',
            'Send {"destination": "<name>", "documentReferences": ["<DocumentReference id>"], "to": ["<address>"] (mail)}.',
          ),
        );
    }
    const result = await outbox().send({
      destination: body.destination,
      documentReferences: strings(body.documentReferences)!,
      ...(strings(body.to) ? { to: strings(body.to)! } : {}),
      ...(typeof body.subject === 'string' ? { subject: body.subject } : {}),
      ...(typeof body.text === 'string' ? { text: body.text } : {}),
      ...(typeof body.title === 'string' ? { title: body.title } : {}),
      actor: principal.id,
    });
    await hub.audit.record({
      actor: principal.id,
      action: 'export',
      outcome: 202,
      query: `documents → ${result.destination}`,
      sourceIp: request.ip,
      requestId: String(request.id),
    });
    return reply.code(202).send(result);
  });

  /** One outbound message: its status, deliveries (attempts, the peer's answers) and, for mail, the receipts. */
  app.get<{ Params: { id: string } }>('/outbound/:id', async (request) => {
    hub.requireRole(hub.principalOf(request), Role.Admin, Role.Write, Role.Read);
    const m = module();
    const detail = await m.messages!.get(request.params.id);
    const mail = await m.tracking!.byMessageId(request.params.id);
    return { message: detail, ...(mail ? { mail } : {}) };
  });

  app.get('/status', async (request) => {
    hub.requireRole(hub.principalOf(request), Role.Admin);
    const m = module();
    return {
      repositoryUniqueId: m.registry?.repositoryUniqueId,
      endpoints: { repository: '/xds/repository', registry: '/xds/registry', fhir: '/fhir' },
      mailboxes: [...m.mailboxes.values()].map((s) => s.status()),
      destinations: outbox().status(),
    };
  });

  /** Reads a mailbox now (besides IDLE and polling). */
  app.post<{ Params: { name: string } }>('/mailboxes/:name/sync', async (request, reply) => {
    hub.requireRole(hub.principalOf(request), Role.Admin);
    const source = module().mailboxes.get(request.params.name);
    if (!(source instanceof ImapMailboxSource))
      return reply.code(404).send(adminError(404, 'not-found', `No IMAP mailbox "${request.params.name}".`));
    await source.sync();
    return source.status();
  });
}
