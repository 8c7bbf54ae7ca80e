/**
 * Datasets and the DataLoader. A dataset is a {@link TensorDataset} (batches
 * gathered natively by index) or any object with `length` and `get(i)` (or
 * `getItem(i)`) returning a sample `[x, y]` or `{ x, y }`; samples are stacked
 * into batches as PyTorch's default collate does.
 */
import { native } from '../native';
import { Tensor, keep, describe, randomKey, tensor, tidy } from '../tensor';
import { checkOptions } from '../ops/args';

/**
 * A batch: inputs x [B, ...] and labels y [B]. It destructures both ways,
 * `const { x, y } = batch` and `const [x, y] = batch`, as PyTorch's tuples.
 */
export type Batch = [x: Tensor, y: Tensor] & { readonly x: Tensor; readonly y: Tensor };

/** @internal Builds a Batch: the pair as an array, with `x` and `y` as (non-enumerable) names for its items. */
export function makeBatch(x: Tensor, y: Tensor): Batch {
  const b = [x, y] as unknown as Batch;
  Object.defineProperty(b, 'x', { value: x, enumerable: false });
  Object.defineProperty(b, 'y', { value: y, enumerable: false });
  return b;
}

/** One field of a sample: a tensor (stacked along a new first dim), a number, or numbers. */
export type SampleValue = Tensor | number | ArrayLike<number>;
/** What a dataset's `get(i)` returns. */
export type Sample = readonly [SampleValue, SampleValue] | { readonly x: SampleValue; readonly y: SampleValue };

/** Anything with a length and `get(i)` (or `getItem(i)`, PyTorch's `__getitem__`) is a dataset. */
export interface Dataset {
  readonly length: number;
  get?(i: number): Sample;
  getItem?(i: number): Sample;
}

/** Samples stacked in two tensors: inputs x [N, ...] and class labels y [N]. */
export class TensorDataset {
  readonly length: number;
  constructor(readonly x: Tensor, readonly y: Tensor) {
    if (!(x instanceof Tensor) || !(y instanceof Tensor)) throw new TypeError(`TensorDataset: x and y must be Tensors, got ${describe(x)} and ${describe(y)}`);
    x._check('TensorDataset');
    y._check('TensorDataset');
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
    if (!(indices instanceof Int32Array)) throw new TypeError(`TensorDataset.select: indices must be an Int32Array, got ${describe(indices)}`);
    for (const i of indices)
      if (i < 0 || i >= this.length) throw new RangeError(`TensorDataset.select: index ${i} is out of range [0, ${this.length})`);
    const n = indices.length, row = this.x.numel / Math.max(this.length, 1);
    const x = Tensor._wrap(native.indexRows(this.x._h('TensorDataset.select'), row, indices), [n, ...this.x.shape.slice(1)]);
    const y = Tensor._wrap(native.indexRows(this.y._h('TensorDataset.select'), 1, indices), [n]);
    return makeBatch(x, y);
  }

  /** Frees both tensors. */
  dispose(): void {
    this.x.dispose();
    this.y.dispose();
  }
}

const LOADER_OPTIONS = ['batchSize', 'shuffle', 'seed', 'dropLast', 'transform', 'sampler'] as const;

/**
 * Chooses the samples of each epoch, in order, instead of the loader's own
 * (shuffled) order: e.g. `distributed.DistributedSampler`, which gives each
 * process of a data-parallel run its own shard. The loader calls
 * `setEpoch(epoch)` before each epoch, then `indices()`.
 */
export interface Sampler {
  /** Samples per epoch. */
  readonly length: number;
  /** Called by the loader with the epoch number before `indices()` (PyTorch's `set_epoch`). */
  setEpoch?(epoch: number): void;
  /** The sample indices of the current epoch, in order. */
  indices(): ArrayLike<number>;
}

/**
 * The loader's sample order of an epoch: 0..n-1, or with `shuffle` a seeded
 * Fisher–Yates permutation (the same for the same seed and epoch, everywhere).
 */
export function epochOrder(n: number, shuffle: boolean, seed: number, epoch: number): Int32Array {
  const idx = new Int32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  if (shuffle) {
    const rnd = mulberry32((seed + Math.imul(epoch, 0x9e3779b1)) >>> 0);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(rnd() * (i + 1));
      const t = idx[i];
      idx[i] = idx[j];
      idx[j] = t;
    }
  }
  return idx;
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
  /** Chooses each epoch's samples (e.g. distributed.DistributedSampler); excludes `shuffle`, as in PyTorch. */
  sampler?: Sampler;
}

/** mulberry32: a small, fast, seedable 32-bit generator for shuffles. */
export function mulberry32(seed: number): () => number {
  if (typeof seed !== 'number' || !Number.isInteger(seed)) throw new TypeError(`mulberry32: seed must be an integer, got ${describe(seed)}`);
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Why a batch tensor was freed, named in the error when it is used afterwards. */
const FREED_BY_LOADER = 'the DataLoader frees each batch when the next one is taken; keep(t) or t.clone() to hold on to it';

function isDataset(d: unknown): d is Dataset {
  if (d === null || typeof d !== 'object') return false;
  const o = d as Dataset;
  return typeof o.get === 'function' || typeof o.getItem === 'function';
}

function datasetLength(d: TensorDataset | Dataset): number {
  const n = d.length;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0)
    throw new TypeError(`DataLoader: dataset.length must be a non-negative integer, got ${describe(n)}`);
  return n;
}

/** Stacks one field of every sample: tensors along a new first dim, numbers into a 1-d tensor (PyTorch's default collate). */
function collateField(values: SampleValue[], indices: ArrayLike<number>, field: 'x' | 'y'): Tensor {
  const B = values.length;
  const first = values[0];
  if (typeof first === 'number') {
    const out = new Float32Array(B);
    for (let k = 0; k < B; k++) {
      const v = values[k];
      if (typeof v !== 'number') throw new TypeError(`DataLoader: sample ${indices[k]} has ${field} ${describe(v)}, but sample ${indices[0]} has a number`);
      out[k] = v;
    }
    return tensor(out, [B]);
  }
  const asTensor = (v: SampleValue, k: number): Tensor => {
    if (v instanceof Tensor) {
      v._check('DataLoader');
      return v;
    }
    if (v !== null && typeof v === 'object' && typeof (v as ArrayLike<number>).length === 'number') return tensor(v as ArrayLike<number>);
    throw new TypeError(`DataLoader: sample ${indices[k]} has ${field} ${describe(v)}; expected a Tensor, a number or an array of numbers`);
  };
  const t0 = asTensor(first, 0);
  const shape = t0.shape, n = t0.numel;
  const out = new Float32Array(B * n);
  for (let k = 0; k < B; k++) {
    const t = k === 0 ? t0 : asTensor(values[k], k);
    if (t.ndim !== shape.length || t.shape.some((d, i) => d !== shape[i]))
      throw new Error(`DataLoader: samples must have the same shape to be stacked: sample ${indices[k]} has ${field} of shape [${t.shape.join(',')}], sample ${indices[0]} has [${shape.join(',')}]`);
    out.set(t.data(), k * n);
  }
  return tensor(out, [B, ...shape]);
}

/** Calls get(i) (or getItem(i)) for each index and stacks the samples; tensors get() made are freed. */
function collate(ds: Dataset, indices: ArrayLike<number>): Batch {
  return tidy(() => {
    const xs: SampleValue[] = [], ys: SampleValue[] = [];
    for (let k = 0; k < indices.length; k++) {
      const i = indices[k];
      const s = typeof ds.get === 'function' ? ds.get(i) : ds.getItem!(i);
      let x: unknown, y: unknown;
      if (Array.isArray(s) && s.length === 2) [x, y] = s;
      else if (s !== null && typeof s === 'object' && !Array.isArray(s) && 'x' in s && 'y' in s) ({ x, y } = s as { x: unknown; y: unknown });
      else throw new TypeError(`DataLoader: dataset.${typeof ds.get === 'function' ? 'get' : 'getItem'}(${i}) must return [x, y] or { x, y }, got ${describe(s)}`);
      xs.push(x as SampleValue);
      ys.push(y as SampleValue);
    }
    return makeBatch(collateField(xs, indices, 'x'), collateField(ys, indices, 'y'));
  });
}

/**
 * Iterates a dataset in batches. Each `for...of` is one epoch; with `shuffle`,
 * epoch k's order is a seeded permutation, so a seed gives the same batches
 * run after run. A TensorDataset's batches are gathered by index in one native
 * call; any other dataset (`length` and `get(i)` or `getItem(i)`) is read
 * sample by sample and stacked.
 *
 * A batch lives until the next one is taken (or the epoch ends): the loader
 * then frees it, so `for (const { x, y } of loader)` leaks nothing even in a
 * synchronous loop. To hold a batch longer, `keep(x)` or `x.clone()` it.
 */
export class DataLoader implements Iterable<Batch> {
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  readonly seed: number;
  /** The sampler given in the options, or null. */
  readonly sampler: Sampler | null;
  /** The next epoch's number (advanced by each iteration; set it to resume). */
  epoch = 0;
  private readonly transform?: (x: Tensor) => Tensor;

  constructor(readonly dataset: TensorDataset | Dataset, opts: DataLoaderOptions = {}) {
    if (!(dataset instanceof TensorDataset) && !isDataset(dataset))
      throw new TypeError(`DataLoader: dataset must be a TensorDataset or an object with length and get(i) (or getItem(i)), got ${describe(dataset)}`);
    datasetLength(dataset);
    opts = checkOptions('DataLoader', opts, LOADER_OPTIONS);
    const bs = opts.batchSize ?? 64;
    if (typeof bs !== 'number' || !Number.isInteger(bs) || bs < 1) throw new RangeError(`DataLoader: batchSize must be a positive integer, got ${describe(bs)}`);
    for (const k of ['shuffle', 'dropLast'] as const)
      if (opts[k] !== undefined && typeof opts[k] !== 'boolean') throw new TypeError(`DataLoader: ${k} must be a boolean, got ${describe(opts[k])}`);
    this.batchSize = bs;
    this.shuffle = opts.shuffle ?? false;
    this.dropLast = opts.dropLast ?? false;
    this.seed = opts.seed ?? randomKey()[0];
    if (typeof this.seed !== 'number' || !Number.isInteger(this.seed)) throw new RangeError(`DataLoader: seed must be an integer, got ${describe(opts.seed)}`);
    if (opts.transform !== undefined && typeof opts.transform !== 'function') throw new TypeError(`DataLoader: transform must be a function, got ${describe(opts.transform)}`);
    this.transform = opts.transform;
    const sm = opts.sampler;
    if (sm !== undefined) {
      if (sm === null || typeof sm !== 'object' || typeof sm.indices !== 'function' || !Number.isInteger(sm.length) || sm.length < 0)
        throw new TypeError(`DataLoader: sampler must have a non-negative integer length and an indices() method, got ${describe(sm)}`);
      if (opts.shuffle) throw new Error('DataLoader: sampler and shuffle are mutually exclusive (the sampler decides the order; shuffle it there)');
    }
    this.sampler = sm ?? null;
  }

  /** Batches per epoch. */
  get length(): number {
    const n = this.sampler ? this.sampler.length : datasetLength(this.dataset);
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  /** The sample order of epoch `epoch`. */
  order(epoch: number): Int32Array {
    if (!Number.isInteger(epoch) || epoch < 0) throw new RangeError(`DataLoader.order: epoch must be a non-negative integer, got ${describe(epoch)}`);
    const n = datasetLength(this.dataset);
    if (this.sampler) {
      this.sampler.setEpoch?.(epoch);
      const got = this.sampler.indices();
      if (got.length !== this.sampler.length) throw new Error(`DataLoader: the sampler's indices() gave ${got.length} indices but its length is ${this.sampler.length}`);
      const idx = Int32Array.from(got);
      for (const i of idx) if (i < 0 || i >= n) throw new RangeError(`DataLoader: the sampler gave index ${i}, but the dataset has ${n} samples`);
      return idx;
    }
    return epochOrder(n, this.shuffle, this.seed, epoch);
  }

  *[Symbol.iterator](): Iterator<Batch> {
    const order = this.order(this.epoch++);
    const batches = this.length;
    const ds = this.dataset;
    let prev: Batch | null = null;
    const freePrev = (): void => {
      if (!prev) return;
      for (const t of prev) if (!t._kept) t._disposeAs(FREED_BY_LOADER);
      prev = null;
    };
    for (let b = 0; b < batches; b++) {
      const idx = order.subarray(b * this.batchSize, Math.min(order.length, (b + 1) * this.batchSize));
      const batch = ds instanceof TensorDataset ? ds.select(idx) : collate(ds, idx);
      let bx = batch.x;
      const by = batch.y;
      if (this.transform) {
        let t: unknown;
        try {
          t = tidy(() => this.transform!(bx)); // its temporaries are freed
        } catch (e) {
          bx.dispose();
          by.dispose();
          throw e;
        }
        if (!(t instanceof Tensor)) {
          bx.dispose();
          by.dispose();
          throw new TypeError(`DataLoader: transform must return a Tensor, got ${describe(t)}`);
        }
        if (t !== bx) bx.dispose();
        bx = t;
      }
      prev = makeBatch(bx, by);
      yield prev;
      freePrev();
    }
  }
}

/** A transform that maps x to (x − mean) / std. */
export function normalize(mean: number, std: number): (x: Tensor) => Tensor {
  if (typeof mean !== 'number' || !Number.isFinite(mean)) throw new TypeError(`normalize: mean must be a finite number, got ${describe(mean)}`);
  if (typeof std !== 'number' || !Number.isFinite(std) || std <= 0) throw new RangeError(`normalize: std must be a finite number > 0, got ${describe(std)}`);
  return (x) => x.sub(mean).div(std);
}
