// A change set is the unit of change of the canonical record: one FHIR transaction Bundle whose
// entries are conditional on business identifiers, plus where it came from. Every write — from a
// channel or from the REST API — becomes one change set appended to the log (DESIGN.md, invariant 2).
import type { Bundle } from '@medplum/fhirtypes';

export const OriginKind = {
  Api: 'api',
  Channel: 'channel',
  System: 'system',
} as const;
export type OriginKind = (typeof OriginKind)[keyof typeof OriginKind];

/** Where a change set came from: the lineage that every resource version's Provenance points to. */
export interface ChangeOrigin {
  kind: OriginKind;
  /** Who asked: the token's subject for the API, the channel id for a channel. */
  actor?: string;
  /** Channel id (channels/*.channel.yaml). */
  channel?: string;
  /** Message store id of the inbound message. */
  messageId?: string;
  /** The sender's own message id (MSH-10, DICOM SOP Instance UID, XDS submission set unique id…). */
  controlId?: string;
  /** Sending system / application (MSH-3^MSH-4, calling AE title, mail address…). */
  sender?: string;
  /** sha256 (hex) of the raw inbound payload. */
  rawSha256?: string;
  /** Free-form reason (audit "why"), e.g. "replay", "rebuild", "merge". */
  reason?: string;
}

export interface ChangeSet {
  /** UUID; the idempotency key: a change set id applied twice is applied once. */
  id: string;
  /** The patient's stable key (or another stable key): one key's changes stay in order. */
  partitionKey: string;
  origin: ChangeOrigin;
  /** A FHIR Bundle of type `transaction` (atomic) or `batch` (entry by entry). */
  bundle: Bundle;
}

/** A change set once durably appended to the log. */
export interface LogRecord {
  partition: number;
  /** Position within the partition; strictly increasing, not necessarily dense. */
  offset: number;
  /** ISO-8601 instant assigned at append (the log's clock): becomes meta.lastUpdated. */
  appendedAt: string;
  changeSet: ChangeSet;
}

/**
 * Stable partition for a key: FNV-1a 32-bit of the UTF-8 key, modulo the partition count.
 * Both log implementations use it so that a key maps to the same partition on every profile.
 */
export function partitionFor(key: string, partitions: number): number {
  if (partitions <= 1) return 0;
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(key, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % partitions;
}
