// Runs a channel on a sample message without a hub, a database or a port: decode → filter → map → quality,
// and the acknowledgment the sender would get. `keney channel test`, the `channels/*.test.yaml` fixtures and the
// admin API's mapping test bench all use it. Nothing is stored.
import { createHash } from 'node:crypto';
import type { Bundle } from '@medplum/fhirtypes';
import pino from 'pino';
import { ackFor } from '../connectors/mllp/mllp-source.js';
import type { ChannelConfig } from './channel-config.js';
import { decodeHl7, type AckOutcome } from './hl7v2-format.js';
import type { MapperRegistry } from './mapper-registry.js';
import { newMessageId } from './message-id.js';
import { MessageStatus, type MessageIssue, type MessageStatus as Status, type MessageStore } from './message-store.js';
import { ChannelPipeline } from './pipeline.js';

export interface ChannelTestResult {
  /** What the message store would record. */
  status: Status;
  /** accept (AA), error (AE), reject (AR). */
  ack: AckOutcome;
  ackCode: 'AA' | 'AE' | 'AR';
  /** The acknowledgment the sender would get (HL7 ER7, segments separated by \r). */
  acknowledgment: string | null;
  /** The transaction Bundle the message maps to (absent when filtered, refused, or without mapping). */
  bundle: Bundle | null;
  /** Every issue: errors (which refuse the message) and warnings. */
  issues: MessageIssue[];
  /** Why a filter stopped it. */
  filtered: string | null;
  /** The destinations it would be queued for (besides the store). */
  destinations: string[];
}

const silent = pino({ level: 'silent' });

export async function testChannel(
  config: ChannelConfig,
  raw: Buffer,
  mappers: MapperRegistry,
  receivedAt = new Date(),
): Promise<ChannelTestResult> {
  const pipeline = new ChannelPipeline(config, {
    messages: undefined as unknown as MessageStore,
    mappers,
    logger: silent,
  });
  const decoded = decodeHl7(raw, 'maxMessageBytes' in config.source ? config.source.maxMessageBytes : undefined);
  const evaluation = await pipeline.evaluate(decoded, {
    messageId: newMessageId(receivedAt),
    rawSha256: createHash('sha256').update(raw).digest('hex'),
    receivedAt,
  });
  let status: Status;
  let ack: AckOutcome;
  let issues: MessageIssue[];
  let bundle: Bundle | null = null;
  let filtered: string | null = null;
  switch (evaluation.kind) {
    case 'rejected':
      status = MessageStatus.Error;
      ack = 'reject';
      issues = evaluation.issues;
      break;
    case 'filtered':
      status = MessageStatus.Filtered;
      ack = 'accept';
      issues = [];
      filtered = evaluation.reason;
      break;
    case 'failed':
      status = MessageStatus.Error;
      ack = 'error';
      issues = evaluation.issues;
      bundle = evaluation.bundle ?? null;
      break;
    case 'mapped':
      ack = 'accept';
      issues = evaluation.issues;
      bundle = evaluation.bundle ?? null;
      status = config.destinations.some((d) => d.type !== 'store') ? MessageStatus.Queued : MessageStatus.Sent;
      break;
    default:
      return evaluation satisfies never;
  }
  const acknowledgment = ackFor(raw, {
    status,
    ack,
    errors: issues.filter((i) => i.severity === 'error'),
    duplicate: false,
    ...(decoded.ok ? { decoded: decoded.message } : {}),
  });
  return {
    status,
    ack,
    ackCode: ack === 'accept' ? 'AA' : ack === 'error' ? 'AE' : 'AR',
    acknowledgment: acknowledgment ? bytesToText(acknowledgment) : null,
    bundle,
    issues,
    filtered,
    destinations:
      ack === 'accept' && status !== MessageStatus.Filtered
        ? config.destinations.filter((d) => d.type !== 'store').map((d) => d.name)
        : [],
  };
}

/** Text of HL7 bytes for display: UTF-8 when they are valid UTF-8, else Latin-1 (every byte readable). */
export function bytesToText(bytes: Buffer): string {
  const text = bytes.toString('utf8');
  return Buffer.from(text, 'utf8').equals(bytes) ? text : bytes.toString('latin1');
}
