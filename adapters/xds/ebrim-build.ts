// Typed XDS metadata → ebRIM 3.0 XML (LeafClass objects or ObjectRefs), as element specs for adapters/xml.
import { randomUUID } from 'node:crypto';
import { el, type XmlChild, type XmlElementSpec } from '../xml/index.js';
import { ClassificationNode, DocumentEntryScheme, FolderScheme, ObjectType, SubmissionSetScheme } from './constants.js';
import type {
  Association,
  Author,
  Code,
  DocumentEntry,
  Folder,
  RegistryObjectList,
  Slot,
  SubmissionSet,
} from './model.js';

/** Namespace declarations to put on the element that contains rim: content. */
export const RIM_NAMESPACES = {
  'xmlns:rim': 'urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0',
} as const;

export interface BuildOptions {
  /** Makes ids for Classifications/ExternalIdentifiers (default: random urn:uuid). Tests pass a counter. */
  newId?: () => string;
}

function slot(name: string, values: readonly (string | undefined)[]): XmlElementSpec | undefined {
  const present = values.filter((v): v is string => v !== undefined);
  if (present.length === 0) return undefined;
  return el('rim:Slot', { name }, el('rim:ValueList', {}, ...present.map((v) => el('rim:Value', {}, v))));
}

function localized(tag: 'rim:Name' | 'rim:Description', text: string | undefined): XmlElementSpec | undefined {
  if (text === undefined) return undefined;
  return el(tag, {}, el('rim:LocalizedString', { value: text }));
}

class Builder {
  private readonly newId: () => string;

  constructor(options: BuildOptions) {
    this.newId = options.newId ?? (() => `urn:uuid:${randomUUID()}`);
  }

  code(scheme: string, objectId: string, code: Code | undefined): XmlElementSpec | undefined {
    if (!code) return undefined;
    return el(
      'rim:Classification',
      {
        id: this.newId(),
        objectType: ObjectType.classification,
        classificationScheme: scheme,
        classifiedObject: objectId,
        nodeRepresentation: code.code,
      },
      slot('codingScheme', [code.codingScheme]),
      localized('rim:Name', code.displayName),
    );
  }

  author(scheme: string, objectId: string, author: Author): XmlElementSpec {
    return el(
      'rim:Classification',
      {
        id: this.newId(),
        objectType: ObjectType.classification,
        classificationScheme: scheme,
        classifiedObject: objectId,
        nodeRepresentation: '',
      },
      slot('authorPerson', [author.person]),
      slot('authorInstitution', author.institutions),
      slot('authorRole', author.roles),
      slot('authorSpecialty', author.specialties),
      slot('authorTelecommunication', author.telecommunications),
    );
  }

  identifier(scheme: string, objectId: string, value: string | undefined, name: string): XmlElementSpec | undefined {
    if (value === undefined) return undefined;
    return el(
      'rim:ExternalIdentifier',
      {
        id: this.newId(),
        objectType: ObjectType.externalIdentifier,
        identificationScheme: scheme,
        registryObject: objectId,
        value,
      },
      localized('rim:Name', name),
    );
  }

  node(objectId: string, node: string): XmlElementSpec {
    return el('rim:Classification', {
      id: this.newId(),
      objectType: ObjectType.classification,
      classifiedObject: objectId,
      classificationNode: node,
    });
  }

  extra(slots: readonly Slot[]): XmlChild[] {
    return slots.map((s) => slot(s.name, s.values.length ? s.values : ['']));
  }

  version(v: string | undefined): XmlElementSpec | undefined {
    return v === undefined ? undefined : el('rim:VersionInfo', { versionName: v });
  }

  documentEntry(e: DocumentEntry): XmlElementSpec {
    return el(
      'rim:ExtrinsicObject',
      {
        id: e.id,
        lid: e.lid,
        objectType: e.objectType || ObjectType.stableDocumentEntry,
        mimeType: e.mimeType,
        status: e.status,
        home: e.home,
      },
      slot('creationTime', [e.creationTime]),
      slot('hash', [e.hash]),
      slot('languageCode', [e.languageCode]),
      slot('legalAuthenticator', [e.legalAuthenticator]),
      slot('repositoryUniqueId', [e.repositoryUniqueId]),
      slot('serviceStartTime', [e.serviceStartTime]),
      slot('serviceStopTime', [e.serviceStopTime]),
      slot('size', [e.size]),
      slot('sourcePatientId', [e.sourcePatientId]),
      slot('sourcePatientInfo', e.sourcePatientInfo),
      slot('URI', [e.uri]),
      slot('documentAvailability', [e.documentAvailability]),
      slot('urn:ihe:iti:xds:2013:referenceIdList', e.referenceIdList),
      ...this.extra(e.extraSlots),
      localized('rim:Name', e.title),
      localized('rim:Description', e.comments),
      this.version(e.version),
      ...e.authors.map((a) => this.author(DocumentEntryScheme.author, e.id, a)),
      this.code(DocumentEntryScheme.classCode, e.id, e.classCode),
      ...e.confidentialityCodes.map((c) => this.code(DocumentEntryScheme.confidentialityCode, e.id, c)),
      ...e.eventCodes.map((c) => this.code(DocumentEntryScheme.eventCodeList, e.id, c)),
      this.code(DocumentEntryScheme.formatCode, e.id, e.formatCode),
      this.code(DocumentEntryScheme.healthcareFacilityTypeCode, e.id, e.healthcareFacilityTypeCode),
      this.code(DocumentEntryScheme.practiceSettingCode, e.id, e.practiceSettingCode),
      this.code(DocumentEntryScheme.typeCode, e.id, e.typeCode),
      e.limitedMetadata ? this.node(e.id, DocumentEntryScheme.limitedMetadata) : undefined,
      this.identifier(DocumentEntryScheme.patientId, e.id, e.patientId, 'XDSDocumentEntry.patientId'),
      this.identifier(DocumentEntryScheme.uniqueId, e.id, e.uniqueId, 'XDSDocumentEntry.uniqueId'),
    );
  }

  submissionSet(s: SubmissionSet): XmlElementSpec {
    return el(
      'rim:RegistryPackage',
      { id: s.id, lid: s.lid, objectType: ObjectType.registryPackage, status: s.status, home: s.home },
      slot('submissionTime', [s.submissionTime]),
      slot('intendedRecipient', s.intendedRecipients),
      ...this.extra(s.extraSlots),
      localized('rim:Name', s.title),
      localized('rim:Description', s.comments),
      this.version(s.version),
      ...s.authors.map((a) => this.author(SubmissionSetScheme.author, s.id, a)),
      this.code(SubmissionSetScheme.contentTypeCode, s.id, s.contentTypeCode),
      this.node(s.id, ClassificationNode.submissionSet),
      s.limitedMetadata ? this.node(s.id, SubmissionSetScheme.limitedMetadata) : undefined,
      this.identifier(SubmissionSetScheme.uniqueId, s.id, s.uniqueId, 'XDSSubmissionSet.uniqueId'),
      this.identifier(SubmissionSetScheme.sourceId, s.id, s.sourceId, 'XDSSubmissionSet.sourceId'),
      this.identifier(SubmissionSetScheme.patientId, s.id, s.patientId, 'XDSSubmissionSet.patientId'),
    );
  }

  folder(f: Folder): XmlElementSpec {
    return el(
      'rim:RegistryPackage',
      { id: f.id, lid: f.lid, objectType: ObjectType.registryPackage, status: f.status, home: f.home },
      slot('lastUpdateTime', [f.lastUpdateTime]),
      ...this.extra(f.extraSlots),
      localized('rim:Name', f.title),
      localized('rim:Description', f.comments),
      this.version(f.version),
      ...f.codeList.map((c) => this.code(FolderScheme.codeList, f.id, c)),
      this.node(f.id, ClassificationNode.folder),
      f.limitedMetadata ? this.node(f.id, FolderScheme.limitedMetadata) : undefined,
      this.identifier(FolderScheme.uniqueId, f.id, f.uniqueId, 'XDSFolder.uniqueId'),
      this.identifier(FolderScheme.patientId, f.id, f.patientId, 'XDSFolder.patientId'),
    );
  }

  association(a: Association): XmlElementSpec {
    return el(
      'rim:Association',
      {
        id: a.id,
        objectType: ObjectType.association,
        associationType: a.associationType,
        sourceObject: a.sourceObject,
        targetObject: a.targetObject,
        status: a.status,
      },
      slot('SubmissionSetStatus', [a.submissionSetStatus]),
      slot('PreviousVersion', [a.previousVersion]),
      slot('OriginalStatus', [a.originalStatus]),
      slot('NewStatus', [a.newStatus]),
      ...this.extra(a.extraSlots),
    );
  }
}

/** rim:RegistryObjectList with full objects (LeafClass). */
export function buildRegistryObjectList(objects: RegistryObjectList, options: BuildOptions = {}): XmlElementSpec {
  const b = new Builder(options);
  return el(
    'rim:RegistryObjectList',
    {},
    ...objects.submissionSets.map((s) => b.submissionSet(s)),
    ...objects.folders.map((f) => b.folder(f)),
    ...objects.documentEntries.map((e) => b.documentEntry(e)),
    ...objects.associations.map((a) => b.association(a)),
    ...objects.objectRefs.map((id) => el('rim:ObjectRef', { id })),
  );
}

/** rim:RegistryObjectList of ObjectRefs only (ObjectRef query results). */
export function buildObjectRefList(ids: readonly string[]): XmlElementSpec {
  return el('rim:RegistryObjectList', {}, ...ids.map((id) => el('rim:ObjectRef', { id })));
}

/** lcm:SubmitObjectsRequest (ITI-42 body, the inner part of ITI-41, XDM METADATA.XML). */
export function buildSubmitObjectsRequest(objects: RegistryObjectList, options: BuildOptions = {}): XmlElementSpec {
  return el(
    'lcm:SubmitObjectsRequest',
    { 'xmlns:lcm': 'urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0', ...RIM_NAMESPACES },
    buildRegistryObjectList(objects, options),
  );
}
