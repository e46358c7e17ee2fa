// XDS.b on HTTP (SOAP 1.2, MTOM/XOP): the Document Repository at /xds/repository (ITI-41 Provide and Register,
// ITI-43 Retrieve Document Set) and the Document Registry at /xds/registry (ITI-18 Registry Stored Query, ITI-42
// Register Document Set), both on the canonical store through the DocumentRegistry.
//
// Every request body is persisted in the message store before it is read (with its Content-Type, so an MTOM
// message can be read again); a request that is not SOAP gets a SOAP fault, a SOAP request with bad metadata gets a
// RegistryResponse with the XDS error codes; the sender is acknowledged (Success) only once the change is durable.
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { DocumentReference } from '@medplum/fhirtypes';
import {
  buildAdhocQueryResponse,
  buildMtomMessage,
  buildRegistryResponse,
  buildRetrieveDocumentSetResponse,
  buildSoapEnvelope,
  buildSoapFault,
  checkFrenchMetadata,
  faultHttpStatus,
  Ns,
  parseAdhocQueryRequest,
  parseProvideAndRegisterRequest,
  parseRetrieveDocumentSetRequest,
  parseSubmitObjectsRequest,
  readSoapRequest,
  SoapAction,
  SoapFaultCode,
  SoapFaultError,
  unknownDocumentIssue,
  validateSubmission,
  type RegistryObjectList,
  type RetrievedDocument,
  type SoapEnvelope,
  type SoapReadLimits,
  type SubmittedDocument,
  type XdsIssue,
} from '../../adapters/xds/index.js';
import { serializeXml, type XmlElementSpec } from '../../adapters/xml/index.js';
import { Stage } from '../../engine/message-store.js';
import type { HubContext } from '../../hub/module.js';
import { Role, type TokenPrincipal } from '../../hub/tokens.js';
import type { DocumentRegistry } from '../documents/document-registry.js';
import { xdsIssueToMessageIssue, type DocumentJournal } from '../documents/journal.js';
import { StoredQueries } from '../documents/stored-queries.js';

export interface XdsRoutesOptions {
  hub: HubContext;
  registry: () => DocumentRegistry;
  journal: () => DocumentJournal;
  /** `token` (default): a bearer token as on the FHIR API; `none`: behind a mutual-TLS proxy that authenticates. */
  authentication: 'token' | 'none';
  /** Largest request body (default 100 MiB); the MTOM parts and XML are bounded too. */
  maxRequestBytes: number;
  /** Add the CI-SIS/DMP metadata checks as warnings when the patient is French (INS or a 1.2.250 OID). */
  frenchMetadataWarnings: boolean;
}

const SOAP_XML = 'application/soap+xml; charset=UTF-8';

/** The raw form kept in the message store: a MIME entity (Content-Type header + body), readable again as sent. */
export function rawHttpEntity(contentType: string, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`Content-Type: ${contentType.replace(/[\r\n]/g, ' ')}\r\n\r\n`, 'latin1'), body]);
}

class Refusal extends Error {
  constructor(
    readonly status: number,
    readonly fault: SoapFaultError,
  ) {
    super(fault.reason);
  }
}

export const xdsRoutes: FastifyPluginAsync<XdsRoutesOptions> = async (app, options) => {
  const { hub } = options;
  const limits: SoapReadLimits = {
    mtom: { maxBytes: options.maxRequestBytes },
    xml: { maxBytes: Math.min(options.maxRequestBytes, 64 * 1024 * 1024) },
  };

  // Bodies are read as bytes, whatever they claim to be: the SOAP layer decides.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: options.maxRequestBytes }, (_request, body, done) =>
    done(null, body),
  );

  app.setErrorHandler((error: unknown, request, reply) => {
    const e = error as { code?: string; statusCode?: number; message?: string };
    if (error instanceof Refusal) return sendFault(reply, error.fault, error.status);
    if (error instanceof SoapFaultError) return sendFault(reply, error);
    if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return sendFault(
        reply,
        new SoapFaultError(
          SoapFaultCode.sender,
          `The request is larger than ${options.maxRequestBytes} bytes: send fewer or smaller documents per request`,
        ),
        413,
      );
    }
    if (e.statusCode && e.statusCode < 500)
      return sendFault(reply, new SoapFaultError(SoapFaultCode.sender, e.message ?? 'Bad request'), e.statusCode);
    request.log.error({ err: error }, 'XDS request failed');
    return sendFault(
      reply,
      new SoapFaultError(
        SoapFaultCode.receiver,
        `Internal error (request ${request.id}); the details are in the hub log. Retry later.`,
      ),
    );
  });

  const principal = (request: FastifyRequest, roles: string[]): TokenPrincipal | undefined => {
    if (options.authentication === 'none') return undefined;
    try {
      const p = hub.principalOf(request);
      hub.requireRole(p, ...roles);
      return p;
    } catch (error) {
      const status = (error as { status?: number }).status ?? 401;
      throw new Refusal(status, new SoapFaultError(SoapFaultCode.sender, (error as Error).message));
    }
  };

  const audit = async (
    request: FastifyRequest,
    who: TokenPrincipal | undefined,
    action: 'create' | 'search' | 'read',
    outcome: number,
    query: string,
    patientIds: string[] = [],
  ) => {
    await hub.audit.record({
      actor: who?.id ?? `xds ${request.ip}`,
      action,
      outcome,
      query,
      sourceIp: request.ip,
      requestId: String(request.id),
      purpose: headerValue(request, 'x-purpose-of-use') ?? 'TREAT',
      ...(patientIds.length ? { patientIds: patientIds.slice(0, 50) } : {}),
    });
  };

  /** Reads the SOAP request; one that cannot be read is kept in the message store (error state) before the fault. */
  const readRequest = async (request: FastifyRequest, channel: string) => {
    const body = bodyOf(request);
    const contentType = headerValue(request, 'content-type') ?? '';
    try {
      return { body, contentType, soap: readSoapRequest(body, contentType, limits) };
    } catch (error) {
      if (error instanceof SoapFaultError) {
        const journal = options.journal();
        const message = await journal
          .received({
            channel,
            raw: rawHttpEntity(contentType, body),
            source: `http ${request.ip}`,
            sender: request.ip,
            messageType: 'SOAP',
          })
          .catch(() => undefined);
        if (message)
          await journal
            .failed(message, [
              { stage: Stage.Decode, severity: 'error', code: `soap:${error.faultCode}`, message: error.reason },
            ])
            .catch(() => undefined);
      }
      throw error;
    }
  };

  app.post('/repository', async (request, reply) => {
    principal(request, [Role.Admin, Role.Write, Role.Read]);
    const { body, contentType, soap } = await readRequest(request, 'xds-repository');
    const operation = operationOf(soap.envelope, [
      'ProvideAndRegisterDocumentSetRequest',
      'RetrieveDocumentSetRequest',
    ]);
    if (operation === 'ProvideAndRegisterDocumentSetRequest') {
      const who = principal(request, [Role.Admin, Role.Write]);
      return provideAndRegister(request, reply, { body, contentType, soap, who });
    }
    return retrieve(request, reply, {
      envelope: soap.envelope,
      who: principal(request, [Role.Admin, Role.Write, Role.Read]),
    });
  });

  app.post('/registry', async (request, reply) => {
    principal(request, [Role.Admin, Role.Write, Role.Read]);
    const { body, contentType, soap } = await readRequest(request, 'xds-registry');
    const operation = operationOf(soap.envelope, ['AdhocQueryRequest', 'SubmitObjectsRequest']);
    if (operation === 'SubmitObjectsRequest') {
      const who = principal(request, [Role.Admin, Role.Write]);
      return register(request, reply, { body, contentType, soap, who });
    }
    return storedQuery(request, reply, {
      envelope: soap.envelope,
      who: principal(request, [Role.Admin, Role.Write, Role.Read]),
    });
  });

  // ---- ITI-41 / ITI-42 ----------------------------------------------------------------------------------------------

  interface SubmissionRequest {
    body: Buffer;
    contentType: string;
    soap: ReturnType<typeof readSoapRequest>;
    who: TokenPrincipal | undefined;
  }

  async function provideAndRegister(request: FastifyRequest, reply: FastifyReply, input: SubmissionRequest) {
    const parsed = parseProvideAndRegisterRequest(input.soap.envelope.body, input.soap.multipart);
    const issues = [
      ...parsed.issues,
      ...validateSubmission(parsed.objects, { profile: 'ITI-41', documents: parsed.documents }),
    ];
    return submit(request, reply, input, {
      kind: 'ITI-41',
      objects: parsed.objects,
      documents: parsed.documents,
      issues,
      responseAction: SoapAction.provideAndRegisterResponse,
      channel: 'xds-repository',
    });
  }

  async function register(request: FastifyRequest, reply: FastifyReply, input: SubmissionRequest) {
    const parsed = parseSubmitObjectsRequest(input.soap.envelope.body);
    const issues = [...parsed.issues, ...validateSubmission(parsed.objects, { profile: 'ITI-42' })];
    return submit(request, reply, input, {
      kind: 'ITI-42',
      objects: parsed.objects,
      documents: new Map(),
      issues,
      responseAction: SoapAction.registerResponse,
      channel: 'xds-registry',
    });
  }

  async function submit(
    request: FastifyRequest,
    reply: FastifyReply,
    input: SubmissionRequest,
    s: {
      kind: 'ITI-41' | 'ITI-42';
      objects: RegistryObjectList;
      documents: ReadonlyMap<string, SubmittedDocument>;
      issues: XdsIssue[];
      responseAction: string;
      channel: string;
    },
  ) {
    const set = s.objects.submissionSets[0];
    const patientIds = set?.patientId ? [set.patientId] : [];
    const journal = options.journal();
    const message = await journal
      .received({
        channel: s.channel,
        raw: rawHttpEntity(input.contentType, input.body),
        source: `http ${request.ip}`,
        sender: set?.sourceId ?? input.who?.name ?? request.ip,
        messageType: s.kind,
        ...(set?.uniqueId ? { controlId: set.uniqueId } : {}),
        patientIds,
      })
      .catch((error: Error) => {
        request.log.error({ err: error }, 'the message store refused an XDS submission');
        throw new SoapFaultError(
          SoapFaultCode.receiver,
          'The submission could not be persisted (message store unavailable): nothing was registered; retry later.',
        );
      });
    const warnings = s.issues.filter((i) => i.severity === 'warning');
    if (options.frenchMetadataWarnings && isFrenchPatient(set?.patientId)) {
      for (const entry of s.objects.documentEntries) warnings.push(...checkFrenchMetadata(entry));
    }
    const errors = s.issues.filter((i) => i.severity === 'error');
    const respond = async (all: XdsIssue[], status: number) => {
      await audit(request, input.who, 'create', status, `${s.kind} ${set?.uniqueId ?? ''}`.trim(), []);
      return sendSoap(
        reply,
        input.soap.multipart !== undefined,
        buildRegistryResponse(all),
        s.responseAction,
        input.soap.envelope.addressing.messageId,
      );
    };
    if (errors.length > 0) {
      await journal.failed(
        message,
        errors.map((i) => xdsIssueToMessageIssue(i)),
        warnings.map((i) => xdsIssueToMessageIssue(i)),
      );
      return respond([...errors, ...warnings], 200);
    }
    const result = await options.registry().file({
      objects: s.objects,
      documents: s.documents,
      withDocuments: s.kind === 'ITI-41',
      origin: {
        kind: 'channel',
        channel: s.channel,
        messageId: message.id,
        rawSha256: message.rawSha256,
        sender: set?.sourceId ? `urn:oid:${set.sourceId}` : `http ${request.ip}`,
        ...(input.who ? { actor: input.who.id } : {}),
        ...(set?.uniqueId ? { controlId: set.uniqueId } : {}),
      },
    });
    switch (result.status) {
      case 'refused':
        await journal.failed(
          message,
          result.issues.map((i) => xdsIssueToMessageIssue(i, Stage.Store)),
          warnings.map((i) => xdsIssueToMessageIssue(i)),
        );
        return respond([...result.issues, ...warnings], 200);
      case 'duplicate':
        await journal.filed(message, undefined, [
          {
            stage: Stage.Store,
            severity: 'information',
            code: 'duplicate',
            message: 'The same submission was filed before: nothing new was written.',
          },
        ]);
        return respond(warnings, 200);
      case 'filed':
        await journal.filed(
          message,
          result.changeSetId,
          warnings.map((i) => xdsIssueToMessageIssue(i)),
        );
        return respond(warnings, 200);
      default:
        return result satisfies never;
    }
  }

  // ---- ITI-43 ---------------------------------------------------------------------------------------------------------

  async function retrieve(
    request: FastifyRequest,
    reply: FastifyReply,
    input: { envelope: SoapEnvelope; who: TokenPrincipal | undefined },
  ) {
    const { requests, issues } = parseRetrieveDocumentSetRequest(input.envelope.body);
    const registry = options.registry();
    const documents: RetrievedDocument[] = [];
    const patients = new Set<string>();
    for (const r of requests) {
      if (r.repositoryUniqueId !== registry.repositoryUniqueId) {
        issues.push(unknownDocumentIssue(r, registry.repositoryUniqueId));
        continue;
      }
      const doc = await registry.documentByUniqueId(r.documentUniqueId);
      const stored = doc ? await registry.documentBytes(doc) : undefined;
      if (!doc || !stored) {
        issues.push(unknownDocumentIssue(r, registry.repositoryUniqueId));
        continue;
      }
      const patient = (doc as DocumentReference).subject?.reference;
      if (patient?.startsWith('Patient/')) patients.add(patient.slice(8));
      documents.push({ ...r, mimeType: stored.contentType, bytes: stored.bytes });
    }
    await audit(
      request,
      input.who,
      'read',
      200,
      `ITI-43 ${requests.map((r) => r.documentUniqueId).join(',')}`.slice(0, 500),
      [...patients],
    );
    const envelopeBody = buildRetrieveDocumentSetResponse(documents, issues, {
      ...(input.envelope.addressing.messageId ? { relatesTo: input.envelope.addressing.messageId } : {}),
    });
    return reply.code(200).header('content-type', envelopeBody.contentType).send(envelopeBody.body);
  }

  // ---- ITI-18 ---------------------------------------------------------------------------------------------------------

  async function storedQuery(
    request: FastifyRequest,
    reply: FastifyReply,
    input: { envelope: SoapEnvelope; who: TokenPrincipal | undefined },
  ) {
    const parsed = parseAdhocQueryRequest(input.envelope.body);
    const respond = async (body: XmlElementSpec, query: string, patientIds: string[] = []) => {
      await audit(request, input.who, 'search', 200, query, patientIds);
      return sendSoap(reply, false, body, SoapAction.registryStoredQueryResponse, input.envelope.addressing.messageId);
    };
    const emptyList: RegistryObjectList = {
      submissionSets: [],
      documentEntries: [],
      folders: [],
      associations: [],
      objectRefs: [],
    };
    if (!parsed.ok)
      return respond(
        buildAdhocQueryResponse(emptyList, { returnType: 'ObjectRef', issues: parsed.issues }),
        'ITI-18 refused',
      );
    const result = await new StoredQueries(options.registry()).run(parsed.query);
    const description = `ITI-18 ${parsed.query.kind} ${parsed.query.returnType}`;
    if (!result.ok)
      return respond(
        buildAdhocQueryResponse(emptyList, {
          returnType: parsed.query.returnType,
          issues: [...result.issues, ...parsed.warnings],
        }),
        description,
      );
    return respond(
      buildAdhocQueryResponse(result.objects, { returnType: parsed.query.returnType, issues: parsed.warnings }),
      description,
    );
  }

  function sendSoap(
    reply: FastifyReply,
    mtom: boolean,
    body: XmlElementSpec,
    action: string,
    relatesTo: string | undefined,
  ) {
    const envelope = buildSoapEnvelope(body, { action, ...(relatesTo ? { relatesTo } : {}) });
    if (mtom) {
      const built = buildMtomMessage(envelope, [], { action });
      return reply.code(200).header('content-type', built.contentType).send(built.body);
    }
    return reply.code(200).header('content-type', SOAP_XML).send(envelope);
  }
};

function sendFault(reply: FastifyReply, fault: SoapFaultError, status = faultHttpStatus(fault.faultCode)) {
  return reply
    .code(status)
    .header('content-type', SOAP_XML)
    .send(
      buildSoapFault({
        code: fault.faultCode,
        reason: fault.reason,
        ...(fault.subcode ? { subcode: fault.subcode } : {}),
      }),
    );
}

function bodyOf(request: FastifyRequest): Buffer {
  const body = request.body;
  if (Buffer.isBuffer(body) && body.length > 0) return body;
  throw new SoapFaultError(
    SoapFaultCode.sender,
    'The request has no body: send a SOAP 1.2 envelope (application/soap+xml) or an MTOM message (multipart/related)',
  );
}

/** Which transaction a request is: its Body element, checked against wsa:Action when there is one. */
function operationOf(envelope: SoapEnvelope, accepted: string[]): string {
  const body = envelope.body;
  const known: Record<string, { ns: string; action: string }> = {
    ProvideAndRegisterDocumentSetRequest: { ns: Ns.xdsb, action: SoapAction.provideAndRegister },
    RetrieveDocumentSetRequest: { ns: Ns.xdsb, action: SoapAction.retrieveDocumentSet },
    AdhocQueryRequest: { ns: Ns.query, action: SoapAction.registryStoredQuery },
    SubmitObjectsRequest: { ns: Ns.lcm, action: SoapAction.register },
  };
  const expected = accepted.find((name) => body.local === name && body.uri === known[name]!.ns);
  const action = envelope.addressing.action?.trim();
  if (!expected) {
    const byAction = Object.entries(known).find(([, v]) => v.action === action)?.[0];
    throw new SoapFaultError(
      SoapFaultCode.sender,
      byAction && !accepted.includes(byAction)
        ? `${action} is not served at this endpoint: send ${byAction} to ${byAction === 'AdhocQueryRequest' || byAction === 'SubmitObjectsRequest' ? '/xds/registry' : '/xds/repository'}`
        : `The SOAP Body holds {${body.uri}}${body.local}; this endpoint accepts ${accepted.join(' or ')}`,
      'wsa:ActionNotSupported',
    );
  }
  if (action && action !== known[expected]!.action) {
    throw new SoapFaultError(
      SoapFaultCode.sender,
      `wsa:Action "${action}" does not match the body ${expected}: send ${known[expected]!.action}`,
      'wsa:ActionNotSupported',
    );
  }
  return expected;
}

function headerValue(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function isFrenchPatient(cx: string | undefined): boolean {
  return !!cx && /&1\.2\.250\./.test(cx);
}

export { serializeXml };
export type { FastifyInstance };
