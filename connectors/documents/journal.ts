// Raw forms of document messages in the engine's message store (engine/message-store.ts): every inbound payload
// (an ITI-41 request, an MHD Bundle, a mail) is persisted with its sha256 before it is processed, then finished
// with its status, its change set and its issues — so /admin/messages finds it, and Provenance points to it.
import { createHash } from 'node:crypto';
import type { XdsIssue } from '../../adapters/xds/model.js';
import {
  MessageStatus,
  Stage,
  type MessageIssue,
  type MessageOutcome,
  type MessageStore,
} from '../../engine/message-store.js';

export interface JournalEntry {
  channel: string;
  raw: Buffer;
  /** How it arrived: `xds-repository 10.0.0.7`, `imap hub@ch-test.mssante.fr`… */
  source: string;
  sender?: string;
  /** e.g. `ITI-41`, `ITI-65`, `MSSANTE^XDM`, `MDN^displayed`. */
  messageType: string;
  controlId?: string;
  patientIds?: string[];
  /** Words searched by `text=`. */
  searchText?: string;
  /** Same key = the same delivery again (recorded as a duplicate of the first). */
  dedupKey?: Buffer;
}

export interface Journaled {
  id: string;
  channel: string;
  rawSha256: string;
  /** The first message of the same delivery, when this one is a duplicate. */
  duplicateOf?: { id: string; status: string };
}

export function xdsIssueToMessageIssue(issue: XdsIssue, stage: Stage = Stage.Decode): MessageIssue {
  return {
    stage,
    severity: issue.severity,
    code: issue.code,
    message: issue.message,
    ...(issue.location ? { location: issue.location } : {}),
  };
}

export class DocumentJournal {
  constructor(private readonly messages: MessageStore) {}

  get store(): MessageStore {
    return this.messages;
  }

  async received(entry: JournalEntry): Promise<Journaled> {
    const rawSha256 = createHash('sha256').update(entry.raw).digest('hex');
    const received = await this.messages.receive({
      channel: entry.channel,
      raw: entry.raw,
      rawSha256,
      source: entry.source,
      header: {
        ...(entry.sender ? { sender: entry.sender } : {}),
        messageType: entry.messageType,
        ...(entry.controlId ? { controlId: entry.controlId } : {}),
        patientIds: entry.patientIds ?? [],
        searchText: [entry.searchText, entry.messageType, entry.sender, entry.controlId, ...(entry.patientIds ?? [])]
          .filter(Boolean)
          .join(' ')
          .toLowerCase(),
      },
      ...(entry.dedupKey ? { dedupKey: entry.dedupKey } : {}),
    });
    return {
      id: received.id,
      channel: entry.channel,
      rawSha256,
      ...(received.duplicateOf
        ? { duplicateOf: { id: received.duplicateOf.id, status: received.duplicateOf.status } }
        : {}),
    };
  }

  /** Filed: status sent (no queued destination), with the change set that carried it. */
  async filed(
    message: { id: string; channel: string },
    changeSetId: string | undefined,
    warnings: MessageIssue[] = [],
  ): Promise<void> {
    await this.finish({ ...message, status: MessageStatus.Sent, ...(changeSetId ? { changeSetId } : {}), warnings });
  }

  /** Refused or failed: status error with the issues (what to fix), replayable from the message store. */
  async failed(
    message: { id: string; channel: string },
    errors: MessageIssue[],
    warnings: MessageIssue[] = [],
  ): Promise<void> {
    await this.finish({ ...message, status: MessageStatus.Error, errors, warnings });
  }

  /** An outbound message queued for destinations (their delivery rows carry attempts and responses). */
  async queued(message: { id: string; channel: string }, destinations: string[]): Promise<void> {
    await this.finish({
      ...message,
      status: MessageStatus.Queued,
      deliveries: destinations.map((destination) => ({ destination, generation: 0 })),
    });
  }

  private finish(outcome: MessageOutcome & { channel: string }): Promise<void> {
    // Built as a value: the message store's outcome type gains fields as the engine grows.
    const value: MessageOutcome = outcome;
    return this.messages.finish(value);
  }
}
