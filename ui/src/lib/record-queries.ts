// The FHIR searches that open a patient's record: one per section, each with the Provenance of its items
// (lineage), newest first. The record screen runs them in parallel; bench/ui measures them at scale.

export const RECORD_SECTIONS = {
  encounters: {
    type: 'Encounter',
    patientParam: 'subject',
    params: [
      ['_count', '500'],
      ['_sort', '-date'],
    ],
  },
  observations: {
    type: 'Observation',
    patientParam: 'subject',
    params: [
      ['_count', '1000'],
      ['_sort', '-date'],
    ],
  },
  reports: {
    type: 'DiagnosticReport',
    patientParam: 'subject',
    params: [
      ['_count', '200'],
      ['_sort', '-date'],
    ],
  },
  documents: {
    type: 'DocumentReference',
    patientParam: 'subject',
    params: [
      ['_count', '200'],
      ['_sort', '-date'],
    ],
  },
  imaging: {
    type: 'ImagingStudy',
    patientParam: 'subject',
    params: [
      ['_count', '100'],
      ['_sort', '-started'],
    ],
  },
  orders: {
    type: 'ServiceRequest',
    patientParam: 'subject',
    params: [
      ['_count', '200'],
      ['_sort', '-authored'],
    ],
  },
  medications: {
    type: 'MedicationRequest',
    patientParam: 'subject',
    params: [
      ['_count', '200'],
      ['_sort', '-authoredon'],
    ],
  },
  appointments: {
    type: 'Appointment',
    patientParam: 'patient',
    params: [
      ['_count', '100'],
      ['_sort', '-date'],
    ],
  },
  allergies: { type: 'AllergyIntolerance', patientParam: 'patient', params: [['_count', '100']] },
  conditions: { type: 'Condition', patientParam: 'subject', params: [['_count', '200']] },
  procedures: {
    type: 'Procedure',
    patientParam: 'subject',
    params: [
      ['_count', '200'],
      ['_sort', '-date'],
    ],
  },
  charges: { type: 'ChargeItem', patientParam: 'subject', params: [['_count', '200']] },
  immunizations: {
    type: 'Immunization',
    patientParam: 'patient',
    params: [
      ['_count', '100'],
      ['_sort', '-date'],
    ],
  },
} as const satisfies Record<
  string,
  { type: string; patientParam: string; params: readonly (readonly [string, string])[] }
>;

export type SectionKey = keyof typeof RECORD_SECTIONS;
export const SECTION_KEYS = Object.keys(RECORD_SECTIONS) as SectionKey[];

/** The patient itself with the Provenance of its versions. */
export function patientQuery(patientId: string): { type: string; params: [string, string][] } {
  return {
    type: 'Patient',
    params: [
      ['_id', patientId],
      ['_revinclude', 'Provenance:target'],
    ],
  };
}

/** The search of one section of the record. */
export function sectionQuery(key: SectionKey, patientId: string): { type: string; params: [string, string][] } {
  const section = RECORD_SECTIONS[key];
  return {
    type: section.type,
    params: [
      [section.patientParam, `Patient/${patientId}`],
      ...section.params.map(([k, v]) => [k, v] as [string, string]),
      ['_revinclude', 'Provenance:target'],
    ],
  };
}
