// MLLP source: an MllpServer (mllp/) whose handler hands each frame to the channel and answers with the
// acknowledgment its outcome calls for. Original mode: one ACK (AA/AE/AR) once the message is durable (or
// refused). Enhanced mode (MSH-15/16): CA as soon as the raw message is persisted, then the application ACK
// (AA/AE/AR) once the change set is durable — each only when MSH-15/MSH-16 ask for it (AL, ER, SU, NE).
import { readFileSync } from 'node:fs';
import type tls from 'node:tls';
import type { Logger } from 'pino';
import { Hl7Error, Hl7ErrorCode } from '../../adapters/hl7v2/index.js';
import {
  MllpErrorCode,
  MllpServer,
  type MllpFailure,
  type MllpFrameContext,
  type MllpReply,
} from '../../mllp/index.js';
import type { MllpSourceConfig, TlsConfig } from '../../engine/channel-config.js';
import type { InboundChannel, InboundOutcome, SourceConnector, SourceStatus } from '../../engine/connector.js';
import {
  applicationAck,
  commitAck,
  decodeHl7,
  rejectAck,
  tooLargeError,
  wantsApplicationAck,
  wantsCommitAck,
} from '../../engine/hl7v2-format.js';
import { Stage } from '../../engine/message-store.js';

const DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
const DEFAULT_PROCESSING_TIMEOUT_MS = 30_000;

export function tlsServerOptions(config: TlsConfig | undefined): tls.TlsOptions | undefined {
  if (!config) return undefined;
  const read = (path: string | undefined, what: string) => {
    if (!path) return undefined;
    try {
      return readFileSync(path);
    } catch (error) {
      throw new Error(
        `Cannot read the TLS ${what} ${path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}): check source.tls.${what} in the channel file.`,
        { cause: error },
      );
    }
  };
  if (!config.cert || !config.key) throw new Error('source.tls needs both cert and key (PEM file paths).');
  return {
    cert: read(config.cert, 'cert'),
    key: read(config.key, 'key'),
    ...(config.ca ? { ca: read(config.ca, 'ca') } : {}),
    ...(config.requireClientCertificate ? { requestCert: true, rejectUnauthorized: true } : {}),
    minVersion: 'TLSv1.2',
  };
}

export class MllpSource implements SourceConnector {
  readonly type = 'mllp';
  private server: MllpServer | undefined;
  private channel: InboundChannel | undefined;

  constructor(
    private readonly config: MllpSourceConfig,
    private readonly logger: Logger,
  ) {}

  async start(channel: InboundChannel): Promise<void> {
    this.channel = channel;
    const c = this.config;
    const processingTimeoutMs = c.processingTimeoutMs ?? DEFAULT_PROCESSING_TIMEOUT_MS;
    const tlsOptions = tlsServerOptions(c.tls);
    const server = new MllpServer({
      host: c.host,
      port: c.port,
      ...(tlsOptions ? { tls: tlsOptions } : {}),
      maxFrameBytes: c.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
      ...(c.framing ? { framingMode: c.framing } : {}),
      ...(c.maxConnections ? { maxConnections: c.maxConnections } : {}),
      ...(c.idleTimeoutMs !== undefined ? { idleTimeoutMs: c.idleTimeoutMs } : {}),
      // The pipeline answers AE itself when not durable within processingTimeoutMs; this is the last resort.
      handlerTimeoutMs: processingTimeoutMs + 15_000,
      handler: (payload, context) => this.handle(payload, context),
      onFailure: (failure, context) => this.failure(failure, context),
    });
    server.on('serverError', (error) => this.logger.error({ err: error, channel: channel.id }, 'MLLP listener error'));
    server.on('handlerFailed', (_connection, error) =>
      this.logger.warn({ err: error, channel: channel.id }, 'MLLP handler failure'),
    );
    server.on('connectionRefused', (peer, error) =>
      this.logger.warn({ peer: peer.remoteAddress, code: error.code, channel: channel.id }, 'MLLP connection refused'),
    );
    await server.listen();
    this.server = server;
  }

  /** The port actually bound (when the channel asked for port 0). */
  get port(): number | undefined {
    return this.server?.address?.port;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    await server?.close({ timeoutMs: 10_000 });
  }

  status(): SourceStatus {
    const address = this.server?.address;
    return {
      type: 'mllp',
      endpoint: `mllp${this.config.tls ? 's' : ''}://${this.config.host}:${address?.port ?? this.config.port}`,
      listening: this.server !== undefined,
      connections: this.server?.connectionCount ?? 0,
    };
  }

  private async handle(payload: Buffer, context: MllpFrameContext): Promise<MllpReply> {
    const channel = this.channel!;
    const connection = context.connection;
    const outcome = await channel.receive(
      payload,
      { source: `mllp ${connection.remoteAddress}:${connection.remotePort}` },
      {
        onPersisted: async ({ decoded }) => {
          if (decoded && wantsCommitAck(decoded) && connection.open) await connection.send(commitAck(decoded));
        },
      },
    );
    return { payload: ackFor(payload, outcome) };
  }

  private async failure(
    failure: MllpFailure,
    context: Omit<MllpFrameContext, 'signal'>,
  ): Promise<MllpReply | undefined> {
    const connection = context.connection;
    const source = `mllp ${connection.remoteAddress}:${connection.remotePort}`;
    switch (failure.code) {
      case MllpErrorCode.HandlerFailed:
      case MllpErrorCode.HandlerTimeout: {
        const error = new Hl7Error(
          Hl7ErrorCode.BadInput,
          failure.code === MllpErrorCode.HandlerTimeout
            ? 'the hub did not finish processing the message in time; if it was stored it will be processed: resend it (duplicates are recognized)'
            : 'the hub failed while processing the message (an internal error, logged); resend it later',
          {},
          { conditionCode: '207' },
        );
        const decoded = decodeHl7(failure.payload);
        if (decoded.ok) {
          return {
            payload: applicationAck(decoded.message, 'error', [
              {
                stage: Stage.Receive,
                severity: 'error',
                code: failure.code,
                message: error.detail,
                hl7Condition: '207',
              },
            ]),
          };
        }
        return { payload: rejectAck(failure.payload, decoded.error) };
      }
      case MllpErrorCode.FrameTooLarge: {
        const limit = this.config.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
        const error = tooLargeError(failure.framing.byteCount, limit);
        await this.channel?.receiveFailure(
          failure.framing.head,
          { source },
          {
            stage: Stage.Receive,
            severity: 'error',
            code: error.code,
            message: `${error.message} (only the first ${failure.framing.head.length} bytes are kept)`,
            hl7Condition: error.conditionCode,
          },
        );
        return { payload: rejectAck(failure.framing.head, error) };
      }
      case MllpErrorCode.EmptyFrame:
        return {
          payload: rejectAck(
            Buffer.alloc(0),
            new Hl7Error(
              Hl7ErrorCode.Empty,
              'the MLLP frame is empty (0x0B immediately followed by 0x1C); send one HL7 message per frame',
            ),
          ),
        };
      case MllpErrorCode.MissingEndCarriageReturn:
        return {
          payload: rejectAck(
            failure.framing.head,
            new Hl7Error(
              Hl7ErrorCode.BadInput,
              'the MLLP frame did not end with 0x1C 0x0D (this listener is strict); end each frame with 0x1C 0x0D',
              {},
              { conditionCode: '100' },
            ),
          ),
        };
      default:
        return failure satisfies never;
    }
  }
}

/** The acknowledgment for an outcome (undefined when MSH-16 asks for none). */
export function ackFor(payload: Buffer, outcome: InboundOutcome): Buffer | undefined {
  if (!outcome.decoded) {
    const decoded = decodeHl7(payload);
    const error = decoded.ok
      ? new Hl7Error(
          Hl7ErrorCode.BadInput,
          outcome.errors[0]?.message ?? 'the message could not be processed',
          {},
          { conditionCode: '207' },
        )
      : decoded.error;
    return rejectAck(payload, error);
  }
  if (!wantsApplicationAck(outcome.decoded, outcome.ack)) return undefined;
  return applicationAck(outcome.decoded, outcome.ack, outcome.errors);
}
