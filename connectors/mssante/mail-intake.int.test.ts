// The MailIntake with hostile and broken mail (no mail server needed, the embedded store): every mail is kept in
// the message store — filed, or in error with what to fix — and nothing broken reaches the record.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Bundle } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composeMail, composeReadReceipt } from '../../adapters/mime/index.js';
import { writeXdm, writeZip } from '../../adapters/xdm/index.js';
import { buildSubmitObjectsRequest } from '../../adapters/xds/index.js';
import { serializeXml } from '../../adapters/xml/index.js';
import { frenchSubmission } from '../../fixtures/xds/french-submission.js';
import { openTestHub, type TestHub } from '../../test/hub-harness.js';
import { documentsModule, type DocumentsModule } from '../documents/documents-module.js';
import { DocumentJournal } from '../documents/journal.js';
import { MailIntake } from './mail-intake.js';

const CDA = readFileSync(new URL('../../fixtures/cda/fr-cr-consultation.xml', import.meta.url));
const META = { channel: 'mssante-test', source: 'test' };

describe('MailIntake (embedded store)', () => {
  let t: TestHub;
  let docs: DocumentsModule;
  let intake: MailIntake;

  beforeAll(async () => {
    docs = documentsModule({ config: { repositoryUniqueId: '1.2.250.1.999.7.40' }, env: {} });
    t = await openTestHub('embedded', { modules: [docs] });
    // The intake writes to the module's message store, as the mailboxes' intake does.
    intake = new MailIntake({
      registry: () => docs.registry!,
      journal: () => new DocumentJournal(docs.messages!),
      store: () => t.hub.context.store,
      tracking: () => docs.tracking!,
      logger: t.hub.context.logger,
    });
  }, 120_000);
  afterAll(async () => {
    await t?.close();
  });

  const documentCount = async () => {
    const r = await t.hub.app.inject({ method: 'GET', url: '/fhir/DocumentReference?_summary=count', headers: t.auth });
    return (r.json() as Bundle).total ?? 0;
  };

  it('broken input is kept in error with the reason, never filed: empty, binary, XDM that is not a zip, path traversal, XXE, a document that does not match its metadata', async () => {
    const before = await documentCount();
    const objects = frenchSubmission(CDA);
    objects.documentEntries[0]!.mimeType = 'text/xml';
    // yazl will not write "../": write a same-length name, then patch it in the local header and central directory.
    const traversal = await writeZip([
      { path: 'IHE_XDM/SUBSET01/METADATA.XML', bytes: Buffer.from('<x/>') },
      { path: 'zz/zz/etc/passwd', bytes: Buffer.from('root:x:0:0') },
    ]);
    for (let i = traversal.indexOf('zz/zz/'); i >= 0; i = traversal.indexOf('zz/zz/', i + 1))
      traversal.write('../../', i, 'latin1');
    const xxe = await writeZip([
      {
        path: 'IHE_XDM/SUBSET01/METADATA.XML',
        bytes: Buffer.from('<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>'),
      },
    ]);
    // METADATA.XML that states the CDA's hash and size, beside a document that is not the CDA.
    const stated = structuredClone(objects);
    stated.documentEntries[0]!.uri = 'DOC0001.XML';
    stated.documentEntries[0]!.hash = createHash('sha1').update(CDA).digest('hex');
    stated.documentEntries[0]!.size = String(CDA.length);
    const tampered = await writeZip([
      { path: 'IHE_XDM/SUBSET01/METADATA.XML', bytes: Buffer.from(serializeXml(buildSubmitObjectsRequest(stated))) },
      { path: 'IHE_XDM/SUBSET01/DOC0001.XML', bytes: Buffer.concat([CDA, Buffer.from('<!-- altered -->')]) },
    ]);
    const cases: [string, Buffer, RegExp][] = [
      ['empty', Buffer.alloc(0), /MAIL_EMPTY|empty/],
      ['binary', Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 37) % 256)), /.+/],
      [
        'not a zip',
        await composeMail({
          from: 'a@b.mssante.fr',
          to: ['c@d.mssante.fr'],
          subject: 's',
          text: 't',
          xdmZip: Buffer.from('PK\u0003\u0004 garbage'),
        }),
        /IHE_XDM\.ZIP cannot be read/,
      ],
      [
        'traversal',
        await composeMail({
          from: 'a@b.mssante.fr',
          to: ['c@d.mssante.fr'],
          subject: 's',
          text: 't',
          xdmZip: traversal,
        }),
        /IHE_XDM\.ZIP cannot be read/,
      ],
      [
        'xxe',
        await composeMail({ from: 'a@b.mssante.fr', to: ['c@d.mssante.fr'], subject: 's', text: 't', xdmZip: xxe }),
        /DOCTYPE|metadata/i,
      ],
    ];
    for (const [name, raw, reason] of cases) {
      const outcome = await intake.receive(raw, META);
      expect(outcome.status, name).toBe('refused');
      if (outcome.status === 'refused') {
        expect(outcome.reason, name).toMatch(reason);
        const kept = await docs.messages!.get(outcome.messageId);
        expect(kept.status, name).toBe('error');
        expect((await docs.messages!.raw(outcome.messageId)).equals(raw), name).toBe(true);
      }
    }
    const outcome = await intake.receive(
      await composeMail({ from: 'a@b.mssante.fr', to: ['c@d.mssante.fr'], subject: 's', text: 't', xdmZip: tampered }),
      META,
    );
    expect(outcome.status).toBe('refused');
    if (outcome.status === 'refused') expect(outcome.reason).toMatch(/hash [0-9a-f]{40} does not match the document/);
    expect(await documentCount()).toBe(before);
  });

  it('the same mail twice is one message (a reconnect before \\Seen, an MTA retry): the second is a duplicate', async () => {
    const objects = frenchSubmission(CDA);
    objects.documentEntries[0]!.mimeType = 'text/xml';
    objects.documentEntries[0]!.uniqueId = '1.2.250.1.999.12.1';
    objects.submissionSets[0]!.uniqueId = '1.2.250.1.999.12.2';
    const raw = await composeMail({
      from: 'dr@ch-a.mssante.fr',
      to: ['dr@ch-b.mssante.fr'],
      subject: 'CR',
      text: 'CR',
      xdmZip: await writeXdm(objects, [{ entryId: 'Document01', bytes: CDA }], { sender: 'test' }),
      messageId: '<fixed-id@test>',
    });
    const first = await intake.receive(raw, META);
    expect(first.status).toBe('filed');
    const second = await intake.receive(raw, META);
    expect(second).toEqual({ status: 'duplicate', messageId: first.messageId });
    const docsFound = await t.hub.app.inject({
      method: 'GET',
      url: '/fhir/DocumentReference?identifier=urn:ietf:rfc:3986|urn:oid:1.2.250.1.999.12.1',
      headers: t.auth,
    });
    expect((docsFound.json() as Bundle).entry).toHaveLength(1);
  });

  it('a receipt for a mail this hub never sent is kept with a warning; one for a tracked mail updates it', async () => {
    const stray = await intake.receive(
      await composeReadReceipt({
        from: 'x@a.mssante.fr',
        to: 'y@b.mssante.fr',
        originalMessageId: '<never-sent@elsewhere>',
      }),
      META,
    );
    expect(stray.status).toBe('receipt');
    const kept = await docs.messages!.get(stray.messageId);
    expect(kept.warnings.map((w) => w.code)).toEqual(['untracked-receipt']);

    await docs.tracking!.queued('<sent-by-us@keney.hub>', '01a20c23-0000-7000-8000-000000000001', 'mail', [
      'y@b.mssante.fr',
    ]);
    const receipt = await intake.receive(
      await composeReadReceipt({
        from: 'y@b.mssante.fr',
        to: 'x@a.mssante.fr',
        originalMessageId: '<sent-by-us@keney.hub>',
        disposition: 'displayed',
      }),
      META,
    );
    expect(receipt.status).toBe('receipt');
    const tracked = await docs.tracking!.byMailMessageId('<sent-by-us@keney.hub>');
    expect(tracked).toMatchObject({
      status: 'displayed',
      events: [{ kind: 'mdn', status: 'displayed', receiptMessageId: receipt.messageId }],
    });
  });
});
