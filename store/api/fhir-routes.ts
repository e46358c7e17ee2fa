// FHIR R4 REST API (application/fhir+json) as a Fastify plugin: a thin HTTP layer over the canonical store.
// Reads go to the projection; writes become change sets on the log and are answered once applied.
// Every request is audited (who, what, when, why) before its response leaves.
import { randomUUID } from 'node:crypto';
import type { Bundle, BundleEntry, OperationOutcome, Resource } from '@medplum/fhirtypes';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { AuditAction, AuditEventInput, AuditSink } from '../audit/audit-trail.js';
import type { CanonicalStore, StoredVersion } from '../canonical-store.js';
import type { ChangeOrigin } from '../change-set.js';
import { isResourceType } from '../fhir/definitions.js';
import { FhirError, fhirErrors, isFhirError, outcome } from '../fhir/outcome.js';
import { isPersistableType, validateForWrite } from '../fhir/validate.js';
import { OutcomeTimeoutError } from '../outcome-waiter.js';
import type { ChangeSetOutcome } from '../projection/apply.js';
import { parseSearch } from '../search/search-query.js';
import type { SearchMatch } from '../search/search-sql.js';
import { capabilityStatementJson } from './capability.js';

export const FHIR_JSON = 'application/fhir+json; charset=utf-8';

/** Who is calling, as established by the authentication layer. */
export interface Principal {
  id: string;
  name: string;
  roles: string[];
}

export type FhirAccess = 'read' | 'write';

export interface FhirRoutesOptions {
  store: CanonicalStore;
  audit: AuditSink;
  version: string;
  /** Public base of the FHIR API (e.g. https://hub.example.org/fhir); derived from the request when absent. */
  publicBaseUrl?: string;
  /** The caller, or an error (401). */
  principalOf(request: FastifyRequest): Principal;
  /** Throws a 403 FhirError when the principal may not do this (the RBAC/ABAC seam). */
  authorize(principal: Principal, access: FhirAccess, resourceType: string | undefined): void;
}

interface AuditContext {
  action: AuditAction;
  resourceType?: string;
  resourceId?: string;
  query?: string;
  patientIds?: string[];
}

declare module 'fastify' {
  interface FastifyRequest {
    fhirAudit?: AuditContext;
  }
}

const MAX_AUDITED_PATIENTS = 50;

export const fhirRoutes: FastifyPluginAsync<FhirRoutesOptions> = async (app, options) => {
  const { store } = options;

  // FHIR bodies are JSON: anything else is refused with 415, not read as text.
  app.removeContentTypeParser('text/plain');
  for (const type of ['application/fhir+json', 'application/json+fhir']) {
    app.addContentTypeParser(type, { parseAs: 'string' }, (_request, body, done) => {
      try {
        done(null, JSON.parse(body as string));
      } catch (error) {
        done(fhirErrors.badRequest(`The body is not valid JSON: ${(error as Error).message}`), undefined);
      }
    });
  }
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    done(null, new URLSearchParams(body as string));
  });

  app.setErrorHandler((error: unknown, request, reply) => {
    if (error instanceof OutcomeTimeoutError) {
      return reply
        .code(202)
        .type(FHIR_JSON)
        .send(
          outcome(
            'information',
            'informational',
            `${error.message} It will be applied; check its status at /admin/change-sets/${error.changeSetId}.`,
          ),
        );
    }
    const fhir = toFhirError(error);
    if (fhir.status >= 500) request.log.error({ err: error }, 'FHIR request failed');
    return reply.code(fhir.status).type(FHIR_JSON).send(fhir.outcome);
  });

  app.setNotFoundHandler((request, reply) => {
    reply
      .code(404)
      .type(FHIR_JSON)
      .send(
        outcome('error', 'not-supported', `No FHIR interaction at ${request.method} ${request.url.split('?')[0]}.`),
      );
  });

  // Audit before the response leaves: a read that cannot be audited is not answered.
  app.addHook('onSend', async (request, reply, payload) => {
    const context = request.fhirAudit;
    if (!context) return payload;
    let principal: Principal | undefined;
    try {
      principal = options.principalOf(request);
    } catch {
      principal = undefined;
    }
    const event: AuditEventInput = {
      actor: principal?.id ?? 'anonymous',
      action: context.action,
      outcome: reply.statusCode,
      sourceIp: request.ip,
      requestId: String(request.id),
      purpose: headerValue(request, 'x-purpose-of-use') ?? 'TREAT',
      ...(context.resourceType ? { resourceType: context.resourceType } : {}),
      ...(context.resourceId ? { resourceId: context.resourceId } : {}),
      ...(context.query ? { query: context.query } : {}),
      ...(context.patientIds && context.patientIds.length > 0
        ? { patientIds: context.patientIds.slice(0, MAX_AUDITED_PATIENTS) }
        : {}),
    };
    await options.audit.record(event);
    return payload;
  });

  const baseOf = (request: FastifyRequest): string =>
    options.publicBaseUrl?.replace(/\/$/, '') ?? `${request.protocol}://${request.host}${app.prefix}`;

  const guard = (
    request: FastifyRequest,
    access: FhirAccess,
    type: string | undefined,
    audit: AuditContext,
  ): Principal => {
    request.fhirAudit = audit;
    checkFormat(request);
    const principal = options.principalOf(request);
    if (type !== undefined) checkType(type);
    options.authorize(principal, access, type);
    return principal;
  };

  const originOf = (principal: Principal, request: FastifyRequest): ChangeOrigin => ({
    kind: 'api',
    actor: principal.id,
    sender: `rest ${request.ip}`,
    controlId: String(request.id),
  });

  // ---- system level ----

  app.get('/metadata', async (request, reply) => {
    checkFormat(request);
    return reply.type(FHIR_JSON).send(capabilityStatementJson(baseOf(request), options.version));
  });

  app.post('/', async (request, reply) => {
    const bundle = request.body as Bundle;
    const kind =
      bundle?.resourceType === 'Bundle' && (bundle.type === 'transaction' || bundle.type === 'batch')
        ? bundle.type
        : undefined;
    const principal = guard(request, 'write', undefined, { action: kind === 'batch' ? 'batch' : 'transaction' });
    if (!kind) throw fhirErrors.badRequest('POST to the base accepts a Bundle of type transaction or batch.');
    (bundle.entry ?? []).forEach((entry, i) => {
      options.authorize(
        principal,
        entry.request?.method === 'GET' ? 'read' : 'write',
        entry.request?.url?.split(/[/?]/)[0],
      );
      const isOperation = entry.request?.url?.includes('$') ?? false;
      if (entry.resource && !isOperation && (entry.request?.method === 'POST' || entry.request?.method === 'PUT')) {
        try {
          validateForWrite(entry.resource);
        } catch (error) {
          throw prefixIssues(error, `Bundle.entry[${i}].resource`);
        }
      }
    });
    const result = await store.submit({ bundle, origin: originOf(principal, request) });
    if (result.status === 'rejected') return sendOutcome(reply, result);
    request.fhirAudit!.patientIds = patientIdsOfBundle(result.response as Bundle);
    const response = result.response as Bundle;
    response.entry = (response.entry ?? []).map((entry) => withAbsoluteLocation(entry, baseOf(request)));
    return reply.type(FHIR_JSON).send(response);
  });

  app.get('/_history', async (request, reply) => {
    guard(request, 'read', undefined, { action: 'history', query: queryString(request) });
    return sendHistory(request, reply, {});
  });

  // ---- type level ----

  app.get<{ Params: { type: string } }>('/:type', async (request, reply) => {
    const { type } = request.params;
    guard(request, 'read', type, { action: 'search', resourceType: type, query: queryString(request) });
    return sendSearch(request, reply, type, searchParams(request));
  });

  app.post<{ Params: { type: string } }>('/:type/_search', async (request, reply) => {
    const { type } = request.params;
    const params = searchParams(request);
    if (request.body instanceof URLSearchParams) for (const pair of request.body) params.push(pair);
    guard(request, 'read', type, {
      action: 'search',
      resourceType: type,
      query: new URLSearchParams(params).toString(),
    });
    return sendSearch(request, reply, type, params);
  });

  app.get<{ Params: { type: string } }>('/:type/_history', async (request, reply) => {
    const { type } = request.params;
    guard(request, 'read', type, { action: 'history', resourceType: type, query: queryString(request) });
    return sendHistory(request, reply, { type });
  });

  app.post<{ Params: { type: string } }>('/:type', async (request, reply) => {
    const { type } = request.params;
    const principal = guard(request, 'write', type, { action: 'create', resourceType: type });
    validateForWrite(request.body, type);
    const ifNoneExist = headerValue(request, 'if-none-exist');
    const result = await store.submit({
      origin: originOf(principal, request),
      bundle: transaction({
        fullUrl: `urn:uuid:${randomUUID()}`,
        request: { method: 'POST', url: type, ...(ifNoneExist ? { ifNoneExist: stripBase(ifNoneExist, type) } : {}) },
        resource: request.body as Resource,
      }),
    });
    return sendWriteResult(request, reply, result);
  });

  app.put<{ Params: { type: string } }>('/:type', async (request, reply) => {
    const { type } = request.params;
    const query = queryString(request);
    const principal = guard(request, 'write', type, { action: 'update', resourceType: type, query });
    if (!query)
      throw fhirErrors.badRequest(`PUT ${type} needs an id (${type}/[id]) or search criteria (${type}?identifier=…).`);
    validateForWrite(request.body, type);
    const ifMatch = headerValue(request, 'if-match');
    const result = await store.submit({
      origin: originOf(principal, request),
      bundle: transaction({
        request: { method: 'PUT', url: `${type}?${query}`, ...(ifMatch ? { ifMatch } : {}) },
        resource: request.body as Resource,
      }),
    });
    return sendWriteResult(request, reply, result);
  });

  app.delete<{ Params: { type: string } }>('/:type', async (request, reply) => {
    const { type } = request.params;
    const query = queryString(request);
    const principal = guard(request, 'write', type, { action: 'delete', resourceType: type, query });
    if (!query) throw fhirErrors.badRequest(`DELETE ${type} needs an id or search criteria.`);
    const result = await store.submit({
      origin: originOf(principal, request),
      bundle: transaction({ request: { method: 'DELETE', url: `${type}?${query}` } }),
    });
    return sendWriteResult(request, reply, result);
  });

  // ---- instance level ----

  app.get<{ Params: { type: string; id: string } }>('/:type/:id', async (request, reply) => {
    const { type, id } = request.params;
    guard(request, 'read', type, { action: 'read', resourceType: type, resourceId: id });
    const version = await store.read(type, id);
    request.fhirAudit!.patientIds = patientIdsOf(JSON.parse(version.content) as Resource);
    return sendVersion(reply, version, baseOf(request));
  });

  app.put<{ Params: { type: string; id: string } }>('/:type/:id', async (request, reply) => {
    const { type, id } = request.params;
    const principal = guard(request, 'write', type, { action: 'update', resourceType: type, resourceId: id });
    validateForWrite(request.body, type);
    const body = request.body as Resource;
    if (body.id !== undefined && body.id !== id) {
      throw fhirErrors.badRequest(`The resource id "${body.id}" differs from the URL id "${id}".`, [`${type}.id`]);
    }
    const ifMatch = headerValue(request, 'if-match');
    const result = await store.submit({
      origin: originOf(principal, request),
      bundle: transaction({
        request: { method: 'PUT', url: `${type}/${id}`, ...(ifMatch ? { ifMatch } : {}) },
        resource: { ...body, id } as Resource,
      }),
    });
    return sendWriteResult(request, reply, result);
  });

  app.delete<{ Params: { type: string; id: string } }>('/:type/:id', async (request, reply) => {
    const { type, id } = request.params;
    const principal = guard(request, 'write', type, { action: 'delete', resourceType: type, resourceId: id });
    const ifMatch = headerValue(request, 'if-match');
    const result = await store.submit({
      origin: originOf(principal, request),
      bundle: transaction({ request: { method: 'DELETE', url: `${type}/${id}`, ...(ifMatch ? { ifMatch } : {}) } }),
    });
    return sendWriteResult(request, reply, result);
  });

  app.get<{ Params: { type: string; id: string } }>('/:type/:id/_history', async (request, reply) => {
    const { type, id } = request.params;
    guard(request, 'read', type, { action: 'history', resourceType: type, resourceId: id });
    return sendHistory(request, reply, { type, id });
  });

  app.get<{ Params: { type: string; id: string; vid: string } }>('/:type/:id/_history/:vid', async (request, reply) => {
    const { type, id, vid } = request.params;
    guard(request, 'read', type, { action: 'vread', resourceType: type, resourceId: id, query: `_history/${vid}` });
    const versionId = Number(vid);
    if (!Number.isInteger(versionId) || versionId < 1)
      throw fhirErrors.notFound(`"${vid}" is not a version of ${type}/${id}.`);
    const version = await store.vread(type, id, versionId);
    request.fhirAudit!.patientIds = patientIdsOf(JSON.parse(version.content) as Resource);
    return sendVersion(reply, version, baseOf(request));
  });

  // Patient/$merge (the R5 operation, on R4 resources): Parameters with source-patient and target-patient.
  app.post('/Patient/$merge', async (request, reply) => {
    const principal = guard(request, 'write', 'Patient', {
      action: 'operation',
      resourceType: 'Patient',
      query: '$merge',
    });
    const parameters = request.body as Resource;
    if (parameters?.resourceType !== 'Parameters')
      throw fhirErrors.badRequest('Patient/$merge takes a Parameters resource with source-patient and target-patient.');
    const result = await store.submit({
      origin: { ...originOf(principal, request), reason: 'merge' },
      bundle: transaction({ request: { method: 'POST', url: 'Patient/$merge' }, resource: parameters }),
    });
    if (result.status === 'rejected') return sendOutcome(reply, result);
    const response = (result.response as Bundle).entry?.[0]?.response;
    return reply.type(FHIR_JSON).send(response?.outcome ?? outcome('information', 'informational', 'Merged.'));
  });

  app.get<{ Params: { id: string } }>('/Patient/:id/$everything', async (request, reply) => {
    const { id } = request.params;
    guard(request, 'read', 'Patient', {
      action: 'operation',
      resourceType: 'Patient',
      resourceId: id,
      query: '$everything',
      patientIds: [id],
    });
    const { count, offset } = paging(request, 1000, 5000);
    const result = await store.everything(id, { count, offset });
    const base = baseOf(request);
    const bundle: Bundle = {
      resourceType: 'Bundle',
      type: 'searchset',
      link: pageLinks(`${base}/Patient/${id}/$everything`, searchParams(request), count, offset, result.hasMore),
      entry: result.resources.map((resource) => ({
        fullUrl: `${base}/${resource.resourceType}/${resource.id}`,
        resource,
        search: { mode: 'match' },
      })),
      ...(!result.hasMore ? { total: offset + result.resources.length } : {}),
    };
    return reply.type(FHIR_JSON).send(bundle);
  });

  // ---- responses ----

  async function sendSearch(request: FastifyRequest, reply: FastifyReply, type: string, params: [string, string][]) {
    const strict = preference(request, 'handling') === 'strict';
    const query = parseSearch(type, params, { strict });
    const result = await store.search(query);
    const base = baseOf(request);
    const toEntry = (match: SearchMatch, mode: 'match' | 'include'): BundleEntry => {
      const resource = JSON.parse(match.content) as Resource;
      return { fullUrl: `${base}/${resource.resourceType}/${resource.id}`, resource, search: { mode } };
    };
    const entries = [
      ...result.matches.map((m) => toEntry(m, 'match')),
      ...result.included.map((m) => toEntry(m, 'include')),
    ];
    if (query.warnings.length > 0) {
      entries.push({
        resource: {
          resourceType: 'OperationOutcome',
          issue: query.warnings.map((text) => ({ severity: 'warning', code: 'not-supported', details: { text } })),
        },
        search: { mode: 'outcome' },
      });
    }
    request.fhirAudit!.patientIds = entries.flatMap((e) => (e.resource ? patientIdsOf(e.resource) : []));
    const bundle: Bundle = {
      resourceType: 'Bundle',
      type: 'searchset',
      ...(result.total !== undefined ? { total: result.total } : {}),
      link: query.summaryCount
        ? [{ relation: 'self', url: `${base}/${type}?${new URLSearchParams(params)}` }]
        : pageLinks(`${base}/${type}`, params, query.count, query.offset, result.hasMore),
      ...(query.summaryCount ? {} : { entry: entries }),
    };
    return reply.type(FHIR_JSON).send(bundle);
  }

  async function sendHistory(request: FastifyRequest, reply: FastifyReply, scope: { type?: string; id?: string }) {
    const { count, offset } = paging(request, 50, 1000);
    const since = (request.query as Record<string, string | undefined>)._since;
    const result = await store.history({ ...scope, count, offset, ...(since ? { since } : {}) });
    const base = baseOf(request);
    const path = [base, scope.type, scope.id, '_history'].filter(Boolean).join('/');
    const bundle: Bundle = {
      resourceType: 'Bundle',
      type: 'history',
      ...(result.total !== undefined ? { total: result.total } : {}),
      link: pageLinks(path, searchParams(request), count, offset, result.hasMore),
      entry: result.versions.map((v) => ({
        fullUrl: `${base}/${v.resourceType}/${v.id}`,
        ...(v.deleted ? {} : { resource: JSON.parse(v.content) as Resource }),
        request: {
          method: v.method as 'POST' | 'PUT' | 'DELETE',
          url: v.method === 'POST' ? v.resourceType : `${v.resourceType}/${v.id}`,
        },
        response: {
          status: v.deleted ? '204' : v.versionId === 1 ? '201' : '200',
          etag: `W/"${v.versionId}"`,
          lastModified: v.lastUpdated,
        },
      })),
    };
    request.fhirAudit!.patientIds = (bundle.entry ?? []).flatMap((e) => (e.resource ? patientIdsOf(e.resource) : []));
    return reply.type(FHIR_JSON).send(bundle);
  }

  async function sendWriteResult(request: FastifyRequest, reply: FastifyReply, result: ChangeSetOutcome) {
    if (result.status === 'rejected') return sendOutcome(reply, result);
    const entry = (result.response as Bundle).entry?.[0];
    const response = entry?.response;
    const status = Number(response?.status?.split(' ')[0] ?? 200);
    const base = baseOf(request);
    if (response?.location) {
      const [type, id, , vid] = response.location.split('/');
      request.fhirAudit!.resourceId ??= id;
      reply.header('location', `${base}/${response.location}`);
      reply.header('content-location', `${base}/${response.location}`);
      if (response.etag) reply.header('etag', response.etag);
      if (response.lastModified) reply.header('last-modified', new Date(response.lastModified).toUTCString());
      const prefer = preference(request, 'return');
      if (prefer === 'minimal') return reply.code(status).send();
      if (prefer === 'OperationOutcome') {
        return reply
          .code(status)
          .type(FHIR_JSON)
          .send(outcome('information', 'informational', `${request.method} ${type}/${id}: ${response.status}.`));
      }
      const version = await store.vread(type!, id!, Number(vid));
      request.fhirAudit!.patientIds = patientIdsOf(JSON.parse(version.content) as Resource);
      return reply.code(status).type(FHIR_JSON).send(version.content);
    }
    if (response?.etag) reply.header('etag', response.etag);
    return reply.code(status).send();
  }

  function sendOutcome(reply: FastifyReply, result: ChangeSetOutcome) {
    return reply
      .code(result.httpStatus)
      .type(FHIR_JSON)
      .send(result.response as OperationOutcome);
  }
};

function sendVersion(reply: FastifyReply, version: StoredVersion, _base: string) {
  reply.header('etag', `W/"${version.versionId}"`);
  reply.header('last-modified', new Date(version.lastUpdated).toUTCString());
  return reply.type(FHIR_JSON).send(version.content);
}

function transaction(entry: BundleEntry): Bundle {
  return { resourceType: 'Bundle', type: 'transaction', entry: [entry] };
}

function toFhirError(error: unknown): FhirError {
  if (isFhirError(error)) return error;
  const e = error as { statusCode?: number; code?: string; message?: string; validation?: unknown };
  if (e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    return new FhirError(
      415,
      outcome(
        'error',
        'not-supported',
        `Unsupported Content-Type: send application/fhir+json. ${e.message ?? ''}`.trim(),
      ),
    );
  }
  if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
    return new FhirError(413, outcome('error', 'too-costly', 'The request body is too large.'));
  if (e.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') return fhirErrors.badRequest('The request body is empty.');
  if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500)
    return new FhirError(e.statusCode, outcome('error', 'invalid', e.message ?? 'Bad request'));
  return fhirErrors.internal('Internal error. The details are in the hub log under this request id.');
}

function prefixIssues(error: unknown, path: string): unknown {
  if (!isFhirError(error)) return error;
  for (const issue of error.outcome.issue ?? []) {
    if (issue.expression)
      issue.expression = issue.expression.map((e) => `${path}.${e.split('.').slice(1).join('.')}`.replace(/\.$/, ''));
    else issue.expression = [path];
  }
  return error;
}

function checkType(type: string): void {
  if (!isResourceType(type))
    throw new FhirError(404, outcome('error', 'not-supported', `Unknown resource type "${type}".`));
  if (!isPersistableType(type))
    throw new FhirError(404, outcome('error', 'not-supported', `${type} is not stored by this server.`));
}

function checkFormat(request: FastifyRequest): void {
  const format = (request.query as Record<string, string | undefined>)._format;
  const accept = headerValue(request, 'accept');
  const wantsXml = (format && /xml/i.test(format)) || (accept && /xml/i.test(accept) && !/json|\*\/\*/i.test(accept));
  if (wantsXml)
    throw new FhirError(406, outcome('error', 'not-supported', 'Only JSON is served: ask for application/fhir+json.'));
}

function headerValue(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** `Prefer: return=minimal, handling=strict` → the value of one preference. */
function preference(request: FastifyRequest, name: string): string | undefined {
  const prefer = headerValue(request, 'prefer');
  if (!prefer) return undefined;
  for (const part of prefer.split(/[;,]/)) {
    const [key, value] = part.trim().split('=');
    if (key?.trim() === name) return value?.trim().replace(/^"|"$/g, '');
  }
  return undefined;
}

function queryString(request: FastifyRequest): string {
  const q = request.url.indexOf('?');
  return q >= 0 ? request.url.slice(q + 1) : '';
}

function searchParams(request: FastifyRequest): [string, string][] {
  return [...new URLSearchParams(queryString(request))];
}

function paging(request: FastifyRequest, defaultCount: number, maxCount: number): { count: number; offset: number } {
  const query = request.query as Record<string, string | undefined>;
  const count = query._count !== undefined ? Number(query._count) : defaultCount;
  const offset = query._offset !== undefined ? Number(query._offset) : 0;
  if (!Number.isInteger(count) || count < 0) throw fhirErrors.badRequest('_count must be a non-negative integer.');
  if (!Number.isInteger(offset) || offset < 0) throw fhirErrors.badRequest('_offset must be a non-negative integer.');
  return { count: Math.min(count, maxCount), offset };
}

function pageLinks(
  path: string,
  params: [string, string][],
  count: number,
  offset: number,
  hasMore: boolean,
): Bundle['link'] {
  const url = (newOffset: number) => {
    const rest = params.filter(([k]) => k !== '_offset' && k !== '_count');
    rest.push(['_count', String(count)]);
    if (newOffset > 0) rest.push(['_offset', String(newOffset)]);
    return `${path}?${new URLSearchParams(rest)}`;
  };
  const links: NonNullable<Bundle['link']> = [
    { relation: 'self', url: url(offset) },
    { relation: 'first', url: url(0) },
  ];
  if (hasMore) links.push({ relation: 'next', url: url(offset + count) });
  if (offset > 0) links.push({ relation: 'previous', url: url(Math.max(0, offset - count)) });
  return links;
}

function withAbsoluteLocation(entry: BundleEntry, base: string): BundleEntry {
  if (!entry.response?.location) return entry;
  return { ...entry, response: { ...entry.response, location: `${base}/${entry.response.location}` } };
}

function stripBase(criteria: string, type: string): string {
  return criteria.replace(new RegExp(`^.*?${type}\\?`), '').replace(/^\?/, '');
}

/** Patients whose data a resource holds (for the audit trail). */
export function patientIdsOf(resource: Resource): string[] {
  if (resource.resourceType === 'Patient') return resource.id ? [resource.id] : [];
  const r = resource as { subject?: { reference?: string }; patient?: { reference?: string } };
  const ref = r.patient?.reference ?? r.subject?.reference;
  return ref?.startsWith('Patient/') ? [ref.split('/')[1]!] : [];
}

function patientIdsOfBundle(bundle: Bundle): string[] {
  return (bundle.entry ?? [])
    .map((e) => e.response?.location ?? '')
    .filter((l) => l.startsWith('Patient/'))
    .map((l) => l.split('/')[1]!);
}

export type { FastifyInstance };
