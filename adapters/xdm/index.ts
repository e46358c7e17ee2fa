// adapters/xdm: IHE XDM media (ITI-32) — tolerant, bomb-proof reading and valid writing. See README.md.
export {
  readXdm,
  writeXdm,
  XdmError,
  XdmErrorCode,
  type XdmDocument,
  type XdmDocumentToWrite,
  type XdmPackage,
  type XdmReadOptions,
  type XdmSubmission,
  type XdmWriteOptions,
} from './xdm.js';
export { readZip, writeZip, ZipError, ZipErrorCode, DEFAULT_ZIP_LIMITS, type ZipEntry, type ZipLimits } from './zip.js';
