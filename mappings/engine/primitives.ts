// v2 text → FHIR primitive values, chosen by the FHIR type of the target element. A value that does not fit
// is reported (with its HL7 location) and left out; the message is never rejected for it unless a rule says
// the value is required.
import { Hl7Error, parseHl7DateTime, parseHl7Number } from '../../adapters/hl7v2/index.js';
import type { Hl7DateTime } from '../../adapters/hl7v2/index.js';

export class ConversionProblem extends Error {}

/** The UTC offset (`+01:00`) of a wall-clock time in an IANA zone, computed without the machine's clock. */
export function offsetOf(localIso: string, timeZone: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?/.exec(localIso);
  if (!m) return '+00:00';
  const asUtc = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +(m[6] ?? 0));
  const zoneOffsetAt = (instant: number): number => {
    const parts = formatter(timeZone).formatToParts(new Date(instant));
    const get = (t: string) => Number(parts.find((p) => p.type === t)?.value ?? 0);
    const wall = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour') % 24, get('minute'), get('second'));
    return Math.round((wall - instant) / 60000);
  };
  // Two passes find the offset in force at that wall-clock time, across DST changes.
  let offset = zoneOffsetAt(asUtc);
  offset = zoneOffsetAt(asUtc - offset * 60000);
  const sign = offset < 0 ? '-' : '+';
  const abs = Math.abs(offset);
  return `${sign}${String(Math.trunc(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

function parseDate(text: string): Hl7DateTime {
  try {
    const dt = parseHl7DateTime(text);
    if (!dt) throw new ConversionProblem('empty date');
    const year = Number(dt.iso.slice(0, 4));
    if (year < 1800 || year > 2200)
      throw new ConversionProblem(`"${text.slice(0, 40)}" has the year ${year}, outside 1800–2200`);
    return dt;
  } catch (error) {
    if (error instanceof Hl7Error) throw new ConversionProblem(error.message);
    throw error;
  }
}

/** FHIR dateTime: the sender's precision kept down to the day; a time gets seconds and an offset (FHIR requires both). */
export function toDateTime(text: string, timeZone: string): string {
  const dt = parseDate(text);
  if (dt.precision === 'year' || dt.precision === 'month' || dt.precision === 'day') return dt.iso;
  const [date, rest] = dt.iso.split('T') as [string, string];
  const time = rest.replace(/[+-]\d{2}:\d{2}$/, '');
  const [hh, mm = '00', ss = '00'] = time.split(':');
  const local = `${date}T${hh}:${mm}:${ss}`;
  return `${local}${dt.offset ?? offsetOf(local, timeZone)}`;
}

export function toDate(text: string): string {
  const dt = parseDate(text);
  return dt.iso.slice(0, Math.min(dt.iso.length, 10));
}

export function toInstant(text: string, timeZone: string): string {
  const dt = parseDate(text);
  if (dt.precision === 'year' || dt.precision === 'month' || dt.precision === 'day') {
    throw new ConversionProblem(`"${text}" has no time of day, and an instant needs one`);
  }
  return toDateTime(text, timeZone);
}

/** HL7 TM `HH[MM[SS[.S+]]][+/-ZZZZ]` → FHIR time `HH:MM:SS`. */
export function toTime(text: string): string {
  const m = /^(\d{2})(\d{2})?(\d{2})?(?:\.\d{1,4})?(?:[+-]\d{4})?$/.exec(text.trim());
  if (!m || Number(m[1]) > 23 || Number(m[2] ?? 0) > 59 || Number(m[3] ?? 0) > 59)
    throw new ConversionProblem(`"${text.slice(0, 40)}" is not an HL7 time (HHMM[SS])`);
  return `${m[1]}:${m[2] ?? '00'}:${m[3] ?? '00'}`;
}

export function toDecimal(text: string): number {
  try {
    const n = parseHl7Number(text);
    if (n === undefined || !Number.isFinite(n)) throw new ConversionProblem(`"${text.slice(0, 40)}" is not a number`);
    return n;
  } catch (error) {
    if (error instanceof Hl7Error) throw new ConversionProblem(error.message);
    throw error;
  }
}

export function toInteger(text: string, min: number): number {
  const t = text.trim();
  if (!/^[+-]?\d{1,10}$/.test(t)) throw new ConversionProblem(`"${t.slice(0, 40)}" is not an integer`);
  const n = Number(t);
  if (n < min || n > 2147483647) throw new ConversionProblem(`${n} is out of range (≥ ${min})`);
  return n;
}

/** HL7 table 0136 (Y/N), also the spellings senders use. */
export function toBoolean(text: string): boolean {
  const t = text.trim().toUpperCase();
  if (t === 'Y' || t === 'YES' || t === 'TRUE' || t === 'T' || t === '1') return true;
  if (t === 'N' || t === 'NO' || t === 'FALSE' || t === 'F' || t === '0') return false;
  throw new ConversionProblem(`"${text.slice(0, 20)}" is not a yes/no value (HL7 table 0136: Y or N)`);
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export function toBase64(text: string): string {
  const compact = text.replace(/\s+/g, '');
  if (compact.length % 4 !== 0 || !BASE64.test(compact))
    throw new ConversionProblem('the value is not base64 (A–Z, a–z, 0–9, +, /, = padding, length a multiple of 4)');
  return compact;
}

/** Converts v2 text to the FHIR primitive type `type`; throws ConversionProblem when it does not fit. */
export function toPrimitive(type: string, text: string, timeZone: string): string | number | boolean {
  switch (type) {
    case 'date':
      return toDate(text);
    case 'dateTime':
      return toDateTime(text, timeZone);
    case 'instant':
      return toInstant(text, timeZone);
    case 'time':
      return toTime(text);
    case 'decimal':
      return toDecimal(text);
    case 'integer':
      return toInteger(text, -2147483648);
    case 'unsignedInt':
      return toInteger(text, 0);
    case 'positiveInt':
      return toInteger(text, 1);
    case 'boolean':
      return toBoolean(text);
    case 'base64Binary':
      return toBase64(text);
    case 'code':
    case 'id': {
      const t = text.trim();
      if (t === '') throw new ConversionProblem('empty code');
      return t;
    }
    default:
      // string, markdown, uri, url, canonical, oid, uuid: text as sent (FHIR strings allow any Unicode).
      return text;
  }
}

export const PRIMITIVE_TYPES = new Set([
  'string',
  'markdown',
  'code',
  'id',
  'uri',
  'url',
  'canonical',
  'oid',
  'uuid',
  'date',
  'dateTime',
  'instant',
  'time',
  'decimal',
  'integer',
  'unsignedInt',
  'positiveInt',
  'boolean',
  'base64Binary',
  'xhtml',
]);

/** Types whose conversion parses (dates, numbers): worth remembering, a message repeats the same dates. */
const CACHED_TYPES = new Set(['date', 'dateTime', 'instant', 'time', 'decimal']);
const conversions = new Map<string, string | number | boolean | ConversionProblem>();

/** toPrimitive with the results of dates and numbers kept (bounded; a conversion is a pure function of its inputs). */
export function toPrimitiveCached(type: string, text: string, timeZone: string): string | number | boolean {
  if (!CACHED_TYPES.has(type) || text.length > 64) return toPrimitive(type, text, timeZone);
  const key = `${type}\u0000${timeZone}\u0000${text}`;
  let hit = conversions.get(key);
  if (hit === undefined) {
    try {
      hit = toPrimitive(type, text, timeZone);
    } catch (error) {
      if (!(error instanceof ConversionProblem)) throw error;
      hit = error;
    }
    if (conversions.size >= 20_000) conversions.clear();
    conversions.set(key, hit);
  }
  if (hit instanceof ConversionProblem) throw new ConversionProblem(hit.message);
  return hit;
}
