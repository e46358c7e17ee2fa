import { describe, expect, it } from 'vitest';
import { EXPLICIT_LITTLE, parseDataSet } from './dataset.js';
import { elementAtPath, fromDicomJson, toDicomJson } from './json-model.js';
import { readPart10 } from './part10.js';
import { Tag } from './tags.js';
import { corpusFile, syntheticInstance } from './test-support.js';
import { encodeElements } from './writer.js';

describe('DICOM JSON model (PS3.18 Annex F)', () => {
  it('writes person names as components, numbers as numbers, sequences as arrays, and big binaries as bulk data', () => {
    const ds = readPart10(corpusFile('pydicom/CT_small.dcm')).dataSet;
    const json = toDicomJson(ds, { bulkDataUri: (path) => `https://x/bulk/${path.join('/')}` });
    expect(json['00100010']).toEqual({ vr: 'PN', Value: [{ Alphabetic: 'CompressedSamples^CT1' }] });
    expect(json['00280010']).toEqual({ vr: 'US', Value: [128] });
    expect(json['00280030']!.Value).toEqual([0.661468, 0.661468]); // DS → numbers
    expect(json['00200013']).toEqual({ vr: 'IS', Value: [1] });
    expect(json['7FE00010']).toEqual({ vr: 'OW', BulkDataURI: 'https://x/bulk/7FE00010' });
    expect(Object.keys(json).some((k) => k.endsWith('0000'))).toBe(false); // no group lengths
    expect(Object.keys(json).some((k) => k.startsWith('0002'))).toBe(false); // no file meta
  });

  it('keeps multi-valued and empty values, and inlines small binaries', () => {
    const bytes = encodeElements(
      [
        { tag: Tag.ImageType, value: ['ORIGINAL', '', 'AXIAL'] },
        { tag: Tag.StudyDescription, value: '' },
        { tag: 0x00091010, vr: 'OB', value: Uint8Array.of(1, 2, 3, 4) },
        { tag: Tag.ReferencedSOPSequence, value: [[{ tag: Tag.ReferencedSOPInstanceUID, value: '1.2.3' }], []] },
      ],
      EXPLICIT_LITTLE,
    );
    const json = toDicomJson(parseDataSet(bytes, EXPLICIT_LITTLE));
    expect(json['00080008']).toEqual({ vr: 'CS', Value: ['ORIGINAL', null, 'AXIAL'] });
    expect(json['00081030']).toEqual({ vr: 'LO' });
    expect(json['00091010']).toEqual({ vr: 'OB', InlineBinary: 'AQIDBA==' });
    expect(json['00081199']).toEqual({ vr: 'SQ', Value: [{ '00081155': { vr: 'UI', Value: ['1.2.3'] } }, {}] });
  });

  it('decodes ideographic and phonetic name groups', () => {
    const ds = readPart10(corpusFile('pydicom/charset/chrX1.dcm')).dataSet;
    expect(toDicomJson(ds)['00100010']!.Value).toEqual([{ Alphabetic: 'Wang^XiaoDong', Ideographic: '王^小東' }]);
  });

  it('round-trips through fromDicomJson for the values C-FIND answers with', () => {
    const instance = syntheticInstance();
    const ds = readPart10(instance.file).dataSet;
    const json = toDicomJson(ds, { include: new Set([Tag.PatientName, Tag.PatientID, Tag.Rows, Tag.SeriesNumber]) });
    const elements = [{ tag: Tag.SpecificCharacterSet, value: 'ISO_IR 192' }, ...fromDicomJson(json)];
    const again = toDicomJson(parseDataSet(encodeElements(elements, EXPLICIT_LITTLE), EXPLICIT_LITTLE), {
      include: new Set([Tag.PatientName, Tag.PatientID, Tag.Rows, Tag.SeriesNumber]),
    });
    expect(again).toEqual(json);
  });

  it('finds bulk data by path, through sequence items', () => {
    const bytes = encodeElements(
      [{ tag: Tag.ReferencedSOPSequence, value: [[{ tag: 0x00091010, vr: 'OB', value: Uint8Array.of(9, 8) }]] }],
      EXPLICIT_LITTLE,
    );
    const ds = parseDataSet(bytes, EXPLICIT_LITTLE);
    const found = elementAtPath(ds, ['00081199', '0', '00091010']);
    expect(
      found && [...found.dataSet.bytes.subarray(found.element.offset, found.element.offset + found.element.length)],
    ).toEqual([9, 8]);
    expect(elementAtPath(ds, ['00081199', '5', '00091010'])).toBeUndefined();
    expect(elementAtPath(ds, ['../etc/passwd'])).toBeUndefined();
  });
});
