import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { defaultDelimiters, escapeValue, parseHl7Message, unescapeValue } from './index.js';

const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/hl7v2');
const d = defaultDelimiters;

describe('escape sequences', () => {
  it('unescapes separators, hex bytes and formatting commands (fixture, v2.7 with truncation character)', () => {
    const m = parseHl7Message(fs.readFileSync(path.join(fixtures, 'escapes-2.7.hl7')));
    expect(m.delimiters.truncation).toBe('#');
    expect(m.get('PID-5.1')).toBe('DUPONT&FILS');
    expect(m.get('PID-5.2')).toBe('Jean^Marie');
    expect(m.getAll('PID-3.1')).toEqual(['A1', 'B2', 'C3']);
    expect(m.get('OBX-5')).toBe('Ligne 1\nLigne 2 | barre ~ tilde \\ antislash # dièse Aé fin');
    // \H\ \N\ dropped, .sp 2 two line breaks, .sk 3 three spaces; unknown \Z…\ and a Windows path kept as written
    expect(m.get('OBX[2]-5')).toBe('Important : \n\nsuite   fin \\Zunknown\\ C:\\temp');
  });

  it('\\X..\\ is decoded in the message charset', () => {
    expect(unescapeValue('caf\\XC3A9\\', d, 'UNICODE UTF-8')).toBe('café');
    expect(unescapeValue('caf\\XE9\\', d, '8859/1')).toBe('café');
    expect(unescapeValue('caf\\XE9\\', d, 'UNICODE UTF-8')).toBe('caf\\XE9\\'); // invalid UTF-8: kept as written
    expect(unescapeValue('\\XZZ\\ \\X0\\', d, 'ASCII')).toBe('\\XZZ\\ \\X0\\');
  });

  it('escapes what would break the structure, and unescaping gives the value back', () => {
    const value = 'a|b^c~d\\e&f\r\ng\nh\ti\x01j';
    const escaped = escapeValue(value, d);
    expect(escaped).toBe('a\\F\\b\\S\\c\\R\\d\\E\\e\\T\\f\\.br\\g\\.br\\h\ti\\X01\\j');
    expect(unescapeValue(escaped, d, 'ASCII')).toBe(value.replace('\r\n', '\n'));
    expect(escapeValue('plain text', d)).toBe('plain text');
  });

  it('with U+02DC as repetition separator, both ˜ and the ASCII ~ are escaped', () => {
    const m = parseHl7Message(fs.readFileSync(path.join(fixtures, 'pam-fr-adt-a01-latin1-small-tilde.hl7')));
    expect(escapeValue('a~b\u02dcc', m.delimiters)).toBe('a\\X7E\\b\\R\\c');
  });

  it('bounds formatting commands that would expand without limit (hostile \\.sp 999999\\)', () => {
    expect(unescapeValue('\\.sp 999999\\', d, 'ASCII')).toHaveLength(100);
    expect(unescapeValue('\\.sk 999999\\', d, 'ASCII')).toHaveLength(100);
  });

  it('an unterminated or empty sequence is kept literally', () => {
    expect(unescapeValue('C:\\dir', d, 'ASCII')).toBe('C:\\dir');
    expect(unescapeValue('a\\\\b', d, 'ASCII')).toBe('a\\\\b');
    expect(unescapeValue('\\F\\\\', d, 'ASCII')).toBe('|\\');
  });
});
