// Typed XDS metadata (IHE ITI TF-3 §4.2.3), independent of ebRIM XML. Values stay as the standard writes them
// (HL7 v2 CX/XCN/XON strings, DTM timestamps), so nothing is lost between parse and build.
import type { ErrorSeverity, XdsErrorCode } from './constants.js';

/** A coded value: ebRIM Classification nodeRepresentation + codingScheme slot + Name. */
export interface Code {
  code: string;
  codingScheme: string;
  displayName?: string;
}

/** One author (a Classification with the author scheme). Values are HL7 v2 strings (XCN, XON, CX, XTN). */
export interface Author {
  person?: string;
  institutions: string[];
  roles: string[];
  specialties: string[];
  telecommunications: string[];
}

/** A slot the IHE model does not define (extra metadata, e.g. `urn:ans:...`). */
export interface Slot {
  name: string;
  values: string[];
}

interface RegistryObjectBase {
  /** entryUUID (`urn:uuid:…`) or a symbolic id inside a submission. */
  id: string;
  lid?: string;
  /** availabilityStatus */
  status?: string;
  home?: string;
  /** VersionInfo/@versionName */
  version?: string;
  /** rim:Name */
  title?: string;
  /** rim:Description */
  comments?: string;
  /** Slots not part of the IHE model, kept as they came. */
  extraSlots: Slot[];
  /** True when the object carries the limitedMetadata classification (XDM/XDR minimal metadata). */
  limitedMetadata: boolean;
}

export interface DocumentEntry extends RegistryObjectBase {
  kind: 'DocumentEntry';
  /** Stable or On-Demand ({@link ObjectType}). */
  objectType: string;
  mimeType?: string;
  uniqueId?: string;
  /** XDS affinity-domain patient id (CX). */
  patientId?: string;
  authors: Author[];
  classCode?: Code;
  typeCode?: Code;
  formatCode?: Code;
  healthcareFacilityTypeCode?: Code;
  practiceSettingCode?: Code;
  confidentialityCodes: Code[];
  eventCodes: Code[];
  creationTime?: string;
  serviceStartTime?: string;
  serviceStopTime?: string;
  languageCode?: string;
  /** SHA-1, hex. */
  hash?: string;
  /** Size in bytes, as written. */
  size?: string;
  repositoryUniqueId?: string;
  /** XDM/XDR: the document's path in the media (`DOC0001.XML`). */
  uri?: string;
  sourcePatientId?: string;
  sourcePatientInfo: string[];
  legalAuthenticator?: string;
  referenceIdList: string[];
  documentAvailability?: string;
}

export interface SubmissionSet extends RegistryObjectBase {
  kind: 'SubmissionSet';
  uniqueId?: string;
  sourceId?: string;
  patientId?: string;
  submissionTime?: string;
  contentTypeCode?: Code;
  authors: Author[];
  intendedRecipients: string[];
}

export interface Folder extends RegistryObjectBase {
  kind: 'Folder';
  uniqueId?: string;
  patientId?: string;
  codeList: Code[];
  lastUpdateTime?: string;
}

export interface Association {
  kind: 'Association';
  id: string;
  /** Full URN ({@link AssociationType}); a legacy short form ("HasMember") is normalized, see rawAssociationType. */
  associationType: string;
  /** The associationType as written, when it differed from the normalized one. */
  rawAssociationType?: string;
  sourceObject: string;
  targetObject: string;
  status?: string;
  /** HasMember SubmissionSet → DocumentEntry: "Original" or "Reference". */
  submissionSetStatus?: string;
  previousVersion?: string;
  originalStatus?: string;
  newStatus?: string;
  extraSlots: Slot[];
}

export type RegistryObject = DocumentEntry | SubmissionSet | Folder | Association;

/** The content of a rim:RegistryObjectList (a submission or a LeafClass query result). */
export interface RegistryObjectList {
  submissionSets: SubmissionSet[];
  documentEntries: DocumentEntry[];
  folders: Folder[];
  associations: Association[];
  /** ObjectRef ids (ObjectRef query results, or references in a submission). */
  objectRefs: string[];
}

/** One problem found in metadata: becomes a rs:RegistryError. */
export interface XdsIssue {
  code: XdsErrorCode;
  severity: 'error' | 'warning';
  /** What is wrong and what to do (goes to codeContext). */
  message: string;
  /** Which object / element (goes to location). */
  location?: string;
}

export function severityUrn(issue: Pick<XdsIssue, 'severity'>): ErrorSeverity {
  return issue.severity === 'error'
    ? 'urn:oasis:names:tc:ebxml-regrep:ErrorSeverityType:Error'
    : 'urn:oasis:names:tc:ebxml-regrep:ErrorSeverityType:Warning';
}

export function emptyRegistryObjectList(): RegistryObjectList {
  return { submissionSets: [], documentEntries: [], folders: [], associations: [], objectRefs: [] };
}
