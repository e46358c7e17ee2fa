// An MSSanté mailbox read over IMAP with TLS (implicit, or STARTTLS required), with a client certificate where the
// operator requires one. New mail is noticed by IDLE (the server pushes EXISTS; a poll every `pollIntervalMs` covers
// servers and networks that drop IDLE). Each message is handed to the MailIntake by UID order; only once it is
// durably filed (or durably kept in error) is it flagged \Seen (and moved, when `processedMailbox` is set) and the
// mailbox cursor (UIDVALIDITY + last UID) saved — a crash in between fetches it again, and the message store
// recognizes it as the same delivery.
import { ImapFlow } from 'imapflow';
import type { Logger } from 'pino';
import type { MailIntake, MailReceiveMeta } from './mail-intake.js';
import type { MailTracking } from './mail-tracking.js';

export interface ImapMailboxConfig {
  /** Name of the mailbox in the hub (channel `mssante-<name>`). */
  name: string;
  host: string;
  port: number;
  /** true: implicit TLS (IMAPS, 993); false: STARTTLS, always required (credentials never travel in clear). */
  secure: boolean;
  user: string;
  password: string;
  /** PEM: CA to trust (self-signed test servers), client certificate and key (operators that require one). */
  tls?: { ca?: string; cert?: string; key?: string; servername?: string; rejectUnauthorized?: boolean };
  mailbox?: string;
  /** Move filed messages there (created if missing); otherwise they stay, flagged \Seen. */
  processedMailbox?: string;
  /** Poll interval when IDLE is not delivering (default 60 s). */
  pollIntervalMs?: number;
  maxMessageBytes?: number;
  patientMailboxInsOid?: string;
}

export interface ImapSourceStatus {
  name: string;
  type: 'imap';
  endpoint: string;
  connected: boolean;
  lastError: string | null;
  lastErrorAt: string | null;
  filed: number;
  refused: number;
}

export class ImapMailboxSource {
  private client: ImapFlow | undefined;
  private stopped = true;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private attempt = 0;
  private running: Promise<void> = Promise.resolve();
  private pending = false;
  private lastError: string | null = null;
  private lastErrorAt: Date | null = null;
  private counts = { filed: 0, refused: 0 };

  constructor(
    private readonly config: ImapMailboxConfig,
    private readonly intake: MailIntake,
    private readonly tracking: () => MailTracking,
    private readonly logger: Logger,
  ) {}

  get channel(): string {
    return `mssante-${this.config.name}`;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    void this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.pollTimer);
    await this.running.catch(() => undefined);
    const client = this.client;
    this.client = undefined;
    if (client) await client.logout().catch(() => client.close());
  }

  status(): ImapSourceStatus {
    return {
      name: this.config.name,
      type: 'imap',
      endpoint: `imap${this.config.secure ? 's' : ''}://${this.config.host}:${this.config.port}/${this.config.mailbox ?? 'INBOX'}`,
      connected: !!this.client?.usable,
      lastError: this.lastError,
      lastErrorAt: this.lastErrorAt?.toISOString() ?? null,
      ...this.counts,
    };
  }

  /** Fetches and files what is new now (also called by tests and after IDLE notifications). */
  sync(): Promise<void> {
    if (this.pending) return this.running;
    this.pending = true;
    this.running = this.running
      .then(async () => {
        this.pending = false;
        await this.fetchNew();
      })
      .catch((error: Error) => this.failed(error));
    return this.running;
  }

  private failed(error: Error): void {
    this.lastError = error.message;
    this.lastErrorAt = new Date();
    this.logger.warn(
      { err: error, mailbox: this.config.name },
      'MSSanté mailbox: processing failed; it will be retried',
    );
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const c = this.config;
    const client = new ImapFlow({
      host: c.host,
      port: c.port,
      secure: c.secure,
      doSTARTTLS: c.secure ? undefined : true,
      auth: { user: c.user, pass: c.password },
      tls: {
        ...(c.tls?.ca ? { ca: c.tls.ca } : {}),
        ...(c.tls?.cert ? { cert: c.tls.cert } : {}),
        ...(c.tls?.key ? { key: c.tls.key } : {}),
        ...(c.tls?.servername ? { servername: c.tls.servername } : {}),
        rejectUnauthorized: c.tls?.rejectUnauthorized ?? true,
        minVersion: 'TLSv1.2',
      },
      logger: false,
      maxIdleTime: c.pollIntervalMs ?? 60_000,
    } as ConstructorParameters<typeof ImapFlow>[0]);
    client.on('error', (error: Error) => this.failed(error));
    client.on('close', () => {
      if (this.client === client) this.client = undefined;
      if (!this.stopped) this.scheduleReconnect();
    });
    client.on('exists', () => void this.sync());
    try {
      await client.connect();
      await client.mailboxOpen(c.mailbox ?? 'INBOX');
      if (c.processedMailbox) await client.mailboxCreate(c.processedMailbox).catch(() => undefined);
      if (this.stopped) {
        await client.logout().catch(() => undefined);
        return;
      }
      this.client = client;
      this.attempt = 0;
      this.lastError = null;
      clearInterval(this.pollTimer);
      this.pollTimer = setInterval(() => void this.sync(), c.pollIntervalMs ?? 60_000);
      this.pollTimer.unref();
      await this.sync();
    } catch (error) {
      const e = error as Error & { authenticationFailed?: boolean; responseText?: string };
      this.failed(
        new Error(
          e.authenticationFailed
            ? `authentication refused for ${c.user}: check the mailbox credentials (${e.responseText ?? e.message})`
            : `${c.host}:${c.port}: ${e.message}`,
        ),
      );
      client.close();
      this.scheduleReconnect();
    }
  }

  private scheduleReconnect(): void {
    clearTimeout(this.reconnectTimer);
    clearInterval(this.pollTimer);
    const delay = Math.min(60_000, 1000 * 2 ** Math.min(this.attempt++, 6));
    this.reconnectTimer = setTimeout(() => void this.connect(), delay);
    this.reconnectTimer.unref();
  }

  private async fetchNew(): Promise<void> {
    const client = this.client;
    if (!client?.usable || this.stopped) return;
    const mailbox = client.mailbox;
    if (!mailbox) return;
    const uidValidity = BigInt(mailbox.uidValidity);
    const key = `${this.config.name}:${this.config.mailbox ?? 'INBOX'}`;
    const cursor = await this.tracking().cursor(key);
    const last = cursor && cursor.uidValidity === uidValidity ? cursor.lastUid : 0;
    // UIDs first (no other command may run inside a FETCH), then one message at a time.
    const uids = ((await client.search({ uid: `${last + 1}:*` }, { uid: true })) || [])
      .filter((u) => u > last)
      .sort((a, b) => a - b);
    const meta: MailReceiveMeta = {
      channel: this.channel,
      source: `imap ${this.config.user}`,
      ...(this.config.maxMessageBytes ? { maxBytes: this.config.maxMessageBytes } : {}),
      ...(this.config.patientMailboxInsOid ? { patientMailboxInsOid: this.config.patientMailboxInsOid } : {}),
    };
    for (const uid of uids) {
      if (this.stopped) return;
      const max = this.config.maxMessageBytes ?? 50 * 1024 * 1024;
      const head = await client.fetchOne(String(uid), { uid: true, size: true, headers: true }, { uid: true });
      if (!head) continue;
      let outcome;
      if ((head.size ?? 0) > max) {
        // Not downloaded: its header block is kept in error, with what to do.
        outcome = await this.intake.tooLarge(head.headers ?? Buffer.alloc(0), head.size ?? 0, max, meta);
      } else {
        const message = await client.fetchOne(String(uid), { uid: true, source: true }, { uid: true });
        if (!message || !message.source) continue;
        outcome = await this.intake.receive(message.source, meta);
      }
      if (outcome.status === 'refused') this.counts.refused++;
      else this.counts.filed++;
      await client.messageFlagsAdd(String(uid), ['\\Seen'], { uid: true });
      if (this.config.processedMailbox)
        await client.messageMove(String(uid), this.config.processedMailbox, { uid: true });
      await this.tracking().saveCursor(key, uidValidity, uid);
    }
  }
}
