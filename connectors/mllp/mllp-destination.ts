// MLLP destination: sends a message with an MllpClient (mllp/) and checks the acknowledgment it gets back.
// AA (or CA when the message asked for no application ACK) = delivered; AE = an error the queue retries;
// AR = refused (retrying the same bytes cannot help: dead letter at once); a reply that is not an ACK of
// this message, a timeout or a connection problem = retried.
import { readFileSync } from 'node:fs';
import type tls from 'node:tls';
import { tryParseHl7Message, type Hl7Message } from '../../adapters/hl7v2/index.js';
import { isMllpError, MllpClient } from '../../mllp/index.js';
import type { MllpDestinationConfig } from '../../engine/channel-config.js';
import {
  DeliveryError,
  type DeliveryResult,
  type DestinationConnector,
  type OutboundMessage,
} from '../../engine/connector.js';

function tlsClientOptions(config: MllpDestinationConfig['tls']): tls.ConnectionOptions | undefined {
  if (!config) return undefined;
  const read = (path: string | undefined) => (path ? readFileSync(path) : undefined);
  const cert = read(config.cert);
  const key = read(config.key);
  const ca = read(config.ca);
  return { ...(cert ? { cert } : {}), ...(key ? { key } : {}), ...(ca ? { ca } : {}), minVersion: 'TLSv1.2' };
}

/** MSA-1, MSA-2 and the ERR texts of a reply, or why it is not an acknowledgment. */
export function readAck(
  reply: Buffer,
):
  | { ok: true; code: string; controlId: string | undefined; text: string; summary: string }
  | { ok: false; reason: string } {
  const parsed = tryParseHl7Message(reply);
  if (!parsed.ok) return { ok: false, reason: `the reply is not an HL7 message (${parsed.error.detail})` };
  const ack: Hl7Message = parsed.value;
  const msa = ack.segment('MSA');
  if (!msa) return { ok: false, reason: `the reply (${ack.header.messageType.code ?? 'no MSH-9'}) has no MSA segment` };
  const code = (msa.get('1') ?? '').toUpperCase();
  const errors = ack
    .segments('ERR')
    .map((err) => [err.get('3.1'), err.get('8') ?? err.get('1.4.2') ?? err.get('3.2')].filter(Boolean).join(' '));
  const text = [msa.get('3'), ...errors].filter(Boolean).join('; ');
  const summary = ack
    .segments()
    .filter((s) => s.name === 'MSA' || s.name === 'ERR')
    .map((s) => s.toString())
    .join('\r')
    .slice(0, 1000);
  return { ok: true, code, controlId: msa.get('2') ?? undefined, text, summary };
}

export class MllpDestination implements DestinationConnector {
  readonly type = 'mllp';
  private readonly client: MllpClient;

  constructor(private readonly config: MllpDestinationConfig) {
    const tlsOptions = tlsClientOptions(config.tls);
    this.client = new MllpClient({
      host: config.host,
      port: config.port,
      ...(tlsOptions ? { tls: tlsOptions } : {}),
      ackTimeoutMs: config.ackTimeoutMs ?? 30_000,
      connectTimeoutMs: config.connectTimeoutMs ?? 10_000,
      // The queue does the retrying (with its own backoff and dead letter): one connection attempt per send.
      reconnect: { maxAttempts: 1 },
    });
  }

  async send(message: OutboundMessage, signal: AbortSignal): Promise<DeliveryResult> {
    const sent = tryParseHl7Message(message.raw);
    const expectsApplicationAck = sent.ok && (sent.value.header.applicationAckType ?? 'AL').toUpperCase() !== 'NE';
    let reply: Buffer;
    try {
      reply = await this.client.send(message.raw, {
        signal,
        // Enhanced mode: a CA is not the end when the receiver is to send the application ACK after it.
        isFinalReply: (r) =>
          !(
            expectsApplicationAck &&
            sent.ok &&
            sent.value.header.acceptAckType !== undefined &&
            readAck(r).ok &&
            (readAck(r) as { code: string }).code === 'CA'
          ),
      });
    } catch (error) {
      if (isMllpError(error))
        throw new DeliveryError(`${this.config.host}:${this.config.port}: ${error.message}`, true);
      throw new DeliveryError(`${this.config.host}:${this.config.port}: ${(error as Error).message}`, true);
    }
    const ack = readAck(reply);
    if (!ack.ok)
      throw new DeliveryError(
        `The destination answered something that is not an acknowledgment: ${ack.reason}.`,
        true,
        reply.toString('latin1', 0, 300),
      );
    const controlId = sent.ok ? sent.value.header.controlId : undefined;
    if (controlId && ack.controlId && ack.controlId !== controlId) {
      throw new DeliveryError(
        `The acknowledgment is for message ${ack.controlId}, not ${controlId} (MSA-2): the destination mixed up its replies.`,
        true,
        ack.summary,
      );
    }
    switch (ack.code) {
      case 'AA':
      case 'CA':
        return { response: ack.summary };
      case 'AE':
      case 'CE':
        throw new DeliveryError(
          `The destination answered ${ack.code} (application error)${ack.text ? `: ${ack.text}` : ''}.`,
          true,
          ack.summary,
        );
      case 'AR':
      case 'CR':
        throw new DeliveryError(
          `The destination answered ${ack.code} (rejected)${ack.text ? `: ${ack.text}` : ''}.`,
          false,
          ack.summary,
        );
      default:
        throw new DeliveryError(
          `The acknowledgment code "${ack.code}" (MSA-1) is not one of AA, AE, AR, CA, CE, CR.`,
          true,
          ack.summary,
        );
    }
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}
