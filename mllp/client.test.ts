import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { MllpClient, MllpClientPool } from './client.js';
import { MllpError, MllpErrorCode } from './errors.js';
import { MllpServer, type MllpReply } from './server.js';
import { deferred, frame, freePort, TestServers } from './test-support.js';

const servers = new TestServers();
const clients: (MllpClient | MllpClientPool)[] = [];
const rawServers: net.Server[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  for (const server of rawServers.splice(0)) server.close();
  await servers.closeAll();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const echo = (payload: Buffer): MllpReply => ({ payload: `ACK:${payload.toString()}` });

function client(port: number, options: Partial<ConstructorParameters<typeof MllpClient>[0]> = {}): MllpClient {
  const created = new MllpClient({ host: '127.0.0.1', port, ...options });
  clients.push(created);
  return created;
}

async function failure(promise: Promise<unknown>): Promise<MllpError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(MllpError);
    return error as MllpError;
  }
  throw new Error('expected the promise to reject');
}

/** A raw TCP server that runs `onFrame` for the first bytes it reads, to play a misbehaving receiver. */
async function rawServer(onData: (socket: net.Socket, chunk: Buffer) => void): Promise<number> {
  const server = net.createServer((socket) => {
    socket.on('error', () => undefined);
    socket.on('data', (chunk) => onData(socket, chunk));
  });
  rawServers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as net.AddressInfo).port;
}

describe('MllpClient', () => {
  it('sends a frame and resolves with the reply, over one lasting connection', async () => {
    const { server, port } = await servers.start({ handler: echo });
    let opened = 0;
    server.on('connectionOpened', () => (opened += 1));
    const sender = client(port);
    expect((await sender.send('MSH|1\r')).toString()).toBe('ACK:MSH|1\r');
    expect((await sender.send(Buffer.from('MSH|2\r'))).toString()).toBe('ACK:MSH|2\r');
    expect(opened).toBe(1);
    expect(sender.connected).toBe(true);
  });

  it('keeps one frame in flight: concurrent sends are written and answered in order', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const seen: string[] = [];
    const { port } = await servers.start({
      handler: async (payload) => {
        maxInFlight = Math.max(maxInFlight, ++inFlight);
        seen.push(payload.toString());
        await sleep(Math.random() * 3);
        inFlight -= 1;
        return echo(payload);
      },
    });
    const sender = client(port);
    const replies = await Promise.all(Array.from({ length: 60 }, (_, index) => sender.send(`M${index}`)));
    expect(replies.map(String)).toEqual(Array.from({ length: 60 }, (_, index) => `ACK:M${index}`));
    expect(seen).toEqual(Array.from({ length: 60 }, (_, index) => `M${index}`));
    expect(maxInFlight).toBe(1);
  });

  it('fails with mllp.connection-refused against a closed port, after its retries', async () => {
    const port = await freePort();
    const sender = client(port, { reconnect: { maxAttempts: 3, initialDelayMs: 5 } });
    const attempts: number[] = [];
    sender.on('connectFailed', ({ attempt }) => attempts.push(attempt));
    const error = await failure(sender.send('MSH|1\r'));
    expect(error.code).toBe(MllpErrorCode.ConnectionRefused);
    expect(error.message).toContain(`127.0.0.1:${port}`);
    expect(error.message).toContain('nothing listens there');
    expect(attempts).toEqual([1, 2, 3]);
  });

  it('reconnects with backoff when the server restarts on the same port', async () => {
    const first = await servers.start({ handler: echo });
    const port = first.port;
    const sender = client(port, { reconnect: { maxAttempts: 50, initialDelayMs: 10, maxDelayMs: 50 } });
    expect((await sender.send('before')).toString()).toBe('ACK:before');
    const dropped = new Promise((resolve) => sender.once('disconnected', resolve));
    await first.server.close();
    await dropped;
    const refusedOnce = deferred();
    sender.on('connectFailed', ({ error }) => {
      if (error.code === MllpErrorCode.ConnectionRefused) refusedOnce.resolve();
    });
    const sending = sender.send('after');
    await refusedOnce.promise; // the server is down: the client is retrying…
    const restarted = new MllpServer({ port, handler: (payload) => ({ payload: `NEW:${payload.toString()}` }) });
    await restarted.listen();
    try {
      expect((await sending).toString()).toBe('NEW:after'); // …and gets through once it is back
    } finally {
      await restarted.close();
    }
  });

  it('fails with mllp.ack-timeout when no reply comes, then works again on a fresh connection', async () => {
    let calls = 0;
    const { server, port } = await servers.start({
      handler: (payload) => (++calls === 1 ? {} : echo(payload)), // the first frame gets no answer
    });
    let opened = 0;
    server.on('connectionOpened', () => (opened += 1));
    const sender = client(port, { ackTimeoutMs: 50 });
    const error = await failure(sender.send('first'));
    expect(error.code).toBe(MllpErrorCode.AckTimeout);
    expect(error.message).toContain('within 50 ms');
    expect((await sender.send('second')).toString()).toBe('ACK:second');
    expect(opened).toBe(2); // a late reply to the first frame can never be read as the second's
  });

  it('fails with mllp.connection-closed when the receiver closes in the middle of its reply', async () => {
    const port = await rawServer((socket) => {
      socket.write(Buffer.from([0x0b, ...Buffer.from('MSH|^~\\&|ACK half')]));
      socket.end();
    });
    const error = await failure(client(port).send('MSH|1\r'));
    expect(error.code).toBe(MllpErrorCode.ConnectionClosed);
    expect(error.message).toContain('before replying');
    expect(error.message).toContain('Resend it');
  });

  it('fails with mllp.reply-too-large when the reply exceeds maxFrameBytes', async () => {
    const port = await rawServer((socket) => socket.write(frame(Buffer.alloc(10_000, 0x41))));
    const sender = client(port, { maxFrameBytes: 1000 });
    const error = await failure(sender.send('MSH|1\r'));
    expect(error.code).toBe(MllpErrorCode.ReplyTooLarge);
    expect(error.message).toContain('10000 bytes');
    expect(sender.connected).toBe(false);
  });

  it('refuses an unframeable payload before touching the network', async () => {
    const sender = client(await freePort());
    const error = await failure(sender.send(Buffer.from([0x41, 0x0b])));
    expect(error.code).toBe(MllpErrorCode.InvalidPayload);
    expect(sender.connected).toBe(false);
  });

  it('rejects queued and in-flight sends with mllp.closed when closed', async () => {
    const gate = deferred();
    const { port } = await servers.start({
      handler: async (payload) => {
        await gate.promise;
        return echo(payload);
      },
    });
    const sender = client(port);
    const inFlight = failure(sender.send('one'));
    const queued = failure(sender.send('two'));
    await sleep(10);
    await sender.close();
    gate.resolve();
    expect((await inFlight).code).toBe(MllpErrorCode.Closed);
    expect((await queued).code).toBe(MllpErrorCode.Closed);
    expect((await failure(sender.send('three'))).code).toBe(MllpErrorCode.Closed);
  });

  it('reports frames that arrive while nothing is awaited', async () => {
    const { port } = await servers.start({
      handler: (payload, { connection }) => {
        setTimeout(() => void connection.send('late AA'), 5);
        return echo(payload);
      },
    });
    const sender = client(port);
    const unsolicited = new Promise<Buffer>((resolve) => sender.once('unsolicitedFrame', resolve));
    expect((await sender.send('M')).toString()).toBe('ACK:M');
    expect((await unsolicited).toString()).toBe('late AA');
  });
});

describe('MllpClientPool', () => {
  it('spreads sends over its connections and keeps the order of sends that share a key', async () => {
    const seen = new Map<string, string[]>();
    const connectionIds = new Set<string>();
    const { port } = await servers.start({
      handler: async (payload, { connection }) => {
        connectionIds.add(connection.id);
        const [key] = payload.toString().split(':');
        seen.set(key!, [...(seen.get(key!) ?? []), payload.toString()]);
        await sleep(Math.random() * 3);
        return echo(payload);
      },
    });
    const pool = new MllpClientPool({ host: '127.0.0.1', port, size: 4 });
    clients.push(pool);
    const keys = Array.from({ length: 12 }, (_, index) => `patient${index}`);
    const sends: Promise<Buffer>[] = [];
    const expected = new Map<string, string[]>();
    for (let round = 0; round < 15; round += 1) {
      for (const key of keys) {
        const payload = `${key}:${round}`;
        expected.set(key, [...(expected.get(key) ?? []), payload]);
        sends.push(pool.send(payload, { key }));
      }
    }
    const replies = await Promise.all(sends);
    expect(replies.every((reply) => reply.toString().startsWith('ACK:'))).toBe(true);
    expect(seen).toEqual(expected);
    expect(connectionIds.size).toBe(4);
  });

  it('without a key, sends to the least busy connection', async () => {
    const connectionIds = new Set<string>();
    const { port } = await servers.start({
      handler: async (payload, { connection }) => {
        connectionIds.add(connection.id);
        await sleep(2);
        return echo(payload);
      },
    });
    const pool = new MllpClientPool({ host: '127.0.0.1', port, size: 3 });
    clients.push(pool);
    await Promise.all(Array.from({ length: 9 }, (_, index) => pool.send(`M${index}`)));
    expect(connectionIds.size).toBe(3);
  });
});

describe('MllpClient abort signal', () => {
  it('abandons a queued send before it is written, and an in-flight one while its reply is awaited', async () => {
    const gate = deferred();
    const entered = deferred();
    const seen: string[] = [];
    const { port } = await servers.start({
      handler: async (payload) => {
        seen.push(payload.toString());
        entered.resolve();
        if (payload.toString() === 'slow') await gate.promise;
        return echo(payload);
      },
    });
    const sender = client(port);
    const inFlightController = new AbortController();
    const queuedController = new AbortController();
    const inFlight = failure(sender.send('slow', { signal: inFlightController.signal }));
    const queued = failure(sender.send('queued', { signal: queuedController.signal }));
    queuedController.abort();
    await entered.promise; // 'slow' is written and being handled
    inFlightController.abort();
    expect(await inFlight).toMatchObject({
      code: MllpErrorCode.Closed,
      message: expect.stringContaining('awaiting its reply'),
    });
    expect(await queued).toMatchObject({
      code: MllpErrorCode.Closed,
      message: expect.stringContaining('before it was written'),
    });
    gate.resolve();
    expect((await sender.send('next')).toString()).toBe('ACK:next'); // on a fresh connection
    expect(seen).toEqual(['slow', 'next']);
  });
});
