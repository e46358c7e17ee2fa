// Acceptance 3 (format layer): against a real Postfix + Dovecot on loopback, a message with an XDM zip composed
// here and sent over SMTP submission (STARTTLS + AUTH) is received over IMAPS (IDLE) and yields the same documents
// with the same metadata; the two XDM zips of the corpus travel the same way and are both filed.
// The test starts scripts/services/mail.sh when the server is not running, and stops it if it started it.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasService } from '../../test/services.js';
import { frenchDocument, frenchSubmission } from '../../fixtures/xds/french-submission.js';
import { writeXdm } from '../xdm/index.js';
import { composeMail, composeReadReceipt, documentsFromMail, parseMail, type ReceivedMail } from './index.js';

const run = promisify(execFile);
const SCRIPT = new URL('../../scripts/services/mail.sh', import.meta.url).pathname;
const DR = 'dr.test@ch-test.mssante.fr';
const HUB = 'hub@ch-test.mssante.fr';
const XDM_CORPUS = new URL('../../../shared/corpus/xdm/directproject-nhin-d/', import.meta.url);

describe.skipIf(!hasService('mail'))('MSSanté mail through Postfix + Dovecot', () => {
  let env: Record<string, string> = {};
  let startedHere = false;
  let ca: Buffer;

  beforeAll(async () => {
    const status = await run(SCRIPT, ['status']).then(
      () => 'running',
      () => 'stopped',
    );
    if (status === 'stopped') {
      await run(SCRIPT, ['start'], { timeout: 120_000 });
      startedHere = true;
    }
    const { stdout } = await run(SCRIPT, ['env']);
    env = Object.fromEntries(
      stdout
        .trim()
        .split('\n')
        .map((l) => l.split('=') as [string, string]),
    );
    ca = readFileSync(env['KENEY_MAIL_CA']!);
  });

  afterAll(async () => {
    if (startedHere) await run(SCRIPT, ['stop']);
  });

  const smtp = (user: string, password = env['KENEY_MAIL_PASSWORD']!) =>
    nodemailer.createTransport({
      host: '127.0.0.1',
      port: Number(env['KENEY_MAIL_SUBMISSION_PORT']),
      secure: false,
      requireTLS: true,
      auth: { user, pass: password },
      tls: { ca: [ca] },
    });

  async function imap(user: string, password = env['KENEY_MAIL_PASSWORD']!): Promise<ImapFlow> {
    const client = new ImapFlow({
      host: '127.0.0.1',
      port: Number(env['KENEY_MAIL_IMAPS_PORT']),
      secure: true,
      auth: { user, pass: password },
      tls: { ca: [ca] },
      logger: false,
    });
    await client.connect();
    return client;
  }

  /** Opens INBOX, sends with `send`, waits for the IDLE "exists" notification, returns the new message parsed. */
  async function receive(user: string, send: () => Promise<unknown>): Promise<ReceivedMail> {
    const client = await imap(user);
    try {
      const lock = await client.getMailboxLock('INBOX');
      try {
        const before = (client.mailbox as { exists: number }).exists;
        let timer: NodeJS.Timeout | undefined;
        const arrived = new Promise<number>((resolve, reject) => {
          client.on('exists', (data: { count: number }) => {
            if (data.count > before) resolve(data.count);
          });
          // A guard against a lost message, not a performance threshold: delivery on loopback takes milliseconds.
          timer = setTimeout(
            () =>
              reject(new Error(`no message arrived in ${user}'s INBOX within 20 s: see .work/mail/postfix/maillog`)),
            20_000,
          );
        });
        const idling = client.idle(); // explicit IDLE: the server pushes EXISTS when the message lands
        await send();
        const count = await arrived.finally(() => clearTimeout(timer));
        void idling; // the next command (FETCH) ends IDLE
        const message = await client.fetchOne(String(count), { source: true });
        if (!message || !message.source) throw new Error('message not fetched');
        return await parseMail(message.source);
      } finally {
        lock.release();
      }
    } finally {
      await client.logout();
    }
  }

  it('an XDM message sent by SMTP submission is received by IMAP IDLE and filed with the same metadata', async () => {
    const doc = frenchDocument();
    const objects = frenchSubmission(doc);
    const zip = await writeXdm(objects, [{ entryId: 'Document01', bytes: doc }], {
      sender: 'Keney Hub integration test',
    });
    const raw = await composeMail({
      from: DR,
      to: [HUB],
      subject: 'CR de consultation',
      text: 'Compte rendu en pièce jointe.',
      xdmZip: zip,
      mssante: { codeCda: ['11488-4'], ins: 'O' },
      requestReadReceipt: true,
    });
    const transport = smtp(DR);
    const mail = await receive(HUB, () => transport.sendMail({ envelope: { from: DR, to: [HUB] }, raw }));
    transport.close();
    expect(mail.mssante).toMatchObject({ codeCda: ['11488-4'], ins: 'O' });
    expect(mail.dispositionNotificationTo).toBe(DR);
    const filed = await documentsFromMail(mail);
    if (filed.kind !== 'xdm') throw new Error('expected an XDM package');
    const sub = filed.xdm.submissions[0]!;
    expect(sub.documents[0]!.bytes.equals(doc)).toBe(true);
    const { uri: _u, hash: _h, size: _s, ...entry } = sub.objects.documentEntries[0]!;
    expect(entry).toEqual(objects.documentEntries[0]);
    expect(sub.objects.submissionSets).toEqual(objects.submissionSets);

    // The read receipt goes back to the sender and is recognized there.
    const back = smtp(HUB);
    const receipt = await receive(DR, async () =>
      back.sendMail({
        envelope: { from: HUB, to: [DR] },
        raw: await composeReadReceipt({
          from: HUB,
          to: DR,
          originalMessageId: mail.messageId!,
          originalSubject: mail.subject!,
        }),
      }),
    );
    back.close();
    expect(receipt.receipt).toMatchObject({ kind: 'mdn', disposition: 'displayed', originalMessageId: mail.messageId });
  });

  it.each(['xd-common-samplexdm.zip', 'xdmail-samplexdm-backslash-paths.zip'])(
    'the corpus %s sent as IHE_XDM.ZIP is filed',
    async (file) => {
      const zip = readFileSync(new URL(file, XDM_CORPUS));
      const raw = await composeMail({ from: DR, to: [HUB], subject: file, text: 'XDM', xdmZip: zip });
      const transport = smtp(DR);
      const mail = await receive(HUB, () => transport.sendMail({ envelope: { from: DR, to: [HUB] }, raw }));
      transport.close();
      const filed = await documentsFromMail(mail);
      if (filed.kind !== 'xdm') throw new Error('expected an XDM package');
      expect(filed.xdm.submissions[0]!.documents).toHaveLength(1);
      expect(filed.xdm.submissions[0]!.documents[0]!.bytes.toString('utf8')).toContain('<ClinicalDocument');
    },
  );

  it('the servers give precise refusals: bad password, unknown recipient, no TLS on submission', async () => {
    await expect(smtp(DR, 'wrong').verify()).rejects.toMatchObject({ code: 'EAUTH' });
    await expect(imap(DR, 'wrong')).rejects.toThrow();
    const transport = smtp(DR);
    await expect(
      transport.sendMail({ from: DR, to: 'nobody@ch-test.mssante.fr', subject: 'x', text: 'x' }),
    ).rejects.toMatchObject({ responseCode: 550 });
    await expect(
      transport.sendMail({ from: DR, to: 'someone@example.org', subject: 'x', text: 'x' }),
    ).rejects.toMatchObject({ code: 'EENVELOPE' });
    transport.close();
    // Without STARTTLS the submission port offers no AUTH and refuses to relay.
    const plain = nodemailer.createTransport({
      host: '127.0.0.1',
      port: Number(env['KENEY_MAIL_SUBMISSION_PORT']),
      secure: false,
      ignoreTLS: true,
    });
    await expect(plain.sendMail({ from: DR, to: HUB, subject: 'x', text: 'x' })).rejects.toMatchObject({
      responseCode: 530,
    });
    plain.close();
  });
});
