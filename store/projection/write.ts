// Writes resource versions to the projection in ONE statement: the old index rows of each replaced resource
// are deleted and its new rows inserted into the seven index tables, the current row upserted and a history
// row added. Data-modifying CTEs share one snapshot, so the deletes never see the rows being inserted.
import type { Resource } from '@medplum/fhirtypes';
import type { SqlExecutor } from '../sql/sql-client.js';
import type { IndexRows } from './indexer.js';

export interface ResourceVersion {
  /** The resource as stored (id and meta.versionId/lastUpdated set). */
  resource: Resource;
  method: 'POST' | 'PUT' | 'DELETE';
  deleted: boolean;
  /** Index rows of the new version; undefined for a deletion. */
  rows: IndexRows | undefined;
  /** A previous version exists: its index rows are deleted first. */
  replaces: boolean;
}

const STATEMENT = `
WITH keys AS (SELECT * FROM unnest($50::text[], $51::text[]) AS k(rt, id)),
d1 AS (DELETE FROM sp_token x USING keys k WHERE x.resource_type = k.rt AND x.id = k.id),
d2 AS (DELETE FROM sp_string x USING keys k WHERE x.resource_type = k.rt AND x.id = k.id),
d3 AS (DELETE FROM sp_date x USING keys k WHERE x.resource_type = k.rt AND x.id = k.id),
d4 AS (DELETE FROM sp_reference x USING keys k WHERE x.resource_type = k.rt AND x.id = k.id),
d5 AS (DELETE FROM sp_quantity x USING keys k WHERE x.resource_type = k.rt AND x.id = k.id),
d6 AS (DELETE FROM sp_number x USING keys k WHERE x.resource_type = k.rt AND x.id = k.id),
d7 AS (DELETE FROM sp_uri x USING keys k WHERE x.resource_type = k.rt AND x.id = k.id),
i1 AS (INSERT INTO sp_token (resource_type, id, param, system, code, display)
       SELECT * FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])),
i2 AS (INSERT INTO sp_string (resource_type, id, param, value, exact)
       SELECT * FROM unnest($9::text[], $10::text[], $11::text[], $12::text[], $13::text[])),
i3 AS (INSERT INTO sp_date (resource_type, id, param, low, high)
       SELECT * FROM unnest($14::text[], $15::text[], $16::text[], $17::timestamptz[], $18::timestamptz[])),
i4 AS (INSERT INTO sp_reference (resource_type, id, param, target_type, target_id, target_url, ident_system, ident_value)
       SELECT * FROM unnest($19::text[], $20::text[], $21::text[], $22::text[], $23::text[], $24::text[], $25::text[], $26::text[])),
i5 AS (INSERT INTO sp_quantity (resource_type, id, param, low, high, system, code, unit)
       SELECT * FROM unnest($27::text[], $28::text[], $29::text[], $30::float8[], $31::float8[], $32::text[], $33::text[], $34::text[])),
i6 AS (INSERT INTO sp_number (resource_type, id, param, low, high)
       SELECT * FROM unnest($35::text[], $36::text[], $37::text[], $38::float8[], $39::float8[])),
i7 AS (INSERT INTO sp_uri (resource_type, id, param, value)
       SELECT * FROM unnest($40::text[], $41::text[], $42::text[], $43::text[])),
up AS (INSERT INTO resources (resource_type, id, version_id, last_updated, deleted, content)
       SELECT * FROM unnest($1::text[], $2::text[], $44::int[], $45::timestamptz[], $46::bool[], $47::text[])
       ON CONFLICT (resource_type, id) DO UPDATE SET version_id = EXCLUDED.version_id,
         last_updated = EXCLUDED.last_updated, deleted = EXCLUDED.deleted, content = EXCLUDED.content),
h AS (INSERT INTO resource_history (resource_type, id, version_id, last_updated, deleted, method, content, change_set_id)
      SELECT rt, id, v, t, d, m, c, $49::uuid FROM unnest($1::text[], $2::text[], $44::int[], $45::timestamptz[], $46::bool[], $48::text[], $47::text[]) AS u(rt, id, v, t, d, m, c))
SELECT 1`;

/** Column arrays for one index table: the resource key columns followed by the table's own columns. */
function columns<Row>(
  versions: ResourceVersion[],
  pick: (rows: IndexRows) => Row[],
  fields: ((row: Row) => unknown)[],
): unknown[][] {
  const types: string[] = [];
  const ids: string[] = [];
  const values: unknown[][] = fields.map(() => []);
  for (const v of versions) {
    if (!v.rows) continue;
    for (const row of pick(v.rows)) {
      types.push(v.resource.resourceType);
      ids.push(v.resource.id!);
      fields.forEach((field, i) => values[i]!.push(field(row)));
    }
  }
  return [types, ids, ...values];
}

export async function writeVersions(sql: SqlExecutor, versions: ResourceVersion[], changeSetId: string): Promise<void> {
  if (versions.length === 0) return;
  const params: unknown[] = [
    versions.map((v) => v.resource.resourceType),
    versions.map((v) => v.resource.id),
    ...columns(versions, (r) => r.token, [(r) => r.param, (r) => r.system, (r) => r.code, (r) => r.display]),
    ...columns(versions, (r) => r.string, [(r) => r.param, (r) => r.value, (r) => r.exact]),
    ...columns(versions, (r) => r.date, [(r) => r.param, (r) => r.low, (r) => r.high]),
    ...columns(versions, (r) => r.reference, [
      (r) => r.param,
      (r) => r.targetType,
      (r) => r.targetId,
      (r) => r.targetUrl,
      (r) => r.identSystem,
      (r) => r.identValue,
    ]),
    ...columns(versions, (r) => r.quantity, [
      (r) => r.param,
      (r) => r.low,
      (r) => r.high,
      (r) => r.system,
      (r) => r.code,
      (r) => r.unit,
    ]),
    ...columns(versions, (r) => r.number, [(r) => r.param, (r) => r.low, (r) => r.high]),
    ...columns(versions, (r) => r.uri, [(r) => r.param, (r) => r.value]),
    versions.map((v) => Number(v.resource.meta!.versionId)),
    versions.map((v) => v.resource.meta!.lastUpdated),
    versions.map((v) => v.deleted),
    versions.map((v) => JSON.stringify(v.resource)),
    versions.map((v) => v.method),
    changeSetId,
    versions.filter((v) => v.replaces).map((v) => v.resource.resourceType),
    versions.filter((v) => v.replaces).map((v) => v.resource.id),
  ];
  await sql.query(STATEMENT, params);
}
