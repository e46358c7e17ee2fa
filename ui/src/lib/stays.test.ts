import type { Encounter } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { staysOf } from './stays.js';

const EXT = 'https://keney.health/fhir/StructureDefinition/';

function movement(
  id: string,
  event: string,
  start: string,
  action = 'INSERT',
  status: Encounter['status'] = 'in-progress',
): Encounter {
  return {
    resourceType: 'Encounter',
    id,
    status,
    class: { code: 'IMP' },
    identifier: [{ value: id.toUpperCase() }],
    period: { start },
    type: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0003', code: event }] }],
    serviceProvider: { reference: 'Organization/uf-cardio' },
    extension: [
      { url: `${EXT}care-unit`, valueReference: { reference: 'Organization/uf-soins' } },
      { url: `${EXT}movement-action`, valueCode: action },
    ],
    partOf: { reference: 'Encounter/stay' },
  };
}

describe('stays and movements (IHE PAM France)', () => {
  it('groups movements under their stay in time order and keeps cancelled ones, marked', () => {
    const stay: Encounter = {
      resourceType: 'Encounter',
      id: 'stay',
      status: 'finished',
      class: { code: 'IMP' },
      identifier: [{ value: 'NDA7001' }],
      period: { start: '2024-03-05T10:00:00+01:00', end: '2024-03-10T11:00:00+01:00' },
      extension: [
        {
          url: `${EXT}pmsi-modes`,
          extension: [
            { url: 'entryMode', valueCode: '8' },
            { url: 'exitMode', valueCode: '8' },
          ],
        },
      ],
    };
    const { stays, unidentified } = staysOf([
      movement('mvt5', 'A03', '2024-03-10T11:00:00+01:00'),
      movement('mvt1', 'A01', '2024-03-05T10:00:00+01:00'),
      movement('mvt2', 'A02', '2024-03-06T09:00:00+01:00', 'CANCEL', 'entered-in-error'),
      stay,
      { resourceType: 'Encounter', id: 'orphan-visit', status: 'in-progress', class: { code: 'IMP' } },
    ]);
    expect(stays).toHaveLength(1);
    expect(stays[0]).toMatchObject({
      identifier: 'NDA7001',
      status: 'finished',
      entryMode: '8',
      exitMode: '8',
      medicalUnit: 'Organization/uf-cardio',
    });
    expect(stays[0]!.movements.map((m) => [m.event, m.cancelled])).toEqual([
      ['A01', false],
      ['A02', true],
      ['A03', false],
    ]);
    expect(stays[0]!.movements[0]).toMatchObject({
      careUnit: 'Organization/uf-soins',
      medicalUnit: 'Organization/uf-cardio',
    });
    expect(unidentified.map((e) => e.id)).toEqual(['orphan-visit']);
  });

  it('shows movements whose stay was not loaded as a stay of their own, most recent stay first', () => {
    const { stays } = staysOf([
      movement('a', 'A01', '2023-01-01T10:00:00Z'),
      { ...movement('b', 'A01', '2024-01-01T10:00:00Z'), partOf: { reference: 'Encounter/other' } },
    ]);
    expect(stays.map((s) => s.id)).toEqual(['other', 'stay']);
  });
});
