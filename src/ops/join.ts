/**
 * Joining and splitting: cat, stack, split, chunk, unbind. Each piece or input
 * is one native strided copy (native/index.cc); backward copies the gradient's
 * matching region back. Pieces are copies (blasnet tensors have no storage
 * offset), so writing into one in place does not change the source.
 */
import { native } from '../native';
import { Tensor, fromOp, normDim, describe, numelOf, recording, sameShape } from '../tensor';
import { contiguousStrides } from './args';
import { gatherView, select, type View } from './index';
import { unsqueeze } from './shape';

/** The region of a tensor of `shape` from `start` with `count` entries along `d`. */
function region(shape: readonly number[], d: number, start: number, count: number): View {
  const xs = contiguousStrides(shape);
  const s = shape.slice();
  s[d] = count;
  return { shape: s, xstride: xs, offset: start * xs[d], idx: [] };
}

function tensorList(op: string, tensors: unknown): Tensor[] {
  if (tensors instanceof Tensor)
    throw new TypeError(`${op}: expected an array of tensors, got a single tensor (wrap it: [t]${op === 'cat' ? ', or use split/chunk to cut one' : ''})`);
  if (tensors === null || typeof tensors !== 'object' || typeof (tensors as Iterable<unknown>)[Symbol.iterator] !== 'function')
    throw new TypeError(`${op}: expected an array of tensors, got ${describe(tensors)}`);
  const list = [...(tensors as Iterable<unknown>)];
  if (!list.length) throw new RangeError(`${op}: expected a non-empty list of tensors`);
  list.forEach((t, i) => {
    if (!(t instanceof Tensor)) throw new TypeError(`${op}: tensors[${i}] is not a Tensor, got ${describe(t)}`);
    t._check(op);
  });
  return list as Tensor[];
}

/**
 * Concatenates tensors along `dim` (default 0): every other dim must match,
 * as torch.cat. As PyTorch's legacy rule, 1-d empty tensors (shape [0]) are
 * skipped.
 */
export function cat(tensors: readonly Tensor[], dim = 0): Tensor {
  const op = 'cat';
  const all = tensorList(op, tensors);
  const list = all.filter((t) => !(t.ndim === 1 && t.numel === 0));
  if (!list.length) return fromOp(native.alloc(0), [0], 'CatBackward', all, () => all.map((t) => Tensor._wrap(native.alloc(0), t.shape)));
  const first = list[0];
  if (first.ndim === 0) throw new RangeError('cat: a 0-d tensor cannot be concatenated (use stack, or unsqueeze it first)');
  const d = normDim(op, dim, first.ndim);
  let total = 0;
  list.forEach((t) => {
    const i = all.indexOf(t);
    if (t.ndim !== first.ndim)
      throw new RangeError(`cat: tensors[${i}] has ${t.ndim} dims but tensors[${all.indexOf(first)}] has ${first.ndim} (shapes [${t.shape.join(',')}] and [${first.shape.join(',')}])`);
    for (let j = 0; j < t.ndim; j++)
      if (j !== d && t.shape[j] !== first.shape[j])
        throw new RangeError(`cat: sizes must match except in dim ${d}: tensors[${i}] has shape [${t.shape.join(',')}], tensors[${all.indexOf(first)}] [${first.shape.join(',')}] (dim ${j})`);
    total += t.shape[d];
  });
  const shape = first.shape.slice();
  shape[d] = total;
  if (numelOf(shape) > 2 ** 31 - 1) throw new RangeError(`cat: the result [${shape.join(',')}] has more than 2^31 - 1 elements`);
  const out = native.alloc(numelOf(shape));
  const starts: number[] = [];
  let at = 0;
  for (const t of list) {
    starts.push(at);
    const r = region(shape, d, at, t.shape[d]);
    native.indexScatter(out, t._h(op), r.shape, r.xstride, r.offset, [], false);
    at += t.shape[d];
  }
  if (!recording(...all)) return Tensor._wrap(out, shape);
  return fromOp(out, shape, 'CatBackward', all, (g) =>
    all.map((t) => {
      if (!t.requiresGrad) return null;
      const k = list.indexOf(t);
      if (k < 0) return Tensor._wrap(native.alloc(0), t.shape);
      const r = region(shape, d, starts[k], t.shape[d]);
      return Tensor._wrap(native.indexGather(g._h(op), r.shape, r.xstride, r.offset, []), t.shape);
    }),
  );
}

/** Stacks same-shaped tensors along a new dim (default 0), as torch.stack. */
export function stack(tensors: readonly Tensor[], dim = 0): Tensor {
  const op = 'stack';
  const list = tensorList(op, tensors);
  list.forEach((t, i) => {
    if (!sameShape(t.shape, list[0].shape))
      throw new RangeError(`stack: every tensor must have the same shape: tensors[${i}] has [${t.shape.join(',')}], tensors[0] [${list[0].shape.join(',')}]`);
  });
  const d = normDim(op, dim, list[0].ndim + 1);
  const views = list.map((t) => unsqueeze(t, d));
  try {
    return cat(views, d);
  } finally {
    if (!recording(...list)) for (const v of views) v.dispose();
  }
}

function pieces(x: Tensor, d: number, sizes: number[], op: string): Tensor[] {
  const out: Tensor[] = [];
  let at = 0;
  try {
    for (const n of sizes) {
      out.push(gatherView(x, region(x.shape, d, at, n), op === 'chunk' ? 'ChunkBackward' : 'SplitBackward', op));
      at += n;
    }
  } catch (e) {
    for (const t of out) t.dispose();
    throw e;
  }
  return out;
}

/**
 * Splits x along `dim` (default 0) into pieces of `splitSize` (the last may
 * be smaller), or of the given sizes (which must add up to the dim's size),
 * as torch.split. The pieces are copies.
 */
export function split(x: Tensor, splitSizeOrSections: number | readonly number[], dim = 0): Tensor[] {
  const op = 'split';
  x._check(op);
  if (x.ndim === 0) throw new RangeError('split: cannot split a 0-d tensor');
  const d = normDim(op, dim, x.ndim);
  const size = x.shape[d];
  let sizes: number[];
  if (typeof splitSizeOrSections === 'number') {
    const s = splitSizeOrSections;
    if (!Number.isInteger(s) || s < 0) throw new RangeError(`split: splitSize must be a non-negative integer, got ${describe(s)}`);
    if (s === 0 && size !== 0) throw new RangeError(`split: splitSize 0 cannot split dim ${d} of size ${size}`);
    sizes = [];
    if (size === 0) sizes.push(0);
    for (let at = 0; at < size; at += s) sizes.push(Math.min(s, size - at));
  } else if (Array.isArray(splitSizeOrSections)) {
    sizes = splitSizeOrSections.map((n, i) => {
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw new RangeError(`split: sections[${i}] must be a non-negative integer, got ${describe(n)}`);
      return n;
    });
    const sum = sizes.reduce((a, b) => a + b, 0);
    if (sum !== size) throw new RangeError(`split: sections [${sizes.join(',')}] add up to ${sum}, but dim ${d} has size ${size}`);
  } else throw new TypeError(`split: splitSizeOrSections must be an integer or an array of integers, got ${describe(splitSizeOrSections)}`);
  return pieces(x, d, sizes, op);
}

/**
 * Splits x into `chunks` pieces along `dim` (default 0), each of
 * ⌈size / chunks⌉ but the last — fewer pieces when the size does not allow
 * more, as torch.chunk.
 */
export function chunk(x: Tensor, chunks: number, dim = 0): Tensor[] {
  const op = 'chunk';
  x._check(op);
  if (x.ndim === 0) throw new RangeError('chunk: cannot chunk a 0-d tensor');
  if (typeof chunks !== 'number' || !Number.isInteger(chunks) || chunks < 1) throw new RangeError(`chunk: chunks must be a positive integer, got ${describe(chunks)}`);
  const d = normDim(op, dim, x.ndim);
  const size = x.shape[d];
  if (size === 0) return pieces(x, d, new Array<number>(chunks).fill(0), op);
  const each = Math.ceil(size / chunks);
  const sizes: number[] = [];
  for (let at = 0; at < size; at += each) sizes.push(Math.min(each, size - at));
  return pieces(x, d, sizes, op);
}

/** The slices of x along `dim` (default 0), each without that dim, as torch.unbind. */
export function unbind(x: Tensor, dim = 0): Tensor[] {
  x._check('unbind');
  if (x.ndim === 0) throw new RangeError('unbind: cannot unbind a 0-d tensor');
  const d = normDim('unbind', dim, x.ndim);
  const out: Tensor[] = [];
  try {
    for (let i = 0; i < x.shape[d]; i++) out.push(select(x, d, i));
  } catch (e) {
    for (const t of out) t.dispose();
    throw e;
  }
  return out;
}
