// XDS.b and MHD end to end through the hub's HTTP endpoints, on every available profile (embedded PGlite + SQL log;
// PostgreSQL + SQL log; PostgreSQL + Kafka): acceptance 1 (the corpus samples accepted or refused with the exact
// XDS code, the ITI-18 injection sample does nothing, XXE refused) and acceptance 2 (ITI-41 → ITI-18 / ITI-67,
// ITI-43 / ITI-68 byte-identical; and the reverse from ITI-65).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Bundle, DocumentReference, List, Provenance } from '@medplum/fhirtypes';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AvailabilityStatus, parseSubmitObjectsRequest, SoapAction, StoredQueryId } from '../../adapters/xds/index.js';
import type { XmlElement } from '../../adapters/xml/index.js';
import { frenchSubmission, TEST_INS, TEST_INS_OID, TEST_PATIENT_ID } from '../../fixtures/xds/french-submission.js';
import { HUB_PROFILES, openTestHub, type TestHub } from '../../test/hub-harness.js';
import { documentsModule, type DocumentsModule } from '../documents/documents-module.js';
import {
  corpusBody,
  post,
  provideAndRegister,
  readCorpus,
  readResponse,
  registryErrorCodes,
  retrieve,
  soapRequest,
  storedQuery,
} from './test-support.js';

const CDA = readFileSync(new URL('../../fixtures/cda/fr-cr-consultation.xml', import.meta.url));
const REPOSITORY = '1.2.250.1.999.7.1';
const SOAP = 'application/soap+xml; charset=UTF-8';

function mtomCorpus(path: string): { payload: Buffer; contentType: string } {
  const bytes = readCorpus(path);
  const boundary = bytes.toString('latin1').split(/\r?\n/)[0]!.slice(2);
  return {
    payload: bytes,
    contentType: `multipart/related; boundary="${boundary}"; type="application/xop+xml"; start-info="application/soap+xml"`,
  };
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

      const mhd = await t.hub.app.inject({
        method: 'GET',
        url: `/fhir/DocumentReference?patient.identifier=urn:oid:${TEST_INS_OID}|${TEST_INS}&status=current`,
        headers: t.auth,
      });
      expect(mhd.statusCode).toBe(200);
      const doc = (mhd.json() as Bundle)
        .entry!.map((e) => e.resource as DocumentReference)
        .find((d) => d.masterIdentifier?.value === `urn:oid:${entry.uniqueId}`)!;
      expect(doc).toBeDefined();
      expect(doc.identifier?.[0]?.value).toBe(entry.id);

      const retrieved = await retrieve(t, REPOSITORY, [entry.uniqueId!]);
      expect(retrieved.issues).toEqual([]);
      expect(Buffer.from(retrieved.documents[0]!.bytes).equals(CDA)).toBe(true);
      expect(retrieved.documents[0]!.mimeType).toBe('text/xml');

      const binary = await t.hub.app.inject({
        method: 'GET',
        url: `/fhir/${doc.content[0]!.attachment.url}`,
        headers: t.auth,
      });
      expect(binary.statusCode).toBe(200);
      expect(binary.headers['content-type']).toMatch(/^text\/xml/);
      expect(binary.rawPayload.equals(CDA)).toBe(true);

      // In the patient's record, with Provenance pointing to the raw message kept in the message store.
      const provenance = await t.hub.app.inject({
        method: 'GET',
        url: `/fhir/Provenance?target=DocumentReference/${doc.id}`,
        headers: t.auth,
      });
      const prov = (provenance.json() as Bundle).entry?.[0]?.resource as Provenance;
      expect(prov).toBeDefined();
      const messageId = prov.entity
        ?.flatMap((e) => (e.what.identifier ? [e.what.identifier] : []))
        .find((i) => i.system === 'urn:keney:message')?.value;
      expect(messageId).toBeDefined();
      const raw = await documents.messages!.raw(messageId!);
      expect(raw.includes(CDA)).toBe(true);
    });

    it('acceptance 1: the ITI-41 corpus samples through /xds/repository — accepted, or refused with the exact XDS code', async () => {
      const pnr = async (file: string) => {
        const { payload, contentType } = soapRequest(
          corpusBody(`jembi-openhim-mediator-xds/${file}`),
          SoapAction.provideAndRegister,
        );
        return registryErrorCodes(await post(t, '/xds/repository', payload, contentType));
      };
      expect(await pnr('pnr2.xml')).toMatchObject({ status: 'Success', codes: [] });
      for (const file of ['pnr1.xml', 'pnr3.xml', 'pnr-no-epid.xml', 'pnr_e2e.xml']) {
        expect(await pnr(file), file).toMatchObject({ status: 'Failure', codes: ['XDSPatientIdDoesNotMatch'] });
      }
      expect(await pnr('pnr-no-elid.xml')).toMatchObject({
        status: 'Failure',
        codes: ['XDSPatientIdDoesNotMatch', 'XDSRegistryMetadataError'],
      });

      // MTOM: the request is read through its xop:Include; the answer is MTOM too.
      const mtom = mtomCorpus('jembi-openhim-mediator-xds/pnr_e2e_mtom.xml');
      const mtomRes = await post(t, '/xds/repository', mtom.payload, mtom.contentType);
      expect(String(mtomRes.headers['content-type'])).toMatch(/^multipart\/related/);
      expect(registryErrorCodes(mtomRes)).toMatchObject({ status: 'Failure', codes: ['XDSPatientIdDoesNotMatch'] });

      // Not SOAP at all: a SOAP Sender fault with HTTP 400, and the raw kept in the message store in error.
      for (const file of ['PnRBasicMtom.xml', 'PnRModifiedMtom.xml', 'pnrResponse_e2e.xml']) {
        const m = mtomCorpus(`jembi-openhim-mediator-xds/${file}`);
        const res = await post(t, '/xds/repository', m.payload, m.contentType);
        expect(res.statusCode, file).toBe(400);
        expect(readResponse(res).fault, file).toBeTruthy();
      }
      const errors = await documents.messages!.search({ channel: 'xds-repository', status: ['error'], limit: 100 });
      expect(errors.messages.filter((m) => m.messageType === 'SOAP').length).toBeGreaterThanOrEqual(3);

      // The accepted sample is in the registry: pnr2's document, retrieved as it was sent.
      const pnr2 = await storedQuery(t, StoredQueryId.getDocuments, { $XDSDocumentEntryUniqueId: ['2009.9.1.2455'] });
      expect(pnr2.objects.documentEntries).toHaveLength(1);
      const got = await retrieve(t, REPOSITORY, ['2009.9.1.2455']);
      expect(Buffer.from(got.documents[0]!.bytes).toString()).toBe('My test document');
    });

    it('acceptance 1: the ebRIM SubmitObjectsRequests through /xds/registry (ITI-42)', async () => {
      const register = async (path: string) => {
        const { payload, contentType } = soapRequest(corpusBody(path), SoapAction.register);
        return registryErrorCodes(await post(t, '/xds/registry', payload, contentType));
      };
      expect(await register('oehf-ipf/ebrim/submission-set.xml')).toMatchObject({ status: 'Success', codes: [] });
      for (const file of [
        'SubmitObjectsRequest_ebrs30.xml',
        'SubmitObjectsRequest_ebrs30_2.xml',
        'SubmitObjectsRequest_ebrs3_extra_metadata.xml',
        'SubmitObjectsRequest_ebrs30_update_nonstandard_association.xml',
        'SubmitObjectsRequest_ebrs30_update_sameLid.xml',
      ]) {
        expect(await register(`oehf-ipf/ebrim/${file}`), file).toMatchObject({
          status: 'Failure',
          codes: ['XDSRegistryMetadataError'],
        });
      }
      expect(await register('jembi-openhim-mediator-xds/RegisterDocumentSet-bRequest_SOAP.xml')).toMatchObject({
        status: 'Failure',
        codes: ['XDSRegistryMetadataError'],
      });
      // A metadata update whose association targets an entry this registry never had.
      expect(await register('oehf-ipf/ebrim/SubmitObjectsRequest_ebrs30_update.xml')).toMatchObject({
        status: 'Failure',
        codes: ['UnresolvedReferenceException'],
      });
      // Not XML at all.
      const notXml = await post(t, '/xds/registry', readCorpus('directproject-nhin-d/submitobjectrequest.xml'), SOAP);
      expect(notXml.statusCode).toBe(400);
      expect(readResponse(notXml).fault).toMatch(/line 1/);
      // ITI-42 registers metadata only: the extra slots come back from the registry as they were sent.
      const sent = parseSubmitObjectsRequest(corpusBody('oehf-ipf/ebrim/submission-set.xml')).objects
        .documentEntries[0]!;
      const registered = await storedQuery(t, StoredQueryId.getDocuments, {
        $XDSDocumentEntryUniqueId: [sent.uniqueId!],
      });
      expect(registered.objects.documentEntries).toHaveLength(1);
      const { id: _a, status: _b, ...back } = registered.objects.documentEntries[0]!;
      const { id: _c, status: _d, ...original } = sent;
      expect(back).toEqual(original);
    });

    it('acceptance 1: the ITI-18 corpus samples — the injection payload does nothing; unknown queries named', async () => {
      const before = await t.hub.app.inject({ method: 'GET', url: '/admin/store/status', headers: t.auth });
      const counts = (before.json() as { resources: Record<string, number> }).resources;
      const injection = registryErrorCodesOfQuery(
        await post(
          t,
          '/xds/registry',
          soapRequest(corpusBody('oehf-ipf/ebrim/iti18request.xml'), SoapAction.registryStoredQuery).payload,
          SOAP,
        ),
      );
      expect(injection).toEqual({ status: 'Failure', codes: ['XDSRegistryError'] });
      const after = await t.hub.app.inject({ method: 'GET', url: '/admin/store/status', headers: t.auth });
      expect((after.json() as { resources: Record<string, number> }).resources).toEqual(counts);

      const iti51 = registryErrorCodesOfQuery(
        await post(
          t,
          '/xds/registry',
          soapRequest(corpusBody('oehf-ipf/ebrim/iti51request.xml'), SoapAction.registryStoredQuery).payload,
          SOAP,
        ),
      );
      expect(iti51).toEqual({ status: 'Failure', codes: ['XDSUnknownStoredQuery'] });
      const plain = registryErrorCodesOfQuery(
        await post(t, '/xds/registry', readCorpus('jembi-openhim-mediator-xds/adhocQueryRequest_wSOAP.xml'), SOAP),
      );
      expect(plain).toEqual({ status: 'Success', codes: [] });
      const enriched = registryErrorCodesOfQuery(
        await post(
          t,
          '/xds/registry',
          readCorpus('jembi-openhim-mediator-xds/adhocQueryRequest_enriched_wSOAP.xml'),
          SOAP,
        ),
      );
      expect(enriched).toEqual({ status: 'Failure', codes: ['XDSRegistryError'] });

      // Well-formed hostile values are only strings: no match, nothing changed.
      for (const value of [
        "x' OR '1'='1",
        "'; DROP TABLE resources; --",
        'x") or (//*[1]',
        '%',
        "277077505600991^^^&1.2.250.1.213.1.4.10&ISO' OR 1=1",
      ]) {
        const q = await storedQuery(t, StoredQueryId.findDocuments, {
          $XDSDocumentEntryPatientId: `${value}^^^&1.2.3&ISO`,
          $XDSDocumentEntryStatus: [AvailabilityStatus.approved],
        });
        // A value that still reads as a CX finds nothing; one that does not is refused by the grammar.
        if (q.status === 'Success') expect(q.objects.documentEntries, value).toEqual([]);
        else expect(q.codes, value).toEqual(['XDSRegistryError']);
        if (value === '%') continue; // the XDS wildcard: matches every author, as it should
        const author = await storedQuery(t, StoredQueryId.findDocuments, {
          $XDSDocumentEntryPatientId: TEST_PATIENT_ID,
          $XDSDocumentEntryStatus: [AvailabilityStatus.approved],
          $XDSDocumentEntryAuthorPerson: [value],
        });
        expect(author.status, value).toBe('Success');
        expect(author.objects.documentEntries, value).toEqual([]);
      }
      const final = await t.hub.app.inject({ method: 'GET', url: '/admin/store/status', headers: t.auth });
      expect((final.json() as { resources: Record<string, number> }).resources).toEqual(counts);
    });

    it('acceptance 1: an XXE attempt is refused — in a SOAP request, in an MTOM root part, in a stored query', async () => {
      const xxe = `<?xml version="1.0"?><!DOCTYPE e [<!ENTITY x SYSTEM "file:///etc/passwd">]><soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"><soap:Body><q>&x;</q></soap:Body></soap:Envelope>`;
      for (const path of ['/xds/repository', '/xds/registry']) {
        const res = await post(t, path, xxe, SOAP);
        expect(res.statusCode).toBe(400);
        expect(readResponse(res).fault).toMatch(/DOCTYPE/i);
        expect(res.body).not.toContain('root:');
      }
      const boundary = 'b0';
      const mtom = Buffer.from(
        `--${boundary}\r\nContent-Type: application/xop+xml; type="application/soap+xml"\r\nContent-ID: <root>\r\n\r\n${xxe}\r\n--${boundary}--\r\n`,
      );
      const res = await post(
        t,
        '/xds/repository',
        mtom,
        `multipart/related; boundary=${boundary}; type="application/xop+xml"; start="<root>"`,
      );
      expect(res.statusCode).toBe(400);
      expect(readResponse(res).fault).toMatch(/DOCTYPE/i);
    });

    it('the reverse: a document provided by MHD ITI-65 is found by ITI-18 and ITI-67, retrieved byte-identical by ITI-43 and ITI-68', async () => {
      const pdf = Buffer.concat([
        Buffer.from('%PDF-1.4\n'),
        Buffer.from(Array.from({ length: 2048 }, (_, i) => i % 256)),
        Buffer.from('\n%%EOF\n'),
      ]);
      const patient = await t.hub.app.inject({
        method: 'PUT',
        url: `/fhir/Patient?identifier=urn:oid:${TEST_INS_OID}|${TEST_INS}`,
        headers: { ...t.auth, 'content-type': 'application/fhir+json' },
        payload: {
          resourceType: 'Patient',
          identifier: [{ system: `urn:oid:${TEST_INS_OID}`, value: TEST_INS }],
          name: [{ family: 'TEST', given: ['MARIE'] }],
        },
      });
      expect(patient.statusCode).toBeLessThan(300);
      const patientId = (patient.json() as { id: string }).id;
      const uniqueId = `1.2.250.1.999.9.${profile.length}65`;
      // Sent as a client may write it (indented): the message store keeps these bytes, not a re-serialization.
      const sentBody = JSON.stringify(mhdBundle(patientId, uniqueId, pdf), null, 2);
      const res = await t.hub.app.inject({
        method: 'POST',
        url: '/fhir',
        headers: { ...t.auth, 'content-type': 'application/fhir+json' },
        payload: sentBody,
      });
      expect(res.statusCode, res.body).toBe(200);
      const response = res.json() as Bundle;
      expect(response.type).toBe('transaction-response');
      const docLocation = response
        .entry!.map((e) => e.response!.location!)
        .find((l) => l.includes('/DocumentReference/'))!;
      expect(docLocation).toMatch(/^http/);

      const found = await storedQuery(t, StoredQueryId.findDocuments, {
        $XDSDocumentEntryPatientId: TEST_PATIENT_ID,
        $XDSDocumentEntryStatus: [AvailabilityStatus.approved],
        $XDSDocumentEntryClassCode: ['10^^1.2.250.1.213.1.1.4.1'],
      });
      const entry = found.objects.documentEntries.find((e) => e.uniqueId === uniqueId)!;
      expect(entry).toMatchObject({
        mimeType: 'application/pdf',
        repositoryUniqueId: REPOSITORY,
        size: String(pdf.length),
        hash: createHash('sha1').update(pdf).digest('hex'),
        patientId: TEST_PATIENT_ID,
      });
      expect(entry.id).toBe('urn:uuid:5e2a4f0c-1111-4c2e-9d3a-000000000001');
      const retrieved = await retrieve(t, REPOSITORY, [uniqueId]);
      expect(Buffer.from(retrieved.documents[0]!.bytes).equals(pdf)).toBe(true);

      const search = await t.hub.app.inject({
        method: 'GET',
        url: `/fhir/DocumentReference?identifier=urn:ietf:rfc:3986|urn:oid:${uniqueId}`,
        headers: t.auth,
      });
      const doc = (search.json() as Bundle).entry![0]!.resource as DocumentReference;
      const bytes = await t.hub.app.inject({
        method: 'GET',
        url: `/fhir/${doc.content[0]!.attachment.url}`,
        headers: { ...t.auth, accept: 'application/pdf' },
      });
      expect(bytes.rawPayload.equals(pdf)).toBe(true);
      // The same Binary as FHIR JSON carries the bytes as data.
      const json = await t.hub.app.inject({
        method: 'GET',
        url: `/fhir/${doc.content[0]!.attachment.url}`,
        headers: { ...t.auth, accept: 'application/fhir+json' },
      });
      expect(Buffer.from((json.json() as { data: string }).data, 'base64').equals(pdf)).toBe(true);

      // ITI-66: the SubmissionSet List, found by the patient and its code.
      const lists = await t.hub.app.inject({
        method: 'GET',
        url: `/fhir/List?patient.identifier=urn:oid:${TEST_INS_OID}|${TEST_INS}&code=https://profiles.ihe.net/ITI/MHD/CodeSystem/MHDlistTypes|submissionset`,
        headers: t.auth,
      });
      expect(
        (lists.json() as Bundle).entry!.map(
          (e) => (e.resource as List).identifier?.find((i) => i.use === 'usual')?.value,
        ),
      ).toContain(`urn:oid:${uniqueId}.1`);

      // In the patient's record with Provenance, pointing to the request kept as received in the message store (mhd).
      const provenance = await t.hub.app.inject({
        method: 'GET',
        url: `/fhir/Provenance?target=DocumentReference/${doc.id}`,
        headers: t.auth,
      });
      const prov = (provenance.json() as Bundle).entry?.[0]?.resource as Provenance;
      expect(prov).toBeDefined();
      const messageId = prov.entity
        ?.flatMap((e) => (e.what.identifier ? [e.what.identifier] : []))
        .find((i) => i.system === 'urn:keney:message')?.value;
      expect(messageId).toBeDefined();
      expect(await documents.messages!.get(messageId!)).toMatchObject({
        channel: 'mhd',
        messageType: 'ITI-65',
        status: 'sent',
      });
      expect((await documents.messages!.raw(messageId!)).toString('utf8')).toBe(sentBody);
    });
  });
}

function registryErrorCodesOfQuery(res: LightMyRequestResponse): { status: string; codes: string[] } {
  const r = readResponse(res);
  if (r.fault) throw new Error(r.fault);
  const status = r.body.attributes.find((a) => a.local === 'status')?.value ?? '';
  const codes = [...r.body.children]
    .filter((c) => c.kind === 'element' && c.local === 'RegistryErrorList')
    .flatMap((l) => (l as XmlElement).children.filter((c) => c.kind === 'element'))
    .map((e) => (e as XmlElement).attributes.find((a) => a.local === 'errorCode')?.value ?? '');
  return { status: status.split(':').pop()!, codes: [...new Set(codes)].sort() };
}

/** An MHD Comprehensive ITI-65 Provide Document Bundle (as a Document Source would send it). */
function mhdBundle(patientId: string, uniqueId: string, pdf: Buffer): Bundle {
  const docUrl = 'urn:uuid:5e2a4f0c-1111-4c2e-9d3a-000000000001';
  const binUrl = 'urn:uuid:5e2a4f0c-1111-4c2e-9d3a-000000000002';
  const setUrl = 'urn:uuid:5e2a4f0c-1111-4c2e-9d3a-000000000003';
  return {
    resourceType: 'Bundle',
    meta: { profile: ['https://profiles.ihe.net/ITI/MHD/StructureDefinition/IHE.MHD.Comprehensive.ProvideBundle'] },
    type: 'transaction',
    entry: [
      {
        fullUrl: setUrl,
        resource: {
          resourceType: 'List',
          meta: {
            profile: ['https://profiles.ihe.net/ITI/MHD/StructureDefinition/IHE.MHD.Comprehensive.SubmissionSet'],
          },
          extension: [
            {
              url: 'https://profiles.ihe.net/ITI/MHD/StructureDefinition/ihe-sourceId',
              valueIdentifier: { system: 'urn:ietf:rfc:3986', value: 'urn:oid:1.2.250.1.999.9' },
            },
            {
              url: 'https://profiles.ihe.net/ITI/MHD/StructureDefinition/ihe-designationType',
              valueCodeableConcept: { coding: [{ system: 'http://loinc.org', code: '11488-4' }] },
            },
          ],
          identifier: [{ use: 'usual', system: 'urn:ietf:rfc:3986', value: `urn:oid:${uniqueId}.1` }],
          status: 'current',
          mode: 'working',
          code: {
            coding: [{ system: 'https://profiles.ihe.net/ITI/MHD/CodeSystem/MHDlistTypes', code: 'submissionset' }],
          },
          subject: { reference: `Patient/${patientId}` },
          date: '2024-03-01T10:00:00Z',
          entry: [{ item: { reference: docUrl } }],
        },
        request: { method: 'POST', url: 'List' },
      },
      {
        fullUrl: docUrl,
        resource: {
          resourceType: 'DocumentReference',
          meta: {
            profile: ['https://profiles.ihe.net/ITI/MHD/StructureDefinition/IHE.MHD.Comprehensive.DocumentReference'],
          },
          contained: [
            {
              resourceType: 'Practitioner',
              id: 'a1',
              identifier: [{ system: 'urn:oid:1.2.250.1.71.4.2.1', value: '810000012345' }],
              name: [{ family: 'MEDECIN', given: ['JEAN'] }],
            },
            { resourceType: 'Patient', id: 'sp', identifier: [{ system: 'urn:oid:1.2.250.1.999.5', value: 'IPP123' }] },
          ],
          masterIdentifier: { use: 'usual', system: 'urn:ietf:rfc:3986', value: `urn:oid:${uniqueId}` },
          status: 'current',
          type: { coding: [{ system: 'http://loinc.org', code: '11488-4' }] },
          category: [{ coding: [{ system: 'urn:oid:1.2.250.1.213.1.1.4.1', code: '10' }] }],
          subject: { reference: `Patient/${patientId}` },
          author: [{ reference: '#a1' }],
          securityLabel: [
            { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality', code: 'N' }] },
          ],
          content: [
            {
              attachment: {
                contentType: 'application/pdf',
                language: 'fr-FR',
                url: binUrl,
                creation: '2024-03-01T09:00:00Z',
                title: 'CR',
              },
              format: { system: 'urn:oid:1.2.250.1.213.1.1.4.2.282', code: 'urn:ihe:iti:xds-sd:pdf:2008' },
            },
          ],
          context: {
            facilityType: { coding: [{ system: 'urn:oid:1.2.250.1.71.4.2.4', code: 'SA09' }] },
            practiceSetting: { coding: [{ system: 'urn:oid:1.2.250.1.213.1.1.4.9', code: 'ETABLISSEMENT' }] },
            sourcePatientInfo: { reference: '#sp' },
          },
        },
        request: { method: 'POST', url: 'DocumentReference' },
      },
      {
        fullUrl: binUrl,
        resource: { resourceType: 'Binary', contentType: 'application/pdf', data: pdf.toString('base64') },
        request: { method: 'POST', url: 'Binary' },
      },
    ],
  };
}
