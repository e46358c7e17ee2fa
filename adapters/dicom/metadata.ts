// The metadata indexed for every stored instance, by query/retrieve level (PS3.4 C.6.1.1 / C.6.2.1):
// what C-FIND and QIDO-RS match on and what the FHIR ImagingStudy mapping reads. Values are decoded
// (character sets applied, padding removed); dates stay in DICOM form (YYYYMMDD, HHMMSS.FFFFFF).
import type { DataSet } from './dataset.js';
import { parsePersonName, type PersonName } from './person-name.js';
import { Tag } from './tags.js';
import { isStorageSopClass } from './uids.js';

/** The INS assigning authorities (DESIGN.md): NIR, NIA, test NIR, demo NIR. */
export const INS_OIDS = [
  '1.2.250.1.213.1.4.8',
  '1.2.250.1.213.1.4.9',
  '1.2.250.1.213.1.4.10',
  '1.2.250.1.213.1.4.11',
] as const;

export interface PatientIdentifier {
  value: string;
  /** Issuer of Patient ID (0010,0021): a local namespace (e.g. the IPP domain). */
  issuer?: string;
  /** Universal Entity ID of the issuer (an OID for ISO), from Issuer of Patient ID Qualifiers. */
  issuerUniversalId?: string;
  issuerUniversalIdType?: string;
  /** Type of Patient ID (0010,0022): TEXT, RFID, BARCODE. */
  type?: string;
  /** True when the issuer is one of the INS authorities (French national health identifier). */
  ins: boolean;
}

export interface CodedValue {
  code: string;
  system?: string;
  display?: string;
}

export interface InstanceMetadata {
  patient: {
    /** Patient ID (0010,0020) with its issuer. */
    id?: PatientIdentifier;
    /** Other Patient IDs Sequence (0010,1002) and the retired Other Patient IDs (0010,1000). */
    otherIds: PatientIdentifier[];
    name?: PersonName;
    birthDate?: string;
    sex?: string;
  };
  study: {
    studyInstanceUid: string;
    studyId?: string;
    date?: string;
    time?: string;
    timezoneOffset?: string;
    accessionNumber?: string;
    /** Issuer of Accession Number Sequence (0008,0051) > Local Namespace / Universal Entity ID. */
    accessionIssuer?: string;
    referringPhysicianName?: PersonName;
    description?: string;
    procedureCodes: CodedValue[];
    /** Requested procedure / placer & filler order numbers from Request Attributes Sequence, for ServiceRequest links. */
    requestedProcedureIds: string[];
  };
  series: {
    seriesInstanceUid: string;
    modality?: string;
    number?: number;
    description?: string;
    bodyPartExamined?: string;
    laterality?: string;
    date?: string;
    time?: string;
    performingPhysicianName?: PersonName;
    institutionName?: string;
    stationName?: string;
  };
  instance: {
    sopClassUid: string;
    sopInstanceUid: string;
    number?: number;
    numberOfFrames?: number;
    rows?: number;
    columns?: number;
    contentDate?: string;
    contentTime?: string;
    /** For SR and encapsulated documents: the title (Concept Name Code Sequence or Document Title). */
    title?: string;
    mimeType?: string;
    specificCharacterSet: string[];
    /** True for storage SOP classes (everything we index should be). */
    storage: boolean;
  };
}

function identifierFrom(item: DataSet, value: string | undefined): PatientIdentifier | undefined {
  if (!value) return undefined;
  const qualifiers = item.sequence(Tag.IssuerOfPatientIDQualifiersSequence)[0];
  const id: PatientIdentifier = { value, ins: false };
  const issuer = item.string(Tag.IssuerOfPatientID);
  if (issuer) id.issuer = issuer;
  const universal = qualifiers?.string(Tag.UniversalEntityID);
  if (universal) id.issuerUniversalId = universal;
  const universalType = qualifiers?.string(Tag.UniversalEntityIDType);
  if (universalType) id.issuerUniversalIdType = universalType;
  const type = item.string(Tag.TypeOfPatientID);
  if (type) id.type = type;
  id.ins =
    (INS_OIDS as readonly string[]).includes(universal ?? '') || (INS_OIDS as readonly string[]).includes(issuer ?? '');
  return id;
}

function pn(dataSet: DataSet, tag: number): PersonName | undefined {
  const value = dataSet.string(tag);
  if (!value) return undefined;
  const name = parsePersonName(value);
  return Object.keys(name).length ? name : undefined;
}

function codes(items: DataSet[]): CodedValue[] {
  return items.flatMap((item) => {
    const code = item.string(Tag.CodeValue);
    if (!code) return [];
    const out: CodedValue = { code };
    const system = item.string(Tag.CodingSchemeDesignator);
    if (system) out.system = system;
    const display = item.string(Tag.CodeMeaning);
    if (display) out.display = display;
    return [out];
  });
}

function defined<T extends object>(value: T): T {
  for (const key of Object.keys(value) as Array<keyof T>) if (value[key] === undefined) delete value[key];
  return value;
}

/** Extracts the indexed metadata of an instance whose identity has been checked (requireIdentity). */
export function extractMetadata(dataSet: DataSet): InstanceMetadata {
  const s = (tag: number) => dataSet.string(tag);
  const n = (tag: number) => dataSet.number(tag);
  const otherIds: PatientIdentifier[] = [];
  for (const item of dataSet.sequence(Tag.OtherPatientIDsSequence)) {
    const id = identifierFrom(item, item.string(Tag.PatientID));
    if (id) otherIds.push(id);
  }
  for (const value of dataSet.strings(Tag.OtherPatientIDs)) {
    if (value && !otherIds.some((o) => o.value === value)) otherIds.push({ value, ins: false });
  }
  const accessionIssuerItem = dataSet.sequence(Tag.IssuerOfAccessionNumberSequence)[0];
  const requestedProcedureIds = dataSet
    .sequence(Tag.RequestAttributesSequence)
    .map((item) => item.string(Tag.RequestedProcedureID))
    .filter((v): v is string => !!v);
  const sopClassUid = s(Tag.SOPClassUID) ?? '';
  const conceptName = codes(dataSet.sequence(Tag.ConceptNameCodeSequence))[0];
  return {
    patient: defined({
      id: identifierFrom(dataSet, s(Tag.PatientID)),
      otherIds,
      name: pn(dataSet, Tag.PatientName),
      birthDate: s(Tag.PatientBirthDate),
      sex: s(Tag.PatientSex),
    }),
    study: defined({
      studyInstanceUid: s(Tag.StudyInstanceUID) ?? '',
      studyId: s(Tag.StudyID),
      date: s(Tag.StudyDate),
      time: s(Tag.StudyTime),
      timezoneOffset: s(Tag.TimezoneOffsetFromUTC),
      accessionNumber: s(Tag.AccessionNumber),
      accessionIssuer: accessionIssuerItem?.string(0x00400031) ?? accessionIssuerItem?.string(Tag.UniversalEntityID),
      referringPhysicianName: pn(dataSet, Tag.ReferringPhysicianName),
      description: s(Tag.StudyDescription),
      procedureCodes: codes(dataSet.sequence(Tag.ProcedureCodeSequence)),
      requestedProcedureIds,
    }),
    series: defined({
      seriesInstanceUid: s(Tag.SeriesInstanceUID) ?? '',
      modality: s(Tag.Modality),
      number: n(Tag.SeriesNumber),
      description: s(Tag.SeriesDescription),
      bodyPartExamined: s(Tag.BodyPartExamined),
      laterality: s(Tag.Laterality),
      date: s(Tag.SeriesDate),
      time: s(Tag.SeriesTime),
      performingPhysicianName: pn(dataSet, Tag.PerformingPhysicianName),
      institutionName: s(Tag.InstitutionName),
      stationName: s(Tag.StationName),
    }),
    instance: defined({
      sopClassUid,
      sopInstanceUid: s(Tag.SOPInstanceUID) ?? '',
      number: n(Tag.InstanceNumber),
      numberOfFrames: n(Tag.NumberOfFrames) ?? (dataSet.has(Tag.PixelData) ? 1 : undefined),
      rows: n(Tag.Rows),
      columns: n(Tag.Columns),
      contentDate: s(Tag.ContentDate),
      contentTime: s(Tag.ContentTime),
      title: s(Tag.DocumentTitle) ?? conceptName?.display,
      mimeType: s(Tag.MIMETypeOfEncapsulatedDocument),
      specificCharacterSet: dataSet.strings(Tag.SpecificCharacterSet),
      storage: isStorageSopClass(sopClassUid),
    }),
  };
}
