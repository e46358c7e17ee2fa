// Document reads on the FHIR base:
//   GET /fhir/Binary/{id}                      — the document's bytes as stored (MHD ITI-68), or the Binary as FHIR
//                                                JSON (data filled from the blob store) when JSON is asked for;
//   GET /fhir/DocumentReference/{id}/$html     — the CDA narrative as safe HTML for the UI (allow-listed, fetches
//                                                nothing, scripts removed), served with a CSP that forbids scripts.
// Static routes: they take precedence over the store's /fhir/:type/:id for these two paths only.
import type { Binary, DocumentReference, OperationOutcome } from '@medplum/fhirtypes';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { CdaError, escapeHtml, parseCda, renderCdaHtml } from '../../adapters/cda/index.js';
import { isXmlError } from '../../adapters/xml/index.js';
import type { HubContext } from '../../hub/module.js';
import { Role } from '../../hub/tokens.js';
import { FhirError, fhirErrors, isFhirError } from '../../store/fhir/outcome.js';
import type { DocumentRegistry } from './document-registry.js';

const FHIR_JSON = 'application/fhir+json; charset=utf-8';
/** No script, no fetch, no frame: only the inline styles and data: images the renderer itself writes. */
export const HTML_CSP =
  "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'self'";

export interface DocumentRoutesOptions {
  hub: HubContext;
  registry: () => DocumentRegistry;
}

function wantsFhirJson(request: FastifyRequest): boolean {
  const format = (request.query as Record<string, string | undefined>)._format;
  if (format && /json/i.test(format)) return true;
  const accept = request.headers.accept ?? '';
  return /application\/(fhir\+)?json/i.test(accept);
}

async function guarded(request: FastifyRequest, reply: FastifyReply, hub: HubContext, work: () => Promise<unknown>) {
  try {
    const principal = hub.principalOf(request);
    hub.requireRole(principal, Role.Admin, Role.Write, Role.Read);
    return await work();
  } catch (error) {
    const fhir = isFhirError(error)
      ? error
      : fhirErrors.internal(`Internal error (request ${request.id}); the details are in the hub log.`);
    if (!isFhirError(error)) request.log.error({ err: error }, 'document read failed');
    return reply.code(fhir.status).type(FHIR_JSON).send(fhir.outcome);
  }
}

export function registerDocumentRoutes(app: FastifyInstance, options: DocumentRoutesOptions): void {
  const { hub } = options;
  const audit = (
    request: FastifyRequest,
    outcome: number,
    resourceType: string,
    resourceId: string,
    query: string | undefined,
    patientIds: string[],
  ) =>
    hub.audit.record({
      actor: request.principal?.id ?? 'anonymous',
      action: 'read',
      outcome,
      resourceType,
      resourceId,
      ...(query ? { query } : {}),
      sourceIp: request.ip,
      requestId: String(request.id),
      purpose: (request.headers['x-purpose-of-use'] as string | undefined) ?? 'TREAT',
      ...(patientIds.length ? { patientIds } : {}),
    });

  app.get<{ Params: { id: string } }>('/fhir/Binary/:id', async (request, reply) =>
    guarded(request, reply, hub, async () => {
      const registry = options.registry();
      const binary = await registry.read<Binary>('Binary', request.params.id);
      if (!binary) throw fhirErrors.notFound(`Binary/${request.params.id} is not in the record.`);
      const bytes = await registry.binaryBytes(binary);
      if (!bytes)
        throw new FhirError(500, {
          resourceType: 'OperationOutcome',
          issue: [
            {
              severity: 'error',
              code: 'exception',
              details: {
                text: `The bytes of Binary/${binary.id} are missing from the blob store: restore the blob store from its backup.`,
              },
            },
          ],
        } as OperationOutcome);
      const patientIds = await patientsOfBinary(registry, binary);
      await audit(request, 200, 'Binary', binary.id!, undefined, patientIds);
      reply.header('etag', `W/"${binary.meta?.versionId ?? '1'}"`);
      if (wantsFhirJson(request)) {
        return reply.type(FHIR_JSON).send({ ...binary, data: bytes.toString('base64') });
      }
      return reply
        .type(binary.contentType || 'application/octet-stream')
        .header('x-content-type-options', 'nosniff')
        .header('content-security-policy', HTML_CSP)
        .header('content-disposition', 'inline')
        .send(bytes);
    }),
  );

  app.get<{ Params: { id: string } }>('/fhir/DocumentReference/:id/$html', async (request, reply) =>
    guarded(request, reply, hub, async () => {
      const registry = options.registry();
      const doc = await registry.read<DocumentReference>('DocumentReference', request.params.id);
      if (!doc) throw fhirErrors.notFound(`DocumentReference/${request.params.id} is not in the record.`);
      const stored = await registry.documentBytes(doc);
      if (!stored)
        throw fhirErrors.notFound(
          `DocumentReference/${doc.id} has no document stored here (content.attachment.url points elsewhere).`,
        );
      let html: string;
      try {
        const rendered = renderCdaHtml(parseCda(stored.bytes));
        html = rendered.html;
      } catch (error) {
        if (error instanceof CdaError || isXmlError(error)) {
          throw new FhirError(415, {
            resourceType: 'OperationOutcome',
            issue: [
              {
                severity: 'error',
                code: 'not-supported',
                details: {
                  text: `DocumentReference/${doc.id} is not a CDA document (${(error as Error).message}); read its bytes at ${doc.content[0]?.attachment.url ?? 'its attachment'}.`,
                },
              },
            ],
          });
        }
        throw error;
      }
      const subject = doc.subject?.reference?.startsWith('Patient/') ? [doc.subject.reference.slice(8)] : [];
      await audit(request, 200, 'DocumentReference', doc.id!, '$html', subject);
      const title = escapeHtml(doc.content[0]?.attachment.title ?? doc.description ?? 'Document');
      return reply
        .type('text/html; charset=utf-8')
        .header('content-security-policy', HTML_CSP)
        .header('x-content-type-options', 'nosniff')
        .header('referrer-policy', 'no-referrer')
        .send(
          `<!DOCTYPE html>\n<html lang="fr"><head><meta charset="utf-8"><title>${title}</title></head><body>${html}</body></html>\n`,
        );
    }),
  );
}

async function patientsOfBinary(registry: DocumentRegistry, binary: Binary): Promise<string[]> {
  const context = binary.securityContext?.reference;
  if (!context?.startsWith('DocumentReference/')) return [];
  const doc = await registry.read<DocumentReference>('DocumentReference', context.slice('DocumentReference/'.length));
  const ref = doc?.subject?.reference;
  return ref?.startsWith('Patient/') ? [ref.slice(8)] : [];
}
