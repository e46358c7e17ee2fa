// XDS metadata ⇄ FHIR, after the IHE MHD mapping: DocumentEntry ⇄ DocumentReference, SubmissionSet and Folder ⇄ List,
// associations ⇄ List.entry / DocumentReference.relatesTo. The registry is a *view* of these resources.
//
// Lossless by construction: each forward mapping is followed by the reverse one, and any attribute that does not come
// back identical is kept as written in a `xds-attribute` extension (authors in `xds-author`, slots in `xds-slot`,
// association ids in `xds-association`). The reverse mapping prefers those extensions, so what ITI-41 stored is
// what ITI-18 returns — and a resource written through MHD (without any of them) still reads as a valid entry.
import { isDeepStrictEqual } from 'node:util';
import type {
  CodeableConcept,
  DocumentReference,
  DocumentReferenceRelatesTo,
  Extension,
  Identifier,
  List,
  ListEntry,
  Organization,
  Patient,
  Practitioner,
  PractitionerRole,
  Reference,
  Resource,
} from '@medplum/fhirtypes';
import { AssociationType, AvailabilityStatus, ObjectType } from '../../adapters/xds/constants.js';
import { isOid, parsePatientIdentifier } from '../../adapters/xds/hl7-values.js';
import type {
  Association,
  Author,
  Code,
  DocumentEntry,
  Folder,
  Slot,
  SubmissionSet,
} from '../../adapters/xds/model.js';
import { uuidV5 } from '../../store/uuid.js';
import {
  base64ToHex,
  contactPointToXtn,
  cxToIdentifier,
  dateTimeToDtm,
  dtmToDateTime,
  hexToBase64,
  identifierToCx,
  oidOfSystem,
  organizationToXon,
  patientToSourcePatient,
  practitionerToXcn,
  sourcePatientToPatient,
  xcnToPractitioner,
  xonToOrganization,
  xtnToContactPoint,
} from './hl7-fhir.js';
import { codeOf, codingFor, DocumentIdentifierSystem, KeneyExt, Mhd } from './vocabulary.js';

// ---- identifiers ------------------------------------------------------------------------------------------------

/** entryUUID → Identifier (use official). Only `urn:uuid:` ids are entryUUIDs. */
export function entryUuidIdentifier(id: string): Identifier {
  return { use: 'official', system: DocumentIdentifierSystem.uri, value: id };
}

/** uniqueId → Identifier: OID → urn:oid:, OID^ext → system urn:oid:OID + ext, anything else as a bare value. */
export function uniqueIdIdentifier(uniqueId: string): Identifier {
  if (isOid(uniqueId)) return { use: 'usual', system: DocumentIdentifierSystem.uri, value: `urn:oid:${uniqueId}` };
  const caret = uniqueId.indexOf('^');
  if (caret > 0 && isOid(uniqueId.slice(0, caret)))
    return { use: 'usual', system: `urn:oid:${uniqueId.slice(0, caret)}`, value: uniqueId.slice(caret + 1) };
  if (/^urn:uuid:/i.test(uniqueId)) return { use: 'usual', system: DocumentIdentifierSystem.uri, value: uniqueId };
  return { use: 'usual', value: uniqueId };
}

export function uniqueIdOf(identifier: Identifier | undefined): string | undefined {
  if (!identifier?.value) return undefined;
  if (identifier.system === DocumentIdentifierSystem.uri)
    return identifier.value.startsWith('urn:oid:') ? identifier.value.slice(8) : identifier.value;
  const oid = oidOfSystem(identifier.system);
  return oid ? `${oid}^${identifier.value}` : identifier.value;
}

/** The search token (`system|value`) that finds a uniqueId. */
export function uniqueIdToken(uniqueId: string): string {
  const id = uniqueIdIdentifier(uniqueId);
  return `${id.system ?? ''}|${id.value}`;
}

export function entryUuidToken(id: string): string {
  return `${DocumentIdentifierSystem.uri}|${id}`;
}

function entryUuidOfIdentifiers(identifiers: readonly Identifier[] | undefined): string | undefined {
  const found =
    identifiers?.find(
      (i) => i.use === 'official' && i.system === DocumentIdentifierSystem.uri && i.value?.startsWith('urn:uuid:'),
    ) ?? identifiers?.find((i) => i.system === DocumentIdentifierSystem.uri && i.value?.startsWith('urn:uuid:'));
  return found?.value;
}

/** A patient CX as an Identifier (`urn:oid:` system) for conditional references `Patient?identifier=…`. */
export function patientIdentifier(cx: string): Identifier | undefined {
  const parsed = parsePatientIdentifier(cx);
  return 'error' in parsed ? undefined : { system: `urn:oid:${parsed.oid}`, value: parsed.id };
}

export function patientToken(cx: string): string | undefined {
  const id = patientIdentifier(cx);
  return id ? `${id.system}|${id.value}` : undefined;
}

// ---- extensions ---------------------------------------------------------------------------------------------------

function stringExtension(url: string, value: string): Extension {
  return { url, valueString: value };
}

function attributeExtension(name: string, values: readonly string[]): Extension {
  return {
    url: KeneyExt.attribute,
    extension: [stringExtension('name', name), ...values.map((v) => stringExtension('value', v))],
  };
}

function slotExtension(slot: Slot): Extension {
  return {
    url: KeneyExt.slot,
    extension: [stringExtension('name', slot.name), ...slot.values.map((v) => stringExtension('value', v))],
  };
}

function authorExtension(author: Author): Extension {
  return {
    url: KeneyExt.author,
    extension: [
      ...(author.person !== undefined ? [stringExtension('person', author.person)] : []),
      ...author.institutions.map((v) => stringExtension('institution', v)),
      ...author.roles.map((v) => stringExtension('role', v)),
      ...author.specialties.map((v) => stringExtension('specialty', v)),
      ...author.telecommunications.map((v) => stringExtension('telecommunication', v)),
    ],
  };
}

const subValues = (ext: Extension, name: string): string[] =>
  (ext.extension ?? []).filter((e) => e.url === name && e.valueString !== undefined).map((e) => e.valueString!);

function readAuthorExtension(ext: Extension): Author {
  const person = subValues(ext, 'person')[0];
  return {
    ...(person !== undefined ? { person } : {}),
    institutions: subValues(ext, 'institution'),
    roles: subValues(ext, 'role'),
    specialties: subValues(ext, 'specialty'),
    telecommunications: subValues(ext, 'telecommunication'),
  };
}

/** The attributes kept as written on a resource: name → values (an empty list means "absent"). */
function readAttributes(resource: { extension?: Extension[] }): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const ext of resource.extension ?? []) {
    if (ext.url !== KeneyExt.attribute) continue;
    const name = subValues(ext, 'name')[0];
    if (name) out.set(name, subValues(ext, 'value'));
  }
  return out;
}

function readSlots(resource: { extension?: Extension[] }): Slot[] {
  return (resource.extension ?? [])
    .filter((e) => e.url === KeneyExt.slot)
    .map((e) => ({ name: subValues(e, 'name')[0] ?? '', values: subValues(e, 'value') }));
}

// ---- authors --------------------------------------------------------------------------------------------------------

/** Authors as contained resources + references (for FHIR readers). */
function authorsToFhir(authors: readonly Author[], prefix: string): { contained: Resource[]; references: Reference[] } {
  const contained: Resource[] = [];
  const references: Reference[] = [];
  authors.forEach((author, i) => {
    const base = `${prefix}${i + 1}`;
    const practitioner = author.person ? xcnToPractitioner(author.person, base) : undefined;
    const organization = author.institutions[0] ? xonToOrganization(author.institutions[0], `${base}-org`) : undefined;
    const telecom = author.telecommunications.map(xtnToContactPoint).filter((t): t is NonNullable<typeof t> => !!t);
    const needsRole =
      (practitioner && organization) || author.roles.length > 0 || author.specialties.length > 0 || telecom.length > 0;
    if (practitioner) contained.push(practitioner);
    if (organization) contained.push(organization);
    if (needsRole) {
      const role: PractitionerRole = {
        resourceType: 'PractitionerRole',
        id: `${base}-role`,
        ...(practitioner ? { practitioner: { reference: `#${practitioner.id}` } } : {}),
        ...(organization ? { organization: { reference: `#${organization.id}` } } : {}),
        ...(author.roles.length
          ? { code: author.roles.map((r) => ({ text: r.split('^')[1] || r.split('^')[0] || r })) }
          : {}),
        ...(author.specialties.length
          ? { specialty: author.specialties.map((s) => ({ text: s.split('^')[1] || s.split('^')[0] || s })) }
          : {}),
        ...(telecom.length ? { telecom } : {}),
      };
      contained.push(role);
      references.push({ reference: `#${role.id}` });
    } else if (practitioner) references.push({ reference: `#${practitioner.id}` });
    else if (organization) references.push({ reference: `#${organization.id}` });
  });
  return { contained, references };
}

function containedById(resource: { contained?: Resource[] }, reference: string | undefined): Resource | undefined {
  if (!reference?.startsWith('#')) return undefined;
  return resource.contained?.find((r) => r.id === reference.slice(1));
}

/** Authors read back from contained resources (MHD writers), one per reference. */
function authorsFromFhir(resource: { contained?: Resource[] }, references: readonly Reference[]): Author[] {
  const authors: Author[] = [];
  for (const ref of references) {
    const target = containedById(resource, ref.reference);
    const author: Author = { institutions: [], roles: [], specialties: [], telecommunications: [] };
    const addPerson = (p: Practitioner | Patient) => {
      author.person = practitionerToXcn(p as Practitioner);
      for (const t of p.telecom ?? []) {
        const x = contactPointToXtn(t);
        if (x) author.telecommunications.push(x);
      }
    };
    if (target?.resourceType === 'Practitioner' || target?.resourceType === 'Patient') addPerson(target);
    else if (target?.resourceType === 'Organization') author.institutions.push(organizationToXon(target));
    else if (target?.resourceType === 'PractitionerRole') {
      const person = containedById(resource, target.practitioner?.reference);
      if (person?.resourceType === 'Practitioner') addPerson(person);
      const org = containedById(resource, target.organization?.reference);
      if (org?.resourceType === 'Organization') author.institutions.push(organizationToXon(org as Organization));
      author.roles.push(...(target.code ?? []).map(conceptText).filter((v): v is string => !!v));
      author.specialties.push(...(target.specialty ?? []).map(conceptText).filter((v): v is string => !!v));
      for (const t of target.telecom ?? []) {
        const x = contactPointToXtn(t);
        if (x) author.telecommunications.push(x);
      }
    } else if (ref.display) author.person = `^${ref.display}`;
    else continue;
    authors.push(author);
  }
  return authors;
}

function conceptText(concept: CodeableConcept): string | undefined {
  return concept.text ?? concept.coding?.[0]?.display ?? concept.coding?.[0]?.code;
}

// ---- DocumentEntry ⇄ DocumentReference ------------------------------------------------------------------------------

export interface DocumentReferenceInput {
  /** The patient reference (a urn:uuid fullUrl of the transaction, or Patient/<id>); the identifier is added from patientId. */
  subjectReference?: string;
  /** Attachment URL (the Binary: urn:uuid fullUrl or Binary/<id>). */
  url?: string;
  /** DocumentReference.date: when the registry indexed the entry. */
  indexedAt: string;
  /** relatesTo built by the caller (targets resolved). */
  relatesTo?: DocumentReferenceRelatesTo[];
}

const STATUS_TO_FHIR: Record<string, 'current' | 'superseded'> = {
  [AvailabilityStatus.approved]: 'current',
  [AvailabilityStatus.deprecated]: 'superseded',
};

const FIELDS_OF_ENTRY = [
  'id',
  'lid',
  'status',
  'home',
  'version',
  'title',
  'comments',
  'objectType',
  'mimeType',
  'uniqueId',
  'patientId',
  'creationTime',
  'serviceStartTime',
  'serviceStopTime',
  'languageCode',
  'hash',
  'size',
  'repositoryUniqueId',
  'uri',
  'sourcePatientId',
  'sourcePatientInfo',
  'legalAuthenticator',
  'referenceIdList',
  'documentAvailability',
] as const satisfies readonly (keyof DocumentEntry)[];

function asValues(value: unknown): string[] | undefined {
  if (value === undefined) return undefined;
  return Array.isArray(value) ? (value as string[]) : [String(value)];
}

/** The attributes of `original` that `derived` does not reproduce, as extensions. */
function lostAttributes<T extends object>(original: T, derived: T, fields: readonly (keyof T)[]): Extension[] {
  const out: Extension[] = [];
  for (const field of fields) {
    const a = original[field];
    const b = derived[field];
    const same =
      isDeepStrictEqual(a, b) ||
      (Array.isArray(a) && a.length === 0 && b === undefined) ||
      (Array.isArray(b) && b.length === 0 && a === undefined);
    if (same) continue;
    out.push(attributeExtension(String(field), asValues(a) ?? []));
  }
  return out;
}

function applyAttributes<T extends object>(
  target: T,
  attributes: Map<string, string[]>,
  arrays: ReadonlySet<string>,
): T {
  const out = { ...target } as Record<string, unknown>;
  for (const [name, values] of attributes) {
    if (arrays.has(name)) out[name] = values;
    else if (values.length === 0) delete out[name];
    else out[name] = values[0];
  }
  return out as T;
}

const ARRAY_FIELDS = new Set(['sourcePatientInfo', 'referenceIdList', 'intendedRecipients']);

/** DocumentEntry → DocumentReference (MHD Comprehensive, or Minimal for limited metadata). */
export function documentReferenceFromEntry(entry: DocumentEntry, input: DocumentReferenceInput): DocumentReference {
  const doc = documentReferenceCore(entry, input);
  const derived = documentEntryFromReference(doc, { ignoreKeneyExtensions: true });
  const lost = lostAttributes(entry, derived, FIELDS_OF_ENTRY);
  const authorsLost = !isDeepStrictEqual(entry.authors, derived.authors);
  const extension = [
    ...(doc.extension ?? []),
    ...lost,
    ...(authorsLost ? entry.authors.map(authorExtension) : []),
    ...entry.extraSlots.map(slotExtension),
  ];
  return { ...doc, ...(extension.length ? { extension } : {}) } as DocumentReference;
}

function documentReferenceCore(entry: DocumentEntry, input: DocumentReferenceInput): DocumentReference {
  const { contained: authorResources, references: authorRefs } = authorsToFhir(entry.authors, 'author');
  const contained: Resource[] = [...authorResources];
  const legal = entry.legalAuthenticator
    ? xcnToPractitioner(entry.legalAuthenticator, 'legal-authenticator')
    : undefined;
  if (legal) contained.push(legal);
  const hasSourcePatient = entry.sourcePatientId !== undefined || entry.sourcePatientInfo.length > 0;
  if (hasSourcePatient)
    contained.push(sourcePatientToPatient(entry.sourcePatientId, entry.sourcePatientInfo, 'source-patient'));
  const subjectIdentifier = entry.patientId
    ? (patientIdentifier(entry.patientId) ?? cxToIdentifier(entry.patientId))
    : undefined;
  const status = entry.status ? STATUS_TO_FHIR[entry.status] : 'current';
  const period = {
    ...(dtmToDateTime(entry.serviceStartTime) ? { start: dtmToDateTime(entry.serviceStartTime) } : {}),
    ...(dtmToDateTime(entry.serviceStopTime) ? { end: dtmToDateTime(entry.serviceStopTime) } : {}),
  };
  const related = entry.referenceIdList.map((cxi): Reference => {
    const id = cxToIdentifier(cxi);
    return id ? { identifier: id } : { display: cxi };
  });
  const context = {
    ...(entry.eventCodes.length ? { event: entry.eventCodes.map((c) => ({ coding: [codingFor(c)] })) } : {}),
    ...(Object.keys(period).length ? { period } : {}),
    ...(entry.healthcareFacilityTypeCode
      ? { facilityType: { coding: [codingFor(entry.healthcareFacilityTypeCode)] } }
      : {}),
    ...(entry.practiceSettingCode ? { practiceSetting: { coding: [codingFor(entry.practiceSettingCode)] } } : {}),
    ...(hasSourcePatient ? { sourcePatientInfo: { reference: '#source-patient' } } : {}),
    ...(related.length ? { related } : {}),
  };
  const attachment = {
    contentType: entry.mimeType ?? 'application/octet-stream',
    ...(entry.languageCode ? { language: entry.languageCode } : {}),
    ...(input.url ? { url: input.url } : {}),
    ...(entry.size !== undefined && /^\d+$/.test(entry.size) && Number.isSafeInteger(Number(entry.size))
      ? { size: Number(entry.size) }
      : {}),
    ...(hexToBase64(entry.hash) ? { hash: hexToBase64(entry.hash) } : {}),
    ...(entry.title !== undefined ? { title: entry.title } : {}),
    ...(dtmToDateTime(entry.creationTime) ? { creation: dtmToDateTime(entry.creationTime) } : {}),
  };
  return {
    resourceType: 'DocumentReference',
    meta: { profile: [entry.limitedMetadata ? Mhd.minimalDocumentReference : Mhd.comprehensiveDocumentReference] },
    ...(contained.length ? { contained } : {}),
    ...(entry.uniqueId ? { masterIdentifier: uniqueIdIdentifier(entry.uniqueId) } : {}),
    ...(entry.id.startsWith('urn:uuid:') ? { identifier: [entryUuidIdentifier(entry.id)] } : {}),
    status: status ?? 'current',
    ...(entry.typeCode ? { type: { coding: [codingFor(entry.typeCode)] } } : {}),
    ...(entry.classCode ? { category: [{ coding: [codingFor(entry.classCode)] }] } : {}),
    ...(subjectIdentifier || input.subjectReference
      ? {
          subject: {
            ...(input.subjectReference ? { reference: input.subjectReference } : {}),
            ...(subjectIdentifier ? { identifier: subjectIdentifier } : {}),
          },
        }
      : {}),
    date: input.indexedAt,
    ...(authorRefs.length ? { author: authorRefs } : {}),
    ...(legal ? { authenticator: { reference: '#legal-authenticator' } } : {}),
    ...(input.relatesTo?.length ? { relatesTo: input.relatesTo } : {}),
    ...(entry.comments !== undefined ? { description: entry.comments } : {}),
    ...(entry.confidentialityCodes.length
      ? { securityLabel: entry.confidentialityCodes.map((c) => ({ coding: [codingFor(c)] })) }
      : {}),
    content: [{ attachment, ...(entry.formatCode ? { format: codingFor(entry.formatCode) } : {}) }],
    ...(Object.keys(context).length ? { context } : {}),
  } as DocumentReference;
}

const firstCode = (concept: CodeableConcept | undefined): Code | undefined =>
  concept?.coding?.map(codeOf).find((c) => c !== undefined);

/** DocumentReference → DocumentEntry (attributes kept as written win over what FHIR elements give). */
export function documentEntryFromReference(
  doc: DocumentReference,
  options: { ignoreKeneyExtensions?: boolean; fallbackId?: string } = {},
): DocumentEntry {
  const content = doc.content?.[0];
  const attachment = content?.attachment;
  const context = doc.context;
  const sourcePatient = containedById(doc, context?.sourcePatientInfo?.reference);
  const source =
    sourcePatient?.resourceType === 'Patient'
      ? patientToSourcePatient(sourcePatient)
      : { sourcePatientInfo: [] as string[] };
  const legal = containedById(doc, doc.authenticator?.reference);
  const statusBack =
    doc.status === 'current'
      ? AvailabilityStatus.approved
      : doc.status === 'superseded'
        ? AvailabilityStatus.deprecated
        : undefined;
  const subjectCx = identifierToCx(doc.subject?.identifier);
  const entry: DocumentEntry = {
    kind: 'DocumentEntry',
    id:
      entryUuidOfIdentifiers(doc.identifier) ??
      options.fallbackId ??
      (doc.id ? `urn:uuid:${uuidV5(`DocumentReference/${doc.id}`)}` : ''),
    ...(statusBack ? { status: statusBack } : {}),
    ...(attachment?.title !== undefined ? { title: attachment.title } : {}),
    ...(doc.description !== undefined ? { comments: doc.description } : {}),
    objectType: ObjectType.stableDocumentEntry,
    ...(attachment?.contentType ? { mimeType: attachment.contentType } : {}),
    ...(uniqueIdOf(doc.masterIdentifier) ? { uniqueId: uniqueIdOf(doc.masterIdentifier) } : {}),
    ...(subjectCx ? { patientId: subjectCx } : {}),
    authors: authorsFromFhir(doc, doc.author ?? []),
    ...(firstCode(doc.category?.[0]) ? { classCode: firstCode(doc.category?.[0]) } : {}),
    ...(firstCode(doc.type) ? { typeCode: firstCode(doc.type) } : {}),
    ...(codeOf(content?.format) ? { formatCode: codeOf(content?.format) } : {}),
    ...(firstCode(context?.facilityType) ? { healthcareFacilityTypeCode: firstCode(context?.facilityType) } : {}),
    ...(firstCode(context?.practiceSetting) ? { practiceSettingCode: firstCode(context?.practiceSetting) } : {}),
    confidentialityCodes: (doc.securityLabel ?? []).map(firstCode).filter((c): c is Code => !!c),
    eventCodes: (context?.event ?? []).map(firstCode).filter((c): c is Code => !!c),
    ...(dateTimeToDtm(attachment?.creation) ? { creationTime: dateTimeToDtm(attachment?.creation) } : {}),
    ...(dateTimeToDtm(context?.period?.start) ? { serviceStartTime: dateTimeToDtm(context?.period?.start) } : {}),
    ...(dateTimeToDtm(context?.period?.end) ? { serviceStopTime: dateTimeToDtm(context?.period?.end) } : {}),
    ...(attachment?.language ? { languageCode: attachment.language } : {}),
    ...(base64ToHex(attachment?.hash) ? { hash: base64ToHex(attachment?.hash) } : {}),
    ...(attachment?.size !== undefined ? { size: String(attachment.size) } : {}),
    ...(source.sourcePatientId ? { sourcePatientId: source.sourcePatientId } : {}),
    sourcePatientInfo: source.sourcePatientInfo,
    ...(legal && legal.resourceType === 'Practitioner' ? { legalAuthenticator: practitionerToXcn(legal) } : {}),
    referenceIdList: (context?.related ?? [])
      .map((r) => identifierToCx(r.identifier) ?? r.display)
      .filter((v): v is string => !!v),
    extraSlots: [],
    limitedMetadata: doc.meta?.profile?.includes(Mhd.minimalDocumentReference) ?? false,
  };
  if (options.ignoreKeneyExtensions) return entry;
  const authorExtensions = (doc.extension ?? []).filter((e) => e.url === KeneyExt.author);
  const withAuthors = authorExtensions.length
    ? { ...entry, authors: authorExtensions.map(readAuthorExtension) }
    : entry;
  return { ...applyAttributes(withAuthors, readAttributes(doc), ARRAY_FIELDS), extraSlots: readSlots(doc) };
}

// ---- SubmissionSet / Folder ⇄ List ---------------------------------------------------------------------------------

export interface ListInput {
  subjectReference?: string;
  entries: ListEntry[];
  /** List.date when the set has none (MHD requires one): the registry's time. */
  indexedAt: string;
  /** Associations that no entry or relatesTo represents (kept on the SubmissionSet List). */
  otherAssociations?: Association[];
}

const FIELDS_OF_SET = [
  'id',
  'lid',
  'status',
  'home',
  'version',
  'title',
  'comments',
  'uniqueId',
  'sourceId',
  'patientId',
  'submissionTime',
  'intendedRecipients',
] as const satisfies readonly (keyof SubmissionSet)[];

const FIELDS_OF_FOLDER = [
  'id',
  'lid',
  'status',
  'home',
  'version',
  'title',
  'comments',
  'uniqueId',
  'patientId',
  'lastUpdateTime',
] as const satisfies readonly (keyof Folder)[];

function listIdentifiers(id: string, uniqueId: string | undefined): Identifier[] {
  return [
    ...(id.startsWith('urn:uuid:') ? [entryUuidIdentifier(id)] : []),
    ...(uniqueId ? [uniqueIdIdentifier(uniqueId)] : []),
  ];
}

function subjectOf(patientId: string | undefined, reference: string | undefined): Reference<Patient> | undefined {
  const identifier = patientId ? (patientIdentifier(patientId) ?? cxToIdentifier(patientId)) : undefined;
  if (!identifier && !reference) return undefined;
  return { ...(reference ? { reference } : {}), ...(identifier ? { identifier } : {}) };
}

/** SubmissionSet → List (code submissionset). */
export function listFromSubmissionSet(set: SubmissionSet, input: ListInput): List {
  const core = submissionSetListCore(set, input);
  const derived = submissionSetFromList(core, { ignoreKeneyExtensions: true });
  const lost = lostAttributes(set, derived, FIELDS_OF_SET);
  const authorsLost = !isDeepStrictEqual(set.authors, derived.authors);
  const extension = [
    ...(core.extension ?? []),
    ...lost,
    ...(authorsLost ? set.authors.map(authorExtension) : []),
    ...set.extraSlots.map(slotExtension),
  ];
  return { ...core, ...(extension.length ? { extension } : {}) };
}

function submissionSetListCore(set: SubmissionSet, input: ListInput): List {
  const authors = authorsToFhir(set.authors.slice(0, 1), 'author');
  // List.source cannot be an Organization: an institution-only author lives in the xds-author extension alone.
  const sourceIsOrganization = authors.contained.some(
    (c) => `#${c.id}` === authors.references[0]?.reference && c.resourceType === 'Organization',
  );
  const contained = sourceIsOrganization ? [] : authors.contained;
  const references = (sourceIsOrganization ? [] : authors.references) as Reference<Practitioner | PractitionerRole>[];
  const subject = subjectOf(set.patientId, input.subjectReference);
  const date = dtmToDateTime(set.submissionTime) ?? input.indexedAt;
  return {
    resourceType: 'List',
    meta: { profile: [set.limitedMetadata ? Mhd.minimalSubmissionSet : Mhd.comprehensiveSubmissionSet] },
    ...(contained.length ? { contained } : {}),
    extension: [
      ...(set.sourceId
        ? [
            {
              url: Mhd.sourceId,
              valueIdentifier: {
                system: DocumentIdentifierSystem.uri,
                value: isOid(set.sourceId) ? `urn:oid:${set.sourceId}` : set.sourceId,
              },
            },
          ]
        : []),
      ...(set.contentTypeCode
        ? [{ url: Mhd.designationType, valueCodeableConcept: { coding: [codingFor(set.contentTypeCode)] } }]
        : []),
      ...set.intendedRecipients.map((r) => ({ url: Mhd.intendedRecipient, valueReference: { display: r } })),
      ...(input.otherAssociations ?? []).map(associationExtension),
    ],
    identifier: listIdentifiers(set.id, set.uniqueId),
    status: set.status === AvailabilityStatus.deprecated ? 'retired' : 'current',
    mode: 'working',
    ...(set.title !== undefined ? { title: set.title } : {}),
    code: { coding: [{ system: Mhd.listTypes, code: 'submissionset' }] },
    ...(subject ? { subject } : {}),
    date,
    ...(references[0] ? { source: references[0] } : {}),
    ...(set.comments !== undefined ? { note: [{ text: set.comments }] } : {}),
    ...(input.entries.length ? { entry: input.entries } : {}),
  };
}

function listStatus(list: List): string | undefined {
  return list.status === 'current'
    ? AvailabilityStatus.approved
    : list.status === 'retired'
      ? AvailabilityStatus.deprecated
      : undefined;
}

/** List (submissionset) → SubmissionSet. */
export function submissionSetFromList(list: List, options: { ignoreKeneyExtensions?: boolean } = {}): SubmissionSet {
  const ext = (url: string) => (list.extension ?? []).filter((e) => e.url === url);
  const sourceId = ext(Mhd.sourceId)[0]?.valueIdentifier?.value;
  const contentType = firstCode(ext(Mhd.designationType)[0]?.valueCodeableConcept);
  const status = listStatus(list);
  const patientId = identifierToCx(list.subject?.identifier);
  const set: SubmissionSet = {
    kind: 'SubmissionSet',
    id: entryUuidOfIdentifiers(list.identifier) ?? (list.id ? `urn:uuid:${uuidV5(`List/${list.id}`)}` : ''),
    ...(status ? { status } : {}),
    ...(list.title !== undefined ? { title: list.title } : {}),
    ...(list.note?.[0]?.text !== undefined ? { comments: list.note[0].text } : {}),
    ...(uniqueIdOf(list.identifier?.find((i) => i.use === 'usual'))
      ? { uniqueId: uniqueIdOf(list.identifier?.find((i) => i.use === 'usual')) }
      : {}),
    ...(sourceId ? { sourceId: sourceId.startsWith('urn:oid:') ? sourceId.slice(8) : sourceId } : {}),
    ...(patientId ? { patientId } : {}),
    ...(dateTimeToDtm(list.date) ? { submissionTime: dateTimeToDtm(list.date) } : {}),
    ...(contentType ? { contentTypeCode: contentType } : {}),
    authors: authorsFromFhir(list, list.source ? [list.source] : []),
    intendedRecipients: ext(Mhd.intendedRecipient)
      .map((e) => e.valueReference?.display ?? identifierToCx(e.valueReference?.identifier))
      .filter((v): v is string => !!v),
    extraSlots: [],
    limitedMetadata: list.meta?.profile?.includes(Mhd.minimalSubmissionSet) ?? false,
  };
  if (options.ignoreKeneyExtensions) return set;
  const authorExtensions = ext(KeneyExt.author);
  const withAuthors = authorExtensions.length ? { ...set, authors: authorExtensions.map(readAuthorExtension) } : set;
  return { ...applyAttributes(withAuthors, readAttributes(list), ARRAY_FIELDS), extraSlots: readSlots(list) };
}

/** Folder → List (code folder). */
export function listFromFolder(folder: Folder, input: ListInput): List {
  const core = folderListCore(folder, input);
  const derived = folderFromList(core, { ignoreKeneyExtensions: true });
  const lost = lostAttributes(folder, derived, FIELDS_OF_FOLDER);
  const extension = [...(core.extension ?? []), ...lost, ...folder.extraSlots.map(slotExtension)];
  return { ...core, ...(extension.length ? { extension } : {}) };
}

function folderListCore(folder: Folder, input: ListInput): List {
  const subject = subjectOf(folder.patientId, input.subjectReference);
  return {
    resourceType: 'List',
    meta: { profile: [Mhd.folder] },
    extension: folder.codeList.map((c) => ({
      url: Mhd.designationType,
      valueCodeableConcept: { coding: [codingFor(c)] },
    })),
    identifier: listIdentifiers(folder.id, folder.uniqueId),
    status: folder.status === AvailabilityStatus.deprecated ? 'retired' : 'current',
    mode: 'working',
    ...(folder.title !== undefined ? { title: folder.title } : {}),
    code: { coding: [{ system: Mhd.listTypes, code: 'folder' }] },
    ...(subject ? { subject } : {}),
    date: dtmToDateTime(folder.lastUpdateTime) ?? input.indexedAt,
    ...(folder.comments !== undefined ? { note: [{ text: folder.comments }] } : {}),
    ...(input.entries.length ? { entry: input.entries } : {}),
  };
}

/** List (folder) → Folder. */
export function folderFromList(list: List, options: { ignoreKeneyExtensions?: boolean } = {}): Folder {
  const status = listStatus(list);
  const patientId = identifierToCx(list.subject?.identifier);
  const uniqueId = uniqueIdOf(list.identifier?.find((i) => i.use === 'usual'));
  const folder: Folder = {
    kind: 'Folder',
    id: entryUuidOfIdentifiers(list.identifier) ?? (list.id ? `urn:uuid:${uuidV5(`List/${list.id}`)}` : ''),
    ...(status ? { status } : {}),
    ...(list.title !== undefined ? { title: list.title } : {}),
    ...(list.note?.[0]?.text !== undefined ? { comments: list.note[0].text } : {}),
    ...(uniqueId ? { uniqueId } : {}),
    ...(patientId ? { patientId } : {}),
    codeList: (list.extension ?? [])
      .filter((e) => e.url === Mhd.designationType)
      .map((e) => firstCode(e.valueCodeableConcept))
      .filter((c): c is Code => !!c),
    ...(dateTimeToDtm(list.date) ? { lastUpdateTime: dateTimeToDtm(list.date) } : {}),
    extraSlots: [],
    limitedMetadata: false,
  };
  if (options.ignoreKeneyExtensions) return folder;
  return { ...applyAttributes(folder, readAttributes(list), ARRAY_FIELDS), extraSlots: readSlots(list) };
}

/** What kind of List this is (MHD code), if it is one of ours. */
export function listKind(list: List): 'submissionset' | 'folder' | undefined {
  const code = list.code?.coding?.find((c) => c.system === Mhd.listTypes)?.code;
  return code === 'submissionset' || code === 'folder' ? code : undefined;
}

// ---- associations -------------------------------------------------------------------------------------------------

const RELATES_TO: Record<string, 'replaces' | 'transforms' | 'appends' | 'signs'> = {
  [AssociationType.replace]: 'replaces',
  [AssociationType.transform]: 'transforms',
  [AssociationType.append]: 'appends',
  [AssociationType.transformAndReplace]: 'replaces',
  [AssociationType.signs]: 'signs',
  [AssociationType.isSnapshotOf]: 'transforms',
};

const FROM_RELATES_TO: Record<string, string> = {
  replaces: AssociationType.replace,
  transforms: AssociationType.transform,
  appends: AssociationType.append,
  signs: AssociationType.signs,
};

export function relatesToCode(type: string): 'replaces' | 'transforms' | 'appends' | 'signs' | undefined {
  return RELATES_TO[type];
}

/** The full association, as an extension (on a List entry, a relatesTo, or the SubmissionSet List). */
export function associationExtension(a: Association): Extension {
  const s = (name: string, value: string | undefined) => (value === undefined ? [] : [stringExtension(name, value)]);
  return {
    url: KeneyExt.association,
    extension: [
      ...s('id', a.id),
      ...s('type', a.associationType),
      ...s('rawType', a.rawAssociationType),
      ...s('source', a.sourceObject),
      ...s('target', a.targetObject),
      ...s('status', a.status),
      ...s('submissionSetStatus', a.submissionSetStatus),
      ...s('previousVersion', a.previousVersion),
      ...s('originalStatus', a.originalStatus),
      ...s('newStatus', a.newStatus),
      ...a.extraSlots.map(slotExtension),
    ],
  };
}

export function readAssociationExtension(ext: Extension): Partial<Association> {
  const one = (name: string) => subValues(ext, name)[0];
  const out: Partial<Association> = { kind: 'Association', extraSlots: readSlots(ext) };
  const assign = (key: keyof Association, name: string) => {
    const v = one(name);
    if (v !== undefined) (out as Record<string, unknown>)[key] = v;
  };
  assign('id', 'id');
  assign('associationType', 'type');
  assign('rawAssociationType', 'rawType');
  assign('sourceObject', 'source');
  assign('targetObject', 'target');
  assign('status', 'status');
  assign('submissionSetStatus', 'submissionSetStatus');
  assign('previousVersion', 'previousVersion');
  assign('originalStatus', 'originalStatus');
  assign('newStatus', 'newStatus');
  return out;
}

/** A kept association wins whole (its absent attributes stay absent); otherwise the derived defaults. */
function complete(kept: Partial<Association> | undefined, defaults: Association): Association {
  if (!kept) return defaults;
  const { status: _s, submissionSetStatus: _ss, ...required } = defaults;
  return { ...required, ...kept, extraSlots: kept.extraSlots ?? [] } as Association;
}

/** entryUUID of a resource referenced as `Type/id` (from what the caller fetched). */
export type EntryUuidOf = (reference: string) => string | undefined;

/** The associations a List represents: one HasMember per entry, plus those kept on the List itself. */
export function associationsOfList(
  list: List,
  entryUuidOf: EntryUuidOf,
  isList: (reference: string) => boolean = (r) => r.startsWith('List/'),
): Association[] {
  const kind = listKind(list);
  const source = kind === 'folder' ? folderFromList(list).id : submissionSetFromList(list).id;
  const out: Association[] = [];
  for (const entry of list.entry ?? []) {
    const target = entry.item.reference ? entryUuidOf(entry.item.reference) : undefined;
    const kept = (entry.extension ?? []).find((e) => e.url === KeneyExt.association);
    if (!target && !kept) continue;
    const defaults: Association = {
      kind: 'Association',
      id: `urn:uuid:${uuidV5(`${source}|HasMember|${target}`)}`,
      associationType: AssociationType.hasMember,
      sourceObject: source,
      targetObject: target ?? '',
      status: AvailabilityStatus.approved,
      ...(kind === 'submissionset' && entry.item.reference && !isList(entry.item.reference)
        ? { submissionSetStatus: 'Original' }
        : {}),
      extraSlots: [],
    };
    out.push(complete(kept ? readAssociationExtension(kept) : undefined, defaults));
  }
  for (const ext of (list.extension ?? []).filter((e) => e.url === KeneyExt.association)) {
    const a = readAssociationExtension(ext);
    if (a.id && a.associationType && a.sourceObject && a.targetObject) out.push(complete(a, a as Association));
  }
  return out;
}

/** The associations a DocumentReference's relatesTo represents (source = this entry). */
export function associationsOfDocument(doc: DocumentReference, entryUuidOf: EntryUuidOf): Association[] {
  const source = documentEntryFromReference(doc).id;
  const out: Association[] = [];
  for (const rel of doc.relatesTo ?? []) {
    const kept = (rel.extension ?? []).find((e) => e.url === KeneyExt.association);
    const target = rel.target.reference ? entryUuidOf(rel.target.reference) : undefined;
    if (!target && !kept) continue;
    const type = FROM_RELATES_TO[rel.code] ?? AssociationType.transform;
    const defaults: Association = {
      kind: 'Association',
      id: `urn:uuid:${uuidV5(`${source}|${type}|${target}`)}`,
      associationType: type,
      sourceObject: source,
      targetObject: target ?? '',
      status: AvailabilityStatus.approved,
      extraSlots: [],
    };
    out.push(complete(kept ? readAssociationExtension(kept) : undefined, defaults));
  }
  return out;
}

/** The patient a resource is about: `Patient/<id>` references. */
export function patientReferenceOf(resource: DocumentReference | List): string | undefined {
  const ref = resource.subject?.reference;
  return ref?.startsWith('Patient/') ? ref : undefined;
}
