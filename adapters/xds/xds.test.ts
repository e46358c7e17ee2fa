import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { frenchDocument, frenchSubmission, TEST_PATIENT_ID } from '../../fixtures/xds/french-submission.js';
import { childElement, parseXml, serializeXml } from '../xml/index.js';
import {
  MtomErrorCode,
  Ns,
  ResponseStatus,
  SoapAction,
  SoapFaultCode,
  SoapFaultError,
  StoredQueryId,
  buildAdhocQueryRequest,
  buildAdhocQueryResponse,
  buildMtomMessage,
  buildProvideAndRegisterRequest,
  buildRegistryResponse,
  buildRetrieveDocumentSetRequest,
  buildRetrieveDocumentSetResponse,
  buildSoapEnvelope,
  buildSoapFault,
  buildSubmitObjectsRequest,
  checkFrenchMetadata,
  frenchCode,
  parseAdhocQueryRequest,
  parseMultipartRelated,
  parseProvideAndRegisterRequest,
  parseQueryValue,
  parseRegistryObjectList,
  parseRegistryResponse,
  parseRetrieveDocumentSetRequest,
  parseRetrieveDocumentSetResponse,
  parseSubmitObjectsRequest,
  readSoapRequest,
  unknownDocumentIssue,
  validateSubmission,
  type MtomError,
  type RegistryObjectList,
} from './index.js';

function counter() {
  let n = 0;
  return () => `urn:uuid:00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`;
}

function mtomError(fn: () => unknown): MtomError {
  try {
    fn();
  } catch (e) {
    return e as MtomError;
  }
  throw new Error('expected an MtomError');
}

describe('MTOM multipart/related', () => {
  it('round-trips binary attachments byte for byte (every byte value, CRLF inside)', () => {
    const binary = Buffer.from(Array.from({ length: 2048 }, (_, i) => i % 256));
    const built = buildMtomMessage('<r/>', [{ contentId: 'a@x', contentType: 'application/pdf', body: binary }]);
    const parsed = parseMultipartRelated(built.body, built.contentType);
    expect(parsed.root.body.toString()).toBe('<r/>');
    expect(parsed.part('cid:a@x')!.body.equals(binary)).toBe(true);
    expect(parsed.part('cid:a%40x')!.body.equals(binary)).toBe(true);
    expect(parsed.part('cid:missing@x')).toBeUndefined();
  });

  it('accepts LF-only line endings, a preamble, folded headers and base64 parts', () => {
    const body = [
      'preamble to ignore',
      '--b1',
      'Content-Type: application/xop+xml;',
      '  type="application/soap+xml"',
      'Content-ID: <root>',
      '',
      '<root/>',
      '--b1',
      'Content-Type: text/plain',
      'Content-Transfer-Encoding: base64',
      'Content-ID: <d1>',
      '',
      Buffer.from('hello').toString('base64'),
      '--b1--',
    ].join('\n');
    const parsed = parseMultipartRelated(Buffer.from(body), 'multipart/related; boundary=b1; start="<root>"');
    expect(parsed.root.contentType).toBe('application/xop+xml; type="application/soap+xml"');
    expect(parsed.part('d1')!.body.toString()).toBe('hello');
  });

  it('refuses malformed, truncated, oversized and hostile bodies with precise codes', () => {
    const ok = buildMtomMessage('<r/>', [{ contentId: 'a@x', contentType: 'text/plain', body: Buffer.from('x') }]);
    expect(mtomError(() => parseMultipartRelated(ok.body, 'text/xml')).code).toBe(MtomErrorCode.BadContentType);
    expect(mtomError(() => parseMultipartRelated(ok.body, 'multipart/related')).code).toBe(MtomErrorCode.NoBoundary);
    expect(mtomError(() => parseMultipartRelated(ok.body, 'multipart/related; boundary=other')).code).toBe(
      MtomErrorCode.Malformed,
    );
    expect(mtomError(() => parseMultipartRelated(ok.body.subarray(0, ok.body.length - 30), ok.contentType)).code).toBe(
      MtomErrorCode.Truncated,
    );
    expect(mtomError(() => parseMultipartRelated(ok.body, ok.contentType, { maxBytes: 100 })).code).toBe(
      MtomErrorCode.TooLarge,
    );
    const many = buildMtomMessage(
      '<r/>',
      Array.from({ length: 20 }, (_, i) => ({ contentId: `p${i}`, contentType: 'text/plain', body: Buffer.from('x') })),
    );
    expect(mtomError(() => parseMultipartRelated(many.body, many.contentType, { maxParts: 10 })).code).toBe(
      MtomErrorCode.TooManyParts,
    );
    const hugeHeader = Buffer.from(`--b\r\nX-Junk: ${'a'.repeat(20_000)}\r\n\r\n<r/>\r\n--b--\r\n`);
    expect(mtomError(() => parseMultipartRelated(hugeHeader, 'multipart/related; boundary=b')).code).toBe(
      MtomErrorCode.HeaderTooLarge,
    );
    const badB64 = Buffer.from('--b\r\nContent-Transfer-Encoding: base64\r\n\r\n@@@not base64@@@\r\n--b--\r\n');
    expect(mtomError(() => parseMultipartRelated(badB64, 'multipart/related; boundary=b')).code).toBe(
      MtomErrorCode.BadTransferEncoding,
    );
    const badStart = buildMtomMessage('<r/>', []);
    expect(
      mtomError(() =>
        parseMultipartRelated(badStart.body, badStart.contentType.replace(/start="[^"]+"/, 'start="<nope>"')),
      ).code,
    ).toBe(MtomErrorCode.NoRoot);
  });
});

describe('SOAP envelope', () => {
  it('reads WS-Addressing and the body; builds an envelope that reads back', () => {
    const xml = buildSoapEnvelope(parseXmlSpec(), {
      action: SoapAction.registryStoredQuery,
      messageId: 'urn:uuid:1',
      to: 'https://x/registry',
    });
    const request = readSoapRequest(Buffer.from(xml), 'application/soap+xml; charset=UTF-8');
    expect(request.envelope.addressing).toMatchObject({
      action: SoapAction.registryStoredQuery,
      messageId: 'urn:uuid:1',
      to: 'https://x/registry',
    });
    expect(request.envelope.body.local).toBe('AdhocQueryRequest');
  });

  it('answers SOAP 1.1 with VersionMismatch, unknown mustUnderstand headers with MustUnderstand', () => {
    const soap11 = '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><x/></s:Body></s:Envelope>';
    expect(faultOf(() => readSoapRequest(Buffer.from(soap11), 'text/xml'))).toBe(SoapFaultCode.versionMismatch);
    const mu = `<s:Envelope xmlns:s="${Ns.soap12}"><s:Header><t:Trace xmlns:t="urn:t" s:mustUnderstand="true"/></s:Header><s:Body><x/></s:Body></s:Envelope>`;
    expect(faultOf(() => readSoapRequest(Buffer.from(mu), 'application/soap+xml'))).toBe(SoapFaultCode.mustUnderstand);
  });

  it('refuses an XXE attempt in the envelope with a Sender fault naming the DOCTYPE', () => {
    const xxe = `<?xml version="1.0"?><!DOCTYPE s [<!ENTITY x SYSTEM "file:///etc/passwd">]><s:Envelope xmlns:s="${Ns.soap12}"><s:Body><x>&x;</x></s:Body></s:Envelope>`;
    try {
      readSoapRequest(Buffer.from(xxe), 'application/soap+xml');
      expect.unreachable();
    } catch (e) {
      expect((e as SoapFaultError).faultCode).toBe(SoapFaultCode.sender);
      expect((e as SoapFaultError).reason).toContain('DOCTYPE');
    }
  });

  it('refuses empty bodies, non-SOAP content types and oversized envelopes', () => {
    expect(
      faultOf(() =>
        readSoapRequest(
          Buffer.from(`<s:Envelope xmlns:s="${Ns.soap12}"><s:Body/></s:Envelope>`),
          'application/soap+xml',
        ),
      ),
    ).toBe(SoapFaultCode.sender);
    expect(faultOf(() => readSoapRequest(Buffer.from('{}'), 'application/json'))).toBe(SoapFaultCode.sender);
    const big = buildSoapEnvelope(parseXmlSpec(), { action: 'a' });
    expect(faultOf(() => readSoapRequest(Buffer.from(big), 'application/soap+xml', { xml: { maxBytes: 100 } }))).toBe(
      SoapFaultCode.sender,
    );
    expect(faultOf(() => readSoapRequest(Buffer.from([0xff, 0xfe, 0x00]), 'application/soap+xml'))).toBe(
      SoapFaultCode.sender,
    );
  });

  it('builds a fault that reads back with its code and reason', () => {
    const xml = buildSoapFault({
      code: SoapFaultCode.sender,
      reason: 'Bad <input> & co',
      subcode: 'wsa:ActionNotSupported',
    });
    const doc = parseXml(xml);
    const fault = childElement(childElement(doc.root, Ns.soap12, 'Body')!, Ns.soap12, 'Fault')!;
    expect(JSON.stringify(fault.children.map((c) => (c.kind === 'element' ? c.local : '')))).toBe('["Code","Reason"]');
    expect(xml).toContain('Bad &lt;input&gt; &amp; co');
  });
});

function parseXmlSpec() {
  return buildAdhocQueryRequest(StoredQueryId.findDocuments, {
    $XDSDocumentEntryPatientId: TEST_PATIENT_ID,
    $XDSDocumentEntryStatus: ['urn:oasis:names:tc:ebxml-regrep:StatusType:Approved'],
  });
}

function faultOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof SoapFaultError) return e.faultCode;
    throw e;
  }
  throw new Error('expected a SOAP fault');
}

describe('ebRIM build → parse round trip', () => {
  it('a French submission survives build and parse unchanged', () => {
    const original = frenchSubmission(frenchDocument(), { withDigest: true });
    const xml = serializeXml(buildSubmitObjectsRequest(original, { newId: counter() }));
    const parsed = parseSubmitObjectsRequest(parseXml(xml).root);
    expect(parsed.issues).toEqual([]);
    expect(parsed.objects).toEqual(original);
  });

  it('hostile values stay values (escaped on write, same string on read)', () => {
    const objects = frenchSubmission();
    objects.documentEntries[0]!.title = `</rim:LocalizedString><script>alert(1)</script> & 'x' "y"`;
    const xml = serializeXml(buildSubmitObjectsRequest(objects));
    const parsed = parseSubmitObjectsRequest(parseXml(xml).root);
    expect(parsed.objects.documentEntries[0]!.title).toBe(objects.documentEntries[0]!.title);
    expect(parsed.objects.documentEntries).toHaveLength(1);
  });
});

describe('ITI-41 validation', () => {
  const doc = frenchDocument();
  const validate = (objects: RegistryObjectList, documents = new Map([['Document01', { bytes: doc }]])) =>
    validateSubmission(objects, { profile: 'ITI-41', documents }).filter((i) => i.severity === 'error');

  it('accepts the French submission with its document', () => {
    expect(validate(frenchSubmission(doc, { withDigest: true }))).toEqual([]);
    expect(checkFrenchMetadata(frenchSubmission().documentEntries[0]!)).toEqual([]);
  });

  it('hash or size that do not match the document → XDSRepositoryMetadataError', () => {
    const objects = frenchSubmission(doc, { withDigest: true });
    objects.documentEntries[0]!.hash = createHash('sha1').update('other').digest('hex');
    objects.documentEntries[0]!.size = '3';
    const issues = validate(objects);
    expect(issues.map((i) => i.code)).toEqual(['XDSRepositoryMetadataError', 'XDSRepositoryMetadataError']);
    expect(issues[0]!.message).toContain('does not match');
  });

  it('a DocumentEntry without document → XDSMissingDocument; a document without entry → XDSMissingDocumentMetadata', () => {
    expect(validate(frenchSubmission(), new Map()).map((i) => i.code)).toEqual(['XDSMissingDocument']);
    const extra = new Map([
      ['Document01', { bytes: doc }],
      ['Stray', { bytes: doc }],
    ]);
    expect(validate(frenchSubmission(), extra).map((i) => i.code)).toEqual(['XDSMissingDocumentMetadata']);
  });

  it('patient mismatch, duplicate uniqueId and unknown patient are reported with their codes', () => {
    const objects = frenchSubmission();
    objects.documentEntries[0]!.patientId = '999^^^&1.2.250.1.213.1.4.10&ISO';
    objects.documentEntries[0]!.uniqueId = objects.submissionSets[0]!.uniqueId!;
    const codes = validateSubmission(objects, {
      profile: 'ITI-41',
      documents: new Map([['Document01', { bytes: doc }]]),
      registry: { knowsPatient: () => false },
    }).map((i) => i.code);
    expect(codes).toEqual(
      expect.arrayContaining([
        'XDSPatientIdDoesNotMatch',
        'XDSRepositoryDuplicateUniqueIdInMessage',
        'XDSUnknownPatientId',
      ]),
    );
  });

  it('an association to an unknown symbolic id → UnresolvedReferenceException; bad formats → XDSRegistryMetadataError', () => {
    const objects = frenchSubmission();
    objects.associations[0]!.targetObject = 'Nowhere';
    objects.documentEntries[0]!.creationTime = '2024-01-02';
    objects.documentEntries[0]!.patientId = undefined;
    const codes = validate(objects).map((i) => i.code);
    expect(codes).toContain('UnresolvedReferenceException');
    expect(codes).toContain('XDSRegistryMetadataError');
  });

  it('checkFrenchMetadata warns about a classCode outside TRE_A03', () => {
    const entry = frenchSubmission().documentEntries[0]!;
    entry.classCode = { code: 'History and Physical', codingScheme: 'Connect-a-thon classCodes' };
    const warnings = checkFrenchMetadata(entry);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.message).toContain('1.2.250.1.213.1.1.4.1');
    expect(() => frenchCode('class-code', '99')).toThrow(/not in the shipped value set/);
  });
});

describe('ITI-41 document source: build → repository parse', () => {
  it('the built MTOM request is read back with identical metadata and bytes', () => {
    const pdf = Buffer.concat([
      Buffer.from('%PDF-1.4\n'),
      Buffer.from([0, 1, 2, 0xff, 0x0d, 0x0a]),
      Buffer.from('\n%%EOF'),
    ]);
    const objects = frenchSubmission(pdf, { withDigest: true });
    objects.documentEntries[0]!.mimeType = 'application/pdf';
    const message = buildProvideAndRegisterRequest(
      objects,
      [{ id: 'Document01', bytes: pdf, mimeType: 'application/pdf' }],
      { to: 'https://dmp.test/xds', newId: counter() },
    );
    const request = readSoapRequest(message.body, message.contentType);
    expect(request.envelope.addressing.action).toBe(SoapAction.provideAndRegister);
    expect(request.envelope.addressing.messageId).toBe(message.messageId);
    const parsed = parseProvideAndRegisterRequest(request.envelope.body, request.multipart);
    expect(parsed.issues).toEqual([]);
    expect(parsed.objects).toEqual(objects);
    expect(Buffer.from(parsed.documents.get('Document01')!.bytes).equals(pdf)).toBe(true);
    expect(
      validateSubmission(parsed.objects, { profile: 'ITI-41', documents: parsed.documents }).filter(
        (i) => i.severity === 'error',
      ),
    ).toEqual([]);
  });

  it('an xop:Include to a missing part → XDSMissingDocument', () => {
    const built = buildProvideAndRegisterRequest(frenchSubmission(), [
      { id: 'Document01', bytes: frenchDocument(), mimeType: 'text/plain' },
    ]);
    const withoutPart = built.body.toString('latin1').replace(/cid:Document01\.[0-9a-f]+@keney/, 'cid:gone@keney');
    const request = readSoapRequest(Buffer.from(withoutPart, 'latin1'), built.contentType);
    const parsed = parseProvideAndRegisterRequest(request.envelope.body, request.multipart);
    expect(parsed.issues.map((i) => i.code)).toEqual(['XDSMissingDocument']);
  });
});

describe('RegistryResponse', () => {
  it('builds Success/Failure with the error list and reads it back', () => {
    const issues = [
      {
        code: 'XDSRegistryMetadataError' as const,
        severity: 'error' as const,
        message: 'no classCode',
        location: 'DocumentEntry D1',
      },
    ];
    const xml = serializeXml(buildRegistryResponse(issues));
    const parsed = parseRegistryResponse(parseXml(xml).root);
    expect(parsed.status).toBe(ResponseStatus.failure);
    expect(parsed.errors).toEqual(issues);
    expect(parseRegistryResponse(parseXml(serializeXml(buildRegistryResponse([]))).root).success).toBe(true);
  });
});

describe('ITI-18 stored queries', () => {
  const parse = (params: Record<string, string | string[]>, id: string = StoredQueryId.findDocuments) => {
    const slots = Object.entries(params)
      .map(
        ([name, values]) =>
          `<rim:Slot name="${name}"><rim:ValueList>${(Array.isArray(values) ? values : [values]).map((v) => `<rim:Value>${v.replace(/&/g, '&amp;')}</rim:Value>`).join('')}</rim:ValueList></rim:Slot>`,
      )
      .join('');
    const xml = `<query:AdhocQueryRequest xmlns:query="${Ns.query}" xmlns:rim="${Ns.rim}"><query:ResponseOption returnType="ObjectRef"/><rim:AdhocQuery id="${id}">${slots}</rim:AdhocQuery></query:AdhocQueryRequest>`;
    return parseAdhocQueryRequest(parseXml(xml).root);
  };
  const pid = `'${TEST_PATIENT_ID}'`;
  const approved = "('urn:oasis:names:tc:ebxml-regrep:StatusType:Approved')";

  it('value grammar: quotes, doubled quotes, lists, numbers', () => {
    expect(parseQueryValue("'a''b'")).toEqual([{ kind: 'string', value: "a'b" }]);
    expect(parseQueryValue("( 'a' ,\n 'b')")).toEqual([
      { kind: 'string', value: 'a' },
      { kind: 'string', value: 'b' },
    ]);
    expect(parseQueryValue('20240101')).toEqual([{ kind: 'number', value: '20240101' }]);
    expect(parseQueryValue("('a' 'b')")).toMatchObject({
      error: expect.stringContaining('separate values with commas'),
    });
    expect(parseQueryValue("('a'")).toMatchObject({ error: expect.stringContaining('not closed') });
    expect(parseQueryValue("'a' OR 1=1")).toMatchObject({ error: expect.stringContaining('after the value') });
  });

  it('a well-formed hostile value is only data', () => {
    const result = parse({
      $XDSDocumentEntryPatientId: pid,
      $XDSDocumentEntryStatus: approved,
      $XDSDocumentEntryAuthorPerson: "('x'' OR ''1''=''1', '%'' --')",
    });
    expect(result).toMatchObject({ ok: true, query: { authorPerson: ["x' OR '1'='1", "%' --"] } });
  });

  it('FindDocuments: codes, AND/OR event codes, times', () => {
    const result = parse({
      $XDSDocumentEntryPatientId: pid,
      $XDSDocumentEntryStatus: approved,
      $XDSDocumentEntryClassCode: "('10^^1.2.250.1.213.1.1.4.1','11^^1.2.250.1.213.1.1.4.1')",
      $XDSDocumentEntryEventCodeList: ["('A^^s1','B^^s1')", "('C^^s2')"],
      $XDSDocumentEntryCreationTimeFrom: '20240101',
    });
    expect(result).toMatchObject({
      ok: true,
      query: {
        kind: 'FindDocuments',
        returnType: 'ObjectRef',
        patientId: TEST_PATIENT_ID,
        classCode: [
          { code: '10', codingScheme: '1.2.250.1.213.1.1.4.1' },
          { code: '11', codingScheme: '1.2.250.1.213.1.1.4.1' },
        ],
        eventCodeList: [
          [
            { code: 'A', codingScheme: 's1' },
            { code: 'B', codingScheme: 's1' },
          ],
          [{ code: 'C', codingScheme: 's2' }],
        ],
        creationTimeFrom: '20240101',
      },
    });
  });

  it('the five stored queries parse', () => {
    expect(
      parse({ $XDSSubmissionSetPatientId: pid, $XDSSubmissionSetStatus: approved }, StoredQueryId.findSubmissionSets),
    ).toMatchObject({ ok: true, query: { kind: 'FindSubmissionSets' } });
    expect(parse({ $XDSDocumentEntryUniqueId: "('1.2.3','1.2.4')" }, StoredQueryId.getDocuments)).toMatchObject({
      ok: true,
      query: { kind: 'GetDocuments', uniqueIds: ['1.2.3', '1.2.4'] },
    });
    expect(parse({ $uuid: "('urn:uuid:1')" }, StoredQueryId.getAssociations)).toMatchObject({
      ok: true,
      query: { kind: 'GetAssociations', uuids: ['urn:uuid:1'] },
    });
    expect(parse({ $XDSSubmissionSetUniqueId: "'1.2.3'" }, StoredQueryId.getSubmissionSetAndContents)).toMatchObject({
      ok: true,
      query: { kind: 'GetSubmissionSetAndContents', uniqueId: '1.2.3' },
    });
  });

  it('errors carry the exact XDS codes', () => {
    const code = (r: ReturnType<typeof parse>) => (r.ok ? 'ok' : r.issues[0]!.code);
    expect(code(parse({ $XDSDocumentEntryStatus: approved }))).toBe('XDSStoredQueryMissingParam');
    expect(
      code(
        parse({
          $XDSDocumentEntryPatientId: `('${TEST_PATIENT_ID}','${TEST_PATIENT_ID}')`,
          $XDSDocumentEntryStatus: approved,
        }),
      ),
    ).toBe('XDSStoredQueryParamNumber');
    expect(
      code(
        parse({
          $XDSDocumentEntryPatientId: pid,
          $XDSDocumentEntryStatus: approved,
          $XDSDocumentEntryClassCode: "('10')",
        }),
      ),
    ).toBe('XDSRegistryError');
    expect(
      code(
        parse({
          $XDSDocumentEntryPatientId: pid,
          $XDSDocumentEntryStatus: approved,
          $XDSDocumentEntryCreationTimeFrom: '2024-01-01',
        }),
      ),
    ).toBe('XDSRegistryError');
    expect(
      code(
        parse(
          { $XDSDocumentEntryUniqueId: "'1'", $XDSDocumentEntryEntryUUID: "'urn:uuid:1'" },
          StoredQueryId.getDocuments,
        ),
      ),
    ).toBe('XDSStoredQueryParamNumber');
    expect(code(parse({}, StoredQueryId.getDocuments))).toBe('XDSStoredQueryMissingParam');
    expect(code(parse({}, StoredQueryId.getAll))).toBe('XDSUnknownStoredQuery');
    expect(code(parse({}, 'urn:uuid:not-a-query'))).toBe('XDSUnknownStoredQuery');
  });

  it('buildAdhocQueryRequest quotes what it is given, so a hostile value round-trips as data', () => {
    const spec = buildAdhocQueryRequest(StoredQueryId.findDocuments, {
      $XDSDocumentEntryPatientId: `${TEST_PATIENT_ID}' OR '1'='1`,
      $XDSDocumentEntryStatus: ['urn:oasis:names:tc:ebxml-regrep:StatusType:Approved'],
    });
    const result = parseAdhocQueryRequest(parseXml(serializeXml(spec)).root);
    // The value is data: it reaches the typed query intact, and fails the patient-id format check instead of matching anything.
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.issues[0]!.message).toContain("OR '1'='1");
  });

  it('AdhocQueryResponse: LeafClass objects and ObjectRefs read back', () => {
    const objects = frenchSubmission();
    const leaf = parseXml(
      serializeXml(buildAdhocQueryResponse(objects, { returnType: 'LeafClass', newId: counter() })),
    ).root;
    expect(leaf.local).toBe('AdhocQueryResponse');
    const list = childElement(leaf, Ns.rim, 'RegistryObjectList')!;
    expect(parseRegistryObjectList(list).objects).toEqual(objects);
    const refs = parseXml(serializeXml(buildAdhocQueryResponse(objects, { returnType: 'ObjectRef' }))).root;
    expect(parseRegistryObjectList(childElement(refs, Ns.rim, 'RegistryObjectList')!).objects.objectRefs).toEqual([
      'SubmissionSet01',
      'Document01',
      'Association01',
    ]);
  });
});

describe('ITI-43 retrieve', () => {
  it('request round trip; response MTOM round trip byte-identical; missing documents → PartialSuccess with XDSDocumentUniqueIdError', () => {
    const requests = [
      { repositoryUniqueId: '1.2.250.1.999.9', documentUniqueId: '1.2.250.1.999.1.2.20240102' },
      { repositoryUniqueId: '1.2.250.1.999.9', documentUniqueId: '1.2.250.1.999.404' },
      { repositoryUniqueId: '9.9.9', documentUniqueId: '1.2.3' },
    ];
    const parsedRequest = parseRetrieveDocumentSetRequest(
      parseXml(serializeXml(buildRetrieveDocumentSetRequest(requests))).root,
    );
    expect(parsedRequest).toEqual({ requests, issues: [] });
    const bytes = Buffer.from([0, 1, 2, 3, 0xff, 0x2d, 0x2d]);
    const issues = [
      unknownDocumentIssue(requests[1]!, '1.2.250.1.999.9'),
      unknownDocumentIssue(requests[2]!, '1.2.250.1.999.9'),
    ];
    const message = buildRetrieveDocumentSetResponse(
      [{ ...requests[0]!, mimeType: 'application/octet-stream', bytes }],
      issues,
    );
    const read = readSoapRequest(message.body, message.contentType);
    const response = parseRetrieveDocumentSetResponse(read.envelope.body, read.multipart);
    expect(response.status).toBe(ResponseStatus.partialSuccess);
    expect(response.issues.map((i) => i.code)).toEqual(['XDSDocumentUniqueIdError', 'XDSUnknownRepositoryId']);
    expect(Buffer.from(response.documents[0]!.bytes).equals(bytes)).toBe(true);
  });

  it('a request without DocumentRequest is an error', () => {
    const xml = `<xdsb:RetrieveDocumentSetRequest xmlns:xdsb="${Ns.xdsb}"/>`;
    expect(parseRetrieveDocumentSetRequest(parseXml(xml).root).issues.map((i) => i.code)).toEqual([
      'XDSRepositoryError',
    ]);
  });
});

describe('ebRIM hostile input', () => {
  it('an object flood is stopped by the XML element limit; unknown elements and missing ids are reported, not thrown', () => {
    const flood = `<rim:RegistryObjectList xmlns:rim="${Ns.rim}">${'<rim:ObjectRef id="x"/>'.repeat(2000)}</rim:RegistryObjectList>`;
    expect(() => parseXml(flood, { limits: { maxElements: 1000 } })).toThrow(/more than 1000 elements/);
    const odd = `<rim:RegistryObjectList xmlns:rim="${Ns.rim}" xmlns:x="urn:x"><x:Evil/><rim:ExtrinsicObject/><rim:Bogus/><rim:Association/></rim:RegistryObjectList>`;
    const { issues } = parseRegistryObjectList(parseXml(odd).root);
    expect(new Set(issues.map((i) => i.code))).toEqual(new Set(['XDSRegistryMetadataError']));
    const messages = issues.map((i) => i.message).join('\n');
    for (const expected of [
      'Unexpected element {urn:x}Evil',
      'Unknown element rim:Bogus',
      'rim:ExtrinsicObject without id attribute',
      'has objectType ""',
      'needs both sourceObject and targetObject',
      'has no associationType',
    ]) {
      expect(messages).toContain(expected);
    }
  });

  it('metadata values keep non-ASCII text from an ISO-8859-1 request', () => {
    const xml = serializeXml(buildSubmitObjectsRequest(frenchSubmission())).replace(
      'encoding="UTF-8"',
      'encoding="ISO-8859-1"',
    );
    const parsed = parseSubmitObjectsRequest(parseXml(Buffer.from(xml, 'latin1')).root);
    expect(parsed.objects.documentEntries[0]!.classCode?.displayName).toBe('Compte rendu');
    expect(parsed.objects.documentEntries[0]!.healthcareFacilityTypeCode?.displayName).toBe(
      'Etablissement public de santé',
    );
  });
});
