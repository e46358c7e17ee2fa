// Reading DICOM data sets (PS3.5 §7): elements located by offset into the original bytes, never copied,
// so a stored instance can be forwarded byte for byte and bulk data sliced without re-encoding.
//
// Hostile input is expected: every length is checked against its container before use, nesting depth
// is bounded, every loop advances, and any problem is a DicomError with the offset where it was found.
import { DicomError, DicomErrorCode } from './errors.js';
import { characterSet, type CharacterSet } from './charset.js';
import { formatTag, vrOf } from './dictionary.js';
import { Tag } from './tags.js';

export interface Encoding {
  explicitVr: boolean;
  littleEndian: boolean;
}
export const IMPLICIT_LITTLE: Encoding = { explicitVr: false, littleEndian: true };
export const EXPLICIT_LITTLE: Encoding = { explicitVr: true, littleEndian: true };
export const EXPLICIT_BIG: Encoding = { explicitVr: true, littleEndian: false };

/** VRs whose explicit encoding has a 2-byte reserved field and a 4-byte length (PS3.5 Table 7.1-1). */
const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);
const ALL_VRS = new Set([
  'AE',
  'AS',
  'AT',
  'CS',
  'DA',
  'DS',
  'DT',
  'FD',
  'FL',
  'IS',
  'LO',
  'LT',
  'OB',
  'OD',
  'OF',
  'OL',
  'OV',
  'OW',
  'PN',
  'SH',
  'SL',
  'SQ',
  'SS',
  'ST',
  'SV',
  'TM',
  'UC',
  'UI',
  'UL',
  'UN',
  'UR',
  'US',
  'UT',
  'UV',
]);
/** String VRs whose value is a single value (a backslash is just a character). */
const SINGLE_VALUED_TEXT = new Set(['LT', 'ST', 'UT', 'UR']);
/** String VRs affected by Specific Character Set. */
export const CHARSET_VRS = new Set(['SH', 'LO', 'ST', 'LT', 'UT', 'UC', 'PN']);
const UNDEFINED = 0xffffffff;

export interface Fragment {
  offset: number;
  length: number;
}

export interface Element {
  tag: number;
  vr: string;
  /** Offset of the value in the data set's bytes (for undefined-length values: just after the header). */
  offset: number;
  /** Value length in bytes; for undefined-length values, the bytes up to the closing delimiter. */
  length: number;
  undefinedLength: boolean;
  /** Offset of the element's first byte (its tag) and of the first byte after it (incl. delimiter). */
  start: number;
  end: number;
  items?: DataSet[];
  /** Encapsulated pixel data: the items in order; the first is the Basic Offset Table. */
  fragments?: Fragment[];
}

export interface ParseOptions {
  /** Deepest sequence nesting accepted (default 64). */
  maxDepth?: number;
}

export class DataSet {
  constructor(
    readonly bytes: Buffer,
    readonly encoding: Encoding,
    readonly elements: Map<number, Element>,
    readonly charset: CharacterSet,
  ) {}

  has(tag: number): boolean {
    return this.elements.has(tag);
  }

  get(tag: number): Element | undefined {
    return this.elements.get(tag);
  }

  /** The raw value bytes (a view, not a copy). */
  valueBytes(tag: number): Buffer | undefined {
    const e = this.elements.get(tag);
    if (!e || e.items || e.fragments) return undefined;
    return this.bytes.subarray(e.offset, e.offset + e.length);
  }

  /** The values of a string element, decoded with the character set, trimmed as PS3.5 §6.2 allows. */
  strings(tag: number): string[] {
    const e = this.elements.get(tag);
    if (!e || e.length === 0 || e.items || e.fragments) return [];
    return decodeStrings(this.bytes.subarray(e.offset, e.offset + e.length), e.vr, this.charset);
  }

  /** The first value of a string element, or undefined when absent or empty. */
  string(tag: number): string | undefined {
    const value = this.strings(tag)[0];
    return value === undefined || value === '' ? undefined : value;
  }

  /** Numbers of a binary (US, SS, UL, SL, FL, FD, SV, UV) or numeric string (IS, DS) element. */
  numbers(tag: number): number[] {
    const e = this.elements.get(tag);
    if (!e || e.length === 0 || e.items || e.fragments) return [];
    return readNumbers(this.bytes.subarray(e.offset, e.offset + e.length), e.vr, this.encoding.littleEndian);
  }

  number(tag: number): number | undefined {
    return this.numbers(tag)[0];
  }

  /** The items of a sequence (empty when absent or not a sequence). */
  sequence(tag: number): DataSet[] {
    return this.elements.get(tag)?.items ?? [];
  }
}

export function decodeStrings(bytes: Uint8Array, vr: string, charset: CharacterSet): string[] {
  const text = CHARSET_VRS.has(vr) ? charset.decode(bytes, { personName: vr === 'PN' }) : latin1(bytes);
  const values = SINGLE_VALUED_TEXT.has(vr) ? [text] : text.split('\\');
  return values.map((v) =>
    // Trailing padding (space, or NUL for UI) is never significant; leading spaces are, in LT/ST/UT.
    SINGLE_VALUED_TEXT.has(vr) ? v.replace(/[\0 ]+$/, '') : v.replace(/^[ ]+/, '').replace(/[\0 ]+$/, ''),
  );
}

function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

export function readNumbers(bytes: Buffer, vr: string, littleEndian: boolean): number[] {
  const out: number[] = [];
  const step = { US: 2, SS: 2, UL: 4, SL: 4, FL: 4, FD: 8, SV: 8, UV: 8, AT: 4 }[vr];
  if (step === undefined) {
    if (vr === 'IS' || vr === 'DS') {
      for (const text of latin1(bytes).split('\\')) {
        const trimmed = text.trim();
        if (trimmed === '') continue;
        const n = Number(trimmed);
        if (Number.isFinite(n)) out.push(n);
      }
    }
    return out;
  }
  for (let i = 0; i + step <= bytes.length; i += step) {
    switch (vr) {
      case 'US':
        out.push(littleEndian ? bytes.readUInt16LE(i) : bytes.readUInt16BE(i));
        break;
      case 'SS':
        out.push(littleEndian ? bytes.readInt16LE(i) : bytes.readInt16BE(i));
        break;
      case 'UL':
        out.push(littleEndian ? bytes.readUInt32LE(i) : bytes.readUInt32BE(i));
        break;
      case 'SL':
        out.push(littleEndian ? bytes.readInt32LE(i) : bytes.readInt32BE(i));
        break;
      case 'FL':
        out.push(littleEndian ? bytes.readFloatLE(i) : bytes.readFloatBE(i));
        break;
      case 'FD':
        out.push(littleEndian ? bytes.readDoubleLE(i) : bytes.readDoubleBE(i));
        break;
      case 'SV':
        out.push(Number(littleEndian ? bytes.readBigInt64LE(i) : bytes.readBigInt64BE(i)));
        break;
      case 'UV':
        out.push(Number(littleEndian ? bytes.readBigUInt64LE(i) : bytes.readBigUInt64BE(i)));
        break;
      case 'AT': {
        const group = littleEndian ? bytes.readUInt16LE(i) : bytes.readUInt16BE(i);
        const element = littleEndian ? bytes.readUInt16LE(i + 2) : bytes.readUInt16BE(i + 2);
        out.push(((group << 16) | element) >>> 0);
        break;
      }
    }
  }
  return out;
}

class Reader {
  constructor(
    readonly bytes: Buffer,
    readonly encoding: Encoding,
    readonly maxDepth: number,
  ) {}

  u16(at: number, end: number): number {
    if (at + 2 > end)
      throw new DicomError(DicomErrorCode.Truncated, 'Data set ends in the middle of an element header', at);
    return this.encoding.littleEndian ? this.bytes.readUInt16LE(at) : this.bytes.readUInt16BE(at);
  }

  u32(at: number, end: number): number {
    if (at + 4 > end)
      throw new DicomError(DicomErrorCode.Truncated, 'Data set ends in the middle of an element header', at);
    return this.encoding.littleEndian ? this.bytes.readUInt32LE(at) : this.bytes.readUInt32BE(at);
  }

  tag(at: number, end: number): number {
    return ((this.u16(at, end) << 16) | this.u16(at + 2, end)) >>> 0;
  }

  /**
   * Reads elements from `start` until `end`, or until an Item Delimitation Item when `inUndefinedItem`.
   * Returns the data set and the offset just after it (after the delimiter, if any).
   */
  dataSet(
    start: number,
    end: number,
    depth: number,
    parentCharset: CharacterSet,
    inUndefinedItem: boolean,
  ): [DataSet, number] {
    if (depth > this.maxDepth) {
      throw new DicomError(DicomErrorCode.TooDeep, `Sequences are nested deeper than ${this.maxDepth} levels`, start);
    }
    const elements = new Map<number, Element>();
    let pos = start;
    let closed = !inUndefinedItem;
    while (pos < end) {
      const elementStart = pos;
      const tag = this.tag(pos, end);
      pos += 4;
      if (tag === Tag.ItemDelimitationItem) {
        pos += 4; // its length, always 0
        if (!inUndefinedItem)
          throw new DicomError(
            DicomErrorCode.Malformed,
            'Item Delimitation Item outside an item of undefined length',
            elementStart,
          );
        closed = true;
        break;
      }
      if (tag === Tag.SequenceDelimitationItem) {
        // A stray sequence delimiter at data set level: some writers leave one; skip it.
        this.u32(pos, end);
        pos += 4;
        continue;
      }
      if (tag === Tag.Item)
        throw new DicomError(
          DicomErrorCode.Malformed,
          'Item tag (FFFE,E000) where an element was expected',
          elementStart,
        );
      let vr: string;
      let length: number;
      if (this.encoding.explicitVr) {
        if (pos + 2 > end)
          throw new DicomError(DicomErrorCode.Truncated, 'Data set ends in the middle of an element header', pos);
        vr = String.fromCharCode(this.bytes[pos]!, this.bytes[pos + 1]!);
        if (!ALL_VRS.has(vr)) {
          throw new DicomError(
            DicomErrorCode.Malformed,
            `Element ${formatTag(tag)} has no valid VR (found bytes ${this.bytes[pos]!.toString(16)} ${this.bytes[pos + 1]!.toString(16)}): the data set is not Explicit VR as its transfer syntax says, or it is corrupt`,
            pos,
          );
        }
        if (LONG_VRS.has(vr)) {
          length = this.u32(pos + 4, end);
          pos += 8;
        } else {
          length = this.u16(pos + 2, end);
          pos += 4;
        }
      } else {
        vr = vrOf(tag);
        length = this.u32(pos, end);
        pos += 4;
      }
      const element: Element = {
        tag,
        vr,
        offset: pos,
        length,
        undefinedLength: length === UNDEFINED,
        start: elementStart,
        end: pos,
      };
      if (length === UNDEFINED) {
        if (tag === Tag.PixelData || ((vr === 'OB' || vr === 'OW') && tag >>> 16 === 0x7fe0)) {
          element.fragments = [];
          pos = this.fragments(pos, end, element.fragments);
          element.length = pos - 8 - element.offset;
        } else if (vr === 'SQ' || vr === 'UN') {
          element.vr = 'SQ';
          // CP-246: a UN with undefined length is a sequence encoded in Implicit VR Little Endian.
          const inner =
            vr === 'UN' && this.encoding.explicitVr
              ? new Reader(this.bytes, { explicitVr: false, littleEndian: true }, this.maxDepth)
              : this;
          const [items, after] = inner.sequence(pos, end, undefined, depth, this.charsetOf(elements, parentCharset));
          element.items = items;
          element.length = after - 8 - element.offset;
          pos = after;
        } else {
          throw new DicomError(
            DicomErrorCode.Malformed,
            `Element ${formatTag(tag)} (VR ${vr}) has an undefined length, which only sequences and encapsulated pixel data may have`,
            elementStart,
          );
        }
      } else {
        if (length > end - pos) {
          throw new DicomError(
            DicomErrorCode.LengthOverrun,
            `Element ${formatTag(tag)} declares ${length} bytes but only ${end - pos} remain in its container`,
            elementStart,
          );
        }
        if (vr === 'SQ') {
          const firstTag = length >= 4 ? this.tag(pos, pos + length) : Tag.Item;
          if (firstTag === Tag.Item) {
            const [items] = this.sequence(
              pos,
              pos + length,
              pos + length,
              depth,
              this.charsetOf(elements, parentCharset),
            );
            element.items = items;
          } else if (!this.encoding.explicitVr) {
            // The dictionary says SQ but the value is not items (an old or private use of the tag): keep it as bytes.
            element.vr = 'UN';
          } else {
            throw new DicomError(
              DicomErrorCode.Malformed,
              `Sequence ${formatTag(tag)} does not start with an item`,
              pos,
            );
          }
        }
        pos += length;
      }
      element.end = pos;
      elements.set(tag, element);
    }
    if (!closed)
      throw new DicomError(
        DicomErrorCode.Truncated,
        'An item of undefined length has no Item Delimitation Item',
        start,
      );
    if (pos > end) throw new DicomError(DicomErrorCode.Truncated, 'Data set runs past its end', end);
    return [new DataSet(this.bytes, this.encoding, elements, this.charsetOf(elements, parentCharset)), pos];
  }

  private charsetOf(elements: Map<number, Element>, parent: CharacterSet): CharacterSet {
    const e = elements.get(Tag.SpecificCharacterSet);
    if (!e) return parent;
    const terms = latin1(this.bytes.subarray(e.offset, e.offset + e.length))
      .split('\\')
      .map((t) => t.trim());
    return characterSet(terms);
  }

  /** Items of a sequence from `start`; `end` is the sequence's end (defined length) or undefined. */
  sequence(
    start: number,
    limit: number,
    definedEnd: number | undefined,
    depth: number,
    charset: CharacterSet,
  ): [DataSet[], number] {
    const items: DataSet[] = [];
    let pos = start;
    const end = definedEnd ?? limit;
    while (pos < end) {
      const at = pos;
      const tag = this.tag(pos, end);
      const length = this.u32(pos + 4, end);
      pos += 8;
      if (tag === Tag.SequenceDelimitationItem) {
        if (definedEnd !== undefined)
          throw new DicomError(
            DicomErrorCode.Malformed,
            'Sequence Delimitation Item in a sequence of defined length',
            at,
          );
        return [items, pos];
      }
      if (tag !== Tag.Item) {
        throw new DicomError(
          DicomErrorCode.Malformed,
          `Expected an item (FFFE,E000) in a sequence, found ${formatTag(tag)}`,
          at,
        );
      }
      if (length === UNDEFINED) {
        const [item, after] = this.dataSet(pos, end, depth + 1, charset, true);
        items.push(item);
        pos = after;
      } else {
        if (length > end - pos) {
          throw new DicomError(
            DicomErrorCode.LengthOverrun,
            `Item declares ${length} bytes but only ${end - pos} remain in its sequence`,
            at,
          );
        }
        const [item] = this.dataSet(pos, pos + length, depth + 1, charset, false);
        items.push(item);
        pos += length;
      }
    }
    if (definedEnd === undefined)
      throw new DicomError(
        DicomErrorCode.Truncated,
        'A sequence of undefined length has no Sequence Delimitation Item',
        start,
      );
    return [items, pos];
  }

  /** Encapsulated pixel data items until the Sequence Delimitation Item. */
  fragments(start: number, end: number, out: Fragment[]): number {
    let pos = start;
    while (pos < end) {
      const at = pos;
      const tag = this.tag(pos, end);
      const length = this.u32(pos + 4, end);
      pos += 8;
      if (tag === Tag.SequenceDelimitationItem) return pos;
      if (tag !== Tag.Item)
        throw new DicomError(
          DicomErrorCode.Malformed,
          `Expected a pixel data fragment (FFFE,E000), found ${formatTag(tag)}`,
          at,
        );
      if (length === UNDEFINED || length > end - pos) {
        throw new DicomError(
          DicomErrorCode.LengthOverrun,
          `Pixel data fragment declares ${length === UNDEFINED ? 'an undefined length' : `${length} bytes`} but only ${end - pos} remain`,
          at,
        );
      }
      out.push({ offset: pos, length });
      pos += length;
    }
    throw new DicomError(DicomErrorCode.Truncated, 'Encapsulated pixel data has no Sequence Delimitation Item', start);
  }
}

/** Parses a whole data set (no file meta) encoded as `encoding`, from `start` to `end` of `bytes`. */
export function parseDataSet(
  bytes: Buffer,
  encoding: Encoding,
  options: ParseOptions & { start?: number; end?: number } = {},
): DataSet {
  const reader = new Reader(bytes, encoding, options.maxDepth ?? 64);
  const [dataSet] = reader.dataSet(options.start ?? 0, options.end ?? bytes.length, 0, characterSet([]), false);
  return dataSet;
}
