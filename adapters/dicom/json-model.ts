// The DICOM JSON model (PS3.18 Annex F): the representation QIDO-RS answers with and WADO-RS serves as
// metadata. Binary values larger than a threshold (and pixel data always) become a BulkDataURI so that
// metadata stays small; the URI is built by the caller, which knows where its WADO-RS is mounted.
import type { DataSet, Element } from './dataset.js';
import { decodeStrings, readNumbers } from './dataset.js';
import { hexTag } from './dictionary.js';
import { parsePersonName } from './person-name.js';
import { Tag } from './tags.js';
import type { ElementValue } from './writer.js';

export type DicomJsonValue = string | number | null | DicomJson | DicomJsonPersonName;
export interface DicomJsonPersonName {
  Alphabetic?: string;
  Ideographic?: string;
  Phonetic?: string;
}
export interface DicomJsonAttribute {
  vr: string;
  Value?: DicomJsonValue[];
  InlineBinary?: string;
  BulkDataURI?: string;
}
export type DicomJson = Record<string, DicomJsonAttribute>;

export interface DicomJsonOptions {
  /** Builds the URI of a bulk value from its path: tags (8 hex digits) and item indexes, e.g. ["7FE00010"]. */
  bulkDataUri?: (path: string[]) => string;
  /** Binary values longer than this become bulk data (default 1024 bytes). Pixel data always does. */
  bulkDataThreshold?: number;
  /** Only these top-level tags (default: all except group lengths). */
  include?: ReadonlySet<number>;
}

const BINARY_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'UN']);
const NUMBER_VRS = new Set(['US', 'SS', 'UL', 'SL', 'FL', 'FD', 'SV', 'UV']);

function isPixelData(tag: number): boolean {
  return tag === Tag.PixelData || tag === Tag.FloatPixelData || tag === Tag.DoubleFloatPixelData;
}

function attribute(dataSet: DataSet, element: Element, path: string[], options: DicomJsonOptions): DicomJsonAttribute {
  const vr = element.vr;
  if (element.items) {
    return {
      vr: 'SQ',
      ...(element.items.length
        ? {
            Value: element.items.map((item, index) =>
              toDicomJson(item, { ...options, include: undefined }, [...path, String(index)]),
            ),
          }
        : {}),
    };
  }
  if (element.fragments || BINARY_VRS.has(vr)) {
    const threshold = options.bulkDataThreshold ?? 1024;
    if (element.length === 0 && !element.fragments) return { vr };
    if (options.bulkDataUri && (element.fragments || isPixelData(element.tag) || element.length > threshold)) {
      return { vr, BulkDataURI: options.bulkDataUri(path) };
    }
    if (element.fragments) return { vr }; // no URI builder: encapsulated data is left out rather than inlined
    return {
      vr,
      InlineBinary: dataSet.bytes.subarray(element.offset, element.offset + element.length).toString('base64'),
    };
  }
  if (element.length === 0) return { vr };
  const bytes = dataSet.bytes.subarray(element.offset, element.offset + element.length);
  if (NUMBER_VRS.has(vr)) return { vr, Value: readNumbers(bytes, vr, dataSet.encoding.littleEndian) };
  if (vr === 'AT') return { vr, Value: readNumbers(bytes, vr, dataSet.encoding.littleEndian).map(hexTag) };
  const texts = decodeStrings(bytes, vr, dataSet.charset);
  if (vr === 'PN') {
    return {
      vr,
      Value: texts.map((t) => {
        if (!t) return null;
        const name = parsePersonName(t);
        const out: DicomJsonPersonName = {};
        if (name.alphabetic) out.Alphabetic = name.alphabetic;
        if (name.ideographic) out.Ideographic = name.ideographic;
        if (name.phonetic) out.Phonetic = name.phonetic;
        return out;
      }),
    };
  }
  if (vr === 'IS' || vr === 'DS') {
    return {
      vr,
      Value: texts.map((t) => {
        if (t === '') return null;
        const n = Number(t);
        return Number.isFinite(n) ? n : t;
      }),
    };
  }
  return { vr, Value: texts.map((t) => (t === '' ? null : t)) };
}

/** The DICOM JSON object of a data set (file meta and group lengths excluded). */
export function toDicomJson(dataSet: DataSet, options: DicomJsonOptions = {}, path: string[] = []): DicomJson {
  const out: DicomJson = {};
  const tags = [...dataSet.elements.keys()].sort((a, b) => a - b);
  for (const tag of tags) {
    if ((tag & 0xffff) === 0 || tag >>> 16 === 0x0002) continue;
    if (options.include && !options.include.has(tag)) continue;
    const element = dataSet.elements.get(tag)!;
    out[hexTag(tag)] = attribute(dataSet, element, [...path, hexTag(tag)], options);
  }
  return out;
}

/** The element a bulk data path names (tags and item indexes), or undefined. */
export function elementAtPath(
  dataSet: DataSet,
  path: readonly string[],
): { dataSet: DataSet; element: Element } | undefined {
  let current: DataSet = dataSet;
  for (let i = 0; i < path.length; i += 2) {
    const hex = path[i]!;
    if (!/^[0-9A-Fa-f]{8}$/.test(hex)) return undefined;
    const element = current.get(parseInt(hex, 16) >>> 0);
    if (!element) return undefined;
    if (i + 1 === path.length) return { dataSet: current, element };
    const index = Number(path[i + 1]);
    const item = Number.isInteger(index) ? element.items?.[index] : undefined;
    if (!item) return undefined;
    current = item;
  }
  return undefined;
}

/**
 * DICOM JSON → elements for our writer (C-FIND responses are built from indexed DICOM JSON). Text is
 * written as UTF-8: the caller sets Specific Character Set to ISO_IR 192. Bulk data is left out.
 */
export function fromDicomJson(json: DicomJson): ElementValue[] {
  const out: ElementValue[] = [];
  for (const [hex, attribute] of Object.entries(json)) {
    if (!/^[0-9A-Fa-f]{8}$/.test(hex)) continue;
    const tag = parseInt(hex, 16) >>> 0;
    const { vr } = attribute;
    const values = attribute.Value ?? [];
    if (vr === 'SQ') {
      out.push({ tag, vr, value: values.map((item) => fromDicomJson(item as DicomJson)) });
    } else if (attribute.InlineBinary !== undefined) {
      out.push({ tag, vr, value: Buffer.from(attribute.InlineBinary, 'base64') });
    } else if (attribute.BulkDataURI !== undefined) {
      continue;
    } else if (vr === 'PN') {
      out.push({
        tag,
        vr,
        value: values.map((v) => {
          const name = (v ?? {}) as DicomJsonPersonName;
          return [name.Alphabetic ?? '', name.Ideographic ?? '', name.Phonetic ?? ''].join('=').replace(/=+$/, '');
        }),
      });
    } else if (['US', 'SS', 'UL', 'SL', 'FL', 'FD'].includes(vr)) {
      out.push({ tag, vr, value: values.filter((v): v is number => typeof v === 'number') });
    } else if (vr === 'AT') {
      out.push({ tag, vr, value: values.map((v) => parseInt(String(v), 16) >>> 0) });
    } else {
      out.push({ tag, vr, value: values.length ? values.map((v) => (v === null ? '' : String(v))) : '' });
    }
  }
  return out;
}
