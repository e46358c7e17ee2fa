import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MllpError, MllpErrorCode } from './errors.js';
import { encodeMllpFrame, MllpFrameDecoder, type MllpDecoded, type MllpFramingError } from './frame-codec.js';

const VT = 0x0b;
const FS = 0x1c;
const CR = 0x0d;

function framed(...payloads: (string | Buffer)[]): Buffer {
  return Buffer.concat(payloads.map((payload) => encodeMllpFrame(payload)));
}

function framesOf(decoded: MllpDecoded[]): string[] {
  return decoded.flatMap((item) => (item.type === 'frame' ? [item.payload.toString('latin1')] : []));
}

function errorsOf(decoded: MllpDecoded[]): MllpFramingError[] {
  return decoded.flatMap((item) => (item.type === 'error' ? [item.error] : []));
}

function feed(decoder: MllpFrameDecoder, ...chunks: Buffer[]): MllpDecoded[] {
  return chunks.flatMap((chunk) => decoder.push(chunk));
}

/** Every byte value except the two block bytes, which a payload may not contain. */
function binaryPayload(): Buffer {
  const bytes: number[] = [];
  for (let value = 0; value < 256; value += 1) if (value !== VT && value !== FS) bytes.push(value);
  return Buffer.from(bytes);
}

const ORU =
  'MSH|^~\\&|LAB|CHU|HUB|CHU|20240101120000||ORU^R01^ORU_R01|MSG0001|P|2.5\r' +
  'PID|1||123456^^^CHU^PI||DUPONT^JEAN\r' +
  'OBX|1|NM|2345-7^Glucose^LN||5.4|mmol/L|||||F\r';

describe('MllpFrameDecoder', () => {
  it('decodes one frame delivered in one chunk', () => {
    const decoder = new MllpFrameDecoder();
    const out = decoder.push(framed(ORU));
    expect(framesOf(out)).toEqual([ORU]);
    expect(errorsOf(out)).toEqual([]);
    expect(decoder.bufferedBytes).toBe(0);
    expect(decoder.inFrame).toBe(false);
  });

  it('decodes several frames delivered in one chunk, in order', () => {
    const payloads = Array.from({ length: 50 }, (_, index) => `${ORU}NTE|${index}\r`);
    const out = new MllpFrameDecoder().push(framed(...payloads));
    expect(framesOf(out)).toEqual(payloads);
  });

  it('decodes frames split across two chunks at every byte position', () => {
    const payloads = ['MSH|A\r', binaryPayload().toString('latin1'), 'MSH|C\rPID|1\r'];
    const stream = framed(...payloads.map((p) => Buffer.from(p, 'latin1')));
    for (let cut = 0; cut <= stream.length; cut += 1) {
      const out = feed(new MllpFrameDecoder(), stream.subarray(0, cut), stream.subarray(cut));
      expect(framesOf(out), `cut at ${cut}`).toEqual(payloads);
      expect(errorsOf(out), `cut at ${cut}`).toEqual([]);
    }
  });

  it('decodes frames split across three chunks at every pair of positions, in both framing modes', () => {
    const payloads = ['MSH|1\r', 'MSH|2\rOBX|1\r', 'X'];
    const stream = framed(...payloads);
    for (const mode of ['tolerant', 'strict'] as const) {
      for (let first = 0; first <= stream.length; first += 1) {
        for (let second = first; second <= stream.length; second += 1) {
          const out = feed(
            new MllpFrameDecoder({ mode }),
            stream.subarray(0, first),
            stream.subarray(first, second),
            stream.subarray(second),
          );
          expect(framesOf(out), `${mode} cuts at ${first}, ${second}`).toEqual(payloads);
          expect(errorsOf(out)).toEqual([]);
        }
      }
    }
  });

  it('decodes a stream fed one byte at a time', () => {
    const payloads = [ORU, 'MSH|^~\\&|B\r'];
    const stream = framed(...payloads);
    const decoder = new MllpFrameDecoder();
    const out: MllpDecoded[] = [];
    for (const byte of stream) out.push(...decoder.push(Buffer.from([byte])));
    expect(framesOf(out)).toEqual(payloads);
  });

  it('passes NUL, binary and non-UTF-8 bytes through untouched (framing is byte-level)', () => {
    const latin1 = Buffer.from('PID|1||||LEFÈVRE^HÉLÈNE\r', 'latin1'); // ISO-8859-1, invalid as UTF-8
    const binary = binaryPayload();
    const out = new MllpFrameDecoder().push(framed(latin1, binary, Buffer.from([0, 0, 0])));
    const frames = out.flatMap((item) => (item.type === 'frame' ? [item.payload] : []));
    expect(frames).toHaveLength(3);
    expect(frames[0]!.equals(latin1)).toBe(true);
    expect(frames[1]!.equals(binary)).toBe(true);
    expect(frames[2]!.equals(Buffer.from([0, 0, 0]))).toBe(true);
  });

  it('returns payloads that do not alias the caller’s chunk', () => {
    const chunk = framed('MSH|1\r');
    const [decoded] = new MllpFrameDecoder().push(chunk);
    chunk.fill(0x41);
    expect(decoded?.type === 'frame' && decoded.payload.toString()).toBe('MSH|1\r');
  });

  describe('bytes outside a frame', () => {
    it('reports garbage before the start block and still decodes the frame', () => {
      const out = new MllpFrameDecoder().push(Buffer.concat([Buffer.from('GET / HTTP/1.1\r\n\r\n'), framed(ORU)]));
      expect(framesOf(out)).toEqual([ORU]);
      const [error] = errorsOf(out);
      expect(error?.code).toBe(MllpErrorCode.BytesOutsideFrame);
      expect(error?.byteCount).toBe(18);
      expect(error?.head.toString()).toBe('GET / HTTP/1.1\r\n\r\n');
      expect(error?.message).toContain('0x0B <message> 0x1C 0x0D');
    });

    it('reports a stray end block between frames', () => {
      const out = new MllpFrameDecoder().push(Buffer.concat([framed('A'), Buffer.from([FS, CR]), framed('B')]));
      expect(framesOf(out)).toEqual(['A', 'B']);
      expect(errorsOf(out).map((e) => [e.code, e.byteCount])).toEqual([[MllpErrorCode.BytesOutsideFrame, 2]]); // 0x1C 0x0D
    });

    it('skips CR/LF/space/tab between frames silently when tolerant, reports them when strict', () => {
      const stream = Buffer.concat([framed('A'), Buffer.from('\n \t\r\n'), framed('B'), Buffer.from('\r\n')]);
      const tolerant = new MllpFrameDecoder().push(stream);
      expect(framesOf(tolerant)).toEqual(['A', 'B']);
      expect(errorsOf(tolerant)).toEqual([]);
      const strict = new MllpFrameDecoder({ mode: 'strict' }).push(stream);
      expect(framesOf(strict)).toEqual(['A', 'B']);
      expect(errorsOf(strict).map((e) => [e.code, e.byteCount])).toEqual([
        [MllpErrorCode.BytesOutsideFrame, 5],
        [MllpErrorCode.BytesOutsideFrame, 2],
      ]);
    });

    it('keeps no memory for a 50 MB stream of junk without a start byte, and reports all of it', () => {
      const junk = randomBytes(64 * 1024);
      for (let index = 0; index < junk.length; index += 1) if (junk[index] === VT) junk[index] = 0x42;
      const decoder = new MllpFrameDecoder({ headBytes: 64 });
      let reported = 0;
      let errors = 0;
      const total = 800 * junk.length; // 52,428,800 bytes
      for (let index = 0; index < 800; index += 1) {
        for (const item of decoder.push(junk)) {
          expect(item.type).toBe('error');
          if (item.type === 'error') {
            reported += item.error.byteCount;
            errors += 1;
            expect(item.error.head.length).toBeLessThanOrEqual(64);
          }
        }
        expect(decoder.bufferedBytes).toBe(0);
      }
      expect(reported).toBe(total);
      expect(errors).toBe(800); // one report per chunk, not per byte
      expect(framesOf(decoder.push(framed('MSH|after junk\r')))).toEqual(['MSH|after junk\r']);
    });
  });

  describe('end of frame', () => {
    it('tolerant: accepts 0x1C without 0x0D and reads the next frame', () => {
      const stream = Buffer.from([VT, 0x41, FS, VT, 0x42, FS, CR, VT, 0x43, FS]);
      const decoder = new MllpFrameDecoder();
      const out = decoder.push(stream);
      expect(framesOf(out)).toEqual(['A', 'B', 'C']);
      expect(errorsOf(out)).toEqual([]);
      expect(decoder.inFrame).toBe(true); // waiting to swallow the 0x0D that may follow C's 0x1C
      expect(framesOf(decoder.push(Buffer.from([CR, VT, 0x44, FS, CR])))).toEqual(['D']);
    });

    it('tolerant: delivers a frame as soon as its 0x1C arrives, before the 0x0D', () => {
      const decoder = new MllpFrameDecoder();
      expect(framesOf(decoder.push(Buffer.from([VT, 0x41, FS])))).toEqual(['A']);
      expect(decoder.push(Buffer.from([CR]))).toEqual([]);
    });

    it('strict: discards a frame whose 0x1C is not followed by 0x0D, then reads the next one', () => {
      const decoder = new MllpFrameDecoder({ mode: 'strict' });
      const out = decoder.push(Buffer.from([VT, 0x41, 0x41, FS, VT, 0x42, FS, CR]));
      expect(framesOf(out)).toEqual(['B']);
      const [error] = errorsOf(out);
      expect(error?.code).toBe(MllpErrorCode.MissingEndCarriageReturn);
      expect(error?.byteCount).toBe(2);
      expect(error?.head.toString()).toBe('AA');
      expect(error?.message).toContain('0x0B instead of 0x0D');
    });

    it('strict: waits for the 0x0D in the next chunk before delivering', () => {
      const decoder = new MllpFrameDecoder({ mode: 'strict' });
      expect(decoder.push(Buffer.from([VT, 0x41, FS]))).toEqual([]);
      expect(framesOf(decoder.push(Buffer.from([CR])))).toEqual(['A']);
    });

    it('strict: reports a stream that ends right after 0x1C', () => {
      const decoder = new MllpFrameDecoder({ mode: 'strict' });
      decoder.push(Buffer.from([VT, 0x41, FS]));
      expect(errorsOf(decoder.end()).map((e) => e.code)).toEqual([MllpErrorCode.MissingEndCarriageReturn]);
    });

    it('reports an empty frame', () => {
      const out = new MllpFrameDecoder().push(Buffer.from([VT, FS, CR, VT, 0x41, FS, CR]));
      expect(errorsOf(out).map((e) => [e.code, e.byteCount])).toEqual([[MllpErrorCode.EmptyFrame, 0]]);
      expect(framesOf(out)).toEqual(['A']);
    });

    it('reports a frame abandoned by a new start block, and decodes the new frame', () => {
      const out = new MllpFrameDecoder().push(
        Buffer.concat([Buffer.from([VT]), Buffer.from('MSH|partial'), framed('MSH|whole\r')]),
      );
      expect(framesOf(out)).toEqual(['MSH|whole\r']);
      const [error] = errorsOf(out);
      expect(error?.code).toBe(MllpErrorCode.UnterminatedFrame);
      expect(error?.byteCount).toBe(11);
      expect(error?.head.toString()).toBe('MSH|partial');
    });

    it('reports a frame left unfinished when the stream ends, then starts clean', () => {
      const decoder = new MllpFrameDecoder();
      expect(decoder.push(Buffer.concat([Buffer.from([VT]), Buffer.from('MSH|cut')]))).toEqual([]);
      expect(decoder.bufferedBytes).toBe(7);
      const [error] = errorsOf(decoder.end());
      expect(error?.code).toBe(MllpErrorCode.UnterminatedFrame);
      expect(error?.message).toContain('the stream ended first');
      expect(decoder.bufferedBytes).toBe(0);
      expect(decoder.end()).toEqual([]);
    });
  });

  describe('maximum frame size', () => {
    it('accepts a frame of exactly maxFrameBytes and rejects one byte more', () => {
      const decoder = new MllpFrameDecoder({ maxFrameBytes: 10 });
      const out = decoder.push(framed('0123456789', '0123456789X'));
      expect(framesOf(out)).toEqual(['0123456789']);
      expect(errorsOf(out).map((e) => [e.code, e.byteCount])).toEqual([[MllpErrorCode.FrameTooLarge, 11]]);
    });

    it('discards an oversized frame without buffering it, keeps its head, and decodes the next frame', () => {
      const decoder = new MllpFrameDecoder({ maxFrameBytes: 1000, headBytes: 100 });
      const big = Buffer.alloc(5_000_000, 0x58);
      Buffer.from(ORU).copy(big);
      const stream = framed(big, 'MSH|next\r');
      const out: MllpDecoded[] = [];
      let maxBuffered = 0;
      for (let offset = 0; offset < stream.length; offset += 4096) {
        out.push(...decoder.push(stream.subarray(offset, offset + 4096)));
        maxBuffered = Math.max(maxBuffered, decoder.bufferedBytes);
      }
      expect(maxBuffered).toBeLessThanOrEqual(1000);
      expect(framesOf(out)).toEqual(['MSH|next\r']);
      const [error] = errorsOf(out);
      expect(error?.code).toBe(MllpErrorCode.FrameTooLarge);
      expect(error?.byteCount).toBe(5_000_000);
      expect(error?.head.toString()).toBe(ORU.slice(0, 100)); // enough to read MSH-10 and answer it
      expect(error?.message).toContain('raise maxFrameBytes');
    });

    it('reports an oversized frame that is abandoned by a new start block as unterminated, with its full size', () => {
      const decoder = new MllpFrameDecoder({ maxFrameBytes: 4 });
      const out = decoder.push(Buffer.concat([Buffer.from([VT]), Buffer.from('0123456789'), framed('ok')]));
      expect(errorsOf(out).map((e) => [e.code, e.byteCount, e.head.toString()])).toEqual([
        [MllpErrorCode.UnterminatedFrame, 10, '0123456789'],
      ]);
      expect(framesOf(out)).toEqual(['ok']);
    });

    it('rejects nonsensical limits at construction', () => {
      expect(() => new MllpFrameDecoder({ maxFrameBytes: 0 })).toThrow(RangeError);
      expect(() => new MllpFrameDecoder({ headBytes: -1 })).toThrow(RangeError);
    });
  });
});

describe('encodeMllpFrame', () => {
  it('wraps a payload in 0x0B … 0x1C 0x0D, strings as UTF-8', () => {
    expect([...encodeMllpFrame('é')]).toEqual([VT, 0xc3, 0xa9, FS, CR]);
    expect([...encodeMllpFrame(new Uint8Array([1, 2]))]).toEqual([VT, 1, 2, FS, CR]);
  });

  it('refuses payloads that would break the framing at the receiver', () => {
    for (const payload of ['', Buffer.from([0x41, VT]), Buffer.from([0x41, 0x42, FS, 0x43])]) {
      let caught: unknown;
      try {
        encodeMllpFrame(payload);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(MllpError);
      expect((caught as MllpError).code).toBe(MllpErrorCode.InvalidPayload);
    }
    expect(() => encodeMllpFrame(Buffer.from([0x41, 0x42, FS, 0x43]))).toThrow(/0x1C at offset 2/);
  });
});
