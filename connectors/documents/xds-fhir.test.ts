// The XDS ⇄ FHIR mapping is lossless (what ITI-41 stores, ITI-18 returns), produces valid R4 resources, and reads
// resources written through MHD (without any Keney extension) as valid XDS entries.
import { readFileSync } from 'node:fs';
import type { DocumentReference, List } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { parseXml, type XmlElement } from '../../adapters/xml/index.js';
import {
  AssociationType,
  parseProvideAndRegisterRequest,
  parseRegistryObjectList,
  parseSubmitObjectsRequest,
  readSoapEnvelope,
  type DocumentEntry,
  type RegistryObjectList,
} from '../../adapters/xds/index.js';
import { validateForWrite } from '../../store/fhir/validate.js';
import { frenchSubmission } from '../../fixtures/xds/french-submission.js';
import {
  associationExtension,
  associationsOfDocument,
  associationsOfList,
  documentEntryFromReference,
  documentReferenceFromEntry,
  folderFromList,
  listFromFolder,
  listFromSubmissionSet,
  submissionSetFromList,
  uniqueIdIdentifier,
  uniqueIdOf,
} from './xds-fhir.js';
import { codeOf, codingFor, KeneyExt } from './vocabulary.js';
import { dateTimeToDtm, dtmToDateTime, xonToOrganization } from './hl7-fhir.js';

const CORPUS = new URL('../../../shared/corpus/xds/', import.meta.url);
const NOW = '2024-03-01T12:00:00.000Z';

function body(path: string): XmlElement {
  const doc = parseXml(readFileSync(new URL(path, CORPUS)));
  return doc.root.local === 'Envelope' ? readSoapEnvelope(doc).body : doc.root;
}

const samples: [string, () => RegistryObjectList][] = [
  ['jembi pnr2.xml', () => parseProvideAndRegisterRequest(body('jembi-openhim-mediator-xds/pnr2.xml')).objects],
  ['jembi pnr3.xml', () => parseProvideAndRegisterRequest(body('jembi-openhim-mediator-xds/pnr3.xml')).objects],
  ['oehf submission-set.xml', () => parseSubmitObjectsRequest(body('oehf-ipf/ebrim/submission-set.xml')).objects],
  [
    'oehf ebrs30_update.xml',
    () => parseSubmitObjectsRequest(body('oehf-ipf/ebrim/SubmitObjectsRequest_ebrs30_update.xml')).objects,
  ],
  [
    'jembi adhocQueryResponse (LeafClass)',
    () => {
      const response = body('jembi-openhim-mediator-xds/adhocQueryResponse_wSOAP.xml');
      const list = response.children.find(
        (c) => c.kind === 'element' && c.local === 'RegistryObjectList',
      ) as XmlElement;
      return parseRegistryObjectList(list).objects;
    },
  ],
  ['French DMP-like submission', () => frenchSubmission(undefined, { withDigest: true })],
];

describe('DocumentEntry ⇄ DocumentReference', () => {
  it.each(samples)('%s: every DocumentEntry comes back identical, as a valid R4 DocumentReference', (_name, load) => {
    const objects = load();
    expect(objects.documentEntries.length).toBeGreaterThan(0);
    for (const entry of objects.documentEntries) {
      const doc = documentReferenceFromEntry(entry, {
        indexedAt: NOW,
        url: 'Binary/b1',
        subjectReference: 'Patient/p1',
      });
      expect(() => validateForWrite(doc)).not.toThrow();
      expect(documentEntryFromReference(doc)).toEqual(entry);
    }
  });

  it.each(samples)('%s: SubmissionSets and Folders come back identical, as valid R4 Lists', (_name, load) => {
    const objects = load();
    for (const set of objects.submissionSets) {
      const list = listFromSubmissionSet(set, { indexedAt: NOW, entries: [] });
      expect(() => validateForWrite(list)).not.toThrow();
      expect(submissionSetFromList(list)).toEqual(set);
    }
    for (const folder of objects.folders) {
      const list = listFromFolder(folder, { indexedAt: NOW, entries: [] });
      expect(() => validateForWrite(list)).not.toThrow();
      expect(folderFromList(list)).toEqual(folder);
    }
  });

  it('puts XDS values where MHD says: uniqueId, entryUUID, codes, times, patient, authors for FHIR readers', () => {
    const entry: DocumentEntry = {
      ...frenchSubmission(undefined, { withDigest: true }).documentEntries[0]!,
      id: 'urn:uuid:0f6b2c6e-9a2e-4d0a-8c1e-7d2f3a4b5c6d',
    };
    const doc = documentReferenceFromEntry(entry, { indexedAt: NOW, url: 'Binary/b1' });
    expect(doc.masterIdentifier).toEqual({
      use: 'usual',
      system: 'urn:ietf:rfc:3986',
      value: 'urn:oid:1.2.250.1.999.1.2.20240102',
    });
    expect(doc.identifier).toEqual([{ use: 'official', system: 'urn:ietf:rfc:3986', value: entry.id }]);
    expect(doc.subject?.identifier).toEqual({ system: 'urn:oid:1.2.250.1.213.1.4.10', value: '277077505600991' });
    expect(doc.type?.coding?.[0]).toMatchObject({ system: 'http://loinc.org', code: '11488-4' });
    expect(doc.category?.[0]?.coding?.[0]?.system).toBe(
      'https://mos.esante.gouv.fr/NOS/TRE_A03-ClasseDocument/FHIR/TRE-A03-ClasseDocument',
    );
    expect(doc.content[0]!.attachment).toMatchObject({
      contentType: 'text/plain',
      language: 'fr-FR',
      creation: '2024-01-02T10:00:00Z',
      url: 'Binary/b1',
    });
    expect(doc.context?.period).toEqual({ start: '2024-01-02T09:00:00Z', end: '2024-01-02T09:30:00Z' });
    const role = doc.contained?.find((r) => r.resourceType === 'PractitionerRole');
    expect(role).toBeDefined();
    const practitioner = doc.contained?.find((r) => r.resourceType === 'Practitioner' && r.id === 'author1');
    expect(practitioner).toMatchObject({
      identifier: [{ system: 'urn:oid:1.2.250.1.71.4.2.1', value: '810000012345' }],
      name: [{ family: 'MEDECIN', given: ['JEAN'] }],
    });
    // A DTM fully reproducible by FHIR needs no attribute; the French fixture's values all are.
    expect(
      (doc.extension ?? []).filter((e) => e.url === KeneyExt.attribute).map((e) => e.extension?.[0]?.valueString),
    ).not.toContain('creationTime');
  });

  it('keeps what FHIR cannot write as an attribute: a DTM without seconds, an upper-case hash, On-Demand type', () => {
    const entry: DocumentEntry = {
      ...frenchSubmission().documentEntries[0]!,
      creationTime: '202401021000',
      hash: 'DA39A3EE5E6B4B0D3255BFEF95601890AFD80709',
      size: '0',
      objectType: 'urn:uuid:34268e47-fdf5-41a6-ba33-82133c465248',
    };
    const doc = documentReferenceFromEntry(entry, { indexedAt: NOW });
    const names = (doc.extension ?? [])
      .filter((e) => e.url === KeneyExt.attribute)
      .map((e) => e.extension?.[0]?.valueString);
    expect(names).toEqual(expect.arrayContaining(['creationTime', 'hash', 'objectType']));
    expect(doc.content[0]!.attachment.creation).toBe('2024-01-02T10:00:00Z');
    expect(documentEntryFromReference(doc)).toEqual(entry);
  });

  it('reads an MHD-written DocumentReference (no Keney extension) as a complete entry', () => {
    const doc: DocumentReference = {
      resourceType: 'DocumentReference',
      contained: [
        {
          resourceType: 'Practitioner',
          id: 'a1',
          identifier: [{ system: 'urn:oid:1.2.250.1.71.4.2.1', value: '810000012345' }],
          name: [{ family: 'MEDECIN', given: ['JEAN'], prefix: ['Dr'] }],
        },
      ],
      masterIdentifier: { system: 'urn:ietf:rfc:3986', value: 'urn:oid:1.2.3.4.5' },
      identifier: [
        { use: 'official', system: 'urn:ietf:rfc:3986', value: 'urn:uuid:6f1e0a2b-1c3d-4e5f-8a9b-0c1d2e3f4a5b' },
      ],
      status: 'current',
      type: { coding: [{ system: 'http://loinc.org', code: '11488-4' }] },
      category: [{ coding: [{ system: 'urn:oid:1.2.250.1.213.1.1.4.1', code: '10' }] }],
      subject: {
        reference: 'Patient/x',
        identifier: { system: 'urn:oid:1.2.250.1.213.1.4.10', value: '277077505600991' },
      },
      author: [{ reference: '#a1' }],
      securityLabel: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality', code: 'N' }] }],
      content: [
        {
          attachment: {
            contentType: 'application/pdf',
            url: 'Binary/1',
            size: 3,
            hash: 'qZk+NkcGgWq6PiVxeFDCbJzQ2J0=',
            creation: '2024-01-02T10:00:00+01:00',
          },
        },
      ],
    };
    const entry = documentEntryFromReference(doc);
    expect(entry).toMatchObject({
      id: 'urn:uuid:6f1e0a2b-1c3d-4e5f-8a9b-0c1d2e3f4a5b',
      uniqueId: '1.2.3.4.5',
      status: 'urn:oasis:names:tc:ebxml-regrep:StatusType:Approved',
      patientId: '277077505600991^^^&1.2.250.1.213.1.4.10&ISO',
      typeCode: { code: '11488-4', codingScheme: '2.16.840.1.113883.6.1' },
      classCode: { code: '10', codingScheme: '1.2.250.1.213.1.1.4.1' },
      confidentialityCodes: [{ code: 'N', codingScheme: '2.16.840.1.113883.5.25' }],
      mimeType: 'application/pdf',
      size: '3',
      hash: 'a9993e364706816aba3e25717850c26c9cd0d89d',
      creationTime: '20240102090000',
      authors: [
        {
          person: '810000012345^MEDECIN^JEAN^^^Dr^^^&1.2.250.1.71.4.2.1&ISO',
          institutions: [],
          roles: [],
          specialties: [],
          telecommunications: [],
        },
      ],
    });
  });
});

describe('associations', () => {
  it('HasMember entries and relatesTo give back the associations with their ids, types and slots', () => {
    const ss = 'urn:uuid:11111111-1111-4111-8111-111111111111';
    const doc1 = 'urn:uuid:22222222-2222-4222-8222-222222222222';
    const doc0 = 'urn:uuid:33333333-3333-4333-8333-333333333333';
    const hasMember = {
      kind: 'Association' as const,
      id: 'urn:uuid:44444444-4444-4444-8444-444444444444',
      associationType: AssociationType.hasMember,
      sourceObject: ss,
      targetObject: doc1,
      submissionSetStatus: 'Original',
      extraSlots: [{ name: 'urn:nist:extraAssocSlot', values: ['x'] }],
    };
    const replace = {
      kind: 'Association' as const,
      id: 'urn:uuid:55555555-5555-4555-8555-555555555555',
      associationType: AssociationType.transformAndReplace,
      sourceObject: doc1,
      targetObject: doc0,
      extraSlots: [],
    };
    const set = { ...frenchSubmission().submissionSets[0]!, id: ss };
    const list: List = listFromSubmissionSet(set, {
      indexedAt: NOW,
      entries: [{ item: { reference: 'DocumentReference/d1' }, extension: [associationExtension(hasMember)] }],
    });
    const entry = { ...frenchSubmission().documentEntries[0]!, id: doc1 };
    const doc = documentReferenceFromEntry(entry, {
      indexedAt: NOW,
      relatesTo: [
        { code: 'replaces', target: { reference: 'DocumentReference/d0' }, extension: [associationExtension(replace)] },
      ],
    });
    const uuids: Record<string, string> = { 'DocumentReference/d1': doc1, 'DocumentReference/d0': doc0 };
    expect(associationsOfList(list, (r) => uuids[r])).toEqual([hasMember]);
    expect(associationsOfDocument(doc, (r) => uuids[r])).toEqual([replace]);
  });

  it('an MHD List without association extensions yields HasMember associations with stable ids', () => {
    const list: List = {
      resourceType: 'List',
      identifier: [
        { use: 'official', system: 'urn:ietf:rfc:3986', value: 'urn:uuid:11111111-1111-4111-8111-111111111111' },
      ],
      status: 'current',
      mode: 'working',
      code: { coding: [{ system: 'https://profiles.ihe.net/ITI/MHD/CodeSystem/MHDlistTypes', code: 'submissionset' }] },
      entry: [{ item: { reference: 'DocumentReference/d1' } }],
    };
    const a = associationsOfList(list, () => 'urn:uuid:22222222-2222-4222-8222-222222222222');
    const b = associationsOfList(list, () => 'urn:uuid:22222222-2222-4222-8222-222222222222');
    expect(a).toEqual(b);
    expect(a[0]).toMatchObject({
      associationType: AssociationType.hasMember,
      submissionSetStatus: 'Original',
      targetObject: 'urn:uuid:22222222-2222-4222-8222-222222222222',
    });
  });
});

describe('values', () => {
  it('uniqueId forms: OID, OID^extension, other', () => {
    for (const id of ['1.2.3.4', '1.2.3^abc', 'not-an-oid']) expect(uniqueIdOf(uniqueIdIdentifier(id))).toBe(id);
  });

  it('coding schemes: known OIDs become their URL, free text is kept in an extension', () => {
    expect(codingFor({ code: '11488-4', codingScheme: '2.16.840.1.113883.6.1' })).toEqual({
      system: 'http://loinc.org',
      code: '11488-4',
    });
    const free = codingFor({ code: 'x', codingScheme: 'Connect-a-thon\n  classCodes' });
    expect(free.system).toBeUndefined();
    expect(codeOf(free)).toEqual({ code: 'x', codingScheme: 'Connect-a-thon\n  classCodes' });
  });

  it('DTM ⇄ dateTime keeps precision and converts offsets to UTC', () => {
    expect(dtmToDateTime('2024')).toBe('2024');
    expect(dtmToDateTime('20240102')).toBe('2024-01-02');
    expect(dateTimeToDtm('2024-01-02')).toBe('20240102');
    expect(dateTimeToDtm('2024-01-02T10:00:00+02:00')).toBe('20240102080000');
    expect(dtmToDateTime('20241302')).toBeUndefined();
  });

  it('an author institution XON gives an Organization only when it names one (R4 org-1: a name or an identifier)', () => {
    const named = xonToOrganization('CHU TEST^^^^^^^^^1.2.250.1.999.1', 'org');
    expect(named).toMatchObject({ resourceType: 'Organization', name: 'CHU TEST' });
    expect(() => validateForWrite(named)).not.toThrow();
    expect(xonToOrganization('^^^^^^^^^', 'org')).toBeUndefined();
  });
});
