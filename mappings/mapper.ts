// The seam between the channel engine (engine/) and the declarative mappings (mappings/): a mapper turns
// one decoded inbound message into one FHIR transaction Bundle (the change set's content) plus the issues
// found on the way. Mappers are pure: no I/O, no clock (the receive time is given), so the same message
// always maps to the same Bundle — which is what makes replay and `keney channel test` trustworthy.
import type { Bundle } from '@medplum/fhirtypes';

export const MappingSeverity = { Error: 'error', Warning: 'warning', Information: 'information' } as const;
export type MappingSeverity = (typeof MappingSeverity)[keyof typeof MappingSeverity];

export interface MappingIssue {
  severity: MappingSeverity;
  /** Stable code, e.g. `UNMAPPED_CODE`, `QUALITY_OBSERVATION_EFFECTIVE`, `INS_BAD_KEY`. */
  code: string;
  /** What happened and what to do, for an integrator. */
  message: string;
  /** Where in the source: an HL7 location like `OBX[3]-6.1` (segment occurrence, field, component). */
  location?: string;
  /** The quality rule or mapping rule that raised it. */
  rule?: string;
  /** FHIRPath to the produced element concerned, e.g. `Observation.valueQuantity`. */
  expression?: string;
  /**
   * The values `message` is worded from, for the codes a console words in its own language (REQUIRED_MISSING,
   * UNMAPPED_CODE, UNMAPPED_UNIT, BAD_VALUE): `location`, `target`, `type`, `code`, `map`, `unit`, `value`, `reason`.
   */
  params?: Record<string, string>;
}

/** What the engine knows about the message being mapped. */
export interface MappingContext {
  channelId: string;
  /** Message store id of the inbound message. */
  messageId: string;
  /** sha256 of the raw bytes. */
  rawSha256: string;
  /** When the hub received it (ISO-8601): the only "now" a mapper may use. */
  receivedAt: string;
}

export interface MappingResult {
  /** A Bundle of type transaction whose entries are conditional on business identifiers. */
  bundle: Bundle;
  /** The patient's stable key when the mapper knows it (otherwise the store derives it). */
  partitionKey?: string;
  /** Any error-severity issue rejects the message (NACK AE, error state); warnings are stored with it. */
  issues: MappingIssue[];
}

/** A mapper for one kind of decoded message (an Hl7Message from adapters/hl7v2, a DICOM dataset…). */
export interface Mapper<Decoded = unknown> {
  /** Reference used by channels (`mapping: hl7v2/adt`). */
  id: string;
  map(message: Decoded, context: MappingContext): MappingResult | Promise<MappingResult>;
}

/** Quality rules run on every change set a channel produces (after the mapping). */
export interface QualityChecker {
  check(bundle: Bundle): MappingIssue[];
}
