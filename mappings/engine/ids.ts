// Name-based ids of mapped resources: RFC 4122 version 5 (SHA-1) in Keney Hub's namespace — the same function as
// store/uuid.ts `uuidV5` (ids.test.ts checks they agree), with the namespace bytes prepared once: a mapped message
// derives one or two ids per resource, and preparing the namespace was a third of the cost.
import { createHash } from 'node:crypto';
import { KENEY_NAMESPACE } from '../../store/uuid.js';

const NAMESPACE = Buffer.from(KENEY_NAMESPACE.replace(/-/g, ''), 'hex');
const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** uuidV5(name) in the Keney namespace. */
export function nameUuid(name: string): string {
  const h = createHash('sha1').update(NAMESPACE).update(name, 'utf8').digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  let out = '';
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) out += '-';
    out += HEX[h[i]!]!;
  }
  return out;
}
