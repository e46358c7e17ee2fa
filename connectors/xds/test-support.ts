// Helpers for the XDS/MHD end-to-end tests: SOAP requests as a real XDS actor sends them, responses read back with
// the adapters (never by string matching alone).
import { readFileSync } from 'node:fs';
import type { LightMyRequestResponse } from 'fastify';
import { parseXml, serializeElement, type XmlElement } from '../../adapters/xml/index.js';
import {
  buildAdhocQueryRequest,
  buildProvideAndRegisterRequest,
  buildRetrieveDocumentSetRequest,
  buildSoapEnvelope,
  parseRegistryObjectList,
  parseRegistryResponse,
  parseRetrieveDocumentSetResponse,
  readSoapEnvelope,
  readSoapRequest,
  SoapAction,
  type RegistryObjectList,
} from '../../adapters/xds/index.js';
import {
  childElement,
  childElements,
  serializeXml,
  textContent,
  type XmlElementSpec,
} from '../../adapters/xml/index.js';
import { Ns } from '../../adapters/xds/constants.js';
import type { TestHub } from '../../test/hub-harness.js';

export const XDS_CORPUS = new URL('../../../shared/corpus/xds/', import.meta.url);
export const readCorpus = (path: string): Buffer => readFileSync(new URL(path, XDS_CORPUS));

/** The body element of a corpus file (bare, or inside a SOAP envelope). */
export function corpusBody(path: string): XmlElement {
  const doc = parseXml(readCorpus(path));
  return doc.root.local === 'Envelope' ? readSoapEnvelope(doc).body : doc.root;
}

/** A SOAP 1.2 request around a body (serialized element), as an XDS actor sends it. */
export function soapRequest(body: XmlElement, action: string): { payload: string; contentType: string } {
  const envelope = buildSoapEnvelope(serializeElement(body), { action });
  return { payload: envelope, contentType: `application/soap+xml; charset=UTF-8; action="${action}"` };
}

export async function post(
  t: TestHub,
  path: string,
  payload: string | Buffer,
  contentType: string,
  auth = true,
): Promise<LightMyRequestResponse> {
  return t.hub.app.inject({
    method: 'POST',
    url: path,
    payload,
    headers: { 'content-type': contentType, ...(auth ? t.auth : {}) },
  });
}

export interface ReadResponse {
  status: number;
  action?: string;
  body: XmlElement;
  /** For a SOAP fault: its reason. */
  fault?: string;
}

export function readResponse(res: LightMyRequestResponse): ReadResponse {
  const { envelope, multipart } = readSoapRequest(res.rawPayload, String(res.headers['content-type'] ?? ''));
  const body = envelope.body;
  const fault =
    body.local === 'Fault' && body.uri === Ns.soap12
      ? childElements(childElement(body, Ns.soap12, 'Reason')!, Ns.soap12, 'Text')
          .map(textContent)
          .join(' ')
      : undefined;
  void multipart;
  return {
    status: res.statusCode,
    ...(envelope.addressing.action ? { action: envelope.addressing.action } : {}),
    body,
    ...(fault ? { fault } : {}),
  };
}

/** The error codes of a RegistryResponse (sorted, unique), [] for Success. */
export function registryErrorCodes(res: LightMyRequestResponse): {
  status: string;
  codes: string[];
  messages: string[];
} {
  const r = readResponse(res);
  if (r.fault) throw new Error(`SOAP fault: ${r.fault}`);
  const parsed = parseRegistryResponse(r.body);
  const errors = parsed.errors.filter((e) => e.severity === 'error');
  return {
    status: parsed.status.split(':').pop()!,
    codes: [...new Set(errors.map((e) => e.code))].sort(),
    messages: errors.map((e) => e.message),
  };
}

export async function provideAndRegister(
  t: TestHub,
  objects: RegistryObjectList,
  documents: { id: string; bytes: Uint8Array; mimeType: string }[],
) {
  const message = buildProvideAndRegisterRequest(objects, documents, { to: 'http://hub/xds/repository' });
  return post(t, '/xds/repository', message.body, message.contentType);
}

export async function storedQuery(
  t: TestHub,
  queryId: string,
  params: Record<string, string | readonly string[]>,
  returnType: 'LeafClass' | 'ObjectRef' = 'LeafClass',
) {
  const res = await post(
    t,
    '/xds/registry',
    soapRequest(
      parseXml(serializeXmlSpec(buildAdhocQueryRequest(queryId, params, returnType))).root,
      SoapAction.registryStoredQuery,
    ).payload,
    'application/soap+xml; charset=UTF-8',
  );
  const r = readResponse(res);
  if (r.fault) throw new Error(`SOAP fault: ${r.fault}`);
  const status = r.body.attributes.find((a) => a.local === 'status')?.value ?? '';
  const list = childElement(r.body, Ns.rim, 'RegistryObjectList');
  const objects = list ? parseRegistryObjectList(list).objects : undefined;
  const errors = childElement(r.body, Ns.rs, 'RegistryErrorList');
  const codes = errors
    ? childElements(errors, Ns.rs, 'RegistryError').map(
        (e) => e.attributes.find((a) => a.local === 'errorCode')?.value ?? '',
      )
    : [];
  return { status: status.split(':').pop()!, objects: objects!, codes, response: res };
}

export async function retrieve(t: TestHub, repositoryUniqueId: string, documentUniqueIds: string[]) {
  const body = parseXml(
    serializeXmlSpec(
      buildRetrieveDocumentSetRequest(
        documentUniqueIds.map((documentUniqueId) => ({ repositoryUniqueId, documentUniqueId })),
      ),
    ),
  ).root;
  const res = await post(
    t,
    '/xds/repository',
    soapRequest(body, SoapAction.retrieveDocumentSet).payload,
    'application/soap+xml; charset=UTF-8',
  );
  const { envelope, multipart } = readSoapRequest(res.rawPayload, String(res.headers['content-type']));
  return { httpStatus: res.statusCode, ...parseRetrieveDocumentSetResponse(envelope.body, multipart) };
}

function serializeXmlSpec(spec: XmlElementSpec): string {
  return serializeXml(spec);
}
