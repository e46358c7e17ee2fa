// Blobs in an S3-compatible object store (cluster profile: every hub instance sees the same blobs): AWS S3,
// MinIO, Ceph RGW, Garage… Keys are <prefix><sha256[0:2]>/<sha256>; each upload carries its Content-MD5 so the
// server refuses corrupted bytes, and an existing key is not uploaded again.
import { createHash } from 'node:crypto';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { BlobStoreError, checkContent, type BlobRef, type BlobStore } from './blob-store.js';

export interface S3BlobStoreOptions {
  bucket: string;
  /** e.g. http://127.0.0.1:9000 for a local server; absent for AWS. */
  endpoint?: string;
  region?: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  /** Key prefix (default "blobs/"). */
  prefix?: string;
  /** Path-style URLs (default true when an endpoint is given: most non-AWS servers want them). */
  forcePathStyle?: boolean;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

export class S3BlobStore implements BlobStore {
  private readonly client: S3Client;
  private readonly prefix: string;

  constructor(private readonly options: S3BlobStoreOptions) {
    this.prefix = options.prefix ?? 'blobs/';
    this.client = new S3Client({
      region: options.region ?? 'us-east-1',
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      forcePathStyle: options.forcePathStyle ?? Boolean(options.endpoint),
      ...(options.accessKeyId && options.secretAccessKey
        ? { credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey } }
        : {}),
      maxAttempts: 4,
    });
  }

  private key(sha256: string): string {
    if (!SHA256_HEX.test(sha256)) throw new Error(`Not a sha256 blob key: ${JSON.stringify(sha256)}`);
    return `${this.prefix}${sha256.slice(0, 2)}/${sha256}`;
  }

  private describe(error: unknown, action: string): BlobStoreError {
    const where = `bucket "${this.options.bucket}"${this.options.endpoint ? ` at ${this.options.endpoint}` : ''}`;
    if (error instanceof S3ServiceException) {
      return new BlobStoreError(
        `S3 ${action} failed on ${where}: ${error.name} (${error.$metadata.httpStatusCode ?? '?'}): ${error.message}`,
        {
          cause: error,
        },
      );
    }
    return new BlobStoreError(
      `S3 ${action} failed on ${where}: ${(error as Error).message}. Check KENEY_S3_ENDPOINT and that the server is up.`,
      {
        cause: error,
      },
    );
  }

  /** Creates the bucket when it does not exist (idempotent). */
  async init(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.options.bucket }));
      return;
    } catch (error) {
      const status = (error as S3ServiceException).$metadata?.httpStatusCode;
      if (status !== 404) throw this.describe(error, 'bucket check');
    }
    try {
      await this.client.send(new CreateBucketCommand({ Bucket: this.options.bucket }));
    } catch (error) {
      const name = (error as S3ServiceException).name;
      if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists')
        throw this.describe(error, 'bucket creation');
    }
  }

  async put(data: Uint8Array): Promise<BlobRef> {
    const sha256 = createHash('sha256').update(data).digest('hex');
    if (await this.has(sha256)) return { sha256, size: data.byteLength };
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.options.bucket,
          Key: this.key(sha256),
          Body: data,
          ContentMD5: createHash('md5').update(data).digest('base64'),
          ContentType: 'application/octet-stream',
          Metadata: { sha256 },
        }),
      );
    } catch (error) {
      throw this.describe(error, 'upload');
    }
    return { sha256, size: data.byteLength };
  }

  async get(sha256: string): Promise<Buffer | undefined> {
    try {
      const response = await this.client.send(
        new GetObjectCommand({ Bucket: this.options.bucket, Key: this.key(sha256) }),
      );
      const bytes = Buffer.from(await response.Body!.transformToByteArray());
      checkContent(sha256, bytes, `s3://${this.options.bucket}/${this.key(sha256)}`);
      return bytes;
    } catch (error) {
      if (error instanceof BlobStoreError) throw error;
      if (
        (error as S3ServiceException).name === 'NoSuchKey' ||
        (error as S3ServiceException).$metadata?.httpStatusCode === 404
      )
        return undefined;
      throw this.describe(error, 'download');
    }
  }

  async has(sha256: string): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.options.bucket, Key: this.key(sha256) }));
      return true;
    } catch (error) {
      if ((error as S3ServiceException).$metadata?.httpStatusCode === 404) return false;
      throw this.describe(error, 'lookup');
    }
  }

  async delete(sha256: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.options.bucket, Key: this.key(sha256) }));
    } catch (error) {
      throw this.describe(error, 'delete');
    }
  }

  close(): void {
    this.client.destroy();
  }
}
