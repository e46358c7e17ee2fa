// multipart/related (RFC 2387, RFC 2046 §5.1) as DICOMweb uses it: STOW-RS request bodies and WADO-RS
// responses. Parsing is over a complete body held in memory (bounded by the route's body limit).
import { randomBytes } from 'node:crypto';

export class MultipartError extends Error {
  override readonly name = 'MultipartError';
}

export interface MediaType {
  type: string;
  params: Record<string, string>;
}

/** Parses a Content-Type / Accept media range: `multipart/related; type="application/dicom"; boundary=x`. */
export function parseMediaType(header: string): MediaType {
  const [rawType, ...rest] = splitOutsideQuotes(header, ';');
  const params: Record<string, string> = {};
  for (const part of rest) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const key = part.slice(0, eq).trim().toLowerCase();
    let value = part.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2)
      value = value.slice(1, -1).replace(/\\(.)/g, '$1');
    params[key] = value;
  }
  return { type: (rawType ?? '').trim().toLowerCase(), params };
}

/** Splits on a separator that is not inside double quotes. */
export function splitOutsideQuotes(text: string, separator: string): string[] {
  const out: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '"' && text[i - 1] !== '\\') quoted = !quoted;
    if (c === separator && !quoted) {
      out.push(current);
      current = '';
    } else current += c;
  }
  out.push(current);
  return out;
}

/** RFC 2046 boundary: 1–70 characters from a restricted set, not ending with a space. */
export function isValidBoundary(boundary: string): boolean {
  return /^[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]$/.test(boundary);
}

export interface Part {
  headers: Record<string, string>;
  body: Buffer;
}

/** Splits a multipart body; throws MultipartError with what is wrong and how to fix it. */
export function parseMultipart(body: Buffer, boundary: string, limits: { maxParts?: number } = {}): Part[] {
  if (!isValidBoundary(boundary)) {
    throw new MultipartError(
      `The boundary ${JSON.stringify(boundary.slice(0, 80))} is not valid (RFC 2046: 1 to 70 characters of letters, digits and '()+_,-./:=? )`,
    );
  }
  const delimiter = Buffer.from(`--${boundary}`, 'latin1');
  const maxParts = limits.maxParts ?? 10_000;
  let pos = body.indexOf(delimiter);
  if (pos < 0)
    throw new MultipartError(
      `The body does not contain the boundary "${boundary}" declared in Content-Type: each part must start with "--${boundary}"`,
    );
  const parts: Part[] = [];
  while (true) {
    pos += delimiter.length;
    if (body[pos] === 0x2d && body[pos + 1] === 0x2d) return parts; // close delimiter
    // Transport padding then CRLF.
    while (body[pos] === 0x20 || body[pos] === 0x09) pos++;
    if (body[pos] === 0x0d && body[pos + 1] === 0x0a) pos += 2;
    else if (body[pos] === 0x0a) pos += 1;
    else
      throw new MultipartError(
        `Malformed delimiter line after part ${parts.length}: expected a line break after "--${boundary}"`,
      );
    const headerEnd = indexOfHeaderEnd(body, pos);
    if (headerEnd.at < 0)
      throw new MultipartError(
        `Part ${parts.length + 1} has no blank line ending its headers: the body is truncated or malformed`,
      );
    const headers: Record<string, string> = {};
    for (const line of body.toString('latin1', pos, headerEnd.at).split(/\r?\n/)) {
      if (!line) continue;
      const colon = line.indexOf(':');
      if (colon <= 0)
        throw new MultipartError(
          `Part ${parts.length + 1} has a malformed header line: ${JSON.stringify(line.slice(0, 80))}`,
        );
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const start = headerEnd.at + headerEnd.length;
    const next = indexOfDelimiter(body, delimiter, start);
    if (next < 0)
      throw new MultipartError(
        `Part ${parts.length + 1} is not followed by "--${boundary}": the body is truncated or its boundary is wrong`,
      );
    let end = next;
    if (body[end - 1] === 0x0a) end--;
    if (body[end - 1] === 0x0d) end--;
    parts.push({ headers, body: body.subarray(start, Math.max(start, end)) });
    if (parts.length > maxParts) throw new MultipartError(`More than ${maxParts} parts in one request: split it`);
    pos = next;
  }
}

function indexOfHeaderEnd(body: Buffer, from: number): { at: number; length: number } {
  // Headers may be empty (the part starts with a blank line).
  if (body[from] === 0x0d && body[from + 1] === 0x0a) return { at: from, length: 2 };
  if (body[from] === 0x0a) return { at: from, length: 1 };
  const crlf = body.indexOf('\r\n\r\n', from, 'latin1');
  const lf = body.indexOf('\n\n', from, 'latin1');
  if (crlf < 0 && lf < 0) return { at: -1, length: 0 };
  if (crlf >= 0 && (lf < 0 || crlf < lf)) return { at: crlf + 2, length: 2 };
  return { at: lf + 1, length: 1 };
}

/** The next delimiter that starts a line. */
function indexOfDelimiter(body: Buffer, delimiter: Buffer, from: number): number {
  let at = from;
  while (true) {
    const found = body.indexOf(delimiter, at);
    if (found < 0) return -1;
    if (found === from || body[found - 1] === 0x0a) return found;
    at = found + 1;
  }
}

export function newBoundary(): string {
  return `keney-${randomBytes(12).toString('hex')}`;
}

/** Builds a multipart/related body. */
export function buildMultipart(
  parts: Array<{ contentType: string; body: Uint8Array; headers?: Record<string, string> }>,
  boundary = newBoundary(),
): { body: Buffer; boundary: string } {
  const chunks: Buffer[] = [];
  for (const part of parts) {
    const headers = { 'Content-Type': part.contentType, ...part.headers };
    chunks.push(
      Buffer.from(
        `--${boundary}\r\n${Object.entries(headers)
          .map(([k, v]) => `${k}: ${v}`)
          .join('\r\n')}\r\n\r\n`,
        'latin1',
      ),
    );
    chunks.push(Buffer.from(part.body.buffer, part.body.byteOffset, part.body.byteLength), Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`, 'latin1'));
  return { body: Buffer.concat(chunks), boundary };
}
