// Extracts search-index rows from a resource: for each search parameter of its type, the official
// FHIRPath expression is evaluated and its values converted to rows of one of seven index tables.
// Pure and deterministic: the same resource always gives the same rows (rebuild relies on it).
import { toTypedValue, type TypedValue } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import { searchParamsOf, SearchParamType } from '../fhir/definitions.js';
import { dateRange, normalizeString } from '../search/values.js';

export interface TokenRow {
  param: string;
  system: string | null;
  code: string | null;
  display: string | null;
}
export interface StringRow {
  param: string;
  value: string;
  exact: string;
}
export interface DateRow {
  param: string;
  low: string;
  high: string;
}
export interface ReferenceRow {
  param: string;
  targetType: string | null;
  targetId: string | null;
  targetUrl: string | null;
  identSystem: string | null;
  identValue: string | null;
}
export interface QuantityRow {
  param: string;
  low: number;
  high: number;
  system: string | null;
  code: string | null;
  unit: string | null;
}
export interface NumberRow {
  param: string;
  low: number;
  high: number;
}
export interface UriRow {
  param: string;
  value: string;
}

export interface IndexRows {
  token: TokenRow[];
  string: StringRow[];
  date: DateRow[];
  reference: ReferenceRow[];
  quantity: QuantityRow[];
  number: NumberRow[];
  uri: UriRow[];
}

/** Longest indexed string (longer values are truncated for the index only; the resource keeps them whole). */
const MAX_INDEXED_STRING = 256;

export function emptyIndexRows(): IndexRows {
  return { token: [], string: [], date: [], reference: [], quantity: [], number: [], uri: [] };
}

export function indexResource(resource: Resource): IndexRows {
  const rows = emptyIndexRows();
  const root = [toTypedValue(resource)];
  const present = Object.keys(resource);
  for (const param of searchParamsOf(resource.resourceType).values()) {
    // Most parameters read an element this resource does not have: skip their expression.
    if (
      param.roots &&
      !param.roots.some((r) => present.some((k) => k === r || (k.startsWith(r) && /^[A-Z]/.test(k.slice(r.length)))))
    ) {
      continue;
    }
    let values: TypedValue[];
    try {
      values = param.expression.eval({ variables: {} }, root);
    } catch {
      // An expression that cannot evaluate on this resource (e.g. an unexpected shape) indexes nothing.
      continue;
    }
    for (const value of values) {
      if (value.value === undefined || value.value === null) continue;
      switch (param.type) {
        case SearchParamType.Token:
          addTokens(rows.token, param.code, value);
          break;
        case SearchParamType.String:
          addStrings(rows.string, param.code, value);
          break;
        case SearchParamType.Date:
          addDate(rows.date, param.code, value);
          break;
        case SearchParamType.Reference:
          addReference(rows.reference, param.code, value);
          break;
        case SearchParamType.Quantity:
          addQuantity(rows.quantity, param.code, value);
          break;
        case SearchParamType.Number:
          addNumber(rows.number, param.code, value);
          break;
        case SearchParamType.Uri:
          if (typeof value.value === 'string') rows.uri.push({ param: param.code, value: value.value });
          break;
        default:
          param.type satisfies never;
      }
    }
  }
  return dedupe(rows);
}

function text(value: unknown): string | null {
  return typeof value === 'string' && value.length > 0 ? value : null;
}

function addTokens(out: TokenRow[], param: string, { type, value }: TypedValue): void {
  const v = value as Record<string, unknown>;
  switch (type) {
    case 'Coding':
      out.push({ param, system: text(v.system), code: text(v.code), display: normalizeOrNull(v.display) });
      return;
    case 'CodeableConcept': {
      const codings = Array.isArray(v.coding) ? (v.coding as Record<string, unknown>[]) : [];
      const conceptText = normalizeOrNull(v.text);
      for (const c of codings) {
        out.push({
          param,
          system: text(c.system),
          code: text(c.code),
          display: normalizeOrNull(c.display) ?? conceptText,
        });
      }
      if (codings.length === 0 && conceptText) out.push({ param, system: null, code: null, display: conceptText });
      return;
    }
    case 'Identifier': {
      const typeConcept = v.type as { text?: string; coding?: { display?: string }[] } | undefined;
      out.push({
        param,
        system: text(v.system),
        code: text(v.value),
        display: normalizeOrNull(typeConcept?.text ?? typeConcept?.coding?.[0]?.display),
      });
      return;
    }
    case 'ContactPoint':
      out.push({ param, system: text(v.system), code: text(v.value), display: null });
      return;
    case 'boolean':
      out.push({ param, system: null, code: String(value), display: null });
      return;
    default:
      if (typeof value === 'string' || typeof value === 'number') {
        out.push({ param, system: null, code: String(value), display: null });
      }
  }
}

function normalizeOrNull(value: unknown): string | null {
  return typeof value === 'string' && value ? normalizeString(value).slice(0, MAX_INDEXED_STRING) : null;
}

function pushString(out: StringRow[], param: string, value: unknown): void {
  if (typeof value !== 'string' || !value.trim()) return;
  const exact = value.slice(0, MAX_INDEXED_STRING);
  out.push({ param, value: normalizeString(exact), exact });
}

function addStrings(out: StringRow[], param: string, { type, value }: TypedValue): void {
  const v = value as Record<string, unknown>;
  if (type === 'HumanName') {
    pushString(out, param, v.family);
    for (const part of ['given', 'prefix', 'suffix'] as const) {
      if (Array.isArray(v[part])) for (const p of v[part] as unknown[]) pushString(out, param, p);
    }
    pushString(out, param, v.text);
    return;
  }
  if (type === 'Address') {
    if (Array.isArray(v.line)) for (const line of v.line as unknown[]) pushString(out, param, line);
    for (const part of ['city', 'district', 'state', 'postalCode', 'country', 'text'] as const)
      pushString(out, param, v[part]);
    return;
  }
  if (type === 'Annotation') {
    pushString(out, param, v.text);
    return;
  }
  pushString(out, param, value);
}

function addDate(out: DateRow[], param: string, { type, value }: TypedValue): void {
  if (type === 'Period') {
    const p = value as { start?: string; end?: string };
    const low = p.start ? dateRange(p.start)?.low : '-infinity';
    const high = p.end ? dateRange(p.end)?.high : 'infinity';
    if (low && high) out.push({ param, low, high });
    return;
  }
  if (type === 'Timing') {
    const t = value as { event?: string[]; repeat?: { boundsPeriod?: { start?: string; end?: string } } };
    const ranges = (t.event ?? []).map((e) => dateRange(e)).filter((r) => r !== undefined);
    const bounds = t.repeat?.boundsPeriod;
    if (bounds) addDate(out, param, { type: 'Period', value: bounds });
    if (ranges.length > 0) {
      out.push({
        param,
        low: ranges.map((r) => r.low).sort()[0]!,
        high: ranges
          .map((r) => r.high)
          .sort()
          .at(-1)!,
      });
    }
    return;
  }
  if (typeof value === 'string') {
    const range = dateRange(value);
    if (range) out.push({ param, ...range });
  }
}

/** `Type/id`, `Type/id/_history/v` or an absolute URL ending with them. */
const REFERENCE = /(?:^|\/)([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[A-Za-z0-9\-.]{1,64})?$/;

function addReference(out: ReferenceRow[], param: string, { type, value }: TypedValue): void {
  if (type === 'Reference') {
    const ref = value as { reference?: string; type?: string; identifier?: { system?: string; value?: string } };
    const row: ReferenceRow = {
      param,
      targetType: text(ref.type),
      targetId: null,
      targetUrl: null,
      identSystem: null,
      identValue: null,
    };
    if (typeof ref.reference === 'string' && !ref.reference.startsWith('#')) {
      const match = REFERENCE.exec(ref.reference);
      if (match) {
        row.targetType = match[1]!;
        row.targetId = match[2]!;
      }
      if (/^[a-z][a-z0-9+.-]*:/i.test(ref.reference)) row.targetUrl = ref.reference;
    }
    if (ref.identifier?.value) {
      row.identSystem = text(ref.identifier.system);
      row.identValue = ref.identifier.value;
    }
    if (row.targetId || row.targetUrl || row.identValue) out.push(row);
    return;
  }
  if (typeof value === 'string') {
    // canonical / uri references
    const match = REFERENCE.exec(value);
    out.push({
      param,
      targetType: match?.[1] ?? null,
      targetId: match?.[2] ?? null,
      targetUrl: value,
      identSystem: null,
      identValue: null,
    });
  }
}

function addQuantity(out: QuantityRow[], param: string, { type, value }: TypedValue): void {
  const v = value as Record<string, unknown>;
  if (type === 'Range') {
    const low = v.low as { value?: number; system?: string; code?: string; unit?: string } | undefined;
    const high = v.high as { value?: number; system?: string; code?: string; unit?: string } | undefined;
    const unitSource = low ?? high;
    if (low?.value === undefined && high?.value === undefined) return;
    out.push({
      param,
      low: low?.value ?? Number.NEGATIVE_INFINITY,
      high: high?.value ?? Number.POSITIVE_INFINITY,
      system: text(unitSource?.system),
      code: text(unitSource?.code),
      unit: text(unitSource?.unit),
    });
    return;
  }
  if (type === 'Money') {
    if (typeof v.value !== 'number') return;
    out.push({
      param,
      low: v.value,
      high: v.value,
      system: 'urn:iso:std:iso:4217',
      code: text(v.currency),
      unit: text(v.currency),
    });
    return;
  }
  if (typeof v.value === 'number') {
    out.push({ param, low: v.value, high: v.value, system: text(v.system), code: text(v.code), unit: text(v.unit) });
  }
}

function addNumber(out: NumberRow[], param: string, { value }: TypedValue): void {
  if (typeof value === 'number' && Number.isFinite(value)) out.push({ param, low: value, high: value });
}

function dedupe(rows: IndexRows): IndexRows {
  const unique = <T>(list: T[]): T[] => {
    const seen = new Set<string>();
    return list.filter((row) => {
      const key = JSON.stringify(row);
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
  };
  return {
    token: unique(rows.token),
    string: unique(rows.string),
    date: unique(rows.date),
    reference: unique(rows.reference),
    quantity: unique(rows.quantity),
    number: unique(rows.number),
    uri: unique(rows.uri),
  };
}
