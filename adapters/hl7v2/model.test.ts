// Editing a parsed message, building one from scratch, serializing both.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createHl7Message, Hl7Error, Hl7ErrorCode, parseHl7Message, repeat } from './index.js';

const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/hl7v2');

function errorOf(fn: () => unknown): Hl7Error {
  try {
    fn();
  } catch (e) {
    if (e instanceof Hl7Error) return e;
    throw e;
  }
  throw new Error('expected an Hl7Error');
}

describe('editing a parsed message', () => {
  const source = Buffer.from('MSH|^~\\&|A|B|C|D|20240101||ADT^A08|1|P|2.5\r\nPID|1||X^^^H^PI||DOE^JOHN\r\nPV1|1|I\r\n');

  it('re-encodes only the edited segment; the others are copied byte for byte with their terminators', () => {
    const m = parseHl7Message(source);
    expect(m.isModified).toBe(false);
    m.set('PID-5.2', 'Jean|Paul');
    expect(m.isModified).toBe(true);
    expect(m.toBuffer().toString()).toBe(
      'MSH|^~\\&|A|B|C|D|20240101||ADT^A08|1|P|2.5\r\nPID|1||X^^^H^PI||DOE^Jean\\F\\Paul\r\nPV1|1|I\r\n',
    );
    expect(parseHl7Message(m.toBuffer()).get('PID-5.2')).toBe('Jean|Paul');
  });

  it('creates repetitions, components and subcomponents as needed; null writes the HL7 null', () => {
    const m = parseHl7Message(source);
    m.set('PID-3[2].4.2', '1.2.250.1.999');
    m.set('PID-8', null);
    m.set('PV1-3.1', 'CARDIO');
    expect(m.segment('PID')!.text).toBe('PID|1||X^^^H^PI~^^^&1.2.250.1.999||DOE^JOHN|||""');
    expect(m.get('PID-8')).toBeNull();
    expect(m.get('PV1-3')).toBe('CARDIO');
  });

  it('sets whole fields with repetitions and components', () => {
    const m = parseHl7Message(source);
    m.segment('PID')!.setField(3, repeat(['123', '', '', ['CHU', '1.2.3', 'ISO'], 'PI'], ['456']));
    expect(m.get('PID-3[1].4.2')).toBe('1.2.3');
    expect(m.getAll('PID-3.1')).toEqual(['123', '456']);
  });

  it('adds and removes segments; MSH stays first and cannot be edited in its separators', () => {
    const m = parseHl7Message(source);
    m.addSegment('ZBE', ['MVT-1', '20240101', undefined, 'INSERT']);
    m.addSegment('EVN', ['A08'], 2);
    expect(m.segmentNames()).toEqual(['MSH', 'EVN', 'PID', 'PV1', 'ZBE']);
    m.removeSegment(4);
    expect(m.segmentNames()).toEqual(['MSH', 'EVN', 'PID', 'ZBE']);
    const out = m.toBuffer().toString();
    // new segments take the terminator the message uses (here \r\n)
    expect(out).toBe(
      'MSH|^~\\&|A|B|C|D|20240101||ADT^A08|1|P|2.5\r\nEVN|A08\r\nPID|1||X^^^H^PI||DOE^JOHN\r\nZBE|MVT-1|20240101||INSERT',
    );
    expect(parseHl7Message(out).get('ZBE-4')).toBe('INSERT');
    expect(errorOf(() => m.set('MSH-2', 'x')).code).toBe(Hl7ErrorCode.BadInput);
    expect(errorOf(() => m.addSegment('MSH')).code).toBe(Hl7ErrorCode.BadInput);
    expect(errorOf(() => m.addSegment('zbe')).code).toBe(Hl7ErrorCode.BadInput);
    expect(errorOf(() => m.removeSegment(1)).code).toBe(Hl7ErrorCode.BadInput);
    expect(errorOf(() => m.set('OBX-5', 'x')).message).toContain('addSegment');
  });

  it('an edited MSH keeps its U+02DC bytes and the Latin-1 of the rest', () => {
    const bytes = fs.readFileSync(path.join(fixtures, 'pam-fr-adt-a01-latin1-small-tilde.hl7'));
    const m = parseHl7Message(bytes);
    m.set('MSH-10', 'ADT-0001-bis');
    m.set('PID-5.2', 'Hélène-Zoé');
    const out = m.toBuffer();
    expect(out.subarray(0, 9)).toEqual(Buffer.from('MSH|^\u02dc\\&', 'utf8'));
    const again = parseHl7Message(out);
    expect(again.get('MSH-10')).toBe('ADT-0001-bis');
    expect(again.get('PID-5.2')).toBe('Hélène-Zoé');
    expect(again.get('PID-5.3')).toBe('Hélène Bérénice');
    // the segments not edited are the same bytes
    const tail = (b: Buffer) => b.subarray(b.indexOf('PV1|'));
    expect(tail(out).equals(tail(bytes))).toBe(true);
  });

  it('a character the charset cannot hold is an error, not a silent "?"', () => {
    const m = parseHl7Message(Buffer.from('MSH|^~\\&|A|B|C|D|20240101||ADT^A08|1|P|2.5|||||FRA|8859/1\rPID|1'));
    m.set('PID-5', 'Łukasz');
    expect(errorOf(() => m.toBuffer()).message).toContain('cannot be written in 8859/1');
  });
});

describe('createHl7Message', () => {
  it('builds the MSH from typed options and escapes values', () => {
    const m = createHl7Message({
      messageType: 'ADT^A28^ADT_A05',
      controlId: 'MSG-1',
      version: { id: '2.5', internationalizationCode: 'FRA', internationalVersionId: '2.11' },
      sendingApplication: 'KENEY',
      sendingFacility: { namespaceId: 'CHU', universalId: '1.2.250.1.999', universalIdType: 'ISO' },
      receivingApplication: 'DPI',
      dateTime: '20240315143000+0100',
      acceptAckType: 'AL',
      applicationAckType: 'NE',
      charset: 'UNICODE UTF-8',
    });
    m.addSegment('PID', [
      '1',
      undefined,
      ['2800175056123', '', '', ['ASIP-SANTE-INS-NIR', '1.2.250.1.213.1.4.10', 'ISO'], 'INS'],
      undefined,
      ['DUPRÉ', 'Hélène^Zoé'],
    ]);
    const text = m.toBuffer().toString('utf8');
    expect(text).toBe(
      'MSH|^~\\&|KENEY|CHU^1.2.250.1.999^ISO|DPI||20240315143000+0100||ADT^A28^ADT_A05|MSG-1|P|2.5^FRA^2.11|||AL|NE||UNICODE UTF-8\r' +
        'PID|1||2800175056123^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.10&ISO^INS||DUPRÉ^Hélène\\S\\Zoé',
    );
    const back = parseHl7Message(m.toBuffer());
    expect(back.header.version.internationalVersionId).toBe('2.11');
    expect(back.get('PID-5.2')).toBe('Hélène^Zoé');
    expect(back.get('PID-3.4.2')).toBe('1.2.250.1.213.1.4.10');
  });

  it('defaults: now for MSH-7, P for MSH-11, ASCII without MSH-18', () => {
    const m = createHl7Message({ messageType: { code: 'ACK' }, controlId: 'X', version: '2.3' });
    expect(m.get('MSH-7')).toMatch(/^\d{14}[+-]\d{4}$/);
    expect(m.get('MSH-11')).toBe('P');
    expect(m.get('MSH-18')).toBeUndefined();
    expect(errorOf(() => createHl7Message({ messageType: 'ACK', controlId: '', version: '2.5' })).message).toContain(
      'MSH-10',
    );
  });
});
