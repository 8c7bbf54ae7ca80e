/**
 * Images in and out (`import { image } from 'blasnet'`): a bounded PNG decoder
 * and encoder, and the MNIST-style preprocessing shared by `blasnet predict`
 * and examples/serve.ts.
 *
 * ```ts
 * const digit = image.loadImage('digit.png');            // any size, any PNG flavour
 * if (digit.empty) console.warn(digit.warnings[0]);
 * const x = image.toInput(digit);                         // [1, 1, 28, 28], normalised like data.mnist()
 * ```
 *
 * @module
 */
import * as fs from 'node:fs';
import { tensor, describe, type Tensor } from '../tensor';
import { checkOptions } from '../ops/args';
import { MNIST_MEAN, MNIST_STD } from '../data/mnist';
import { decodePng, MAX_PNG_PIXELS, type DecodePngOptions } from './png';
import { prepareImage, type PrepareOptions, type PreparedImage } from './digit';

export { decodePng, encodePng, readPngHeader, MAX_PNG_PIXELS, type RgbaImage, type PngHeader, type DecodePngOptions } from './png';
export { prepareImage, MIN_CONTRAST, type PrepareOptions, type PreparedImage, type PrepareMode } from './digit';

/** The largest image file read by {@link loadImage}: 64 MiB. */
export const MAX_IMAGE_FILE_BYTES = 64 * 1024 * 1024;

export interface LoadImageOptions extends PrepareOptions {
  /** Refuse images with more pixels than this (default {@link MAX_PNG_PIXELS}). */
  maxPixels?: number;
}

/** Reads a regular file of at most `maxBytes`, naming the path in every error. */
export function readImageFile(path: string, maxBytes = MAX_IMAGE_FILE_BYTES): Buffer {
  if (typeof path !== 'string' || path === '') throw new TypeError(`loadImage: expected a file path, got ${describe(path)}`);
  let st: fs.Stats;
  try {
    st = fs.statSync(path);
  } catch {
    throw new Error(`png: ${path}: no such file`);
  }
  if (!st.isFile()) throw new Error(`png: ${path}: not a regular file`);
  if (st.size > maxBytes) throw new Error(`png: ${path}: the file is ${st.size} bytes; the limit is ${maxBytes}`);
  return fs.readFileSync(path);
}

/**
 * Decodes a PNG (a path or its bytes) and prepares it as a model input
 * (see {@link prepareImage}); the result says whether it looked empty.
 */
export function loadImage(source: string | Uint8Array, opts: LoadImageOptions = {}): PreparedImage {
  checkOptions('loadImage', opts, ['maxPixels', 'mode', 'size', 'box', 'invert']);
  const { maxPixels, ...prep } = opts;
  const dec: DecodePngOptions = { maxPixels: maxPixels ?? MAX_PNG_PIXELS, source: typeof source === 'string' ? source : '<buffer>' };
  const buf = typeof source === 'string' ? readImageFile(source) : source;
  return prepareImage(decodePng(buf, dec), prep);
}

/** A prepared image as a `[1, 1, size, size]` tensor, normalised as `data.mnist()` does (MNIST's mean and std by default). */
export function toInput(img: PreparedImage, norm: { mean?: number; std?: number } = {}): Tensor {
  checkOptions('toInput', norm, ['mean', 'std']);
  const mean = norm.mean ?? MNIST_MEAN, std = norm.std ?? MNIST_STD;
  if (!Number.isFinite(mean) || !Number.isFinite(std) || std <= 0) throw new RangeError(`toInput: expected a finite mean and std > 0, got ${mean}, ${std}`);
  const out = new Float32Array(img.pixels.length);
  for (let i = 0; i < out.length; i++) out[i] = (img.pixels[i] - mean) / std;
  return tensor(out, [1, 1, img.size, img.size]);
}
