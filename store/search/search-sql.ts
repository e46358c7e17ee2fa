// Turns a parsed search into SQL over the projection: one EXISTS per filter against the index table of
// the parameter's type, values always bound as parameters. The same builder answers the REST search and
// the conditional operations of the projector (inside its transaction).
import { SearchParamType } from '../fhir/definitions.js';
import { fhirErrors } from '../fhir/outcome.js';
import type { SqlExecutor } from '../sql/sql-client.js';
import {
  type Filter,
  type Prefix,
  RowParam,
  type SearchQuery,
  type SortRule,
  splitPrefix,
  splitToken,
} from './search-query.js';
import { dateRange, normalizeString } from './values.js';

class Params {
  readonly values: unknown[] = [];
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

const TABLE: Record<SearchParamType, string> = {
  token: 'sp_token',
  string: 'sp_string',
  date: 'sp_date',
  reference: 'sp_reference',
  quantity: 'sp_quantity',
  number: 'sp_number',
  uri: 'sp_uri',
};

export interface SearchOptions {
  /** Absolute base of this server's FHIR API (to recognise absolute references to ourselves). */
  baseUrl?: string;
}

export interface SearchMatch {
  id: string;
  content: string;
}

export interface SearchResult {
  matches: SearchMatch[];
  /** Whether more results exist after this page. */
  hasMore: boolean;
  total?: number;
  included: SearchMatch[];
}

function escapeLike(value: string): string {
  return value.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** SQL condition for one filter on the resource row aliased `alias`. */
function filterCondition(filter: Filter, alias: string, p: Params, options: SearchOptions): string {
  if (filter.code === RowParam.Id) {
    const cond = `${alias}.id = ANY(${p.add(filter.values)}::text[])`;
    return filter.modifier === 'not' ? `NOT (${cond})` : cond;
  }
  if (filter.code === RowParam.LastUpdated) {
    return or(filter.values.map((v) => dateCondition(v, `${alias}.last_updated`, `${alias}.last_updated`, p)));
  }
  if (filter.chain) return chainCondition(filter, alias, p, options);
  const table = TABLE[filter.type];
  const scope = `x.resource_type = ${alias}.resource_type AND x.id = ${alias}.id AND x.param = ${p.add(filter.code)}`;
  if (filter.modifier === 'missing') {
    const missing = filter.values[0] === 'true';
    return `${missing ? 'NOT ' : ''}EXISTS (SELECT 1 FROM ${table} x WHERE ${scope})`;
  }
  const valueConditions = filter.values.map((value) => valueCondition(filter, value, p, options));
  if (filter.modifier === 'not')
    return `NOT EXISTS (SELECT 1 FROM ${table} x WHERE ${scope} AND ${or(valueConditions)})`;
  return `EXISTS (SELECT 1 FROM ${table} x WHERE ${scope} AND ${or(valueConditions)})`;
}

function chainCondition(filter: Filter, alias: string, p: Params, options: SearchOptions): string {
  const chain = filter.chain!;
  const targets = chain.targetTypes.map((targetType) => {
    const inner = filterCondition(chain.filter, 't', p, options);
    return `EXISTS (SELECT 1 FROM sp_reference x JOIN resources t ON t.resource_type = x.target_type AND t.id = x.target_id
      WHERE x.resource_type = ${alias}.resource_type AND x.id = ${alias}.id AND x.param = ${p.add(filter.code)}
        AND x.target_type = ${p.add(targetType)} AND NOT t.deleted AND ${inner})`;
  });
  return or(targets);
}

function or(conditions: string[]): string {
  return conditions.length === 1 ? conditions[0]! : `(${conditions.join(' OR ')})`;
}

function valueCondition(filter: Filter, value: string, p: Params, options: SearchOptions): string {
  switch (filter.type) {
    case SearchParamType.Token: {
      if (filter.modifier === 'text') return `x.display LIKE ${p.add(escapeLike(normalizeString(value)) + '%')}`;
      const { system, code, hasBar } = splitToken(value);
      const parts: string[] = [];
      if (code !== undefined) parts.push(`x.code = ${p.add(code)}`);
      if (hasBar) parts.push(system === undefined ? 'x.system IS NULL' : `x.system = ${p.add(system)}`);
      if (parts.length === 0) throw fhirErrors.badRequest(`Empty token value for "${filter.code}".`);
      return `(${parts.join(' AND ')})`;
    }
    case SearchParamType.String:
      if (filter.modifier === 'exact') return `x.exact = ${p.add(value)}`;
      if (filter.modifier === 'contains')
        return `x.value LIKE ${p.add('%' + escapeLike(normalizeString(value)) + '%')}`;
      return `x.value LIKE ${p.add(escapeLike(normalizeString(value)) + '%')}`;
    case SearchParamType.Date:
      return dateCondition(value, 'x.low', 'x.high', p);
    case SearchParamType.Reference:
      return referenceCondition(filter, value, p, options);
    case SearchParamType.Quantity:
      return quantityCondition(value, p);
    case SearchParamType.Number:
      return numberCondition(value, 'x.low', 'x.high', p);
    case SearchParamType.Uri:
      if (filter.modifier === 'below') return `x.value LIKE ${p.add(escapeLike(value) + '%')}`;
      if (filter.modifier === 'above')
        return `${p.add(value)} LIKE (replace(replace(replace(x.value, '\\', '\\\\'), '%', '\\%'), '_', '\\_') || '%')`;
      return `x.value = ${p.add(value)}`;
    default:
      filter.type satisfies never;
      throw fhirErrors.internal('unreachable');
  }
}

function dateCondition(value: string, lowColumn: string, highColumn: string, p: Params): string {
  const { prefix, rest } = splitPrefix(value);
  const range = dateRange(rest);
  if (!range)
    throw fhirErrors.badRequest(
      `"${value}" is not a FHIR date (expected e.g. 2024, 2024-03, 2024-03-05, 2024-03-05T10:00:00Z, with an optional prefix ge/le/gt/lt/eq/ne/sa/eb/ap).`,
    );
  return rangeCondition(
    prefix,
    () => p.add(range.low) + '::timestamptz',
    () => p.add(range.high) + '::timestamptz',
    lowColumn,
    highColumn,
    () => {
      const now = Date.now();
      const lo = Date.parse(range.low);
      const hi = Date.parse(range.high);
      const slack = Math.max(Math.abs(now - lo) * 0.1, 86_400_000);
      return [
        p.add(new Date(lo - slack).toISOString()) + '::timestamptz',
        p.add(new Date(hi + slack).toISOString()) + '::timestamptz',
      ];
    },
  );
}

/**
 * FHIR's prefix semantics for ranges: the search range [sl, sh] against the target range [tl, th].
 * The bounds are bound lazily: a parameter that the condition does not use must not be sent.
 */
function rangeCondition(
  prefix: Prefix,
  sl: () => string,
  sh: () => string,
  tl: string,
  th: string,
  approximate: () => [string, string],
): string {
  switch (prefix) {
    case 'eq':
      return `(${tl} >= ${sl()} AND ${th} <= ${sh()})`;
    case 'ne':
      return `NOT (${tl} >= ${sl()} AND ${th} <= ${sh()})`;
    case 'gt':
      return `${th} > ${sh()}`;
    case 'lt':
      return `${tl} < ${sl()}`;
    case 'ge':
      return `${th} >= ${sl()}`;
    case 'le':
      return `${tl} <= ${sh()}`;
    case 'sa':
      return `${tl} > ${sh()}`;
    case 'eb':
      return `${th} < ${sl()}`;
    case 'ap': {
      const [al, ah] = approximate();
      return `(${th} >= ${al} AND ${tl} <= ${ah})`;
    }
    default:
      prefix satisfies never;
      throw fhirErrors.internal('unreachable');
  }
}

/** The implicit range of a decimal search value: "5.4" means [5.35, 5.45). */
function numberRange(text: string): [number, number] | undefined {
  if (!/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(text)) return undefined;
  const value = Number(text);
  const decimals = /\.(\d+)/.exec(text.replace(/[eE].*/, ''))?.[1]?.length ?? 0;
  const half = 0.5 * 10 ** -decimals;
  return [value - half, value + half];
}

function numberCondition(value: string, lowColumn: string, highColumn: string, p: Params): string {
  const { prefix, rest } = splitPrefix(value);
  const range = numberRange(rest);
  if (!range)
    throw fhirErrors.badRequest(
      `"${value}" is not a number (expected e.g. 5.4, with an optional prefix ge/le/gt/lt/eq/ne/ap).`,
    );
  const exact = Number(rest);
  if (prefix === 'eq' || prefix === 'ne' || prefix === 'ap') {
    const [lo, hi] = prefix === 'ap' ? [exact - Math.abs(exact) * 0.1, exact + Math.abs(exact) * 0.1] : range;
    const cond = `(${lowColumn} >= ${p.add(lo)} AND ${highColumn} < ${p.add(hi)})`;
    return prefix === 'ne' ? `NOT ${cond}` : cond;
  }
  let bound: string | undefined;
  const v = () => (bound ??= p.add(exact));
  return rangeCondition(prefix, v, v, lowColumn, highColumn, () => [v(), v()]);
}

function quantityCondition(value: string, p: Params): string {
  const parts = value.split('|');
  if (parts.length !== 1 && parts.length !== 3) {
    throw fhirErrors.badRequest(
      `"${value}" is not a quantity (expected [prefix]number|system|code or [prefix]number||unit).`,
    );
  }
  const conditions = [numberCondition(parts[0]!, 'x.low', 'x.high', p)];
  if (parts.length === 3) {
    const [, system, code] = parts;
    if (system) conditions.push(`x.system = ${p.add(system)}`);
    if (code)
      conditions.push(system ? `x.code = ${p.add(code)}` : `(x.code = ${p.add(code)} OR x.unit = ${p.add(code)})`);
  }
  return `(${conditions.join(' AND ')})`;
}

function referenceCondition(filter: Filter, value: string, p: Params, options: SearchOptions): string {
  if (filter.modifier === 'identifier') {
    const { system, code } = splitToken(value);
    const parts = [`x.ident_value = ${p.add(code ?? '')}`];
    if (system) parts.push(`x.ident_system = ${p.add(system)}`);
    return `(${parts.join(' AND ')})`;
  }
  let reference = value;
  if (options.baseUrl && reference.startsWith(options.baseUrl.replace(/\/$/, '') + '/')) {
    reference = reference.slice(options.baseUrl.replace(/\/$/, '').length + 1);
  }
  if (/^[a-z][a-z0-9+.-]*:/i.test(reference)) return `x.target_url = ${p.add(reference)}`;
  const segments = reference.split('/');
  const typeFromModifier = filter.modifier && filter.modifier !== 'identifier' ? filter.modifier : undefined;
  if (segments.length >= 2) {
    const [type, id] = segments as [string, string];
    if (typeFromModifier && typeFromModifier !== type) return 'false';
    return `(x.target_type = ${p.add(type)} AND x.target_id = ${p.add(id)})`;
  }
  const typed = typeFromModifier ?? (filter.param?.targets.length === 1 ? filter.param.targets[0] : undefined);
  return typed
    ? `(x.target_type = ${p.add(typed)} AND x.target_id = ${p.add(reference)})`
    : `x.target_id = ${p.add(reference)}`;
}

function sortExpression(rule: SortRule, p: Params): string {
  const direction = rule.descending ? 'DESC' : 'ASC';
  if (rule.code === RowParam.Id) return `r.id ${direction}`;
  if (rule.code === RowParam.LastUpdated) return `r.last_updated ${direction}`;
  const type = rule.param!.type;
  const column: Record<SearchParamType, string> = {
    token: 'code',
    string: 'value',
    date: rule.descending ? 'high' : 'low',
    reference: 'target_id',
    quantity: 'low',
    number: 'low',
    uri: 'value',
  };
  const aggregate = rule.descending ? 'max' : 'min';
  return `(SELECT ${aggregate}(x.${column[type]}) FROM ${TABLE[type]} x WHERE x.resource_type = r.resource_type AND x.id = r.id AND x.param = ${p.add(rule.code)}) ${direction} NULLS LAST`;
}

/** WHERE clause (without the keyword) and its parameters, for a query on resources aliased `r`. */
export function whereClause(query: SearchQuery, p: Params, options: SearchOptions): string {
  const conditions = [`r.resource_type = ${p.add(query.resourceType)}`, 'NOT r.deleted'];
  for (const filter of query.filters) conditions.push(filterCondition(filter, 'r', p, options));
  return conditions.join('\n  AND ');
}

/** Runs a search: the page of matches (+1 to know whether there is more), the total when asked, the includes. */
export async function runSearch(
  sql: SqlExecutor,
  query: SearchQuery,
  options: SearchOptions = {},
): Promise<SearchResult> {
  const p = new Params();
  const where = whereClause(query, p, options);
  let total: number | undefined;
  if (query.summaryCount || query.totalAccurate) {
    const countParams = new Params();
    const countWhere = whereClause(query, countParams, options);
    const counted = await sql.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM resources r WHERE ${countWhere}`,
      countParams.values,
    );
    total = counted.rows[0]!.n;
    if (query.summaryCount) return { matches: [], hasMore: false, total, included: [] };
  }
  const order = [...query.sort.map((rule) => sortExpression(rule, p)), 'r.id ASC'].join(', ');
  const rows = await sql.query<SearchMatch>(
    `SELECT r.id, r.content FROM resources r WHERE ${where} ORDER BY ${order} LIMIT ${p.add(query.count + 1)} OFFSET ${p.add(query.offset)}`,
    p.values,
  );
  const hasMore = rows.rows.length > query.count;
  const matches = rows.rows.slice(0, query.count);
  if (total === undefined && !hasMore && (matches.length > 0 || query.offset === 0))
    total = query.offset + matches.length;
  const included = await loadIncludes(sql, query, matches);
  return { matches, hasMore, included, ...(total !== undefined ? { total } : {}) };
}

async function loadIncludes(sql: SqlExecutor, query: SearchQuery, matches: SearchMatch[]): Promise<SearchMatch[]> {
  if (matches.length === 0 || (query.include.length === 0 && query.revinclude.length === 0)) return [];
  const seen = new Set(matches.map((m) => `${query.resourceType}/${m.id}`));
  const included: (SearchMatch & { type: string })[] = [];
  const add = (rows: (SearchMatch & { resource_type: string })[]) => {
    for (const row of rows) {
      const key = `${row.resource_type}/${row.id}`;
      if (seen.has(key)) continue;
      seen.add(key);
      included.push({ id: row.id, content: row.content, type: row.resource_type });
    }
  };
  let frontier: { type: string; ids: string[] }[] = [{ type: query.resourceType, ids: matches.map((m) => m.id) }];
  // One pass, plus one more for :iterate rules (bounded, so a cycle cannot loop).
  for (let pass = 0; pass < 2 && frontier.length > 0; pass++) {
    const before = included.length;
    for (const { type, ids } of frontier) {
      for (const rule of query.include.filter((r) => r.sourceType === type && (pass === 0 || r.iterate))) {
        const rows = await sql.query<SearchMatch & { resource_type: string }>(
          `SELECT DISTINCT t.resource_type, t.id, t.content FROM sp_reference x
             JOIN resources t ON t.resource_type = x.target_type AND t.id = x.target_id AND NOT t.deleted
            WHERE x.resource_type = $1 AND x.param = $2 AND x.id = ANY($3::text[]) ${rule.targetType ? 'AND x.target_type = $4' : ''}
            LIMIT 1000`,
          rule.targetType ? [type, rule.code, ids, rule.targetType] : [type, rule.code, ids],
        );
        add(rows.rows);
      }
      for (const rule of query.revinclude.filter((r) => pass === 0 || r.iterate)) {
        const rows = await sql.query<SearchMatch & { resource_type: string }>(
          `SELECT DISTINCT s.resource_type, s.id, s.content FROM sp_reference x
             JOIN resources s ON s.resource_type = x.resource_type AND s.id = x.id AND NOT s.deleted
            WHERE x.resource_type = $1 AND x.param = $2 AND x.target_type = $3 AND x.target_id = ANY($4::text[])
            LIMIT 1000`,
          [rule.sourceType, rule.code, type, ids],
        );
        add(rows.rows);
      }
    }
    const added = included.slice(before);
    const byType = new Map<string, string[]>();
    for (const row of added) byType.set(row.type, [...(byType.get(row.type) ?? []), row.id]);
    frontier = [...byType].map(([type, ids]) => ({ type, ids }));
  }
  return included.map(({ id, content }) => ({ id, content }));
}

export { Params };
