import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FsBlobStore } from './fs-blob-store.js';

describe('FsBlobStore', () => {
  let root: string;
  let store: FsBlobStore;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'keney-blob-'));
    store = new FsBlobStore(root);
  });
  afterEach(() => rm(root, { recursive: true, force: true }));

  it('stores bytes under their sha256 and gives them back identical', async () => {
    const bytes = Buffer.from([0x0b, 0x4d, 0x53, 0x48, 0x00, 0xff, 0x1c, 0x0d]);
    const ref = await store.put(bytes);
    expect(ref).toEqual({ sha256: createHash('sha256').update(bytes).digest('hex'), size: 8 });
    expect(await store.get(ref.sha256)).toEqual(bytes);
    expect(await store.has(ref.sha256)).toBe(true);
  });

  it('stores the same content once and leaves no temporary file behind', async () => {
    const a = await store.put(Buffer.from('same'));
    const b = await store.put(Buffer.from('same'));
    expect(a).toEqual(b);
    const dir = join(root, a.sha256.slice(0, 2), a.sha256.slice(2, 4));
    expect(await readdir(dir)).toEqual([a.sha256]);
  });

  it('answers undefined for an unknown blob and refuses keys that are not sha256 (no path traversal)', async () => {
    expect(await store.get('0'.repeat(64))).toBeUndefined();
    await expect(store.get('../../etc/passwd')).rejects.toThrow(/Not a sha256/);
  });

  it('deletes a blob', async () => {
    const ref = await store.put(Buffer.from('gone'));
    await store.delete(ref.sha256);
    expect(await store.has(ref.sha256)).toBe(false);
  });
});
