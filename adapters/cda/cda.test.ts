import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { XmlErrorCode, type XmlError } from '../xml/index.js';
import { assertSafeHtml } from './test-support.js';
import {
  CdaErrorCode,
  cdaToDocumentReference,
  documentUniqueId,
  fileToDocumentReference,
  hl7TimeToFhir,
  parseCda,
  patientIns,
  readCdaHeader,
  readNonXmlBody,
  renderCdaHtml,
  formatCdaTime,
  type CdaError,
} from './index.js';

const CORPUS = fileURLToPath(new URL('../../../shared/corpus/cda/', import.meta.url));
const FIXTURES = new URL('../../fixtures/cda/', import.meta.url);
const fixture = (name: string) => readFileSync(new URL(name, FIXTURES));

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? walk(p) : /\.xml$/i.test(f) ? [p] : [];
  });
}

describe('CDA header', () => {
  it('reads the French header: INS, RPPS, custodian, order, service event, set/version, related document', () => {
    const header = readCdaHeader(parseCda(fixture('fr-cr-consultation.xml')));
    expect(header.id).toEqual({ root: '1.2.250.1.999.1.2', extension: 'CR-2024-0001' });
    expect(documentUniqueId(header)).toBe('1.2.250.1.999.1.2^CR-2024-0001');
    expect(header.code).toMatchObject({ code: '11488-4', codeSystem: '2.16.840.1.113883.6.1' });
    expect(header.title).toBe('Compte rendu de consultation de cardiologie');
    expect(header.effectiveTime).toBe('20240102103000+0100');
    expect(header.confidentialityCode?.code).toBe('N');
    expect(header.languageCode).toBe('fr-FR');
    expect(header.setId).toEqual({ root: '1.2.250.1.999.1.3', extension: 'SET-0001' });
    expect(header.versionNumber).toBe(2);
    expect(patientIns(header)).toEqual({ root: '1.2.250.1.213.1.4.10', extension: '277077505600991', ins: 'NIR-test' });
    expect(header.patient.name?.text).toBe('Marie TEST');
    expect(header.patient).toMatchObject({ birthTime: '19770715', administrativeGender: 'F' });
    expect(header.authors[0]).toMatchObject({
      idnps: '810000012345',
      rpps: '10000012345',
      organization: { name: 'CH TEST' },
    });
    expect(header.authors[0]!.name?.text).toBe('Dr Jean MEDECIN');
    expect(header.custodian?.name).toBe('CH TEST');
    expect(header.legalAuthenticator?.name?.family).toEqual(['MEDECIN']);
    expect(header.orderIds).toEqual([{ root: '1.2.250.1.999.7', extension: 'ORD-42' }]);
    expect(header.serviceEvents[0]).toMatchObject({
      code: { code: 'DEQP003' },
      effectiveLow: '20240102090000+0100',
      studyInstanceUids: ['1.2.250.1.999.8.20240102.1'],
    });
    expect(header.relatedDocuments).toEqual([
      { typeCode: 'RPLC', id: { root: '1.2.250.1.999.1.2', extension: 'CR-2024-0000' } },
    ]);
  });

  it('reads the header of every CDA document of the corpus; snippets and stubs are refused with a CdaError', () => {
    let documents = 0;
    let refused = 0;
    let declaredDocuments = 0;
    for (const file of walk(CORPUS)) {
      const bytes = readFileSync(file);
      const isDocument = /<ClinicalDocument[^>]*xmlns="urn:hl7-org:v3"/.test(bytes.toString('utf8'));
      if (isDocument) declaredDocuments++;
      try {
        expect(readCdaHeader(parseCda(bytes)).id.root, file).toBeTruthy();
        documents++;
      } catch (error) {
        expect(isDocument, `${file}: ${(error as Error).message}`).toBe(false);
        expect((error as Error).name, file).toBe('CdaError');
        refused++;
      }
    }
    expect(declaredDocuments).toBeGreaterThan(0);
    expect(documents).toBeGreaterThanOrEqual(declaredDocuments);
    expect(refused).toBeGreaterThan(0);
  });

  it('refuses a non-CDA root, a CDA without id, and XXE', () => {
    expect(
      (() => {
        try {
          parseCda('<html xmlns="http://www.w3.org/1999/xhtml"/>');
        } catch (e) {
          return (e as CdaError).code;
        }
      })(),
    ).toBe(CdaErrorCode.NotCda);
    expect(
      (() => {
        try {
          readCdaHeader(parseCda('<ClinicalDocument xmlns="urn:hl7-org:v3"/>'));
        } catch (e) {
          return (e as CdaError).code;
        }
      })(),
    ).toBe(CdaErrorCode.MissingId);
    const xxe =
      '<?xml version="1.0"?><!DOCTYPE c [<!ENTITY x SYSTEM "file:///etc/hostname">]><ClinicalDocument xmlns="urn:hl7-org:v3"><title>&x;</title></ClinicalDocument>';
    expect(
      (() => {
        try {
          parseCda(xxe);
        } catch (e) {
          return (e as XmlError).code;
        }
      })(),
    ).toBe(XmlErrorCode.DoctypeForbidden);
  });

  it('converts HL7 times to FHIR', () => {
    expect(hl7TimeToFhir('20240102103000+0100')).toBe('2024-01-02T10:30:00+01:00');
    expect(hl7TimeToFhir('20240102')).toBe('2024-01-02');
    expect(hl7TimeToFhir('202401021030')).toBe('2024-01-02T10:30:00Z');
    expect(hl7TimeToFhir('2024-01-02')).toBeUndefined();
  });
});

describe('CDA → DocumentReference + Binary', () => {
  it('maps the header; the Binary holds the exact bytes', () => {
    const bytes = fixture('fr-cr-consultation.xml');
    const { documentReference: dr, binary } = cdaToDocumentReference(readCdaHeader(parseCda(bytes)), bytes, {
      binaryId: 'b1',
      indexedAt: '2024-01-03T00:00:00Z',
      category: { system: 'urn:oid:1.2.250.1.213.1.1.4.1', code: '10', display: 'Compte rendu' },
    });
    expect(Buffer.from(binary.data!, 'base64').equals(bytes)).toBe(true);
    expect(dr.masterIdentifier).toEqual({ system: 'urn:oid:1.2.250.1.999.1.2', value: 'CR-2024-0001' });
    expect(dr.subject).toEqual({
      reference: 'Patient?identifier=urn:oid:1.2.250.1.213.1.4.10|277077505600991',
      identifier: { system: 'urn:oid:1.2.250.1.213.1.4.10', value: '277077505600991' },
      display: 'Marie TEST',
    });
    expect(dr.type?.coding?.[0]).toEqual({
      system: 'http://loinc.org',
      code: '11488-4',
      display: 'Compte rendu de consultation',
    });
    expect(dr.author?.[0]?.identifier).toEqual({ system: 'urn:oid:1.2.250.1.71.4.2.1', value: '810000012345' });
    expect(dr.custodian?.display).toBe('CH TEST');
    expect(dr.securityLabel?.[0]?.coding?.[0]?.code).toBe('N');
    expect(dr.relatesTo?.[0]).toMatchObject({ code: 'replaces', target: { identifier: { value: 'CR-2024-0000' } } });
    expect(dr.content[0]!.attachment).toMatchObject({
      contentType: 'text/xml',
      language: 'fr-FR',
      url: 'Binary/b1',
      size: bytes.byteLength,
      creation: '2024-01-02T10:30:00+01:00',
    });
    expect(dr.context?.period).toEqual({ start: '2024-01-02T09:00:00+01:00', end: '2024-01-02T09:30:00+01:00' });
    expect(dr.context?.related?.map((r) => r.identifier?.value)).toEqual([
      'ORD-42',
      'urn:oid:1.2.250.1.999.8.20240102.1',
    ]);
  });

  it('a PDF is handled alike (DocumentReference + Binary from transport metadata)', () => {
    const pdf = Buffer.from('%PDF-1.4\n%%EOF');
    const { documentReference, binary } = fileToDocumentReference(pdf, {
      binaryId: 'urn:uuid:1',
      contentType: 'application/pdf',
      title: 'scan.pdf',
      patient: { system: 'urn:oid:1.2.250.1.213.1.4.10', value: '277077505600991' },
    });
    expect(binary.contentType).toBe('application/pdf');
    expect(documentReference.content[0]!.attachment).toMatchObject({
      url: 'urn:uuid:1',
      size: pdf.byteLength,
      title: 'scan.pdf',
    });
    expect(documentReference.subject?.identifier?.value).toBe('277077505600991');
  });
});

describe('CDA narrative → safe HTML', () => {
  it('renders the corpus Consultation Note with all its sections (acceptance 4)', () => {
    const doc = parseCda(
      readFileSync(join(CORPUS, 'hl7-c-cda-examples/Documents/Consultation_Note/Consultation_Note.xml')),
    );
    const { html, sectionTitles, notes } = renderCdaHtml(doc);
    expect(sectionTitles).toEqual(
      expect.arrayContaining([
        'ALLERGIES AND ADVERSE REACTIONS',
        'ASSESSMENT',
        'HISTORY OF PRESENT ILLNESS',
        'VITAL SIGNS',
        'RESULTS',
      ]),
    );
    expect(sectionTitles.length).toBeGreaterThanOrEqual(12);
    for (const t of sectionTitles) expect(html).toContain(t.replace(/&/g, '&amp;'));
    expect(html).toContain('<table');
    expect(notes).toContain('xml-stylesheet ignored (stylesheets are never applied)');
    assertSafeHtml(html);
  });

  it('renders every structured CDA of the corpus to allow-listed HTML', () => {
    for (const file of walk(CORPUS)) {
      const bytes = readFileSync(file);
      if (!/<ClinicalDocument[^>]*xmlns="urn:hl7-org:v3"/.test(bytes.toString('utf8'))) continue;
      assertSafeHtml(renderCdaHtml(parseCda(bytes)).html);
    }
  });

  it('renders the French fixture: styles as classes, lists, tables, footnotes, external links as text', () => {
    const { html, sectionTitles } = renderCdaHtml(parseCda(fixture('fr-cr-consultation.xml')));
    expect(sectionTitles).toEqual(['Motif de consultation', 'Examen clinique', 'Conclusion']);
    expect(html).toContain('<span class="cda-bold">à l&#39;effort</span>');
    expect(html).toContain('<ol><li>TA 130/80 mmHg</li><li>FC 72/min</li></ol>');
    expect(html).toContain('<td colspan="1" align="center">Rythme sinusal</td>');
    expect(html).toContain('<small class="cda-footnote" id="cda-fn1">[Selon la patiente.]</small>');
    expect(html).toContain(
      '<span class="cda-link">recommandations</span> <span class="cda-link-target">(https://www.has-sante.fr/recommandations)</span>',
    );
    expect(html).toContain('<h3>Conclusion</h3>');
    expect(html).toContain('<dd>Marie TEST</dd>');
    // Dates as a reader expects them, not the raw HL7 v3 timestamps.
    expect(html).toContain('<dt>Né(e) le</dt><dd>15/07/1977</dd>');
    expect(html).toContain('<dt>Date</dt><dd>02/01/2024 10:30 (UTC+01:00)</dd>');
    assertSafeHtml(html);
  });

  it('shows header timestamps at their precision, and anything that is not a timestamp as written', () => {
    expect(formatCdaTime('1977')).toBe('1977');
    expect(formatCdaTime('197707')).toBe('07/1977');
    expect(formatCdaTime('20261025103000+0000')).toBe('25/10/2026 10:30 (UTC+00:00)');
    expect(formatCdaTime('202610251030-0500')).toBe('25/10/2026 10:30 (UTC-05:00)');
    expect(formatCdaTime('20261025103000.1234')).toBe('25/10/2026 10:30');
    expect(formatCdaTime('<script>')).toBe('<script>');
  });

  it('neutralizes a hostile CDA: no script, handler, style, javascript:, external fetch', () => {
    const { html, notes } = renderCdaHtml(parseCda(fixture('hostile.xml')));
    assertSafeHtml(html);
    expect(html).not.toContain("alert('xhtml')");
    expect(html).not.toContain("alert('v3 script')");
    expect(html).toContain('Hostile &lt;script&gt;');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(html).toContain('<span class="cda-link">js link</span>');
    expect(html).toContain('<span class="cda-bold">styled</span>');
    expect(html).toContain('cell &lt;b&gt;not bold&lt;/b&gt;');
    expect(html).toMatch(/<img class="cda-image" alt="images" src="data:image\/png;base64,iVBOR/);
    expect(html).toContain('kept as text');
    expect(notes.join('\n')).toMatch(/never fetched/);
    expect(notes.join('\n')).toMatch(/xml-stylesheet ignored/);
  });

  it('handles nonXMLBody: embedded PDF decoded, plain text shown as <pre>, references never fetched', () => {
    const pdfDoc = parseCda(
      readFileSync(
        join(CORPUS, 'hl7-c-cda-examples/Unstructured/CDA_with_Embedded_PDF_1/Unstructured_Document_embed.xml'),
      ),
    );
    const pdf = readNonXmlBody(pdfDoc)!;
    expect(pdf.mediaType).toBe('application/pdf');
    expect(pdf.bytes!.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    expect(renderCdaHtml(pdfDoc).html).toContain('application/pdf');
    const text = renderCdaHtml(
      parseCda(
        readFileSync(
          join(
            CORPUS,
            'hl7-c-cda-examples/Unstructured/CDA_with_Embedded_Text_plain/CDA_Embedded_Text_Plain_Surgical_Consult.xml',
          ),
        ),
      ),
    );
    expect(text.html).toContain('<pre class="cda-plain-text">');
    const ref = parseCda(
      readFileSync(
        join(CORPUS, 'hl7-c-cda-examples/Unstructured/CDA_reference_PDF/Unstructured_Document_reference.xml'),
      ),
    );
    expect(readNonXmlBody(ref)!.reference).toBeTruthy();
    expect(renderCdaHtml(ref).notes).toContain('nonXMLBody reference not fetched');
  });
});

describe('CDA encodings', () => {
  it('reads an ISO-8859-1 and a UTF-16 CDA the same as the UTF-8 one', () => {
    const utf8 = fixture('fr-cr-consultation.xml').toString('utf8');
    const reference = readCdaHeader(parseCda(utf8));
    const latin1 = Buffer.from(utf8.replace('encoding="UTF-8"', 'encoding="ISO-8859-1"'), 'latin1');
    expect(readCdaHeader(parseCda(latin1))).toEqual(reference);
    const utf16 = Buffer.concat([
      Buffer.from([0xff, 0xfe]),
      Buffer.from(utf8.replace('encoding="UTF-8"', 'encoding="UTF-16"'), 'utf16le'),
    ]);
    expect(readCdaHeader(parseCda(utf16))).toEqual(reference);
    expect(renderCdaHtml(parseCda(latin1)).html).toContain('à l&#39;effort');
  });

  it('refuses a CDA declared UTF-8 whose bytes are ISO-8859-1, naming the byte', () => {
    const wrong = Buffer.from(fixture('fr-cr-consultation.xml').toString('utf8'), 'latin1');
    expect(() => parseCda(wrong)).toThrow(/not valid utf-8 \(first bad byte at offset \d+/);
  });
});
