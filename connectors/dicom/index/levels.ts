// Which attributes are kept, as DICOM JSON, at each query/retrieve level (PS3.18 Tables 6.7.1-2/2a/2b and
// PS3.4 C.6.2.1: the required and commonly queried keys). QIDO-RS and C-FIND answer from these.
import { Tag } from '../../../adapters/dicom/tags.js';

export const QueryLevel = { Patient: 'PATIENT', Study: 'STUDY', Series: 'SERIES', Image: 'IMAGE' } as const;
export type QueryLevel = (typeof QueryLevel)[keyof typeof QueryLevel];

export const PATIENT_TAGS: readonly number[] = [
  Tag.PatientName,
  Tag.PatientID,
  Tag.IssuerOfPatientID,
  Tag.TypeOfPatientID,
  Tag.IssuerOfPatientIDQualifiersSequence,
  Tag.PatientBirthDate,
  Tag.PatientSex,
  Tag.OtherPatientIDs,
  Tag.OtherPatientIDsSequence,
];

export const STUDY_TAGS: readonly number[] = [
  ...PATIENT_TAGS,
  Tag.PatientAge,
  Tag.StudyDate,
  Tag.StudyTime,
  Tag.AccessionNumber,
  Tag.IssuerOfAccessionNumberSequence,
  Tag.ReferringPhysicianName,
  Tag.TimezoneOffsetFromUTC,
  Tag.StudyDescription,
  Tag.ProcedureCodeSequence,
  Tag.NameOfPhysiciansReadingStudy,
  Tag.StudyInstanceUID,
  Tag.StudyID,
];

export const SERIES_TAGS: readonly number[] = [
  Tag.Modality,
  Tag.SeriesDescription,
  Tag.SeriesNumber,
  Tag.SeriesInstanceUID,
  Tag.BodyPartExamined,
  Tag.Laterality,
  Tag.SeriesDate,
  Tag.SeriesTime,
  Tag.PerformedProcedureStepStartDate,
  0x00400245, // Performed Procedure Step Start Time
  Tag.RequestAttributesSequence,
  Tag.PerformingPhysicianName,
  Tag.InstitutionName,
  Tag.StationName,
  Tag.Manufacturer,
];

export const INSTANCE_TAGS: readonly number[] = [
  Tag.SOPClassUID,
  Tag.SOPInstanceUID,
  Tag.InstanceNumber,
  Tag.ImageType,
  Tag.ContentDate,
  Tag.ContentTime,
  Tag.AcquisitionDateTime,
  Tag.Rows,
  Tag.Columns,
  Tag.BitsAllocated,
  Tag.NumberOfFrames,
  Tag.PhotometricInterpretation,
  Tag.DocumentTitle,
  Tag.MIMETypeOfEncapsulatedDocument,
  Tag.ConceptNameCodeSequence,
  Tag.CompletionFlag,
  Tag.VerificationFlag,
];

/** The attributes QIDO-RS returns by default at each level (PS3.18 6.7.1.2.2.1). */
export const DEFAULT_RETURN: Record<'STUDY' | 'SERIES' | 'IMAGE', readonly number[]> = {
  STUDY: [
    Tag.SpecificCharacterSet,
    Tag.StudyDate,
    Tag.StudyTime,
    Tag.AccessionNumber,
    Tag.InstanceAvailability,
    Tag.ModalitiesInStudy,
    Tag.ReferringPhysicianName,
    Tag.TimezoneOffsetFromUTC,
    Tag.RetrieveURL,
    Tag.PatientName,
    Tag.PatientID,
    Tag.IssuerOfPatientID,
    Tag.PatientBirthDate,
    Tag.PatientSex,
    Tag.StudyInstanceUID,
    Tag.StudyID,
    Tag.StudyDescription,
    Tag.NumberOfStudyRelatedSeries,
    Tag.NumberOfStudyRelatedInstances,
  ],
  SERIES: [
    Tag.SpecificCharacterSet,
    Tag.Modality,
    Tag.TimezoneOffsetFromUTC,
    Tag.SeriesDescription,
    Tag.RetrieveURL,
    Tag.SeriesInstanceUID,
    Tag.StudyInstanceUID,
    Tag.SeriesNumber,
    Tag.NumberOfSeriesRelatedInstances,
    Tag.PerformedProcedureStepStartDate,
    0x00400245,
    Tag.RequestAttributesSequence,
    Tag.BodyPartExamined,
  ],
  IMAGE: [
    Tag.SpecificCharacterSet,
    Tag.SOPClassUID,
    Tag.SOPInstanceUID,
    Tag.InstanceAvailability,
    Tag.TimezoneOffsetFromUTC,
    Tag.RetrieveURL,
    Tag.InstanceNumber,
    Tag.Rows,
    Tag.Columns,
    Tag.BitsAllocated,
    Tag.NumberOfFrames,
    Tag.StudyInstanceUID,
    Tag.SeriesInstanceUID,
  ],
};
