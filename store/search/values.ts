// Value conventions shared by the indexer and the search: how strings are normalized, how a FHIR date,
// dateTime or instant becomes the range of instants it denotes.

/** Case- and accent-insensitive form used by string search: "Hélène  BÉRÉNICE" → "helene berenice". */
export function normalizeString(value: string): string {
  return value
    .normalize('NFD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase()
    .replace(/\s+/g, ' ')
    .trim();
}

const DATE_TIME = /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;

export interface DateRange {
  low: string;
  high: string;
}

/**
 * The instants a FHIR date/dateTime/instant covers, as ISO strings: "2024" → the whole year,
 * "2024-03-05" → that day, "2024-03-05T10:00:00+01:00" → that second. A time without a zone is read as UTC.
 * Undefined when the text is not a FHIR date.
 */
export function dateRange(value: string): DateRange | undefined {
  const m = DATE_TIME.exec(value.trim());
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const year = Number(y);
  const month = mo ? Number(mo) - 1 : undefined;
  const day = d ? Number(d) : undefined;
  if (month !== undefined && (month < 0 || month > 11)) return undefined;
  if (day !== undefined && (day < 1 || day > 31)) return undefined;
  if (h === undefined) {
    const low = Date.UTC(year, month ?? 0, day ?? 1);
    const high =
      day !== undefined
        ? Date.UTC(year, month!, day + 1)
        : month !== undefined
          ? Date.UTC(year, month + 1, 1)
          : Date.UTC(year + 1, 0, 1);
    return { low: new Date(low).toISOString(), high: new Date(high - 1).toISOString() };
  }
  const offsetMinutes =
    zone && zone !== 'Z' ? (zone[0] === '-' ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6))) : 0;
  const base = Date.UTC(year, month!, day!, Number(h), Number(mi), s ? Number(s) : 0) - offsetMinutes * 60_000;
  if (Number.isNaN(base)) return undefined;
  if (s === undefined) return { low: new Date(base).toISOString(), high: new Date(base + 59_999).toISOString() };
  if (frac) {
    const ms = Math.floor(Number(frac) * 1000);
    const instant = new Date(base + ms).toISOString();
    return { low: instant, high: instant };
  }
  return { low: new Date(base).toISOString(), high: new Date(base + 999).toISOString() };
}
