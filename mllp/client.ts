// MllpClient: the MLLP sender. One connection (TCP or TLS, with a client certificate if asked), one frame in
// flight at a time: send() writes a frame and resolves with the reply frame, in order. Connects lazily and
// reconnects with exponential backoff; every failure is an MllpError whose code says what happened.
// MllpClientPool spreads sends over several clients, keeping the order of the sends that share a key.
import { EventEmitter } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import { MllpError, MllpErrorCode } from './errors.js';
import {
  encodeMllpFrame,
  MllpFrameDecoder,
  type MllpFramingError,
  type MllpFramingMode,
  DEFAULT_MAX_FRAME_BYTES,
} from './frame-codec.js';

export interface MllpReconnectOptions {
  /** Connection attempts per send before giving up (default 4). */
  maxAttempts?: number;
  /** Delay before the second attempt (default 200 ms); it doubles at each attempt… */
  initialDelayMs?: number;
  /** …up to this (default 30 s). */
  maxDelayMs?: number;
}

export interface MllpClientOptions {
  host: string;
  port: number;
  /** TLS: `true` for defaults, or node:tls connect options (ca, and key + cert for a client certificate). */
  tls?: boolean | tls.ConnectionOptions;
  /** Give up a connection attempt after this long (default 10 s). */
  connectTimeoutMs?: number;
  /** Wait this long for the reply to a frame (default 30 s). */
  ackTimeoutMs?: number;
  /** Largest reply accepted (default 16 MiB). */
  maxFrameBytes?: number;
  framingMode?: MllpFramingMode;
  reconnect?: MllpReconnectOptions;
}

export interface MllpSendOptions {
  /** Overrides the client's ackTimeoutMs for this frame. */
  ackTimeoutMs?: number;
  /** Abandons the send (before it is written, or while its reply is awaited: then the connection is reset). */
  signal?: AbortSignal;
  /**
   * Enhanced acknowledgment: return false for a reply that is not the last one (an accept ACK, CA) to keep
   * waiting; such replies go to onIntermediateReply. Default: the first reply is the reply.
   */
  isFinalReply?: (reply: Buffer) => boolean;
  onIntermediateReply?: (reply: Buffer) => void;
}

export interface MllpClientEvents {
  connected: [info: { remoteAddress: string; remotePort: number; secure: boolean }];
  disconnected: [info: { error?: Error }];
  /** A connection attempt failed; another follows after retryInMs unless attempts are exhausted. */
  connectFailed: [info: { attempt: number; error: MllpError; retryInMs: number | undefined }];
  /** A frame that arrived while no send was waiting (for example a late application ACK). */
  unsolicitedFrame: [payload: Buffer];
  frameError: [error: MllpFramingError];
}

interface PendingReply {
  /** The connection the frame was written on: only its replies, or its close, settle this. */
  readonly socket: net.Socket;
  readonly resolve: (reply: Buffer) => void;
  readonly reject: (error: MllpError) => void;
  readonly isFinalReply: ((reply: Buffer) => boolean) | undefined;
  readonly onIntermediateReply: ((reply: Buffer) => void) | undefined;
}

const TLS_ERROR_PATTERN = /SSL|TLS|CERT|certificate|self[- ]signed|handshake/i;

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export class MllpClient extends EventEmitter<MllpClientEvents> {
  readonly host: string;
  readonly port: number;
  private readonly options: MllpClientOptions;
  private readonly ackTimeoutMs: number;
  private readonly connectTimeoutMs: number;
  private socket: net.Socket | undefined;
  private connecting: Promise<net.Socket> | undefined;
  private decoder: MllpFrameDecoder;
  private pending: PendingReply | undefined;
  /** Sends wait here: one frame in flight per connection. */
  private tail: Promise<unknown> = Promise.resolve();
  private queued = 0;
  private closed = false;
  private readonly closeController = new AbortController();

  constructor(options: MllpClientOptions) {
    super();
    this.options = options;
    this.host = options.host;
    this.port = options.port;
    this.ackTimeoutMs = options.ackTimeoutMs ?? 30_000;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.decoder = this.newDecoder();
  }

  /** Sends waiting or in flight. */
  get pendingCount(): number {
    return this.queued;
  }

  get connected(): boolean {
    return this.socket !== undefined && !this.socket.destroyed;
  }

  private get peer(): string {
    return `${this.host}:${this.port}`;
  }

  /** Opens the connection now (send() does it on demand), retrying with backoff. */
  async connect(): Promise<void> {
    await this.ensureConnected();
  }

  /**
   * Sends one payload and resolves with the reply payload. Sends are queued: one frame in flight per
   * connection, replies in order. Never resent automatically: on `mllp.connection-closed` or `mllp.ack-timeout`
   * the message may or may not have been processed; resend it (receivers de-duplicate).
   */
  send(payload: Uint8Array | string, options: MllpSendOptions = {}): Promise<Buffer> {
    let frame: Buffer;
    try {
      frame = encodeMllpFrame(payload);
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.closed) return Promise.reject(this.closedError());
    this.queued += 1;
    const result = this.tail.then(() => this.exchange(frame, options));
    this.tail = result.catch(() => undefined);
    return result.finally(() => {
      this.queued -= 1;
    });
  }

  /** Closes the connection; queued and in-flight sends reject with `mllp.closed`. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.closeController.abort(this.closedError());
    this.pending?.reject(this.closedError());
    this.pending = undefined;
    const socket = this.socket;
    this.socket = undefined;
    if (socket && !socket.destroyed) {
      await new Promise<void>((resolve) => {
        socket.once('close', () => resolve());
        socket.end();
        setTimeout(() => socket.destroy(), 1_000).unref();
      });
    }
  }

  private closedError(): MllpError {
    return new MllpError(
      MllpErrorCode.Closed,
      `The MLLP client for ${this.peer} is closed; create a new one to send.`,
      {
        peer: this.peer,
      },
    );
  }

  private newDecoder(): MllpFrameDecoder {
    return new MllpFrameDecoder({
      maxFrameBytes: this.options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
      ...(this.options.framingMode ? { mode: this.options.framingMode } : {}),
    });
  }

  private async exchange(frame: Buffer, options: MllpSendOptions): Promise<Buffer> {
    if (this.closed) throw this.closedError();
    if (options.signal?.aborted) {
      throw new MllpError(MllpErrorCode.Closed, `The send to ${this.peer} was aborted before it was written.`, {
        peer: this.peer,
        cause: options.signal.reason,
      });
    }
    const socket = await this.ensureConnected(options.signal);
    if (options.signal?.aborted) {
      throw new MllpError(MllpErrorCode.Closed, `The send to ${this.peer} was aborted before it was written.`, {
        peer: this.peer,
        cause: options.signal.reason,
      });
    }
    const timeoutMs = options.ackTimeoutMs ?? this.ackTimeoutMs;
    return new Promise<Buffer>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const settle = (): void => {
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        if (this.pending === pending) this.pending = undefined;
      };
      const pending: PendingReply = {
        socket,
        resolve: (reply) => {
          settle();
          resolve(reply);
        },
        reject: (error) => {
          settle();
          reject(error);
        },
        isFinalReply: options.isFinalReply,
        onIntermediateReply: options.onIntermediateReply,
      };
      const onAbort = (): void => {
        pending.reject(
          new MllpError(MllpErrorCode.Closed, `The send to ${this.peer} was aborted while awaiting its reply.`, {
            peer: this.peer,
            cause: options.signal?.reason,
          }),
        );
        this.dropConnection(socket); // a late reply must not be taken for the next frame's
      };
      this.pending = pending;
      options.signal?.addEventListener('abort', onAbort, { once: true });
      if (timeoutMs > 0) {
        timer = setTimeout(() => {
          pending.reject(
            new MllpError(
              MllpErrorCode.AckTimeout,
              `No reply from ${this.peer} within ${timeoutMs} ms; the message may or may not have been processed. ` +
                `Check the receiver, raise ackTimeoutMs if it is slow, then resend.`,
              { peer: this.peer },
            ),
          );
          this.dropConnection(socket);
        }, timeoutMs);
      }
      socket.write(frame, (error) => {
        if (error && this.pending === pending) pending.reject(this.connectionError(error, 'while writing the frame'));
      });
    });
  }

  /** Forgets a connection whose state is unknown (a reply may still come): the next send opens a new one. */
  private dropConnection(socket: net.Socket): void {
    if (this.socket === socket) this.socket = undefined;
    socket.destroy();
  }

  private async ensureConnected(signal?: AbortSignal): Promise<net.Socket> {
    if (this.socket && !this.socket.destroyed) return this.socket;
    this.connecting ??= this.connectWithRetries(signal).finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async connectWithRetries(signal?: AbortSignal): Promise<net.Socket> {
    const reconnect = this.options.reconnect ?? {};
    const maxAttempts = Math.max(1, reconnect.maxAttempts ?? 4);
    const initialDelayMs = reconnect.initialDelayMs ?? 200;
    const maxDelayMs = reconnect.maxDelayMs ?? 30_000;
    const signals = [this.closeController.signal, ...(signal ? [signal] : [])];
    const combined = AbortSignal.any(signals);
    for (let attempt = 1; ; attempt += 1) {
      try {
        const socket = await this.openSocket();
        if (this.closed) {
          socket.destroy();
          throw this.closedError();
        }
        return socket;
      } catch (error) {
        const failure = error instanceof MllpError ? error : this.connectionError(error, 'while connecting');
        const retryable =
          failure.code === MllpErrorCode.ConnectionRefused || failure.code === MllpErrorCode.ConnectTimeout;
        const retryInMs =
          retryable && attempt < maxAttempts
            ? Math.min(maxDelayMs, initialDelayMs * 2 ** (attempt - 1)) * (0.8 + Math.random() * 0.4)
            : undefined;
        this.emit('connectFailed', { attempt, error: failure, retryInMs });
        if (retryInMs === undefined) throw failure;
        await sleep(retryInMs, combined);
      }
    }
  }

  private openSocket(): Promise<net.Socket> {
    return new Promise<net.Socket>((resolve, reject) => {
      const useTls = this.options.tls !== undefined && this.options.tls !== false;
      const tlsOptions = typeof this.options.tls === 'object' ? this.options.tls : {};
      const socket: net.Socket = useTls
        ? tls.connect({
            servername: net.isIP(this.host) ? undefined : this.host,
            ...tlsOptions,
            host: this.host,
            port: this.port,
          })
        : net.connect({ host: this.host, port: this.port });
      const readyEvent = useTls ? 'secureConnect' : 'connect';
      const timer = setTimeout(() => {
        fail(
          new MllpError(
            MllpErrorCode.ConnectTimeout,
            `Could not connect to ${this.peer} within ${this.connectTimeoutMs} ms; check the address, the firewall ` +
              `and that the receiver accepts connections` +
              (useTls
                ? ' (and that it expects TLS on this port: a plain MLLP port never answers a TLS handshake).'
                : '.'),
            { peer: this.peer },
          ),
        );
      }, this.connectTimeoutMs);
      const fail = (error: unknown): void => {
        clearTimeout(timer);
        socket.removeListener(readyEvent, onReady);
        socket.destroy();
        reject(error instanceof MllpError ? error : this.connectionError(error, 'while connecting'));
      };
      const onReady = (): void => {
        clearTimeout(timer);
        socket.removeListener('error', fail);
        socket.removeListener('close', onEarlyClose);
        this.adopt(socket, useTls);
        resolve(socket);
      };
      const onEarlyClose = (): void =>
        fail(
          new MllpError(
            MllpErrorCode.ConnectionClosed,
            `${this.peer} closed the connection before it was established (it may be at its connection limit, or ` +
              `refused the TLS handshake); retry later.`,
            { peer: this.peer },
          ),
        );
      socket.once(readyEvent, onReady);
      socket.once('error', fail);
      socket.once('close', onEarlyClose);
    });
  }

  private adopt(socket: net.Socket, secure: boolean): void {
    socket.setNoDelay(true);
    this.socket = socket;
    this.decoder = this.newDecoder();
    let lastError: Error | undefined;
    let receivedAnything = false;
    socket.on('data', (chunk: Buffer) => {
      receivedAnything = true;
      if (this.socket !== socket) return;
      for (const decoded of this.decoder.push(chunk)) {
        if (decoded.type === 'frame') this.onReply(decoded.payload);
        else this.onFramingError(decoded.error, socket);
      }
    });
    socket.on('error', (error) => {
      lastError = error;
    });
    socket.once('close', () => {
      if (this.socket === socket) this.socket = undefined;
      const pending = this.pending;
      if (pending?.socket === socket) {
        pending.reject(
          lastError
            ? this.connectionError(lastError, 'before the reply arrived')
            : new MllpError(
                MllpErrorCode.ConnectionClosed,
                `${this.peer} closed the connection before replying; the message may or may not have been processed. ` +
                  `Resend it (the receiver de-duplicates).` +
                  (secure && !receivedAnything
                    ? ' Over TLS, this is also how a server that requires a client certificate rejects one it does ' +
                      'not trust: check tls.key and tls.cert and that the server trusts their CA.'
                    : ''),
                { peer: this.peer },
              ),
        );
      }
      this.emit('disconnected', lastError ? { error: lastError } : {});
    });
    this.emit('connected', {
      remoteAddress: socket.remoteAddress ?? this.host,
      remotePort: socket.remotePort ?? this.port,
      secure,
    });
  }

  private onReply(payload: Buffer): void {
    const pending = this.pending;
    if (!pending) {
      this.emit('unsolicitedFrame', payload);
      return;
    }
    if (pending.isFinalReply && !pending.isFinalReply(payload)) {
      pending.onIntermediateReply?.(payload);
      return;
    }
    pending.resolve(payload);
  }

  private onFramingError(error: MllpFramingError, socket: net.Socket): void {
    this.emit('frameError', error);
    if (error.code === MllpErrorCode.FrameTooLarge && this.pending) {
      this.pending.reject(
        new MllpError(
          MllpErrorCode.ReplyTooLarge,
          `The reply from ${this.peer} is ${error.byteCount} bytes, over maxFrameBytes; raise maxFrameBytes on this ` +
            `client if such replies are expected.`,
          { peer: this.peer },
        ),
      );
      this.dropConnection(socket);
    }
  }

  /** Maps a socket error to the catalogue, with a message that says what to do. */
  private connectionError(error: unknown, when: string): MllpError {
    const cause = error instanceof Error ? error : new Error(String(error));
    const code = (cause as NodeJS.ErrnoException).code ?? '';
    if (code === 'ECONNREFUSED') {
      return new MllpError(
        MllpErrorCode.ConnectionRefused,
        `Connection refused by ${this.peer}: nothing listens there. Check the host and port and that the receiver is running.`,
        { peer: this.peer, cause },
      );
    }
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH') {
      return new MllpError(
        MllpErrorCode.ConnectionRefused,
        `Cannot reach ${this.peer} (${code}); check the host name and the network route.`,
        { peer: this.peer, cause },
      );
    }
    if (TLS_ERROR_PATTERN.test(code) || TLS_ERROR_PATTERN.test(cause.message)) {
      return new MllpError(
        MllpErrorCode.TlsHandshakeFailed,
        `TLS with ${this.peer} failed ${when}: ${cause.message}. Check that the client trusts the server's CA ` +
          `(tls.ca), that the name matches its certificate, and that a client certificate (tls.key, tls.cert) is ` +
          `given if the server requires one.`,
        { peer: this.peer, cause },
      );
    }
    return new MllpError(
      MllpErrorCode.ConnectionClosed,
      `The connection to ${this.peer} failed ${when}: ${cause.message}; the message may or may not have been ` +
        `processed. Resend it (the receiver de-duplicates).`,
      { peer: this.peer, cause },
    );
  }
}

export interface MllpClientPoolOptions extends MllpClientOptions {
  /** Connections in the pool (default 4). */
  size?: number;
}

export interface MllpPoolSendOptions extends MllpSendOptions {
  /**
   * Sends with the same key go through the same connection, so they keep their order (use the patient's key).
   * Without a key, the least busy connection is used and order across sends is not kept.
   */
  key?: string;
}

/** Several MllpClients to one receiver: more throughput, order kept per key. */
export class MllpClientPool {
  readonly clients: readonly MllpClient[];

  constructor(options: MllpClientPoolOptions) {
    const size = options.size ?? 4;
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`size must be a positive integer, got ${size}`);
    this.clients = Array.from({ length: size }, () => new MllpClient(options));
  }

  send(payload: Uint8Array | string, options: MllpPoolSendOptions = {}): Promise<Buffer> {
    return this.clientFor(options.key).send(payload, options);
  }

  async close(): Promise<void> {
    await Promise.all(this.clients.map((client) => client.close()));
  }

  private clientFor(key: string | undefined): MllpClient {
    if (key !== undefined) {
      // FNV-1a: stable, cheap, well spread.
      let hash = 0x811c9dc5;
      for (let index = 0; index < key.length; index += 1) {
        hash ^= key.charCodeAt(index);
        hash = Math.imul(hash, 0x01000193) >>> 0;
      }
      return this.clients[hash % this.clients.length]!;
    }
    let best = this.clients[0]!;
    for (const client of this.clients) if (client.pendingCount < best.pendingCount) best = client;
    return best;
  }
}
