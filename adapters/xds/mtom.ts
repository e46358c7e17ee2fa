// MIME multipart/related (RFC 2387) as MTOM/XOP uses it for SOAP 1.2: parse with limits, resolve `cid:` references,
// build. Tolerates what peers really send: LF-only line endings, no preamble, no final CRLF, folded headers,
// quoted or bare parameters, `%40`-encoded cids.
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';

export const MtomErrorCode = {
  BadContentType: 'MTOM_BAD_CONTENT_TYPE',
  NoBoundary: 'MTOM_NO_BOUNDARY',
  Malformed: 'MTOM_MALFORMED',
  Truncated: 'MTOM_TRUNCATED',
  TooLarge: 'MTOM_TOO_LARGE',
  TooManyParts: 'MTOM_TOO_MANY_PARTS',
  HeaderTooLarge: 'MTOM_HEADER_TOO_LARGE',
  BadTransferEncoding: 'MTOM_BAD_TRANSFER_ENCODING',
  NoRoot: 'MTOM_NO_ROOT',
  UnresolvedInclude: 'MTOM_UNRESOLVED_INCLUDE',
} as const;
export type MtomErrorCode = (typeof MtomErrorCode)[keyof typeof MtomErrorCode];

export class MtomError extends Error {
  override readonly name = 'MtomError';
  constructor(
    readonly code: MtomErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface MtomLimits {
  /** Whole body (default 100 MiB). */
  maxBytes: number;
  /** Number of parts, root included (default 1000). */
  maxParts: number;
  /** Header block of one part (default 16 KiB). */
  maxHeaderBytes: number;
}

export const DEFAULT_MTOM_LIMITS: Readonly<MtomLimits> = Object.freeze({
  maxBytes: 100 * 1024 * 1024,
  maxParts: 1000,
  maxHeaderBytes: 16 * 1024,
});

export interface MimePart {
  /** Header names lower-cased. */
  headers: Record<string, string>;
  contentType: string;
  /** Content-ID without the angle brackets. */
  contentId: string | undefined;
  body: Buffer;
}

export interface MultipartRelated {
  /** The root part (the SOAP envelope). */
  root: MimePart;
  /** The other parts, in order. */
  attachments: MimePart[];
  /** Finds a part by `cid:` URL or bare Content-ID (percent-decoding applied). */
  part(reference: string): MimePart | undefined;
}

export interface ContentType {
  mediaType: string;
  params: Record<string, string>;
}

/** Parses a Content-Type header value: `multipart/related; boundary="x"; type="application/xop+xml"`. */
export function parseContentType(header: string): ContentType {
  const semi = header.indexOf(';');
  const mediaType = (semi < 0 ? header : header.slice(0, semi)).trim().toLowerCase();
  const params: Record<string, string> = {};
  let rest = semi < 0 ? '' : header.slice(semi + 1);
  const param = /^\s*([^=\s;]+)\s*=\s*("((?:[^"\\]|\\.)*)"|[^;]*)\s*(;|$)/;
  while (rest.trim().length > 0) {
    const m = param.exec(rest);
    if (!m) {
      const next = rest.indexOf(';');
      if (next < 0) break;
      rest = rest.slice(next + 1);
      continue;
    }
    const value = m[3] !== undefined ? m[3].replace(/\\(.)/g, '$1') : m[2]!.trim();
    params[m[1]!.toLowerCase()] = value;
    rest = rest.slice(m[0].length);
  }
  return { mediaType, params };
}

/** Reads a stream into a Buffer, refusing it as soon as it exceeds `maxBytes` (for HTTP bodies). */
export async function readLimited(stream: Readable | AsyncIterable<Uint8Array>, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream as AsyncIterable<Uint8Array>) {
    total += chunk.byteLength;
    if (total > maxBytes) {
      if ('destroy' in stream && typeof stream.destroy === 'function') stream.destroy();
      throw new MtomError(
        MtomErrorCode.TooLarge,
        `The message is larger than the limit of ${maxBytes} bytes: send smaller documents or raise the limit`,
      );
    }
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}

function stripAngles(value: string): string {
  const v = value.trim();
  return v.startsWith('<') && v.endsWith('>') ? v.slice(1, -1).trim() : v;
}

function lineEndAt(buf: Buffer, pos: number): number {
  if (buf[pos] === 0x0d && buf[pos + 1] === 0x0a) return 2;
  if (buf[pos] === 0x0a) return 1;
  return 0;
}

function parseHeaders(block: string): Record<string, string> {
  const headers: Record<string, string> = {};
  const lines = block.split(/\r?\n/);
  let current: string | undefined;
  for (const line of lines) {
    if (/^[ \t]/.test(line) && current) {
      headers[current] += ' ' + line.trim();
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    current = line.slice(0, colon).trim().toLowerCase();
    headers[current] = line.slice(colon + 1).trim();
  }
  return headers;
}

function decodeBody(raw: Buffer, encoding: string | undefined, partName: string): Buffer {
  const cte = (encoding ?? 'binary').trim().toLowerCase();
  switch (cte) {
    case 'binary':
    case '8bit':
    case '7bit':
      return raw;
    case 'base64': {
      const text = raw.toString('latin1').replace(/[\r\n\t ]/g, '');
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 === 1) {
        throw new MtomError(
          MtomErrorCode.BadTransferEncoding,
          `${partName} says Content-Transfer-Encoding: base64 but its body is not valid base64`,
        );
      }
      return Buffer.from(text, 'base64');
    }
    case 'quoted-printable': {
      const text = raw.toString('latin1').replace(/=\r?\n/g, '');
      const bytes: number[] = [];
      for (let i = 0; i < text.length; i++) {
        if (text[i] === '=' && /^[0-9A-Fa-f]{2}$/.test(text.slice(i + 1, i + 3))) {
          bytes.push(parseInt(text.slice(i + 1, i + 3), 16));
          i += 2;
        } else bytes.push(text.charCodeAt(i));
      }
      return Buffer.from(bytes);
    }
    default:
      throw new MtomError(
        MtomErrorCode.BadTransferEncoding,
        `${partName} has Content-Transfer-Encoding "${encoding}": use binary or base64`,
      );
  }
}

/**
 * Parses a multipart/related body. `contentTypeHeader` is the HTTP Content-Type (boundary, type, start).
 * Throws {@link MtomError} with a message that says what is wrong.
 */
export function parseMultipartRelated(
  body: Buffer,
  contentTypeHeader: string,
  limits: Partial<MtomLimits> = {},
): MultipartRelated {
  const lim = { ...DEFAULT_MTOM_LIMITS, ...limits };
  const ct = parseContentType(contentTypeHeader);
  if (ct.mediaType !== 'multipart/related') {
    throw new MtomError(
      MtomErrorCode.BadContentType,
      `Content-Type is "${ct.mediaType}", expected multipart/related (MTOM)`,
    );
  }
  const boundary = ct.params['boundary'];
  if (!boundary)
    throw new MtomError(MtomErrorCode.NoBoundary, 'Content-Type multipart/related has no boundary parameter');
  if (boundary.length > 200)
    throw new MtomError(MtomErrorCode.NoBoundary, 'The multipart boundary is longer than 200 characters');
  if (body.byteLength > lim.maxBytes) {
    throw new MtomError(
      MtomErrorCode.TooLarge,
      `The message is ${body.byteLength} bytes, more than the limit of ${lim.maxBytes}`,
    );
  }
  const delimiter = Buffer.from(`--${boundary}`, 'latin1');

  // First delimiter: at the very start or at the start of a line (after a preamble).
  let pos = body.indexOf(delimiter);
  while (pos > 0 && body[pos - 1] !== 0x0a) pos = body.indexOf(delimiter, pos + 1);
  if (pos < 0)
    throw new MtomError(
      MtomErrorCode.Malformed,
      `The body does not contain the boundary "--${boundary}" announced in Content-Type`,
    );

  const parts: MimePart[] = [];
  let closed = false;
  while (!closed) {
    let cursor = pos + delimiter.length;
    if (body[cursor] === 0x2d && body[cursor + 1] === 0x2d) {
      closed = true;
      break;
    }
    while (body[cursor] === 0x20 || body[cursor] === 0x09) cursor++; // transport padding
    const eol = lineEndAt(body, cursor);
    if (eol === 0)
      throw new MtomError(MtomErrorCode.Malformed, `The boundary at byte ${pos} is not followed by a line end`);
    const start = cursor + eol;
    // Next delimiter at the start of a line.
    let next = body.indexOf(delimiter, start);
    while (next >= 0 && body[next - 1] !== 0x0a) next = body.indexOf(delimiter, next + 1);
    if (next < 0) {
      throw new MtomError(
        MtomErrorCode.Truncated,
        `Part ${parts.length + 1} has no closing boundary: the message is truncated (expected "--${boundary}--")`,
      );
    }
    let end = next - 1; // the LF
    if (end > start && body[end - 1] === 0x0d) end--;
    parts.push(readPart(body.subarray(start, Math.max(start, end)), parts.length + 1, lim));
    if (parts.length > lim.maxParts)
      throw new MtomError(MtomErrorCode.TooManyParts, `The message has more than ${lim.maxParts} MIME parts`);
    pos = next;
  }
  if (parts.length === 0) throw new MtomError(MtomErrorCode.NoRoot, 'The multipart message has no part');

  const start = ct.params['start'] ? stripAngles(ct.params['start']) : undefined;
  let rootIndex = 0;
  if (start) {
    rootIndex = parts.findIndex((p) => p.contentId === start);
    if (rootIndex < 0)
      throw new MtomError(MtomErrorCode.NoRoot, `Content-Type start="<${start}>" names no part of the message`);
  }
  const root = parts[rootIndex]!;
  const attachments = parts.filter((_, i) => i !== rootIndex);
  const byId = new Map<string, MimePart>();
  for (const p of attachments) if (p.contentId) byId.set(p.contentId, p);
  return {
    root,
    attachments,
    part(reference: string) {
      let ref = reference.trim();
      if (/^cid:/i.test(ref)) ref = ref.slice(4);
      ref = stripAngles(ref);
      const exact = byId.get(ref);
      if (exact) return exact;
      try {
        return byId.get(decodeURIComponent(ref));
      } catch {
        return undefined;
      }
    },
  };
}

function readPart(raw: Buffer, index: number, lim: MtomLimits): MimePart {
  // Header block ends at the first empty line.
  let headerEnd = -1;
  let bodyStart = 0;
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] !== 0x0a) continue;
    const e = lineEndAt(raw, i + 1);
    if (e > 0) {
      headerEnd = i;
      bodyStart = i + 1 + e;
      break;
    }
    if (i > lim.maxHeaderBytes) break;
  }
  if (headerEnd < 0) {
    if (lineEndAt(raw, 0) > 0) {
      headerEnd = 0;
      bodyStart = lineEndAt(raw, 0);
    } else if (raw.length > lim.maxHeaderBytes) {
      throw new MtomError(
        MtomErrorCode.HeaderTooLarge,
        `Part ${index} has headers longer than ${lim.maxHeaderBytes} bytes`,
      );
    } else {
      throw new MtomError(MtomErrorCode.Malformed, `Part ${index} has no empty line between its headers and its body`);
    }
  }
  if (headerEnd > lim.maxHeaderBytes)
    throw new MtomError(
      MtomErrorCode.HeaderTooLarge,
      `Part ${index} has headers longer than ${lim.maxHeaderBytes} bytes`,
    );
  const headers = parseHeaders(raw.subarray(0, headerEnd).toString('latin1'));
  const contentId = headers['content-id'] ? stripAngles(headers['content-id']) : undefined;
  const body = decodeBody(
    raw.subarray(bodyStart),
    headers['content-transfer-encoding'],
    `Part ${index}${contentId ? ` <${contentId}>` : ''}`,
  );
  return {
    headers,
    contentType: headers['content-type'] ?? 'application/octet-stream',
    contentId: contentId || undefined,
    body,
  };
}

export interface MtomAttachment {
  contentId: string;
  contentType: string;
  body: Uint8Array;
}

export interface BuiltMultipart {
  /** The HTTP Content-Type header to send. */
  contentType: string;
  body: Buffer;
}

/** Builds an MTOM (SOAP 1.2) message: the envelope as root part and the attachments as binary parts. */
export function buildMtomMessage(
  soapEnvelope: string,
  attachments: readonly MtomAttachment[],
  options: { action?: string } = {},
): BuiltMultipart {
  const rootId = `root.message.${randomBytes(8).toString('hex')}@keney`;
  const envelope = Buffer.from(soapEnvelope, 'utf8');
  let boundary = '';
  do boundary = `MIMEBoundary_${randomBytes(16).toString('hex')}`;
  while (envelope.includes(boundary) || attachments.some((a) => Buffer.from(a.body).includes(boundary)));
  const chunks: Buffer[] = [];
  const head = (headers: string[]) => Buffer.from(`--${boundary}\r\n${headers.join('\r\n')}\r\n\r\n`, 'latin1');
  chunks.push(
    head([
      'Content-Type: application/xop+xml; charset=UTF-8; type="application/soap+xml"',
      'Content-Transfer-Encoding: binary',
      `Content-ID: <${rootId}>`,
    ]),
    envelope,
    Buffer.from('\r\n'),
  );
  for (const a of attachments) {
    if (/[\r\n<>]/.test(a.contentId) || /[\r\n]/.test(a.contentType))
      throw new MtomError(
        MtomErrorCode.Malformed,
        `Invalid Content-ID or Content-Type for attachment "${a.contentId}"`,
      );
    chunks.push(
      head([`Content-Type: ${a.contentType}`, 'Content-Transfer-Encoding: binary', `Content-ID: <${a.contentId}>`]),
      Buffer.from(a.body),
      Buffer.from('\r\n'),
    );
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`, 'latin1'));
  const action = options.action ? `; action="${options.action}"` : '';
  return {
    contentType: `multipart/related; boundary="${boundary}"; type="application/xop+xml"; start="<${rootId}>"; start-info="application/soap+xml"${action}`,
    body: Buffer.concat(chunks),
  };
}

/** A Content-ID for an attachment (also used as `cid:` in xop:Include). */
export function newContentId(hint = 'doc'): string {
  return `${hint.replace(/[^A-Za-z0-9._-]/g, '_')}.${randomBytes(8).toString('hex')}@keney`;
}
