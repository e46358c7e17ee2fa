// Acceptance 3 against a real mail server on loopback (Postfix + Dovecot, scripts/services/mail.sh):
// - hub A sends stored documents by MSSanté (SMTP submission, STARTTLS + AUTH, an XDM zip) to dr.test@…; hub B reads
//   dr.test's mailbox over IMAPS and files the same documents with the same metadata; the read receipt sent
//   back reaches hub A's own mailbox and moves the mail's tracking to "displayed";
// - the two XDM zips of the corpus, sent by another MSSanté client, are both filed;
// - a mail without XDM becomes one DocumentReference with its attachments;
// - a refusing server (unknown recipient) dead-letters the mail with its answer;
// - hub B's own SMTP listener: TLS required, no relay, size limit, a broken XDM kept in error with a 550;
// - IMAP through a TLS front that requires a client certificate: refused without one, read with one.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Bundle, DocumentReference } from '@medplum/fhirtypes';
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composeMail, composeReadReceipt } from '../../adapters/mime/index.js';
import { AvailabilityStatus, StoredQueryId } from '../../adapters/xds/index.js';
import { frenchSubmission, TEST_INS, TEST_INS_OID, TEST_PATIENT_ID } from '../../fixtures/xds/french-submission.js';
import { hasService } from '../../test/services.js';
import { openTestHub, type TestHub } from '../../test/hub-harness.js';
import { documentsModule, type DocumentsModule } from '../documents/documents-module.js';
import { provideAndRegister, registryErrorCodes, storedQuery } from '../xds/test-support.js';
import type { ImapMailboxSource } from './imap-source.js';

const run = promisify(execFile);
const SCRIPT = new URL('../../scripts/services/mail.sh', import.meta.url).pathname;
const CDA = readFileSync(new URL('../../fixtures/cda/fr-cr-consultation.xml', import.meta.url));
const XDM = new URL('../../../shared/corpus/xdm/directproject-nhin-d/', import.meta.url);
const DR = 'dr.test@ch-test.mssante.fr';
const HUB = 'hub@ch-test.mssante.fr';
const PATIENT = `${TEST_INS}@patient.mssante.fr`;

/** Waits for a condition (a guard against a hang, not a performance threshold: loopback delivery takes milliseconds). */
async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(`${what}: not reached within ${timeoutMs / 1000} s (see .work/mail/postfix/maillog)`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe.skipIf(!hasService('mail'))('MSSanté connectors through Postfix + Dovecot', () => {
  let env: Record<string, string> = {};
  let startedHere = false;
  let ca: string;
  let certs: { dir: string; ca: string; serverCert: string; serverKey: string; clientCert: string; clientKey: string };
  let a: TestHub;
  let b: TestHub;
  let docsA: DocumentsModule;
  let docsB: DocumentsModule;
  let front: TlsServer;
  let frontPort = 0;

  async function emptyMailbox(user: string): Promise<void> {
    const client = new ImapFlow({
      host: '127.0.0.1',
      port: Number(env['KENEY_MAIL_IMAPS_PORT']),
      secure: true,
      auth: { user, pass: env['KENEY_MAIL_PASSWORD']! },
      tls: { ca },
      logger: false,
    });
    await client.connect();
    const lock = await client.getMailboxLock('INBOX');
    try {
      if ((client.mailbox as { exists: number }).exists > 0) await client.messageDelete('1:*');
    } finally {
      lock.release();
      await client.logout();
    }
  }

  const smtpAs = (user: string) =>
    nodemailer.createTransport({
      host: '127.0.0.1',
      port: Number(env['KENEY_MAIL_SUBMISSION_PORT']),
      secure: false,
      requireTLS: true,
      auth: { user, pass: env['KENEY_MAIL_PASSWORD']! },
      tls: { ca },
    });

  beforeAll(async () => {
    const status = await run(SCRIPT, ['status']).then(
      () => 'running',
      () => 'stopped',
    );
    if (status === 'stopped') {
      await run(SCRIPT, ['start'], { timeout: 120_000 });
      startedHere = true;
    }
    env = Object.fromEntries(
      (await run(SCRIPT, ['env'])).stdout
        .trim()
        .split('\n')
        .map((l) => l.split('=') as [string, string]),
    );
    ca = readFileSync(env['KENEY_MAIL_CA']!, 'utf8');
    for (const user of [DR, HUB, PATIENT]) await emptyMailbox(user);
    certs = await makeCertificates();

    // A TLS front for Dovecot's IMAP port that requires a client certificate from the test CA.
    front = createTlsServer(
      { cert: certs.serverCert, key: certs.serverKey, ca: certs.ca, requestCert: true, rejectUnauthorized: true },
      (socket) => {
        const upstream = netConnect(Number(env['KENEY_MAIL_IMAP_PORT']), '127.0.0.1');
        socket.pipe(upstream).pipe(socket);
        socket.on('error', () => upstream.destroy());
        upstream.on('error', () => socket.destroy());
      },
    );
    front.on('tlsClientError', () => undefined);
    await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
    frontPort = (front.address() as { port: number }).port;

    const password = env['KENEY_MAIL_PASSWORD']!;
    docsA = documentsModule({
      config: {
        repositoryUniqueId: '1.2.250.1.999.7.31',
        sourceId: '1.2.250.1.999.7',
        senderName: 'Keney Hub A (test)',
        destinations: [
          {
            kind: 'mssante',
            name: 'mail',
            host: '127.0.0.1',
            port: Number(env['KENEY_MAIL_SUBMISSION_PORT']),
            secure: false,
            user: HUB,
            password,
            from: HUB,
            tls: { ca },
            retry: { maxAttempts: 3, initialDelayMs: 50, maxDelayMs: 200 },
          },
          {
            kind: 'mssante',
            name: 'wrong-password',
            host: '127.0.0.1',
            port: Number(env['KENEY_MAIL_SUBMISSION_PORT']),
            secure: false,
            user: HUB,
            password: 'not-the-password',
            from: HUB,
            tls: { ca },
            retry: { maxAttempts: 3, initialDelayMs: 50, maxDelayMs: 200 },
          },
        ],
        // Polling every 10 minutes: what arrives during a test arrives by IDLE.
        mailboxes: [
          {
            kind: 'imap',
            name: 'hub',
            host: '127.0.0.1',
            port: Number(env['KENEY_MAIL_IMAPS_PORT']),
            secure: true,
            user: HUB,
            password,
            tls: { ca },
            pollIntervalMs: 600_000,
          },
        ],
      },
      env: {},
      deliveryPollMs: 100,
    });
    docsB = documentsModule({
      config: {
        repositoryUniqueId: '1.2.250.1.999.7.32',
        mailboxes: [
          {
            kind: 'imap',
            name: 'dr',
            host: '127.0.0.1',
            port: Number(env['KENEY_MAIL_IMAPS_PORT']),
            secure: true,
            user: DR,
            password,
            tls: { ca },
            pollIntervalMs: 600_000,
          },
          {
            kind: 'smtp',
            name: 'inbound',
            host: '127.0.0.1',
            port: 0,
            tls: { cert: certs.serverCert, key: certs.serverKey },
            acceptDomains: ['ch-b.mssante.fr'],
            maxMessageBytes: 256 * 1024,
          },
          {
            kind: 'imap',
            name: 'with-cert',
            host: '127.0.0.1',
            port: frontPort,
            secure: true,
            user: PATIENT,
            password,
            tls: { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey, servername: 'localhost' },
            pollIntervalMs: 5000,
          },
          {
            kind: 'imap',
            name: 'without-cert',
            host: '127.0.0.1',
            port: frontPort,
            secure: true,
            user: PATIENT,
            password,
            tls: { ca: certs.ca, servername: 'localhost' },
            pollIntervalMs: 5000,
          },
        ],
      },
      env: {},
    });
    a = await openTestHub('embedded', { modules: [docsA] });
    b = await openTestHub('embedded', { modules: [docsB] });
  }, 240_000);

  afterAll(async () => {
    await a?.close();
    await b?.close();
    await new Promise<void>((resolve) => (front ? front.close(() => resolve()) : resolve()));
    if (certs) await rm(certs.dir, { recursive: true, force: true });
    if (startedHere) await run(SCRIPT, ['stop']);
  });

  /** DocumentReferences hub B filed from a mailbox channel. */
  async function filedBy(hub: TestHub, uniqueId: string): Promise<DocumentReference | undefined> {
    const r = await hub.hub.app.inject({
      method: 'GET',
      url: `/fhir/DocumentReference?identifier=urn:ietf:rfc:3986|urn:oid:${uniqueId}`,
      headers: hub.auth,
    });
    return (r.json() as Bundle).entry?.[0]?.resource as DocumentReference | undefined;
  }

  it('acceptance 3: a message with an XDM zip sent by our SMTP destination is received by our IMAP source and filed as the same documents with the same metadata; the read receipt is tracked', async () => {
    const objects = frenchSubmission(CDA);
    objects.documentEntries[0]!.mimeType = 'text/xml';
    objects.documentEntries[0]!.uniqueId = '1.2.250.1.999.11.1';
    objects.submissionSets[0]!.uniqueId = '1.2.250.1.999.11.2';
    expect(
      registryErrorCodes(
        await provideAndRegister(a, objects, [{ id: 'Document01', bytes: CDA, mimeType: 'text/xml' }]),
      ),
    ).toMatchObject({ status: 'Success' });
    const original = (
      await storedQuery(a, StoredQueryId.getDocuments, { $XDSDocumentEntryUniqueId: ['1.2.250.1.999.11.1'] })
    ).objects.documentEntries[0]!;
    const docA = (await filedBy(a, '1.2.250.1.999.11.1'))!;

    const queued = await a.hub.app.inject({
      method: 'POST',
      url: '/admin/documents/outbound',
      headers: { ...a.auth, 'content-type': 'application/json' },
      payload: { destination: 'mail', documentReferences: [docA.id], to: [DR], subject: 'CR de consultation' },
    });
    expect(queued.statusCode, queued.body).toBe(202);
    const { messageId, mailMessageId } = queued.json() as { messageId: string; mailMessageId: string };

    // Hub B's IMAP source (IDLE) files it: same document, same metadata.
    const docB = await until('the document filed by hub B', () => filedBy(b, '1.2.250.1.999.11.1'));
    const entryB = (
      await storedQuery(b, StoredQueryId.getDocuments, { $XDSDocumentEntryUniqueId: ['1.2.250.1.999.11.1'] })
    ).objects.documentEntries[0]!;
    const strip = ({ id: _i, repositoryUniqueId: _r, ...rest }: typeof original) => rest;
    expect(strip(entryB)).toEqual(strip(original));
    const bytes = await b.hub.app.inject({
      method: 'GET',
      url: `/fhir/${docB.content[0]!.attachment.url}`,
      headers: b.auth,
    });
    expect(bytes.rawPayload.equals(CDA)).toBe(true);
    // Its Provenance names the mailbox channel; the raw mail is in B's message store.
    const prov = await b.hub.app.inject({
      method: 'GET',
      url: `/fhir/Provenance?target=DocumentReference/${docB.id}`,
      headers: b.auth,
    });
    expect(JSON.stringify(prov.json())).toContain('mssante-dr');
    const mails = await docsB.messages!.search({ channel: 'mssante-dr', controlId: mailMessageId, limit: 5 });
    expect(mails.messages.map((m) => m.status)).toEqual(['sent']);
    expect((await docsB.messages!.raw(mails.messages[0]!.id)).toString('latin1')).toContain('X-MSS-CODECDA: 11488-4');

    // Hub A: delivered to the MTA (250 kept), then the recipient's read receipt comes back to hub@ and is tracked.
    await until('the delivery to the MTA', async () =>
      (await docsA.messages!.deliveries(messageId))[0]?.status === 'sent' ? true : undefined,
    );
    expect((await docsA.messages!.deliveries(messageId))[0]!.response).toMatch(/^250/);
    const transport = smtpAs(DR);
    await transport.sendMail({
      envelope: { from: DR, to: [HUB] },
      raw: await composeReadReceipt({
        from: DR,
        to: HUB,
        originalMessageId: mailMessageId,
        originalSubject: 'CR de consultation',
      }),
    });
    transport.close();
    const tracked = await until('the read receipt', async () => {
      const t = await docsA.tracking!.byMessageId(messageId);
      return t?.status === 'displayed' ? t : undefined;
    });
    expect(tracked.events.map((e) => e.kind)).toEqual(['smtp', 'mdn']);
    // The receipt itself is a message of hub A's mailbox channel, linked from the tracking event.
    const receiptId = tracked.events[1]!.receiptMessageId!;
    const receipt = await until('the receipt recorded', async () => {
      const m = await docsA.messages!.get(receiptId);
      return m.status === 'sent' ? m : undefined;
    });
    expect(receipt.channel).toBe('mssante-hub');
    expect((await docsA.messages!.raw(receiptId)).toString('latin1')).toContain('disposition-notification');
  });

  it('acceptance 3: the two XDM zips of the corpus are both filed (the second is the same submission: recognized, not duplicated)', async () => {
    const transport = smtpAs(HUB);
    for (const file of ['xd-common-samplexdm.zip', 'xdmail-samplexdm-backslash-paths.zip']) {
      const raw = await composeMail({
        from: HUB,
        to: [DR],
        subject: `XDM ${file}`,
        text: 'XDM',
        xdmZip: await readFile(new URL(file, XDM)),
      });
      await transport.sendMail({ envelope: { from: HUB, to: [DR] }, raw });
    }
    transport.close();
    const doc = await until('the corpus XDM document filed', () => filedBy(b, '1.3.6.1.4.1.21367.2005.3.9999.32'));
    const messages = await until('both XDM mails processed', async () => {
      const found = (await docsB.messages!.search({ channel: 'mssante-dr', limit: 20 })).messages.filter(
        (m) => m.status !== 'received',
      );
      const xdm = await Promise.all(
        found.map(async (m) => ({ m, raw: (await docsB.messages!.raw(m.id)).toString('latin1') })),
      );
      const both = xdm.filter((x) => /Subject: XDM /.test(x.raw));
      return both.length === 2 ? both : undefined;
    });
    expect(messages.map((x) => x.m.status)).toEqual(['sent', 'sent']);
    const bytes = await b.hub.app.inject({
      method: 'GET',
      url: `/fhir/${doc.content[0]!.attachment.url}`,
      headers: b.auth,
    });
    expect(bytes.rawPayload.toString('utf8')).toContain('ClinicalDocument');
    const all = await b.hub.app.inject({
      method: 'GET',
      url: '/fhir/DocumentReference?identifier=urn:ietf:rfc:3986|urn:oid:1.3.6.1.4.1.21367.2005.3.9999.32',
      headers: b.auth,
    });
    expect((all.json() as Bundle).entry).toHaveLength(1);
  });

  it('a mail without XDM becomes one DocumentReference with its attachments, about the patient of its CDA', async () => {
    const pdf = Buffer.from('%PDF-1.4\n% résumé\n%%EOF\n');
    const transport = smtpAs(HUB);
    const raw = await composeMail({
      from: HUB,
      to: [DR],
      subject: 'Pièces jointes sans XDM',
      text: 'Ci-joint.',
      attachments: [
        { filename: 'cr.xml', contentType: 'text/xml', bytes: CDA },
        { filename: 'ordonnance.pdf', contentType: 'application/pdf', bytes: pdf },
      ],
    });
    await transport.sendMail({ envelope: { from: HUB, to: [DR] }, raw });
    transport.close();
    const doc = await until('the attachments filed', async () => {
      const r = await b.hub.app.inject({
        method: 'GET',
        url: `/fhir/DocumentReference?patient.identifier=urn:oid:${TEST_INS_OID}|${TEST_INS}`,
        headers: b.auth,
      });
      return ((r.json() as Bundle).entry ?? [])
        .map((e) => e.resource as DocumentReference)
        .find((d) => d.description === 'Pièces jointes sans XDM');
    });
    expect(doc.content.map((c) => [c.attachment.contentType, c.attachment.title])).toEqual([
      ['text/xml', 'cr.xml'],
      ['application/pdf', 'ordonnance.pdf'],
    ]);
    const second = await b.hub.app.inject({
      method: 'GET',
      url: `/fhir/${doc.content[1]!.attachment.url}`,
      headers: { ...b.auth, accept: 'application/pdf' },
    });
    expect(second.rawPayload.equals(pdf)).toBe(true);
    expect(doc.type?.coding?.[0]?.code).toBe('11488-4');
    // It is in the registry view too, for XDS consumers.
    const found = await storedQuery(b, StoredQueryId.findDocuments, {
      $XDSDocumentEntryPatientId: TEST_PATIENT_ID,
      $XDSDocumentEntryStatus: [AvailabilityStatus.approved],
    });
    expect(found.objects.documentEntries.some((e) => e.comments === 'Pièces jointes sans XDM')).toBe(true);
  });

  it("a mail server that refuses: an unknown recipient and a wrong password are dead-lettered with the server's answer", async () => {
    const objects = frenchSubmission(CDA);
    objects.documentEntries[0]!.mimeType = 'text/xml';
    objects.documentEntries[0]!.uniqueId = '1.2.250.1.999.11.3';
    objects.submissionSets[0]!.uniqueId = '1.2.250.1.999.11.4';
    await provideAndRegister(a, objects, [{ id: 'Document01', bytes: CDA, mimeType: 'text/xml' }]);
    const docA = (await filedBy(a, '1.2.250.1.999.11.3'))!;
    const send = async (destination: string, to: string) => {
      const res = await a.hub.app.inject({
        method: 'POST',
        url: '/admin/documents/outbound',
        headers: { ...a.auth, 'content-type': 'application/json' },
        payload: { destination, documentReferences: [docA.id], to: [to] },
      });
      expect(res.statusCode, res.body).toBe(202);
      return (res.json() as { messageId: string }).messageId;
    };
    const unknown = await send('mail', 'nobody@nowhere.example');
    const dead = await until('the refusal', async () =>
      (await docsA.messages!.deliveries(unknown))[0]?.status === 'dead'
        ? (await docsA.messages!.deliveries(unknown))[0]
        : undefined,
    );
    expect(dead.attempts).toBe(1);
    expect(dead.response).toMatch(/^5\d\d/);
    const login = await send('wrong-password', DR);
    const refused = await until('the login refusal', async () =>
      (await docsA.messages!.deliveries(login))[0]?.status === 'dead'
        ? (await docsA.messages!.deliveries(login))[0]
        : undefined,
    );
    expect(refused.lastError).toMatch(/check the destination's user and password/);
  });

  it("hub B's SMTP listener: 250 once filed; TLS required; no relay; size limit; a broken XDM kept in error with a 550", async () => {
    const port = (docsB.mailboxes.get('inbound') as unknown as { port: number }).port;
    const direct = (options: { ignoreTLS?: boolean } = {}) =>
      nodemailer.createTransport({
        host: '127.0.0.1',
        port,
        secure: false,
        ...(options.ignoreTLS ? { ignoreTLS: true } : { requireTLS: true }),
        tls: { ca: certs.ca, servername: 'localhost' },
      });
    const mail = async (to: string, extra: Partial<Parameters<typeof composeMail>[0]> = {}) =>
      composeMail({
        from: 'dr.x@ch-a.mssante.fr',
        to: [to],
        subject: 'direct',
        text: 'Bonjour',
        attachments: [{ filename: 'cr.xml', contentType: 'text/xml', bytes: CDA }],
        ...extra,
      });

    const ok = await direct().sendMail({
      envelope: { from: 'dr.x@ch-a.mssante.fr', to: ['dr.y@ch-b.mssante.fr'] },
      raw: await mail('dr.y@ch-b.mssante.fr'),
    });
    expect(ok.response).toMatch(/^250 .*Filed as message/);

    await expect(
      direct().sendMail({
        envelope: { from: 'a@ch-a.mssante.fr', to: ['x@elsewhere.example'] },
        raw: await mail('x@elsewhere.example'),
      }),
    ).rejects.toMatchObject({ responseCode: 550 });
    await expect(
      direct({ ignoreTLS: true }).sendMail({
        envelope: { from: 'a@ch-a.mssante.fr', to: ['dr.y@ch-b.mssante.fr'] },
        raw: await mail('dr.y@ch-b.mssante.fr'),
      }),
    ).rejects.toMatchObject({ responseCode: 530 });
    const huge = await mail('dr.y@ch-b.mssante.fr', {
      attachments: [
        { filename: 'big.bin', contentType: 'application/octet-stream', bytes: Buffer.alloc(400 * 1024, 7) },
      ],
    });
    await expect(
      direct().sendMail({ envelope: { from: 'a@ch-a.mssante.fr', to: ['dr.y@ch-b.mssante.fr'] }, raw: huge }),
    ).rejects.toMatchObject({ responseCode: 552 });

    const broken = await mail('dr.y@ch-b.mssante.fr', {
      xdmZip: Buffer.from('PK\u0003\u0004 this is not a zip'),
      attachments: [],
    });
    const error = (await direct()
      .sendMail({ envelope: { from: 'a@ch-a.mssante.fr', to: ['dr.y@ch-b.mssante.fr'] }, raw: broken })
      .catch((e: unknown) => e)) as { responseCode?: number; response?: string };
    expect(error.responseCode).toBe(550);
    expect(error.response).toMatch(/IHE_XDM\.ZIP cannot be read/);
    const kept = (await docsB.messages!.search({ channel: 'mssante-inbound', status: ['error'], limit: 10 })).messages;
    expect(kept.length).toBeGreaterThanOrEqual(1);
  });

  it('IMAP with a client certificate where the server requires one: refused without, read with', async () => {
    const transport = smtpAs(HUB);
    await transport.sendMail({
      envelope: { from: HUB, to: [PATIENT] },
      raw: await composeMail({
        from: HUB,
        to: [PATIENT],
        subject: 'Pour le patient',
        text: 'Votre compte rendu.',
        attachments: [{ filename: 'cr.xml', contentType: 'text/xml', bytes: CDA }],
      }),
    });
    transport.close();
    const withCert = docsB.mailboxes.get('with-cert') as ImapMailboxSource;
    const withoutCert = docsB.mailboxes.get('without-cert') as ImapMailboxSource;
    await until('a mail read through the client-certificate front', async () => {
      await withCert.sync();
      return withCert.status().filed > 0 ? true : undefined;
    });
    expect(withCert.status()).toMatchObject({ connected: true, lastError: null });
    const refused = await until(
      'the refusal without a client certificate',
      async () => withoutCert.status().lastError ?? undefined,
    );
    expect(withoutCert.status().connected).toBe(false);
    expect(refused).toBeTruthy();
    expect(withoutCert.status().filed).toBe(0);
  });
});

/** A throw-away CA, a server certificate for localhost and a client certificate, made with openssl. */
async function makeCertificates() {
  const dir = await mkdtemp(join(tmpdir(), 'keney-mssante-certs-'));
  const p = (n: string) => join(dir, n);
  const ssl = (...args: string[]) => run('openssl', args, { cwd: dir });
  await ssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=Keney test CA',
    '-keyout',
    p('ca.key'),
    '-out',
    p('ca.pem'),
  );
  for (const [name, subject, ext] of [
    ['server', '/CN=localhost', 'subjectAltName=DNS:localhost,IP:127.0.0.1'],
    ['client', '/CN=hub.ch-b.mssante.fr', 'extendedKeyUsage=clientAuth'],
  ] as const) {
    await ssl(
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      subject,
      '-keyout',
      p(`${name}.key`),
      '-out',
      p(`${name}.csr`),
    );
    await run('sh', ['-c', `printf '%s\\n' '${ext}' > ${name}.ext`], { cwd: dir });
    await ssl(
      'x509',
      '-req',
      '-in',
      p(`${name}.csr`),
      '-CA',
      p('ca.pem'),
      '-CAkey',
      p('ca.key'),
      '-CAcreateserial',
      '-days',
      '2',
      '-extfile',
      p(`${name}.ext`),
      '-out',
      p(`${name}.pem`),
    );
  }
  const read = (n: string) => readFile(p(n), 'utf8');
  return {
    dir,
    ca: await read('ca.pem'),
    serverCert: await read('server.pem'),
    serverKey: await read('server.key'),
    clientCert: await read('client.pem'),
    clientKey: await read('client.key'),
  };
}
