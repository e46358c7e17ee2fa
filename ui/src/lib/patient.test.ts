import type { Patient } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { ageOf, capitalizeGiven, IDENTITY_RELIABILITY_URL, patientView, possibleDuplicates } from './patient.js';

function patient(id: string, fields: Partial<Patient> = {}, status?: string): Patient {
  return {
    resourceType: 'Patient',
    id,
    ...fields,
    ...(status
      ? {
          extension: [
            { url: IDENTITY_RELIABILITY_URL, extension: [{ url: 'identityStatus', valueCoding: { code: status } }] },
          ],
        }
      : {}),
  };
}

// As the PAM-FR ADT mapping writes them (PID-5 L → official, D → usual; PID-3 IPP + INS; PID-32).
const marie = patient(
  'p1',
  {
    identifier: [
      { system: 'urn:oid:1.2.250.1.999.1.1', value: 'IPP100042', type: { coding: [{ code: 'PI' }] } },
      { system: 'urn:oid:1.2.250.1.213.1.4.10', value: '280017512345610', type: { coding: [{ code: 'INS-NIR' }] } },
    ],
    name: [
      { use: 'official', family: 'TESTMARTIN', given: ['MARIE-CLAIRE'] },
      { use: 'usual', family: 'DURAND', given: ['MARIE-CLAIRE'] },
    ],
    birthDate: '1980-01-15',
    gender: 'female',
  },
  'VALI',
);

describe('patient view', () => {
  it('shows the usage name, the birth name apart, the INS with its kind and the identity status', () => {
    const view = patientView(marie);
    expect(view.displayName).toBe('DURAND Marie-Claire');
    expect(view.birthName).toBe('TESTMARTIN');
    expect(view.ins).toEqual({ value: '280017512345610', kind: 'test', system: 'urn:oid:1.2.250.1.213.1.4.10' });
    expect(view.identityStatus).toBe('VALI');
    expect(view.ipps).toEqual([{ value: 'IPP100042', system: 'urn:oid:1.2.250.1.999.1.1', type: 'PI' }]);
  });

  it('ignores an unknown identity status code instead of showing it as valid', () => {
    expect(patientView(patient('x', {}, 'SUPER')).identityStatus).toBeUndefined();
  });

  it('reads merges from Patient.link', () => {
    const merged = patientView(
      patient('old', { active: false, link: [{ type: 'replaced-by', other: { reference: 'Patient/p1' } }] }),
    );
    expect(merged.active).toBe(false);
    expect(merged.links).toEqual([{ type: 'replaced-by', patientId: 'p1' }]);
  });

  it('capitalizes given names written in capitals by the sender', () => {
    expect(capitalizeGiven('MARIE-CLAIRE')).toBe('Marie-Claire');
    expect(capitalizeGiven('jean pierre')).toBe('Jean Pierre');
    expect(capitalizeGiven('ÉLODIE')).toBe('Élodie');
  });

  it('computes the age from partial and full dates, not before the birthday', () => {
    expect(ageOf('1980-01-15', new Date(2026, 0, 14))).toMatchObject({ years: 45 });
    expect(ageOf('1980-01-15', new Date(2026, 0, 15))).toMatchObject({ years: 46 });
    expect(ageOf('2025-11-20', new Date(2026, 2, 1))).toMatchObject({ years: 0, months: 3 });
    expect(ageOf('1980', new Date(2026, 5, 1))).toMatchObject({ years: 46 });
    expect(ageOf(undefined)).toBeUndefined();
    expect(ageOf('2030-01-01', new Date(2026, 0, 1))).toBeUndefined();
  });
});

describe('possible duplicates', () => {
  it('pairs records with the same birth date and a shared name, not those already merged or with different INS', () => {
    const provisional = patient(
      'p2',
      {
        identifier: [{ system: 'urn:oid:1.2.250.1.999.1.1', value: 'IPP100099' }],
        name: [{ use: 'official', family: 'TESTMARTIN', given: ['MARIE'] }],
        birthDate: '1980-01-15',
        gender: 'female',
      },
      'PROV',
    );
    const otherBirthDate = patient('p3', { name: [{ family: 'DURAND', given: ['MARIE'] }], birthDate: '1981-01-15' });
    const otherPerson = patient('p4', { name: [{ family: 'MARTIN', given: ['PAUL'] }], birthDate: '1980-01-15' });
    const otherIns = patient('p5', {
      identifier: [{ system: 'urn:oid:1.2.250.1.213.1.4.10', value: '180017512345699' }],
      name: [{ family: 'DURAND', given: ['MARIE'] }],
      birthDate: '1980-01-15',
    });
    const duplicates = possibleDuplicates([marie, provisional, otherBirthDate, otherPerson, otherIns]);
    expect(duplicates.get('p1')).toEqual(['p2']);
    expect(duplicates.get('p2')).toEqual(['p1']);
    expect(duplicates.has('p3')).toBe(false);
    expect(duplicates.has('p4')).toBe(false);
    expect(duplicates.has('p5')).toBe(false);
    const merged = {
      ...provisional,
      active: false,
      link: [{ type: 'replaced-by' as const, other: { reference: 'Patient/p1' } }],
    };
    expect(possibleDuplicates([marie, merged]).size).toBe(0);
  });
});
