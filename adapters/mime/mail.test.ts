import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { frenchDocument, frenchSubmission, TEST_INS } from '../../fixtures/xds/french-submission.js';
import { parseCda, readCdaHeader } from '../cda/index.js';
import { writeXdm } from '../xdm/index.js';
import {
  MailErrorCode,
  composeMail,
  composeReadReceipt,
  documentsFromMail,
  isXdmAttachment,
  mssanteHeadersForCda,
  parseMail,
  type MailError,
} from './index.js';

const CORPUS = new URL('../../../shared/corpus/email/directproject-nhin-d/', import.meta.url);
const FIXTURES = new URL('../../fixtures/mime/', import.meta.url);

async function mailError(p: Promise<unknown>): Promise<MailError> {
  try {
    await p;
  } catch (e) {
    return e as MailError;
  }
  throw new Error('expected a MailError');
}

const DR = 'dr.test@ch-test.mssante.fr';
const PATIENT = `${TEST_INS}@patient.mssante.fr`;

describe('parsing the corpus .eml (Direct Project)', () => {
  it('simple.eml: a text message', async () => {
    const mail = await parseMail(readFileSync(new URL('simple.eml', CORPUS)));
    expect(mail).toMatchObject({
      subject: 'Simple Text Message',
      from: [{ address: 'toby@redmond.hsgincubator.com' }],
      to: [{ address: 'biff@nhind.hsgincubator.com' }],
    });
    expect(mail.text?.trim()).toBe('Yo. This be a message, what?');
    expect(mail.attachments).toEqual([]);
    expect(mail.xdmZip).toBeUndefined();
    expect(mail.mssante).toEqual({ codeCda: [] });
  });

  it('Attachments.eml (starts with a BOM): the PDF and the HTML report are extracted', async () => {
    const mail = await parseMail(readFileSync(new URL('Attachments.eml', CORPUS)));
    expect(mail.to.map((a) => a.address)).toEqual([
      'toby@nhind.hsgincubator.com',
      'toby@nhind.hsgincubator.com',
      'biff@nhind.hsgincubator.com',
    ]);
    const pdf = mail.attachments.find((a) => a.filename === 'report.pdf')!;
    expect(pdf.bytes.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    expect(mail.attachments.some((a) => a.filename === 'RonBogart_CCD.html')).toBe(true);
  });

  it('multipart_1To.eml: related inline images are attachments with their Content-ID', async () => {
    const mail = await parseMail(readFileSync(new URL('multipart_1To.eml', CORPUS)));
    const images = mail.attachments.filter((a) => a.contentType === 'image/jpeg');
    expect(images).toHaveLength(7);
    for (const img of images) expect(img.bytes.subarray(0, 2).equals(Buffer.from([0xff, 0xd8]))).toBe(true);
    expect(images.every((i) => i.contentId)).toBe(true);
  });
});

describe('MSSanté messages', () => {
  it('composes a message with an XDM zip and MSSanté headers that parses back into the same documents', async () => {
    const doc = frenchDocument();
    const objects = frenchSubmission(doc);
    const zip = await writeXdm(objects, [{ entryId: 'Document01', bytes: doc }], { sender: 'Keney Hub' });
    const raw = await composeMail({
      from: DR,
      to: [PATIENT],
      subject: 'Compte rendu de consultation',
      text: 'Veuillez trouver le compte rendu.',
      xdmZip: zip,
      mssante: { codeCda: ['11488-4'], ins: 'O', nil: 'KENEY-TEST', mes: 'FIN' },
      requestReadReceipt: true,
    });
    const head = raw.subarray(0, raw.indexOf('\r\n\r\n')).toString();
    expect(head).toMatch(/^X-MSS-CODECDA: 11488-4$/m);
    expect(head).toMatch(/^X-MSS-INS: O$/m);
    expect(head).toMatch(/^X-MSS-MES: FIN$/m);
    const mail = await parseMail(raw);
    expect(mail.mssante).toEqual({ codeCda: ['11488-4'], ins: 'O', nil: 'KENEY-TEST', mes: 'FIN' });
    expect(mail.dispositionNotificationTo).toBe(DR);
    expect(mail.xdmZip?.bytes.equals(zip)).toBe(true);
    const filed = await documentsFromMail(mail);
    expect(filed.kind).toBe('xdm');
    if (filed.kind !== 'xdm') return;
    const sub = filed.xdm.submissions[0]!;
    expect(sub.documents[0]!.bytes.equals(doc)).toBe(true);
    expect(sub.objects.documentEntries[0]!.classCode).toEqual(objects.documentEntries[0]!.classCode);
    expect(sub.objects.submissionSets[0]!.patientId).toBe(objects.submissionSets[0]!.patientId);
  });

  it('finds IHE_XDM.ZIP whatever the case or path of its name', () => {
    for (const filename of ['IHE_XDM.ZIP', 'ihe_xdm.zip', 'Ihe_Xdm.Zip', 'dossier\\IHE_XDM.ZIP', 'a/IHE_XDM.zip'])
      expect(isXdmAttachment({ filename })).toBe(true);
    for (const filename of ['IHE_XDM.ZIP.exe', 'XDM.ZIP', undefined]) expect(isXdmAttachment({ filename })).toBe(false);
  });

  it('a mail without XDM still yields its attachments to file', async () => {
    const raw = await composeMail({
      from: DR,
      to: [PATIENT],
      subject: 'Scan',
      text: 'ci-joint',
      attachments: [{ filename: 'scan.pdf', contentType: 'application/pdf', bytes: Buffer.from('%PDF-1.4 test') }],
    });
    const filed = await documentsFromMail(await parseMail(raw));
    expect(filed).toMatchObject({
      kind: 'attachments',
      attachments: [{ filename: 'scan.pdf', contentType: 'application/pdf' }],
    });
  });

  it('derives X-MSS-CODECDA / X-MSS-INS from the CDA documents', () => {
    const header = readCdaHeader(parseCda(readFileSync(new URL('../cda/fr-cr-consultation.xml', FIXTURES))));
    expect(mssanteHeadersForCda([header])).toEqual({ codeCda: ['11488-4'], ins: 'O' });
    const noTraits = { ...header, patient: { ...header.patient, birthTime: undefined } } as unknown as typeof header;
    expect(mssanteHeadersForCda([noTraits]).ins).toBe('N');
    expect(mssanteHeadersForCda([])).toEqual({ codeCda: [] });
  });
});

describe('receipts', () => {
  it('a read receipt (MDN) composed for a message is recognized, with the original Message-ID', async () => {
    const original = await parseMail(
      await composeMail({ from: DR, to: [PATIENT], subject: 'CR', text: 'x', requestReadReceipt: true }),
    );
    const mdn = await parseMail(
      await composeReadReceipt({
        from: PATIENT,
        to: original.dispositionNotificationTo!,
        originalMessageId: original.messageId!,
        originalSubject: 'CR',
      }),
    );
    expect(mdn.receipt).toEqual({
      kind: 'mdn',
      disposition: 'displayed',
      originalMessageId: original.messageId,
      finalRecipient: PATIENT,
    });
    expect(mdn.inReplyTo).toBe(original.messageId);
    expect(mdn.attachments).toEqual([]);
  });

  it('a delivery status notification (Postfix bounce) is recognized', async () => {
    const dsn = await parseMail(readFileSync(new URL('dsn-failed.eml', FIXTURES)));
    expect(dsn.receipt).toMatchObject({
      kind: 'dsn',
      action: 'failed',
      status: '5.1.1',
      finalRecipient: 'inconnu@autre-ch.mssante.fr',
    });
    expect((dsn.receipt as { diagnostic?: string }).diagnostic).toContain('User unknown');
  });
});

describe('hostile and broken input', () => {
  it('refuses empty, non-message, oversized input and too many attachments', async () => {
    expect((await mailError(parseMail(Buffer.alloc(0)))).code).toBe(MailErrorCode.Empty);
    expect((await mailError(parseMail(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0])))).code).toBe(
      MailErrorCode.NotAMessage,
    );
    expect(
      (await mailError(parseMail(readFileSync(new URL('Attachments.eml', CORPUS)), { maxBytes: 1000 }))).code,
    ).toBe(MailErrorCode.TooLarge);
    expect(
      (await mailError(parseMail(readFileSync(new URL('multipart_1To.eml', CORPUS)), { maxAttachments: 3 }))).code,
    ).toBe(MailErrorCode.TooManyAttachments);
  });

  it('refuses header injection in MSSanté header values; a subject with line breaks cannot add headers', async () => {
    expect(
      (
        await mailError(
          composeMail({
            from: DR,
            to: [PATIENT],
            subject: 's',
            text: 't',
            mssante: { codeCda: ['11488-4\r\nBcc: evil@example.org'] },
          }),
        )
      ).code,
    ).toBe(MailErrorCode.BadHeaderValue);
    const mail = await parseMail(
      await composeMail({ from: DR, to: [PATIENT], subject: 'CR\r\nBcc: evil@example.org', text: 't' }),
    );
    expect(mail.headers['bcc']).toBeUndefined();
    expect(mail.to.map((a) => a.address)).toEqual([PATIENT]);
  });

  it('reads wrongly encoded parts without crashing: latin-1 body, unknown charset, broken base64, deep nesting', async () => {
    const latin1 = Buffer.concat([
      Buffer.from(
        'From: a@b.fr\r\nSubject: =?ISO-8859-1?Q?R=E9sultat?=\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\nR',
      ),
      Buffer.from([0xe9]),
      Buffer.from('sultat\r\n'),
    ]);
    const m1 = await parseMail(latin1);
    expect(m1.subject).toBe('Résultat');
    expect(m1.text?.trim()).toBe('Résultat');
    const unknown = Buffer.from('From: a@b.fr\r\nContent-Type: text/plain; charset=x-klingon\r\n\r\nbonjour\r\n');
    expect((await parseMail(unknown)).text?.trim()).toBe('bonjour');
    const brokenB64 = Buffer.from(
      'From: a@b.fr\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: application/zip; name=IHE_XDM.ZIP\r\nContent-Transfer-Encoding: base64\r\n\r\n@@@!!!not base64***\r\n--b--\r\n',
    );
    const m3 = await parseMail(brokenB64);
    expect(m3.xdmZip).toBeDefined();
    await expect(documentsFromMail(m3)).rejects.toThrow(/Not a readable zip/);
    let nested = 'leaf\r\n';
    for (let i = 0; i < 150; i++)
      nested = `Content-Type: multipart/mixed; boundary=b${i}\r\n\r\n--b${i}\r\n${nested}--b${i}--\r\n`;
    const m4 = await parseMail(Buffer.from(`From: a@b.fr\r\n${nested}`));
    expect(m4.from[0]!.address).toBe('a@b.fr');
  });
});
