// Short human labels for coded values and referenced resources (a UF, a practitioner, a location).
import type { CodeableConcept, Coding, HumanName, Reference, Resource } from '@medplum/fhirtypes';
import { capitalizeGiven } from './patient.js';

/** International terminologies whose displays are English: a sender's own (French) label is preferred to them. */
const ENGLISH_DISPLAYS = new Set([
  'http://loinc.org',
  'http://snomed.info/sct',
  'http://terminology.hl7.org/CodeSystem/v2-0074',
]);

/** The label of a coded value: its text, else the sender's own label, else any display, else the code. */
export function conceptLabel(concept: CodeableConcept | undefined, preferSystem?: string): string | undefined {
  if (!concept) return undefined;
  if (concept.text) return concept.text;
  const codings = concept.coding ?? [];
  const preferred = preferSystem ? codings.find((c) => c.system === preferSystem && c.display) : undefined;
  const local = codings.find((c) => c.display && !ENGLISH_DISPLAYS.has(c.system ?? ''));
  return (preferred ?? local ?? codings.find((c) => c.display))?.display ?? codings.find((c) => c.code)?.code;
}

/** Clinical and verification status codes (allergies, conditions) that have words in the interface. */
export const CLINICAL_STATUS_CODES = [
  'active',
  'inactive',
  'resolved',
  'recurrence',
  'relapse',
  'remission',
  'confirmed',
  'unconfirmed',
  'provisional',
  'differential',
  'refuted',
  'entered-in-error',
] as const;
export type ClinicalStatusCode = (typeof CLINICAL_STATUS_CODES)[number];

export function clinicalStatusCode(concept: CodeableConcept | undefined): ClinicalStatusCode | undefined {
  const code = concept?.coding?.find((c) => c.code)?.code;
  return CLINICAL_STATUS_CODES.find((c) => c === code);
}

/** The coding of a system (CIM-10, CCAM, LOINC…) in a concept. */
export function codingOf(concept: CodeableConcept | undefined, systemStart: string): Coding | undefined {
  return concept?.coding?.find((c) => c.system?.startsWith(systemStart));
}

export function humanName(name: HumanName | undefined): string | undefined {
  if (!name) return undefined;
  if (name.text) return name.text;
  const parts = [
    ...(name.prefix ?? []).map(capitalizeGiven),
    ...(name.given ?? []).slice(0, 1).map(capitalizeGiven),
    name.family?.toUpperCase(),
  ].filter(Boolean);
  return parts.length ? parts.join(' ') : undefined;
}

/** The label of a referenced resource: its name, else the reference's display, else its identifier. */
export function referenceLabel(
  reference: Reference | string | undefined,
  referenced: Map<string, Resource>,
): string | undefined {
  if (!reference) return undefined;
  const ref = typeof reference === 'string' ? { reference } : reference;
  const resource = ref.reference ? referenced.get(ref.reference) : undefined;
  if (resource) {
    const r = resource as Resource & { name?: unknown; identifier?: { value?: string }[]; alias?: string[] };
    if (typeof r.name === 'string' && r.name) return r.name;
    if (Array.isArray(r.name)) {
      const label = humanName(r.name[0] as HumanName);
      if (label) return label;
    }
    if (r.alias?.[0]) return r.alias[0];
    if (r.identifier?.[0]?.value) return r.identifier[0].value;
  }
  return ref.display ?? ref.identifier?.value ?? undefined;
}
