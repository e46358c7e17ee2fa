// Helpers for the DICOM tests: the shared corpus and synthetic instances built with our writer.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { EXPLICIT_LITTLE, type Encoding } from './dataset.js';
import { buildPart10 } from './part10.js';
import { Tag } from './tags.js';
import { TransferSyntax } from './uids.js';
import { encodeElements, type ElementValue } from './writer.js';

export const CORPUS_DIR = join(import.meta.dirname, '..', '..', '..', 'shared', 'corpus', 'dicom');

export function corpusFiles(): string[] {
  const walk = (dir: string): string[] =>
    readdirSync(dir).flatMap((name) => {
      const path = join(dir, name);
      return statSync(path).isDirectory() ? walk(path) : name.endsWith('.txt') ? [] : [path];
    });
  return walk(CORPUS_DIR).sort();
}

export function corpusFile(relativePath: string): Buffer {
  return readFileSync(join(CORPUS_DIR, relativePath));
}

export function corpusName(path: string): string {
  return relative(CORPUS_DIR, path);
}

/** Corpus files that cannot be stored as instances, and why (checked by the tests). */
export const NOT_STORABLE: Record<string, string> = {
  'pydicom/UN_sequence.dcm': 'no SOP Class / Instance UID',
  'pydicom/no_meta_group_length.dcm': 'no SOP Class / Instance UID in the data set',
  'pydicom/charset/chrSQEncoding.dcm': 'no SOP Class / Instance UID',
  'pydicom/dicomdir/DICOMDIR': 'a media directory, not an instance',
};
/** Corpus files that are data sets without the Part-10 preamble (DIMSE can carry them; STOW cannot). */
export const NOT_PART10 = ['pydicom/rtstruct.dcm', 'pydicom/ExplVR_LitEndNoMeta.dcm'];

let counter = 0;
export function newUid(): string {
  counter += 1;
  return `2.25.${BigInt(Date.now()) * 1000n + BigInt(process.pid % 1000)}${counter}`;
}

export interface SyntheticInstance {
  sopClassUid?: string;
  sopInstanceUid?: string;
  studyInstanceUid?: string;
  seriesInstanceUid?: string;
  extra?: ElementValue[];
  encoding?: Encoding;
  transferSyntaxUid?: string;
}

/** A small, valid instance (Secondary Capture, 4x4 8-bit gray) as a data set and as a Part-10 file. */
export function syntheticInstance(options: SyntheticInstance = {}): {
  dataSet: Buffer;
  file: Buffer;
  sopInstanceUid: string;
  studyInstanceUid: string;
  seriesInstanceUid: string;
  sopClassUid: string;
} {
  const sopClassUid = options.sopClassUid ?? '1.2.840.10008.5.1.4.1.1.7';
  const sopInstanceUid = options.sopInstanceUid ?? newUid();
  const studyInstanceUid = options.studyInstanceUid ?? newUid();
  const seriesInstanceUid = options.seriesInstanceUid ?? newUid();
  const base: ElementValue[] = [
    { tag: Tag.SpecificCharacterSet, value: 'ISO_IR 192' },
    { tag: Tag.SOPClassUID, value: sopClassUid },
    { tag: Tag.SOPInstanceUID, value: sopInstanceUid },
    { tag: Tag.StudyDate, value: '20240315' },
    { tag: Tag.StudyTime, value: '101500' },
    { tag: Tag.AccessionNumber, value: 'ACC-0001' },
    { tag: Tag.Modality, value: 'OT' },
    { tag: Tag.ReferringPhysicianName, value: 'Martin^Claire^^Dr' },
    { tag: Tag.PatientName, value: 'Dupont^Hélène' },
    { tag: Tag.PatientID, value: 'IPP-123' },
    { tag: Tag.IssuerOfPatientID, value: 'CH-TEST' },
    { tag: Tag.PatientBirthDate, value: '19800101' },
    { tag: Tag.PatientSex, value: 'F' },
    { tag: Tag.StudyInstanceUID, value: studyInstanceUid },
    { tag: Tag.SeriesInstanceUID, value: seriesInstanceUid },
    { tag: Tag.SeriesNumber, value: '1' },
    { tag: Tag.InstanceNumber, value: '1' },
    { tag: Tag.SamplesPerPixel, value: 1 },
    { tag: Tag.PhotometricInterpretation, value: 'MONOCHROME2' },
    { tag: Tag.Rows, value: 4 },
    { tag: Tag.Columns, value: 4 },
    { tag: Tag.BitsAllocated, value: 8 },
    { tag: Tag.BitsStored, value: 8 },
    { tag: Tag.HighBit, value: 7 },
    { tag: Tag.PixelRepresentation, value: 0 },
    { tag: Tag.PixelData, vr: 'OB', value: Uint8Array.from({ length: 16 }, (_, i) => i * 16) },
  ];
  const extraTags = new Set((options.extra ?? []).map((e) => e.tag));
  const elements = [...base.filter((e) => !extraTags.has(e.tag)), ...(options.extra ?? [])].filter(
    (e) => e.value !== undefined,
  );
  const encoding = options.encoding ?? EXPLICIT_LITTLE;
  const dataSet = encodeElements(elements, encoding);
  const transferSyntaxUid =
    options.transferSyntaxUid ??
    (encoding.explicitVr
      ? encoding.littleEndian
        ? TransferSyntax.ExplicitVRLittleEndian
        : TransferSyntax.ExplicitVRBigEndian
      : TransferSyntax.ImplicitVRLittleEndian);
  const file = buildPart10(dataSet, { sopClassUid, sopInstanceUid, transferSyntaxUid });
  return { dataSet, file, sopInstanceUid, studyInstanceUid, seriesInstanceUid, sopClassUid };
}
