import type { Observation } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { analyteRows, resultDates, trendDirection, trendOf } from './results.js';

// The shape of the ORU^R01 mapping (fixtures/mappings/oru-r01-lab-fr.json): LOINC + local coding, UCUM quantity
// with the unit as sent, reference range, HL7 interpretation.
function potassium(id: string, date: string, value: number, flag?: string): Observation {
  return {
    resourceType: 'Observation',
    id,
    status: 'final',
    code: {
      coding: [
        { system: 'http://loinc.org', code: '2823-3', display: 'Potassium [Moles/volume] in Serum or Plasma' },
        { system: 'urn:local', code: 'K', display: 'Potassium' },
      ],
    },
    effectiveDateTime: date,
    valueQuantity: { value, unit: 'mmol/l', system: 'http://unitsofmeasure.org', code: 'mmol/L' },
    referenceRange: [{ low: { value: 3.5 }, high: { value: 5.1 }, text: '3.5-5.1' }],
    ...(flag
      ? {
          interpretation: [
            { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation', code: flag }] },
          ],
        }
      : {}),
  };
}

describe('results', () => {
  const observations: Observation[] = [
    potassium('k1', '2024-03-05T07:30:00+01:00', 4.8, 'N'),
    potassium('k2', '2024-03-07T07:30:00+01:00', 5.6),
    potassium('k3', '2024-03-06T07:30:00+01:00', 5.0),
    {
      resourceType: 'Observation',
      id: 'c1',
      status: 'final',
      code: {
        coding: [
          { system: 'http://loinc.org', code: '2160-0' },
          { system: 'urn:local', code: 'CREA', display: 'Créatinine' },
        ],
      },
      effectiveDateTime: '2024-03-05T07:30:00+01:00',
      valueQuantity: { comparator: '<', value: 20, unit: 'µmol/l' },
      referenceRange: [{ low: { value: 45 }, high: { value: 90 } }],
      interpretation: [{ coding: [{ code: 'L' }] }],
    },
    { resourceType: 'Observation', id: 'x', status: 'entered-in-error', code: { text: 'Erreur' }, valueString: 'n/a' },
  ];

  it('gives one row per analyte with the sender’s label, the unit as sent, the range and values newest first', () => {
    const rows = analyteRows(observations, 'fr-FR');
    expect(rows.map((r) => r.label)).toEqual(['Créatinine', 'Potassium']);
    const k = rows[1]!;
    expect(k).toMatchObject({ loinc: '2823-3', localCode: 'K', unit: 'mmol/l', rangeText: '3,5–5,1' });
    expect(k.values.map((v) => v.text)).toEqual(['5,6', '5', '4,8']);
    expect(k.values.map((v) => v.flag)).toEqual(['high', 'normal', 'normal']);
    expect(rows[0]!.values[0]).toMatchObject({ text: '< 20', comparator: '<', numeric: 20, flag: 'low' });
  });

  it('formats numbers for the reader’s language', () => {
    expect(analyteRows(observations, 'en-GB')[1]!.values.map((v) => v.text)).toEqual(['5.6', '5', '4.8']);
  });

  it('orders the columns by collection time and draws the trend oldest first', () => {
    const rows = analyteRows(observations);
    expect(resultDates(rows)).toEqual([
      '2024-03-07T07:30:00+01:00',
      '2024-03-06T07:30:00+01:00',
      '2024-03-05T07:30:00+01:00',
    ]);
    const trend = trendOf(rows[1]!);
    expect(trend.points.map((p) => p.value)).toEqual([4.8, 5.0, 5.6]);
    expect(trend).toMatchObject({ low: 3.5, high: 5.1, unit: 'mmol/l' });
    expect(trendDirection(trend.points)).toBe('up');
    expect(trendDirection(trend.points.slice(0, 1))).toBeUndefined();
    expect(
      trendDirection([
        { ...trend.points[0]!, value: 5 },
        { ...trend.points[1]!, value: 5.05 },
      ]),
    ).toBe('stable');
  });
});
