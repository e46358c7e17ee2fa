// One received DICOM instance → the FHIR transaction Bundle of its change set (pure: no I/O, no clock).
//
//   Patient          POST, If-None-Exist identifier=<every identifier of the instance, OR-ed>  (identity.ts)
//   ServiceRequest   POST, If-None-Exist identifier=<accession system>|<accession number>  (only with an accession)
//   ImagingStudy     PUT ImagingStudy?identifier=urn:dicom:uid|urn:oid:<study uid> — the whole study, rebuilt from
//                    every instance the archive holds, so each instance re-submits its study and they converge
//   DiagnosticReport PUT DiagnosticReport?identifier=urn:dicom:uid|urn:oid:<sop uid>   (Structured Reports)
//   DocumentReference + Binary                                                        (encapsulated PDF / CDA)
//
// References between them are the entries' urn:uuid fullUrls; the projector resolves them to the ids the
// conditions give. Provenance is the store's (from the change set's origin).
import type {
  Bundle,
  BundleEntry,
  Endpoint,
  ImagingStudy,
  Patient,
  Reference,
  Resource,
  ServiceRequest,
} from '@medplum/fhirtypes';
import type { DataSet } from '../../../adapters/dicom/dataset.js';
import {
  accessionIdentifier,
  codeableConcept,
  DICOM_UID_SYSTEM,
  personNameDisplay,
} from '../../../adapters/dicom/fhir/common.js';
import { toDocumentReference } from '../../../adapters/dicom/fhir/encapsulated-document.js';
import { toImagingStudy } from '../../../adapters/dicom/fhir/imaging-study.js';
import { toDiagnosticReport } from '../../../adapters/dicom/fhir/structured-report.js';
import type { InstanceMetadata } from '../../../adapters/dicom/metadata.js';
import { isStructuredReport, SopClass } from '../../../adapters/dicom/uids.js';
import type { MappingIssue } from '../../../mappings/mapper.js';
import { uuidV5 } from '../../../store/uuid.js';
import { DICOMWEB_ENDPOINT_REFERENCE } from './endpoint.js';
import { escapeSearchValue, patientIdentity, patientIdSystem, type IdentityOptions } from './identity.js';

/** System of accession numbers when neither the instance (Issuer of Accession Number) nor the settings name one. */
export const DEFAULT_ACCESSION_SYSTEM = 'urn:keney:dicom:accession';
const SNOMED = 'http://snomed.info/sct';
/** SNOMED CT 363679005 |Imaging (procedure)|: the category of orders known from images. Code only. */
const IMAGING_CATEGORY = { coding: [{ system: SNOMED, code: '363679005' }] };

export interface StudyBundleOptions extends IdentityOptions {
  /** System of accession numbers without Issuer of Accession Number (KENEY_DICOM_ACCESSION_SYSTEM). */
  accessionSystem?: string;
  /** IANA zone of dates without Timezone Offset From UTC (default Europe/Paris). */
  timeZone?: string;
  /** The DICOMweb Endpoint (default Endpoint/keney-dicomweb). */
  endpoint?: Reference<Endpoint>;
}

export interface StudyBundleInput {
  /** The instance received. */
  instance: InstanceMetadata;
  /** Its data set, for what the metadata does not carry (SR content tree, encapsulated document). */
  dataSet?: DataSet;
  /** Every instance of its study the archive holds (this one included or not: it is added). */
  study: readonly InstanceMetadata[];
}

export interface StudyBundle {
  bundle: Bundle;
  /** Warnings (a report that could not be mapped, an anonymous study…); errors are thrown. */
  issues: MappingIssue[];
  /** The Patient condition (for logs and tests). */
  patientCriteria: string;
  imagingStudyCriteria: string;
}

function uidCriteria(uid: string): string {
  return new URLSearchParams({ identifier: `${DICOM_UID_SYSTEM}|${escapeSearchValue(`urn:oid:${uid}`)}` }).toString();
}

function fullUrl(kind: string, key: string): string {
  return `urn:uuid:${uuidV5(`dicom-record/${kind}/${key}`)}`;
}

export function studyBundle(input: StudyBundleInput, options: StudyBundleOptions = {}): StudyBundle {
  const meta = input.instance;
  const studyUid = meta.study.studyInstanceUid;
  const issues: MappingIssue[] = [];
  const identity = patientIdentity(meta, options);
  if (identity.anonymous) {
    issues.push({
      severity: 'warning',
      code: 'DICOM_NO_PATIENT_ID',
      message: `The instance has no Patient ID: its study is linked to a Patient of its own (${identity.identifiers[0]!.system}). Merge it with the right patient once known.`,
    });
  }
  const accessionSystem = options.accessionSystem ?? DEFAULT_ACCESSION_SYSTEM;
  const mapping = {
    patientIdSystem: patientIdSystem(options),
    accessionSystem,
    ...(options.timeZone ? { timeZone: options.timeZone } : {}),
    endpoint: options.endpoint ?? { reference: DICOMWEB_ENDPOINT_REFERENCE },
  };
  const patientUrl = fullUrl('patient', identity.criteria);
  const display = personNameDisplay(meta.patient.name);
  const subject: Reference<Patient> = { reference: patientUrl, ...(display ? { display } : {}) };
  const entries: BundleEntry[] = [
    {
      fullUrl: patientUrl,
      resource: identity.patient,
      request: { method: 'POST', url: 'Patient', ifNoneExist: identity.criteria },
    },
  ];

  // The order, by accession number: linked when known, else a minimal one the RIS feed can complete.
  const accession = accessionIdentifier(meta, mapping);
  let basedOn: Reference<ServiceRequest> | undefined;
  if (accession?.value && accession.value.trim() !== '') {
    const criteria = new URLSearchParams({
      identifier: `${escapeSearchValue(accession.system!)}|${escapeSearchValue(accession.value)}`,
    }).toString();
    const orderUrl = fullUrl('service-request', criteria);
    const order: ServiceRequest = {
      resourceType: 'ServiceRequest',
      identifier: [accession],
      status: 'unknown',
      intent: 'order',
      category: [IMAGING_CATEGORY],
      subject,
    };
    const code = meta.study.procedureCodes[0];
    if (code) order.code = codeableConcept(code);
    else if (meta.study.description) order.code = { text: meta.study.description };
    const referrer = personNameDisplay(meta.study.referringPhysicianName);
    if (referrer) order.requester = { display: referrer };
    entries.push({
      fullUrl: orderUrl,
      resource: order,
      request: { method: 'POST', url: 'ServiceRequest', ifNoneExist: criteria },
    });
    basedOn = { reference: orderUrl, type: 'ServiceRequest', identifier: accession };
  }

  // The study: every instance known, this one included.
  const all = input.study.some((i) => i.instance.sopInstanceUid === meta.instance.sopInstanceUid)
    ? [...input.study]
    : [...input.study, meta];
  const sameStudy = all.filter((i) => i.study.studyInstanceUid === studyUid);
  // The instance received carries the newest study-level attributes: map from it first.
  const ordered = [meta, ...sameStudy.filter((i) => i.instance.sopInstanceUid !== meta.instance.sopInstanceUid)];
  const imagingStudy: ImagingStudy = toImagingStudy(ordered, { ...mapping, patient: subject });
  if (basedOn) imagingStudy.basedOn = [basedOn];
  else delete imagingStudy.basedOn;
  const studyCriteria = uidCriteria(studyUid);
  const studyUrl = fullUrl('imaging-study', studyUid);
  entries.push({
    fullUrl: studyUrl,
    resource: imagingStudy,
    request: { method: 'PUT', url: `ImagingStudy?${studyCriteria}` },
  });
  const studyReference: Reference<ImagingStudy> = { reference: studyUrl, type: 'ImagingStudy' };

  // Reports and documents carried by the instance itself.
  const sopClass = meta.instance.sopClassUid;
  const sopCriteria = uidCriteria(meta.instance.sopInstanceUid);
  if (isStructuredReport(sopClass) && input.dataSet) {
    try {
      const report = toDiagnosticReport(input.dataSet, meta, { ...mapping, patient: subject });
      report.imagingStudy = [studyReference];
      if (basedOn) report.basedOn = [basedOn];
      else delete report.basedOn;
      entries.push({ resource: report, request: { method: 'PUT', url: `DiagnosticReport?${sopCriteria}` } });
    } catch (error) {
      issues.push({
        severity: 'warning',
        code: 'DICOM_SR_NOT_MAPPED',
        message: `The Structured Report could not become a DiagnosticReport (${(error as Error).message}); the instance is archived and listed in its ImagingStudy.`,
      });
    }
  } else if ((sopClass === SopClass.EncapsulatedPDF || sopClass === SopClass.EncapsulatedCDA) && input.dataSet) {
    try {
      const { documentReference, binary } = toDocumentReference(input.dataSet, meta, { ...mapping, patient: subject });
      documentReference.context = { ...documentReference.context, related: [studyReference] };
      if (basedOn) documentReference.context.related!.push(basedOn);
      entries.push({ resource: binary, request: { method: 'PUT', url: `Binary/${binary.id}` } });
      entries.push({
        resource: documentReference,
        request: { method: 'PUT', url: `DocumentReference?${sopCriteria}` },
      });
    } catch (error) {
      issues.push({
        severity: 'warning',
        code: 'DICOM_DOCUMENT_NOT_MAPPED',
        message: `The encapsulated document could not become a DocumentReference (${(error as Error).message}); the instance is archived and listed in its ImagingStudy.`,
      });
    }
  }

  return {
    bundle: { resourceType: 'Bundle', type: 'transaction', entry: entries },
    issues,
    patientCriteria: identity.criteria,
    imagingStudyCriteria: studyCriteria,
  };
}

/** The resources of a bundle (for validation before the append). */
export function bundleResources(bundle: Bundle): Resource[] {
  return (bundle.entry ?? []).map((e) => e.resource).filter((r): r is Resource => r !== undefined);
}
