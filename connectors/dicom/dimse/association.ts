// One DICOM association over a socket (PS3.8): reads PDUs with bounded memory, reassembles DIMSE
// messages from P-DATA fragments, sends messages fragmented to the peer's maximum PDU length, and
// routes responses to the requests waiting for them. Used by both the SCP (acceptor) and SCU (requestor).
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { decodeCommand, encodeCommand, isResponse, statusKind, CommandField, type Command } from './command.js';
import {
  AbortReason,
  AbortSource,
  decodePdu,
  encodePdu,
  PduError,
  PduType,
  type AssociateAc,
  type AssociateRq,
  type Pdu,
} from './pdu.js';

export interface PresentationContext {
  id: number;
  abstractSyntax: string;
  transferSyntax: string;
}

export interface DimseMessage {
  contextId: number;
  command: Command;
  /** The data set bytes as received (undefined when the command has none, or when it was over the limit). */
  dataSet?: Buffer;
  /** Bytes of data set received (also counted when discarded for being over the limit). */
  dataSetLength: number;
  /** True when the data set exceeded the message limit and was discarded while being received. */
  oversized: boolean;
}

export interface AssociationLimits {
  /** Largest P-DATA-TF variable field we accept (advertised as Maximum Length). Default 1 MiB. */
  maxPduLength: number;
  /** Largest data set accepted in one message; bigger ones are read and discarded. Default 2 GiB − 1. */
  maxDataSetBytes: number;
  /** Largest A-ASSOCIATE-RQ/AC accepted. Default 64 KiB. */
  maxAssociatePduBytes: number;
  /** Close an association silent for this long. Default 5 minutes. */
  idleTimeoutMs: number;
  /** Give up on a response after this long. Default 2 minutes. */
  responseTimeoutMs: number;
}

export const DEFAULT_LIMITS: AssociationLimits = {
  maxPduLength: 1 << 20,
  maxDataSetBytes: 0x7fffffff,
  maxAssociatePduBytes: 64 << 10,
  idleTimeoutMs: 5 * 60_000,
  responseTimeoutMs: 120_000,
};

type PendingRequest = {
  resolve: (message: DimseMessage) => void;
  reject: (error: Error) => void;
  onPending?: (message: DimseMessage) => void;
  timer: NodeJS.Timeout;
};

export class AssociationClosedError extends Error {
  override readonly name = 'AssociationClosedError';
}

/**
 * Events: 'pdu' (an association-level PDU: A-ASSOCIATE-RQ/AC/RJ), 'request' (DimseMessage, serialized
 * by the owner), 'cancel' (message id), 'release-request', 'abort' ({source, reason}), 'close', 'protocol-error'.
 */
export class Association extends EventEmitter {
  readonly contexts = new Map<number, PresentationContext>();
  peerMaxPduLength = 0;
  callingAeTitle = '';
  calledAeTitle = '';
  established = false;
  private chunks: Buffer[] = [];
  private buffered = 0;
  private expected = -1;
  private current:
    | {
        contextId: number;
        commandParts: Buffer[];
        command?: Command;
        dataParts: Buffer[];
        dataLength: number;
        oversized: boolean;
      }
    | undefined;
  private readonly pending = new Map<number, PendingRequest>();
  private nextMessageId = 1;
  private closed = false;
  private releasing: { resolve: () => void } | undefined;
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly socket: Socket,
    readonly limits: AssociationLimits = DEFAULT_LIMITS,
  ) {
    super();
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => this.teardown());
    socket.on('close', () => this.teardown());
    this.touch();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get remoteAddress(): string {
    return `${this.socket.remoteAddress ?? '?'}:${this.socket.remotePort ?? '?'}`;
  }

  private touch(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    if (this.closed) return;
    this.idleTimer = setTimeout(
      () => this.abort(AbortSource.ServiceProvider, AbortReason.NotSpecified),
      this.limits.idleTimeoutMs,
    );
    this.idleTimer.unref();
  }

  /** Waits at most `ms` for the A-ASSOCIATE-RQ (ARTIM), then closes. */
  armArtim(ms: number): void {
    const timer = setTimeout(() => {
      if (!this.established) this.teardown();
    }, ms);
    timer.unref();
    this.once('pdu', () => clearTimeout(timer));
    this.once('close', () => clearTimeout(timer));
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    this.touch();
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    try {
      while (!this.closed) {
        if (this.expected < 0) {
          if (this.buffered < 6) return;
          const head = this.peek(6);
          const type = head[0]!;
          const length = head.readUInt32BE(2);
          if (type < 1 || type > 7)
            throw new PduError(
              `Unrecognized PDU type 0x${type.toString(16).padStart(2, '0')}: this port speaks the DICOM upper layer protocol (PS3.8)`,
              AbortReason.UnrecognizedPdu,
            );
          const limit =
            type === PduType.PData ? this.limits.maxPduLength + 64 : type <= 2 ? this.limits.maxAssociatePduBytes : 64;
          if (length > limit) {
            throw new PduError(
              `PDU type ${type} declares ${length} bytes, over the ${limit} accepted (maximum PDU length negotiated)`,
              AbortReason.InvalidPduParameterValue,
            );
          }
          this.expected = 6 + length;
        }
        if (this.buffered < this.expected) return;
        const pdu = this.take(this.expected);
        this.expected = -1;
        this.handlePdu(decodePdu(pdu));
      }
    } catch (error) {
      const reason = error instanceof PduError ? error.abortReason : AbortReason.NotSpecified;
      this.emit('protocol-error', error);
      this.abort(AbortSource.ServiceProvider, reason);
    }
  }

  private peek(n: number): Buffer {
    if (this.chunks[0]!.length >= n) return this.chunks[0]!.subarray(0, n);
    const joined = Buffer.concat(this.chunks);
    this.chunks = [joined];
    return joined.subarray(0, n);
  }

  private take(n: number): Buffer {
    const joined = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    const out = joined.subarray(0, n);
    const rest = joined.subarray(n);
    this.chunks = rest.length ? [rest] : [];
    this.buffered = rest.length;
    return out;
  }

  private handlePdu(pdu: Pdu): void {
    switch (pdu.type) {
      case PduType.AssociateRq:
      case PduType.AssociateAc:
      case PduType.AssociateRj:
        if (this.established)
          throw new PduError('A-ASSOCIATE PDU on an established association', AbortReason.UnexpectedPdu);
        this.emit('pdu', pdu);
        return;
      case PduType.PData:
        if (!this.established)
          throw new PduError('P-DATA-TF before the association was accepted', AbortReason.UnexpectedPdu);
        for (const pdv of pdu.pdvs) this.onPdv(pdv.contextId, pdv.command, pdv.last, pdv.data);
        return;
      case PduType.ReleaseRq:
        if (!this.established)
          throw new PduError('A-RELEASE-RQ before the association was accepted', AbortReason.UnexpectedPdu);
        this.emit('release-request');
        return;
      case PduType.ReleaseRp:
        if (this.releasing) {
          this.releasing.resolve();
          this.releasing = undefined;
          this.teardown();
          return;
        }
        throw new PduError('A-RELEASE-RP without a release request', AbortReason.UnexpectedPdu);
      case PduType.Abort:
        this.emit('abort', { source: pdu.source, reason: pdu.reason });
        this.teardown();
        return;
      default:
        pdu satisfies never;
    }
  }

  private onPdv(contextId: number, isCommand: boolean, last: boolean, data: Buffer): void {
    if (!this.contexts.has(contextId)) {
      throw new PduError(
        `PDV on presentation context ${contextId}, which was not accepted`,
        AbortReason.UnexpectedPduParameter,
      );
    }
    let m = this.current;
    if (!m) {
      if (!isCommand) throw new PduError('Data set fragment before any command', AbortReason.UnexpectedPduParameter);
      m = this.current = { contextId, commandParts: [], dataParts: [], dataLength: 0, oversized: false };
    }
    if (contextId !== m.contextId)
      throw new PduError('Fragments of one message on two presentation contexts', AbortReason.UnexpectedPduParameter);
    if (isCommand) {
      if (m.command)
        throw new PduError('Command fragment after the command was complete', AbortReason.UnexpectedPduParameter);
      m.commandParts.push(Buffer.from(data));
      if (m.commandParts.reduce((n, b) => n + b.length, 0) > 65536)
        throw new PduError('Command set larger than 64 KiB', AbortReason.InvalidPduParameterValue);
      if (!last) return;
      try {
        m.command = decodeCommand(Buffer.concat(m.commandParts));
      } catch (error) {
        throw new PduError(
          `Command set cannot be read: ${(error as Error).message}`,
          AbortReason.InvalidPduParameterValue,
        );
      }
      if (m.command.hasDataSet) return;
      this.current = undefined;
      this.dispatch({ contextId, command: m.command, dataSetLength: 0, oversized: false });
      return;
    }
    if (!m.command || !m.command.hasDataSet)
      throw new PduError('Data set fragment for a command that announced none', AbortReason.UnexpectedPduParameter);
    m.dataLength += data.length;
    if (!m.oversized && m.dataLength > this.limits.maxDataSetBytes) {
      m.oversized = true;
      m.dataParts = [];
    }
    if (!m.oversized) m.dataParts.push(Buffer.from(data));
    if (!last) return;
    this.current = undefined;
    this.dispatch({
      contextId,
      command: m.command,
      ...(m.oversized ? {} : { dataSet: m.dataParts.length === 1 ? m.dataParts[0]! : Buffer.concat(m.dataParts) }),
      dataSetLength: m.dataLength,
      oversized: m.oversized,
    });
  }

  private dispatch(message: DimseMessage): void {
    const command = message.command;
    if (isResponse(command.commandField)) {
      const waiting =
        command.messageIdBeingRespondedTo !== undefined
          ? this.pending.get(command.messageIdBeingRespondedTo)
          : undefined;
      if (!waiting) return; // a late response to a request we gave up on
      if (statusKind(command.status ?? 0) === 'pending') {
        waiting.timer.refresh();
        waiting.onPending?.(message);
        return;
      }
      clearTimeout(waiting.timer);
      this.pending.delete(command.messageIdBeingRespondedTo!);
      waiting.resolve(message);
      return;
    }
    if (command.commandField === CommandField.CCancelRq) {
      this.emit('cancel', command.messageIdBeingRespondedTo);
      return;
    }
    this.emit('request', message);
  }

  /** Sends a raw PDU. */
  async sendPdu(pdu: Pdu): Promise<void> {
    await this.write(encodePdu(pdu));
  }

  private write(bytes: Buffer): Promise<void> {
    if (this.closed || this.socket.destroyed)
      return Promise.reject(new AssociationClosedError('The association is closed'));
    return new Promise((resolve, reject) => {
      this.socket.write(bytes, (error) => (error ? reject(error) : resolve()));
    });
  }

  /** Sends one DIMSE message, fragmented to fit the peer's maximum PDU length. */
  async send(contextId: number, command: Command, dataSet?: Uint8Array): Promise<void> {
    this.touch();
    const max = this.peerMaxPduLength > 0 ? this.peerMaxPduLength : 1 << 20;
    const room = Math.max(max - 6, 1024 - 6);
    const commandBytes = encodeCommand({ ...command, hasDataSet: dataSet !== undefined });
    const sendFragments = async (bytes: Uint8Array, isCommand: boolean) => {
      if (bytes.length === 0) {
        await this.sendPdu({
          type: PduType.PData,
          pdvs: [{ contextId, command: isCommand, last: true, data: Buffer.alloc(0) }],
        });
        return;
      }
      for (let at = 0; at < bytes.length; at += room) {
        const part = Buffer.from(bytes.buffer, bytes.byteOffset + at, Math.min(room, bytes.length - at));
        await this.sendPdu({
          type: PduType.PData,
          pdvs: [{ contextId, command: isCommand, last: at + room >= bytes.length, data: part }],
        });
      }
    };
    await sendFragments(commandBytes, true);
    if (dataSet !== undefined) await sendFragments(dataSet, false);
  }

  /** Sends a request and resolves with its final (non-pending) response. */
  request(
    contextId: number,
    command: Omit<Command, 'messageId' | 'hasDataSet'>,
    dataSet?: Uint8Array,
    onPending?: (m: DimseMessage) => void,
  ): Promise<DimseMessage> {
    const messageId = this.nextMessageId;
    this.nextMessageId = (this.nextMessageId % 0xffff) + 1;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(messageId);
        reject(
          new Error(
            `No response to message ${messageId} within ${this.limits.responseTimeoutMs} ms: the association was aborted`,
          ),
        );
        // The peer's state is unknown now: end the association rather than reuse it.
        this.abort(AbortSource.ServiceUser, AbortReason.NotSpecified);
      }, this.limits.responseTimeoutMs);
      timer.unref();
      this.pending.set(messageId, { resolve, reject, onPending, timer });
      this.send(contextId, { ...command, messageId, hasDataSet: dataSet !== undefined }, dataSet).catch((error) => {
        clearTimeout(timer);
        this.pending.delete(messageId);
        reject(error);
      });
    });
  }

  /** A-RELEASE-RQ, then wait for A-RELEASE-RP (or the socket closing). */
  async release(): Promise<void> {
    if (this.closed) return;
    const done = new Promise<void>((resolve) => {
      this.releasing = { resolve };
      this.once('close', resolve);
    });
    await this.sendPdu({ type: PduType.ReleaseRq }).catch(() => this.teardown());
    const timer = setTimeout(() => this.teardown(), 10_000);
    timer.unref();
    await done;
    clearTimeout(timer);
  }

  /** Answers A-RELEASE-RQ and closes. */
  async acceptRelease(): Promise<void> {
    await this.sendPdu({ type: PduType.ReleaseRp }).catch(() => undefined);
    this.socket.end();
    this.teardown();
  }

  abort(source: number = AbortSource.ServiceProvider, reason: number = AbortReason.NotSpecified): void {
    if (this.closed) return;
    try {
      this.socket.write(encodePdu({ type: PduType.Abort, source, reason }));
    } catch {
      // the socket is already gone
    }
    this.socket.end();
    this.teardown();
  }

  private teardown(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    for (const [id, waiting] of this.pending) {
      clearTimeout(waiting.timer);
      waiting.reject(new AssociationClosedError(`The association closed before message ${id} was answered`));
    }
    this.pending.clear();
    this.chunks = [];
    this.current = undefined;
    setImmediate(() => {
      if (!this.socket.destroyed) this.socket.destroy();
    });
    this.emit('close');
  }

  /** Sets the negotiated state from an A-ASSOCIATE-RQ/AC pair. */
  establish(rq: AssociateRq, ac: AssociateAc, role: 'acceptor' | 'requestor'): void {
    this.callingAeTitle = rq.callingAeTitle;
    this.calledAeTitle = rq.calledAeTitle;
    this.peerMaxPduLength = role === 'acceptor' ? rq.userInformation.maxPduLength : ac.userInformation.maxPduLength;
    for (const c of ac.contexts) {
      if (c.result !== 0) continue;
      const proposed = rq.contexts.find((p) => p.id === c.id);
      if (proposed)
        this.contexts.set(c.id, {
          id: c.id,
          abstractSyntax: proposed.abstractSyntax,
          transferSyntax: c.transferSyntax,
        });
    }
    this.established = true;
  }

  /** The accepted context for an abstract syntax (and transfer syntax, when given). */
  findContext(abstractSyntax: string, transferSyntax?: string): PresentationContext | undefined {
    for (const c of this.contexts.values()) {
      if (c.abstractSyntax === abstractSyntax && (!transferSyntax || c.transferSyntax === transferSyntax)) return c;
    }
    return undefined;
  }
}
