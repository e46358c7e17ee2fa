// From bytes to `Hl7Message`: one pass over the bytes finds the segments and enforces the limits; the charset of
// MSH-18 decides how the bytes are decoded, segment by segment, when they are read.
import type { Hl7Charset, Hl7CharsetSource, Hl7DefaultCharset } from './charset.js';
import { detectCharset, encodeText, firstInvalidByte, resolveCharset, unsupportedCharsetError } from './charset.js';
import type { Hl7Delimiters } from './delimiters.js';
import { defaultDelimiters, delimiterProblem, makeDelimiters } from './delimiters.js';
import type { Hl7Location, Hl7Result } from './errors.js';
import { Hl7Error, Hl7ErrorCode } from './errors.js';
import { Hl7Message } from './model.js';

/** Bounds that keep a hostile or broken input from exhausting memory. */
export interface Hl7Limits {
  /** Whole input, in bytes. */
  maxBytes: number;
  /** Segments in one message. */
  maxSegments: number;
  /** Fields in one segment. */
  maxFields: number;
  /** Bytes in one field. */
  maxFieldLength: number;
  /** Repetitions in one field. */
  maxRepetitions: number;
}

/**
 * Defaults: room for a large ORU carrying a base64 PDF or CDA (up to 32 MiB), far above any real segment or
 * field count, well below what would hurt a process.
 */
export const defaultHl7Limits: Readonly<Hl7Limits> = Object.freeze({
  maxBytes: 32 * 1024 * 1024,
  maxSegments: 100_000,
  maxFields: 1_000,
  maxFieldLength: 32 * 1024 * 1024,
  maxRepetitions: 10_000,
});

export interface Hl7ParseOptions {
  limits?: Partial<Hl7Limits>;
  /** Charset when MSH-18 is empty: `auto` (default: ASCII, else UTF-8 if valid, else 8859/1) or a fixed one. */
  defaultCharset?: Hl7DefaultCharset;
  /** Accept C0 control characters (other than CR, LF, TAB) inside segments. Default false: they are an error. */
  allowControlCharacters?: boolean;
}

const CR = 0x0d;
const LF = 0x0a;
const TAB = 0x09;
const SPACE = 0x20;
const CODE_MSH = 0x4d5348;
const CODE_FHS = 0x464853;
const CODE_BHS = 0x424853;
const CODE_BTS = 0x425453;
const CODE_FTS = 0x465453;

function isEnvelope(code: number): boolean {
  return code === CODE_FHS || code === CODE_BHS || code === CODE_BTS || code === CODE_FTS;
}

function limitsOf(options: Hl7ParseOptions | undefined): Hl7Limits {
  return options?.limits ? { ...defaultHl7Limits, ...options.limits } : defaultHl7Limits;
}

function toBytes(input: Buffer | Uint8Array | string): Buffer {
  if (Buffer.isBuffer(input)) return input;
  if (typeof input === 'string') return textToBytes(input);
  return Buffer.from(input.buffer, input.byteOffset, input.byteLength);
}

/**
 * A string is text already decoded: it is encoded back in the charset its MSH-18 declares (UTF-8 when it declares
 * none, or when the text holds a character that charset cannot), so that parsing it reads the same characters.
 */
function textToBytes(text: string): Buffer {
  const m = /^\uFEFF?MSH(.)/.exec(text);
  if (m) {
    const first = text.slice(0, text.search(/[\r\n]|$/));
    const msh18 = first.split(m[1]!)[17];
    const charset = msh18 ? resolveCharset(msh18.split(/[\^~]/)[0]!.trim()) : undefined;
    if (charset && charset !== 'UNICODE UTF-8') {
      try {
        return encodeText(text, charset);
      } catch {
        // falls through to UTF-8
      }
    }
  }
  return Buffer.from(text, 'utf8');
}

function preview(bytes: Buffer, at: number): string {
  let out = '';
  for (let i = at; i < Math.min(bytes.length, at + 24); i++) {
    const b = bytes[i]!;
    out += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`;
  }
  return out;
}

/** Line number (from 1) of byte offset `at`, counting \r\n, \r and \n as one terminator each. */
function lineAt(bytes: Buffer, at: number): number {
  let line = 1;
  for (let i = 0; i < at && i < bytes.length; i++) {
    const b = bytes[i];
    if (b === LF || (b === CR && bytes[i + 1] !== LF)) line++;
  }
  return line;
}

function notHl7(bytes: Buffer, at: number, expected: string): Hl7Error {
  const b = bytes[at];
  let hint: string;
  if (b === 0x0b) hint = 'it starts with the MLLP start block 0x0B: strip the MLLP framing before parsing';
  else if (b === 0x3c)
    hint = 'it looks like XML (the HL7 v2 XML encoding is not read here; send ER7, the pipe-delimited form)';
  else if (b === 0xff || b === 0xfe)
    hint = 'it starts with a UTF-16 byte order mark: UTF-16 is not supported, send UTF-8';
  else if (bytes.length - at >= 3 && /^[A-Z][A-Z0-9]{2}$/.test(bytes.toString('latin1', at, at + 3)))
    hint = `it starts with the segment ${bytes.toString('latin1', at, at + 3)}: the MSH header segment is missing or the message was cut`;
  else hint = 'it is not an HL7 v2 ER7 message';
  return new Hl7Error(
    Hl7ErrorCode.NoMsh,
    `the input must start with ${expected} but starts with "${preview(bytes, at)}"; ${hint}`,
    { byteOffset: at, line: lineAt(bytes, at) },
  );
}

/** Skips a UTF-8 BOM and blank lines; returns [position, hadBom]. */
function skipLead(bytes: Buffer, start: number, end: number): [number, boolean] {
  let i = start;
  let bom = false;
  if (end - i >= 3 && bytes[i] === 0xef && bytes[i + 1] === 0xbb && bytes[i + 2] === 0xbf) {
    i += 3;
    bom = true;
  }
  while (i < end) {
    const b = bytes[i];
    if (b === CR || b === LF || b === SPACE || b === TAB) i++;
    else break;
  }
  return [i, bom];
}

const delimiterCache = new Map<string, Hl7Delimiters>();

/** Reads MSH-1/MSH-2 (or FHS/BHS) at `at`; returns the delimiters, their byte span and the raw MSH-2 bytes. */
function readDelimiters(bytes: Buffer, at: number, end: number, segment: string): { d: Hl7Delimiters; msh2: Buffer } {
  const loc: Hl7Location = { segmentName: segment, segmentIndex: 1, segmentSequence: 1, field: 2, byteOffset: at + 3 };
  if (at + 3 >= end || bytes[at + 3] === CR || bytes[at + 3] === LF) {
    throw new Hl7Error(
      Hl7ErrorCode.BadEncodingChars,
      `${segment} ends before its field separator (${segment}-1); the header must begin ${segment}|^~\\&|`,
      loc,
    );
  }
  const fsByte = bytes[at + 3]!;
  // Fast path: the usual |^~\&| header.
  if (
    fsByte === 0x7c &&
    bytes[at + 4] === 0x5e &&
    bytes[at + 5] === 0x7e &&
    bytes[at + 6] === 0x5c &&
    bytes[at + 7] === 0x26 &&
    bytes[at + 8] === 0x7c
  ) {
    return { d: defaultDelimiters, msh2: bytes.subarray(at + 4, at + 8) };
  }
  const field = String.fromCharCode(fsByte);
  let chars = '';
  let i = at + 4;
  while (i < end) {
    const b = bytes[i]!;
    if (b === fsByte || b === CR || b === LF) break;
    if (b === 0xcb && bytes[i + 1] === 0x9c) {
      chars += '\u02dc'; // U+02DC in UTF-8
      i += 2;
    } else if (b === 0x98) {
      chars += '\u02dc'; // U+02DC in Windows-1252
      i++;
    } else {
      chars += String.fromCharCode(b); // a byte ≥ 0x80 is reported as such
      i++;
    }
    if (chars.length > 8) break;
  }
  const key = field + chars;
  let d = delimiterCache.get(key);
  if (!d) {
    const problem = delimiterProblem(field, chars);
    if (problem) throw new Hl7Error(Hl7ErrorCode.BadEncodingChars, problem, loc);
    d = makeDelimiters(field, chars);
    if (delimiterCache.size < 256) delimiterCache.set(key, d);
  }
  return { d, msh2: bytes.subarray(at + 4, i) };
}

/** The text of MSH-`n` (n ≥ 3) read straight from the bytes of the first segment, first component only. */
function headerFieldBytes(bytes: Buffer, start: number, end: number, d: Hl7Delimiters, n: number): string {
  const fs = d.field.charCodeAt(0);
  let seen = 1; // the separator at start+3 opens MSH-2
  let i = start + 4;
  while (i < end && seen < n - 1) {
    if (bytes[i] === fs) seen++;
    i++;
  }
  if (seen < n - 1) return '';
  let j = i;
  const comp = d.component.charCodeAt(0);
  const rep = d.repetition.charCodeAt(0);
  while (j < end && bytes[j] !== fs && bytes[j] !== comp && bytes[j] !== rep) j++;
  return bytes.toString('latin1', i, j).trim();
}

/** Skips terminators, blank lines and lines of spaces or tabs only. */
function skipBlank(bytes: Buffer, from: number, end: number): number {
  let i = from;
  while (i < end) {
    const b = bytes[i]!;
    if (b === CR || b === LF) i++;
    else if (b === SPACE || b === TAB) {
      let k = i + 1;
      while (k < end && (bytes[k] === SPACE || bytes[k] === TAB)) k++;
      if (k < end && bytes[k] !== CR && bytes[k] !== LF) break;
      i = k;
    } else break;
  }
  return i;
}

interface Scan {
  starts: number[];
  ends: number[];
  names: number[];
  /** Where scanning stopped: `end`, or the first byte of the segment that starts the next unit (batch mode). */
  stop: number;
  /** True when every byte seen was below 0x80 (no charset question then). */
  ascii: boolean;
}

/**
 * One pass from the MSH at `start`: segment boundaries, names, and the limits. In batch mode it stops before the
 * next MSH or envelope segment; otherwise those are errors.
 */
function scanMessage(
  bytes: Buffer,
  start: number,
  end: number,
  d: Hl7Delimiters,
  limits: Hl7Limits,
  allowControl: boolean,
  batch: boolean,
): Scan {
  const starts: number[] = [];
  const ends: number[] = [];
  const names: number[] = [];
  const fs = d.field.charCodeAt(0);
  const { maxSegments } = limits;
  // A segment shorter than this can break no field limit (fields, field length, repetitions).
  const checkAbove = Math.min(limits.maxFields, limits.maxRepetitions, limits.maxFieldLength);
  let i = start;
  let high = 0;
  for (;;) {
    if (i < end) {
      const c = bytes[i]!;
      if (c === CR || c === LF || c === SPACE || c === TAB) i = skipBlank(bytes, i, end);
    }
    if (i >= end) return { starts, ends, names, stop: end, ascii: high < 0x80 };
    const segStart = i;
    const b0 = bytes[i]!;
    const b1 = i + 1 < end ? bytes[i + 1]! : 0;
    const b2 = i + 2 < end ? bytes[i + 2]! : 0;
    const b3 = i + 3 < end ? bytes[i + 3]! : CR;
    const validName =
      b0 >= 0x41 &&
      b0 <= 0x5a &&
      ((b1 >= 0x41 && b1 <= 0x5a) || (b1 >= 0x30 && b1 <= 0x39)) &&
      ((b2 >= 0x41 && b2 <= 0x5a) || (b2 >= 0x30 && b2 <= 0x39));
    const code = (b0 << 16) | (b1 << 8) | b2;
    // A header segment (MSH, FHS, BHS) declares its own field separator: it may differ from this message's.
    const ownSeparator = code === CODE_MSH || code === CODE_FHS || code === CODE_BHS;
    if (!validName || !(b3 === fs || b3 === CR || b3 === LF || (ownSeparator && names.length > 0))) {
      throw badSegmentName(bytes, segStart, end, d, names.length + 1);
    }
    if (names.length > 0 && (code === CODE_MSH || isEnvelope(code))) {
      if (batch) return { starts, ends, names, stop: segStart, ascii: high < 0x80 };
      throw new Hl7Error(
        code === CODE_MSH ? Hl7ErrorCode.MultipleMessages : Hl7ErrorCode.BatchStructure,
        code === CODE_MSH
          ? 'a second MSH starts another message; send one message per MLLP frame, or parse the input as a batch (parseHl7Batch)'
          : `${bytes.toString('latin1', segStart, segStart + 3)} is a batch envelope segment; parse the input as a batch (parseHl7Batch)`,
        {
          segmentName: bytes.toString('latin1', segStart, segStart + 3),
          segmentIndex: names.length + 1,
          byteOffset: segStart,
          line: lineAt(bytes, segStart),
        },
      );
    }
    if (names.length >= maxSegments) {
      throw new Hl7Error(
        Hl7ErrorCode.TooManySegments,
        `the message has more than ${maxSegments} segments (limits.maxSegments); split it or raise the limit`,
        { segmentIndex: names.length + 1, byteOffset: segStart },
      );
    }
    const stop = scanSegmentBody(bytes, segStart + 3, end);
    high |= scanHigh;
    i = stop < 0 ? -stop - 1 : stop;
    if (stop < 0 && !allowControl) controlProblem(bytes, segStart, i, code, names.length + 1, d);
    if (i - segStart > checkAbove) checkFields(bytes, segStart, i, code, names.length + 1, d, limits);
    starts.push(segStart);
    ends.push(i);
    names.push(code);
  }
}

let scanHigh = 0;

/**
 * The hot loop, one comparison per byte: from just after a segment name to its terminator. Returns the position of
 * the terminator (or `end`), or `-(position + 1)` when a control byte was seen. Sets `scanHigh` to the OR of the
 * bytes (below 0x80 ⇒ ASCII).
 */
function scanSegmentBody(bytes: Buffer, from: number, end: number): number {
  let high = 0;
  let odd = false;
  let i = from;
  for (; i < end; i++) {
    const b = bytes[i]!;
    high |= b;
    if (b < SPACE) {
      if (b === CR || b === LF) break;
      if (b !== TAB) odd = true;
    }
  }
  scanHigh = high;
  return odd ? -i - 1 : i;
}

/**
 * The field limits of one segment. Only segments long enough to break one are examined (a segment with more than
 * N fields is more than N bytes long; a field cannot be longer than its segment), with native searches.
 */
function checkFields(
  bytes: Buffer,
  segStart: number,
  segEnd: number,
  code: number,
  index: number,
  d: Hl7Delimiters,
  limits: Hl7Limits,
): void {
  const fs = d.field.charCodeAt(0);
  const rep = d.repetitionAlias ? d.repetitionAlias.charCodeAt(0) : d.repetition.charCodeAt(0);
  const longField = Math.min(limits.maxRepetitions, limits.maxFieldLength + 1);
  let fieldStart = segStart + 4;
  let fields = 0;
  for (let p = bytes.indexOf(fs, segStart + 3); p >= 0 && p < segEnd; p = bytes.indexOf(fs, p + 1)) {
    if (p - fieldStart >= longField) checkField(bytes, fieldStart, p, segStart, code, fields, index, rep, limits);
    if (++fields > limits.maxFields) {
      throw new Hl7Error(
        Hl7ErrorCode.TooManyFields,
        `segment ${bytes.toString('latin1', segStart, segStart + 3)} has more than ${limits.maxFields} fields (limits.maxFields)`,
        { segmentName: bytes.toString('latin1', segStart, segStart + 3), segmentIndex: index, byteOffset: p },
      );
    }
    fieldStart = p + 1;
  }
  if (segEnd - fieldStart >= longField)
    checkField(bytes, fieldStart, segEnd, segStart, code, fields, index, rep, limits);
}

/** Throws the precise error for the control byte at or after `from` in a segment. */
function controlProblem(
  bytes: Buffer,
  segStart: number,
  segEnd: number,
  code: number,
  index: number,
  d: Hl7Delimiters,
): never {
  const fs = d.field.charCodeAt(0);
  let fields = 0;
  for (let i = segStart + 3; i < segEnd; i++) {
    const b = bytes[i]!;
    if (b === fs) fields++;
    else if (b < SPACE && b !== TAB) throw controlCharacter(bytes, segStart, code, fields, index, i);
  }
  throw new Error('unreachable: no control byte found');
}

/** Length and repetition limits of one long field. */
function checkField(
  bytes: Buffer,
  from: number,
  to: number,
  segStart: number,
  code: number,
  fields: number,
  index: number,
  rep: number,
  limits: Hl7Limits,
): void {
  if (to - from > limits.maxFieldLength) throw fieldTooLong(bytes, segStart, fields, limits.maxFieldLength, index, to);
  let reps = 0;
  for (let p = bytes.indexOf(rep, from); p >= 0 && p < to; p = bytes.indexOf(rep, p + 1)) {
    if (++reps >= limits.maxRepetitions) {
      throw new Hl7Error(
        Hl7ErrorCode.TooManyRepetitions,
        `a field repeats more than ${limits.maxRepetitions} times (limits.maxRepetitions)`,
        {
          segmentName: bytes.toString('latin1', segStart, segStart + 3),
          segmentIndex: index,
          field: fieldNumber(code, fields),
          byteOffset: p,
        },
      );
    }
  }
}

function fieldNumber(code: number, separatorsSeen: number): number {
  return code === CODE_MSH || code === CODE_FHS || code === CODE_BHS ? separatorsSeen + 1 : separatorsSeen;
}

function fieldTooLong(
  bytes: Buffer,
  segStart: number,
  fields: number,
  max: number,
  index: number,
  at: number,
): Hl7Error {
  const name = bytes.toString('latin1', segStart, segStart + 3);
  const code = (bytes[segStart]! << 16) | (bytes[segStart + 1]! << 8) | bytes[segStart + 2]!;
  return new Hl7Error(
    Hl7ErrorCode.FieldTooLong,
    `a field is longer than ${max} bytes (limits.maxFieldLength); send large documents by reference or raise the limit`,
    { segmentName: name, segmentIndex: index, field: fieldNumber(code, fields), byteOffset: at },
  );
}

function controlCharacter(
  bytes: Buffer,
  segStart: number,
  code: number,
  fields: number,
  index: number,
  at: number,
): Hl7Error {
  const b = bytes[at]!;
  const name = bytes.toString('latin1', segStart, segStart + 3);
  const what =
    b === 0
      ? 'a NUL byte'
      : b === 0x0b || b === 0x1c
        ? `an MLLP framing byte (0x${b.toString(16).padStart(2, '0')})`
        : `the control character 0x${b.toString(16).padStart(2, '0')}`;
  return new Hl7Error(
    Hl7ErrorCode.ControlCharacter,
    `${what} inside segment ${name}; control characters must be escaped (\\Xhh\\) — binary content belongs in base64 (ED data type)`,
    {
      segmentName: name,
      segmentIndex: index,
      field: fieldNumber(code, fields),
      byteOffset: at,
      line: lineAt(bytes, at),
    },
  );
}

function badSegmentName(bytes: Buffer, at: number, end: number, d: Hl7Delimiters, index: number): Hl7Error {
  let j = at;
  while (j < end && j < at + 24 && bytes[j] !== CR && bytes[j] !== LF) j++;
  const seen = preview(bytes, at).slice(0, Math.max(1, j - at));
  const line = lineAt(bytes, at);
  const esc = d.escape || '\\';
  const hint =
    'a segment starts with its name, three upper-case letters or digits beginning with a letter, then the field separator; ' +
    `if this line continues the text of the segment before, the sender must escape line breaks inside values as ${esc}.br${esc}`;
  return new Hl7Error(Hl7ErrorCode.SegmentName, `line ${line} starts with "${seen}", not a segment; ${hint}`, {
    segmentIndex: index,
    byteOffset: at,
    line,
  });
}

interface MessageBounds {
  begin: number;
  first: number;
  bom: boolean;
}

/** Builds the message for the MSH at `bounds.first`; returns it and where its scan stopped. */
function readMessage(
  bytes: Buffer,
  bounds: MessageBounds,
  end: number,
  options: Hl7ParseOptions | undefined,
  batch: boolean,
): { message: Hl7Message; stop: number } {
  const limits = limitsOf(options);
  const { first } = bounds;
  const { d, msh2 } = readDelimiters(bytes, first, end, 'MSH');
  const scan = scanMessage(bytes, first, end, d, limits, options?.allowControlCharacters ?? false, batch);
  const finish = scan.stop;
  const mshEnd = scan.ends[0]!;
  const declared = headerFieldBytes(bytes, first, mshEnd, d, 18);
  let charset: Hl7Charset;
  let source: Hl7CharsetSource;
  if (declared) {
    const resolved = resolveCharset(declared);
    if (!resolved) throw unsupportedCharsetError(declared, 18);
    charset = resolved;
    source = 'MSH-18';
    if (bounds.bom && charset !== 'UNICODE UTF-8') {
      throw new Hl7Error(
        Hl7ErrorCode.CharsetMismatch,
        `the input starts with a UTF-8 byte order mark but MSH-18 declares ${declared}; declare UNICODE UTF-8 or drop the BOM`,
        { segmentName: 'MSH', segmentIndex: 1, segmentSequence: 1, field: 18 },
      );
    }
  } else if (bounds.bom) {
    charset = 'UNICODE UTF-8';
    source = 'bom';
  } else {
    const fallback = options?.defaultCharset ?? 'auto';
    if (fallback === 'auto') {
      charset = scan.ascii ? 'ASCII' : detectCharset(bytes, first, finish);
      source = 'detected';
    } else {
      charset = fallback;
      source = 'default';
    }
  }
  if (!scan.ascii && source !== 'detected') {
    const bad = firstInvalidByte(bytes, first, finish, charset);
    if (bad >= 0) throw undecodable(bytes, first + bad, charset, source, scan);
  }
  const message = new Hl7Message({
    delimiters: d,
    charset,
    charsetSource: source,
    spans: {
      bytes,
      begin: bounds.begin,
      finish,
      starts: scan.starts,
      ends: scan.ends,
      names: scan.names,
      ascii: scan.ascii,
    },
    segmentTerminator: terminatorAfter(bytes, mshEnd, finish),
    msh2Bytes: msh2,
  });
  return { message, stop: finish };
}

function terminatorAfter(bytes: Buffer, at: number, end: number): string {
  if (at >= end) return '\r';
  if (bytes[at] === CR) return bytes[at + 1] === LF ? '\r\n' : '\r';
  return bytes[at] === LF ? '\n' : '\r';
}

function undecodable(bytes: Buffer, at: number, charset: Hl7Charset, source: Hl7CharsetSource, scan: Scan): Hl7Error {
  let index = 0;
  while (index + 1 < scan.starts.length && scan.starts[index + 1]! <= at) index++;
  const segStart = scan.starts[index]!;
  const name = bytes.toString('latin1', segStart, segStart + 3);
  const code = scan.names[index]!;
  let fields = 0;
  for (let i = segStart + 3; i < at; i++) if (bytes[i] === bytes[segStart + 3]) fields++;
  const why =
    source === 'MSH-18' ? `MSH-18 declares ${charset}` : `MSH-18 is empty and the configured default is ${charset}`;
  const fix =
    charset === 'UNICODE UTF-8'
      ? 'the text is probably 8859/1 (Latin-1): declare it in MSH-18'
      : charset === 'ASCII'
        ? 'declare the real character set in MSH-18 (8859/1 or UNICODE UTF-8)'
        : 'declare the real character set in MSH-18';
  return new Hl7Error(
    Hl7ErrorCode.UndecodableBytes,
    `byte 0x${bytes[at]!.toString(16).padStart(2, '0')} is not valid ${charset} (${why}); ${fix}`,
    {
      segmentName: name,
      segmentIndex: index + 1,
      field: fieldNumber(code, fields),
      byteOffset: at,
      line: lineAt(bytes, at),
    },
  );
}

function checkSize(bytes: Buffer, limits: Hl7Limits): void {
  if (bytes.length > limits.maxBytes) {
    throw new Hl7Error(
      Hl7ErrorCode.TooLarge,
      `the input is ${bytes.length} bytes, more than limits.maxBytes (${limits.maxBytes}); send large documents by reference or raise the limit`,
      { byteOffset: limits.maxBytes },
    );
  }
}

function emptyError(): Hl7Error {
  return new Hl7Error(Hl7ErrorCode.Empty, 'the input is empty; an HL7 message starts with an MSH segment');
}

/**
 * Parses one HL7 v2 message (ER7, the pipe-delimited encoding) from the bytes received. Throws `Hl7Error`.
 * Segment terminators may be \r (the standard), \n or \r\n, mixed; blank lines are kept for the round trip.
 */
export function parseHl7Message(input: Buffer | Uint8Array | string, options?: Hl7ParseOptions): Hl7Message {
  const bytes = toBytes(input);
  checkSize(bytes, limitsOf(options));
  const [first, bom] = skipLead(bytes, 0, bytes.length);
  if (first >= bytes.length) throw emptyError();
  if (bytes[first] !== 0x4d || bytes[first + 1] !== 0x53 || bytes[first + 2] !== 0x48) {
    const name = bytes.toString('latin1', first, first + 3);
    if (name === 'FHS' || name === 'BHS') {
      throw new Hl7Error(
        Hl7ErrorCode.BatchStructure,
        `the input is a batch (it starts with ${name}); parse it with parseHl7Batch`,
        {
          segmentName: name,
          segmentIndex: 1,
          byteOffset: first,
        },
      );
    }
    throw notHl7(bytes, first, 'MSH');
  }
  return readMessage(bytes, { begin: 0, first, bom }, bytes.length, options, false).message;
}

/** Like `parseHl7Message`, without throwing. */
export function tryParseHl7Message(
  input: Buffer | Uint8Array | string,
  options?: Hl7ParseOptions,
): Hl7Result<Hl7Message> {
  try {
    return { ok: true, value: parseHl7Message(input, options) };
  } catch (error) {
    if (error instanceof Hl7Error) return { ok: false, error };
    throw error;
  }
}

// ---- internals shared with the batch parser ----

/** @internal */
export const internals = {
  skipLead,
  skipBlank,
  readDelimiters,
  readMessage,
  checkSize,
  limitsOf,
  toBytes,
  notHl7,
  emptyError,
  lineAt,
  preview,
  isEnvelope,
  codes: { CODE_MSH, CODE_FHS, CODE_BHS, CODE_BTS, CODE_FTS },
};
