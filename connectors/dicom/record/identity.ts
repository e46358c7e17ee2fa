// Which Patient a DICOM instance is about, as conditions the projector resolves against the identity already
// known (docs/adr/0007-dicom-patient-and-order-reconciliation.md):
// - every identifier the instance carries (INS from Other Patient IDs, Patient ID with its issuer) is OR-ed in
//   one condition, so a Patient known by any of them (created by an ADT feed, the REST API or an earlier study)
//   is the one linked; none known → a minimal Patient is created with all of them, which a later ADT enriches;
// - a Patient ID without any issuer gets the configured default issuer (one hospital's IPP domain), else a
//   system that reconciles with nothing;
// - an instance without any Patient ID is linked to a Patient of its own study (identifier = the study UID),
//   so that the instances of one anonymous study converge on one Patient.
import type { Identifier, Patient } from '@medplum/fhirtypes';
import {
  defaultPatientIdSystem,
  patientFromMetadata,
  patientIdentifiers,
  type MappingOptions,
} from '../../../adapters/dicom/fhir/common.js';
import type { InstanceMetadata, PatientIdentifier } from '../../../adapters/dicom/metadata.js';

/** System of the Patient of a study that names no patient (value: the Study Instance UID). */
export const STUDY_PATIENT_SYSTEM = 'urn:keney:dicom:study-patient';

export interface IdentityOptions {
  /**
   * The issuer assumed for a Patient ID sent without Issuer of Patient ID (KENEY_DICOM_DEFAULT_ISSUER): an OID
   * (→ urn:oid:…) or the assigning authority's namespace as the ADT feed sends it in PID-3.4.1.
   */
  defaultIssuer?: string;
}

export interface PatientIdentity {
  /** The identifiers, INS first. */
  identifiers: Identifier[];
  /** The search condition (`identifier=a|1,b|2`) of the conditional create and the references. */
  criteria: string;
  /** The Patient created when none matches: identifiers, name, birth date, gender from the instance. */
  patient: Patient;
  /** True when the instance names no patient and the study stands in for it. */
  anonymous: boolean;
}

/** The identifier system function for the FHIR mappings (with the default issuer applied). */
export function patientIdSystem(options: IdentityOptions): (id: PatientIdentifier) => string {
  return (id) =>
    !id.issuer && !id.issuerUniversalId && options.defaultIssuer
      ? defaultPatientIdSystem({ ...id, issuer: options.defaultIssuer })
      : defaultPatientIdSystem(id);
}

/** FHIR search escaping of a token part (`\`, `,`, `|`, `$`). */
export function escapeSearchValue(value: string): string {
  return value.replace(/[\\,|$]/g, (c) => `\\${c}`);
}

export function tokenCriteria(identifiers: readonly Identifier[]): string {
  const values = identifiers.map((i) => `${escapeSearchValue(i.system ?? '')}|${escapeSearchValue(i.value ?? '')}`);
  return new URLSearchParams({ identifier: values.join(',') }).toString();
}

export function patientIdentity(meta: InstanceMetadata, options: IdentityOptions = {}): PatientIdentity {
  const mapping: MappingOptions = { patientIdSystem: patientIdSystem(options) };
  const identifiers = patientIdentifiers(meta, mapping).filter((i) => i.value && i.value.trim() !== '');
  const patient = patientFromMetadata(meta, mapping);
  if (identifiers.length === 0) {
    const stand = { system: STUDY_PATIENT_SYSTEM, value: `urn:oid:${meta.study.studyInstanceUid}` };
    patient.identifier = [stand];
    return { identifiers: [stand], criteria: tokenCriteria([stand]), patient, anonymous: true };
  }
  patient.identifier = identifiers;
  return { identifiers, criteria: tokenCriteria(identifiers), patient, anonymous: false };
}
