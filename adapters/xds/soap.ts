// SOAP 1.2 envelopes with WS-Addressing, as the IHE ITI web services (Appendix V) use them, and SOAP faults.
import { randomUUID } from 'node:crypto';
import {
  attribute,
  childElement,
  childElements,
  el,
  isXmlError,
  parseXml,
  serializeXml,
  textContent,
  type XmlChild,
  type XmlDocument,
  type XmlElement,
  type XmlLimits,
} from '../xml/index.js';
import { Ns, SoapAction } from './constants.js';
import { MtomError, parseContentType, parseMultipartRelated, type MtomLimits, type MultipartRelated } from './mtom.js';

export const SoapFaultCode = {
  versionMismatch: 'VersionMismatch',
  mustUnderstand: 'MustUnderstand',
  sender: 'Sender',
  receiver: 'Receiver',
} as const;
export type SoapFaultCode = (typeof SoapFaultCode)[keyof typeof SoapFaultCode];

/** A request that cannot be processed as SOAP: answer with a SOAP fault (HTTP 400 for Sender, 500 for Receiver). */
export class SoapFaultError extends Error {
  override readonly name = 'SoapFaultError';
  constructor(
    readonly faultCode: SoapFaultCode,
    readonly reason: string,
    /** A qualified subcode such as `wsa:ActionNotSupported`. */
    readonly subcode?: string,
  ) {
    super(reason);
  }
}

export interface WsAddressing {
  action?: string;
  messageId?: string;
  to?: string;
  relatesTo?: string;
  replyTo?: string;
}

export interface SoapEnvelope {
  addressing: WsAddressing;
  /** Header children, as parsed (WS-Security, etc.). */
  headers: XmlElement[];
  /** The first element of soap:Body. */
  body: XmlElement;
  /** Tolerated deviations, e.g. WS-Addressing headers written in the SOAP namespace. */
  warnings: string[];
}

const WSA_HEADERS = new Set(['Action', 'MessageID', 'To', 'ReplyTo', 'RelatesTo', 'From', 'FaultTo']);

/** Reads the envelope of a parsed document. Throws {@link SoapFaultError}. */
export function readSoapEnvelope(
  doc: XmlDocument,
  understood: (header: XmlElement) => boolean = () => false,
): SoapEnvelope {
  const root = doc.root;
  if (root.local === 'Envelope' && root.uri === Ns.soap11) {
    throw new SoapFaultError(
      SoapFaultCode.versionMismatch,
      'SOAP 1.1 is not supported by IHE XDS.b: send a SOAP 1.2 envelope (http://www.w3.org/2003/05/soap-envelope)',
    );
  }
  if (root.local !== 'Envelope' || root.uri !== Ns.soap12) {
    throw new SoapFaultError(
      SoapFaultCode.sender,
      `The root element is {${root.uri}}${root.local}, expected a SOAP 1.2 Envelope`,
    );
  }
  const warnings: string[] = [];
  const header = childElement(root, Ns.soap12, 'Header');
  const headers = header ? childElements(header) : [];
  const addressing: WsAddressing = {};
  for (const h of headers) {
    const isWsa = h.uri === Ns.wsa && WSA_HEADERS.has(h.local);
    const misplacedWsa = h.uri === Ns.soap12 && WSA_HEADERS.has(h.local);
    if (misplacedWsa)
      warnings.push(`Header soap:${h.local} is in the SOAP namespace; read as WS-Addressing wsa:${h.local}`);
    if (isWsa || misplacedWsa) {
      const text =
        h.local === 'ReplyTo' || h.local === 'From' || h.local === 'FaultTo'
          ? textContent(childElements(h)[0] ?? h)
          : textContent(h);
      const value = text.trim();
      switch (h.local) {
        case 'Action':
          addressing.action = value;
          break;
        case 'MessageID':
          addressing.messageId = value;
          break;
        case 'To':
          addressing.to = value;
          break;
        case 'RelatesTo':
          addressing.relatesTo = value;
          break;
        case 'ReplyTo':
          addressing.replyTo = value;
          break;
      }
      continue;
    }
    const mu = attribute(h, 'mustUnderstand', Ns.soap12);
    if ((mu === 'true' || mu === '1') && !understood(h)) {
      throw new SoapFaultError(
        SoapFaultCode.mustUnderstand,
        `Header {${h.uri}}${h.local} is marked mustUnderstand and is not supported here: remove it or its mustUnderstand flag`,
      );
    }
  }
  const bodyElement = childElement(root, Ns.soap12, 'Body');
  if (!bodyElement) throw new SoapFaultError(SoapFaultCode.sender, 'The SOAP Envelope has no Body');
  const body = childElements(bodyElement)[0];
  if (!body) throw new SoapFaultError(SoapFaultCode.sender, 'The SOAP Body is empty');
  return { addressing, headers, body, warnings };
}

export interface SoapRequest {
  envelope: SoapEnvelope;
  /** Present when the request came as MTOM (multipart/related). */
  multipart: MultipartRelated | undefined;
}

export interface SoapReadLimits {
  xml?: Partial<XmlLimits>;
  mtom?: Partial<MtomLimits>;
}

/**
 * Reads an HTTP request body: SOAP 1.2 (`application/soap+xml`) or MTOM (`multipart/related` with an
 * `application/xop+xml` root). Throws {@link SoapFaultError} with a reason the sender can act on.
 */
export function readSoapRequest(body: Buffer, contentTypeHeader: string, limits: SoapReadLimits = {}): SoapRequest {
  const ct = parseContentType(contentTypeHeader || 'application/soap+xml');
  let xmlBytes: Buffer;
  let multipart: MultipartRelated | undefined;
  let charset = ct.params['charset'];
  if (ct.mediaType === 'multipart/related') {
    try {
      multipart = parseMultipartRelated(body, contentTypeHeader, limits.mtom);
    } catch (error) {
      if (error instanceof MtomError)
        throw new SoapFaultError(SoapFaultCode.sender, `Invalid MTOM message: ${error.message}`);
      throw error;
    }
    const rootType = parseContentType(multipart.root.contentType);
    if (!['application/xop+xml', 'application/soap+xml', 'text/xml'].includes(rootType.mediaType)) {
      throw new SoapFaultError(
        SoapFaultCode.sender,
        `The root MIME part is "${rootType.mediaType}", expected application/xop+xml carrying the SOAP envelope`,
      );
    }
    charset = rootType.params['charset'];
    xmlBytes = multipart.root.body;
  } else if (
    ct.mediaType === 'application/soap+xml' ||
    ct.mediaType === 'text/xml' ||
    ct.mediaType === 'application/xml'
  ) {
    xmlBytes = body;
  } else {
    throw new SoapFaultError(
      SoapFaultCode.sender,
      `Content-Type "${ct.mediaType}" is not SOAP: send application/soap+xml or multipart/related (MTOM)`,
    );
  }
  let doc: XmlDocument;
  try {
    doc = parseXml(xmlBytes, {
      source: 'The SOAP envelope',
      limits: limits.xml,
      ...(charset ? { defaultEncoding: charset } : {}),
    });
  } catch (error) {
    if (isXmlError(error)) throw new SoapFaultError(SoapFaultCode.sender, error.message);
    throw error;
  }
  return { envelope: readSoapEnvelope(doc), multipart };
}

export interface EnvelopeOptions {
  action: string;
  /** Defaults to a new urn:uuid. */
  messageId?: string;
  relatesTo?: string;
  to?: string;
  /** Extra namespace declarations for the Envelope (e.g. rim, rs, xdsb). */
  namespaces?: Record<string, string>;
  /** Additional header elements (e.g. a WS-Security header). */
  extraHeaders?: XmlChild[];
}

/** A SOAP 1.2 envelope with WS-Addressing headers around `body`. */
export function buildSoapEnvelope(body: XmlChild, options: EnvelopeOptions): string {
  const mu = { 'soap:mustUnderstand': 'true' };
  return serializeXml(
    el(
      'soap:Envelope',
      { 'xmlns:soap': Ns.soap12, 'xmlns:wsa': Ns.wsa, ...options.namespaces },
      el(
        'soap:Header',
        {},
        el('wsa:Action', mu, options.action),
        el('wsa:MessageID', {}, options.messageId ?? `urn:uuid:${randomUUID()}`),
        options.to ? el('wsa:To', mu, options.to) : undefined,
        options.relatesTo ? el('wsa:RelatesTo', {}, options.relatesTo) : undefined,
        options.relatesTo === undefined
          ? el('wsa:ReplyTo', mu, el('wsa:Address', {}, 'http://www.w3.org/2005/08/addressing/anonymous'))
          : undefined,
        ...(options.extraHeaders ?? []),
      ),
      el('soap:Body', {}, body),
    ),
  );
}

export interface FaultOptions {
  code: SoapFaultCode;
  reason: string;
  subcode?: string;
  relatesTo?: string;
}

/** A SOAP 1.2 fault envelope. */
export function buildSoapFault(options: FaultOptions): string {
  return buildSoapEnvelope(
    el(
      'soap:Fault',
      {},
      el(
        'soap:Code',
        {},
        el('soap:Value', {}, `soap:${options.code}`),
        options.subcode ? el('soap:Subcode', {}, el('soap:Value', {}, options.subcode)) : undefined,
      ),
      el('soap:Reason', {}, el('soap:Text', { 'xml:lang': 'en' }, options.reason)),
    ),
    { action: SoapAction.fault, ...(options.relatesTo ? { relatesTo: options.relatesTo } : {}) },
  );
}

/** HTTP status for a fault (SOAP 1.2 HTTP binding): 400 for env:Sender, 500 for the others. */
export function faultHttpStatus(code: SoapFaultCode): number {
  switch (code) {
    case SoapFaultCode.sender:
      return 400;
    case SoapFaultCode.versionMismatch:
    case SoapFaultCode.mustUnderstand:
    case SoapFaultCode.receiver:
      return 500;
    default:
      code satisfies never;
      return 500;
  }
}
