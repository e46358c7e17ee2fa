// MLLP framing: a frame is 0x0B <payload> 0x1C 0x0D on a TCP stream. MllpFrameDecoder is a pure class —
// feed it the chunks a socket delivers, in order, and it returns the complete frames and the framing errors
// they contained, in stream order. It never holds more than maxFrameBytes of one frame; bytes outside frames
// and the body of an oversized frame are counted, reported and dropped, never buffered.
import { MllpError, MllpErrorCode, type MllpFramingErrorCode } from './errors.js';

/** The three bytes of MLLP framing. */
export const MllpByte = {
  StartBlock: 0x0b,
  EndBlock: 0x1c,
  CarriageReturn: 0x0d,
} as const;

/**
 * How forgiving the decoder is with senders that bend the framing rules (see README, "Framing").
 * - `tolerant` (default): whitespace between frames (CR, LF, space, tab) is skipped silently; a frame ends at
 *   0x1C even when 0x0D does not follow (the next byte is read as outside the frame).
 * - `strict`: any byte outside a frame is reported; a frame ends only at 0x1C 0x0D, and a 0x1C followed by
 *   anything else discards the frame with `mllp.missing-end-carriage-return`.
 */
export const MllpFramingMode = {
  Tolerant: 'tolerant',
  Strict: 'strict',
} as const;
export type MllpFramingMode = (typeof MllpFramingMode)[keyof typeof MllpFramingMode];

export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;
export const DEFAULT_HEAD_BYTES = 1024;

export interface MllpFrameDecoderOptions {
  /** Largest payload accepted, in bytes (default 16 MiB). A larger frame is discarded and reported. */
  maxFrameBytes?: number;
  /** Framing strictness (default `tolerant`). */
  mode?: MllpFramingMode;
  /** How many leading bytes of a failed frame or of stray bytes an error keeps in `head` (default 1024). */
  headBytes?: number;
}

export interface MllpFramingError {
  readonly code: MllpFramingErrorCode;
  /** What happened and what the sender should do. */
  readonly message: string;
  /** The number of bytes concerned: the payload size of the failed frame, or the count of stray bytes. */
  readonly byteCount: number;
  /**
   * The first bytes concerned (at most headBytes, a copy). For a frame, its start: enough for the layer above
   * to read the MSH segment of an oversized message and answer it with a negative acknowledgment.
   */
  readonly head: Buffer;
}

export type MllpDecoded =
  { readonly type: 'frame'; readonly payload: Buffer } | { readonly type: 'error'; readonly error: MllpFramingError };

const State = {
  /** Between frames: waiting for 0x0B. */
  Outside: 0,
  /** Inside a frame, keeping its bytes. */
  InFrame: 1,
  /** Inside a frame that exceeded maxFrameBytes: counting its bytes, keeping only its head. */
  Discarding: 2,
  /** Just after 0x1C: expecting 0x0D. */
  AfterEndBlock: 3,
} as const;
type State = (typeof State)[keyof typeof State];

function isInterFrameWhitespace(byte: number): boolean {
  return byte === 0x0d || byte === 0x0a || byte === 0x20 || byte === 0x09;
}

function hex(byte: number): string {
  return `0x${byte.toString(16).padStart(2, '0').toUpperCase()}`;
}

export class MllpFrameDecoder {
  readonly maxFrameBytes: number;
  readonly mode: MllpFramingMode;
  readonly headBytes: number;

  private state: State = State.Outside;
  /** Slices of the current frame (InFrame), or of a frame whose end block was seen (strict AfterEndBlock). */
  private parts: Buffer[] = [];
  /** Payload bytes of the current frame seen so far, discarded ones included. */
  private size = 0;
  /** The first headBytes of a frame being discarded. */
  private discardedHead: Buffer | undefined;
  /** Strict mode: whether the frame waiting for its 0x0D was being discarded. */
  private endedWhileDiscarding = false;

  constructor(options: MllpFrameDecoderOptions = {}) {
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.mode = options.mode ?? MllpFramingMode.Tolerant;
    this.headBytes = options.headBytes ?? DEFAULT_HEAD_BYTES;
    if (!Number.isInteger(this.maxFrameBytes) || this.maxFrameBytes < 1) {
      throw new RangeError(`maxFrameBytes must be a positive integer, got ${String(options.maxFrameBytes)}`);
    }
    if (!Number.isInteger(this.headBytes) || this.headBytes < 0) {
      throw new RangeError(`headBytes must be a non-negative integer, got ${String(options.headBytes)}`);
    }
  }

  /** Bytes currently held for an unfinished frame (never more than maxFrameBytes + headBytes). */
  get bufferedBytes(): number {
    if (this.discardedHead) return this.discardedHead.length;
    let total = 0;
    for (const part of this.parts) total += part.length;
    return total;
  }

  /** True while a frame has started and not yet ended. */
  get inFrame(): boolean {
    return this.state !== State.Outside;
  }

  /** Feeds the next chunk of the stream; returns the frames and errors it completed, in stream order. */
  push(chunk: Uint8Array): MllpDecoded[] {
    const data = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const out: MllpDecoded[] = [];
    const length = data.length;
    let position = 0;
    while (position < length) {
      switch (this.state) {
        case State.Outside: {
          const start = data.indexOf(MllpByte.StartBlock, position);
          const stop = start === -1 ? length : start;
          if (stop > position) this.reportOutside(data, position, stop, out);
          if (start === -1) {
            position = length;
          } else {
            this.beginFrame();
            position = start + 1;
          }
          break;
        }
        case State.InFrame:
        case State.Discarding: {
          const end = data.indexOf(MllpByte.EndBlock, position);
          const stop = end === -1 ? length : end;
          const restart = data.subarray(position, stop).indexOf(MllpByte.StartBlock);
          if (restart !== -1) {
            // A new start block before this frame's end: the sender gave up on it (usually after its own
            // timeout) and started again. The partial frame is reported and a new one begins.
            this.append(data, position, position + restart);
            out.push(this.failFrame(MllpErrorCode.UnterminatedFrame, 'a new start block (0x0B) arrived first'));
            this.beginFrame();
            position += restart + 1;
            break;
          }
          this.append(data, position, stop);
          if (end === -1) {
            position = length;
            break;
          }
          position = end + 1;
          if (this.mode === MllpFramingMode.Tolerant) {
            out.push(this.completeFrame());
          } else {
            this.endedWhileDiscarding = this.state === State.Discarding;
          }
          this.state = State.AfterEndBlock;
          break;
        }
        case State.AfterEndBlock: {
          const byte = data[position]!;
          if (byte === MllpByte.CarriageReturn) {
            position += 1;
            if (this.mode === MllpFramingMode.Strict) out.push(this.completeFrame());
          } else if (this.mode === MllpFramingMode.Strict) {
            // Leave the byte unconsumed: it is read again as outside a frame (it may be the next 0x0B).
            out.push(
              this.failFrame(
                MllpErrorCode.MissingEndCarriageReturn,
                `the end block 0x1C was followed by ${hex(byte)} instead of 0x0D`,
              ),
            );
          }
          this.resetFrame();
          this.state = State.Outside;
          break;
        }
        default:
          this.state satisfies never;
      }
    }
    return out;
  }

  /** The stream has ended: reports a frame left unfinished, and resets the decoder. */
  end(): MllpDecoded[] {
    const out: MllpDecoded[] = [];
    if (this.state === State.InFrame || this.state === State.Discarding) {
      out.push(this.failFrame(MllpErrorCode.UnterminatedFrame, 'the stream ended first'));
    } else if (this.state === State.AfterEndBlock && this.mode === MllpFramingMode.Strict) {
      out.push(this.failFrame(MllpErrorCode.MissingEndCarriageReturn, 'the stream ended after the end block 0x1C'));
    }
    this.resetFrame();
    this.state = State.Outside;
    return out;
  }

  private beginFrame(): void {
    this.resetFrame();
    this.state = State.InFrame;
  }

  private resetFrame(): void {
    this.parts = [];
    this.size = 0;
    this.discardedHead = undefined;
    this.endedWhileDiscarding = false;
  }

  private append(data: Buffer, from: number, to: number): void {
    const count = to - from;
    if (count <= 0) return;
    if (this.state === State.Discarding) {
      this.size += count;
      return;
    }
    if (this.size + count > this.maxFrameBytes) {
      // Keep the head (a copy, so the socket's chunks can be freed), drop everything else from here on.
      this.parts.push(data.subarray(from, to));
      this.discardedHead = this.headOf(this.parts);
      this.parts = [];
      this.size += count;
      this.state = State.Discarding;
      return;
    }
    this.parts.push(data.subarray(from, to));
    this.size += count;
  }

  private headOf(parts: readonly Buffer[]): Buffer {
    let total = 0;
    for (const part of parts) total += part.length;
    const head = Buffer.alloc(Math.min(this.headBytes, total));
    let offset = 0;
    for (const part of parts) {
      if (offset >= head.length) break;
      offset += part.copy(head, offset, 0, Math.min(part.length, head.length - offset));
    }
    return head;
  }

  private completeFrame(): MllpDecoded {
    const discarded = this.state === State.Discarding || this.endedWhileDiscarding;
    if (discarded) {
      const error = this.error(
        MllpErrorCode.FrameTooLarge,
        `A frame of ${this.size} bytes exceeds the limit of ${this.maxFrameBytes} bytes and was discarded; ` +
          `raise maxFrameBytes on this listener or have the sender split the message.`,
        this.size,
        this.discardedHead ?? Buffer.alloc(0),
      );
      this.resetFrame();
      return error;
    }
    if (this.size === 0) {
      this.resetFrame();
      return this.error(
        MllpErrorCode.EmptyFrame,
        'An empty frame (0x0B immediately followed by 0x1C) was received; there is no message to process.',
        0,
        Buffer.alloc(0),
      );
    }
    const payload = Buffer.concat(this.parts, this.size);
    this.resetFrame();
    return { type: 'frame', payload };
  }

  private failFrame(code: MllpFramingErrorCode, reason: string): MllpDecoded {
    const head = this.discardedHead ?? this.headOf(this.parts);
    const message =
      code === MllpErrorCode.MissingEndCarriageReturn
        ? `A frame of ${this.size} bytes was discarded: ${reason} (strict framing requires 0x1C 0x0D); ` +
          `fix the sender's framing or use tolerant framing on this listener.`
        : `A frame of ${this.size} bytes was abandoned before its end block (0x1C 0x0D): ${reason}; ` +
          `the sender should resend the message.`;
    const error = this.error(code, message, this.size, head);
    this.resetFrame();
    return error;
  }

  private reportOutside(data: Buffer, from: number, to: number, out: MllpDecoded[]): void {
    if (this.mode === MllpFramingMode.Tolerant) {
      let index = from;
      while (index < to && isInterFrameWhitespace(data[index]!)) index += 1;
      if (index === to) return;
    }
    const count = to - from;
    out.push(
      this.error(
        MllpErrorCode.BytesOutsideFrame,
        `${count} byte(s) outside an MLLP frame were ignored (first ${hex(data[from]!)}); ` +
          `the sender must wrap every message as 0x0B <message> 0x1C 0x0D.`,
        count,
        Buffer.from(data.subarray(from, Math.min(to, from + this.headBytes))),
      ),
    );
  }

  private error(code: MllpFramingErrorCode, message: string, byteCount: number, head: Buffer): MllpDecoded {
    return { type: 'error', error: { code, message, byteCount, head } };
  }
}

/**
 * Wraps a payload in an MLLP frame. Strings are encoded as UTF-8 (encode other character sets yourself).
 * Throws `mllp.invalid-payload` for an empty payload or one containing 0x0B or 0x1C, which would break the
 * framing at the receiving end.
 */
export function encodeMllpFrame(payload: Uint8Array | string): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  assertFrameable(body);
  const frame = Buffer.allocUnsafe(body.length + 3);
  frame[0] = MllpByte.StartBlock;
  frame.set(body, 1);
  frame[body.length + 1] = MllpByte.EndBlock;
  frame[body.length + 2] = MllpByte.CarriageReturn;
  return frame;
}

function assertFrameable(body: Uint8Array): void {
  if (body.length === 0) {
    throw new MllpError(MllpErrorCode.InvalidPayload, 'Cannot send an empty payload over MLLP: there is no message.');
  }
  const buffer = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  for (const byte of [MllpByte.StartBlock, MllpByte.EndBlock]) {
    const at = buffer.indexOf(byte);
    if (at !== -1) {
      throw new MllpError(
        MllpErrorCode.InvalidPayload,
        `The payload contains the MLLP block byte ${hex(byte)} at offset ${at}, which would cut the frame at the ` +
          `receiver; escape or remove it (HL7 v2 text never contains it).`,
      );
    }
  }
}
