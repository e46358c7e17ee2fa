// MLLP: framing, listener and sender for HL7 v2 over TCP/TLS. No HL7 parsing and no engine imports: payloads
// are bytes; the engine decides what a reply says. See README.md.
export { MllpError, MllpErrorCode, isMllpError, type MllpErrorDetails, type MllpFramingErrorCode } from './errors.js';
export {
  DEFAULT_HEAD_BYTES,
  DEFAULT_MAX_FRAME_BYTES,
  MllpByte,
  MllpFrameDecoder,
  MllpFramingMode,
  encodeMllpFrame,
  type MllpDecoded,
  type MllpFrameDecoderOptions,
  type MllpFramingError,
} from './frame-codec.js';
export {
  MllpCloseReason,
  MllpServer,
  type AnswerableFramingCode,
  type MllpConnection,
  type MllpConnectionSummary,
  type MllpFailure,
  type MllpFailureHandler,
  type MllpFrameContext,
  type MllpHandler,
  type MllpPeerCertificate,
  type MllpReply,
  type MllpServerCloseOptions,
  type MllpServerEvents,
  type MllpServerOptions,
} from './server.js';
export {
  MllpClient,
  MllpClientPool,
  type MllpClientEvents,
  type MllpClientOptions,
  type MllpClientPoolOptions,
  type MllpPoolSendOptions,
  type MllpReconnectOptions,
  type MllpSendOptions,
} from './client.js';
