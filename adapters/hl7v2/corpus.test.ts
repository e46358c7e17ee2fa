// The whole public corpus: every message is parsed and re-serialized byte for byte, or rejected with a precise
// coded error; the nHapi fuzz crashers never crash nor hang the parser.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { buildAck, buildRejectAck, Hl7Error, Hl7ErrorCode, parseHl7Batch, parseHl7Message } from './index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const corpus = path.resolve(here, '../../../shared/corpus/hl7v2');
const fuzzRoot = path.join(corpus, 'nhapi/fuzz-crashers');
const catalogue = new Set<string>(Object.values(Hl7ErrorCode));

/** Message files: not the XML encodings, not the assertion format, not the CSV/TSV/JSON/FHIR side files. */
function messageFiles(dir: string, out: string[] = []): string[] {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      const rel = path.relative(corpus, p);
      if (
        e.name === 'xml-encoding' ||
        rel === 'mirth-connect/er7-xml-pairs' ||
        rel === 'izgateway-v2tofhir/assertion-format' ||
        rel.endsWith('mapping-spec-csv')
      )
        continue;
      messageFiles(p, out);
    } else if (!/\.(tsv|csv|json|fhir|xml|md)$/i.test(e.name)) out.push(p);
  }
  return out.sort();
}

function expectPrecise(error: unknown, file: string): asserts error is Hl7Error {
  expect(error, file).toBeInstanceOf(Hl7Error);
  const e = error as Hl7Error;
  expect(catalogue.has(e.code), `${file}: ${e.code}`).toBe(true);
  expect(e.detail.length, file).toBeGreaterThan(20);
  // Something says where: a segment, a line or a byte offset (an empty input has nowhere).
  if (e.code !== Hl7ErrorCode.Empty) {
    expect(
      e.location.segmentName !== undefined || e.location.line !== undefined || e.location.byteOffset !== undefined,
      `${file}: ${e.message}`,
    ).toBe(true);
  }
}

const hasCorpus = fs.existsSync(corpus);

describe.skipIf(!hasCorpus)('the HL7v2 corpus in ../shared/corpus/hl7v2', () => {
  it('parses and re-serializes every message byte for byte, or rejects it with a precise coded error', () => {
    const files = messageFiles(corpus);
    expect(files.length).toBeGreaterThan(300);
    let roundTripped = 0;
    let messages = 0;
    const rejected: string[] = [];
    const byCode = new Map<string, number>();
    for (const file of files) {
      const bytes = fs.readFileSync(file);
      const rel = path.relative(corpus, file);
      let batch;
      try {
        batch = parseHl7Batch(bytes);
      } catch (error) {
        expectPrecise(error, rel);
        rejected.push(`${rel}: ${error.code}`);
        byCode.set(error.code, (byCode.get(error.code) ?? 0) + 1);
        // The sender still gets an answer it can parse.
        const ack = parseHl7Message(buildRejectAck(bytes, error).toBuffer());
        expect(['AR', 'CR']).toContain(ack.get('MSA-1'));
        continue;
      }
      expect(batch.toBuffer().equals(bytes), rel).toBe(true);
      for (const message of batch.messages) {
        messages++;
        // Every message can be answered, in its own version, separators and charset.
        const ack = parseHl7Message(buildAck(message, { code: 'AA' }).toBuffer());
        expect(ack.get('MSA-2'), rel).toBe(message.get('MSH-10'));
        expect(ack.msh.rawField(12), rel).toBe(message.msh.rawField(12));
        expect(ack.delimiters.encodingCharacters, rel).toBe(message.delimiters.encodingCharacters);
        expect(ack.get('MSH-18'), rel).toBe(message.get('MSH-18'));
        if (message.charsetSource === 'MSH-18') expect(ack.charset, rel).toBe(message.charset);
        // Structural round trip: every segment is exactly its fields, repetitions, components and
        // subcomponents joined back with the separators — the model covers every character.
        const d = message.delimiters;
        for (const seg of message.segments()) {
          const header = seg.name === 'MSH';
          const fields = seg.fields().map((f, k) => {
            if (header && k < 2) return f.raw;
            const reps = f.repetitions().map((r) =>
              r
                .components()
                .map((c) => c.raw)
                .join(d.component),
            );
            return reps.length ? reps.join(d.repetition) : '';
          });
          // Repetitions split on the ASCII alias too (U+02DC case): compare modulo that alias.
          const rebuilt = header ? ['MSH', ...fields.slice(1)].join(d.field) : [seg.name, ...fields].join(d.field);
          const text = d.repetitionAlias ? seg.text.split(d.repetitionAlias).join(d.repetition) : seg.text;
          expect(rebuilt, `${rel} ${seg.name}`).toBe(text);
        }
      }
      roundTripped++;
    }
    console.log(
      `HL7v2 corpus: ${files.length} files — ${roundTripped} re-serialized byte for byte (${messages} messages), ${rejected.length} rejected with a coded error (${[...byCode].map(([c, n]) => `${c} ${n}`).join(', ')})`,
    );
    // The rejections outside the fuzz crashers are all inputs that are genuinely not valid ER7.
    const outsideFuzz = rejected.filter((r) => !r.startsWith('nhapi/fuzz-crashers'));
    console.log(`rejected outside the fuzz crashers:\n  ${outsideFuzz.join('\n  ')}`);
    expect(outsideFuzz.sort()).toEqual(
      [
        'cdc-trusted-intermediary/input/TX/001_TX_OML_O21.hl7: HL7_SEGMENT_NAME', // an unescaped line break inside OBR-4
        'dcm4che/ORU_R01-PDF.hl7: HL7_SEGMENT_NAME', // a CR inside the base64 of OBX-5
        'hapi-hl7v2/er7/messages.txt: HL7_NO_MSH', // starts with a /* comment */
        'hapi-hl7v2/er7/uuencoded_escaped.txt: HL7_NO_MSH', // a uuencoded payload, not a message
        'linuxforhealth-hl7v2-fhir-converter/sample_unix.hl7: HL7_BAD_ENCODING_CHARS', // MSH-2 = ^~\\& (5 chars, \ twice)
        'linuxforhealth-hl7v2-fhir-converter/sample_win.hl7: HL7_BAD_ENCODING_CHARS',
        'nhapi/er7/uuencoded_unescaped.txt: HL7_NO_MSH',
        'rethinkhealth-hl7v2/fixtures/invalid-missing-msh.hl7: HL7_NO_MSH',
        'rethinkhealth-hl7v2/fixtures/invalid-segment-header-length.hl7: HL7_SEGMENT_NAME', // PIDX
      ].sort(),
    );
    expect(roundTripped).toBeGreaterThan(350);
  });

  it('rejects (or parses) every nHapi fuzz crasher without crashing or hanging', () => {
    const files = messageFiles(fuzzRoot);
    expect(files.length).toBeGreaterThanOrEqual(37);
    const outcomes: string[] = [];
    for (const file of files) {
      const bytes = fs.readFileSync(file);
      // One input at a time: a hang would stop here and time the test out.
      for (const parse of [() => parseHl7Message(bytes), () => parseHl7Batch(bytes)]) {
        try {
          const result = parse();
          outcomes.push(`${path.basename(file)}: parsed`);
          expect(result.toBuffer().equals(bytes)).toBe(true);
        } catch (error) {
          expectPrecise(error, file);
          outcomes.push(`${path.basename(file)}: ${error.code}`);
          expect(() => buildRejectAck(bytes, error).toBuffer()).not.toThrow();
        }
      }
    }
    const rejected = outcomes.filter((o) => !o.endsWith('parsed')).length;
    console.log(
      `nHapi fuzz crashers: ${files.length} inputs, ${rejected} of ${outcomes.length} parses rejected with a coded error, none crashed`,
    );
    // Each of them is broken (bad separators, no MSH, stray lines): none should pass as a message.
    expect(rejected).toBe(outcomes.length);
  });
});
