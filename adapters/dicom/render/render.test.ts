import { inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { DicomError, DicomErrorCode } from '../errors.js';
import { readPart10 } from '../part10.js';
import { corpusFile } from '../test-support.js';
import { decodeFrame, jpegFrameSize } from './pixel-data.js';
import { RenderFormat, renderFrame } from './render.js';

const decode = (name: string) => {
  const file = readPart10(corpusFile(name));
  return decodeFrame(file.dataSet, file.transferSyntax).frame;
};

function pngPixels(png: Buffer): { width: number; height: number; data: Buffer } {
  expect(png.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
  const width = png.readUInt32BE(16);
  const height = png.readUInt32BE(20);
  const idat = png.indexOf('IDAT');
  return { width, height, data: inflateSync(png.subarray(idat + 4, idat + 4 + png.readUInt32BE(idat - 4))) };
}

describe('pixel decoding', () => {
  it('decodes the same MR image identically from uncompressed LE, BE, implicit and RLE', () => {
    const reference = decode('pydicom/MR_small.dcm');
    expect(reference.kind).toBe('gray');
    for (const name of [
      'pydicom/MR_small_bigendian.dcm',
      'pydicom/MR_small_implicit.dcm',
      'pydicom/MR_small_RLE.dcm',
    ]) {
      const frame = decode(name);
      expect(
        frame.kind === 'gray' &&
          reference.kind === 'gray' &&
          Buffer.from(frame.values.buffer).equals(Buffer.from(reference.values.buffer)),
        name,
      ).toBe(true);
    }
  });

  it('decodes RGB from RLE and JPEG baseline to the same colour bars (JPEG within its loss)', () => {
    const rle = decode('pydicom/SC_rgb_rle.dcm');
    const jpeg = decode('pydicom/SC_rgb_jpeg_dcmtk.dcm');
    if (rle.kind !== 'rgb' || jpeg.kind !== 'rgb') throw new Error('expected colour');
    // Top-left pixel of the first bar is red in both.
    expect([...rle.rgb.subarray(0, 3)]).toEqual([255, 0, 0]);
    let maxError = 0;
    for (let i = 0; i < rle.rgb.length; i++) maxError = Math.max(maxError, Math.abs(rle.rgb[i]! - jpeg.rgb[i]!));
    expect(maxError).toBeLessThan(40);
  });

  it('decodes JPEG lossless (process 14) to the values of a CT', () => {
    const frame = decode('dcm4che/CT-JPEGLosslessSV1.dcm');
    expect(frame.kind === 'gray' && frame.width === 512 && frame.values.length === 512 * 512).toBe(true);
  });

  it('says which transfer syntax it cannot render', () => {
    for (const [name, pattern] of [
      ['pydicom/JPEG2000.dcm', /JPEG 2000/],
      ['pydicom/MR_small_jpeg_ls_lossless.dcm', /JPEG-LS/],
      ['pydicom/JPGExtended.dcm', /12-bit/],
      ['pydicom/test-SR.dcm', /no pixel data/],
    ] as const) {
      const file = readPart10(corpusFile(name));
      let error: unknown;
      try {
        renderFrame(file.dataSet, file.transferSyntax);
      } catch (e) {
        error = e;
      }
      expect(error instanceof DicomError && error.code === DicomErrorCode.NotRenderable, name).toBe(true);
      expect((error as Error).message).toMatch(pattern);
    }
  });

  it('refuses a JPEG frame whose header disagrees with Rows/Columns before decoding it', () => {
    const file = readPart10(corpusFile('pydicom/SC_rgb_jpeg_dcmtk.dcm'));
    const bytes = Buffer.from(file.bytes);
    const hostile = readPart10(bytes);
    const fragment = hostile.dataSet.get(0x7fe00010)!.fragments![1]!;
    const at = hostile.dataSetOffset + fragment.offset; // fragment offsets are within the data set
    const size = jpegFrameSize(bytes.subarray(at));
    expect(size).toMatchObject({ width: 100, height: 100 });
    const sof = bytes.indexOf(Buffer.from([0xff, 0xc0]), at);
    bytes.writeUInt16BE(60000, sof + 5); // height
    expect(() => renderFrame(readPart10(bytes).dataSet, hostile.transferSyntax)).toThrow(/header says 100x60000/);
  });
});

describe('rendering', () => {
  it('windows a CT with its own window and scales thumbnails down', () => {
    const file = readPart10(corpusFile('pydicom/CT_small.dcm'));
    const full = pngPixels(renderFrame(file.dataSet, file.transferSyntax).bytes);
    expect([full.width, full.height]).toEqual([128, 128]);
    const thumb = renderFrame(file.dataSet, file.transferSyntax, { maxSize: 32 });
    expect([thumb.width, thumb.height]).toEqual([32, 32]);
    const jpeg = renderFrame(file.dataSet, file.transferSyntax, { format: RenderFormat.Jpeg });
    expect(jpeg.bytes.subarray(0, 2).toString('hex')).toBe('ffd8');
  });

  it('inverts MONOCHROME1 and uses an explicit window when given', () => {
    const file = readPart10(corpusFile('pydicom/MR_small.dcm'));
    const narrow = pngPixels(renderFrame(file.dataSet, file.transferSyntax, { window: { center: 0, width: 1 } }).bytes);
    // Every MR value is above 0: a 1-wide window at 0 makes the whole image white.
    expect(narrow.data.filter((_, i) => i % 65 !== 0).every((v) => v === 255)).toBe(true);
  });
});
