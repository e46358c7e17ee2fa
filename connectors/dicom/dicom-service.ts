// The DICOM facade: one object that owns the instance store and index, the DIMSE SCP, and the
// forwarding clients, and tells subscribers about every stored instance. Phase 2 wires it to the
// channels: subscribe with onInstanceStored (awaited before the sender is acknowledged).
import type { DicomJson } from '../../adapters/dicom/json-model.js';
import type { InstanceMetadata } from '../../adapters/dicom/metadata.js';
import { DicomErrorCode, type DicomError } from '../../adapters/dicom/errors.js';
import type { InstanceIdentity } from '../../adapters/dicom/part10.js';
import type { BlobRef, BlobStore } from '../../store/blob/blob-store.js';
import { migrate } from '../../store/sql/migrate.js';
import type { SqlClient } from '../../store/sql/sql-client.js';
import type { AssociationLimits } from './dimse/association.js';
import { Status } from './dimse/command.js';
import { DicomScp, type AssociationInfo, type ScpEvent } from './dimse/scp.js';
import { forwardByCStore, type ForwardOptions, type RemoteAe, type StoreItem, type StoreResult } from './dimse/scu.js';
import { stowForward, type StowForwardOptions, type StowResult } from './dicomweb/stow-client.js';
import type { IndexedInstance, QueryAnswer } from './index/instance-index.js';
import { dicomMigrations } from './index/migrations.js';
import type { DicomQuery } from './index/query.js';
import type { DuplicatePolicy } from './instance-store.js';
import {
  InstanceStore,
  StoreError,
  StoreErrorCode,
  type InstanceSource,
  type ReceivedInstance,
  type StoredInstance,
} from './instance-store.js';
import type { TlsOptions } from 'node:tls';

export const DEFAULT_AE_TITLE = 'KENEY';
export const DEFAULT_DICOM_PORT = 11112;

export interface DicomServiceOptions {
  sql: SqlClient;
  blobs: BlobStore;
  /** Our AE title (default KENEY). */
  aeTitle?: string;
  /** DIMSE port (default KENEY_DICOM_PORT, else 11112; 0 picks a free port). */
  port?: number;
  host?: string;
  allowedCallingAeTitles?: readonly string[];
  tls?: TlsOptions;
  maxAssociations?: number;
  limits?: Partial<AssociationLimits>;
  maxInstanceBytes?: number;
  duplicatePolicy?: DuplicatePolicy;
  /** Known remote AEs (C-MOVE destinations, forwarding targets). */
  remoteAes?: Record<string, Omit<RemoteAe, 'aeTitle'>>;
  /** Apply the dicom-* migrations at create (default true; the hub may apply them itself). */
  migrate?: boolean;
  onScpEvent?: (event: ScpEvent) => void;
  /**
   * Told (and awaited, before the answer leaves) about every C-FIND and C-MOVE/C-GET: who asked what and how
   * many matched — the hub writes it to the audit trail. A failure refuses the request.
   */
  onAccess?: (access: DimseAccess) => Promise<void> | void;
}

/** A DIMSE read of the archive (for the audit trail). */
export interface DimseAccess {
  kind: 'find' | 'retrieve';
  association: AssociationInfo | undefined;
  query: DicomQuery;
  /** Matches (C-FIND) or instances selected (C-MOVE / C-GET). */
  count: number;
  /** Study Instance UIDs concerned (retrieve: of the instances selected; find: of the matches, when at study level or below). */
  studies: string[];
}

/** What subscribers receive for every instance received (stored, unchanged or replaced). */
export interface InstanceStoredEvent {
  outcome: StoredInstance['outcome'];
  identity: InstanceIdentity;
  metadata: InstanceMetadata;
  transferSyntaxUid: string;
  blob: BlobRef;
  dataSetOffset: number;
  version: number;
  source: InstanceSource;
  /** The parsed data set, for mappings that read more than the metadata (SR, encapsulated PDF). */
  dataSet: StoredInstance['dataSet'];
  /** The Part-10 file as received (STOW-RS) or as built around the received data set (DIMSE): the raw message. */
  file: Buffer;
}

export type InstanceStoredHandler = (event: InstanceStoredEvent) => void | Promise<void>;

/**
 * A subscriber's failure that says what the sender gets: the DIMSE status of the C-STORE response (also the
 * STOW-RS failure reason), e.g. 0xC110 (error) when the record refused the instance, 0xA700
 * "out of resources" when it should be sent again later. The message becomes the error comment.
 */
export class InstanceProcessingError extends Error {
  override readonly name = 'InstanceProcessingError';
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
    options?: { cause?: unknown; comment?: string },
  ) {
    super(message, options);
    this.comment = options?.comment ?? message;
  }

  /** The short form for the DIMSE Error Comment (64 characters): the essential first. */
  readonly comment: string;
}

/** The DIMSE status for a failed store, and the comment that explains it. */
export function dimseStatusOf(error: unknown): { status: number; comment: string } {
  const message = (error as Error).message ?? String(error);
  if (error instanceof StoreError) {
    switch (error.code) {
      case StoreErrorCode.Invalid: {
        const cause = error.cause as DicomError | undefined;
        return {
          status:
            cause?.code === DicomErrorCode.MissingAttribute
              ? Status.DataSetDoesNotMatchSopClass
              : Status.CannotUnderstand,
          comment: message,
        };
      }
      case StoreErrorCode.Mismatch:
        return { status: Status.DataSetDoesNotMatchSopClass, comment: message };
      case StoreErrorCode.NotStorage:
        return { status: Status.SopClassNotSupported, comment: message };
      case StoreErrorCode.TooLarge:
        return { status: Status.OutOfResources, comment: message };
      case StoreErrorCode.Conflict:
        return { status: Status.DuplicateSopInstance, comment: message };
      case StoreErrorCode.Unavailable:
        return { status: Status.OutOfResources, comment: message };
      default:
        error.code satisfies never;
    }
  }
  if (error instanceof InstanceProcessingError) return { status: error.status, comment: error.comment };
  return { status: Status.OutOfResources, comment: `Processing failed, send again later: ${message}` };
}

export class DicomService {
  readonly store: InstanceStore;
  readonly aeTitle: string;
  private readonly handlers = new Set<InstanceStoredHandler>();
  private scp: DicomScp | undefined;

  private constructor(readonly options: DicomServiceOptions) {
    this.aeTitle = options.aeTitle ?? DEFAULT_AE_TITLE;
    this.store = new InstanceStore(options.sql, options.blobs, {
      ...(options.duplicatePolicy ? { duplicatePolicy: options.duplicatePolicy } : {}),
      ...(options.maxInstanceBytes ? { maxInstanceBytes: options.maxInstanceBytes } : {}),
    });
  }

  static async create(options: DicomServiceOptions): Promise<DicomService> {
    if (options.migrate ?? true) await migrate(options.sql, dicomMigrations);
    return new DicomService(options);
  }

  get index() {
    return this.store.index;
  }

  /** The DIMSE port actually listened on (after startDimse). */
  get dimsePort(): number | undefined {
    return this.scp?.port;
  }

  /**
   * Subscribes to stored instances. Handlers run in subscription order and are awaited before the
   * sender gets its success (C-STORE status, STOW-RS response): a handler that throws turns the answer
   * into "out of resources, retry", and the instance (already stored) is simply received again.
   */
  onInstanceStored(handler: InstanceStoredHandler): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  /** Stores one instance and notifies the subscribers. Throws StoreError. */
  async receive(received: ReceivedInstance): Promise<StoredInstance> {
    const stored = await this.store.store(received);
    const event: InstanceStoredEvent = {
      outcome: stored.outcome,
      identity: stored.identity,
      metadata: stored.metadata,
      transferSyntaxUid: stored.transferSyntaxUid,
      blob: stored.blob,
      dataSetOffset: stored.dataSetOffset,
      version: stored.version,
      source: stored.source,
      dataSet: stored.dataSet,
      file: stored.file,
    };
    for (const handler of this.handlers) await handler(event);
    return stored;
  }

  query(query: DicomQuery): Promise<QueryAnswer> {
    return this.index.query(query);
  }

  /** Store items (data set bytes loaded lazily) for instances. */
  storeItems(instances: readonly IndexedInstance[]): StoreItem[] {
    return instances.map((instance) => ({
      sopClassUid: instance.sopClassUid,
      sopInstanceUid: instance.sopInstanceUid,
      transferSyntaxUid: instance.transferSyntaxUid,
      dataSet: async () => (await this.store.readFile(instance)).subarray(instance.dataSetOffset),
    }));
  }

  /** Starts the DIMSE SCP (C-ECHO, C-STORE, C-FIND, C-MOVE, C-GET). */
  async startDimse(): Promise<DicomScp> {
    if (this.scp) return this.scp;
    const o = this.options;
    const envPort = process.env.KENEY_DICOM_PORT ? Number(process.env.KENEY_DICOM_PORT) : undefined;
    const scp = new DicomScp(
      {
        aeTitle: this.aeTitle,
        port: o.port ?? envPort ?? DEFAULT_DICOM_PORT,
        ...(o.host ? { host: o.host } : {}),
        ...(o.allowedCallingAeTitles ? { allowedCallingAeTitles: o.allowedCallingAeTitles } : {}),
        ...(o.tls ? { tls: o.tls } : {}),
        ...(o.maxAssociations ? { maxAssociations: o.maxAssociations } : {}),
        limits: { ...(o.maxInstanceBytes ? { maxDataSetBytes: o.maxInstanceBytes } : {}), ...o.limits },
        ...(o.remoteAes ? { moveDestinations: o.remoteAes } : {}),
        ...(o.onScpEvent ? { onEvent: o.onScpEvent } : {}),
      },
      {
        store: async (request) => {
          try {
            await this.receive({
              dataSet: request.dataSet,
              transferSyntaxUid: request.transferSyntaxUid,
              expected: {
                ...(request.sopClassUid ? { sopClassUid: request.sopClassUid } : {}),
                ...(request.sopInstanceUid ? { sopInstanceUid: request.sopInstanceUid } : {}),
              },
              source: {
                protocol: 'dimse',
                callingAeTitle: request.association.callingAeTitle,
                calledAeTitle: request.association.calledAeTitle,
                remoteAddress: request.association.remoteAddress,
                exchangeId: request.association.id,
              },
            });
            return { status: Status.Success };
          } catch (error) {
            return dimseStatusOf(error);
          }
        },
        query: async (query, association) => {
          const answer = await this.index.query(query);
          if (o.onAccess) {
            const studies = new Set<string>();
            for (const match of answer.matches) {
              const uid = match['0020000D']?.Value?.[0];
              if (typeof uid === 'string') studies.add(uid);
            }
            await o.onAccess({ kind: 'find', association, query, count: answer.matches.length, studies: [...studies] });
          }
          return answer;
        },
        retrieve: async (query, association) => {
          const instances = await this.index.instancesForQuery(query);
          await o.onAccess?.({
            kind: 'retrieve',
            association,
            query,
            count: instances.length,
            studies: [...new Set(instances.map((i) => i.studyInstanceUid))],
          });
          return this.storeItems(instances);
        },
      },
    );
    await scp.listen();
    this.scp = scp;
    return scp;
  }

  /** The remote AE configured under this title. */
  remote(aeTitle: string): RemoteAe {
    const remote = this.options.remoteAes?.[aeTitle];
    if (!remote) throw new Error(`Remote AE "${aeTitle}" is not configured: add it to remoteAes (host, port)`);
    return { aeTitle, ...remote };
  }

  /** Forwards stored instances to a remote AE by C-STORE, with retry; results keep the remote's statuses. */
  async forwardByCStore(
    destination: RemoteAe | string,
    sopInstanceUids: readonly string[],
    options: Partial<ForwardOptions> = {},
  ): Promise<StoreResult[]> {
    const remote = typeof destination === 'string' ? this.remote(destination) : destination;
    const instances = await this.instancesOrThrow(sopInstanceUids);
    return forwardByCStore(remote, this.storeItems(instances), { callingAeTitle: this.aeTitle, ...options });
  }

  /** Forwards stored instances (their Part-10 files, byte for byte) to a STOW-RS endpoint. */
  async forwardByStow(
    studiesUrl: string,
    sopInstanceUids: readonly string[],
    options: StowForwardOptions = {},
  ): Promise<StowResult> {
    const instances = await this.instancesOrThrow(sopInstanceUids);
    return stowForward(
      studiesUrl,
      instances.map((instance) => ({
        sopInstanceUid: instance.sopInstanceUid,
        file: () => this.store.readFile(instance),
      })),
      options,
    );
  }

  private async instancesOrThrow(sopInstanceUids: readonly string[]): Promise<IndexedInstance[]> {
    const instances: IndexedInstance[] = [];
    for (const uid of sopInstanceUids) {
      const instance = await this.index.findInstance(uid);
      if (!instance) throw new Error(`Instance ${uid} is not stored here`);
      instances.push(instance);
    }
    return instances;
  }

  async stop(): Promise<void> {
    await this.scp?.close();
    this.scp = undefined;
  }
}

export type { DicomJson };
