// Text decoding by Specific Character Set (0008,0005), PS3.5 §6.1 and Annex H/I/J/K.
import { TextDecoder } from 'node:util';
// - Single-byte sets without code extensions (ISO_IR 100 Latin-1, 144 Cyrillic, …), UTF-8 (ISO_IR 192),
//   GB18030 and GBK decode the whole value at once.
// - ISO 2022 sets (values starting "ISO 2022") switch with escape sequences; each run between escapes is
//   decoded with the set it designates. After a delimiter (backslash between values, and ^ = in person
//   names) the first value's set is active again, as the standard requires.
// Unknown defined terms fall back to Latin-1 (never throw: a name we cannot decode is still shown).

const ESC = 0x1b;

type Decoder = (bytes: Uint8Array) => string;

const latin1: Decoder = (b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
const decoders = new Map<string, InstanceType<typeof TextDecoder>>();
function web(label: string): Decoder {
  return (b) => {
    let d = decoders.get(label);
    if (!d) {
      d = new TextDecoder(label);
      decoders.set(label, d);
    }
    return d.decode(b);
  };
}
/** 7-bit JIS X 0208 pairs → EUC-JP by setting the high bit of each byte. */
const jisX0208: Decoder = (b) => web('euc-jp')(b.map((x) => x | 0x80));
/** 7-bit JIS X 0212 pairs → EUC-JP with the SS3 (0x8F) prefix. */
const jisX0212: Decoder = (b) => {
  const out: number[] = [];
  for (let i = 0; i + 1 < b.length; i += 2) out.push(0x8f, b[i]! | 0x80, b[i + 1]! | 0x80);
  return web('euc-jp')(Uint8Array.from(out));
};
/** JIS X 0201: ASCII-like G0 (romaji) plus half-width katakana in G1; Shift_JIS maps both. */
const jisX0201 = web('shift_jis');

/** Defined term (without the "ISO 2022 " / "ISO_" prefix differences) → decoder. */
const singleByte: Record<string, Decoder> = {
  'IR 6': latin1,
  'IR 100': latin1,
  'IR 101': web('iso-8859-2'),
  'IR 109': web('iso-8859-3'),
  'IR 110': web('iso-8859-4'),
  'IR 144': web('iso-8859-5'),
  'IR 127': web('iso-8859-6'),
  'IR 126': web('iso-8859-7'),
  'IR 138': web('iso-8859-8'),
  'IR 148': web('iso-8859-9'),
  'IR 203': web('iso-8859-15'),
  'IR 13': jisX0201,
  'IR 166': web('windows-874'),
};

function termKey(term: string): string {
  return term
    .trim()
    .toUpperCase()
    .replace(/^ISO 2022 /, '')
    .replace(/^ISO_/, '');
}

/** The decoder an escape sequence (bytes after ESC) designates, and how many bytes it uses. */
function escapeSequence(bytes: Uint8Array, at: number): { decoder: Decoder; length: number } | undefined {
  const a = bytes[at];
  const b = bytes[at + 1];
  const c = bytes[at + 2];
  const s = (...codes: number[]) => String.fromCharCode(...codes);
  const two = a !== undefined && b !== undefined ? s(a, b) : '';
  const three = c !== undefined ? two + s(c) : '';
  switch (three) {
    case '$(D':
      return { decoder: jisX0212, length: 3 };
    case '$)C':
      return { decoder: web('euc-kr'), length: 3 };
    case '$)A':
      return { decoder: web('gb18030'), length: 3 };
  }
  switch (two) {
    case '(B':
      return { decoder: latin1, length: 2 };
    case '(J':
    case ')I':
      return { decoder: jisX0201, length: 2 };
    case '$B':
    case '$@':
      return { decoder: jisX0208, length: 2 };
    case '-A':
      return { decoder: latin1, length: 2 };
    case '-B':
      return { decoder: singleByte['IR 101']!, length: 2 };
    case '-C':
      return { decoder: singleByte['IR 109']!, length: 2 };
    case '-D':
      return { decoder: singleByte['IR 110']!, length: 2 };
    case '-L':
      return { decoder: singleByte['IR 144']!, length: 2 };
    case '-G':
      return { decoder: singleByte['IR 127']!, length: 2 };
    case '-F':
      return { decoder: singleByte['IR 126']!, length: 2 };
    case '-H':
      return { decoder: singleByte['IR 138']!, length: 2 };
    case '-M':
      return { decoder: singleByte['IR 148']!, length: 2 };
    case '-b':
      return { decoder: singleByte['IR 203']!, length: 2 };
    case '-T':
      return { decoder: singleByte['IR 166']!, length: 2 };
  }
  return undefined;
}

export interface CharacterSet {
  /** The values of (0008,0005) as found (possibly empty). */
  readonly terms: readonly string[];
  decode(bytes: Uint8Array, options?: { personName?: boolean }): string;
}

/** Builds a decoder for the values of Specific Character Set (empty or absent → default repertoire). */
export function characterSet(terms: readonly string[] = []): CharacterSet {
  const first = termKey(terms[0] ?? '');
  const usesIso2022 = terms.some((t) => t.trim().toUpperCase().startsWith('ISO 2022'));
  let base: Decoder;
  if (first === 'IR 192') base = web('utf-8');
  else if (first === 'GB18030') base = web('gb18030');
  else if (first === 'GBK') base = web('gbk');
  else base = singleByte[first] ?? latin1;

  if (!usesIso2022) return { terms, decode: (bytes) => base(bytes) };

  return {
    terms,
    decode(bytes, options = {}) {
      let out = '';
      let decoder = base;
      let start = 0;
      const flush = (end: number) => {
        if (end > start) out += decoder(bytes.subarray(start, end));
      };
      for (let i = 0; i < bytes.length; i++) {
        const byte = bytes[i]!;
        if (byte === ESC) {
          const seq = escapeSequence(bytes, i + 1);
          if (!seq) continue;
          flush(i);
          decoder = seq.decoder;
          i += seq.length;
          start = i + 1;
        } else if (
          decoder !== jisX0208 &&
          decoder !== jisX0212 &&
          (byte === 0x5c || (options.personName && (byte === 0x5e || byte === 0x3d)))
        ) {
          // A delimiter: back to the first set (PS3.5 6.1.2.5.3).
          flush(i);
          out += String.fromCharCode(byte);
          decoder = base;
          start = i + 1;
        }
      }
      flush(bytes.length);
      return out;
    },
  };
}
