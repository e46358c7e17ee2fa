// ITI-43 Retrieve Document Set: request parse/build, response build/parse (MTOM with xop:Include).
import { attribute, childElement, childElements, el, textContent, type XmlElement } from '../xml/index.js';
import { Ns, ResponseStatus, SoapAction, XdsErrorCode } from './constants.js';
import type { XdsIssue } from './model.js';
import { buildMtomMessage, newContentId, type BuiltMultipart, type MultipartRelated } from './mtom.js';
import { readDocumentContent } from './provide-and-register.js';
import { buildRegistryErrorList, parseRegistryResponse } from './registry-response.js';
import { buildSoapEnvelope } from './soap.js';

export interface DocumentRequest {
  homeCommunityId?: string;
  repositoryUniqueId: string;
  documentUniqueId: string;
}

export interface RetrievedDocument extends DocumentRequest {
  mimeType: string;
  bytes: Uint8Array;
}

/** Reads xdsb:RetrieveDocumentSetRequest. */
export function parseRetrieveDocumentSetRequest(request: XmlElement): {
  requests: DocumentRequest[];
  issues: XdsIssue[];
} {
  const issues: XdsIssue[] = [];
  const requests: DocumentRequest[] = [];
  if (request.uri !== Ns.xdsb || request.local !== 'RetrieveDocumentSetRequest') {
    issues.push({
      code: XdsErrorCode.repositoryError,
      severity: 'error',
      message: `Expected xdsb:RetrieveDocumentSetRequest, found {${request.uri}}${request.local}`,
    });
    return { requests, issues };
  }
  const items = childElements(request, Ns.xdsb, 'DocumentRequest');
  if (items.length === 0)
    issues.push({
      code: XdsErrorCode.repositoryError,
      severity: 'error',
      message: 'RetrieveDocumentSetRequest has no DocumentRequest',
    });
  for (const item of items) {
    const text = (local: string) => {
      const e = childElement(item, Ns.xdsb, local);
      return e ? textContent(e).trim() : '';
    };
    const repositoryUniqueId = text('RepositoryUniqueId');
    const documentUniqueId = text('DocumentUniqueId');
    const homeCommunityId = text('HomeCommunityId');
    if (!repositoryUniqueId || !documentUniqueId) {
      issues.push({
        code: XdsErrorCode.repositoryError,
        severity: 'error',
        message: `DocumentRequest at line ${item.line} needs RepositoryUniqueId and DocumentUniqueId`,
        location: `line ${item.line}`,
      });
      continue;
    }
    requests.push({ repositoryUniqueId, documentUniqueId, ...(homeCommunityId ? { homeCommunityId } : {}) });
  }
  return { requests, issues };
}

/** Builds xdsb:RetrieveDocumentSetRequest (document-consumer role). */
export function buildRetrieveDocumentSetRequest(requests: readonly DocumentRequest[]) {
  return el(
    'xdsb:RetrieveDocumentSetRequest',
    { 'xmlns:xdsb': Ns.xdsb },
    ...requests.map((r) =>
      el(
        'xdsb:DocumentRequest',
        {},
        r.homeCommunityId ? el('xdsb:HomeCommunityId', {}, r.homeCommunityId) : undefined,
        el('xdsb:RepositoryUniqueId', {}, r.repositoryUniqueId),
        el('xdsb:DocumentUniqueId', {}, r.documentUniqueId),
      ),
    ),
  );
}

/** The XDS error for a document this repository does not have. */
export function unknownDocumentIssue(request: DocumentRequest, ownRepositoryUniqueId: string): XdsIssue {
  if (request.repositoryUniqueId !== ownRepositoryUniqueId) {
    return {
      code: XdsErrorCode.unknownRepositoryId,
      severity: 'error',
      message: `Repository ${request.repositoryUniqueId} is not this repository (${ownRepositoryUniqueId})`,
      location: request.repositoryUniqueId,
    };
  }
  return {
    code: XdsErrorCode.documentUniqueIdError,
    severity: 'error',
    message: `Document ${request.documentUniqueId} is not available in repository ${request.repositoryUniqueId}`,
    location: request.documentUniqueId,
  };
}

/**
 * Builds the ITI-43 response as MTOM. Status: Success (all found), PartialSuccess (some), Failure (none).
 */
export function buildRetrieveDocumentSetResponse(
  documents: readonly RetrievedDocument[],
  issues: readonly XdsIssue[],
  options: { relatesTo?: string } = {},
): BuiltMultipart {
  const hasErrors = issues.some((i) => i.severity === 'error');
  const status = !hasErrors
    ? ResponseStatus.success
    : documents.length > 0
      ? ResponseStatus.partialSuccess
      : ResponseStatus.failure;
  const attachments = documents.map((d) => ({
    contentId: newContentId('doc'),
    contentType: d.mimeType,
    body: d.bytes,
  }));
  const body = el(
    'xdsb:RetrieveDocumentSetResponse',
    { 'xmlns:xdsb': Ns.xdsb, 'xmlns:rs': Ns.rs, 'xmlns:xop': Ns.xop },
    el('rs:RegistryResponse', { status }, buildRegistryErrorList(issues)),
    ...documents.map((d, i) =>
      el(
        'xdsb:DocumentResponse',
        {},
        d.homeCommunityId ? el('xdsb:HomeCommunityId', {}, d.homeCommunityId) : undefined,
        el('xdsb:RepositoryUniqueId', {}, d.repositoryUniqueId),
        el('xdsb:DocumentUniqueId', {}, d.documentUniqueId),
        el('xdsb:mimeType', {}, d.mimeType),
        el('xdsb:Document', {}, el('xop:Include', { href: `cid:${attachments[i]!.contentId}` })),
      ),
    ),
  );
  const envelope = buildSoapEnvelope(body, {
    action: SoapAction.retrieveDocumentSetResponse,
    ...(options.relatesTo ? { relatesTo: options.relatesTo } : {}),
  });
  return buildMtomMessage(envelope, attachments, { action: SoapAction.retrieveDocumentSetResponse });
}

/** Reads an ITI-43 response body (document-consumer role). */
export function parseRetrieveDocumentSetResponse(
  response: XmlElement,
  multipart?: MultipartRelated,
): { status: string; documents: RetrievedDocument[]; issues: XdsIssue[] } {
  const rr = childElement(response, Ns.rs, 'RegistryResponse');
  const parsed = rr ? parseRegistryResponse(rr) : { status: '', errors: [] as XdsIssue[] };
  const issues = [...parsed.errors];
  const documents: RetrievedDocument[] = [];
  for (const dr of childElements(response, Ns.xdsb, 'DocumentResponse')) {
    const text = (local: string) => {
      const e = childElement(dr, Ns.xdsb, local);
      return e ? textContent(e).trim() : '';
    };
    const docEl = childElement(dr, Ns.xdsb, 'Document');
    const content = docEl ? readDocumentContent(docEl, multipart) : { error: 'no Document element' };
    if ('error' in content) {
      issues.push({
        code: XdsErrorCode.repositoryError,
        severity: 'error',
        message: `DocumentResponse ${text('DocumentUniqueId')}: ${content.error}`,
      });
      continue;
    }
    const home = text('HomeCommunityId');
    documents.push({
      repositoryUniqueId: text('RepositoryUniqueId'),
      documentUniqueId: text('DocumentUniqueId'),
      mimeType: text('mimeType'),
      bytes: content.bytes,
      ...(home ? { homeCommunityId: home } : {}),
    });
  }
  return { status: parsed.status || attribute(response, 'status') || '', documents, issues };
}
