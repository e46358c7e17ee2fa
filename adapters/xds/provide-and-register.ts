// ITI-41 Provide and Register Document Set-b: read a request (repository role), build one (document-source role).
import { randomUUID } from 'node:crypto';
import { attribute, childElement, childElements, el, ownText, type XmlElement } from '../xml/index.js';
import { Ns, SoapAction, XdsErrorCode } from './constants.js';
import { buildSubmitObjectsRequest, type BuildOptions } from './ebrim-build.js';
import { parseSubmitObjectsRequest } from './ebrim-parse.js';
import type { RegistryObjectList, XdsIssue } from './model.js';
import { buildMtomMessage, newContentId, type BuiltMultipart, type MultipartRelated } from './mtom.js';
import { buildSoapEnvelope } from './soap.js';
import type { SubmittedDocument } from './validate.js';

export interface ProvideAndRegisterRequest {
  objects: RegistryObjectList;
  /** Documents by DocumentEntry id. */
  documents: Map<string, SubmittedDocument>;
  /** Problems found while reading (metadata and document parts). Validate with validateSubmission for the rest. */
  issues: XdsIssue[];
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Reads the content of an xdsb:Document-like element: an xop:Include to a MIME part, or inline base64. */
export function readDocumentContent(
  element: XmlElement,
  multipart: MultipartRelated | undefined,
): { bytes: Uint8Array; contentType?: string } | { error: string } {
  const include = childElement(element, Ns.xop, 'Include');
  if (include) {
    const href = attribute(include, 'href') ?? '';
    if (!multipart) return { error: `xop:Include href="${href}" but the request is not MTOM (multipart/related)` };
    const part = multipart.part(href);
    if (!part) return { error: `xop:Include href="${href}" names no MIME part of the message` };
    return { bytes: part.body, contentType: part.contentType };
  }
  if (childElements(element).length > 0)
    return { error: `unexpected element inside ${element.qname}: expected base64 text or xop:Include` };
  const text = ownText(element).replace(/\s+/g, '');
  if (!BASE64.test(text) || text.length % 4 !== 0) return { error: 'its content is not valid base64' };
  return { bytes: Buffer.from(text, 'base64') };
}

/** Reads the body of an ITI-41 request (`xdsb:ProvideAndRegisterDocumentSetRequest`). */
export function parseProvideAndRegisterRequest(
  body: XmlElement,
  multipart?: MultipartRelated,
): ProvideAndRegisterRequest {
  const issues: XdsIssue[] = [];
  const documents = new Map<string, SubmittedDocument>();
  if (body.uri !== Ns.xdsb || body.local !== 'ProvideAndRegisterDocumentSetRequest') {
    issues.push({
      code: XdsErrorCode.repositoryError,
      severity: 'error',
      message: `Expected xdsb:ProvideAndRegisterDocumentSetRequest (${Ns.xdsb}), found {${body.uri}}${body.local}`,
    });
    return {
      objects: { submissionSets: [], documentEntries: [], folders: [], associations: [], objectRefs: [] },
      documents,
      issues,
    };
  }
  const sor = childElement(body, Ns.lcm, 'SubmitObjectsRequest');
  const parsed = sor
    ? parseSubmitObjectsRequest(sor)
    : {
        objects: { submissionSets: [], documentEntries: [], folders: [], associations: [], objectRefs: [] },
        issues: [
          {
            code: XdsErrorCode.registryMetadataError,
            severity: 'error' as const,
            message: 'The request has no lcm:SubmitObjectsRequest',
          },
        ],
      };
  issues.push(...parsed.issues);
  for (const docEl of childElements(body, Ns.xdsb, 'Document')) {
    const id = attribute(docEl, 'id') ?? '';
    if (!id) {
      issues.push({
        code: XdsErrorCode.missingDocumentMetadata,
        severity: 'error',
        message: 'xdsb:Document without id attribute: set id to its DocumentEntry id',
        location: `line ${docEl.line}`,
      });
      continue;
    }
    if (documents.has(id)) {
      issues.push({
        code: XdsErrorCode.repositoryError,
        severity: 'error',
        message: `Two xdsb:Document elements have id "${id}"`,
        location: `Document ${id}`,
      });
      continue;
    }
    const content = readDocumentContent(docEl, multipart);
    if ('error' in content) {
      issues.push({
        code: XdsErrorCode.missingDocument,
        severity: 'error',
        message: `Document "${id}": ${content.error}`,
        location: `Document ${id}`,
      });
      continue;
    }
    documents.set(id, content);
  }
  return { objects: parsed.objects, documents, issues };
}

export interface DocumentToSubmit {
  /** The DocumentEntry id this document belongs to. */
  id: string;
  bytes: Uint8Array;
  mimeType: string;
}

export interface ProvideAndRegisterMessageOptions extends BuildOptions {
  /** Endpoint URL (wsa:To). */
  to?: string;
  messageId?: string;
}

/** Builds an ITI-41 request as MTOM (document-source role): metadata + documents as xop:Include attachments. */
export function buildProvideAndRegisterRequest(
  objects: RegistryObjectList,
  documents: readonly DocumentToSubmit[],
  options: ProvideAndRegisterMessageOptions = {},
): BuiltMultipart & { messageId: string } {
  const attachments = documents.map((d) => ({ contentId: newContentId(d.id), contentType: d.mimeType, body: d.bytes }));
  const messageId = options.messageId ?? `urn:uuid:${randomUUID()}`;
  const body = el(
    'xdsb:ProvideAndRegisterDocumentSetRequest',
    { 'xmlns:xdsb': Ns.xdsb, 'xmlns:xop': Ns.xop },
    buildSubmitObjectsRequest(objects, options),
    ...documents.map((d, i) =>
      el('xdsb:Document', { id: d.id }, el('xop:Include', { href: `cid:${attachments[i]!.contentId}` })),
    ),
  );
  const envelope = buildSoapEnvelope(body, {
    action: SoapAction.provideAndRegister,
    messageId,
    ...(options.to ? { to: options.to } : {}),
  });
  return { ...buildMtomMessage(envelope, attachments, { action: SoapAction.provideAndRegister }), messageId };
}
