// Stores DICOM instances: the Part-10 bytes in the content-addressed BlobStore, the metadata in the index.
// Idempotent on the SOP Instance UID: the same data set again is "unchanged" (nothing written); a different
// data set under the same UID is, by policy, either "replaced" (default: the index points to the new
// bytes, the previous version stays in the blob store and in dicom_instance_versions) or refused.
import { createHash } from 'node:crypto';
import { DicomError, DicomErrorCode } from '../../adapters/dicom/errors.js';
import type { DataSet } from '../../adapters/dicom/dataset.js';
import { toDicomJson } from '../../adapters/dicom/json-model.js';
import { extractMetadata, type InstanceMetadata } from '../../adapters/dicom/metadata.js';
import {
  buildPart10,
  readDataSet,
  readPart10,
  requireIdentity,
  type InstanceIdentity,
} from '../../adapters/dicom/part10.js';
import { isStorageSopClass } from '../../adapters/dicom/uids.js';
import type { BlobRef, BlobStore } from '../../store/blob/blob-store.js';
import type { SqlClient } from '../../store/sql/sql-client.js';
import { InstanceIndex, type IndexedInstance } from './index/instance-index.js';
import { INSTANCE_TAGS, SERIES_TAGS, STUDY_TAGS } from './index/levels.js';

export const StoreOutcome = { Created: 'created', Unchanged: 'unchanged', Replaced: 'replaced' } as const;
export type StoreOutcome = (typeof StoreOutcome)[keyof typeof StoreOutcome];

export const DuplicatePolicy = { Replace: 'replace', Reject: 'reject' } as const;
export type DuplicatePolicy = (typeof DuplicatePolicy)[keyof typeof DuplicatePolicy];

export const StoreErrorCode = {
  /** The bytes are not a readable DICOM instance (see `cause`, a DicomError). */
  Invalid: 'DICOM_STORE_INVALID',
  /** Not a storage SOP class (e.g. a DICOMDIR). */
  NotStorage: 'DICOM_STORE_NOT_STORAGE',
  /** The data set's SOP Class / Instance UID differ from the ones the C-STORE command announced. */
  Mismatch: 'DICOM_STORE_MISMATCH',
  /** Over the configured instance size. */
  TooLarge: 'DICOM_STORE_TOO_LARGE',
  /** Same SOP Instance UID, different content, and the policy is to refuse. */
  Conflict: 'DICOM_STORE_CONFLICT',
  /** The blob store or the database failed: retry later. */
  Unavailable: 'DICOM_STORE_UNAVAILABLE',
} as const;
export type StoreErrorCode = (typeof StoreErrorCode)[keyof typeof StoreErrorCode];

export class StoreError extends Error {
  override readonly name = 'StoreError';
  constructor(
    readonly code: StoreErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Where an instance came from (for lineage and the message store in phase 2). */
export interface InstanceSource {
  protocol: 'dimse' | 'stow-rs' | 'api';
  callingAeTitle?: string;
  calledAeTitle?: string;
  remoteAddress?: string;
  /** An id of the association or HTTP request. */
  exchangeId?: string;
  /** The authenticated user who sent it (STOW-RS through the hub: the token's name). */
  user?: string;
}

export type ReceivedInstance =
  | { file: Buffer; source: InstanceSource }
  | {
      dataSet: Buffer;
      transferSyntaxUid: string;
      source: InstanceSource;
      expected?: { sopClassUid?: string; sopInstanceUid?: string };
    };

export interface StoredInstance {
  outcome: StoreOutcome;
  identity: InstanceIdentity;
  metadata: InstanceMetadata;
  transferSyntaxUid: string;
  /** The stored Part-10 file in the blob store. */
  blob: BlobRef;
  dataSetOffset: number;
  dataSetSha256: string;
  version: number;
  source: InstanceSource;
  /** The parsed data set (for mappings that need more than the metadata: SR, encapsulated documents). */
  dataSet: DataSet;
  /** The Part-10 file as received (STOW-RS) or as built around the received data set (DIMSE). */
  file: Buffer;
}

export interface InstanceStoreOptions {
  duplicatePolicy?: DuplicatePolicy;
  /** Largest instance accepted, in bytes (default 2 GiB − 1). */
  maxInstanceBytes?: number;
}

function invalid(error: unknown): StoreError {
  if (error instanceof DicomError) {
    const code = error.code === DicomErrorCode.TooLarge ? StoreErrorCode.TooLarge : StoreErrorCode.Invalid;
    return new StoreError(code, error.message, { cause: error });
  }
  return new StoreError(StoreErrorCode.Invalid, `The instance cannot be read: ${(error as Error).message}`, {
    cause: error,
  });
}

export class InstanceStore {
  readonly index: InstanceIndex;
  private readonly policy: DuplicatePolicy;
  private readonly maxBytes: number;

  constructor(
    readonly sql: SqlClient,
    readonly blobs: BlobStore,
    options: InstanceStoreOptions = {},
  ) {
    this.index = new InstanceIndex(sql);
    this.policy = options.duplicatePolicy ?? DuplicatePolicy.Replace;
    this.maxBytes = options.maxInstanceBytes ?? 0x7fffffff;
  }

  /** Parses, checks and stores one instance. Throws StoreError (with a DICOM-meaningful code). */
  async store(received: ReceivedInstance): Promise<StoredInstance> {
    const size = 'file' in received ? received.file.length : received.dataSet.length;
    if (size > this.maxBytes)
      throw new StoreError(
        StoreErrorCode.TooLarge,
        `The instance is ${size} bytes, over the ${this.maxBytes} accepted`,
      );
    let dataSet: DataSet;
    let identity: InstanceIdentity;
    let file: Buffer;
    let dataSetBytes: Buffer;
    let transferSyntaxUid: string;
    try {
      if ('file' in received) {
        const part10 = readPart10(received.file, { maxInflatedBytes: this.maxBytes });
        dataSet = part10.dataSet;
        identity = requireIdentity(dataSet, part10.meta);
        file = received.file;
        dataSetBytes = received.file.subarray(part10.dataSetOffset);
        transferSyntaxUid = part10.transferSyntax.uid;
      } else {
        dataSet = readDataSet(received.dataSet, received.transferSyntaxUid, { maxInflatedBytes: this.maxBytes });
        identity = requireIdentity(dataSet);
        const expected = received.expected;
        if (expected?.sopInstanceUid && expected.sopInstanceUid !== identity.sopInstanceUid) {
          throw new StoreError(
            StoreErrorCode.Mismatch,
            `SOP Instance UID mismatch: the data set has ${identity.sopInstanceUid}, the C-STORE command announced ${expected.sopInstanceUid}`,
          );
        }
        if (expected?.sopClassUid && expected.sopClassUid !== identity.sopClassUid) {
          throw new StoreError(
            StoreErrorCode.Mismatch,
            `SOP Class UID mismatch: the data set has ${identity.sopClassUid}, the C-STORE command announced ${expected.sopClassUid}`,
          );
        }
        transferSyntaxUid = received.transferSyntaxUid;
        dataSetBytes = received.dataSet;
        file = buildPart10(received.dataSet, {
          sopClassUid: identity.sopClassUid,
          sopInstanceUid: identity.sopInstanceUid,
          transferSyntaxUid,
          ...(received.source.callingAeTitle ? { sourceAeTitle: received.source.callingAeTitle } : {}),
        });
      }
    } catch (error) {
      if (error instanceof StoreError) throw error;
      throw invalid(error);
    }
    if (!isStorageSopClass(identity.sopClassUid)) {
      throw new StoreError(
        StoreErrorCode.NotStorage,
        `SOP class ${identity.sopClassUid} is not a storage SOP class: only images, reports and other composite objects are stored`,
      );
    }
    const metadata = extractMetadata(dataSet);
    const dataSetSha256 = createHash('sha256').update(dataSetBytes).digest('hex');
    const base = { identity, metadata, transferSyntaxUid, dataSetSha256, source: received.source, dataSet, file };

    const existing = await this.index.findInstance(identity.sopInstanceUid).catch((error) => {
      throw new StoreError(StoreErrorCode.Unavailable, `The DICOM index cannot be read: ${(error as Error).message}`, {
        cause: error,
      });
    });
    if (existing && existing.dataSetSha256 === dataSetSha256 && existing.transferSyntaxUid === transferSyntaxUid) {
      return {
        ...base,
        outcome: StoreOutcome.Unchanged,
        blob: { sha256: existing.blobSha256, size: existing.blobSize },
        dataSetOffset: existing.dataSetOffset,
        version: existing.version,
      };
    }
    if (existing && this.policy === DuplicatePolicy.Reject) {
      throw new StoreError(
        StoreErrorCode.Conflict,
        `SOP Instance UID ${identity.sopInstanceUid} is already stored with different content; this archive keeps the first version (duplicate policy "reject"). Send corrected objects under a new SOP Instance UID`,
      );
    }
    let blob: BlobRef;
    try {
      blob = await this.blobs.put(file);
    } catch (error) {
      throw new StoreError(
        StoreErrorCode.Unavailable,
        `The blob store cannot store the instance: ${(error as Error).message}`,
        { cause: error },
      );
    }
    const dataSetOffset = file.length - dataSetBytes.length;
    const jsonOf = (tags: readonly number[]) => toDicomJson(dataSet, { include: new Set(tags) });
    try {
      return await this.sql.transaction(async (tx) => {
        await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [identity.sopInstanceUid]);
        const previous = await this.index.findInstance(identity.sopInstanceUid, tx);
        if (previous && previous.dataSetSha256 === dataSetSha256 && previous.transferSyntaxUid === transferSyntaxUid) {
          return {
            ...base,
            outcome: StoreOutcome.Unchanged,
            blob: { sha256: previous.blobSha256, size: previous.blobSize },
            dataSetOffset: previous.dataSetOffset,
            version: previous.version,
          };
        }
        if (previous && this.policy === DuplicatePolicy.Reject) {
          throw new StoreError(
            StoreErrorCode.Conflict,
            `SOP Instance UID ${identity.sopInstanceUid} is already stored with different content (duplicate policy "reject")`,
          );
        }
        const version = await this.index.upsert(
          tx,
          {
            instance: {
              sopInstanceUid: identity.sopInstanceUid,
              seriesInstanceUid: identity.seriesInstanceUid,
              studyInstanceUid: identity.studyInstanceUid,
              sopClassUid: identity.sopClassUid,
              ...(metadata.instance.number !== undefined ? { instanceNumber: metadata.instance.number } : {}),
              transferSyntaxUid,
              blobSha256: blob.sha256,
              blobSize: blob.size,
              dataSetOffset,
              dataSetSha256,
              ...(metadata.instance.numberOfFrames !== undefined
                ? { numberOfFrames: metadata.instance.numberOfFrames }
                : {}),
              ...(received.source.callingAeTitle ? { sourceAeTitle: received.source.callingAeTitle } : {}),
              metadata,
            },
            studyAttributes: jsonOf(STUDY_TAGS),
            seriesAttributes: jsonOf(SERIES_TAGS),
            instanceAttributes: jsonOf(INSTANCE_TAGS),
          },
          previous,
        );
        return {
          ...base,
          outcome: previous ? StoreOutcome.Replaced : StoreOutcome.Created,
          blob,
          dataSetOffset,
          version,
        };
      });
    } catch (error) {
      if (error instanceof StoreError) throw error;
      throw new StoreError(
        StoreErrorCode.Unavailable,
        `The DICOM index cannot record the instance: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }

  /** The stored Part-10 file of an instance, with its index row; undefined when unknown. */
  async read(sopInstanceUid: string): Promise<{ instance: IndexedInstance; file: Buffer } | undefined> {
    const instance = await this.index.findInstance(sopInstanceUid);
    if (!instance) return undefined;
    const file = await this.blobs.get(instance.blobSha256);
    if (!file)
      throw new StoreError(
        StoreErrorCode.Unavailable,
        `The blob ${instance.blobSha256} of instance ${sopInstanceUid} is missing from the blob store`,
      );
    return { instance, file };
  }

  async readFile(instance: IndexedInstance): Promise<Buffer> {
    const file = await this.blobs.get(instance.blobSha256);
    if (!file)
      throw new StoreError(
        StoreErrorCode.Unavailable,
        `The blob ${instance.blobSha256} of instance ${instance.sopInstanceUid} is missing from the blob store`,
      );
    return file;
  }
}
