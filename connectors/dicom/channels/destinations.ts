// The DICOM destinations of channels, as the engine's DeliveryWorker drives them (engine/connector.ts): one
// stored instance (its Part-10 file, as received) per send; the worker retries what is retryable with backoff
// and dead-letters the rest.
// - `dicom`: C-STORE to another AE (a PACS), in the transfer syntax the instance was received in (no
//   transcoding); one association kept open while instances keep coming (closed after 5 s idle).
//   Retryable: no connection, transient rejection, abort, timeout, A7xx (out of resources). Permanent:
//   permanent rejection (unknown AE titles), SOP class or transfer syntax not accepted, A9xx/Cxxx/01xx.
// - `dicomweb`: STOW-RS of the file to a DICOMweb server. Retryable: no connection, timeout, 408, 429, 5xx,
//   a failure reason A7xx. Permanent: 4xx, failure reasons other than A7xx.
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { readPart10, requireIdentity } from '../../../adapters/dicom/part10.js';
import type { RetryConfig, TlsConfig } from '../../../engine/channel-config.js';
import {
  DeliveryError,
  type DeliveryResult,
  type DestinationConnector,
  type OutboundMessage,
} from '../../../engine/connector.js';
import { buildMultipart } from '../dicomweb/multipart.js';
import type { Association } from '../dimse/association.js';
import { statusKind } from '../dimse/command.js';
import { associate, cStore, ScuError, type RemoteAe } from '../dimse/scu.js';

export interface DicomDestinationConfig {
  type: 'dicom';
  name: string;
  /** The peer's AE title, host and port. */
  aeTitle: string;
  host: string;
  port: number;
  /** Our AE title on this association (default: the hub's). */
  callingAeTitle?: string;
  tls?: TlsConfig;
  connectTimeoutMs?: number;
  retry: RetryConfig;
}

export interface DicomWebDestinationConfig {
  type: 'dicomweb';
  name: string;
  /** The STOW-RS URL (the server's `/studies`). */
  url: string;
  /** Sent as `Authorization: Bearer …`. */
  token?: string;
  headers?: Record<string, string>;
  timeoutMs?: number;
  retry: RetryConfig;
}

export type DicomDestination = DicomDestinationConfig | DicomWebDestinationConfig;

const hex = (status: number) => `0x${status.toString(16).padStart(4, '0').toUpperCase()}`;
const IDLE_MS = 5000;

function instanceOf(message: OutboundMessage) {
  try {
    const file = readPart10(message.raw);
    const identity = requireIdentity(file.dataSet, file.meta);
    return { file, identity };
  } catch (error) {
    throw new DeliveryError(
      `Message ${message.messageId} is not a readable DICOM instance (${(error as Error).message}); it cannot be forwarded.`,
      false,
    );
  }
}

function tlsOptions(tls: TlsConfig | undefined): ConnectionOptions | undefined {
  if (!tls) return undefined;
  const read = (path: string | undefined) => (path ? readFileSync(path) : undefined);
  const ca = read(tls.ca);
  const cert = read(tls.cert);
  const key = read(tls.key);
  return { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) };
}

export class CStoreDestination implements DestinationConnector {
  readonly type = 'dicom';
  private readonly remote: RemoteAe;
  private association: Association | undefined;
  private idle: NodeJS.Timeout | undefined;

  constructor(
    private readonly config: DicomDestinationConfig,
    private readonly defaultCallingAeTitle: string,
  ) {
    const tls = tlsOptions(config.tls);
    this.remote = { aeTitle: config.aeTitle, host: config.host, port: config.port, ...(tls ? { tls } : {}) };
  }

  private get peer(): string {
    return `${this.config.aeTitle}@${this.config.host}:${this.config.port}`;
  }

  async send(message: OutboundMessage, signal: AbortSignal): Promise<DeliveryResult> {
    const { file, identity } = instanceOf(message);
    const transferSyntaxUid = file.transferSyntax.uid;
    if (this.idle) clearTimeout(this.idle);
    let association = this.association;
    if (association && (association.isClosed || !association.findContext(identity.sopClassUid, transferSyntaxUid))) {
      await this.release();
      association = undefined;
    }
    if (!association) {
      try {
        association = await associate(this.remote, {
          callingAeTitle: this.config.callingAeTitle ?? this.defaultCallingAeTitle,
          contexts: [{ abstractSyntax: identity.sopClassUid, transferSyntaxes: [transferSyntaxUid] }],
          connectTimeoutMs: this.config.connectTimeoutMs ?? 10_000,
        });
      } catch (error) {
        const transient = !(error instanceof ScuError) || error.transient;
        throw new DeliveryError(
          transient
            ? `${this.peer}: ${(error as Error).message}`
            : `${this.peer}: ${(error as Error).message}; check the AE titles on both sides, then replay.`,
          transient,
        );
      }
      this.association = association;
    }
    const onAbort = () => association!.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      const result = await cStore(association, {
        sopClassUid: identity.sopClassUid,
        sopInstanceUid: identity.sopInstanceUid,
        transferSyntaxUid,
        dataSet: message.raw.subarray(file.dataSetOffset),
      });
      if (result.error !== undefined) {
        throw new DeliveryError(
          `${this.peer} does not accept ${identity.sopClassUid} in transfer syntax ${transferSyntaxUid} (${result.error}); the hub forwards instances as received, without transcoding: let the peer accept that syntax, then replay.`,
          false,
        );
      }
      const status = result.status!;
      const answer = `C-STORE ${hex(status)}${result.errorComment ? ` ${result.errorComment}` : ''}`;
      if (result.ok) return { response: answer };
      const transient = (status & 0xff00) === 0xa700;
      throw new DeliveryError(`${this.peer} answered ${answer} (${statusKind(status)})`, transient, answer);
    } catch (error) {
      if (error instanceof DeliveryError) throw error;
      await this.release();
      throw new DeliveryError(`${this.peer}: ${(error as Error).message}`, true);
    } finally {
      signal.removeEventListener('abort', onAbort);
      if (this.association) {
        this.idle = setTimeout(() => void this.release(), IDLE_MS);
        this.idle.unref();
      }
    }
  }

  private async release(): Promise<void> {
    if (this.idle) clearTimeout(this.idle);
    this.idle = undefined;
    const association = this.association;
    this.association = undefined;
    if (association && !association.isClosed) await association.release().catch(() => association.abort());
  }

  async close(): Promise<void> {
    await this.release();
  }
}

export class StowDestination implements DestinationConnector {
  readonly type = 'dicomweb';

  constructor(private readonly config: DicomWebDestinationConfig) {}

  async send(message: OutboundMessage, signal: AbortSignal): Promise<DeliveryResult> {
    instanceOf(message); // refuse what is not an instance before sending it anywhere
    const { body, boundary } = buildMultipart([{ contentType: 'application/dicom', body: message.raw }]);
    let response: Response;
    try {
      response = await fetch(this.config.url, {
        method: 'POST',
        headers: {
          'Content-Type': `multipart/related; type="application/dicom"; boundary=${boundary}`,
          Accept: 'application/dicom+json',
          ...(this.config.token ? { Authorization: `Bearer ${this.config.token}` } : {}),
          ...this.config.headers,
        },
        body: new Uint8Array(body.buffer as ArrayBuffer, body.byteOffset, body.length),
        signal: AbortSignal.any([signal, AbortSignal.timeout(this.config.timeoutMs ?? 60_000)]),
      });
    } catch (error) {
      throw new DeliveryError(`POST ${this.config.url}: ${(error as Error).message}`, true);
    }
    const text = await response.text().catch(() => '');
    const answer = `STOW-RS ${response.status}`;
    if (response.status === 200) return { response: answer };
    if (response.status === 202 || response.status === 409) {
      const reasons = failureReasons(text);
      const transient = reasons.length > 0 && reasons.every((r) => (r & 0xff00) === 0xa700);
      const said = reasons.length ? ` failure reason ${reasons.map(hex).join(', ')}` : '';
      throw new DeliveryError(
        `${this.config.url} refused the instance: ${answer}${said}`,
        transient,
        `${answer}${said}`,
      );
    }
    const transient = response.status === 408 || response.status === 429 || response.status >= 500;
    const hint =
      response.status === 401 || response.status === 403
        ? ': check the token'
        : response.status === 404 || response.status === 405
          ? ': check the URL (the server’s STOW-RS …/studies)'
          : '';
    throw new DeliveryError(
      `${this.config.url} answered ${answer}${hint}`,
      transient,
      `${answer} ${text.slice(0, 200)}`.trim(),
    );
  }

  async close(): Promise<void> {
    // nothing held between sends
  }
}

/** Failure Reason (0008,1197) values of the Failed SOP Sequence (0008,1198) of a STOW-RS response. */
function failureReasons(text: string): number[] {
  try {
    const json = JSON.parse(text) as Record<string, { Value?: Record<string, { Value?: number[] }>[] }>;
    return (json['00081198']?.Value ?? []).flatMap((item) => item['00081197']?.Value ?? []);
  } catch {
    return [];
  }
}
