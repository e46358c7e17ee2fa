// The HL7 v2 value forms XDS metadata uses (ITI TF-3 §4.2.3.1.7): CX patient ids, DTM timestamps, OIDs.

/** A CX patient identifier `id^^^&oid&ISO`. */
export interface PatientIdentifier {
  id: string;
  /** Assigning authority universal id (an OID). */
  oid: string;
}

// Digits and dots without leading zeros. The first arc is not limited to 0-2: real peers use ids such as 2009.9.1.2455.
const OID = /^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))+$/;

export function isOid(value: string): boolean {
  return value.length <= 64 && OID.test(value);
}

/** Parses a CX as XDS requires it (id, CX.4 = `&oid&ISO`, nothing in CX.2/CX.3); a message otherwise. */
export function parsePatientIdentifier(value: string): PatientIdentifier | { error: string } {
  const components = value.split('^');
  if (components.length !== 4) {
    return {
      error: `"${value}" is not a patient id of the form id^^^&OID&ISO (found ${components.length - 1} '^' instead of 3)`,
    };
  }
  const [id, c2, c3, authority] = components as [string, string, string, string];
  if (!id) return { error: `"${value}" has no identifier before ^^^` };
  if (c2 || c3) return { error: `"${value}" has values in CX.2/CX.3, which XDS does not allow: write id^^^&OID&ISO` };
  const parts = authority.split('&');
  // CX.4.1 (namespace id) should be empty in XDS; it is tolerated (many senders fill it) and ignored for matching.
  if (parts.length !== 3 || parts[2] !== 'ISO') {
    return { error: `"${value}" has an assigning authority "${authority}" not of the form &OID&ISO` };
  }
  if (!isOid(parts[1]!)) return { error: `"${value}": assigning authority "${parts[1]}" is not an OID` };
  return { id, oid: parts[1]! };
}

export function formatPatientIdentifier(pid: PatientIdentifier): string {
  return `${pid.id}^^^&${pid.oid}&ISO`;
}

/** DTM as XDS restricts it: YYYY[MM[DD[hh[mm[ss]]]]], UTC, digits only. */
export function isXdsDateTime(value: string): boolean {
  if (!/^\d{4}(\d{2}){0,5}$/.test(value)) return false;
  const month = value.length >= 6 ? Number(value.slice(4, 6)) : 1;
  const day = value.length >= 8 ? Number(value.slice(6, 8)) : 1;
  const hour = value.length >= 10 ? Number(value.slice(8, 10)) : 0;
  const minute = value.length >= 12 ? Number(value.slice(10, 12)) : 0;
  const second = value.length >= 14 ? Number(value.slice(12, 14)) : 0;
  return month >= 1 && month <= 12 && day >= 1 && day <= 31 && hour <= 23 && minute <= 59 && second <= 59;
}

/** A Date as an XDS DTM (UTC, to the second). */
export function toXdsDateTime(date: Date): string {
  return date.toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

/** An XDS DTM as an ISO 8601 instant/partial date (FHIR dateTime): 20240102 → 2024-01-02, 20240102030405 → …T03:04:05Z. */
export function xdsDateTimeToIso(value: string): string | undefined {
  if (!isXdsDateTime(value)) return undefined;
  const y = value.slice(0, 4);
  if (value.length === 4) return y;
  const m = value.slice(4, 6);
  if (value.length === 6) return `${y}-${m}`;
  const d = value.slice(6, 8);
  if (value.length === 8) return `${y}-${m}-${d}`;
  const hh = value.slice(8, 10);
  const mm = value.length >= 12 ? value.slice(10, 12) : '00';
  const ss = value.length >= 14 ? value.slice(12, 14) : '00';
  return `${y}-${m}-${d}T${hh}:${mm}:${ss}Z`;
}

/** Document uniqueId: an OID, optionally `^extension` (extension ≤ 16 characters), 128 characters at most. */
export function isDocumentUniqueId(value: string): boolean {
  if (value.length > 128) return false;
  const caret = value.indexOf('^');
  if (caret < 0) return isOid(value);
  const ext = value.slice(caret + 1);
  return isOid(value.slice(0, caret)) && ext.length > 0 && ext.length <= 16 && !ext.includes('^');
}

/** XCN/XON component access: `a^b^c` → component n (1-based), '' when absent. */
export function component(value: string, n: number): string {
  return value.split('^')[n - 1] ?? '';
}
