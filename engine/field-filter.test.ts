// The one filter evaluator of HL7 v2 and DICOM channels, over a plain field reader.
import { describe, expect, it } from 'vitest';
import { applyFieldFilters, type FieldReader } from './field-filter.js';

const fields: Record<string, string> = { type: 'ORU', sender: 'LAB^CH-XYZ', empty: '' };
const read: FieldReader = (field) => fields[field];

describe('applyFieldFilters', () => {
  it('passes when every filter passes and names the first that does not', () => {
    expect(applyFieldFilters(read, [])).toEqual({ pass: true });
    expect(
      applyFieldFilters(read, [
        { field: 'type', in: ['ADT', 'ORU'] },
        { field: 'sender', matches: 'CH-' },
      ]),
    ).toEqual({
      pass: true,
    });
    expect(
      applyFieldFilters(read, [
        { field: 'type', equals: 'ORU' },
        { field: 'type', equals: 'ADT' },
      ]),
    ).toEqual({
      pass: false,
      reason: 'type is "ORU"; it must equal "ADT"',
    });
  });

  it('treats an empty value as absent for exists, and negates with not', () => {
    expect(applyFieldFilters(read, [{ field: 'empty', exists: true }]).pass).toBe(false);
    expect(applyFieldFilters(read, [{ field: 'missing', exists: false }]).pass).toBe(true);
    expect(applyFieldFilters(read, [{ field: 'type', equals: 'ORU', not: true }])).toEqual({
      pass: false,
      reason: 'type is "ORU"; it must not equal "ORU"',
    });
    expect(applyFieldFilters(read, [{ anyOf: [{ field: 'type', equals: 'ADT' }], not: true }]).pass).toBe(true);
    expect(applyFieldFilters(read, [{ anyOf: [{ field: 'type', equals: 'ADT' }] }])).toEqual({
      pass: false,
      reason: 'none of the anyOf filters passed',
    });
  });

  it('counts a field the reader cannot read as absent, and cuts a long value in the reason', () => {
    const hostile: FieldReader = (field) => {
      if (field === 'broken') throw new Error('bad path');
      return 'x'.repeat(10_000);
    };
    expect(applyFieldFilters(hostile, [{ field: 'broken', exists: true }])).toEqual({
      pass: false,
      reason: 'broken is absent; it must be present',
    });
    const verdict = applyFieldFilters(hostile, [{ field: 'long', equals: 'y' }]);
    expect(verdict.pass).toBe(false);
    expect(verdict.reason!.length).toBeLessThan(100);
  });
});
