// Our acknowledgments, read by other HL7 stacks a sender may run (the npm parsers installed for the benchmark).
import { Hl7Message as MedplumMessage } from '@medplum/core';
import { HL7Message } from 'hl7v2';
import { describe, expect, it } from 'vitest';
import type { Hl7Error } from './index.js';
import { buildAck, buildRejectAck, parseHl7Message } from './index.js';

const ORU_251 = 'MSH|^~\\&|LAB|CHU|HUB|CHU|20240315||ORU^R01^ORU_R01|M-251|P|2.5.1\rPID|1||X\rOBX|1|NM|GLU||abc';
const ORU_23 = 'MSH|^~\\&|LAB|CHU|HUB|CHU|20240315||ORU^R01|M-23|P|2.3\rPID|1||X\rOBX|1|NM|GLU||abc';

function nack(text: string): string {
  const received = parseHl7Message(text);
  let error: Hl7Error | undefined;
  try {
    received.getNumber('OBX-5');
  } catch (e) {
    error = e as Hl7Error;
  }
  return buildAck(received, { code: 'AE', errors: [error!] })
    .toBuffer()
    .toString('latin1');
}

describe('our ACKs, read by other HL7 v2 stacks', () => {
  it('@medplum/core reads MSA and ERR (v2.5.1 layout) and the v2.3 ERR-1', () => {
    const m = MedplumMessage.parse(nack(ORU_251));
    expect(m.getSegment('MSA')?.getField(1)?.toString()).toBe('AE');
    expect(m.getSegment('MSA')?.getField(2)?.toString()).toBe('M-251');
    expect(m.getSegment('ERR')?.getField(2)?.getComponent(1)).toBe('OBX');
    expect(m.getSegment('ERR')?.getField(3)?.getComponent(1)).toBe('102');
    const old = MedplumMessage.parse(nack(ORU_23));
    expect(old.getSegment('ERR')?.getField(1)?.getComponent(1)).toBe('OBX');
    expect(old.getSegment('MSA')?.getField(3)?.toString()).toContain('not an HL7 number');
  });

  it('hl7v2 (dictionary-validating) reads the ACK type, control id and MSA', () => {
    const h = HL7Message.parse(nack(ORU_251));
    expect(h.messageType).toBe('ACK^R01');
    expect(h.getSegment('MSA')?.field(1).component(1).getValue()).toBe('AE');
    expect(h.getSegment('MSA')?.field(2).component(1).getValue()).toBe('M-251');
  });

  it('a reject ACK for garbage is still a message they read', () => {
    const input = Buffer.from('\x0bnot hl7 at all\x1c\r');
    let error: Hl7Error | undefined;
    try {
      parseHl7Message(input);
    } catch (e) {
      error = e as Hl7Error;
    }
    const text = buildRejectAck(input, error!).toBuffer().toString('latin1');
    expect(MedplumMessage.parse(text).getSegment('MSA')?.getField(1)?.toString()).toBe('AR');
    expect(HL7Message.parse(text).getSegment('MSA')?.field(1).component(1).getValue()).toBe('AR');
  });
});
