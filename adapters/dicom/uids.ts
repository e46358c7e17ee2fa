// UIDs this code knows by meaning (PS3.6 Annex A): transfer syntaxes and the SOP classes it treats specially.

export const TransferSyntax = {
  ImplicitVRLittleEndian: '1.2.840.10008.1.2',
  ExplicitVRLittleEndian: '1.2.840.10008.1.2.1',
  DeflatedExplicitVRLittleEndian: '1.2.840.10008.1.2.1.99',
  ExplicitVRBigEndian: '1.2.840.10008.1.2.2',
  JPEGBaseline8Bit: '1.2.840.10008.1.2.4.50',
  JPEGExtended12Bit: '1.2.840.10008.1.2.4.51',
  JPEGLossless: '1.2.840.10008.1.2.4.57',
  JPEGLosslessSV1: '1.2.840.10008.1.2.4.70',
  JPEGLSLossless: '1.2.840.10008.1.2.4.80',
  JPEGLSNearLossless: '1.2.840.10008.1.2.4.81',
  JPEG2000Lossless: '1.2.840.10008.1.2.4.90',
  JPEG2000: '1.2.840.10008.1.2.4.91',
  JPEG2000MCLossless: '1.2.840.10008.1.2.4.92',
  JPEG2000MC: '1.2.840.10008.1.2.4.93',
  MPEG2MPML: '1.2.840.10008.1.2.4.100',
  MPEG2MPHL: '1.2.840.10008.1.2.4.101',
  MPEG4HP41: '1.2.840.10008.1.2.4.102',
  MPEG4HP41BD: '1.2.840.10008.1.2.4.103',
  MPEG4HP422D: '1.2.840.10008.1.2.4.104',
  MPEG4HP423D: '1.2.840.10008.1.2.4.105',
  MPEG4HP42Stereo: '1.2.840.10008.1.2.4.106',
  HEVCMP51: '1.2.840.10008.1.2.4.107',
  HEVCM10P51: '1.2.840.10008.1.2.4.108',
  HTJ2KLossless: '1.2.840.10008.1.2.4.201',
  HTJ2KLosslessRPCL: '1.2.840.10008.1.2.4.202',
  HTJ2K: '1.2.840.10008.1.2.4.203',
  RLELossless: '1.2.840.10008.1.2.5',
} as const;

export interface TransferSyntaxInfo {
  uid: string;
  name: string;
  explicitVr: boolean;
  littleEndian: boolean;
  deflated: boolean;
  /** Pixel data in fragments (compressed). */
  encapsulated: boolean;
  /** The media type of one compressed frame (WADO-RS frames), for encapsulated syntaxes. */
  frameMediaType?: string;
}

const T = TransferSyntax;
const table: TransferSyntaxInfo[] = [
  {
    uid: T.ImplicitVRLittleEndian,
    name: 'Implicit VR Little Endian',
    explicitVr: false,
    littleEndian: true,
    deflated: false,
    encapsulated: false,
  },
  {
    uid: T.ExplicitVRLittleEndian,
    name: 'Explicit VR Little Endian',
    explicitVr: true,
    littleEndian: true,
    deflated: false,
    encapsulated: false,
  },
  {
    uid: T.DeflatedExplicitVRLittleEndian,
    name: 'Deflated Explicit VR Little Endian',
    explicitVr: true,
    littleEndian: true,
    deflated: true,
    encapsulated: false,
  },
  {
    uid: T.ExplicitVRBigEndian,
    name: 'Explicit VR Big Endian (retired)',
    explicitVr: true,
    littleEndian: false,
    deflated: false,
    encapsulated: false,
  },
  ...(
    [
      [T.JPEGBaseline8Bit, 'JPEG Baseline (Process 1)', 'image/jpeg'],
      [T.JPEGExtended12Bit, 'JPEG Extended (Process 2 & 4)', 'image/jpeg'],
      [T.JPEGLossless, 'JPEG Lossless (Process 14)', 'image/jpeg'],
      [T.JPEGLosslessSV1, 'JPEG Lossless SV1 (Process 14, selection value 1)', 'image/jpeg'],
      [T.JPEGLSLossless, 'JPEG-LS Lossless', 'image/jls'],
      [T.JPEGLSNearLossless, 'JPEG-LS Near-Lossless', 'image/jls'],
      [T.JPEG2000Lossless, 'JPEG 2000 Lossless', 'image/jp2'],
      [T.JPEG2000, 'JPEG 2000', 'image/jp2'],
      [T.JPEG2000MCLossless, 'JPEG 2000 Part 2 Multi-component Lossless', 'image/jpx'],
      [T.JPEG2000MC, 'JPEG 2000 Part 2 Multi-component', 'image/jpx'],
      [T.MPEG2MPML, 'MPEG2 Main Profile @ Main Level', 'video/mpeg'],
      [T.MPEG2MPHL, 'MPEG2 Main Profile @ High Level', 'video/mpeg'],
      [T.MPEG4HP41, 'MPEG-4 AVC/H.264 High Profile / Level 4.1', 'video/mp4'],
      [T.MPEG4HP41BD, 'MPEG-4 AVC/H.264 BD-compatible High Profile / Level 4.1', 'video/mp4'],
      [T.MPEG4HP422D, 'MPEG-4 AVC/H.264 High Profile / Level 4.2 (2D)', 'video/mp4'],
      [T.MPEG4HP423D, 'MPEG-4 AVC/H.264 High Profile / Level 4.2 (3D)', 'video/mp4'],
      [T.MPEG4HP42Stereo, 'MPEG-4 AVC/H.264 Stereo High Profile / Level 4.2', 'video/mp4'],
      [T.HEVCMP51, 'HEVC/H.265 Main Profile / Level 5.1', 'video/H265'],
      [T.HEVCM10P51, 'HEVC/H.265 Main 10 Profile / Level 5.1', 'video/H265'],
      [T.HTJ2KLossless, 'High-Throughput JPEG 2000 Lossless', 'image/jphc'],
      [T.HTJ2KLosslessRPCL, 'High-Throughput JPEG 2000 with RPCL Lossless', 'image/jphc'],
      [T.HTJ2K, 'High-Throughput JPEG 2000', 'image/jphc'],
      [T.RLELossless, 'RLE Lossless', 'image/dicom-rle'],
    ] as const
  ).map(([uid, name, frameMediaType]) => ({
    uid,
    name,
    explicitVr: true,
    littleEndian: true,
    deflated: false,
    encapsulated: true,
    frameMediaType,
  })),
];
const byUid = new Map(table.map((t) => [t.uid, t]));

/** What we know of a transfer syntax, or undefined when we cannot read data sets encoded with it. */
export function transferSyntaxInfo(uid: string): TransferSyntaxInfo | undefined {
  return byUid.get(uid);
}

export function knownTransferSyntaxes(): readonly TransferSyntaxInfo[] {
  return table;
}

export const SopClass = {
  Verification: '1.2.840.10008.1.1',
  MediaStorageDirectory: '1.2.840.10008.1.3.10',
  PatientRootFind: '1.2.840.10008.5.1.4.1.2.1.1',
  PatientRootMove: '1.2.840.10008.5.1.4.1.2.1.2',
  PatientRootGet: '1.2.840.10008.5.1.4.1.2.1.3',
  StudyRootFind: '1.2.840.10008.5.1.4.1.2.2.1',
  StudyRootMove: '1.2.840.10008.5.1.4.1.2.2.2',
  StudyRootGet: '1.2.840.10008.5.1.4.1.2.2.3',
  BasicTextSR: '1.2.840.10008.5.1.4.1.1.88.11',
  EnhancedSR: '1.2.840.10008.5.1.4.1.1.88.22',
  ComprehensiveSR: '1.2.840.10008.5.1.4.1.1.88.33',
  Comprehensive3DSR: '1.2.840.10008.5.1.4.1.1.88.34',
  ExtensibleSR: '1.2.840.10008.5.1.4.1.1.88.35',
  KeyObjectSelection: '1.2.840.10008.5.1.4.1.1.88.59',
  EncapsulatedPDF: '1.2.840.10008.5.1.4.1.1.104.1',
  EncapsulatedCDA: '1.2.840.10008.5.1.4.1.1.104.2',
} as const;

/**
 * Storage SOP classes all live under 1.2.840.10008.5.1.4.1.1 (PS3.4 Annex B), plus a few newer arcs
 * (RT second generation, implant templates). Query/retrieve, worklist and DICOMDIR are not storage.
 */
export function isStorageSopClass(uid: string): boolean {
  return (
    uid.startsWith('1.2.840.10008.5.1.4.1.1.') ||
    uid.startsWith('1.2.840.10008.5.1.4.34.') ||
    uid === '1.2.840.10008.5.1.4.43.1' ||
    uid === '1.2.840.10008.5.1.4.44.1' ||
    uid === '1.2.840.10008.5.1.4.45.1'
  );
}

export function isStructuredReport(sopClassUid: string): boolean {
  return sopClassUid.startsWith('1.2.840.10008.5.1.4.1.1.88.') && sopClassUid !== SopClass.KeyObjectSelection;
}

/** A UID: 1–64 characters of digits and dots, components without leading zeros (PS3.5 9.1). */
export function isValidUid(uid: string): boolean {
  return uid.length > 0 && uid.length <= 64 && /^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$/.test(uid);
}

/** Our implementation class UID (2.25 arc: a UUID as an integer) and version name for association and file meta. */
export const IMPLEMENTATION_CLASS_UID = '2.25.180620321604855572933442208234997793692';
export const IMPLEMENTATION_VERSION_NAME = 'KENEY_HUB_0_1';
