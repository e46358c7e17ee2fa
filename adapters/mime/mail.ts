// MSSanté mail: parse a received message (mailparser) into what the hub files — attachments, the IHE_XDM.ZIP,
// the MSSanté headers, read receipts (MDN) and delivery status notifications (DSN) — and compose messages
// (nodemailer's MailComposer) with an XDM attachment, MSSanté headers and read-receipt requests.
import { randomUUID } from 'node:crypto';
import { simpleParser, type AddressObject, type Attachment, type ParsedMail } from 'mailparser';
import MailComposer from 'nodemailer/lib/mail-composer';
import type { CdaHeader } from '../cda/index.js';
import { readXdm, type XdmPackage, type XdmReadOptions } from '../xdm/index.js';

export const MailErrorCode = {
  TooLarge: 'MAIL_TOO_LARGE',
  TooManyAttachments: 'MAIL_TOO_MANY_ATTACHMENTS',
  Empty: 'MAIL_EMPTY',
  NotAMessage: 'MAIL_NOT_A_MESSAGE',
  BadHeaderValue: 'MAIL_BAD_HEADER_VALUE',
} as const;
export type MailErrorCode = (typeof MailErrorCode)[keyof typeof MailErrorCode];

export class MailError extends Error {
  override readonly name = 'MailError';
  constructor(
    readonly code: MailErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface MailLimits {
  /** Raw message size (default 50 MiB; MSSanté operators cap far lower). */
  maxBytes: number;
  /** Attachments per message (default 100). */
  maxAttachments: number;
}

export const DEFAULT_MAIL_LIMITS: Readonly<MailLimits> = Object.freeze({
  maxBytes: 50 * 1024 * 1024,
  maxAttachments: 100,
});

export interface MailAddress {
  address: string;
  name?: string;
}

export interface MailAttachment {
  filename?: string;
  contentType: string;
  bytes: Buffer;
  contentId?: string;
  disposition?: string;
}

/** Headers defined by the Référentiel socle MSSanté #2 (§3.8, §3.4.2.3). */
export interface MssanteHeaders {
  /** X-MSS-CODECDA: the CDA type codes of the documents in the XDM archive (comma-separated on the wire). */
  codeCda: string[];
  /** X-MSS-INS: "O" when the XDM archive carries a qualified INS, "N" otherwise. */
  ins?: string;
  /** X-MSS-NIL: the sending software's product reference. */
  nil?: string;
  /** X-MSS-MES: "FIN" blocks the patient's reply (Mon Espace Santé). */
  mes?: string;
}

export type Receipt =
  | {
      kind: 'mdn';
      /** displayed, deleted, dispatched, processed… (RFC 8098 disposition-type) */
      disposition: string;
      originalMessageId?: string;
      finalRecipient?: string;
    }
  | {
      kind: 'dsn';
      /** failed, delayed, delivered, relayed, expanded (RFC 3464) — of the first recipient block */
      action: string;
      /** x.y.z status */
      status?: string;
      finalRecipient?: string;
      diagnostic?: string;
      originalMessageId?: string;
    };

export interface ReceivedMail {
  messageId?: string;
  subject?: string;
  date?: Date;
  from: MailAddress[];
  to: MailAddress[];
  cc: MailAddress[];
  inReplyTo?: string;
  references: string[];
  text?: string;
  /** HTML body as sent (never rendered by the hub without sanitizing). */
  html?: string;
  /** File attachments (report parts of MDN/DSN excluded). */
  attachments: MailAttachment[];
  /** The IHE_XDM.ZIP attachment, found by name whatever its case or path. */
  xdmZip?: MailAttachment;
  mssante: MssanteHeaders;
  /** Disposition-Notification-To: the sender asks for a read receipt. */
  dispositionNotificationTo?: string;
  receipt?: Receipt;
  /** Header names (lower case) → raw values, for the message store. */
  headers: Record<string, string>;
}

function addresses(value: AddressObject | AddressObject[] | undefined): MailAddress[] {
  const list = value === undefined ? [] : Array.isArray(value) ? value : [value];
  return list
    .flatMap((a) => a.value)
    .flatMap((a) =>
      a.address
        ? [{ address: a.address.toLowerCase(), ...(a.name ? { name: a.name } : {}) }]
        : a.group
          ? a.group
              .filter((g) => g.address)
              .map((g) => ({ address: g.address!.toLowerCase(), ...(g.name ? { name: g.name } : {}) }))
          : [],
    );
}

function headerText(parsed: ParsedMail, name: string): string | undefined {
  const line = parsed.headerLines.find((h) => h.key === name);
  if (!line) return undefined;
  const colon = line.line.indexOf(':');
  return line.line
    .slice(colon + 1)
    .replace(/\r?\n[ \t]+/g, ' ')
    .trim();
}

/** Reads `Field: value` lines of a report part (message/delivery-status, message/disposition-notification). */
function reportFields(text: string): Map<string, string>[] {
  const blocks: Map<string, string>[] = [];
  for (const block of text.replace(/\r\n/g, '\n').split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    let last: string | undefined;
    for (const line of block.split('\n')) {
      if (/^[ \t]/.test(line) && last) {
        fields.set(last, `${fields.get(last)} ${line.trim()}`);
        continue;
      }
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      last = line.slice(0, colon).trim().toLowerCase();
      fields.set(last, line.slice(colon + 1).trim());
    }
    if (fields.size) blocks.push(fields);
  }
  return blocks;
}

const stripType = (value: string | undefined) => value?.replace(/^[a-z0-9-]+;\s*/i, '').trim();

/**
 * The body of the part of a top-level multipart/report whose Content-Type is one of `types`. mailparser folds some
 * report parts (message/delivery-status) into the text body, so report parts are read from the raw message.
 */
function reportPart(raw: Buffer, parsed: ParsedMail, types: readonly string[]): string | undefined {
  const ct = parsed.headers.get('content-type') as { value?: string; params?: Record<string, string> } | undefined;
  if (ct?.value?.toLowerCase() !== 'multipart/report' || !ct.params?.['boundary']) return undefined;
  const delimiter = `--${ct.params['boundary']}`;
  const text = raw.toString('latin1');
  for (const chunk of text.split(delimiter).slice(1)) {
    if (chunk.startsWith('--')) break;
    const body = chunk.replace(/^[ \t]*\r?\n/, '');
    const split = /\r?\n\r?\n/.exec(body);
    if (!split) continue;
    const headers = body.slice(0, split.index);
    const type = /^content-type:\s*([^;\s]+)/im.exec(headers)?.[1]?.toLowerCase();
    if (type && types.includes(type))
      return Buffer.from(body.slice(split.index + split[0].length), 'latin1').toString('utf8');
  }
  return undefined;
}

function readReceipt(raw: Buffer, parsed: ParsedMail): Receipt | undefined {
  const attachments: Attachment[] = parsed.attachments;
  const mdnText =
    attachments
      .find((a) => a.contentType.toLowerCase() === 'message/disposition-notification')
      ?.content.toString('utf8') ?? reportPart(raw, parsed, ['message/disposition-notification']);
  if (mdnText) {
    const fields = reportFields(mdnText).reduce((acc, m) => new Map([...acc, ...m]), new Map<string, string>());
    const disposition = fields.get('disposition') ?? '';
    const type =
      /\/\s*([a-z-]+)/i.exec(disposition.split(';')[1] ?? disposition)?.[1] ??
      (disposition.split(';').pop() ?? '').trim();
    const original = fields.get('original-message-id');
    const recipient = stripType(fields.get('final-recipient'));
    return {
      kind: 'mdn',
      disposition: type.toLowerCase(),
      ...(original ? { originalMessageId: original } : {}),
      ...(recipient ? { finalRecipient: recipient } : {}),
    };
  }
  const dsnTypes = ['message/delivery-status', 'message/global-delivery-status'];
  const dsnText =
    attachments.find((a) => dsnTypes.includes(a.contentType.toLowerCase()))?.content.toString('utf8') ??
    reportPart(raw, parsed, dsnTypes);
  if (dsnText) {
    const blocks = reportFields(dsnText);
    const perMessage = blocks[0] ?? new Map<string, string>();
    const recipient = blocks.find((b) => b.has('action')) ?? blocks[1] ?? new Map<string, string>();
    const original = perMessage.get('original-envelope-id');
    const finalRecipient = stripType(recipient.get('final-recipient'));
    const diagnostic = stripType(recipient.get('diagnostic-code'));
    const status = recipient.get('status');
    return {
      kind: 'dsn',
      action: (recipient.get('action') ?? '').toLowerCase(),
      ...(status ? { status } : {}),
      ...(finalRecipient ? { finalRecipient } : {}),
      ...(diagnostic ? { diagnostic } : {}),
      ...(original ? { originalMessageId: original } : {}),
    };
  }
  return undefined;
}

const REPORT_TYPES = new Set([
  'message/disposition-notification',
  'message/delivery-status',
  'message/global-delivery-status',
]);

/** Is this attachment the XDM archive? Name IHE_XDM.ZIP in any case, with or without a path. */
export function isXdmAttachment(a: Pick<MailAttachment, 'filename'>): boolean {
  const name = (a.filename ?? '').replace(/\\/g, '/').split('/').pop() ?? '';
  return name.toLowerCase() === 'ihe_xdm.zip';
}

/** Parses a raw message. Throws {@link MailError} for input that is not a message or exceeds the limits. */
export async function parseMail(raw: Buffer, limits: Partial<MailLimits> = {}): Promise<ReceivedMail> {
  const lim = { ...DEFAULT_MAIL_LIMITS, ...limits };
  if (raw.byteLength === 0 || raw.toString('latin1', 0, Math.min(raw.length, 4096)).trim() === '')
    throw new MailError(MailErrorCode.Empty, 'The message is empty');
  if (raw.byteLength > lim.maxBytes)
    throw new MailError(
      MailErrorCode.TooLarge,
      `The message is ${raw.byteLength} bytes, more than the limit of ${lim.maxBytes}`,
    );
  // A message starts with a header block: "Name: value" lines (a BOM, as some Windows tools write, is tolerated).
  const head = raw.toString('latin1', 0, Math.min(raw.length, 1024)).replace(/^\uFEFF|^\xEF\xBB\xBF/, '');
  if (!/^[!-9;-~]+:/.test(head))
    throw new MailError(
      MailErrorCode.NotAMessage,
      'The input does not start with mail headers (Name: value): not an RFC 5322 message',
    );
  const parsed = await simpleParser(raw, {
    skipHtmlToText: true,
    skipTextToHtml: true,
    skipTextLinks: true,
    skipImageLinks: true,
  });
  const all = parsed.attachments;
  if (all.length > lim.maxAttachments)
    throw new MailError(
      MailErrorCode.TooManyAttachments,
      `The message has ${all.length} attachments, more than the limit of ${lim.maxAttachments}`,
    );
  const attachments: MailAttachment[] = all
    .filter((a) => !REPORT_TYPES.has(a.contentType.toLowerCase()))
    .map((a) => ({
      ...(a.filename ? { filename: a.filename } : {}),
      contentType: a.contentType,
      bytes: a.content,
      ...(a.cid ? { contentId: a.cid } : {}),
      ...(a.contentDisposition ? { disposition: a.contentDisposition } : {}),
    }));
  const codeCda = headerText(parsed, 'x-mss-codecda');
  const ins = headerText(parsed, 'x-mss-ins');
  const nil = headerText(parsed, 'x-mss-nil');
  const mes = headerText(parsed, 'x-mss-mes');
  const dnt = headerText(parsed, 'disposition-notification-to');
  const receipt = readReceipt(raw, parsed);
  const headers: Record<string, string> = {};
  for (const line of parsed.headerLines)
    if (!(line.key in headers)) headers[line.key] = headerText(parsed, line.key) ?? '';
  const references =
    parsed.references === undefined ? [] : Array.isArray(parsed.references) ? parsed.references : [parsed.references];
  const xdmZip = attachments.find(isXdmAttachment);
  return {
    ...(parsed.messageId ? { messageId: parsed.messageId } : {}),
    ...(parsed.subject !== undefined ? { subject: parsed.subject } : {}),
    ...(parsed.date ? { date: parsed.date } : {}),
    from: addresses(parsed.from),
    to: addresses(parsed.to),
    cc: addresses(parsed.cc),
    ...(parsed.inReplyTo ? { inReplyTo: parsed.inReplyTo } : {}),
    references,
    ...(parsed.text !== undefined ? { text: parsed.text } : {}),
    ...(typeof parsed.html === 'string' ? { html: parsed.html } : {}),
    attachments,
    ...(xdmZip ? { xdmZip } : {}),
    mssante: {
      codeCda: codeCda
        ? codeCda
            .split(',')
            .map((c) => c.trim())
            .filter(Boolean)
        : [],
      ...(ins ? { ins } : {}),
      ...(nil ? { nil } : {}),
      ...(mes ? { mes } : {}),
    },
    ...(dnt ? { dispositionNotificationTo: dnt } : {}),
    ...(receipt ? { receipt } : {}),
    headers,
  };
}

// ---- composing ----------------------------------------------------------------------------------------------

export interface OutgoingAttachment {
  filename: string;
  contentType: string;
  bytes: Uint8Array;
}

export interface OutgoingMail {
  from: string;
  to: readonly string[];
  cc?: readonly string[];
  subject: string;
  text: string;
  html?: string;
  /** The IHE_XDM.ZIP to attach (named IHE_XDM.ZIP, application/zip). */
  xdmZip?: Uint8Array;
  attachments?: readonly OutgoingAttachment[];
  mssante?: Partial<MssanteHeaders>;
  /** Ask for a read receipt (Disposition-Notification-To: from). */
  requestReadReceipt?: boolean;
  messageId?: string;
  date?: Date;
  inReplyTo?: string;
}

const HEADER_VALUE = /^[\x20-\x7e]*$/;

function headerValue(name: string, value: string): string {
  if (!HEADER_VALUE.test(value)) {
    throw new MailError(
      MailErrorCode.BadHeaderValue,
      `${name} must be printable ASCII without line breaks (got ${JSON.stringify(value.slice(0, 40))})`,
    );
  }
  return value;
}

function build(options: ConstructorParameters<typeof MailComposer>[0]): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    new MailComposer(options).compile().build((err, message) => (err ? reject(err) : resolve(message))),
  );
}

/** Composes an MSSanté message (RFC 5322 bytes, ready for SMTP). */
export async function composeMail(mail: OutgoingMail): Promise<Buffer> {
  const headers: Record<string, string> = {};
  const m = mail.mssante ?? {};
  if (m.codeCda?.length) headers['X-MSS-CODECDA'] = headerValue('X-MSS-CODECDA', m.codeCda.join(','));
  if (m.ins) headers['X-MSS-INS'] = headerValue('X-MSS-INS', m.ins);
  if (m.nil) headers['X-MSS-NIL'] = headerValue('X-MSS-NIL', m.nil);
  if (m.mes) headers['X-MSS-MES'] = headerValue('X-MSS-MES', m.mes);
  if (mail.requestReadReceipt)
    headers['Disposition-Notification-To'] = headerValue('Disposition-Notification-To', mail.from);
  const attachments = [
    ...(mail.xdmZip
      ? [{ filename: 'IHE_XDM.ZIP', contentType: 'application/zip', content: Buffer.from(mail.xdmZip) }]
      : []),
    ...(mail.attachments ?? []).map((a) => ({
      filename: a.filename,
      contentType: a.contentType,
      content: Buffer.from(a.bytes),
    })),
  ];
  return build({
    from: mail.from,
    to: [...mail.to],
    ...(mail.cc?.length ? { cc: [...mail.cc] } : {}),
    subject: mail.subject,
    text: mail.text,
    ...(mail.html ? { html: mail.html } : {}),
    attachments,
    headers,
    messageId: mail.messageId ?? `<${randomUUID()}@keney.local>`,
    date: mail.date ?? new Date(),
    ...(mail.inReplyTo ? { inReplyTo: mail.inReplyTo, references: [mail.inReplyTo] } : {}),
  }).then(restoreHeaderCase);
}

/** MailComposer writes `X-Mss-Codecda`; the Référentiel spells `X-MSS-CODECDA`. Names are case-insensitive, but
 *  some operators' filters are not: restore the documented spelling in the header block only. */
function restoreHeaderCase(message: Buffer): Buffer {
  const end = message.indexOf('\r\n\r\n');
  const head = message
    .subarray(0, end)
    .toString('latin1')
    .replace(/^X-Mss-(Codecda|Ins|Nil|Mes):/gim, (_, n: string) => `X-MSS-${n.toUpperCase()}:`);
  return Buffer.concat([Buffer.from(head, 'latin1'), message.subarray(end)]);
}

export interface ReadReceiptOptions {
  /** The mailbox that read the message (our address). */
  from: string;
  /** Where to send it: the original's Disposition-Notification-To. */
  to: string;
  originalMessageId: string;
  originalSubject?: string;
  /** RFC 8098 disposition type (default displayed). */
  disposition?: 'displayed' | 'deleted' | 'dispatched' | 'processed';
  reportingUa?: string;
  date?: Date;
}

/** Composes a read receipt (RFC 8098 MDN, multipart/report; report-type=disposition-notification). */
export async function composeReadReceipt(options: ReadReceiptOptions): Promise<Buffer> {
  const disposition = options.disposition ?? 'displayed';
  const boundary = `mdn-${randomUUID()}`;
  const report = [
    `Reporting-UA: ${headerValue('Reporting-UA', options.reportingUa ?? 'keney-hub')}`,
    `Final-Recipient: rfc822;${headerValue('Final-Recipient', options.from)}`,
    `Original-Message-ID: ${headerValue('Original-Message-ID', options.originalMessageId)}`,
    `Disposition: manual-action/MDN-sent-manually; ${disposition}`,
  ].join('\r\n');
  const human = `Votre message${options.originalSubject ? ` « ${options.originalSubject.replace(/[\r\n]+/g, ' ')} »` : ''} : ${disposition} par ${options.from}.`;
  const composed = await build({
    from: options.from,
    to: options.to,
    subject: `Accusé de lecture${options.originalSubject ? ` : ${options.originalSubject.replace(/[\r\n]+/g, ' ')}` : ''}`,
    messageId: `<${randomUUID()}@keney.local>`,
    date: options.date ?? new Date(),
    inReplyTo: options.originalMessageId,
    references: [options.originalMessageId],
    text: ' ',
  });
  // Replace the body produced by MailComposer by the multipart/report (MailComposer cannot build report types).
  const headerEnd = composed.indexOf('\r\n\r\n');
  const headerBlock = composed
    .subarray(0, headerEnd)
    .toString('utf8')
    .split(/\r\n(?![ \t])/)
    .filter((h) => !/^(Content-Type|Content-Transfer-Encoding|MIME-Version):/i.test(h));
  const body = [
    ...headerBlock,
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=disposition-notification; boundary="${boundary}"`,
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    human,
    `--${boundary}`,
    'Content-Type: message/disposition-notification',
    '',
    report,
    `--${boundary}--`,
    '',
  ].join('\r\n');
  return Buffer.from(body, 'utf8');
}

// ---- MSSanté headers from the documents, documents from a mail ------------------------------------------------

/**
 * X-MSS-CODECDA and X-MSS-INS for the CDA documents of an XDM archive (Référentiel socle MSSanté #2 §3.8):
 * CODECDA lists the CDA type codes; INS is "O" when a document carries an INS with its OID and the four identity
 * traits (birth name, first given name, birth date, sex), "N" otherwise. No CDA → no header.
 */
export function mssanteHeadersForCda(headers: readonly CdaHeader[]): Pick<MssanteHeaders, 'codeCda' | 'ins'> {
  if (headers.length === 0) return { codeCda: [] };
  const codes = [...new Set(headers.map((h) => h.code?.code).filter((c): c is string => !!c))];
  const qualified = headers.some((h) => {
    const ins = h.patient.ids.find((i) => i.ins && i.extension);
    const n = h.patient.name;
    return !!ins && !!n?.family.length && !!n.given.length && !!h.patient.birthTime && !!h.patient.administrativeGender;
  });
  return { codeCda: codes, ins: qualified ? 'O' : 'N' };
}

export type MailDocuments =
  | { kind: 'xdm'; xdm: XdmPackage; otherAttachments: MailAttachment[] }
  | { kind: 'attachments'; attachments: MailAttachment[] };

/**
 * What to file from a received mail: the XDM package when there is an IHE_XDM.ZIP (plus any other attachment),
 * otherwise the plain attachments (a mail without XDM still becomes a DocumentReference with its attachments).
 */
export async function documentsFromMail(mail: ReceivedMail, options: XdmReadOptions = {}): Promise<MailDocuments> {
  if (mail.xdmZip) {
    const xdm = await readXdm(mail.xdmZip.bytes, options);
    return { kind: 'xdm', xdm, otherAttachments: mail.attachments.filter((a) => a !== mail.xdmZip) };
  }
  return { kind: 'attachments', attachments: mail.attachments };
}
