// The ITI-41 Document Source against a real peer: a second hub's /xds/repository over HTTP. The peer is down first
// (the delivery is retried, each failure recorded), then up (delivered, its RegistryResponse kept); a submission the
// peer refuses is dead-lettered at once with the peer's answer.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AvailabilityStatus, StoredQueryId } from '../../adapters/xds/index.js';
import type { DeliveryRecord } from '../../engine/message-store.js';
import { frenchSubmission, TEST_PATIENT_ID } from '../../fixtures/xds/french-submission.js';
import { openTestHub, type TestHub } from '../../test/hub-harness.js';
import { documentsModule, type DocumentsModule } from '../documents/documents-module.js';
import { provideAndRegister, registryErrorCodes, storedQuery } from './test-support.js';

const CDA = readFileSync(new URL('../../fixtures/cda/fr-cr-consultation.xml', import.meta.url));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/** Waits for a condition on the deliveries of a message (a guard against a hang, not a performance threshold). */
async function deliveries(
  documents: DocumentsModule,
  messageId: string,
  until: (d: DeliveryRecord[]) => boolean,
): Promise<DeliveryRecord[]> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const d = await documents.messages!.deliveries(messageId);
    if (until(d)) return d;
    if (Date.now() > deadline)
      throw new Error(`deliveries of ${messageId} never reached the expected state: ${JSON.stringify(d)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('ITI-41 Document Source to an external repository', () => {
  let source: TestHub;
  let peer: TestHub | undefined;
  let sourceDocs: DocumentsModule;
  let port: number;

  beforeAll(async () => {
    port = await freePort();
    sourceDocs = documentsModule({
      config: {
        repositoryUniqueId: '1.2.250.1.999.7.10',
        sourceId: '1.2.250.1.999.7',
        destinations: [
          {
            kind: 'xds',
            name: 'dmp',
            url: `http://127.0.0.1:${port}/xds/repository`,
            timeoutMs: 10_000,
            retry: { maxAttempts: 100, initialDelayMs: 50, maxDelayMs: 200 },
          },
        ],
      },
      env: {},
      deliveryPollMs: 100,
    });
    source = await openTestHub('embedded', { modules: [sourceDocs] });
  }, 120_000);

  afterAll(async () => {
    await peer?.close();
    await source?.close();
  });

  it('retries while the repository is down, delivers once it is up, and keeps its answer; a refusal is dead-lettered with the answer', async () => {
    const objects = frenchSubmission(CDA);
    objects.documentEntries[0]!.mimeType = 'text/xml';
    objects.documentEntries[0]!.uniqueId = '1.2.250.1.999.8.1';
    objects.submissionSets[0]!.uniqueId = '1.2.250.1.999.8.2';
    expect(
      registryErrorCodes(
        await provideAndRegister(source, objects, [{ id: 'Document01', bytes: CDA, mimeType: 'text/xml' }]),
      ),
    ).toMatchObject({ status: 'Success' });
    const found = await source.hub.app.inject({
      method: 'GET',
      url: '/fhir/DocumentReference?identifier=urn:ietf:rfc:3986|urn:oid:1.2.250.1.999.8.1',
      headers: source.auth,
    });
    const docId = (found.json() as { entry: { resource: { id: string } }[] }).entry[0]!.resource.id;

    const send = () =>
      source.hub.app.inject({
        method: 'POST',
        url: '/admin/documents/outbound',
        headers: { ...source.auth, 'content-type': 'application/json' },
        payload: { destination: 'dmp', documentReferences: [docId], title: 'Envoi DMP' },
      });
    const queued = await send();
    expect(queued.statusCode, queued.body).toBe(202);
    const { messageId } = queued.json() as { messageId: string };

    // Down: connection refused, retried (attempts counted, the error kept), still pending.
    const failing = await deliveries(sourceDocs, messageId, (d) => d[0]!.attempts >= 3);
    expect(failing[0]).toMatchObject({ destination: 'dmp', status: 'pending' });
    expect(failing[0]!.lastError).toMatch(/ECONNREFUSED/);

    // Up: a second hub listening on that port is the external repository.
    peer = await openTestHub('embedded', {
      modules: [
        documentsModule({
          config: { repositoryUniqueId: '1.2.250.1.999.7.20', xds: { authentication: 'none' } },
          env: {},
        }),
      ],
      env: { KENEY_HTTP_PORT: String(port) },
    });
    const sent = await deliveries(sourceDocs, messageId, (d) => d[0]!.status === 'sent');
    expect(sent[0]!.response).toContain('urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Success');
    const atPeer = await storedQuery(peer, StoredQueryId.findDocuments, {
      $XDSDocumentEntryPatientId: TEST_PATIENT_ID,
      $XDSDocumentEntryStatus: [AvailabilityStatus.approved],
    });
    const entry = atPeer.objects.documentEntries.find((e) => e.uniqueId === '1.2.250.1.999.8.1')!;
    expect(entry).toMatchObject({
      typeCode: objects.documentEntries[0]!.typeCode,
      classCode: objects.documentEntries[0]!.classCode,
      repositoryUniqueId: '1.2.250.1.999.7.20',
    });
    const detail = await source.hub.app.inject({
      method: 'GET',
      url: `/admin/documents/outbound/${messageId}`,
      headers: source.auth,
    });
    expect((detail.json() as { message: { status: string } }).message.status).toBe('sent');

    // The same document again in a new submission set: the peer refuses it for good — dead letter, answer kept.
    const again = await send();
    const refused = await deliveries(
      sourceDocs,
      (again.json() as { messageId: string }).messageId,
      (d) => d[0]!.status === 'dead',
    );
    expect(refused[0]!.attempts).toBe(1);
    expect(refused[0]!.lastError).toMatch(/XDSRegistryMetadataError/);
    expect(refused[0]!.response).toContain('ResponseStatusType:Failure');
  });

  it('refuses to queue what cannot be sent: unknown destination, unknown document, no documents', async () => {
    const post = (payload: object) =>
      source.hub.app.inject({
        method: 'POST',
        url: '/admin/documents/outbound',
        headers: { ...source.auth, 'content-type': 'application/json' },
        payload,
      });
    expect((await post({ destination: 'nowhere', documentReferences: ['x'] })).statusCode).toBe(404);
    const unknown = await post({ destination: 'dmp', documentReferences: ['does-not-exist'] });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.body).toContain('DocumentReference/does-not-exist');
    expect((await post({ destination: 'dmp', documentReferences: [] })).statusCode).toBe(400);
    expect((await post({ destination: 'dmp' })).statusCode).toBe(400);
  });
});
