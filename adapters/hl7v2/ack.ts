// Acknowledgments: the ACK a receiver sends back, in the version, separators and charset of what it received.
import { randomBytes } from 'node:crypto';
import type { Hl7Charset } from './charset.js';
import { resolveCharset, toEncodable } from './charset.js';
import { createHl7Message } from './build.js';
import type { Hl7Delimiters } from './delimiters.js';
import { defaultDelimiters, delimiterProblem, makeDelimiters } from './delimiters.js';
import type { Hl7ConditionCode, Hl7Location, Hl7Severity } from './errors.js';
import { Hl7Error, hl7ConditionText, Hl7ErrorCode } from './errors.js';
import type { Hl7FieldInput, Hl7Message } from './model.js';
import { repeat } from './model.js';

/** MSA-1 (table 0008). AA/AE/AR in original mode; CA/CE/CR for the commit ACK of enhanced mode. */
export const AckCode = {
  ApplicationAccept: 'AA',
  ApplicationError: 'AE',
  ApplicationReject: 'AR',
  CommitAccept: 'CA',
  CommitError: 'CE',
  CommitReject: 'CR',
} as const;
export type AckCode = (typeof AckCode)[keyof typeof AckCode];

/** What went wrong, for one ERR segment (an `Hl7Error` carries all of it). */
export interface AckError {
  conditionCode: Hl7ConditionCode;
  severity?: Hl7Severity;
  location?: Hl7Location;
  /** ERR-8 (v2.5+) / MSA-3 (before v2.7): what the sender's users read. */
  message?: string;
  /** ERR-7 (v2.5+): technical detail. */
  diagnostic?: string;
}

export interface AckOptions {
  code: AckCode;
  errors?: readonly (Hl7Error | AckError)[];
  /** MSH-10 of the ACK; default a generated unique id. */
  controlId?: string;
  /** MSA-3 text (written for versions before 2.7); default the first error's message. */
  text?: string;
  /** MSH-3/MSH-4 of the ACK; default the received MSH-5/MSH-6 (the receiver answers as the one addressed). */
  sendingApplication?: string;
  sendingFacility?: string;
  dateTime?: Date;
}

/** Whether the sender asked for enhanced acknowledgment mode (MSH-15 or MSH-16 valued). */
export function isEnhancedMode(received: Hl7Message): boolean {
  const h = received.msh;
  return !h.field(15).isEmpty || !h.field(16).isEmpty;
}

/**
 * The MSA-1 code for an outcome: original mode → AA/AE/AR; enhanced mode (MSH-15/16 valued) → CA/CE/CR for the
 * commit (accept) acknowledgment, AA/AE/AR for the application acknowledgment.
 */
export function ackCodeFor(
  received: Hl7Message,
  outcome: 'accept' | 'error' | 'reject',
  stage: 'commit' | 'application' = 'commit',
): AckCode {
  const commit = stage === 'commit' && isEnhancedMode(received);
  switch (outcome) {
    case 'accept':
      return commit ? AckCode.CommitAccept : AckCode.ApplicationAccept;
    case 'error':
      return commit ? AckCode.CommitError : AckCode.ApplicationError;
    case 'reject':
      return commit ? AckCode.CommitReject : AckCode.ApplicationReject;
    default:
      return outcome satisfies never;
  }
}

/** `[2, 5, 1]` for `2.5.1`; undefined when not a version. */
function versionParts(id: string | undefined): number[] | undefined {
  if (!id || !/^2\.\d(\.\d{1,2})?$/.test(id.trim())) return undefined;
  return id.trim().split('.').map(Number);
}

function atLeast(v: number[], major: number, minor: number, patch = 0): boolean {
  const [a = 0, b = 0, c = 0] = v;
  return a !== major ? a > major : b !== minor ? b > minor : c >= patch;
}

let counter = 0;
function newControlId(): string {
  counter = (counter + 1) % 1296;
  return `${Date.now().toString(36)}${counter.toString(36).padStart(2, '0')}${randomBytes(3).toString('hex')}`.toUpperCase();
}

function asAckError(e: Hl7Error | AckError): AckError {
  if (e instanceof Hl7Error) {
    return { conditionCode: e.conditionCode, severity: e.severity, location: e.location, message: e.detail };
  }
  return e;
}

function trimTrailing(parts: Hl7FieldInput[]): Hl7FieldInput[] {
  let n = parts.length;
  while (n > 0 && (parts[n - 1] === undefined || parts[n - 1] === '')) n--;
  return parts.slice(0, n);
}

function num(n: number | undefined): string | undefined {
  return n === undefined ? undefined : String(n);
}

/** Clips user text for fields of bounded length, keeping it on one line (and free of separators it cannot escape). */
function clip(text: string, max: number, d: Hl7Delimiters, charset: Hl7Charset): string {
  let one = toEncodable(text.replace(/[\r\n]+/g, ' '), charset);
  if (d.escape === '') {
    for (const c of [d.field, d.component, d.repetition, d.subcomponent, d.truncation, d.repetitionAlias])
      if (c) one = one.split(c).join(' ');
  }
  return one.length > max ? `${one.slice(0, max - 3)}...` : one;
}

/**
 * Builds the acknowledgment of `received`: sender and receiver swapped, MSA-1 = `code`, MSA-2 = its MSH-10, in
 * its version (MSH-12 echoed, `2.5^FRA^2.11` included), processing id, separators and charset. Errors become ERR
 * segments laid out for the version: ERR-1 (segment^sequence^field^code&text&HL70357) up to v2.4; ERR-2 location,
 * ERR-3 HL7 table 0357 code, ERR-4 severity, ERR-7 diagnostic and ERR-8 user message from v2.5.
 */
export function buildAck(received: Hl7Message, options: AckOptions): Hl7Message {
  const msh = received.msh;
  const raw = (n: number) => ({ raw: msh.rawField(n) });
  const versionId = msh.get('12') ?? undefined;
  return assembleAck({
    delimiters: received.delimiters,
    msh2Bytes: received.encodingCharactersBytes,
    charset: received.charset,
    charsetField: raw(18),
    versionRaw: raw(12),
    version: versionParts(versionId ?? undefined) ?? [2, 5],
    processingRaw: msh.rawField(11) ? raw(11) : undefined,
    trigger: msh.get('9.2') ?? undefined,
    controlIdRaw: msh.rawField(10),
    sendingApplication: options.sendingApplication ?? raw(5),
    sendingFacility: options.sendingFacility ?? raw(6),
    receivingApplication: raw(3),
    receivingFacility: raw(4),
    options,
  });
}

interface AckParts {
  delimiters: Hl7Delimiters;
  msh2Bytes?: Buffer;
  charset: Hl7Charset;
  charsetField: { raw: string };
  versionRaw: { raw: string };
  version: number[];
  processingRaw: { raw: string } | undefined;
  trigger: string | undefined;
  controlIdRaw: string;
  sendingApplication: string | { raw: string };
  sendingFacility: string | { raw: string };
  receivingApplication: { raw: string };
  receivingFacility: { raw: string };
  options: AckOptions;
}

function assembleAck(p: AckParts): Hl7Message {
  const { options, version } = p;
  const messageType = !atLeast(version, 2, 3)
    ? 'ACK'
    : atLeast(version, 2, 3, 1)
      ? { code: 'ACK', triggerEvent: p.trigger ?? '', structure: 'ACK' }
      : { code: 'ACK', ...(p.trigger ? { triggerEvent: p.trigger } : {}) };
  const ack = createHl7Message({
    delimiters: p.delimiters,
    ...(p.msh2Bytes ? { encodingCharactersBytes: p.msh2Bytes } : {}),
    charset: p.charset,
    charsetField: p.charsetField,
    sendingApplication: p.sendingApplication,
    sendingFacility: p.sendingFacility,
    receivingApplication: p.receivingApplication,
    receivingFacility: p.receivingFacility,
    ...(options.dateTime ? { dateTime: options.dateTime } : {}),
    messageType,
    controlId: options.controlId ?? newControlId(),
    ...(p.processingRaw ? { processingId: p.processingRaw } : {}),
    version: p.versionRaw.raw ? p.versionRaw : '2.5',
  });
  const errors = (options.errors ?? []).map(asAckError);
  const text = options.text ?? errors.find((e) => e.message)?.message;
  const msa = ack.addSegment('MSA', [options.code]);
  msa.setRawField(2, p.controlIdRaw);
  if (text && !atLeast(version, 2, 7)) msa.setField(3, clip(text, 80, p.delimiters, p.charset));
  if (errors.length === 0) return ack;
  if (!atLeast(version, 2, 5)) {
    // One ERR, ERR-1 repeating: segment ID ^ sequence ^ field position ^ code&text&HL70357.
    const reps = errors.map((e) => {
      const l = e.location ?? {};
      return trimTrailingComponents([
        l.segmentName,
        num(l.segmentSequence ?? (l.segmentName ? 1 : undefined)),
        num(l.field),
        [e.conditionCode, hl7ConditionText[e.conditionCode], 'HL70357'],
      ]);
    });
    ack.addSegment('ERR', [repeat(...reps)]);
    return ack;
  }
  for (const e of errors) {
    const l = e.location ?? {};
    const erl = l.segmentName
      ? trimTrailingComponents([
          l.segmentName,
          num(l.segmentSequence ?? 1),
          num(l.field),
          num(l.field !== undefined ? (l.repetition ?? 1) : undefined),
          num(l.component),
          num(l.subcomponent),
        ])
      : undefined;
    ack.addSegment(
      'ERR',
      trimTrailing([
        undefined,
        erl,
        [e.conditionCode, hl7ConditionText[e.conditionCode], 'HL70357'],
        e.severity ?? 'E',
        undefined,
        undefined,
        e.diagnostic ? clip(e.diagnostic, 2048, p.delimiters, p.charset) : undefined,
        e.message ? clip(e.message, 250, p.delimiters, p.charset) : undefined,
      ]),
    );
  }
  return ack;
}

function trimTrailingComponents(
  parts: (string | undefined | (string | undefined)[])[],
): (string | undefined | (string | undefined)[])[] {
  let n = parts.length;
  while (n > 0 && (parts[n - 1] === undefined || parts[n - 1] === '')) n--;
  return parts.slice(0, n);
}

/**
 * The ACK for input so broken that it could not be parsed (no MSH, wrong separators, undecodable bytes…). A sender
 * waits for an answer to its MLLP frame; it gets an application reject (AR, or CR when its MSH asked for enhanced
 * mode) with an ERR saying why. Whatever of its MSH can still be read — separators, applications, control id
 * (MSA-2), version, processing id — is echoed so it can match the answer to what it sent; the rest falls back to
 * `|^~\&`, v2.5, ASCII.
 */
export function buildRejectAck(
  input: Buffer | Uint8Array,
  error: Hl7Error,
  options: Omit<AckOptions, 'code' | 'errors'> = {},
): Hl7Message {
  const bytes = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  const salvage = salvageHeader(bytes);
  const fields = salvage?.fields ?? [];
  const f = (n: number) => fields[n - 1] ?? '';
  const versionText = f(12).split(salvage?.d.component ?? '^')[0] ?? '';
  const version = versionParts(versionText);
  const d = salvage?.d ?? defaultDelimiters;
  const enhanced = f(15) !== '' || f(16) !== '';
  const declared = f(18) ? resolveCharset(f(18).split(d.component)[0]!) : undefined;
  const charsetError =
    error.code === Hl7ErrorCode.UndecodableBytes ||
    error.code === Hl7ErrorCode.UnsupportedCharset ||
    error.code === Hl7ErrorCode.CharsetMismatch;
  const charset: Hl7Charset = declared && !charsetError ? declared : 'ASCII';
  return assembleAck({
    delimiters: d,
    charset,
    charsetField: { raw: charset === 'ASCII' ? '' : f(18) },
    versionRaw: { raw: version ? f(12) : '' },
    version: version ?? [2, 5],
    processingRaw: f(11) ? { raw: f(11) } : undefined,
    trigger: f(9).split(d.component)[1] || undefined,
    controlIdRaw: f(10),
    sendingApplication: options.sendingApplication ?? { raw: f(5) },
    sendingFacility: options.sendingFacility ?? { raw: f(6) },
    receivingApplication: { raw: f(3) },
    receivingFacility: { raw: f(4) },
    options: {
      ...options,
      code: enhanced ? AckCode.CommitReject : AckCode.ApplicationReject,
      errors: [error],
      ...(options.text === undefined ? {} : { text: options.text }),
    },
  });
}

/** Best-effort read of the first line when it is an MSH: separators and fields (index 0 = MSH-1). */
function salvageHeader(bytes: Buffer): { d: Hl7Delimiters; fields: string[] } | undefined {
  let i = 0;
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) i = 3;
  while (i < bytes.length && (bytes[i] === 0x0d || bytes[i] === 0x0a)) i++;
  if (bytes.toString('latin1', i, i + 3) !== 'MSH' || i + 4 > bytes.length) return undefined;
  let end = i;
  while (end < bytes.length && end - i < 4096 && bytes[end] !== 0x0d && bytes[end] !== 0x0a) end++;
  const raw = bytes.toString('latin1', i, end);
  // ASCII only: anything else becomes '?', so the ACK can always be written.
  const line = raw.replace(/[^\x20-\x7e]/g, '?');
  if (line.length < 4) return undefined;
  const fs = line[3]!;
  let d: Hl7Delimiters = defaultDelimiters;
  const parts = line.split(fs);
  // Separators that were not plain ASCII (U+02DC…) are not echoed: the ACK uses ^~\&.
  const msh2 = raw.split(fs)[1] === parts[1] ? (parts[1] ?? '') : '';
  // Echo the sender's separators only when they are complete and valid; the ACK needs an escape character.
  if (!delimiterProblem(fs, msh2) && [...msh2].length >= 4) d = makeDelimiters(fs, msh2);
  else if (fs !== '|') return undefined;
  // fields[0] = MSH-1, fields[1] = MSH-2, fields[n-1] = MSH-n
  return { d, fields: [fs, ...parts.slice(1)] };
}
