/** In-memory datasets and a DataLoader that assembles batches natively. */
import { native } from '../native';
import { Tensor, keep, describe, randomKey } from '../tensor';

/** Samples stacked in two tensors: inputs x [N, ...] and class labels y [N]. */
export class TensorDataset {
  readonly length: number;
  constructor(readonly x: Tensor, readonly y: Tensor) {
    if (!(x instanceof Tensor) || !(y instanceof Tensor)) throw new TypeError('TensorDataset: x and y must be Tensors');
    if (x.ndim < 1 || y.ndim !== 1 || x.shape[0] !== y.shape[0])
      throw new Error(`TensorDataset: x [N, ...] and y [N] must have the same N, got shapes [${x.shape.join(',')}] and [${y.shape.join(',')}]`);
    this.length = x.shape[0];
    keep(x);
    keep(y);
  }
  /** Sample i as a batch of one: x [1, ...], y [1]. */
  get(i: number): Batch {
    if (!Number.isInteger(i) || i < 0 || i >= this.length) throw new RangeError(`TensorDataset.get: index ${describe(i)} is out of range [0, ${this.length})`);
    return this.select(Int32Array.of(i));
  }

  /** The samples at `indices`, gathered in one native call. */
  select(indices: Int32Array): Batch {
    const n = indices.length, row = this.x.numel / Math.max(this.length, 1);
    return {
      x: Tensor._wrap(native.indexRows(this.x._h('TensorDataset'), row, indices), [n, ...this.x.shape.slice(1)]),
      y: Tensor._wrap(native.indexRows(this.y._h('TensorDataset'), 1, indices), [n]),
    };
  }

  /** Frees both tensors. */
  dispose(): void {
    this.x.dispose();
    this.y.dispose();
  }
}

/** A batch: inputs and labels. The caller owns both (dispose them, or iterate inside tidy()). */
export interface Batch {
  x: Tensor;
  y: Tensor;
}

export interface DataLoaderOptions {
  /** Samples per batch (default 64). */
  batchSize?: number;
  /** Reshuffle every epoch (default false). */
  shuffle?: boolean;
  /** Seed of the shuffle; epoch k uses seed k steps further (default: drawn from the global generator). */
  seed?: number;
  /** Drop the last incomplete batch (default false). */
  dropLast?: boolean;
  /** Applied to each batch's x (e.g. normalisation). */
  transform?: (x: Tensor) => Tensor;
}

/** mulberry32: a small, fast, seedable 32-bit generator for shuffles. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Iterates a dataset in batches of `{ x, y }` tensors. Each `for...of` is one
 * epoch; with `shuffle`, epoch k's order is a seeded permutation, so a seed
 * gives the same batches run after run. Batches are gathered by index in one
 * native call (no per-sample JS objects).
 */
export class DataLoader implements Iterable<Batch> {
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  readonly seed: number;
  /** The next epoch's number (advanced by each iteration; set it to resume). */
  epoch = 0;
  private readonly transform?: (x: Tensor) => Tensor;

  constructor(readonly dataset: TensorDataset, opts: DataLoaderOptions = {}) {
    if (!(dataset instanceof TensorDataset)) throw new TypeError(`DataLoader: dataset must be a TensorDataset, got ${describe(dataset)}`);
    const bs = opts.batchSize ?? 64;
    if (!Number.isInteger(bs) || bs < 1) throw new RangeError(`DataLoader: batchSize must be a positive integer, got ${describe(bs)}`);
    this.batchSize = bs;
    this.shuffle = !!opts.shuffle;
    this.dropLast = !!opts.dropLast;
    this.seed = opts.seed ?? randomKey()[0];
    if (!Number.isInteger(this.seed)) throw new RangeError(`DataLoader: seed must be an integer, got ${describe(opts.seed)}`);
    if (opts.transform !== undefined && typeof opts.transform !== 'function') throw new TypeError('DataLoader: transform must be a function');
    this.transform = opts.transform;
  }

  /** Batches per epoch. */
  get length(): number {
    const n = this.dataset.length;
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  /** The sample order of epoch `epoch`. */
  order(epoch: number): Int32Array {
    const n = this.dataset.length;
    const idx = new Int32Array(n);
    for (let i = 0; i < n; i++) idx[i] = i;
    if (this.shuffle) {
      const rnd = mulberry32((this.seed + Math.imul(epoch, 0x9e3779b1)) >>> 0);
      for (let i = n - 1; i > 0; i--) {
        const j = Math.floor(rnd() * (i + 1));
        const t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
      }
    }
    return idx;
  }

  *[Symbol.iterator](): Iterator<Batch> {
    const order = this.order(this.epoch++);
    for (let b = 0; b < this.length; b++) {
      const idx = order.subarray(b * this.batchSize, Math.min(order.length, (b + 1) * this.batchSize));
      const batch = this.dataset.select(idx);
      let bx = batch.x;
      const by = batch.y;
      if (this.transform) {
        const t = this.transform(bx);
        if (t !== bx) bx.dispose();
        bx = t;
      }
      yield { x: bx, y: by };
    }
  }
}

/** A transform that maps x to (x − mean) / std. */
export function normalize(mean: number, std: number): (x: Tensor) => Tensor {
  if (!Number.isFinite(mean) || !Number.isFinite(std) || std <= 0) throw new RangeError(`normalize: expected finite mean and std > 0, got ${mean}, ${std}`);
  return (x) => x.sub(mean).div(std);
}
