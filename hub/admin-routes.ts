// The admin API (JSON, not FHIR): change-set status, store status, tokens, the audit trail.
// The integration console and the `keney` CLI (against a remote hub) use it. Every route needs a token;
// most need the admin role.
import type { FastifyPluginAsync } from 'fastify';
import { isFhirError } from '../store/fhir/outcome.js';
import type { HubContext } from './module.js';
import { ROLES, Role, type Role as RoleType } from './tokens.js';

export interface AdminError {
  error: { status: number; code: string; message: string };
}

export function adminError(status: number, code: string, message: string): AdminError {
  return { error: { status, code, message } };
}

export const adminRoutes: FastifyPluginAsync<{ hub: HubContext }> = async (app, { hub }) => {
  app.setErrorHandler((error: unknown, request, reply) => {
    if (isFhirError(error)) {
      const issue = error.outcome.issue?.[0];
      return reply
        .code(error.status)
        .send(adminError(error.status, issue?.code ?? 'error', issue?.details?.text ?? error.message));
    }
    const e = error as { statusCode?: number; message?: string; code?: string };
    if (e.statusCode && e.statusCode < 500)
      return reply.code(e.statusCode).send(adminError(e.statusCode, e.code ?? 'invalid', e.message ?? 'Bad request'));
    request.log.error({ err: error }, 'admin request failed');
    return reply
      .code(500)
      .send(adminError(500, 'internal', 'Internal error; the details are in the hub log under this request id.'));
  });

  app.get<{ Params: { id: string } }>('/change-sets/:id', async (request) => {
    const principal = hub.principalOf(request);
    hub.requireRole(principal, Role.Admin, Role.Write);
    const [outcome] = await hub.store.outcomes.fetch([request.params.id]).catch(() => []);
    if (outcome)
      return {
        id: outcome.changeSetId,
        state: outcome.status,
        httpStatus: outcome.httpStatus,
        response: outcome.response,
      };
    return { id: request.params.id, state: 'pending-or-unknown' };
  });

  app.get('/store/status', async (request) => {
    hub.requireRole(hub.principalOf(request), Role.Admin);
    const ends = await hub.log.endOffsets();
    const partitions = await Promise.all(
      ends.map(async (end, partition) => {
        const next = await hub.projector.nextOffset(partition);
        return { partition, logEnd: end, projected: next, lag: Math.max(0, end - next) };
      }),
    );
    const counts = await hub.sql.query<{ resource_type: string; n: number }>(
      'SELECT resource_type, count(*)::int AS n FROM resources WHERE NOT deleted GROUP BY resource_type ORDER BY resource_type',
    );
    return {
      profile: hub.config.profile,
      log: { kind: hub.log.kind, partitions: hub.log.partitions },
      owned: hub.projector.owned(),
      partitions,
      resources: Object.fromEntries(counts.rows.map((r) => [r.resource_type, r.n])),
    };
  });

  app.get('/tokens', async (request) => {
    hub.requireRole(hub.principalOf(request), Role.Admin);
    return { tokens: await hub.tokens.list() };
  });

  app.post<{ Body: { name?: string; roles?: string[] } }>('/tokens', async (request, reply) => {
    hub.requireRole(hub.principalOf(request), Role.Admin);
    const name = request.body?.name?.trim();
    const roles = request.body?.roles ?? [Role.Read];
    if (!name)
      return reply
        .code(400)
        .send(adminError(400, 'invalid', 'Give the token a name: {"name": "lab interface", "roles": ["write"]}.'));
    const unknown = roles.filter((r) => !ROLES.includes(r as RoleType));
    if (unknown.length > 0)
      return reply
        .code(400)
        .send(adminError(400, 'invalid', `Unknown role(s) ${unknown.join(', ')}: use ${ROLES.join(', ')}.`));
    const created = await hub.tokens.create(name, roles as RoleType[]);
    await hub.audit.record({
      actor: hub.principalOf(request).id,
      action: 'admin',
      query: `token created: ${name} (${roles.join(',')})`,
      outcome: 201,
      sourceIp: request.ip,
    });
    return reply
      .code(201)
      .send({ ...created.principal, token: created.token, note: 'Store this token now: it is shown only once.' });
  });

  app.delete<{ Params: { id: string } }>('/tokens/:id', async (request, reply) => {
    hub.requireRole(hub.principalOf(request), Role.Admin);
    const revoked = await hub.tokens.revoke(request.params.id);
    await hub.audit.record({
      actor: hub.principalOf(request).id,
      action: 'admin',
      query: `token revoked: ${request.params.id}`,
      outcome: revoked ? 204 : 404,
      sourceIp: request.ip,
    });
    return revoked
      ? reply.code(204).send()
      : reply.code(404).send(adminError(404, 'not-found', `No active token ${request.params.id}.`));
  });

  app.get<{
    Querystring: {
      actor?: string;
      resourceType?: string;
      resourceId?: string;
      patient?: string;
      before?: string;
      limit?: string;
    };
  }>('/audit', async (request) => {
    hub.requireRole(hub.principalOf(request), Role.Admin);
    const q = request.query;
    const conditions: string[] = [];
    const params: unknown[] = [];
    if (q.actor) conditions.push(`actor = $${params.push(q.actor)}`);
    if (q.resourceType) conditions.push(`resource_type = $${params.push(q.resourceType)}`);
    if (q.resourceId) conditions.push(`resource_id = $${params.push(q.resourceId)}`);
    if (q.patient) conditions.push(`$${params.push(q.patient)} = ANY(patient_ids)`);
    if (q.before) conditions.push(`recorded_at < $${params.push(q.before)}::timestamptz`);
    const limit = Math.min(Math.max(Number(q.limit) || 100, 1), 1000);
    const rows = await hub.sql.query(
      `SELECT chain, seq, recorded_at, actor, action, resource_type, resource_id, query, outcome, purpose, source_ip, request_id, patient_ids
           FROM audit_trail ${conditions.length ? `WHERE ${conditions.join(' AND ')}` : ''} ORDER BY recorded_at DESC, seq DESC LIMIT ${limit}`,
      params,
    );
    return { events: rows.rows };
  });

  app.post('/audit/verify', async (request) => {
    hub.requireRole(hub.principalOf(request), Role.Admin);
    await hub.audit.flush();
    return hub.audit.verify();
  });
};
