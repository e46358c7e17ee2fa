// Data dictionary look-ups: a tag's VR (needed to read Implicit VR data sets and to write DICOM JSON)
// and its keyword (QIDO-RS query keys, readable errors). Built lazily from the generated table.
import { DICTIONARY_DATA } from './dictionary/data.js';

interface Entry {
  vr: string;
  keyword: string;
}

let exact: Map<number, Entry> | undefined;
let masked: Array<{ mask: number; value: number; entry: Entry }> | undefined;
let byKeyword: Map<string, number> | undefined;

function load(): void {
  exact = new Map();
  masked = [];
  byKeyword = new Map();
  for (const line of DICTIONARY_DATA.split('\n')) {
    if (!line) continue;
    const [hex, vr, keyword] = line.split(' ') as [string, string, string];
    const entry = { vr, keyword };
    if (hex.includes('x')) {
      let mask = 0;
      let value = 0;
      for (const char of hex) {
        mask = mask * 16 + (char === 'x' ? 0 : 15);
        value = value * 16 + (char === 'x' ? 0 : parseInt(char, 16));
      }
      masked.push({ mask: mask >>> 0, value: value >>> 0, entry });
    } else {
      const tag = parseInt(hex, 16) >>> 0;
      exact.set(tag, entry);
      if (!byKeyword.has(keyword)) byKeyword.set(keyword, tag);
    }
  }
}

function entryOf(tag: number): Entry | undefined {
  if (!exact) load();
  const found = exact!.get(tag >>> 0);
  if (found) return found;
  for (const m of masked!) if ((tag & m.mask) >>> 0 === m.value) return m.entry;
  return undefined;
}

/** The dictionary VR of a tag; group lengths are UL, private creators LO, anything unknown UN. */
export function vrOf(tag: number): string {
  const element = tag & 0xffff;
  const group = tag >>> 16;
  if (element === 0) return 'UL';
  if (group % 2 === 1) return element >= 0x10 && element <= 0xff ? 'LO' : 'UN';
  return entryOf(tag)?.vr ?? 'UN';
}

export function keywordOf(tag: number): string | undefined {
  return entryOf(tag)?.keyword;
}

/** Tag for a keyword (`PatientName`) or an 8-digit hex tag (`00100010`); undefined when neither. */
export function tagOf(keywordOrHex: string): number | undefined {
  if (/^[0-9A-Fa-f]{8}$/.test(keywordOrHex)) return parseInt(keywordOrHex, 16) >>> 0;
  if (!byKeyword) load();
  return byKeyword!.get(keywordOrHex);
}

/** "(0010,0010)" for messages. */
export function formatTag(tag: number): string {
  const hex = (tag >>> 0).toString(16).toUpperCase().padStart(8, '0');
  return `(${hex.slice(0, 4)},${hex.slice(4)})`;
}

/** "00100010" as used in DICOM JSON. */
export function hexTag(tag: number): string {
  return (tag >>> 0).toString(16).toUpperCase().padStart(8, '0');
}
