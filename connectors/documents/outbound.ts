// Sending our documents: to an external XDS.b repository (ITI-41, e.g. a DMP-like endpoint) or by MSSanté mail
// (an IHE_XDM.ZIP with README.TXT, INDEX.HTM, METADATA.XML). The message is built once, when the send is asked —
// XDS metadata from the record (the registry view of the DocumentReferences, French value sets checked), the bytes
// from the blob store — kept in the message store as sent, and queued; the engine's DeliveryWorker delivers it in
// order with exponential backoff, dead-letters what the peer refuses for good, and keeps each answer.
import { randomUUID } from 'node:crypto';
import type { DocumentReference } from '@medplum/fhirtypes';
import type { Logger } from 'pino';
import { parseCda, readCdaHeader, type CdaHeader } from '../../adapters/cda/index.js';
import { composeMail, mssanteHeadersForCda } from '../../adapters/mime/index.js';
import { writeXdm } from '../../adapters/xdm/index.js';
import {
  AssociationType,
  buildProvideAndRegisterRequest,
  checkFrenchMetadata,
  validateSubmission,
  XdsErrorCode,
  type DocumentEntry,
  type RegistryObjectList,
  type SubmittedDocument,
  type XdsIssue,
} from '../../adapters/xds/index.js';
import { DEFAULT_RETRY, type QueuedDestinationConfig, type RetryConfig } from '../../engine/channel-config.js';
import type { DestinationConnector } from '../../engine/connector.js';
import { DeliveryWorker } from '../../engine/delivery-worker.js';
import type { DestinationLocks } from '../../engine/destination-locks.js';
import type { MessageStore } from '../../engine/message-store.js';
import { MssanteSmtpDestination, type SmtpDestinationConfig } from '../mssante/smtp.js';
import type { MailTracking } from '../mssante/mail-tracking.js';
import { XdsDocumentSource, type XdsDestinationConfig } from '../xds/document-source.js';
import { rawHttpEntity } from '../xds/xds-routes.js';
import { oidOfUuid, type DocumentRegistry } from './document-registry.js';
import type { DocumentJournal } from './journal.js';

export interface XdsOutboundConfig extends XdsDestinationConfig {
  kind: 'xds';
  retry?: Partial<RetryConfig>;
}

export interface MailOutboundConfig extends SmtpDestinationConfig {
  kind: 'mssante';
  /** Our MSSanté address (From, and where read receipts come back). */
  from: string;
  retry?: Partial<RetryConfig>;
}

export type OutboundConfig = XdsOutboundConfig | MailOutboundConfig;

export interface OutboundRequest {
  destination: string;
  /** DocumentReference ids (one patient). */
  documentReferences: string[];
  /** Mail: recipients (MSSanté addresses). */
  to?: string[];
  subject?: string;
  text?: string;
  /** SubmissionSet title. */
  title?: string;
  /** Who asked (audit, message store). */
  actor: string;
}

export interface OutboundResult {
  messageId: string;
  destination: string;
  submissionSetUniqueId: string;
  /** Mail: the Message-ID (receipts refer to it). */
  mailMessageId?: string;
  warnings: XdsIssue[];
}

/** A refusal to build the message (bad request): the caller gets the status and the issues. */
export class OutboundError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly issues: XdsIssue[] = [],
  ) {
    super(message);
  }
}

export interface OutboxDeps {
  registry: DocumentRegistry;
  journal: DocumentJournal;
  messages: MessageStore;
  tracking: MailTracking;
  logger: Logger;
  locks?: DestinationLocks;
  /** The sourceId (OID) of this hub as a Document Source. */
  sourceId: string;
  /** Who makes the XDM packages (README.TXT). */
  senderName: string;
  pollIntervalMs?: number;
}

interface Destination {
  config: OutboundConfig;
  channel: string;
  worker: DeliveryWorker;
}

export function channelOf(config: OutboundConfig): string {
  return config.kind === 'xds' ? `xds-out-${config.name}` : `mssante-out-${config.name}`;
}

export class DocumentOutbox {
  private readonly destinations = new Map<string, Destination>();

  constructor(private readonly deps: OutboxDeps) {}

  add(config: OutboundConfig): void {
    if (this.destinations.has(config.name))
      throw new Error(`Two document destinations are named "${config.name}": give each a distinct name.`);
    const connector: DestinationConnector =
      config.kind === 'xds'
        ? new XdsDocumentSource(config)
        : new MssanteSmtpDestination(config, () => this.deps.tracking);
    const retry: RetryConfig = { ...DEFAULT_RETRY, ...config.retry };
    const channel = channelOf(config);
    // The engine's worker only reads name, type and retry of its destination config.
    const destination = { type: config.kind, name: config.name, retry } as unknown as QueuedDestinationConfig;
    const worker = new DeliveryWorker(channel, destination, connector, {
      messages: this.deps.messages,
      logger: this.deps.logger,
      ...(this.deps.locks ? { locks: this.deps.locks } : {}),
      ...(this.deps.pollIntervalMs ? { pollIntervalMs: this.deps.pollIntervalMs } : {}),
      load: async (delivery) => {
        const stored = await this.deps.messages.outbound(delivery.messageId);
        if (!stored) return undefined;
        return {
          messageId: delivery.messageId,
          channel,
          destination: config.name,
          receivedAt: delivery.receivedAt,
          raw: stored.raw,
          ...(stored.controlId ? { controlId: stored.controlId } : {}),
        };
      },
    });
    this.destinations.set(config.name, { config, channel, worker });
  }

  start(): void {
    for (const d of this.destinations.values()) d.worker.start();
  }

  async stop(): Promise<void> {
    await Promise.all([...this.destinations.values()].map((d) => d.worker.close()));
  }

  status() {
    return [...this.destinations.values()].map((d) => ({
      kind: d.config.kind,
      channel: d.channel,
      ...d.worker.status(),
    }));
  }

  names(): string[] {
    return [...this.destinations.keys()];
  }

  async send(request: OutboundRequest): Promise<OutboundResult> {
    const destination = this.destinations.get(request.destination);
    if (!destination)
      throw new OutboundError(
        404,
        `No document destination "${request.destination}": configured ones are ${this.names().join(', ') || 'none'}.`,
      );
    if (request.documentReferences.length === 0)
      throw new OutboundError(400, 'Name at least one DocumentReference to send (documentReferences: ["<id>"]).');
    const built = await this.submissionOf(request);
    const { objects, documents, warnings } = built;
    const set = objects.submissionSets[0]!;
    const journal = this.deps.journal;
    let raw: Buffer;
    let controlId: string;
    let mailMessageId: string | undefined;
    let recipients: string[] = [];
    if (destination.config.kind === 'xds') {
      const message = buildProvideAndRegisterRequest(
        objects,
        documents.map((d) => ({ id: d.entryId, bytes: d.bytes, mimeType: d.mimeType })),
        { to: destination.config.url },
      );
      raw = rawHttpEntity(message.contentType, message.body);
      controlId = set.uniqueId!;
    } else {
      recipients = (request.to ?? []).map((a) => a.trim().toLowerCase()).filter(Boolean);
      if (recipients.length === 0)
        throw new OutboundError(400, 'A mail needs recipients: give "to": ["dr.x@ch-y.mssante.fr"].');
      const zip = await writeXdm(
        objects,
        documents.map((d) => ({ entryId: d.entryId, bytes: d.bytes })),
        { sender: this.deps.senderName, contact: destination.config.from },
      );
      const cdas = documents.map((d) => cdaHeaderOf(d.bytes, d.mimeType)).filter((h): h is CdaHeader => !!h);
      mailMessageId = `<${randomUUID()}@keney.hub>`;
      raw = await composeMail({
        from: destination.config.from,
        to: recipients,
        subject: request.subject ?? set.title ?? 'Documents',
        text:
          request.text ??
          `Documents en pièce jointe (IHE_XDM.ZIP) : ${objects.documentEntries.map((e) => e.title ?? e.id).join(', ')}.`,
        xdmZip: zip,
        mssante: cdas.length ? mssanteHeadersForCda(cdas) : { codeCda: [], ins: 'N' },
        requestReadReceipt: true,
        messageId: mailMessageId,
      });
      controlId = mailMessageId;
    }
    const patientId = set.patientId;
    const message = await journal.received({
      channel: destination.channel,
      raw,
      source: `api ${request.actor}`,
      sender: request.actor,
      messageType: destination.config.kind === 'xds' ? 'ITI-41' : 'MSSANTE^XDM',
      controlId,
      ...(patientId ? { patientIds: [patientId] } : {}),
    });
    if (mailMessageId) await this.deps.tracking.queued(mailMessageId, message.id, destination.config.name, recipients);
    await journal.queued(message, [destination.config.name]);
    destination.worker.wake();
    return {
      messageId: message.id,
      destination: destination.config.name,
      submissionSetUniqueId: set.uniqueId!,
      ...(mailMessageId ? { mailMessageId } : {}),
      warnings,
    };
  }

  /** A new SubmissionSet around the stored documents (their registry view), checked as ITI-41 requires. */
  private async submissionOf(request: OutboundRequest): Promise<{
    objects: RegistryObjectList;
    documents: { entryId: string; bytes: Buffer; mimeType: string }[];
    warnings: XdsIssue[];
  }> {
    const registry = this.deps.registry;
    const entries: DocumentEntry[] = [];
    const documents: { entryId: string; bytes: Buffer; mimeType: string }[] = [];
    for (const [i, id] of request.documentReferences.entries()) {
      const doc = await registry.read<DocumentReference>('DocumentReference', id);
      if (!doc) throw new OutboundError(404, `DocumentReference/${id} is not in the record.`);
      const stored = await registry.documentBytes(doc);
      if (!stored)
        throw new OutboundError(
          409,
          `DocumentReference/${id} has no document stored here (its attachment points elsewhere): it cannot be sent.`,
        );
      const entryId = `Document${String(i + 1).padStart(2, '0')}`;
      const view = registry.entryOf(doc);
      const { repositoryUniqueId: _r, home: _h, status: _s, uri: _u, ...rest } = view;
      entries.push({ ...rest, id: entryId });
      documents.push({ entryId, bytes: stored.bytes, mimeType: view.mimeType ?? stored.contentType });
    }
    const patients = [...new Set(entries.map((e) => e.patientId).filter(Boolean))];
    if (patients.length > 1)
      throw new OutboundError(
        422,
        `The documents are about ${patients.length} patients (${patients.join(', ')}): one submission is about one patient.`,
      );
    const first = entries[0]!;
    const setUniqueId = oidOfUuid(randomUUID());
    const objects: RegistryObjectList = {
      submissionSets: [
        {
          kind: 'SubmissionSet',
          id: 'SubmissionSet01',
          uniqueId: setUniqueId,
          sourceId: this.deps.sourceId,
          ...(first.patientId ? { patientId: first.patientId } : {}),
          submissionTime: new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14),
          ...(first.typeCode ? { contentTypeCode: first.typeCode } : {}),
          authors: first.authors,
          intendedRecipients: (request.to ?? []).map((a) => `^^Internet^${a}`),
          ...((request.title ?? request.subject) ? { title: request.title ?? request.subject } : {}),
          extraSlots: [],
          limitedMetadata: false,
        },
      ],
      documentEntries: entries,
      folders: [],
      associations: entries.map((e, i) => ({
        kind: 'Association' as const,
        id: `Association${String(i + 1).padStart(2, '0')}`,
        associationType: AssociationType.hasMember,
        sourceObject: 'SubmissionSet01',
        targetObject: e.id,
        submissionSetStatus: 'Original',
        extraSlots: [],
      })),
      objectRefs: [],
    };
    const submitted = new Map<string, SubmittedDocument>(
      documents.map((d) => [d.entryId, { bytes: d.bytes, contentType: d.mimeType }]),
    );
    const issues = validateSubmission(objects, { profile: 'ITI-41', documents: submitted });
    const errors = issues.filter((i) => i.severity === 'error');
    if (errors.length > 0) {
      throw new OutboundError(
        422,
        `These documents lack metadata an ITI-41 submission requires: ${errors.map((e) => e.message).join('; ')}`,
        errors,
      );
    }
    const warnings = [...issues, ...entries.flatMap((e) => checkFrenchMetadata(e))];
    if (!this.deps.sourceId)
      warnings.push({
        code: XdsErrorCode.registryMetadataError,
        severity: 'warning',
        message: 'No sourceId configured for this hub (documents.sourceId)',
      });
    return { objects, documents, warnings };
  }
}

function cdaHeaderOf(bytes: Buffer, mimeType: string): CdaHeader | undefined {
  if (!/xml/i.test(mimeType)) return undefined;
  try {
    return readCdaHeader(parseCda(bytes));
  } catch {
    return undefined;
  }
}
