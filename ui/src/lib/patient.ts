// What the screens show of a Patient: names as French hospitals write them (usage name, birth name), the INS
// and its identity status (FR Core identity-reliability, from PAM-FR PID-32), the IPPs, age, links (merges),
// and which other patients may be the same person.
import type { HumanName, Identifier, Patient } from '@medplum/fhirtypes';
import { insKindOf, type InsKind } from './ins.js';
import { foldName } from './patient-query.js';

export const IDENTITY_STATUSES = ['PROV', 'RECUP', 'VALI', 'QUAL'] as const;
export type IdentityStatus = (typeof IDENTITY_STATUSES)[number];

export const IDENTITY_RELIABILITY_URL = 'https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-identity-reliability';

export interface PatientIdentifierView {
  value: string;
  system?: string;
  /** PI (IPP), AN (NDA), INS-NIR… */
  type?: string;
}

export interface PatientView {
  id: string;
  /** "DURAND Marie-Claire": usage family name in capitals, then given names. */
  displayName: string;
  family?: string;
  given: string[];
  /** Birth name when it differs from the usage name ("née TESTMARTIN"). */
  birthName?: string;
  birthDate?: string;
  gender?: Patient['gender'];
  ins?: { value: string; kind: InsKind; system: string };
  identityStatus?: IdentityStatus;
  /** Local patient identifiers (IPP): type PI, or any non-INS identifier. */
  ipps: PatientIdentifierView[];
  active: boolean;
  /** Patient.link: replaced-by (this record was merged into another), replaces, refer, seealso. */
  links: { type: string; patientId: string }[];
  deceased: boolean;
}

/** "MARIE-CLAIRE" → "Marie-Claire", "jean pierre" → "Jean Pierre"; keeps "de", "d'" lower after the first word. */
export function capitalizeGiven(name: string): string {
  return name
    .toLowerCase()
    .replace(/(^|[\s'’-])(\p{L})/gu, (_m, sep: string, letter: string) => sep + letter.toUpperCase());
}

function pickName(names: HumanName[] | undefined, uses: HumanName['use'][]): HumanName | undefined {
  for (const use of uses) {
    const found = names?.find((n) => n.use === use && (n.family || n.given?.length));
    if (found) return found;
  }
  return names?.find((n) => n.family || n.given?.length);
}

export function identityStatusOf(patient: Patient): IdentityStatus | undefined {
  const extension = patient.extension?.find((e) => e.url === IDENTITY_RELIABILITY_URL);
  const code = extension?.extension?.find((e) => e.url === 'identityStatus')?.valueCoding?.code;
  return IDENTITY_STATUSES.find((s) => s === code);
}

function identifierType(identifier: Identifier): string | undefined {
  return identifier.type?.coding?.[0]?.code ?? identifier.type?.text;
}

export function patientView(patient: Patient): PatientView {
  const usual = pickName(patient.name, ['usual', 'official']);
  const official = pickName(patient.name, ['official']);
  const family = usual?.family?.toUpperCase();
  const given = (usual?.given ?? official?.given ?? []).slice(0, 1).map(capitalizeGiven);
  const birthFamily = official?.family?.toUpperCase();
  const insIdentifier = patient.identifier?.find((i) => insKindOf(i.system) && i.value);
  const ipps = (patient.identifier ?? [])
    .filter((i) => i.value && !insKindOf(i.system))
    .sort((a, b) => Number(identifierType(b) === 'PI') - Number(identifierType(a) === 'PI'))
    .map((i) => ({
      value: i.value!,
      ...(i.system ? { system: i.system } : {}),
      ...(identifierType(i) ? { type: identifierType(i)! } : {}),
    }));
  const status = identityStatusOf(patient);
  return {
    id: patient.id ?? '',
    displayName: [family, ...given].filter(Boolean).join(' ') || '—',
    ...(family ? { family } : {}),
    given,
    ...(birthFamily && birthFamily !== family ? { birthName: birthFamily } : {}),
    ...(patient.birthDate ? { birthDate: patient.birthDate } : {}),
    ...(patient.gender ? { gender: patient.gender } : {}),
    ...(insIdentifier
      ? { ins: { value: insIdentifier.value!, kind: insKindOf(insIdentifier.system)!, system: insIdentifier.system! } }
      : {}),
    ...(status ? { identityStatus: status } : {}),
    ipps,
    active: patient.active !== false,
    links: (patient.link ?? [])
      .filter((l) => l.other?.reference?.startsWith('Patient/'))
      .map((l) => ({ type: l.type, patientId: l.other.reference!.slice('Patient/'.length) })),
    deceased: patient.deceasedBoolean === true || Boolean(patient.deceasedDateTime),
  };
}

/** Age in whole years (and months under 2 years) at `today`, from a FHIR date (YYYY, YYYY-MM or YYYY-MM-DD). */
export function ageOf(
  birthDate: string | undefined,
  today = new Date(),
): { years: number; months: number } | undefined {
  if (!birthDate) return undefined;
  const [y, m = 1, d = 1] = birthDate.split('-').map(Number) as [number, number?, number?];
  if (!Number.isFinite(y)) return undefined;
  let months = (today.getFullYear() - y) * 12 + (today.getMonth() + 1 - m);
  if (today.getDate() < d) months--;
  if (months < 0) return undefined;
  return { years: Math.floor(months / 12), months };
}

/** The name key two records of the same person tend to share: folded family + first given name. */
function nameKeys(view: PatientView, patient: Patient): string[] {
  const keys = new Set<string>();
  for (const name of patient.name ?? []) {
    const family = name.family ? foldName(name.family).replace(/[^a-z]/g, '') : '';
    const given = name.given?.[0] ? foldName(name.given[0]).replace(/[^a-z]/g, '') : '';
    if (family) keys.add(`f:${family}`);
    if (given && family) keys.add(`g:${given.slice(0, 4)}:${family.slice(0, 3)}`);
  }
  if (view.family) keys.add(`f:${foldName(view.family).replace(/[^a-z]/g, '')}`);
  return [...keys];
}

/**
 * Possible duplicates among patients: same birth date and a shared family name (usage or birth), or the same
 * first given name with a family name starting alike — unless one already points to the other (a merge or a
 * known link). Returns, for each patient id, the ids it may duplicate.
 */
export function possibleDuplicates(patients: Patient[]): Map<string, string[]> {
  const views = patients.filter((p) => p.id).map((p) => ({ patient: p, view: patientView(p) }));
  const result = new Map<string, string[]>();
  for (let i = 0; i < views.length; i++) {
    for (let j = i + 1; j < views.length; j++) {
      const a = views[i]!;
      const b = views[j]!;
      if (!a.view.birthDate || a.view.birthDate !== b.view.birthDate) continue;
      if (a.view.links.some((l) => l.patientId === b.view.id) || b.view.links.some((l) => l.patientId === a.view.id))
        continue;
      if (!a.view.active || !b.view.active) continue;
      if (a.view.ins && b.view.ins && a.view.ins.value !== b.view.ins.value) continue;
      const keysB = new Set(nameKeys(b.view, b.patient));
      if (!nameKeys(a.view, a.patient).some((k) => keysB.has(k))) continue;
      result.set(a.view.id, [...(result.get(a.view.id) ?? []), b.view.id]);
      result.set(b.view.id, [...(result.get(b.view.id) ?? []), a.view.id]);
    }
  }
  return result;
}
