/**
 * Indexing: select, narrow, slice (with step), index (PyTorch's `x[…]`),
 * indexSelect, gather and where, forward and backward side by side.
 *
 * Every op lowers to one native strided gather (native/index.cc) described by
 * a {@link View}: an offset, per output dim a stride into the source, and the
 * index tensors read along the way. Its backward is the adjoint scatter into
 * zeros of the source's shape (adding where indices repeat).
 *
 * Indices are float32 tensors holding integers (blasnet has one dtype), or
 * arrays of integers: every value is checked to be an exact integer in range
 * before anything runs, so `argmax`/`max` indices and class labels index
 * directly. The results are copies: blasnet tensors are contiguous and have
 * no storage offset, so a slice does not alias its source.
 */
import { native, type Handle } from '../native';
import { Tensor, fromOp, normDim, describe, assertTensor, numelOf, tensor, recording, keep } from '../tensor';
import { broadcastShapes, broadcastStrides, sumTo } from './elementwise';
import { contiguousStrides } from './args';

/** Integers beyond ±2^24 are not exact in float32. */
export const MAX_EXACT_INDEX = 2 ** 24;

/** @internal An index tensor read along a View. */
export interface IndexRead {
  t: Tensor;
  /** Per output dim: elements of `t` per step (0 broadcasts). */
  stride: number[];
  /** Source elements per index unit. */
  xstride: number;
  /** Size of the indexed source dim. */
  size: number;
  /** Negative values count from the end (advanced indexing) or are errors (gather, indexSelect). */
  wrap: boolean;
}

/** @internal What the native gather reads: out[i] = x[offset + Σ i_j·xstride_j + Σ_k idx_k.xstride·idx_k(i)]. */
export interface View {
  shape: number[];
  xstride: number[];
  offset: number;
  idx: IndexRead[];
}

function specArgs(v: View, op: string): [number[], number[], number, [Handle, number[], number, number, boolean][]] {
  return [v.shape, v.xstride, v.offset, v.idx.map((i) => [i.t._h(op), i.stride, i.xstride, i.size, i.wrap])];
}

/** @internal The elements of x at v, as a new tensor; recorded (backward scatters into zeros of x's shape). */
export function gatherView(x: Tensor, v: View, name: string, op: string): Tensor {
  x._check(op);
  const h = native.indexGather(x._h(op), ...specArgs(v, op));
  if (!recording(x)) return Tensor._wrap(h, v.shape);
  // backward keeps its own copies of the index tensors (the caller may dispose theirs), outside any tidy
  // scope: backward may run after the scope that made the graph; the node frees them when released
  const saved: View = { ...v, idx: v.idx.map((i) => ({ ...i, t: keep(Tensor._wrap(native.clone(i.t._h(op)), i.t.shape)) })) };
  const xshape = x.shape;
  return fromOp(h, v.shape, name, [x], (g) => {
    const gx = native.alloc(numelOf(xshape), 0);
    native.indexScatter(gx, g._h(op), ...specArgs(saved, op), saved.idx.length > 0);
    return [Tensor._wrap(gx, xshape)];
  }, () => saved.idx.forEach((i) => i.t.dispose()));
}

/** A contiguous view of the whole of x (every dim, stride as laid out). */
function fullView(x: Tensor): View {
  return { shape: x.shape.slice(), xstride: contiguousStrides(x.shape), offset: 0, idx: [] };
}

function checkInt(op: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new TypeError(`${op}: ${name} must be an integer, got ${describe(v)}`);
  return v;
}

// ---------------------------------------------------------------------------
// index tensors

/** @internal Checks that every value of an index tensor is an integer in range, naming the first one that is not. */
export function checkIndexValues(op: string, arg: string, t: Tensor, size: number, wrap: boolean, dimNote: string): void {
  const pos = native.indexCheck(t._h(op), size, wrap);
  if (pos < 0) return;
  const v = native.readAt(t._h(op), pos);
  const at = t.ndim === 0 ? '' : `[${unravel(pos, t.shape).join(',')}]`;
  const range = wrap ? `[-${size}, ${size})` : `[0, ${size})`;
  const what = Number.isInteger(v) ? `is out of range ${range}` : 'is not an integer';
  throw new RangeError(`${op}: ${arg}${at} = ${v} ${what} for ${dimNote} of size ${size} (indices are float32 tensors holding integers)`);
}

function unravel(i: number, shape: readonly number[]): number[] {
  const out = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    out[d] = i % shape[d];
    i = Math.floor(i / shape[d]);
  }
  return out;
}

/** Anything an index may be given as. */
export type IndexLike = Tensor | number[] | number[][] | Int32Array | ArrayLike<number>;

/**
 * @internal An index as a tensor: a Tensor as is, an array or typed array of
 * integers converted (each exact in float32). Returns whether it was made here.
 */
export function indexTensor(op: string, arg: string, v: unknown): { t: Tensor; owned: boolean } {
  if (v instanceof Tensor) {
    v._check(op);
    return { t: v, owned: false };
  }
  if (Array.isArray(v) || (ArrayBuffer.isView(v) && !(v instanceof DataView))) {
    const flat: unknown[] = Array.isArray(v) ? (v as unknown[]).flat(8) : Array.from(v as unknown as ArrayLike<number>);
    flat.forEach((x, i) => {
      if (typeof x !== 'number' || !Number.isInteger(x)) throw new TypeError(`${op}: ${arg} must hold integers, got ${describe(x)} at position ${i}`);
      if (Math.abs(x) > MAX_EXACT_INDEX) throw new RangeError(`${op}: ${arg} holds ${x}, beyond ±2^24, which float32 (blasnet's only dtype) cannot hold exactly`);
    });
    const t = Array.isArray(v) ? tensor(v as number[]) : tensor(Float32Array.from(v as unknown as ArrayLike<number>));
    return { t, owned: true };
  }
  throw new TypeError(`${op}: ${arg} must be a tensor of integer values or an array of integers, got ${describe(v)}`);
}

// ---------------------------------------------------------------------------
// select, narrow, slice

/** The slice of x at `index` along `dim`, without that dim (`x[…, index, …]`). A negative index counts from the end. */
export function select(x: Tensor, dim: number, index: number): Tensor {
  const op = 'select';
  x._check(op);
  if (x.ndim === 0) throw new RangeError('select: cannot select from a 0-d tensor');
  const d = normDim(op, dim, x.ndim);
  const size = x.shape[d];
  const i = checkInt(op, 'index', index);
  if (i < -size || i >= size) throw new RangeError(`select: index ${i} is out of range for dim ${d} of size ${size} (shape [${x.shape.join(',')}])`);
  const v = fullView(x);
  v.offset = (i < 0 ? i + size : i) * v.xstride[d];
  v.shape.splice(d, 1);
  v.xstride.splice(d, 1);
  return gatherView(x, v, 'SelectBackward', op);
}

/** `length` elements of x along `dim` from `start` (negative counts from the end), as PyTorch's narrow. */
export function narrow(x: Tensor, dim: number, start: number, length: number): Tensor {
  const op = 'narrow';
  x._check(op);
  if (x.ndim === 0) throw new RangeError('narrow: cannot narrow a 0-d tensor');
  const d = normDim(op, dim, x.ndim);
  const size = x.shape[d];
  let s = checkInt(op, 'start', start);
  const n = checkInt(op, 'length', length);
  if (s < -size || s > size) throw new RangeError(`narrow: start ${s} is out of range for dim ${d} of size ${size}`);
  if (s < 0) s += size;
  if (n < 0 || s + n > size) throw new RangeError(`narrow: start ${s} + length ${n} exceeds dim ${d} of size ${size} (shape [${x.shape.join(',')}])`);
  return stepSlice(x, d, s, n, 1, 'NarrowBackward', op);
}

function stepSlice(x: Tensor, d: number, start: number, count: number, step: number, name: string, op: string): Tensor {
  const v = fullView(x);
  v.offset = start * v.xstride[d];
  v.shape[d] = count;
  v.xstride[d] *= step;
  return gatherView(x, v, name, op);
}

/** Python slice bounds: negatives count from the end, then clamp to [0, size]. Returns [start, count]. */
function sliceBounds(op: string, size: number, start: number | null | undefined, end: number | null | undefined, step: number): [number, number] {
  const norm = (v: number | null | undefined, dflt: number, name: string): number => {
    if (v === undefined || v === null) return dflt;
    const i = checkInt(op, name, v);
    return Math.min(Math.max(i < 0 ? i + size : i, 0), size);
  };
  if (typeof step !== 'number' || !Number.isInteger(step) || step < 1)
    throw new RangeError(`${op}: step must be a positive integer, got ${describe(step)} (PyTorch has no negative steps; use flip)`);
  const s = norm(start, 0, 'start'), e = norm(end, size, 'end');
  return [s, e > s ? Math.ceil((e - s) / step) : 0];
}

/** `x[…, start:end:step, …]` along `dim`: Python's slice semantics (negative bounds count from the end, out-of-range bounds clamp), step ≥ 1. */
export function slice(x: Tensor, dim: number, start?: number | null, end?: number | null, step = 1): Tensor {
  const op = 'slice';
  x._check(op);
  if (x.ndim === 0) throw new RangeError('slice: cannot slice a 0-d tensor');
  const d = normDim(op, dim, x.ndim);
  const [s, n] = sliceBounds(op, x.shape[d], start, end, step);
  return stepSlice(x, d, s, n, step, 'SliceBackward', op);
}

// ---------------------------------------------------------------------------
// x[…]

/**
 * One entry of {@link index}: an integer (selects, removing the dim), a slice
 * string `'start:end:step'` (`':'`, `'1:'`, `'::2'`, `'-3:'`), `null` (a new
 * dim of size 1, Python's `None`), `'...'` (the remaining dims), or an index
 * tensor / array of integers (PyTorch's advanced indexing).
 */
export type IndexSpec = number | string | null | IndexLike;

function parseSlice(op: string, s: string, pos: number): [number | null, number | null, number] {
  const parts = s.split(':');
  if (parts.length < 2 || parts.length > 3) throw new TypeError(`${op}: index ${pos} must be a number, a slice like '1:5:2', null, '...' or an index tensor, got ${JSON.stringify(s)}`);
  const num = (p: string, what: string): number | null => {
    const t = p.trim();
    if (t === '') return null;
    if (!/^[+-]?\d+$/.test(t)) throw new TypeError(`${op}: slice ${JSON.stringify(s)} at index ${pos} has a ${what} that is not an integer: ${JSON.stringify(p)}`);
    return Number(t);
  };
  const step = parts.length === 3 ? num(parts[2], 'step') : null;
  return [num(parts[0], 'start'), num(parts[1], 'end'), step ?? 1];
}

/**
 * PyTorch's `x[…]`: `x.index(0)` is `x[0]`, `x.index(':', '1:5:2')` is
 * `x[:, 1:5:2]`, `x.index(null, '...', 0)` is `x[None, ..., 0]`, and
 * `x.index(rows, cols)` with index tensors or arrays is `x[rows, cols]`
 * (advanced indexing: the index tensors broadcast together; their dims replace
 * the indexed dims in place when those are adjacent, else come first — as
 * PyTorch, where integers are selects, not index tensors). Returns a copy.
 */
export function index(x: Tensor, ...specs: IndexSpec[]): Tensor {
  const op = 'index';
  x._check(op);
  const consumes = (s: IndexSpec) => s !== null && s !== '...';
  const ellipses = specs.filter((s) => s === '...').length;
  if (ellipses > 1) throw new TypeError("index: an index can only have a single ellipsis ('...')");
  const used = specs.filter(consumes).length;
  if (used > x.ndim) throw new RangeError(`index: too many indices for a ${x.ndim}-d tensor: ${used} given (shape [${x.shape.join(',')}])`);
  // expand '...' (or pad at the end) with full slices
  const full: IndexSpec[] = [];
  for (const s of specs) {
    if (s === '...') for (let i = 0; i < x.ndim - used; i++) full.push(':');
    else full.push(s);
  }
  if (!ellipses) for (let i = used; i < x.ndim; i++) full.push(':');

  // basic indexing first, as a strided view of x; index tensors are kept for the end
  const st = contiguousStrides(x.shape);
  const dims: { size: number; stride: number }[] = [];
  const adv: { at: number; t: Tensor; owned: boolean; arg: string }[] = [];
  let offset = 0, src = 0;
  const owned: Tensor[] = [];
  try {
    full.forEach((s, pos) => {
      if (s === null) {
        dims.push({ size: 1, stride: 0 });
        return;
      }
      const size = x.shape[src], stride = st[src];
      if (typeof s === 'number') {
        if (!Number.isInteger(s)) throw new TypeError(`index: index ${pos} must be an integer, got ${s}`);
        if (s < -size || s >= size) throw new RangeError(`index: index ${s} is out of range for dim ${src} of size ${size} (shape [${x.shape.join(',')}])`);
        offset += (s < 0 ? s + size : s) * stride;
      } else if (typeof s === 'string') {
        const [a, b, step] = parseSlice(op, s, pos);
        const [start, count] = sliceBounds(`index: slice ${JSON.stringify(s)}`, size, a, b, step);
        offset += start * stride;
        dims.push({ size: count, stride: stride * step });
      } else {
        const { t, owned: made } = indexTensor(op, `index ${pos}`, s);
        if (made) owned.push(t);
        checkIndexValues(op, `index ${pos}`, t, size, true, `dim ${src}`);
        adv.push({ at: dims.length, t, owned: made, arg: `index ${pos}` });
        dims.push({ size, stride });
      }
      src++;
    });
    const v: View = { shape: [], xstride: [], offset, idx: [] };
    if (!adv.length) {
      v.shape = dims.map((d) => d.size);
      v.xstride = dims.map((d) => d.stride);
      return gatherView(x, v, 'IndexBackward', op);
    }
    const bshape = adv.reduce<number[]>((acc, a) => broadcastShapes(op, acc, a.t.shape), []);
    const advAt = adv.map((a) => a.at);
    const adjacent = advAt.every((p, i) => i === 0 || p === advAt[i - 1] + 1);
    const rest = dims.map((d, i) => ({ ...d, i })).filter((d) => !advAt.includes(d.i));
    const before = adjacent ? rest.filter((d) => d.i < advAt[0]) : [];
    const after = adjacent ? rest.filter((d) => d.i > advAt[0]) : rest;
    const nb = before.length, nB = bshape.length;
    v.shape = [...before.map((d) => d.size), ...bshape, ...after.map((d) => d.size)];
    v.xstride = [...before.map((d) => d.stride), ...bshape.map(() => 0), ...after.map((d) => d.stride)];
    v.idx = adv.map((a) => {
      const bs = broadcastStrides(a.t.shape, bshape);
      const stride = v.shape.map((_, j) => (j >= nb && j < nb + nB ? bs[j - nb] : 0));
      return { t: a.t, stride, xstride: dims[a.at].stride, size: dims[a.at].size, wrap: true };
    });
    return gatherView(x, v, 'IndexBackward', op);
  } finally {
    for (const t of owned) t.dispose();
  }
}

/** The entries of x at `index` (1-d integers) along `dim`, as PyTorch's index_select. */
export function indexSelect(x: Tensor, dim: number, index: IndexLike): Tensor {
  const op = 'indexSelect';
  x._check(op);
  const { t, owned } = indexTensor(op, 'index', index);
  try {
    if (t.ndim > 1) throw new RangeError(`indexSelect: index must be 0-d or 1-d, got shape [${t.shape.join(',')}]`);
    if (x.ndim === 0) {
      checkIndexValues(op, 'index', t, 1, false, 'a 0-d tensor');
      return gatherView(x, { shape: t.ndim ? [t.numel] : [], xstride: t.ndim ? [0] : [], offset: 0, idx: [] }, 'IndexSelectBackward', op);
    }
    const d = normDim(op, dim, x.ndim);
    checkIndexValues(op, 'index', t, x.shape[d], false, `dim ${d}`);
    const v = fullView(x);
    const xs = v.xstride[d];
    v.shape[d] = t.numel;
    v.xstride[d] = 0;
    v.idx = [{ t, stride: v.shape.map((_, j) => (j === d ? 1 : 0)), xstride: xs, size: x.shape[d], wrap: false }];
    return gatherView(x, v, 'IndexSelectBackward', op);
  } finally {
    if (owned) t.dispose();
  }
}

/**
 * out[i][j][k] = x[index[i][j][k]][j][k] along dim 0 (and so on for other dims),
 * as PyTorch's gather: index has x's number of dims and no dim larger than x's
 * except `dim`. `logp.gather(1, y.unsqueeze(1))` picks each row's label entry.
 */
export function gather(x: Tensor, dim: number, index: IndexLike): Tensor {
  const op = 'gather';
  x._check(op);
  const { t, owned } = indexTensor(op, 'index', index);
  try {
    const nd = Math.max(x.ndim, 1);
    if (Math.max(t.ndim, 1) !== nd)
      throw new RangeError(`gather: index must have as many dims as the input (${x.ndim}), got shape [${t.shape.join(',')}] for input [${x.shape.join(',')}]`);
    const d = normDim(op, dim, x.ndim);
    const xshape = x.ndim ? x.shape : [1], ishape = t.ndim ? t.shape : [1];
    for (let j = 0; j < nd; j++)
      if (j !== d && ishape[j] > xshape[j])
        throw new RangeError(`gather: index has size ${ishape[j]} in dim ${j}, larger than the input's ${xshape[j]} (index [${t.shape.join(',')}], input [${x.shape.join(',')}])`);
    checkIndexValues(op, 'index', t, xshape[d], false, `dim ${d}`);
    const xs = contiguousStrides(xshape);
    const v: View = {
      shape: t.shape.slice(),
      xstride: t.ndim ? xs.map((s, j) => (j === d ? 0 : s)) : [],
      offset: 0,
      idx: [{ t, stride: contiguousStrides(t.shape), xstride: xs[d], size: xshape[d], wrap: false }],
    };
    return gatherView(x, v, 'GatherBackward', op);
  } finally {
    if (owned) t.dispose();
  }
}

// ---------------------------------------------------------------------------
// where

/**
 * Elementwise `condition ? x : y` with broadcasting, as torch.where. The
 * condition is a float32 tensor (blasnet has no bool dtype): non-zero, NaN
 * included, is true — comparisons (`gt`, `eq`, …) give 0/1. x or y may be a
 * number. Gradients flow to x where the condition holds and to y elsewhere.
 */
export function where(condition: Tensor, x: Tensor | number, y: Tensor | number): Tensor {
  const op = 'where';
  assertTensor(op, condition, 'condition');
  condition._check(op);
  if (x === undefined && y === undefined) throw new TypeError('where: where(condition) alone (the indices of non-zero elements) is not supported; give x and y');
  const made: Tensor[] = [];
  const operand = (v: unknown, arg: string): Tensor => {
    if (v instanceof Tensor) {
      v._check(op);
      return v;
    }
    if (typeof v === 'number') {
      const t = Tensor._wrap(native.alloc(1, v), []);
      made.push(t);
      return t;
    }
    throw new TypeError(`where: ${arg} must be a Tensor or a number, got ${describe(v)}`);
  };
  const a = operand(x, 'x'), b = operand(y, 'y');
  try {
    const shape = broadcastShapes(op, broadcastShapes(op, condition.shape, a.shape), b.shape);
    const cs = broadcastStrides(condition.shape, shape);
    const h = native.where(condition._h(op), a._h(op), b._h(op), shape, cs, broadcastStrides(a.shape, shape), broadcastStrides(b.shape, shape));
    const inputs = [a, b].filter((t) => !made.includes(t));
    if (!recording(...inputs)) return Tensor._wrap(h, shape);
    const c = keep(Tensor._wrap(native.clone(condition._h(op)), condition.shape)); // backward's own copy, freed with the node
    const ag = a.requiresGrad && !made.includes(a), bg = b.requiresGrad && !made.includes(b);
    return fromOp(h, shape, 'WhereBackward', inputs, (g) => {
      const zero = native.alloc(1, 0);
      const pick = (keep: boolean, to: readonly number[]): Tensor => {
        const gs = contiguousStrides(shape);
        const hh = keep
          ? native.where(c._h(op), g._h(op), zero, shape, cs, gs, shape.map(() => 0))
          : native.where(c._h(op), zero, g._h(op), shape, cs, shape.map(() => 0), gs);
        return sumTo(Tensor._wrap(hh, shape), to);
      };
      try {
        const out: (Tensor | null)[] = [];
        if (!made.includes(a)) out.push(ag ? pick(true, a.shape) : null);
        if (!made.includes(b)) out.push(bg ? pick(false, b.shape) : null);
        return out;
      } finally {
        native.free(zero);
      }
    }, () => c.dispose());
  } finally {
    for (const t of made) t.dispose();
  }
}
