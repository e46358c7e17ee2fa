// Test helpers for mllp/*.test.ts: a raw socket peer that sends exact bytes and decodes replies, servers that
// are closed after each test, and a free-port finder. Not part of the public API.
import net from 'node:net';
import tls from 'node:tls';
import { MllpFrameDecoder } from './frame-codec.js';
import { MllpServer, type MllpServerOptions } from './server.js';

export interface RawPeer {
  readonly socket: net.Socket;
  /** Replies decoded so far, in order. */
  readonly frames: Buffer[];
  /** The next reply frame (rejects if the connection closes before it). */
  nextFrame(): Promise<Buffer>;
  /** Resolves when the connection has closed. */
  readonly closed: Promise<void>;
  /** Whether the server closed (or reset) the connection. */
  isClosed(): boolean;
}

export async function connectRaw(port: number, tlsOptions?: tls.ConnectionOptions): Promise<RawPeer> {
  const socket = await new Promise<net.Socket>((resolve, reject) => {
    const s = tlsOptions
      ? tls.connect({ host: '127.0.0.1', port, ...tlsOptions }, () => resolve(s))
      : net.connect({ host: '127.0.0.1', port }, () => resolve(s));
    s.once('error', reject);
  });
  socket.on('error', () => undefined);
  const decoder = new MllpFrameDecoder({ maxFrameBytes: 64 * 1024 * 1024 });
  const frames: Buffer[] = [];
  let consumed = 0;
  let waiters: { resolve: (frame: Buffer) => void; reject: (error: Error) => void }[] = [];
  let isClosed = false;
  socket.on('data', (chunk: Buffer) => {
    for (const item of decoder.push(chunk)) {
      if (item.type !== 'frame') continue;
      frames.push(item.payload);
      const waiter = waiters.shift();
      if (waiter) {
        consumed += 1;
        waiter.resolve(item.payload);
      }
    }
  });
  const closed = new Promise<void>((resolve) =>
    socket.once('close', () => {
      isClosed = true;
      for (const waiter of waiters) waiter.reject(new Error('connection closed before the expected frame'));
      waiters = [];
      resolve();
    }),
  );
  return {
    socket,
    frames,
    closed,
    isClosed: () => isClosed,
    nextFrame: () => {
      if (consumed < frames.length) return Promise.resolve(frames[consumed++]!);
      if (isClosed) return Promise.reject(new Error('connection closed before the expected frame'));
      return new Promise((resolve, reject) => waiters.push({ resolve, reject }));
    },
  };
}

/** Starts servers and closes them all (and destroys raw peers) after each test. */
export class TestServers {
  private readonly servers: MllpServer[] = [];
  private readonly sockets: net.Socket[] = [];

  async start(options: MllpServerOptions): Promise<{ server: MllpServer; port: number }> {
    const server = new MllpServer(options);
    this.servers.push(server);
    const address = await server.listen();
    return { server, port: address.port };
  }

  track(socket: net.Socket): void {
    this.sockets.push(socket);
  }

  async closeAll(): Promise<void> {
    for (const socket of this.sockets.splice(0)) socket.destroy();
    await Promise.all(this.servers.splice(0).map((server) => server.close({ timeoutMs: 200 })));
  }
}

/** A port nothing listens on, outside the ephemeral range (test/ports.ts says why). */
export { freePort } from '../test/ports.js';

/** A promise with its resolve exposed (a gate a test opens). */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

export function waitForEvent<T extends unknown[]>(
  emitter: { once(event: string, listener: (...args: T) => void): unknown },
  event: string,
): Promise<T> {
  return new Promise((resolve) => emitter.once(event, (...args: T) => resolve(args)));
}

export function frame(payload: string | Buffer): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
  return Buffer.concat([Buffer.from([0x0b]), body, Buffer.from([0x1c, 0x0d])]);
}
