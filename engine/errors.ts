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
