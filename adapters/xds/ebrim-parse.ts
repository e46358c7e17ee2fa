// ebRIM 3.0 RegistryObjectList → typed XDS metadata. Tolerant where the real world is messy (whitespace in values,
// SubmissionSet classification inside or outside the package, legacy short association types) and precise where
// it is wrong: every problem becomes an XdsIssue with the XDS error code a registry would return.
import { attribute, childElement, childElements, textContent, type XmlElement } from '../xml/index.js';
import {
  AssociationType,
  ClassificationNode,
  DocumentEntryScheme,
  FolderScheme,
  Ns,
  ObjectType,
  SubmissionSetScheme,
  XdsErrorCode,
} from './constants.js';
import {
  emptyRegistryObjectList,
  type Association,
  type Author,
  type Code,
  type DocumentEntry,
  type Folder,
  type RegistryObjectList,
  type Slot,
  type SubmissionSet,
  type XdsIssue,
} from './model.js';

export interface ParsedRegistryObjectList {
  objects: RegistryObjectList;
  issues: XdsIssue[];
}

const DOCUMENT_ENTRY_SLOTS = new Set([
  'creationTime',
  'serviceStartTime',
  'serviceStopTime',
  'languageCode',
  'hash',
  'size',
  'repositoryUniqueId',
  'URI',
  'sourcePatientId',
  'sourcePatientInfo',
  'legalAuthenticator',
  'urn:ihe:iti:xds:2013:referenceIdList',
  'documentAvailability',
]);

const SHORT_ASSOCIATION_TYPES: Record<string, string> = {
  HasMember: AssociationType.hasMember,
  RPLC: AssociationType.replace,
  XFRM: AssociationType.transform,
  APND: AssociationType.append,
  XFRM_RPLC: AssociationType.transformAndReplace,
  signs: AssociationType.signs,
  IsSnapshotOf: AssociationType.isSnapshotOf,
};

const ALL_SCHEMES: readonly string[] = [
  ...Object.values(DocumentEntryScheme),
  ...Object.values(SubmissionSetScheme),
  ...Object.values(FolderScheme),
];

function value(text: string): string {
  return text.trim();
}

/** A scheme as written, or a hint when it is a known scheme spoiled by whitespace or case. */
function schemeHint(scheme: string): string {
  const squeezed = scheme.replace(/\s+/g, '').toLowerCase();
  const known = ALL_SCHEMES.find((s) => s === squeezed);
  return known ? ` (it looks like ${known} with stray whitespace or capitals: write it exactly)` : '';
}

function readSlots(element: XmlElement): Slot[] {
  return childElements(element, Ns.rim, 'Slot').map((slot) => {
    const list = childElement(slot, Ns.rim, 'ValueList');
    const values = list ? childElements(list, Ns.rim, 'Value').map((v) => value(textContent(v))) : [];
    return { name: attribute(slot, 'name') ?? '', values };
  });
}

function localizedString(element: XmlElement | undefined): string | undefined {
  if (!element) return undefined;
  const ls = childElement(element, Ns.rim, 'LocalizedString');
  const text = ls ? attribute(ls, 'value') : undefined;
  return text === undefined || text === '' ? undefined : text;
}

class Parser {
  readonly issues: XdsIssue[] = [];
  readonly objects = emptyRegistryObjectList();
  /** Classifications and external identifiers found at the top level of the list, by the object they point at. */
  private readonly looseClassifications = new Map<string, XmlElement[]>();
  private readonly looseIdentifiers = new Map<string, XmlElement[]>();

  error(code: XdsIssue['code'], message: string, location?: string): void {
    this.issues.push({ code, severity: 'error', message, ...(location ? { location } : {}) });
  }

  warning(code: XdsIssue['code'], message: string, location?: string): void {
    this.issues.push({ code, severity: 'warning', message, ...(location ? { location } : {}) });
  }

  parse(list: XmlElement): void {
    const packages: XmlElement[] = [];
    const extrinsics: XmlElement[] = [];
    for (const child of childElements(list)) {
      if (child.uri !== Ns.rim) {
        this.error(
          XdsErrorCode.registryMetadataError,
          `Unexpected element {${child.uri}}${child.local} in RegistryObjectList: only rim: objects are allowed`,
          `line ${child.line}`,
        );
        continue;
      }
      switch (child.local) {
        case 'ExtrinsicObject':
          extrinsics.push(child);
          break;
        case 'RegistryPackage':
          packages.push(child);
          break;
        case 'Association':
          this.objects.associations.push(this.association(child));
          break;
        case 'Classification': {
          const target = attribute(child, 'classifiedObject') ?? '';
          this.looseClassifications.set(target, [...(this.looseClassifications.get(target) ?? []), child]);
          break;
        }
        case 'ExternalIdentifier': {
          const target = attribute(child, 'registryObject') ?? '';
          this.looseIdentifiers.set(target, [...(this.looseIdentifiers.get(target) ?? []), child]);
          break;
        }
        case 'ObjectRef': {
          const id = attribute(child, 'id');
          if (id) this.objects.objectRefs.push(id);
          else this.error(XdsErrorCode.registryMetadataError, 'ObjectRef without id', `line ${child.line}`);
          break;
        }
        default:
          this.error(
            XdsErrorCode.registryMetadataError,
            `Unknown element rim:${child.local} in RegistryObjectList: expected ExtrinsicObject, RegistryPackage, Association, Classification or ObjectRef`,
            `line ${child.line}`,
          );
      }
    }
    for (const el of extrinsics) this.objects.documentEntries.push(this.documentEntry(el));
    for (const el of packages) this.registryPackage(el);
    for (const [target, items] of this.looseClassifications) {
      for (const item of items) {
        const node = attribute(item, 'classificationNode');
        if (node === ClassificationNode.submissionSet || node === ClassificationNode.folder) continue; // used by registryPackage
        const owner = [...this.objects.documentEntries, ...this.objects.submissionSets, ...this.objects.folders].find(
          (o) => o.id === target,
        );
        if (!owner) {
          this.error(
            XdsErrorCode.unresolvedReference,
            `Classification ${attribute(item, 'id') ?? ''} classifies "${target}", which is not in the submission`,
            `line ${item.line}`,
          );
        }
      }
    }
  }

  private common(el: XmlElement) {
    const id = attribute(el, 'id') ?? '';
    if (!id)
      this.error(
        XdsErrorCode.registryMetadataError,
        `rim:${el.local} without id attribute: give every object an id (urn:uuid:… or a symbolic id)`,
        `line ${el.line}`,
      );
    const versionInfo = childElement(el, Ns.rim, 'VersionInfo');
    const base = {
      id,
      extraSlots: [] as Slot[],
      limitedMetadata: false,
    } as {
      id: string;
      lid?: string;
      status?: string;
      home?: string;
      version?: string;
      title?: string;
      comments?: string;
      extraSlots: Slot[];
      limitedMetadata: boolean;
    };
    const lid = attribute(el, 'lid');
    if (lid) base.lid = lid;
    const status = attribute(el, 'status');
    if (status) base.status = status;
    const home = attribute(el, 'home');
    if (home) base.home = home;
    const version = versionInfo ? attribute(versionInfo, 'versionName') : undefined;
    if (version) base.version = version;
    const title = localizedString(childElement(el, Ns.rim, 'Name'));
    if (title !== undefined) base.title = title;
    const comments = localizedString(childElement(el, Ns.rim, 'Description'));
    if (comments !== undefined) base.comments = comments;
    return base;
  }

  private classificationsOf(el: XmlElement, id: string): XmlElement[] {
    return [...childElements(el, Ns.rim, 'Classification'), ...(this.looseClassifications.get(id) ?? [])];
  }

  private identifiersOf(el: XmlElement, id: string): XmlElement[] {
    return [...childElements(el, Ns.rim, 'ExternalIdentifier'), ...(this.looseIdentifiers.get(id) ?? [])];
  }

  private code(classification: XmlElement, what: string, objectId: string): Code | undefined {
    const code = attribute(classification, 'nodeRepresentation') ?? '';
    const scheme = readSlots(classification).find((s) => s.name === 'codingScheme')?.values[0] ?? '';
    if (!code) {
      this.error(
        XdsErrorCode.registryMetadataError,
        `${what} of ${objectId} has an empty nodeRepresentation: put the code there`,
        objectId,
      );
      return undefined;
    }
    if (!scheme) {
      this.error(
        XdsErrorCode.registryMetadataError,
        `${what} "${code}" of ${objectId} has no codingScheme slot: add <rim:Slot name="codingScheme">`,
        objectId,
      );
    }
    const displayName = localizedString(childElement(classification, Ns.rim, 'Name'));
    return { code, codingScheme: scheme, ...(displayName !== undefined ? { displayName } : {}) };
  }

  private author(classification: XmlElement): Author {
    const slots = readSlots(classification);
    const get = (name: string) => slots.find((s) => s.name === name)?.values ?? [];
    const person = get('authorPerson')[0];
    return {
      ...(person ? { person } : {}),
      institutions: get('authorInstitution'),
      roles: get('authorRole'),
      specialties: get('authorSpecialty'),
      telecommunications: get('authorTelecommunication'),
    };
  }

  private documentEntry(el: XmlElement): DocumentEntry {
    const base = this.common(el);
    const objectType = attribute(el, 'objectType') ?? '';
    const entry: DocumentEntry = {
      kind: 'DocumentEntry',
      ...base,
      objectType,
      authors: [],
      confidentialityCodes: [],
      eventCodes: [],
      sourcePatientInfo: [],
      referenceIdList: [],
    };
    const where = `DocumentEntry ${base.id}`;
    if (objectType !== ObjectType.stableDocumentEntry && objectType !== ObjectType.onDemandDocumentEntry) {
      this.error(
        XdsErrorCode.registryMetadataError,
        `${where} has objectType "${objectType}": use ${ObjectType.stableDocumentEntry} (stable) or ${ObjectType.onDemandDocumentEntry} (on-demand)`,
        where,
      );
    }
    const mimeType = attribute(el, 'mimeType');
    if (mimeType) entry.mimeType = mimeType;
    for (const slot of readSlots(el)) {
      const first = slot.values[0];
      switch (slot.name) {
        case 'creationTime':
          if (first) entry.creationTime = first;
          break;
        case 'serviceStartTime':
          if (first) entry.serviceStartTime = first;
          break;
        case 'serviceStopTime':
          if (first) entry.serviceStopTime = first;
          break;
        case 'languageCode':
          if (first) entry.languageCode = first;
          break;
        case 'hash':
          if (first) entry.hash = first;
          break;
        case 'size':
          if (first) entry.size = first;
          break;
        case 'repositoryUniqueId':
          if (first) entry.repositoryUniqueId = first;
          break;
        case 'URI':
          entry.uri = joinUri(slot.values);
          break;
        case 'sourcePatientId':
          if (first) entry.sourcePatientId = first;
          break;
        case 'sourcePatientInfo':
          entry.sourcePatientInfo = slot.values;
          break;
        case 'legalAuthenticator':
          if (first) entry.legalAuthenticator = first;
          break;
        case 'urn:ihe:iti:xds:2013:referenceIdList':
          entry.referenceIdList = slot.values;
          break;
        case 'documentAvailability':
          if (first) entry.documentAvailability = first;
          break;
        default:
          entry.extraSlots.push(slot);
      }
      if (
        DOCUMENT_ENTRY_SLOTS.has(slot.name) &&
        slot.name !== 'sourcePatientInfo' &&
        slot.name !== 'URI' &&
        slot.name !== 'urn:ihe:iti:xds:2013:referenceIdList' &&
        slot.values.length > 1
      ) {
        this.error(
          XdsErrorCode.registryMetadataError,
          `${where}: slot ${slot.name} has ${slot.values.length} values, it takes one`,
          where,
        );
      }
    }
    for (const c of this.classificationsOf(el, base.id)) {
      const scheme = attribute(c, 'classificationScheme') ?? '';
      switch (scheme) {
        case DocumentEntryScheme.author:
          entry.authors.push(this.author(c));
          break;
        case DocumentEntryScheme.classCode:
          this.single(entry, 'classCode', c, where);
          break;
        case DocumentEntryScheme.typeCode:
          this.single(entry, 'typeCode', c, where);
          break;
        case DocumentEntryScheme.formatCode:
          this.single(entry, 'formatCode', c, where);
          break;
        case DocumentEntryScheme.healthcareFacilityTypeCode:
          this.single(entry, 'healthcareFacilityTypeCode', c, where);
          break;
        case DocumentEntryScheme.practiceSettingCode:
          this.single(entry, 'practiceSettingCode', c, where);
          break;
        case DocumentEntryScheme.confidentialityCode: {
          const code = this.code(c, 'confidentialityCode', base.id);
          if (code) entry.confidentialityCodes.push(code);
          break;
        }
        case DocumentEntryScheme.eventCodeList: {
          const code = this.code(c, 'eventCode', base.id);
          if (code) entry.eventCodes.push(code);
          break;
        }
        case '':
          if (attribute(c, 'classificationNode') === DocumentEntryScheme.limitedMetadata) entry.limitedMetadata = true;
          else
            this.warning(
              XdsErrorCode.registryMetadataError,
              `${where} has a Classification without classificationScheme: ignored`,
              where,
            );
          break;
        default:
          this.error(
            XdsErrorCode.registryMetadataError,
            `${where} has a Classification with unknown scheme "${scheme}"${schemeHint(scheme)}`,
            where,
          );
      }
    }
    for (const ei of this.identifiersOf(el, base.id)) {
      const scheme = attribute(ei, 'identificationScheme') ?? '';
      const v = value(attribute(ei, 'value') ?? '');
      if (scheme === DocumentEntryScheme.patientId) entry.patientId = v;
      else if (scheme === DocumentEntryScheme.uniqueId) entry.uniqueId = v;
      else
        this.error(
          XdsErrorCode.registryMetadataError,
          `${where} has an ExternalIdentifier with unknown scheme "${scheme}"${schemeHint(scheme)}`,
          where,
        );
    }
    return entry;
  }

  private single(
    entry: DocumentEntry,
    field: 'classCode' | 'typeCode' | 'formatCode' | 'healthcareFacilityTypeCode' | 'practiceSettingCode',
    classification: XmlElement,
    where: string,
  ): void {
    if (entry[field]) {
      this.error(XdsErrorCode.registryMetadataError, `${where} has more than one ${field}: keep exactly one`, where);
      return;
    }
    const code = this.code(classification, field, entry.id);
    if (code) entry[field] = code;
  }

  private registryPackage(el: XmlElement): void {
    const id = attribute(el, 'id') ?? '';
    const nodes = this.classificationsOf(el, id).map((c) => attribute(c, 'classificationNode'));
    const isSubmissionSet = nodes.includes(ClassificationNode.submissionSet);
    const isFolder = nodes.includes(ClassificationNode.folder);
    if (isSubmissionSet && isFolder) {
      this.error(
        XdsErrorCode.registryMetadataError,
        `RegistryPackage ${id} is classified both as SubmissionSet and Folder: keep one`,
        `RegistryPackage ${id}`,
      );
      return;
    }
    if (isSubmissionSet) this.objects.submissionSets.push(this.submissionSet(el));
    else if (isFolder) this.objects.folders.push(this.folder(el));
    else {
      this.error(
        XdsErrorCode.registryMetadataError,
        `RegistryPackage ${id} is classified neither as SubmissionSet (${ClassificationNode.submissionSet}) nor as Folder (${ClassificationNode.folder}): add the Classification`,
        `RegistryPackage ${id}`,
      );
    }
  }

  private submissionSet(el: XmlElement): SubmissionSet {
    const base = this.common(el);
    const where = `SubmissionSet ${base.id}`;
    const set: SubmissionSet = { kind: 'SubmissionSet', ...base, authors: [], intendedRecipients: [] };
    for (const slot of readSlots(el)) {
      if (slot.name === 'submissionTime') {
        if (slot.values[0]) set.submissionTime = slot.values[0];
      } else if (slot.name === 'intendedRecipient') set.intendedRecipients = slot.values;
      else set.extraSlots.push(slot);
    }
    for (const c of this.classificationsOf(el, base.id)) {
      const scheme = attribute(c, 'classificationScheme') ?? '';
      const node = attribute(c, 'classificationNode');
      if (scheme === SubmissionSetScheme.author) set.authors.push(this.author(c));
      else if (scheme === SubmissionSetScheme.contentTypeCode) {
        if (set.contentTypeCode)
          this.error(XdsErrorCode.registryMetadataError, `${where} has more than one contentTypeCode`, where);
        const code = this.code(c, 'contentTypeCode', base.id);
        if (code) set.contentTypeCode = code;
      } else if (!scheme && node === ClassificationNode.submissionSet) continue;
      else if (!scheme && node === SubmissionSetScheme.limitedMetadata) set.limitedMetadata = true;
      else
        this.error(
          XdsErrorCode.registryMetadataError,
          `${where} has a Classification with unknown scheme "${scheme || node}"${schemeHint(scheme)}`,
          where,
        );
    }
    for (const ei of this.identifiersOf(el, base.id)) {
      const scheme = attribute(ei, 'identificationScheme') ?? '';
      const v = value(attribute(ei, 'value') ?? '');
      if (scheme === SubmissionSetScheme.uniqueId) set.uniqueId = v;
      else if (scheme === SubmissionSetScheme.sourceId) set.sourceId = v;
      else if (scheme === SubmissionSetScheme.patientId) set.patientId = v;
      else
        this.error(
          XdsErrorCode.registryMetadataError,
          `${where} has an ExternalIdentifier with unknown scheme "${scheme}"${schemeHint(scheme)}`,
          where,
        );
    }
    return set;
  }

  private folder(el: XmlElement): Folder {
    const base = this.common(el);
    const where = `Folder ${base.id}`;
    const folder: Folder = { kind: 'Folder', ...base, codeList: [] };
    for (const slot of readSlots(el)) {
      if (slot.name === 'lastUpdateTime') {
        if (slot.values[0]) folder.lastUpdateTime = slot.values[0];
      } else folder.extraSlots.push(slot);
    }
    for (const c of this.classificationsOf(el, base.id)) {
      const scheme = attribute(c, 'classificationScheme') ?? '';
      const node = attribute(c, 'classificationNode');
      if (scheme === FolderScheme.codeList) {
        const code = this.code(c, 'codeList', base.id);
        if (code) folder.codeList.push(code);
      } else if (!scheme && node === ClassificationNode.folder) continue;
      else if (!scheme && node === FolderScheme.limitedMetadata) folder.limitedMetadata = true;
      else
        this.error(
          XdsErrorCode.registryMetadataError,
          `${where} has a Classification with unknown scheme "${scheme || node}"${schemeHint(scheme)}`,
          where,
        );
    }
    for (const ei of this.identifiersOf(el, base.id)) {
      const scheme = attribute(ei, 'identificationScheme') ?? '';
      const v = value(attribute(ei, 'value') ?? '');
      if (scheme === FolderScheme.uniqueId) folder.uniqueId = v;
      else if (scheme === FolderScheme.patientId) folder.patientId = v;
      else
        this.error(
          XdsErrorCode.registryMetadataError,
          `${where} has an ExternalIdentifier with unknown scheme "${scheme}"${schemeHint(scheme)}`,
          where,
        );
    }
    return folder;
  }

  private association(el: XmlElement): Association {
    const id = attribute(el, 'id') ?? '';
    const raw = value(attribute(el, 'associationType') ?? '');
    const normalized = SHORT_ASSOCIATION_TYPES[raw] ?? raw;
    const association: Association = {
      kind: 'Association',
      id,
      associationType: normalized,
      sourceObject: attribute(el, 'sourceObject') ?? '',
      targetObject: attribute(el, 'targetObject') ?? '',
      extraSlots: [],
    };
    if (normalized !== raw) association.rawAssociationType = raw;
    const status = attribute(el, 'status');
    if (status) association.status = status;
    for (const slot of readSlots(el)) {
      const first = slot.values[0];
      if (slot.name === 'SubmissionSetStatus' && first) association.submissionSetStatus = first;
      else if (slot.name === 'PreviousVersion' && first) association.previousVersion = first;
      else if (slot.name === 'OriginalStatus' && first) association.originalStatus = first;
      else if (slot.name === 'NewStatus' && first) association.newStatus = first;
      else association.extraSlots.push(slot);
    }
    const where = `Association ${id}`;
    if (!association.sourceObject || !association.targetObject) {
      this.error(XdsErrorCode.registryMetadataError, `${where} needs both sourceObject and targetObject`, where);
    }
    if (!raw) this.error(XdsErrorCode.registryMetadataError, `${where} has no associationType`, where);
    return association;
  }
}

/** URI slot values may be split ("1|part one", "2|part two") when longer than a slot value allows. */
function joinUri(values: string[]): string {
  if (values.length <= 1) return values[0] ?? '';
  const numbered = values.map((v) => /^(\d+)\|(.*)$/.exec(v));
  if (numbered.every(Boolean)) {
    return numbered
      .map((m) => ({ n: Number(m![1]), text: m![2]! }))
      .sort((a, b) => a.n - b.n)
      .map((p) => p.text)
      .join('');
  }
  return values.join('');
}

/** Parses a rim:RegistryObjectList element. */
export function parseRegistryObjectList(list: XmlElement): ParsedRegistryObjectList {
  const parser = new Parser();
  if (list.uri !== Ns.rim || list.local !== 'RegistryObjectList') {
    parser.error(
      XdsErrorCode.registryMetadataError,
      `Expected rim:RegistryObjectList, found {${list.uri}}${list.local}`,
    );
    return { objects: parser.objects, issues: parser.issues };
  }
  parser.parse(list);
  return { objects: parser.objects, issues: parser.issues };
}

/** Parses an lcm:SubmitObjectsRequest element (ITI-42 body, or inside ITI-41, or an XDM METADATA.XML root). */
export function parseSubmitObjectsRequest(request: XmlElement): ParsedRegistryObjectList {
  if (request.uri !== Ns.lcm || request.local !== 'SubmitObjectsRequest') {
    return {
      objects: emptyRegistryObjectList(),
      issues: [
        {
          code: XdsErrorCode.registryMetadataError,
          severity: 'error',
          message: `Expected lcm:SubmitObjectsRequest (${Ns.lcm}), found {${request.uri}}${request.local}`,
        },
      ],
    };
  }
  const list = childElement(request, Ns.rim, 'RegistryObjectList');
  if (!list) {
    return {
      objects: emptyRegistryObjectList(),
      issues: [
        {
          code: XdsErrorCode.registryMetadataError,
          severity: 'error',
          message: 'SubmitObjectsRequest has no rim:RegistryObjectList',
        },
      ],
    };
  }
  return parseRegistryObjectList(list);
}
