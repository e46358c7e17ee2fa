// The one interface transports implement (connectors/mllp, file, http, fhir-rest, kafka): a source hands
// inbound bytes to the channel and answers its sender from the outcome; a destination delivers one
// message and says whether it was taken, refused for good, or should be retried.
import type { Bundle } from '@medplum/fhirtypes';
import type { Logger } from 'pino';
import type { Hl7Message } from '../adapters/hl7v2/index.js';
import type { AckOutcome } from './hl7v2-format.js';
import type { MessageIssue, MessageStatus } from './message-store.js';

/** What a source knows about one inbound message. */
export interface ReceiveMeta {
  /** How it arrived, e.g. `mllp 10.1.2.3:51234` or `file in/lab-0001.hl7`. */
  source: string;
  /** Duplicate-detection key chosen by the source (outbound channels: change set + resource), instead of the header's. */
  dedupKey?: Buffer;
}

export interface ReceiveHooks {
  /** Called once the raw message is durably persisted (enhanced mode: the commit ACK goes out then). */
  onPersisted?: (info: { messageId: string; decoded?: Hl7Message }) => void | Promise<void>;
}

/** The result of receiving one message, for the source to answer its sender. */
export interface InboundOutcome {
  /** Absent when the message could not even be persisted (database down). */
  messageId?: string;
  status: MessageStatus;
  /** accept → AA, error → AE, reject → AR. */
  ack: AckOutcome;
  /** The error issues (ERR segments); warnings are in the message store. */
  errors: MessageIssue[];
  /** The same delivery was received before: this is its (first) outcome. */
  duplicate: boolean;
  /** The parsed message (to build the ACK in its version and charset), when it parsed. */
  decoded?: Hl7Message;
}

/** A channel as its source sees it: one call per inbound message. */
export interface InboundChannel {
  readonly id: string;
  receive(raw: Buffer, meta: ReceiveMeta, hooks?: ReceiveHooks): Promise<InboundOutcome>;
  /** Records an inbound failure that has no message to process (an oversized MLLP frame): kept in the error state. */
  receiveFailure(raw: Buffer, meta: ReceiveMeta, issue: MessageIssue): Promise<string | undefined>;
  readonly logger: Logger;
}

export interface SourceStatus {
  type: string;
  /** e.g. `mllp://0.0.0.0:2575`. */
  endpoint?: string;
  listening: boolean;
  connections?: number;
  detail?: Record<string, unknown>;
}

export interface SourceConnector {
  readonly type: string;
  start(channel: InboundChannel): Promise<void>;
  /** Stops accepting; finishes (or abandons after the timeout) the messages in progress. */
  stop(): Promise<void>;
  status(): SourceStatus;
}

/** One message handed to a destination. */
export interface OutboundMessage {
  messageId: string;
  channel: string;
  destination: string;
  receivedAt: Date;
  controlId?: string;
  /** The message as received (or as encoded, for outbound channels). */
  raw: Buffer;
  /** The FHIR transaction Bundle the message produced, for destinations that send it. */
  bundle?: Bundle;
  changeSetId?: string;
}

export interface DeliveryResult {
  /** What the peer answered, kept with the delivery (an ACK, a status line…); no patient data beyond the peer's own answer. */
  response?: string;
}

/** A failed delivery: retryable (connection refused, timeout, AE) or permanent (refused for good: dead letter now). */
export class DeliveryError extends Error {
  override readonly name = 'DeliveryError';
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly response?: string,
  ) {
    super(message);
  }
}

export interface DestinationConnector {
  readonly type: string;
  send(message: OutboundMessage, signal: AbortSignal): Promise<DeliveryResult>;
  close(): Promise<void>;
}
