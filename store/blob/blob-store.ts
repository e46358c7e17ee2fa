import { createHash } from 'node:crypto';

// Content-addressed storage for payloads too large or too binary for rows: raw messages, DICOM
// instances, documents. The key is the sha256 of the bytes, so the same bytes are stored once.

export interface BlobRef {
  /** sha256 of the content, lowercase hex. */
  sha256: string;
  size: number;
}

export interface BlobStore {
  /** Stores the bytes durably (written and synced before resolving); idempotent. */
  put(data: Uint8Array): Promise<BlobRef>;
  get(sha256: string): Promise<Buffer | undefined>;
  has(sha256: string): Promise<boolean>;
  delete(sha256: string): Promise<void>;
}

export class BlobStoreError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BlobStoreError';
  }
}

/** A blob read back must hash to its name: anything else is corruption, reported, never served. */
export function checkContent(sha256: string, bytes: Uint8Array, where: string): void {
  const actual = createHash('sha256').update(bytes).digest('hex');
  if (actual !== sha256) {
    throw new BlobStoreError(
      `The blob ${where} is corrupted: its content hashes to ${actual}, not ${sha256}. Restore it from a backup.`,
    );
  }
}
