// The DIMSE SCP: a TCP (or TLS) listener speaking the DICOM upper layer, answering C-ECHO, C-STORE,
// C-FIND (patient / study root, all levels), C-MOVE and C-GET. Storage and queries go to a backend
// (DicomService), so this file only knows the protocol. Bad peers get an A-ASSOCIATE-RJ, an A-ABORT or a
// failure status, never a crash.
import { randomUUID } from 'node:crypto';
import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TlsOptions } from 'node:tls';
import { readDataSet } from '../../../adapters/dicom/part10.js';
import { fromDicomJson, type DicomJson } from '../../../adapters/dicom/json-model.js';
import type { DataSet } from '../../../adapters/dicom/dataset.js';
import { EXPLICIT_BIG, EXPLICIT_LITTLE, IMPLICIT_LITTLE } from '../../../adapters/dicom/dataset.js';
import { hexTag } from '../../../adapters/dicom/dictionary.js';
import { Tag } from '../../../adapters/dicom/tags.js';
import {
  IMPLEMENTATION_CLASS_UID,
  IMPLEMENTATION_VERSION_NAME,
  SopClass,
  TransferSyntax,
} from '../../../adapters/dicom/uids.js';
import { encodeElements, type ElementValue } from '../../../adapters/dicom/writer.js';
import type { QueryAnswer } from '../index/instance-index.js';
import type { QueryLevel } from '../index/levels.js';
import { QueryError, type DicomQuery, type Match } from '../index/query.js';
import { Association, DEFAULT_LIMITS, type AssociationLimits, type DimseMessage } from './association.js';
import { CommandField, Status, type Command } from './command.js';
import { negotiate } from './negotiation.js';
import { PduType, RejectReason, RejectResult, RejectSource, type AssociateRq } from './pdu.js';
import { associate, cStore, storageContexts, type RemoteAe, type StoreItem } from './scu.js';

/** What the SCP needs from the rest of the system. */
export interface ScpBackend {
  /** Stores a received data set; resolves with the DIMSE status to answer (and a comment for failures). */
  store(request: {
    dataSet: Buffer;
    transferSyntaxUid: string;
    sopClassUid?: string;
    sopInstanceUid?: string;
    association: AssociationInfo;
  }): Promise<{ status: number; comment?: string }>;
  /** C-FIND; `association` says who asks (for the audit trail). */
  query(query: DicomQuery, association?: AssociationInfo): Promise<QueryAnswer>;
  /** Instances a C-MOVE / C-GET identifier selects. */
  retrieve(query: DicomQuery, association?: AssociationInfo): Promise<StoreItem[]>;
}

export interface AssociationInfo {
  id: string;
  callingAeTitle: string;
  calledAeTitle: string;
  remoteAddress: string;
}

export interface ScpOptions {
  aeTitle: string;
  port: number;
  host?: string;
  allowedCallingAeTitles?: readonly string[];
  checkCalledAeTitle?: boolean;
  acceptSopClass?: (sopClassUid: string) => boolean;
  /** TLS: key, cert, ca, requestCert… (Node's tls.createServer options). Absent = plain TCP. */
  tls?: TlsOptions;
  maxAssociations?: number;
  limits?: Partial<AssociationLimits>;
  /** Time allowed between the connection and the A-ASSOCIATE-RQ (ARTIM). Default 30 s. */
  artimTimeoutMs?: number;
  /** C-MOVE destinations by AE title. */
  moveDestinations?: Record<string, Omit<RemoteAe, 'aeTitle'>>;
  /** Observability hook (no patient data in the events). */
  onEvent?: (event: ScpEvent) => void;
}

export type ScpEvent =
  | { type: 'association-accepted'; association: AssociationInfo }
  | { type: 'association-rejected'; remoteAddress: string; callingAeTitle: string; why: string }
  | { type: 'association-closed'; association: AssociationInfo }
  | { type: 'protocol-error'; remoteAddress: string; message: string }
  | { type: 'request-failed'; association: AssociationInfo; command: number; message: string };

const ENCODING_OF: Record<string, typeof IMPLICIT_LITTLE> = {
  [TransferSyntax.ImplicitVRLittleEndian]: IMPLICIT_LITTLE,
  [TransferSyntax.ExplicitVRLittleEndian]: EXPLICIT_LITTLE,
  [TransferSyntax.ExplicitVRBigEndian]: EXPLICIT_BIG,
};

function rootOf(sopClassUid: string): 'patient' | 'study' {
  return sopClassUid === SopClass.PatientRootFind ||
    sopClassUid === SopClass.PatientRootMove ||
    sopClassUid === SopClass.PatientRootGet
    ? 'patient'
    : 'study';
}

/** The identifier of a C-FIND/MOVE/GET request → our query model. */
export function identifierToQuery(
  identifier: DataSet,
  root: 'patient' | 'study',
): { query: DicomQuery; requested: number[] } {
  const level = identifier.string(Tag.QueryRetrieveLevel);
  const levels: readonly string[] =
    root === 'patient' ? ['PATIENT', 'STUDY', 'SERIES', 'IMAGE'] : ['STUDY', 'SERIES', 'IMAGE'];
  if (!level || !levels.includes(level)) {
    throw new QueryError(
      `Query/Retrieve Level (0008,0052) is ${level ? `"${level}"` : 'missing'}; ${root === 'patient' ? 'Patient' : 'Study'} Root accepts ${levels.join(', ')}`,
      Tag.QueryRetrieveLevel,
    );
  }
  const matches: Match[] = [];
  const requested: number[] = [];
  for (const [tag, element] of identifier.elements) {
    if ((tag & 0xffff) === 0) continue;
    requested.push(tag);
    if (element.items || tag === Tag.QueryRetrieveLevel || tag === Tag.SpecificCharacterSet) continue;
    matches.push({ tag, value: identifier.strings(tag).join('\\') });
  }
  return { query: { level: level as QueryLevel, matches }, requested };
}

/** Builds a C-FIND response identifier with exactly the requested keys. */
function responseIdentifier(
  match: DicomJson,
  requested: readonly number[],
  level: string,
  aeTitle: string,
): ElementValue[] {
  const values = new Map(fromDicomJson(match).map((e) => [e.tag, e]));
  const out: ElementValue[] = [
    { tag: Tag.SpecificCharacterSet, vr: 'CS', value: 'ISO_IR 192' },
    { tag: Tag.QueryRetrieveLevel, vr: 'CS', value: level },
    { tag: Tag.RetrieveAETitle, vr: 'AE', value: aeTitle },
  ];
  for (const tag of requested) {
    if (tag === Tag.SpecificCharacterSet || tag === Tag.QueryRetrieveLevel || tag === Tag.RetrieveAETitle) continue;
    out.push(values.get(tag) ?? { tag, vr: match[hexTag(tag)]?.vr, value: undefined });
  }
  return out;
}

export class DicomScp {
  private server: Server | undefined;
  private readonly associations = new Set<Association>();
  private readonly options: Required<
    Pick<ScpOptions, 'aeTitle' | 'port' | 'host' | 'checkCalledAeTitle' | 'maxAssociations' | 'artimTimeoutMs'>
  > &
    ScpOptions;
  private readonly limits: AssociationLimits;

  constructor(
    options: ScpOptions,
    private readonly backend: ScpBackend,
  ) {
    this.options = {
      host: '0.0.0.0',
      checkCalledAeTitle: true,
      maxAssociations: 32,
      artimTimeoutMs: 30_000,
      ...options,
    };
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
  }

  /** The port actually bound (useful with port 0). */
  get port(): number {
    const address = this.server?.address();
    return typeof address === 'object' && address ? address.port : this.options.port;
  }

  get activeAssociations(): number {
    return this.associations.size;
  }

  async listen(): Promise<void> {
    const onSocket = (socket: Socket) => this.accept(socket);
    this.server = this.options.tls ? createTlsServer(this.options.tls, onSocket) : createNetServer(onSocket);
    // Connections that never negotiate (each bounded by the ARTIM timer) cannot exhaust descriptors either.
    this.server.maxConnections = this.options.maxAssociations * 2 + 8;
    this.server.on('tlsClientError', (error: Error, socket: Socket) => {
      this.emit({
        type: 'protocol-error',
        remoteAddress: `${socket.remoteAddress}`,
        message: `TLS handshake failed: ${error.message}`,
      });
      socket.destroy();
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.options.port, this.options.host, () => {
        this.server!.off('error', reject);
        resolve();
      });
    });
  }

  /** Stops listening and aborts open associations. */
  async close(): Promise<void> {
    for (const association of this.associations) association.abort();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private emit(event: ScpEvent): void {
    try {
      this.options.onEvent?.(event);
    } catch {
      // an observer's bug never breaks the protocol
    }
  }

  private accept(socket: Socket): void {
    socket.setNoDelay(true);
    socket.on('error', () => undefined);
    const association = new Association(socket, this.limits);
    const remoteAddress = association.remoteAddress;
    association.armArtim(this.options.artimTimeoutMs);
    association.on('protocol-error', (error: Error) =>
      this.emit({ type: 'protocol-error', remoteAddress, message: error.message }),
    );
    association.once('pdu', (pdu) => {
      if (pdu.type !== PduType.AssociateRq) {
        association.abort();
        return;
      }
      void this.onAssociateRq(association, pdu);
    });
  }

  private async onAssociateRq(association: Association, rq: AssociateRq): Promise<void> {
    const reject = async (result: number, source: number, reason: number, why: string) => {
      this.emit({
        type: 'association-rejected',
        remoteAddress: association.remoteAddress,
        callingAeTitle: rq.callingAeTitle,
        why,
      });
      await association.sendPdu({ type: PduType.AssociateRj, result, source, reason }).catch(() => undefined);
      association.socket.end();
    };
    if (this.associations.size >= this.options.maxAssociations) {
      await reject(
        RejectResult.Transient,
        RejectSource.ServiceProviderPresentation,
        RejectReason.LocalLimitExceeded,
        `more than ${this.options.maxAssociations} associations`,
      );
      return;
    }
    const outcome = negotiate(rq, {
      aeTitle: this.options.aeTitle,
      checkCalledAeTitle: this.options.checkCalledAeTitle,
      ...(this.options.allowedCallingAeTitles ? { allowedCallingAeTitles: this.options.allowedCallingAeTitles } : {}),
      ...(this.options.acceptSopClass ? { acceptSopClass: this.options.acceptSopClass } : {}),
      maxPduLength: this.limits.maxPduLength,
    });
    if (outcome.kind === 'reject') {
      await reject(outcome.result, outcome.source, outcome.reason, outcome.why);
      return;
    }
    const ac = {
      type: PduType.AssociateAc,
      protocolVersion: 1,
      calledAeTitle: rq.calledAeTitle,
      callingAeTitle: rq.callingAeTitle,
      applicationContext: rq.applicationContext,
      contexts: outcome.contexts,
      userInformation: {
        maxPduLength: this.limits.maxPduLength,
        implementationClassUid: IMPLEMENTATION_CLASS_UID,
        implementationVersionName: IMPLEMENTATION_VERSION_NAME,
        roles: outcome.roles,
      },
    } as const;
    association.establish(rq, ac, 'acceptor');
    const info: AssociationInfo = {
      id: randomUUID(),
      callingAeTitle: rq.callingAeTitle,
      calledAeTitle: rq.calledAeTitle,
      remoteAddress: association.remoteAddress,
    };
    this.associations.add(association);
    association.once('close', () => {
      this.associations.delete(association);
      this.emit({ type: 'association-closed', association: info });
    });
    try {
      await association.sendPdu(ac);
    } catch {
      association.abort();
      return;
    }
    this.emit({ type: 'association-accepted', association: info });

    // Requests are served one at a time, in order; responses to our own requests (C-GET sub-operations)
    // and C-CANCEL are handled as they arrive.
    const cancelled = new Set<number>();
    let queue = Promise.resolve();
    association.on('cancel', (messageId: number | undefined) => {
      if (messageId !== undefined) cancelled.add(messageId);
    });
    association.on('request', (message: DimseMessage) => {
      queue = queue
        .then(() => this.serve(association, info, message, cancelled))
        .catch((error: Error) => {
          this.emit({
            type: 'request-failed',
            association: info,
            command: message.command.commandField,
            message: error.message,
          });
        });
    });
    association.on('release-request', () => {
      void queue.then(() => association.acceptRelease());
    });
  }

  private async respond(
    association: Association,
    request: DimseMessage,
    commandField: number,
    status: number,
    extra: Partial<Command> = {},
    dataSet?: Buffer,
  ): Promise<void> {
    const command: Command = {
      commandField,
      messageIdBeingRespondedTo: request.command.messageId ?? 0,
      affectedSopClassUid:
        request.command.affectedSopClassUid ?? association.contexts.get(request.contextId)?.abstractSyntax ?? '',
      status,
      hasDataSet: dataSet !== undefined,
      ...extra,
    };
    await association.send(request.contextId, command, dataSet);
  }

  private async serve(
    association: Association,
    info: AssociationInfo,
    message: DimseMessage,
    cancelled: Set<number>,
  ): Promise<void> {
    const command = message.command;
    const context = association.contexts.get(message.contextId)!;
    switch (command.commandField) {
      case CommandField.CEchoRq:
        await this.respond(association, message, CommandField.CEchoRsp, Status.Success);
        return;
      case CommandField.CStoreRq: {
        const extra = { affectedSopInstanceUid: command.affectedSopInstanceUid ?? '' };
        if (command.affectedSopClassUid && command.affectedSopClassUid !== context.abstractSyntax) {
          await this.respond(association, message, CommandField.CStoreRsp, Status.DataSetDoesNotMatchSopClass, {
            ...extra,
            errorComment: `Command SOP class differs from the presentation context's (${context.abstractSyntax})`,
          });
          return;
        }
        if (message.oversized || !message.dataSet) {
          await this.respond(association, message, CommandField.CStoreRsp, Status.OutOfResources, {
            ...extra,
            errorComment: message.oversized
              ? `Instance over ${this.limits.maxDataSetBytes} bytes: refused`
              : 'No data set',
          });
          return;
        }
        const result = await this.backend
          .store({
            dataSet: message.dataSet,
            transferSyntaxUid: context.transferSyntax,
            ...(command.affectedSopClassUid ? { sopClassUid: command.affectedSopClassUid } : {}),
            ...(command.affectedSopInstanceUid ? { sopInstanceUid: command.affectedSopInstanceUid } : {}),
            association: info,
          })
          .catch((error: Error) => ({ status: Status.OutOfResources, comment: `Storage failed: ${error.message}` }));
        await this.respond(association, message, CommandField.CStoreRsp, result.status, {
          ...extra,
          ...(result.comment ? { errorComment: result.comment } : {}),
        });
        return;
      }
      case CommandField.CFindRq:
        await this.find(association, info, message, context.transferSyntax, cancelled);
        return;
      case CommandField.CMoveRq:
      case CommandField.CGetRq:
        await this.retrieve(association, info, message, context.transferSyntax, cancelled);
        return;
      default:
        // A service we did not negotiate (N-* commands…): answer "unrecognized operation".
        await association.send(message.contextId, {
          commandField: command.commandField | 0x8000,
          messageIdBeingRespondedTo: command.messageId ?? 0,
          status: 0x0211,
          errorComment: `Command 0x${command.commandField.toString(16)} is not supported`,
          hasDataSet: false,
        });
    }
  }

  private parseIdentifier(
    message: DimseMessage,
    transferSyntax: string,
    root: 'patient' | 'study',
  ): { query: DicomQuery; requested: number[] } {
    if (!message.dataSet) throw new QueryError('The request has no identifier');
    let identifier: DataSet;
    try {
      identifier = readDataSet(message.dataSet, transferSyntax, { maxDepth: 8 });
    } catch (error) {
      throw new QueryError(`The identifier cannot be read: ${(error as Error).message}`);
    }
    return identifierToQuery(identifier, root);
  }

  private async find(
    association: Association,
    info: AssociationInfo,
    message: DimseMessage,
    transferSyntax: string,
    cancelled: Set<number>,
  ): Promise<void> {
    const root = rootOf(message.command.affectedSopClassUid ?? '');
    let answer: QueryAnswer;
    let parsed: { query: DicomQuery; requested: number[] };
    try {
      parsed = this.parseIdentifier(message, transferSyntax, root);
      answer = await this.backend.query(parsed.query, info);
    } catch (error) {
      const status = error instanceof QueryError ? Status.DataSetDoesNotMatchSopClass : Status.UnableToProcess;
      await this.respond(association, message, CommandField.CFindRsp, status, {
        errorComment: (error as Error).message.slice(0, 64),
      });
      return;
    }
    const encoding = ENCODING_OF[transferSyntax] ?? IMPLICIT_LITTLE;
    const pendingStatus = answer.ignored.length ? Status.PendingWarning : Status.Pending;
    for (const match of answer.matches) {
      if (cancelled.has(message.command.messageId ?? -1)) {
        await this.respond(association, message, CommandField.CFindRsp, Status.Cancel);
        return;
      }
      const identifier = encodeElements(
        responseIdentifier(match, parsed.requested, parsed.query.level, this.options.aeTitle),
        encoding,
      );
      await this.respond(association, message, CommandField.CFindRsp, pendingStatus, {}, identifier);
    }
    await this.respond(association, message, CommandField.CFindRsp, Status.Success);
  }

  private async retrieve(
    association: Association,
    info: AssociationInfo,
    message: DimseMessage,
    transferSyntax: string,
    cancelled: Set<number>,
  ): Promise<void> {
    const isMove = message.command.commandField === CommandField.CMoveRq;
    const rspField = isMove ? CommandField.CMoveRsp : CommandField.CGetRsp;
    const root = rootOf(message.command.affectedSopClassUid ?? '');
    let items: StoreItem[];
    try {
      const { query } = this.parseIdentifier(message, transferSyntax, root);
      items = await this.backend.retrieve(query, info);
    } catch (error) {
      const status = error instanceof QueryError ? Status.DataSetDoesNotMatchSopClass : Status.OutOfResourcesMatches;
      await this.respond(association, message, rspField, status, {
        errorComment: (error as Error).message.slice(0, 64),
      });
      return;
    }
    let target: Association = association;
    let ownAssociation: Association | undefined;
    if (isMove) {
      const destinationAe = message.command.moveDestination ?? '';
      const destination = this.options.moveDestinations?.[destinationAe];
      if (!destination) {
        await this.respond(association, message, rspField, Status.MoveDestinationUnknown, {
          errorComment: `Move destination "${destinationAe}" is not configured`,
        });
        return;
      }
      if (items.length > 0) {
        try {
          ownAssociation = await associate(
            { aeTitle: destinationAe, ...destination },
            { callingAeTitle: this.options.aeTitle, contexts: storageContexts(items).slice(0, 128) },
          );
          target = ownAssociation;
        } catch (error) {
          await this.respond(association, message, rspField, Status.OutOfResourcesSubOperations, {
            errorComment: `Cannot reach ${destinationAe}: ${(error as Error).message}`.slice(0, 64),
          });
          return;
        }
      }
    }
    let completed = 0;
    let failed = 0;
    let warning = 0;
    const failedUids: string[] = [];
    try {
      for (let i = 0; i < items.length; i++) {
        if (cancelled.has(message.command.messageId ?? -1)) {
          await this.respond(association, message, rspField, Status.Cancel, {
            remaining: items.length - i,
            completed,
            failed,
            warning,
          });
          return;
        }
        const item = items[i]!;
        const result = await cStore(target, item, {
          moveOriginatorAeTitle: info.callingAeTitle,
          moveOriginatorMessageId: message.command.messageId ?? 0,
        }).catch((error: Error) => ({
          sopInstanceUid: item.sopInstanceUid,
          ok: false,
          status: undefined,
          error: error.message,
        }));
        if (!result.ok) {
          failed++;
          failedUids.push(item.sopInstanceUid);
        } else if (result.status !== Status.Success) warning++;
        else completed++;
        if (i + 1 < items.length) {
          await this.respond(association, message, rspField, Status.Pending, {
            remaining: items.length - i - 1,
            completed,
            failed,
            warning,
          });
        }
      }
    } finally {
      if (ownAssociation) await ownAssociation.release().catch(() => ownAssociation?.abort());
    }
    const status = failed > 0 || warning > 0 ? Status.SubOperationsWithFailures : Status.Success;
    const failedList = failedUids.length
      ? encodeElements(
          [{ tag: 0x00080058, vr: 'UI', value: failedUids }],
          ENCODING_OF[transferSyntax] ?? IMPLICIT_LITTLE,
        )
      : undefined;
    await this.respond(
      association,
      message,
      rspField,
      status,
      { remaining: 0, completed, failed, warning },
      failedList,
    );
  }
}
