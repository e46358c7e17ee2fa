// adapters/xds: IHE XDS.b format layer (SOAP 1.2 + WS-Addressing, MTOM/XOP, ebRIM 3.0, ITI-41/42/18/43). See README.md.
export * from './constants.js';
export * from './model.js';
export * from './hl7-values.js';
export { parseRegistryObjectList, parseSubmitObjectsRequest, type ParsedRegistryObjectList } from './ebrim-parse.js';
export {
  buildRegistryObjectList,
  buildObjectRefList,
  buildSubmitObjectsRequest,
  RIM_NAMESPACES,
  type BuildOptions,
} from './ebrim-build.js';
export {
  validateSubmission,
  documentDigest,
  SubmissionProfile,
  type ValidationOptions,
  type SubmittedDocument,
} from './validate.js';
export {
  buildRegistryResponse,
  buildRegistryErrorList,
  parseRegistryResponse,
  responseStatus,
  type ParsedRegistryResponse,
} from './registry-response.js';
export * from './mtom.js';
export * from './soap.js';
export * from './provide-and-register.js';
export * from './stored-query.js';
export * from './retrieve.js';
export * from './french-metadata.js';
