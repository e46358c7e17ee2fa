// Hostile and broken input: every outcome is a parsed message or a coded Hl7Error — never another exception,
// never a hang (each input runs alone in a loop: a hang would time the test out), never unbounded memory.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { buildRejectAck, Hl7Error, Hl7ErrorCode, parseHl7Batch, parseHl7Message } from './index.js';

const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/hl7v2');
const catalogue = new Set<string>(Object.values(Hl7ErrorCode));

/** Parses and reads everything; returns the error code or 'ok'. Anything but an Hl7Error fails the test. */
function outcome(input: Buffer): string {
  try {
    const m = parseHl7Message(input);
    for (const seg of m.segments())
      for (const f of seg.fields()) for (const r of f.repetitions()) for (const c of r.components()) c.subcomponents();
    void m.header;
    return 'ok';
  } catch (e) {
    if (!(e instanceof Hl7Error)) throw e;
    expect(catalogue.has(e.code)).toBe(true);
    // and the sender can always be answered
    parseHl7Message(buildRejectAck(input, e).toBuffer());
    return e.code;
  }
}

/** A small deterministic PRNG (mulberry32) so failures reproduce. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a |= 0;
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('hostile input', () => {
  const sample = fs.readFileSync(path.join(fixtures, 'pam-fr-adt-a01-latin1-small-tilde.hl7'));

  it('every truncation of a message parses or is rejected with a code', () => {
    const codes = new Map<string, number>();
    for (let n = 0; n <= sample.length; n++) {
      const code = outcome(sample.subarray(0, n));
      codes.set(code, (codes.get(code) ?? 0) + 1);
    }
    // a cut inside MSH-2's two-byte U+02DC, or before MSH-2 ends, is a separator error; later cuts still parse
    expect(codes.get('ok')).toBeGreaterThan(sample.length / 2);
    expect(codes.get(Hl7ErrorCode.BadEncodingChars)).toBeGreaterThan(0);
  });

  it('random binary garbage, and garbage after a valid header', () => {
    const next = random(42);
    const counts = { ok: 0, rejected: 0 };
    for (let k = 0; k < 1500; k++) {
      const len = Math.floor(next() * 300);
      const junk = Buffer.alloc(len);
      for (let i = 0; i < len; i++) junk[i] = Math.floor(next() * 256);
      const input =
        k % 2 === 0 ? junk : Buffer.concat([Buffer.from('MSH|^~\\&|A|B|C|D|20240101||ADT^A01|1|P|2.5\r'), junk]);
      if (outcome(input) === 'ok') counts.ok++;
      else counts.rejected++;
    }
    expect(counts.rejected).toBeGreaterThan(1000);
  });

  it('mutated real messages (bytes flipped, separators swapped)', () => {
    const next = random(7);
    for (let k = 0; k < 1500; k++) {
      const m = Buffer.from(sample);
      for (let j = 0; j < 1 + Math.floor(next() * 6); j++) {
        const at = Math.floor(next() * m.length);
        m[at] = [0x7c, 0x5e, 0x7e, 0x5c, 0x26, 0x0d, 0x0a, 0x00, 0xff, 0x22][Math.floor(next() * 10)]!;
      }
      outcome(m);
    }
  });

  it('a 50 MB input is refused by default, before any scan; with the limit raised it parses in one pass', () => {
    const header = 'MSH|^~\\&|A|B|C|D|20240101||ORU^R01|1|P|2.5\rOBX|1|ED|PDF||^application^pdf^Base64^';
    const big = Buffer.alloc(50 * 1024 * 1024, 0x41);
    Buffer.from(header).copy(big);
    const e = (() => {
      try {
        parseHl7Message(big);
      } catch (x) {
        return x as Hl7Error;
      }
    })();
    expect(e?.code).toBe(Hl7ErrorCode.TooLarge);
    expect(e?.message).toContain('limits.maxBytes');
    const tooLong = (() => {
      try {
        parseHl7Message(big, { limits: { maxBytes: 64 * 1024 * 1024 } });
      } catch (x) {
        return x as Hl7Error;
      }
    })();
    expect(tooLong?.code).toBe(Hl7ErrorCode.FieldTooLong); // the 50 MB OBX-5 is also over limits.maxFieldLength
    expect(tooLong?.location).toMatchObject({ segmentName: 'OBX', field: 5 });
    const m = parseHl7Message(big, { limits: { maxBytes: 64 * 1024 * 1024, maxFieldLength: 64 * 1024 * 1024 } });
    expect(m.get('OBX-5.4')).toBe('Base64');
    expect(m.field('OBX-5')!.repetition(1).component(5).raw.length).toBe(big.length - header.length);
    const out = m.toBuffer();
    expect(out.buffer === big.buffer && out.length === big.length).toBe(true); // unmodified: the input bytes, no copy
  });

  it('huge repetition counts, too many fields, too many segments, too long a field', () => {
    const head = 'MSH|^~\\&|A|B|C|D|20240101||ADT^A01|1|P|2.5\r';
    const reps = Buffer.from(`${head}PID|1||${'~'.repeat(200_000)}`);
    const r = (() => {
      try {
        parseHl7Message(reps);
      } catch (x) {
        return x as Hl7Error;
      }
    })();
    expect(r?.code).toBe(Hl7ErrorCode.TooManyRepetitions);
    expect(r?.location).toMatchObject({ segmentName: 'PID', field: 3 });
    expect(outcome(Buffer.from(`${head}ZZZ${'|'.repeat(5000)}`))).toBe(Hl7ErrorCode.TooManyFields);
    expect(outcome(Buffer.from(head + 'NTE|1\r'.repeat(200_000)))).toBe(Hl7ErrorCode.TooManySegments);
    const small = { limits: { maxFieldLength: 100 } };
    expect(() => parseHl7Message(`${head}NTE|1||${'x'.repeat(101)}`, small)).toThrow(/maxFieldLength/);
    expect(parseHl7Message(`${head}NTE|1||${'x'.repeat(100)}`, small).get('NTE-3')).toHaveLength(100);
    // limits that are not hit do not get in the way: 9,999 repetitions are fine
    expect(parseHl7Message(`${head}PID|1||${'a~'.repeat(9_999)}`).getAll('PID-3')).toHaveLength(10_000);
  });

  it('NUL bytes, MLLP framing bytes and other control characters are refused unless allowed', () => {
    const head = 'MSH|^~\\&|A|B|C|D|20240101||ADT^A01|1|P|2.5\r';
    for (const b of [0x00, 0x01, 0x0b, 0x1c, 0x1f]) {
      const input = Buffer.concat([Buffer.from(`${head}PID|1||A`), Buffer.from([b]), Buffer.from('B')]);
      expect(outcome(input)).toBe(Hl7ErrorCode.ControlCharacter);
      expect(parseHl7Message(input, { allowControlCharacters: true }).get('PID-3')).toHaveLength(3);
    }
    expect(parseHl7Message(`${head}NTE|1||a\tb`).get('NTE-3')).toBe('a\tb');
  });

  it('weird but legal separators work; illegal ones are refused', () => {
    expect(parseHl7Message('MSH$%*@!$A$B$$$$$ADT%A01$1$P$2.5\rPID$1$$X%Y*Z!W').get('PID-3[2].1.2')).toBe('W');
    expect(parseHl7Message('MSH$%*@!$A$B$$$$$ADT%A01$1$P$2.5\rPID$1$$A@F@B').get('PID-3')).toBe('A$B');
    expect(parseHl7Message('MSH$%*@!$A$B$$$$$ADT%A01$1$P$2.5\rPID$1$$X%Y!Z').get('PID-3.2.2')).toBe('Z');
    // (a bare 'MSH|^~\&' is structurally a message: checking required header fields is the channel's job)
    expect(outcome(Buffer.from('MSH|^~\\&'))).toBe('ok');
    for (const bad of [
      'MSH\r',
      'MSH',
      'MSH|',
      'MSH|^~',
      'MSHx^~\\&x',
      'MSH\u00e9^~\\&\u00e9',
      'MSH|\x00\x01\x02\x03|',
    ]) {
      expect(outcome(Buffer.from(bad, 'latin1'))).not.toBe('ok');
    }
  });

  it('batches of hostile content fail on the broken message, with its line', () => {
    const ok = 'MSH|^~\\&|A|B|C|D|20240101||ADT^A01|1|P|2.5\rPID|1\r';
    const e = (() => {
      try {
        parseHl7Batch(Buffer.concat([Buffer.from(ok + ok), Buffer.from('MSH|^~\\&|A\rPID|1||\x00')]));
      } catch (x) {
        return x as Hl7Error;
      }
    })();
    expect(e?.code).toBe(Hl7ErrorCode.ControlCharacter);
    expect(e?.location.line).toBe(6);
  });
});
