// MllpServer: the MLLP listener. Plain TCP or TLS, many concurrent connections; on each connection the frames
// are handed to the handler one at a time, in arrival order, and the next frame is read only after the previous
// reply is written (per-connection ordering, and backpressure on a sender that pipelines). Knows nothing of HL7:
// the handler (the engine) turns a payload into a reply payload.
import { EventEmitter } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import { MllpError, MllpErrorCode, type MllpFramingErrorCode } from './errors.js';
import {
  encodeMllpFrame,
  MllpFrameDecoder,
  type MllpFramingError,
  type MllpFramingMode,
  DEFAULT_MAX_FRAME_BYTES,
} from './frame-codec.js';

/** What the handler answers to one frame. */
export interface MllpReply {
  /** The reply to write (its payload, framing is added). Omit to write nothing now (see `connection.send`). */
  readonly payload?: Uint8Array | string | undefined;
  /** Close the connection once the payload is written. */
  readonly close?: boolean;
}

/** The identity of a TLS peer (from its certificate). */
export interface MllpPeerCertificate {
  /** Subject attributes, e.g. `{ CN: 'lab.example.org', O: 'CH Exemple' }`. */
  readonly subject: Readonly<Record<string, string | string[]>>;
  /** The subject as one line: `CN=lab.example.org, O=CH Exemple`. */
  readonly subjectText: string;
  readonly issuerText: string;
  readonly serialNumber: string;
  readonly fingerprint256: string;
  readonly validTo: string;
  /** Whether the certificate chains to a CA this listener trusts (always true when a certificate is required). */
  readonly authorized: boolean;
  /** Why it is not authorized (e.g. `SELF_SIGNED_CERT_IN_CHAIN`), when it is not. */
  readonly authorizationError?: string;
}

/** One accepted connection, as the handler and the events see it. */
export interface MllpConnection {
  /** Unique within this server: `c1`, `c2`, … */
  readonly id: string;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localPort: number;
  readonly secure: boolean;
  /** The client's certificate, when the connection is TLS and the client presented one. */
  readonly peerCertificate: MllpPeerCertificate | undefined;
  readonly openedAt: Date;
  /** Whether the connection can still carry frames. */
  readonly open: boolean;
  /**
   * Writes one more frame on this connection, at any time (enhanced acknowledgment: the handler answered CA,
   * the application ACK follows once the message is durable). Resolves once written; rejects with
   * `mllp.connection-closed` if the connection is gone, `mllp.invalid-payload` if it cannot be framed.
   */
  send(payload: Uint8Array | string): Promise<void>;
  /** Closes the connection once the writes already queued are flushed. */
  close(): void;
}

export interface MllpFrameContext {
  readonly connection: MllpConnection;
  /** 1 for the first frame of the connection, then 2, 3, … */
  readonly frameNumber: number;
  /** Aborted when the handler timed out or the connection closed: stop work whose reply can no longer be sent. */
  readonly signal: AbortSignal;
}

export type MllpHandler = (payload: Buffer, context: MllpFrameContext) => Promise<MllpReply> | MllpReply;

/** The framing failures a sender waits on an answer for (stray bytes and abandoned frames expect none). */
export type AnswerableFramingCode = Exclude<
  MllpFramingErrorCode,
  'mllp.bytes-outside-frame' | 'mllp.unterminated-frame'
>;

/** Something that went wrong with one frame, which the sender is waiting on an answer for. */
export type MllpFailure =
  | { readonly code: typeof MllpErrorCode.HandlerFailed; readonly payload: Buffer; readonly error: unknown }
  | { readonly code: typeof MllpErrorCode.HandlerTimeout; readonly payload: Buffer }
  | { readonly code: AnswerableFramingCode; readonly framing: MllpFramingError };

/**
 * Answers a failure (typically with a negative HL7 acknowledgment built from the payload or `framing.head`).
 * Return `undefined` to close the connection, which is also what happens without this hook.
 */
export type MllpFailureHandler = (
  failure: MllpFailure,
  context: Omit<MllpFrameContext, 'signal'>,
) => Promise<MllpReply | undefined> | MllpReply | undefined;

export const MllpCloseReason = {
  /** The peer closed the connection. */
  PeerClosed: 'peer-closed',
  /** Nothing was received nor sent for idleTimeoutMs. */
  IdleTimeout: 'idle-timeout',
  /** The server is closing. */
  ServerClosing: 'server-closing',
  /** The handler asked to close (`close: true`, or `connection.close()`). */
  HandlerRequested: 'handler-requested',
  /** A handler failure or a framing failure had no fallback reply. */
  Failure: 'failure',
  /** More than maxBytesOutsideFrame stray bytes arrived since the last frame. */
  BytesOutsideFrame: 'bytes-outside-frame',
  /** The socket broke (reset, TLS error). */
  SocketError: 'socket-error',
} as const;
export type MllpCloseReason = (typeof MllpCloseReason)[keyof typeof MllpCloseReason];

export interface MllpConnectionSummary {
  readonly reason: MllpCloseReason;
  readonly framesReceived: number;
  readonly bytesReceived: number;
  readonly bytesSent: number;
  /** Frames received but not handled because the connection or the server closed first (never ACKed). */
  readonly framesDropped: number;
  readonly error?: Error;
}

/** The events MllpServer emits; listeners must be quick (they run on the connection's path). */
export interface MllpServerEvents {
  connectionOpened: [connection: MllpConnection];
  connectionClosed: [connection: MllpConnection, summary: MllpConnectionSummary];
  /** A connection refused at accept (maxConnections reached), or lost in its TLS handshake. */
  connectionRefused: [peer: { remoteAddress: string; remotePort: number }, error: MllpError];
  frameReceived: [connection: MllpConnection, frame: { frameNumber: number; bytes: number }];
  frameError: [connection: MllpConnection, error: MllpFramingError];
  replySent: [connection: MllpConnection, reply: { frameNumber: number; bytes: number }];
  /** The handler threw, rejected, timed out, returned an unframeable reply, or settled after its timeout. */
  handlerFailed: [connection: MllpConnection, error: MllpError];
  bytesReceived: [connection: MllpConnection, count: number];
  bytesSent: [connection: MllpConnection, count: number];
  /** A listener error after listen() (for example EMFILE when accepting). */
  serverError: [error: Error];
}

export interface MllpServerOptions {
  handler: MllpHandler;
  /** Address to listen on (default 127.0.0.1; use 0.0.0.0 or :: with TLS to accept other machines). */
  host?: string;
  /** Port (default 0: an ephemeral port, read it from listen()'s result). */
  port?: number;
  /**
   * TLS settings (node:tls server options: key, cert, ca, minVersion…). Set `requestCert: true` and
   * `rejectUnauthorized: true` to require a client certificate signed by `ca`.
   */
  tls?: tls.TlsOptions;
  /** Largest frame accepted (default 16 MiB); a larger one becomes an `mllp.frame-too-large` failure. */
  maxFrameBytes?: number;
  /** Framing strictness (default tolerant; see frame-codec.ts). */
  framingMode?: MllpFramingMode;
  /** Open connections at most (default 256); more are closed at once, before any TLS handshake. */
  maxConnections?: number;
  /** Close a connection silent (no byte in or out) for this long, unless its handler is running (default 300 s; 0: never). */
  idleTimeoutMs?: number;
  /** A handler slower than this is a `mllp.handler-timeout` failure (default 30 s; 0: never). */
  handlerTimeoutMs?: number;
  /** TLS handshakes slower than this are abandoned (default 10 s). */
  tlsHandshakeTimeoutMs?: number;
  /** Close a connection that sent more stray bytes than this since its last frame (default 64 KiB). */
  maxBytesOutsideFrame?: number;
  /** Answers handler and framing failures; without it (or when it returns undefined) the connection is closed. */
  onFailure?: MllpFailureHandler;
}

export interface MllpServerCloseOptions {
  /** After this long, connections whose handlers are still running are destroyed (default 10 s). */
  timeoutMs?: number;
}

type QueueItem =
  | { readonly kind: 'frame'; readonly payload: Buffer }
  | { readonly kind: 'failure'; readonly code: AnswerableFramingCode; readonly framing: MllpFramingError };

function peerKey(socket: net.Socket): string {
  return `${socket.remoteAddress ?? '?'}|${socket.remotePort ?? 0}`;
}

function describePeer(socket: net.Socket): string {
  return `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
}

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

function certificateOf(socket: tls.TLSSocket): MllpPeerCertificate | undefined {
  const certificate = socket.getPeerCertificate();
  if (!certificate || Object.keys(certificate).length === 0 || !certificate.subject) return undefined;
  const text = (name: Readonly<Record<string, string | string[]>> | undefined): string =>
    Object.entries(name ?? {})
      .map(([key, value]) => `${key}=${Array.isArray(value) ? value.join('+') : value}`)
      .join(', ');
  const subject = certificate.subject as unknown as Record<string, string | string[]>;
  return {
    subject,
    subjectText: text(subject),
    issuerText: text(certificate.issuer as unknown as Record<string, string | string[]>),
    serialNumber: certificate.serialNumber,
    fingerprint256: certificate.fingerprint256,
    validTo: certificate.valid_to,
    authorized: socket.authorized,
    ...(socket.authorizationError ? { authorizationError: String(socket.authorizationError) } : {}),
  };
}

export class MllpServer extends EventEmitter<MllpServerEvents> {
  private readonly options: Required<Omit<MllpServerOptions, 'tls' | 'onFailure' | 'framingMode'>> &
    Pick<MllpServerOptions, 'tls' | 'onFailure' | 'framingMode'>;
  private readonly server: net.Server;
  private readonly connections = new Set<ServerConnection>();
  /** Every accepted TCP socket (TLS ones from before their handshake), by `address|port`. */
  private readonly sockets = new Map<string, net.Socket>();
  /** Keys of the TLS sockets whose handshake completed (they have a connection). */
  private readonly handshaken = new Set<string>();
  /** Keys of TLS sockets refused at accept, whose failed handshake is not to be reported twice. */
  private readonly refused = new Set<string>();
  /** Keys of TLS sockets whose handshake failure was already reported. */
  private readonly tlsReported = new Set<string>();
  private nextConnectionId = 1;
  private closing: Promise<void> | undefined;

  constructor(options: MllpServerOptions) {
    super();
    this.options = {
      host: '127.0.0.1',
      port: 0,
      maxFrameBytes: DEFAULT_MAX_FRAME_BYTES,
      maxConnections: 256,
      idleTimeoutMs: 300_000,
      handlerTimeoutMs: 30_000,
      tlsHandshakeTimeoutMs: 10_000,
      maxBytesOutsideFrame: 64 * 1024,
      ...options,
    };
    const accept = (socket: net.Socket): void => this.accept(socket);
    if (this.options.tls) {
      const server = tls.createServer({ ...this.options.tls, handshakeTimeout: this.options.tlsHandshakeTimeoutMs });
      server.on('secureConnection', accept);
      server.on('tlsClientError', (error, socket) => {
        // A socket already gone (no address left) was reported by the raw socket's close, with its address.
        if (socket.remoteAddress === undefined) return;
        const key = peerKey(socket);
        if (this.refused.has(key) || this.tlsReported.has(key)) return;
        this.tlsReported.add(key);
        this.notify(
          'connectionRefused',
          { remoteAddress: socket.remoteAddress ?? '?', remotePort: socket.remotePort ?? 0 },
          new MllpError(
            MllpErrorCode.TlsHandshakeFailed,
            `TLS handshake with ${describePeer(socket)} failed: ${error.message}; the client must trust this ` +
              `server's certificate and, if one is required, present a client certificate signed by the configured CA.`,
            { peer: describePeer(socket), cause: error },
          ),
        );
      });
      this.server = server;
    } else {
      this.server = net.createServer(accept);
    }
    // Runs before the TLS handshake: counts and refuses raw sockets.
    this.server.prependListener('connection', (socket: net.Socket) => this.track(socket));
    this.server.on('error', (error) => this.notify('serverError', error));
  }

  /** Starts listening; resolves with the bound address (read the port from it when you asked for port 0). */
  listen(): Promise<net.AddressInfo> {
    return new Promise((resolve, reject) => {
      const onError = (error: Error): void => {
        reject(
          new MllpError(
            MllpErrorCode.ConnectionRefused,
            `Cannot listen on ${this.options.host}:${this.options.port}: ${error.message}; choose a free port or stop ` +
              `the process that holds it.`,
            { cause: error },
          ),
        );
      };
      this.server.once('error', onError);
      this.server.listen(this.options.port, this.options.host, () => {
        this.server.off('error', onError);
        resolve(this.server.address() as net.AddressInfo);
      });
    });
  }

  /** The bound address, once listening. */
  get address(): net.AddressInfo | undefined {
    const address = this.server.address();
    return address && typeof address === 'object' ? address : undefined;
  }

  /** Open connections (TLS ones once their handshake is done). */
  get connectionCount(): number {
    return this.connections.size;
  }

  /**
   * Graceful close: stop accepting, stop reading new frames, let running handlers finish and their replies be
   * written, then close every connection. Frames received but not yet handled are dropped unacknowledged (the
   * sender resends them). After `timeoutMs` the remaining connections are destroyed.
   */
  close(options: MllpServerCloseOptions = {}): Promise<void> {
    this.closing ??= this.shutDown(options.timeoutMs ?? 10_000);
    return this.closing;
  }

  private async shutDown(timeoutMs: number): Promise<void> {
    const stopped = new Promise<void>((resolve) => {
      if (!this.server.listening) resolve();
      else this.server.close(() => resolve());
    });
    // Sockets still in their TLS handshake have nothing in flight.
    for (const [key, socket] of this.sockets) if (!this.handshaken.has(key)) socket.destroy();
    for (const connection of this.connections) connection.finish(MllpCloseReason.ServerClosing);
    const timer = setTimeout(() => {
      for (const socket of this.sockets.values()) socket.destroy();
      for (const connection of this.connections) connection.socket.destroy();
    }, timeoutMs);
    timer.unref();
    try {
      await stopped;
    } finally {
      clearTimeout(timer);
    }
  }

  private track(socket: net.Socket): void {
    if (this.closing || this.sockets.size >= this.options.maxConnections) {
      const error = this.closing
        ? new MllpError(
            MllpErrorCode.Closed,
            `The listener is closing; connection from ${describePeer(socket)} refused.`,
          )
        : new MllpError(
            MllpErrorCode.TooManyConnections,
            `Connection from ${describePeer(socket)} refused: ${this.options.maxConnections} connections are already ` +
              `open (maxConnections); the sender should retry later or use fewer connections.`,
            { peer: describePeer(socket) },
          );
      this.notify(
        'connectionRefused',
        { remoteAddress: socket.remoteAddress ?? '?', remotePort: socket.remotePort ?? 0 },
        error,
      );
      if (this.options.tls) this.refused.add(peerKey(socket));
      socket.on('error', () => undefined);
      // A FIN rather than a reset: the sender sees an orderly close before any data.
      socket.end(() => socket.destroy());
      setTimeout(() => socket.destroy(), 1_000).unref();
      return;
    }
    const key = peerKey(socket);
    this.sockets.set(key, socket);
    socket.on('error', () => undefined); // reported through the connection's close, never thrown
    socket.once('close', () => {
      if (this.options.tls && !this.handshaken.has(key) && !this.tlsReported.has(key) && !this.closing) {
        // Node closes a TLS socket whose client certificate fails verification without an error event.
        this.notify(
          'connectionRefused',
          { remoteAddress: socket.remoteAddress ?? '?', remotePort: socket.remotePort ?? 0 },
          new MllpError(
            MllpErrorCode.TlsHandshakeFailed,
            `TLS connection from ${describePeer(socket)} closed before its handshake completed: its client ` +
              `certificate was not signed by the configured CA (or has expired), or the client gave up.`,
            { peer: describePeer(socket) },
          ),
        );
      }
      this.sockets.delete(key);
      this.handshaken.delete(key);
      this.refused.delete(key);
      this.tlsReported.delete(key);
    });
  }

  private accept(socket: net.Socket): void {
    const key = peerKey(socket);
    if (socket.destroyed || !this.sockets.has(key)) return;
    if (this.closing) {
      socket.destroy();
      return;
    }
    this.handshaken.add(key);
    const connection = new ServerConnection(this, `c${this.nextConnectionId++}`, socket, this.options);
    this.connections.add(connection);
    socket.once('close', () => this.connections.delete(connection));
    this.notify('connectionOpened', connection);
    connection.start();
  }

  /** Emits an event; a listener that throws is not allowed to break the connection or the process. */
  notify<K extends keyof MllpServerEvents>(event: K, ...args: MllpServerEvents[K]): void {
    try {
      (this.emit as (event: K, ...args: MllpServerEvents[K]) => boolean)(event, ...args);
    } catch {
      // A broken metrics listener must not take the listener down.
    }
  }
}

/** An abort signal created only if the handler reads it (most never do, and an AbortController is not free). */
class LazyAbort {
  private controller: AbortController | undefined;
  private aborted = false;
  private reason: unknown;

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.controller?.abort(reason);
  }
}

class ServerConnection implements MllpConnection {
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localPort: number;
  readonly secure: boolean;
  readonly peerCertificate: MllpPeerCertificate | undefined;
  readonly openedAt = new Date();

  private readonly decoder: MllpFrameDecoder;
  private readonly queue: QueueItem[] = [];
  private readonly inFlight = new Set<LazyAbort>();
  private readonly pendingWrites = new Set<(error: Error) => void>();
  private pumping = false;
  private handlerRunning = false;
  private finishing: MllpCloseReason | undefined;
  private closed = false;
  private framesReceived = 0;
  private framesDropped = 0;
  private bytesReceived = 0;
  private bytesSent = 0;
  private bytesOutsideFrame = 0;
  private closeReason: MllpCloseReason = MllpCloseReason.PeerClosed;
  private lastError: Error | undefined;

  constructor(
    private readonly server: MllpServer,
    readonly id: string,
    readonly socket: net.Socket,
    private readonly options: MllpServerOptions &
      Required<
        Pick<MllpServerOptions, 'maxFrameBytes' | 'idleTimeoutMs' | 'handlerTimeoutMs' | 'maxBytesOutsideFrame'>
      >,
  ) {
    this.remoteAddress = socket.remoteAddress ?? '?';
    this.remotePort = socket.remotePort ?? 0;
    this.localPort = socket.localPort ?? 0;
    this.secure = socket instanceof tls.TLSSocket;
    this.peerCertificate = socket instanceof tls.TLSSocket ? certificateOf(socket) : undefined;
    this.decoder = new MllpFrameDecoder({
      maxFrameBytes: options.maxFrameBytes,
      ...(options.framingMode ? { mode: options.framingMode } : {}),
    });
  }

  get open(): boolean {
    return !this.closed && !this.socket.destroyed && this.socket.writable;
  }

  start(): void {
    const socket = this.socket;
    socket.setNoDelay(true);
    if (this.options.idleTimeoutMs > 0) {
      socket.setTimeout(this.options.idleTimeoutMs);
      socket.on('timeout', () => {
        if (this.handlerRunning) return; // busy, not idle: the handler timeout governs
        this.closeNow(MllpCloseReason.IdleTimeout);
      });
    }
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => {
      for (const decoded of this.decoder.end()) {
        if (decoded.type === 'error') this.server.notify('frameError', this, decoded.error);
      }
    });
    socket.on('error', (error) => {
      this.lastError = error;
      if (!this.finishing) this.closeReason = MllpCloseReason.SocketError;
    });
    socket.once('close', () => this.onClose());
  }

  send(payload: Uint8Array | string): Promise<void> {
    let frame: Buffer;
    try {
      frame = encodeMllpFrame(payload);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.write(frame);
  }

  close(): void {
    this.finish(MllpCloseReason.HandlerRequested);
  }

  /** Graceful: stop reading, drop unstarted frames, close once the running handler's reply is written. */
  finish(reason: MllpCloseReason): void {
    if (this.closed || this.finishing) return;
    this.finishing = reason;
    this.closeReason = reason;
    this.socket.pause();
    this.framesDropped += this.queue.filter((item) => item.kind === 'frame').length;
    this.queue.length = 0;
    if (!this.pumping) this.endSocket();
  }

  private closeNow(reason: MllpCloseReason): void {
    if (this.closed) return;
    this.closeReason = reason;
    this.finishing ??= reason;
    this.framesDropped += this.queue.filter((item) => item.kind === 'frame').length;
    this.queue.length = 0;
    this.socket.destroy();
  }

  private endSocket(): void {
    if (this.closed) return;
    const socket = this.socket;
    // end() flushes what is queued then sends FIN; a peer that never reads must not hold the socket forever.
    socket.end(() => socket.destroy());
    const timer = setTimeout(() => socket.destroy(), 5_000);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
  }

  private onData(chunk: Buffer): void {
    if (this.finishing) return;
    this.bytesReceived += chunk.length;
    this.server.notify('bytesReceived', this, chunk.length);
    for (const decoded of this.decoder.push(chunk)) {
      if (decoded.type === 'frame') {
        this.bytesOutsideFrame = 0;
        this.queue.push({ kind: 'frame', payload: decoded.payload });
        continue;
      }
      const error = decoded.error;
      this.server.notify('frameError', this, error);
      switch (error.code) {
        case MllpErrorCode.BytesOutsideFrame:
          this.bytesOutsideFrame += error.byteCount;
          if (this.bytesOutsideFrame > this.options.maxBytesOutsideFrame) {
            this.closeNow(MllpCloseReason.BytesOutsideFrame);
            return;
          }
          break;
        case MllpErrorCode.UnterminatedFrame:
          break; // the sender abandoned it and expects no answer
        case MllpErrorCode.FrameTooLarge:
        case MllpErrorCode.EmptyFrame:
        case MllpErrorCode.MissingEndCarriageReturn:
          this.queue.push({ kind: 'failure', code: error.code, framing: error });
          break;
        default:
          error.code satisfies never;
      }
    }
    if (this.queue.length > 0) {
      // Backpressure: once more than one frame waits behind the one being answered, stop reading until they
      // are answered. (A sender that waits for each ACK never gets here, and pays no pause/resume.)
      if (!this.pumping) void this.pump();
      else if (this.queue.length > 1) this.socket.pause();
    }
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.queue.length > 0 && !this.closed && !this.finishing) {
        const item = this.queue.shift()!;
        if (item.kind === 'frame') await this.handleFrame(item.payload);
        else await this.handleFailure({ code: item.code, framing: item.framing }, ++this.framesReceived);
      }
    } catch (error) {
      // A bug of ours must cost this connection, never the process.
      this.server.notify(
        'handlerFailed',
        this,
        new MllpError(MllpErrorCode.HandlerFailed, `Internal error on ${this.id}: ${toError(error).message}`, {
          cause: error,
        }),
      );
      this.closeNow(MllpCloseReason.Failure);
    } finally {
      this.pumping = false;
    }
    if (this.finishing) this.endSocket();
    else if (!this.closed && this.socket.isPaused()) this.socket.resume();
  }

  private async handleFrame(payload: Buffer): Promise<void> {
    const frameNumber = ++this.framesReceived;
    this.server.notify('frameReceived', this, { frameNumber, bytes: payload.length });
    const controller = new LazyAbort();
    this.inFlight.add(controller);
    const context: MllpFrameContext = {
      connection: this,
      frameNumber,
      get signal() {
        return controller.signal;
      },
    };
    type Outcome = { kind: 'reply'; reply: MllpReply } | { kind: 'error'; error: unknown } | { kind: 'timeout' };
    let outcome: Outcome | undefined;
    let result: MllpReply | Promise<MllpReply> | undefined;
    try {
      result = this.options.handler(payload, context);
    } catch (error) {
      outcome = { kind: 'error', error };
    }
    // A handler that answered synchronously needs no timer; a promise races the handler timeout.
    let running: Promise<Outcome> = Promise.resolve({ kind: 'timeout' });
    if (!outcome && typeof (result as Promise<MllpReply> | undefined)?.then !== 'function') {
      outcome = { kind: 'reply', reply: result as MllpReply };
    } else if (!outcome) {
      running = Promise.resolve(result as Promise<MllpReply>).then(
        (reply) => ({ kind: 'reply', reply }) as const,
        (error: unknown) => ({ kind: 'error', error }) as const,
      );
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<Outcome>((resolve) => {
        if (this.options.handlerTimeoutMs > 0)
          timer = setTimeout(() => resolve({ kind: 'timeout' }), this.options.handlerTimeoutMs);
      });
      this.handlerRunning = true;
      try {
        outcome = await Promise.race([running, timeout]);
      } finally {
        clearTimeout(timer);
        this.handlerRunning = false;
      }
    }
    if (this.closed) {
      this.inFlight.delete(controller);
      return;
    }
    switch (outcome.kind) {
      case 'reply': {
        this.inFlight.delete(controller);
        await this.writeReply(outcome.reply, frameNumber, payload);
        return;
      }
      case 'error': {
        this.inFlight.delete(controller);
        const cause = toError(outcome.error);
        this.server.notify(
          'handlerFailed',
          this,
          new MllpError(
            MllpErrorCode.HandlerFailed,
            `The handler failed on frame ${frameNumber} of ${this.id}: ${cause.message}`,
            {
              peer: `${this.remoteAddress}:${this.remotePort}`,
              cause,
            },
          ),
        );
        await this.handleFailure({ code: MllpErrorCode.HandlerFailed, payload, error: outcome.error }, frameNumber);
        return;
      }
      case 'timeout': {
        const error = new MllpError(
          MllpErrorCode.HandlerTimeout,
          `The handler did not answer frame ${frameNumber} of ${this.id} within ${this.options.handlerTimeoutMs} ms.`,
          { peer: `${this.remoteAddress}:${this.remotePort}` },
        );
        controller.abort(error);
        this.server.notify('handlerFailed', this, error);
        await this.handleFailure({ code: MllpErrorCode.HandlerTimeout, payload }, frameNumber);
        if (this.finishing || this.closed) {
          this.inFlight.delete(controller);
          return; // closed without a fallback: the late result is dropped (the signal told the handler)
        }
        // Ordering: the next frame of this connection starts only once the late handler has settled.
        const late = await running;
        this.inFlight.delete(controller);
        if (late.kind === 'reply' && !this.closed) {
          this.server.notify(
            'handlerFailed',
            this,
            new MllpError(
              MllpErrorCode.HandlerTimeout,
              `The handler answered frame ${frameNumber} of ${this.id} after its timeout; that reply was not sent.`,
            ),
          );
        }
        return;
      }
      default:
        outcome satisfies never;
    }
  }

  private async handleFailure(failure: MllpFailure, frameNumber: number): Promise<void> {
    let reply: MllpReply | undefined;
    if (this.options.onFailure) {
      try {
        reply = await this.options.onFailure(failure, { connection: this, frameNumber });
      } catch (error) {
        this.server.notify(
          'handlerFailed',
          this,
          new MllpError(
            MllpErrorCode.HandlerFailed,
            `onFailure threw while answering ${failure.code}: ${toError(error).message}`,
            {
              cause: error,
            },
          ),
        );
      }
    }
    if (reply === undefined) {
      this.lastError ??= new MllpError(failure.code, `Closed after ${failure.code} with no fallback reply.`);
      this.finish(MllpCloseReason.Failure);
      return;
    }
    await this.writeReply(reply, frameNumber, undefined);
  }

  /** Writes a reply; `payload` is the frame the handler answered (absent when the reply is a fallback). */
  private async writeReply(reply: MllpReply, frameNumber: number, payload: Buffer | undefined): Promise<void> {
    if (reply === null || typeof reply !== 'object') {
      const error = new MllpError(
        MllpErrorCode.HandlerFailed,
        `The handler answered frame ${frameNumber} of ${this.id} with ${String(reply)} instead of an MllpReply ` +
          `object ({ payload?, close? }).`,
      );
      this.server.notify('handlerFailed', this, error);
      if (payload) await this.handleFailure({ code: MllpErrorCode.HandlerFailed, payload, error }, frameNumber);
      else this.finish(MllpCloseReason.Failure);
      return;
    }
    if (reply.payload !== undefined) {
      let frame: Buffer;
      try {
        frame = encodeMllpFrame(reply.payload);
      } catch (error) {
        const failure = new MllpError(
          MllpErrorCode.HandlerFailed,
          `The reply to frame ${frameNumber} of ${this.id} cannot be sent: ${toError(error).message}`,
          { cause: error },
        );
        this.server.notify('handlerFailed', this, failure);
        if (payload)
          await this.handleFailure({ code: MllpErrorCode.HandlerFailed, payload, error: failure }, frameNumber);
        else this.finish(MllpCloseReason.Failure);
        return;
      }
      try {
        await this.write(frame);
        this.server.notify('replySent', this, { frameNumber, bytes: frame.length - 3 });
      } catch {
        return; // the connection is gone; its close event reports why
      }
    }
    if (reply.close) this.finish(MllpCloseReason.HandlerRequested);
  }

  /** Resolves once the frame is handed to the kernel: a peer that does not read stalls this connection. */
  private write(frame: Buffer): Promise<void> {
    if (!this.open) {
      return Promise.reject(
        new MllpError(MllpErrorCode.ConnectionClosed, `Connection ${this.id} is closed; the frame was not sent.`, {
          peer: `${this.remoteAddress}:${this.remotePort}`,
        }),
      );
    }
    return new Promise<void>((resolve, reject) => {
      const fail = (error: Error): void => {
        this.pendingWrites.delete(fail);
        reject(error);
      };
      this.pendingWrites.add(fail);
      this.socket.write(frame, (error) => {
        if (!this.pendingWrites.delete(fail)) return;
        if (error) {
          reject(
            new MllpError(MllpErrorCode.ConnectionClosed, `Writing to ${this.id} failed: ${error.message}`, {
              cause: error,
            }),
          );
        } else {
          this.bytesSent += frame.length;
          this.server.notify('bytesSent', this, frame.length);
          resolve();
        }
      });
    });
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.framesDropped += this.queue.filter((item) => item.kind === 'frame').length;
    this.queue.length = 0;
    const closedError = new MllpError(
      MllpErrorCode.ConnectionClosed,
      `Connection ${this.id} closed (${this.closeReason}).`,
    );
    for (const controller of this.inFlight) controller.abort(closedError);
    for (const fail of [...this.pendingWrites]) fail(closedError);
    this.server.notify('connectionClosed', this, {
      reason: this.closeReason,
      framesReceived: this.framesReceived,
      framesDropped: this.framesDropped,
      bytesReceived: this.bytesReceived,
      bytesSent: this.bytesSent,
      ...(this.lastError ? { error: this.lastError } : {}),
    });
  }
}
