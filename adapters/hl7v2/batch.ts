// Batches: [FHS] { [BHS] MSH… [BTS] } [FTS], or simply several messages one after the other (a file of messages).
import type { Hl7Charset } from './charset.js';
import { detectCharset } from './charset.js';
import type { Hl7Delimiters } from './delimiters.js';
import { defaultDelimiters } from './delimiters.js';
import type { Hl7Result } from './errors.js';
import { Hl7Error, Hl7ErrorCode } from './errors.js';
import type { Hl7Message } from './model.js';
import { Hl7Segment } from './model.js';
import type { Hl7ParseOptions } from './parse.js';
import { internals } from './parse.js';

const { CODE_MSH, CODE_FHS, CODE_BHS, CODE_BTS, CODE_FTS } = internals.codes;
const CR = 0x0d;
const LF = 0x0a;

export interface Hl7BatchOptions extends Hl7ParseOptions {
  /** Check BTS-1 (messages in the batch) and FTS-1 (batches in the file) when present. Default true. */
  checkCounts?: boolean;
}

/** One batch: its BHS and BTS when the sender wrote them, and its messages. */
export interface Hl7BatchGroup {
  readonly header: Hl7Segment | undefined;
  readonly messages: Hl7Message[];
  readonly trailer: Hl7Segment | undefined;
}

type Unit = { kind: 'message'; message: Hl7Message } | { kind: 'envelope'; segment: Hl7Segment; bytes: Buffer };

/** A parsed batch file. `messages` lists every message of every batch, in order. */
export class Hl7Batch {
  readonly fileHeader: Hl7Segment | undefined;
  readonly fileTrailer: Hl7Segment | undefined;
  readonly batches: readonly Hl7BatchGroup[];
  readonly #head: Buffer;
  readonly #units: readonly Unit[];

  /** @internal */
  constructor(init: {
    fileHeader?: Hl7Segment;
    fileTrailer?: Hl7Segment;
    batches: Hl7BatchGroup[];
    head: Buffer;
    units: Unit[];
  }) {
    this.fileHeader = init.fileHeader;
    this.fileTrailer = init.fileTrailer;
    this.batches = init.batches;
    this.#head = init.head;
    this.#units = init.units;
  }

  get messages(): Hl7Message[] {
    return this.batches.flatMap((b) => b.messages);
  }

  /** True when the input had no FHS/BHS envelope (messages one after the other). */
  get isPlainSequence(): boolean {
    return !this.fileHeader && this.batches.every((b) => !b.header);
  }

  /** The batch as bytes: byte for byte the input unless a message was edited. */
  toBuffer(): Buffer {
    const parts: Buffer[] = [this.#head];
    for (const unit of this.#units) parts.push(unit.kind === 'message' ? unit.message.toBuffer() : unit.bytes);
    return Buffer.concat(parts);
  }
}

function nameAt(bytes: Buffer, at: number): number {
  return (bytes[at]! << 16) | (bytes[at + 1]! << 8) | bytes[at + 2]!;
}

/** An envelope segment at `at`: its segment, its end and the end of its terminators. */
function readEnvelope(
  bytes: Buffer,
  at: number,
  end: number,
  d: Hl7Delimiters | undefined,
  allowControl: boolean,
): { segment: Hl7Segment; next: number; d: Hl7Delimiters } {
  const code = nameAt(bytes, at);
  const name = bytes.toString('latin1', at, at + 3);
  let delimiters = d ?? defaultDelimiters;
  if (code === CODE_FHS || code === CODE_BHS) delimiters = internals.readDelimiters(bytes, at, end, name).d;
  let i = at + 3;
  while (i < end && bytes[i] !== CR && bytes[i] !== LF) {
    const b = bytes[i]!;
    if (b < 0x20 && b !== 0x09 && !allowControl) {
      throw new Hl7Error(
        Hl7ErrorCode.ControlCharacter,
        `the control character 0x${b.toString(16).padStart(2, '0')} inside ${name}; control characters must be escaped`,
        {
          segmentName: name,
          byteOffset: i,
          line: internals.lineAt(bytes, i),
        },
      );
    }
    i++;
  }
  if (i < end && i > at + 3 && bytes[at + 3] !== delimiters.field.charCodeAt(0)) {
    throw new Hl7Error(
      Hl7ErrorCode.SegmentName,
      `${name} is not followed by the field separator "${delimiters.field}"`,
      {
        segmentName: name,
        byteOffset: at + 3,
        line: internals.lineAt(bytes, at),
      },
    );
  }
  const contentEnd = i;
  while (i < end && (bytes[i] === CR || bytes[i] === LF)) i++;
  const charset: Hl7Charset = detectCharset(bytes, at, contentEnd);
  const segment = new Hl7Segment(name, { d: delimiters, charset }, { bytes, start: at, end: contentEnd, next: i });
  return { segment, next: i, d: delimiters };
}

function countOf(segment: Hl7Segment): number | undefined {
  const raw = segment.get('1');
  if (raw === undefined || raw === null) return undefined;
  const n = Number(raw.trim());
  if (!Number.isInteger(n) || n < 0) {
    throw new Hl7Error(Hl7ErrorCode.BatchCount, `${segment.name}-1 is "${raw}", not a count`, {
      segmentName: segment.name,
      field: 1,
    });
  }
  return n;
}

/**
 * Parses a batch file (FHS/BHS/BTS/FTS envelope) or a plain sequence of messages into its messages. Every message
 * is parsed as by `parseHl7Message`, with its own MSH separators and MSH-18 charset. Throws `Hl7Error`.
 */
export function parseHl7Batch(input: Buffer | Uint8Array | string, options?: Hl7BatchOptions): Hl7Batch {
  const bytes = internals.toBytes(input);
  internals.checkSize(bytes, internals.limitsOf(options));
  const end = bytes.length;
  const [first, bom] = internals.skipLead(bytes, 0, end);
  if (first >= end) throw internals.emptyError();
  const allowControl = options?.allowControlCharacters ?? false;
  const checkCounts = options?.checkCounts ?? true;
  const head = bytes.subarray(0, first);
  const units: Unit[] = [];
  const batches: Hl7BatchGroup[] = [];
  let fileHeader: Hl7Segment | undefined;
  let fileTrailer: Hl7Segment | undefined;
  let group: { header: Hl7Segment | undefined; messages: Hl7Message[]; trailer: Hl7Segment | undefined } | undefined;
  let envelopeDelimiters: Hl7Delimiters | undefined;
  let headerBatches = 0;
  let i = first;
  let leadBom = bom;

  const structure = (message: string, at: number) =>
    new Hl7Error(Hl7ErrorCode.BatchStructure, message, {
      segmentName: bytes.toString('latin1', at, at + 3),
      byteOffset: at,
      line: internals.lineAt(bytes, at),
    });

  while (i < end) {
    if (end - i < 3) throw internals.notHl7(bytes, i, 'MSH, FHS or BHS');
    const code = nameAt(bytes, i);
    if (fileTrailer) throw structure('content after FTS, the end of the file; a batch file has one FHS … FTS', i);
    if (code === CODE_MSH) {
      if (!group) {
        group = { header: undefined, messages: [], trailer: undefined };
        batches.push(group);
      }
      const { message, stop } = internals.readMessage(bytes, { begin: i, first: i, bom: leadBom }, end, options, true);
      leadBom = false;
      group.messages.push(message);
      units.push({ kind: 'message', message });
      i = stop;
      continue;
    }
    if (!internals.isEnvelope(code)) {
      throw units.length === 0
        ? internals.notHl7(bytes, i, 'MSH, FHS or BHS')
        : structure(`${bytes.toString('latin1', i, i + 3)} cannot start a message; each message starts with MSH`, i);
    }
    const env = readEnvelope(bytes, i, end, envelopeDelimiters, allowControl);
    // Blank lines after an envelope segment belong to it (for the byte-exact round trip).
    const next = internals.skipBlank(bytes, env.next, end);
    units.push({ kind: 'envelope', segment: env.segment, bytes: bytes.subarray(i, next) });
    switch (code) {
      case CODE_FHS:
        if (units.length !== 1) throw structure('FHS must be the first segment of a batch file', i);
        fileHeader = env.segment;
        envelopeDelimiters = env.d;
        break;
      case CODE_BHS:
        // A new BHS also closes a batch whose BTS was left out (nothing to count then).
        group = { header: env.segment, messages: [], trailer: undefined };
        batches.push(group);
        headerBatches++;
        envelopeDelimiters = env.d;
        break;
      case CODE_BTS: {
        if (!group || !group.header || group.trailer) throw structure('BTS without a BHS before it', i);
        group.trailer = env.segment;
        const expected = countOf(env.segment);
        if (checkCounts && expected !== undefined && expected !== group.messages.length) {
          throw new Hl7Error(
            Hl7ErrorCode.BatchCount,
            `BTS-1 says the batch holds ${expected} message(s) but it holds ${group.messages.length}; the batch may have been cut or concatenated — ask the sender to resend it`,
            { segmentName: 'BTS', field: 1, byteOffset: i, line: internals.lineAt(bytes, i) },
          );
        }
        group = undefined;
        break;
      }
      case CODE_FTS: {
        if (!fileHeader) throw structure('FTS without an FHS at the start of the file', i);
        fileTrailer = env.segment;
        const expected = countOf(env.segment);
        if (checkCounts && expected !== undefined && expected !== headerBatches) {
          throw new Hl7Error(
            Hl7ErrorCode.BatchCount,
            `FTS-1 says the file holds ${expected} batch(es) but it holds ${headerBatches}; the file may have been cut — ask the sender to resend it`,
            { segmentName: 'FTS', field: 1, byteOffset: i, line: internals.lineAt(bytes, i) },
          );
        }
        break;
      }
    }
    i = next;
  }
  return new Hl7Batch({ fileHeader, fileTrailer, batches, head, units });
}

/** Like `parseHl7Batch`, without throwing. */
export function tryParseHl7Batch(input: Buffer | Uint8Array | string, options?: Hl7BatchOptions): Hl7Result<Hl7Batch> {
  try {
    return { ok: true, value: parseHl7Batch(input, options) };
  } catch (error) {
    if (error instanceof Hl7Error) return { ok: false, error };
    throw error;
  }
}
