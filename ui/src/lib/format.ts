// Dates and numbers as the reader's language writes them (fr-FR: 15/01/1980, 4,8; en-GB: 15 Jan 1980, 4.8).
// A FHIR date without time ("1980-01-15") is a calendar day: never shifted by a time zone. A dateTime with an
// offset is shown in the reader's time zone.

export type Locale = 'fr' | 'en';

const LOCALE_TAGS: Record<Locale, string> = { fr: 'fr-FR', en: 'en-GB' };

export function localeTag(locale: Locale): string {
  return LOCALE_TAGS[locale];
}

export interface Formatters {
  locale: Locale;
  tag: string;
  /** A FHIR date or dateTime as a day: 15/01/1980. */
  date(value: string | undefined): string;
  /** A FHIR dateTime with its time: 05/03/2024 07:30. */
  dateTime(value: string | undefined): string;
  /** With seconds, for message logs: 05/03/2024 07:30:12. */
  dateTimeSeconds(value: string | undefined): string;
  /** Time only: 07:30. */
  time(value: string | undefined): string;
  number(value: number, maximumFractionDigits?: number): string;
  /** Short month and year for axes: mars 2024. */
  monthYear(value: string): string;
}

const DATE_ONLY = /^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$/;

export function createFormatters(locale: Locale, timeZone?: string): Formatters {
  const tag = localeTag(locale);
  const zone = timeZone ? { timeZone } : {};
  const day = new Intl.DateTimeFormat(tag, { day: '2-digit', month: '2-digit', year: 'numeric', ...zone });
  const dayUtc = new Intl.DateTimeFormat(tag, { day: '2-digit', month: '2-digit', year: 'numeric', timeZone: 'UTC' });
  const monthUtc = new Intl.DateTimeFormat(tag, { month: '2-digit', year: 'numeric', timeZone: 'UTC' });
  const dayTime = new Intl.DateTimeFormat(tag, {
    day: '2-digit',
    month: '2-digit',
    year: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    ...zone,
  });
  const dayTimeSeconds = new Intl.DateTimeFormat(tag, {
    day: '2-digit',
    month: '2-digit',
    year: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    ...zone,
  });
  const timeOnly = new Intl.DateTimeFormat(tag, { hour: '2-digit', minute: '2-digit', ...zone });
  const monthYear = new Intl.DateTimeFormat(tag, { month: 'short', year: 'numeric', ...zone });
  const numbers = new Map<number, Intl.NumberFormat>();
  const calendarDay = (value: string): string | undefined => {
    const m = DATE_ONLY.exec(value);
    if (!m) return undefined;
    if (!m[2]) return m[1]!;
    if (!m[3]) return monthUtc.format(new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, 1)));
    return dayUtc.format(new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))));
  };
  const parse = (value: string): Date | undefined => {
    const date = new Date(value);
    return Number.isNaN(date.getTime()) ? undefined : date;
  };
  return {
    locale,
    tag,
    date(value) {
      if (!value) return '—';
      const calendar = calendarDay(value);
      if (calendar) return calendar;
      const date = parse(value);
      return date ? day.format(date) : value;
    },
    dateTime(value) {
      if (!value) return '—';
      const calendar = calendarDay(value);
      if (calendar) return calendar;
      const date = parse(value);
      return date ? dayTime.format(date) : value;
    },
    dateTimeSeconds(value) {
      const date = value ? parse(value) : undefined;
      return date ? dayTimeSeconds.format(date) : (value ?? '—');
    },
    time(value) {
      const date = value ? parse(value) : undefined;
      return date ? timeOnly.format(date) : '—';
    },
    number(value, maximumFractionDigits = 6) {
      let format = numbers.get(maximumFractionDigits);
      if (!format) {
        format = new Intl.NumberFormat(tag, { maximumFractionDigits });
        numbers.set(maximumFractionDigits, format);
      }
      return format.format(value);
    },
    monthYear(value) {
      const date = parse(value);
      return date ? monthYear.format(date) : value;
    },
  };
}
