// How a change set is stored in a Kafka record (format version 1):
//   key     = the partition key, UTF-8
//   value   = JSON (UTF-8) of { id, partitionKey, origin, bundle }: the ChangeSet itself
//   headers = keney-format: "1", keney-change-set-id: <uuid>
// The format version travels in a header so that a reader recognises a record before parsing it, and a future
// format can be introduced while older records stay readable. A reader refuses a version it does not know.
import type { ChangeSet } from '../change-set.js';
import { OriginKind } from '../change-set.js';
import { KafkaLogError, KafkaLogErrorCode } from './kafka-log-errors.js';

export const CHANGE_SET_FORMAT_HEADER = 'keney-format';
export const CHANGE_SET_ID_HEADER = 'keney-change-set-id';
export const CHANGE_SET_FORMAT_VERSION = '1';
/** Longest partition key accepted, in UTF-8 bytes (a patient key is a few dozen). */
export const MAX_PARTITION_KEY_BYTES = 1024;
/**
 * Upper bound of what a record adds around its key and value inside a record batch (length, attributes,
 * deltas, header names and values as varints). Used to check sizes before sending.
 */
export const RECORD_OVERHEAD_BYTES = 128;
/** Size of a record batch's header (v2, magic 2). */
export const RECORD_BATCH_OVERHEAD_BYTES = 61;

export interface EncodedChangeSet {
  key: Buffer;
  value: Buffer;
  headers: Map<Buffer, Buffer>;
  /** Upper bound of the record's size inside a batch. */
  size: number;
}

export interface RawRecord {
  partition: number;
  offset: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: readonly (readonly [Buffer | null, Buffer | null])[];
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const ORIGIN_KINDS = new Set<string>(Object.values(OriginKind));
const ORIGIN_TEXT_FIELDS = ['actor', 'channel', 'messageId', 'controlId', 'sender', 'rawSha256', 'reason'] as const;
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const formatHeader = Buffer.from(CHANGE_SET_FORMAT_HEADER);
const idHeader = Buffer.from(CHANGE_SET_ID_HEADER);
const formatValue = Buffer.from(CHANGE_SET_FORMAT_VERSION);

/** What is wrong with a change set, or undefined when it is well formed. */
export function changeSetProblem(candidate: unknown): string | undefined {
  if (!isObject(candidate)) return 'a change set must be an object';
  const { id, partitionKey, origin, bundle } = candidate;
  if (typeof id !== 'string' || !UUID.test(id)) return `id must be a UUID (got ${describe(id)})`;
  if (typeof partitionKey !== 'string' || partitionKey.length === 0) {
    return `partitionKey must be a non-empty string (got ${describe(partitionKey)})`;
  }
  if (LONE_SURROGATE.test(partitionKey))
    return 'partitionKey contains an unpaired UTF-16 surrogate: it cannot be encoded as UTF-8';
  const keyBytes = Buffer.byteLength(partitionKey, 'utf8');
  if (keyBytes > MAX_PARTITION_KEY_BYTES) {
    return `partitionKey is ${keyBytes} bytes long; at most ${MAX_PARTITION_KEY_BYTES} are accepted (use a stable identifier, not content)`;
  }
  if (!isObject(origin)) return `origin must be an object (got ${describe(origin)})`;
  if (typeof origin.kind !== 'string' || !ORIGIN_KINDS.has(origin.kind)) {
    return `origin.kind must be one of ${[...ORIGIN_KINDS].join(', ')} (got ${describe(origin.kind)})`;
  }
  for (const field of ORIGIN_TEXT_FIELDS) {
    if (origin[field] !== undefined && typeof origin[field] !== 'string') {
      return `origin.${field} must be a string when present (got ${describe(origin[field])})`;
    }
  }
  if (!isObject(bundle)) return `bundle must be a FHIR Bundle object (got ${describe(bundle)})`;
  if (bundle.resourceType !== 'Bundle')
    return `bundle.resourceType must be "Bundle" (got ${describe(bundle.resourceType)})`;
  if (bundle.type !== 'transaction' && bundle.type !== 'batch') {
    return `bundle.type must be "transaction" or "batch" (got ${describe(bundle.type)})`;
  }
  if (bundle.entry !== undefined && !Array.isArray(bundle.entry)) return 'bundle.entry must be an array when present';
  return undefined;
}

/** Encodes one change set; `index` is its position in the append() call, for the error message. */
export function encodeChangeSet(changeSet: ChangeSet, index = 0): EncodedChangeSet {
  const problem = changeSetProblem(changeSet);
  if (problem) {
    throw new KafkaLogError(
      KafkaLogErrorCode.InvalidChangeSet,
      `Change set #${index} cannot be appended: ${problem}.`,
      {
        index,
      },
    );
  }
  let json: string;
  try {
    json = JSON.stringify({
      id: changeSet.id,
      partitionKey: changeSet.partitionKey,
      origin: changeSet.origin,
      bundle: changeSet.bundle,
    });
  } catch (cause) {
    throw new KafkaLogError(
      KafkaLogErrorCode.InvalidChangeSet,
      `Change set #${index} (${changeSet.id}) cannot be serialized as JSON (${String((cause as Error).message).split('\n')[0]}): ` +
        'a Bundle must be plain JSON data (no cycles, BigInt or functions).',
      { index, cause },
    );
  }
  const key = Buffer.from(changeSet.partitionKey, 'utf8');
  const value = Buffer.from(json, 'utf8');
  const id = Buffer.from(changeSet.id, 'latin1');
  const headers = new Map<Buffer, Buffer>([
    [formatHeader, formatValue],
    [idHeader, id],
  ]);
  return { key, value, headers, size: key.length + value.length + RECORD_OVERHEAD_BYTES };
}

/** Decodes one record read from the topic; throws KAFKA_LOG_RECORD_UNREADABLE with its position when it cannot. */
export function decodeChangeSet(record: RawRecord, topic: string): ChangeSet {
  const where = `Record ${record.partition}:${record.offset} of topic ${topic}`;
  const unreadable = (why: string, cause?: unknown): KafkaLogError =>
    new KafkaLogError(KafkaLogErrorCode.RecordUnreadable, `${where} ${why}`, {
      topic,
      partition: record.partition,
      offset: record.offset,
      cause,
    });

  const version = header(record, CHANGE_SET_FORMAT_HEADER);
  if (version === undefined) {
    throw unreadable(
      `has no ${CHANGE_SET_FORMAT_HEADER} header: it was not written by Keney Hub. ` +
        'Only the hub may write to the change-log topic; remove the other producer.',
    );
  }
  if (version !== CHANGE_SET_FORMAT_VERSION) {
    throw unreadable(
      `is in change-set format ${JSON.stringify(version.slice(0, 20))}, which this hub does not read ` +
        `(it reads format ${CHANGE_SET_FORMAT_VERSION}). Upgrade the hub to a version that reads it.`,
    );
  }
  if (!record.value) throw unreadable('has no value.');
  let text: string;
  try {
    text = utf8.decode(record.value);
  } catch (cause) {
    throw unreadable('is not valid UTF-8.', cause);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw unreadable(`is not valid JSON (${(cause as Error).message}).`, cause);
  }
  const problem = changeSetProblem(parsed);
  if (problem) throw unreadable(`is not a valid change set: ${problem}.`);
  const changeSet = parsed as ChangeSet;
  const headerId = header(record, CHANGE_SET_ID_HEADER);
  if (headerId !== undefined && headerId !== changeSet.id) {
    throw unreadable(
      `says change set ${JSON.stringify(headerId.slice(0, 40))} in its header but ${changeSet.id} in its value.`,
    );
  }
  if (record.key && !record.key.equals(Buffer.from(changeSet.partitionKey, 'utf8'))) {
    throw unreadable('has a key that differs from its partition key.');
  }
  return { id: changeSet.id, partitionKey: changeSet.partitionKey, origin: changeSet.origin, bundle: changeSet.bundle };
}

function header(record: RawRecord, name: string): string | undefined {
  for (const [key, value] of record.headers) {
    if (key && key.toString('latin1') === name) return value ? value.toString('latin1') : '';
  }
  return undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${String(value)}`;
}
