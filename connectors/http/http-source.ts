// HTTP source: an HTTP(S) listener that takes one HL7 v2 message per POST (body = the ER7 text) and answers
// with the acknowledgment as the body: 200 when accepted (AA), 422 when refused (AE/AR, the ERR segments say
// why), 503 when the message could not be made durable (resend), 413 above maxMessageBytes.
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { HttpSourceConfig } from '../../engine/channel-config.js';
import type { InboundChannel, SourceConnector, SourceStatus } from '../../engine/connector.js';
import { MessageStatus } from '../../engine/message-store.js';
import { ackFor, tlsServerOptions } from '../mllp/mllp-source.js';

const DEFAULT_MAX_BYTES = 16 * 1024 * 1024;
export const HL7_MEDIA_TYPE = 'x-application/hl7-v2+er7';

export class HttpSource implements SourceConnector {
  readonly type = 'http';
  private server: http.Server | undefined;
  private channel: InboundChannel | undefined;
  private requests = 0;

  constructor(
    private readonly config: HttpSourceConfig,
    private readonly logger: Logger,
  ) {}

  async start(channel: InboundChannel): Promise<void> {
    this.channel = channel;
    const tlsOptions = tlsServerOptions(this.config.tls);
    const handler = (request: http.IncomingMessage, response: http.ServerResponse) => {
      this.handle(request, response).catch((error: Error) => {
        this.logger.error({ err: error, channel: channel.id }, 'HTTP source request failed');
        if (!response.headersSent) response.writeHead(500, { 'content-type': 'text/plain' });
        response.end('Internal error; the details are in the hub log.\n');
      });
    };
    const server = tlsOptions ? https.createServer(tlsOptions, handler) : http.createServer(handler);
    server.requestTimeout = 60_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) =>
        reject(new Error(`Cannot listen on ${this.config.host}:${this.config.port}: ${error.message}; choose a free port (source.port).`, { cause: error })),
      );
      server.listen(this.config.port, this.config.host, () => resolve());
    });
    this.server = server;
  }

  get port(): number | undefined {
    return (this.server?.address() as AddressInfo | null)?.port;
  }

  private async handle(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
    const path = (request.url ?? '/').split('?')[0];
    if (path !== this.config.path) {
      response.writeHead(404, { 'content-type': 'text/plain' }).end(`Post HL7 messages to ${this.config.path}.\n`);
      return;
    }
    if (request.method !== 'POST') {
      response.writeHead(405, { allow: 'POST', 'content-type': 'text/plain' }).end('Use POST with the HL7 message as the body.\n');
      return;
    }
    const limit = this.config.maxMessageBytes ?? DEFAULT_MAX_BYTES;
    const declared = Number(request.headers['content-length'] ?? 0);
    if (declared > limit) {
      response.writeHead(413, { 'content-type': 'text/plain', connection: 'close' }).end(`The message is larger than ${limit} bytes (source.maxMessageBytes).\n`);
      request.destroy();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of request) {
      size += (chunk as Buffer).length;
      if (size > limit) {
        response.writeHead(413, { 'content-type': 'text/plain', connection: 'close' }).end(`The message is larger than ${limit} bytes (source.maxMessageBytes).\n`);
        request.destroy();
        return;
      }
      chunks.push(chunk as Buffer);
    }
    this.requests++;
    const raw = Buffer.concat(chunks);
    const outcome = await this.channel!.receive(raw, { source: `http ${request.socket.remoteAddress ?? '?'}:${request.socket.remotePort ?? '?'}` });
    const ack = ackFor(raw, outcome);
    const status = outcome.ack === 'accept' ? 200 : outcome.status === MessageStatus.Received || outcome.messageId === undefined ? 503 : 422;
    response.writeHead(status, {
      'content-type': HL7_MEDIA_TYPE,
      ...(outcome.messageId ? { 'x-keney-message-id': outcome.messageId } : {}),
      ...(status === 503 ? { 'retry-after': '30' } : {}),
    });
    response.end(ack ?? '');
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
      setTimeout(() => server.closeAllConnections(), 10_000).unref();
    });
  }

  status(): SourceStatus {
    return {
      type: 'http',
      endpoint: `http${this.config.tls ? 's' : ''}://${this.config.host}:${this.port ?? this.config.port}${this.config.path}`,
      listening: this.server !== undefined,
      detail: { requests: this.requests },
    };
  }
}
