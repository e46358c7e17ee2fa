// Interoperability with MLLP implementations that are not ours: @medplum/hl7 (client and server) and
// node-hl7-client (over TLS). The HL7 parsing here is test code (via @medplum/core): mllp/ itself has none.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hl7Message } from '@medplum/core';
import { Hl7Client, Hl7Server } from '@medplum/hl7';
import { Client as NodeHl7Client, Message as NodeHl7Message, type InboundResponse } from 'node-hl7-client';
import { afterEach, describe, expect, it } from 'vitest';
import { MllpClient } from './client.js';
import type { MllpFailure, MllpReply } from './server.js';
import { deferred, freePort, TestServers } from './test-support.js';

const ORU_TEMPLATE = readFileSync(new URL('./fixtures/oru-r01-lab.hl7', import.meta.url), 'utf8')
  .trim()
  .replace(/\n/g, '\r');

/** The fixture ORU with its own control id (MSH-10). */
function oru(controlId: string): string {
  return ORU_TEMPLATE.replace('|MSG00003|', `|${controlId}|`);
}

const servers = new TestServers();
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await servers.closeAll();
});

/**
 * A handler as the engine will write one: parse, refuse what is not an ORU^R01, record the delivery under
 * sender + control id + content hash (the engine's de-duplication key), answer AA.
 */
function labHandler() {
  const deliveries = new Map<string, number>();
  let acknowledged = 0;
  const handler = (
    payload: Buffer,
    { connection }: { connection: { id: string; remoteAddress: string } },
  ): MllpReply => {
    const message = Hl7Message.parse(payload.toString('utf8'));
    const type = message.getSegment('MSH')?.getField(9)?.toString();
    if (!type?.startsWith('ORU^R01'))
      throw new Error(`MSH-9 is ${type ?? 'missing'}; this channel accepts ORU^R01 only`);
    const controlId = message.getSegment('MSH')?.getField(10)?.toString() ?? '';
    const key = `${connection.remoteAddress}|${controlId}|${createHash('sha256').update(payload).digest('hex')}`;
    deliveries.set(key, (deliveries.get(key) ?? 0) + 1);
    acknowledged += 1;
    return { payload: message.buildAck({ ackCode: 'AA' }).toString() };
  };
  /** Answers a refused message with AR and an ERR segment naming the problem (as the engine will). */
  const onFailure = (failure: MllpFailure): MllpReply | undefined => {
    if (failure.code !== 'mllp.handler-failed') return undefined;
    const message = Hl7Message.parse(failure.payload.toString('utf8'));
    const reason = failure.error instanceof Error ? failure.error.message : String(failure.error);
    const ack = message.buildAck({ ackCode: 'AR' });
    ack.segments.push(
      Hl7Message.parse(`MSH|^~\\&|\rERR|||200^Unsupported message type^HL70357|E||||${reason}`).segments[1]!,
    );
    return { payload: ack.toString() };
  };
  return { handler, onFailure, deliveries, acknowledged: () => acknowledged };
}

function msa(reply: Hl7Message): { code: string | undefined; controlId: string | undefined } {
  return {
    code: reply.getSegment('MSA')?.getField(1)?.toString(),
    controlId: reply.getSegment('MSA')?.getField(2)?.toString(),
  };
}

describe('interoperability with third-party MLLP peers', () => {
  it('@medplum/hl7 Hl7Client: 16 connections × 25 ORU are all acknowledged AA, each handled exactly once', async () => {
    const lab = labHandler();
    const { port } = await servers.start({ handler: lab.handler, onFailure: lab.onFailure });
    const connections = 16;
    const perConnection = 25;
    const results = await Promise.all(
      Array.from({ length: connections }, async (_, c) => {
        const client = new Hl7Client({ host: '127.0.0.1', port });
        cleanups.push(() => client.close());
        const acks: { code: string | undefined; controlId: string | undefined }[] = [];
        for (let m = 0; m < perConnection; m += 1) {
          const reply = await client.sendAndWait(Hl7Message.parse(oru(`C${c}M${m}`)), { timeoutMs: 10_000 });
          acks.push(msa(reply));
        }
        return acks;
      }),
    );
    results.forEach((acks, c) => {
      expect(acks).toEqual(Array.from({ length: perConnection }, (_, m) => ({ code: 'AA', controlId: `C${c}M${m}` })));
    });
    expect(lab.acknowledged()).toBe(connections * perConnection);
    expect(lab.deliveries.size).toBe(connections * perConnection);
    expect([...lab.deliveries.values()].every((count) => count === 1)).toBe(true);
  });

  it('@medplum/hl7 Hl7Client: a message the handler refuses gets AR with an ERR segment, the connection goes on', async () => {
    const lab = labHandler();
    const { port } = await servers.start({ handler: lab.handler, onFailure: lab.onFailure });
    const client = new Hl7Client({ host: '127.0.0.1', port });
    cleanups.push(() => client.close());
    const adt = oru('BAD1').replace('ORU^R01^ORU_R01', 'ADT^A01^ADT_A01');
    const refused = await client.sendAndWait(Hl7Message.parse(adt), { timeoutMs: 10_000 });
    expect(msa(refused)).toEqual({ code: 'AR', controlId: 'BAD1' });
    expect(refused.getSegment('ERR')?.toString()).toContain('this channel accepts ORU^R01 only');
    const accepted = await client.sendAndWait(Hl7Message.parse(oru('GOOD1')), { timeoutMs: 10_000 });
    expect(msa(accepted)).toEqual({ code: 'AA', controlId: 'GOOD1' });
  });

  it('node-hl7-client over TLS: ORU messages are acknowledged AA', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keney-mllp-interop-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        'key.pem',
        '-out',
        'cert.pem',
        '-days',
        '2',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost,IP:127.0.0.1',
      ],
      { cwd: dir, stdio: 'pipe' },
    );
    const key = readFileSync(join(dir, 'key.pem'), 'utf8');
    const cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
    const lab = labHandler();
    const { port } = await servers.start({ handler: lab.handler, tls: { key, cert } });

    const count = 10;
    const acks: string[] = [];
    let nextAck = deferred();
    const client = new NodeHl7Client({ host: '127.0.0.1', tls: { ca: cert } });
    cleanups.push(() => client.closeAll());
    const connection = client.createConnection({ port, waitAck: true }, async (response: InboundResponse) => {
      const reply = response.getMessage();
      acks.push(`${reply.get('MSA.1').toString()} ${reply.get('MSA.2').toString()}`);
      nextAck.resolve();
    });
    await new Promise((resolve) => connection.once('connect', resolve));
    // Like a real HL7 sender, wait for each ACK before the next message. (node-hl7-client 3.2.0 spins forever
    // flushing its queue when several messages are queued while one awaits its ACK.)
    for (let index = 0; index < count; index += 1) {
      nextAck = deferred();
      await connection.sendMessage(new NodeHl7Message({ text: oru(`TLS${index}`) }));
      await nextAck.promise;
    }
    expect(acks).toEqual(Array.from({ length: count }, (_, index) => `AA TLS${index}`));
  });

  it('our MllpClient against @medplum/hl7 Hl7Server, in original and enhanced acknowledgment modes', async () => {
    const port = await freePort();
    const received: string[] = [];
    const server = new Hl7Server((connection) => {
      connection.addEventListener('message', ({ message }: { message: Hl7Message }) => {
        received.push(message.getSegment('MSH')?.getField(10)?.toString() ?? '');
        connection.send(message.buildAck({ ackCode: 'AA' }));
      });
    });
    server.start(port);
    cleanups.push(() => server.stop({ forceDrainTimeoutMs: 100 }));
    await new Promise<void>((resolve) =>
      server.server!.listening ? resolve() : server.server!.once('listening', () => resolve()),
    );

    const client = new MllpClient({ host: '127.0.0.1', port, ackTimeoutMs: 10_000 });
    cleanups.push(() => client.close());
    for (let index = 0; index < 5; index += 1) {
      const reply = Hl7Message.parse((await client.send(oru(`OURS${index}`))).toString());
      expect(msa(reply)).toEqual({ code: 'AA', controlId: `OURS${index}` });
    }
    expect(received).toEqual(['OURS0', 'OURS1', 'OURS2', 'OURS3', 'OURS4']);

    // Enhanced mode: the third-party server answers CA itself, then the application's AA.
    server.setEnhancedMode(true);
    const enhanced = new MllpClient({ host: '127.0.0.1', port, ackTimeoutMs: 10_000 });
    cleanups.push(() => enhanced.close());
    const intermediate: string[] = [];
    const final = await enhanced.send(oru('ENH1'), {
      isFinalReply: (reply) => msa(Hl7Message.parse(reply.toString())).code !== 'CA',
      onIntermediateReply: (reply) => intermediate.push(msa(Hl7Message.parse(reply.toString())).code ?? ''),
    });
    expect(msa(Hl7Message.parse(final.toString()))).toEqual({ code: 'AA', controlId: 'ENH1' });
    expect(intermediate).toEqual(['CA']);
  });
});
