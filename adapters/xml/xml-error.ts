// The catalogue of XML errors. Every error says where (line/column when known) and what to do.

export const XmlErrorCode = {
  /** Input is empty or only whitespace. */
  Empty: 'XML_EMPTY',
  /** The bytes are not XML 1.0 well-formed (unclosed tag, bad name, text after the root…). */
  NotWellFormed: 'XML_NOT_WELL_FORMED',
  /** A DOCTYPE was present: refused, so no entity can be declared (XXE, billion laughs). */
  DoctypeForbidden: 'XML_DOCTYPE_FORBIDDEN',
  /** An entity reference other than the five predefined ones or a character reference. */
  UndefinedEntity: 'XML_UNDEFINED_ENTITY',
  /** More bytes than the configured limit. */
  TooLarge: 'XML_TOO_LARGE',
  /** Elements nested deeper than the configured limit. */
  TooDeep: 'XML_TOO_DEEP',
  /** More attributes on one element than the configured limit. */
  TooManyAttributes: 'XML_TOO_MANY_ATTRIBUTES',
  /** More elements in the document than the configured limit. */
  TooManyElements: 'XML_TOO_MANY_ELEMENTS',
  /** The declared or detected character encoding is not supported. */
  UnsupportedEncoding: 'XML_UNSUPPORTED_ENCODING',
  /** The bytes are not valid in the declared or detected encoding. */
  InvalidEncoding: 'XML_INVALID_ENCODING',
  /** A prefix is used without being declared. */
  UnboundPrefix: 'XML_UNBOUND_PREFIX',
  /** The root element is not the one the caller expects. */
  UnexpectedRoot: 'XML_UNEXPECTED_ROOT',
  /** A string handed to the writer holds a character XML 1.0 cannot carry (e.g. U+0000). */
  InvalidCharacter: 'XML_INVALID_CHARACTER',
  /** A name handed to the writer is not a valid XML name. */
  InvalidName: 'XML_INVALID_NAME',
} as const;
export type XmlErrorCode = (typeof XmlErrorCode)[keyof typeof XmlErrorCode];

export interface XmlErrorPosition {
  line?: number;
  column?: number;
}

/** An XML error: a code from {@link XmlErrorCode}, a message that says what to do, and where. */
export class XmlError extends Error {
  override readonly name = 'XmlError';
  readonly code: XmlErrorCode;
  readonly line: number | undefined;
  readonly column: number | undefined;

  constructor(code: XmlErrorCode, message: string, position: XmlErrorPosition = {}) {
    const where = position.line !== undefined ? ` (line ${position.line}, column ${position.column ?? 0})` : '';
    super(`${message}${where}`);
    this.code = code;
    this.line = position.line;
    this.column = position.column;
  }
}

export function isXmlError(value: unknown): value is XmlError {
  return value instanceof XmlError;
}
