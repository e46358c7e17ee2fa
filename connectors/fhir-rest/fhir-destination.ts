// FHIR REST destination: POSTs the change set's transaction Bundle to a FHIR R4 server's base URL and checks
// that a transaction-response came back. 2xx = delivered; 408/429/5xx and network errors = retried; other 4xx
// (the server refuses the content: its OperationOutcome is kept as the response) = dead letter at once.
import type { Bundle, OperationOutcome } from '@medplum/fhirtypes';
import type { FhirDestinationConfig } from '../../engine/channel-config.js';
import { DeliveryError, type DeliveryResult, type DestinationConnector, type OutboundMessage } from '../../engine/connector.js';
import { postWithTimeout, retryableStatus } from '../http/http-destination.js';

function outcomeText(body: unknown): string {
  const outcome = body as OperationOutcome | undefined;
  if (outcome?.resourceType !== 'OperationOutcome') return '';
  return (outcome.issue ?? []).map((i) => `${i.severity}: ${i.details?.text ?? i.diagnostics ?? i.code}`).join('; ');
}

export class FhirDestination implements DestinationConnector {
  readonly type = 'fhir';

  constructor(private readonly config: FhirDestinationConfig) {}

  async send(message: OutboundMessage, signal: AbortSignal): Promise<DeliveryResult> {
    if (!message.bundle) throw new DeliveryError('There is no change set to send (the channel has no mapping, or the change log no longer has it).', false);
    const response = await postWithTimeout(
      this.config.url.replace(/\/$/, ''),
      {
        method: 'POST',
        headers: {
          'content-type': 'application/fhir+json',
          accept: 'application/fhir+json',
          ...(this.config.token ? { authorization: `Bearer ${this.config.token}` } : {}),
        },
        body: JSON.stringify(message.bundle),
      },
      this.config.timeoutMs ?? 30_000,
      signal,
    );
    const text = await response.text().catch(() => '');
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
    }
    if (!response.ok) {
      const detail = outcomeText(body) || text.slice(0, 300);
      throw new DeliveryError(`The FHIR server answered HTTP ${response.status}${detail ? `: ${detail}` : ''}.`, retryableStatus(response.status), `HTTP ${response.status} ${detail}`.trim());
    }
    const reply = body as Bundle | undefined;
    if (reply?.resourceType !== 'Bundle' || (reply.type !== 'transaction-response' && reply.type !== 'batch-response')) {
      throw new DeliveryError(`The FHIR server answered HTTP ${response.status} without a transaction-response Bundle; check that ${this.config.url} is a FHIR base URL.`, true, text.slice(0, 300));
    }
    const statuses = (reply.entry ?? []).map((e) => e.response?.status ?? '?');
    return { response: `HTTP ${response.status} ${reply.type}: ${statuses.join(', ')}`.slice(0, 1000) };
  }

  async close(): Promise<void> {}
}
