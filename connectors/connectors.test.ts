// The file, HTTP and FHIR REST connectors in channels of a real (embedded) hub. The FHIR destination's peer is
// another hub's FHIR API (a real FHIR server, with its own token); the HTTP destination's peer is a plain HTTP
// server that misbehaves on purpose.
import { createServer, type Server } from 'node:http';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Bundle, Patient } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MllpClient } from '../mllp/index.js';
import { openTestHub, type TestHub } from '../test/hub-harness.js';
import { adt, eventually, openChannelHub, oru, readAckText, TEST_PATIENT_SYSTEM, type ChannelTestHub } from '../engine/test-support.js';
import { globToRegExp } from './file/file-source.js';
import { fileNameFor } from './file/file-destination.js';

describe('file, HTTP and FHIR REST connectors', () => {
  let hub: ChannelTestHub;
  let peer: TestHub;
  let peerUrl: string;
  let work: string;
  let http: Server;
  let httpUrl: string;
  const httpReceived: { body: string; type: string | undefined }[] = [];
  let httpAnswers: number[] = [];

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'keney-connectors-'));
    for (const d of ['in', 'done', 'out', 'drop']) await mkdir(join(work, d));
    http = createServer((request, response) => {
      let body = '';
      request.on('data', (c: Buffer) => (body += c.toString()));
      request.on('end', () => {
        const status = httpAnswers.shift() ?? 200;
        if (status === 200) httpReceived.push({ body, type: request.headers['content-type'] });
        response.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'thanks' : 'no');
      });
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    httpUrl = `http://127.0.0.1:${(http.address() as AddressInfo).port}/inbox`;
    peer = await openTestHub('embedded');
    peerUrl = `http://127.0.0.1:${(peer.hub.app.server.address() as AddressInfo).port}/fhir`;
    hub = await openChannelHub(
      'embedded',
      {
        files: `source:
  type: file
  directory: ${work}/in
  pattern: "*.hl7"
  pollIntervalMs: 100
  processedDirectory: ${work}/done
  maxMessageBytes: 2048
mapping: test/patient
destinations:
  - type: store
  - type: file
    name: bundles
    directory: ${work}/out
    content: bundle
    fileName: "{channel}-{controlId}.{ext}"
`,
        web: `source:
  type: http
  host: 127.0.0.1
  port: 0
  path: /hl7
  maxMessageBytes: 4096
mapping: test/patient
destinations:
  - type: store
  - type: http
    name: app
    url: ${httpUrl}
    headers: { x-api-key: secret }
    retry: { maxAttempts: 4, initialDelayMs: 20, maxDelayMs: 50 }
`,
        fhir: `source:
  type: mllp
  host: 127.0.0.1
  port: 0
mapping: test/patient
destinations:
  - type: fhir
    name: peer
    url: ${peerUrl}
    token: \${PEER_TOKEN}
    retry: { maxAttempts: 3, initialDelayMs: 20, maxDelayMs: 50 }
`,
      },
      { env: { PEER_TOKEN: peer.token } },
    );
  });
  afterAll(async () => {
    await hub?.close();
    await peer?.close();
    await new Promise((resolve) => http?.close(resolve));
    await rm(work, { recursive: true, force: true });
  });

  const statusOf = async (controlId: string) => (await hub.channels.messages!.search({ controlId })).messages[0];

  it('file source: takes each file once, moves it when done, sets aside what it refuses with the reason', async () => {
    await writeFile(join(work, 'in', 'a.hl7'), adt('FILE-1', 'PF1'));
    await writeFile(join(work, 'in', 'b.hl7'), 'not hl7 at all');
    await writeFile(join(work, 'in', 'c.hl7'), adt('FILE-3', 'PF3') + `NTE|1||${'x'.repeat(4000)}\r`);
    await writeFile(join(work, 'in', 'ignored.txt'), adt('FILE-4', 'PF4'));
    await eventually(async () => (await readdir(join(work, 'done'))).includes('a.hl7'), 'the good file processed');
    await eventually(async () => (await readdir(join(work, 'in', 'error'))).length === 4, 'the refused files set aside');
    expect((await readdir(join(work, 'in'))).sort()).toEqual(['error', 'ignored.txt']);
    expect(await readFile(join(work, 'in', 'error', 'b.hl7.error.txt'), 'utf8')).toContain('HL7_NO_MSH');
    expect(await readFile(join(work, 'in', 'error', 'c.hl7.error.txt'), 'utf8')).toContain('more than this channel accepts (2048)');
    expect(await statusOf('FILE-1')).toMatchObject({ source: 'file a.hl7', ackCode: 'AA' });
  });

  it('file destination: writes the change set atomically under the templated name', async () => {
    await eventually(async () => (await readdir(join(work, 'out'))).includes('files-FILE-1.json'), 'the bundle file');
    const bundle = JSON.parse(await readFile(join(work, 'out', 'files-FILE-1.json'), 'utf8')) as Bundle;
    expect(bundle.type).toBe('transaction');
    expect((bundle.entry![0]!.resource as Patient).identifier![0]!.value).toBe('PF1');
    expect((await readdir(join(work, 'out'))).filter((n) => n.startsWith('.'))).toEqual([]);
    await eventually(async () => (await statusOf('FILE-1'))?.status === 'sent', 'the message sent');
  });

  it('HTTP source: 200 + AA for an accepted message, 422 + AE/AR for a refused one, 413 above the limit, 405/404 otherwise', async () => {
    const port = hub.channels.engine!.listenerPort('web')!;
    const base = `http://127.0.0.1:${port}`;
    const ok = await fetch(`${base}/hl7`, { method: 'POST', body: adt('HTTP-1', 'PH1'), headers: { 'content-type': 'x-application/hl7-v2+er7' } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('x-keney-message-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(readAckText(await ok.text()).code).toBe('AA');
    const refused = await fetch(`${base}/hl7`, { method: 'POST', body: adt('HTTP-2', '') });
    expect(refused.status).toBe(422);
    expect(readAckText(await refused.text())).toMatchObject({ code: 'AE', controlId: 'HTTP-2' });
    const garbage = await fetch(`${base}/hl7`, { method: 'POST', body: '{"json": true}' });
    expect(garbage.status).toBe(422);
    expect(readAckText(await garbage.text()).code).toBe('AR');
    const big = await fetch(`${base}/hl7`, { method: 'POST', body: 'x'.repeat(10_000) });
    expect(big.status).toBe(413);
    expect((await fetch(`${base}/hl7`)).status).toBe(405);
    expect((await fetch(`${base}/other`, { method: 'POST', body: 'x' })).status).toBe(404);
  });

  it('HTTP destination: retries a 503, then delivers with its headers; a 400 goes to the dead letter at once', async () => {
    await eventually(() => httpReceived.some((r) => r.body.includes('HTTP-1')), 'the first delivery');
    httpAnswers = [503, 503];
    const port = hub.channels.engine!.listenerPort('web')!;
    await fetch(`http://127.0.0.1:${port}/hl7`, { method: 'POST', body: adt('HTTP-3', 'PH3') });
    await eventually(() => httpReceived.some((r) => r.body.includes('HTTP-3')), 'the delivery after two 503');
    const delivered = await hub.channels.messages!.get((await statusOf('HTTP-3'))!.id);
    expect(delivered.deliveries[0]).toMatchObject({ status: 'sent', attempts: 3, response: 'HTTP 200 thanks' });
    httpAnswers = [400];
    await fetch(`http://127.0.0.1:${port}/hl7`, { method: 'POST', body: adt('HTTP-4', 'PH4') });
    const dead = await eventually(async () => {
      const m = await statusOf('HTTP-4');
      return m?.status === 'error' ? hub.channels.messages!.get(m.id) : undefined;
    }, 'the refused delivery in the dead letter');
    expect(dead.deliveries[0]).toMatchObject({ status: 'dead', attempts: 1 });
    expect(dead.deliveries[0]!.lastError).toContain('HTTP 400');
  });

  it('FHIR destination: posts the transaction to another FHIR server, which applies it', async () => {
    const client = new MllpClient({ host: '127.0.0.1', port: hub.channels.engine!.listenerPort('fhir')! });
    try {
      expect(readAckText(await client.send(oru('FHIR-1', 'PFHIR', ['6.6']))).code).toBe('AA');
    } finally {
      await client.close();
    }
    const sent = await eventually(async () => {
      const m = await statusOf('FHIR-1');
      return m?.status === 'sent' ? hub.channels.messages!.get(m.id) : undefined;
    }, 'the delivery to the FHIR server');
    expect(sent.deliveries[0]!.response).toMatch(/^HTTP 200 transaction-response: 2\d\d/);
    const found = await peer.hub.app.inject({ method: 'GET', url: `/fhir/Patient?identifier=${TEST_PATIENT_SYSTEM}|PFHIR`, headers: peer.auth });
    expect((found.json() as Bundle).total).toBe(1);
    // Nothing was written to this hub's own store (the channel has no store destination).
    const local = await hub.hub.app.inject({ method: 'GET', url: `/fhir/Patient?identifier=${TEST_PATIENT_SYSTEM}|PFHIR`, headers: hub.auth });
    expect((local.json() as Bundle).total).toBe(0);
  });

  it('FHIR destination: a server that refuses the content (401 with a wrong token) is a dead letter with its OperationOutcome', async () => {
    await hub.writeChannel(
      'fhir',
      (await readFile(join(hub.channelsDir, 'fhir.channel.yaml'), 'utf8')).replace('${PEER_TOKEN}', 'kny_wrong_token_0000000000000000'),
    );
    await hub.channels.engine!.reload();
    const client = new MllpClient({ host: '127.0.0.1', port: hub.channels.engine!.listenerPort('fhir')! });
    try {
      expect(readAckText(await client.send(oru('FHIR-2', 'PFHIR2'))).code).toBe('AA');
    } finally {
      await client.close();
    }
    const dead = await eventually(async () => {
      const m = await statusOf('FHIR-2');
      return m?.status === 'error' ? hub.channels.messages!.get(m.id) : undefined;
    }, 'the refused transaction');
    expect(dead.deliveries[0]).toMatchObject({ status: 'dead', attempts: 1 });
    expect(dead.deliveries[0]!.lastError).toMatch(/HTTP 401/);
  });

  it('names files safely and matches file patterns', () => {
    const message = { messageId: 'm', channel: 'c', destination: 'd', receivedAt: new Date('2026-01-24T08:30:00.123Z'), controlId: '../../etc/passwd', raw: Buffer.alloc(0) };
    expect(fileNameFor('{channel}-{controlId}.{ext}', message, 'hl7')).toBe('c-.._.._etc_passwd.hl7');
    expect(fileNameFor('{receivedAt}', message, 'hl7')).toBe('20260124T083000123Z');
    expect(globToRegExp('*.hl7').test('a.hl7')).toBe(true);
    expect(globToRegExp('*.hl7').test('a.hl7.bak')).toBe(false);
    expect(globToRegExp('lab-??.txt').test('lab-01.txt')).toBe(true);
  });
});
