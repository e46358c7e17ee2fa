// The FHIR vocabulary of documents: IHE MHD profiles, extensions and code systems, Keney's own extensions for the
// XDS values FHIR cannot carry as written, and the XDS codingScheme ⇄ FHIR system mapping.
import type { Coding } from '@medplum/fhirtypes';
import { fhirSystemForCodingScheme, frenchValueSets } from '../../adapters/xds/french-metadata.js';
import { isOid } from '../../adapters/xds/hl7-values.js';

const MHD = 'https://profiles.ihe.net/ITI/MHD/StructureDefinition/';

/** IHE MHD 4.2 profiles and extensions (https://profiles.ihe.net/ITI/MHD/). */
export const Mhd = {
  comprehensiveDocumentReference: `${MHD}IHE.MHD.Comprehensive.DocumentReference`,
  minimalDocumentReference: `${MHD}IHE.MHD.Minimal.DocumentReference`,
  comprehensiveSubmissionSet: `${MHD}IHE.MHD.Comprehensive.SubmissionSet`,
  minimalSubmissionSet: `${MHD}IHE.MHD.Minimal.SubmissionSet`,
  folder: `${MHD}IHE.MHD.Folder`,
  comprehensiveProvideBundle: `${MHD}IHE.MHD.Comprehensive.ProvideBundle`,
  minimalProvideBundle: `${MHD}IHE.MHD.Minimal.ProvideBundle`,
  unContainedProvideBundle: `${MHD}IHE.MHD.UnContained.Comprehensive.ProvideBundle`,
  sourceId: `${MHD}ihe-sourceId`,
  designationType: `${MHD}ihe-designationType`,
  intendedRecipient: `${MHD}ihe-intendedRecipient`,
  listTypes: 'https://profiles.ihe.net/ITI/MHD/CodeSystem/MHDlistTypes',
} as const;

const KENEY = 'https://keney.health/fhir/StructureDefinition/';

/**
 * Keney extensions that keep XDS values lossless. `xds-attribute` holds an IHE attribute *as written* only when the
 * FHIR element cannot reproduce it (a DTM without seconds, an upper-case hash, a CX with a namespace id, the
 * On-Demand object type…); the registry view prefers it over the FHIR element, so ITI-18 returns what ITI-41 stored.
 */
export const KeneyExt = {
  /** Complex: `name` (valueString) + `value` (valueString, repeated). */
  attribute: `${KENEY}xds-attribute`,
  /** Complex: `name` + `value`*: an ebRIM Slot outside the IHE model (extra metadata). */
  slot: `${KENEY}xds-slot`,
  /** Complex: `person`, `institution`*, `role`*, `specialty`*, `telecommunication`* (HL7 v2 strings as written). */
  author: `${KENEY}xds-author`,
  /** On a Coding: the XDS codingScheme when the FHIR system does not map back to it. */
  codingScheme: `${KENEY}xds-coding-scheme`,
  /** Complex on a List entry (or the List for associations without an entry): the association as XDS knows it. */
  association: `${KENEY}xds-association`,
  /** On a Binary: the content-addressed blob (sha256, lowercase hex) holding its bytes. */
  blob: `${KENEY}blob-sha256`,
} as const;

/** Identifier systems. */
export const DocumentIdentifierSystem = {
  /** MHD: entryUUID (urn:uuid:…) and OID uniqueIds (urn:oid:…) are URIs. */
  uri: 'urn:ietf:rfc:3986',
} as const;

/** XDS codingScheme OIDs whose FHIR system is a URL. */
const WELL_KNOWN: Record<string, string> = {
  '2.16.840.1.113883.6.1': 'http://loinc.org',
  '2.16.840.1.113883.6.96': 'http://snomed.info/sct',
  '2.16.840.1.113883.5.25': 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality',
  '1.2.840.10008.2.16.4': 'http://dicom.nema.org/resources/ontology/DCM',
  '2.16.840.1.113883.6.8': 'http://unitsofmeasure.org',
};

let reverse: Map<string, string> | undefined;

function reverseSystems(): Map<string, string> {
  if (!reverse) {
    reverse = new Map(Object.entries(WELL_KNOWN).map(([oid, url]) => [url, oid]));
    for (const set of frenchValueSets())
      if (!reverse.has(set.fhirSystem)) reverse.set(set.fhirSystem, set.codingScheme);
  }
  return reverse;
}

/** FHIR system for an XDS codingScheme: a known URL, `urn:oid:` for another OID, undefined for free text. */
export function systemForCodingScheme(scheme: string): string | undefined {
  return WELL_KNOWN[scheme] ?? fhirSystemForCodingScheme(scheme) ?? (isOid(scheme) ? `urn:oid:${scheme}` : undefined);
}

/** XDS codingScheme for a FHIR system (the reverse of {@link systemForCodingScheme}; other URIs are kept as they are). */
export function codingSchemeForSystem(system: string | undefined): string | undefined {
  if (!system) return undefined;
  const known = reverseSystems().get(system);
  if (known) return known;
  if (system.startsWith('urn:oid:')) return system.slice('urn:oid:'.length);
  return system;
}

/** A Coding for an XDS code, with the codingScheme kept in an extension when the system cannot give it back. */
export function codingFor(code: { code: string; codingScheme: string; displayName?: string }): Coding {
  const system = systemForCodingScheme(code.codingScheme);
  const lossless = codingSchemeForSystem(system) === code.codingScheme;
  return {
    ...(lossless ? {} : { extension: [{ url: KeneyExt.codingScheme, valueString: code.codingScheme }] }),
    ...(system ? { system } : {}),
    code: code.code,
    ...(code.displayName !== undefined ? { display: code.displayName } : {}),
  };
}

/** The XDS code of a Coding (undefined without a code or a scheme). */
export function codeOf(
  coding: Coding | undefined,
): { code: string; codingScheme: string; displayName?: string } | undefined {
  if (!coding?.code) return undefined;
  const raw = coding.extension?.find((e) => e.url === KeneyExt.codingScheme)?.valueString;
  const scheme = raw ?? codingSchemeForSystem(coding.system);
  if (scheme === undefined) return undefined;
  return {
    code: coding.code,
    codingScheme: scheme,
    ...(coding.display !== undefined ? { displayName: coding.display } : {}),
  };
}
