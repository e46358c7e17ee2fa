// What the engine needs to know about HL7 v2 (parsing itself is adapters/hl7v2): decoding with the channel's
// limits, the header facts kept for search and duplicate detection, filters on HL7 paths, and the
// acknowledgments (original and enhanced mode) built from a processing outcome.
import { createHash } from 'node:crypto';
import {
  AckCode,
  buildAck,
  buildRejectAck,
  Hl7ConditionCode,
  Hl7Error,
  Hl7ErrorCode,
  readCx,
  readXpn,
  tryParseHl7Message,
  type AckError,
  type Hl7Location,
  type Hl7Message,
} from '../adapters/hl7v2/index.js';
import type { FilterConfig } from './channel-config.js';
import { applyFieldFilters, type FilterVerdict } from './field-filter.js';
import { Stage, type MessageHeaderFacts, type MessageIssue } from './message-store.js';

export type DecodeResult =
  | { ok: true; message: Hl7Message; header: MessageHeaderFacts }
  | { ok: false; error: Hl7Error; header?: MessageHeaderFacts };

export function decodeHl7(raw: Buffer, maxBytes?: number): DecodeResult {
  const parsed = tryParseHl7Message(raw, maxBytes ? { limits: { maxBytes } } : undefined);
  if (!parsed.ok) return { ok: false, error: parsed.error, ...salvageHeader(raw) };
  try {
    const header = headerFacts(parsed.value);
    // The header fields a receiver cannot do without: the message type (routing, mapping) and the control id (the ACK's MSA-2).
    for (const [path, what] of [
      ['MSH-9.1', 'the message type (MSH-9, e.g. ADT^A01)'],
      ['MSH-10', 'the message control id (MSH-10), which the acknowledgment echoes'],
    ] as const) {
      if (!parsed.value.get(path)) {
        const error = new Hl7Error(
          Hl7ErrorCode.BadInput,
          `${what} is missing; the sender must fill it`,
          parsed.value.locate(path),
          { conditionCode: Hl7ConditionCode.RequiredFieldMissing },
        );
        return { ok: false, error, header };
      }
    }
    // Reading MSH decodes it: a charset problem in the header shows here, not later.
    return { ok: true, message: parsed.value, header };
  } catch (error) {
    if (error instanceof Hl7Error) return { ok: false, error };
    throw error;
  }
}

/** When a message does not parse, what its first line still says (for search), best effort. */
function salvageHeader(raw: Buffer): { header?: MessageHeaderFacts } {
  const start = raw.indexOf('MSH');
  if (start < 0 || start > 16) return {};
  const end = raw.subarray(start, start + 4096).findIndex((b) => b === 0x0d || b === 0x0a);
  const line = raw
    .toString('latin1', start, end < 0 ? Math.min(raw.length, start + 4096) : start + end)
    .replace(/[^\x20-\x7e]/g, '?');
  const fs = line[3];
  if (!fs) return {};
  const fields = line.split(fs);
  const first = (n: number) => (fields[n - 1] ?? '').split('^')[0]?.trim() || undefined;
  const type = [first(9), (fields[8] ?? '').split('^')[1]].filter(Boolean).join('^') || undefined;
  const facts: MessageHeaderFacts = { patientIds: [], searchText: '' };
  const sender = [first(3), first(4)].filter(Boolean).join('^');
  if (sender) facts.sender = sender;
  if (type) facts.messageType = type;
  const controlId = (fields[9] ?? '').trim();
  if (controlId) facts.controlId = controlId.slice(0, 200);
  facts.searchText = [facts.controlId, facts.sender, facts.messageType].filter(Boolean).join(' ').toLowerCase();
  return { header: facts };
}

/** MSH and PID essentials: sender, type, control id, patient identifiers, and the words searched by `text=`. */
export function headerFacts(message: Hl7Message): MessageHeaderFacts {
  const h = message.header;
  const sender = [
    h.sendingApplication?.namespaceId ?? h.sendingApplication?.universalId,
    h.sendingFacility?.namespaceId ?? h.sendingFacility?.universalId,
  ]
    .filter(Boolean)
    .join('^');
  const type = [h.messageType.code, h.messageType.triggerEvent].filter(Boolean).join('^');
  const patientIds: string[] = [];
  const words: string[] = [];
  const pid = message.segment('PID');
  if (pid) {
    for (const repetition of pid.field(3).repetitions()) {
      const cx = readCx(repetition);
      if (!cx?.id) continue;
      patientIds.push(cx.id);
      const authority = cx.assigningAuthority?.namespaceId ?? cx.assigningAuthority?.universalId;
      if (authority) patientIds.push(`${authority}|${cx.id}`);
      if (cx.assigningAuthority?.universalId && cx.assigningAuthority.universalId !== authority)
        patientIds.push(`${cx.assigningAuthority.universalId}|${cx.id}`);
    }
    for (const repetition of pid.field(5).repetitions()) {
      const name = readXpn(repetition);
      if (name?.family) words.push(name.family);
      if (name?.given) words.push(name.given);
    }
    const birth = pid.get('7');
    if (birth) words.push(birth.slice(0, 8));
  }
  const visit = message.get('PV1-19');
  if (visit) words.push(visit);
  for (const path of ['ORC-2', 'ORC-3', 'OBR-2', 'OBR-3']) {
    const value = message.get(path);
    if (value) words.push(value);
  }
  const facts: MessageHeaderFacts = { patientIds: [...new Set(patientIds)].slice(0, 50), searchText: '' };
  if (sender) facts.sender = sender;
  if (type) facts.messageType = type;
  if (h.controlId) facts.controlId = h.controlId.slice(0, 200);
  facts.searchText = [facts.controlId, sender, type, ...patientIds, ...words]
    .filter(Boolean)
    .join(' ')
    .toLowerCase()
    .slice(0, 4000);
  return facts;
}

/** The duplicate-detection key: channel + sender + control id + content hash (none without a control id). */
export function dedupKey(
  channel: string,
  header: MessageHeaderFacts | undefined,
  rawSha256: string,
): Buffer | undefined {
  if (!header?.controlId) return undefined;
  return createHash('sha256')
    .update(`${channel}\x1f${header.sender ?? ''}\x1f${header.controlId}\x1f${rawSha256}`)
    .digest()
    .subarray(0, 16);
}

// ---- filters ----

export type { FilterVerdict } from './field-filter.js';

/** The channel's filters over HL7 paths (`MSH-9.1`, `PID-3.4`); a path that does not resolve is absent. */
export function applyFilters(message: Hl7Message, filters: readonly FilterConfig[]): FilterVerdict {
  return applyFieldFilters((field) => message.get(field) ?? undefined, filters);
}

// ---- acknowledgments ----

/** How processing ended, in acknowledgment terms. */
export type AckOutcome = 'accept' | 'error' | 'reject';

/** The table 0155 values of MSH-15 / MSH-16: when to send the accept / application acknowledgment. */
function wants(type: string | undefined, outcome: AckOutcome): boolean {
  switch ((type ?? '').toUpperCase()) {
    case 'NE':
      return false;
    case 'ER':
      return outcome !== 'accept';
    case 'SU':
      return outcome === 'accept';
    default:
      return true; // AL, or empty (treated as AL)
  }
}

/** In enhanced mode (MSH-15 or MSH-16 valued), whether to send the commit ACK (CA) once the raw message is persisted. */
export function wantsCommitAck(message: Hl7Message): boolean {
  const h = message.header;
  return isEnhanced(message) && wants(h.acceptAckType, 'accept');
}

/** Whether the application acknowledgment is to be sent for this outcome (always in original mode). */
export function wantsApplicationAck(message: Hl7Message, outcome: AckOutcome): boolean {
  return !isEnhanced(message) || wants(message.header.applicationAckType, outcome);
}

export function isEnhanced(message: Hl7Message): boolean {
  const h = message.header;
  return h.acceptAckType !== undefined || h.applicationAckType !== undefined;
}

export function ackCodeOf(outcome: AckOutcome): 'AA' | 'AE' | 'AR' {
  switch (outcome) {
    case 'accept':
      return AckCode.ApplicationAccept;
    case 'error':
      return AckCode.ApplicationError;
    case 'reject':
      return AckCode.ApplicationReject;
    default:
      return outcome satisfies never;
  }
}

export function outcomeOf(code: string | undefined): AckOutcome {
  return code === 'AA' || code === 'CA' ? 'accept' : code === 'AR' || code === 'CR' ? 'reject' : 'error';
}

/** The commit acknowledgment (enhanced mode): CA once the raw message is durably kept. */
export function commitAck(message: Hl7Message): Buffer {
  return buildAck(message, { code: AckCode.CommitAccept }).toBuffer();
}

/**
 * The application acknowledgment for an outcome: MSA-1 AA/AE/AR, one ERR per error issue (ERR-2 location from
 * the issue's HL7 path, ERR-3 table 0357 condition, ERR-5 the rule or issue code, ERR-7 the diagnostic,
 * ERR-8 the message for the sender's users).
 */
export function applicationAck(
  message: Hl7Message,
  outcome: AckOutcome,
  issues: readonly MessageIssue[],
  options: { text?: string } = {},
): Buffer {
  const errors = issues.filter((i) => i.severity === 'error').slice(0, 20);
  const ack = buildAck(message, {
    code: ackCodeOf(outcome),
    errors: errors.map((issue) => toAckError(message, issue)),
    ...(options.text ? { text: options.text } : {}),
  });
  const errSegments = ack.segments('ERR');
  const version = message.header.version.id ?? '2.5';
  if (errSegments.length === errors.length && /^2\.(5|6|7|8|9)/.test(version)) {
    errSegments.forEach((segment, i) => {
      const issue = errors[i]!;
      segment.setField(5, [issue.rule ?? issue.code, issue.rule ? issue.code : undefined, 'KENEY']);
    });
  }
  return ack.toBuffer();
}

/** The reject acknowledgment for bytes that are not a usable HL7 message (AR, or CR in enhanced mode). */
export function rejectAck(raw: Buffer, error: Hl7Error): Buffer {
  return buildRejectAck(raw, error).toBuffer();
}

function toAckError(message: Hl7Message, issue: MessageIssue): AckError {
  let location: Hl7Location | undefined;
  if (issue.location) {
    try {
      location = message.locate(issue.location);
    } catch {
      location = undefined;
    }
  }
  return {
    conditionCode:
      (issue.hl7Condition as AckError['conditionCode'] | undefined) ?? Hl7ConditionCode.ApplicationInternalError,
    severity: 'E',
    ...(location ? { location } : {}),
    message: issue.message,
    diagnostic: [issue.stage, issue.rule ?? issue.code, issue.expression].filter(Boolean).join(': '),
  };
}

/** A decode failure as a message issue (kept in the message store). */
export function decodeIssue(error: Hl7Error): MessageIssue {
  const l = error.location;
  const location =
    l.segmentName && l.field !== undefined
      ? `${l.segmentName}${l.segmentSequence && l.segmentSequence > 1 ? `[${l.segmentSequence}]` : ''}-${l.field}${l.component ? `.${l.component}` : ''}`
      : undefined;
  return {
    stage: Stage.Decode,
    severity: 'error',
    code: error.code,
    message: error.message,
    ...(location ? { location } : {}),
    hl7Condition: error.conditionCode,
  };
}

export function tooLargeError(size: number | undefined, limit: number): Hl7Error {
  return new Hl7Error(
    Hl7ErrorCode.TooLarge,
    `the message${size ? ` (${size} bytes)` : ''} is larger than this channel accepts (${limit} bytes); split it, or raise source.maxMessageBytes in the channel file`,
  );
}
