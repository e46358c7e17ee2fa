// DICOM Part-10 files (PS3.10 §7): 128-byte preamble, "DICM", file meta information (group 0002, always
// Explicit VR Little Endian), then the data set in the transfer syntax the meta information names.
import { inflateRawSync } from 'node:zlib';
import { DicomError, DicomErrorCode } from './errors.js';
import type { DataSet } from './dataset.js';
import { EXPLICIT_LITTLE, parseDataSet, type Encoding, type ParseOptions } from './dataset.js';
import { formatTag } from './dictionary.js';
import { Tag } from './tags.js';
import {
  IMPLEMENTATION_CLASS_UID,
  IMPLEMENTATION_VERSION_NAME,
  isValidUid,
  transferSyntaxInfo,
  type TransferSyntaxInfo,
} from './uids.js';
import { encodeElements, type ElementValue } from './writer.js';

export const PREAMBLE_LENGTH = 128;
const DICM = Buffer.from('DICM', 'latin1');

export interface Part10ReadOptions extends ParseOptions {
  /** Largest inflated size accepted for a deflated data set (default 1 GiB). */
  maxInflatedBytes?: number;
}

export interface Part10File {
  /** The whole file as read. */
  bytes: Buffer;
  meta: DataSet;
  transferSyntax: TransferSyntaxInfo;
  /** Offset of the data set in `bytes` (just after the file meta information). */
  dataSetOffset: number;
  /**
   * The data set. For a deflated transfer syntax its elements point into the inflated bytes
   * (`dataSet.bytes`), not into `bytes`.
   */
  dataSet: DataSet;
}

/** True when the bytes start like a Part-10 file (preamble + "DICM"). */
export function looksLikePart10(bytes: Uint8Array): boolean {
  return (
    bytes.length >= PREAMBLE_LENGTH + 4 && Buffer.from(bytes.buffer, bytes.byteOffset + PREAMBLE_LENGTH, 4).equals(DICM)
  );
}

/** Reads the file meta information only; returns it and where the data set starts. */
export function readFileMeta(bytes: Buffer): { meta: DataSet; dataSetOffset: number; transferSyntaxUid: string } {
  if (bytes.length < PREAMBLE_LENGTH + 4) {
    throw new DicomError(
      DicomErrorCode.NotPart10,
      `Not a DICOM Part-10 file: ${bytes.length} bytes is shorter than the 128-byte preamble and "DICM" prefix`,
    );
  }
  if (!looksLikePart10(bytes)) {
    throw new DicomError(
      DicomErrorCode.NotPart10,
      'Not a DICOM Part-10 file: no "DICM" after the 128-byte preamble (a bare data set must be sent with its transfer syntax, e.g. over DIMSE)',
      PREAMBLE_LENGTH,
    );
  }
  const start = PREAMBLE_LENGTH + 4;
  // Meta elements run while the group is 0002. With a group length we know the end; without, we scan.
  let end = start;
  const groupLengthPresent =
    bytes.length >= start + 12 && bytes.readUInt16LE(start) === 0x0002 && bytes.readUInt16LE(start + 2) === 0x0000;
  if (groupLengthPresent && bytes.toString('latin1', start + 4, start + 6) === 'UL') {
    const groupLength = bytes.readUInt32LE(start + 8);
    end = start + 12 + groupLength;
    if (end > bytes.length) {
      throw new DicomError(
        DicomErrorCode.Truncated,
        `File meta information declares ${groupLength} bytes but the file ends before`,
        start,
      );
    }
  } else {
    while (end + 8 <= bytes.length && bytes.readUInt16LE(end) === 0x0002) {
      const vr = bytes.toString('latin1', end + 4, end + 6);
      const long = ['OB', 'OW', 'UN', 'SQ', 'UT', 'UC', 'UR'].includes(vr);
      if (long && end + 12 > bytes.length) break;
      const length = long ? bytes.readUInt32LE(end + 8) : bytes.readUInt16LE(end + 6);
      end += (long ? 12 : 8) + length;
    }
    if (end > bytes.length)
      throw new DicomError(DicomErrorCode.Truncated, 'File meta information runs past the end of the file', start);
  }
  let meta: DataSet;
  try {
    meta = parseDataSet(bytes, EXPLICIT_LITTLE, { start, end });
  } catch (error) {
    if (error instanceof DicomError) {
      throw new DicomError(DicomErrorCode.BadFileMeta, `File meta information is malformed: ${error.message}`);
    }
    throw error;
  }
  for (const tag of meta.elements.keys()) {
    if (tag >>> 16 !== 0x0002)
      throw new DicomError(
        DicomErrorCode.BadFileMeta,
        `File meta information contains ${formatTag(tag)}, which is not group 0002`,
      );
  }
  const transferSyntaxUid = meta.string(Tag.TransferSyntaxUID);
  if (!transferSyntaxUid) {
    throw new DicomError(
      DicomErrorCode.BadFileMeta,
      'File meta information has no Transfer Syntax UID (0002,0010): the data set cannot be read',
    );
  }
  return { meta, dataSetOffset: end, transferSyntaxUid };
}

/** The byte encoding of a transfer syntax's data set, or a DicomError naming it. */
export function encodingOf(transferSyntaxUid: string): { info: TransferSyntaxInfo; encoding: Encoding } {
  const info = transferSyntaxInfo(transferSyntaxUid);
  if (!info) {
    throw new DicomError(
      DicomErrorCode.UnsupportedTransferSyntax,
      `Transfer syntax ${transferSyntaxUid} is unknown here: its data sets cannot be read. Send the object in Explicit VR Little Endian (1.2.840.10008.1.2.1) or a standard compressed syntax`,
    );
  }
  return { info, encoding: { explicitVr: info.explicitVr, littleEndian: info.littleEndian } };
}

/** Parses a data set received without file meta (DIMSE), in the given transfer syntax. */
export function readDataSet(bytes: Buffer, transferSyntaxUid: string, options: Part10ReadOptions = {}): DataSet {
  const { info, encoding } = encodingOf(transferSyntaxUid);
  const source = info.deflated ? inflate(bytes, options.maxInflatedBytes) : bytes;
  return parseDataSet(source, encoding, options);
}

function inflate(bytes: Buffer, maxInflatedBytes = 1 << 30): Buffer {
  try {
    return inflateRawSync(bytes, { maxOutputLength: maxInflatedBytes });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ERR_BUFFER_TOO_LARGE' || /too large|exceeds/i.test((error as Error).message)) {
      throw new DicomError(
        DicomErrorCode.TooLarge,
        `Deflated data set inflates to more than ${maxInflatedBytes} bytes`,
      );
    }
    throw new DicomError(DicomErrorCode.Malformed, `Deflated data set cannot be inflated: ${(error as Error).message}`);
  }
}

/** Reads and checks a whole Part-10 file. */
export function readPart10(bytes: Buffer, options: Part10ReadOptions = {}): Part10File {
  const { meta, dataSetOffset, transferSyntaxUid } = readFileMeta(bytes);
  const { info } = encodingOf(transferSyntaxUid);
  const dataSet = readDataSet(bytes.subarray(dataSetOffset), transferSyntaxUid, options);
  return { bytes, meta, transferSyntax: info, dataSetOffset, dataSet };
}

export interface InstanceIdentity {
  sopClassUid: string;
  sopInstanceUid: string;
  studyInstanceUid: string;
  seriesInstanceUid: string;
  /** Inconsistencies that do not prevent storage (the data set's UIDs win), for the sender's information. */
  warnings: string[];
}

/**
 * The UIDs an instance must have to be stored and found (PS3.3 SOP Common, General Study/Series):
 * present and well formed. A file meta information that disagrees with the data set is reported as a
 * warning: the data set is what gets stored and indexed (real archives hold such files).
 */
export function requireIdentity(dataSet: DataSet, meta?: DataSet): InstanceIdentity {
  const get = (tag: number, name: string): string => {
    const value = dataSet.string(tag);
    if (!value)
      throw new DicomError(
        DicomErrorCode.MissingAttribute,
        `${name} ${formatTag(tag)} is missing: an instance cannot be stored without it`,
      );
    if (!isValidUid(value))
      throw new DicomError(
        DicomErrorCode.MissingAttribute,
        `${name} ${formatTag(tag)} is not a valid UID: ${JSON.stringify(value.slice(0, 80))}`,
      );
    return value;
  };
  const identity = {
    sopClassUid: get(Tag.SOPClassUID, 'SOP Class UID'),
    sopInstanceUid: get(Tag.SOPInstanceUID, 'SOP Instance UID'),
    studyInstanceUid: get(Tag.StudyInstanceUID, 'Study Instance UID'),
    seriesInstanceUid: get(Tag.SeriesInstanceUID, 'Series Instance UID'),
    warnings: [] as string[],
  };
  if (meta) {
    const metaInstance = meta.string(Tag.MediaStorageSOPInstanceUID);
    if (metaInstance && metaInstance !== identity.sopInstanceUid) {
      identity.warnings.push(
        `Media Storage SOP Instance UID (0002,0003) ${metaInstance} differs from SOP Instance UID (0008,0018) ${identity.sopInstanceUid}; the data set's UID is used`,
      );
    }
    const metaClass = meta.string(Tag.MediaStorageSOPClassUID);
    if (metaClass && metaClass !== identity.sopClassUid) {
      identity.warnings.push(
        `Media Storage SOP Class UID (0002,0002) ${metaClass} differs from SOP Class UID (0008,0016) ${identity.sopClassUid}; the data set's UID is used`,
      );
    }
  }
  return identity;
}

/** Builds a Part-10 file around data set bytes received without file meta (e.g. by C-STORE). */
export function buildPart10(
  dataSet: Uint8Array,
  meta: { sopClassUid: string; sopInstanceUid: string; transferSyntaxUid: string; sourceAeTitle?: string },
): Buffer {
  const elements: ElementValue[] = [
    { tag: Tag.FileMetaInformationVersion, vr: 'OB', value: Uint8Array.of(0, 1) },
    { tag: Tag.MediaStorageSOPClassUID, vr: 'UI', value: meta.sopClassUid },
    { tag: Tag.MediaStorageSOPInstanceUID, vr: 'UI', value: meta.sopInstanceUid },
    { tag: Tag.TransferSyntaxUID, vr: 'UI', value: meta.transferSyntaxUid },
    { tag: Tag.ImplementationClassUID, vr: 'UI', value: IMPLEMENTATION_CLASS_UID },
    { tag: Tag.ImplementationVersionName, vr: 'SH', value: IMPLEMENTATION_VERSION_NAME },
  ];
  if (meta.sourceAeTitle) elements.push({ tag: Tag.SourceApplicationEntityTitle, vr: 'AE', value: meta.sourceAeTitle });
  const group = encodeElements(elements, EXPLICIT_LITTLE);
  const header = encodeElements(
    [{ tag: Tag.FileMetaInformationGroupLength, vr: 'UL', value: group.length }],
    EXPLICIT_LITTLE,
  );
  return Buffer.concat([Buffer.alloc(PREAMBLE_LENGTH), DICM, header, group, dataSet]);
}
