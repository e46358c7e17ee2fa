// Synthetic instances for the record tests: invented people only, INS from the test NIR authority
// (1.2.250.1.213.1.4.10), names in the character sets French sites send.
import { SopClass } from '../../../adapters/dicom/uids.js';
import { Tag } from '../../../adapters/dicom/tags.js';
import { newUid, syntheticInstance, type SyntheticInstance } from '../../../adapters/dicom/test-support.js';
import type { ElementValue } from '../../../adapters/dicom/writer.js';

export const INS_TEST_OID = '1.2.250.1.213.1.4.10';

/** A 15-character test NIR with its key (97 − first 13 digits mod 97). */
export function testNir(first13: string): string {
  const key = 97 - Number(BigInt(first13) % 97n);
  return `${first13}${String(key).padStart(2, '0')}`;
}

/** Other Patient IDs Sequence with one INS (test NIR authority), as RIS/PACS in France send it. */
export function insElements(nir: string): ElementValue[] {
  return [
    {
      tag: Tag.OtherPatientIDsSequence,
      value: [
        [
          { tag: Tag.PatientID, value: nir },
          { tag: Tag.IssuerOfPatientID, value: 'ASIP-SANTE-INS-NIR-TEST' },
          {
            tag: Tag.IssuerOfPatientIDQualifiersSequence,
            value: [
              [
                { tag: Tag.UniversalEntityID, value: INS_TEST_OID },
                { tag: Tag.UniversalEntityIDType, value: 'ISO' },
              ],
            ],
          },
          { tag: Tag.TypeOfPatientID, value: 'TEXT' },
        ],
      ],
    },
  ];
}

export interface StudyOptions {
  patientId?: string | null;
  issuer?: string | null;
  accession?: string | null;
  name?: string;
  charset?: string;
  extra?: ElementValue[];
}

/** Instances of one new study: `series` × `perSeries` images (Secondary Capture, CT modality). */
export function syntheticStudy(
  series = 2,
  perSeries = 2,
  options: StudyOptions = {},
): ReturnType<typeof syntheticInstance>[] {
  const studyInstanceUid = newUid();
  const out: ReturnType<typeof syntheticInstance>[] = [];
  for (let s = 0; s < series; s++) {
    const seriesInstanceUid = newUid();
    for (let i = 0; i < perSeries; i++) {
      out.push(syntheticInstance(studyInstance(studyInstanceUid, seriesInstanceUid, s + 1, i + 1, options)));
    }
  }
  return out;
}

export function studyInstance(
  studyInstanceUid: string,
  seriesInstanceUid: string,
  seriesNumber: number,
  instanceNumber: number,
  options: StudyOptions = {},
): SyntheticInstance {
  return {
    studyInstanceUid,
    seriesInstanceUid,
    extra: [
      { tag: Tag.Modality, value: seriesNumber % 2 === 1 ? 'CT' : 'MR' },
      { tag: Tag.SeriesNumber, value: String(seriesNumber) },
      { tag: Tag.InstanceNumber, value: String(instanceNumber) },
      { tag: Tag.BodyPartExamined, value: 'CHEST' },
      { tag: Tag.StudyDescription, value: 'TDM thoracique' },
      ...(options.patientId !== undefined ? [{ tag: Tag.PatientID, value: options.patientId }] : []),
      ...(options.issuer !== undefined ? [{ tag: Tag.IssuerOfPatientID, value: options.issuer }] : []),
      ...(options.accession !== undefined ? [{ tag: Tag.AccessionNumber, value: options.accession }] : []),
      ...(options.name !== undefined ? [{ tag: Tag.PatientName, value: options.name }] : []),
      ...(options.charset !== undefined ? [{ tag: Tag.SpecificCharacterSet, value: options.charset }] : []),
      ...(options.extra ?? []),
    ],
  };
}

export const SAMPLE_PDF = Buffer.from(
  '%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n',
);

/** An Encapsulated PDF report in an existing study. */
export function pdfInstance(
  studyInstanceUid: string,
  options: StudyOptions = {},
): ReturnType<typeof syntheticInstance> {
  return syntheticInstance({
    sopClassUid: SopClass.EncapsulatedPDF,
    studyInstanceUid,
    extra: [
      { tag: Tag.Modality, value: 'DOC' },
      { tag: Tag.SeriesNumber, value: '99' },
      { tag: Tag.DocumentTitle, value: 'Compte rendu TDM thoracique' },
      { tag: Tag.MIMETypeOfEncapsulatedDocument, value: 'application/pdf' },
      { tag: Tag.ContentDate, value: '20240315' },
      { tag: Tag.ContentTime, value: '120000' },
      { tag: Tag.EncapsulatedDocument, vr: 'OB', value: SAMPLE_PDF },
      { tag: Tag.PixelData, value: undefined },
      { tag: Tag.SamplesPerPixel, value: undefined },
      { tag: Tag.PhotometricInterpretation, value: undefined },
      { tag: Tag.Rows, value: undefined },
      { tag: Tag.Columns, value: undefined },
      { tag: Tag.BitsAllocated, value: undefined },
      { tag: Tag.BitsStored, value: undefined },
      { tag: Tag.HighBit, value: undefined },
      { tag: Tag.PixelRepresentation, value: undefined },
      ...(options.patientId !== undefined ? [{ tag: Tag.PatientID, value: options.patientId }] : []),
      ...(options.issuer !== undefined ? [{ tag: Tag.IssuerOfPatientID, value: options.issuer }] : []),
      ...(options.accession !== undefined ? [{ tag: Tag.AccessionNumber, value: options.accession }] : []),
    ],
  });
}
