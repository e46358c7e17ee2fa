// The document registry and repository on the canonical store: one storage for XDS.b, MHD and MSSanté.
//
// Filing turns a submission (XDS metadata + document bytes) into one FHIR transaction — the patient by identifier,
// a Binary per document (its bytes in the content-addressed blob store, docs/adr/0010), a DocumentReference per
// DocumentEntry, a List per SubmissionSet and Folder, updates of replaced entries and extended folders — appended
// with its origin, so the store writes the Provenance. Reading goes the other way: the registry is a view.
import { createHash } from 'node:crypto';
import type {
  Binary,
  Bundle,
  BundleEntry,
  DocumentReference,
  DocumentReferenceRelatesTo,
  List,
  ListEntry,
  Patient,
  Resource,
} from '@medplum/fhirtypes';
import { AssociationType, AvailabilityStatus, ObjectType, XdsErrorCode } from '../../adapters/xds/constants.js';
import { parsePatientIdentifier } from '../../adapters/xds/hl7-values.js';
import type {
  Association,
  DocumentEntry,
  Folder,
  RegistryObjectList,
  SubmissionSet,
  XdsIssue,
} from '../../adapters/xds/model.js';
import type { SubmittedDocument } from '../../adapters/xds/validate.js';
import type { BlobStore } from '../../store/blob/blob-store.js';
import type { CanonicalStore } from '../../store/canonical-store.js';
import type { ChangeOrigin } from '../../store/change-set.js';
import type { ChangeSetOutcome } from '../../store/projection/apply.js';
import { parseSearch } from '../../store/search/search-query.js';
import { uuidV5 } from '../../store/uuid.js';
import { sourcePatientToPatient } from './hl7-fhir.js';
import { KeneyExt } from './vocabulary.js';
import {
  associationExtension,
  documentEntryFromReference,
  documentReferenceFromEntry,
  entryUuidToken,
  folderFromList,
  listFromFolder,
  listFromSubmissionSet,
  listKind,
  patientIdentifier,
  patientToken,
  relatesToCode,
  submissionSetFromList,
  uniqueIdToken,
} from './xds-fhir.js';

export interface DocumentRegistryOptions {
  /** This repository's uniqueId (an OID): ITI-43 requests name it, ITI-18 results carry it. */
  repositoryUniqueId: string;
  /** The homeCommunityId (urn:oid:…) put on query results, when the hub is part of a community. */
  homeCommunityId?: string;
  /** Refuse submissions about a patient the store does not know (XDSUnknownPatientId); default false: create it. */
  requireKnownPatient?: boolean;
  /** Upper bound of the objects a stored query returns (XDSTooManyResults above; default 1000). */
  maxQueryResults?: number;
}

/** A submission to file: validated metadata, document bytes by DocumentEntry id. */
export interface Submission {
  objects: RegistryObjectList;
  documents: ReadonlyMap<string, SubmittedDocument>;
  /** Where it came from (the store writes the Provenance from it). */
  origin: ChangeOrigin;
  /** ITI-42 registers metadata only; the repository side (ITI-41, MHD, XDM) keeps the bytes. */
  withDocuments: boolean;
}

export type FilingResult =
  | {
      status: 'filed';
      changeSetId: string;
      outcome: ChangeSetOutcome;
      objects: RegistryObjectList;
      documentReferences: string[];
    }
  | { status: 'duplicate'; objects: RegistryObjectList; documentReferences: string[] }
  | { status: 'refused'; issues: XdsIssue[] };

export interface StoredDocument {
  reference: DocumentReference;
  bytes: Buffer;
  contentType: string;
}

const URN_UUID = /^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const PAGE = 1000;

function issue(code: XdsIssue['code'], message: string, location?: string): XdsIssue {
  return { code, severity: 'error', message, ...(location ? { location } : {}) };
}

export class DocumentRegistry {
  readonly repositoryUniqueId: string;
  readonly homeCommunityId: string | undefined;
  readonly maxResults: number;

  constructor(
    private readonly store: CanonicalStore,
    private readonly blobs: BlobStore,
    private readonly options: DocumentRegistryOptions,
  ) {
    this.repositoryUniqueId = options.repositoryUniqueId;
    this.homeCommunityId = options.homeCommunityId;
    this.maxResults = options.maxQueryResults ?? 1000;
  }

  // ---- store access -----------------------------------------------------------------------------------------------

  /** All matches of a search (pages through), at most `limit` (one more tells the caller there were too many). */
  async search<T extends Resource>(
    type: T['resourceType'],
    params: [string, string][],
    limit = this.maxResults + 1,
  ): Promise<T[]> {
    const out: T[] = [];
    for (let offset = 0; out.length < limit; offset += PAGE) {
      const query = parseSearch(
        type,
        [...params, ['_count', String(Math.min(PAGE, limit - out.length))], ['_offset', String(offset)]],
        { strict: true },
      );
      const result = await this.store.search(query);
      for (const m of result.matches) out.push(JSON.parse(m.content) as T);
      if (!result.hasMore) break;
    }
    return out;
  }

  async read<T extends Resource>(type: T['resourceType'], id: string): Promise<T | undefined> {
    try {
      const version = await this.store.read(type, id);
      return version.deleted ? undefined : (JSON.parse(version.content) as T);
    } catch (error) {
      if ((error as { status?: number }).status === 404 || (error as { status?: number }).status === 410)
        return undefined;
      throw error;
    }
  }

  async documentByUniqueId(uniqueId: string): Promise<DocumentReference | undefined> {
    const found = await this.search<DocumentReference>(
      'DocumentReference',
      [['identifier', uniqueIdToken(uniqueId)]],
      2,
    );
    if (found[0]) return found.find((d) => documentEntryFromReference(d).uniqueId === uniqueId) ?? found[0];
    // A DocumentReference written by another channel has no uniqueId of its own: its view uses 2.25.<uuid of its id>.
    const uuid = uuidOfOid(uniqueId);
    return uuid ? this.read<DocumentReference>('DocumentReference', uuid) : undefined;
  }

  /** The resource (DocumentReference or List) with this entryUUID. */
  async objectByEntryUuid(entryUuid: string): Promise<DocumentReference | List | undefined> {
    const token = entryUuidToken(entryUuid);
    const [doc] = await this.search<DocumentReference>('DocumentReference', [['identifier', token]], 1);
    if (doc) return doc;
    const [list] = await this.search<List>('List', [['identifier', token]], 1);
    if (list) return list;
    // Views of resources without an entryUUID identifier use urn:uuid:<their id> when the id is a UUID.
    const id = entryUuid.slice('urn:uuid:'.length);
    return (await this.read<DocumentReference>('DocumentReference', id)) ?? (await this.read<List>('List', id));
  }

  // ---- the XDS view -----------------------------------------------------------------------------------------------

  /** A DocumentReference as this registry shows it (repository id, size and hash of local documents). */
  entryOf(doc: DocumentReference): DocumentEntry {
    const fallbackId = doc.id && /^[0-9a-f-]{36}$/i.test(doc.id) ? `urn:uuid:${doc.id}` : undefined;
    const entry = documentEntryFromReference(doc, fallbackId ? { fallbackId } : {});
    if (!entry.uniqueId && doc.id && /^[0-9a-f-]{36}$/i.test(doc.id)) entry.uniqueId = oidOfUuid(doc.id);
    if (!entry.repositoryUniqueId && isLocalBinary(doc.content?.[0]?.attachment?.url))
      entry.repositoryUniqueId = this.repositoryUniqueId;
    if (this.homeCommunityId && !entry.home) entry.home = this.homeCommunityId;
    return entry;
  }

  setOf(list: List): SubmissionSet {
    const set = submissionSetFromList(list);
    if (this.homeCommunityId && !set.home) set.home = this.homeCommunityId;
    return set;
  }

  folderOf(list: List): Folder {
    const folder = folderFromList(list);
    if (this.homeCommunityId && !folder.home) folder.home = this.homeCommunityId;
    return folder;
  }

  /** entryUUIDs of referenced resources (`Type/id`), fetched in one search per type. */
  async entryUuids(references: Iterable<string>): Promise<Map<string, string>> {
    const byType = new Map<string, Set<string>>();
    for (const ref of references) {
      const [type, id] = ref.split('/');
      if ((type === 'DocumentReference' || type === 'List') && id)
        byType.set(type, (byType.get(type) ?? new Set()).add(id));
    }
    const out = new Map<string, string>();
    for (const [type, ids] of byType) {
      const list = [...ids];
      for (let i = 0; i < list.length; i += 100) {
        const found = await this.search<DocumentReference | List>(
          type as 'List',
          [['_id', list.slice(i, i + 100).join(',')]],
          100,
        );
        for (const r of found)
          out.set(
            `${type}/${r.id}`,
            r.resourceType === 'List'
              ? listKind(r) === 'folder'
                ? this.folderOf(r).id
                : this.setOf(r).id
              : this.entryOf(r).id,
          );
      }
    }
    return out;
  }

  // ---- filing -----------------------------------------------------------------------------------------------------

  /** Files a validated submission: checks the registry's state, stores the bytes, appends one change set. */
  async file(submission: Submission): Promise<FilingResult> {
    const now = new Date();
    const objects = structuredClone(submission.objects);
    const set = objects.submissionSets[0];
    if (!set)
      return {
        status: 'refused',
        issues: [issue(XdsErrorCode.registryMetadataError, 'The submission has no SubmissionSet')],
      };
    const key = set.uniqueId ?? submission.origin.rawSha256 ?? crypto.randomUUID();
    const symbolic = assignEntryUuids(objects, key);
    const documents = new Map<string, SubmittedDocument>();
    for (const [id, doc] of submission.documents) documents.set(symbolic.get(id) ?? id, doc);

    // The repository knows the documents' hash and size: the registry checks (duplicates) compare them.
    if (submission.withDocuments) {
      for (const entry of objects.documentEntries) {
        const doc = documents.get(entry.id);
        if (!doc) continue;
        entry.hash ??= createHash('sha1').update(doc.bytes).digest('hex');
        entry.size ??= String(doc.bytes.byteLength);
      }
    }
    const checked = await this.check(objects);
    if (checked.replay) return checked.replay;
    if (checked.issues.length > 0) return { status: 'refused', issues: checked.issues };
    const existing = checked.existing;

    // Repository side: the bytes are made durable before the change set that points at them.
    const indexedAt = now.toISOString();
    const blobOf = new Map<string, { sha256: string; size: number; sha1: string; contentType: string }>();
    if (submission.withDocuments) {
      for (const entry of objects.documentEntries) {
        const doc = documents.get(entry.id);
        if (!doc) continue;
        const ref = await this.blobs.put(doc.bytes);
        const sha1 = createHash('sha1').update(doc.bytes).digest('hex');
        blobOf.set(entry.id, {
          sha256: ref.sha256,
          size: ref.size,
          sha1,
          contentType: entry.mimeType ?? doc.contentType ?? 'application/octet-stream',
        });
        if (!entry.hash) entry.hash = sha1;
        if (!entry.size) entry.size = String(doc.bytes.byteLength);
        entry.repositoryUniqueId ??= this.repositoryUniqueId;
      }
    }
    for (const entry of objects.documentEntries) entry.status ??= AvailabilityStatus.approved;
    set.status ??= AvailabilityStatus.approved;
    for (const folder of objects.folders) {
      folder.status ??= AvailabilityStatus.approved;
      folder.lastUpdateTime ??= toDtm(now);
    }

    const changeSetId = uuidV5(`keney:documents:${set.id}`);
    const bundle = this.bundleOf(objects, blobOf, existing, indexedAt, changeSetId);
    const outcome = await this.store.submit({
      id: changeSetId,
      bundle,
      origin: { ...submission.origin, controlId: submission.origin.controlId ?? set.uniqueId ?? set.id },
    });
    if (outcome.status === 'rejected') {
      const text = (outcome.response as { issue?: { diagnostics?: string; details?: { text?: string } }[] }).issue
        ?.map((i) => i.details?.text ?? i.diagnostics)
        .join('; ');
      return {
        status: 'refused',
        issues: [issue(XdsErrorCode.registryError, `The record refused the submission: ${text ?? 'see the hub log'}`)],
      };
    }
    const response = outcome.response as Bundle;
    const documentReferences = (response.entry ?? [])
      .map((e) => e.response?.location?.split('/_history')[0])
      .filter((l): l is string => !!l && l.startsWith('DocumentReference/'));
    return { status: 'filed', changeSetId, outcome, objects, documentReferences };
  }

  /**
   * Checks a submission against the registry's state: duplicate uniqueIds (XDSDuplicateUniqueIdInRegistry,
   * XDSNonIdenticalHash/Size), references to objects that do not exist (UnresolvedReferenceException), replacement of
   * an entry that is not current, patients (XDSPatientIdDoesNotMatch, XDSUnknownPatientId when required). The same
   * submission again is a replay: answered as before, nothing written.
   */
  async check(
    objects: RegistryObjectList,
  ): Promise<{ issues: XdsIssue[]; replay?: FilingResult; existing: ExistingState }> {
    const existing = await this.existingState(objects);
    const replay = await this.replayOf(objects, existing);
    if (replay) return { issues: [], replay, existing };
    const issues = this.refusals(objects, existing);
    const set = objects.submissionSets[0];
    if (issues.length === 0 && this.options.requireKnownPatient && set?.patientId) {
      const token = patientToken(set.patientId);
      const known = token ? await this.search<Patient>('Patient', [['identifier', token]], 1) : [];
      if (known.length === 0)
        issues.push(
          issue(
            XdsErrorCode.unknownPatientId,
            `Patient ${set.patientId} is not known in this affinity domain: register the patient first (PIX/PAM feed)`,
            set.patientId,
          ),
        );
    }
    return { issues, existing };
  }

  /** The resources the submission refers to or collides with. */
  private async existingState(objects: RegistryObjectList): Promise<ExistingState> {
    const state: ExistingState = {
      byEntryUuid: new Map(),
      documentsByUniqueId: new Map(),
      setByUniqueId: undefined,
      foldersByUniqueId: new Map(),
      takenEntryUuids: new Map(),
    };
    const own = new Set(
      [...objects.documentEntries, ...objects.folders, ...objects.submissionSets, ...objects.associations].map(
        (o) => o.id,
      ),
    );
    for (const o of [...objects.documentEntries, ...objects.folders, ...objects.submissionSets]) {
      if (!URN_UUID.test(o.id)) continue;
      const taken = await this.objectByEntryUuid(o.id);
      if (taken) state.takenEntryUuids.set(o.id, taken);
    }
    const refs = new Set<string>();
    for (const a of objects.associations)
      for (const r of [a.sourceObject, a.targetObject]) if (r && !own.has(r) && URN_UUID.test(r)) refs.add(r);
    for (const r of refs) {
      const found = await this.objectByEntryUuid(r);
      if (found) state.byEntryUuid.set(r, found);
    }
    for (const e of objects.documentEntries) {
      if (!e.uniqueId) continue;
      const found = await this.documentByUniqueId(e.uniqueId);
      if (found && this.entryOf(found).uniqueId === e.uniqueId) state.documentsByUniqueId.set(e.uniqueId, found);
    }
    const set = objects.submissionSets[0];
    if (set?.uniqueId)
      state.setByUniqueId = (
        await this.search<List>(
          'List',
          [
            ['identifier', uniqueIdToken(set.uniqueId)],
            ['code', 'https://profiles.ihe.net/ITI/MHD/CodeSystem/MHDlistTypes|submissionset'],
          ],
          1,
        )
      )[0];
    for (const f of objects.folders) {
      if (!f.uniqueId) continue;
      const [found] = await this.search<List>(
        'List',
        [
          ['identifier', uniqueIdToken(f.uniqueId)],
          ['code', 'https://profiles.ihe.net/ITI/MHD/CodeSystem/MHDlistTypes|folder'],
        ],
        1,
      );
      if (found) state.foldersByUniqueId.set(f.uniqueId, found);
    }
    return state;
  }

  /** The same submission again (same SubmissionSet uniqueId, same documents): answered as before, nothing written. */
  private async replayOf(objects: RegistryObjectList, existing: ExistingState): Promise<FilingResult | undefined> {
    const stored = existing.setByUniqueId;
    if (!stored) return undefined;
    const same = objects.documentEntries.every((e) => {
      const found = e.uniqueId ? existing.documentsByUniqueId.get(e.uniqueId) : undefined;
      if (!found) return false;
      const prior = this.entryOf(found);
      return (!e.hash || prior.hash?.toLowerCase() === e.hash.toLowerCase()) && (!e.size || prior.size === e.size);
    });
    if (!same) return undefined;
    return {
      status: 'duplicate',
      objects,
      documentReferences: [...existing.documentsByUniqueId.values()].map((d) => `DocumentReference/${d.id}`),
    };
  }

  private refusals(objects: RegistryObjectList, existing: ExistingState): XdsIssue[] {
    const issues: XdsIssue[] = [];
    const set = objects.submissionSets[0]!;
    if (existing.setByUniqueId) {
      issues.push(
        issue(
          XdsErrorCode.duplicateUniqueIdInRegistry,
          `SubmissionSet uniqueId ${set.uniqueId} is already registered with other content: give this submission a new uniqueId`,
          set.uniqueId,
        ),
      );
    }
    for (const f of objects.folders) {
      if (f.uniqueId && existing.foldersByUniqueId.has(f.uniqueId))
        issues.push(
          issue(
            XdsErrorCode.duplicateUniqueIdInRegistry,
            `Folder uniqueId ${f.uniqueId} is already registered: give the new folder a new uniqueId, or add documents to the existing folder with a HasMember association to its entryUUID`,
            f.uniqueId,
          ),
        );
    }
    for (const e of objects.documentEntries) {
      const found = e.uniqueId ? existing.documentsByUniqueId.get(e.uniqueId) : undefined;
      if (!found) continue;
      const prior = this.entryOf(found);
      if (e.hash && prior.hash && prior.hash.toLowerCase() !== e.hash.toLowerCase()) {
        issues.push(
          issue(
            XdsErrorCode.nonIdenticalHash,
            `Document ${e.uniqueId} is already registered with hash ${prior.hash}, this one has ${e.hash}: a changed document needs a new uniqueId (and an RPLC association to replace the old one)`,
            e.uniqueId,
          ),
        );
      } else if (e.size && prior.size && prior.size !== e.size) {
        issues.push(
          issue(
            XdsErrorCode.nonIdenticalSize,
            `Document ${e.uniqueId} is already registered with size ${prior.size}, this one has ${e.size}`,
            e.uniqueId,
          ),
        );
      } else {
        issues.push(
          issue(
            XdsErrorCode.registryMetadataError,
            `Document ${e.uniqueId} is already registered (entryUUID ${prior.id}): to list it in this submission set, send a HasMember association to ${prior.id} with SubmissionSetStatus=Reference instead of a new DocumentEntry`,
            e.uniqueId,
          ),
        );
      }
    }
    // (Symbolic ids get UUIDs derived from the SubmissionSet uniqueId: a duplicate set says it all.)
    for (const [id, taken] of existing.setByUniqueId ? [] : existing.takenEntryUuids) {
      const sameDocument =
        taken.resourceType === 'DocumentReference' &&
        objects.documentEntries.some(
          (e) => e.id === id && e.uniqueId && existing.documentsByUniqueId.get(e.uniqueId)?.id === taken.id,
        );
      if (!sameDocument)
        issues.push(
          issue(
            XdsErrorCode.registryMetadataError,
            `entryUUID ${id} already names an object of the registry (${taken.resourceType}/${taken.id}): give the new object a new entryUUID (or a symbolic id)`,
            id,
          ),
        );
    }
    const own = new Set(
      [...objects.documentEntries, ...objects.folders, ...objects.submissionSets, ...objects.associations].map(
        (o) => o.id,
      ),
    );
    for (const a of objects.associations) {
      for (const ref of [a.sourceObject, a.targetObject]) {
        if (!own.has(ref) && !existing.byEntryUuid.has(ref)) {
          issues.push(
            issue(
              XdsErrorCode.unresolvedReference,
              `Association ${a.id} refers to ${ref}, which is neither in the submission nor in the registry`,
              a.id,
            ),
          );
        }
      }
      const target = existing.byEntryUuid.get(a.targetObject);
      if (
        (a.associationType === AssociationType.replace || a.associationType === AssociationType.transformAndReplace) &&
        target?.resourceType === 'DocumentReference' &&
        target.status !== 'current'
      ) {
        issues.push(
          issue(
            XdsErrorCode.registryMetadataError,
            `Association ${a.id} replaces ${a.targetObject}, which is not Approved (already replaced?): replace the current version`,
            a.id,
          ),
        );
      }
    }
    for (const e of objects.documentEntries) {
      if (e.patientId && 'error' in parsePatientIdentifier(e.patientId)) continue;
      for (const a of objects.associations) {
        const target = existing.byEntryUuid.get(a.targetObject);
        if (
          a.sourceObject === e.id &&
          target?.resourceType === 'DocumentReference' &&
          relatesToCode(a.associationType)
        ) {
          const targetPatient = this.entryOf(target).patientId;
          if (targetPatient && e.patientId && targetPatient !== e.patientId) {
            issues.push(
              issue(
                XdsErrorCode.patientIdDoesNotMatch,
                `Association ${a.id}: ${e.id} is about ${e.patientId} but ${a.targetObject} is about ${targetPatient}`,
                a.id,
              ),
            );
          }
        }
      }
    }
    return issues;
  }

  private bundleOf(
    objects: RegistryObjectList,
    blobs: Map<string, { sha256: string; size: number; sha1: string; contentType: string }>,
    existing: ExistingState,
    indexedAt: string,
    changeSetId: string,
  ): Bundle {
    const entries: BundleEntry[] = [];
    const fullUrl = (id: string) => `urn:uuid:${uuidV5(`${changeSetId}/${id}`)}`;
    const refOf = (id: string): string | undefined => {
      const own = [...objects.documentEntries, ...objects.folders, ...objects.submissionSets].find((o) => o.id === id);
      if (own) return fullUrl(own.id);
      const found = existing.byEntryUuid.get(id);
      return found ? `${found.resourceType}/${found.id}` : undefined;
    };

    // Patients, by their affinity-domain identifier: created when unknown, never modified here.
    const patients = new Map<string, string>();
    const patientRef = (cx: string | undefined, sourcePatient?: DocumentEntry): string | undefined => {
      if (!cx) return undefined;
      const token = patientToken(cx);
      const identifier = patientIdentifier(cx);
      if (!token || !identifier) return undefined;
      let url = patients.get(token);
      if (!url) {
        url = `urn:uuid:${uuidV5(`${changeSetId}/patient/${token}`)}`;
        patients.set(token, url);
        const traits = sourcePatient
          ? sourcePatientToPatient(
              undefined,
              sourcePatient.sourcePatientInfo.filter((l) => !/^PID-3\|/i.test(l)),
              'p',
            )
          : undefined;
        const resource: Patient = {
          resourceType: 'Patient',
          identifier: [identifier],
          ...(traits?.name ? { name: traits.name } : {}),
          ...(traits?.birthDate ? { birthDate: traits.birthDate } : {}),
          ...(traits?.gender ? { gender: traits.gender } : {}),
        };
        entries.push({
          fullUrl: url,
          resource,
          request: { method: 'POST', url: 'Patient', ifNoneExist: `identifier=${encodeURIComponent(token)}` },
        });
      }
      return url;
    };
    const set = objects.submissionSets[0]!;
    for (const e of objects.documentEntries) patientRef(e.patientId, e);
    patientRef(set.patientId);

    // Binaries: the bytes live in the blob store; the Binary says which blob and who may see it.
    for (const e of objects.documentEntries) {
      const blob = blobs.get(e.id);
      if (!blob) continue;
      const binary: Binary = {
        resourceType: 'Binary',
        meta: { extension: [{ url: KeneyExt.blob, valueString: blob.sha256 }] },
        contentType: blob.contentType,
        securityContext: { reference: fullUrl(e.id) },
      };
      entries.push({
        fullUrl: fullUrl(`binary/${e.id}`),
        resource: binary,
        request: { method: 'POST', url: 'Binary' },
      });
    }

    // Associations: HasMember → List entries; document relations → relatesTo; the rest kept on the SubmissionSet.
    const listEntries = new Map<string, ListEntry[]>();
    const relatesTo = new Map<string, DocumentReferenceRelatesTo[]>();
    const others: Association[] = [];
    const deprecate = new Set<string>();
    const extendFolders = new Map<string, ListEntry[]>();
    const documentIds = new Set(objects.documentEntries.map((e) => e.id));
    const listIds = new Set([...objects.folders, ...objects.submissionSets].map((o) => o.id));
    for (const a of objects.associations) {
      const target = refOf(a.targetObject);
      const entry: ListEntry = { item: { reference: target ?? a.targetObject }, extension: [associationExtension(a)] };
      if (
        a.associationType === AssociationType.hasMember &&
        listIds.has(a.sourceObject) &&
        target &&
        (documentIds.has(a.targetObject) || listIds.has(a.targetObject) || existing.byEntryUuid.has(a.targetObject))
      ) {
        listEntries.set(a.sourceObject, [...(listEntries.get(a.sourceObject) ?? []), entry]);
        continue;
      }
      const existingSource = existing.byEntryUuid.get(a.sourceObject);
      if (
        a.associationType === AssociationType.hasMember &&
        existingSource?.resourceType === 'List' &&
        listKind(existingSource) === 'folder' &&
        target
      ) {
        extendFolders.set(a.sourceObject, [...(extendFolders.get(a.sourceObject) ?? []), entry]);
        continue;
      }
      const code = relatesToCode(a.associationType);
      if (code && documentIds.has(a.sourceObject) && target) {
        relatesTo.set(a.sourceObject, [
          ...(relatesTo.get(a.sourceObject) ?? []),
          { code, target: { reference: target }, extension: [associationExtension(a)] },
        ]);
        const old = existing.byEntryUuid.get(a.targetObject);
        if (
          (a.associationType === AssociationType.replace ||
            a.associationType === AssociationType.transformAndReplace) &&
          old?.resourceType === 'DocumentReference'
        )
          deprecate.add(a.targetObject);
        continue;
      }
      others.push(a);
    }

    for (const e of objects.documentEntries) {
      const doc = documentReferenceFromEntry(e, {
        indexedAt,
        ...(patientRef(e.patientId, e) ? { subjectReference: patientRef(e.patientId, e)! } : {}),
        ...(blobs.has(e.id) ? { url: fullUrl(`binary/${e.id}`) } : {}),
        ...(relatesTo.get(e.id) ? { relatesTo: relatesTo.get(e.id)! } : {}),
      });
      // Conditional on the uniqueId: two submissions racing with one document converge on one DocumentReference.
      const condition = e.uniqueId ? uniqueIdToken(e.uniqueId) : entryUuidToken(e.id);
      entries.push({
        fullUrl: fullUrl(e.id),
        resource: doc,
        request: {
          method: 'POST',
          url: 'DocumentReference',
          ifNoneExist: `identifier=${encodeURIComponent(condition)}`,
        },
      });
    }
    for (const f of objects.folders) {
      const list = listFromFolder(f, {
        indexedAt,
        entries: listEntries.get(f.id) ?? [],
        ...(patientRef(f.patientId) ? { subjectReference: patientRef(f.patientId)! } : {}),
      });
      entries.push({
        fullUrl: fullUrl(f.id),
        resource: list,
        request: { method: 'POST', url: 'List', ifNoneExist: `identifier=${encodeURIComponent(entryUuidToken(f.id))}` },
      });
    }
    const setList = listFromSubmissionSet(set, {
      indexedAt,
      entries: listEntries.get(set.id) ?? [],
      otherAssociations: others,
      ...(patientRef(set.patientId) ? { subjectReference: patientRef(set.patientId)! } : {}),
    });
    entries.push({
      fullUrl: fullUrl(set.id),
      resource: setList,
      request: { method: 'POST', url: 'List', ifNoneExist: `identifier=${encodeURIComponent(entryUuidToken(set.id))}` },
    });

    // Updates of what was there: replaced documents become superseded (Deprecated), folders get their new members.
    for (const id of deprecate) {
      const old = existing.byEntryUuid.get(id) as DocumentReference;
      const { meta, ...rest } = old;
      entries.push({
        resource: { ...rest, status: 'superseded' },
        request: {
          method: 'PUT',
          url: `DocumentReference/${old.id}`,
          ...(meta?.versionId ? { ifMatch: `W/"${meta.versionId}"` } : {}),
        },
      });
    }
    for (const [id, added] of extendFolders) {
      const folder = existing.byEntryUuid.get(id) as List;
      const { meta, ...rest } = folder;
      entries.push({
        resource: { ...rest, entry: [...(folder.entry ?? []), ...added], date: indexedAt },
        request: {
          method: 'PUT',
          url: `List/${folder.id}`,
          ...(meta?.versionId ? { ifMatch: `W/"${meta.versionId}"` } : {}),
        },
      });
    }
    return { resourceType: 'Bundle', type: 'transaction', entry: entries };
  }

  // ---- repository -------------------------------------------------------------------------------------------------

  /** The bytes of a document (ITI-43, ITI-68) from the Binary its attachment points to. */
  async documentBytes(doc: DocumentReference): Promise<StoredDocument | undefined> {
    const attachment = doc.content?.[0]?.attachment;
    if (!attachment) return undefined;
    if (attachment.data !== undefined)
      return {
        reference: doc,
        bytes: Buffer.from(attachment.data, 'base64'),
        contentType: attachment.contentType ?? 'application/octet-stream',
      };
    const id = localBinaryId(attachment.url);
    if (!id) return undefined;
    const binary = await this.read<Binary>('Binary', id);
    if (!binary) return undefined;
    const bytes = await this.binaryBytes(binary);
    return bytes
      ? {
          reference: doc,
          bytes,
          contentType: attachment.contentType ?? binary.contentType ?? 'application/octet-stream',
        }
      : undefined;
  }

  /** Makes bytes durable in the blob store (before the change set that points at them). */
  putBlob(bytes: Uint8Array): Promise<{ sha256: string; size: number }> {
    return this.blobs.put(bytes);
  }

  /** A Binary's bytes: inline data, or the blob it points to. */
  async binaryBytes(binary: Binary): Promise<Buffer | undefined> {
    if (binary.data !== undefined) return Buffer.from(binary.data, 'base64');
    const sha256 = blobOfBinary(binary);
    if (!sha256) return undefined;
    return this.blobs.get(sha256);
  }
}

interface ExistingState {
  /** Objects referenced by associations that are already in the registry. */
  byEntryUuid: Map<string, DocumentReference | List>;
  documentsByUniqueId: Map<string, DocumentReference>;
  setByUniqueId: List | undefined;
  foldersByUniqueId: Map<string, List>;
  /** entryUUIDs of the submission already naming an object of the registry. */
  takenEntryUuids: Map<string, DocumentReference | List>;
}

/** Symbolic ids (`Document01`) become stable UUIDs (derived from the submission's uniqueId); references follow. */
function assignEntryUuids(objects: RegistryObjectList, key: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const o of [
    ...objects.submissionSets,
    ...objects.folders,
    ...objects.documentEntries,
    ...objects.associations,
  ]) {
    if (URN_UUID.test(o.id)) continue;
    map.set(o.id, `urn:uuid:${uuidV5(`keney:xds-entry:${key}:${o.id}`)}`);
  }
  for (const o of [
    ...objects.submissionSets,
    ...objects.folders,
    ...objects.documentEntries,
    ...objects.associations,
  ]) {
    o.id = map.get(o.id) ?? o.id.toLowerCase();
  }
  for (const a of objects.associations) {
    a.sourceObject = map.get(a.sourceObject) ?? a.sourceObject.toLowerCase();
    a.targetObject = map.get(a.targetObject) ?? a.targetObject.toLowerCase();
  }
  return map;
}

function toDtm(date: Date): string {
  return date.toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

export function localBinaryId(url: string | undefined): string | undefined {
  const match = url ? /(?:^|\/)Binary\/([A-Za-z0-9\-.]{1,64})$/.exec(url) : null;
  return match?.[1];
}

function isLocalBinary(url: string | undefined): boolean {
  return localBinaryId(url) !== undefined;
}

/** The blob (sha256) holding a Binary's bytes, from its meta (Binary has no extension of its own in R4). */
export function blobOfBinary(binary: Binary): string | undefined {
  return binary.meta?.extension?.find((e) => e.url === KeneyExt.blob)?.valueString;
}

/** 2.25.<decimal of a UUID> (ITU-T X.667): the uniqueId of a DocumentReference that has none of its own. */
export function oidOfUuid(uuid: string): string {
  return `2.25.${BigInt(`0x${uuid.replace(/-/g, '')}`).toString(10)}`;
}

export function uuidOfOid(oid: string): string | undefined {
  const m = /^2\.25\.(\d{1,39})$/.exec(oid);
  if (!m) return undefined;
  const n = BigInt(m[1]!);
  if (n >= 1n << 128n) return undefined;
  const hex = n.toString(16).padStart(32, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export { ObjectType };
