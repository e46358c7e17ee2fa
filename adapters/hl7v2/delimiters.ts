// Separators (MSH-1, MSH-2) and the escape sequences that protect them inside values.
import type { Hl7Charset } from './charset.js';
import { decodeBytes, firstInvalidByte } from './charset.js';
import { Hl7Error, Hl7ErrorCode } from './errors.js';

/** The separators a message declares in MSH-1 and MSH-2 (or FHS/BHS-1 and -2). */
export interface Hl7Delimiters {
  readonly field: string;
  readonly component: string;
  readonly repetition: string;
  /** Empty when MSH-2 does not declare one (values then cannot contain separators). */
  readonly escape: string;
  readonly subcomponent: string;
  /** The v2.7+ truncation character, when MSH-2 has a fifth character. */
  readonly truncation: string;
  /** MSH-2 as declared, decoded (e.g. `^~\&`, or `^˜\&` with U+02DC). */
  readonly encodingCharacters: string;
  /**
   * When MSH-2 declares U+02DC (˜, the "small tilde" that word processors put in copies of `^~\&`, as in the IHE
   * PAM France examples) as the repetition separator, the ASCII `~` that the same senders use in the body also
   * separates repetitions. Empty otherwise.
   */
  readonly repetitionAlias: string;
}

/** `|^~\&`, what a message built from scratch uses. */
export const defaultDelimiters: Hl7Delimiters = Object.freeze({
  field: '|',
  component: '^',
  repetition: '~',
  escape: '\\',
  subcomponent: '&',
  truncation: '',
  encodingCharacters: '^~\\&',
  repetitionAlias: '',
});

const SMALL_TILDE = '\u02dc';

/** Makes delimiters from a field separator and MSH-2 text, checking they are usable. */
export function makeDelimiters(field: string, encodingCharacters: string): Hl7Delimiters {
  const problem = delimiterProblem(field, encodingCharacters);
  if (problem) throw new Hl7Error(Hl7ErrorCode.BadEncodingChars, problem, { segmentName: 'MSH', field: 2 });
  const chars = [...encodingCharacters];
  const repetition = chars[1] ?? '';
  return Object.freeze({
    field,
    component: chars[0] ?? '',
    repetition,
    escape: chars[2] ?? '',
    subcomponent: chars[3] ?? '',
    truncation: chars[4] ?? '',
    encodingCharacters,
    repetitionAlias: repetition === SMALL_TILDE ? '~' : '',
  });
}

function describeChar(c: string): string {
  const code = c.codePointAt(0)!;
  if (code >= 0x80 && code <= 0xff) return `the byte 0x${code.toString(16).toUpperCase()}`;
  return code >= 0x21 && code <= 0x7e ? `"${c}"` : `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
}

function isUsableSeparator(c: string): boolean {
  const code = c.charCodeAt(0);
  // Printable ASCII, not a letter or digit (they would collide with segment names and values), not the double quote
  // (it spells the HL7 null "") and not the space.
  return (
    c.length === 1 &&
    code > 0x20 &&
    code < 0x7f &&
    code !== 0x22 &&
    !(code >= 0x30 && code <= 0x39) &&
    !(code >= 0x41 && code <= 0x5a) &&
    !(code >= 0x61 && code <= 0x7a)
  );
}

/** Why these separators are unusable, or undefined when they are fine. */
export function delimiterProblem(field: string, encodingCharacters: string): string | undefined {
  if (!isUsableSeparator(field)) {
    return `the field separator (MSH-1) is ${describeChar(field)}; it must be a printable ASCII character that is neither a letter, a digit, a space nor a double quote (normally "|")`;
  }
  const chars = [...encodingCharacters];
  if (chars.length === 0) {
    return 'MSH-2 (encoding characters) is empty; it must hold the component, repetition, escape and subcomponent separators, normally ^~\\&';
  }
  if (chars.length < 4 || chars.length > 5) {
    return `MSH-2 has ${chars.length} character(s) ("${encodingCharacters}"); it holds 4 (component, repetition, escape, subcomponent, normally ^~\\&) or 5 with the v2.7 truncation character (^~\\&#); check the field separator`;
  }
  const seen = new Set<string>([field]);
  const names = ['component', 'repetition', 'escape', 'subcomponent', 'truncation'];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    const ok = isUsableSeparator(c) || (i === 1 && c === SMALL_TILDE);
    if (!ok) {
      return `the ${names[i]} separator in MSH-2 ("${encodingCharacters}") is ${describeChar(c)}; separators must be printable ASCII characters that are neither letters, digits, spaces nor double quotes (normally ^~\\&)`;
    }
    if (seen.has(c)) {
      return `MSH-2 ("${encodingCharacters}") uses ${describeChar(c)} twice (with MSH-1 "${field}"); each separator must be distinct (normally |^~\\&)`;
    }
    seen.add(c);
  }
  return undefined;
}

/** How many repeated newlines or spaces one `\.sp n\` or `\.sk n\` may expand to (hostile input defence). */
const MAX_FORMAT_REPEAT = 100;

/**
 * Replaces the escape sequences of a value: \F\ \S\ \T\ \R\ \E\ \P\, \Xhh..\ (bytes in the message charset),
 * the formatting commands \.br\ (newline), \.sp n\, \.sk n\, \.ce\ (newlines / spaces; the others are dropped)
 * and \H\ \N\ (highlighting, dropped). An unknown or unterminated sequence is kept as written.
 */
export function unescapeValue(raw: string, d: Hl7Delimiters, charset: Hl7Charset): string {
  const esc = d.escape;
  if (esc === '') return raw;
  let i = raw.indexOf(esc);
  if (i < 0) return raw;
  let out = '';
  let from = 0;
  while (i >= 0) {
    const close = raw.indexOf(esc, i + 1);
    if (close < 0) break;
    const body = raw.slice(i + 1, close);
    const replacement = expand(body, d, charset);
    if (replacement === undefined) {
      // Not a sequence: keep the escape character literally and look again from the next one.
      out += raw.slice(from, close);
      from = close;
      i = close;
      continue;
    }
    out += raw.slice(from, i) + replacement;
    from = close + 1;
    i = raw.indexOf(esc, from);
  }
  return out + raw.slice(from);
}

function expand(body: string, d: Hl7Delimiters, charset: Hl7Charset): string | undefined {
  if (body.length === 1) {
    switch (body) {
      case 'F':
        return d.field;
      case 'S':
        return d.component;
      case 'T':
        return d.subcomponent;
      case 'R':
        return d.repetition;
      case 'E':
        return d.escape;
      case 'P':
        return d.truncation || undefined;
      case 'H':
      case 'N':
        return '';
      default:
        return undefined;
    }
  }
  const lead = body.charCodeAt(0);
  if (lead === 0x58 /* X */) return hexBytes(body.slice(1), charset);
  if (lead === 0x2e /* . */) {
    const m = /^\.(br|sp|sk|ce|fi|nf|in|ti)(?:\s*([+-]?\d{1,6}))?$/.exec(body);
    if (!m) return undefined;
    const n = Math.min(MAX_FORMAT_REPEAT, Math.max(1, Math.abs(Number(m[2] ?? '1'))));
    switch (m[1]) {
      case 'br':
      case 'ce':
        return '\n';
      case 'sp':
        return '\n'.repeat(n);
      case 'sk':
        return ' '.repeat(n);
      default:
        return ''; // .fi .nf .in .ti change layout only
    }
  }
  return undefined;
}

function hexBytes(hex: string, charset: Hl7Charset): string | undefined {
  if (hex.length === 0 || hex.length % 2 !== 0 || !/^[0-9A-Fa-f]+$/.test(hex)) return undefined;
  const bytes = Buffer.from(hex, 'hex');
  if (firstInvalidByte(bytes, 0, bytes.length, charset) >= 0) return undefined;
  return decodeBytes(bytes, 0, bytes.length, charset);
}

const escapeCache = new WeakMap<Hl7Delimiters, RegExp>();

/**
 * Escapes a value for writing: separators become \F\ \S\ \T\ \R\ \E\ (\P\ for the v2.7 truncation character),
 * line breaks \.br\ and other control characters \Xhh\.
 */
export function escapeValue(value: string, d: Hl7Delimiters): string {
  let re = escapeCache.get(d);
  if (!re) {
    const chars = [d.field, d.component, d.repetition, d.escape, d.subcomponent, d.truncation, d.repetitionAlias]
      .filter((c) => c !== '')
      .map((c) => c.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&'))
      .join('|');
    re = new RegExp(`\\r\\n|[\\x00-\\x08\\x0a-\\x1f\\x7f]|${chars}`, 'g');
    escapeCache.set(d, re);
  }
  re.lastIndex = 0;
  if (!re.test(value)) return value;
  if (d.escape === '') {
    throw new Hl7Error(
      Hl7ErrorCode.BadInput,
      `the value "${value.slice(0, 40)}" contains a separator or a line break, and MSH-2 declares no escape character to protect it; use MSH-2 = ^~\\&`,
    );
  }
  const e = d.escape;
  re.lastIndex = 0;
  return value.replace(re, (c) => {
    switch (c) {
      case d.field:
        return `${e}F${e}`;
      case d.component:
        return `${e}S${e}`;
      case d.subcomponent:
        return `${e}T${e}`;
      case d.repetition:
        return `${e}R${e}`;
      case e:
        return `${e}E${e}`;
      case d.truncation:
        return `${e}P${e}`;
      case '\r\n':
      case '\n':
      case '\r':
        return `${e}.br${e}`;
      default: // control characters and the ASCII ~ that aliases ˜
        return `${e}X${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}${e}`;
    }
  });
}
