import { describe, expect, it } from 'vitest';
import { buildMultipart, isValidBoundary, MultipartError, parseMediaType, parseMultipart } from './multipart.js';

describe('multipart/related', () => {
  it('round-trips binary parts, including ones that contain CRLF and dashes', () => {
    const parts = [Buffer.from('--not-the-boundary\r\n\r\n--'), Buffer.from([0, 1, 2, 255]), Buffer.alloc(0)];
    const { body, boundary } = buildMultipart(parts.map((p) => ({ contentType: 'application/dicom', body: p })));
    const parsed = parseMultipart(body, boundary);
    expect(parsed.map((p) => p.body)).toEqual(parts);
    expect(parsed[0]!.headers['content-type']).toBe('application/dicom');
  });

  it('tolerates a preamble, LF-only line ends and transport padding', () => {
    const body = Buffer.from('preamble\n--b  \nContent-Type: application/dicom\n\nDATA\n--b--\nepilogue');
    expect(parseMultipart(body, 'b').map((p) => p.body.toString())).toEqual(['DATA']);
  });

  it('says precisely what is wrong with a bad body', () => {
    expect(() => parseMultipart(Buffer.from('no delimiter here'), 'xyz')).toThrow(
      /does not contain the boundary "xyz"/,
    );
    expect(() => parseMultipart(Buffer.from('--xyz\r\nContent-Type: a\r\n\r\nDATA'), 'xyz')).toThrow(/truncated/);
    expect(() => parseMultipart(Buffer.from('--xyz\r\nContent-Type a\r\n\r\nDATA\r\n--xyz--'), 'xyz')).toThrow(
      /malformed header line/,
    );
    expect(() => parseMultipart(Buffer.from('--xyz'), 'bad boundary ')).toThrow(MultipartError);
    const many = buildMultipart(Array.from({ length: 5 }, () => ({ contentType: 'a/b', body: Buffer.from('x') })));
    expect(() => parseMultipart(many.body, many.boundary, { maxParts: 3 })).toThrow(/More than 3 parts/);
  });

  it('parses media types with quoted parameters', () => {
    expect(parseMediaType('Multipart/Related; type="application/dicom"; boundary="a;b"')).toEqual({
      type: 'multipart/related',
      params: { type: 'application/dicom', boundary: 'a;b' },
    });
    expect(isValidBoundary('x'.repeat(70))).toBe(true);
    expect(isValidBoundary('x'.repeat(71))).toBe(false);
  });
});
