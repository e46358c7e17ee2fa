// Public API of the HL7 v2 adapter. See README.md.
export { parseHl7Message, tryParseHl7Message, defaultHl7Limits } from './parse.js';
export type { Hl7Limits, Hl7ParseOptions } from './parse.js';
export { parseHl7Batch, tryParseHl7Batch, Hl7Batch } from './batch.js';
export type { Hl7BatchGroup, Hl7BatchOptions } from './batch.js';
export { Hl7Message, Hl7Segment, Hl7Field, Hl7Repetition, Hl7Component, repeat } from './model.js';
export type { Hl7Value, Hl7Text, Hl7ComponentInput, Hl7RepetitionInput, Hl7FieldInput, Hl7Repeated } from './model.js';
export { createHl7Message, formatHl7DateTime } from './build.js';
export type { Hl7MessageInit, Hl7RawField } from './build.js';
export { buildAck, buildRejectAck, ackCodeFor, isEnhancedMode, AckCode } from './ack.js';
export type { AckError, AckOptions } from './ack.js';
export type { Hl7Header, Hl7MessageType, Hl7VersionId } from './header.js';
export { parsePath } from './path.js';
export type { Hl7Path } from './path.js';
export { defaultDelimiters, escapeValue, unescapeValue } from './delimiters.js';
export type { Hl7Delimiters } from './delimiters.js';
export { Hl7Charset, resolveCharset } from './charset.js';
export type { Hl7CharsetSource, Hl7DefaultCharset } from './charset.js';
export {
  parseHl7DateTime,
  parseHl7Number,
  readCe,
  readCwe,
  readCx,
  readEi,
  readHd,
  readXad,
  readXcn,
  readXpn,
  readXtn,
} from './datatypes.js';
export type {
  Hl7Address,
  Hl7CodedElement,
  Hl7DateTime,
  Hl7DateTimePrecision,
  Hl7EntityIdentifier,
  Hl7ExtendedIdentifier,
  Hl7HierarchicDesignator,
  Hl7PersonIdentifier,
  Hl7PersonName,
  Hl7Telecom,
} from './datatypes.js';
export {
  Hl7Error,
  Hl7ErrorCode,
  Hl7ConditionCode,
  Hl7Severity,
  conditionCodeOf,
  hl7ConditionText,
  describeLocation,
} from './errors.js';
export type { Hl7Location, Hl7Result } from './errors.js';
