/**
 * Tensor: an n-dimensional float32 array in native, 64-byte aligned memory.
 *
 * Every tensor is contiguous (row-major). `reshape`/`view`/`flatten`/`detach`
 * share storage with their source; `transpose`/`permute` return a contiguous
 * copy, so kernels never deal with strides.
 *
 * Memory: `dispose()` frees at once; {@link tidy} frees every tensor made inside
 * it except what it returns; `using t = ...` disposes at scope end; whatever is
 * forgotten is freed by a GC finalizer. Native bytes are reported to V8 as
 * external memory, so forgotten tensors put pressure on the GC.
 */
import { GradNode, isGradEnabled, runBackward, type BackwardOptions } from './autograd';
import { native, type Handle } from './native';
import * as ew from './ops/elementwise';
import * as red from './ops/reduce';
import * as shp from './ops/shape';
import * as idx from './ops/index';
import * as join from './ops/join';
import { checkTo, type ToTarget } from './ops/device';
import { formatTensor, printedIndices } from './format';
import { boolArg, checkOptions, fnArg, numberArg } from './ops/args';

/** Anything `tensor()` accepts: a number, nested arrays of numbers, or a typed array. */
export type TensorLike = number | NestedArray | ArrayLike<number>;
/** Nested arrays of numbers, e.g. `[[1, 2], [3, 4]]`. */
export type NestedArray = number[] | NestedArray[];

/** The most elements one tensor may hold (2^31 − 1). */
export const MAX_NUMEL = 2 ** 31 - 1;

/** @internal Native storage shared by a tensor and its views, reference-counted. */
export class Storage {
  refs = 1;
  version = 0;
  constructor(public handle: Handle) {}
  retain(): this {
    this.refs++;
    return this;
  }
  release(): void {
    if (--this.refs === 0) native.free(this.handle);
  }
}

// ---------------------------------------------------------------------------
// memory scopes

const scopes: Set<Tensor>[] = [];

function track(t: Tensor): void {
  if (scopes.length) scopes[scopes.length - 1].add(t);
}

/**
 * Marks a tensor to outlive every enclosing {@link tidy} (it is still freed by
 * `dispose()` or the GC). Returns the tensor.
 */
export function keep<T extends Tensor>(t: T): T {
  assertTensor('keep', t, 'tensor');
  for (const s of scopes) s.delete(t);
  t._kept = true;
  return t;
}

/** @internal Removes a tensor from every tidy scope without marking it kept (a graph node owns it). */
export function untrack(t: Tensor): void {
  for (const s of scopes) s.delete(t);
}

function collectTensors(value: unknown, out: Set<Tensor>, depth = 0): void {
  if (depth > 8 || value == null) return;
  if (value instanceof Tensor) out.add(value);
  else if (Array.isArray(value)) for (const v of value) collectTensors(v, out, depth + 1);
  else if (value instanceof Map) for (const v of value.values()) collectTensors(v, out, depth + 1);
  else if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype)
    for (const v of Object.values(value)) collectTensors(v, out, depth + 1);
}

/**
 * Runs `fn` and disposes every tensor created inside it, except the tensors it
 * returns (directly, or inside arrays, Maps and plain objects), parameters and
 * other leaves that require grad, and gradients accumulated into `.grad`.
 * `fn` must be synchronous.
 */
export function tidy<T>(fn: () => T): T {
  fnArg('tidy', 'fn', fn);
  const scope = new Set<Tensor>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    scopes.pop();
    for (const t of scope) t.dispose();
    throw e;
  }
  scopes.pop();
  if (result instanceof Promise) {
    for (const t of scope) t.dispose();
    throw new TypeError('tidy: the function must be synchronous (it returned a Promise)');
  }
  const kept = new Set<Tensor>();
  collectTensors(result, kept);
  if (kept.size === 0) {
    // nothing returned: nothing made here survives (the common training step and inference call)
    for (const t of scope) t.dispose();
    return result;
  }
  const returned = new Set(kept);
  // A returned tensor's graph must survive too, so backward can run after tidy.
  // The tensors made here that only the graph needs are handed to it: each is
  // disposed when the last node using it is released (by backward, or by
  // disposing the tensor that node produced), so nothing waits for the GC.
  const stack = [...kept];
  const seen = new Set<GradNode>();
  while (stack.length) {
    const node = stack.pop()!._node;
    if (!node || node.released || seen.has(node)) continue;
    seen.add(node);
    for (const t of node.inputs) {
      if (scope.has(t) && !returned.has(t) && !node.owned.includes(t)) {
        node.owned.push(t);
        t._graphRefs++;
      }
      if (!kept.has(t)) {
        kept.add(t);
        stack.push(t);
      }
    }
  }
  for (const t of scope) if (!kept.has(t)) t.dispose();
  for (const t of kept) if (scope.has(t)) track(t);
  return result;
}

/** Disposes every tensor found in `value` (a tensor, or arrays/objects of them). */
export function dispose(value: unknown): void {
  const s = new Set<Tensor>();
  collectTensors(value, s);
  for (const t of s) t.dispose();
}

/** Native memory in use and cached by the pooled allocator, in bytes. */
export function memoryInfo(): { liveBytes: number; cachedBytes: number } {
  return native.memoryInfo();
}

// ---------------------------------------------------------------------------
// validation helpers

/** @internal */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return `[${v.slice(0, 8).map(describe).join(',')}${v.length > 8 ? ',…' : ''}]`;
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v);
  if (v instanceof Tensor) return `a tensor of shape [${v.shape.join(',')}]`;
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'an object';
  // a Module is a callable object: name its class, not 'function'
  if (typeof v === 'function' && Object.getPrototypeOf(v) !== Function.prototype) return (v as { constructor?: { name?: string } }).constructor?.name ?? 'function';
  return typeof v;
}

/** @internal Validates a shape: an array of non-negative integers with a product ≤ MAX_NUMEL. */
export function checkShape(op: string, shape: unknown, arg = 'shape'): number[] {
  if (!Array.isArray(shape)) throw new TypeError(`${op}: ${arg} must be an array of integers, got ${describe(shape)}`);
  if (shape.length > 8) throw new RangeError(`${op}: ${arg} has ${shape.length} dims, at most 8 are supported`);
  let n = 1;
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i];
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 0)
      throw new RangeError(`${op}: ${arg}[${i}] must be a non-negative integer, got ${describe(d)}`);
    if (d > MAX_NUMEL) throw new RangeError(`${op}: ${arg}[${i}] is ${d}, more than ${MAX_NUMEL} elements`);
    n *= d;
  }
  if (n > MAX_NUMEL) throw new RangeError(`${op}: ${arg} [${shape.join(',')}] has ${n} elements, more than ${MAX_NUMEL}`);
  return shape.slice();
}

/** @internal Normalises a possibly negative dim against `ndim`. */
export function normDim(op: string, dim: unknown, ndim: number, arg = 'dim'): number {
  if (typeof dim !== 'number' || !Number.isInteger(dim))
    throw new TypeError(`${op}: ${arg} must be an integer, got ${describe(dim)}`);
  const lo = ndim === 0 ? -1 : -ndim, hi = ndim === 0 ? 0 : ndim - 1;
  if (dim < lo || dim > hi) throw new RangeError(`${op}: ${arg} ${dim} is out of range for a ${ndim}-d tensor (expected ${lo}..${hi})`);
  return dim < 0 ? dim + Math.max(ndim, 1) : dim;
}

/** @internal */
export function numelOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** @internal */
export function assertTensor(op: string, v: unknown, arg: string): Tensor {
  if (!(v instanceof Tensor)) throw new TypeError(`${op}: ${arg} must be a Tensor, got ${describe(v)}`);
  return v;
}

// ---------------------------------------------------------------------------
// the tensor

/** An n-dimensional float32 array with autograd. Create one with {@link tensor}, {@link zeros}, … */
export class Tensor {
  /** Dimensions, outermost first. */
  readonly shape: readonly number[];
  /** Number of elements. */
  readonly numel: number;
  /** Gradient accumulated by `backward()`, or null. */
  grad: Tensor | null = null;
  /** @internal */ _storage: Storage;
  /** @internal */ _node: GradNode | null = null;
  /** @internal Marked by keep(): the user holds it beyond scopes (a DataLoader leaves such a batch alone). */
  _kept = false;
  /** @internal How many graph nodes own this tensor (handed over by tidy); disposed when it drops to 0. */
  _graphRefs = 0;
  /** @internal Why it was disposed, when not by the user (named in the "was disposed" error). */
  _disposedBy: string | null = null;
  private _requiresGrad = false;
  private _disposed = false;

  /** @internal Use the factory functions instead. Takes ownership of `storage`. */
  constructor(storage: Storage, shape: readonly number[]) {
    if (!(storage instanceof Storage) || !Array.isArray(shape))
      throw new TypeError('Tensor: the constructor is internal; create tensors with tensor(), zeros(), ones(), rand(), …');
    this._storage = storage;
    // A frozen shape (another tensor's) cannot change under us: share it instead of copying.
    this.shape = Object.isFrozen(shape) ? shape : Object.freeze(shape.slice());
    this.numel = numelOf(this.shape);
    track(this);
  }

  /** @internal Wraps a fresh native handle. */
  static _wrap(handle: Handle, shape: readonly number[]): Tensor {
    return new Tensor(new Storage(handle), shape);
  }

  /** Number of dimensions. */
  get ndim(): number {
    return this.shape.length;
  }

  /** Whether gradients are recorded for this tensor. */
  get requiresGrad(): boolean {
    return this._requiresGrad;
  }
  set requiresGrad(v: boolean) {
    this.requiresGrad_(v);
  }

  /** True for tensors not produced by a recorded op (user-created tensors and parameters). */
  get isLeaf(): boolean {
    return this._node === null;
  }

  /** Name of the op that produced this tensor, when it was recorded (PyTorch's `grad_fn`). */
  get gradFn(): string | null {
    return this._node ? this._node.name : null;
  }

  /** Whether `dispose()` has been called. */
  get isDisposed(): boolean {
    return this._disposed;
  }

  /**
   * Sets `requiresGrad` in place and returns this tensor, as PyTorch's
   * `requires_grad_()`. A leaf that requires grad outlives `tidy()` scopes.
   */
  requiresGrad_(requiresGrad = true): this {
    this._check('requiresGrad_');
    boolArg('requiresGrad_', 'requiresGrad', requiresGrad, true);
    if (!this.isLeaf && !requiresGrad)
      throw new Error('requiresGrad_: cannot turn off requiresGrad on a non-leaf tensor; use detach()');
    this._requiresGrad = !!requiresGrad;
    if (this._requiresGrad && this.isLeaf) keep(this);
    return this;
  }

  /** @internal The native handle; throws a clear Error if disposed. */
  _h(op: string): Handle {
    if (this._disposed) this._throwDisposed(op);
    return this._storage.handle;
  }

  /** @internal */
  _check(op: string): void {
    if (this._disposed) this._throwDisposed(op);
  }

  private _throwDisposed(op: string): never {
    throw new Error(`${op}: the tensor (shape [${this.shape.join(',')}]) was disposed${this._disposedBy ? ` (${this._disposedBy})` : ''}`);
  }

  /**
   * Frees the native memory now (shared storage is freed with its last user),
   * and the graph node that produced this tensor with its saved tensors and
   * native scratch (backward can no longer pass through it). Idempotent.
   */
  dispose(): void {
    if (this._disposed) return;
    this._disposed = true;
    this._storage.release();
    if (this.grad) {
      this.grad.dispose();
      this.grad = null;
    }
    for (const s of scopes) s.delete(this);
    const node = this._node;
    if (node) node.release('dispose');
  }

  /** @internal Disposes, naming who did it in later "was disposed" errors. */
  _disposeAs(reason: string): void {
    if (this._disposed) return;
    this._disposedBy = reason;
    this.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  // --- data out -------------------------------------------------------------

  /** A copy of the elements as a Float32Array (row-major). Changing it does not change the tensor. */
  data(): Float32Array {
    return native.toArray(this._h('data'));
  }

  /** The elements as nested arrays (a number for a 0-d tensor). */
  toArray(): number | NestedArray {
    const d = native.toArray(this._h('toArray'));
    if (this.ndim === 0) return d[0];
    const build = (dim: number, off: number): NestedArray => {
      const n = this.shape[dim];
      if (dim === this.ndim - 1) return Array.from(d.subarray(off, off + n));
      const stride = numelOf(this.shape.slice(dim + 1));
      const out: NestedArray[] = [];
      for (let i = 0; i < n; i++) out.push(build(dim + 1, off + i * stride));
      return out as NestedArray;
    };
    return build(0, 0);
  }

  /** The value of a one-element tensor. */
  item(): number {
    const h = this._h('item');
    if (this.numel !== 1)
      throw new Error(`item: only a one-element tensor can be converted to a number, got shape [${this.shape.join(',')}]`);
    return native.readAt(h, 0);
  }

  /**
   * Prints like PyTorch: `tensor([[1., 2.], [3., 4.]])`. Past 1000 elements,
   * only the first and last 3 items of each dim are shown (and read).
   */
  toString(): string {
    if (this._disposed) return `tensor(<disposed>, shape=[${this.shape.join(', ')}])`;
    let shown: Float32Array;
    if (this.numel === 0) shown = new Float32Array(0);
    else {
      const idx = printedIndices(this.shape);
      if (idx.length === this.numel) shown = native.toArray(this._storage.handle);
      else {
        const h = native.indexRows(this._storage.handle, 1, idx);
        shown = native.toArray(h);
        native.free(h);
      }
    }
    return formatTensor(shown, this.shape, this._node ? this._node.name : null, this._requiresGrad && this.isLeaf);
  }

  /** @internal Node's util.inspect */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }

  // --- autograd ---------------------------------------------------------------

  /**
   * Computes gradients of this tensor with respect to every leaf that requires
   * grad, accumulating them into `.grad`. A one-element tensor needs no
   * `gradient`; otherwise pass one of the same shape.
   */
  backward(gradient?: Tensor, options: BackwardOptions = {}): void {
    this._check('backward');
    checkOptions('backward', options, ['retainGraph']);
    boolArg('backward', 'retainGraph', options?.retainGraph, false);
    if (!this._requiresGrad)
      throw new Error('backward: this tensor does not require grad and has no grad_fn (did you forget requiresGrad_() or call it inside noGrad()?)');
    let seed: Tensor;
    if (gradient === undefined) {
      if (this.numel !== 1)
        throw new Error(`backward: a gradient is needed for a tensor of shape [${this.shape.join(',')}] (only one-element tensors get an implicit gradient of 1)`);
      seed = Tensor._wrap(native.alloc(1, 1), this.shape);
    } else {
      assertTensor('backward', gradient, 'gradient');
      gradient._check('backward');
      if (!sameShape(gradient.shape, this.shape))
        throw new Error(`backward: gradient has shape [${gradient.shape.join(',')}] but the tensor has shape [${this.shape.join(',')}]`);
      // Shares the caller's storage (no copy of an output-sized tensor): in-place
      // accumulation is copy-on-write, and a leaf never adopts it (runBackward).
      seed = new Tensor(gradient._storage.retain(), this.shape);
    }
    keep(seed);
    runBackward(this, seed, options ?? {});
  }

  /** A tensor sharing this one's storage, cut from the graph (no grad). */
  detach(): Tensor {
    this._check('detach');
    return new Tensor(this._storage.retain(), this.shape);
  }

  /** @internal Records the op that produced this tensor. */
  _setNode(name: string, inputs: Tensor[], backward: (g: Tensor) => (Tensor | null)[], onRelease?: () => void, saved: Tensor[] = []): void {
    this._node = new GradNode(name, inputs, backward, onRelease, saved);
    this._requiresGrad = true;
  }

  /** @internal grad += g (takes ownership of g). */
  _accumulateGrad(g: Tensor, owned: boolean): void {
    if (!this.grad || this.grad.isDisposed) {
      this.grad = keep(owned ? g : g.clone());
      if (!sameShape(this.grad.shape, this.shape)) this.grad = keep(this.grad.reshape(this.shape));
    } else {
      this.grad._addInPlace(g);
      if (owned) g.dispose();
    }
  }

  /** @internal this += o, in place (copy-on-write when storage is shared). */
  _addInPlace(o: Tensor): void {
    if (this._storage.refs > 1) {
      const h = native.binary(0, this._h('add'), o._h('add'), [this.numel], [1], [1]);
      this._storage.release();
      this._storage = new Storage(h);
    } else {
      native.axpy(this._h('add'), o._h('add'), 1);
    }
    this._storage.version++;
  }

  // --- creation helpers ---------------------------------------------------------

  /** A copy with its own storage (recorded by autograd). */
  clone(): Tensor {
    return ew.clone(this);
  }

  /** Fills with zeros in place (no autograd). Returns this. */
  zero_(): this {
    native.fill(this._h('zero_'), 0);
    this._storage.version++;
    return this;
  }

  /** Fills with `value` in place (no autograd). Returns this. */
  fill_(value: number): this {
    if (typeof value !== 'number') throw new TypeError(`fill_: value must be a number, got ${describe(value)}`);
    native.fill(this._h('fill_'), value);
    this._storage.version++;
    return this;
  }

  /** Copies `src` (same number of elements) into this tensor in place (no autograd). Returns this. */
  copy_(src: Tensor): this {
    this._check('copy_');
    assertTensor('copy_', src, 'src');
    src._check('copy_');
    if (src.numel !== this.numel)
      throw new Error(`copy_: source has ${src.numel} elements (shape [${src.shape.join(',')}]) but destination has ${this.numel} (shape [${this.shape.join(',')}])`);
    native.copyInto(this._h('copy_'), src._h('copy_'));
    this._storage.version++;
    return this;
  }

  // --- shape ------------------------------------------------------------------

  /** Same data, new shape (one dim may be -1). Shares storage. */
  reshape(...shape: (number | readonly number[])[]): Tensor {
    return shp.reshape(this, flatArgs(shape), 'reshape');
  }
  /** Alias of {@link reshape} (every tensor is contiguous). */
  view(...shape: (number | readonly number[])[]): Tensor {
    return shp.reshape(this, flatArgs(shape), 'view');
  }
  /** Flattens dims `startDim..endDim` into one. */
  flatten(startDim = 0, endDim = -1): Tensor {
    return shp.flatten(this, startDim, endDim);
  }
  /** Removes size-1 dims (all, or just `dim`). */
  squeeze(dim?: number): Tensor {
    return shp.squeeze(this, dim);
  }
  /** Inserts a size-1 dim at `dim`. */
  unsqueeze(dim: number): Tensor {
    return shp.unsqueeze(this, dim);
  }
  /** Swaps two dims (returns a contiguous copy). */
  transpose(dim0: number, dim1: number): Tensor {
    return shp.transpose(this, dim0, dim1);
  }
  /** Reorders dims (returns a contiguous copy). */
  permute(...dims: (number | readonly number[])[]): Tensor {
    return shp.permute(this, flatArgs(dims));
  }
  /** The transpose of a 2-D tensor. */
  get T(): Tensor {
    this._check('T');
    if (this.ndim !== 2) throw new Error(`T: expected a 2-d tensor, got shape [${this.shape.join(',')}]`);
    return shp.transpose(this, 0, 1);
  }
  /** Every tensor is contiguous: returns this tensor. */
  contiguous(): Tensor {
    this._check('contiguous');
    return this;
  }

  // --- arithmetic --------------------------------------------------------------

  add(other: Tensor | number, alpha?: number): Tensor {
    return ew.add(this, other, alpha);
  }
  sub(other: Tensor | number, alpha?: number): Tensor {
    return ew.sub(this, other, alpha);
  }
  mul(other: Tensor | number): Tensor {
    return ew.mul(this, other);
  }
  div(other: Tensor | number): Tensor {
    return ew.div(this, other);
  }
  pow(exponent: Tensor | number): Tensor {
    return ew.pow(this, exponent);
  }
  neg(): Tensor {
    return ew.neg(this);
  }
  exp(): Tensor {
    return ew.exp(this);
  }
  log(): Tensor {
    return ew.log(this);
  }
  sqrt(): Tensor {
    return ew.sqrt(this);
  }
  abs(): Tensor {
    return ew.abs(this);
  }
  relu(): Tensor {
    return ew.relu(this);
  }
  sigmoid(): Tensor {
    return ew.sigmoid(this);
  }
  tanh(): Tensor {
    return ew.tanh(this);
  }
  /** Elementwise max with a tensor or number (PyTorch's `maximum` / `clamp_min`). */
  maximum(other: Tensor | number): Tensor {
    return ew.maximum(this, other);
  }
  minimum(other: Tensor | number): Tensor {
    return ew.minimum(this, other);
  }
  clamp(min?: number | null, max?: number | null): Tensor {
    return ew.clamp(this, min ?? undefined, max ?? undefined);
  }
  /** 1 where this > other, else 0 (no grad). */
  gt(other: Tensor | number): Tensor {
    return ew.compare(this, other, 'gt');
  }
  lt(other: Tensor | number): Tensor {
    return ew.compare(this, other, 'lt');
  }
  ge(other: Tensor | number): Tensor {
    return ew.compare(this, other, 'ge');
  }
  le(other: Tensor | number): Tensor {
    return ew.compare(this, other, 'le');
  }
  eq(other: Tensor | number): Tensor {
    return ew.compare(this, other, 'eq');
  }

  /** Matrix product: 2-D × 2-D, or batched 3-D (either side may be 2-D and is broadcast). */
  matmul(other: Tensor): Tensor {
    return red.matmul(this, other);
  }

  // --- reductions ------------------------------------------------------------------

  /** Sum of all elements, or along `dim`. */
  sum(dim?: number | null, keepdim = false): Tensor {
    return red.sum(this, dim ?? undefined, boolArg('sum', 'keepdim', keepdim, false));
  }
  /** Mean of all elements, or along `dim`. */
  mean(dim?: number | null, keepdim = false): Tensor {
    return red.mean(this, dim ?? undefined, boolArg('mean', 'keepdim', keepdim, false));
  }
  /** Max of all elements; with `dim`, `{ values, indices }` along it. */
  max(): Tensor;
  max(dim: number, keepdim?: boolean): { values: Tensor; indices: Tensor };
  max(dim?: number, keepdim = false): Tensor | { values: Tensor; indices: Tensor } {
    boolArg('max', 'keepdim', keepdim, false);
    return dim === undefined ? red.maxAll(this) : red.maxDim(this, dim, keepdim);
  }
  /** Index of the max (of the flattened tensor, or along `dim`), as float32 integers usable as indices. */
  argmax(dim?: number | null, keepdim = false): Tensor {
    return red.argmax(this, dim ?? undefined, boolArg('argmax', 'keepdim', keepdim, false));
  }
  // --- indexing, joining and shape queries (src/ops/index.ts, src/ops/join.ts) ------------------------
  // Indices are float32 tensors holding integers (or arrays of integers), checked exactly; results are copies.

  /** The dtype of every blasnet tensor: indices and labels are float32 values holding integers. */
  get dtype(): 'float32' {
    return 'float32';
  }
  /** PyTorch's `.to(device | dtype)`: 'cpu' and 'float32' return this tensor; other devices and dtypes throw. */
  to(...args: (ToTarget | Tensor)[]): this {
    this._check('to');
    checkTo('Tensor.to', args);
    return this;
  }
  /** PyTorch's `.cpu()`: every blasnet tensor is on the CPU; returns this tensor. */
  cpu(): this {
    this._check('cpu');
    return this;
  }
  /** PyTorch's `.cuda()`: blasnet has no GPU, so this throws. */
  cuda(): never {
    throw new Error('Tensor.cuda: blasnet runs on the CPU only (OpenBLAS); drop the .cuda() call');
  }
  /** The shape as an array, or the size of one dim (negative counts from the end), as PyTorch's `size()`. */
  size(): number[];
  size(dim: number): number;
  size(dim?: number): number | number[] {
    this._check('size');
    if (dim === undefined) return this.shape.slice();
    if (this.ndim === 0) throw new RangeError(`size: a 0-d tensor has no dim ${describe(dim)}`);
    return this.shape[normDim('size', dim, this.ndim)];
  }
  /** This tensor's data with `other`'s shape (shares storage), as `view(other.shape)`. */
  viewAs(other: Tensor): Tensor {
    assertTensor('viewAs', other, 'other');
    other._check('viewAs');
    return shp.reshape(this, other.shape as number[], 'viewAs');
  }
  /** The slice at `index` along `dim`, without that dim (`x[:, index]` for dim 1). */
  select(dim: number, index: number): Tensor {
    return idx.select(this, dim, index);
  }
  /** `length` entries along `dim` from `start`. */
  narrow(dim: number, start: number, length: number): Tensor {
    return idx.narrow(this, dim, start, length);
  }
  /** `start:end:step` along `dim`, with Python's slice semantics (negative bounds count from the end; step ≥ 1). */
  slice(dim: number, start?: number | null, end?: number | null, step = 1): Tensor {
    return idx.slice(this, dim, start, end, step);
  }
  /**
   * PyTorch's `x[…]`: integers, slice strings (`':'`, `'1:5:2'`), `null` (a new
   * dim), `'...'` and index tensors or arrays: `x.index(':', 0)` is `x[:, 0]`,
   * `x.index(rows, cols)` is `x[rows, cols]`.
   */
  index(...indices: idx.IndexSpec[]): Tensor {
    return idx.index(this, ...indices);
  }
  /** Entries at `index` (0-d or 1-d integers) along `dim`. */
  indexSelect(dim: number, index: idx.IndexLike): Tensor {
    return idx.indexSelect(this, dim, index);
  }
  /** PyTorch's gather: `out[i][j] = x[i][index[i][j]]` for dim 1. */
  gather(dim: number, index: idx.IndexLike): Tensor {
    return idx.gather(this, dim, index);
  }
  /** `condition ? this : other`, elementwise with broadcasting (Tensor.where, as PyTorch's). */
  where(condition: Tensor, other: Tensor | number): Tensor {
    return idx.where(condition, this, other);
  }
  /** Pieces of `splitSize` along `dim`, or of the given sizes. */
  split(splitSizeOrSections: number | readonly number[], dim = 0): Tensor[] {
    return join.split(this, splitSizeOrSections, dim);
  }
  /** At most `chunks` pieces along `dim`. */
  chunk(chunks: number, dim = 0): Tensor[] {
    return join.chunk(this, chunks, dim);
  }
  /** The slices along `dim`, each without it. */
  unbind(dim = 0): Tensor[] {
    return join.unbind(this, dim);
  }

  /** Softmax along `dim` (numerically stable). */
  softmax(dim: number): Tensor {
    return red.softmax(this, dim, false);
  }
  /** Log-softmax along `dim` (numerically stable). */
  logSoftmax(dim: number): Tensor {
    return red.softmax(this, dim, true);
  }
}

function flatArgs(args: (number | readonly number[])[]): number[] {
  if (args.length === 1 && Array.isArray(args[0])) return (args[0] as readonly number[]).slice();
  return args as number[];
}

/** @internal */
export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

// ---------------------------------------------------------------------------
// recording ops

/**
 * @internal Wraps a native result. When grad mode is on and an input requires
 * grad, records a node whose `backward` maps the output gradient to one
 * gradient per input (null where none is needed).
 *
 * `onRelease` frees native scratch kept for backward; `saved` are tensors the
 * backward closure uses besides `inputs` (a detached target, a dropout mask).
 * The node owns both: they leave every tidy scope, survive with the graph and
 * are freed when the node is released (after backward, or when the output is
 * disposed). When nothing is recorded they are freed at once.
 */
export function fromOp(
  handle: Handle,
  shape: readonly number[],
  name: string,
  inputs: Tensor[],
  backward: (g: Tensor) => (Tensor | null)[],
  onRelease?: () => void,
  saved: Tensor[] = [],
): Tensor {
  const t = Tensor._wrap(handle, shape);
  if (isGradEnabled() && anyRequiresGrad(inputs)) {
    for (const s of saved) untrack(s);
    t._setNode(name, inputs, backward, onRelease, saved);
  } else {
    onRelease?.();
    for (const s of saved) s.dispose();
  }
  return t;
}

function anyRequiresGrad(inputs: Tensor[]): boolean {
  for (let i = 0; i < inputs.length; i++) if (inputs[i].requiresGrad) return true;
  return false;
}

/** @internal Whether an op on these inputs records a node. */
export function recording(...inputs: Tensor[]): boolean {
  return isGradEnabled() && inputs.some((x) => x.requiresGrad);
}

// ---------------------------------------------------------------------------
// creation

function inferShape(data: unknown): number[] {
  const shape: number[] = [];
  let cur: unknown = data;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    if (cur.length === 0) break;
    cur = cur[0];
  }
  return shape;
}

function flattenNested(data: unknown, shape: number[], op: string): Float32Array {
  const out = new Float32Array(numelOf(shape));
  let k = 0;
  const walk = (v: unknown, dim: number, path: string): void => {
    if (dim === shape.length) {
      if (typeof v !== 'number' && typeof v !== 'boolean')
        throw new TypeError(`${op}: element ${path || '[]'} must be a number, got ${describe(v)}`);
      out[k++] = Number(v);
      return;
    }
    if (!Array.isArray(v) || v.length !== shape[dim])
      throw new Error(`${op}: ragged nested array: ${path || 'data'} should have length ${shape[dim]}, got ${Array.isArray(v) ? v.length : describe(v)}`);
    for (let i = 0; i < v.length; i++) walk(v[i], dim + 1, `${path}[${i}]`);
  };
  walk(data, 0, '');
  return out;
}

/**
 * Creates a tensor from a number, nested arrays or a typed array (copied).
 * `shape` reshapes flat data; it must hold exactly as many elements.
 */
export function tensor(data: TensorLike, shape?: readonly number[]): Tensor {
  const op = 'tensor';
  let flat: Float32Array;
  let inferred: number[];
  if (typeof data === 'number' || typeof data === 'boolean') {
    flat = Float32Array.of(Number(data));
    inferred = [];
  } else if (Array.isArray(data)) {
    inferred = inferShape(data);
    checkShape(op, inferred, 'data shape');
    flat = flattenNested(data, inferred, op);
  } else if (ArrayBuffer.isView(data) && !(data instanceof DataView)) {
    const arr = data as unknown as ArrayLike<number> & { length: number };
    if (data instanceof BigInt64Array || data instanceof BigUint64Array) {
      flat = Float32Array.from(data as BigInt64Array, (v) => Number(v));
    } else flat = data instanceof Float32Array ? data : Float32Array.from(arr);
    inferred = [arr.length];
  } else if (data !== null && typeof data === 'object' && typeof (data as ArrayLike<number>).length === 'number') {
    const arr = data as ArrayLike<number>;
    if (!Number.isInteger(arr.length) || arr.length < 0 || arr.length > MAX_NUMEL)
      throw new RangeError(`${op}: data has an invalid length ${describe(arr.length)}`);
    flat = new Float32Array(arr.length);
    for (let i = 0; i < arr.length; i++) {
      if (typeof arr[i] !== 'number') throw new TypeError(`${op}: element [${i}] must be a number, got ${describe(arr[i])}`);
      flat[i] = arr[i];
    }
    inferred = [arr.length];
  } else {
    throw new TypeError(`${op}: data must be a number, a (nested) array of numbers or a typed array, got ${describe(data)}`);
  }
  let finalShape = inferred;
  if (shape !== undefined) {
    finalShape = checkShape(op, shape);
    if (numelOf(finalShape) !== flat.length)
      throw new Error(`${op}: data has ${flat.length} elements but shape [${finalShape.join(',')}] needs ${numelOf(finalShape)}`);
  }
  return Tensor._wrap(native.fromArray(flat), finalShape);
}

function shapeArgs(op: string, args: (number | readonly number[])[]): number[] {
  return checkShape(op, flatArgs(args));
}

/** A tensor of zeros. `zeros(2, 3)` or `zeros([2, 3])`. */
export function zeros(...shape: (number | readonly number[])[]): Tensor {
  const s = shapeArgs('zeros', shape);
  return Tensor._wrap(native.alloc(numelOf(s), 0), s);
}

/** A tensor of ones. */
export function ones(...shape: (number | readonly number[])[]): Tensor {
  const s = shapeArgs('ones', shape);
  return Tensor._wrap(native.alloc(numelOf(s), 1), s);
}

/** A tensor filled with `value`. */
export function full(shape: readonly number[], value: number): Tensor {
  const s = checkShape('full', shape);
  if (typeof value !== 'number') throw new TypeError(`full: value must be a number, got ${describe(value)}`);
  return Tensor._wrap(native.alloc(numelOf(s), value), s);
}

/** @internal Uninitialised storage of a shape. */
export function empty(shape: readonly number[]): Tensor {
  return Tensor._wrap(native.alloc(numelOf(shape)), shape);
}

/** Zeros with the shape of `t`. */
export function zerosLike(t: Tensor): Tensor {
  assertTensor('zerosLike', t, 'input')._check('zerosLike');
  return zeros(t.shape);
}
/** Ones with the shape of `t`. */
export function onesLike(t: Tensor): Tensor {
  assertTensor('onesLike', t, 'input')._check('onesLike');
  return ones(t.shape);
}

/** Values from `start` (inclusive) to `end` (exclusive) by `step`, as `torch.arange`. `arange(5)` is 0..4. */
export function arange(start: number, end?: number, step = 1): Tensor {
  if (end === undefined) {
    end = start;
    start = 0;
  }
  for (const [k, v] of [['start', start], ['end', end], ['step', step]] as const)
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new TypeError(`arange: ${k} must be a finite number, got ${describe(v)}`);
  if (step === 0) throw new RangeError('arange: step must be non-zero');
  const n = Math.max(0, Math.ceil((end - start) / step));
  if (n > MAX_NUMEL) throw new RangeError(`arange: ${n} elements is more than ${MAX_NUMEL}`);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = start + i * step;
  return Tensor._wrap(native.fromArray(a), [n]);
}

// ---------------------------------------------------------------------------
// random numbers

const DEFAULT_SEED = 67280421310721n;
let rngState = DEFAULT_SEED;
const MASK64 = (1n << 64n) - 1n;

function nextKey(): [number, number] {
  // splitmix64 step
  rngState = (rngState + 0x9e3779b97f4a7c15n) & MASK64;
  let z = rngState;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
  z = z ^ (z >> 31n);
  return [Number(z >> 32n), Number(z & 0xffffffffn)];
}

/** Seeds the global generator used by rand/randn, dropout and initialisers. */
export function manualSeed(seed: number | bigint): void {
  if (typeof seed === 'number') {
    if (!Number.isSafeInteger(seed)) throw new TypeError(`manualSeed: seed must be a safe integer, got ${describe(seed)}`);
    seed = BigInt(seed);
  } else if (typeof seed !== 'bigint') throw new TypeError(`manualSeed: seed must be an integer, got ${describe(seed)}`);
  rngState = BigInt.asUintN(64, seed);
}

/** @internal A fresh 64-bit key split in two uint32 halves (for seeding other generators). */
export function randomKey(): [number, number] {
  return nextKey();
}

/** Uniform samples in [0, 1) (or [low, high)). */
export function rand(shape: readonly number[] | number, low = 0, high = 1): Tensor {
  const s = checkShape('rand', typeof shape === 'number' ? [shape] : shape);
  numberArg('rand', 'low', low);
  numberArg('rand', 'high', high);
  if (!Number.isFinite(low) || !Number.isFinite(high) || !(high >= low))
    throw new RangeError(`rand: expected finite low <= high, got ${low}, ${high}`);
  const [hi, lo] = nextKey();
  return Tensor._wrap(native.randomFill(numelOf(s), hi, lo, false, low, high), s);
}

/** Normal samples with mean 0 and std 1 (or `mean`, `std`). */
export function randn(shape: readonly number[] | number, mean = 0, std = 1): Tensor {
  const s = checkShape('randn', typeof shape === 'number' ? [shape] : shape);
  numberArg('randn', 'mean', mean);
  numberArg('randn', 'std', std);
  if (!Number.isFinite(mean) || !Number.isFinite(std) || std < 0)
    throw new RangeError(`randn: expected finite mean and std >= 0, got ${mean}, ${std}`);
  const [hi, lo] = nextKey();
  return Tensor._wrap(native.randomFill(numelOf(s), hi, lo, true, mean, std), s);
}
