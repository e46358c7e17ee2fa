// The INS (identifiant national de santé): the NIR or NIA of a person, 13 characters + a 2-digit key.
// Typed by people in any spacing ("1 84 12 75 123 456 78", "184127512345678"), with Corsican departments
// written 2A / 2B. Key = 97 − (the 13 first characters as a number mod 97), with 2A → 19 and 2B → 18 first.

/** Identifier systems of the INS (DESIGN.md): NIR, NIA, test NIR, demo NIR. */
export const INS_SYSTEMS = {
  nir: 'urn:oid:1.2.250.1.213.1.4.8',
  nia: 'urn:oid:1.2.250.1.213.1.4.9',
  test: 'urn:oid:1.2.250.1.213.1.4.10',
  demo: 'urn:oid:1.2.250.1.213.1.4.11',
} as const;
export type InsKind = keyof typeof INS_SYSTEMS;

const INS_SYSTEM_KINDS = new Map<string, InsKind>(
  Object.entries(INS_SYSTEMS).map(([kind, system]) => [system, kind as InsKind]),
);

/** The INS kind of an identifier system, or undefined when the system is not an INS one. */
export function insKindOf(system: string | undefined): InsKind | undefined {
  return system ? INS_SYSTEM_KINDS.get(system) : undefined;
}

// Separators people type or paste: spaces (incl. no-break and thin), dots, dashes, underscores, slashes.
const SEPARATORS = /[\s\u00a0\u202f.\-_/]+/g;
const NIR_BODY = /^[0-9]{5}(?:[0-9]{2}|2A|2B)[0-9]{6}$/;

/** Removes separators and upper-cases (2a → 2A); does not check anything. */
export function compactIns(input: string): string {
  return input.replace(SEPARATORS, '').toUpperCase();
}

/** The control key of the 13 first characters, or undefined when they are not a NIR body. */
export function insKey(body13: string): number | undefined {
  if (!NIR_BODY.test(body13)) return undefined;
  const digits =
    body13.slice(0, 5) +
    (body13.slice(5, 7) === '2A' ? '19' : body13.slice(5, 7) === '2B' ? '18' : body13.slice(5, 7)) +
    body13.slice(7);
  return 97 - Number(BigInt(digits) % 97n);
}

export interface ParsedIns {
  /** 15 characters, no separators. */
  value: string;
  /** The key matches the 13 first characters. */
  keyValid: boolean;
  /** The key was computed (13 characters typed without key). */
  keyComputed: boolean;
}

/**
 * Reads what a person typed as an INS: 15 characters (13 + key) or the 13 first ones (the key is then
 * computed), in any spacing. Undefined when it cannot be an INS.
 */
export function parseIns(input: string): ParsedIns | undefined {
  const compact = compactIns(input);
  if (compact.length === 13) {
    const key = insKey(compact);
    if (key === undefined) return undefined;
    return { value: compact + String(key).padStart(2, '0'), keyValid: true, keyComputed: true };
  }
  if (compact.length !== 15 || !/^[0-9]{2}$/.test(compact.slice(13))) return undefined;
  const key = insKey(compact.slice(0, 13));
  if (key === undefined) return undefined;
  return { value: compact, keyValid: key === Number(compact.slice(13)), keyComputed: false };
}

/** "280017512345610" → "2 80 01 75 123 456 10" (the grouping on the carte Vitale). */
export function formatIns(value: string): string {
  if (value.length !== 15) return value;
  return [
    value.slice(0, 1),
    value.slice(1, 3),
    value.slice(3, 5),
    value.slice(5, 7),
    value.slice(7, 10),
    value.slice(10, 13),
    value.slice(13),
  ].join(' ');
}
