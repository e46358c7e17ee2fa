// The catalogue of channel-engine errors. Every failure the engine reports — a channel file that does not
// load, a message that cannot be found, a replay that makes no sense — is an EngineError with one of these
// codes, an HTTP status for the admin API, and a message that says what to do.

export const EngineErrorCode = {
  /** A channel file is invalid (YAML syntax, schema, unknown mapping, port clash…): see `issues`. */
  ChannelConfig: 'engine.channel-config',
  /** No channel with this id is loaded. */
  ChannelNotFound: 'engine.channel-not-found',
  /** The channel is not in a state that allows the operation (e.g. a replay on a channel whose file is invalid). */
  ChannelState: 'engine.channel-state',
  /** No message with this id in the message store (never received, or pruned). */
  MessageNotFound: 'engine.message-not-found',
  /** A channel has no destination of this name. */
  DestinationNotFound: 'engine.destination-not-found',
  /** A request to the admin API is malformed (bad cursor, bad date, missing body…). */
  InvalidRequest: 'engine.invalid-request',
  /** A mapping referenced by a channel is not in the mapper registry. */
  MappingNotFound: 'engine.mapping-not-found',
  /** A replay job id that does not exist (or finished long ago). */
  JobNotFound: 'engine.job-not-found',
} as const;
export type EngineErrorCode = (typeof EngineErrorCode)[keyof typeof EngineErrorCode];

const STATUS: Record<EngineErrorCode, number> = {
  'engine.channel-config': 422,
  'engine.channel-not-found': 404,
  'engine.channel-state': 409,
  'engine.message-not-found': 404,
  'engine.destination-not-found': 404,
  'engine.invalid-request': 400,
  'engine.mapping-not-found': 422,
  'engine.job-not-found': 404,
};

/** One problem in a channel file, with where it is and how to fix it. */
export interface ChannelConfigIssue {
  file: string;
  /** 1-based; 0 when the problem is about the file as a whole. */
  line: number;
  column: number;
  /** Path in the document, e.g. `source.port` or `destinations[1].retry.maxAttempts`. */
  path: string;
  message: string;
  fix: string;
}

export class EngineError extends Error {
  override readonly name = 'EngineError';
  readonly status: number;

  constructor(
    readonly code: EngineErrorCode,
    message: string,
    readonly issues: readonly ChannelConfigIssue[] = [],
  ) {
    super(message);
    this.status = STATUS[code];
  }
}

export function isEngineError(error: unknown, code?: EngineErrorCode): error is EngineError {
  return error instanceof EngineError && (code === undefined || error.code === code);
}

/** `channels/lab.channel.yaml:12:5: source.port must be … Fix: …` */
export function formatIssue(issue: ChannelConfigIssue): string {
  const where = issue.line > 0 ? `${issue.file}:${issue.line}:${issue.column}` : issue.file;
  return `${where}: ${issue.path || 'channel'}: ${issue.message} Fix: ${issue.fix}`;
}

export function channelConfigError(issues: ChannelConfigIssue[]): EngineError {
  const head = issues.length === 1 ? 'The channel file is invalid' : `The channel file has ${issues.length} problems`;
  return new EngineError(
    EngineErrorCode.ChannelConfig,
    `${head}:\n${issues.map((i) => `  ${formatIssue(i)}`).join('\n')}`,
    issues,
  );
}

// ---- errors written on a message ----

/**
 * The errors the engine itself writes on a message (`MessageIssue.code`), each with the parameters stored beside it
 * (`MessageIssue.params`), so that a console words them in its own language from the code; `MessageIssue.message`
 * keeps the English text (built here from the same parameters) for logs, the API and rows written before codes had
 * parameters. Errors that come from elsewhere (the HL7 parser, a mapping, a quality rule) keep their own codes and
 * text. The codes are stable: a console keys its translations on them.
 */
export const MessageErrorCode = {
  /** A destination failed `retry.maxAttempts` times (or refused for good): the delivery is in the dead letter. */
  DeadLetter: 'DEAD_LETTER',
  /** The raw message could not be persisted (database down): nothing kept, the sender must resend. */
  MessageStoreUnavailable: 'MESSAGE_STORE_UNAVAILABLE',
  /** The channel's mapping is not installed. */
  MappingNotFound: 'MAPPING_NOT_FOUND',
  /** The mapping threw (not an issue it reported). */
  MappingFailed: 'MAPPING_FAILED',
  /** The quality rules threw. */
  QualityCheckFailed: 'QUALITY_CHECK_FAILED',
  /** The change log is unavailable: the message is kept and processed again. */
  StoreUnavailable: 'STORE_UNAVAILABLE',
  /** The projector refused the change set. */
  ChangeSetRejected: 'CHANGE_SET_REJECTED',
  /** An outbound channel's encoder threw. */
  EncoderFailed: 'ENCODER_FAILED',
  /** An outbound channel's encoder produced no message. */
  EncoderNoMessage: 'ENCODER_NO_MESSAGE',
} as const;
export type MessageErrorCode = (typeof MessageErrorCode)[keyof typeof MessageErrorCode];

/** The parameters of each code (what a translation may use as `{name}`). */
export interface MessageErrorParams {
  DEAD_LETTER: { destination: string; attempts: number; lastError: string };
  MESSAGE_STORE_UNAVAILABLE: Record<string, never>;
  MAPPING_NOT_FOUND: { mapping: string };
  MAPPING_FAILED: { mapping: string; detail: string };
  QUALITY_CHECK_FAILED: { detail: string };
  STORE_UNAVAILABLE: Record<string, never>;
  CHANGE_SET_REJECTED: { detail: string };
  ENCODER_FAILED: { detail: string; target: string; changeSet: string };
  ENCODER_NO_MESSAGE: { target: string; changeSet: string };
}

const MESSAGE_ERROR_TEXT: { [C in MessageErrorCode]: (p: MessageErrorParams[C]) => string } = {
  DEAD_LETTER: (p) => `Delivery to ${p.destination} failed ${p.attempts} time(s): ${p.lastError}`,
  MESSAGE_STORE_UNAVAILABLE: () =>
    'The hub could not store the message (database unavailable); nothing was kept: resend it later.',
  MAPPING_NOT_FOUND: (p) =>
    `The channel's mapping "${p.mapping}" is not installed; the message is kept: replay it once the mapping exists.`,
  MAPPING_FAILED: (p) => `The mapping ${p.mapping} failed: ${p.detail}`,
  QUALITY_CHECK_FAILED: (p) => `The quality rules failed to run: ${p.detail}`,
  STORE_UNAVAILABLE: () =>
    'The message is kept but could not be committed to the record yet (the change log is unavailable); it will be processed again. Resend it or wait.',
  CHANGE_SET_REJECTED: (p) =>
    `The store refused the change set: ${p.detail} Fix the mapping (or the message) and replay it.`,
  ENCODER_FAILED: (p) => `${p.detail} (${p.target}, change set ${p.changeSet})`,
  ENCODER_NO_MESSAGE: (p) => `The encoder produced no message. (${p.target}, change set ${p.changeSet})`,
};

/** `{code, params, message}` of a message error: the code and parameters for a console, the English text for the rest. */
export function messageError<C extends MessageErrorCode>(
  code: C,
  params: MessageErrorParams[C],
): { code: C; params: MessageErrorParams[C]; message: string } {
  return { code, params, message: MESSAGE_ERROR_TEXT[code](params) };
}
