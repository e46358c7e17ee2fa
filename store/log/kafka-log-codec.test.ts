import { describe, expect, it } from 'vitest';
import type { ChangeSet } from '../change-set.js';
import { sampleChangeSet } from './change-log.contract.js';
import {
  CHANGE_SET_FORMAT_HEADER,
  CHANGE_SET_ID_HEADER,
  decodeChangeSet,
  encodeChangeSet,
  type RawRecord,
} from './kafka-log-codec.js';
import { KafkaLogError, KafkaLogErrorCode } from './kafka-log-errors.js';

const topic = 'keney.changes';

/** A record as a broker would hand it back, from an encoded change set. */
function asRead(changeSet: ChangeSet, offset = 42): RawRecord {
  const encoded = encodeChangeSet(changeSet);
  return { partition: 3, offset, key: encoded.key, value: encoded.value, headers: [...encoded.headers] };
}

function decodeError(record: RawRecord): KafkaLogError {
  try {
    decodeChangeSet(record, topic);
  } catch (error) {
    expect(error).toBeInstanceOf(KafkaLogError);
    expect((error as KafkaLogError).code).toBe(KafkaLogErrorCode.RecordUnreadable);
    expect((error as KafkaLogError).partition).toBe(record.partition);
    expect((error as KafkaLogError).offset).toBe(record.offset);
    return error as KafkaLogError;
  }
  throw new Error('decodeChangeSet accepted the record');
}

const headersWith = (version: string | null, id?: string): [Buffer, Buffer | null][] => [
  ...(version === null ? [] : [[Buffer.from(CHANGE_SET_FORMAT_HEADER), Buffer.from(version)] as [Buffer, Buffer]]),
  ...(id ? [[Buffer.from(CHANGE_SET_ID_HEADER), Buffer.from(id)] as [Buffer, Buffer]] : []),
];

describe('change-set record format', () => {
  it('round-trips a change set, Unicode included, with the format version and id in headers', () => {
    const changeSet = sampleChangeSet('INS-2850712345678-𝄞-é');
    const encoded = encodeChangeSet(changeSet);
    expect(encoded.key.toString('utf8')).toBe(changeSet.partitionKey);
    const headers = new Map([...encoded.headers].map(([k, v]) => [k.toString(), v.toString()]));
    expect(headers.get(CHANGE_SET_FORMAT_HEADER)).toBe('1');
    expect(headers.get(CHANGE_SET_ID_HEADER)).toBe(changeSet.id);
    expect(JSON.parse(encoded.value.toString('utf8'))).toEqual(changeSet);
    expect(encoded.size).toBeGreaterThan(encoded.key.length + encoded.value.length);
    expect(decodeChangeSet(asRead(changeSet), topic)).toEqual(changeSet);
  });

  it('keeps only the change set’s own fields', () => {
    const changeSet = { ...sampleChangeSet('k'), extra: 'dropped' } as ChangeSet;
    const decoded = decodeChangeSet(asRead(changeSet), topic);
    expect(Object.keys(decoded).sort()).toEqual(['bundle', 'id', 'origin', 'partitionKey']);
  });

  it('refuses a record from another producer (no format header), saying who may write', () => {
    const record = { ...asRead(sampleChangeSet('k')), headers: [] };
    expect(decodeError(record).message).toMatch(/no keney-format header: it was not written by Keney Hub/);
  });

  it('refuses a format version it does not know, saying to upgrade', () => {
    const record = { ...asRead(sampleChangeSet('k')), headers: headersWith('2') };
    expect(decodeError(record).message).toMatch(/format "2".*reads format 1.*Upgrade the hub/);
    const hostile = { ...asRead(sampleChangeSet('k')), headers: headersWith('9'.repeat(10_000)) };
    expect(decodeError(hostile).message.length).toBeLessThan(400);
  });

  it('refuses a value that is missing, not UTF-8, not JSON, or not a change set', () => {
    const base = asRead(sampleChangeSet('k'));
    expect(decodeError({ ...base, value: null }).message).toMatch(/has no value/);
    expect(decodeError({ ...base, value: Buffer.from([0x7b, 0xc3, 0x28, 0x7d]) }).message).toMatch(/not valid UTF-8/);
    expect(decodeError({ ...base, value: Buffer.from([0xff, 0xfe, 0x7b, 0x00]) }).message).toMatch(/not valid UTF-8/);
    expect(decodeError({ ...base, value: Buffer.from('{"id": ') }).message).toMatch(/not valid JSON/);
    expect(decodeError({ ...base, value: Buffer.from('[1,2,3]') }).message).toMatch(/must be an object/);
    expect(decodeError({ ...base, value: Buffer.from('{"__proto__":{"polluted":true}}') }).message).toMatch(
      /id must be a UUID/,
    );
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('refuses a record whose header, key and value disagree', () => {
    const changeSet = sampleChangeSet('k');
    const base = asRead(changeSet);
    const otherId = { ...base, headers: headersWith('1', '00000000-0000-4000-8000-000000000000') };
    expect(decodeError(otherId).message).toMatch(/in its header but .* in its value/);
    expect(decodeError({ ...base, key: Buffer.from('another-key') }).message).toMatch(/key that differs/);
  });

  it('survives hostile values: deep nesting and a large body', () => {
    const deep = Buffer.from(`${'['.repeat(100_000)}${']'.repeat(100_000)}`);
    expect(decodeError({ ...asRead(sampleChangeSet('k')), value: deep }).message).toMatch(
      /must be an object|not valid JSON/,
    );
    const large = sampleChangeSet('k', { attachmentBytes: 3 * 1024 * 1024 });
    expect(decodeChangeSet(asRead(large), topic)).toEqual(large);
  });

  it('refuses, before writing, change sets that are not well formed', () => {
    const good = sampleChangeSet('k');
    const bad: [unknown, RegExp][] = [
      [{ ...good, id: 42 }, /id must be a UUID \(got number 42\)/],
      [{ ...good, partitionKey: 7 }, /partitionKey must be a non-empty string/],
      [{ ...good, origin: null }, /origin must be an object \(got null\)/],
      [{ ...good, origin: { kind: 'channel', channel: 5 } }, /origin.channel must be a string/],
      [{ ...good, bundle: [] }, /bundle must be a FHIR Bundle object \(got an array\)/],
    ];
    for (const [changeSet, message] of bad) {
      expect(() => encodeChangeSet(changeSet as ChangeSet, 4)).toThrow(message);
      try {
        encodeChangeSet(changeSet as ChangeSet, 4);
      } catch (error) {
        expect((error as KafkaLogError).code).toBe(KafkaLogErrorCode.InvalidChangeSet);
        expect((error as KafkaLogError).message).toMatch(/^Change set #4 cannot be appended/);
      }
    }
    const cyclic = sampleChangeSet('k');
    (cyclic.bundle as unknown as Record<string, unknown>).self = cyclic.bundle;
    expect(() => encodeChangeSet(cyclic)).toThrow(/cannot be serialized as JSON.*no cycles/);
  });
});
