import { describe, expect, it } from 'vitest';
import { createFormatters } from './format.js';

describe('formatters', () => {
  it('never shifts a calendar date by a time zone', () => {
    for (const zone of ['Pacific/Auckland', 'America/Los_Angeles', 'Europe/Paris']) {
      expect(createFormatters('fr', zone).date('1980-01-15')).toBe('15/01/1980');
    }
  });

  it('shows date-times in the reader’s zone and numbers in the reader’s language', () => {
    const fr = createFormatters('fr', 'Europe/Paris');
    expect(fr.dateTime('2024-03-05T07:30:00+01:00')).toBe('05/03/2024 07:30');
    expect(fr.number(4.8)).toBe('4,8');
    expect(createFormatters('en', 'Europe/London').number(1234.5)).toBe('1,234.5');
    expect(createFormatters('en', 'Europe/London').dateTime('2024-03-05T07:30:00+01:00')).toBe('05/03/2024, 06:30');
  });

  it('keeps partial dates partial and says nothing for missing ones', () => {
    const fr = createFormatters('fr', 'Europe/Paris');
    expect(fr.date('1980')).toBe('1980');
    expect(fr.date('1980-01')).toBe('01/1980');
    expect(fr.date(undefined)).toBe('—');
    expect(fr.date('not a date')).toBe('not a date');
  });
});
