// Person names (VR PN, PS3.5 §6.2.1): up to three component groups (alphabetic = ideographic = phonetic),
// each of five components family^given^middle^prefix^suffix.

export interface PersonName {
  alphabetic?: string;
  ideographic?: string;
  phonetic?: string;
}

export interface NameComponents {
  family?: string;
  given?: string;
  middle?: string;
  prefix?: string;
  suffix?: string;
}

export function parsePersonName(value: string): PersonName {
  const [alphabetic, ideographic, phonetic] = value.split('=');
  const out: PersonName = {};
  if (alphabetic) out.alphabetic = alphabetic;
  if (ideographic) out.ideographic = ideographic;
  if (phonetic) out.phonetic = phonetic;
  return out;
}

export function nameComponents(group: string | undefined): NameComponents {
  if (!group) return {};
  const [family, given, middle, prefix, suffix] = group.split('^').map((c) => c.trim());
  const out: NameComponents = {};
  if (family) out.family = family;
  if (given) out.given = given;
  if (middle) out.middle = middle;
  if (prefix) out.prefix = prefix;
  if (suffix) out.suffix = suffix;
  return out;
}

/**
 * The search form of a name: every component of every group, accents removed, upper case, separated by
 * single spaces and framed by spaces (" DUPONT JEAN ") so that "word starts with" is a plain LIKE.
 */
export function searchableName(value: string | undefined): string {
  if (!value) return '';
  const words = value
    .normalize('NFD')
    .replace(/[\u0300-\u036f]+/g, '') // Latin diacritics only: kana voicing marks stay
    .normalize('NFKC')
    .toUpperCase()
    .split(/[\^=\s,]+/)
    .filter(Boolean);
  return words.length ? ` ${words.join(' ')} ` : '';
}
