import { describe, expect, it } from 'vitest';
import { parseHl7Message } from '../adapters/hl7v2/index.js';
import {
  applicationAck,
  applyFilters,
  commitAck,
  decodeHl7,
  dedupKey,
  headerFacts,
  rejectAck,
  wantsApplicationAck,
  wantsCommitAck,
} from './hl7v2-format.js';
import { Stage } from './message-store.js';
import { adt, oru, readAckText } from './test-support.js';

describe('HL7 v2 in the engine', () => {
  it('extracts what the message browser searches: sender, type, control id, patient identifiers, names', () => {
    const message = parseHl7Message(
      'MSH|^~\\&|LAB|CH-NORD|KENEY|HUB|20260124||ORU^R01^ORU_R01|M-77|P|2.5\r' +
        'PID|||123^^^CH-NORD&1.2.250.1.71.4.2.2&ISO^PI~2800175123456^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.8&ISO^INS||Lefèvre^Zoé||19800101\r' +
        'PV1||I|||||||||||||||||V55\rOBR|1|PL1|FL1|GLU\r',
    );
    const facts = headerFacts(message);
    expect(facts).toMatchObject({ sender: 'LAB^CH-NORD', messageType: 'ORU^R01', controlId: 'M-77' });
    expect(facts.patientIds).toEqual([
      '123',
      'CH-NORD|123',
      '1.2.250.1.71.4.2.2|123',
      '2800175123456',
      'ASIP-SANTE-INS-NIR|2800175123456',
      '1.2.250.1.213.1.4.8|2800175123456',
    ]);
    expect(facts.searchText).toContain('lefèvre');
    expect(facts.searchText).toContain('v55');
    expect(facts.searchText).toContain('fl1');
  });

  it('salvages the header of a message that does not parse, for search', () => {
    const decoded = decodeHl7(Buffer.from('MSH|^~\\&|LAB|CH|||20260124||ORU^R01|BAD-1|P|2.5\rPID|||1\x00\r'));
    expect(decoded.ok).toBe(false);
    expect(decoded.header).toMatchObject({ controlId: 'BAD-1', messageType: 'ORU^R01', sender: 'LAB^CH' });
  });

  it('keys duplicates on channel, sender, control id and content', () => {
    const facts = { sender: 'A^B', controlId: 'X', patientIds: [], searchText: '' };
    const key = dedupKey('lab', facts, 'aa');
    expect(dedupKey('lab', facts, 'aa')!.equals(key!)).toBe(true);
    expect(dedupKey('lab', facts, 'bb')!.equals(key!)).toBe(false);
    expect(dedupKey('adt', facts, 'aa')!.equals(key!)).toBe(false);
    expect(dedupKey('lab', { ...facts, sender: 'A^C' }, 'aa')!.equals(key!)).toBe(false);
    expect(dedupKey('lab', { patientIds: [], searchText: '' }, 'aa')).toBeUndefined();
  });

  it('filters on HL7 paths: equals, in, matches, exists, not, anyOf', () => {
    const message = parseHl7Message(adt('F1', 'P1'));
    expect(applyFilters(message, [{ field: 'MSH-9.1', in: ['ADT', 'ORU'] }]).pass).toBe(true);
    expect(applyFilters(message, [{ field: 'MSH-9.2', equals: 'A08' }])).toEqual({
      pass: false,
      reason: 'MSH-9.2 is "A01"; it must equal "A08"',
    });
    expect(applyFilters(message, [{ field: 'PID-3.4', matches: '^CH-' }]).pass).toBe(true);
    expect(applyFilters(message, [{ field: 'PID-30', exists: true }])).toEqual({
      pass: false,
      reason: 'PID-30 is absent; it must be present',
    });
    expect(applyFilters(message, [{ field: 'MSH-11', equals: 'T', not: true }]).pass).toBe(true);
    expect(
      applyFilters(message, [
        {
          anyOf: [
            { field: 'MSH-9.1', equals: 'ORU' },
            { field: 'MSH-9.2', equals: 'A01' },
          ],
        },
      ]).pass,
    ).toBe(true);
    expect(applyFilters(message, [{ anyOf: [{ field: 'MSH-9.1', equals: 'ORU' }] }]).pass).toBe(false);
    // A path into a segment that is not there is absent, not an error.
    expect(applyFilters(message, [{ field: 'ZBE-1', exists: false }]).pass).toBe(true);
  });

  it('answers original mode with AA, and AE with one ERR per error: location in ERR-2, rule in ERR-5, message in ERR-8', () => {
    const message = parseHl7Message(oru('O1', 'P1'));
    expect(readAckText(applicationAck(message, 'accept', []))).toEqual({ code: 'AA', controlId: 'O1', err: [] });
    const ack = readAckText(
      applicationAck(message, 'error', [
        {
          stage: Stage.Quality,
          severity: 'error',
          code: 'QUALITY_UCUM',
          message: 'The unit is not UCUM.',
          location: 'OBX[2]-6.1',
          rule: 'obs-ucum',
        },
        { stage: Stage.Map, severity: 'warning', code: 'W', message: 'not in the ACK' },
      ]),
    );
    expect(ack.code).toBe('AE');
    expect(ack.err).toHaveLength(1);
    const err = ack.err[0]!.split('|');
    expect(err[2]).toBe('OBX^2^6^1^1');
    expect(err[3]).toBe('207^Application internal error^HL70357');
    expect(err[5]).toBe('obs-ucum^QUALITY_UCUM^KENEY');
    expect(err[8]).toBe('The unit is not UCUM.');
  });

  it('follows MSH-15/MSH-16 in enhanced mode', () => {
    const always = parseHl7Message(adt('E1', 'P1', { msh15: 'AL', msh16: 'AL' }));
    expect(wantsCommitAck(always)).toBe(true);
    expect(readAckText(commitAck(always)).code).toBe('CA');
    expect(wantsApplicationAck(always, 'accept')).toBe(true);
    const errorsOnly = parseHl7Message(adt('E2', 'P1', { msh15: 'NE', msh16: 'ER' }));
    expect(wantsCommitAck(errorsOnly)).toBe(false);
    expect(wantsApplicationAck(errorsOnly, 'accept')).toBe(false);
    expect(wantsApplicationAck(errorsOnly, 'error')).toBe(true);
    const original = parseHl7Message(adt('E3', 'P1'));
    expect(wantsCommitAck(original)).toBe(false);
    expect(wantsApplicationAck(original, 'accept')).toBe(true);
  });

  it('rejects bytes that are not HL7 with AR and a readable reason', () => {
    const decoded = decodeHl7(Buffer.from('<xml>not hl7</xml>'));
    expect(decoded.ok).toBe(false);
    if (decoded.ok) return;
    const ack = readAckText(rejectAck(Buffer.from('<xml>not hl7</xml>'), decoded.error));
    expect(ack.code).toBe('AR');
    expect(ack.err[0]).toContain('looks like XML');
  });
});
