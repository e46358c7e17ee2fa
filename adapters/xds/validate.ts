// Metadata validation for ITI-41 (Provide and Register), ITI-42 (Register) and XDM media, with the exact XDS error
// codes (ITI TF-3 Table 4.2.4.1-2). Pure: checks that need the registry's state (duplicate uniqueId in the registry,
// unknown patient, references to existing entries) take their answers from the optional `registry` hooks.
import { createHash } from 'node:crypto';
import { AssociationType, AvailabilityStatus, ObjectType, XdsErrorCode } from './constants.js';
import { isDocumentUniqueId, isOid, isXdsDateTime, parsePatientIdentifier } from './hl7-values.js';
import type { DocumentEntry, RegistryObjectList, XdsIssue } from './model.js';

export const SubmissionProfile = {
  /** ITI-41 received by a Document Repository (documents attached; hash/size/repositoryUniqueId optional). */
  provideAndRegister: 'ITI-41',
  /** ITI-42 received by a Document Registry (no documents; hash, size, repositoryUniqueId required). */
  register: 'ITI-42',
  /** XDM media / XDR limited metadata: only what ITI-32 requires, problems mostly warnings. */
  media: 'XDM',
} as const;
export type SubmissionProfile = (typeof SubmissionProfile)[keyof typeof SubmissionProfile];

export interface SubmittedDocument {
  bytes: Uint8Array;
  /** Content-Type of the MIME part, when the document came as an MTOM attachment. */
  contentType?: string;
}

export interface ValidationOptions {
  profile: SubmissionProfile;
  /** ITI-41/XDM: the documents, by DocumentEntry id. */
  documents?: ReadonlyMap<string, SubmittedDocument>;
  /** Registry state for the checks that need it (phase 2 wires the store here). */
  registry?: {
    /** Is this urn:uuid an entry already in the registry? (targets of RPLC/APND/HasMember to existing folders…) */
    hasObject?: (id: string) => boolean;
    /** Is this patient id known in the affinity domain? */
    knowsPatient?: (patientId: string) => boolean;
  };
}

/** Validates a parsed submission. Returns the issues (errors and warnings); no error means the submission is acceptable. */
export function validateSubmission(objects: RegistryObjectList, options: ValidationOptions): XdsIssue[] {
  const v = new Validator(options);
  v.run(objects);
  return v.issues;
}

class Validator {
  readonly issues: XdsIssue[] = [];
  constructor(private readonly options: ValidationOptions) {}

  private get media(): boolean {
    return this.options.profile === SubmissionProfile.media;
  }

  private add(
    code: XdsIssue['code'],
    message: string,
    location: string,
    severity: XdsIssue['severity'] = 'error',
  ): void {
    this.issues.push({ code, severity, message, location });
  }

  /** A requirement that is an error for XDS and a warning for media. */
  private required(
    present: boolean,
    what: string,
    location: string,
    inMedia: 'required' | 'optional' = 'optional',
  ): void {
    if (present) return;
    if (this.media && inMedia === 'optional') return;
    this.add(XdsErrorCode.registryMetadataError, `${location} has no ${what}: it is required`, location);
  }

  run(objects: RegistryObjectList): void {
    const { submissionSets, documentEntries, folders, associations } = objects;
    if (submissionSets.length !== 1) {
      this.add(
        XdsErrorCode.registryMetadataError,
        submissionSets.length === 0
          ? 'The submission has no SubmissionSet (a RegistryPackage classified as urn:uuid:a54d6aa5-d40d-43f9-88c5-b4633d873bdd): add one'
          : `The submission has ${submissionSets.length} SubmissionSets: send exactly one`,
        'SubmissionSet',
      );
    }
    const set = submissionSets[0];
    const ids = new Map<string, string>();
    for (const o of [...submissionSets, ...documentEntries, ...folders, ...associations]) {
      if (!o.id) continue;
      if (ids.has(o.id))
        this.add(
          XdsErrorCode.registryMetadataError,
          `The id "${o.id}" is used by two objects (${ids.get(o.id)} and ${o.kind}): ids must be unique`,
          o.id,
        );
      ids.set(o.id, o.kind);
      if (
        o.id.startsWith('urn:uuid:') &&
        !/^urn:uuid:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/.test(o.id)
      ) {
        this.add(XdsErrorCode.registryMetadataError, `${o.kind} id "${o.id}" is not a well-formed urn:uuid`, o.id);
      }
    }

    if (set) this.submissionSet(set);
    for (const entry of documentEntries) this.documentEntry(entry);
    for (const folder of folders) {
      const where = `Folder ${folder.id}`;
      this.required(!!folder.uniqueId, 'uniqueId', where);
      this.required(!!folder.patientId, 'patientId', where);
      this.required(folder.codeList.length > 0, 'codeList', where);
      this.required(!!folder.title, 'title (rim:Name)', where);
      if (folder.uniqueId && !isOid(folder.uniqueId))
        this.add(XdsErrorCode.registryMetadataError, `${where}: uniqueId "${folder.uniqueId}" is not an OID`, where);
    }

    // One patient per submission.
    if (set?.patientId) {
      for (const o of [...documentEntries, ...folders]) {
        if (o.patientId && o.patientId !== set.patientId) {
          this.add(
            XdsErrorCode.patientIdDoesNotMatch,
            `${o.kind} ${o.id} has patientId "${o.patientId}" but the SubmissionSet has "${set.patientId}": all objects of a submission are about one patient`,
            `${o.kind} ${o.id}`,
            this.media ? 'warning' : 'error',
          );
        }
      }
      if (!this.media && this.options.registry?.knowsPatient && !this.options.registry.knowsPatient(set.patientId)) {
        this.add(
          XdsErrorCode.unknownPatientId,
          `Patient id "${set.patientId}" is not known in this affinity domain: register the patient first (PIX feed)`,
          `SubmissionSet ${set.id}`,
        );
      }
    }

    // uniqueIds unique within the message.
    const seen = new Map<string, string>();
    for (const o of [...submissionSets, ...documentEntries, ...folders]) {
      if (!o.uniqueId) continue;
      const other = seen.get(o.uniqueId);
      if (other) {
        this.add(
          this.options.profile === SubmissionProfile.provideAndRegister
            ? XdsErrorCode.repositoryDuplicateUniqueIdInMessage
            : XdsErrorCode.registryDuplicateUniqueIdInMessage,
          `uniqueId "${o.uniqueId}" is used by ${other} and ${o.kind} ${o.id}: each object needs its own`,
          `${o.kind} ${o.id}`,
        );
      }
      seen.set(o.uniqueId, `${o.kind} ${o.id}`);
    }

    this.associations(objects, ids);
    if (this.options.profile !== SubmissionProfile.register) this.documents(documentEntries);
  }

  private submissionSet(set: RegistryObjectList['submissionSets'][number]): void {
    const where = `SubmissionSet ${set.id}`;
    this.required(!!set.uniqueId, 'uniqueId', where, 'required');
    this.required(!!set.sourceId, 'sourceId', where, 'required');
    this.required(!!set.patientId, 'patientId', where);
    this.required(!!set.submissionTime, 'submissionTime', where, 'required');
    this.required(!!set.contentTypeCode, 'contentTypeCode', where);
    if (this.media && set.authors.length === 0 && set.intendedRecipients.length === 0) {
      this.add(
        XdsErrorCode.registryMetadataError,
        `${where} has neither author nor intendedRecipient: XDM requires one of them`,
        where,
        'warning',
      );
    }
    if (set.uniqueId && !isOid(set.uniqueId))
      this.add(
        XdsErrorCode.registryMetadataError,
        `${where}: uniqueId "${set.uniqueId}" is not an OID (digits and dots, 64 characters at most)`,
        where,
        this.media ? 'warning' : 'error',
      );
    if (set.sourceId && !isOid(set.sourceId))
      this.add(
        XdsErrorCode.registryMetadataError,
        `${where}: sourceId "${set.sourceId}" is not an OID`,
        where,
        this.media ? 'warning' : 'error',
      );
    if (set.submissionTime && !isXdsDateTime(set.submissionTime)) {
      this.add(
        XdsErrorCode.registryMetadataError,
        `${where}: submissionTime "${set.submissionTime}" is not YYYY[MM[DD[hh[mm[ss]]]]]`,
        where,
        this.media ? 'warning' : 'error',
      );
    }
    if (set.patientId) this.patientId(set.patientId, where);
  }

  private patientId(value: string, where: string): void {
    const parsed = parsePatientIdentifier(value);
    if ('error' in parsed)
      this.add(
        XdsErrorCode.registryMetadataError,
        `${where}: ${parsed.error}`,
        where,
        this.media ? 'warning' : 'error',
      );
  }

  private documentEntry(entry: DocumentEntry): void {
    const where = `DocumentEntry ${entry.id}`;
    const xds = !this.media;
    this.required(!!entry.patientId, 'patientId', where);
    this.required(!!entry.uniqueId, 'uniqueId', where, 'required');
    this.required(!!entry.mimeType, 'mimeType', where, 'required');
    this.required(!!entry.classCode, 'classCode', where);
    this.required(entry.confidentialityCodes.length > 0, 'confidentialityCode', where);
    this.required(!!entry.creationTime, 'creationTime', where);
    this.required(!!entry.formatCode, 'formatCode', where);
    this.required(!!entry.healthcareFacilityTypeCode, 'healthcareFacilityTypeCode', where);
    this.required(!!entry.languageCode, 'languageCode', where);
    this.required(!!entry.practiceSettingCode, 'practiceSettingCode', where);
    this.required(!!entry.sourcePatientId, 'sourcePatientId', where);
    this.required(!!entry.typeCode, 'typeCode', where);
    if (this.options.profile === SubmissionProfile.register) {
      this.required(!!entry.hash, 'hash', where);
      this.required(!!entry.size, 'size', where);
      this.required(!!entry.repositoryUniqueId, 'repositoryUniqueId', where);
    }
    if (this.media) this.required(!!entry.uri, 'URI slot', where, 'optional');
    if (entry.uniqueId && !isDocumentUniqueId(entry.uniqueId)) {
      this.add(
        XdsErrorCode.registryMetadataError,
        `${where}: uniqueId "${entry.uniqueId}" is not an OID (optionally ^extension of 16 characters at most)`,
        where,
        xds ? 'error' : 'warning',
      );
    }
    for (const [name, value] of [
      ['creationTime', entry.creationTime],
      ['serviceStartTime', entry.serviceStartTime],
      ['serviceStopTime', entry.serviceStopTime],
    ] as const) {
      if (value && !isXdsDateTime(value)) {
        this.add(
          XdsErrorCode.registryMetadataError,
          `${where}: ${name} "${value}" is not YYYY[MM[DD[hh[mm[ss]]]]] (UTC)`,
          where,
          xds ? 'error' : 'warning',
        );
      }
    }
    if (entry.patientId) this.patientId(entry.patientId, where);
    if (entry.sourcePatientId && xds) {
      const parsed = parsePatientIdentifier(entry.sourcePatientId);
      if ('error' in parsed && !/^[^^]+\^\^\^/.test(entry.sourcePatientId)) {
        this.add(XdsErrorCode.registryMetadataError, `${where}: sourcePatientId ${parsed.error}`, where);
      }
    }
    if (entry.hash && !/^[0-9a-fA-F]{40}$/.test(entry.hash)) {
      this.add(
        XdsErrorCode.registryMetadataError,
        `${where}: hash "${entry.hash}" is not a SHA-1 in hexadecimal (40 characters)`,
        where,
        xds ? 'error' : 'warning',
      );
    }
    if (entry.size && !/^\d+$/.test(entry.size)) {
      this.add(
        XdsErrorCode.registryMetadataError,
        `${where}: size "${entry.size}" is not a number of bytes`,
        where,
        xds ? 'error' : 'warning',
      );
    }
    if (entry.repositoryUniqueId && !isOid(entry.repositoryUniqueId)) {
      this.add(
        XdsErrorCode.registryMetadataError,
        `${where}: repositoryUniqueId "${entry.repositoryUniqueId}" is not an OID`,
        where,
        xds ? 'error' : 'warning',
      );
    }
    if (
      entry.status &&
      entry.status !== AvailabilityStatus.approved &&
      entry.status !== AvailabilityStatus.submitted &&
      xds
    ) {
      this.add(
        XdsErrorCode.registryMetadataError,
        `${where}: a new DocumentEntry cannot be submitted with status "${entry.status}"`,
        where,
      );
    }
  }

  private associations(objects: RegistryObjectList, ids: Map<string, string>): void {
    const set = objects.submissionSets[0];
    const exists = (ref: string) =>
      ids.has(ref) ||
      (ref.startsWith('urn:uuid:') && (this.options.registry?.hasObject?.(ref) ?? !this.options.registry?.hasObject));
    const known = Object.values(AssociationType) as string[];
    const members = new Set<string>();
    for (const a of objects.associations) {
      const where = `Association ${a.id}`;
      if (a.rawAssociationType) {
        this.add(
          XdsErrorCode.registryMetadataError,
          `${where}: associationType "${a.rawAssociationType}" is the legacy short form: write ${a.associationType}`,
          where,
          this.media ? 'warning' : 'error',
        );
      }
      if (!known.includes(a.associationType)) {
        this.add(
          XdsErrorCode.registryMetadataError,
          `${where}: unknown associationType "${a.associationType}"`,
          where,
          this.media ? 'warning' : 'error',
        );
      }
      for (const ref of [a.sourceObject, a.targetObject]) {
        if (ref && !exists(ref)) {
          this.add(
            XdsErrorCode.unresolvedReference,
            `${where} refers to "${ref}", which is neither in the submission nor ${ref.startsWith('urn:uuid:') ? 'in the registry' : 'a urn:uuid of an existing entry'}`,
            where,
            this.media ? 'warning' : 'error',
          );
        }
      }
      if (set && a.associationType === AssociationType.hasMember && a.sourceObject === set.id) {
        members.add(a.targetObject);
        const targetKind = ids.get(a.targetObject);
        if (targetKind === 'DocumentEntry' && !this.media) {
          if (a.submissionSetStatus !== 'Original' && a.submissionSetStatus !== 'Reference') {
            this.add(
              XdsErrorCode.registryMetadataError,
              `${where} (SubmissionSet → DocumentEntry) needs a SubmissionSetStatus slot of "Original" or "Reference"${a.submissionSetStatus ? `, not "${a.submissionSetStatus}"` : ''}`,
              where,
            );
          }
        }
      }
    }
    if (set) {
      for (const o of [...objects.documentEntries, ...objects.folders]) {
        if (!members.has(o.id)) {
          this.add(
            XdsErrorCode.registryMetadataError,
            `${o.kind} ${o.id} is not a member of the SubmissionSet: add a HasMember Association from ${set.id} to it`,
            `${o.kind} ${o.id}`,
            this.media ? 'warning' : 'error',
          );
        }
      }
    }
  }

  private documents(entries: DocumentEntry[]): void {
    const documents = this.options.documents;
    if (!documents) return;
    const entryIds = new Set(entries.map((e) => e.id));
    for (const entry of entries) {
      if (entry.objectType === ObjectType.onDemandDocumentEntry) continue;
      const doc = documents.get(entry.id);
      const where = `DocumentEntry ${entry.id}`;
      if (!doc) {
        this.add(
          XdsErrorCode.missingDocument,
          `${where} has no Document in the request: attach <xdsb:Document id="${entry.id}">`,
          where,
          this.media ? 'warning' : 'error',
        );
        continue;
      }
      const metadataCode = this.media ? XdsErrorCode.registryMetadataError : XdsErrorCode.repositoryMetadataError;
      if (entry.hash) {
        const actual = createHash('sha1').update(doc.bytes).digest('hex');
        if (actual.toLowerCase() !== entry.hash.toLowerCase()) {
          this.add(
            metadataCode,
            `${where}: hash ${entry.hash} does not match the document (its SHA-1 is ${actual})`,
            where,
          );
        }
      }
      if (entry.size && /^\d+$/.test(entry.size) && Number(entry.size) !== doc.bytes.byteLength) {
        this.add(
          metadataCode,
          `${where}: size ${entry.size} does not match the document (${doc.bytes.byteLength} bytes)`,
          where,
        );
      }
    }
    for (const id of documents.keys()) {
      if (!entryIds.has(id)) {
        this.add(
          XdsErrorCode.missingDocumentMetadata,
          `Document "${id}" has no DocumentEntry (ExtrinsicObject with id="${id}"): add its metadata or remove it`,
          `Document ${id}`,
        );
      }
    }
  }
}

/** SHA-1 hex and size of a document, as the Repository sets them in the metadata it forwards (ITI-42). */
export function documentDigest(bytes: Uint8Array): { hash: string; size: string } {
  return { hash: createHash('sha1').update(bytes).digest('hex'), size: String(bytes.byteLength) };
}
