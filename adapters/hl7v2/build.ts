// Building a message from scratch: the MSH from typed options, then `addSegment` / `set` for the rest.
import type { Hl7Charset } from './charset.js';
import type { Hl7HierarchicDesignator } from './datatypes.js';
import type { Hl7Delimiters } from './delimiters.js';
import { defaultDelimiters, makeDelimiters } from './delimiters.js';
import { Hl7Error, Hl7ErrorCode } from './errors.js';
import type { Hl7FieldInput, Hl7RepetitionInput } from './model.js';
import { encodeField, Hl7Message } from './model.js';

/** A field copied as it was received (already escaped, same delimiters), e.g. MSH-3 of a message to answer. */
export interface Hl7RawField {
  readonly raw: string;
}

type HeaderField = string | Hl7HierarchicDesignator | Hl7RawField | undefined;

export interface Hl7MessageInit {
  /** MSH-9: `ADT^A01^ADT_A01`-style text (split on ^) or its parts. */
  messageType: string | { code: string; triggerEvent?: string; structure?: string } | Hl7RawField;
  /** MSH-10. */
  controlId: string;
  /** MSH-12: `2.5`, or its parts (`{ id: '2.5', internationalizationCode: 'FRA', internationalVersionId: '2.11' }`). */
  version: string | { id: string; internationalizationCode?: string; internationalVersionId?: string } | Hl7RawField;
  /** MSH-11, default `P`. */
  processingId?: string | Hl7RawField;
  sendingApplication?: HeaderField;
  sendingFacility?: HeaderField;
  receivingApplication?: HeaderField;
  receivingFacility?: HeaderField;
  /** MSH-7, default now (local time with its offset, to the second). */
  dateTime?: Date | string;
  acceptAckType?: string;
  applicationAckType?: string;
  countryCode?: string;
  /** MSH-18; also the charset the message is written in. Default: MSH-18 empty and the message written in ASCII. */
  charset?: Hl7Charset;
  /** MSH-18 text when it should be written differently from `charset` (e.g. echoing a sender's spelling). */
  charsetField?: Hl7RawField;
  principalLanguage?: string;
  /** Default `|^~\&`; or the field separator and MSH-2 of a message being answered. */
  delimiters?: Hl7Delimiters | { field: string; encodingCharacters: string };
  /** Written between segments; default `\r`, as the standard says. */
  segmentTerminator?: string;
  /** MSH-2 bytes to write as they are (an acknowledgment echoes the received ones, U+02DC included). */
  encodingCharactersBytes?: Buffer;
}

/** `YYYYMMDDHHMMSS+ZZZZ` for a date, in the local time of this machine. */
export function formatHl7DateTime(date: Date): string {
  const p = (n: number, w = 2) => String(Math.abs(n)).padStart(w, '0');
  const offset = -date.getTimezoneOffset();
  return (
    `${p(date.getFullYear(), 4)}${p(date.getMonth() + 1)}${p(date.getDate())}` +
    `${p(date.getHours())}${p(date.getMinutes())}${p(date.getSeconds())}` +
    `${offset >= 0 ? '+' : '-'}${p(Math.trunc(Math.abs(offset) / 60))}${p(Math.abs(offset) % 60)}`
  );
}

function isRaw(v: unknown): v is Hl7RawField {
  return typeof v === 'object' && v !== null && 'raw' in v;
}

function headerField(v: HeaderField, d: Hl7Delimiters): string {
  if (v === undefined) return '';
  if (isRaw(v)) return checkRaw(v.raw, d);
  if (typeof v === 'string') return encodeField(v, d);
  return encodeField([v.namespaceId, v.universalId, v.universalIdType] as Hl7RepetitionInput, d).replace(
    new RegExp(`\\${d.component}+$`),
    '',
  );
}

function checkRaw(raw: string, d: Hl7Delimiters): string {
  if (raw.includes(d.field) || /[\r\n]/.test(raw)) {
    throw new Hl7Error(
      Hl7ErrorCode.BadInput,
      `a raw header field cannot contain the field separator or a line break: "${raw.slice(0, 40)}"`,
    );
  }
  return raw;
}

function trimComponents(parts: (string | undefined)[], d: Hl7Delimiters): string {
  let n = parts.length;
  while (n > 0 && !parts[n - 1]) n--;
  return encodeField(parts.slice(0, n) as Hl7FieldInput, d);
}

/** Builds a message with its MSH; add the other segments with `addSegment`. */
export function createHl7Message(init: Hl7MessageInit): Hl7Message {
  const given = init.delimiters;
  const d: Hl7Delimiters =
    given === undefined
      ? defaultDelimiters
      : 'component' in given
        ? given
        : makeDelimiters(given.field, given.encodingCharacters);
  if (!init.controlId)
    throw new Hl7Error(
      Hl7ErrorCode.BadInput,
      'MSH-10 (controlId) is required: a unique id the receiver echoes in MSA-2',
    );
  const charset = init.charset ?? 'ASCII';
  const message = new Hl7Message({
    delimiters: d,
    charset,
    charsetSource: init.charset ? 'MSH-18' : 'default',
    segmentTerminator: init.segmentTerminator ?? '\r',
    ...(init.encodingCharactersBytes ? { msh2Bytes: init.encodingCharactersBytes } : {}),
  });
  const mt = init.messageType;
  const messageType = isRaw(mt)
    ? checkRaw(mt.raw, d)
    : typeof mt === 'string'
      ? trimComponents(mt.split('^'), d)
      : trimComponents([mt.code, mt.triggerEvent, mt.structure], d);
  const v = init.version;
  const version = isRaw(v)
    ? checkRaw(v.raw, d)
    : typeof v === 'string'
      ? encodeField(v, d)
      : trimComponents([v.id, v.internationalizationCode, v.internationalVersionId], d);
  const dateTime =
    init.dateTime === undefined
      ? formatHl7DateTime(new Date())
      : typeof init.dateTime === 'string'
        ? init.dateTime
        : formatHl7DateTime(init.dateTime);
  const processing =
    init.processingId === undefined
      ? 'P'
      : isRaw(init.processingId)
        ? checkRaw(init.processingId.raw, d)
        : encodeField(init.processingId, d);
  const fields = [
    'MSH',
    d.encodingCharacters,
    headerField(init.sendingApplication, d),
    headerField(init.sendingFacility, d),
    headerField(init.receivingApplication, d),
    headerField(init.receivingFacility, d),
    encodeField(dateTime, d),
    '',
    messageType,
    encodeField(init.controlId, d),
    processing,
    version,
    '',
    '',
    encodeField(init.acceptAckType, d),
    encodeField(init.applicationAckType, d),
    encodeField(init.countryCode, d),
    init.charsetField ? checkRaw(init.charsetField.raw, d) : init.charset ? encodeField(init.charset, d) : '',
    encodeField(init.principalLanguage, d),
  ];
  let n = fields.length;
  while (n > 12 && fields[n - 1] === '') n--;
  message.initHeader(fields.slice(0, n));
  return message;
}
