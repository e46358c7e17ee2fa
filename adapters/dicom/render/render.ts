// Rendered images and thumbnails (WADO-RS /rendered, /thumbnail): decode a frame, apply the modality
// LUT (rescale) and a window (the instance's first window, else the frame's range), scale down to fit,
// and encode PNG or JPEG.
import jpeg from 'jpeg-js';
import type { DataSet } from '../dataset.js';
import { Tag } from '../tags.js';
import type { TransferSyntaxInfo } from '../uids.js';
import { decodeFrame, type DecodedFrame } from './pixel-data.js';
import { encodePng } from './png.js';

export const RenderFormat = { Png: 'image/png', Jpeg: 'image/jpeg' } as const;
export type RenderFormat = (typeof RenderFormat)[keyof typeof RenderFormat];

export interface RenderOptions {
  /** 0-based frame (default 0). */
  frame?: number;
  format?: RenderFormat;
  /** Fit within this many pixels on the longer side (never scaled up). */
  maxSize?: number;
  /** JPEG quality 1–100 (default 85). */
  quality?: number;
  /** Explicit window, overriding the instance's. */
  window?: { center: number; width: number };
}

export interface RenderedImage {
  contentType: RenderFormat;
  bytes: Buffer;
  width: number;
  height: number;
}

function toEightBit(
  dataSet: DataSet,
  frame: Extract<DecodedFrame, { kind: 'gray' }>,
  monochrome1: boolean,
  window?: { center: number; width: number },
): Uint8Array {
  const slope = dataSet.number(Tag.RescaleSlope) ?? 1;
  const intercept = dataSet.number(Tag.RescaleIntercept) ?? 0;
  const values = frame.values;
  let center = window?.center ?? dataSet.number(Tag.WindowCenter);
  let width = window?.width ?? dataSet.number(Tag.WindowWidth);
  if (center === undefined || width === undefined || width <= 0) {
    let min = Infinity;
    let max = -Infinity;
    for (let i = 0; i < values.length; i++) {
      const v = values[i]! * slope + intercept;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    center = (min + max) / 2;
    width = Math.max(1, max - min);
  }
  const low = center - width / 2;
  const out = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]! * slope + intercept;
    let g = ((v - low) / width) * 255;
    g = g < 0 ? 0 : g > 255 ? 255 : g;
    out[i] = monochrome1 ? 255 - g : g;
  }
  return out;
}

/** Area-average downscale of 8-bit interleaved pixels. */
function downscale(
  pixels: Uint8Array,
  width: number,
  height: number,
  channels: number,
  maxSize: number,
): { pixels: Uint8Array; width: number; height: number } {
  const scale = Math.min(1, maxSize / Math.max(width, height));
  if (scale >= 1) return { pixels, width, height };
  const w = Math.max(1, Math.round(width * scale));
  const h = Math.max(1, Math.round(height * scale));
  const out = new Uint8Array(w * h * channels);
  for (let y = 0; y < h; y++) {
    const y0 = Math.floor((y * height) / h);
    const y1 = Math.max(y0 + 1, Math.floor(((y + 1) * height) / h));
    for (let x = 0; x < w; x++) {
      const x0 = Math.floor((x * width) / w);
      const x1 = Math.max(x0 + 1, Math.floor(((x + 1) * width) / w));
      for (let c = 0; c < channels; c++) {
        let sum = 0;
        for (let yy = y0; yy < y1; yy++)
          for (let xx = x0; xx < x1; xx++) sum += pixels[(yy * width + xx) * channels + c]!;
        out[(y * w + x) * channels + c] = Math.round(sum / ((y1 - y0) * (x1 - x0)));
      }
    }
  }
  return { pixels: out, width: w, height: h };
}

/** Renders one frame; throws DicomError DICOM_NOT_RENDERABLE when the syntax or image type is not supported. */
export function renderFrame(dataSet: DataSet, syntax: TransferSyntaxInfo, options: RenderOptions = {}): RenderedImage {
  const { info, frame } = decodeFrame(dataSet, syntax, options.frame ?? 0);
  let pixels: Uint8Array;
  let channels: 1 | 3;
  if (frame.kind === 'gray') {
    pixels = toEightBit(dataSet, frame, info.photometric === 'MONOCHROME1', options.window);
    channels = 1;
  } else {
    pixels = frame.rgb;
    channels = 3;
  }
  const scaled = options.maxSize
    ? downscale(pixels, frame.width, frame.height, channels, options.maxSize)
    : { pixels, width: frame.width, height: frame.height };
  const format = options.format ?? RenderFormat.Png;
  if (format === RenderFormat.Png) {
    return {
      contentType: format,
      bytes: encodePng(scaled.width, scaled.height, channels, scaled.pixels),
      width: scaled.width,
      height: scaled.height,
    };
  }
  const rgba = new Uint8Array(scaled.width * scaled.height * 4);
  for (let i = 0; i < scaled.width * scaled.height; i++) {
    const r = scaled.pixels[i * channels]!;
    rgba[i * 4] = r;
    rgba[i * 4 + 1] = channels === 3 ? scaled.pixels[i * 3 + 1]! : r;
    rgba[i * 4 + 2] = channels === 3 ? scaled.pixels[i * 3 + 2]! : r;
    rgba[i * 4 + 3] = 255;
  }
  const encoded = jpeg.encode({ data: rgba, width: scaled.width, height: scaled.height }, options.quality ?? 85);
  return { contentType: format, bytes: encoded.data, width: scaled.width, height: scaled.height };
}
