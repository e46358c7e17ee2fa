// The catalogue of MLLP errors: every failure of the framing, the listener or the sender is an MllpError
// with one of these codes, and a message that says what happened and what to do about it.

export const MllpErrorCode = {
  /** Nobody listens at host:port (ECONNREFUSED), or the host cannot be resolved or reached. */
  ConnectionRefused: 'mllp.connection-refused',
  /** The TCP (or TLS) connection was not established within connectTimeoutMs. */
  ConnectTimeout: 'mllp.connect-timeout',
  /** The TLS handshake failed: untrusted or missing certificate, wrong host name, protocol mismatch. */
  TlsHandshakeFailed: 'mllp.tls-handshake-failed',
  /** No reply frame arrived within ackTimeoutMs after the frame was written. */
  AckTimeout: 'mllp.ack-timeout',
  /** The connection closed (or broke) while a reply was awaited or a frame was being written. */
  ConnectionClosed: 'mllp.connection-closed',
  /** The peer's reply frame is larger than maxFrameBytes. */
  ReplyTooLarge: 'mllp.reply-too-large',
  /** A payload cannot be framed: it is empty or contains an MLLP block byte (0x0B or 0x1C). */
  InvalidPayload: 'mllp.invalid-payload',
  /** The client or server was closed by its owner; no more frames are accepted. */
  Closed: 'mllp.closed',
  /** A listener handler did not settle within handlerTimeoutMs. */
  HandlerTimeout: 'mllp.handler-timeout',
  /** A listener handler threw or rejected. */
  HandlerFailed: 'mllp.handler-failed',
  /** The listener refused a connection because maxConnections were already open. */
  TooManyConnections: 'mllp.too-many-connections',
  /** Framing: bytes arrived outside a frame (before 0x0B, or after 0x1C 0x0D). */
  BytesOutsideFrame: 'mllp.bytes-outside-frame',
  /** Framing: a frame exceeded maxFrameBytes; it was discarded (its first bytes are kept in `head`). */
  FrameTooLarge: 'mllp.frame-too-large',
  /** Framing: 0x0B immediately followed by 0x1C — a frame with no payload. */
  EmptyFrame: 'mllp.empty-frame',
  /** Framing: a frame never ended (a new 0x0B, or the end of the stream, came before 0x1C). */
  UnterminatedFrame: 'mllp.unterminated-frame',
  /** Framing (strict mode): 0x1C was not followed by 0x0D. */
  MissingEndCarriageReturn: 'mllp.missing-end-carriage-return',
} as const;
export type MllpErrorCode = (typeof MllpErrorCode)[keyof typeof MllpErrorCode];

/** The framing codes: what MllpFrameDecoder reports. */
export type MllpFramingErrorCode =
  | typeof MllpErrorCode.BytesOutsideFrame
  | typeof MllpErrorCode.FrameTooLarge
  | typeof MllpErrorCode.EmptyFrame
  | typeof MllpErrorCode.UnterminatedFrame
  | typeof MllpErrorCode.MissingEndCarriageReturn;

export interface MllpErrorDetails {
  /** host:port of the peer, when known. */
  peer?: string;
  /** The underlying error (socket error, TLS error, handler exception). */
  cause?: unknown;
}

export class MllpError extends Error {
  readonly peer: string | undefined;

  constructor(
    readonly code: MllpErrorCode,
    message: string,
    details: MllpErrorDetails = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'MllpError';
    this.peer = details.peer;
  }
}

export function isMllpError(error: unknown, code?: MllpErrorCode): error is MllpError {
  return error instanceof MllpError && (code === undefined || error.code === code);
}
