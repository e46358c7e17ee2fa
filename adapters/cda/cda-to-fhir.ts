// CDA header → FHIR R4 DocumentReference + Binary (pure: ids, dates and classCode come from the caller).
import { createHash } from 'node:crypto';
import type {
  Binary,
  Coding,
  DocumentReference,
  Identifier,
  Organization,
  Patient,
  Practitioner,
  Reference,
  Resource,
} from '@medplum/fhirtypes';
import { hl7TimeToFhir, patientIns, type CdaHeader, type InstanceIdentifier } from './cda-header.js';

const OID_SYSTEMS: Record<string, string> = {
  '2.16.840.1.113883.6.1': 'http://loinc.org',
  '2.16.840.1.113883.5.25': 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality',
  '2.16.840.1.113883.6.96': 'http://snomed.info/sct',
};

/** FHIR system for an OID code system (known URIs, else urn:oid:). */
export function systemForOid(oid: string | undefined): string | undefined {
  if (!oid) return undefined;
  return OID_SYSTEMS[oid] ?? `urn:oid:${oid}`;
}

/** An II as a FHIR Identifier: root alone → urn:ietf:rfc:3986 / urn:oid:root; root+extension → urn:oid:root / extension. */
export function identifierFromIi(id: InstanceIdentifier): Identifier {
  if (id.extension)
    return {
      system: /^[0-2](\.\d+)+$/.test(id.root) ? `urn:oid:${id.root}` : `urn:uuid:${id.root}`,
      value: id.extension,
    };
  return {
    system: 'urn:ietf:rfc:3986',
    value: /^[0-2](\.\d+)+$/.test(id.root) ? `urn:oid:${id.root}` : `urn:uuid:${id.root.toLowerCase()}`,
  };
}

/** The XDS uniqueId of a CDA (root, or root^extension). */
export function documentUniqueId(header: CdaHeader): string {
  return header.id.extension ? `${header.id.root}^${header.id.extension}` : header.id.root;
}

export interface DocumentReferenceOptions {
  /** id to give the Binary (and to reference from the attachment as Binary/<id>); a urn:uuid fullUrl works too. */
  binaryId: string;
  /** DocumentReference.date (when the hub indexed it). */
  indexedAt?: string;
  /** XDS classCode, if the transport carried one (a CDA has no class). */
  category?: Coding;
  /** XDS formatCode, if known. */
  format?: Coding;
  /** Content-Type to record for the CDA (default text/xml). */
  contentType?: string;
}

export interface DocumentReferenceResult {
  documentReference: DocumentReference;
  binary: Binary;
}

function reference<T extends Resource = Practitioner | Organization>(
  id: InstanceIdentifier | undefined,
  display: string | undefined,
): Reference<T> | undefined {
  if (!id && !display) return undefined;
  return { ...(id ? { identifier: identifierFromIi(id) } : {}), ...(display ? { display } : {}) };
}

/** Builds the DocumentReference and the Binary for a CDA document (its bytes kept as they came). */
export function cdaToDocumentReference(
  header: CdaHeader,
  bytes: Uint8Array,
  options: DocumentReferenceOptions,
): DocumentReferenceResult {
  const contentType = options.contentType ?? 'text/xml';
  const binary: Binary = {
    resourceType: 'Binary',
    id: options.binaryId,
    contentType,
    data: Buffer.from(bytes).toString('base64'),
  };
  const ins = patientIns(header);
  const subjectId = ins ?? header.patient.ids[0];
  const subjectIdentifier = subjectId ? identifierFromIi(subjectId) : undefined;
  const subject: Reference<Patient> | undefined = subjectIdentifier
    ? {
        reference: `Patient?identifier=${subjectIdentifier.system}|${subjectIdentifier.value}`,
        identifier: subjectIdentifier,
        ...(header.patient.name ? { display: header.patient.name.text } : {}),
      }
    : undefined;
  const typeCoding: Coding | undefined = header.code
    ? {
        ...(systemForOid(header.code.codeSystem) ? { system: systemForOid(header.code.codeSystem)! } : {}),
        code: header.code.code,
        ...(header.code.displayName ? { display: header.code.displayName } : {}),
      }
    : undefined;
  const events = header.serviceEvents.flatMap((e) =>
    e.code
      ? [
          {
            coding: [
              {
                ...(systemForOid(e.code.codeSystem) ? { system: systemForOid(e.code.codeSystem)! } : {}),
                code: e.code.code,
                ...(e.code.displayName ? { display: e.code.displayName } : {}),
              },
            ],
          },
        ]
      : [],
  );
  const lows = header.serviceEvents.map((e) => hl7TimeToFhir(e.effectiveLow)).filter((x): x is string => !!x);
  const highs = header.serviceEvents.map((e) => hl7TimeToFhir(e.effectiveHigh)).filter((x): x is string => !!x);
  const related: Reference[] = [
    ...header.orderIds.map((id): Reference => ({ identifier: { ...identifierFromIi(id), type: { text: 'order' } } })),
    ...header.serviceEvents.flatMap((e) =>
      e.studyInstanceUids.map((uid): Reference => ({
        type: 'ImagingStudy',
        identifier: { system: 'urn:dicom:uid', value: `urn:oid:${uid}` },
      })),
    ),
  ];
  const relatesTo = header.relatedDocuments
    .map((r) => {
      const code =
        r.typeCode === 'RPLC'
          ? 'replaces'
          : r.typeCode === 'APND'
            ? 'appends'
            : r.typeCode === 'XFRM'
              ? 'transforms'
              : undefined;
      return code
        ? { code: code as 'replaces' | 'appends' | 'transforms', target: { identifier: identifierFromIi(r.id) } }
        : undefined;
    })
    .filter((x): x is NonNullable<typeof x> => !!x);
  const creation = hl7TimeToFhir(header.effectiveTime);
  const hash = createHash('sha1').update(bytes).digest('base64');
  const authors = header.authors
    .map((a) => {
      const id = a.ids.find((i) => i.root === '1.2.250.1.71.4.2.1') ?? a.ids[0];
      return reference(id, a.name?.text ?? a.device ?? a.organization?.name);
    })
    .filter((x): x is Reference<Practitioner | Organization> => !!x);
  const legal = header.legalAuthenticator;
  const documentReference: DocumentReference = {
    resourceType: 'DocumentReference',
    masterIdentifier: identifierFromIi(header.id),
    identifier: header.setId ? [{ ...identifierFromIi(header.setId), type: { text: 'setId' } }] : [],
    status: 'current',
    ...(typeCoding ? { type: { coding: [typeCoding] } } : {}),
    ...(options.category ? { category: [{ coding: [options.category] }] } : {}),
    ...(subject ? { subject } : {}),
    ...(options.indexedAt ? { date: options.indexedAt } : {}),
    ...(authors.length ? { author: authors } : {}),
    ...(legal ? { authenticator: reference<Practitioner>(legal.ids[0], legal.name?.text)! } : {}),
    ...(header.custodian
      ? { custodian: reference<Organization>(header.custodian.ids[0], header.custodian.name)! }
      : {}),
    ...(relatesTo.length ? { relatesTo } : {}),
    ...(header.title ? { description: header.title } : {}),
    ...(header.confidentialityCode
      ? {
          securityLabel: [
            {
              coding: [
                {
                  system:
                    systemForOid(header.confidentialityCode.codeSystem) ??
                    'http://terminology.hl7.org/CodeSystem/v3-Confidentiality',
                  code: header.confidentialityCode.code,
                },
              ],
            },
          ],
        }
      : {}),
    content: [
      {
        attachment: {
          contentType,
          ...(header.languageCode ? { language: header.languageCode } : {}),
          url: options.binaryId.startsWith('urn:') ? options.binaryId : `Binary/${options.binaryId}`,
          size: bytes.byteLength,
          hash,
          ...(header.title ? { title: header.title } : {}),
          ...(creation ? { creation } : {}),
        },
        ...(options.format ? { format: options.format } : {}),
      },
    ],
    ...(events.length || lows.length || related.length
      ? {
          context: {
            ...(events.length ? { event: events } : {}),
            ...(lows.length
              ? { period: { start: lows.sort()[0]!, ...(highs.length ? { end: highs.sort().at(-1)! } : {}) } }
              : {}),
            ...(related.length ? { related } : {}),
          },
        }
      : {}),
  };
  if (documentReference.identifier?.length === 0) delete documentReference.identifier;
  return { documentReference, binary };
}

export interface FileDocumentOptions extends Omit<DocumentReferenceOptions, 'contentType'> {
  contentType: string;
  title?: string;
  /** Patient identifier (e.g. from X-MSS-INS or XDS metadata). */
  patient?: Identifier;
  /** A unique id for the document, if the transport gave one. */
  uniqueId?: string;
}

/** DocumentReference + Binary for a document that is not a CDA (PDF, image, text): metadata comes from the transport. */
export function fileToDocumentReference(bytes: Uint8Array, options: FileDocumentOptions): DocumentReferenceResult {
  const binary: Binary = {
    resourceType: 'Binary',
    id: options.binaryId,
    contentType: options.contentType,
    data: Buffer.from(bytes).toString('base64'),
  };
  const documentReference: DocumentReference = {
    resourceType: 'DocumentReference',
    ...(options.uniqueId
      ? {
          masterIdentifier: {
            system: 'urn:ietf:rfc:3986',
            value: /^[0-2](\.\d+)+$/.test(options.uniqueId) ? `urn:oid:${options.uniqueId}` : options.uniqueId,
          },
        }
      : {}),
    status: 'current',
    ...(options.category ? { category: [{ coding: [options.category] }] } : {}),
    ...(options.patient
      ? {
          subject: {
            reference: `Patient?identifier=${options.patient.system}|${options.patient.value}`,
            identifier: options.patient,
          },
        }
      : {}),
    ...(options.indexedAt ? { date: options.indexedAt } : {}),
    ...(options.title ? { description: options.title } : {}),
    content: [
      {
        attachment: {
          contentType: options.contentType,
          url: options.binaryId.startsWith('urn:') ? options.binaryId : `Binary/${options.binaryId}`,
          size: bytes.byteLength,
          hash: createHash('sha1').update(bytes).digest('base64'),
          ...(options.title ? { title: options.title } : {}),
        },
        ...(options.format ? { format: options.format } : {}),
      },
    ],
  };
  return { documentReference, binary };
}
