// Acceptance 4 and the hostile peers of an MLLP destination, on one hub profile: a destination that is down
// queues, retries with backoff and delivers in order when it comes back (the peer is @medplum/hl7's Hl7Server,
// not ours); after N failures the message is in the dead letter, visible and replayable; a peer that hangs,
// answers garbage, AE or AR is handled as each deserves; alerts fire (log + webhook) and clear.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Hl7Message } from '@medplum/core';
import { Hl7Server } from '@medplum/hl7';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MllpClient, MllpServer, type MllpReply } from '../../mllp/index.js';
import { freePort } from '../../mllp/test-support.js';
import { adt, eventually, openChannelHub, readAckText, type ChannelTestHub } from '../../engine/test-support.js';
import type { HubProfile } from '../../test/hub-harness.js';

function routeChannel(downstream: number, retry: string, extra = ''): string {
  return `source:
  type: mllp
  host: 127.0.0.1
  port: 0
destinations:
  - type: mllp
    name: lis
    host: 127.0.0.1
    port: ${downstream}
    ackTimeoutMs: 500
    connectTimeoutMs: 500
    retry: ${retry}
${extra}`;
}

async function startMedplumServer(port: number, received: string[]): Promise<Hl7Server> {
  const server = new Hl7Server((connection) => {
    connection.addEventListener('message', ({ message }: { message: Hl7Message }) => {
      received.push(message.getSegment('MSH')?.getField(10)?.toString() ?? '');
      connection.send(message.buildAck({ ackCode: 'AA' }));
    });
  });
  server.start(port);
  await new Promise<void>((resolve) =>
    server.server!.listening ? resolve() : server.server!.once('listening', () => resolve()),
  );
  return server;
}

export function describeMllpDestination(profile: HubProfile): void {
  describe(`MLLP destination (${profile})`, () => {
    let hub: ChannelTestHub;
    const ports: Record<string, number> = {};
    const webhookCalls: { state: string; kind: string; destination?: string }[] = [];
    let webhook: Server;
    const cleanups: (() => Promise<unknown>)[] = [];

    beforeAll(async () => {
      webhook = createServer((request, response) => {
        let body = '';
        request.on('data', (c: Buffer) => (body += c.toString()));
        request.on('end', () => {
          webhookCalls.push(JSON.parse(body) as { state: string; kind: string });
          response.writeHead(204).end();
        });
      });
      await new Promise<void>((resolve) => webhook.listen(0, '127.0.0.1', resolve));
      const hookUrl = `http://127.0.0.1:${(webhook.address() as AddressInfo).port}/alerts`;
      for (const name of ['down', 'dead', 'hang', 'garbage', 'refuse', 'flaky']) ports[name] = await freePort();
      hub = await openChannelHub(profile, {
        down: routeChannel(
          ports.down!,
          '{ maxAttempts: 1000, initialDelayMs: 50, maxDelayMs: 200 }',
          `alerts:\n  consecutiveFailures: 3\n  queueDepth: 4\n  webhook: ${hookUrl}\n`,
        ),
        dead: routeChannel(ports.dead!, '{ maxAttempts: 3, initialDelayMs: 20, maxDelayMs: 50 }'),
        hang: routeChannel(ports.hang!, '{ maxAttempts: 2, initialDelayMs: 20, maxDelayMs: 50 }'),
        garbage: routeChannel(ports.garbage!, '{ maxAttempts: 2, initialDelayMs: 20, maxDelayMs: 50 }'),
        refuse: routeChannel(ports.refuse!, '{ maxAttempts: 5, initialDelayMs: 20, maxDelayMs: 50 }'),
        flaky: routeChannel(ports.flaky!, '{ maxAttempts: 10, initialDelayMs: 20, maxDelayMs: 50 }'),
      });
    });
    afterAll(async () => {
      for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
      await hub?.close();
      await new Promise((resolve) => webhook?.close(resolve));
    });

    const sendAll = async (channel: string, ids: string[]) => {
      const client = new MllpClient({
        host: '127.0.0.1',
        port: hub.channels.engine!.listenerPort(channel)!,
        ackTimeoutMs: 20_000,
      });
      try {
        for (const id of ids) expect(readAckText(await client.send(adt(id, `P-${id}`))).code).toBe('AA');
      } finally {
        await client.close();
      }
    };
    const rows = async (channel: string) =>
      (await hub.channels.messages!.search({ channel, limit: 1000, ascending: true })).messages;
    const view = (channel: string) => hub.channels.engine!.view(channel);
    const mllpPeer = async (port: number, reply: (payload: Buffer) => MllpReply | Promise<MllpReply>) => {
      const server = new MllpServer({ host: '127.0.0.1', port, handler: reply, handlerTimeoutMs: 0 });
      await server.listen();
      cleanups.push(() => server.close({ timeoutMs: 200 }));
      return server;
    };

    it('queues while the destination is down, retries with backoff, and delivers in order when it comes back', async () => {
      const ids = Array.from({ length: 8 }, (_, i) => `DOWN-${i}`);
      await sendAll('down', ids);
      // Accepted and queued (the ACK came after the queue rows were durable), retried with growing delays.
      expect((await rows('down')).map((m) => m.status)).toEqual(ids.map(() => 'queued'));
      const head = await eventually(async () => {
        const detail = await hub.channels.messages!.get((await rows('down'))[0]!.id);
        return detail.deliveries[0]!.attempts >= 4 ? detail.deliveries[0]! : undefined;
      }, 'several attempts on the head of the queue');
      expect(head.status).toBe('pending');
      expect(head.lastError).toMatch(/refused|ECONNREFUSED/i);
      // Nothing behind the head was tried: order is kept.
      const second = await hub.channels.messages!.get((await rows('down'))[1]!.id);
      expect(second.deliveries[0]!.attempts).toBe(0);
      // The alerts: failures in a row, and the queue above its threshold (log + webhook).
      await eventually(
        () => webhookCalls.some((c) => c.kind === 'delivery-failures' && c.state === 'firing'),
        'the failure alert on the webhook',
      );
      await eventually(
        () => webhookCalls.some((c) => c.kind === 'queue-depth' && c.state === 'firing'),
        'the queue alert on the webhook',
      );
      const alerts = (await hub.hub.app.inject({ method: 'GET', url: '/admin/alerts', headers: hub.auth })).json() as {
        alerts: { kind: string }[];
      };
      expect(alerts.alerts.map((a) => a.kind).sort()).toEqual(['delivery-failures', 'queue-depth']);
      await eventually(
        () => view('down').destinations[0]!.pending === 8 || undefined,
        'the queue depth in the channel view',
      );

      const received: string[] = [];
      const server = await startMedplumServer(ports.down!, received);
      cleanups.push(() => server.stop({ forceDrainTimeoutMs: 100 }));
      await eventually(() => received.length === ids.length, 'every message delivered', 30_000);
      expect(received).toEqual(ids);
      await eventually(async () => (await rows('down')).every((m) => m.status === 'sent'), 'every message sent');
      const detail = await hub.channels.messages!.get((await rows('down'))[0]!.id);
      expect(detail.deliveries[0]).toMatchObject({ status: 'sent' });
      expect(detail.deliveries[0]!.response).toContain('MSA|AA|DOWN-0');
      await eventually(
        () => webhookCalls.some((c) => c.kind === 'delivery-failures' && c.state === 'resolved'),
        'the failure alert resolved',
      );
    });

    it('moves a message to the dead letter after N failures: visible, then replayable', async () => {
      await sendAll('dead', ['DEAD-1', 'DEAD-2']);
      const dead = await eventually(async () => {
        const r = await rows('dead');
        return r.every((m) => m.status === 'error') ? r : undefined;
      }, 'both messages in the dead letter');
      for (const m of dead) {
        const detail = await hub.channels.messages!.get(m.id);
        expect(detail.errorStage).toBe('destination');
        expect(detail.deliveries[0]).toMatchObject({ status: 'dead', attempts: 3 });
        expect(detail.errors[0]).toMatchObject({ code: 'DEAD_LETTER', destination: 'lis' });
      }
      const listed = (
        await hub.hub.app.inject({
          method: 'GET',
          url: '/admin/messages?channel=dead&status=error&errorStage=destination',
          headers: hub.auth,
        })
      ).json() as { messages: unknown[] };
      expect(listed.messages).toHaveLength(2);
      await eventually(() => view('dead').destinations[0]!.dead === 2 || undefined, 'the dead-letter count');

      const received: string[] = [];
      const server = await startMedplumServer(ports.dead!, received);
      cleanups.push(() => server.stop({ forceDrainTimeoutMs: 100 }));
      const replay = await hub.hub.app.inject({
        method: 'POST',
        url: '/admin/messages/replay',
        headers: hub.auth,
        payload: { ids: dead.map((m) => m.id), destination: 'lis' },
      });
      expect(replay.statusCode).toBe(200);
      await eventually(() => received.length === 2, 'the replayed deliveries');
      expect(received).toEqual(['DEAD-1', 'DEAD-2']);
      await eventually(
        async () => (await rows('dead')).every((m) => m.status === 'sent'),
        'the messages sent after replay',
      );
      const detail = await hub.channels.messages!.get(dead[0]!.id);
      expect(detail.deliveries.map((d) => [d.generation, d.status])).toEqual([
        [0, 'dead'],
        [1, 'sent'],
      ]);
    });

    it('gives up on a destination that never answers (ACK timeout), and on one that answers garbage', async () => {
      await mllpPeer(ports.hang!, () => new Promise<MllpReply>(() => undefined));
      await mllpPeer(ports.garbage!, () => ({ payload: 'HELLO, I am not HL7' }));
      await sendAll('hang', ['HANG-1']);
      await sendAll('garbage', ['GARBAGE-1']);
      const hang = await eventually(async () => {
        const [m] = await rows('hang');
        return m?.status === 'error' ? hub.channels.messages!.get(m.id) : undefined;
      }, 'the hanging destination given up');
      expect(hang.deliveries[0]!.lastError).toMatch(/ack|answer|timeout/i);
      const garbage = await eventually(async () => {
        const [m] = await rows('garbage');
        return m?.status === 'error' ? hub.channels.messages!.get(m.id) : undefined;
      }, 'the garbage answer given up');
      expect(garbage.deliveries[0]!.lastError).toContain('not an acknowledgment');
      expect(garbage.deliveries[0]!.response).toContain('HELLO');
    });

    it('dead-letters an AR at once (resending cannot help) and retries an AE until it passes, keeping order', async () => {
      await mllpPeer(ports.refuse!, (payload) => ({ payload: ackText(payload, 'AR', 'unknown patient') }));
      await sendAll('refuse', ['AR-1']);
      const refused = await eventually(async () => {
        const [m] = await rows('refuse');
        return m?.status === 'error' ? hub.channels.messages!.get(m.id) : undefined;
      }, 'the refused message');
      expect(refused.deliveries[0]).toMatchObject({ status: 'dead', attempts: 1 });
      expect(refused.deliveries[0]!.lastError).toContain('AR');
      expect(refused.deliveries[0]!.response).toContain('MSA|AR|AR-1');

      let errorsLeft = 2;
      const received: string[] = [];
      await mllpPeer(ports.flaky!, (payload) => {
        const id = /\|ADT\^A01\^ADT_A01\|([^|]+)\|/.exec(payload.toString())![1]!;
        if (id === 'FLAKY-1' && errorsLeft-- > 0) return { payload: ackText(payload, 'AE', 'database busy') };
        received.push(id);
        return { payload: ackText(payload, 'AA') };
      });
      await sendAll('flaky', ['FLAKY-1', 'FLAKY-2', 'FLAKY-3']);
      await eventually(() => received.length === 3, 'the flaky destination caught up');
      expect(received).toEqual(['FLAKY-1', 'FLAKY-2', 'FLAKY-3']);
      const first = await hub.channels.messages!.get((await rows('flaky'))[0]!.id);
      expect(first.deliveries[0]).toMatchObject({ status: 'sent', attempts: 3 });
    });

    it('pauses (the listener closes, queues keep draining) and stops a channel from the admin API', async () => {
      const port = hub.channels.engine!.listenerPort('down')!;
      const paused = await hub.hub.app.inject({ method: 'POST', url: '/admin/channels/down/pause', headers: hub.auth });
      expect(paused.json()).toMatchObject({ state: 'paused', source: { listening: false } });
      const client = new MllpClient({ host: '127.0.0.1', port, connectTimeoutMs: 500, reconnect: { maxAttempts: 1 } });
      await expect(client.send(adt('PAUSED-1', 'P'))).rejects.toMatchObject({ code: 'mllp.connection-refused' });
      await client.close();
      expect(view('down').destinations[0]!.draining).toBe(true);
      const stopped = await hub.hub.app.inject({ method: 'POST', url: '/admin/channels/down/stop', headers: hub.auth });
      expect(stopped.json()).toMatchObject({ state: 'stopped', destinations: [{ draining: false }] });
      const started = await hub.hub.app.inject({
        method: 'POST',
        url: '/admin/channels/down/start',
        headers: hub.auth,
      });
      expect(started.json()).toMatchObject({ state: 'started', source: { listening: true } });
      const reader = await hub.hub.app.inject({ method: 'POST', url: '/admin/channels/nope/start', headers: hub.auth });
      expect(reader.statusCode).toBe(404);
    });
  });
}

/** An ACK for a received payload (the peer side of the tests), via @medplum/core. */
function ackText(payload: Buffer, code: 'AA' | 'AE' | 'AR', text?: string): string {
  const ack = Hl7Message.parse(payload.toString()).buildAck({ ackCode: code });
  if (text)
    ack.segments.push(
      Hl7Message.parse(`MSH|^~\\&|\rERR|||207^Application internal error^HL70357|E||||${text}`).segments[1]!,
    );
  return ack.toString();
}
