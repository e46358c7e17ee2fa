import { describe, expect, it } from 'vitest';
import { compactIns, formatIns, insKey, insKindOf, parseIns } from './ins.js';

describe('INS', () => {
  it('reads an INS typed with spaces, dots, dashes or no-break spaces the same as without', () => {
    for (const typed of [
      '2 80 01 75 123 456 10',
      '280017512345610',
      '2.80.01.75.123.456.10',
      '2-80-01-75-123-456-10',
      '2\u00a080\u202f01 75 123 456 10',
      '  2 800175 123456 10 ',
    ]) {
      expect(parseIns(typed)).toEqual({ value: '280017512345610', keyValid: true, keyComputed: false });
    }
  });

  it('checks the key: 97 − (13 first digits mod 97)', () => {
    expect(insKey('2800175123456')).toBe(10);
    expect(parseIns('1 84 12 75 123 456 78')).toEqual({
      value: '184127512345678',
      keyValid: false,
      keyComputed: false,
    });
    expect(parseIns('1 84 12 75 123 456 40')?.keyValid).toBe(true);
  });

  it('computes the key when only the 13 first characters are typed', () => {
    expect(parseIns('2 80 01 75 123 456')).toEqual({ value: '280017512345610', keyValid: true, keyComputed: true });
  });

  it('replaces Corsican departments 2A by 19 and 2B by 18 before computing the key', () => {
    // 1 85 05 2A 004 012 → 1850519004012 mod 97 computed by hand below.
    const key2A = 97 - Number(1850519004012n % 97n);
    const key2B = 97 - Number(1850518004012n % 97n);
    expect(insKey('185052A004012')).toBe(key2A);
    expect(insKey('185052B004012')).toBe(key2B);
    expect(parseIns(`1 85 05 2a 004 012 ${String(key2A).padStart(2, '0')}`)).toMatchObject({
      value: `185052A004012${String(key2A).padStart(2, '0')}`,
      keyValid: true,
    });
  });

  it('refuses what cannot be an INS', () => {
    for (const text of [
      '',
      '12345',
      '2800175123456100',
      'ABC',
      '2 80 01 75 123 456 1X',
      '28001751234A610',
      '2800175123456 10 11',
    ]) {
      expect(parseIns(text)).toBeUndefined();
    }
  });

  it('formats as on the carte Vitale and knows the INS systems', () => {
    expect(formatIns('280017512345610')).toBe('2 80 01 75 123 456 10');
    expect(compactIns('2 80 01 75 123 456 10')).toBe('280017512345610');
    expect(insKindOf('urn:oid:1.2.250.1.213.1.4.8')).toBe('nir');
    expect(insKindOf('urn:oid:1.2.250.1.213.1.4.10')).toBe('test');
    expect(insKindOf('urn:oid:1.2.250.1.999.1.1')).toBeUndefined();
  });
});
