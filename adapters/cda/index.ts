// adapters/cda: CDA R2 header → metadata / FHIR DocumentReference + Binary; narrative → safe HTML. See README.md.
export {
  CDA_XML_LIMITS,
  CdaError,
  CdaErrorCode,
  FrenchOid,
  V3,
  hl7TimeToFhir,
  parseCda,
  patientIns,
  readCdaHeader,
  type CdaAuthor,
  type CdaHeader,
  type CdaOrganization,
  type CodedValue,
  type InstanceIdentifier,
  type PatientIdentifier,
  type PersonName,
  type ServiceEvent,
} from './cda-header.js';
export {
  escapeHtml,
  formatCdaTime,
  readNonXmlBody,
  renderCdaHtml,
  type NonXmlBody,
  type RenderOptions,
  type RenderedNarrative,
} from './cda-narrative.js';
export {
  cdaToDocumentReference,
  documentUniqueId,
  fileToDocumentReference,
  identifierFromIi,
  systemForOid,
  type DocumentReferenceOptions,
  type DocumentReferenceResult,
  type FileDocumentOptions,
} from './cda-to-fhir.js';
