import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { hasService, testServiceConfig } from '../../test/services.js';
import { describeBlobStoreContract } from './blob-store.contract.js';
import { FsBlobStore } from './fs-blob-store.js';
import { S3BlobStore } from './s3-blob-store.js';

describeBlobStoreContract('filesystem', async () => {
  const root = await mkdtemp(join(tmpdir(), 'keney-blobs-'));
  return {
    store: new FsBlobStore(root),
    corrupt: (sha256, bytes) => writeFile(join(root, sha256.slice(0, 2), sha256.slice(2, 4), sha256), bytes),
    dispose: () => rm(root, { recursive: true, force: true }),
  };
});

describe.skipIf(!hasService('s3'))('S3 (S3Proxy, a real S3 server)', () => {
  const bucket = `keney-test-${randomBytes(4).toString('hex')}`;
  const credentials = {
    accessKeyId: testServiceConfig.s3AccessKeyId,
    secretAccessKey: testServiceConfig.s3SecretAccessKey,
  };
  describeBlobStoreContract('s3', async () => {
    const store = new S3BlobStore({ bucket, endpoint: testServiceConfig.s3Endpoint, ...credentials });
    await store.init();
    await store.init(); // idempotent
    const raw = new S3Client({
      region: 'us-east-1',
      endpoint: testServiceConfig.s3Endpoint,
      forcePathStyle: true,
      credentials,
    });
    return {
      store,
      corrupt: async (sha256, bytes) => {
        await raw.send(
          new PutObjectCommand({ Bucket: bucket, Key: `blobs/${sha256.slice(0, 2)}/${sha256}`, Body: bytes }),
        );
      },
      dispose: async () => {
        raw.destroy();
        store.close();
      },
    };
  });

  it('says which server and bucket failed when the credentials are wrong', async () => {
    const store = new S3BlobStore({
      bucket,
      endpoint: testServiceConfig.s3Endpoint,
      accessKeyId: 'keney',
      secretAccessKey: 'wrong',
    });
    await expect(store.put(Buffer.from('x'))).rejects.toThrow(
      new RegExp(`bucket "${bucket}" at ${testServiceConfig.s3Endpoint.replace(/[/.]/g, '\\$&')}`),
    );
    store.close();
  });

  it('says what to check when the server is down', async () => {
    const store = new S3BlobStore({ bucket, endpoint: 'http://127.0.0.1:9', ...credentials });
    await expect(store.init()).rejects.toThrow(/Check KENEY_S3_ENDPOINT/);
    store.close();
  }, 60_000);
});
