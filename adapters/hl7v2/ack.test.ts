import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { AckCode, ackCodeFor, buildAck, buildRejectAck, Hl7Error, Hl7ErrorCode, parseHl7Message } from './index.js';

const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/hl7v2');
const when = new Date(Date.UTC(2024, 2, 15, 13, 30, 0));

function errorOf(fn: () => unknown): Hl7Error {
  try {
    fn();
  } catch (e) {
    if (e instanceof Hl7Error) return e;
    throw e;
  }
  throw new Error('expected an Hl7Error');
}

describe('buildAck', () => {
  it('answers an IHE PAM France message in its version, separators (U+02DC) and charset', () => {
    const received = parseHl7Message(fs.readFileSync(path.join(fixtures, 'pam-fr-adt-a01-latin1-small-tilde.hl7')));
    const ack = buildAck(received, {
      code: ackCodeFor(received, 'accept', 'application'),
      controlId: 'ACK-1',
      dateTime: when,
    });
    const bytes = ack.toBuffer();
    // MSH-2 echoed byte for byte (U+02DC in UTF-8 as received), the rest in 8859/1
    expect(bytes.subarray(0, 9)).toEqual(Buffer.from('MSH|^\u02dc\\&', 'utf8'));
    const back = parseHl7Message(bytes);
    expect(back.charset).toBe('8859/1');
    expect(back.header.sendingApplication).toEqual({ namespaceId: 'KENEY' }); // received MSH-5
    expect(back.header.receivingApplication).toEqual({ namespaceId: 'SIH-TEST' }); // received MSH-3
    expect(back.header.messageType).toEqual({ code: 'ACK', triggerEvent: 'A01', structure: 'ACK' });
    expect(back.header.version).toEqual({ id: '2.5', internationalizationCode: 'FRA', internationalVersionId: '2.11' });
    expect(back.get('MSH-10')).toBe('ACK-1');
    expect(back.get('MSH-11')).toBe('P');
    expect(back.get('MSH-18')).toBe('8859/1');
    expect(back.get('MSA-1')).toBe('AA');
    expect(back.get('MSA-2')).toBe('ADT-0001');
    expect(back.segmentNames()).toEqual(['MSH', 'MSA']);
  });

  it('v2.5+: one ERR per error with ERR-2 location, ERR-3 table 0357, ERR-4 severity, ERR-8 user message', () => {
    const received = parseHl7Message(
      'MSH|^~\\&|LAB|CHU|HUB|CHU|20240315||ORU^R01^ORU_R01|M1|P|2.5.1\rPID|1||X\rOBX|1|NM|GLU||abc\rOBX|2|NM|GLU||>5',
    );
    const bad = errorOf(() => received.getNumber('OBX[2]-5'));
    const ack = buildAck(received, {
      code: AckCode.ApplicationError,
      errors: [
        bad,
        {
          conditionCode: '101',
          location: received.locate('PID-5'),
          message: 'PID-5 (patient name) is required',
          diagnostic: 'rule R1',
        },
      ],
      controlId: 'A2',
      dateTime: when,
    });
    const back = parseHl7Message(ack.toBuffer());
    expect(back.get('MSA-1')).toBe('AE');
    // MSA-3 is still written before v2.7 (where it is withdrawn), clipped to its 80 characters; ERR-8 has it all
    expect(back.get('MSA-3')).toBe('">5" is not an HL7 number (NM: optional sign, digits, optional decimal point)');
    const errs = back.segments('ERR');
    expect(errs).toHaveLength(2);
    expect(errs[0]!.text).toBe(
      'ERR||OBX^2^5^1|102^Data type error^HL70357|E||||">5" is not an HL7 number (NM: optional sign, digits, optional decimal point)',
    );
    expect(errs[1]!.get('2')).toBe('PID');
    expect(errs[1]!.get('2.3')).toBe('5');
    expect(errs[1]!.get('3')).toBe('101');
    expect(errs[1]!.get('7')).toBe('rule R1');
    expect(errs[1]!.get('8')).toBe('PID-5 (patient name) is required');
  });

  it('v2.3: MSA-3 text and one ERR whose ERR-1 repeats (segment^sequence^field^code&text&HL70357)', () => {
    const received = parseHl7Message('MSH|^~\\&|LAB|CHU|HUB|CHU|20240315||ORU^R01|M1|P|2.3\rPID|1||X');
    const ack = buildAck(received, {
      code: 'AR',
      errors: [
        {
          conditionCode: '101',
          location: { segmentName: 'PID', segmentSequence: 1, field: 5 },
          message: 'name missing',
        },
        { conditionCode: '200', message: 'ORU not accepted here' },
      ],
      dateTime: when,
    });
    const back = parseHl7Message(ack.toBuffer());
    expect(back.header.messageType).toEqual({ code: 'ACK', triggerEvent: 'R01' });
    expect(back.get('MSA-3')).toBe('name missing');
    expect(back.segments('ERR')).toHaveLength(1);
    expect(back.segment('ERR')!.text).toBe(
      'ERR|PID^1^5^101&Required field missing&HL70357~^^^200&Unsupported message type&HL70357',
    );
  });

  it('v2.1/2.2: MSH-9 is just ACK', () => {
    const received = parseHl7Message('MSH|^~\\&|LAB|CHU|HUB|CHU|199405021616||ORU^R01|M1|P|2.2');
    expect(parseHl7Message(buildAck(received, { code: 'AA' }).toBuffer()).get('MSH-9')).toBe('ACK');
  });

  it('enhanced mode (MSH-15/16 valued): commit codes CA/CE/CR', () => {
    const enhanced = parseHl7Message('MSH|^~\\&|A|B|C|D|20240315||ADT^A01|1|P|2.5|||AL|NE');
    const original = parseHl7Message('MSH|^~\\&|A|B|C|D|20240315||ADT^A01|1|P|2.5');
    expect(ackCodeFor(enhanced, 'accept')).toBe('CA');
    expect(ackCodeFor(enhanced, 'reject')).toBe('CR');
    expect(ackCodeFor(enhanced, 'error', 'application')).toBe('AE');
    expect(ackCodeFor(original, 'accept')).toBe('AA');
    expect(ackCodeFor(original, 'error')).toBe('AE');
  });

  it('generates distinct control ids', () => {
    const received = parseHl7Message('MSH|^~\\&|A|B|C|D|20240315||ADT^A01|1|P|2.5');
    const ids = new Set(Array.from({ length: 50 }, () => buildAck(received, { code: 'AA' }).get('MSH-10')));
    expect(ids.size).toBe(50);
  });
});

describe('buildRejectAck: input too broken to parse', () => {
  it('no MSH at all: AR in 2.5 with |^~\\&, ASCII, ERR-3 = 100, MSA-2 empty', () => {
    const input = Buffer.from('PID|1||X\rPV1|1');
    const error = errorOf(() => parseHl7Message(input));
    const back = parseHl7Message(
      buildRejectAck(input, error, { sendingApplication: 'KENEY', dateTime: when }).toBuffer(),
    );
    expect(back.get('MSH-3')).toBe('KENEY');
    expect(back.get('MSH-12')).toBe('2.5');
    expect(back.get('MSA-1')).toBe('AR');
    expect(back.get('MSA-2')).toBeUndefined();
    expect(back.get('ERR-3')).toBe('100');
    expect(back.get('ERR-8')).toContain('MSH header segment is missing');
  });

  it('a readable MSH but a broken body: echoes its control id, version, applications and asks nothing more', () => {
    const input = Buffer.from(
      'MSH|^~\\&|LAB|CHU|HUB|CHU2|20240315||ORU^R01|CTRL-9|T|2.4|||AL|AL\rOBX|1|TX|||line one\nline two',
    );
    const error = errorOf(() => parseHl7Message(input));
    const back = parseHl7Message(buildRejectAck(input, error).toBuffer());
    expect(back.header.receivingApplication).toEqual({ namespaceId: 'LAB' });
    expect(back.header.sendingFacility).toEqual({ namespaceId: 'CHU2' });
    expect(back.get('MSH-11')).toBe('T');
    expect(back.get('MSH-12')).toBe('2.4');
    expect(back.get('MSA-1')).toBe('CR'); // it asked for enhanced mode
    expect(back.get('MSA-2')).toBe('CTRL-9');
    expect(back.get('ERR-1.4')).toBe('100'); // v2.4 layout
    expect(back.get('MSA-3')!.length).toBeLessThanOrEqual(80);
  });

  it('bytes the declared charset cannot hold: the ACK is written in ASCII', () => {
    const input = Buffer.concat([
      Buffer.from('MSH|^~\\&|LAB|CHU|HUB|CHU|20240315||ADT^A01|C1|P|2.5|||||FRA|UNICODE UTF-8\rPID|1||X||H'),
      Buffer.from([0xe9]),
      Buffer.from('l'),
    ]);
    const error = errorOf(() => parseHl7Message(input));
    expect(error.code).toBe(Hl7ErrorCode.UndecodableBytes);
    const bytes = buildRejectAck(input, error).toBuffer();
    expect(bytes.every((b) => b < 0x80)).toBe(true);
    const back = parseHl7Message(bytes);
    expect(back.get('MSA-2')).toBe('C1');
    expect(back.get('ERR-2')).toBe('PID');
    expect(back.get('ERR-2.3')).toBe('5');
  });

  it('garbage, NUL bytes, a lone MSH: always an ACK that parses', () => {
    for (const input of [
      Buffer.alloc(0),
      Buffer.from([0, 1, 2, 0xff]),
      Buffer.from('MSH'),
      Buffer.from('MSH|'),
      Buffer.from('MSH|^~\\&|\u00e9\u0000'),
    ]) {
      let error: Hl7Error;
      try {
        parseHl7Message(input);
        continue;
      } catch (e) {
        error = e as Hl7Error;
      }
      const back = parseHl7Message(buildRejectAck(input, error).toBuffer());
      expect(back.get('MSA-1')).toBe('AR');
    }
  });
});
