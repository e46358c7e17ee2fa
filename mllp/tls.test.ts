// TLS on the listener and the sender, with throwaway certificates made by openssl for this run only.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MllpClient } from './client.js';
import { MllpError, MllpErrorCode } from './errors.js';
import type { MllpPeerCertificate, MllpReply } from './server.js';
import { connectRaw, TestServers } from './test-support.js';

interface Pem {
  caCert: string;
  serverKey: string;
  serverCert: string;
  clientKey: string;
  clientCert: string;
  rogueKey: string;
  rogueCert: string;
}

let dir: string;
let pem: Pem;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'keney-mllp-tls-'));
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  openssl(
    'req',
    '-x509',
    ...ec,
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-days',
    '2',
    '-subj',
    '/CN=Keney Test CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  );
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  writeFileSync(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  openssl('req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
  openssl(
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.crt',
    '-days',
    '2',
    '-extfile',
    'server.ext',
  );
  openssl('req', ...ec, '-keyout', 'client.key', '-out', 'client.csr', '-subj', '/O=CH Exemple/CN=lab-client');
  openssl(
    'x509',
    '-req',
    '-in',
    'client.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'client.crt',
    '-days',
    '2',
    '-extfile',
    'client.ext',
  );
  openssl('req', '-x509', ...ec, '-keyout', 'rogue.key', '-out', 'rogue.crt', '-days', '2', '-subj', '/CN=intruder');
  const read = (name: string) => readFileSync(join(dir, name), 'utf8');
  pem = {
    caCert: read('ca.crt'),
    serverKey: read('server.key'),
    serverCert: read('server.crt'),
    clientKey: read('client.key'),
    clientCert: read('client.crt'),
    rogueKey: read('rogue.key'),
    rogueCert: read('rogue.crt'),
  };
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const servers = new TestServers();
const clients: MllpClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  await servers.closeAll();
});

function client(
  port: number,
  tls: ConstructorParameters<typeof MllpClient>[0]['tls'],
  extra: Partial<ConstructorParameters<typeof MllpClient>[0]> = {},
) {
  const created = new MllpClient({ host: '127.0.0.1', port, tls, reconnect: { maxAttempts: 1 }, ...extra });
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

/** A handler that answers and records what it knew of the peer. */
function recordingHandler() {
  const peers: { secure: boolean; certificate: MllpPeerCertificate | undefined }[] = [];
  const handler = (
    payload: Buffer,
    { connection }: { connection: { secure: boolean; peerCertificate: MllpPeerCertificate | undefined } },
  ): MllpReply => {
    peers.push({ secure: connection.secure, certificate: connection.peerCertificate });
    return { payload: `ACK:${payload.toString()}` };
  };
  return { peers, handler };
}

describe('MLLP over TLS', () => {
  it('serves a client that trusts the server certificate, without a client certificate', async () => {
    const { peers, handler } = recordingHandler();
    const { port } = await servers.start({ handler, tls: { key: pem.serverKey, cert: pem.serverCert } });
    const sender = client(port, { ca: pem.caCert });
    expect((await sender.send('MSH|1\r')).toString()).toBe('ACK:MSH|1\r');
    expect(peers).toEqual([{ secure: true, certificate: undefined }]);
  });

  it('fails with mllp.tls-handshake-failed when the client does not trust the server certificate', async () => {
    const { server, port } = await servers.start({
      handler: recordingHandler().handler,
      tls: { key: pem.serverKey, cert: pem.serverCert },
    });
    const error = await failure(client(port, true).send('MSH|1\r'));
    expect(error.code).toBe(MllpErrorCode.TlsHandshakeFailed);
    expect(error.message).toContain('tls.ca');
    expect(server.connectionCount).toBe(0);
  });

  describe('requiring a client certificate', () => {
    const requireClientCertificate = () => ({
      key: pem.serverKey,
      cert: pem.serverCert,
      ca: pem.caCert,
      requestCert: true,
      rejectUnauthorized: true,
    });

    it('accepts a client certificate signed by the CA and shows its subject to the handler', async () => {
      const { peers, handler } = recordingHandler();
      const { port } = await servers.start({ handler, tls: requireClientCertificate() });
      const sender = client(port, { ca: pem.caCert, key: pem.clientKey, cert: pem.clientCert });
      expect((await sender.send('MSH|1\r')).toString()).toBe('ACK:MSH|1\r');
      const certificate = peers[0]?.certificate;
      expect(certificate?.subject).toMatchObject({ CN: 'lab-client', O: 'CH Exemple' });
      expect(certificate?.subjectText).toBe('O=CH Exemple, CN=lab-client');
      expect(certificate?.issuerText).toBe('CN=Keney Test CA');
      expect(certificate?.authorized).toBe(true);
      expect(certificate?.fingerprint256).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    });

    it('refuses a client without a certificate, or with one the CA did not sign, and keeps serving others', async () => {
      const { peers, handler } = recordingHandler();
      const { server, port } = await servers.start({ handler, tls: requireClientCertificate() });
      const refusals: MllpError[] = [];
      server.on('connectionRefused', (_peer, error) => refusals.push(error));

      const anonymous = await failure(client(port, { ca: pem.caCert }).send('MSH|anonymous\r'));
      expect(anonymous.code).toBe(MllpErrorCode.TlsHandshakeFailed);
      expect(anonymous.message).toContain('client certificate');
      const rogue = await failure(
        client(port, { ca: pem.caCert, key: pem.rogueKey, cert: pem.rogueCert }).send('MSH|rogue\r'),
      );
      // Node's server closes after the handshake without an alert: the client cannot know why for sure, but says.
      expect(rogue.code).toBe(MllpErrorCode.ConnectionClosed);
      expect(rogue.message).toContain('requires a client certificate');

      expect(peers).toEqual([]); // neither frame reached the handler
      expect(refusals.map((error) => error.code)).toEqual([
        MllpErrorCode.TlsHandshakeFailed,
        MllpErrorCode.TlsHandshakeFailed,
      ]);
      expect(refusals[1]?.message).toContain('client certificate was not signed by the configured CA');

      const good = client(port, { ca: pem.caCert, key: pem.clientKey, cert: pem.clientCert });
      expect((await good.send('MSH|good\r')).toString()).toBe('ACK:MSH|good\r');
    });

    it('with requestCert but not rejectUnauthorized, lets the handler see an unauthorized certificate', async () => {
      const { peers, handler } = recordingHandler();
      const { port } = await servers.start({
        handler,
        tls: { ...requireClientCertificate(), rejectUnauthorized: false },
      });
      const sender = client(port, { ca: pem.caCert, key: pem.rogueKey, cert: pem.rogueCert });
      expect((await sender.send('MSH|1\r')).toString()).toBe('ACK:MSH|1\r');
      expect(peers[0]?.certificate).toMatchObject({ subjectText: 'CN=intruder', authorized: false });
      expect(peers[0]?.certificate?.authorizationError).toBeTruthy();
    });
  });

  it('drops a plain MLLP client on a TLS port without disturbing the listener', async () => {
    const { server, port } = await servers.start({
      handler: recordingHandler().handler,
      tls: { key: pem.serverKey, cert: pem.serverCert },
    });
    const refused = new Promise<MllpError>((resolve) =>
      server.once('connectionRefused', (_peer, error) => resolve(error)),
    );
    const error = await failure(client(port, undefined, { ackTimeoutMs: 5_000 }).send('MSH|plain\r'));
    expect(error.code).toBe(MllpErrorCode.ConnectionClosed);
    expect((await refused).code).toBe(MllpErrorCode.TlsHandshakeFailed);
    expect((await client(port, { ca: pem.caCert }).send('MSH|tls\r')).toString()).toBe('ACK:MSH|tls\r');
  });

  it('fails a TLS client on a plain port (timeout with a hint), and the listener reports the handshake bytes', async () => {
    const { server, port } = await servers.start({ handler: recordingHandler().handler });
    const stray = new Promise<Buffer>((resolve) => server.once('frameError', (_c, error) => resolve(error.head)));
    const error = await failure(client(port, { ca: pem.caCert }, { connectTimeoutMs: 300 }).send('MSH|1\r'));
    // Usually the listener stays silent and the client times out, with a hint. But the ClientHello's random
    // bytes may contain 0x0B … 0x1C: the listener then answers that "frame" in plain text, and the client
    // fails its handshake on it. Both tell the operator the same thing.
    if (error.code === MllpErrorCode.ConnectTimeout) expect(error.message).toContain('expects TLS on this port');
    else expect(error.code).toBe(MllpErrorCode.TlsHandshakeFailed);
    expect((await stray)[0]).toBe(0x16); // a TLS handshake record
    const plain = await connectRaw(port);
    servers.track(plain.socket);
    plain.socket.write(Buffer.from([0x0b, 0x41, 0x1c, 0x0d]));
    expect((await plain.nextFrame()).toString()).toBe('ACK:A');
  });
});
