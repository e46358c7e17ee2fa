import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MllpClient } from './client.js';
import { MllpErrorCode, type MllpError } from './errors.js';
import { MllpCloseReason, type MllpConnectionSummary, type MllpFailure, type MllpReply } from './server.js';
import { connectRaw, deferred, frame, TestServers, waitForEvent } from './test-support.js';

const servers = new TestServers();
afterEach(() => servers.closeAll());

const echo = (payload: Buffer): MllpReply => ({ payload: `ACK:${payload.toString()}` });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function closedSummary(server: {
  once(event: 'connectionClosed', listener: (c: unknown, s: MllpConnectionSummary) => void): unknown;
}) {
  return new Promise<MllpConnectionSummary>((resolve) =>
    server.once('connectionClosed', (_c, summary) => resolve(summary)),
  );
}

describe('MllpServer', () => {
  it('answers 16 concurrent pipelining connections, each in its own order, with a handler of random latency', async () => {
    const inFlight = new Map<string, number>();
    let maxPerConnection = 0;
    let concurrent = 0;
    let maxConcurrent = 0;
    const seen = new Map<string, string[]>();
    const { port } = await servers.start({
      handler: async (payload, { connection, frameNumber }) => {
        const now = (inFlight.get(connection.id) ?? 0) + 1;
        inFlight.set(connection.id, now);
        maxPerConnection = Math.max(maxPerConnection, now);
        maxConcurrent = Math.max(maxConcurrent, ++concurrent);
        const list = seen.get(connection.id) ?? [];
        list.push(payload.toString());
        seen.set(connection.id, list);
        await sleep(Math.random() * 4);
        concurrent -= 1;
        inFlight.set(connection.id, now - 1);
        return { payload: `ACK:${payload.toString()}:#${frameNumber}` };
      },
    });
    const perConnection = 40;
    const peers = await Promise.all(Array.from({ length: 16 }, () => connectRaw(port)));
    peers.forEach((peer) => servers.track(peer.socket));
    // Each connection writes all its frames at once, without waiting for ACKs (a pipelining sender).
    peers.forEach((peer, c) => {
      peer.socket.write(Buffer.concat(Array.from({ length: perConnection }, (_, m) => frame(`C${c}-M${m}`))));
    });
    const replies = await Promise.all(
      peers.map(async (peer) => {
        const got: string[] = [];
        for (let m = 0; m < perConnection; m += 1) got.push((await peer.nextFrame()).toString());
        return got;
      }),
    );
    replies.forEach((got, c) => {
      expect(got).toEqual(Array.from({ length: perConnection }, (_, m) => `ACK:C${c}-M${m}:#${m + 1}`));
    });
    expect(maxPerConnection).toBe(1); // one frame at a time per connection…
    expect(maxConcurrent).toBeGreaterThan(1); // …while connections proceed in parallel
    expect([...seen.values()].every((list) => list.length === perConnection)).toBe(true);
  });

  it('stops reading a fast sender while its handler is slow (backpressure reaches the sender)', async () => {
    const frameBytes = 64 * 1024;
    const count = 512; // 32 MiB
    let received = 0;
    let handledBytes = 0;
    let maxAhead = 0;
    const order: number[] = [];
    const { server, port } = await servers.start({
      maxFrameBytes: frameBytes + 16,
      handler: async (payload) => {
        order.push(Number(payload.subarray(0, 6).toString()));
        await sleep(1);
        handledBytes += payload.length + 3;
        return { payload: 'ok' };
      },
    });
    server.on('bytesReceived', (_connection, bytes) => {
      received += bytes;
      maxAhead = Math.max(maxAhead, received - handledBytes);
    });
    const peer = await connectRaw(port);
    servers.track(peer.socket);
    let refusedWrites = 0;
    for (let index = 0; index < count; index += 1) {
      const body = Buffer.alloc(frameBytes, 0x41);
      body.write(String(index).padStart(6, '0'));
      if (!peer.socket.write(frame(body))) refusedWrites += 1;
    }
    for (let index = 0; index < count; index += 1) await peer.nextFrame();
    expect(order).toEqual(Array.from({ length: count }, (_, index) => index));
    expect(refusedWrites).toBeGreaterThan(0); // the sender had to wait
    // The server never held more than a few socket reads beyond what it had answered — not the 32 MiB sent.
    expect(maxAhead).toBeLessThan(2 * 1024 * 1024);
  });

  it('closes a connection that stays idle, but not one whose handler is still working', async () => {
    const { server, port } = await servers.start({
      idleTimeoutMs: 100,
      handler: async (payload) => {
        if (payload.toString() === 'slow') await sleep(400);
        return echo(payload);
      },
    });
    const busy = await connectRaw(port);
    servers.track(busy.socket);
    busy.socket.write(frame('slow'));
    expect((await busy.nextFrame()).toString()).toBe('ACK:slow');

    const summary = closedSummary(server);
    const idle = await connectRaw(port);
    await idle.closed;
    expect((await summary).reason).toBe(MllpCloseReason.IdleTimeout);
    await busy.closed; // and the busy one, once idle in turn
  });

  it('closes a connection whose peer stops reading its replies, once the writes stall for the idle timeout', async () => {
    const big = Buffer.alloc(4 * 1024 * 1024, 0x41);
    const { server, port } = await servers.start({ idleTimeoutMs: 100, handler: () => ({ payload: big }) });
    const summary = closedSummary(server);
    const peer = await connectRaw(port);
    servers.track(peer.socket);
    peer.socket.pause(); // a hostile peer: sends, never reads
    peer.socket.write(Buffer.concat(Array.from({ length: 8 }, (_, index) => frame(`M${index}`))));
    const closed = await summary;
    expect(closed.reason).toBe(MllpCloseReason.IdleTimeout);
    expect(closed.framesReceived).toBeLessThan(8); // it stopped taking frames while its replies could not be sent
  });

  it('refuses connections beyond maxConnections politely and accepts again once one closes', async () => {
    const { server, port } = await servers.start({ maxConnections: 2, handler: echo });
    const refusals: MllpError[] = [];
    server.on('connectionRefused', (_peer, error) => refusals.push(error));
    const first = await connectRaw(port);
    const second = await connectRaw(port);
    for (const peer of [first, second]) {
      servers.track(peer.socket);
      peer.socket.write(frame('hello'));
      expect((await peer.nextFrame()).toString()).toBe('ACK:hello');
    }
    const third = await connectRaw(port);
    servers.track(third.socket);
    await third.closed;
    expect(third.frames).toEqual([]);
    expect(refusals.map((error) => error.code)).toEqual([MllpErrorCode.TooManyConnections]);
    expect(refusals[0]?.message).toContain('2 connections are already open');

    const freed = closedSummary(server);
    first.socket.end();
    await freed;
    const fourth = await connectRaw(port);
    servers.track(fourth.socket);
    fourth.socket.write(frame('again'));
    expect((await fourth.nextFrame()).toString()).toBe('ACK:again');
    second.socket.write(frame('still open'));
    expect((await second.nextFrame()).toString()).toBe('ACK:still open');
  });

  it('survives a handler that throws or rejects: closes the connection without a fallback, answers with one', async () => {
    const failures: MllpError[] = [];
    const handler = async (payload: Buffer): Promise<MllpReply> => {
      const text = payload.toString();
      if (text === 'throw') throw new TypeError('cannot read MSH-9');
      if (text === 'reject') return Promise.reject(new Error('database down'));
      return echo(payload);
    };
    const bare = await servers.start({
      handler: (payload) => {
        if (payload.toString() === 'sync') throw new Error('sync boom'); // a synchronous throw, not a rejection
        return handler(payload);
      },
    });
    bare.server.on('handlerFailed', (_connection, error) => failures.push(error));
    const summary = closedSummary(bare.server);
    const peer = await connectRaw(bare.port);
    servers.track(peer.socket);
    peer.socket.write(frame('sync'));
    await peer.closed;
    expect(peer.frames).toEqual([]);
    expect((await summary).reason).toBe(MllpCloseReason.Failure);
    expect(failures[0]?.code).toBe(MllpErrorCode.HandlerFailed);
    expect(failures[0]?.message).toContain('sync boom');

    const seenFailures: MllpFailure[] = [];
    const withFallback = await servers.start({
      handler,
      onFailure: (failure) => {
        seenFailures.push(failure);
        return failure.code === MllpErrorCode.HandlerFailed
          ? { payload: `NACK:${(failure.error as Error).message}` }
          : undefined;
      },
    });
    const client = new MllpClient({ host: '127.0.0.1', port: withFallback.port });
    try {
      expect((await client.send('throw')).toString()).toBe('NACK:cannot read MSH-9');
      expect((await client.send('reject')).toString()).toBe('NACK:database down');
      expect((await client.send('fine')).toString()).toBe('ACK:fine'); // same connection, still serving
      expect(seenFailures.map((f) => f.code === MllpErrorCode.HandlerFailed && f.payload.toString())).toEqual([
        'throw',
        'reject',
      ]);
    } finally {
      await client.close();
    }
  });

  it('treats a reply that cannot be framed as a handler failure', async () => {
    const { server, port } = await servers.start({
      handler: () => ({ payload: Buffer.from([0x41, 0x1c, 0x42]) }),
      onFailure: (failure) => ({ payload: `fallback:${failure.code}` }),
    });
    const failures: string[] = [];
    server.on('handlerFailed', (_c, error) => failures.push(error.message));
    const client = new MllpClient({ host: '127.0.0.1', port });
    try {
      expect((await client.send('x')).toString()).toBe('fallback:mllp.handler-failed');
      expect(failures[0]).toMatch(/cannot be sent: .*0x1C/);
    } finally {
      await client.close();
    }
  });

  it('treats a handler that returns no reply object (a JavaScript caller’s bug) as a failure, not a crash', async () => {
    const { port } = await servers.start({
      handler: ((payload: Buffer) =>
        payload.toString() === 'sync' ? undefined : Promise.resolve(null)) as unknown as () => MllpReply,
      onFailure: (failure) => ({
        payload: `fallback:${failure.code === MllpErrorCode.HandlerFailed && (failure.error as Error).message}`,
      }),
    });
    const client = new MllpClient({ host: '127.0.0.1', port });
    try {
      expect((await client.send('sync')).toString()).toMatch(/^fallback:.*with undefined instead of an MllpReply/);
      expect((await client.send('async')).toString()).toMatch(/^fallback:.*with null instead of an MllpReply/);
    } finally {
      await client.close();
    }
  });

  it('on a handler timeout, aborts the handler signal and closes the connection when there is no fallback', async () => {
    const aborted = deferred<unknown>();
    const { server, port } = await servers.start({
      handlerTimeoutMs: 50,
      handler: (_payload, { signal }) =>
        new Promise<MllpReply>((resolve) => {
          signal.addEventListener('abort', () => {
            aborted.resolve(signal.reason);
            resolve({ payload: 'too late' });
          });
        }),
    });
    const summary = closedSummary(server);
    const peer = await connectRaw(port);
    servers.track(peer.socket);
    peer.socket.write(frame('M1'));
    await peer.closed;
    expect(peer.frames).toEqual([]);
    expect(((await aborted.promise) as MllpError).code).toBe(MllpErrorCode.HandlerTimeout);
    expect((await summary).reason).toBe(MllpCloseReason.Failure);
  });

  it('on a handler timeout with a fallback, answers it, drops the late reply and keeps the order', async () => {
    const started: string[] = [];
    const { port } = await servers.start({
      handlerTimeoutMs: 50,
      handler: async (payload, { signal }) => {
        started.push(payload.toString());
        if (payload.toString() === 'slow') {
          await new Promise((resolve) => signal.addEventListener('abort', resolve));
          await sleep(20); // finishes after its timeout…
          started.push('slow settled');
          return { payload: 'late reply' };
        }
        return echo(payload);
      },
      onFailure: (failure) => (failure.code === MllpErrorCode.HandlerTimeout ? { payload: 'AE:timeout' } : undefined),
    });
    const peer = await connectRaw(port);
    servers.track(peer.socket);
    peer.socket.write(Buffer.concat([frame('slow'), frame('next')]));
    expect((await peer.nextFrame()).toString()).toBe('AE:timeout');
    expect((await peer.nextFrame()).toString()).toBe('ACK:next');
    expect(started).toEqual(['slow', 'slow settled', 'next']); // …and before the next frame started
    expect(peer.frames.map(String)).not.toContain('late reply');
  });

  it('answers framing failures through onFailure (oversized frame with its head, empty frame) and goes on', async () => {
    const failures: MllpFailure[] = [];
    const { port } = await servers.start({
      maxFrameBytes: 1000,
      handler: echo,
      onFailure: (failure) => {
        failures.push(failure);
        if ('framing' in failure)
          return { payload: `AR:${failure.code}:${failure.framing.head.subarray(0, 8).toString()}` };
        return undefined;
      },
    });
    const peer = await connectRaw(port);
    servers.track(peer.socket);
    const oversized = Buffer.alloc(5000, 0x58);
    oversized.write('MSH|^~\\&');
    peer.socket.write(Buffer.concat([frame('one'), frame(oversized), Buffer.from([0x0b, 0x1c, 0x0d]), frame('two')]));
    const replies = [];
    for (let index = 0; index < 4; index += 1) replies.push((await peer.nextFrame()).toString());
    expect(replies).toEqual(['ACK:one', 'AR:mllp.frame-too-large:MSH|^~\\&', 'AR:mllp.empty-frame:', 'ACK:two']);
    expect(failures[0]?.code === MllpErrorCode.FrameTooLarge && failures[0].framing.byteCount).toBe(5000);
  });

  it('closes the connection after an oversized frame when no fallback is configured', async () => {
    const { server, port } = await servers.start({ maxFrameBytes: 100, handler: echo });
    const errors: string[] = [];
    server.on('frameError', (_c, error) => errors.push(error.code));
    const peer = await connectRaw(port);
    servers.track(peer.socket);
    peer.socket.write(Buffer.concat([frame('ok'), frame(Buffer.alloc(1000, 0x41)), frame('never')]));
    await peer.closed;
    expect(peer.frames.map(String)).toEqual(['ACK:ok']);
    expect(errors).toEqual([MllpErrorCode.FrameTooLarge]);
  });

  it('ignores a little junk (an HTTP probe) but closes a connection that floods bytes outside frames', async () => {
    const { server, port } = await servers.start({ maxBytesOutsideFrame: 10_000, handler: echo });
    const frameErrors: { code: string; head: string }[] = [];
    server.on('frameError', (_c, error) => frameErrors.push({ code: error.code, head: error.head.toString('latin1') }));
    const probe = await connectRaw(port);
    servers.track(probe.socket);
    probe.socket.write('GET / HTTP/1.1\r\nHost: hub\r\n\r\n');
    probe.socket.write(frame('after probe'));
    expect((await probe.nextFrame()).toString()).toBe('ACK:after probe');
    expect(frameErrors[0]).toEqual({
      code: MllpErrorCode.BytesOutsideFrame,
      head: 'GET / HTTP/1.1\r\nHost: hub\r\n\r\n',
    });

    const summary = closedSummary(server);
    const flood = await connectRaw(port);
    servers.track(flood.socket);
    flood.socket.write(Buffer.alloc(50_000, 0x2a));
    await flood.closed;
    expect((await summary).reason).toBe(MllpCloseReason.BytesOutsideFrame);
    // The listener is still up for others.
    probe.socket.write(frame('still here'));
    expect((await probe.nextFrame()).toString()).toBe('ACK:still here');
  });

  it('lets the handler answer CA at once and AA later on the same connection (enhanced acknowledgment)', async () => {
    const { port } = await servers.start({
      handler: (payload, { connection }) => {
        setTimeout(() => void connection.send(`AA:${payload.toString()}`), 10);
        return { payload: `CA:${payload.toString()}` };
      },
    });
    const client = new MllpClient({ host: '127.0.0.1', port });
    const intermediate: string[] = [];
    try {
      const reply = await client.send('M1', {
        isFinalReply: (r) => !r.toString().startsWith('CA:'),
        onIntermediateReply: (r) => intermediate.push(r.toString()),
      });
      expect(reply.toString()).toBe('AA:M1');
      expect(intermediate).toEqual(['CA:M1']);
    } finally {
      await client.close();
    }
  });

  it('exposes the connection to the handler and reports opened/received/sent/closed events with counts', async () => {
    const contexts: { id: string; remoteAddress: string; remotePort: number; secure: boolean; frameNumber: number }[] =
      [];
    const { server, port } = await servers.start({
      handler: (payload, { connection, frameNumber }) => {
        contexts.push({
          id: connection.id,
          remoteAddress: connection.remoteAddress,
          remotePort: connection.remotePort,
          secure: connection.secure,
          frameNumber,
        });
        return echo(payload);
      },
    });
    const events: string[] = [];
    server.on('connectionOpened', (c) => events.push(`opened ${c.id}`));
    server.on('frameReceived', (c, f) => events.push(`frame ${c.id} #${f.frameNumber} ${f.bytes}B`));
    server.on('replySent', (c, r) => events.push(`reply ${c.id} #${r.frameNumber} ${r.bytes}B`));
    server.on('frameReceived', () => {
      throw new Error('a broken metrics listener');
    });
    const summary = closedSummary(server);
    const peer = await connectRaw(port);
    peer.socket.write(Buffer.concat([frame('abc'), frame('de')]));
    await peer.nextFrame();
    await peer.nextFrame();
    peer.socket.end();
    const closed = await summary;
    expect(contexts.map((c) => [c.id, c.frameNumber, c.secure])).toEqual([
      ['c1', 1, false],
      ['c1', 2, false],
    ]);
    expect(contexts[0]?.remoteAddress).toBe('127.0.0.1');
    expect(contexts[0]?.remotePort).toBe(peer.socket.localPort);
    expect(events).toEqual(['opened c1', 'frame c1 #1 3B', 'reply c1 #1 7B', 'frame c1 #2 2B', 'reply c1 #2 6B']);
    expect(closed).toMatchObject({
      reason: MllpCloseReason.PeerClosed,
      framesReceived: 2,
      bytesReceived: 11,
      bytesSent: 19,
      framesDropped: 0,
    });
  });

  it('closes gracefully: stops accepting, finishes the running handler, drops unstarted frames, then closes', async () => {
    const gate = deferred();
    const entered = deferred();
    const handled: string[] = [];
    const { server, port } = await servers.start({
      handler: async (payload) => {
        handled.push(payload.toString());
        entered.resolve();
        await gate.promise;
        return echo(payload);
      },
    });
    const summary = closedSummary(server);
    const peer = await connectRaw(port);
    servers.track(peer.socket);
    peer.socket.write(Buffer.concat([frame('first'), frame('second')]));
    await entered.promise;
    const closing = server.close();
    await expect(connectRaw(port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    gate.resolve();
    expect((await peer.nextFrame()).toString()).toBe('ACK:first');
    await peer.closed;
    await closing;
    expect(handled).toEqual(['first']);
    expect(await summary).toMatchObject({ reason: MllpCloseReason.ServerClosing, framesDropped: 1 });
  });

  it('destroys connections whose handlers outlive the close timeout', async () => {
    const { server, port } = await servers.start({
      handler: () => new Promise<MllpReply>(() => undefined),
      handlerTimeoutMs: 0,
    });
    const peer = await connectRaw(port);
    servers.track(peer.socket);
    peer.socket.write(frame('forever'));
    await waitForEvent(server, 'frameReceived');
    await server.close({ timeoutMs: 50 });
    await peer.closed;
    expect(peer.frames).toEqual([]);
  });

  it('lets the handler close the connection after its reply', async () => {
    const { port } = await servers.start({
      handler: (payload) => ({ payload: `bye:${payload.toString()}`, close: true }),
    });
    const peer = await connectRaw(port);
    servers.track(peer.socket);
    peer.socket.write(Buffer.concat([frame('a'), frame('b')]));
    await peer.closed;
    expect(peer.frames.map(String)).toEqual(['bye:a']);
  });

  it('rejects connection.send() after the connection closed, with a clear error', async () => {
    const sendLater = deferred<Promise<void>>();
    const { server, port } = await servers.start({
      handler: (_payload, { connection }) => {
        server.once('connectionClosed', () => sendLater.resolve(connection.send('AA')));
        return { payload: 'CA' };
      },
    });
    const peer = await connectRaw(port);
    peer.socket.write(frame('x'));
    await peer.nextFrame();
    peer.socket.destroy();
    expect(
      await sendLater.promise.then(
        () => 'sent',
        (error: MllpError) => error.code,
      ),
    ).toBe(MllpErrorCode.ConnectionClosed);
  });

  it('reports a refused listen (port in use) as an MllpError', async () => {
    const { port } = await servers.start({ handler: echo });
    await expect(servers.start({ port, handler: echo })).rejects.toMatchObject({
      code: MllpErrorCode.ConnectionRefused,
      message: expect.stringContaining('choose a free port'),
    });
  });

  it('keeps serving other connections when one peer resets mid-frame', async () => {
    const { port } = await servers.start({ handler: echo });
    const rude = await connectRaw(port);
    rude.socket.write(Buffer.from([0x0b, 0x4d, 0x53, 0x48]));
    rude.socket.resetAndDestroy();
    await rude.closed;
    const client = new MllpClient({ host: '127.0.0.1', port });
    try {
      expect((await client.send('hi')).toString()).toBe('ACK:hi');
    } finally {
      await client.close();
    }
  });
});

const FUZZ_CRASHERS = new URL('../../shared/corpus/hl7v2/nhapi/fuzz-crashers/', import.meta.url);

describe.skipIf(!existsSync(FUZZ_CRASHERS))('MllpServer with fuzzer-found HL7 inputs (nHapi corpus)', () => {
  it('delivers each hostile payload intact, in order, and keeps serving', async () => {
    const files = readdirSync(FUZZ_CRASHERS, { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => readFileSync(join(entry.parentPath, entry.name)))
      .filter((bytes) => bytes.length > 0);
    expect(files.length).toBeGreaterThan(30);
    const received: Buffer[] = [];
    const { port } = await servers.start({
      handler: (payload) => {
        received.push(payload);
        return { payload: `ACK ${received.length}` };
      },
    });
    const peer = await connectRaw(port);
    servers.track(peer.socket);
    peer.socket.write(Buffer.concat(files.map((bytes) => frame(bytes))));
    for (let index = 1; index <= files.length; index += 1)
      expect((await peer.nextFrame()).toString()).toBe(`ACK ${index}`);
    expect(received.every((payload, index) => payload.equals(files[index]!))).toBe(true);
  });
});
