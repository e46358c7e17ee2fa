// The admin API of the channel engine (JSON under /admin, the hub's error shape): channels and their state,
// the message browser (search, one message with everything about it), replay (one, several, one destination,
// a time range as a job), edit-then-replay (audited; the original is kept), the mapping test bench, the
// message store's days and pruning, and the active alerts. Documented in engine/README.md.
import { randomUUID } from 'node:crypto';
import type { Provenance } from '@medplum/fhirtypes';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { parseHl7Message, type Hl7Message } from '../adapters/hl7v2/index.js';
import { adminError } from '../hub/admin-routes.js';
import type { HubContext } from '../hub/module.js';
import { Role } from '../hub/tokens.js';
import { isFhirError } from '../store/fhir/outcome.js';
import { LINEAGE } from '../store/fhir/lineage.js';
import { parseSearch } from '../store/search/search-query.js';
import { queuedDestinations } from './channel-config.js';
import { ChannelState, type ChannelEngine, type DesiredState } from './channel-engine.js';
import { parseChannel } from './channel-loader.js';
import { bytesToText, testChannel } from './channel-test.js';
import type { InboundOutcome } from './connector.js';
import { EngineError, EngineErrorCode, isEngineError } from './errors.js';
import { decodeHl7 } from './hl7v2-format.js';
import type { MapperRegistry } from './mapper-registry.js';
import { isMessageId } from './message-id.js';
import { moduleMessageKind, replayRouteOf } from './module-channels.js';
import { MESSAGE_STATUSES, type MessageQuery, type MessageStatus, type MessageStore } from './message-store.js';

export interface EngineAccess {
  engine(): ChannelEngine;
  messages(): MessageStore;
  mappers(): MapperRegistry;
  retentionDays: number;
  env: Readonly<Record<string, string | undefined>>;
}

interface ReplayJob {
  id: string;
  state: 'running' | 'done' | 'failed';
  query: MessageQuery;
  destination: string | null;
  by: string;
  startedAt: string;
  finishedAt: string | null;
  replayed: number;
  failed: number;
  errors: { messageId: string; error: string }[];
}

const MAX_SYNC_REPLAY = 100;
const MAX_JOB_MESSAGES = 1_000_000;

function invalid(message: string): EngineError {
  return new EngineError(EngineErrorCode.InvalidRequest, message);
}

function date(value: string | undefined, name: string): Date | undefined {
  if (value === undefined || value === '') return undefined;
  const parsed = new Date(value);
  if (Number.isNaN(parsed.getTime()))
    throw invalid(`${name}=${value} is not a date: use ISO-8601, e.g. 2026-01-24T08:00:00Z.`);
  return parsed;
}

function statuses(value: string | undefined): MessageStatus[] | undefined {
  if (!value) return undefined;
  const list = value.split(',').map((s) => s.trim()) as MessageStatus[];
  const unknown = list.filter((s) => !MESSAGE_STATUSES.includes(s));
  if (unknown.length) throw invalid(`Unknown status ${unknown.join(', ')}: use ${MESSAGE_STATUSES.join(', ')}.`);
  return list;
}

/** The search parameters of GET /admin/messages (also the selection of a time-range replay). */
export function messageQuery(q: Record<string, string | undefined>): MessageQuery {
  const limit = q.limit !== undefined ? Number(q.limit) : undefined;
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1 || limit > 1000))
    throw invalid('limit must be an integer from 1 to 1000.');
  const query: MessageQuery = {};
  if (q.channel) query.channel = q.channel;
  const s = statuses(q.status);
  if (s) query.status = s;
  const from = date(q.from, 'from');
  if (from) query.from = from;
  const to = date(q.to, 'to');
  if (to) query.to = to;
  if (q.type) query.messageType = q.type;
  if (q.controlId) query.controlId = q.controlId;
  if (q.patient) query.patient = q.patient;
  if (q.text) query.text = q.text;
  if (q.content) query.content = q.content;
  if (q.errorStage) query.errorStage = q.errorStage;
  if (q.editedFrom) query.editedFrom = q.editedFrom;
  if (q.cursor) query.cursor = q.cursor;
  if (limit) query.limit = limit;
  if (q.order === 'asc') query.ascending = true;
  return query;
}

/** Segments and fields of a message, for the console (values as sent, escapes kept). */
export function decodedView(message: Hl7Message): {
  segments: { index: number; name: string; fields: { position: number; value: string }[] }[];
} {
  const segments = message.segments().map((segment, i) => ({
    index: i + 1,
    name: segment.name,
    fields: Array.from({ length: segment.fieldCount }, (_, f) => ({
      position: f + 1,
      value: segment.rawField(f + 1),
    })).filter((f) => f.value !== ''),
  }));
  return { segments };
}

function outcomeView(outcome: InboundOutcome) {
  return {
    messageId: outcome.messageId ?? null,
    status: outcome.status,
    ack: outcome.ack === 'accept' ? 'AA' : outcome.ack === 'error' ? 'AE' : 'AR',
    duplicate: outcome.duplicate,
    errors: outcome.errors,
  };
}

export function engineAdminRoutes(access: EngineAccess): FastifyPluginAsync<{ hub: HubContext }> {
  const jobs = new Map<string, ReplayJob>();

  return async (app: FastifyInstance, { hub }) => {
    app.setErrorHandler((error: unknown, request, reply) => {
      if (isEngineError(error)) {
        return reply.code(error.status).send({
          ...adminError(error.status, error.code, error.message),
          ...(error.issues.length ? { issues: error.issues } : {}),
        });
      }
      if (isFhirError(error)) {
        const issue = error.outcome.issue?.[0];
        return reply
          .code(error.status)
          .send(adminError(error.status, issue?.code ?? 'error', issue?.details?.text ?? error.message));
      }
      const e = error as { statusCode?: number; message?: string; code?: string };
      if (e.statusCode && e.statusCode < 500)
        return reply.code(e.statusCode).send(adminError(e.statusCode, e.code ?? 'invalid', e.message ?? 'Bad request'));
      request.log.error({ err: error }, 'engine admin request failed');
      return reply
        .code(500)
        .send(adminError(500, 'internal', 'Internal error; the details are in the hub log under this request id.'));
    });

    const admin = (request: FastifyRequest) => {
      const principal = hub.principalOf(request);
      hub.requireRole(principal, Role.Admin);
      return principal;
    };
    const reader = (request: FastifyRequest) => {
      const principal = hub.principalOf(request);
      hub.requireRole(principal, Role.Admin, Role.Write, Role.Read);
      return principal;
    };
    const audit = (request: FastifyRequest, actor: string, query: string, outcome: number, resourceId?: string) =>
      hub.audit.record({
        actor,
        action: 'admin',
        resourceType: 'Message',
        ...(resourceId ? { resourceId } : {}),
        query,
        outcome,
        ...(request.ip ? { sourceIp: request.ip } : {}),
        requestId: request.id,
      });

    // ---- channels ----

    app.get('/channels', async (request) => {
      reader(request);
      return { channels: access.engine().list() };
    });

    app.post('/channels/reload', async (request) => {
      const principal = admin(request);
      const result = await access.engine().reload();
      await audit(request, principal.id, `channels reloaded: ${JSON.stringify(result)}`, 200);
      return { ...result, channels: access.engine().list() };
    });

    app.get<{ Params: { id: string } }>('/channels/:id', async (request) => {
      reader(request);
      return access.engine().view(request.params.id);
    });

    for (const [verb, state] of [
      ['start', ChannelState.Started],
      ['resume', ChannelState.Started],
      ['pause', ChannelState.Paused],
      ['stop', ChannelState.Stopped],
    ] as const) {
      app.post<{ Params: { id: string } }>(`/channels/:id/${verb}`, async (request) => {
        const principal = admin(request);
        const view = await access.engine().setState(request.params.id, state satisfies DesiredState, principal.name);
        await audit(request, principal.id, `channel ${request.params.id} ${verb}`, 200);
        return view;
      });
    }

    // The mapping test bench: a message through a loaded channel (or a draft channel file), nothing stored.
    app.post<{ Params: { id: string }; Body: { message?: string; messageBase64?: string } }>(
      '/channels/:id/test',
      async (request) => {
        admin(request);
        const raw = messageBytes(request.body);
        const config = access.engine().pipeline(request.params.id).config;
        return testChannel(config, raw, access.mappers());
      },
    );

    app.post<{ Body: { channel?: string; message?: string; messageBase64?: string } }>(
      '/channels/test',
      async (request) => {
        admin(request);
        if (typeof request.body?.channel !== 'string')
          throw invalid('Send {"channel": "<the channel file as YAML text>", "message": "<HL7 text>"}.');
        const mappers = access.mappers();
        const loaded = parseChannel(request.body.channel, 'draft.channel.yaml', {
          env: access.env,
          mappings: { has: (id) => mappers.get(id) !== undefined, ids: () => mappers.ids() },
        });
        return testChannel(loaded.config, messageBytes(request.body), mappers);
      },
    );

    // ---- messages ----

    app.get<{ Querystring: Record<string, string | undefined> }>('/messages', async (request) => {
      const principal = admin(request);
      const query = messageQuery(request.query);
      const page = await access.messages().search(query);
      await audit(
        request,
        principal.id,
        `message search ${new URLSearchParams(request.query as Record<string, string>).toString()}`.slice(0, 500),
        200,
      );
      return page;
    });

    app.get<{ Params: { id: string } }>('/messages/:id', async (request) => {
      const principal = admin(request);
      const id = request.params.id;
      const messages = access.messages();
      const detail = await messages.get(id);
      const raw = await messages.raw(id);
      const decoded = decodeHl7(raw);
      let changeSet: unknown = detail.changeSet;
      if (!changeSet && detail.logPosition && detail.changeSetId) {
        const [record] = await hub.log
          .read(detail.logPosition.partition, detail.logPosition.offset, { maxRecords: 1 })
          .catch(() => []);
        if (record?.changeSet.id === detail.changeSetId) changeSet = record.changeSet.bundle;
      }
      const applied = detail.changeSetId
        ? (await hub.store.outcomes.fetch([detail.changeSetId]).catch(() => []))[0]
        : undefined;
      const resources = await producedResources(hub, id);
      await audit(request, principal.id, `message read`, 200, id);
      return {
        ...detail,
        raw: detail.rawSize <= 1024 * 1024 ? bytesToText(raw) : null,
        rawUrl: `/admin/messages/${id}/raw`,
        decoded: decoded.ok ? decodedView(decoded.message) : null,
        decodeError: decoded.ok ? null : { code: decoded.error.code, message: decoded.error.message },
        changeSet: changeSet ?? null,
        store: detail.changeSetId
          ? {
              changeSetId: detail.changeSetId,
              state: applied?.status ?? 'pending',
              httpStatus: applied?.httpStatus ?? null,
            }
          : null,
        resources,
      };
    });

    app.get<{ Params: { id: string } }>('/messages/:id/raw', async (request, reply: FastifyReply) => {
      const principal = admin(request);
      const raw = await access.messages().raw(request.params.id);
      await audit(request, principal.id, 'message raw read', 200, request.params.id);
      return reply
        .type('x-application/hl7-v2+er7')
        .header('content-disposition', `attachment; filename="${request.params.id}.hl7"`)
        .send(raw);
    });

    app.post<{ Params: { id: string }; Body: { destination?: string } | undefined }>(
      '/messages/:id/replay',
      async (request) => {
        const principal = admin(request);
        const destination = request.body?.destination;
        const result = await replayOne(access, request.params.id, destination, principal.name);
        await audit(
          request,
          principal.id,
          `message replayed${destination ? ` to ${destination}` : ''}`,
          200,
          request.params.id,
        );
        return result;
      },
    );

    app.post<{ Body: { ids?: string[]; destination?: string; query?: Record<string, string> } }>(
      '/messages/replay',
      async (request, reply) => {
        const principal = admin(request);
        const body = request.body ?? {};
        const destination = body.destination;
        if (Array.isArray(body.ids)) {
          if (body.ids.length === 0 || body.ids.length > MAX_SYNC_REPLAY)
            throw invalid(`Give 1 to ${MAX_SYNC_REPLAY} ids, or a query (a job) for more.`);
          const results = [];
          for (const id of body.ids) {
            try {
              results.push(await replayOne(access, id, destination, principal.name));
              await audit(request, principal.id, `message replayed${destination ? ` to ${destination}` : ''}`, 200, id);
            } catch (error) {
              if (!isEngineError(error)) throw error;
              results.push({ messageId: id, error: { code: error.code, message: error.message } });
            }
          }
          return { results };
        }
        if (!body.query)
          throw invalid(
            'Send {"ids": [...]} or {"query": {"channel": "lab", "from": "…", "to": "…", "status": "error"}}.',
          );
        const query = messageQuery(body.query);
        if (!query.channel) throw invalid('A replay by query needs a channel (query.channel).');
        if (!query.from || !query.to) throw invalid('A replay by query needs a time range (query.from and query.to).');
        if (!access.engine().moduleChannelsOf(query.channel)) access.engine().pipeline(query.channel);
        const job: ReplayJob = {
          id: randomUUID(),
          state: 'running',
          query,
          destination: destination ?? null,
          by: principal.name,
          startedAt: new Date().toISOString(),
          finishedAt: null,
          replayed: 0,
          failed: 0,
          errors: [],
        };
        jobs.set(job.id, job);
        await audit(
          request,
          principal.id,
          `replay job ${job.id}: ${JSON.stringify(body.query)}${destination ? ` to ${destination}` : ''}`,
          202,
        );
        void runJob(access, job).catch((error: Error) => {
          job.state = 'failed';
          job.errors.push({ messageId: '', error: error.message });
          job.finishedAt = new Date().toISOString();
        });
        return reply.code(202).header('location', `/admin/replay-jobs/${job.id}`).send(job);
      },
    );

    app.get<{ Params: { id: string } }>('/replay-jobs/:id', async (request) => {
      admin(request);
      const job = jobs.get(request.params.id);
      if (!job)
        throw new EngineError(
          EngineErrorCode.JobNotFound,
          `No replay job ${request.params.id} (jobs are kept in memory until the hub restarts).`,
        );
      return job;
    });

    app.post<{ Params: { id: string }; Body: { message?: string; messageBase64?: string; reason?: string } }>(
      '/messages/:id/edit',
      async (request) => {
        const principal = admin(request);
        const reason = request.body?.reason?.trim();
        if (!reason)
          throw invalid(
            'Say why the message is edited: {"message": "<edited HL7>", "reason": "wrong IPP in PID-3, ticket 1234"}.',
          );
        const original = await access.messages().get(request.params.id);
        const kind = access.engine().moduleChannelsOf(original.channel) ?? moduleMessageKind(original.messageType);
        if (kind && !access.engine().ids().includes(original.channel))
          throw new EngineError(
            EngineErrorCode.ChannelState,
            `Message ${original.id} is a ${kind.kind} message (channel "${original.channel}"): it cannot be edited as text. Replay it as it is with POST /admin/messages/${original.id}/replay, or send the corrected instance again.`,
          );
        const raw = editedBytes(request.body);
        const outcome = await access
          .engine()
          .pipeline(original.channel)
          .receiveEdit(raw, original.id, { by: principal.name, reason });
        await audit(
          request,
          principal.id,
          `message edited and replayed as ${outcome.messageId ?? '?'}: ${reason}`.slice(0, 500),
          200,
          original.id,
        );
        return { original: original.id, edited: outcome.messageId, outcome: outcomeView(outcome) };
      },
    );

    // ---- message store, alerts ----

    app.get('/message-store', async (request) => {
      admin(request);
      return { retentionDays: access.retentionDays, days: await access.messages().partitions() };
    });

    app.post<{ Body: { before?: string; olderThanDays?: number } | undefined }>(
      '/message-store/prune',
      async (request) => {
        const principal = admin(request);
        const days = request.body?.olderThanDays;
        if (days !== undefined && (!Number.isInteger(days) || days < 1))
          throw invalid('olderThanDays must be a whole number of days, at least 1.');
        const before =
          date(request.body?.before, 'before') ?? new Date(Date.now() - (days ?? access.retentionDays) * 86_400_000);
        const result = await access.messages().prune(before);
        await audit(
          request,
          principal.id,
          `message store pruned before ${before.toISOString()}: ${result.messages} messages, ${result.days.length} days`,
          200,
        );
        return { before: before.toISOString(), ...result };
      },
    );

    app.get('/alerts', async (request) => {
      reader(request);
      return { alerts: access.engine().alerts.list() };
    });
  };
}

function messageBytes(body: { message?: string; messageBase64?: string } | undefined): Buffer {
  if (typeof body?.messageBase64 === 'string') return Buffer.from(body.messageBase64, 'base64');
  if (typeof body?.message === 'string') return Buffer.from(body.message.replace(/\r?\n/g, '\r'), 'utf8');
  throw invalid('Send the message as {"message": "<HL7 text>"} or {"messageBase64": "<bytes in base64>"}.');
}

/** Edited text is encoded in the charset its MSH-18 declares (as the original was), unless given as bytes. */
function editedBytes(body: { message?: string; messageBase64?: string } | undefined): Buffer {
  if (typeof body?.messageBase64 === 'string') return Buffer.from(body.messageBase64, 'base64');
  if (typeof body?.message !== 'string' || body.message.trim() === '')
    throw invalid('Send the edited message as {"message": "<HL7 text>"} (or messageBase64 for exact bytes).');
  const text = body.message.replace(/\r?\n/g, '\r');
  try {
    return parseHl7Message(text).toBuffer();
  } catch {
    return Buffer.from(text, 'utf8');
  }
}

async function replayOne(access: EngineAccess, id: string, destination: string | undefined, by: string) {
  if (!isMessageId(id)) throw new EngineError(EngineErrorCode.MessageNotFound, `${id} is not a message id.`);
  const messages = access.messages();
  const state = await messages.state(id);
  if (!state)
    throw new EngineError(
      EngineErrorCode.MessageNotFound,
      `No message ${id} in the message store (wrong id, or pruned by retention).`,
    );
  // A message of a channel another module runs (DICOM): that module replays it.
  const owner = access.engine().moduleChannelsOf(state.channel);
  if (owner) {
    const outcome = await owner.replay(id, { ...(destination !== undefined ? { destination } : {}), by });
    return { messageId: id, replayed: destination ?? 'all', handledBy: owner.kind, outcome };
  }
  if (!access.engine().ids().includes(state.channel)) {
    const kind = moduleMessageKind((await messages.get(id)).messageType);
    if (kind)
      throw new EngineError(
        EngineErrorCode.ChannelState,
        `Message ${id} is a ${kind.kind} message (channel "${state.channel}") and the ${kind.module} module that replays it is not running in this hub: start it (hub/modules.ts), then replay with POST ${replayRouteOf(kind.replayRoute, id)} (or here again).`,
      );
  }
  const pipeline = access.engine().pipeline(state.channel);
  if (destination === undefined)
    return {
      messageId: id,
      replayed: 'all',
      outcome: outcomeView(await pipeline.reprocess(id, { replay: true, reason: 'replay' })),
    };
  if (destination === 'store') {
    if (!pipeline.config.destinations.some((d) => d.type === 'store'))
      throw new EngineError(EngineErrorCode.DestinationNotFound, `Channel ${state.channel} has no store destination.`);
    return {
      messageId: id,
      replayed: 'store',
      outcome: outcomeView(await pipeline.reprocess(id, { replay: true, storeOnly: true, reason: 'replay' })),
    };
  }
  const target = queuedDestinations(pipeline.config).find((d) => d.name === destination);
  if (!target) {
    const names = pipeline.config.destinations.map((d) => d.name);
    throw new EngineError(
      EngineErrorCode.DestinationNotFound,
      `Channel ${state.channel} has no destination "${destination}"; its destinations are ${names.join(', ')}.`,
    );
  }
  if (
    state.status === 'received' ||
    state.status === 'filtered' ||
    (state.status === 'error' && state.errors.some((e) => e.stage !== 'destination'))
  ) {
    throw new EngineError(
      EngineErrorCode.ChannelState,
      `Message ${id} was never accepted (status ${state.status}); replay it to all destinations instead (no destination).`,
    );
  }
  const generation = (await pipeline.nextGenerations(id)).get(destination) ?? 0;
  await messages.enqueue(id, state.channel, [{ destination, generation }]);
  access.engine().runtime(state.channel).workers.get(destination)?.wake();
  return { messageId: id, replayed: destination, queued: { destination, generation } };
}

async function runJob(access: EngineAccess, job: ReplayJob): Promise<void> {
  let cursor: string | undefined;
  let total = 0;
  do {
    const page = await access.messages().selectIds({ ...job.query, ...(cursor ? { cursor } : {}) }, 100);
    for (const id of page.ids) {
      if (total++ >= MAX_JOB_MESSAGES) break;
      try {
        await replayOne(access, id, job.destination ?? undefined, job.by);
        job.replayed++;
      } catch (error) {
        job.failed++;
        if (job.errors.length < 100) job.errors.push({ messageId: id, error: (error as Error).message });
      }
    }
    cursor = page.next;
  } while (cursor && total < MAX_JOB_MESSAGES);
  job.state = 'done';
  job.finishedAt = new Date().toISOString();
}

/** The resources a message produced: the targets of the Provenance that points back to it. */
async function producedResources(
  hub: HubContext,
  messageId: string,
): Promise<{ reference: string; provenance: string }[]> {
  try {
    const result = await hub.store.search(
      parseSearch(
        'Provenance',
        new URLSearchParams({ 'entity:identifier': `${LINEAGE.messageSystem}|${messageId}`, _count: '100' }),
        { strict: true },
      ),
    );
    const out: { reference: string; provenance: string }[] = [];
    for (const match of result.matches) {
      const provenance = JSON.parse(match.content) as Provenance;
      for (const target of provenance.target ?? [])
        if (target.reference) out.push({ reference: target.reference, provenance: `Provenance/${provenance.id}` });
    }
    return out;
  } catch {
    return [];
  }
}
