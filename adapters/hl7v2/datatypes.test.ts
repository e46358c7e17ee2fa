import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  Hl7Error,
  Hl7ErrorCode,
  parseHl7DateTime,
  parseHl7Message,
  parseHl7Number,
  readCwe,
  readCx,
  readXad,
  readXcn,
  readXpn,
  readXtn,
} from './index.js';

const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/hl7v2');

describe('HL7 date/time → ISO 8601 with its precision and offset', () => {
  it.each([
    ['2024', '2024', 'year'],
    ['202403', '2024-03', 'month'],
    ['20240315', '2024-03-15', 'day'],
    ['2024031514', '2024-03-15T14', 'hour'],
    ['202403151430', '2024-03-15T14:30', 'minute'],
    ['20240315143005', '2024-03-15T14:30:05', 'second'],
    ['20240315143005.1234', '2024-03-15T14:30:05.1234', 'fraction'],
    ['20240315143005+0100', '2024-03-15T14:30:05+01:00', 'second'],
    ['202403151430-0530', '2024-03-15T14:30-05:30', 'minute'],
    ['20240229', '2024-02-29', 'day'],
  ])('%s → %s (%s)', (raw, iso, precision) => {
    expect(parseHl7DateTime(raw)).toMatchObject({ raw, iso, precision });
  });

  it('keeps the offset apart, undefined when the sender gave none', () => {
    expect(parseHl7DateTime('20240315143005+0100')!.offset).toBe('+01:00');
    expect(parseHl7DateTime('20240315143005')!.offset).toBeUndefined();
    expect(parseHl7DateTime('')).toBeUndefined();
    expect(parseHl7DateTime(null)).toBeUndefined();
  });

  it.each(['2024-03-15', '20241301', '20230229', '20240315250000', '2024031514306', '20240315+2500', 'yesterday'])(
    'rejects %s',
    (raw) => {
      const error = (() => {
        try {
          parseHl7DateTime(raw);
        } catch (e) {
          return e;
        }
      })();
      expect(error).toBeInstanceOf(Hl7Error);
      expect((error as Hl7Error).code).toBe(Hl7ErrorCode.BadValue);
      expect((error as Hl7Error).conditionCode).toBe('102');
    },
  );

  it('message.getDateTime reads TS.1 and names the field in its error', () => {
    const m = parseHl7Message('MSH|^~\\&|A|B|||20240315143000+0100^S||ADT^A01|1|P|2.3\rPID|1||X||DOE||1980-01-01');
    expect(m.getDateTime('MSH-7')!.iso).toBe('2024-03-15T14:30:00+01:00');
    try {
      m.getDateTime('PID-7');
      expect.unreachable();
    } catch (e) {
      expect((e as Hl7Error).location).toMatchObject({ segmentName: 'PID', segmentIndex: 2, field: 7 });
    }
  });
});

describe('numbers', () => {
  it('parses NM and rejects what is not one', () => {
    expect(parseHl7Number('5.4')).toBe(5.4);
    expect(parseHl7Number('-.5')).toBe(-0.5);
    expect(parseHl7Number('+007')).toBe(7);
    expect(parseHl7Number(' 12 ')).toBe(12);
    expect(parseHl7Number('')).toBeUndefined();
    for (const bad of ['1,5', '1e3', '>5', 'NaN', '1.2.3']) expect(() => parseHl7Number(bad)).toThrow(Hl7Error);
    const m = parseHl7Message('MSH|^~\\&|A|B|||20240315||ORU^R01|1|P|2.5\rOBX|1|NM|X||<5');
    expect(() => m.getNumber('OBX-5')).toThrow(/OBX-5/);
  });
});

describe('composite data types', () => {
  const m = parseHl7Message(fs.readFileSync(path.join(fixtures, 'pam-fr-adt-a01-latin1-small-tilde.hl7')));

  it('CX: the INS in PID-3 with its assigning authority OID, and the IPP', () => {
    const [ins, ipp] = m.repetitions('PID-3').map((r) => readCx(r));
    expect(ins).toEqual({
      id: '280017505612325',
      assigningAuthority: {
        namespaceId: 'ASIP-SANTE-INS-NIR',
        universalId: '1.2.250.1.213.1.4.10',
        universalIdType: 'ISO',
      },
      identifierTypeCode: 'INS',
    });
    expect(ipp!.identifierTypeCode).toBe('PI');
    expect(ipp!.assigningAuthority!.universalId).toBe('1.2.250.1.999.1');
  });

  it('XPN: birth name and used name', () => {
    expect(m.repetitions('PID-5').map((r) => readXpn(r))).toEqual([
      { family: 'DUPRÉ', given: 'Hélène', secondNames: 'Hélène Bérénice', prefix: 'Mme', nameTypeCode: 'L' },
      { family: 'MARTIN', given: 'Hélène', prefix: 'Mme', nameTypeCode: 'D' },
    ]);
  });

  it('XAD: home address and birth place', () => {
    const [home, birth] = m.repetitions('PID-11').map((r) => readXad(r));
    expect(home).toEqual({
      street: "12 rue de l'Église",
      city: 'Besançon',
      postalCode: '25000',
      country: 'FRA',
      addressType: 'H',
    });
    expect(birth).toEqual({ country: 'FRA', addressType: 'BDL', countyCode: '75056' });
  });

  it('XTN, CWE, XCN', () => {
    expect(readXtn(m.field('PID-13'))).toEqual({
      useCode: 'PRN',
      equipmentType: 'PH',
      unformattedNumber: '0381000000',
    });
    const o = parseHl7Message(
      'MSH|^~\\&|A|B|||20240315||ORU^R01|1|P|2.5\rOBR|1|||||||||||||||1234^DOLITTLE^John^Q^JR^DR^^^NPI&2.16.840.1.113883.4.6&ISO^L^^^NPI\rOBX|1|CWE|2345-7^Glucose^LN^GLU^Glucose^L^2.71^^Blood glucose',
    );
    expect(readCwe(o.field('OBX-3'))).toEqual({
      code: '2345-7',
      display: 'Glucose',
      system: 'LN',
      alternateCode: 'GLU',
      alternateDisplay: 'Glucose',
      alternateSystem: 'L',
      systemVersion: '2.71',
      originalText: 'Blood glucose',
    });
    expect(readXcn(o.field('OBR-16'))).toEqual({
      id: '1234',
      family: 'DOLITTLE',
      given: 'John',
      secondNames: 'Q',
      suffix: 'JR',
      prefix: 'DR',
      assigningAuthority: { namespaceId: 'NPI', universalId: '2.16.840.1.113883.4.6', universalIdType: 'ISO' },
      nameTypeCode: 'L',
      identifierTypeCode: 'NPI',
    });
    expect(readCwe(o.field('OBX-4'))).toBeUndefined();
  });
});
