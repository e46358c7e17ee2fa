// Applies one change set (a FHIR transaction or batch Bundle from the log) to the projection, inside the
// projector's SQL transaction. Deterministic: ids are derived from the change set id (or from the
// condition of a conditional create/update), lastUpdated is the log's append time, versions count up.
// The same record applied again, or the log refolded from offset 0, gives the same rows.
import type { Bundle, BundleEntry, OperationOutcome, Provenance, Resource } from '@medplum/fhirtypes';
import type { LogRecord } from '../change-set.js';
import { LINEAGE } from '../fhir/lineage.js';
import { FhirError, fhirErrors, isFhirError, outcome } from '../fhir/outcome.js';
import { parseSearch } from '../search/search-query.js';
import { runSearch } from '../search/search-sql.js';
import type { SqlExecutor } from '../sql/sql-client.js';
import { uuidV5 } from '../uuid.js';
import { indexResource } from './indexer.js';
import { writeVersions, type ResourceVersion } from './write.js';

export interface ChangeSetOutcome {
  changeSetId: string;
  status: 'applied' | 'rejected';
  httpStatus: number;
  /** A transaction-response or batch-response Bundle; or, for a rejected transaction, its OperationOutcome. */
  response: Bundle | OperationOutcome;
}

interface CurrentRow {
  resource_type: string;
  id: string;
  version_id: number;
  deleted: boolean;
  content: string;
}

type Method = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';
const ORDER: Record<Method, number> = { DELETE: 0, POST: 1, PUT: 2, PATCH: 2, GET: 3, HEAD: 3 };

interface PlannedEntry {
  index: number;
  method: Method;
  type: string;
  id?: string;
  resource?: Resource;
  ifMatch?: string;
  /** Result decided during planning (conditional create that matched, search GET…). */
  decided?: BundleEntry['response'] & { resource?: Resource };
  creating?: boolean;
  searchQuery?: string;
  /** `POST Patient/$merge`: runs after the creates and updates of the same transaction. */
  operation?: 'merge';
}

/** Sort key: FHIR's processing order (DELETE, POST, PUT, then GET), with $merge after the writes it may rely on. */
function orderOf(entry: PlannedEntry): number {
  return entry.operation === 'merge' ? 2.5 : ORDER[entry.method];
}

const SAFE_ID = /^[A-Za-z0-9\-.]{1,64}$/;

export class ChangeSetApplier {
  private readonly written: ResourceVersion[] = [];
  private readonly idMap = new Map<string, string>();
  /** Current rows read (and locked) ahead in one query; null = known not to exist. Cleared after each write. */
  private readonly rows = new Map<string, CurrentRow | null>();

  constructor(
    private readonly tx: SqlExecutor,
    private readonly record: LogRecord,
  ) {}

  /** Applies the record; a FHIR-level failure rejects the change set (the caller rolls back its savepoint). */
  async apply(): Promise<ChangeSetOutcome> {
    const { bundle, id: changeSetId } = this.record.changeSet;
    if (bundle?.resourceType !== 'Bundle' || (bundle.type !== 'transaction' && bundle.type !== 'batch')) {
      throw fhirErrors.badRequest('A change set must be a Bundle of type transaction or batch.');
    }
    if (bundle.type === 'batch') return this.applyBatch(bundle);
    const entries = await this.plan(bundle.entry ?? []);
    await this.rewriteReferences(entries);
    await this.prefetch([
      ...entries.filter((e) => e.id && !e.operation).map((e) => [e.type, e.id!] as [string, string]),
      ['Provenance', this.provenanceId(0)],
    ]);
    const results: BundleEntry[] = new Array(entries.length);
    for (const entry of [...entries].sort((a, b) => orderOf(a) - orderOf(b) || a.index - b.index)) {
      results[entry.index] = await this.execute(entry);
    }
    await this.flush();
    return {
      changeSetId,
      status: 'applied',
      httpStatus: 200,
      response: {
        resourceType: 'Bundle',
        type: 'transaction-response',
        entry: results,
      },
    };
  }

  private async applyBatch(bundle: Bundle): Promise<ChangeSetOutcome> {
    const results: BundleEntry[] = [];
    for (const [index, entry] of (bundle.entry ?? []).entries()) {
      await this.tx.query('SAVEPOINT batch_entry');
      try {
        const [planned] = await this.plan([entry], index);
        await this.rewriteReferences([planned!]);
        const result = await this.execute(planned!);
        await this.flush();
        await this.tx.query('RELEASE SAVEPOINT batch_entry');
        results.push(result);
      } catch (error) {
        await this.tx.query('ROLLBACK TO SAVEPOINT batch_entry');
        this.written.length = 0;
        if (!isFhirError(error)) throw error;
        results.push({ response: { status: String(error.status), outcome: error.outcome } });
      }
    }
    return {
      changeSetId: this.record.changeSet.id,
      status: 'applied',
      httpStatus: 200,
      response: { resourceType: 'Bundle', type: 'batch-response', entry: results },
    };
  }

  /** Reads each entry's request, resolves ids (conditional ones by search) and fills the fullUrl map. */
  private async plan(entries: BundleEntry[], indexOffset = 0): Promise<PlannedEntry[]> {
    const planned: PlannedEntry[] = [];
    const targets = new Set<string>();
    for (const [i, entry] of entries.entries()) {
      const index = i + indexOffset;
      const where = `Bundle.entry[${index}]`;
      const method = entry.request?.method as Method | undefined;
      const url = entry.request?.url;
      if (!method || !url || !(method in ORDER)) {
        throw fhirErrors.badRequest(`${where}: request.method and request.url are required.`, [`${where}.request`]);
      }
      if (method === 'PATCH')
        throw fhirErrors.notSupported(`${where}: PATCH is not supported; send the whole resource with PUT.`);
      const [path, query] = splitUrl(url);
      const [type, id, ...extra] = path.split('/');
      if (!type) throw fhirErrors.badRequest(`${where}: request.url "${url}" names no resource type.`);
      const p: PlannedEntry = {
        index,
        method,
        type,
        ...(entry.request?.ifMatch ? { ifMatch: entry.request.ifMatch } : {}),
      };
      if (method === 'GET' || method === 'HEAD') {
        if (id) p.id = id;
        else p.searchQuery = query ?? '';
        if (extra.length > 0)
          throw fhirErrors.notSupported(`${where}: only reads and searches are supported in GET entries.`);
        planned.push(p);
        continue;
      }
      if (method === 'POST' && type === 'Patient' && id === '$merge') {
        if (entry.resource?.resourceType !== 'Parameters') {
          throw fhirErrors.badRequest(
            `${where}: Patient/$merge takes a Parameters resource (source-patient, target-patient).`,
          );
        }
        planned.push({ ...p, resource: structuredClone(entry.resource), operation: 'merge' });
        continue;
      }
      if (method === 'POST' || method === 'PUT') {
        const resource = entry.resource;
        if (!resource)
          throw fhirErrors.badRequest(`${where}: a ${method} entry needs a resource.`, [`${where}.resource`]);
        if (resource.resourceType !== type) {
          throw fhirErrors.badRequest(
            `${where}: the resource is a ${resource.resourceType} but the url is for ${type}.`,
          );
        }
        p.resource = structuredClone(resource);
      }
      if (method === 'POST') {
        if (id) throw fhirErrors.badRequest(`${where}: POST creates in a type ("${type}"), not at an id.`);
        const ifNoneExist = entry.request?.ifNoneExist;
        if (ifNoneExist) {
          const matches = await this.searchIds(type, ifNoneExist, where);
          if (matches.length > 1) {
            throw fhirErrors.multipleMatches(
              `${where}: If-None-Exist "${ifNoneExist}" matched ${matches.length} ${type} resources.`,
            );
          }
          if (matches.length === 1) {
            p.id = matches[0]!;
            p.decided = { status: '200 OK' };
          } else {
            p.id = uuidV5(`${type}?${canonicalQuery(ifNoneExist)}`);
            p.creating = true;
          }
        } else {
          p.id = uuidV5(`${this.record.changeSet.id}/${index}`);
          p.creating = true;
        }
      } else if (method === 'PUT' || method === 'DELETE') {
        if (id) {
          if (!SAFE_ID.test(id))
            throw fhirErrors.badRequest(`${where}: "${id}" is not a valid id ([A-Za-z0-9-.]{1,64}).`);
          if (method === 'PUT' && p.resource?.id && p.resource.id !== id) {
            throw fhirErrors.badRequest(
              `${where}: the resource id "${p.resource.id}" differs from the url id "${id}".`,
              [`${where}.resource.id`],
            );
          }
          p.id = id;
        } else if (query) {
          const matches = await this.searchIds(type, query, where);
          if (matches.length > 1) {
            throw fhirErrors.multipleMatches(
              `${where}: conditional ${method} "${url}" matched ${matches.length} resources.`,
            );
          }
          if (matches.length === 1) p.id = matches[0]!;
          else if (method === 'PUT')
            p.id =
              p.resource?.id && SAFE_ID.test(p.resource.id)
                ? p.resource.id
                : uuidV5(`${type}?${canonicalQuery(query)}`);
          else p.decided = { status: '204 No Content' };
        } else {
          throw fhirErrors.badRequest(`${where}: ${method} needs an id or search criteria in the url.`);
        }
      }
      if (p.id) {
        const key = `${type}/${p.id}`;
        if (targets.has(key)) {
          throw fhirErrors.badRequest(`${where}: ${key} is the target of two entries of the same transaction.`);
        }
        targets.add(key);
        if (entry.fullUrl) this.idMap.set(entry.fullUrl, key);
      }
      planned.push(p);
    }
    return planned;
  }

  private async searchIds(type: string, query: string, where: string): Promise<string[]> {
    try {
      const parsed = parseSearch(type, new URLSearchParams(query), { strict: true, defaultCount: 2 });
      const result = await runSearch(this.tx, parsed);
      return result.matches.map((m) => m.id);
    } catch (error) {
      if (isFhirError(error)) {
        throw fhirErrors.badRequest(`${where}: cannot search "${type}?${query}": ${error.message}`);
      }
      throw error;
    }
  }

  /** Replaces fullUrl references (urn:uuid:…) and resolves conditional references (Type?criteria). */
  private async rewriteReferences(entries: PlannedEntry[]): Promise<void> {
    const conditional = new Map<string, string>();
    for (const entry of entries) {
      // A stored Bundle (document, collection…) keeps its own internal urn:uuid links as written.
      if (!entry.resource || entry.resource.resourceType === 'Bundle') continue;
      const pending: { holder: Record<string, unknown>; key: string; value: string }[] = [];
      visitStrings(entry.resource, (holder, key, value) => {
        const mapped = this.idMap.get(value);
        if (mapped) holder[key] = mapped;
        // $merge resolves its patients when it runs, after the writes of the same transaction.
        else if (key === 'reference' && /^[A-Z][A-Za-z]+\?/.test(value) && entry.operation !== 'merge')
          pending.push({ holder, key, value });
        else if (key === 'reference' && value.startsWith('urn:uuid:')) {
          throw fhirErrors.badRequest(
            `Bundle.entry[${entry.index}]: reference "${value}" matches no fullUrl in the Bundle.`,
          );
        }
      });
      for (const ref of pending) {
        let resolved = conditional.get(ref.value);
        if (!resolved) {
          const [type, query] = splitUrl(ref.value);
          const ids = await this.searchIds(type, query ?? '', `Bundle.entry[${entry.index}]`);
          if (ids.length !== 1) {
            throw fhirErrors.preconditionFailed(
              `Bundle.entry[${entry.index}]: conditional reference "${ref.value}" matched ${ids.length} resources (exactly one is required).`,
            );
          }
          resolved = `${type}/${ids[0]}`;
          conditional.set(ref.value, resolved);
        }
        ref.holder[ref.key] = resolved;
      }
    }
  }

  private async current(type: string, id: string): Promise<CurrentRow | undefined> {
    const cached = this.rows.get(`${type}/${id}`);
    if (cached !== undefined) return cached ?? undefined;
    const rows = await this.tx.query<CurrentRow>(
      'SELECT resource_type, id, version_id, deleted, content FROM resources WHERE resource_type = $1 AND id = $2 FOR UPDATE',
      [type, id],
    );
    return rows.rows[0];
  }

  /** Reads and locks the current rows of every target of the transaction in one query. */
  private async prefetch(keys: [string, string][]): Promise<void> {
    if (keys.length === 0) return;
    const found = await this.tx.query<CurrentRow>(
      `SELECT resource_type, id, version_id, deleted, content FROM resources
        WHERE (resource_type, id) IN (SELECT * FROM unnest($1::text[], $2::text[])) FOR UPDATE`,
      [keys.map((k) => k[0]), keys.map((k) => k[1])],
    );
    for (const [type, id] of keys) this.rows.set(`${type}/${id}`, null);
    for (const row of found.rows) this.rows.set(`${row.resource_type}/${row.id}`, row);
  }

  private checkIfMatch(entry: PlannedEntry, row: CurrentRow | undefined): void {
    if (!entry.ifMatch) return;
    const wanted = /^(?:W\/)?"?([^"]+)"?$/.exec(entry.ifMatch.trim())?.[1];
    const actual = row && !row.deleted ? String(row.version_id) : undefined;
    if (wanted !== actual) {
      throw fhirErrors.preconditionFailed(
        `${entry.type}/${entry.id}: If-Match ${entry.ifMatch} but the current version is ${actual ? `W/"${actual}"` : 'none'}.`,
      );
    }
  }

  private async execute(entry: PlannedEntry): Promise<BundleEntry> {
    if (entry.decided) {
      if (entry.method === 'POST' && entry.id) {
        const row = await this.current(entry.type, entry.id);
        if (row) return this.responseFor(entry.type, entry.id, row.version_id, '200 OK');
      }
      return { response: entry.decided };
    }
    if (entry.operation === 'merge') return this.executeMerge(entry);
    switch (entry.method) {
      case 'GET':
      case 'HEAD':
        return this.executeRead(entry);
      case 'DELETE': {
        const row = await this.current(entry.type, entry.id!);
        this.checkIfMatch(entry, row);
        if (!row || row.deleted) return { response: { status: '204 No Content' } };
        const version = row.version_id + 1;
        const tombstone: Resource = {
          resourceType: entry.type,
          id: entry.id!,
          meta: { versionId: String(version), lastUpdated: this.record.appendedAt },
        } as Resource;
        this.written.push({ resource: tombstone, method: 'DELETE', deleted: true, rows: undefined, replaces: true });
        return { response: { status: '204 No Content', etag: `W/"${version}"` } };
      }
      case 'POST':
      case 'PUT': {
        const row = await this.current(entry.type, entry.id!);
        this.checkIfMatch(entry, row);
        const resource = entry.resource!;
        if (row && !row.deleted && entry.method === 'PUT' && sameContent(JSON.parse(row.content), resource)) {
          return this.responseFor(entry.type, entry.id!, row.version_id, '200 OK');
        }
        const version = row ? row.version_id + 1 : 1;
        const stored = withMeta(resource, entry.id!, version, this.record.appendedAt);
        this.written.push({
          resource: stored,
          method: row && !row.deleted ? 'PUT' : entry.method,
          deleted: false,
          rows: indexResource(stored),
          replaces: row !== undefined,
        });
        return this.responseFor(entry.type, entry.id!, version, row && !row.deleted ? '200 OK' : '201 Created');
      }
      case 'PATCH':
        throw fhirErrors.notSupported('PATCH is not supported.');
      default:
        entry.method satisfies never;
        throw fhirErrors.internal('unreachable');
    }
  }

  private async executeRead(entry: PlannedEntry): Promise<BundleEntry> {
    await this.flush();
    if (entry.id) {
      const row = await this.current(entry.type, entry.id);
      if (!row) {
        return {
          response: {
            status: '404 Not Found',
            outcome: outcome('error', 'not-found', `${entry.type}/${entry.id} does not exist.`),
          },
        };
      }
      if (row.deleted) {
        return {
          response: {
            status: '410 Gone',
            outcome: outcome('error', 'deleted', `${entry.type}/${entry.id} was deleted.`),
          },
        };
      }
      return { resource: JSON.parse(row.content), ...this.responseFor(entry.type, entry.id, row.version_id, '200 OK') };
    }
    const parsed = parseSearch(entry.type, new URLSearchParams(entry.searchQuery ?? ''), { strict: false });
    const result = await runSearch(this.tx, parsed);
    return {
      resource: {
        resourceType: 'Bundle',
        type: 'searchset',
        ...(result.total !== undefined ? { total: result.total } : {}),
        entry: result.matches.map((m) => ({ resource: JSON.parse(m.content), search: { mode: 'match' as const } })),
      },
      response: { status: '200 OK' },
    };
  }

  /**
   * Patient/$merge: the source patient becomes inactive with `link: replaced-by → target`, the target gets
   * `link: replaces → source`, and every resource whose indexed references point at the source is updated to
   * point at the target (Provenance and AuditEvent are history and keep theirs). Applying it again changes nothing.
   */
  private async executeMerge(entry: PlannedEntry): Promise<BundleEntry> {
    const where = `Bundle.entry[${entry.index}]`;
    const parameters =
      (entry.resource as { parameter?: { name?: string; valueReference?: { reference?: string } }[] }).parameter ?? [];
    const patientOf = async (name: string): Promise<string> => {
      const reference = parameters.find((p) => p.name === name)?.valueReference?.reference;
      if (!reference)
        throw fhirErrors.badRequest(`${where}: Patient/$merge needs the parameter ${name} (valueReference).`);
      if (reference.startsWith('Patient/')) return reference.split('/')[1]!;
      if (reference.startsWith('Patient?')) {
        const ids = await this.searchIds('Patient', reference.slice('Patient?'.length), where);
        if (ids.length !== 1) {
          throw fhirErrors.preconditionFailed(
            `${where}: ${name} "${reference}" matched ${ids.length} patients (exactly one is required).`,
          );
        }
        return ids[0]!;
      }
      throw fhirErrors.badRequest(
        `${where}: ${name} must reference a Patient ("Patient/id" or "Patient?identifier=…"), got "${reference}".`,
      );
    };
    await this.flush();
    const source = await patientOf('source-patient');
    const target = await patientOf('target-patient');
    if (source === target)
      throw fhirErrors.badRequest(`${where}: source and target are the same patient (Patient/${source}).`);
    const sourceRow = await this.current('Patient', source);
    const targetRow = await this.current('Patient', target);
    if (!sourceRow || sourceRow.deleted)
      throw fhirErrors.preconditionFailed(`${where}: the source Patient/${source} does not exist.`);
    if (!targetRow || targetRow.deleted)
      throw fhirErrors.preconditionFailed(`${where}: the target Patient/${target} does not exist.`);

    const referencing = await this.tx.query<CurrentRow>(
      `SELECT r.resource_type, r.id, r.version_id, r.deleted, r.content FROM resources r
        WHERE NOT r.deleted AND r.resource_type NOT IN ('Provenance', 'AuditEvent')
          AND (r.resource_type, r.id) IN (SELECT DISTINCT x.resource_type, x.id FROM sp_reference x WHERE x.target_type = 'Patient' AND x.target_id = $1)
        ORDER BY r.resource_type, r.id FOR UPDATE`,
      [source],
    );
    const sourceReference = new RegExp(`^Patient/${source.replace(/[.]/g, '\\.')}(/_history/[^/]+)?$`);
    let moved = 0;
    for (const row of referencing.rows) {
      if (row.resource_type === 'Patient' && (row.id === source || row.id === target)) continue;
      const content = JSON.parse(row.content) as Resource;
      visitStrings(content, (holder, key, value) => {
        if (key === 'reference' && sourceReference.test(value)) holder[key] = `Patient/${target}`;
      });
      if (this.stageVersion(row, content)) moved++;
    }
    const link = (patient: Resource, other: string, type: 'replaced-by' | 'replaces'): Resource => {
      const p = patient as Resource & { link?: { other: { reference?: string }; type: string }[]; active?: boolean };
      const links = (p.link ?? []).filter((l) => !(l.other.reference === `Patient/${other}` && l.type === type));
      return { ...p, link: [...links, { other: { reference: `Patient/${other}` }, type }] } as Resource;
    };
    this.stageVersion(sourceRow, {
      ...link(JSON.parse(sourceRow.content) as Resource, target, 'replaced-by'),
      active: false,
    } as Resource);
    this.stageVersion(targetRow, link(JSON.parse(targetRow.content) as Resource, source, 'replaces'));
    return {
      response: {
        status: '200 OK',
        location: `Patient/${target}`,
        outcome: outcome(
          'information',
          'informational',
          `Patient/${source} merged into Patient/${target}; ${moved} resource(s) now reference Patient/${target}.`,
        ),
      },
    };
  }

  /** Queues a new version of a stored resource unless its content is unchanged; true when a version is written. */
  private stageVersion(row: CurrentRow, content: Resource): boolean {
    if (sameContent(JSON.parse(row.content) as Resource, content)) return false;
    const stored = withMeta(content, row.id, row.version_id + 1, this.record.appendedAt);
    this.written.push({ resource: stored, method: 'PUT', deleted: false, rows: indexResource(stored), replaces: true });
    return true;
  }

  private responseFor(type: string, id: string, version: number, status: string): BundleEntry {
    return {
      response: {
        status,
        location: `${type}/${id}/_history/${version}`,
        etag: `W/"${version}"`,
        lastModified: this.record.appendedAt,
      },
    };
  }

  /** Writes what was decided so far (and its Provenance) in one statement. */
  private async flush(): Promise<void> {
    if (this.written.length === 0) return;
    const versions = this.written.splice(0);
    const provenance = this.provenanceFor(versions);
    if (provenance) {
      const row = await this.current('Provenance', provenance.id!);
      const version = row ? row.version_id + 1 : 1;
      const stored = withMeta(provenance, provenance.id!, version, this.record.appendedAt);
      versions.push({
        resource: stored,
        method: row ? 'PUT' : 'POST',
        deleted: false,
        rows: indexResource(stored),
        replaces: row !== undefined,
      });
    }
    await writeVersions(this.tx, versions, this.record.changeSet.id);
    this.rows.clear();
  }

  private provenanceSequence = 0;

  private provenanceId(sequence: number): string {
    return uuidV5(`${this.record.changeSet.id}/provenance/${sequence}`);
  }

  /** Provenance of the versions written by this change set (lineage, DESIGN.md invariant 3). */
  private provenanceFor(versions: ResourceVersion[]): Provenance | undefined {
    const targets = versions.filter(
      (v) => v.resource.resourceType !== 'Provenance' && v.resource.resourceType !== 'AuditEvent',
    );
    if (targets.length === 0) return undefined;
    const { origin, id: changeSetId } = this.record.changeSet;
    const methods = new Set(targets.map((t) => t.method));
    const activity =
      methods.size === 1
        ? ({ DELETE: 'DELETE', POST: 'CREATE', PUT: 'UPDATE' } as const)[[...methods][0] as 'DELETE' | 'POST' | 'PUT']
        : undefined;
    const extension = [
      { url: LINEAGE.changeSetExtension, valueString: changeSetId },
      ...(origin.controlId ? [{ url: LINEAGE.controlIdExtension, valueString: origin.controlId }] : []),
      ...(origin.rawSha256 ? [{ url: LINEAGE.rawSha256Extension, valueString: origin.rawSha256 }] : []),
      ...(origin.sender ? [{ url: LINEAGE.senderExtension, valueString: origin.sender }] : []),
    ];
    const who =
      origin.kind === 'channel'
        ? {
            identifier: { system: LINEAGE.channelSystem, value: origin.channel ?? 'unknown' },
            display: `channel ${origin.channel ?? ''}`.trim(),
          }
        : {
            identifier: { system: LINEAGE.principalSystem, value: origin.actor ?? 'system' },
            display: origin.actor ?? 'system',
          };
    const sequence = this.provenanceSequence++;
    return {
      resourceType: 'Provenance',
      id: this.provenanceId(sequence),
      extension,
      target: targets.map((t) => ({
        reference: `${t.resource.resourceType}/${t.resource.id}/_history/${t.resource.meta!.versionId}`,
      })),
      recorded: this.record.appendedAt,
      ...(activity
        ? {
            activity: {
              coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-DataOperation', code: activity }],
            },
          }
        : {}),
      ...(origin.reason ? { reason: [{ text: origin.reason }] } : {}),
      agent: [
        {
          type: {
            coding: [
              {
                system: 'http://terminology.hl7.org/CodeSystem/provenance-participant-type',
                code: origin.kind === 'channel' ? 'assembler' : 'author',
              },
            ],
          },
          who,
        },
      ],
      ...(origin.messageId
        ? {
            entity: [
              {
                role: 'source' as const,
                what: {
                  identifier: { system: LINEAGE.messageSystem, value: origin.messageId },
                  display:
                    [origin.controlId && `control id ${origin.controlId}`, origin.sender && `from ${origin.sender}`]
                      .filter(Boolean)
                      .join(' ') || `message ${origin.messageId}`,
                },
              },
            ],
          }
        : {}),
    };
  }
}

function splitUrl(url: string): [string, string | undefined] {
  const q = url.indexOf('?');
  const path = (q >= 0 ? url.slice(0, q) : url).replace(/^\/+/, '');
  return [path, q >= 0 ? url.slice(q + 1) : undefined];
}

/** The same criteria in any order give the same conditional id. */
export function canonicalQuery(query: string): string {
  return [...new URLSearchParams(query)]
    .map(([k, v]) => `${k}=${v}`)
    .sort()
    .join('&');
}

function visitStrings(
  node: unknown,
  visit: (holder: Record<string, unknown>, key: string, value: string) => void,
): void {
  if (Array.isArray(node)) {
    node.forEach((item, i) => {
      if (typeof item === 'string') visit(node as unknown as Record<string, unknown>, String(i), item);
      else visitStrings(item, visit);
    });
    return;
  }
  if (node && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (typeof value === 'string') visit(node as Record<string, unknown>, key, value);
      else visitStrings(value, visit);
    }
  }
}

function withMeta(resource: Resource, id: string, version: number, lastUpdated: string): Resource {
  const { resourceType, id: _ignored, meta, ...rest } = resource as Resource & { meta?: Resource['meta'] };
  return {
    resourceType,
    id,
    meta: { ...(meta ?? {}), versionId: String(version), lastUpdated },
    ...rest,
  } as Resource;
}

/** Equal content, ignoring the server-assigned meta.versionId and meta.lastUpdated. */
function sameContent(current: Resource, next: Resource): boolean {
  return (
    stableStringify(stripServerMeta(current)) ===
    stableStringify(stripServerMeta({ ...next, id: current.id } as Resource))
  );
}

function stripServerMeta(resource: Resource): unknown {
  const { meta, ...rest } = resource as Resource & { meta?: Record<string, unknown> };
  if (!meta) return rest;
  const { versionId: _v, lastUpdated: _l, ...otherMeta } = meta;
  return Object.keys(otherMeta).length > 0 ? { ...rest, meta: otherMeta } : rest;
}

export function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableStringify((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

export { FhirError };
