// What happens to one received MSSanté mail, whichever way it came (IMAP or SMTP):
//   persist the raw message (message store) → parse the MIME → a read/delivery receipt updates the tracking of the
//   mail it answers → an IHE_XDM.ZIP is read and each submission filed with its XDS metadata → a mail without XDM
//   becomes one DocumentReference with its attachments (patient from a CDA's INS, or a patient mailbox address).
// The mail is acknowledged (IMAP \Seen, SMTP 250) only once this is durable; a mail that cannot be read stays in the
// message store in error, with what to fix.
import { createHash } from 'node:crypto';
import type { Binary, Bundle, BundleEntry, DocumentReference, List, Patient, Practitioner } from '@medplum/fhirtypes';
import type { Logger } from 'pino';
import { CdaError, parseCda, readCdaHeader, patientIns, type CdaHeader } from '../../adapters/cda/index.js';
import {
  documentsFromMail,
  MailError,
  parseMail,
  type MailAttachment,
  type ReceivedMail,
} from '../../adapters/mime/index.js';
import { validateSubmission, XdsErrorCode, type SubmittedDocument, type XdsIssue } from '../../adapters/xds/index.js';
import { XdmError, ZipError } from '../../adapters/xdm/index.js';
import { isXmlError } from '../../adapters/xml/index.js';
import { Stage, type MessageIssue } from '../../engine/message-store.js';
import type { CanonicalStore } from '../../store/canonical-store.js';
import { uuidV5 } from '../../store/uuid.js';
import type { DocumentRegistry } from '../documents/document-registry.js';
import { xdsIssueToMessageIssue, type DocumentJournal } from '../documents/journal.js';
import { KeneyExt, Mhd } from '../documents/vocabulary.js';
import { entryUuidIdentifier, uniqueIdIdentifier } from '../documents/xds-fhir.js';
import { oidOfUuid } from '../documents/document-registry.js';
import type { MailTracking } from './mail-tracking.js';

export interface MailIntakeDeps {
  registry: () => DocumentRegistry;
  journal: () => DocumentJournal;
  store: () => CanonicalStore;
  tracking: () => MailTracking;
  logger: Logger;
}

export interface MailReceiveMeta {
  /** Message store channel, e.g. `mssante-hub`. */
  channel: string;
  /** `imap hub@ch-test.mssante.fr` or `smtp 10.0.0.5`. */
  source: string;
  /** OID of the INS carried by patient mailbox addresses (<INS>@patient.mssante.fr); default NIR 1.2.250.1.213.1.4.8. */
  patientMailboxInsOid?: string;
  maxBytes?: number;
}

export type MailOutcome =
  | {
      status: 'filed';
      messageId: string;
      changeSetIds: string[];
      documentReferences: string[];
      warnings: MessageIssue[];
    }
  | { status: 'receipt'; messageId: string; receipt: NonNullable<ReceivedMail['receipt']> }
  | { status: 'duplicate'; messageId: string }
  /** Kept in the message store in error: `reason` says what is wrong (SMTP: 550 with it). */
  | { status: 'refused'; messageId: string; reason: string };

/** The header fields of a raw mail, read without parsing the body (for the message store row before parsing). */
function quickHeaders(raw: Buffer): { messageId?: string; from?: string; subject?: string } {
  const end = raw.indexOf('\r\n\r\n') >= 0 ? raw.indexOf('\r\n\r\n') : raw.indexOf('\n\n');
  const head = raw
    .subarray(0, end >= 0 ? Math.min(end, 64 * 1024) : Math.min(raw.length, 64 * 1024))
    .toString('latin1')
    .replace(/\r?\n[ \t]+/g, ' ');
  const field = (name: string) => new RegExp(`^${name}:[ \\t]*(.*)$`, 'im').exec(head)?.[1]?.trim();
  const from = field('From');
  const address = from ? (/<([^>]+)>/.exec(from)?.[1] ?? from).toLowerCase() : undefined;
  const messageId = field('Message-ID');
  const subject = field('Subject');
  return {
    ...(messageId ? { messageId } : {}),
    ...(address ? { from: address } : {}),
    ...(subject ? { subject } : {}),
  };
}

export class MailIntake {
  constructor(private readonly deps: MailIntakeDeps) {}

  async receive(raw: Buffer, meta: MailReceiveMeta): Promise<MailOutcome> {
    const quick = quickHeaders(raw);
    const journal = this.deps.journal();
    const rawSha = createHash('sha256').update(raw).digest();
    const message = await journal.received({
      channel: meta.channel,
      raw,
      source: meta.source,
      messageType: 'MSSANTE',
      ...(quick.from ? { sender: quick.from } : {}),
      ...(quick.messageId ? { controlId: quick.messageId } : {}),
      // The same mail fetched twice (a reconnect before \Seen was set, an MTA retry) is one message.
      dedupKey: createHash('sha256')
        .update(meta.channel)
        .update('\0')
        .update(quick.messageId ?? '')
        .update('\0')
        .update(rawSha)
        .digest(),
    });
    if (message.duplicateOf) return { status: 'duplicate', messageId: message.duplicateOf.id };
    const refuse = async (
      code: string,
      reason: string,
      stage: MessageIssue['stage'] = Stage.Decode,
    ): Promise<MailOutcome> => {
      await journal.failed(message, [{ stage, severity: 'error', code, message: reason }]);
      return { status: 'refused', messageId: message.id, reason };
    };

    let mail: ReceivedMail;
    try {
      mail = await parseMail(raw, meta.maxBytes ? { maxBytes: meta.maxBytes } : {});
    } catch (error) {
      if (error instanceof MailError) return refuse(error.code, error.message);
      throw error;
    }

    if (mail.receipt) {
      const tracked = mail.receipt.originalMessageId
        ? await this.deps.tracking().receipt(mail.receipt, message.id)
        : undefined;
      await journal.filed(
        message,
        undefined,
        tracked
          ? []
          : [
              {
                stage: Stage.Map,
                severity: 'warning',
                code: 'untracked-receipt',
                message: `Receipt for ${mail.receipt.originalMessageId ?? 'an unknown message'}, which this hub did not send (or no longer tracks).`,
              },
            ],
      );
      return { status: 'receipt', messageId: message.id, receipt: mail.receipt };
    }

    let documents;
    try {
      documents = await documentsFromMail(mail);
    } catch (error) {
      if (error instanceof XdmError || error instanceof ZipError)
        return refuse(error.code, `IHE_XDM.ZIP cannot be read: ${error.message}`);
      throw error;
    }
    const origin = {
      kind: 'channel' as const,
      channel: meta.channel,
      messageId: message.id,
      rawSha256: message.rawSha256,
      ...(quick.from ? { sender: quick.from } : {}),
      ...(mail.messageId ? { controlId: mail.messageId } : {}),
    };
    const warnings: MessageIssue[] = [];
    const changeSetIds: string[] = [];
    const references: string[] = [];
    if (documents.kind === 'xdm') {
      for (const w of documents.xdm.warnings)
        warnings.push({ stage: Stage.Decode, severity: 'warning', code: 'xdm', message: w });
      const errors: XdsIssue[] = [];
      for (const submission of documents.xdm.submissions) {
        const issues = [...submission.issues, ...validateSubmission(submission.objects, { profile: 'XDM' })];
        const bad = issues.filter((i) => i.severity === 'error');
        warnings.push(...issues.filter((i) => i.severity === 'warning').map((i) => xdsIssueToMessageIssue(i)));
        if (bad.length > 0) {
          errors.push(...bad.map((i) => ({ ...i, message: `${submission.subsetPath}: ${i.message}` })));
          continue;
        }
        const docs = new Map<string, SubmittedDocument>(
          submission.documents.map((d) => [d.entryId, { bytes: d.bytes, contentType: d.mimeType }]),
        );
        const objects = structuredClone(submission.objects);
        // Media metadata may lack a SubmissionSet uniqueId: the mail's Message-ID identifies the submission then.
        for (const set of objects.submissionSets)
          set.uniqueId ??= oidOfUuid(uuidV5(`mail:${mail.messageId ?? message.rawSha256}:${submission.subsetPath}`));
        // The document's file path in the zip means nothing once filed.
        for (const entry of objects.documentEntries) delete entry.uri;
        const result = await this.deps.registry().file({ objects, documents: docs, withDocuments: true, origin });
        if (result.status === 'refused')
          errors.push(...result.issues.map((i) => ({ ...i, message: `${submission.subsetPath}: ${i.message}` })));
        else {
          if (result.status === 'filed') changeSetIds.push(result.changeSetId);
          references.push(...result.documentReferences);
        }
      }
      if (documents.xdm.submissions.length === 0)
        errors.push({
          code: XdsErrorCode.missingDocumentMetadata,
          severity: 'error',
          message: 'IHE_XDM.ZIP has no submission (no METADATA.XML)',
        });
      if (errors.length > 0) {
        await journal.failed(
          message,
          errors.map((i) => xdsIssueToMessageIssue(i, Stage.Store)),
          warnings,
        );
        return {
          status: 'refused',
          messageId: message.id,
          reason: errors.map((e) => `${e.code}: ${e.message}`).join('; '),
        };
      }
      // Attachments beside the XDM zip are filed too, as a document of the mail.
      if (documents.otherAttachments.length > 0) {
        const filed = await this.fileAttachments(mail, documents.otherAttachments, message, origin, meta);
        changeSetIds.push(filed.changeSetId);
        references.push(filed.documentReference);
      }
    } else {
      const attachments = documents.attachments.length > 0 ? documents.attachments : bodyAsAttachment(mail);
      if (attachments.length === 0)
        return refuse(
          'empty-mail',
          'The mail has neither an IHE_XDM.ZIP, nor attachments, nor a text body: there is no document to file.',
        );
      const filed = await this.fileAttachments(mail, attachments, message, origin, meta);
      changeSetIds.push(filed.changeSetId);
      references.push(filed.documentReference);
    }
    await journal.filed(message, changeSetIds[0], warnings);
    return { status: 'filed', messageId: message.id, changeSetIds, documentReferences: references, warnings };
  }

  /** A mail above the size limit: its header block is kept in the message store in error (the body was not read). */
  async tooLarge(headers: Buffer, size: number, max: number, meta: MailReceiveMeta): Promise<MailOutcome> {
    const quick = quickHeaders(Buffer.concat([headers, Buffer.from('\r\n\r\n')]));
    const journal = this.deps.journal();
    const message = await journal.received({
      channel: meta.channel,
      raw: headers,
      source: meta.source,
      messageType: 'MSSANTE',
      ...(quick.from ? { sender: quick.from } : {}),
      ...(quick.messageId ? { controlId: quick.messageId } : {}),
    });
    const reason = `The mail is ${size} bytes, above the ${max}-byte limit of this mailbox: it was not downloaded (only its headers are kept). Ask the sender to split it, or raise maxMessageBytes.`;
    await journal.failed(message, [
      { stage: Stage.Receive, severity: 'error', code: 'MAIL_TOO_LARGE', message: reason },
    ]);
    return { status: 'refused', messageId: message.id, reason };
  }

  /** A mail without XDM: one DocumentReference whose content is each attachment, in a SubmissionSet of its own. */
  private async fileAttachments(
    mail: ReceivedMail,
    attachments: MailAttachment[],
    message: { id: string; rawSha256: string },
    origin: {
      kind: 'channel';
      channel: string;
      messageId: string;
      rawSha256: string;
      sender?: string;
      controlId?: string;
    },
    meta: MailReceiveMeta,
  ): Promise<{ changeSetId: string; documentReference: string }> {
    const registry = this.deps.registry();
    const key = `mail:${mail.messageId ?? message.rawSha256}`;
    const changeSetId = uuidV5(`keney:documents:${key}:attachments`);
    const url = (name: string) => `urn:uuid:${uuidV5(`${changeSetId}/${name}`)}`;
    const cda = attachments.map(cdaHeaderOf).find((h): h is CdaHeader => !!h);
    const ins = cda ? patientIns(cda) : undefined;
    const patientAddress = [...mail.from, ...mail.to, ...mail.cc]
      .map((a) => /^(\d{15})@patient\.mssante\.fr$/i.exec(a.address)?.[1])
      .find(Boolean);
    const patientIdentifier = ins?.extension
      ? { system: `urn:oid:${ins.root}`, value: ins.extension }
      : patientAddress
        ? { system: `urn:oid:${meta.patientMailboxInsOid ?? '1.2.250.1.213.1.4.8'}`, value: patientAddress }
        : undefined;
    const entries: BundleEntry[] = [];
    if (patientIdentifier) {
      const patient: Patient = {
        resourceType: 'Patient',
        identifier: [patientIdentifier],
        ...(cda?.patient.name
          ? { name: [{ family: cda.patient.name.family.join(' '), given: cda.patient.name.given }] }
          : {}),
      };
      entries.push({
        fullUrl: url('patient'),
        resource: patient,
        request: {
          method: 'POST',
          url: 'Patient',
          ifNoneExist: `identifier=${encodeURIComponent(`${patientIdentifier.system}|${patientIdentifier.value}`)}`,
        },
      });
    }
    const content: DocumentReference['content'] = [];
    for (const [i, a] of attachments.entries()) {
      const blob = await registry.putBlob(a.bytes);
      const binary: Binary = {
        resourceType: 'Binary',
        meta: { extension: [{ url: KeneyExt.blob, valueString: blob.sha256 }] },
        contentType: a.contentType,
        securityContext: { reference: url('document') },
      };
      entries.push({ fullUrl: url(`binary/${i}`), resource: binary, request: { method: 'POST', url: 'Binary' } });
      content.push({
        attachment: {
          contentType: a.contentType,
          url: url(`binary/${i}`),
          size: a.bytes.length,
          hash: createHash('sha1').update(a.bytes).digest('base64'),
          ...(a.filename ? { title: a.filename } : {}),
          ...(mail.date ? { creation: mail.date.toISOString() } : {}),
        },
      });
    }
    const sender = mail.from[0];
    const author: Practitioner | undefined = sender
      ? {
          resourceType: 'Practitioner',
          id: 'sender',
          telecom: [{ system: 'email', value: sender.address }],
          ...(sender.name ? { name: [{ text: sender.name }] } : {}),
        }
      : undefined;
    const documentUuid = `urn:uuid:${uuidV5(`${key}:document`)}`;
    const uniqueId = oidOfUuid(uuidV5(`${key}:document`));
    const doc: DocumentReference = {
      resourceType: 'DocumentReference',
      meta: { profile: [Mhd.minimalDocumentReference] },
      ...(author ? { contained: [author] } : {}),
      masterIdentifier: uniqueIdIdentifier(uniqueId),
      identifier: [entryUuidIdentifier(documentUuid)],
      status: 'current',
      ...(cda?.code
        ? {
            type: {
              coding: [
                {
                  ...(cda.code.codeSystem === '2.16.840.1.113883.6.1'
                    ? { system: 'http://loinc.org' }
                    : { system: `urn:oid:${cda.code.codeSystem}` }),
                  code: cda.code.code,
                  ...(cda.code.displayName ? { display: cda.code.displayName } : {}),
                },
              ],
            },
          }
        : {}),
      ...(patientIdentifier ? { subject: { reference: url('patient'), identifier: patientIdentifier } } : {}),
      date: (mail.date ?? new Date()).toISOString(),
      ...(author ? { author: [{ reference: '#sender' }] } : {}),
      ...(mail.subject ? { description: mail.subject } : {}),
      content,
    };
    entries.push({
      fullUrl: url('document'),
      resource: doc,
      request: {
        method: 'POST',
        url: 'DocumentReference',
        ifNoneExist: `identifier=${encodeURIComponent(`urn:ietf:rfc:3986|${documentUuid}`)}`,
      },
    });
    const setUuid = `urn:uuid:${uuidV5(`${key}:submission-set`)}`;
    const list: List = {
      resourceType: 'List',
      meta: { profile: [Mhd.minimalSubmissionSet] },
      extension: [
        {
          url: Mhd.sourceId,
          valueIdentifier: {
            system: 'urn:ietf:rfc:3986',
            value: `urn:oid:${oidOfUuid(uuidV5(`sender:${sender?.address ?? 'unknown'}`))}`,
          },
        },
        ...mail.to.map((a) => ({ url: Mhd.intendedRecipient, valueReference: { display: `^^Internet^${a.address}` } })),
      ],
      identifier: [entryUuidIdentifier(setUuid), uniqueIdIdentifier(oidOfUuid(uuidV5(`${key}:submission-set`)))],
      status: 'current',
      mode: 'working',
      ...(mail.subject ? { title: mail.subject } : {}),
      code: { coding: [{ system: Mhd.listTypes, code: 'submissionset' }] },
      ...(patientIdentifier ? { subject: { reference: url('patient'), identifier: patientIdentifier } } : {}),
      date: (mail.date ?? new Date()).toISOString(),
      entry: [{ item: { reference: url('document') } }],
    };
    entries.push({
      fullUrl: url('submission-set'),
      resource: list,
      request: {
        method: 'POST',
        url: 'List',
        ifNoneExist: `identifier=${encodeURIComponent(`urn:ietf:rfc:3986|${setUuid}`)}`,
      },
    });
    const bundle: Bundle = { resourceType: 'Bundle', type: 'transaction', entry: entries };
    const outcome = await this.deps.store().submit({ id: changeSetId, bundle, origin });
    if (outcome.status === 'rejected')
      throw new Error(`the record refused the mail's documents: ${JSON.stringify(outcome.response).slice(0, 500)}`);
    const location = ((outcome.response as Bundle).entry ?? [])
      .map((e) => e.response?.location ?? '')
      .find((l) => l.startsWith('DocumentReference/'))!;
    return { changeSetId, documentReference: location.split('/_history')[0]! };
  }
}

function cdaHeaderOf(a: MailAttachment): CdaHeader | undefined {
  if (!/xml/i.test(a.contentType) && !/\.xml$/i.test(a.filename ?? '')) return undefined;
  try {
    return readCdaHeader(parseCda(a.bytes));
  } catch (error) {
    if (error instanceof CdaError || isXmlError(error)) return undefined;
    throw error;
  }
}

function bodyAsAttachment(mail: ReceivedMail): MailAttachment[] {
  if (!mail.text?.trim()) return [];
  return [{ filename: 'message.txt', contentType: 'text/plain; charset=utf-8', bytes: Buffer.from(mail.text, 'utf8') }];
}
