import type {
  Binary,
  DiagnosticReport,
  DocumentReference,
  ImagingStudy,
  Patient,
  ServiceRequest,
} from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { extractMetadata } from '../../../adapters/dicom/metadata.js';
import { readPart10 } from '../../../adapters/dicom/part10.js';
import { Tag } from '../../../adapters/dicom/tags.js';
import { corpusFile, syntheticInstance } from '../../../adapters/dicom/test-support.js';
import { validateForWrite } from '../../../store/fhir/validate.js';
import { parseSearch, splitToken } from '../../../store/search/search-query.js';
import { STUDY_PATIENT_SYSTEM } from './identity.js';
import { DEFAULT_ACCESSION_SYSTEM, studyBundle } from './study-bundle.js';
import { INS_TEST_OID, insElements, pdfInstance, SAMPLE_PDF, syntheticStudy, testNir } from './test-support.js';

const meta = (file: Buffer) => extractMetadata(readPart10(file).dataSet);
const parsed = (file: Buffer) => readPart10(file).dataSet;

/** The token values a condition searches for, as the store's search parser reads them. */
function tokens(type: string, criteria: string): { system?: string; code?: string }[] {
  const query = parseSearch(type, new URLSearchParams(criteria), { strict: true });
  return query.filters.flatMap((f) =>
    f.values.map((v) => {
      const { system, code } = splitToken(v);
      return { ...(system ? { system } : {}), ...(code ? { code } : {}) };
    }),
  );
}

function entryOf<T>(
  bundle: ReturnType<typeof studyBundle>['bundle'],
  type: string,
): { resource: T; request: NonNullable<NonNullable<typeof bundle.entry>[number]['request']>; fullUrl?: string } {
  const entry = bundle.entry!.find((e) => e.resource?.resourceType === type);
  if (!entry) throw new Error(`no ${type} entry`);
  return entry as never;
}

describe('study → change set Bundle', () => {
  it('links the Patient by its issuer, the order by accession number, and rebuilds the whole study', () => {
    const study = syntheticStudy(2, 2, { patientId: 'IPP-0042', issuer: 'CH-TEST', accession: 'ACC-77' });
    const metas = study.map((i) => meta(i.file));
    const { bundle, issues } = studyBundle({ instance: metas[3]!, dataSet: parsed(study[3]!.file), study: metas });
    expect(issues).toEqual([]);
    expect(bundle.type).toBe('transaction');

    const patient = entryOf<Patient>(bundle, 'Patient');
    expect(patient.request).toMatchObject({ method: 'POST', url: 'Patient' });
    expect(tokens('Patient', patient.request.ifNoneExist!)).toEqual([
      { system: 'urn:keney:v2-namespace:CH-TEST', code: 'IPP-0042' },
    ]);
    expect(patient.resource.identifier).toEqual([{ system: 'urn:keney:v2-namespace:CH-TEST', value: 'IPP-0042' }]);
    expect(patient.resource.name?.[0]).toMatchObject({ family: 'Dupont', given: ['Hélène'] });
    expect(patient.resource.birthDate).toBe('1980-01-01');

    const order = entryOf<ServiceRequest>(bundle, 'ServiceRequest');
    expect(order.request).toMatchObject({ method: 'POST', url: 'ServiceRequest' });
    expect(tokens('ServiceRequest', order.request.ifNoneExist!)).toEqual([
      { system: DEFAULT_ACCESSION_SYSTEM, code: 'ACC-77' },
    ]);
    expect(order.resource).toMatchObject({
      status: 'unknown',
      intent: 'order',
      subject: { reference: patient.fullUrl },
    });

    const imaging = entryOf<ImagingStudy>(bundle, 'ImagingStudy');
    expect(imaging.request.method).toBe('PUT');
    expect(imaging.request.url).toMatch(/^ImagingStudy\?/);
    expect(tokens('ImagingStudy', imaging.request.url.split('?')[1]!)).toEqual([
      { system: 'urn:dicom:uid', code: `urn:oid:${study[0]!.studyInstanceUid}` },
    ]);
    expect(imaging.resource.subject.reference).toBe(patient.fullUrl);
    expect(imaging.resource.basedOn?.[0]).toMatchObject({
      reference: order.fullUrl,
      identifier: { value: 'ACC-77', system: DEFAULT_ACCESSION_SYSTEM },
    });
    expect(imaging.resource.endpoint?.[0]?.reference).toBe('Endpoint/keney-dicomweb');
    expect(imaging.resource.numberOfSeries).toBe(2);
    expect(imaging.resource.numberOfInstances).toBe(4);
    expect(imaging.resource.modality?.map((m) => m.code).sort()).toEqual(['CT', 'MR']);
    expect(imaging.resource.series?.map((s) => s.instance?.map((i) => i.uid))).toEqual([
      [study[0]!.sopInstanceUid, study[1]!.sopInstanceUid],
      [study[2]!.sopInstanceUid, study[3]!.sopInstanceUid],
    ]);
    for (const entry of bundle.entry!) validateForWrite(entry.resource);
  });

  it('adds the instance received when the archive listing does not have it yet', () => {
    const study = syntheticStudy(1, 3, { patientId: 'IPP-1', issuer: 'CH-TEST' });
    const metas = study.map((i) => meta(i.file));
    const { bundle } = studyBundle({ instance: metas[2]!, study: metas.slice(0, 2) });
    expect(entryOf<ImagingStudy>(bundle, 'ImagingStudy').resource.numberOfInstances).toBe(3);
  });

  it('puts the INS first and ORs every identifier, so a patient known by either is the one linked', () => {
    const nir = testNir('2800175123456');
    const [instance] = syntheticStudy(1, 1, {
      patientId: 'IPP-9',
      issuer: '1.2.250.1.999.1.1',
      extra: insElements(nir),
    });
    const { bundle } = studyBundle({ instance: meta(instance!.file), study: [] });
    const patient = entryOf<Patient>(bundle, 'Patient');
    expect(tokens('Patient', patient.request.ifNoneExist!)).toEqual([
      { system: `urn:oid:${INS_TEST_OID}`, code: nir },
      { system: 'urn:oid:1.2.250.1.999.1.1', code: 'IPP-9' },
    ]);
    expect(patient.resource.identifier?.[0]?.type?.coding?.[0]?.code).toBe('INS-NIR');
  });

  it('gives a Patient ID without issuer the configured default issuer, and no accession no order', () => {
    const [instance] = syntheticStudy(1, 1, { patientId: 'P77', issuer: null, accession: null });
    const plain = studyBundle({ instance: meta(instance!.file), study: [] });
    expect(tokens('Patient', entryOf<Patient>(plain.bundle, 'Patient').request.ifNoneExist!)).toEqual([
      { system: 'urn:keney:dicom:patient-id', code: 'P77' },
    ]);
    expect(plain.bundle.entry!.some((e) => e.resource?.resourceType === 'ServiceRequest')).toBe(false);
    expect(entryOf<ImagingStudy>(plain.bundle, 'ImagingStudy').resource.basedOn).toBeUndefined();
    const configured = studyBundle(
      { instance: meta(instance!.file), study: [] },
      { defaultIssuer: 'HOPITAL-A', accessionSystem: 'urn:oid:1.2.250.1.999.2' },
    );
    expect(tokens('Patient', entryOf<Patient>(configured.bundle, 'Patient').request.ifNoneExist!)).toEqual([
      { system: 'urn:keney:v2-namespace:HOPITAL-A', code: 'P77' },
    ]);
  });

  it('uses the configured accession system only for instances without Issuer of Accession Number', () => {
    const [own] = syntheticStudy(1, 1, {
      accession: 'A1',
      extra: [
        {
          tag: Tag.IssuerOfAccessionNumberSequence,
          value: [
            [
              { tag: Tag.UniversalEntityID, value: '1.2.250.1.999.3' },
              { tag: Tag.UniversalEntityIDType, value: 'ISO' },
            ],
          ],
        },
      ],
    });
    const { bundle } = studyBundle(
      { instance: meta(own!.file), study: [] },
      { accessionSystem: 'urn:oid:1.2.250.1.999.2' },
    );
    expect(tokens('ServiceRequest', entryOf<ServiceRequest>(bundle, 'ServiceRequest').request.ifNoneExist!)).toEqual([
      { system: 'urn:oid:1.2.250.1.999.3', code: 'A1' },
    ]);
  });

  it('links an instance without Patient ID to a Patient of its own study, and says so', () => {
    const study = syntheticStudy(1, 2, { patientId: null, issuer: null });
    const first = studyBundle({ instance: meta(study[0]!.file), study: [] });
    const second = studyBundle({ instance: meta(study[1]!.file), study: [] });
    expect(first.issues.map((i) => i.code)).toEqual(['DICOM_NO_PATIENT_ID']);
    const criteria = entryOf<Patient>(first.bundle, 'Patient').request.ifNoneExist!;
    expect(tokens('Patient', criteria)).toEqual([
      { system: STUDY_PATIENT_SYSTEM, code: `urn:oid:${study[0]!.studyInstanceUid}` },
    ]);
    expect(entryOf<Patient>(second.bundle, 'Patient').request.ifNoneExist).toBe(criteria);
  });

  it('escapes identifiers that contain search syntax, so the condition finds exactly them', () => {
    // (A backslash cannot occur: it separates DICOM values.)
    const hostile = 'A,B|C$E&F=G%H+I';
    const [instance] = syntheticStudy(1, 1, { patientId: hostile, issuer: 'X,Y|Z', accession: '1,2|3' });
    const { bundle } = studyBundle({ instance: meta(instance!.file), study: [] });
    const patient = entryOf<Patient>(bundle, 'Patient');
    const [token] = tokens('Patient', patient.request.ifNoneExist!);
    expect(token!.code).toBe(hostile);
    expect(token!.system).toBe(patient.resource.identifier![0]!.system);
    expect(
      tokens('ServiceRequest', entryOf<ServiceRequest>(bundle, 'ServiceRequest').request.ifNoneExist!)[0]!.code,
    ).toBe('1,2|3');
    for (const entry of bundle.entry!) validateForWrite(entry.resource);
  });

  it('makes a Structured Report a DiagnosticReport linked to its ImagingStudy, patient and order', () => {
    const file = corpusFile('pydicom/test-SR.dcm');
    const { bundle, issues } = studyBundle({ instance: meta(file), dataSet: parsed(file), study: [] });
    expect(issues.map((i) => i.code)).toEqual(['DICOM_NO_PATIENT_ID']); // this corpus report names no patient
    const report = entryOf<DiagnosticReport>(bundle, 'DiagnosticReport');
    const imaging = entryOf<ImagingStudy>(bundle, 'ImagingStudy');
    expect(report.request.method).toBe('PUT');
    expect(report.resource.imagingStudy).toEqual([{ reference: imaging.fullUrl, type: 'ImagingStudy' }]);
    expect(report.resource.subject?.reference).toBe(entryOf<Patient>(bundle, 'Patient').fullUrl);
    expect(Buffer.from(report.resource.presentedForm![0]!.data!, 'base64').toString('utf8').length).toBeGreaterThan(50);
    for (const entry of bundle.entry!) validateForWrite(entry.resource);
  });

  it('makes an encapsulated PDF a DocumentReference and its Binary', () => {
    const [image] = syntheticStudy(1, 1, { patientId: 'IPP-5', issuer: 'CH-TEST', accession: 'ACC-5' });
    const pdf = pdfInstance(image!.studyInstanceUid, { patientId: 'IPP-5', issuer: 'CH-TEST', accession: 'ACC-5' });
    const { bundle } = studyBundle({ instance: meta(pdf.file), dataSet: parsed(pdf.file), study: [meta(image!.file)] });
    const binary = entryOf<Binary>(bundle, 'Binary');
    const document = entryOf<DocumentReference>(bundle, 'DocumentReference');
    expect(Buffer.from(binary.resource.data!, 'base64').equals(SAMPLE_PDF)).toBe(true);
    expect(binary.request).toMatchObject({ method: 'PUT', url: `Binary/${binary.resource.id}` });
    expect(document.resource.content[0]!.attachment.url).toBe(`Binary/${binary.resource.id}`);
    expect(document.resource.context?.related?.map((r) => r.reference)).toEqual([
      entryOf<ImagingStudy>(bundle, 'ImagingStudy').fullUrl,
      entryOf<ServiceRequest>(bundle, 'ServiceRequest').fullUrl,
    ]);
    expect(entryOf<ImagingStudy>(bundle, 'ImagingStudy').resource.numberOfInstances).toBe(2);
    for (const entry of bundle.entry!) validateForWrite(entry.resource);
  });

  it('keeps the study when a report cannot be mapped, with a warning', () => {
    const broken = syntheticInstance({
      sopClassUid: '1.2.840.10008.5.1.4.1.1.104.1',
      extra: [
        { tag: Tag.PatientID, value: 'IPP-8' },
        { tag: Tag.Modality, value: 'DOC' },
      ],
    });
    const { bundle, issues } = studyBundle({ instance: meta(broken.file), dataSet: parsed(broken.file), study: [] });
    expect(issues.map((i) => i.code)).toEqual(['DICOM_DOCUMENT_NOT_MAPPED']);
    expect(issues[0]!.message).toMatch(/Encapsulated Document \(0042,0011\) is missing/);
    expect(bundle.entry!.map((e) => e.resource?.resourceType)).toEqual(['Patient', 'ServiceRequest', 'ImagingStudy']);
  });
});
