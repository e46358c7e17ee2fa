// CDA R2 header → a typed metadata object (what a DocumentReference and the UI need), French identifiers included.
import {
  attribute,
  childElement,
  childElements,
  parseXml,
  textContent,
  type XmlDocument,
  type XmlElement,
  type XmlLimits,
} from '../xml/index.js';

export const V3 = 'urn:hl7-org:v3';

/** OIDs that identify French national identifiers. */
export const FrenchOid = {
  insNir: '1.2.250.1.213.1.4.8',
  insNia: '1.2.250.1.213.1.4.9',
  insNirTest: '1.2.250.1.213.1.4.10',
  insNirDemo: '1.2.250.1.213.1.4.11',
  /** RPPS / IDNPS (national professional id) */
  idnps: '1.2.250.1.71.4.2.1',
  /** Structures (FINESS, SIRET… prefixed) */
  idnst: '1.2.250.1.71.4.2.2',
} as const;

const INS_KIND: Record<string, 'NIR' | 'NIA' | 'NIR-test' | 'NIR-demo'> = {
  [FrenchOid.insNir]: 'NIR',
  [FrenchOid.insNia]: 'NIA',
  [FrenchOid.insNirTest]: 'NIR-test',
  [FrenchOid.insNirDemo]: 'NIR-demo',
};

export interface InstanceIdentifier {
  root: string;
  extension?: string;
}

export interface PatientIdentifier extends InstanceIdentifier {
  /** Set when the identifier is an INS (by its OID). */
  ins?: 'NIR' | 'NIA' | 'NIR-test' | 'NIR-demo';
}

export interface CodedValue {
  code: string;
  codeSystem?: string;
  codeSystemName?: string;
  displayName?: string;
}

export interface PersonName {
  family: string[];
  given: string[];
  prefix: string[];
  suffix: string[];
  /** The name as one line, for display. */
  text: string;
}

export interface CdaOrganization {
  ids: InstanceIdentifier[];
  name?: string;
}

export interface CdaAuthor {
  time?: string;
  ids: InstanceIdentifier[];
  /** IDNPS (1.2.250.1.71.4.2.1 extension), e.g. "810001234567". */
  idnps?: string;
  /** RPPS number (the IDNPS without its leading type digit 8). */
  rpps?: string;
  name?: PersonName;
  /** assignedAuthoringDevice/softwareName when the author is a system. */
  device?: string;
  functionCode?: CodedValue;
  telecoms: string[];
  organization?: CdaOrganization;
}

export interface ServiceEvent {
  code?: CodedValue;
  effectiveLow?: string;
  effectiveHigh?: string;
  ids: InstanceIdentifier[];
  /** DICOM Study Instance UIDs (serviceEvent ids whose root is a UID without extension). */
  studyInstanceUids: string[];
}

export interface CdaHeader {
  id: InstanceIdentifier;
  templateIds: string[];
  code?: CodedValue;
  title?: string;
  effectiveTime?: string;
  confidentialityCode?: CodedValue;
  languageCode?: string;
  setId?: InstanceIdentifier;
  versionNumber?: number;
  patient: {
    ids: PatientIdentifier[];
    name?: PersonName;
    birthTime?: string;
    administrativeGender?: string;
    telecoms: string[];
  };
  authors: CdaAuthor[];
  custodian?: CdaOrganization;
  legalAuthenticator?: { time?: string; ids: InstanceIdentifier[]; name?: PersonName };
  /** inFulfillmentOf/order/id */
  orderIds: InstanceIdentifier[];
  serviceEvents: ServiceEvent[];
  relatedDocuments: { typeCode: string; id: InstanceIdentifier; setId?: InstanceIdentifier; versionNumber?: number }[];
  informationRecipients: { ids: InstanceIdentifier[]; name?: PersonName; telecoms: string[] }[];
}

export const CdaErrorCode = {
  NotCda: 'CDA_NOT_A_CLINICAL_DOCUMENT',
  MissingId: 'CDA_MISSING_ID',
} as const;
export type CdaErrorCode = (typeof CdaErrorCode)[keyof typeof CdaErrorCode];

export class CdaError extends Error {
  override readonly name = 'CdaError';
  constructor(
    readonly code: CdaErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Default limits for CDA documents: 50 MiB (embedded PDFs), depth 200. */
export const CDA_XML_LIMITS: Partial<XmlLimits> = { maxBytes: 50 * 1024 * 1024, maxDepth: 200 };

/** Parses CDA bytes safely (adapters/xml: no DTD, limits) and checks the root is a ClinicalDocument. */
export function parseCda(input: Uint8Array | string, limits: Partial<XmlLimits> = CDA_XML_LIMITS): XmlDocument {
  // xsi and sdtc (the HL7 extension namespace) are used by most CDAs; some forget to declare them.
  const doc = parseXml(input, {
    source: 'The CDA document',
    limits,
    additionalNamespaces: { xsi: 'http://www.w3.org/2001/XMLSchema-instance', sdtc: 'urn:hl7-org:sdtc' },
  });
  if (doc.root.uri !== V3 || doc.root.local !== 'ClinicalDocument') {
    throw new CdaError(
      CdaErrorCode.NotCda,
      `The root element is {${doc.root.uri}}${doc.root.local}: a CDA document is a ClinicalDocument in urn:hl7-org:v3`,
    );
  }
  return doc;
}

const v3 = (el: XmlElement | undefined, local: string) => (el ? childElement(el, V3, local) : undefined);
const v3all = (el: XmlElement | undefined, local: string) => (el ? childElements(el, V3, local) : []);
const path = (el: XmlElement | undefined, ...steps: string[]) =>
  steps.reduce<XmlElement | undefined>((e, s) => v3(e, s), el);

function nullFlavored(el: XmlElement): boolean {
  return attribute(el, 'nullFlavor') !== undefined;
}

function ii(el: XmlElement | undefined): InstanceIdentifier | undefined {
  if (!el || nullFlavored(el)) return undefined;
  const root = attribute(el, 'root');
  if (!root) return undefined;
  const extension = attribute(el, 'extension');
  return { root, ...(extension ? { extension } : {}) };
}

function ids(el: XmlElement | undefined): InstanceIdentifier[] {
  return v3all(el, 'id')
    .map(ii)
    .filter((x): x is InstanceIdentifier => !!x);
}

function cv(el: XmlElement | undefined): CodedValue | undefined {
  if (!el || nullFlavored(el)) return undefined;
  const code = attribute(el, 'code');
  if (!code) return undefined;
  const out: CodedValue = { code };
  for (const key of ['codeSystem', 'codeSystemName', 'displayName'] as const) {
    const value = attribute(el, key);
    if (value) out[key] = value;
  }
  return out;
}

function ts(el: XmlElement | undefined): string | undefined {
  if (!el || nullFlavored(el)) return undefined;
  return attribute(el, 'value') || undefined;
}

function name(el: XmlElement | undefined): PersonName | undefined {
  if (!el || nullFlavored(el)) return undefined;
  const parts = (local: string) =>
    v3all(el, local)
      .map((p) => textContent(p).trim())
      .filter(Boolean);
  const family = parts('family');
  const given = parts('given');
  const prefix = parts('prefix');
  const suffix = parts('suffix');
  const hasParts = family.length + given.length + prefix.length + suffix.length > 0;
  const text = hasParts
    ? [...prefix, ...given, ...family.map((f) => f.toUpperCase()), ...suffix].join(' ')
    : textContent(el).replace(/\s+/g, ' ').trim();
  if (!text) return undefined;
  return { family, given, prefix, suffix, text };
}

function telecoms(el: XmlElement | undefined): string[] {
  return v3all(el, 'telecom')
    .map((t) => attribute(t, 'value'))
    .filter((v): v is string => !!v);
}

function organization(el: XmlElement | undefined): CdaOrganization | undefined {
  if (!el) return undefined;
  const orgName = v3(el, 'name');
  const n = orgName ? textContent(orgName).replace(/\s+/g, ' ').trim() : '';
  const out: CdaOrganization = { ids: ids(el), ...(n ? { name: n } : {}) };
  return out.ids.length || out.name ? out : undefined;
}

function version(el: XmlElement | undefined): number | undefined {
  const value = el ? attribute(el, 'value') : undefined;
  return value && /^\d+$/.test(value) ? Number(value) : undefined;
}

/** Reads the header of a parsed CDA document. Throws {@link CdaError} if it is not a ClinicalDocument or has no id. */
export function readCdaHeader(doc: XmlDocument): CdaHeader {
  const root = doc.root;
  if (root.uri !== V3 || root.local !== 'ClinicalDocument') {
    throw new CdaError(
      CdaErrorCode.NotCda,
      `The root element is {${root.uri}}${root.local}: expected ClinicalDocument in urn:hl7-org:v3`,
    );
  }
  const id = ii(v3(root, 'id'));
  if (!id)
    throw new CdaError(
      CdaErrorCode.MissingId,
      'The ClinicalDocument has no id (root/extension): it cannot be referenced; ask the sender to fix the document',
    );
  const titleEl = v3(root, 'title');
  const header: CdaHeader = {
    id,
    templateIds: v3all(root, 'templateId')
      .map((t) => attribute(t, 'root'))
      .filter((r): r is string => !!r),
    patient: { ids: [], telecoms: [] },
    authors: [],
    orderIds: [],
    serviceEvents: [],
    relatedDocuments: [],
    informationRecipients: [],
  };
  const code = cv(v3(root, 'code'));
  if (code) header.code = code;
  const title = titleEl ? textContent(titleEl).replace(/\s+/g, ' ').trim() : '';
  if (title) header.title = title;
  const effectiveTime = ts(v3(root, 'effectiveTime'));
  if (effectiveTime) header.effectiveTime = effectiveTime;
  const confidentiality = cv(v3(root, 'confidentialityCode'));
  if (confidentiality) header.confidentialityCode = confidentiality;
  const language = attribute(v3(root, 'languageCode') ?? root, 'code');
  if (language && v3(root, 'languageCode')) header.languageCode = language;
  const setId = ii(v3(root, 'setId'));
  if (setId) header.setId = setId;
  const versionNumber = version(v3(root, 'versionNumber'));
  if (versionNumber !== undefined) header.versionNumber = versionNumber;

  // recordTarget (the first one: a CDA is about one patient)
  const patientRole = path(root, 'recordTarget', 'patientRole');
  if (patientRole) {
    header.patient.ids = ids(patientRole).map((pid) =>
      INS_KIND[pid.root] ? { ...pid, ins: INS_KIND[pid.root] } : pid,
    );
    header.patient.telecoms = telecoms(patientRole);
    const patient = v3(patientRole, 'patient');
    const n = name(v3(patient, 'name'));
    if (n) header.patient.name = n;
    const birth = ts(v3(patient, 'birthTime'));
    if (birth) header.patient.birthTime = birth;
    const gender = cv(v3(patient, 'administrativeGenderCode'));
    if (gender) header.patient.administrativeGender = gender.code;
  }

  for (const author of v3all(root, 'author')) {
    const assigned = v3(author, 'assignedAuthor');
    const authorIds = ids(assigned);
    const idnps = authorIds.find((i) => i.root === FrenchOid.idnps)?.extension;
    const person = v3(assigned, 'assignedPerson');
    const device = path(assigned, 'assignedAuthoringDevice', 'softwareName');
    const a: CdaAuthor = { ids: authorIds, telecoms: telecoms(assigned) };
    const time = ts(v3(author, 'time'));
    if (time) a.time = time;
    if (idnps) {
      a.idnps = idnps;
      if (/^8\d{11}$/.test(idnps)) a.rpps = idnps.slice(1);
    }
    const n = name(v3(person, 'name'));
    if (n) a.name = n;
    if (device) a.device = textContent(device).trim();
    const fn = cv(v3(author, 'functionCode'));
    if (fn) a.functionCode = fn;
    const org = organization(v3(assigned, 'representedOrganization'));
    if (org) a.organization = org;
    header.authors.push(a);
  }

  const custodian = organization(path(root, 'custodian', 'assignedCustodian', 'representedCustodianOrganization'));
  if (custodian) header.custodian = custodian;

  const legal = v3(root, 'legalAuthenticator');
  if (legal) {
    const assigned = v3(legal, 'assignedEntity');
    const n = name(path(assigned, 'assignedPerson', 'name'));
    const time = ts(v3(legal, 'time'));
    header.legalAuthenticator = { ids: ids(assigned), ...(n ? { name: n } : {}), ...(time ? { time } : {}) };
  }

  for (const recipient of v3all(root, 'informationRecipient')) {
    const intended = v3(recipient, 'intendedRecipient');
    const n = name(path(intended, 'informationRecipient', 'name'));
    header.informationRecipients.push({ ids: ids(intended), telecoms: telecoms(intended), ...(n ? { name: n } : {}) });
  }

  for (const f of v3all(root, 'inFulfillmentOf')) header.orderIds.push(...ids(v3(f, 'order')));

  for (const d of v3all(root, 'documentationOf')) {
    const event = v3(d, 'serviceEvent');
    if (!event) continue;
    const eventIds = ids(event);
    const effective = v3(event, 'effectiveTime');
    const se: ServiceEvent = {
      ids: eventIds,
      studyInstanceUids: eventIds
        .filter((i) => !i.extension && /^[0-2](\.\d+)+$/.test(i.root) && i.root.split('.').length > 4)
        .map((i) => i.root),
    };
    const code = cv(v3(event, 'code'));
    if (code) se.code = code;
    const low = ts(v3(effective, 'low')) ?? ts(effective);
    const high = ts(v3(effective, 'high'));
    if (low) se.effectiveLow = low;
    if (high) se.effectiveHigh = high;
    header.serviceEvents.push(se);
  }

  for (const rel of v3all(root, 'relatedDocument')) {
    const parent = v3(rel, 'parentDocument');
    const pid = ii(v3(parent, 'id'));
    if (!pid) continue;
    const setId = ii(v3(parent, 'setId'));
    const versionNumber = version(v3(parent, 'versionNumber'));
    header.relatedDocuments.push({
      typeCode: attribute(rel, 'typeCode') ?? '',
      id: pid,
      ...(setId ? { setId } : {}),
      ...(versionNumber !== undefined ? { versionNumber } : {}),
    });
  }
  return header;
}

/** The INS of the patient if the header carries one (NIR first, then NIA, then test/demo NIR). */
export function patientIns(header: CdaHeader): PatientIdentifier | undefined {
  const order = ['NIR', 'NIA', 'NIR-test', 'NIR-demo'];
  return [...header.patient.ids]
    .filter((i) => i.ins && i.extension)
    .sort((a, b) => order.indexOf(a.ins!) - order.indexOf(b.ins!))[0];
}

/** HL7 TS (`20240102103000+0100`) → FHIR dateTime (`2024-01-02T10:30:00+01:00`); undefined when not a TS. */
export function hl7TimeToFhir(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const m = /^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:\.\d+)?([+-]\d{4})?$/.exec(value.trim());
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, tz] = m;
  if (!mo) return y;
  if (!d) return `${y}-${mo}`;
  if (!h) return `${y}-${mo}-${d}`;
  const zone = tz ? `${tz.slice(0, 3)}:${tz.slice(3)}` : 'Z';
  return `${y}-${mo}-${d}T${h}:${mi ?? '00'}:${s ?? '00'}${zone}`;
}
