// Shared pieces of the DICOM → FHIR R4 mappings: identifiers, dates, codings, the patient reference.
import type { CodeableConcept, Coding, Identifier, Patient, Reference } from '@medplum/fhirtypes';
import type { CodedValue, InstanceMetadata, PatientIdentifier } from '../metadata.js';
import { nameComponents, type PersonName } from '../person-name.js';

/** FHIR's system for DICOM UIDs (identifier values are `urn:oid:<uid>`). */
export const DICOM_UID_SYSTEM = 'urn:dicom:uid';
export const DCM_SYSTEM = 'http://dicom.nema.org/resources/ontology/DCM';
/** Prefix of the system of an assigning authority known only by name (as mappings/hl7v2 does for CX-4.1). */
export const V2_NAMESPACE_SYSTEM = 'urn:keney:v2-namespace:';
/** System of a Patient ID sent without any issuer (local to the sender: reconciles with nothing else). */
export const UNQUALIFIED_PATIENT_ID_SYSTEM = 'urn:keney:dicom:patient-id';
export const ACCESSION_TYPE: CodeableConcept = {
  coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'ACSN' }],
};

export interface MappingOptions {
  /**
   * The FHIR identifier system for a Patient ID issuer. Default: `urn:oid:<Universal Entity ID>` when the
   * issuer has an ISO OID (or the Issuer of Patient ID is itself an OID), else
   * `urn:keney:v2-namespace:<Issuer of Patient ID>` — the system the HL7 v2 mappings give an assigning
   * authority without OID (CX-4.1), so that a PACS and an ADT feed naming the same domain name the same
   * patients — else `urn:keney:dicom:patient-id`.
   */
  patientIdSystem?: (id: PatientIdentifier) => string;
  /** The system of accession numbers without Issuer of Accession Number (the RIS' order filler), when known. */
  accessionSystem?: string;
  /** IANA time zone for dates without Timezone Offset From UTC (0008,0201). Default Europe/Paris. */
  timeZone?: string;
  /** Endpoint reference placed on ImagingStudy (our DICOMweb); default `Endpoint/keney-dicomweb`. */
  endpoint?: Reference;
  /** Overrides the patient reference (phase 2: the reconciled Patient). */
  patient?: Reference;
}

export function uidIdentifier(uid: string): Identifier {
  return { system: DICOM_UID_SYSTEM, value: `urn:oid:${uid}` };
}

export function defaultPatientIdSystem(id: PatientIdentifier): string {
  if (id.issuerUniversalId && (id.issuerUniversalIdType ?? 'ISO') === 'ISO' && /^[0-9.]+$/.test(id.issuerUniversalId)) {
    return `urn:oid:${id.issuerUniversalId}`;
  }
  if (id.issuer && /^[0-9]+(\.[0-9]+)+$/.test(id.issuer)) return `urn:oid:${id.issuer}`;
  if (id.issuer)
    return `${V2_NAMESPACE_SYSTEM}${/^[^\s|,\\$%]+$/.test(id.issuer) ? id.issuer : encodeURIComponent(id.issuer)}`;
  return UNQUALIFIED_PATIENT_ID_SYSTEM;
}

export function patientIdentifiers(meta: InstanceMetadata, options: MappingOptions = {}): Identifier[] {
  const system = options.patientIdSystem ?? defaultPatientIdSystem;
  const all = [meta.patient.id, ...meta.patient.otherIds].filter((x): x is PatientIdentifier => !!x);
  const seen = new Set<string>();
  const out: Identifier[] = [];
  for (const id of all) {
    const identifier: Identifier = { system: system(id), value: id.value };
    const key = `${identifier.system}|${identifier.value}`;
    if (seen.has(key)) continue;
    seen.add(key);
    if (id.ins)
      identifier.type = {
        coding: [
          { system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'INS-NIR', display: 'NIR définitif' },
        ],
      };
    out.push(identifier);
  }
  // The INS first: it is the key identity reconciliation prefers.
  return out.sort((a, b) => Number(!!b.type) - Number(!!a.type));
}

/** A logical reference to the Patient by its best identifier (INS, else Patient ID with its issuer). */
export function patientReference(meta: InstanceMetadata, options: MappingOptions = {}): Reference<Patient> {
  if (options.patient) return options.patient as Reference<Patient>;
  const identifier = patientIdentifiers(meta, options)[0];
  const display = personNameDisplay(meta.patient.name);
  return {
    type: 'Patient',
    ...(identifier ? { identifier } : {}),
    ...(display ? { display } : {}),
  };
}

/** A Patient resource as the instance describes it, for reconciliation with the known identity. */
export function patientFromMetadata(meta: InstanceMetadata, options: MappingOptions = {}): Patient {
  const patient: Patient = { resourceType: 'Patient', identifier: patientIdentifiers(meta, options) };
  const name = meta.patient.name?.alphabetic;
  if (name) {
    const c = nameComponents(name);
    patient.name = [
      {
        use: 'official',
        ...(c.family ? { family: c.family } : {}),
        ...(c.given || c.middle ? { given: [c.given, c.middle].filter((x): x is string => !!x) } : {}),
        ...(c.prefix ? { prefix: [c.prefix] } : {}),
        ...(c.suffix ? { suffix: [c.suffix] } : {}),
      },
    ];
  }
  const birthDate = fhirDate(meta.patient.birthDate);
  if (birthDate) patient.birthDate = birthDate;
  const gender = ({ M: 'male', F: 'female', O: 'other' } as const)[meta.patient.sex as 'M' | 'F' | 'O'];
  patient.gender = gender ?? 'unknown';
  return patient;
}

export function personNameDisplay(name: PersonName | undefined): string | undefined {
  const group = name?.alphabetic ?? name?.ideographic;
  if (!group) return undefined;
  const c = nameComponents(group);
  const text = [c.prefix, c.given, c.middle, c.family, c.suffix].filter(Boolean).join(' ');
  return text || undefined;
}

/** DICOM DA (YYYYMMDD, or the old YYYY.MM.DD) → FHIR date; undefined if not a date. */
export function fhirDate(da: string | undefined): string | undefined {
  if (!da) return undefined;
  const m = /^(\d{4})\.?(\d{2})\.?(\d{2})$/.exec(da.trim());
  if (!m) return undefined;
  const [, y, mo, d] = m;
  const date = new Date(`${y}-${mo}-${d}T00:00:00Z`);
  if (Number.isNaN(date.getTime()) || date.getUTCDate() !== Number(d)) return undefined;
  return `${y}-${mo}-${d}`;
}

function offsetOf(timeZone: string, utcGuess: Date): string {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone, timeZoneName: 'longOffset' }).formatToParts(utcGuess);
  const name = parts.find((p) => p.type === 'timeZoneName')?.value ?? 'GMT';
  const m = /GMT([+-]\d{2}):?(\d{2})?/.exec(name);
  return m ? `${m[1]}:${m[2] ?? '00'}` : '+00:00';
}

/**
 * DICOM DA + TM (+ Timezone Offset From UTC "+HHMM") → FHIR dateTime. FHIR requires a zone once a time is
 * given: without the offset attribute the configured IANA zone is used (DST-aware).
 */
export function fhirDateTime(
  da: string | undefined,
  tm: string | undefined,
  offset: string | undefined,
  timeZone = 'Europe/Paris',
): string | undefined {
  const date = fhirDate(da);
  if (!date) return undefined;
  const t = tm ? /^(\d{2}):?(\d{2})?:?(\d{2})?(\.\d{1,6})?/.exec(tm.trim()) : null;
  if (!t) return date;
  const [, hh, mm = '00', ss = '00', fraction = ''] = t;
  if (Number(hh) > 23 || Number(mm) > 59 || Number(ss) > 60) return date;
  const local = `${date}T${hh}:${mm}:${ss}${fraction}`;
  let zone: string;
  const o = offset ? /^([+-])(\d{2})(\d{2})$/.exec(offset.trim()) : null;
  if (o) zone = `${o[1]}${o[2]}:${o[3]}`;
  else {
    // The offset in force at that local time: guess with the offset at the same UTC wall time, then correct.
    const guess = new Date(`${local.slice(0, 19)}Z`);
    const first = offsetOf(timeZone, guess);
    const shifted = new Date(guess.getTime() - minutes(first) * 60_000);
    zone = offsetOf(timeZone, shifted);
  }
  return `${local}${zone}`;
}

function minutes(offset: string): number {
  const m = /^([+-])(\d{2}):(\d{2})$/.exec(offset);
  if (!m) return 0;
  return (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3]));
}

/** Coding scheme designators (PS3.16 §8) → FHIR system URIs. */
const CODING_SCHEMES: Record<string, string> = {
  DCM: DCM_SYSTEM,
  LN: 'http://loinc.org',
  SCT: 'http://snomed.info/sct',
  SRT: 'http://snomed.info/sct',
  UCUM: 'http://unitsofmeasure.org',
  RADLEX: 'http://radlex.org',
  RXNORM: 'http://www.nlm.nih.gov/research/umls/rxnorm',
  I10: 'http://hl7.org/fhir/sid/icd-10',
};

export function codingSystem(designator: string | undefined): string | undefined {
  if (!designator) return undefined;
  return CODING_SCHEMES[designator] ?? `urn:dicom:coding-scheme:${encodeURIComponent(designator)}`;
}

export function coding(code: CodedValue): Coding {
  const system = codingSystem(code.system);
  return { ...(system ? { system } : {}), code: code.code, ...(code.display ? { display: code.display } : {}) };
}

export function codeableConcept(code: CodedValue): CodeableConcept {
  return { coding: [coding(code)], ...(code.display ? { text: code.display } : {}) };
}

export function accessionIdentifier(meta: InstanceMetadata, options: MappingOptions): Identifier | undefined {
  const value = meta.study.accessionNumber;
  if (!value) return undefined;
  // The instance's own Issuer of Accession Number wins; the configured system is for instances without one.
  const system = meta.study.accessionIssuer
    ? defaultPatientIdSystem({ value, issuer: meta.study.accessionIssuer, ins: false })
    : options.accessionSystem;
  return { type: ACCESSION_TYPE, ...(system ? { system } : {}), value };
}
