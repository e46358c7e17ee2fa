import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Hl7Error, Hl7ErrorCode, parseHl7Message, resolveCharset } from './index.js';

const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/hl7v2');

function header(msh18: string): string {
  return `MSH|^~\\&|A|B|C|D|20240101||ADT^A01|1|P|2.5|||||FRA|${msh18}`;
}
function bytesOf(text: string, encoding: BufferEncoding): Buffer {
  return Buffer.from(text, encoding);
}
function errorOf(fn: () => unknown): Hl7Error {
  try {
    fn();
  } catch (e) {
    if (e instanceof Hl7Error) return e;
    throw e;
  }
  throw new Error('expected an Hl7Error');
}

describe('MSH-18 decides how bytes are decoded', () => {
  it('8859/1: Latin-1 bytes give the accented names', () => {
    const bytes = bytesOf(`${header('8859/1')}\rPID|1||X||BÉRÉNICE^Hélène`, 'latin1');
    const m = parseHl7Message(bytes);
    expect(m.charset).toBe('8859/1');
    expect(m.charsetSource).toBe('MSH-18');
    expect(m.get('PID-5.1')).toBe('BÉRÉNICE');
    expect(m.get('PID-5.2')).toBe('Hélène');
    expect(m.toBuffer().equals(bytes)).toBe(true);
  });

  it('8859/1: cp1252 punctuation in 0x80–0x9F reads as the characters the sender meant', () => {
    const bytes = Buffer.concat([
      bytesOf(`${header('8859/1')}\rNTE|1||l`, 'latin1'),
      Buffer.from([0x92, 0x80]),
      bytesOf('uvre', 'latin1'),
    ]);
    expect(parseHl7Message(bytes).get('NTE-3')).toBe('l’€uvre');
  });

  it('UNICODE UTF-8', () => {
    const bytes = bytesOf(`${header('UNICODE UTF-8')}\rPID|1||X||Łukasz^Zoë 😀`, 'utf8');
    const m = parseHl7Message(bytes);
    expect(m.get('PID-5.1')).toBe('Łukasz');
    expect(m.get('PID-5.2')).toBe('Zoë 😀');
    expect(m.toBuffer().equals(bytes)).toBe(true);
  });

  it('8859/15: € Œ œ (fixture)', () => {
    const bytes = fs.readFileSync(path.join(fixtures, 'pam-fr-adt-a31-8859-15-lf.hl7'));
    const m = parseHl7Message(bytes);
    expect(m.charset).toBe('8859/15');
    expect(m.get('PID-5.1')).toBe('LŒUVRE');
    expect(m.get('PID-11.1')).toBe('3 place du Cœur');
    expect(m.get('NTE-3')).toBe('Franchise restant due : 12,50 €');
    expect(m.toBuffer().equals(bytes)).toBe(true);
  });

  it('accepts the usual misspellings of MSH-18', () => {
    expect(resolveCharset('ISO-8859-1')).toBe('8859/1');
    expect(resolveCharset('utf-8')).toBe('UNICODE UTF-8');
    expect(resolveCharset('UNICODE')).toBe('UNICODE UTF-8');
    expect(resolveCharset('ISO_8859-15')).toBe('8859/15');
    expect(resolveCharset('UNICODE UTF-16')).toBeUndefined();
  });

  it('an unsupported charset is a precise error at MSH-18', () => {
    const e = errorOf(() => parseHl7Message(`${header('UNICODE UTF-16')}\rPID|1`));
    expect(e.code).toBe(Hl7ErrorCode.UnsupportedCharset);
    expect(e.location).toMatchObject({ segmentName: 'MSH', field: 18 });
    expect(e.message).toContain('UNICODE UTF-8');
    expect(e.conditionCode).toBe('103');
  });

  it('bytes that the declared charset cannot hold are an error naming the byte, the segment and the field', () => {
    const latin1InUtf8 = bytesOf(`${header('UNICODE UTF-8')}\rPID|1||X||Hélène`, 'latin1');
    const e = errorOf(() => parseHl7Message(latin1InUtf8));
    expect(e.code).toBe(Hl7ErrorCode.UndecodableBytes);
    expect(e.location).toMatchObject({ segmentName: 'PID', segmentIndex: 2, field: 5, line: 2 });
    expect(e.message).toContain('0xe9');
    expect(e.message).toContain('8859/1');
    const utf8InAscii = bytesOf(`${header('ASCII')}\rPID|1||X||Zoë`, 'utf8');
    expect(errorOf(() => parseHl7Message(utf8InAscii)).code).toBe(Hl7ErrorCode.UndecodableBytes);
  });

  it('MSH-18 empty: detects ASCII, else UTF-8, else 8859/1 — or uses the configured default', () => {
    const utf8 = bytesOf(`${header('')}\rPID|1||X||Zoë`, 'utf8');
    expect(parseHl7Message(utf8).charset).toBe('UNICODE UTF-8');
    expect(parseHl7Message(utf8).charsetSource).toBe('detected');
    expect(parseHl7Message(utf8).get('PID-5')).toBe('Zoë');
    const latin1 = bytesOf(`${header('')}\rPID|1||X||Zoë`, 'latin1');
    expect(parseHl7Message(latin1).charset).toBe('8859/1');
    expect(parseHl7Message(latin1).get('PID-5')).toBe('Zoë');
    expect(parseHl7Message(bytesOf(`${header('')}\rPID|1`, 'latin1')).charset).toBe('ASCII');
    const strict = errorOf(() => parseHl7Message(latin1, { defaultCharset: 'ASCII' }));
    expect(strict.code).toBe(Hl7ErrorCode.UndecodableBytes);
    expect(strict.message).toContain('configured default');
  });

  it('a UTF-8 byte order mark means UTF-8, is kept for the round trip, and contradicting MSH-18 is an error', () => {
    const withBom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), bytesOf(`${header('')}\rPID|1||X||Zoë`, 'utf8')]);
    const m = parseHl7Message(withBom);
    expect(m.charsetSource).toBe('bom');
    expect(m.get('PID-5')).toBe('Zoë');
    expect(m.toBuffer().equals(withBom)).toBe(true);
    const contradiction = Buffer.concat([
      Buffer.from([0xef, 0xbb, 0xbf]),
      bytesOf(`${header('8859/1')}\rPID|1`, 'utf8'),
    ]);
    expect(errorOf(() => parseHl7Message(contradiction)).code).toBe(Hl7ErrorCode.CharsetMismatch);
    expect(errorOf(() => parseHl7Message(Buffer.from('\ufeffMSH|^~\\&|A', 'utf16le'))).message).toContain('UTF-16');
  });

  it('a string input is encoded back in the charset its MSH-18 declares', () => {
    const m = parseHl7Message(`${header('8859/1')}\rPID|1||X||Hélène`);
    expect(m.get('PID-5')).toBe('Hélène');
    expect(m.toBuffer().includes(Buffer.from([0xe9]))).toBe(true);
  });
});
