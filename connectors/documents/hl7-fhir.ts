// HL7 v2 value forms of XDS metadata (XCN, XON, XTN, CX, DTM) ⇄ FHIR datatypes and contained resources.
// Forward conversions are best effort for FHIR readers; the XDS view never depends on them being exact,
// because what a conversion cannot give back is kept as written (see vocabulary.ts, `xds-attribute`).
import type { ContactPoint, HumanName, Identifier, Organization, Patient, Practitioner } from '@medplum/fhirtypes';
import { isOid, isXdsDateTime } from '../../adapters/xds/hl7-values.js';

const split = (value: string, separator: string): string[] => value.split(separator);
const at = (parts: string[], n: number): string => parts[n - 1] ?? '';

/** Drops trailing empty components: `a^b^^` → `a^b`. */
export function trimComponents(value: string, separator = '^'): string {
  const parts = value.split(separator);
  while (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
  return parts.join(separator);
}

/** HD `&oid&ISO` (subcomponents of CX.4 / XCN.9 / XON.6) → the OID, when it is one. */
function oidOfAuthority(hd: string): string | undefined {
  const parts = split(hd, '&');
  return parts[1] && isOid(parts[1]) ? parts[1] : undefined;
}

function identifier(value: string, authorityHd: string): Identifier | undefined {
  if (!value) return undefined;
  const oid = oidOfAuthority(authorityHd);
  return { ...(oid ? { system: `urn:oid:${oid}` } : {}), value };
}

/** The OID of an Identifier's system (urn:oid:…), if any. */
export function oidOfSystem(system: string | undefined): string | undefined {
  return system?.startsWith('urn:oid:') ? system.slice('urn:oid:'.length) : undefined;
}

/** CX `id^^^&oid&ISO` → Identifier. */
export function cxToIdentifier(cx: string): Identifier | undefined {
  const parts = split(cx, '^');
  return identifier(at(parts, 1), at(parts, 4));
}

/** Identifier → CX `id^^^&oid&ISO` (undefined without an OID system). */
export function identifierToCx(id: Identifier | undefined): string | undefined {
  const oid = oidOfSystem(id?.system);
  return id?.value && oid ? `${id.value}^^^&${oid}&ISO` : undefined;
}

/** XCN (person) → Practitioner (contained, id given). */
export function xcnToPractitioner(xcn: string, id: string): Practitioner {
  const p = split(xcn, '^');
  const ident = identifier(at(p, 1), at(p, 9));
  const given = [at(p, 3), at(p, 4)].filter(Boolean);
  const name: HumanName = {
    ...(at(p, 2) ? { family: at(p, 2) } : {}),
    ...(given.length ? { given } : {}),
    ...(at(p, 6) ? { prefix: [at(p, 6)] } : {}),
    ...(at(p, 5) ? { suffix: [at(p, 5)] } : {}),
  };
  return {
    resourceType: 'Practitioner',
    id,
    ...(ident ? { identifier: [ident] } : {}),
    ...(Object.keys(name).length ? { name: [name] } : {}),
  };
}

/** Practitioner → XCN. */
export function practitionerToXcn(practitioner: Pick<Practitioner, 'identifier' | 'name'>): string {
  const id = practitioner.identifier?.find((i) => oidOfSystem(i.system)) ?? practitioner.identifier?.[0];
  const name = practitioner.name?.[0];
  const oid = oidOfSystem(id?.system);
  return trimComponents(
    [
      id?.value ?? '',
      name?.family ?? '',
      name?.given?.[0] ?? '',
      name?.given?.[1] ?? '',
      name?.suffix?.[0] ?? '',
      name?.prefix?.[0] ?? '',
      '',
      '',
      oid ? `&${oid}&ISO` : '',
    ].join('^'),
  );
}

/** XON (organization) → Organization (contained); none when the XON names neither a name nor an id (R4 org-1). */
export function xonToOrganization(xon: string, id: string): Organization | undefined {
  const p = split(xon, '^');
  const ident = identifier(at(p, 10) || at(p, 3), at(p, 6));
  if (!ident && !at(p, 1)) return undefined;
  return {
    resourceType: 'Organization',
    id,
    ...(ident ? { identifier: [ident] } : {}),
    ...(at(p, 1) ? { name: at(p, 1) } : {}),
  };
}

/** Organization → XON `name^^^^^&oid&ISO^^^^id`. */
export function organizationToXon(org: Pick<Organization, 'identifier' | 'name'>): string {
  const id = org.identifier?.find((i) => oidOfSystem(i.system)) ?? org.identifier?.[0];
  const oid = oidOfSystem(id?.system);
  return trimComponents(
    [org.name ?? '', '', '', '', '', oid ? `&${oid}&ISO` : '', '', '', '', id?.value ?? ''].join('^'),
  );
}

/** XTN → ContactPoint: `^^Internet^a@b` (e-mail) or a telephone number (XTN.12 or XTN.1). */
export function xtnToContactPoint(xtn: string): ContactPoint | undefined {
  const p = split(xtn, '^');
  if (at(p, 3).toLowerCase() === 'internet' || at(p, 4).includes('@')) return { system: 'email', value: at(p, 4) };
  const phone = at(p, 12) || at(p, 1);
  return phone ? { system: at(p, 3) === 'FX' ? 'fax' : 'phone', value: phone } : undefined;
}

/** ContactPoint → XTN. */
export function contactPointToXtn(cp: ContactPoint): string | undefined {
  if (!cp.value) return undefined;
  if (cp.system === 'email') return `^^Internet^${cp.value}`;
  return trimComponents(`^^${cp.system === 'fax' ? 'FX' : 'PH'}^^^^^^^^^${cp.value}`);
}

/** sourcePatientInfo (`PID-3|…`, `PID-5|…`, `PID-7|…`, `PID-8|…`) + sourcePatientId → a contained Patient. */
export function sourcePatientToPatient(
  sourcePatientId: string | undefined,
  info: readonly string[],
  id: string,
): Patient {
  const fields = new Map<string, string[]>();
  for (const line of info) {
    const bar = line.indexOf('|');
    if (bar < 0) continue;
    const key = line.slice(0, bar).trim().toUpperCase();
    fields.set(key, [...(fields.get(key) ?? []), line.slice(bar + 1)]);
  }
  const identifiers = [sourcePatientId, ...(fields.get('PID-3') ?? [])]
    .filter((v): v is string => !!v)
    .map(cxToIdentifier)
    .filter((v): v is Identifier => !!v);
  const unique = identifiers.filter(
    (v, i) => identifiers.findIndex((w) => w.system === v.system && w.value === v.value) === i,
  );
  const names = (fields.get('PID-5') ?? []).map((xpn) => {
    const p = split(xpn, '^');
    const given = [at(p, 2), at(p, 3)].filter(Boolean);
    return { ...(at(p, 1) ? { family: at(p, 1) } : {}), ...(given.length ? { given } : {}) } as HumanName;
  });
  const birth = fields.get('PID-7')?.[0];
  const sex = fields.get('PID-8')?.[0];
  const gender = sex === 'F' ? 'female' : sex === 'M' ? 'male' : sex === 'U' ? 'unknown' : sex ? 'other' : undefined;
  const birthDate =
    birth && isXdsDateTime(birth.slice(0, 8)) && birth.length >= 8
      ? `${birth.slice(0, 4)}-${birth.slice(4, 6)}-${birth.slice(6, 8)}`
      : undefined;
  return {
    resourceType: 'Patient',
    id,
    ...(unique.length ? { identifier: unique } : {}),
    ...(names.some((n) => Object.keys(n).length) ? { name: names } : {}),
    ...(birthDate ? { birthDate } : {}),
    ...(gender ? { gender } : {}),
  };
}

/** A contained Patient → sourcePatientId and sourcePatientInfo lines. */
export function patientToSourcePatient(patient: Patient): { sourcePatientId?: string; sourcePatientInfo: string[] } {
  const cxs = (patient.identifier ?? []).map(identifierToCx).filter((v): v is string => !!v);
  const info = cxs.map((cx) => `PID-3|${cx}`);
  for (const name of patient.name ?? [])
    info.push(`PID-5|${trimComponents([name.family ?? '', name.given?.[0] ?? '', name.given?.[1] ?? ''].join('^'))}`);
  if (patient.birthDate) info.push(`PID-7|${patient.birthDate.replace(/-/g, '')}`);
  const sex = ({ female: 'F', male: 'M', unknown: 'U', other: 'A' } as Record<string, string>)[patient.gender ?? ''];
  if (sex) info.push(`PID-8|${sex}`);
  return { ...(cxs[0] ? { sourcePatientId: cxs[0] } : {}), sourcePatientInfo: info };
}

/** XDS DTM (UTC) → FHIR dateTime. */
export function dtmToDateTime(value: string | undefined): string | undefined {
  if (!value || !isXdsDateTime(value)) return undefined;
  const y = value.slice(0, 4);
  if (value.length === 4) return y;
  if (value.length === 6) return `${y}-${value.slice(4, 6)}`;
  if (value.length === 8) return `${y}-${value.slice(4, 6)}-${value.slice(6, 8)}`;
  const pad = value.padEnd(14, '0');
  return `${y}-${pad.slice(4, 6)}-${pad.slice(6, 8)}T${pad.slice(8, 10)}:${pad.slice(10, 12)}:${pad.slice(12, 14)}Z`;
}

/** FHIR dateTime/instant → XDS DTM in UTC (to the second; partial dates keep their precision). */
export function dateTimeToDtm(value: string | undefined): string | undefined {
  if (!value) return undefined;
  if (/^\d{4}(-\d{2}(-\d{2})?)?$/.test(value)) return value.replace(/-/g, '');
  const time = Date.parse(value);
  if (Number.isNaN(time)) return undefined;
  return new Date(time).toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

/** SHA-1 hex (XDS) → base64 (FHIR Attachment.hash). */
export function hexToBase64(hex: string | undefined): string | undefined {
  return hex && /^[0-9a-fA-F]{40}$/.test(hex) ? Buffer.from(hex, 'hex').toString('base64') : undefined;
}

/** base64 SHA-1 (FHIR) → lowercase hex (XDS). */
export function base64ToHex(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const bytes = Buffer.from(value, 'base64');
  return bytes.length === 20 ? bytes.toString('hex') : undefined;
}
