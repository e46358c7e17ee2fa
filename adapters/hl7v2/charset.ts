// Character sets of MSH-18 (HL7 table 0211) and how their bytes are decoded and encoded.
// Node's own codecs do the work (Buffer for UTF-8 and Latin-1, TextDecoder's WHATWG tables for the other
// ISO 8859 parts); the encode tables are the inverse of the decode tables, so a decoded text encodes back to the
// same bytes.
import { isAscii, isUtf8 } from 'node:buffer';
import { TextDecoder } from 'node:util';
import { Hl7Error, Hl7ErrorCode } from './errors.js';

/** The MSH-18 values this adapter decodes (HL7 table 0211 spelling). */
export const Hl7Charset = {
  Ascii: 'ASCII',
  Latin1: '8859/1',
  Latin2: '8859/2',
  Latin3: '8859/3',
  Latin4: '8859/4',
  Cyrillic: '8859/5',
  Arabic: '8859/6',
  Greek: '8859/7',
  Hebrew: '8859/8',
  Latin5: '8859/9',
  Latin9: '8859/15',
  Utf8: 'UNICODE UTF-8',
} as const;
export type Hl7Charset = (typeof Hl7Charset)[keyof typeof Hl7Charset];

/**
 * What to assume when MSH-18 is empty. The standard says ASCII; `auto` (the default) accepts what real senders do:
 * pure ASCII, else valid UTF-8, else 8859/1 (a text that is valid UTF-8 is almost never Latin-1 by accident).
 */
export type Hl7DefaultCharset = Hl7Charset | 'auto';

/** How the charset of a parsed message was chosen. */
export type Hl7CharsetSource = 'MSH-18' | 'bom' | 'default' | 'detected';

const whatwgLabel: Record<Hl7Charset, string> = {
  ASCII: 'ascii',
  // Decoded as Windows-1252, like every browser does for "ISO-8859-1": senders that declare 8859/1 routinely put
  // cp1252 punctuation (’ € œ …) in 0x80–0x9F, where strict 8859/1 only has invisible C1 control codes.
  // (Node's own windows-1252 decoder gives Latin-1: the table below is used instead.)
  '8859/1': 'latin1',
  '8859/2': 'iso-8859-2',
  '8859/3': 'iso-8859-3',
  '8859/4': 'iso-8859-4',
  '8859/5': 'iso-8859-5',
  '8859/6': 'iso-8859-6',
  '8859/7': 'iso-8859-7',
  '8859/8': 'iso-8859-8',
  '8859/9': 'iso-8859-9',
  '8859/15': 'iso-8859-15',
  'UNICODE UTF-8': 'utf-8',
};

/** Spellings seen in the field, normalised (upper case, no space, dash, underscore, slash or dot). */
const aliases: Record<string, Hl7Charset> = {
  ASCII: 'ASCII',
  USASCII: 'ASCII',
  UNICODEUTF8: 'UNICODE UTF-8',
  UTF8: 'UNICODE UTF-8',
  // Table 0211's bare "UNICODE" (ISO/IEC 10646) is, in every message seen in practice, UTF-8.
  UNICODE: 'UNICODE UTF-8',
  '885915': '8859/15',
  ISO885915: '8859/15',
  LATIN9: '8859/15',
  '88591': '8859/1',
  ISO88591: '8859/1',
  LATIN1: '8859/1',
  ISOIR100: '8859/1',
  WINDOWS1252: '8859/1',
  CP1252: '8859/1',
};
for (let n = 2; n <= 9; n++) {
  aliases[`8859${n}`] = `8859/${n}` as Hl7Charset;
  aliases[`ISO8859${n}`] = `8859/${n}` as Hl7Charset;
}

/** Resolves an MSH-18 value (any common spelling) to a supported charset, or undefined. */
export function resolveCharset(value: string): Hl7Charset | undefined {
  const known = exact.get(value);
  if (known) return known;
  return aliases[value.toUpperCase().replace(/[\s\-_/.]/g, '')];
}
const exact = new Map<string, Hl7Charset>(Object.values(Hl7Charset).map((c) => [c, c]));

export function unsupportedCharsetError(value: string, field: number): Hl7Error {
  return new Hl7Error(
    Hl7ErrorCode.UnsupportedCharset,
    `MSH-18 declares the character set "${value}", which this receiver does not decode; ` +
      `send one of ${Object.values(Hl7Charset).join(', ')} (UTF-16/32, GB 18030, KS X 1001, BIG-5 and ISO 2022 switching are not supported)`,
    { segmentName: 'MSH', segmentIndex: 1, segmentSequence: 1, field },
  );
}

interface SingleByteTable {
  decoder: TextDecoder;
  encode: Map<number, number>;
}
const tables = new Map<Hl7Charset, SingleByteTable>();

/** Windows-1252 in 0x80–0x9F (the five unassigned bytes keep their C1 code point, as WHATWG does). */
const cp1252High = [
  0x20ac, 0x81, 0x201a, 0x192, 0x201e, 0x2026, 0x2020, 0x2021, 0x2c6, 0x2030, 0x160, 0x2039, 0x152, 0x8d, 0x17d, 0x8f,
  0x90, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014, 0x2dc, 0x2122, 0x161, 0x203a, 0x153, 0x9d, 0x17e, 0x178,
];
const cp1252Decode = new Map<number, string>(cp1252High.map((cp, k) => [0x80 + k, String.fromCharCode(cp)]));

function decodeCp1252(latin1: string): string {
  return latin1.replace(/[\x80-\x9f]/g, (c) => cp1252Decode.get(c.charCodeAt(0))!);
}

function singleByteTable(charset: Hl7Charset): SingleByteTable {
  let table = tables.get(charset);
  if (!table && charset === '8859/1') {
    const encode = new Map<number, number>();
    for (let b = 0xa0; b < 0x100; b++) encode.set(b, b);
    cp1252High.forEach((cp, k) => encode.set(cp, 0x80 + k));
    table = { decoder: new TextDecoder('latin1'), encode };
    tables.set(charset, table);
  }
  if (!table) {
    const decoder = new TextDecoder(whatwgLabel[charset], { fatal: true });
    const encode = new Map<number, number>();
    const probe = new TextDecoder(whatwgLabel[charset]);
    for (let b = 0; b < 256; b++) {
      const ch = probe.decode(Uint8Array.of(b));
      if (ch !== '\ufffd') encode.set(ch.charCodeAt(0), b);
    }
    table = { decoder, encode };
    tables.set(charset, table);
  }
  return table;
}

/** Offset (relative to `start`) of the first byte that is not valid in `charset`, or -1 when all are. */
export function firstInvalidByte(bytes: Uint8Array, start: number, end: number, charset: Hl7Charset): number {
  switch (charset) {
    case 'ASCII':
      if (isAscii(bytes.subarray(start, end))) return -1;
      for (let i = start; i < end; i++) if (bytes[i]! >= 0x80) return i - start;
      return -1;
    case 'UNICODE UTF-8':
      if (isUtf8(bytes.subarray(start, end))) return -1;
      return firstInvalidUtf8(bytes, start, end) - start;
    case '8859/1':
    case '8859/15':
    case '8859/2':
    case '8859/4':
    case '8859/5':
    case '8859/9':
      return -1; // every byte has a character
    case '8859/3':
    case '8859/6':
    case '8859/7':
    case '8859/8': {
      const { encode } = singleByteTable(charset);
      const valid = new Uint8Array(256);
      for (const b of encode.values()) valid[b] = 1;
      for (let i = start; i < end; i++) if (!valid[bytes[i]!]) return i - start;
      return -1;
    }
    default:
      return charset satisfies never;
  }
}

/** Position of the first byte that breaks UTF-8 (only called once `isUtf8` said there is one). */
function firstInvalidUtf8(bytes: Uint8Array, start: number, end: number): number {
  let i = start;
  while (i < end) {
    const b = bytes[i]!;
    let need: number;
    let min: number;
    if (b < 0x80) {
      i++;
      continue;
    } else if (b >= 0xc2 && b <= 0xdf) {
      need = 1;
      min = 0x80;
    } else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      min = 0x800;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      min = 0x10000;
    } else return i;
    if (i + need >= end) return i;
    let cp = b & (0x3f >> need);
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += need + 1;
  }
  return end;
}

/** Decodes bytes already known to be valid in `charset`. */
export function decodeBytes(bytes: Buffer, start: number, end: number, charset: Hl7Charset): string {
  switch (charset) {
    case 'ASCII':
      return bytes.toString('latin1', start, end);
    case 'UNICODE UTF-8':
      return bytes.toString('utf8', start, end);
    case '8859/1': {
      const text = bytes.toString('latin1', start, end);
      // Same as Latin-1 unless 0x80–0x9F occur (then Windows-1252 gives them their printable meaning).
      return hasC1.test(text) ? decodeCp1252(text) : text;
    }
    case '8859/15':
    case '8859/2':
    case '8859/3':
    case '8859/4':
    case '8859/5':
    case '8859/6':
    case '8859/7':
    case '8859/8':
    case '8859/9':
      return singleByteTable(charset).decoder.decode(bytes.subarray(start, end));
    default:
      return charset satisfies never;
  }
}
const hasC1 = /[\x80-\x9f]/;

/** Encodes text in `charset`; a character the charset cannot hold is an `HL7_BAD_INPUT` error naming it. */
export function encodeText(text: string, charset: Hl7Charset): Buffer {
  switch (charset) {
    case 'UNICODE UTF-8':
      return Buffer.from(text, 'utf8');
    case 'ASCII': {
      for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) >= 0x80) throw unencodable(text, i, charset);
      return Buffer.from(text, 'latin1');
    }
    default: {
      // eslint-disable-next-line no-control-regex -- ASCII range test
      if (charset === '8859/1' && !/[^\x00-\x7f\xa0-\xff]/.test(text)) return Buffer.from(text, 'latin1');
      const { encode } = singleByteTable(charset);
      const out = Buffer.allocUnsafe(text.length);
      for (let i = 0; i < text.length; i++) {
        const c = text.charCodeAt(i);
        const b = c < 0x80 ? c : encode.get(c);
        if (b === undefined) throw unencodable(text, i, charset);
        out[i] = b;
      }
      return out;
    }
  }
}

/** `text` with every character `charset` cannot hold replaced by `?` (for texts that must be written anyway). */
export function toEncodable(text: string, charset: Hl7Charset): string {
  if (charset === 'UNICODE UTF-8') return text;
  if (!/[^\u0000-\u007f]/.test(text)) return text; // eslint-disable-line no-control-regex -- ASCII range test
  if (charset === 'ASCII') return text.replace(/[^\u0000-\u007f]/g, '?'); // eslint-disable-line no-control-regex
  const { encode } = singleByteTable(charset);
  let out = '';
  for (const ch of text) out += ch.length === 1 && (ch.charCodeAt(0) < 0x80 || encode.has(ch.charCodeAt(0))) ? ch : '?';
  return out;
}

function unencodable(text: string, index: number, charset: Hl7Charset): Hl7Error {
  const ch = String.fromCodePoint(text.codePointAt(index)!);
  return new Hl7Error(
    Hl7ErrorCode.BadInput,
    `the character "${ch}" (U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}) cannot be written in ${charset}; ` +
      `set MSH-18 to UNICODE UTF-8 or remove the character`,
  );
}

/** For `auto`: ASCII when every byte is, else UTF-8 when valid, else 8859/1. */
export function detectCharset(bytes: Buffer, start: number, end: number): Hl7Charset {
  const view = bytes.subarray(start, end);
  if (isAscii(view)) return 'ASCII';
  if (isUtf8(view)) return 'UNICODE UTF-8';
  return '8859/1';
}
