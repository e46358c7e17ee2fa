// The message store's behaviour, run on PGlite (message-store.test.ts) and on PostgreSQL (message-store.int.test.ts).
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FsBlobStore } from '../store/blob/fs-blob-store.js';
import { migrate } from '../store/sql/migrate.js';
import type { SqlClient } from '../store/sql/sql-client.js';
import { isEngineError } from './errors.js';
import { messageTime } from './message-id.js';
import { engineMigrations, MessageStatus, MessageStore, Stage, type MessageHeaderFacts } from './message-store.js';

const DAY = 86_400_000;

function header(controlId: string, extra: Partial<MessageHeaderFacts> = {}): MessageHeaderFacts {
  return {
    sender: 'LAB^CH',
    messageType: 'ORU^R01',
    controlId,
    patientIds: [],
    searchText: `${controlId.toLowerCase()} lab^ch`,
    ...extra,
  };
}

function key(...parts: string[]): Buffer {
  return createHash('sha256').update(parts.join('|')).digest().subarray(0, 16);
}

export function describeMessageStore(
  name: string,
  open: () => Promise<{ sql: SqlClient; close: () => Promise<void> }>,
): void {
  describe(`message store (${name})`, () => {
    let sql: SqlClient;
    let close: () => Promise<void>;
    let blobDir: string;
    let store: MessageStore;
    let blobs: FsBlobStore;

    beforeAll(async () => {
      ({ sql, close } = await open());
      await migrate(sql, engineMigrations);
      blobDir = await mkdtemp(join(tmpdir(), 'keney-msg-blobs-'));
      blobs = new FsBlobStore(blobDir);
      store = new MessageStore(sql, blobs, { inlineRawLimit: 64 * 1024 });
      await store.ensurePartitions();
    });
    afterAll(async () => {
      await store?.drain();
      await close?.();
      await rm(blobDir, { recursive: true, force: true });
    });

    it('keeps the raw bytes exactly, under an id that encodes the receive time', async () => {
      const raw = Buffer.concat([
        Buffer.from('MSH|^~\\&|LAB|CH|||20260101||ORU^R01|A1|P|2.5\rPID|||'),
        Buffer.from([0xe9, 0x00, 0xff]),
        Buffer.from('\r'),
      ]);
      const receivedAt = new Date('2026-03-04T05:06:07.089Z');
      const received = await store.receive({
        channel: 'lab',
        raw,
        receivedAt,
        source: 'mllp 127.0.0.1:1',
        header: header('A1'),
      });
      expect(messageTime(received.id).toISOString()).toBe('2026-03-04T05:06:07.089Z');
      expect(received.rawSha256).toBe(createHash('sha256').update(raw).digest('hex'));
      expect((await store.raw(received.id)).equals(raw)).toBe(true);
      const detail = await store.get(received.id);
      expect(detail).toMatchObject({
        channel: 'lab',
        status: 'received',
        controlId: 'A1',
        messageType: 'ORU^R01',
        rawSize: raw.length,
        rawInBlobStore: false,
      });
    });

    it('recognizes the same delivery again (same key) and reports what happened to the first', async () => {
      const dedupKey = key('lab', 'LAB^CH', 'D1', 'x');
      const first = await store.receive({
        channel: 'lab',
        raw: Buffer.from('MSH|D1'),
        source: 's',
        header: header('D1'),
        dedupKey,
      });
      expect(first.duplicateOf).toBeUndefined();
      const again = await store.receive({
        channel: 'lab',
        raw: Buffer.from('MSH|D1'),
        source: 's',
        header: header('D1'),
        dedupKey,
      });
      expect(again.duplicateOf).toMatchObject({ id: first.id, status: 'received' });
      await store.finish({ id: first.id, channel: 'lab', status: MessageStatus.Sent, ackCode: 'AA' });
      const third = await store.receive({
        channel: 'lab',
        raw: Buffer.from('MSH|D1'),
        source: 's',
        header: header('D1'),
        dedupKey,
      });
      expect(third.duplicateOf).toMatchObject({ id: first.id, status: 'sent', ackCode: 'AA' });
      expect((await store.get(first.id)).duplicates).toBe(2);
      // A different content under the same control id is a new message.
      const other = await store.receive({
        channel: 'lab',
        raw: Buffer.from('MSH|D1 changed'),
        source: 's',
        header: header('D1'),
        dedupKey: key('lab', 'LAB^CH', 'D1', 'y'),
      });
      expect(other.duplicateOf).toBeUndefined();
    });

    it('stores one row when the same delivery arrives twice in one group commit', async () => {
      const dedupKey = key('lab', 'same-batch');
      const results = await Promise.all(
        [1, 2, 3].map(() =>
          store.receive({ channel: 'lab', raw: Buffer.from('MSH|SB'), source: 's', header: header('SB'), dedupKey }),
        ),
      );
      const originals = results.filter((r) => !r.duplicateOf);
      expect(originals).toHaveLength(1);
      expect(results.filter((r) => r.duplicateOf?.id === originals[0]!.id)).toHaveLength(2);
      const page = await store.search({ controlId: 'SB' });
      expect(page.messages.map((m) => m.id)).toEqual([originals[0]!.id]);
    });

    it('keeps raw messages above the inline limit in the blob store', async () => {
      const big = Buffer.alloc(200 * 1024, 'A');
      const received = await store.receive({ channel: 'big', raw: big, source: 's', header: header('BIG') });
      const detail = await store.get(received.id);
      expect(detail.rawInBlobStore).toBe(true);
      expect(await blobs.has(received.rawSha256)).toBe(true);
      expect((await store.raw(received.id)).equals(big)).toBe(true);
    });

    it('queues deliveries in order, rolls the message status up from them, and dead-letters', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        const r = await store.receive({
          channel: 'route',
          raw: Buffer.from(`MSH|Q${i}`),
          source: 's',
          header: header(`Q${i}`),
        });
        ids.push(r.id);
        await store.finish({
          id: r.id,
          channel: 'route',
          status: MessageStatus.Queued,
          ackCode: 'AA',
          deliveries: [{ destination: 'lis', generation: 0 }],
        });
      }
      const head = await store.queueHead('route', 'lis', 10);
      expect(head.map((d) => d.messageId)).toEqual(ids);
      expect(await store.queueDepths('route')).toEqual([{ channel: 'route', destination: 'lis', pending: 3, dead: 0 }]);

      await store.recordAttempt(head[0]!, { status: 'sent', response: 'MSA|AA' });
      expect((await store.get(ids[0]!)).status).toBe('sent');

      await store.recordAttempt(head[1]!, {
        status: 'failed',
        error: 'connection refused',
        retryAt: new Date(Date.now() + 1000),
      });
      const stillPending = await store.get(ids[1]!);
      expect(stillPending.status).toBe('queued');
      expect(stillPending.deliveries[0]).toMatchObject({
        status: 'pending',
        attempts: 1,
        lastError: 'connection refused',
      });

      await store.recordAttempt(head[1]!, { status: 'dead', error: 'connection refused' });
      const dead = await store.get(ids[1]!);
      expect(dead.status).toBe('error');
      expect(dead.errorStage).toBe(Stage.Destination);
      expect(dead.errors[0]).toMatchObject({ code: 'DEAD_LETTER', destination: 'lis' });
      // The code's parameters are stored with it, so that the console words the error in its own language.
      expect(dead.errors[0]!.params).toEqual({ destination: 'lis', attempts: 2, lastError: 'connection refused' });
      expect(dead.errors[0]!.message).toBe('Delivery to lis failed 2 time(s): connection refused');
      expect(
        (await store.search({ channel: 'route', status: [MessageStatus.Error] })).messages.map((m) => m.id),
      ).toEqual([ids[1]]);

      // Replay to the destination: a new generation, queued behind the others, and the message is queued again.
      await store.enqueue(ids[1]!, 'route', [{ destination: 'lis', generation: 1 }]);
      expect((await store.get(ids[1]!)).status).toBe('queued');
      expect((await store.queueHead('route', 'lis', 10)).map((d) => [d.messageId, d.generation])).toEqual([
        [ids[2], 0],
        [ids[1], 1],
      ]);
    });

    it('finds messages by every search field, and pages through all of them exactly once', async () => {
      const base = Date.parse('2026-02-10T10:00:00Z');
      const made: string[] = [];
      for (let i = 0; i < 25; i++) {
        const r = await store.receive({
          channel: 'search',
          raw: Buffer.from(`MSH|^~\\&|S${i}|needle-${i % 5}`),
          receivedAt: new Date(base + i * 3_600_000),
          source: 's',
          header: header(`S${i}`, {
            messageType: i % 2 === 0 ? 'ADT^A01' : 'ORU^R01',
            patientIds: [`IPP${i % 4}`, `CH|IPP${i % 4}`],
            searchText: `s${i} dupont-${i % 3} lab^ch`,
          }),
        });
        made.push(r.id);
      }
      const all = await store.search({ channel: 'search', limit: 1000 });
      expect(all.messages).toHaveLength(25);
      expect(all.messages[0]!.id).toBe(made[24]);

      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await store.search({ channel: 'search', limit: 7, ...(cursor ? { cursor } : {}) });
        seen.push(...page.messages.map((m) => m.id));
        cursor = page.next;
      } while (cursor);
      expect(seen).toEqual([...made].reverse());

      expect((await store.search({ channel: 'search', messageType: 'ADT' })).messages).toHaveLength(13);
      expect((await store.search({ channel: 'search', messageType: 'ORU^R01' })).messages).toHaveLength(12);
      expect((await store.search({ controlId: 'S7' })).messages.map((m) => m.id)).toEqual([made[7]]);
      expect((await store.search({ channel: 'search', patient: 'CH|IPP1' })).messages).toHaveLength(6);
      expect((await store.search({ channel: 'search', text: 'DUPONT-2' })).messages).toHaveLength(8);
      expect((await store.search({ channel: 'search', content: 'needle-3' })).messages).toHaveLength(5);
      const range = await store.search({
        channel: 'search',
        from: new Date(base + 5 * 3_600_000),
        to: new Date(base + 10 * 3_600_000),
      });
      expect(range.messages.map((m) => m.id)).toEqual(made.slice(5, 10).reverse());
      const oldestFirst = await store.selectIds(
        { channel: 'search', from: new Date(base), to: new Date(base + 3 * 3_600_000) },
        10,
      );
      expect(oldestFirst.ids).toEqual(made.slice(0, 3));
      // Wildcards in the user's text are literal.
      expect((await store.search({ channel: 'search', text: 'dup%nt' })).messages).toHaveLength(0);
    });

    it('refuses a forged cursor and a too-short search word with a precise error', async () => {
      await expect(store.search({ cursor: 'not-a-cursor' })).rejects.toSatisfy((e: unknown) =>
        isEngineError(e, 'engine.invalid-request'),
      );
      await expect(store.search({ text: 'ab' })).rejects.toThrow(/at least 3 characters/);
      await expect(store.get('not-an-id')).rejects.toSatisfy((e: unknown) =>
        isEngineError(e, 'engine.message-not-found'),
      );
    });

    it('creates the partition of a day it does not have yet', async () => {
      const far = new Date('2031-07-01T12:00:00Z');
      const r = await store.receive({
        channel: 'future',
        raw: Buffer.from('MSH|F'),
        receivedAt: far,
        source: 's',
        header: header('F'),
      });
      expect((await store.get(r.id)).receivedAt).toBe(far.toISOString());
    });

    it('lists messages whose processing did not finish', async () => {
      const r = await store.receive({ channel: 'crash', raw: Buffer.from('MSH|C'), source: 's', header: header('C') });
      const done = await store.receive({
        channel: 'crash',
        raw: Buffer.from('MSH|C2'),
        source: 's',
        header: header('C2'),
      });
      await store.finish({ id: done.id, channel: 'crash', status: MessageStatus.Sent, ackCode: 'AA' });
      expect((await store.unfinished({ channel: 'crash' })).map((m) => m.id)).toEqual([r.id]);
    });

    it('prunes whole days: their rows, deliveries and blobs are gone and their space is freed', async () => {
      const old = new Date(Date.now() - 40 * DAY);
      const big = Buffer.alloc(100 * 1024, 'Z');
      const oldIds: string[] = [];
      for (let i = 0; i < 20; i++) {
        const r = await store.receive({
          channel: 'prune',
          raw: i === 0 ? big : Buffer.from(`MSH|P${i}`),
          receivedAt: old,
          source: 's',
          header: header(`P${i}`),
        });
        await store.finish({
          id: r.id,
          channel: 'prune',
          status: MessageStatus.Queued,
          ackCode: 'AA',
          deliveries: [{ destination: 'lis', generation: 0 }],
        });
        oldIds.push(r.id);
      }
      const kept = await store.receive({
        channel: 'prune',
        raw: Buffer.from('MSH|KEEP'),
        source: 's',
        header: header('KEEP'),
      });
      const before = await store.partitions();
      const oldDay = before.find((p) => p.day === old.toISOString().slice(0, 10).replace(/-/g, ''))!;
      expect(oldDay.messages).toBe(20);
      expect(oldDay.bytes).toBeGreaterThan(0);

      const result = await store.prune(new Date(Date.now() - 30 * DAY));
      expect(result.days).toContain(oldDay.day);
      expect(result.messages).toBeGreaterThanOrEqual(20);
      expect(result.bytes).toBeGreaterThanOrEqual(oldDay.bytes);
      expect(result.blobs).toBeGreaterThanOrEqual(1);
      expect(await blobs.has(createHash('sha256').update(big).digest('hex'))).toBe(false);
      const after = await store.partitions();
      expect(after.some((p) => p.day === oldDay.day)).toBe(false);
      await expect(store.get(oldIds[3]!)).rejects.toSatisfy((e: unknown) =>
        isEngineError(e, 'engine.message-not-found'),
      );
      expect((await store.queueDepths('prune')).reduce((n, q) => n + q.pending, 0)).toBe(0);
      expect((await store.get(kept.id)).controlId).toBe('KEEP');
    });
  });
}
