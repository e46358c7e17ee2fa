import { describe, expect, it } from 'vitest';
import { messages, type MessageKey } from '../../i18n/messages.js';
import { issueText } from './issue-text.js';
import { parseHl7Message } from '../../../../adapters/hl7v2/index.js';
import { createMapperRegistry } from '../../../../mappings/index.js';

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

describe('issueText for the mapping issues an integrator meets most', () => {
  // A real lab result with a local code that no ConceptMap knows, a unit that is not UCUM and a result date that
  // does not fit an instant: the issues come from the mapping engine itself, with their parameters.
  const message = parseHl7Message(
    [
      'MSH|^~\\&|LAB|CHU|HUB|CHU|20240305120000+0100||ORU^R01^ORU_R01|MSG1|P|2.5.1',
      'PID|1||IPP1^^^CHU&1.2.250.1.999.1.1&ISO^PI||TEST^ANNE',
      'OBR|1|CMD1|RES1|24326-1^Ionogramme^LN|||20240305080000+0100|||||||||||||||20240305|||F',
      'OBX|1|NM|ZZLOC^Code local inconnu^L||5.5|mmol/lt^mmol/lt^L|||||F|||20240305080000+0100',
    ].join('\r'),
  );
  const issues = (
    createMapperRegistry()
      .get('hl7v2/default')!
      .map(message, { channelId: 'c', messageId: 'm', rawSha256: '0', receivedAt: '2024-03-05T12:00:00Z' }) as {
      issues: { code: string; message: string; params?: Record<string, string> }[];
    }
  ).issues;
  const byCode = (code: string) =>
    issues.find((i) => i.code === code && !i.message.startsWith('OBR')) ?? issues.find((i) => i.code === code)!;

  it('words UNMAPPED_CODE, UNMAPPED_UNIT and BAD_VALUE in French from the parameters the engine stores', () => {
    expect(issueText(fr, byCode('UNMAPPED_CODE'))).toBe(
      'OBX[1]-3 : le code « ZZLOC » n’est pas dans la table de correspondance lab-local-to-loinc ; il a été gardé tel quel. Ajoutez-le dans terminology-maps/ s’il a un équivalent.',
    );
    expect(issueText(fr, byCode('UNMAPPED_UNIT'))).toMatch(/^OBX\[1\]-6 : l’unité « mmol\/lt » n’est pas UCUM/);
    expect(issueText(fr, byCode('BAD_VALUE'))).toMatch(
      /^OBR\[1\]-22 : la valeur « 20240305 » ne convient pas à issued/,
    );
  });

  it('the English wording is the text the engine stored, so a console in English reads the same', () => {
    for (const code of ['UNMAPPED_UNIT', 'BAD_VALUE']) expect(issueText(en, byCode(code))).toBe(byCode(code).message);
    // The stored text also names the sender's coding system; the worded one keeps the code and the map.
    expect(issueText(en, byCode('UNMAPPED_CODE'))).toBe(
      'OBX[1]-3: the code "ZZLOC" is not in the ConceptMap lab-local-to-loinc; it was kept as sent. Add it to terminology-maps/ if it has an equivalent.',
    );
  });
});
