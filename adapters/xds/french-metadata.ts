// French XDS metadata (CI-SIS / DMP): the coding schemes (OIDs) of the ANS nomenclatures and the value sets shipped
// as data in value-sets/fr/ (see value-sets/fr/README.md for where each code comes from).
import { readFileSync, readdirSync } from 'node:fs';
import { XdsErrorCode } from './constants.js';
import type { Code, DocumentEntry, XdsIssue } from './model.js';

/** codingScheme OIDs of the nomenclatures used in French XDS metadata (ANS NOS). */
export const FrenchCodingScheme = {
  /** TRE_A03-ClasseDocument — classCode */
  classCode: '1.2.250.1.213.1.1.4.1',
  /** TRE_A04-TypeDocument-LOINC — typeCode */
  loinc: '2.16.840.1.113883.6.1',
  /** TRE_A05-TypeDocComplementaire — typeCode outside LOINC */
  typeComplementary: '1.2.250.1.213.1.1.4.12',
  /** TRE_A06-FormatCodeComplementaire — formatCode */
  formatComplementary: '1.2.250.1.213.1.1.4.2.282',
  /** TRE_A11-IheFormatCode — formatCode */
  iheFormat: '1.3.6.1.4.1.19376.1.2.3',
  /** TRE_A09-DICOMuidRegistry — formatCode of XDS-I manifests */
  dicomUid: '1.2.840.10008.2.6.1',
  /** TRE_R02-SecteurActivite — healthcareFacilityTypeCode (author is a professional) */
  facilityType: '1.2.250.1.71.4.2.4',
  /** TRE_A00-ProducteurDocNonPS — facility type / practice setting when the author is the patient */
  producerNotProfessional: '1.2.250.1.213.1.1.4.6',
  /** TRE_A01-CadreExercice — practiceSettingCode */
  practiceSetting: '1.2.250.1.213.1.1.4.9',
  /** HL7 v3 Confidentiality */
  confidentiality: '2.16.840.1.113883.5.25',
  /** CCAM — eventCodeList (medical acts) */
  ccam: '1.2.250.1.213.2.5',
  /** CIM-10 — eventCodeList (diagnoses); codes are not shipped (licence), only the scheme */
  cim10: '2.16.840.1.113883.6.3',
} as const;

export interface FrenchValueSet {
  id: string;
  xdsElement:
    | 'classCode'
    | 'typeCode'
    | 'formatCode'
    | 'healthcareFacilityTypeCode'
    | 'practiceSettingCode'
    | 'confidentialityCode';
  codeSystem: string;
  codingScheme: string;
  fhirSystem: string;
  source: string;
  concepts: { code: string; display?: string }[];
}

let cache: FrenchValueSet[] | undefined;

/** The shipped French value sets (read once from value-sets/fr/*.json). */
export function frenchValueSets(): readonly FrenchValueSet[] {
  if (!cache) {
    const dir = new URL('./value-sets/fr/', import.meta.url);
    cache = readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .sort()
      .map((f) => JSON.parse(readFileSync(new URL(f, dir), 'utf8')) as FrenchValueSet);
  }
  return cache;
}

/** A Code from a shipped value set, e.g. frenchCode('class-code', '11') → Synthèse in TRE_A03. Throws if unknown. */
export function frenchCode(valueSetId: string, code: string): Code {
  const set = frenchValueSets().find((s) => s.id === valueSetId);
  if (!set)
    throw new Error(
      `Unknown French value set "${valueSetId}": one of ${frenchValueSets()
        .map((s) => s.id)
        .join(', ')}`,
    );
  const concept = set.concepts.find((c) => c.code === code);
  if (!concept)
    throw new Error(
      `Code "${code}" is not in the shipped value set ${set.id} (${set.codeSystem}); see adapters/xds/value-sets/fr/README.md`,
    );
  return { code, codingScheme: set.codingScheme, ...(concept.display ? { displayName: concept.display } : {}) };
}

/** FHIR system URI for a French codingScheme OID (for DocumentReference codings), if known. */
export function fhirSystemForCodingScheme(codingScheme: string): string | undefined {
  if (codingScheme === FrenchCodingScheme.loinc) return 'http://loinc.org';
  return frenchValueSets().find((s) => s.codingScheme === codingScheme)?.fhirSystem;
}

/**
 * Checks a DocumentEntry against the French rules the shipped data can verify: the codingScheme of each code is the
 * nomenclature the CI-SIS expects, and the code belongs to the shipped value set when that set is complete
 * (classCode). Returns warnings (a DMP-like peer would reject; our own registry accepts).
 */
export function checkFrenchMetadata(entry: DocumentEntry): XdsIssue[] {
  const issues: XdsIssue[] = [];
  const where = `DocumentEntry ${entry.id}`;
  const warn = (message: string) =>
    issues.push({ code: XdsErrorCode.registryMetadataError, severity: 'warning', message, location: where });
  const expect = (name: string, code: Code | undefined, schemes: readonly string[]) => {
    if (!code) return;
    if (!schemes.includes(code.codingScheme))
      warn(
        `${where}: ${name} "${code.code}" has codingScheme "${code.codingScheme}", the CI-SIS expects ${schemes.join(' or ')}`,
      );
  };
  expect('classCode', entry.classCode, [FrenchCodingScheme.classCode]);
  expect('typeCode', entry.typeCode, [FrenchCodingScheme.loinc, FrenchCodingScheme.typeComplementary]);
  expect('formatCode', entry.formatCode, [
    FrenchCodingScheme.formatComplementary,
    FrenchCodingScheme.iheFormat,
    FrenchCodingScheme.dicomUid,
  ]);
  expect('healthcareFacilityTypeCode', entry.healthcareFacilityTypeCode, [
    FrenchCodingScheme.facilityType,
    FrenchCodingScheme.producerNotProfessional,
  ]);
  expect('practiceSettingCode', entry.practiceSettingCode, [
    FrenchCodingScheme.practiceSetting,
    FrenchCodingScheme.producerNotProfessional,
  ]);
  for (const c of entry.eventCodes)
    expect('eventCode', c, [
      FrenchCodingScheme.ccam,
      FrenchCodingScheme.cim10,
      FrenchCodingScheme.producerNotProfessional,
    ]);
  const classSet = frenchValueSets().find((s) => s.id === 'class-code');
  if (
    entry.classCode &&
    entry.classCode.codingScheme === FrenchCodingScheme.classCode &&
    classSet &&
    !classSet.concepts.some((c) => c.code === entry.classCode!.code)
  ) {
    warn(`${where}: classCode "${entry.classCode.code}" is not in JDV_J57-ClassCode-DMP`);
  }
  return issues;
}
