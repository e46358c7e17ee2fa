// The catalogue of coded HL7v2 errors. Every error the adapter raises is an `Hl7Error` with one of these codes,
// a location precise enough to fill an ERR segment (ERR-2 / ERR-1) and the HL7 table 0357 condition code (ERR-3).

/** HL7 table 0357 (message error condition codes) — the values that go into ERR-3 (or ERR-1.4 before 2.5). */
export const Hl7ConditionCode = {
  MessageAccepted: '0',
  SegmentSequenceError: '100',
  RequiredFieldMissing: '101',
  DataTypeError: '102',
  TableValueNotFound: '103',
  ValueTooLong: '104',
  UnsupportedMessageType: '200',
  UnsupportedEventCode: '201',
  UnsupportedProcessingId: '202',
  UnsupportedVersionId: '203',
  UnknownKeyIdentifier: '204',
  DuplicateKeyIdentifier: '205',
  ApplicationRecordLocked: '206',
  ApplicationInternalError: '207',
} as const;
export type Hl7ConditionCode = (typeof Hl7ConditionCode)[keyof typeof Hl7ConditionCode];

/** Display text of the table 0357 codes, as the standard names them. */
export const hl7ConditionText: Record<Hl7ConditionCode, string> = {
  '0': 'Message accepted',
  '100': 'Segment sequence error',
  '101': 'Required field missing',
  '102': 'Data type error',
  '103': 'Table value not found',
  '104': 'Value too long',
  '200': 'Unsupported message type',
  '201': 'Unsupported event code',
  '202': 'Unsupported processing id',
  '203': 'Unsupported version id',
  '204': 'Unknown key identifier',
  '205': 'Duplicate key identifier',
  '206': 'Application record locked',
  '207': 'Application internal error',
};

/** HL7 table 0516 (error severity) — ERR-4. */
export const Hl7Severity = { Error: 'E', Fatal: 'F', Information: 'I', Warning: 'W' } as const;
export type Hl7Severity = (typeof Hl7Severity)[keyof typeof Hl7Severity];

/** Every code the adapter can raise, with the table 0357 condition it maps to. */
export const Hl7ErrorCode = {
  /** The input is empty (no byte, or only blank lines). */
  Empty: 'HL7_EMPTY',
  /** The first segment is not MSH (or the input is not HL7 ER7 at all). */
  NoMsh: 'HL7_NO_MSH',
  /** MSH-1/MSH-2 do not define usable separators. */
  BadEncodingChars: 'HL7_BAD_ENCODING_CHARS',
  /** MSH-18 names a character set this adapter cannot decode. */
  UnsupportedCharset: 'HL7_UNSUPPORTED_CHARSET',
  /** Bytes that are not valid in the declared (or default) character set. */
  UndecodableBytes: 'HL7_UNDECODABLE_BYTES',
  /** A UTF-8 byte order mark contradicts MSH-18. */
  CharsetMismatch: 'HL7_CHARSET_MISMATCH',
  /** A segment name is not three upper-case letters or digits starting with a letter. */
  SegmentName: 'HL7_SEGMENT_NAME',
  /** A control character (NUL, MLLP framing byte…) inside a segment. */
  ControlCharacter: 'HL7_CONTROL_CHARACTER',
  /** More than one MSH in an input parsed as one message. */
  MultipleMessages: 'HL7_MULTIPLE_MESSAGES',
  /** A batch envelope segment (FHS/BHS/BTS/FTS) where a single message was expected, or a broken envelope. */
  BatchStructure: 'HL7_BATCH_STRUCTURE',
  /** BTS-1 / FTS-1 counts that do not match the content. */
  BatchCount: 'HL7_BATCH_COUNT',
  /** Input larger than `limits.maxBytes`. */
  TooLarge: 'HL7_TOO_LARGE',
  /** More segments than `limits.maxSegments`. */
  TooManySegments: 'HL7_TOO_MANY_SEGMENTS',
  /** More fields in one segment than `limits.maxFields`. */
  TooManyFields: 'HL7_TOO_MANY_FIELDS',
  /** A field longer than `limits.maxFieldLength`. */
  FieldTooLong: 'HL7_FIELD_TOO_LONG',
  /** More repetitions in one field than `limits.maxRepetitions`. */
  TooManyRepetitions: 'HL7_TOO_MANY_REPETITIONS',
  /** A value that does not match its data type (DTM, NM…), raised by the typed accessors. */
  BadValue: 'HL7_BAD_VALUE',
  /** A path such as `PID-3[2].1` that is not well formed. */
  BadPath: 'HL7_BAD_PATH',
  /** A value given to the builder or editor that cannot be written (e.g. a segment name, a field 0). */
  BadInput: 'HL7_BAD_INPUT',
} as const;
export type Hl7ErrorCode = (typeof Hl7ErrorCode)[keyof typeof Hl7ErrorCode];

/** The table 0357 condition each adapter error maps to, for ERR-3. */
export function conditionCodeOf(code: Hl7ErrorCode): Hl7ConditionCode {
  switch (code) {
    case Hl7ErrorCode.Empty:
    case Hl7ErrorCode.NoMsh:
    case Hl7ErrorCode.SegmentName:
    case Hl7ErrorCode.MultipleMessages:
    case Hl7ErrorCode.BatchStructure:
    case Hl7ErrorCode.BatchCount:
    case Hl7ErrorCode.TooManySegments:
      return Hl7ConditionCode.SegmentSequenceError;
    case Hl7ErrorCode.BadEncodingChars:
    case Hl7ErrorCode.UndecodableBytes:
    case Hl7ErrorCode.CharsetMismatch:
    case Hl7ErrorCode.ControlCharacter:
    case Hl7ErrorCode.BadValue:
    case Hl7ErrorCode.TooManyFields:
    case Hl7ErrorCode.TooManyRepetitions:
      return Hl7ConditionCode.DataTypeError;
    case Hl7ErrorCode.UnsupportedCharset:
      return Hl7ConditionCode.TableValueNotFound;
    case Hl7ErrorCode.TooLarge:
    case Hl7ErrorCode.FieldTooLong:
      return Hl7ConditionCode.ValueTooLong;
    case Hl7ErrorCode.BadPath:
    case Hl7ErrorCode.BadInput:
      return Hl7ConditionCode.ApplicationInternalError;
    default:
      return code satisfies never;
  }
}

/**
 * Where an error is. Indices follow the standard: fields, repetitions, components and subcomponents count from 1;
 * `segmentIndex` is the position of the segment in the message (1 = MSH), `segmentSequence` the occurrence of that
 * segment name (2 = the second OBX), as ERR-2.2 wants it.
 */
export interface Hl7Location {
  segmentName?: string;
  segmentIndex?: number;
  segmentSequence?: number;
  field?: number;
  repetition?: number;
  component?: number;
  subcomponent?: number;
  /** Byte offset in the input where the problem was seen. */
  byteOffset?: number;
  /** 1-based line (segment) number in the input, counting every terminator. */
  line?: number;
}

/** A coded error: `code` from the catalogue, a message that says what to do, and where it is. */
export class Hl7Error extends Error {
  override readonly name = 'Hl7Error';
  readonly code: Hl7ErrorCode;
  readonly location: Hl7Location;
  /** The table 0357 code for ERR-3 (or ERR-1.4). */
  readonly conditionCode: Hl7ConditionCode;
  readonly severity: Hl7Severity;
  /** The message without the code prefix and location suffix (for ERR-8 / MSA-3). */
  readonly detail: string;

  constructor(
    code: Hl7ErrorCode,
    message: string,
    location: Hl7Location = {},
    options: { conditionCode?: Hl7ConditionCode; severity?: Hl7Severity; cause?: unknown } = {},
  ) {
    super(
      `${code}: ${message}${describeLocation(location)}`,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.code = code;
    this.location = location;
    this.conditionCode = options.conditionCode ?? conditionCodeOf(code);
    this.severity = options.severity ?? Hl7Severity.Error;
    this.detail = message;
  }
}

/** ` (at PID[1]-3.1, line 2, byte 57)` — empty when nothing is known. */
export function describeLocation(location: Hl7Location): string {
  const parts: string[] = [];
  if (location.segmentName !== undefined) {
    let where = location.segmentName;
    if (location.segmentSequence !== undefined && location.segmentSequence > 1)
      where += `[${location.segmentSequence}]`;
    if (location.field !== undefined) {
      where += `-${location.field}`;
      if (location.repetition !== undefined && location.repetition > 1) where += `[${location.repetition}]`;
      if (location.component !== undefined) where += `.${location.component}`;
      if (location.subcomponent !== undefined) where += `.${location.subcomponent}`;
    }
    parts.push(`at ${where}`);
  }
  if (location.line !== undefined) parts.push(`line ${location.line}`);
  if (location.byteOffset !== undefined) parts.push(`byte ${location.byteOffset}`);
  return parts.length ? ` (${parts.join(', ')})` : '';
}

/** Result of the non-throwing entry points. */
export type Hl7Result<T> = { ok: true; value: T } | { ok: false; error: Hl7Error };
