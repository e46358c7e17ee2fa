// SMTP both ways for MSSanté:
// - SmtpMailSource: an SMTP listener (MTA to MTA) with TLS (implicit or STARTTLS, required before MAIL FROM unless
//   configured otherwise), accepting only its own domains/addresses (never a relay); a message gets 250 only once
//   the MailIntake has made it durable, 451 when it could not be persisted (the sender retries), 550 with the
//   reason when it is kept in error (the sender's MTA tells the sender why).
// - MssanteSmtpDestination: sends a composed message (built when queued, kept in the message store) over SMTP with
//   TLS; 4xx and connection failures are retried, 5xx refusals are dead-lettered; the MTA's answer is kept and the
//   mail's tracking moves to "sent" (receipts move it further).
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import nodemailer, { type Transporter } from 'nodemailer';
import type { Logger } from 'pino';
import { SMTPServer, type SMTPServerSession } from 'smtp-server';
import { parseMail } from '../../adapters/mime/index.js';
import {
  DeliveryError,
  type DeliveryResult,
  type DestinationConnector,
  type OutboundMessage,
} from '../../engine/connector.js';
import type { MailIntake } from './mail-intake.js';
import type { MailTracking } from './mail-tracking.js';

export interface SmtpSourceConfig {
  name: string;
  host: string;
  port: number;
  /** PEM certificate and key of the listener (required: MSSanté mail travels over TLS only). */
  tls: { cert: string; key: string; ca?: string; requestClientCertificate?: boolean };
  /** true: implicit TLS on connect (465-style); false: STARTTLS. */
  implicitTls?: boolean;
  /** Refuse MAIL FROM on a connection that did not start TLS (default true). */
  requireTls?: boolean;
  /** Domains (e.g. ch-test.mssante.fr) and addresses accepted as recipients; anything else gets 550. */
  acceptDomains?: string[];
  acceptAddresses?: string[];
  maxMessageBytes?: number;
  patientMailboxInsOid?: string;
  /** Name announced in the greeting. */
  serverName?: string;
}

function smtpError(code: number, message: string): Error & { responseCode: number } {
  return Object.assign(new Error(message), { responseCode: code });
}

export class SmtpMailSource {
  private server: SMTPServer | undefined;
  private listening = false;
  private counts = { filed: 0, refused: 0 };
  private address = '';

  constructor(
    private readonly config: SmtpSourceConfig,
    private readonly intake: MailIntake,
    private readonly logger: Logger,
  ) {}

  get channel(): string {
    return `mssante-${this.config.name}`;
  }

  async start(): Promise<void> {
    const c = this.config;
    const max = c.maxMessageBytes ?? 50 * 1024 * 1024;
    const domains = new Set((c.acceptDomains ?? []).map((d) => d.toLowerCase()));
    const addresses = new Set((c.acceptAddresses ?? []).map((a) => a.toLowerCase()));
    this.server = new SMTPServer({
      secure: c.implicitTls ?? false,
      key: c.tls.key,
      cert: c.tls.cert,
      ...(c.tls.ca ? { ca: c.tls.ca } : {}),
      ...(c.tls.requestClientCertificate ? { requestCert: true } : {}),
      minVersion: 'TLSv1.2',
      name: c.serverName ?? 'keney-hub',
      banner: 'Keney Hub MSSanté',
      size: max,
      authOptional: true,
      disabledCommands: ['AUTH'],
      logger: false,
      onMailFrom: (_address, session: SMTPServerSession, callback) => {
        if ((c.requireTls ?? true) && !session.secure)
          return callback(
            smtpError(530, '5.7.0 Must issue a STARTTLS command first: MSSanté mail travels over TLS only'),
          );
        callback();
      },
      onRcptTo: (address, _session, callback) => {
        const to = address.address.toLowerCase();
        const domain = to.split('@')[1] ?? '';
        if (addresses.has(to) || domains.has(domain)) return callback();
        callback(smtpError(550, `5.1.1 <${to}>: this hub does not receive mail for this address (relay refused)`));
      },
      onData: (stream: Readable & { sizeExceeded?: boolean }, session, callback) => {
        void this.receive(stream, session, max).then(
          (response) => callback(null, response),
          (error: Error) => callback(error),
        );
      },
    });
    this.server.on('error', (error) => this.logger.warn({ err: error, mailbox: c.name }, 'SMTP listener error'));
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error) =>
        reject(
          new Error(`The MSSanté SMTP listener "${c.name}" cannot listen on ${c.host}:${c.port}: ${error.message}`),
        );
      this.server!.server.once('error', onError);
      this.server!.listen(c.port, c.host, () => {
        this.server!.server.off('error', onError);
        const a = this.server!.server.address();
        this.address = typeof a === 'object' && a ? `${a.address}:${a.port}` : `${c.host}:${c.port}`;
        this.listening = true;
        resolve();
      });
    });
  }

  /** The port actually bound (port 0 in tests). */
  get port(): number {
    return Number(this.address.split(':').pop());
  }

  private async receive(
    stream: Readable & { sizeExceeded?: boolean },
    session: SMTPServerSession,
    max: number,
  ): Promise<string> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of stream) {
      size += (chunk as Buffer).length;
      if (size <= max) chunks.push(chunk as Buffer);
    }
    if (stream.sizeExceeded || size > max)
      throw smtpError(552, `5.3.4 Message too big: this mailbox accepts ${max} bytes at most`);
    const raw = Buffer.concat(chunks);
    let outcome;
    try {
      outcome = await this.intake.receive(raw, {
        channel: this.channel,
        source: `smtp ${session.remoteAddress}`,
        ...(this.config.maxMessageBytes ? { maxBytes: this.config.maxMessageBytes } : {}),
        ...(this.config.patientMailboxInsOid ? { patientMailboxInsOid: this.config.patientMailboxInsOid } : {}),
      });
    } catch (error) {
      this.logger.error({ err: error, mailbox: this.config.name }, 'an SMTP message could not be persisted');
      throw smtpError(451, '4.3.0 The message could not be stored right now: try again later');
    }
    if (outcome.status === 'refused') {
      this.counts.refused++;
      throw smtpError(
        550,
        `5.6.0 ${outcome.reason.replace(/[\r\n]+/g, ' ').slice(0, 400)} (kept as message ${outcome.messageId})`,
      );
    }
    this.counts.filed++;
    return `2.0.0 Filed as message ${outcome.messageId}`;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    const server = this.server;
    this.server = undefined;
    this.listening = false;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  status() {
    return {
      name: this.config.name,
      type: 'smtp' as const,
      endpoint: `smtp://${this.address || `${this.config.host}:${this.config.port}`}`,
      listening: this.listening,
      ...this.counts,
    };
  }
}

export interface SmtpDestinationConfig {
  name: string;
  host: string;
  port: number;
  /** true: implicit TLS (465); false: STARTTLS, required. */
  secure: boolean;
  user?: string;
  password?: string;
  tls?: { ca?: string; cert?: string; key?: string; servername?: string; rejectUnauthorized?: boolean };
  timeoutMs?: number;
}

export class MssanteSmtpDestination implements DestinationConnector {
  readonly type = 'mssante';
  private readonly transport: Transporter;

  constructor(
    private readonly config: SmtpDestinationConfig,
    private readonly tracking: () => MailTracking,
  ) {
    const tls = config.tls ?? {};
    this.transport = nodemailer.createTransport({
      host: config.host,
      port: config.port,
      secure: config.secure,
      requireTLS: !config.secure,
      ...(config.user ? { auth: { user: config.user, pass: config.password ?? '' } } : {}),
      tls: {
        ...(tls.ca ? { ca: tls.ca } : {}),
        ...(tls.cert ? { cert: tls.cert } : {}),
        ...(tls.key ? { key: tls.key } : {}),
        ...(tls.servername ? { servername: tls.servername } : {}),
        rejectUnauthorized: tls.rejectUnauthorized ?? true,
        minVersion: 'TLSv1.2',
      },
      connectionTimeout: config.timeoutMs ?? 30_000,
      greetingTimeout: config.timeoutMs ?? 30_000,
      socketTimeout: config.timeoutMs ?? 60_000,
    });
  }

  async send(message: OutboundMessage, signal: AbortSignal): Promise<DeliveryResult> {
    const mail = await parseMail(message.raw);
    const from = mail.from[0]?.address;
    const to = [...mail.to, ...mail.cc].map((a) => a.address);
    if (!from || to.length === 0)
      throw new DeliveryError(
        'The stored mail has no From or no recipient: rebuild it with a sender and recipients.',
        false,
      );
    if (signal.aborted) throw new DeliveryError('sending was interrupted (hub stopping)', true);
    let info: { response?: string; accepted?: unknown[]; rejected?: unknown[] };
    try {
      info = await this.transport.sendMail({ envelope: { from, to }, raw: message.raw });
    } catch (error) {
      const e = error as Error & { responseCode?: number; code?: string; response?: string };
      const response = e.response ?? e.message;
      if (e.code === 'EAUTH')
        throw new DeliveryError(
          `${this.config.host} refused the login of ${this.config.user ?? '(none)'}: check the destination's user and password`,
          false,
          response,
        );
      if (e.responseCode && e.responseCode >= 500)
        throw new DeliveryError(`${this.config.host} refused the mail: ${response}`, false, response);
      throw new DeliveryError(`${this.config.host}:${this.config.port}: ${response}`, true, response);
    }
    const rejected = (info.rejected ?? []).map(String);
    const response = `${info.response ?? 'accepted'}${rejected.length ? ` (refused recipients: ${rejected.join(', ')})` : ''}`;
    if (mail.messageId) await this.tracking().sent(mail.messageId, response);
    return { response };
  }

  async close(): Promise<void> {
    this.transport.close();
  }
}

export function mailDigest(raw: Buffer): string {
  return createHash('sha256').update(raw).digest('hex');
}
