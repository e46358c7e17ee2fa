import { describe, expect, it } from 'vitest';
import { parseBirthDate, parsePatientQuery, patientSearchSteps } from './patient-query.js';

const today = new Date('2026-06-01T12:00:00Z');

describe('the patient search box', () => {
  it('takes an INS in any spacing and searches every INS system', () => {
    const query = parsePatientQuery('2 80 01 75 123 456 10', today);
    expect(query).toMatchObject({ kind: 'ins', ins: { value: '280017512345610' } });
    const [step] = patientSearchSteps(query);
    const identifier = step!.params.find(([k]) => k === 'identifier')![1];
    expect(identifier.split(',')).toEqual([
      'urn:oid:1.2.250.1.213.1.4.8|280017512345610',
      'urn:oid:1.2.250.1.213.1.4.9|280017512345610',
      'urn:oid:1.2.250.1.213.1.4.10|280017512345610',
      'urn:oid:1.2.250.1.213.1.4.11|280017512345610',
    ]);
  });

  it('takes an IPP (a token with digits) as an identifier of any system', () => {
    expect(parsePatientQuery('IPP100042', today)).toEqual({ kind: 'identifier', value: 'IPP100042' });
    expect(parsePatientQuery('100042', today)).toEqual({ kind: 'identifier', value: '100042' });
    expect(patientSearchSteps({ kind: 'identifier', value: '100042' })[0]!.params).toContainEqual([
      'identifier',
      '100042',
    ]);
  });

  it('takes names and a birth date in any order and format', () => {
    for (const text of [
      'Durand Marie 15/01/1980',
      '15-01-1980 marie DURAND',
      'durand, marie, 1980-01-15',
      'Durand Marie 15.01.80',
      'durand marie 15011980',
    ]) {
      expect(parsePatientQuery(text, today)).toEqual({
        kind: 'demographics',
        words: expect.arrayContaining([expect.stringMatching(/durand/i), expect.stringMatching(/marie/i)]),
        birthDate: '1980-01-15',
      });
    }
    expect(parsePatientQuery('Le Guen-Kerébel Anne-Sophie', today)).toEqual({
      kind: 'demographics',
      words: ['Le', 'Guen-Kerébel', 'Anne-Sophie'],
    });
    expect(parsePatientQuery("d'Artagnan 1975", today)).toEqual({
      kind: 'demographics',
      words: ["d'Artagnan"],
      birthYear: '1975',
    });
  });

  it('reads two-digit years as the most recent past year and refuses impossible dates', () => {
    expect(parseBirthDate('15/01/80', today)).toBe('1980-01-15');
    expect(parseBirthDate('15/01/25', today)).toBe('2025-01-15');
    expect(parseBirthDate('15/01/27', today)).toBe('1927-01-15');
    expect(parseBirthDate('31/02/1980', today)).toBeUndefined();
    expect(parseBirthDate('01/01/2030', today)).toBeUndefined();
    expect(parseBirthDate('1980-13-01', today)).toBeUndefined();
  });

  it('searches exactly first, then relaxed: without the date, name prefixes, names contained', () => {
    const steps = patientSearchSteps(parsePatientQuery('Durant Marie 15/01/1980', today));
    expect(steps.map((s) => [s.approximate, s.relaxed])).toEqual([
      [false, undefined],
      [true, 'noBirthDate'],
      [true, 'namePrefixes'],
      [true, 'nameContains'],
    ]);
    expect(steps[0]!.params).toEqual(
      expect.arrayContaining([
        ['name', 'Durant'],
        ['name', 'Marie'],
        ['birthdate', '1980-01-15'],
      ]),
    );
    expect(steps[1]!.params.some(([k]) => k === 'birthdate')).toBe(false);
    expect(steps[2]!.params).toEqual(
      expect.arrayContaining([
        ['name', 'dur'],
        ['name', 'mar'],
        ['birthdate', '1980-01-15'],
      ]),
    );
    expect(steps[3]!.params).toEqual(
      expect.arrayContaining([
        ['name:contains', 'Durant'],
        ['name:contains', 'Marie'],
      ]),
    );
  });

  it('does nothing for an empty box and treats hostile text as plain words', () => {
    expect(patientSearchSteps(parsePatientQuery('   ', today))).toEqual([]);
    const hostile = parsePatientQuery("Robert'); DROP TABLE resources;-- <script>", today);
    expect(hostile.kind).toBe('demographics');
    const steps = patientSearchSteps(hostile);
    // Values only ever travel as URL parameters: each word one `name` value.
    for (const step of steps)
      for (const [key] of step.params) expect(['name', 'name:contains', '_count', 'birthdate']).toContain(key);
  });
});
