// Encoding data sets: used for what we build ourselves (file meta, DIMSE command sets, C-FIND identifiers,
// STOW responses' DICOM objects). Stored instances are never re-encoded: they travel as received.
import type { Encoding } from './dataset.js';
import { CHARSET_VRS } from './dataset.js';
import { vrOf } from './dictionary.js';

export interface ElementValue {
  tag: number;
  /** Defaults to the dictionary VR. */
  vr?: string;
  /** Text (one or several values), numbers, raw bytes, or the items of a sequence. */
  value: string | string[] | number | number[] | Uint8Array | ElementValue[][] | undefined | null;
}

const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);

function encodeValue(
  vr: string,
  value: Exclude<ElementValue['value'], ElementValue[][]>,
  littleEndian: boolean,
): Buffer {
  if (value === undefined || value === null) return Buffer.alloc(0);
  if (value instanceof Uint8Array) {
    const b = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    return b.length % 2 ? Buffer.concat([b, Buffer.of(0)]) : b;
  }
  const numbers =
    typeof value === 'number'
      ? [value]
      : Array.isArray(value) && typeof value[0] === 'number'
        ? (value as number[])
        : undefined;
  const width = { US: 2, SS: 2, UL: 4, SL: 4, FL: 4, FD: 8, AT: 4 }[vr];
  if (numbers && width) {
    const out = Buffer.alloc(numbers.length * width);
    numbers.forEach((n, i) => {
      const at = i * width;
      switch (vr) {
        case 'US':
          if (littleEndian) out.writeUInt16LE(n, at);
          else out.writeUInt16BE(n, at);
          break;
        case 'SS':
          if (littleEndian) out.writeInt16LE(n, at);
          else out.writeInt16BE(n, at);
          break;
        case 'UL':
          if (littleEndian) out.writeUInt32LE(n >>> 0, at);
          else out.writeUInt32BE(n >>> 0, at);
          break;
        case 'SL':
          if (littleEndian) out.writeInt32LE(n, at);
          else out.writeInt32BE(n, at);
          break;
        case 'FL':
          if (littleEndian) out.writeFloatLE(n, at);
          else out.writeFloatBE(n, at);
          break;
        case 'FD':
          if (littleEndian) out.writeDoubleLE(n, at);
          else out.writeDoubleBE(n, at);
          break;
        case 'AT':
          if (littleEndian) {
            out.writeUInt16LE(n >>> 16, at);
            out.writeUInt16LE(n & 0xffff, at + 2);
          } else {
            out.writeUInt16BE(n >>> 16, at);
            out.writeUInt16BE(n & 0xffff, at + 2);
          }
          break;
      }
    });
    return out;
  }
  const texts = (Array.isArray(value) ? value : [value]).map(String);
  const joined = texts.join('\\');
  const bytes = Buffer.from(joined, CHARSET_VRS.has(vr) ? 'utf8' : 'latin1');
  if (bytes.length % 2 === 0) return bytes;
  return Buffer.concat([bytes, Buffer.of(vr === 'UI' ? 0 : 0x20)]);
}

function header(tag: number, vr: string, length: number, encoding: Encoding): Buffer {
  const le = encoding.littleEndian;
  const w16 = (b: Buffer, v: number, at: number) => (le ? b.writeUInt16LE(v, at) : b.writeUInt16BE(v, at));
  const w32 = (b: Buffer, v: number, at: number) => (le ? b.writeUInt32LE(v >>> 0, at) : b.writeUInt32BE(v >>> 0, at));
  if (!encoding.explicitVr) {
    const b = Buffer.alloc(8);
    w16(b, tag >>> 16, 0);
    w16(b, tag & 0xffff, 2);
    w32(b, length, 4);
    return b;
  }
  if (LONG_VRS.has(vr)) {
    const b = Buffer.alloc(12);
    w16(b, tag >>> 16, 0);
    w16(b, tag & 0xffff, 2);
    b.write(vr, 4, 'latin1');
    w32(b, length, 8);
    return b;
  }
  const b = Buffer.alloc(8);
  w16(b, tag >>> 16, 0);
  w16(b, tag & 0xffff, 2);
  b.write(vr, 4, 'latin1');
  w16(b, length, 6);
  return b;
}

function itemHeader(tag: number, length: number, encoding: Encoding): Buffer {
  const b = Buffer.alloc(8);
  if (encoding.littleEndian) {
    b.writeUInt16LE(0xfffe, 0);
    b.writeUInt16LE(tag & 0xffff, 2);
    b.writeUInt32LE(length >>> 0, 4);
  } else {
    b.writeUInt16BE(0xfffe, 0);
    b.writeUInt16BE(tag & 0xffff, 2);
    b.writeUInt32BE(length >>> 0, 4);
  }
  return b;
}

/** Encodes elements (sorted by tag) with defined lengths throughout. */
export function encodeElements(elements: readonly ElementValue[], encoding: Encoding): Buffer {
  const parts: Buffer[] = [];
  for (const element of [...elements].sort((a, b) => (a.tag >>> 0) - (b.tag >>> 0))) {
    const vr = element.vr ?? vrOf(element.tag);
    if (vr === 'SQ') {
      const items = (element.value ?? []) as ElementValue[][];
      const encodedItems = items.map((item) => {
        const body = encodeElements(item, encoding);
        return Buffer.concat([itemHeader(0xfffee000, body.length, encoding), body]);
      });
      const body = Buffer.concat(encodedItems);
      parts.push(header(element.tag, vr, body.length, encoding), body);
      continue;
    }
    const value = encodeValue(
      vr,
      element.value as Exclude<ElementValue['value'], ElementValue[][]>,
      encoding.littleEndian,
    );
    if (!LONG_VRS.has(vr) && encoding.explicitVr && value.length > 0xffff) {
      throw new RangeError(
        `Value of ${vr} element ${element.tag.toString(16)} is ${value.length} bytes, over the 65534 its VR allows`,
      );
    }
    parts.push(header(element.tag, vr, value.length, encoding), value);
  }
  return Buffer.concat(parts);
}
