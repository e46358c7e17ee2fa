// Filters of DICOM channels: the same shape and meaning as the HL7 v2 channels' (engine/channel-config.ts
// FieldFilter: equals, in, matches, exists, not, anyOf), over what a DICOM instance says and how it came:
// - `CallingAETitle`, `CalledAETitle`, `RemoteAddress`, `Protocol` (dimse | stow-rs), `User` (STOW-RS token);
// - any top-level attribute by keyword (`Modality`, `StationName`, `SOPClassUID`…) or 8-digit hex tag
//   (`00080060`): its values decoded with the instance's character set, several values joined by `\`.
import type { DataSet } from '../../../adapters/dicom/dataset.js';
import { tagOf } from '../../../adapters/dicom/dictionary.js';
import { closest } from '../../../engine/channel-loader.js';
import type { FilterConfig } from '../../../engine/channel-config.js';
import { applyFieldFilters, type FilterVerdict } from '../../../engine/field-filter.js';
import type { InstanceSource } from '../instance-store.js';

export const SOURCE_FIELDS = ['CallingAETitle', 'CalledAETitle', 'RemoteAddress', 'Protocol', 'User'] as const;
type SourceField = (typeof SOURCE_FIELDS)[number];

/** Fields people route on most; "did you mean" suggestions come from here and the source fields. */
const COMMON_FIELDS = [
  ...SOURCE_FIELDS,
  'Modality',
  'SOPClassUID',
  'StationName',
  'InstitutionName',
  'InstitutionalDepartmentName',
  'Manufacturer',
  'ManufacturerModelName',
  'BodyPartExamined',
  'StudyDescription',
  'SeriesDescription',
  'AccessionNumber',
  'PatientID',
  'IssuerOfPatientID',
  'ReferringPhysicianName',
  'ImageType',
  'TransferSyntaxUID',
];

export interface FilterInput {
  dataSet: DataSet;
  source: InstanceSource;
  transferSyntaxUid: string;
}

export type { FilterVerdict } from '../../../engine/field-filter.js';

/** Undefined when the field can be filtered on; otherwise why not, with a suggestion. */
export function checkFilterField(field: string): string | undefined {
  if ((SOURCE_FIELDS as readonly string[]).includes(field) || field === 'TransferSyntaxUID') return undefined;
  if (tagOf(field) !== undefined) return undefined;
  const near = closest(field, COMMON_FIELDS);
  return `"${field}" is neither a DICOM keyword, an 8-digit hex tag, nor one of ${SOURCE_FIELDS.join(', ')}${near ? `; did you mean "${near}"?` : '.'}`;
}

export function fieldValue(input: FilterInput, field: string): string | undefined {
  switch (field as SourceField | 'TransferSyntaxUID') {
    case 'CallingAETitle':
      return input.source.callingAeTitle;
    case 'CalledAETitle':
      return input.source.calledAeTitle;
    case 'RemoteAddress':
      return input.source.remoteAddress;
    case 'Protocol':
      return input.source.protocol;
    case 'User':
      return input.source.user;
    case 'TransferSyntaxUID':
      return input.transferSyntaxUid;
    default: {
      const tag = tagOf(field);
      if (tag === undefined) return undefined;
      const values = input.dataSet.strings(tag);
      return values.length === 0 ? undefined : values.join('\\');
    }
  }
}

/** Every filter must pass (AND); `anyOf` is an OR; `not` negates. The first failure says why. */
export function applyDicomFilters(input: FilterInput, filters: readonly FilterConfig[]): FilterVerdict {
  return applyFieldFilters((field) => fieldValue(input, field), filters); // an attribute that does not decode counts as absent
}
