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
