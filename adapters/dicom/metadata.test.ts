import { describe, expect, it } from 'vitest';
import { extractMetadata } from './metadata.js';
import { readPart10 } from './part10.js';
import { searchableName } from './person-name.js';
import { Tag } from './tags.js';
import { corpusFile, syntheticInstance } from './test-support.js';

const INS_TEST = '1.2.250.1.213.1.4.10';

describe('indexed metadata', () => {
  it('extracts patient, study, series and instance levels from a real CT', () => {
    const m = extractMetadata(readPart10(corpusFile('pydicom/CT_small.dcm')).dataSet);
    expect(m.patient.id).toMatchObject({ value: '1CT1', ins: false });
    expect(m.patient.name).toEqual({ alphabetic: 'CompressedSamples^CT1' });
    expect(m.study.date).toBe('20040119');
    expect(m.series).toMatchObject({ modality: 'CT', number: 1 });
    expect(m.instance).toMatchObject({
      sopClassUid: '1.2.840.10008.5.1.4.1.1.2',
      rows: 128,
      columns: 128,
      numberOfFrames: 1,
      storage: true,
    });
  });

  it('reads Patient ID with its issuer, and an INS in Other Patient IDs Sequence', () => {
    const instance = syntheticInstance({
      extra: [
        {
          tag: Tag.OtherPatientIDsSequence,
          value: [
            [
              { tag: Tag.PatientID, value: '279035121518989' },
              { tag: Tag.IssuerOfPatientID, value: 'ASIP-SANTE-INS-NIR' },
              {
                tag: Tag.IssuerOfPatientIDQualifiersSequence,
                value: [
                  [
                    { tag: Tag.UniversalEntityID, value: INS_TEST },
                    { tag: Tag.UniversalEntityIDType, value: 'ISO' },
                  ],
                ],
              },
            ],
          ],
        },
        { tag: Tag.RequestAttributesSequence, value: [[{ tag: Tag.RequestedProcedureID, value: 'RP-42' }]] },
      ],
    });
    const m = extractMetadata(readPart10(instance.file).dataSet);
    expect(m.patient.id).toEqual({ value: 'IPP-123', issuer: 'CH-TEST', ins: false });
    expect(m.patient.otherIds).toEqual([
      {
        value: '279035121518989',
        issuer: 'ASIP-SANTE-INS-NIR',
        issuerUniversalId: INS_TEST,
        issuerUniversalIdType: 'ISO',
        ins: true,
      },
    ]);
    expect(m.study.requestedProcedureIds).toEqual(['RP-42']);
    expect(m.study.referringPhysicianName).toEqual({ alphabetic: 'Martin^Claire^^Dr' });
  });

  it('builds the search form of names without accents, by word', () => {
    expect(searchableName('Dupont-Lévêque^Hélène=デュポン')).toBe(' DUPONT-LEVEQUE HELENE デュポン ');
    expect(searchableName('')).toBe('');
  });
});
