// IHE XDS.b / ebXML RegRep 3.0 identifiers (IHE ITI TF-3 §4.2.5 and Table 4.2.4.1-2 error codes).

export const Ns = {
  soap12: 'http://www.w3.org/2003/05/soap-envelope',
  soap11: 'http://schemas.xmlsoap.org/soap/envelope/',
  wsa: 'http://www.w3.org/2005/08/addressing',
  xop: 'http://www.w3.org/2004/08/xop/include',
  xdsb: 'urn:ihe:iti:xds-b:2007',
  lcm: 'urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0',
  rim: 'urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0',
  rs: 'urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0',
  query: 'urn:oasis:names:tc:ebxml-regrep:xsd:query:3.0',
  xsi: 'http://www.w3.org/2001/XMLSchema-instance',
} as const;

/** WS-Addressing actions of the transactions we speak. */
export const SoapAction = {
  provideAndRegister: 'urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-b',
  provideAndRegisterResponse: 'urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-bResponse',
  register: 'urn:ihe:iti:2007:RegisterDocumentSet-b',
  registerResponse: 'urn:ihe:iti:2007:RegisterDocumentSet-bResponse',
  registryStoredQuery: 'urn:ihe:iti:2007:RegistryStoredQuery',
  registryStoredQueryResponse: 'urn:ihe:iti:2007:RegistryStoredQueryResponse',
  retrieveDocumentSet: 'urn:ihe:iti:2007:RetrieveDocumentSet',
  retrieveDocumentSetResponse: 'urn:ihe:iti:2007:RetrieveDocumentSetResponse',
  fault: 'http://www.w3.org/2005/08/addressing/soap/fault',
} as const;

export const ObjectType = {
  stableDocumentEntry: 'urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1',
  onDemandDocumentEntry: 'urn:uuid:34268e47-fdf5-41a6-ba33-82133c465248',
  registryPackage: 'urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:RegistryPackage',
  association: 'urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:Association',
  classification: 'urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:Classification',
  externalIdentifier: 'urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:ExternalIdentifier',
} as const;

/** Classification nodes that say a RegistryPackage is a SubmissionSet or a Folder. */
export const ClassificationNode = {
  submissionSet: 'urn:uuid:a54d6aa5-d40d-43f9-88c5-b4633d873bdd',
  folder: 'urn:uuid:d9d542f3-6cc4-48b6-8870-ea235fbc94c2',
} as const;

export const DocumentEntryScheme = {
  author: 'urn:uuid:93606bcf-9494-43ec-9b4e-a7748d1a838d',
  classCode: 'urn:uuid:41a5887f-8865-4c09-adf7-e362475b143a',
  confidentialityCode: 'urn:uuid:f4f85eac-e6cb-4883-b524-f2705394840f',
  eventCodeList: 'urn:uuid:2c6b8cb7-8b2a-4051-b291-b1ae6a575ef4',
  formatCode: 'urn:uuid:a09d5840-386c-46f2-b5ad-9c3699a4309d',
  healthcareFacilityTypeCode: 'urn:uuid:f33fb8ac-18af-42cc-ae0e-ed0b0bdb91e1',
  practiceSettingCode: 'urn:uuid:cccf5598-8b07-4b77-a05e-ae952c785ead',
  typeCode: 'urn:uuid:f0306f51-975f-434e-a61c-c59651d33983',
  limitedMetadata: 'urn:uuid:ab9b591b-83ab-4d03-8f5d-f93b1fb92e85',
  /** ExternalIdentifier schemes */
  patientId: 'urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427',
  uniqueId: 'urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab',
} as const;

export const SubmissionSetScheme = {
  author: 'urn:uuid:a7058bb9-b4e4-4307-ba5b-e3f0ab85e12d',
  contentTypeCode: 'urn:uuid:aa543740-bdda-424e-8c96-df4873be8500',
  limitedMetadata: 'urn:uuid:5003a9db-8d8d-49e6-bf0c-990e34ac7707',
  patientId: 'urn:uuid:6b5aea1a-874d-4603-a4bc-96a0a7b38446',
  sourceId: 'urn:uuid:554ac39e-e3fe-47fe-b233-965d2a147832',
  uniqueId: 'urn:uuid:96fdda7c-d067-4183-912e-bf5ee74998a8',
} as const;

export const FolderScheme = {
  codeList: 'urn:uuid:1ba97051-7806-41a8-a48b-8fce7af683c5',
  limitedMetadata: 'urn:uuid:2c144a76-29a9-4b7c-af54-b25409fe7d03',
  patientId: 'urn:uuid:f64ffdf0-4b97-4e06-b79f-a52b38ec2f8a',
  uniqueId: 'urn:uuid:75df8f67-9973-4fbe-a900-df66cefecc5a',
} as const;

export const AssociationType = {
  hasMember: 'urn:oasis:names:tc:ebxml-regrep:AssociationType:HasMember',
  replace: 'urn:ihe:iti:2007:AssociationType:RPLC',
  transform: 'urn:ihe:iti:2007:AssociationType:XFRM',
  append: 'urn:ihe:iti:2007:AssociationType:APND',
  transformAndReplace: 'urn:ihe:iti:2007:AssociationType:XFRM_RPLC',
  signs: 'urn:ihe:iti:2007:AssociationType:signs',
  isSnapshotOf: 'urn:ihe:iti:2010:AssociationType:IsSnapshotOf',
  /** Metadata Update (ITI-57) */
  updateAvailabilityStatus: 'urn:ihe:iti:2010:AssociationType:UpdateAvailabilityStatus',
} as const;
export type AssociationType = (typeof AssociationType)[keyof typeof AssociationType];

export const AvailabilityStatus = {
  approved: 'urn:oasis:names:tc:ebxml-regrep:StatusType:Approved',
  deprecated: 'urn:oasis:names:tc:ebxml-regrep:StatusType:Deprecated',
  submitted: 'urn:oasis:names:tc:ebxml-regrep:StatusType:Submitted',
} as const;

export const ResponseStatus = {
  success: 'urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Success',
  failure: 'urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Failure',
  partialSuccess: 'urn:ihe:iti:2007:ResponseStatusType:PartialSuccess',
} as const;
export type ResponseStatus = (typeof ResponseStatus)[keyof typeof ResponseStatus];

export const ErrorSeverity = {
  error: 'urn:oasis:names:tc:ebxml-regrep:ErrorSeverityType:Error',
  warning: 'urn:oasis:names:tc:ebxml-regrep:ErrorSeverityType:Warning',
} as const;
export type ErrorSeverity = (typeof ErrorSeverity)[keyof typeof ErrorSeverity];

/** Registry Stored Query ids (ITI TF-2 §3.18.4.1.2.3.7). */
export const StoredQueryId = {
  findDocuments: 'urn:uuid:14d4debf-8f97-4251-9a74-a90016b0af0d',
  findSubmissionSets: 'urn:uuid:f26abbcb-ac74-4422-8a30-edb644bbc1a9',
  findFolders: 'urn:uuid:958f3006-baad-4929-a4de-ff1114824431',
  getAll: 'urn:uuid:10b545ea-725c-446d-9b95-8aeb444eddf3',
  getDocuments: 'urn:uuid:5c4f972b-d56b-40ac-a5fc-c8ca9b40b9d4',
  getFolders: 'urn:uuid:5737b14c-8a1a-4539-b659-e03a34a5e1e4',
  getAssociations: 'urn:uuid:a7ae438b-4bc2-4642-93e9-be891f7bb155',
  getDocumentsAndAssociations: 'urn:uuid:bab9529a-4a10-40b3-a01f-f68a615d247a',
  getSubmissionSets: 'urn:uuid:51224314-5390-4169-9b91-b1980040715a',
  getSubmissionSetAndContents: 'urn:uuid:e8e3cb2c-e39c-46b9-99e4-c12f57260b83',
  getFolderAndContents: 'urn:uuid:b909a503-523d-4517-8acf-8e5834dfc4c7',
  getFoldersForDocument: 'urn:uuid:10cae35a-c7f9-4cf5-b61e-fc3278ffb578',
  getRelatedDocuments: 'urn:uuid:d90e5407-b356-4d91-a89f-873917b4b0e6',
  findDocumentsByReferenceId: 'urn:uuid:12941a89-e02e-4be5-967c-ce4bfc8fe492',
} as const;

/** The XDS error codes (ITI TF-3 Table 4.2.4.1-2) this project emits or recognizes. */
export const XdsErrorCode = {
  registryError: 'XDSRegistryError',
  repositoryError: 'XDSRepositoryError',
  registryMetadataError: 'XDSRegistryMetadataError',
  repositoryMetadataError: 'XDSRepositoryMetadataError',
  registryBusy: 'XDSRegistryBusy',
  repositoryBusy: 'XDSRepositoryBusy',
  registryOutOfResources: 'XDSRegistryOutOfResources',
  repositoryOutOfResources: 'XDSRepositoryOutOfResources',
  missingDocument: 'XDSMissingDocument',
  missingDocumentMetadata: 'XDSMissingDocumentMetadata',
  patientIdDoesNotMatch: 'XDSPatientIdDoesNotMatch',
  unknownPatientId: 'XDSUnknownPatientId',
  documentUniqueIdError: 'XDSDocumentUniqueIdError',
  duplicateUniqueIdInRegistry: 'XDSDuplicateUniqueIdInRegistry',
  registryDuplicateUniqueIdInMessage: 'XDSRegistryDuplicateUniqueIdInMessage',
  repositoryDuplicateUniqueIdInMessage: 'XDSRepositoryDuplicateUniqueIdInMessage',
  nonIdenticalHash: 'XDSNonIdenticalHash',
  nonIdenticalSize: 'XDSNonIdenticalSize',
  unknownRepositoryId: 'XDSUnknownRepositoryId',
  unknownStoredQuery: 'XDSUnknownStoredQuery',
  storedQueryParamNumber: 'XDSStoredQueryParamNumber',
  storedQueryMissingParam: 'XDSStoredQueryMissingParam',
  resultNotSinglePatient: 'XDSResultNotSinglePatient',
  tooManyResults: 'XDSTooManyResults',
  extraMetadataNotSaved: 'XDSExtraMetadataNotSaved',
  unresolvedReference: 'UnresolvedReferenceException',
  invalidDocumentContent: 'InvalidDocumentContent',
  replacementNotSupported: 'XDSReplacementNotSupported',
} as const;
export type XdsErrorCode = (typeof XdsErrorCode)[keyof typeof XdsErrorCode];
