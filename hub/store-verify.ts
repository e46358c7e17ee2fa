// `keney store verify`: checks that the projection is what folding the log would give — offsets within
// the log, each current row equal to its history version, and every search-index row recomputed from
// the resource itself (an index that drifted from its resource is found, without a full rebuild).
import type { Resource } from '@medplum/fhirtypes';
import { indexResource, type IndexRows } from '../store/projection/indexer.js';
import type { HubContext } from './module.js';

export interface StoreReport {
  lines: string[];
  problems: string[];
}

const TABLES: Record<keyof IndexRows, { table: string; columns: string[] }> = {
  token: { table: 'sp_token', columns: ['param', 'system', 'code', 'display'] },
  string: { table: 'sp_string', columns: ['param', 'value', 'exact'] },
  date: { table: 'sp_date', columns: ['param', 'low', 'high'] },
  reference: {
    table: 'sp_reference',
    columns: ['param', 'target_type', 'target_id', 'target_url', 'ident_system', 'ident_value'],
  },
  quantity: { table: 'sp_quantity', columns: ['param', 'low', 'high', 'system', 'code', 'unit'] },
  number: { table: 'sp_number', columns: ['param', 'low', 'high'] },
  uri: { table: 'sp_uri', columns: ['param', 'value'] },
};

function normalize(value: unknown): string {
  if (value === null || value === undefined) return '∅';
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? String(value) : value.toISOString();
  if (typeof value === 'number') return value === Infinity ? 'inf' : value === -Infinity ? '-inf' : String(value);
  if (typeof value === 'string' && /^-?infinity$/i.test(value)) return value.startsWith('-') ? '-inf' : 'inf';
  if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(value)) return new Date(value).toISOString();
  return String(value);
}

function rowKey(values: unknown[]): string {
  return values.map(normalize).join('\u001f');
}

export async function verifyStore(
  hub: HubContext,
  progress?: (done: number, total: number) => void,
): Promise<StoreReport> {
  const { sql, log, projector } = hub;
  const lines: string[] = [];
  const problems: string[] = [];

  const ends = await log.endOffsets();
  for (const [partition, end] of ends.entries()) {
    const next = await projector.nextOffset(partition);
    lines.push(
      `partition ${partition}: log end ${end}, projected up to ${next}${next < end ? ` (${end - next} to apply)` : ''}`,
    );
    if (next > end)
      problems.push(
        `partition ${partition}: the projection is ahead of the log (${next} > ${end}): it was built from another log.`,
      );
  }
  const applied = await sql.query<{ status: string; n: number }>(
    'SELECT status, count(*)::int AS n FROM applied_change_sets GROUP BY status',
  );
  lines.push(`change sets: ${applied.rows.map((r) => `${r.n} ${r.status}`).join(', ') || 'none'}`);

  const mismatched = await sql.query<{ resource_type: string; id: string }>(
    `SELECT r.resource_type, r.id FROM resources r LEFT JOIN resource_history h
        ON h.resource_type = r.resource_type AND h.id = r.id AND h.version_id = r.version_id
      WHERE h.id IS NULL OR h.content <> r.content OR h.deleted <> r.deleted LIMIT 100`,
  );
  for (const row of mismatched.rows)
    problems.push(`${row.resource_type}/${row.id}: the current row differs from its history version.`);

  const total = (await sql.query<{ n: number }>('SELECT count(*)::int AS n FROM resources WHERE NOT deleted')).rows[0]!
    .n;
  let done = 0;
  let after: [string, string] = ['', ''];
  for (;;) {
    const page = await sql.query<{ resource_type: string; id: string; content: string }>(
      `SELECT resource_type, id, content FROM resources WHERE NOT deleted AND (resource_type, id) > ($1, $2)
        ORDER BY resource_type, id LIMIT 500`,
      after,
    );
    if (page.rows.length === 0) break;
    const types = page.rows.map((r) => r.resource_type);
    const ids = page.rows.map((r) => r.id);
    const expected = new Map<string, Map<string, number>>();
    for (const row of page.rows) {
      const rows = indexResource(JSON.parse(row.content) as Resource);
      const counts = new Map<string, number>();
      for (const [kind, spec] of Object.entries(TABLES) as [keyof IndexRows, (typeof TABLES)[keyof IndexRows]][]) {
        for (const r of rows[kind] as unknown as Record<string, unknown>[]) {
          const values = spec.columns.map((c) => r[camel(c)]);
          const key = `${spec.table}\u001e${rowKey(values)}`;
          counts.set(key, (counts.get(key) ?? 0) + 1);
        }
      }
      expected.set(`${row.resource_type}/${row.id}`, counts);
    }
    const actual = new Map<string, Map<string, number>>();
    for (const spec of Object.values(TABLES)) {
      const stored = await sql.query<Record<string, unknown>>(
        `SELECT x.resource_type, x.id, ${spec.columns.map((c) => `x.${c}`).join(', ')} FROM ${spec.table} x
           JOIN unnest($1::text[], $2::text[]) AS k(rt, id) ON x.resource_type = k.rt AND x.id = k.id`,
        [types, ids],
      );
      for (const r of stored.rows) {
        const resourceKey = `${r.resource_type}/${r.id}`;
        const counts = actual.get(resourceKey) ?? new Map<string, number>();
        const key = `${spec.table}\u001e${rowKey(spec.columns.map((c) => r[c]))}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
        actual.set(resourceKey, counts);
      }
    }
    for (const [resourceKey, counts] of expected) {
      const stored = actual.get(resourceKey) ?? new Map<string, number>();
      const keys = new Set([...counts.keys(), ...stored.keys()]);
      const differing = [...keys].filter((k) => (counts.get(k) ?? 0) !== (stored.get(k) ?? 0));
      if (differing.length > 0) {
        problems.push(
          `${resourceKey}: ${differing.length} search-index row(s) differ from the resource (${differing[0]!.split('\u001e')[0]}).`,
        );
      }
    }
    done += page.rows.length;
    progress?.(done, total);
    const last = page.rows.at(-1)!;
    after = [last.resource_type, last.id];
  }
  lines.push(`resources checked: ${done}`);
  return { lines, problems };
}

function camel(column: string): string {
  return column.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}
