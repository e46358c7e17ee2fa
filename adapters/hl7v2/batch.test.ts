import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Hl7Error, Hl7ErrorCode, parseHl7Batch, tryParseHl7Batch } from './index.js';

const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/hl7v2');
const fixture = (name: string) => fs.readFileSync(path.join(fixtures, name));

function errorOf(fn: () => unknown): Hl7Error {
  try {
    fn();
  } catch (e) {
    if (e instanceof Hl7Error) return e;
    throw e;
  }
  throw new Error('expected an Hl7Error');
}

const MSH = (id: string) => `MSH|^~\\&|A|B|C|D|20240101||ADT^A01|${id}|P|2.5\rPID|1||${id}`;

describe('parseHl7Batch', () => {
  it('splits FHS/BHS/BTS/FTS into its messages, checks the counts, and gives the bytes back', () => {
    const bytes = fixture('batch-fhs-bhs-2-messages.hl7');
    const batch = parseHl7Batch(bytes);
    expect(batch.fileHeader!.get('9')).toBe('lot-001.hl7');
    expect(batch.fileHeader!.get('10')).toBe('Résultats du matin');
    expect(batch.batches).toHaveLength(1);
    expect(batch.batches[0]!.header!.get('11')).toBe('BATCH-001');
    expect(batch.batches[0]!.trailer!.get('1')).toBe('2');
    expect(batch.messages.map((m) => [m.get('MSH-10'), m.get('PID-5.1'), m.get('OBX-5')])).toEqual([
      ['ORU-0001', 'GARÇON', '5.4'],
      ['ORU-0002', 'NOËL', '5.4'],
    ]);
    expect(batch.isPlainSequence).toBe(false);
    expect(batch.toBuffer().equals(bytes)).toBe(true);
  });

  it('rejects a BTS-1 count that does not match, at BTS-1', () => {
    const e = errorOf(() => parseHl7Batch(fixture('batch-bts-count-mismatch.hl7')));
    expect(e.code).toBe(Hl7ErrorCode.BatchCount);
    expect(e.location).toMatchObject({ segmentName: 'BTS', field: 1, line: 11 });
    expect(e.message).toContain('holds 3 message(s) but it holds 2');
    // the count check can be turned off
    expect(parseHl7Batch(fixture('batch-bts-count-mismatch.hl7'), { checkCounts: false }).messages).toHaveLength(2);
  });

  it('rejects an FTS-1 count that does not match', () => {
    const text = ['FHS|^~\\&|A', 'BHS|^~\\&|A', MSH('1'), 'BTS|1', 'BHS|^~\\&|A', MSH('2'), 'BTS|1', 'FTS|3'].join(
      '\r',
    );
    const e = errorOf(() => parseHl7Batch(text));
    expect(e.code).toBe(Hl7ErrorCode.BatchCount);
    expect(e.location.segmentName).toBe('FTS');
    expect(parseHl7Batch(text.replace('FTS|3', 'FTS|2')).batches).toHaveLength(2);
  });

  it('reads a plain sequence of messages (a file of messages, blank lines between), each with its own separators and charset', () => {
    const bytes = Buffer.concat([
      Buffer.from(`${MSH('1')}\n\n`),
      Buffer.from('MSH#!@%*#A#B#C#D#20240101##ADT!A01#2#P#2.5######8859/1\nPID#1##Zo', 'latin1'),
      Buffer.from([0xeb]),
      Buffer.from('\n\n'),
    ]);
    const batch = parseHl7Batch(bytes);
    expect(batch.isPlainSequence).toBe(true);
    expect(batch.messages.map((m) => m.get('PID-3'))).toEqual(['1', 'Zoë']);
    expect(batch.messages[1]!.charset).toBe('8859/1');
    expect(batch.toBuffer().equals(bytes)).toBe(true);
  });

  it('tolerates a missing BTS/FTS (nothing to count) and an empty batch', () => {
    expect(parseHl7Batch(['FHS|^~\\&|A', 'BHS|^~\\&|A', MSH('1')].join('\r')).messages).toHaveLength(1);
    expect(parseHl7Batch(['BHS|^~\\&|A', 'BTS|0'].join('\r')).messages).toHaveLength(0);
  });

  it('rejects broken envelopes with a precise error', () => {
    expect(errorOf(() => parseHl7Batch(['BTS|1', MSH('1')].join('\r'))).code).toBe(Hl7ErrorCode.BatchStructure);
    expect(errorOf(() => parseHl7Batch([MSH('1'), 'FTS|0'].join('\r'))).code).toBe(Hl7ErrorCode.BatchStructure);
    expect(errorOf(() => parseHl7Batch(['FHS|^~\\&|A', 'FTS|0', MSH('1')].join('\r'))).message).toContain('after FTS');
    expect(errorOf(() => parseHl7Batch(['BHS|^~\\&|A', MSH('1'), 'FHS|^~\\&|A'].join('\r'))).message).toContain(
      'FHS must be the first',
    );
    expect(errorOf(() => parseHl7Batch(['BHS|^~\\&|A', 'BTS|many'].join('\r'))).code).toBe(Hl7ErrorCode.BatchCount);
    expect(errorOf(() => parseHl7Batch('/* a comment */\r' + MSH('1'))).code).toBe(Hl7ErrorCode.NoMsh);
    const r = tryParseHl7Batch('');
    expect(!r.ok && r.error.code).toBe(Hl7ErrorCode.Empty);
  });

  it('an error inside a message of the batch points at that message', () => {
    const text = [MSH('1'), MSH('2'), 'pid|bad'].join('\r');
    const e = errorOf(() => parseHl7Batch(text));
    expect(e.code).toBe(Hl7ErrorCode.SegmentName);
    expect(e.location.line).toBe(5);
  });
});
