// The behaviour every BlobStore owes the hub (raw messages, DICOM instances, documents), as a reusable suite.
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlobStoreError, type BlobStore } from './blob-store.js';

export interface BlobStoreSubject {
  store: BlobStore;
  /** Replaces the stored bytes of a blob behind the store's back (to check that corruption is caught). */
  corrupt(sha256: string, bytes: Buffer): Promise<void>;
  dispose(): Promise<void>;
}

export function describeBlobStoreContract(name: string, open: () => Promise<BlobStoreSubject>): void {
  describe(`BlobStore contract: ${name}`, () => {
    let subject: BlobStoreSubject;
    beforeAll(async () => {
      subject = await open();
    });
    afterAll(() => subject?.dispose());

    it('stores bytes under their sha256 and gives them back identical (binary, NUL, MLLP bytes)', async () => {
      const bytes = Buffer.concat([Buffer.from([0x0b, 0x00, 0xff, 0x1c, 0x0d]), randomBytes(1000)]);
      const ref = await subject.store.put(bytes);
      expect(ref).toEqual({ sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length });
      expect(await subject.store.get(ref.sha256)).toEqual(bytes);
      expect(await subject.store.has(ref.sha256)).toBe(true);
    });

    it('keeps one copy of the same content, even when put concurrently', async () => {
      const bytes = randomBytes(4096);
      const refs = await Promise.all(Array.from({ length: 8 }, () => subject.store.put(bytes)));
      expect(new Set(refs.map((r) => r.sha256)).size).toBe(1);
      expect(await subject.store.get(refs[0]!.sha256)).toEqual(bytes);
    });

    it('round-trips a large blob (6 MB DICOM-sized)', async () => {
      const bytes = randomBytes(6 * 1024 * 1024);
      const ref = await subject.store.put(bytes);
      expect((await subject.store.get(ref.sha256))!.equals(bytes)).toBe(true);
    });

    it('answers undefined for an unknown blob, and refuses keys that are not sha256', async () => {
      expect(await subject.store.get('0'.repeat(64))).toBeUndefined();
      expect(await subject.store.has('0'.repeat(64))).toBe(false);
      await expect(subject.store.get('../../etc/passwd')).rejects.toThrow(/Not a sha256/);
    });

    it('deletes a blob', async () => {
      const ref = await subject.store.put(randomBytes(100));
      await subject.store.delete(ref.sha256);
      expect(await subject.store.has(ref.sha256)).toBe(false);
    });

    it('refuses to serve corrupted bytes, naming the blob', async () => {
      const ref = await subject.store.put(Buffer.from('the original report'));
      await subject.corrupt(ref.sha256, Buffer.from('a forged report'));
      const error = await subject.store.get(ref.sha256).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(BlobStoreError);
      expect((error as Error).message).toContain(ref.sha256);
      expect((error as Error).message).toMatch(/corrupted/);
    });
  });
}
