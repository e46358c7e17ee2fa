// The catalogue of DICOM adapter errors. Each error is a value with a stable code, a message that says
// what is wrong and what to do, and (where it helps) the byte offset where the problem was found.

export const DicomErrorCode = {
  /** Fewer bytes than the structure needs: the file or message was cut short. */
  Truncated: 'DICOM_TRUNCATED',
  /** No 128-byte preamble followed by "DICM": not a DICOM Part-10 file. */
  NotPart10: 'DICOM_NOT_PART10',
  /** File meta information (group 0002) is missing a required element or is malformed. */
  BadFileMeta: 'DICOM_BAD_FILE_META',
  /** The transfer syntax is unknown, or one whose data set encoding we cannot read. */
  UnsupportedTransferSyntax: 'DICOM_UNSUPPORTED_TRANSFER_SYNTAX',
  /** A declared element / item length runs past the end of its container. */
  LengthOverrun: 'DICOM_LENGTH_OVERRUN',
  /** The data set is structurally invalid (bad item tag, missing delimiter, odd nesting…). */
  Malformed: 'DICOM_MALFORMED',
  /** Sequences nested deeper than the configured limit. */
  TooDeep: 'DICOM_TOO_DEEP',
  /** A required attribute (SOP Class UID, SOP Instance UID, Study/Series Instance UID) is missing or invalid. */
  MissingAttribute: 'DICOM_MISSING_ATTRIBUTE',
  /** The object is bigger than the configured limit (instance size, inflated size). */
  TooLarge: 'DICOM_TOO_LARGE',
  /** The pixel data cannot be rendered (compression we cannot decode, unusual photometric interpretation). */
  NotRenderable: 'DICOM_NOT_RENDERABLE',
  /** The object is not of the kind a mapping expects (e.g. an SR mapping given an image). */
  WrongKind: 'DICOM_WRONG_KIND',
} as const;
export type DicomErrorCode = (typeof DicomErrorCode)[keyof typeof DicomErrorCode];

export class DicomError extends Error {
  override readonly name = 'DicomError';
  constructor(
    readonly code: DicomErrorCode,
    message: string,
    readonly offset?: number,
  ) {
    super(offset === undefined ? message : `${message} (at byte ${offset})`);
  }
}

export function isDicomError(error: unknown): error is DicomError {
  return error instanceof DicomError;
}
