// HTTP destination: POSTs each message (raw bytes, or the change set's Bundle as JSON) to a URL. 2xx = delivered;
// 408, 429 and 5xx, timeouts and connection errors = retried; any other 4xx = refused for good (dead letter).
import type { HttpDestinationConfig } from '../../engine/channel-config.js';
import { DeliveryError, type DeliveryResult, type DestinationConnector, type OutboundMessage } from '../../engine/connector.js';
import { HL7_MEDIA_TYPE } from './http-source.js';

export function retryableStatus(status: number): boolean {
  return status === 408 || status === 425 || status === 429 || status >= 500;
}

export async function postWithTimeout(url: string, init: RequestInit, timeoutMs: number, signal: AbortSignal): Promise<Response> {
  try {
    return await fetch(url, { ...init, signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]) });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const why = (error as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (cause?.code ?? cause?.message ?? (error as Error).message);
    throw new DeliveryError(`${new URL(url).origin}: ${why}.`, true);
  }
}

export class HttpDestination implements DestinationConnector {
  readonly type = 'http';

  constructor(private readonly config: HttpDestinationConfig) {}

  async send(message: OutboundMessage, signal: AbortSignal): Promise<DeliveryResult> {
    const bundle = this.config.content === 'bundle';
    if (bundle && !message.bundle) throw new DeliveryError('This destination sends the change set (content: bundle) but the message has none.', false);
    const response = await postWithTimeout(
      this.config.url,
      {
        method: 'POST',
        headers: {
          'content-type': bundle ? 'application/fhir+json' : HL7_MEDIA_TYPE,
          'x-keney-message-id': message.messageId,
          ...this.config.headers,
        },
        body: bundle ? JSON.stringify(message.bundle) : new Uint8Array(message.raw),
      },
      this.config.timeoutMs ?? 30_000,
      signal,
    );
    const text = (await response.text().catch(() => '')).slice(0, 500);
    const summary = `HTTP ${response.status}${text ? ` ${text}` : ''}`;
    if (response.ok) return { response: summary };
    throw new DeliveryError(`${new URL(this.config.url).origin} answered HTTP ${response.status}.`, retryableStatus(response.status), summary);
  }

  async close(): Promise<void> {}
}
