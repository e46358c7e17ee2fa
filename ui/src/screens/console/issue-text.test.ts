import { describe, expect, it } from 'vitest';
import { messages, type MessageKey } from '../../i18n/messages.js';
import { issueText } from './issue-text.js';

// The same filling of {placeholders} as i18n.tsx translate() (a .tsx module, outside the Node type check).
const translator =
  (locale: 'fr' | 'en') =>
  (key: MessageKey, values: Record<string, string | number> = {}): string =>
    messages[locale][key].replace(/\{(\w+)\}/g, (whole, name: string) =>
      name in values ? String(values[name]) : whole,
    );
const fr = translator('fr');
const en = translator('en');

describe('issueText', () => {
  const deadLetter = {
    code: 'DEAD_LETTER',
    message: 'Delivery to ris failed 3 time(s): connect ECONNREFUSED 127.0.0.1:2576',
    params: { destination: 'ris', attempts: 3, lastError: 'connect ECONNREFUSED 127.0.0.1:2576' },
  };

  it('words an engine error from its code and parameters, in French and English', () => {
    expect(issueText(fr, deadLetter)).toBe('La remise à ris a échoué 3 fois : connect ECONNREFUSED 127.0.0.1:2576');
    expect(issueText(en, deadLetter)).toBe(deadLetter.message);
  });

  it('keeps the stored text for rows without parameters, unknown codes, and parameters that do not fit', () => {
    const { params: _, ...oldRow } = deadLetter;
    expect(issueText(fr, oldRow)).toBe(deadLetter.message);
    expect(issueText(fr, { code: 'QUALITY_QUANTITY_UCUM', message: 'mmol/lt is not UCUM', params: {} })).toBe(
      'mmol/lt is not UCUM',
    );
    expect(issueText(fr, { code: 'DEAD_LETTER', message: 'stored', params: { destination: 'ris' } })).toBe('stored');
    expect(issueText(fr, { code: 'toString', message: 'stored', params: {} })).toBe('stored');
    expect(issueText(fr, { code: 'DEAD_LETTER', message: 'stored', params: 'x' as never })).toBe('stored');
  });
});
