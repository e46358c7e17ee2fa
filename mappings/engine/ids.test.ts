// The ids of mapped resources are the store's name-based uuids: nameUuid (namespace prepared once) gives exactly
// store/uuid.ts uuidV5 in Keney Hub's namespace, whatever the name (a replayed message must find the same ids).
import { describe, expect, it } from 'vitest';
import { uuidV5 } from '../../store/uuid.js';
import { nameUuid } from './ids.js';

describe('nameUuid', () => {
  it('is uuidV5 in the Keney namespace, for empty, accented, long and binary-looking names', () => {
    const names = [
      '',
      'a',
      'Patient?identifier=urn:oid:1.2.250.1.999.1.1|IPP100042',
      'Hélène Bérénice ÉÈ ß 漢字 😀',
      'x'.repeat(100_000),
      '\u0000\u0001\uffff',
      'msg-1#observation@OBX[200]',
    ];
    for (const name of names) expect(nameUuid(name), name.slice(0, 40)).toBe(uuidV5(name));
  });

  it('is a version 5, RFC 4122 variant uuid', () => {
    expect(nameUuid('msg-1')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
