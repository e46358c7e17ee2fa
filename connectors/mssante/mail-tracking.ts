// Tracking of the mails the hub sends: each outbound mail (by its Message-ID) with its message-store id, and the
// receipts that came back — delivery status notifications (RFC 3464) and read receipts (RFC 8098). The receipts
// themselves are messages in the message store too (controlId = the Message-ID they answer), so
// `GET /admin/messages?controlId=<Message-ID>` shows the mail and every receipt.
import type { Receipt } from '../../adapters/mime/index.js';
import type { Migration, SqlClient } from '../../store/sql/sql-client.js';

export const mailTrackingMigrations: Migration[] = [
  {
    id: 'documents-0001-mail-tracking',
    sql: `
      CREATE TABLE documents_mail_tracking (
        mail_message_id text PRIMARY KEY,
        message_id uuid NOT NULL,
        destination text NOT NULL,
        recipients text[] NOT NULL,
        status text NOT NULL,
        events jsonb NOT NULL DEFAULT '[]',
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL
      );
      CREATE INDEX documents_mail_tracking_message ON documents_mail_tracking (message_id);
      CREATE TABLE documents_mailbox_cursors (
        mailbox text PRIMARY KEY,
        uid_validity bigint NOT NULL,
        last_uid bigint NOT NULL,
        updated_at timestamptz NOT NULL
      );
    `,
  },
];

/** The state of a sent mail, from the most telling event: a failure or a read receipt wins over a delivery. */
export const MailStatus = {
  Queued: 'queued',
  Sent: 'sent',
  Delayed: 'delayed',
  Delivered: 'delivered',
  Displayed: 'displayed',
  Deleted: 'deleted',
  Failed: 'failed',
} as const;
export type MailStatus = (typeof MailStatus)[keyof typeof MailStatus];

const RANK: Record<MailStatus, number> = {
  queued: 0,
  sent: 1,
  delayed: 2,
  delivered: 3,
  deleted: 4,
  displayed: 5,
  failed: 6,
};

export interface MailEvent {
  at: string;
  kind: 'smtp' | 'dsn' | 'mdn';
  status: MailStatus;
  detail?: string;
  finalRecipient?: string;
  /** Message store id of the receipt. */
  receiptMessageId?: string;
}

export interface TrackedMail {
  mailMessageId: string;
  messageId: string;
  destination: string;
  recipients: string[];
  status: MailStatus;
  events: MailEvent[];
  createdAt: string;
  updatedAt: string;
}

export function normalizeMessageId(value: string): string {
  return value.trim().replace(/^<|>$/g, '');
}

function statusOfReceipt(receipt: Receipt): MailStatus {
  if (receipt.kind === 'mdn') {
    if (receipt.disposition === 'displayed') return MailStatus.Displayed;
    if (receipt.disposition === 'deleted') return MailStatus.Deleted;
    return MailStatus.Delivered;
  }
  switch (receipt.action) {
    case 'failed':
      return MailStatus.Failed;
    case 'delayed':
      return MailStatus.Delayed;
    default:
      return MailStatus.Delivered;
  }
}

interface Row {
  mail_message_id: string;
  message_id: string;
  destination: string;
  recipients: string[];
  status: MailStatus;
  events: MailEvent[] | string;
  created_at: Date | string;
  updated_at: Date | string;
}

export class MailTracking {
  constructor(private readonly sql: SqlClient) {}

  async queued(mailMessageId: string, messageId: string, destination: string, recipients: string[]): Promise<void> {
    await this.sql.query(
      `INSERT INTO documents_mail_tracking (mail_message_id, message_id, destination, recipients, status, events, created_at, updated_at)
       VALUES ($1, $2, $3, $4, 'queued', '[]', now(), now()) ON CONFLICT (mail_message_id) DO NOTHING`,
      [normalizeMessageId(mailMessageId), messageId, destination, recipients],
    );
  }

  /** The MTA took the mail (SMTP 250). */
  async sent(mailMessageId: string, response: string): Promise<void> {
    await this.record(normalizeMessageId(mailMessageId), {
      at: new Date().toISOString(),
      kind: 'smtp',
      status: MailStatus.Sent,
      detail: response.slice(0, 500),
    });
  }

  /** A receipt came back: true when it answers a mail this hub sent. */
  async receipt(receipt: Receipt, receiptMessageId: string): Promise<boolean> {
    if (!receipt.originalMessageId) return false;
    const event: MailEvent = {
      at: new Date().toISOString(),
      kind: receipt.kind,
      status: statusOfReceipt(receipt),
      detail:
        receipt.kind === 'mdn'
          ? receipt.disposition
          : [receipt.action, receipt.status, receipt.diagnostic].filter(Boolean).join(' '),
      ...(receipt.finalRecipient ? { finalRecipient: receipt.finalRecipient } : {}),
      receiptMessageId,
    };
    return this.record(normalizeMessageId(receipt.originalMessageId), event);
  }

  private async record(mailMessageId: string, event: MailEvent): Promise<boolean> {
    return this.sql.transaction(async (tx) => {
      const found = await tx.query<Row>('SELECT * FROM documents_mail_tracking WHERE mail_message_id = $1 FOR UPDATE', [
        mailMessageId,
      ]);
      const row = found.rows[0];
      if (!row) return false;
      const events = [...parseEvents(row.events), event];
      const status = RANK[event.status] > RANK[row.status] ? event.status : row.status;
      await tx.query(
        'UPDATE documents_mail_tracking SET status = $2, events = $3::jsonb, updated_at = now() WHERE mail_message_id = $1',
        [mailMessageId, status, JSON.stringify(events)],
      );
      return true;
    });
  }

  async byMessageId(messageId: string): Promise<TrackedMail | undefined> {
    const rows = await this.sql.query<Row>('SELECT * FROM documents_mail_tracking WHERE message_id = $1', [messageId]);
    return rows.rows[0] ? toTracked(rows.rows[0]) : undefined;
  }

  async byMailMessageId(mailMessageId: string): Promise<TrackedMail | undefined> {
    const rows = await this.sql.query<Row>('SELECT * FROM documents_mail_tracking WHERE mail_message_id = $1', [
      normalizeMessageId(mailMessageId),
    ]);
    return rows.rows[0] ? toTracked(rows.rows[0]) : undefined;
  }

  // ---- IMAP cursors ----

  async cursor(mailbox: string): Promise<{ uidValidity: bigint; lastUid: number } | undefined> {
    const rows = await this.sql.query<{ uid_validity: string | number; last_uid: string | number }>(
      'SELECT uid_validity, last_uid FROM documents_mailbox_cursors WHERE mailbox = $1',
      [mailbox],
    );
    const row = rows.rows[0];
    return row ? { uidValidity: BigInt(row.uid_validity), lastUid: Number(row.last_uid) } : undefined;
  }

  async saveCursor(mailbox: string, uidValidity: bigint, lastUid: number): Promise<void> {
    await this.sql.query(
      `INSERT INTO documents_mailbox_cursors (mailbox, uid_validity, last_uid, updated_at) VALUES ($1, $2, $3, now())
       ON CONFLICT (mailbox) DO UPDATE SET uid_validity = EXCLUDED.uid_validity, last_uid = EXCLUDED.last_uid, updated_at = now()`,
      [mailbox, uidValidity.toString(), lastUid],
    );
  }
}

function parseEvents(value: MailEvent[] | string): MailEvent[] {
  return typeof value === 'string' ? (JSON.parse(value) as MailEvent[]) : value;
}

function toTracked(row: Row): TrackedMail {
  return {
    mailMessageId: row.mail_message_id,
    messageId: row.message_id,
    destination: row.destination,
    recipients: row.recipients,
    status: row.status,
    events: parseEvents(row.events),
    createdAt: new Date(row.created_at).toISOString(),
    updatedAt: new Date(row.updated_at).toISOString(),
  };
}
