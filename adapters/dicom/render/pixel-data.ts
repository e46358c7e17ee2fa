// Pixel data → frames of sample values, for the transfer syntaxes a pure-JS decoder handles:
// uncompressed (little/big endian, deflated), RLE Lossless, JPEG baseline/extended 8-bit (jpeg-js) and
// JPEG lossless (jpeg-lossless-decoder-js). Anything else is DICOM_NOT_RENDERABLE, naming the syntax.
import jpeg from 'jpeg-js';
import { Decoder as LosslessDecoder } from 'jpeg-lossless-decoder-js';
import type { DataSet, Element } from '../dataset.js';
import { DicomError, DicomErrorCode } from '../errors.js';
import { Tag } from '../tags.js';
import { TransferSyntax, type TransferSyntaxInfo } from '../uids.js';

export interface ImageInfo {
  rows: number;
  columns: number;
  samplesPerPixel: number;
  bitsAllocated: number;
  bitsStored: number;
  pixelRepresentation: number;
  photometric: string;
  planarConfiguration: number;
  numberOfFrames: number;
}

/** One decoded frame: gray values (after sign handling) or interleaved 8-bit RGB. */
export type DecodedFrame =
  | { kind: 'gray'; width: number; height: number; values: Int32Array }
  | { kind: 'rgb'; width: number; height: number; rgb: Uint8Array };

const notRenderable = (why: string) => new DicomError(DicomErrorCode.NotRenderable, why);

export function imageInfo(dataSet: DataSet): ImageInfo {
  const rows = dataSet.number(Tag.Rows);
  const columns = dataSet.number(Tag.Columns);
  if (!dataSet.has(Tag.PixelData) || !rows || !columns)
    throw notRenderable('This instance has no pixel data (or no Rows/Columns): there is nothing to render');
  return {
    rows,
    columns,
    samplesPerPixel: dataSet.number(Tag.SamplesPerPixel) ?? 1,
    bitsAllocated: dataSet.number(Tag.BitsAllocated) ?? 16,
    bitsStored: dataSet.number(Tag.BitsStored) ?? dataSet.number(Tag.BitsAllocated) ?? 16,
    pixelRepresentation: dataSet.number(Tag.PixelRepresentation) ?? 0,
    photometric: dataSet.string(Tag.PhotometricInterpretation) ?? 'MONOCHROME2',
    planarConfiguration: dataSet.number(Tag.PlanarConfiguration) ?? 0,
    numberOfFrames: Math.max(1, Math.trunc(dataSet.number(Tag.NumberOfFrames) ?? 1)),
  };
}

/** The compressed bytes of each frame of encapsulated pixel data (PS3.5 A.4). */
export function encapsulatedFrames(dataSet: DataSet, element: Element, numberOfFrames: number): Buffer[] {
  const fragments = element.fragments ?? [];
  const [table, ...data] = fragments;
  if (!table) return [];
  const bytes = dataSet.bytes;
  const slice = (f: { offset: number; length: number }) => bytes.subarray(f.offset, f.offset + f.length);
  if (numberOfFrames === 1) return [Buffer.concat(data.map(slice))];
  if (data.length === numberOfFrames) return data.map(slice);
  if (table.length >= 4 * numberOfFrames) {
    // Basic Offset Table: offset of each frame's first fragment, from the first data fragment's item tag.
    const base = data[0] ? data[0].offset - 8 : 0;
    const offsets = Array.from({ length: numberOfFrames }, (_, i) => bytes.readUInt32LE(table.offset + 4 * i));
    return offsets.map((offset, i) => {
      const next = offsets[i + 1] ?? Number.MAX_SAFE_INTEGER;
      return Buffer.concat(data.filter((f) => f.offset - 8 - base >= offset && f.offset - 8 - base < next).map(slice));
    });
  }
  throw notRenderable(
    `Pixel data has ${data.length} fragments for ${numberOfFrames} frames and no Basic Offset Table: frames cannot be told apart`,
  );
}

function grayFromBytes(info: ImageInfo, bytes: Uint8Array, littleEndian: boolean): Int32Array {
  const count = info.rows * info.columns;
  const out = new Int32Array(count);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const signed = info.pixelRepresentation === 1;
  const shift = 32 - info.bitsStored;
  for (let i = 0; i < count; i++) {
    let v: number;
    if (info.bitsAllocated === 8) v = bytes[i]!;
    else if (info.bitsAllocated === 16) v = view.getUint16(i * 2, littleEndian);
    else v = view.getUint32(i * 4, littleEndian);
    // Keep the stored bits; sign-extend when signed.
    out[i] = signed ? (v << shift) >> shift : shift > 0 ? (v << shift) >>> shift : v;
  }
  return out;
}

function rgbFromSamples(info: ImageInfo, bytes: Uint8Array, planar: boolean): Uint8Array {
  const count = info.rows * info.columns;
  const rgb = new Uint8Array(count * 3);
  if (planar) {
    for (let i = 0; i < count; i++) {
      rgb[i * 3] = bytes[i]!;
      rgb[i * 3 + 1] = bytes[count + i]!;
      rgb[i * 3 + 2] = bytes[2 * count + i]!;
    }
  } else rgb.set(bytes.subarray(0, count * 3));
  if (info.photometric === 'YBR_FULL') ybrToRgb(rgb);
  return rgb;
}

function ybrToRgb(pixels: Uint8Array): void {
  const clamp = (v: number) => (v < 0 ? 0 : v > 255 ? 255 : Math.round(v));
  for (let i = 0; i + 2 < pixels.length; i += 3) {
    const y = pixels[i]!;
    const cb = pixels[i + 1]! - 128;
    const cr = pixels[i + 2]! - 128;
    pixels[i] = clamp(y + 1.402 * cr);
    pixels[i + 1] = clamp(y - 0.344136 * cb - 0.714136 * cr);
    pixels[i + 2] = clamp(y + 1.772 * cb);
  }
}

/** PackBits-style RLE segment decode (PS3.5 G.3.1), bounded by the expected output length. */
function rleSegment(bytes: Uint8Array, start: number, end: number, expected: number): Uint8Array {
  const out = new Uint8Array(expected);
  let o = 0;
  let i = start;
  while (i < end && o < expected) {
    const n = (bytes[i++]! << 24) >> 24;
    if (n >= 0) {
      const count = Math.min(n + 1, expected - o, end - i);
      out.set(bytes.subarray(i, i + count), o);
      o += count;
      i += n + 1;
    } else if (n !== -128) {
      const count = Math.min(-n + 1, expected - o);
      out.fill(bytes[i++] ?? 0, o, o + count);
      o += count;
    }
  }
  return out;
}

function decodeRle(info: ImageInfo, frame: Buffer): Uint8Array {
  if (frame.length < 64) throw notRenderable('RLE frame is shorter than its 64-byte header');
  const segments = frame.readUInt32LE(0);
  const bytesPerSample = info.bitsAllocated / 8;
  if (segments !== info.samplesPerPixel * bytesPerSample || segments > 15) {
    throw notRenderable(`RLE frame has ${segments} segments; ${info.samplesPerPixel * bytesPerSample} were expected`);
  }
  const count = info.rows * info.columns;
  const offsets = Array.from({ length: segments }, (_, i) => frame.readUInt32LE(4 + 4 * i));
  // Output in "planar, sample-major, most significant byte first" order, then reassembled.
  const out = new Uint8Array(count * segments);
  for (let s = 0; s < segments; s++) {
    const start = offsets[s]!;
    const end = s + 1 < segments ? offsets[s + 1]! : frame.length;
    if (start < 64 || start > frame.length || end > frame.length || end < start)
      throw notRenderable('RLE segment offsets are out of the frame');
    out.set(rleSegment(frame, start, end, count), s * count);
  }
  if (bytesPerSample === 1) return out;
  // Multi-byte samples: segment 0 is the most significant byte; rebuild little-endian samples per plane.
  const le = new Uint8Array(count * segments);
  for (let sample = 0; sample < info.samplesPerPixel; sample++) {
    for (let b = 0; b < bytesPerSample; b++) {
      const plane = out.subarray((sample * bytesPerSample + b) * count, (sample * bytesPerSample + b + 1) * count);
      const byteIndex = bytesPerSample - 1 - b;
      for (let i = 0; i < count; i++) le[(sample * count + i) * bytesPerSample + byteIndex] = plane[i]!;
    }
  }
  return le;
}

/**
 * Width and height declared by a JPEG frame header (SOFn), read before decoding so that a corrupt or
 * hostile header cannot make a decoder allocate for dimensions the instance does not have.
 */
export function jpegFrameSize(bytes: Uint8Array): { width: number; height: number; precision: number } | undefined {
  if (bytes[0] !== 0xff || bytes[1] !== 0xd8) return undefined;
  let pos = 2;
  while (pos + 4 <= bytes.length) {
    if (bytes[pos] !== 0xff) return undefined;
    const marker = bytes[pos + 1]!;
    if (marker === 0xff) {
      pos++;
      continue;
    }
    const length = (bytes[pos + 2]! << 8) | bytes[pos + 3]!;
    const isSof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isSof) {
      if (pos + 9 > bytes.length) return undefined;
      return {
        precision: bytes[pos + 4]!,
        height: (bytes[pos + 5]! << 8) | bytes[pos + 6]!,
        width: (bytes[pos + 7]! << 8) | bytes[pos + 8]!,
      };
    }
    if (marker === 0xda || length < 2) return undefined;
    pos += 2 + length;
  }
  return undefined;
}

function checkJpegHeader(compressed: Uint8Array, width: number, height: number): void {
  const size = jpegFrameSize(compressed);
  if (!size) throw notRenderable('The JPEG frame has no readable frame header (SOF)');
  if (size.width !== width || size.height !== height)
    throw notRenderable(
      `The JPEG frame header says ${size.width}x${size.height}, but Rows/Columns say ${width}x${height}`,
    );
}

/** Decodes one frame (0-based). */
export function decodeFrame(
  dataSet: DataSet,
  syntax: TransferSyntaxInfo,
  frameIndex = 0,
): { info: ImageInfo; frame: DecodedFrame } {
  const info = imageInfo(dataSet);
  if (frameIndex < 0 || frameIndex >= info.numberOfFrames) {
    throw new DicomError(
      DicomErrorCode.NotRenderable,
      `Frame ${frameIndex + 1} does not exist: this instance has ${info.numberOfFrames} frame(s)`,
    );
  }
  if (![8, 16, 32].includes(info.bitsAllocated) || (info.bitsAllocated === 32 && info.samplesPerPixel !== 1)) {
    throw notRenderable(`Bits Allocated ${info.bitsAllocated} is not rendered (8, 16 or 32 bits are)`);
  }
  if (info.bitsStored < 1 || info.bitsStored > info.bitsAllocated)
    throw notRenderable(`Bits Stored ${info.bitsStored} is not within Bits Allocated ${info.bitsAllocated}`);
  const color = info.samplesPerPixel === 3;
  if (!color && info.samplesPerPixel !== 1)
    throw notRenderable(`Samples per Pixel ${info.samplesPerPixel} is not rendered`);
  if (color && !['RGB', 'YBR_FULL', 'YBR_FULL_422', 'YBR_ICT', 'YBR_RCT'].includes(info.photometric)) {
    throw notRenderable(`Photometric Interpretation ${info.photometric} is not rendered`);
  }
  if (!color && !info.photometric.startsWith('MONOCHROME'))
    throw notRenderable(`Photometric Interpretation ${info.photometric} is not rendered`);
  const element = dataSet.get(Tag.PixelData)!;
  const width = info.columns;
  const height = info.rows;
  const count = width * height;

  if (!syntax.encapsulated) {
    if (color && info.bitsAllocated !== 8)
      throw notRenderable('Colour images with more than 8 bits per sample are not rendered');
    if (color && info.photometric !== 'RGB' && info.photometric !== 'YBR_FULL')
      throw notRenderable(`Uncompressed ${info.photometric} is not rendered`);
    const frameBytes = count * info.samplesPerPixel * (info.bitsAllocated / 8);
    const start = element.offset + frameIndex * frameBytes;
    if (element.fragments || start + frameBytes > element.offset + element.length) {
      throw new DicomError(
        DicomErrorCode.Truncated,
        `Pixel data holds ${element.length} bytes, fewer than frame ${frameIndex + 1} needs`,
      );
    }
    const bytes = dataSet.bytes.subarray(start, start + frameBytes);
    if (color)
      return {
        info,
        frame: { kind: 'rgb', width, height, rgb: rgbFromSamples(info, bytes, info.planarConfiguration === 1) },
      };
    return {
      info,
      frame: { kind: 'gray', width, height, values: grayFromBytes(info, bytes, dataSet.encoding.littleEndian) },
    };
  }

  const frames = encapsulatedFrames(dataSet, element, info.numberOfFrames);
  const compressed = frames[frameIndex];
  if (!compressed || compressed.length === 0) throw notRenderable(`Frame ${frameIndex + 1} has no compressed data`);
  switch (syntax.uid) {
    case TransferSyntax.RLELossless: {
      const bytes = decodeRle(info, compressed);
      if (color) {
        if (info.bitsAllocated !== 8)
          throw notRenderable('RLE colour images with more than 8 bits per sample are not rendered');
        return { info, frame: { kind: 'rgb', width, height, rgb: rgbFromSamples(info, bytes, true) } };
      }
      return { info, frame: { kind: 'gray', width, height, values: grayFromBytes(info, bytes, true) } };
    }
    case TransferSyntax.JPEGBaseline8Bit:
    case TransferSyntax.JPEGExtended12Bit: {
      if (info.bitsStored > 8)
        throw notRenderable(
          'JPEG with more than 8 bits per sample (Process 4, 12-bit) is not rendered by the pure-JS decoder',
        );
      checkJpegHeader(compressed, width, height);
      let decoded: { width: number; height: number; data: Uint8Array };
      try {
        decoded = jpeg.decode(compressed, {
          useTArray: true,
          formatAsRGBA: false,
          maxResolutionInMP: (count * 1.01) / 1e6 + 0.001,
          maxMemoryUsageInMB: 64 + (count * 16) / 1e6,
        });
      } catch (error) {
        throw notRenderable(`JPEG frame cannot be decoded: ${(error as Error).message}`);
      }
      if (decoded.width !== width || decoded.height !== height)
        throw notRenderable(
          `JPEG frame is ${decoded.width}x${decoded.height}, but Rows/Columns say ${width}x${height}`,
        );
      if (color) return { info, frame: { kind: 'rgb', width, height, rgb: decoded.data.subarray(0, count * 3) } };
      // jpeg-js outputs three channels even for one component: take the first.
      const step = decoded.data.length / count;
      const values = new Int32Array(count);
      for (let i = 0; i < count; i++) values[i] = decoded.data[i * step]!;
      return { info, frame: { kind: 'gray', width, height, values } };
    }
    case TransferSyntax.JPEGLossless:
    case TransferSyntax.JPEGLosslessSV1: {
      checkJpegHeader(compressed, width, height);
      let data: Uint8Array | Uint16Array;
      const decoder = new LosslessDecoder();
      try {
        const copy = new Uint8Array(compressed).buffer;
        data = decoder.decode(copy, 0, copy.byteLength, info.bitsAllocated > 8 ? 2 : 1);
      } catch (error) {
        throw notRenderable(`JPEG lossless frame cannot be decoded: ${(error as Error).message}`);
      }
      if (decoder.xDim !== width || decoder.yDim !== height)
        throw notRenderable(
          `JPEG lossless frame is ${decoder.xDim}x${decoder.yDim}, but Rows/Columns say ${width}x${height}`,
        );
      if (color) {
        if (!(data instanceof Uint8Array))
          throw notRenderable('JPEG lossless colour images with more than 8 bits are not rendered');
        return { info, frame: { kind: 'rgb', width, height, rgb: data.subarray(0, count * 3) } };
      }
      const values = new Int32Array(count);
      const signed = info.pixelRepresentation === 1;
      const shift = 32 - info.bitsStored;
      for (let i = 0; i < count; i++) {
        const v = data[i]!;
        values[i] = signed ? (v << shift) >> shift : v;
      }
      return { info, frame: { kind: 'gray', width, height, values } };
    }
    default:
      throw notRenderable(
        `${syntax.name} (${syntax.uid}) cannot be decoded here; retrieve the frames as they are (WADO-RS frames) and decode them in the viewer`,
      );
  }
}
