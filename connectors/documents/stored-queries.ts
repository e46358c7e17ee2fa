// ITI-18 Registry Stored Query on the canonical store: FindDocuments, FindSubmissionSets, GetDocuments,
// GetAssociations, GetSubmissionSetAndContents. Each query becomes FHIR searches with typed parameters (the values
// the grammar of adapters/xds parsed — never text pasted into a query), then the XDS semantics the searches cannot
// express (time ranges on DTM values, author wildcards, object type) are applied to the view.
import type { DocumentReference, List } from '@medplum/fhirtypes';
import { AvailabilityStatus, ObjectType, XdsErrorCode } from '../../adapters/xds/constants.js';
import type {
  Association,
  Code,
  DocumentEntry,
  Folder,
  RegistryObjectList,
  SubmissionSet,
  XdsIssue,
} from '../../adapters/xds/model.js';
import type {
  FindDocumentsQuery,
  FindSubmissionSetsQuery,
  GetAssociationsQuery,
  GetDocumentsQuery,
  GetSubmissionSetAndContentsQuery,
  StoredQuery,
} from '../../adapters/xds/stored-query.js';
import { isOid } from '../../adapters/xds/hl7-values.js';
import type { DocumentRegistry } from './document-registry.js';
import { systemForCodingScheme, Mhd } from './vocabulary.js';
import {
  associationsOfDocument,
  associationsOfList,
  entryUuidToken,
  listKind,
  patientToken,
  uniqueIdToken,
} from './xds-fhir.js';

export type QueryResult = { ok: true; objects: RegistryObjectList } | { ok: false; issues: XdsIssue[] };

const FHIR_STATUS: Record<string, string> = {
  [AvailabilityStatus.approved]: 'current',
  [AvailabilityStatus.deprecated]: 'superseded',
};

const LIST_STATUS: Record<string, string> = {
  [AvailabilityStatus.approved]: 'current',
  [AvailabilityStatus.deprecated]: 'retired',
};

const SUBMISSION_SET_CODE = `${Mhd.listTypes}|submissionset`;

function empty(): RegistryObjectList {
  return { submissionSets: [], documentEntries: [], folders: [], associations: [], objectRefs: [] };
}

/**
 * Token search values for an XDS code: `system|code` for each FHIR system the scheme may be written with (its URL
 * and `urn:oid:`, as MHD writers use either), or `code` alone when the scheme has no FHIR system.
 */
function tokensOf(code: Code): string[] {
  const escaped = code.code.replace(/\\/g, '\\\\').replace(/,/g, '\\,').replace(/\|/g, '\\|').replace(/\$/g, '\\$');
  const systems = [
    ...new Set(
      [
        systemForCodingScheme(code.codingScheme),
        isOid(code.codingScheme) ? `urn:oid:${code.codingScheme}` : undefined,
      ].filter((s): s is string => !!s),
    ),
  ];
  return systems.length ? systems.map((system) => `${system}|${escaped}`) : [escaped];
}

const sameCode = (a: Code | undefined, b: Code): boolean =>
  !!a && a.code === b.code && a.codingScheme === b.codingScheme;
const anyOf = (value: Code | undefined, wanted: Code[] | undefined): boolean =>
  !wanted || wanted.some((w) => sameCode(value, w));
const allGroups = (values: Code[], groups: Code[][] | undefined): boolean =>
  !groups || groups.every((g) => g.some((w) => values.some((v) => sameCode(v, w))));

/** DTM range check: XDS compares the values as written, to the precision given (ITI TF-2 §3.18.4.1.2.3.6). */
function inRange(value: string | undefined, from: string | undefined, to: string | undefined): boolean {
  if (from === undefined && to === undefined) return true;
  if (value === undefined) return false;
  const pad = (v: string, c: string) => v.padEnd(14, c);
  if (from !== undefined && pad(value, '9') < pad(from, '0')) return false;
  if (to !== undefined && pad(value, '0') >= pad(to, '0')) return false;
  return true;
}

/** authorPerson with SQL-LIKE wildcards: % any run, _ one character; everything else literal. */
function authorMatches(authors: { person?: string }[], patterns: string[] | undefined): boolean {
  if (!patterns) return true;
  const regexes = patterns.map(
    (p) =>
      new RegExp(
        `^${p
          .replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
          .replace(/%/g, '.*')
          .replace(/_/g, '.')}$`,
        's',
      ),
  );
  return authors.some((a) => a.person !== undefined && regexes.some((r) => r.test(a.person!)));
}

export class StoredQueries {
  constructor(private readonly registry: DocumentRegistry) {}

  async run(query: StoredQuery): Promise<QueryResult> {
    switch (query.kind) {
      case 'FindDocuments':
        return this.findDocuments(query);
      case 'FindSubmissionSets':
        return this.findSubmissionSets(query);
      case 'GetDocuments':
        return this.getDocuments(query);
      case 'GetAssociations':
        return this.getAssociations(query);
      case 'GetSubmissionSetAndContents':
        return this.getSubmissionSetAndContents(query);
      default:
        return query satisfies never;
    }
  }

  private tooMany(count: number): QueryResult {
    return {
      ok: false,
      issues: [
        {
          code: XdsErrorCode.tooManyResults,
          severity: 'error',
          message: `The query matches more than ${count} objects: narrow it (a time range, a class or type code)`,
        },
      ],
    };
  }

  private get limit(): number {
    return this.registry.maxResults;
  }

  private async findDocuments(q: FindDocumentsQuery): Promise<QueryResult> {
    const patient = patientToken(q.patientId);
    const statuses = q.status.map((s) => FHIR_STATUS[s]).filter((s): s is string => !!s);
    if (!patient || statuses.length === 0) return { ok: true, objects: empty() };
    const params: [string, string][] = [
      ['patient.identifier', patient],
      ['status', statuses.join(',')],
    ];
    const codes = (name: string, list: Code[] | undefined) =>
      list && params.push([name, list.flatMap(tokensOf).join(',')]);
    codes('category', q.classCode);
    codes('type', q.typeCode);
    codes('setting', q.practiceSettingCode);
    codes('facility', q.healthcareFacilityTypeCode);
    codes('format', q.formatCode);
    for (const group of q.eventCodeList ?? []) codes('event', group);
    for (const group of q.confidentialityCode ?? []) codes('security-label', group);
    const docs = await this.registry.search<DocumentReference>('DocumentReference', params);
    const objectTypes = q.objectType ?? [ObjectType.stableDocumentEntry];
    const entries = docs
      .map((d) => this.registry.entryOf(d))
      .filter(
        (e) =>
          objectTypes.includes(e.objectType) &&
          anyOf(e.classCode, q.classCode) &&
          anyOf(e.typeCode, q.typeCode) &&
          anyOf(e.practiceSettingCode, q.practiceSettingCode) &&
          anyOf(e.healthcareFacilityTypeCode, q.healthcareFacilityTypeCode) &&
          anyOf(e.formatCode, q.formatCode) &&
          allGroups(e.eventCodes, q.eventCodeList) &&
          allGroups(e.confidentialityCodes, q.confidentialityCode) &&
          authorMatches(e.authors, q.authorPerson) &&
          inRange(e.creationTime, q.creationTimeFrom, q.creationTimeTo) &&
          inRange(e.serviceStartTime, q.serviceStartTimeFrom, q.serviceStartTimeTo) &&
          inRange(e.serviceStopTime, q.serviceStopTimeFrom, q.serviceStopTimeTo),
      );
    if (entries.length > this.limit) return this.tooMany(this.limit);
    return { ok: true, objects: { ...empty(), documentEntries: entries } };
  }

  private async findSubmissionSets(q: FindSubmissionSetsQuery): Promise<QueryResult> {
    const patient = patientToken(q.patientId);
    const statuses = q.status.map((s) => LIST_STATUS[s]).filter((s): s is string => !!s);
    if (!patient || statuses.length === 0) return { ok: true, objects: empty() };
    const lists = await this.registry.search<List>('List', [
      ['patient.identifier', patient],
      ['code', SUBMISSION_SET_CODE],
      ['status', statuses.join(',')],
    ]);
    const sets = lists
      .map((l) => this.registry.setOf(l))
      .filter(
        (s) =>
          (!q.sourceId || (s.sourceId !== undefined && q.sourceId.includes(s.sourceId))) &&
          inRange(s.submissionTime, q.submissionTimeFrom, q.submissionTimeTo) &&
          authorMatches(s.authors, q.authorPerson ? [q.authorPerson] : undefined) &&
          anyOf(s.contentTypeCode, q.contentTypeCode),
      );
    if (sets.length > this.limit) return this.tooMany(this.limit);
    return { ok: true, objects: { ...empty(), submissionSets: sets } };
  }

  private async getDocuments(q: GetDocumentsQuery): Promise<QueryResult> {
    const found: DocumentEntry[] = [];
    if (q.entryUuids) {
      for (const id of q.entryUuids) {
        const obj = await this.registry.objectByEntryUuid(id.toLowerCase());
        if (obj?.resourceType === 'DocumentReference') found.push(this.registry.entryOf(obj));
      }
    }
    if (q.uniqueIds) {
      for (const id of q.uniqueIds) {
        const doc = await this.registry.documentByUniqueId(id);
        if (doc) found.push(this.registry.entryOf(doc));
      }
    }
    const unique = found.filter((e, i) => found.findIndex((f) => f.id === e.id) === i);
    if (unique.length > this.limit) return this.tooMany(this.limit);
    return { ok: true, objects: { ...empty(), documentEntries: unique } };
  }

  /** Associations whose source or target is one of the given objects. */
  private async getAssociations(q: GetAssociationsQuery): Promise<QueryResult> {
    const wanted = new Set(q.uuids.map((u) => u.toLowerCase()));
    const associations = new Map<string, Association>();
    for (const uuid of wanted) {
      const obj = await this.registry.objectByEntryUuid(uuid);
      if (!obj) continue;
      const ref = `${obj.resourceType}/${obj.id}`;
      const holders: (DocumentReference | List)[] = [obj];
      holders.push(...(await this.registry.search<List>('List', [['item', ref]])));
      if (obj.resourceType === 'DocumentReference')
        holders.push(...(await this.registry.search<DocumentReference>('DocumentReference', [['relatesto', ref]])));
      for (const a of await this.associationsOf(holders)) {
        if (wanted.has(a.sourceObject) || wanted.has(a.targetObject)) associations.set(a.id, a);
      }
    }
    if (associations.size > this.limit) return this.tooMany(this.limit);
    return { ok: true, objects: { ...empty(), associations: [...associations.values()] } };
  }

  private async associationsOf(resources: (DocumentReference | List)[]): Promise<Association[]> {
    const refs = new Set<string>();
    for (const r of resources) {
      if (r.resourceType === 'List') for (const e of r.entry ?? []) if (e.item.reference) refs.add(e.item.reference);
      if (r.resourceType === 'DocumentReference')
        for (const rel of r.relatesTo ?? []) if (rel.target.reference) refs.add(rel.target.reference);
    }
    const uuids = await this.registry.entryUuids(refs);
    const of = (ref: string) => uuids.get(ref);
    return resources.flatMap((r) =>
      r.resourceType === 'List' ? associationsOfList(r, of) : associationsOfDocument(r, of),
    );
  }

  private async getSubmissionSetAndContents(q: GetSubmissionSetAndContentsQuery): Promise<QueryResult> {
    let list: List | undefined;
    if (q.entryUuid) {
      const found = await this.registry.search<List>(
        'List',
        [
          ['identifier', entryUuidToken(q.entryUuid.toLowerCase())],
          ['code', SUBMISSION_SET_CODE],
        ],
        1,
      );
      list = found[0];
      if (!list) {
        const obj = await this.registry.objectByEntryUuid(q.entryUuid.toLowerCase());
        if (obj?.resourceType === 'List' && listKind(obj) === 'submissionset') list = obj;
      }
    } else if (q.uniqueId) {
      list = (
        await this.registry.search<List>(
          'List',
          [
            ['identifier', uniqueIdToken(q.uniqueId)],
            ['code', SUBMISSION_SET_CODE],
          ],
          1,
        )
      )[0];
    }
    if (!list) return { ok: true, objects: empty() };
    const set: SubmissionSet = this.registry.setOf(list);
    const refs = (list.entry ?? []).map((e) => e.item.reference).filter((r): r is string => !!r);
    const docIds = refs.filter((r) => r.startsWith('DocumentReference/')).map((r) => r.split('/')[1]!);
    const listIds = refs.filter((r) => r.startsWith('List/')).map((r) => r.split('/')[1]!);
    const docs = docIds.length
      ? await this.registry.search<DocumentReference>('DocumentReference', [['_id', docIds.join(',')]])
      : [];
    const folderLists = listIds.length ? await this.registry.search<List>('List', [['_id', listIds.join(',')]]) : [];
    const objectTypes = q.objectType ?? [ObjectType.stableDocumentEntry, ObjectType.onDemandDocumentEntry];
    const entries = docs
      .map((d) => ({ doc: d, entry: this.registry.entryOf(d) }))
      .filter(
        ({ entry }) =>
          objectTypes.includes(entry.objectType) &&
          anyOf(entry.formatCode, q.formatCode) &&
          allGroups(entry.confidentialityCodes, q.confidentialityCode),
      );
    const folders: Folder[] = folderLists.map((f) => this.registry.folderOf(f));
    const kept = new Set([set.id, ...entries.map((e) => e.entry.id), ...folders.map((f) => f.id)]);
    const associations = (await this.associationsOf([list, ...folderLists])).filter(
      (a) => kept.has(a.sourceObject) && (kept.has(a.targetObject) || a.sourceObject === set.id),
    );
    // HasMember associations to an excluded document are excluded with it (§3.18.4.1.2.3.7.6).
    const excludedDocs = new Set(docs.map((d) => this.registry.entryOf(d).id).filter((id) => !kept.has(id)));
    return {
      ok: true,
      objects: {
        ...empty(),
        submissionSets: [set],
        documentEntries: entries.map((e) => e.entry),
        folders,
        associations: associations.filter((a) => !excludedDocs.has(a.targetObject)),
      },
    };
  }
}
