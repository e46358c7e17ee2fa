// Typed readers for the data types mappings use most: DTM/DT/TS, NM, and the composites CE/CWE, CX, HD, EI,
// XPN, XCN, XAD, XTN. Component numbers follow the standard (v2.5–2.8 layouts; earlier versions share the first
// components). Empty components read as undefined; the HL7 null `""` also reads as undefined here (check
// `field.isNull` to tell "delete this value" apart).
import type { Hl7Location } from './errors.js';
import { Hl7Error, Hl7ErrorCode } from './errors.js';
import type { Hl7Component, Hl7Field, Hl7Repetition } from './model.js';

export type Hl7DateTimePrecision = 'year' | 'month' | 'day' | 'hour' | 'minute' | 'second' | 'fraction';

/** An HL7 date/time (DT, DTM, or TS.1) in ISO 8601 form, at the precision the sender gave. */
export interface Hl7DateTime {
  /** As received, e.g. `20240315143000.123+0100`. */
  readonly raw: string;
  /** ISO 8601 at the same precision: `2024`, `2024-03`, `2024-03-15`, `2024-03-15T14`, `2024-03-15T14:30`, `2024-03-15T14:30:00.123+01:00`. */
  readonly iso: string;
  readonly precision: Hl7DateTimePrecision;
  /** `+01:00` when the sender gave an offset; undefined means local time of the sender. */
  readonly offset: string | undefined;
}

const dtmPattern = /^(\d{4})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:\.(\d{1,4}))?)?)?)?)?)?([+-]\d{4})?$/;

function daysIn(year: number, month: number): number {
  return [
    31,
    year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28,
    31,
    30,
    31,
    30,
    31,
    31,
    30,
    31,
    30,
    31,
  ][month - 1]!;
}

/**
 * Parses an HL7 date/time `YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ]`. Returns undefined for an empty value;
 * throws `HL7_BAD_VALUE` (table 0357 code 102) naming `location` when the text is not one or a part is out of range.
 */
export function parseHl7DateTime(text: string | null | undefined, location: Hl7Location = {}): Hl7DateTime | undefined {
  if (text === undefined || text === null) return undefined;
  const raw = text.trim();
  if (raw === '') return undefined;
  const bad = (why: string) =>
    new Hl7Error(
      Hl7ErrorCode.BadValue,
      `"${raw.slice(0, 40)}" is not an HL7 date/time (${why}); expected YYYY[MM[DD[HH[MM[SS[.SSSS]]]]]][+/-ZZZZ]`,
      location,
    );
  const m = dtmPattern.exec(raw);
  if (!m) throw bad('wrong form');
  const [, y, mo, d, h, mi, s, frac, tz] = m;
  let iso = y!;
  let precision: Hl7DateTimePrecision = 'year';
  if (mo !== undefined) {
    const month = Number(mo);
    if (month < 1 || month > 12) throw bad(`month ${mo}`);
    iso += `-${mo}`;
    precision = 'month';
    if (d !== undefined) {
      const day = Number(d);
      if (day < 1 || day > daysIn(Number(y), month)) throw bad(`day ${d}`);
      iso += `-${d}`;
      precision = 'day';
      if (h !== undefined) {
        if (Number(h) > 23) throw bad(`hour ${h}`);
        iso += `T${h}`;
        precision = 'hour';
        if (mi !== undefined) {
          if (Number(mi) > 59) throw bad(`minute ${mi}`);
          iso += `:${mi}`;
          precision = 'minute';
          if (s !== undefined) {
            if (Number(s) > 59) throw bad(`second ${s}`);
            iso += `:${s}`;
            precision = 'second';
            if (frac !== undefined) {
              iso += `.${frac}`;
              precision = 'fraction';
            }
          }
        }
      }
    }
  }
  let offset: string | undefined;
  if (tz !== undefined) {
    const hh = Number(tz.slice(1, 3));
    const mm = Number(tz.slice(3, 5));
    if (hh > 14 || mm > 59) throw bad(`offset ${tz}`);
    offset = `${tz.slice(0, 3)}:${tz.slice(3)}`;
    iso += offset;
  }
  return { raw, iso, precision, offset };
}

const numberPattern = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$/;

/** Parses an HL7 NM (optional sign, digits, optional decimal point); undefined when empty, `HL7_BAD_VALUE` otherwise. */
export function parseHl7Number(text: string | null | undefined, location: Hl7Location = {}): number | undefined {
  if (text === undefined || text === null) return undefined;
  const raw = text.trim();
  if (raw === '') return undefined;
  if (!numberPattern.test(raw)) {
    throw new Hl7Error(
      Hl7ErrorCode.BadValue,
      `"${raw.slice(0, 40)}" is not an HL7 number (NM: optional sign, digits, optional decimal point)`,
      location,
    );
  }
  return Number(raw);
}

type Composite = Hl7Field | Hl7Repetition | Hl7Component;

/** Reads part `n` of a composite: components of a field/repetition, subcomponents of a component. */
function reader(el: Composite): (n: number, sub?: number) => string | undefined {
  if ('subcomponent' in el) return (n) => el.subcomponent(n) ?? undefined;
  return (n, sub = 1) => el.get(n, sub) ?? undefined;
}

function isBlank(el: Composite | undefined): el is undefined {
  return el === undefined || el.isEmpty || el.isNull;
}

function compact<T extends object>(o: T): T {
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] === undefined) delete o[k];
  return o;
}

/** HD — hierarchic designator (an assigning authority, an application, a facility). */
export interface Hl7HierarchicDesignator {
  namespaceId?: string;
  universalId?: string;
  universalIdType?: string;
}

export function readHd(el: Composite | undefined): Hl7HierarchicDesignator | undefined {
  if (isBlank(el)) return undefined;
  const r = reader(el);
  return compact({ namespaceId: r(1), universalId: r(2), universalIdType: r(3) });
}

/** HD held in the subcomponents of component `n` (CX-4, CX-6, XCN-9…). */
function hdAt(el: Hl7Field | Hl7Repetition, n: number): Hl7HierarchicDesignator | undefined {
  const c = el.component(n);
  if (c.isEmpty) return undefined;
  return compact({
    namespaceId: c.subcomponent(1) ?? undefined,
    universalId: c.subcomponent(2) ?? undefined,
    universalIdType: c.subcomponent(3) ?? undefined,
  });
}

/** CE / CWE — coded element (CWE-7…9 are empty for a CE). */
export interface Hl7CodedElement {
  code?: string;
  display?: string;
  system?: string;
  alternateCode?: string;
  alternateDisplay?: string;
  alternateSystem?: string;
  systemVersion?: string;
  alternateSystemVersion?: string;
  originalText?: string;
}

export function readCwe(el: Hl7Field | Hl7Repetition | undefined): Hl7CodedElement | undefined {
  if (isBlank(el)) return undefined;
  const r = reader(el);
  return compact({
    code: r(1),
    display: r(2),
    system: r(3),
    alternateCode: r(4),
    alternateDisplay: r(5),
    alternateSystem: r(6),
    systemVersion: r(7),
    alternateSystemVersion: r(8),
    originalText: r(9),
  });
}
/** CE has the first six components of CWE. */
export const readCe = readCwe;

/** CX — extended composite identifier (PID-3, the INS `NIR^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.10&ISO^INS`). */
export interface Hl7ExtendedIdentifier {
  id?: string;
  checkDigit?: string;
  checkDigitScheme?: string;
  assigningAuthority?: Hl7HierarchicDesignator;
  identifierTypeCode?: string;
  assigningFacility?: Hl7HierarchicDesignator;
  effectiveDate?: string;
  expirationDate?: string;
}

export function readCx(el: Hl7Field | Hl7Repetition | undefined): Hl7ExtendedIdentifier | undefined {
  if (isBlank(el)) return undefined;
  const r = reader(el);
  return compact({
    id: r(1),
    checkDigit: r(2),
    checkDigitScheme: r(3),
    assigningAuthority: hdAt(el, 4),
    identifierTypeCode: r(5),
    assigningFacility: hdAt(el, 6),
    effectiveDate: r(7),
    expirationDate: r(8),
  });
}

/** EI — entity identifier (placer/filler order numbers, MSH-21). */
export interface Hl7EntityIdentifier {
  entityId?: string;
  namespaceId?: string;
  universalId?: string;
  universalIdType?: string;
}

export function readEi(el: Hl7Field | Hl7Repetition | undefined): Hl7EntityIdentifier | undefined {
  if (isBlank(el)) return undefined;
  const r = reader(el);
  return compact({ entityId: r(1), namespaceId: r(2), universalId: r(3), universalIdType: r(4) });
}

/** XPN — person name. `family` is XPN-1.1 (the surname of the FN type). */
export interface Hl7PersonName {
  family?: string;
  given?: string;
  /** XPN-3: second and further given names or initials. */
  secondNames?: string;
  suffix?: string;
  prefix?: string;
  degree?: string;
  /** XPN-7, table 0200 (L legal, D display, M maiden…). */
  nameTypeCode?: string;
}

export function readXpn(el: Hl7Field | Hl7Repetition | undefined): Hl7PersonName | undefined {
  if (isBlank(el)) return undefined;
  const r = reader(el);
  return compact({
    family: r(1, 1),
    given: r(2),
    secondNames: r(3),
    suffix: r(4),
    prefix: r(5),
    degree: r(6),
    nameTypeCode: r(7),
  });
}

/** XCN — a person with an identifier (ordering provider, attending doctor…). */
export interface Hl7PersonIdentifier extends Hl7PersonName {
  id?: string;
  sourceTable?: string;
  assigningAuthority?: Hl7HierarchicDesignator;
  identifierTypeCode?: string;
}

export function readXcn(el: Hl7Field | Hl7Repetition | undefined): Hl7PersonIdentifier | undefined {
  if (isBlank(el)) return undefined;
  const r = reader(el);
  return compact({
    id: r(1),
    family: r(2, 1),
    given: r(3),
    secondNames: r(4),
    suffix: r(5),
    prefix: r(6),
    degree: r(7),
    sourceTable: r(8),
    assigningAuthority: hdAt(el, 9),
    nameTypeCode: r(10),
    identifierTypeCode: r(13),
  });
}

/** XAD — address. `street` is XAD-1.1. */
export interface Hl7Address {
  street?: string;
  otherDesignation?: string;
  city?: string;
  state?: string;
  postalCode?: string;
  country?: string;
  /** XAD-7, table 0190 (H home, B business, BDL birth place…). */
  addressType?: string;
  otherGeographicDesignation?: string;
  countyCode?: string;
  censusTract?: string;
}

export function readXad(el: Hl7Field | Hl7Repetition | undefined): Hl7Address | undefined {
  if (isBlank(el)) return undefined;
  const r = reader(el);
  return compact({
    street: r(1, 1),
    otherDesignation: r(2),
    city: r(3),
    state: r(4),
    postalCode: r(5),
    country: r(6),
    addressType: r(7),
    otherGeographicDesignation: r(8),
    countyCode: r(9),
    censusTract: r(10),
  });
}

/** XTN — telecommunication number or address. */
export interface Hl7Telecom {
  /** XTN-1, the formatted number of v2.1–2.5 (still widely sent). */
  telephoneNumber?: string;
  /** XTN-2, table 0201 (PRN, WPN, NET…). */
  useCode?: string;
  /** XTN-3, table 0202 (PH, FX, CP, Internet…). */
  equipmentType?: string;
  /** XTN-4, e.g. an e-mail address. */
  communicationAddress?: string;
  countryCode?: string;
  areaCode?: string;
  localNumber?: string;
  extension?: string;
  anyText?: string;
  unformattedNumber?: string;
}

export function readXtn(el: Hl7Field | Hl7Repetition | undefined): Hl7Telecom | undefined {
  if (isBlank(el)) return undefined;
  const r = reader(el);
  return compact({
    telephoneNumber: r(1),
    useCode: r(2),
    equipmentType: r(3),
    communicationAddress: r(4),
    countryCode: r(5),
    areaCode: r(6),
    localNumber: r(7),
    extension: r(8),
    anyText: r(9),
    unformattedNumber: r(12),
  });
}
