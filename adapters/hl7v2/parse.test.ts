import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Hl7Error, Hl7ErrorCode, parseHl7Message, readCx, readXpn, tryParseHl7Message } from './index.js';

const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/hl7v2');
const fixture = (name: string) => fs.readFileSync(path.join(fixtures, name));

const ADT = [
  'MSH|^~\\&|SENDER|FAC|RECV|RFAC|20240315143000||ADT^A01^ADT_A01|CTRL-1|P|2.5.1|||AL|NE',
  'EVN|A01|20240315143000',
  'PID|1||123^^^HOSP^MR~456^^^OTHER&1.2.3&ISO^PI||DOE^JOHN^Q^JR^DR^^L~SMITH^J^^^^^A||19800101|M',
  'ZXY|custom|z^segment',
].join('\r');

function errorOf(fn: () => unknown): Hl7Error {
  try {
    fn();
  } catch (e) {
    if (e instanceof Hl7Error) return e;
    throw e;
  }
  throw new Error('expected an Hl7Error');
}

describe('parseHl7Message: structure and paths', () => {
  const msg = parseHl7Message(Buffer.from(ADT));

  it('lists segments in order, Z-segments included', () => {
    expect(msg.segmentNames()).toEqual(['MSH', 'EVN', 'PID', 'ZXY']);
    expect(msg.segments('ZXY')[0]!.get('2.2')).toBe('segment');
    expect(msg.segmentCount).toBe(4);
  });

  it('numbers MSH fields like the standard: MSH-1 is the separator, MSH-2 the encoding characters', () => {
    expect(msg.get('MSH-1')).toBe('|');
    expect(msg.get('MSH-2')).toBe('^~\\&');
    expect(msg.get('MSH-3')).toBe('SENDER');
    expect(msg.get('MSH-9')).toBe('ADT');
    expect(msg.get('MSH-9.2')).toBe('A01');
    expect(msg.get('MSH-10')).toBe('CTRL-1');
    expect(msg.msh.field(2).repetitions()).toHaveLength(1); // not split on its own ~
  });

  it('reads repetitions, components and subcomponents by path, counting from 1', () => {
    expect(msg.get('PID-3')).toBe('123');
    expect(msg.get('PID-3[2]')).toBe('456');
    expect(msg.get('PID-3[2].4')).toBe('OTHER');
    expect(msg.get('PID-3[2].4.2')).toBe('1.2.3');
    expect(msg.get('PID-5[2].2')).toBe('J');
    expect(msg.get('PID-3[3]')).toBeUndefined();
    expect(msg.get('PID-40')).toBeUndefined();
    expect(msg.get('OBX-5')).toBeUndefined();
    expect(msg.getAll('PID-3.1')).toEqual(['123', '456']);
    expect(msg.repetitions('PID-5').map((r) => readXpn(r)?.family)).toEqual(['DOE', 'SMITH']);
    expect(readCx(msg.repetitions('PID-3')[1])).toEqual({
      id: '456',
      assigningAuthority: { namespaceId: 'OTHER', universalId: '1.2.3', universalIdType: 'ISO' },
      identifierTypeCode: 'PI',
    });
  });

  it('tells empty (undefined) from the HL7 null "" (null)', () => {
    const m = parseHl7Message('MSH|^~\\&|A|B|||||ADT^A08|1|P|2.5\rPID|1||X||""^Jean|""');
    expect(m.get('PID-2')).toBeUndefined();
    expect(m.get('PID-5.1')).toBeNull();
    expect(m.get('PID-6')).toBeNull();
    expect(m.field('PID-6')!.isNull).toBe(true);
    expect(m.field('PID-2')!.isEmpty).toBe(true);
  });

  it('rejects malformed paths with the accepted forms', () => {
    for (const p of ['PID', 'pid-3', 'PID-0', 'PID-3[0]', 'PID-3..1', 'PID-3.1.1.1']) {
      const e = errorOf(() => msg.get(p));
      expect(e.code).toBe(Hl7ErrorCode.BadPath);
      expect(e.message).toContain('PID-3[2].1');
    }
  });

  it('gives the header essentials', () => {
    const h = msg.header;
    expect(h.messageType).toEqual({ code: 'ADT', triggerEvent: 'A01', structure: 'ADT_A01' });
    expect(h.controlId).toBe('CTRL-1');
    expect(h.processingId).toEqual({ id: 'P' });
    expect(h.version).toEqual({ id: '2.5.1' });
    expect(h.acceptAckType).toBe('AL');
    expect(h.applicationAckType).toBe('NE');
    expect(h.sendingApplication).toEqual({ namespaceId: 'SENDER' });
    expect(h.receivingFacility).toEqual({ namespaceId: 'RFAC' });
  });
});

describe('segment terminators', () => {
  const body = ['MSH|^~\\&|A|B|||||ADT^A01|1|P|2.5', 'PID|1||X', 'PV1|1|I'];
  for (const [name, join] of [
    ['\\r', '\r'],
    ['\\n', '\n'],
    ['\\r\\n', '\r\n'],
  ] as const) {
    it(`reads ${name} endings and gives the bytes back unchanged`, () => {
      const bytes = Buffer.from(body.join(join) + join);
      const m = parseHl7Message(bytes);
      expect(m.segmentNames()).toEqual(['MSH', 'PID', 'PV1']);
      expect(m.get('PV1-2')).toBe('I');
      expect(m.toBuffer().equals(bytes)).toBe(true);
    });
  }

  it('reads mixed endings, blank lines and a missing final terminator', () => {
    const bytes = Buffer.from('MSH|^~\\&|A|B|||||ADT^A01|1|P|2.5\r\n\r\nPID|1||X\n  \nPV1|1|I');
    const m = parseHl7Message(bytes);
    expect(m.segmentNames()).toEqual(['MSH', 'PID', 'PV1']);
    expect(m.toBuffer().equals(bytes)).toBe(true);
  });
});

describe('separators', () => {
  it('reads any field separator and MSH-2 (custom delimiters)', () => {
    const m = parseHl7Message(
      'MSH#!@%*#SENDER#FAC#RECV#FAC#20260301120000##ADT!A01#MSG007#P#2.5\rPID#1##12345!!!MRN@999!!!X*Y##DOE!JOHN',
    );
    expect(m.delimiters).toMatchObject({ field: '#', component: '!', repetition: '@', escape: '%', subcomponent: '*' });
    expect(m.get('MSH-9.2')).toBe('A01');
    expect(m.get('PID-3[2].4.2')).toBe('Y');
    expect(m.get('PID-5.2')).toBe('JOHN');
  });

  it('reads MSH-2 = ^˜\\& with U+02DC in UTF-8 inside a Latin-1 message (IHE PAM France)', () => {
    const bytes = fixture('pam-fr-adt-a01-latin1-small-tilde.hl7');
    const m = parseHl7Message(bytes);
    expect(m.delimiters.repetition).toBe('\u02dc');
    expect(m.get('MSH-2')).toBe('^\u02dc\\&');
    expect(m.charset).toBe('8859/1');
    // the ASCII ~ the same sender uses in the body still separates repetitions
    expect(m.getAll('PID-3.5')).toEqual(['INS', 'PI']);
    expect(m.get('PID-5[1].3')).toBe('Hélène Bérénice');
    expect(m.get('PID-5[2].1')).toBe('MARTIN');
    expect(m.header.version).toEqual({ id: '2.5', internationalizationCode: 'FRA', internationalVersionId: '2.11' });
    expect(m.toBuffer().equals(bytes)).toBe(true);
  });

  it('reads U+02DC written as the Windows-1252 byte 0x98', () => {
    const bytes = Buffer.concat([
      Buffer.from('MSH|^'),
      Buffer.from([0x98]),
      Buffer.from('\\&|A|B|||||ADT^A01|1|P|2.5|||||||8859/1\rPID|1||A~B'),
    ]);
    const m = parseHl7Message(bytes);
    expect(m.delimiters.repetition).toBe('\u02dc');
    expect(m.getAll('PID-3')).toEqual(['A', 'B']);
    expect(m.toBuffer().equals(bytes)).toBe(true);
  });

  it('rejects unusable separators with a precise error at MSH-2', () => {
    const cases: [string, string][] = [
      ['MSH|^~\\\\&|A', 'twice'], // 5 characters, \ twice
      ['MSH|^~^&|A', 'twice'],
      ['MSH|0000|A', 'component separator'],
      ['MSH|^|A', 'MSH-2 has 1'],
      ['MSHA^~\\&A', 'field separator'],
      ['MSH| ^~\\&|A', 'component separator'],
      ['MSH||A', 'empty'],
      ['MSH|^~\\"|A', 'subcomponent separator'],
    ];
    for (const [text, hint] of cases) {
      const e = errorOf(() => parseHl7Message(`${text}\rPID|1`));
      expect(e.code, text).toBe(Hl7ErrorCode.BadEncodingChars);
      expect(e.message, text).toContain(hint);
      expect(e.location).toMatchObject({ segmentName: 'MSH', field: 2 });
    }
  });
});

describe('rejections say what is wrong and where', () => {
  it('no MSH: names what was found, and recognises MLLP framing and XML', () => {
    expect(errorOf(() => parseHl7Message('PID|1||X')).message).toContain('the MSH header segment is missing');
    expect(errorOf(() => parseHl7Message('\x0bMSH|^~\\&|A\x1c\r')).message).toContain('MLLP');
    expect(errorOf(() => parseHl7Message('<ADT_A01><MSH/></ADT_A01>')).message).toContain('XML');
    expect(errorOf(() => parseHl7Message('')).code).toBe(Hl7ErrorCode.Empty);
    expect(errorOf(() => parseHl7Message('\r\n\r\n')).code).toBe(Hl7ErrorCode.Empty);
  });

  it('a line that is not a segment: line number and the hint about unescaped line breaks', () => {
    const e = errorOf(() => parseHl7Message('MSH|^~\\&|A|B|||||ORU^R01|1|P|2.5\rOBX|1|TX|||first line\nsecond line|'));
    expect(e.code).toBe(Hl7ErrorCode.SegmentName);
    expect(e.location).toMatchObject({ line: 3, segmentIndex: 3 });
    expect(e.message).toContain('\\.br\\');
    expect(errorOf(() => parseHl7Message('MSH|^~\\&|A\rPIDX|1')).code).toBe(Hl7ErrorCode.SegmentName);
    expect(errorOf(() => parseHl7Message('MSH|^~\\&|A\rpid|1')).code).toBe(Hl7ErrorCode.SegmentName);
  });

  it('a second MSH or a batch envelope in a single message', () => {
    const two = errorOf(() => parseHl7Message('MSH|^~\\&|A\rPID|1\rMSH|^~\\&|B'));
    expect(two.code).toBe(Hl7ErrorCode.MultipleMessages);
    expect(two.location.segmentIndex).toBe(3);
    expect(errorOf(() => parseHl7Message('FHS|^~\\&|A\rMSH|^~\\&|B')).code).toBe(Hl7ErrorCode.BatchStructure);
    expect(errorOf(() => parseHl7Message('MSH|^~\\&|A\rBTS|1')).code).toBe(Hl7ErrorCode.BatchStructure);
  });

  it('tryParseHl7Message returns the error instead of throwing', () => {
    const r = tryParseHl7Message('garbage');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.code).toBe(Hl7ErrorCode.NoMsh);
    const ok = tryParseHl7Message(ADT);
    expect(ok.ok && ok.value.get('MSH-10')).toBe('CTRL-1');
  });

  it('locates a bad control byte: segment, field, line', () => {
    const e = errorOf(() => parseHl7Message(Buffer.from('MSH|^~\\&|A|B|||||ADT^A01|1|P|2.5\rPID|1||AB\x00CD')));
    expect(e.code).toBe(Hl7ErrorCode.ControlCharacter);
    expect(e.location).toMatchObject({ segmentName: 'PID', segmentIndex: 2, field: 3, line: 2 });
    expect(e.message).toContain('NUL');
    expect(e.conditionCode).toBe('102');
  });
});
