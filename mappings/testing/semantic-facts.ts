// Semantic comparison of two FHIR Bundles: the facts a user relies on — which resources, their identifiers, codes,
// values, units, dates and texts — independent of ids, timestamps, order and where an extension puts them.
// Used to compare our output with another engine's (CDC ReportStream) and with our own expected fixtures.
import type { Bundle, Resource } from '@medplum/fhirtypes';

type Json = Record<string, unknown>;

export interface FactOptions {
  /**
   * `resource-type` (default): a fact must be found in a resource of the same type; `bundle`: anywhere in the
   * Bundle (two engines may put the same value in different resources, e.g. NK1-32 in RelatedPerson for the IG,
   * in an Organization for ReportStream). Resource types are compared in both cases.
   */
  scope?: 'resource-type' | 'bundle';
  /** Extensions (by URL prefix) whose content is ignored: another engine's private round-trip data. */
  ignoreExtensionPrefixes?: string[];
  /** Resource types not compared (e.g. Provenance, written by the store). */
  ignoreTypes?: string[];
}

const SKIP_KEYS = new Set(['id', 'meta', 'fullUrl', 'reference', 'url', 'div', 'request', 'response', 'search', 'timestamp', 'recorded', 'lastUpdated']);
const STRING_KEYS = new Set([
  'family', 'given', 'prefix', 'suffix', 'line', 'city', 'state', 'postalCode', 'country', 'district',
  'valueString', 'description', 'name', 'comment', 'conclusion', 'contentType', 'title', 'alias', 'patientInstruction',
]);
const CODE_KEYS = new Set(['status', 'gender', 'use', 'intent', 'priority', 'comparator', 'mode', 'valueCode', 'language', 'kind', 'system']);
/** Elements of a date type (FHIR names them so): a 4-digit code such as a census tract is not a year. */
const DATE_KEY = /(date|Date|time|Time|^start$|^end$|^issued$|^instant$|Instant$|^birthDate$|^deceasedDateTime$|^onset|^recorded|^authoredOn$|^occurrenceDateTime$|^receivedTime$|^collectedDateTime$|^effectiveDateTime$|^valueDateTime$|^valueDate$|^creation$|^lastUpdated$)/;
const DATE = /^\d{4}(-\d{2}(-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;

function normalizeDate(text: string): string {
  if (text.includes('T') && /(Z|[+-]\d{2}:\d{2})$/.test(text)) {
    const t = Date.parse(text);
    if (!Number.isNaN(t)) return new Date(Math.floor(t / 1000) * 1000).toISOString().replace('.000Z', 'Z');
  }
  return text;
}

function isCoding(o: Json): boolean {
  return typeof o.code === 'string' && (typeof o.system === 'string' || typeof o.display === 'string' || Object.keys(o).every((k) => ['code', 'system', 'display', 'version', 'extension', 'userSelected'].includes(k)));
}

/** `Type|kind:value` facts of one resource. */
export function resourceFacts(resource: Json, options: FactOptions = {}): Set<string> {
  const type = String(resource.resourceType);
  const out = new Set<string>();
  const ignore = options.ignoreExtensionPrefixes ?? [];
  const add = (kind: string, value: string) => out.add(`${type}|${kind}:${value}`);
  const visit = (node: unknown, key: string, parentKey: string): void => {
    if (Array.isArray(node)) {
      for (const item of node) visit(item, key, parentKey);
      return;
    }
    if (node && typeof node === 'object') {
      const o = node as Json;
      if ((key === 'extension' || key === 'modifierExtension') && typeof o.url === 'string' && ignore.some((p) => (o.url as string).startsWith(p))) return;
      if (key === 'identifier' || key === 'valueIdentifier' || key === 'accessionIdentifier') {
        if (typeof o.value === 'string') add('identifier', o.value);
      } else if (typeof o.value === 'number') {
        add('quantity', `${o.value}${typeof o.unit === 'string' ? ` ${o.unit}` : ''}`);
      } else if (isCoding(o)) {
        add('code', `${typeof o.system === 'string' ? o.system : ''}|${o.code as string}`);
      } else if (key === 'coding' && typeof o.system === 'string') {
        add('system', o.system);
      }
      for (const [k, v] of Object.entries(o)) {
        if (SKIP_KEYS.has(k)) continue;
        if (typeof v === 'string') {
          if (DATE.test(v) && DATE_KEY.test(k)) add('date', normalizeDate(v));
          else if (k === 'text' || k === 'display' || STRING_KEYS.has(k)) add('text', v);
          else if (k === 'value' && (key === 'telecom' || parentKey === 'telecom')) add('text', v);
          else if (CODE_KEYS.has(k) && !isCoding(o) && k !== 'system') add('code', `|${v}`);
        } else if (typeof v === 'boolean' && k.startsWith('value')) add('boolean', `${k}=${v}`);
        else if (typeof v === 'number' && k !== 'value' && k.startsWith('value')) add('number', `${v}`);
        else visit(v, k, key);
      }
    }
  };
  visit(resource, '', '');
  return out;
}

export interface BundleFacts {
  types: Set<string>;
  facts: Set<string>;
}

/** Facts of a Bundle; resources referenced only from ignored types (e.g. an assembler named by Provenance) are left out. */
export function bundleFacts(bundle: Bundle, options: FactOptions = {}): BundleFacts {
  const ignoreTypes = new Set(options.ignoreTypes ?? ['Provenance']);
  const resources = (bundle.entry ?? []).map((e) => ({ fullUrl: e.fullUrl, resource: e.resource as Resource | undefined })).filter((e) => e.resource);
  const referenced = new Set<string>();
  const collect = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(collect);
    else if (node && typeof node === 'object') {
      for (const [k, v] of Object.entries(node)) {
        if (k === 'reference' && typeof v === 'string') referenced.add(v);
        else collect(v);
      }
    }
  };
  for (const e of resources) if (!ignoreTypes.has(e.resource!.resourceType)) collect(e.resource);
  const types = new Set<string>();
  const facts = new Set<string>();
  for (const e of resources) {
    const r = e.resource! as unknown as Json;
    const type = String(r.resourceType);
    if (ignoreTypes.has(type)) continue;
    const names = [e.fullUrl, `${type}/${String(r.id)}`].filter(Boolean) as string[];
    const onlyFromIgnored = type === 'Organization' && !names.some((n) => referenced.has(n)) && !(r.name || r.address);
    if (onlyFromIgnored) continue;
    types.add(type);
    for (const f of resourceFacts(r, options)) facts.add(f);
  }
  return { types, facts };
}

export interface Comparison {
  pass: boolean;
  missingTypes: string[];
  missingFacts: string[];
}

/** Every resource type and fact of `expected` must be in `actual` (extra ones are allowed). */
export function compareBundles(expected: Bundle, actual: Bundle, options: FactOptions = {}): Comparison {
  let e = bundleFacts(expected, options);
  let a = bundleFacts(actual, options);
  if (options.scope === 'bundle') {
    const strip = (f: string) => f.slice(f.indexOf('|') + 1);
    e = { types: e.types, facts: new Set([...e.facts].map(strip)) };
    a = { types: a.types, facts: new Set([...a.facts].map(strip)) };
  }
  const missingTypes = [...e.types].filter((t) => !a.types.has(t));
  // A code expected without a system is found when the same code is there with a system (more, not different).
  const codeKey = (f: string) => {
    const at = f.indexOf('code:');
    return `${f.slice(0, at)}code:|${f.slice(f.lastIndexOf('|') + 1)}`;
  };
  const codesAnySystem = new Set([...a.facts].filter((f) => f.includes('code:')).map(codeKey));
  // A plain code (no system) is also found as the same text: an extension may type it string or code.
  const asText = (f: string) => f.replace(/code:\|/, 'text:');
  const missingFacts = [...e.facts].filter((f) => !a.facts.has(f) && !(f.includes('code:|') && (codesAnySystem.has(f) || a.facts.has(asText(f)))));
  return { pass: missingTypes.length === 0 && missingFacts.length === 0, missingTypes, missingFacts };
}
