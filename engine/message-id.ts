// Message ids are UUIDv7 (RFC 9562): the first 48 bits are the receive time in milliseconds. The message
// store is partitioned by receive time, so an id alone finds its partition (no scan of every partition).
import { randomBytes } from 'node:crypto';
import { uuidV5 } from '../store/uuid.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

export function newMessageId(receivedAt: Date): string {
  const bytes = randomBytes(16);
  const ms = BigInt(receivedAt.getTime());
  for (let i = 0; i < 6; i++) bytes[i] = Number((ms >> BigInt(8 * (5 - i))) & 0xffn);
  bytes[6] = (bytes[6]! & 0x0f) | 0x70;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function isMessageId(value: string): boolean {
  return UUID.test(value);
}

/** The receive time encoded in a message id. */
export function messageTime(id: string): Date {
  return new Date(Number.parseInt(id.replace(/-/g, '').slice(0, 12), 16));
}

/**
 * The change set id of a message's processing number `revision` (0 for the first, then one per replay). Derived
 * from the duplicate key when there is one, so that even two rows of the same delivery (a race between two hub
 * instances) produce one change set; otherwise from the message id.
 */
export function changeSetIdFor(message: { id: string; dedupKey?: Buffer | null }, revision: number): string {
  const base = message.dedupKey ? `dedup:${message.dedupKey.toString('hex')}` : `message:${message.id}`;
  return uuidV5(`keney:channel-change-set:${base}:${revision}`);
}
