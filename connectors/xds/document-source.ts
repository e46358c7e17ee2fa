// The XDS.b Document Source: an ITI-41 destination that submits our documents to an external repository (a DMP-like
// endpoint). The message it sends is built when the submission is queued (kept in the message store as sent); this
// connector only delivers it and reads the answer:
//   Success / PartialSuccess        → delivered, the RegistryResponse kept as the delivery's response;
//   Failure with a *Busy / *OutOfResources code, HTTP 5xx, a Receiver fault, no connection, a timeout → retried;
//   Failure with any other code, a Sender fault, HTTP 4xx → refused for good (dead letter, response kept).
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { DestinationConnector, DeliveryResult, OutboundMessage } from '../../engine/connector.js';
import { DeliveryError } from '../../engine/connector.js';
import { childElement, childElements, textContent } from '../../adapters/xml/index.js';
import {
  Ns,
  parseRegistryResponse,
  readSoapRequest,
  ResponseStatus,
  SoapFaultError,
  XdsErrorCode,
} from '../../adapters/xds/index.js';

export interface XdsDestinationConfig {
  name: string;
  /** The repository's ITI-41 endpoint, e.g. https://dmp.example/repository. */
  url: string;
  /** PEM strings: trusted CA, and the client certificate + key for mutual TLS. */
  tls?: { ca?: string; cert?: string; key?: string; rejectUnauthorized?: boolean };
  /** Extra HTTP headers (e.g. an Authorization a gateway needs). */
  headers?: Record<string, string>;
  timeoutMs?: number;
  /** Largest answer read (default 4 MiB). */
  maxResponseBytes?: number;
}

const RETRYABLE_CODES = new Set<string>([
  XdsErrorCode.registryBusy,
  XdsErrorCode.repositoryBusy,
  XdsErrorCode.registryOutOfResources,
  XdsErrorCode.repositoryOutOfResources,
]);
const KEPT_RESPONSE = 64 * 1024;

/** Splits a stored entity (`Content-Type: …\r\n\r\n` + body) back into its parts. */
export function readHttpEntity(raw: Buffer): { contentType: string; body: Buffer } {
  const end = raw.indexOf('\r\n\r\n');
  const head = end >= 0 ? raw.subarray(0, end).toString('latin1') : '';
  const match = /^Content-Type:\s*(.+)$/im.exec(head);
  if (!match || end < 0)
    throw new DeliveryError(
      'The stored ITI-41 message has no Content-Type header: it cannot be sent as it is; rebuild the submission.',
      false,
    );
  return { contentType: match[1]!.trim(), body: raw.subarray(end + 4) };
}

export class XdsDocumentSource implements DestinationConnector {
  readonly type = 'xds';

  constructor(private readonly config: XdsDestinationConfig) {}

  async send(message: OutboundMessage, signal: AbortSignal): Promise<DeliveryResult> {
    const { contentType, body } = readHttpEntity(message.raw);
    const answer = await this.post(body, contentType, signal);
    const text = answer.body.subarray(0, KEPT_RESPONSE).toString('utf8');
    let envelope;
    try {
      envelope = readSoapRequest(answer.body, answer.contentType || 'application/soap+xml').envelope;
    } catch (error) {
      const retryable = answer.status >= 500 || answer.status === 429 || answer.status === 408;
      const why = error instanceof SoapFaultError ? error.reason : (error as Error).message;
      throw new DeliveryError(
        `${this.config.url} answered HTTP ${answer.status} without a readable SOAP response (${why})`,
        retryable,
        text,
      );
    }
    const body0 = envelope.body;
    if (body0.uri === Ns.soap12 && body0.local === 'Fault') {
      const code = childElement(childElement(body0, Ns.soap12, 'Code') ?? body0, Ns.soap12, 'Value');
      const reason = childElements(childElement(body0, Ns.soap12, 'Reason') ?? body0, Ns.soap12, 'Text')
        .map(textContent)
        .join(' ');
      const receiver = code ? /Receiver$/.test(textContent(code).trim()) : false;
      throw new DeliveryError(
        `${this.config.url} answered a SOAP fault: ${reason || 'no reason given'}`,
        receiver,
        text,
      );
    }
    const response = parseRegistryResponse(body0);
    if (response.success || response.status === ResponseStatus.partialSuccess) return { response: text };
    const errors = response.errors.filter((i) => i.severity === 'error');
    const summary = errors.map((i) => `${i.code}: ${i.message}`).join('; ') || response.status;
    const retryable = errors.length > 0 && errors.every((i) => RETRYABLE_CODES.has(i.code));
    throw new DeliveryError(`The repository refused the submission: ${summary}`, retryable, text);
  }

  async close(): Promise<void> {}

  private post(
    body: Buffer,
    contentType: string,
    signal: AbortSignal,
  ): Promise<{ status: number; contentType: string; body: Buffer }> {
    const url = new URL(this.config.url);
    const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const max = this.config.maxResponseBytes ?? 4 * 1024 * 1024;
    const tls = this.config.tls ?? {};
    return new Promise((resolve, reject) => {
      const req = request(
        url,
        {
          method: 'POST',
          signal,
          timeout: this.config.timeoutMs ?? 60_000,
          headers: {
            ...this.config.headers,
            'content-type': contentType,
            'content-length': String(body.length),
            accept: 'application/soap+xml, multipart/related',
          },
          ...(tls.ca ? { ca: tls.ca } : {}),
          ...(tls.cert ? { cert: tls.cert } : {}),
          ...(tls.key ? { key: tls.key } : {}),
          ...(tls.rejectUnauthorized === false ? { rejectUnauthorized: false } : {}),
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > max) {
              res.destroy();
              reject(
                new DeliveryError(`${this.config.url} answered more than ${max} bytes: not an ITI-41 response`, false),
              );
              return;
            }
            chunks.push(chunk);
          });
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              contentType: String(res.headers['content-type'] ?? ''),
              body: Buffer.concat(chunks),
            }),
          );
          res.on('error', (error) =>
            reject(new DeliveryError(`${this.config.url}: the answer was cut (${error.message})`, true)),
          );
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.config.timeoutMs ?? 60_000} ms`)));
      req.on('error', (error: NodeJS.ErrnoException) => {
        if (signal.aborted)
          return reject(new DeliveryError(`sending to ${this.config.url} was interrupted (hub stopping)`, true));
        const tlsRefused = /certificate|SSL|TLS|self.signed/i.test(error.message);
        reject(
          new DeliveryError(
            `${this.config.url}: ${error.code ?? ''} ${error.message}`.trim() +
              (tlsRefused ? " (check the destination's tls.ca / client certificate)" : ''),
            !tlsRefused || error.code === 'ECONNRESET',
          ),
        );
      });
      req.end(body);
    });
  }
}
