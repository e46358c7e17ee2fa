// The registry's behaviour a user relies on, through the HTTP endpoints (embedded profile): stored queries and their
// returns, replays, duplicates, replacement, folders, hostile transport input, MHD errors, the CDA view.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Bundle, DocumentReference, List } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AssociationType,
  AvailabilityStatus,
  buildProvideAndRegisterRequest,
  SoapAction,
  StoredQueryId,
  type RegistryObjectList,
} from '../../adapters/xds/index.js';
import { NARRATIVE_TAGS } from '../../adapters/cda/test-support.js';
import { parseXml } from '../../adapters/xml/index.js';
import { frenchSubmission, TEST_INS, TEST_INS_OID, TEST_PATIENT_ID } from '../../fixtures/xds/french-submission.js';
import { openTestHub, type TestHub } from '../../test/hub-harness.js';
import { documentsModule, type DocumentsModule } from '../documents/documents-module.js';
import {
  post,
  provideAndRegister,
  readResponse,
  registryErrorCodes,
  retrieve,
  soapRequest,
  storedQuery,
} from './test-support.js';

const CDA = readFileSync(new URL('../../fixtures/cda/fr-cr-consultation.xml', import.meta.url));
const HOSTILE_CDA = readFileSync(new URL('../../fixtures/cda/hostile.xml', import.meta.url));
const REPOSITORY = '1.2.250.1.999.7.2';
let serial = 0;

/** A French submission with fresh ids; `bytes` as a CDA document. */
function submission(bytes: Buffer = CDA, extra: (o: RegistryObjectList) => void = () => {}) {
  serial++;
  const objects = frenchSubmission(bytes);
  const entry = objects.documentEntries[0]!;
  entry.mimeType = 'text/xml';
  entry.uniqueId = `1.2.250.1.999.3.${serial}`;
  objects.submissionSets[0]!.uniqueId = `1.2.250.1.999.4.${serial}`;
  extra(objects);
  return objects;
}

async function submit(t: TestHub, objects: RegistryObjectList, bytes: Buffer = CDA) {
  return registryErrorCodes(
    await provideAndRegister(
      t,
      objects,
      objects.documentEntries.map((e) => ({ id: e.id, bytes, mimeType: e.mimeType ?? 'text/xml' })),
    ),
  );
}

async function entryByUniqueId(t: TestHub, uniqueId: string) {
  const q = await storedQuery(t, StoredQueryId.getDocuments, { $XDSDocumentEntryUniqueId: [uniqueId] });
  return q.objects.documentEntries[0];
}

describe('XDS registry behaviour (embedded)', () => {
  let t: TestHub;
  let documents: DocumentsModule;

  beforeAll(async () => {
    documents = documentsModule({
      config: { repositoryUniqueId: REPOSITORY, xds: { maxRequestBytes: 512 * 1024 } },
      env: {},
    });
    t = await openTestHub('embedded', { modules: [documents] });
  }, 120_000);
  afterAll(async () => {
    await t?.close();
  });

  it('FindSubmissionSets, GetSubmissionSetAndContents and GetAssociations return what was submitted, as LeafClass or ObjectRef', async () => {
    const objects = submission();
    expect(await submit(t, objects)).toMatchObject({ status: 'Success' });
    const sets = await storedQuery(t, StoredQueryId.findSubmissionSets, {
      $XDSSubmissionSetPatientId: TEST_PATIENT_ID,
      $XDSSubmissionSetStatus: [AvailabilityStatus.approved],
    });
    const set = sets.objects.submissionSets.find((s) => s.uniqueId === objects.submissionSets[0]!.uniqueId)!;
    const { id: _i, status: _s, ...setBack } = set;
    const { id: _j, ...setSent } = objects.submissionSets[0]!;
    expect(setBack).toEqual(setSent);

    const contents = await storedQuery(t, StoredQueryId.getSubmissionSetAndContents, {
      $XDSSubmissionSetUniqueId: set.uniqueId!,
    });
    expect(contents.objects.submissionSets.map((s) => s.id)).toEqual([set.id]);
    expect(contents.objects.documentEntries.map((e) => e.uniqueId)).toEqual([objects.documentEntries[0]!.uniqueId]);
    const member = contents.objects.associations.find((a) => a.associationType === AssociationType.hasMember)!;
    expect(member).toMatchObject({
      sourceObject: set.id,
      targetObject: contents.objects.documentEntries[0]!.id,
      submissionSetStatus: 'Original',
    });

    const refs = await storedQuery(
      t,
      StoredQueryId.getSubmissionSetAndContents,
      { $XDSSubmissionSetEntryUUID: set.id },
      'ObjectRef',
    );
    expect(refs.objects.objectRefs.sort()).toEqual([set.id, contents.objects.documentEntries[0]!.id, member.id].sort());

    const assoc = await storedQuery(t, StoredQueryId.getAssociations, {
      $uuid: [contents.objects.documentEntries[0]!.id],
    });
    expect(assoc.objects.associations.map((a) => a.id)).toEqual([member.id]);

    const byUuid = await storedQuery(t, StoredQueryId.getDocuments, {
      $XDSDocumentEntryEntryUUID: [contents.objects.documentEntries[0]!.id],
    });
    expect(byUuid.objects.documentEntries.map((e) => e.uniqueId)).toEqual([objects.documentEntries[0]!.uniqueId]);
  });

  it('FindDocuments filters: codes (with their scheme), time ranges at the precision given, author wildcards, status', async () => {
    const objects = submission();
    expect(await submit(t, objects)).toMatchObject({ status: 'Success' });
    const uid = objects.documentEntries[0]!.uniqueId!;
    const find = async (params: Record<string, string | readonly string[]>) =>
      (
        await storedQuery(t, StoredQueryId.findDocuments, {
          $XDSDocumentEntryPatientId: TEST_PATIENT_ID,
          $XDSDocumentEntryStatus: [AvailabilityStatus.approved],
          ...params,
        })
      ).objects.documentEntries.some((e) => e.uniqueId === uid);
    expect(await find({ $XDSDocumentEntryClassCode: ['10^^1.2.250.1.213.1.1.4.1'] })).toBe(true);
    expect(await find({ $XDSDocumentEntryClassCode: ['10^^1.2.3.4'] })).toBe(false);
    expect(await find({ $XDSDocumentEntryTypeCode: ['11488-4^^2.16.840.1.113883.6.1'] })).toBe(true);
    expect(
      await find({ $XDSDocumentEntryCreationTimeFrom: '202401', $XDSDocumentEntryCreationTimeTo: '20240103' }),
    ).toBe(true);
    expect(await find({ $XDSDocumentEntryCreationTimeFrom: '20240102100001' })).toBe(false);
    expect(await find({ $XDSDocumentEntryServiceStartTimeTo: '20240102090000' })).toBe(false);
    expect(await find({ $XDSDocumentEntryAuthorPerson: ['%MEDECIN%'] })).toBe(true);
    expect(await find({ $XDSDocumentEntryAuthorPerson: ['_10000012345^MEDECIN%'] })).toBe(true);
    expect(await find({ $XDSDocumentEntryAuthorPerson: ['MEDECIN'] })).toBe(false);
    expect(await find({ $XDSDocumentEntryEventCodeList: ['ZZQK002^^1.2.250.1.213.2.5'] })).toBe(true);
    expect(await find({ $XDSDocumentEntryStatus: [AvailabilityStatus.deprecated] })).toBe(false);
  });

  it('the same submission twice is one submission (Success both times); a changed document under the same uniqueId is XDSNonIdenticalHash', async () => {
    const objects = submission();
    expect(await submit(t, objects)).toMatchObject({ status: 'Success' });
    expect(await submit(t, objects)).toMatchObject({ status: 'Success' });
    const docs = await t.hub.app.inject({
      method: 'GET',
      url: `/fhir/DocumentReference?identifier=urn:ietf:rfc:3986|urn:oid:${objects.documentEntries[0]!.uniqueId}`,
      headers: t.auth,
    });
    expect((docs.json() as Bundle).entry).toHaveLength(1);

    const changed = structuredClone(objects);
    changed.submissionSets[0]!.uniqueId += '.1';
    const other = Buffer.concat([CDA, Buffer.from('<!-- changed -->')]);
    const result = await submit(t, changed, other);
    expect(result).toMatchObject({ status: 'Failure', codes: ['XDSNonIdenticalHash'] });
    const again = structuredClone(objects);
    again.documentEntries[0]!.uniqueId += '.2';
    expect(await submit(t, again)).toMatchObject({ status: 'Failure', codes: ['XDSDuplicateUniqueIdInRegistry'] });
  });

  it('RPLC: the replacement is Approved, the replaced entry becomes Deprecated, and the association is returned', async () => {
    const first = submission();
    expect(await submit(t, first)).toMatchObject({ status: 'Success' });
    const old = (await entryByUniqueId(t, first.documentEntries[0]!.uniqueId!))!;
    const second = submission(CDA, (o) => {
      o.associations.push({
        kind: 'Association',
        id: 'Association02',
        associationType: AssociationType.replace,
        sourceObject: 'Document01',
        targetObject: old.id,
        extraSlots: [],
      });
    });
    expect(await submit(t, second)).toMatchObject({ status: 'Success' });
    expect((await entryByUniqueId(t, first.documentEntries[0]!.uniqueId!))!.status).toBe(AvailabilityStatus.deprecated);
    const replacement = (await entryByUniqueId(t, second.documentEntries[0]!.uniqueId!))!;
    expect(replacement.status).toBe(AvailabilityStatus.approved);
    const assoc = await storedQuery(t, StoredQueryId.getAssociations, { $uuid: [old.id] });
    expect(assoc.objects.associations.find((a) => a.associationType === AssociationType.replace)).toMatchObject({
      sourceObject: replacement.id,
      targetObject: old.id,
    });
    // A deprecated entry cannot be replaced again.
    const third = submission(CDA, (o) => {
      o.associations.push({
        kind: 'Association',
        id: 'Association02',
        associationType: AssociationType.replace,
        sourceObject: 'Document01',
        targetObject: old.id,
        extraSlots: [],
      });
    });
    expect(await submit(t, third)).toMatchObject({ status: 'Failure', codes: ['XDSRegistryMetadataError'] });
    // MHD sees the same: the old DocumentReference is superseded.
    const mhd = await t.hub.app.inject({
      method: 'GET',
      url: `/fhir/DocumentReference?identifier=urn:ietf:rfc:3986|urn:oid:${first.documentEntries[0]!.uniqueId}`,
      headers: t.auth,
    });
    expect(((mhd.json() as Bundle).entry![0]!.resource as DocumentReference).status).toBe('superseded');
  });

  it('folders: created with a document, then given another document by a later submission', async () => {
    const folderId = 'Folder01';
    const first = submission(CDA, (o) => {
      o.folders.push({
        kind: 'Folder',
        id: folderId,
        uniqueId: `1.2.250.1.999.5.${serial}`,
        patientId: TEST_PATIENT_ID,
        title: 'Dossier cardio',
        codeList: [{ code: '11488-4', codingScheme: '2.16.840.1.113883.6.1' }],
        extraSlots: [],
        limitedMetadata: false,
      });
      o.associations.push(
        {
          kind: 'Association',
          id: 'Association02',
          associationType: AssociationType.hasMember,
          sourceObject: 'SubmissionSet01',
          targetObject: folderId,
          extraSlots: [],
        },
        {
          kind: 'Association',
          id: 'Association03',
          associationType: AssociationType.hasMember,
          sourceObject: folderId,
          targetObject: 'Document01',
          extraSlots: [],
        },
      );
    });
    expect(await submit(t, first)).toMatchObject({ status: 'Success' });
    const contents = await storedQuery(t, StoredQueryId.getSubmissionSetAndContents, {
      $XDSSubmissionSetUniqueId: first.submissionSets[0]!.uniqueId!,
    });
    const folder = contents.objects.folders[0]!;
    expect(folder).toMatchObject({
      title: 'Dossier cardio',
      codeList: [{ code: '11488-4', codingScheme: '2.16.840.1.113883.6.1' }],
    });
    expect(
      contents.objects.associations
        .map((a) => [a.sourceObject === folder.id ? 'folder' : 'set', a.targetObject === folder.id ? 'folder' : 'doc'])
        .sort(),
    ).toEqual([
      ['folder', 'doc'],
      ['set', 'doc'],
      ['set', 'folder'],
    ]);
    const second = submission(CDA, (o) => {
      o.associations.push({
        kind: 'Association',
        id: 'Association02',
        associationType: AssociationType.hasMember,
        sourceObject: folder.id,
        targetObject: 'Document01',
        extraSlots: [],
      });
    });
    expect(await submit(t, second)).toMatchObject({ status: 'Success' });
    const lists = await t.hub.app.inject({
      method: 'GET',
      url: `/fhir/List?identifier=urn:ietf:rfc:3986|${folder.id}`,
      headers: t.auth,
    });
    expect(((lists.json() as Bundle).entry![0]!.resource as List).entry).toHaveLength(2);
  });

  it('hostile transport: a body over the limit, a bad boundary, a wrong action, JSON, no token, an unknown document', async () => {
    const big = buildProvideAndRegisterRequest(submission(), [
      { id: 'Document01', bytes: Buffer.alloc(600 * 1024, 0x41), mimeType: 'text/xml' },
    ]);
    const tooBig = await post(t, '/xds/repository', big.body, big.contentType);
    expect(tooBig.statusCode).toBe(413);
    expect(readResponse(tooBig).fault).toMatch(/larger than 524288 bytes/);

    const objects = submission();
    const good = buildProvideAndRegisterRequest(objects, [{ id: 'Document01', bytes: CDA, mimeType: 'text/xml' }]);
    const badBoundary = await post(
      t,
      '/xds/repository',
      good.body,
      good.contentType.replace(/boundary="[^"]+"/, 'boundary="nope"'),
    );
    expect(badBoundary.statusCode).toBe(400);
    expect(readResponse(badBoundary).fault).toMatch(/MTOM/);
    const truncated = await post(t, '/xds/repository', good.body.subarray(0, good.body.length - 200), good.contentType);
    expect(truncated.statusCode).toBe(400);

    const query = soapRequest(
      parseXml('<query:AdhocQueryRequest xmlns:query="urn:oasis:names:tc:ebxml-regrep:xsd:query:3.0"/>').root,
      SoapAction.registryStoredQuery,
    );
    const wrongPlace = await post(t, '/xds/repository', query.payload, query.contentType);
    expect(wrongPlace.statusCode).toBe(400);
    expect(readResponse(wrongPlace).fault).toMatch(/\/xds\/registry/);

    const json = await post(t, '/xds/registry', '{"resourceType":"Bundle"}', 'application/json');
    expect(json.statusCode).toBe(400);
    expect(readResponse(json).fault).toMatch(/not SOAP/);

    const anonymous = await post(t, '/xds/repository', good.body, good.contentType, false);
    expect(anonymous.statusCode).toBe(401);
    expect(readResponse(anonymous).fault).toMatch(/Bearer/);

    const unknown = await retrieve(t, REPOSITORY, ['1.2.3.999']);
    expect(unknown.issues.map((i) => i.code)).toEqual(['XDSDocumentUniqueIdError']);
    const elsewhere = await retrieve(t, '1.2.3.4', ['1.2.3.999']);
    expect(elsewhere.issues.map((i) => i.code)).toEqual(['XDSUnknownRepositoryId']);
    // Nothing of the refused requests reached the record.
    expect(await entryByUniqueId(t, objects.documentEntries[0]!.uniqueId!)).toBeUndefined();
  });

  it('MHD ITI-65 errors name the XDS rule: hash mismatch, no Binary, unknown patient, duplicate uniqueId', async () => {
    const patient = await t.hub.app.inject({
      method: 'PUT',
      url: `/fhir/Patient?identifier=urn:oid:${TEST_INS_OID}|${TEST_INS}`,
      headers: { ...t.auth, 'content-type': 'application/fhir+json' },
      payload: { resourceType: 'Patient', identifier: [{ system: `urn:oid:${TEST_INS_OID}`, value: TEST_INS }] },
    });
    const patientId = (patient.json() as { id: string }).id;
    const bytes = Buffer.from('%PDF-1.4 test\n');
    const send = (bundle: Bundle) =>
      t.hub.app.inject({
        method: 'POST',
        url: '/fhir',
        headers: { ...t.auth, 'content-type': 'application/fhir+json' },
        payload: bundle,
      });
    const bad = minimalProvideBundle(`Patient/${patientId}`, '1.2.250.1.999.6.1', bytes);
    (bad.entry![1]!.resource as DocumentReference).content[0]!.attachment.hash = createHash('sha1')
      .update('other')
      .digest('base64');
    const hash = await send(bad);
    expect(hash.statusCode).toBe(422);
    expect(hash.body).toContain('XDSRepositoryMetadataError');

    const noBinary = minimalProvideBundle(`Patient/${patientId}`, '1.2.250.1.999.6.2', bytes);
    noBinary.entry = noBinary.entry!.slice(0, 2);
    const nb = await send(noBinary);
    expect(nb.statusCode).toBe(400);
    expect(nb.body).toContain('names no Binary');

    const unknownPatient = await send(minimalProvideBundle('Patient/does-not-exist', '1.2.250.1.999.6.3', bytes));
    expect(unknownPatient.statusCode).toBe(422);
    expect(unknownPatient.body).toContain('XDSUnknownPatientId');

    const ok = minimalProvideBundle(`Patient/${patientId}`, '1.2.250.1.999.6.4', bytes);
    const okRes = await send(ok);
    expect(okRes.statusCode, okRes.body).toBe(200);
    const dup = minimalProvideBundle(`Patient/${patientId}`, '1.2.250.1.999.6.4', Buffer.from('%PDF-1.4 other\n'), '2');
    const d = await send(dup);
    expect(d.statusCode).toBe(409);
    expect(d.body).toContain('XDSNonIdenticalHash');

    // The same entryUUIDs under another uniqueId: an entryUUID names one object for ever.
    const reused = await send(minimalProvideBundle(`Patient/${patientId}`, '1.2.250.1.999.6.5', bytes));
    expect(reused.statusCode).toBe(409);
    expect(reused.body).toContain('entryUUID');

    // An ordinary transaction still goes to the store.
    const plain = await send({
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [{ request: { method: 'POST', url: 'Basic' }, resource: { resourceType: 'Basic', code: { text: 'x' } } }],
    });
    expect(plain.statusCode).toBe(200);
  });

  it('acceptance 4: a CDA renders to safe HTML with its sections; scripts do not survive; a PDF is not rendered', async () => {
    const cda = submission();
    expect(await submit(t, cda)).toMatchObject({ status: 'Success' });
    const hostile = submission(HOSTILE_CDA);
    expect(await submit(t, hostile, HOSTILE_CDA)).toMatchObject({ status: 'Success' });
    const idOf = async (uniqueId: string) => {
      const r = await t.hub.app.inject({
        method: 'GET',
        url: `/fhir/DocumentReference?identifier=urn:ietf:rfc:3986|urn:oid:${uniqueId}`,
        headers: t.auth,
      });
      return ((r.json() as Bundle).entry![0]!.resource as DocumentReference).id!;
    };
    const page = await t.hub.app.inject({
      method: 'GET',
      url: `/fhir/DocumentReference/${await idOf(cda.documentEntries[0]!.uniqueId!)}/$html`,
      headers: t.auth,
    });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.headers['content-security-policy']).toContain("default-src 'none'");
    for (const title of ['Motif de consultation', 'Conclusion']) expect(page.body).toContain(title);

    const evil = await t.hub.app.inject({
      method: 'GET',
      url: `/fhir/DocumentReference/${await idOf(hostile.documentEntries[0]!.uniqueId!)}/$html`,
      headers: t.auth,
    });
    expect(evil.statusCode).toBe(200);
    // Every tag is from the renderer's allow-list, no event attribute, no script URL (text shows escaped, harmless).
    const tags = [...evil.body.matchAll(/<\/?([a-zA-Z][a-zA-Z0-9-]*)([^>]*)>/g)];
    // The narrative's own tags, inside the page the hub wraps around it.
    const allowed = new Set([...NARRATIVE_TAGS, 'html', 'head', 'meta', 'title', 'body']);
    expect(tags.map((m) => m[1]!.toLowerCase()).filter((n) => !allowed.has(n))).toEqual([]);
    for (const [, , attrs] of tags) {
      expect(attrs).not.toMatch(/\son[a-z]+\s*=/i);
      expect(attrs).not.toMatch(/(href|src)\s*=\s*"\s*(javascript|vbscript|data:text)/i);
    }
    expect(evil.body).not.toContain('<script');

    const patient = await t.hub.app.inject({
      method: 'GET',
      url: `/fhir/Patient?identifier=urn:oid:${TEST_INS_OID}|${TEST_INS}`,
      headers: t.auth,
    });
    const pid = ((patient.json() as Bundle).entry![0]!.resource as { id: string }).id;
    const pdfBundle = minimalProvideBundle(`Patient/${pid}`, '1.2.250.1.999.6.9', Buffer.from('%PDF-1.4\n'), '9');
    const filed = await t.hub.app.inject({
      method: 'POST',
      url: '/fhir',
      headers: { ...t.auth, 'content-type': 'application/fhir+json' },
      payload: pdfBundle,
    });
    expect(filed.statusCode, filed.body).toBe(200);
    const pdf = await t.hub.app.inject({
      method: 'GET',
      url: `/fhir/DocumentReference/${await idOf('1.2.250.1.999.6.9')}/$html`,
      headers: t.auth,
    });
    expect(pdf.statusCode).toBe(415);
    expect(pdf.body).toContain('not a CDA document');
  });
});

/** A small Comprehensive ITI-65 Bundle: SubmissionSet, DocumentReference, Binary. */
export function minimalProvideBundle(subject: string, uniqueId: string, bytes: Buffer, suffix = '1'): Bundle {
  return {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: [
      {
        fullUrl: `urn:uuid:7d0f0000-0000-4000-8000-00000000${suffix.padStart(4, '0')}`,
        resource: {
          resourceType: 'List',
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
          identifier: [{ use: 'usual', system: 'urn:ietf:rfc:3986', value: `urn:oid:${uniqueId}.100` }],
          status: 'current',
          mode: 'working',
          code: {
            coding: [{ system: 'https://profiles.ihe.net/ITI/MHD/CodeSystem/MHDlistTypes', code: 'submissionset' }],
          },
          subject: { reference: subject },
          date: '2024-03-01T10:00:00Z',
          entry: [{ item: { reference: `urn:uuid:7d0f0000-0000-4000-8001-00000000${suffix.padStart(4, '0')}` } }],
        } as List,
        request: { method: 'POST', url: 'List' },
      },
      {
        fullUrl: `urn:uuid:7d0f0000-0000-4000-8001-00000000${suffix.padStart(4, '0')}`,
        resource: {
          resourceType: 'DocumentReference',
          contained: [
            { resourceType: 'Patient', id: 'sp', identifier: [{ system: 'urn:oid:1.2.250.1.999.5', value: 'IPP123' }] },
          ],
          masterIdentifier: { use: 'usual', system: 'urn:ietf:rfc:3986', value: `urn:oid:${uniqueId}` },
          status: 'current',
          type: { coding: [{ system: 'http://loinc.org', code: '11488-4' }] },
          category: [{ coding: [{ system: 'urn:oid:1.2.250.1.213.1.1.4.1', code: '10' }] }],
          subject: { reference: subject },
          securityLabel: [
            { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality', code: 'N' }] },
          ],
          content: [
            {
              attachment: {
                contentType: 'application/pdf',
                language: 'fr-FR',
                url: `urn:uuid:7d0f0000-0000-4000-8002-00000000${suffix.padStart(4, '0')}`,
                creation: '2024-03-01T09:00:00Z',
              },
              format: { system: 'urn:oid:1.2.250.1.213.1.1.4.2.282', code: 'urn:ihe:iti:xds-sd:pdf:2008' },
            },
          ],
          context: {
            facilityType: { coding: [{ system: 'urn:oid:1.2.250.1.71.4.2.4', code: 'SA09' }] },
            practiceSetting: { coding: [{ system: 'urn:oid:1.2.250.1.213.1.1.4.9', code: 'ETABLISSEMENT' }] },
            sourcePatientInfo: { reference: '#sp' },
          },
        } as DocumentReference,
        request: { method: 'POST', url: 'DocumentReference' },
      },
      {
        fullUrl: `urn:uuid:7d0f0000-0000-4000-8002-00000000${suffix.padStart(4, '0')}`,
        resource: { resourceType: 'Binary', contentType: 'application/pdf', data: bytes.toString('base64') },
        request: { method: 'POST', url: 'Binary' },
      },
    ],
  };
}
