// Acceptance 1: every XDS sample in ../shared/corpus/xds is accepted, or rejected with the exact XDS error code.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { XmlErrorCode, parseXml, type XmlElement, type XmlError } from '../xml/index.js';
import {
  ObjectType,
  ResponseStatus,
  SoapFaultCode,
  SoapFaultError,
  StoredQueryId,
  parseAdhocQueryRequest,
  parseProvideAndRegisterRequest,
  parseRegistryObjectList,
  parseRegistryResponse,
  parseRetrieveDocumentSetResponse,
  parseSubmitObjectsRequest,
  readSoapEnvelope,
  readSoapRequest,
  validateSubmission,
  type MultipartRelated,
  type XdsIssue,
} from './index.js';

const CORPUS = new URL('../../../shared/corpus/xds/', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, CORPUS));

/** The corpus MTOM files are raw multipart bodies; the boundary is their first line. */
function readMtomFile(path: string) {
  const bytes = read(path);
  const boundary = bytes.toString('latin1').split(/\r?\n/)[0]!.slice(2);
  return readSoapRequest(
    bytes,
    `multipart/related; boundary="${boundary}"; type="application/xop+xml"; start-info="application/soap+xml"`,
  );
}

function bodyOf(path: string): { body: XmlElement; multipart?: MultipartRelated } {
  const doc = parseXml(read(path));
  if (doc.root.local === 'Envelope') return { body: readSoapEnvelope(doc).body };
  return { body: doc.root };
}

function errorCodes(issues: readonly XdsIssue[]): string[] {
  return [...new Set(issues.filter((i) => i.severity === 'error').map((i) => i.code))].sort();
}

function provideAndRegister(body: XmlElement, multipart?: MultipartRelated) {
  const request = parseProvideAndRegisterRequest(body, multipart);
  const issues = [
    ...request.issues,
    ...validateSubmission(request.objects, { profile: 'ITI-41', documents: request.documents }),
  ];
  return { request, issues };
}

function register(body: XmlElement) {
  const parsed = parseSubmitObjectsRequest(body);
  return { parsed, issues: [...parsed.issues, ...validateSubmission(parsed.objects, { profile: 'ITI-42' })] };
}

describe('ITI-41 Provide and Register samples (jembi/openhim-mediator-xds)', () => {
  it('pnr2.xml (patient ids consistent) is accepted with its inline base64 document', () => {
    const { request, issues } = provideAndRegister(bodyOf('jembi-openhim-mediator-xds/pnr2.xml').body);
    expect(errorCodes(issues)).toEqual([]);
    expect(request.documents.get('Document01')!.bytes.toString()).toBe('My test document');
    const entry = request.objects.documentEntries[0]!;
    expect(entry.uniqueId).toBe('2009.9.1.2455');
    expect(entry.authors).toHaveLength(2);
    expect(entry.authors[1]!.institutions).toEqual([
      'Cleveland Clinic',
      'Another Hospital^^^^^&1.2.3.4.5.6.7.8.9.1789&ISO^^^^53',
    ]);
    expect(entry.healthcareFacilityTypeCode?.codingScheme).toBe(
      'Connect-a-thon\n                                healthcareFacilityTypeCodes',
    );
    expect(request.objects.submissionSets[0]!.comments).toBe('Annual physical');
  });

  it.each(['pnr1.xml', 'pnr3.xml', 'pnr-no-epid.xml', 'pnr_e2e.xml'])(
    '%s (document patient ≠ submission set patient) → XDSPatientIdDoesNotMatch',
    (file) => {
      const { issues } = provideAndRegister(bodyOf(`jembi-openhim-mediator-xds/${file}`).body);
      expect(errorCodes(issues)).toEqual(['XDSPatientIdDoesNotMatch']);
      expect(issues.find((i) => i.code === 'XDSPatientIdDoesNotMatch')!.message).toContain('1111111111^^^&1.2.3&ISO');
    },
  );

  it('pnr-no-elid.xml lacks the classCode → XDSRegistryMetadataError naming it (and the patient mismatch)', () => {
    const { issues } = provideAndRegister(bodyOf('jembi-openhim-mediator-xds/pnr-no-elid.xml').body);
    expect(errorCodes(issues)).toEqual(['XDSPatientIdDoesNotMatch', 'XDSRegistryMetadataError']);
    expect(issues.some((i) => i.message.includes('no classCode'))).toBe(true);
  });

  it('pnr3.xml carries a CDA document inline, decoded byte for byte', () => {
    const { request } = provideAndRegister(bodyOf('jembi-openhim-mediator-xds/pnr3.xml').body);
    const cda = Buffer.from(request.documents.get('Document01')!.bytes).toString('utf8');
    expect(cda).toContain('<ClinicalDocument xmlns="urn:hl7-org:v3"');
    expect(cda).toContain('Test CDA for OpenHIM XDS.b Mediator');
  });

  it('pnr_e2e_mtom.xml: MTOM with xop:Include resolves the attachment (WS-Addressing in the SOAP namespace tolerated)', () => {
    const { envelope, multipart } = readMtomFile('jembi-openhim-mediator-xds/pnr_e2e_mtom.xml');
    expect(envelope.addressing.action).toBe('urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-b');
    expect(envelope.warnings.length).toBeGreaterThan(0);
    const { request, issues } = provideAndRegister(envelope.body, multipart);
    expect(Buffer.from(request.documents.get('Document01')!.bytes).toString()).toBe(
      'This is my document.\nIt is great!\n',
    );
    expect(errorCodes(issues)).toEqual(['XDSPatientIdDoesNotMatch']);
  });

  it.each(['PnRBasicMtom.xml', 'PnRModifiedMtom.xml'])(
    '%s: the root part is not a SOAP envelope → SOAP Sender fault',
    (file) => {
      try {
        readMtomFile(`jembi-openhim-mediator-xds/${file}`);
        expect.unreachable();
      } catch (error) {
        expect(error).toBeInstanceOf(SoapFaultError);
        expect((error as SoapFaultError).faultCode).toBe(SoapFaultCode.sender);
        expect((error as SoapFaultError).reason).toMatch(/not well-formed/);
      }
    },
  );

  it('pnrResponse_e2e.xml (a garbled MIME dump) is refused with a Sender fault, not a crash', () => {
    expect(() => readMtomFile('jembi-openhim-mediator-xds/pnrResponse_e2e.xml')).toThrow(SoapFaultError);
  });
});

describe('ITI-42 SubmitObjectsRequest samples', () => {
  it('oehf-ipf submission-set.xml is a complete ITI-42 registration: accepted, extra metadata kept', () => {
    const { parsed, issues } = register(parseXml(read('oehf-ipf/ebrim/submission-set.xml')).root);
    expect(errorCodes(issues)).toEqual([]);
    const entry = parsed.objects.documentEntries[0]!;
    expect(entry.extraSlots.map((s) => s.name)).toEqual(['urn:nist:extraDESlot']);
    expect(entry.eventCodes).toHaveLength(2);
    expect(parsed.objects.associations[0]!.extraSlots.map((s) => s.name)).toEqual(['urn:nist:extraAssocSlot']);
  });

  it.each([
    'SubmitObjectsRequest_ebrs30.xml',
    'SubmitObjectsRequest_ebrs30_2.xml',
    'SubmitObjectsRequest_ebrs3_extra_metadata.xml',
  ])('%s: schemes with stray spaces are refused with XDSRegistryMetadataError and a hint', (file) => {
    const { issues } = register(parseXml(read(`oehf-ipf/ebrim/${file}`)).root);
    expect(errorCodes(issues)).toEqual(['XDSRegistryMetadataError']);
    const hint = issues.find((i) => i.message.includes('urn:uuid:58a6f841-87b3-4a3e-92fd- a8ffeff98427'))!;
    expect(hint.message).toContain('looks like urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427');
  });

  it('SubmitObjectsRequest_ebrs30_2.xml has its SubmissionSet classification inside the package; ebrs30.xml outside: both are found', () => {
    for (const file of ['SubmitObjectsRequest_ebrs30.xml', 'SubmitObjectsRequest_ebrs30_2.xml']) {
      const { parsed } = register(parseXml(read(`oehf-ipf/ebrim/${file}`)).root);
      expect(parsed.objects.submissionSets.map((s) => s.id)).toEqual(['SubmissionSet01']);
      expect(parsed.objects.associations.map((a) => a.associationType)).toContain(
        'urn:ihe:iti:2010:AssociationType:IsSnapshotOf',
      );
    }
  });

  it('SubmitObjectsRequest_ebrs30_update.xml (metadata update) is accepted', () => {
    const { parsed, issues } = register(parseXml(read('oehf-ipf/ebrim/SubmitObjectsRequest_ebrs30_update.xml')).root);
    expect(errorCodes(issues)).toEqual([]);
    expect(parsed.objects.documentEntries[0]!.lid).toBe('urn:uuid:20744602-ba65-44e9-87ee-a52303a5183e');
    expect(parsed.objects.documentEntries[0]!.documentAvailability).toBe(
      'urn:ihe:iti:2010:DocumentAvailability:Offline',
    );
  });

  it('a vendor association type is refused with XDSRegistryMetadataError', () => {
    const { issues } = register(
      parseXml(read('oehf-ipf/ebrim/SubmitObjectsRequest_ebrs30_update_nonstandard_association.xml')).root,
    );
    expect(errorCodes(issues)).toEqual(['XDSRegistryMetadataError']);
    expect(issues[0]!.message).toContain('urn:elga-bes:AssociationType:NonVersioningUpdate');
  });

  it('two entries with one lid where the second is not a member → XDSRegistryMetadataError', () => {
    const { issues } = register(parseXml(read('oehf-ipf/ebrim/SubmitObjectsRequest_ebrs30_update_sameLid.xml')).root);
    expect(errorCodes(issues)).toEqual(['XDSRegistryMetadataError']);
    expect(issues.some((i) => i.message.includes('Document02 is not a member'))).toBe(true);
  });

  it('RegisterDocumentSet-bRequest_SOAP.xml lacks hash/size/repositoryUniqueId and uses the short "HasMember" → XDSRegistryMetadataError', () => {
    const { issues } = register(bodyOf('jembi-openhim-mediator-xds/RegisterDocumentSet-bRequest_SOAP.xml').body);
    expect(errorCodes(issues)).toEqual(['XDSRegistryMetadataError']);
    const messages = issues.map((i) => i.message).join('\n');
    expect(messages).toContain('has no hash');
    expect(messages).toContain('legacy short form');
  });

  it('directproject submitobjectrequest.xml (a quoted string, not XML) is refused by the XML layer', () => {
    try {
      parseXml(read('directproject-nhin-d/submitobjectrequest.xml'));
      expect.unreachable();
    } catch (error) {
      expect((error as XmlError).code).toBe(XmlErrorCode.NotWellFormed);
      expect((error as XmlError).line).toBe(1);
    }
  });
});

describe('ITI-18 samples', () => {
  it('iti18request.xml: the injection payload is an unterminated quoted value → XDSRegistryError, nothing is queried', () => {
    const result = parseAdhocQueryRequest(parseXml(read('oehf-ipf/ebrim/iti18request.xml')).root);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues[0]!.code).toBe('XDSRegistryError');
    expect(result.issues[0]!.location).toBe('$XDSDocumentEntryPatientId');
    expect(result.issues[0]!.message).toContain('not closed');
  });

  it('adhocQueryRequest_wSOAP.xml: FindDocuments with unquoted values is read', () => {
    const result = parseAdhocQueryRequest(bodyOf('jembi-openhim-mediator-xds/adhocQueryRequest_wSOAP.xml').body);
    expect(result).toMatchObject({
      ok: true,
      query: {
        kind: 'FindDocuments',
        returnType: 'LeafClass',
        patientId: '1234567890^^^TestID&1.2.3&ISO',
        status: ['urn:oasis:names:tc:ebxml-regrep:StatusType:Approved'],
        creationTimeFrom: '201201010800',
        creationTimeTo: '201410010800',
      },
    });
  });

  it('adhocQueryRequest_enriched_wSOAP.xml: an assigning authority that is not an OID → XDSRegistryError', () => {
    const result = parseAdhocQueryRequest(
      bodyOf('jembi-openhim-mediator-xds/adhocQueryRequest_enriched_wSOAP.xml').body,
    );
    expect(result.ok ? [] : result.issues.map((i) => i.code)).toEqual(['XDSRegistryError']);
  });

  it('iti51request.xml (a multi-patient query, ITI-51) → XDSUnknownStoredQuery', () => {
    const result = parseAdhocQueryRequest(parseXml(read('oehf-ipf/ebrim/iti51request.xml')).root);
    expect(result.ok ? [] : result.issues.map((i) => i.code)).toEqual(['XDSUnknownStoredQuery']);
  });

  it('adhocQueryResponse_wSOAP.xml: a LeafClass response is read back into typed entries', () => {
    const body = bodyOf('jembi-openhim-mediator-xds/adhocQueryResponse_wSOAP.xml').body;
    expect(body.local).toBe('AdhocQueryResponse');
    const list = body.children.find((c) => c.kind === 'element' && c.local === 'RegistryObjectList') as XmlElement;
    const { objects } = parseRegistryObjectList(list);
    expect(objects.documentEntries.length).toBeGreaterThan(0);
    for (const e of objects.documentEntries) {
      expect(e.objectType).toBe(ObjectType.stableDocumentEntry);
      expect(e.uniqueId).toBeTruthy();
      expect(e.repositoryUniqueId).toBeTruthy();
    }
  });

  it('StoredQueryId.findDocuments is the id DESIGN.md lists', () => {
    expect(StoredQueryId.findDocuments).toBe('urn:uuid:14d4debf-8f97-4251-9a74-a90016b0af0d');
  });
});

describe('responses', () => {
  it('RegisterDocumentSet-bResponse and the mock PnR response read as Success', () => {
    for (const file of ['jembi-openhim-mediator-xds/RegisterDocumentSet-bResponse_SOAP.xml']) {
      const r = parseRegistryResponse(bodyOf(file).body);
      expect(r.success).toBe(true);
    }
    const pnr = readMtomFile('jembi-openhim-mediator-xds/mock-services/pnrResponse_wSOAP.xml');
    expect(pnr.envelope.addressing.action).toBe('urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-bResponse');
    expect(parseRegistryResponse(pnr.envelope.body).status).toBe(ResponseStatus.success);
  });

  it('the mock ITI-43 response yields the document through its %40-encoded cid', () => {
    const { envelope, multipart } = readMtomFile('jembi-openhim-mediator-xds/mock-services/retrieveResponse_wSOAP.xml');
    const result = parseRetrieveDocumentSetResponse(envelope.body, multipart);
    expect(result.issues).toEqual([]);
    expect(result.documents).toHaveLength(1);
    expect(result.documents[0]).toMatchObject({
      repositoryUniqueId: '1.19.6.24.109.42.1.5.1',
      documentUniqueId: '1.3.6.1.4.1.21367.2010.1.2.152512',
      mimeType: 'text/plain',
    });
    expect(Buffer.from(result.documents[0]!.bytes).toString()).toBe('My test document');
  });
});
