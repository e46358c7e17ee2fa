// The patient search box: one field that accepts an INS in any spacing, an IPP (or any identifier), or names
// with a birth date, in any order. It becomes FHIR searches, tried in order: the exact one first, then relaxed
// ones (tolerant matching) only when the exact one finds nobody — their results are marked approximate.
import { INS_SYSTEMS, parseIns, type ParsedIns } from './ins.js';

export type PatientQuery =
  | { kind: 'empty' }
  | { kind: 'ins'; ins: ParsedIns }
  | { kind: 'identifier'; value: string }
  | { kind: 'demographics'; words: string[]; birthDate?: string; birthYear?: string };

/** One FHIR search to run, and whether its matches are only approximate. */
export interface PatientSearchStep {
  params: [string, string][];
  approximate: boolean;
  /** What was relaxed, for the screen ("without the birth date"…): an i18n key. */
  relaxed?: 'noBirthDate' | 'namePrefixes' | 'nameContains';
}

const PAGE_SIZE = '20';

/** Reads a birth date typed as 15/01/1980, 15-01-1980, 15.01.1980, 1980-01-15, 15/1/80 or 15011980. */
export function parseBirthDate(token: string, today = new Date()): string | undefined {
  let day: number, month: number, year: number;
  let m = /^(\d{4})-(\d{1,2})-(\d{1,2})$/.exec(token);
  if (m) [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  else if ((m = /^(\d{1,2})[/.-](\d{1,2})[/.-](\d{2}|\d{4})$/.exec(token)))
    [day, month, year] = [Number(m[1]), Number(m[2]), Number(m[3])];
  else if ((m = /^(\d{2})(\d{2})(\d{4})$/.exec(token))) [day, month, year] = [Number(m[1]), Number(m[2]), Number(m[3])];
  else return undefined;
  if (year < 100) {
    // Two-digit years: the most recent past year ending so (a birth date is never in the future).
    const century = Math.floor(today.getFullYear() / 100) * 100;
    year = century + year > today.getFullYear() ? century - 100 + year : century + year;
  }
  const date = new Date(Date.UTC(year, month - 1, day));
  if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) return undefined;
  if (year < 1880 || date.getTime() > today.getTime()) return undefined;
  return `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
}

/** Lower case, accents removed: what the server's string search compares too. */
export function foldName(word: string): string {
  return word
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase();
}

const NAME_WORD = /^[\p{L}][\p{L}'’-]*$/u;

export function parsePatientQuery(input: string, today = new Date()): PatientQuery {
  const text = input.trim();
  if (!text) return { kind: 'empty' };
  // An INS: digits (and 2A/2B) with any separators, 13 or 15 characters once compacted.
  if (/^[0-9][0-9\s\u00a0\u202f.\-_]*(?:2[AaBb])?[0-9\s\u00a0\u202f.\-_]*$/.test(text)) {
    const ins = parseIns(text);
    if (ins) return { kind: 'ins', ins };
  }
  const tokens = text.split(/[\s,;]+/).filter(Boolean);
  if (tokens.length === 1 && /\d/.test(tokens[0]!) && !parseBirthDateLoose(tokens[0]!, today))
    return { kind: 'identifier', value: tokens[0]! };
  const words: string[] = [];
  let birthDate: string | undefined;
  let birthYear: string | undefined;
  for (const token of tokens) {
    const date = parseBirthDate(token, today);
    if (date && !birthDate) {
      birthDate = date;
      continue;
    }
    if (/^(18|19|20)\d{2}$/.test(token) && !birthYear) {
      birthYear = token;
      continue;
    }
    if (NAME_WORD.test(token)) {
      words.push(token);
      continue;
    }
    // Something with digits among names: take it as an identifier if it is alone, else ignore punctuation.
    const cleaned = token.replace(/[^\p{L}'’-]/gu, '');
    if (cleaned) words.push(cleaned);
  }
  if (words.length === 0 && !birthDate && !birthYear) return { kind: 'identifier', value: tokens.join('') };
  return {
    kind: 'demographics',
    words,
    ...(birthDate ? { birthDate } : {}),
    ...(birthYear && !birthDate ? { birthYear } : {}),
  };
}

/** A lone token with separators that reads as a date is a birth date, not an identifier. */
function parseBirthDateLoose(token: string, today: Date): string | undefined {
  return /[/.-]/.test(token) ? parseBirthDate(token, today) : undefined;
}

/** The searches to try for a query, exact first. */
export function patientSearchSteps(query: PatientQuery): PatientSearchStep[] {
  const base: [string, string][] = [['_count', PAGE_SIZE]];
  switch (query.kind) {
    case 'empty':
      return [];
    case 'ins': {
      const value = query.ins.value;
      return [
        {
          params: [
            [
              'identifier',
              Object.values(INS_SYSTEMS)
                .map((system) => `${system}|${value}`)
                .join(','),
            ],
            ...base,
          ],
          approximate: false,
        },
      ];
    }
    case 'identifier':
      return [{ params: [['identifier', query.value], ...base], approximate: false }];
    case 'demographics': {
      const date: [string, string][] = query.birthDate
        ? [['birthdate', query.birthDate]]
        : query.birthYear
          ? [['birthdate', query.birthYear]]
          : [];
      const names = (modifier: string, words: string[]): [string, string][] => words.map((w) => [`name${modifier}`, w]);
      const steps: PatientSearchStep[] = [
        { params: [...names('', query.words), ...date, ...base], approximate: false },
      ];
      if (query.words.length > 0 && date.length > 0) {
        steps.push({ params: [...names('', query.words), ...base], approximate: true, relaxed: 'noBirthDate' });
      }
      const prefixes = query.words.map((w) => [...foldName(w)].slice(0, 3).join('')).filter((w) => w.length >= 2);
      if (prefixes.length > 0 && date.length > 0 && prefixes.join() !== query.words.map(foldName).join()) {
        steps.push({ params: [...names('', prefixes), ...date, ...base], approximate: true, relaxed: 'namePrefixes' });
      }
      if (query.words.some((w) => w.length >= 3)) {
        steps.push({
          params: [
            ...names(
              ':contains',
              query.words.filter((w) => w.length >= 3),
            ),
            ...date,
            ...base,
          ],
          approximate: true,
          relaxed: 'nameContains',
        });
      }
      return steps;
    }
    default:
      return query satisfies never;
  }
}
