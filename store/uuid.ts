// Name-based UUIDs (RFC 4122 version 5, SHA-1): the same name always gives the same id. The projector
// derives resource ids from the change set, so that refolding the log gives the same ids.
import { createHash } from 'node:crypto';

/** Namespace of Keney Hub's name-based ids (a fixed random UUID). */
export const KENEY_NAMESPACE = '3b2f6f1e-6c1a-4e0b-9a51-6b1d2b0c7e42';

export function uuidV5(name: string, namespace: string = KENEY_NAMESPACE): string {
  const ns = Buffer.from(namespace.replace(/-/g, ''), 'hex');
  const hash = createHash('sha1').update(ns).update(name, 'utf8').digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}
