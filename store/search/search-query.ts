// Parses FHIR search parameters (as they come in a URL) into a typed query.
// Unknown or unsupported parameters are errors under `Prefer: handling=strict` and warnings under
// `handling=lenient` (the default, as the FHIR specification suggests).
import { isResourceType, searchParam, SearchParamType, type IndexedSearchParam } from '../fhir/definitions.js';
import { fhirErrors } from '../fhir/outcome.js';

export const Prefix = ['eq', 'ne', 'gt', 'lt', 'ge', 'le', 'sa', 'eb', 'ap'] as const;
export type Prefix = (typeof Prefix)[number];

/** A parameter that is not an index lookup but a column of the resource row. */
export const RowParam = { Id: '_id', LastUpdated: '_lastUpdated' } as const;

export interface Filter {
  /** Parameter code on the searched type (`subject`, `_id`). */
  code: string;
  type: SearchParamType;
  /** The search parameter definition (absent for `_id`, `_lastUpdated`). */
  param?: IndexedSearchParam;
  modifier?: string;
  /** Values OR-ed together (the comma-separated list), already unescaped. */
  values: string[];
  /** For a chained reference parameter: the target type (if given) and the filter on the target. */
  chain?: { targetTypes: string[]; filter: Filter };
}

export interface SortRule {
  code: string;
  descending: boolean;
  param?: IndexedSearchParam;
}

export interface IncludeRule {
  sourceType: string;
  code: string;
  targetType?: string;
  iterate: boolean;
}

export interface SearchQuery {
  resourceType: string;
  filters: Filter[];
  sort: SortRule[];
  count: number;
  offset: number;
  include: IncludeRule[];
  revinclude: IncludeRule[];
  summaryCount: boolean;
  totalAccurate: boolean;
  /** Parameters ignored in lenient mode, to report in the Bundle's OperationOutcome. */
  warnings: string[];
}

export interface ParseOptions {
  strict?: boolean;
  defaultCount?: number;
  maxCount?: number;
}

const MODIFIERS: Record<SearchParamType, readonly string[]> = {
  token: ['missing', 'not', 'text'],
  string: ['missing', 'exact', 'contains'],
  date: ['missing'],
  reference: ['missing', 'identifier'],
  quantity: ['missing'],
  number: ['missing'],
  uri: ['missing', 'below', 'above'],
};

/** Result-shaping parameters we accept; anything else starting with `_` is a filter or unknown. */
const CONTROL = new Set([
  '_count',
  '_offset',
  '_sort',
  '_include',
  '_revinclude',
  '_summary',
  '_total',
  '_format',
  '_pretty',
]);

export function parseSearch(
  resourceType: string,
  params: Iterable<[string, string]>,
  options: ParseOptions = {},
): SearchQuery {
  const query: SearchQuery = {
    resourceType,
    filters: [],
    sort: [],
    count: options.defaultCount ?? 20,
    offset: 0,
    include: [],
    revinclude: [],
    summaryCount: false,
    totalAccurate: false,
    warnings: [],
  };
  const maxCount = options.maxCount ?? 1000;
  const unknown = (message: string) => {
    if (options.strict) throw fhirErrors.badRequest(message);
    query.warnings.push(message);
  };

  for (const [rawName, rawValue] of params) {
    const name = rawName.trim();
    if (CONTROL.has(name)) {
      applyControl(query, name, rawValue, maxCount, unknown);
      continue;
    }
    try {
      query.filters.push(parseFilter(resourceType, name, rawValue));
    } catch (error) {
      if ((error as { status?: number }).status === 400 && (error as { unknownParameter?: boolean }).unknownParameter) {
        unknown((error as Error).message);
      } else {
        throw error;
      }
    }
  }
  return query;
}

function applyControl(
  query: SearchQuery,
  name: string,
  value: string,
  maxCount: number,
  unknown: (m: string) => void,
): void {
  switch (name) {
    case '_count': {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 0)
        throw fhirErrors.badRequest(`_count must be a non-negative integer, got "${value}".`);
      query.count = Math.min(n, maxCount);
      return;
    }
    case '_offset': {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 0)
        throw fhirErrors.badRequest(`_offset must be a non-negative integer, got "${value}".`);
      query.offset = n;
      return;
    }
    case '_sort':
      for (const part of value
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)) {
        const descending = part.startsWith('-');
        const code = descending ? part.slice(1) : part;
        if (code === RowParam.Id || code === RowParam.LastUpdated) {
          query.sort.push({ code, descending });
          continue;
        }
        const param = searchParam(query.resourceType, code);
        if (!param) {
          unknown(`Unknown sort parameter "${code}" for ${query.resourceType}.`);
          continue;
        }
        query.sort.push({ code, descending, param });
      }
      return;
    case '_include':
    case '_revinclude': {
      const iterate = value.startsWith('iterate:') || false;
      const [sourceType, code, targetType] = value.replace(/^iterate:/, '').split(':');
      if (!sourceType || !code || !isResourceType(sourceType)) {
        unknown(`Cannot read ${name}=${value}: expected SourceType:parameter[:TargetType].`);
        return;
      }
      const param = searchParam(sourceType, code);
      if (!param || param.type !== SearchParamType.Reference) {
        unknown(`${name}=${value}: ${sourceType} has no reference parameter "${code}".`);
        return;
      }
      const rule: IncludeRule = { sourceType, code, iterate, ...(targetType ? { targetType } : {}) };
      (name === '_include' ? query.include : query.revinclude).push(rule);
      return;
    }
    case '_summary':
      if (value === 'count') query.summaryCount = true;
      else if (value !== 'false')
        unknown(`_summary=${value} is not supported (only _summary=count); the full resources are returned.`);
      return;
    case '_total':
      query.totalAccurate = value === 'accurate';
      return;
    default:
      return; // _format, _pretty: handled by the HTTP layer
  }
}

class UnknownParameterError extends Error {
  readonly status = 400;
  readonly unknownParameter = true;
}

export function parseFilter(resourceType: string, name: string, rawValue: string): Filter {
  // name := code[:modifier] | code[:Type].chained...
  const dot = name.indexOf('.');
  const head = dot >= 0 ? name.slice(0, dot) : name;
  const rest = dot >= 0 ? name.slice(dot + 1) : undefined;
  const [code, modifier] = head.split(':') as [string, string | undefined];

  if (code === RowParam.Id || code === RowParam.LastUpdated) {
    if (modifier && modifier !== 'missing' && !(code === RowParam.Id && modifier === 'not')) {
      throw fhirErrors.badRequest(`Modifier :${modifier} is not supported on ${code}.`);
    }
    return {
      code,
      type: code === RowParam.Id ? SearchParamType.Token : SearchParamType.Date,
      values: splitValues(rawValue),
      ...(modifier ? { modifier } : {}),
    };
  }
  const param = searchParam(resourceType, code);
  if (!param) throw new UnknownParameterError(`Unknown search parameter "${code}" for ${resourceType}.`);

  if (rest !== undefined) {
    if (param.type !== SearchParamType.Reference) {
      throw fhirErrors.badRequest(`"${code}" is not a reference parameter: it cannot be chained ("${name}").`);
    }
    const targetTypes = modifier ? [modifier] : param.targets;
    const candidates = targetTypes.filter((t) => searchParam(t, rest.split(/[.:]/)[0]!) || rest.startsWith('_id'));
    if (candidates.length === 0) {
      throw fhirErrors.badRequest(
        `Cannot chain "${name}": none of ${targetTypes.join(', ')} has a parameter "${rest}".`,
      );
    }
    // Parse the chained filter against the first candidate; the SQL applies it to each candidate type.
    const filter = parseFilter(candidates[0]!, rest, rawValue);
    return { code, type: param.type, param, values: [], chain: { targetTypes: candidates, filter } };
  }

  if (modifier) {
    const isTypeModifier = param.type === SearchParamType.Reference && isResourceType(modifier);
    if (!isTypeModifier && !MODIFIERS[param.type].includes(modifier)) {
      throw fhirErrors.badRequest(
        `Modifier :${modifier} is not supported on the ${param.type} parameter "${code}" (supported: ${MODIFIERS[param.type].join(', ')}).`,
      );
    }
  }
  const values = splitValues(rawValue);
  if (values.length === 0 || values.some((v) => v === '')) {
    throw fhirErrors.badRequest(`Search parameter "${name}" has an empty value.`);
  }
  return { code, type: param.type, param, values, ...(modifier ? { modifier } : {}) };
}

/** Splits on unescaped commas and removes the FHIR search escapes (\, \| \$ \\). */
export function splitValues(raw: string): string[] {
  const values: string[] = [];
  let current = '';
  for (let i = 0; i < raw.length; i++) {
    const ch = raw[i]!;
    if (ch === '\\' && i + 1 < raw.length) {
      const next = raw[i + 1]!;
      // Keep \| escaped (marked) so that token splitting on | can tell it apart.
      current += next === '|' ? '\u0000' : next;
      i++;
    } else if (ch === ',') {
      values.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  values.push(current);
  return values;
}

/** Splits `system|code` on the first unescaped bar; restores escaped bars. */
export function splitToken(value: string): { system?: string; code?: string; hasBar: boolean } {
  const bar = value.indexOf('|');
  const restore = (s: string) => s.replaceAll('\u0000', '|');
  if (bar < 0) return { code: restore(value), hasBar: false };
  const system = value.slice(0, bar);
  const code = value.slice(bar + 1);
  return { ...(system ? { system: restore(system) } : {}), ...(code ? { code: restore(code) } : {}), hasBar: true };
}

/** Splits a prefixed value (`ge2024-01-01`) into its prefix (default eq) and the rest. */
export function splitPrefix(value: string): { prefix: Prefix; rest: string } {
  const head = value.slice(0, 2) as Prefix;
  if (Prefix.includes(head) && value.length > 2 && /[\d-]/.test(value[2]!))
    return { prefix: head, rest: value.slice(2) };
  return { prefix: 'eq', rest: value };
}
