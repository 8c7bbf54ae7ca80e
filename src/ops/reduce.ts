/**
 * Reductions, softmax and matrix products. A reduction over `dim` views the
 * tensor as [outer, size, inner].
 */
import { native, type Handle } from '../native';
import { contiguousStrides } from './args';
import { Bin, Un } from './codes';
import { MAX_EXACT_INDEX } from './index';
import { Tensor, fromOp, normDim, numelOf, recording } from '../tensor';
import { viewAs } from './shape';

function split(shape: readonly number[], d: number): [number, number, number] {
  return [numelOf(shape.slice(0, d)), shape[d], numelOf(shape.slice(d + 1))];
}

function reducedShape(shape: readonly number[], d: number, keepdim: boolean): number[] {
  return keepdim ? shape.map((s, i) => (i === d ? 1 : s)) : shape.filter((_, i) => i !== d);
}

/** Broadcasts g (the reduced gradient) back over `shape` times `scale`. */
function expandBack(g: Tensor, shape: readonly number[], d: number | undefined, scale: number): Tensor {
  // out[o, s, i] = g[o, i] * scale: g broadcast along the reduced dim(s), times a one-element `scale`.
  const gShape = d === undefined ? shape.map(() => 1) : shape.map((s, i) => (i === d ? 1 : s));
  const k = native.alloc(1, scale);
  const h = native.binary(2 /* mul */, g._h('sum'), k, shape as number[], bStrides(gShape, shape), shape.map(() => 0));
  native.free(k);
  return Tensor._wrap(h, shape);
}

function bStrides(small: readonly number[], big: readonly number[]): number[] {
  const c = contiguousStrides(small);
  return small.map((s, i) => (s === 1 && big[i] !== 1 ? 0 : c[i]));
}

function reduceSum(x: Tensor, dim: number | undefined, keepdim: boolean, mean: boolean, op: string): Tensor {
  x._check(op);
  if (dim === undefined) {
    const n = x.numel;
    const h = native.reduceSum(x._h(op), 1, n, 1, mean ? 1 / n : 1);
    const shape = keepdim ? x.shape.map(() => 1) : [];
    return fromOp(h, shape, mean ? 'MeanBackward' : 'SumBackward', [x], (g) => [expandBack(g, x.shape, undefined, mean ? 1 / n : 1)]);
  }
  const d = normDim(op, dim, x.ndim);
  if (x.ndim === 0) return reduceSum(x, undefined, keepdim, mean, op);
  const [o, s, i] = split(x.shape, d);
  const scale = mean ? 1 / s : 1;
  const h = native.reduceSum(x._h(op), o, s, i, scale);
  return fromOp(h, reducedShape(x.shape, d, keepdim), mean ? 'MeanBackward' : 'SumBackward', [x], (g) => [
    expandBack(g, x.shape, d, scale),
  ]);
}

export function sum(x: Tensor, dim?: number, keepdim = false): Tensor {
  return reduceSum(x, dim, keepdim, false, 'sum');
}
export function mean(x: Tensor, dim?: number, keepdim = false): Tensor {
  return reduceSum(x, dim, keepdim, true, 'mean');
}

/** Gradient of max(dim): g routed to the index of each reduced slice (the first max, or the first NaN). */
function routeToIndex(g: Tensor, idx: Float32Array, shape: readonly number[], d: number): Tensor {
  const n = numelOf(shape);
  const gv = g.data();
  const out = new Float32Array(n);
  const [o, s, i] = split(shape, d);
  for (let a = 0; a < o; a++) for (let c = 0; c < i; c++) out[(a * s + idx[a * i + c]) * i + c] = gv[a * i + c];
  return Tensor._wrap(native.fromArray(out), shape);
}

/**
 * Indices are float32 values (blasnet's one dtype), exact up to 2^24: a longer
 * reduction would return rounded indices, so it is refused.
 */
function checkIndexRange(op: string, size: number, what: string): void {
  if (size > MAX_EXACT_INDEX)
    throw new RangeError(`${op}: ${what} has ${size} elements; indices beyond 2^24 = ${MAX_EXACT_INDEX} are not exact in float32, blasnet's only dtype`);
}

/**
 * The max of all elements. Backward spreads the gradient evenly over every
 * element equal to the max (over the NaNs when the max is NaN), as PyTorch's.
 */
export function maxAll(x: Tensor): Tensor {
  x._check('max');
  if (x.numel === 0) throw new Error('max: cannot reduce an empty tensor');
  const [v, a] = native.reduceMax(x._h('max'), 1, x.numel, 1, false);
  if (a) native.free(a);
  // the max is read back only in backward (a compiled forward cannot read values)
  return fromOp(v, [], 'MaxBackward', [x], (g) => {
    const n = x.numel, xh = x._h('max');
    const [mv] = native.reduceMax(xh, 1, n, 1, false);
    const m = native.readAt(mv, 0);
    native.free(mv);
    let mask: Handle;
    if (Number.isNaN(m)) {
      const same = native.binary(Bin.Eq, xh, xh, [n], [1], [1]); // 0 exactly at the NaNs
      mask = native.unary(Un.RsubScalar, same, 1);
      native.free(same);
    } else {
      const k = native.alloc(1, m);
      mask = native.binary(Bin.Eq, xh, k, [n], [1], [0]);
      native.free(k);
    }
    const cnt = native.reduceSum(mask, 1, n, 1, 1);
    const count = native.readAt(cnt, 0);
    native.free(cnt);
    native.unaryInplace(Un.MulScalar, mask, native.readAt(g._h('max'), 0) / count);
    return [Tensor._wrap(mask, x.shape)];
  });
}

/** Max along `dim` and where it is: `{ values, indices }`, indices as float32 integers (the first max, NaN first). */
export function maxDim(x: Tensor, dim: number, keepdim = false): { values: Tensor; indices: Tensor } {
  x._check('max');
  const d = normDim('max', dim, x.ndim);
  if (x.ndim === 0) return { values: maxAll(x), indices: Tensor._wrap(native.alloc(1, 0), []) };
  const [o, s, i] = split(x.shape, d);
  if (s === 0) throw new Error(`max: cannot reduce dim ${dim} of size 0`);
  checkIndexRange('max', s, `dim ${d}`);
  const [v, a] = native.reduceMax(x._h('max'), o, s, i, true);
  const shape = reducedShape(x.shape, d, keepdim);
  const indices = Tensor._wrap(a!, shape);
  // backward keeps its own copy: the caller may dispose `indices`
  const saved = recording(x) ? native.clone(a!) : null;
  const values = fromOp(
    v,
    shape,
    'MaxBackward',
    [x],
    (g) => [routeToIndex(g, native.toArray(saved!), x.shape, d)],
    () => saved && native.free(saved),
  );
  return { values, indices };
}

/**
 * Index of the max (of the flattened tensor, or along `dim`; the first one on
 * ties, NaN first), as float32 integers: they compare with `eq` against
 * labels and index with gather/indexSelect/index directly.
 */
export function argmax(x: Tensor, dim?: number, keepdim = false): Tensor {
  x._check('argmax');
  if (dim === undefined) {
    if (x.numel === 0) throw new Error('argmax: cannot reduce an empty tensor');
    checkIndexRange('argmax', x.numel, 'the tensor');
    const [v, a] = native.reduceMax(x._h('argmax'), 1, x.numel, 1, true);
    native.free(v);
    return Tensor._wrap(a!, keepdim ? x.shape.map(() => 1) : []);
  }
  const d = normDim('argmax', dim, x.ndim);
  if (x.ndim === 0) return Tensor._wrap(native.alloc(1, 0), []);
  const [o, s, i] = split(x.shape, d);
  if (s === 0) throw new Error(`argmax: cannot reduce dim ${dim} of size 0`);
  checkIndexRange('argmax', s, `dim ${d}`);
  const [v, a] = native.reduceMax(x._h('argmax'), o, s, i, true);
  native.free(v);
  return Tensor._wrap(a!, reducedShape(x.shape, d, keepdim));
}

export function softmax(x: Tensor, dim: number, log: boolean): Tensor {
  const op = log ? 'logSoftmax' : 'softmax';
  x._check(op);
  if (dim === undefined) throw new TypeError(`${op}: dim is required (an integer)`);
  const d = normDim(op, dim, x.ndim);
  const [o, s, i] = x.ndim === 0 ? [1, 1, 1] : split(x.shape, d);
  let y: Tensor;
  y = fromOp(native.softmax(x._h(op), o, s, i, log), x.shape, log ? 'LogSoftmaxBackward' : 'SoftmaxBackward', [x], (g) => [
    Tensor._wrap(native.softmaxBackward(g._h(op), y._h(op), o, s, i, log), x.shape),
  ]);
  return y;
}

/**
 * Matrix product through cblas_sgemm: [M,K]·[K,N] → [M,N]; [B,M,K]·[B,K,N] → [B,M,N];
 * a 2-D side is broadcast over the other's batch; a 1-D side is treated as a
 * vector (as torch.matmul).
 */
export function matmul(a: Tensor, b: Tensor): Tensor {
  if (!(b instanceof Tensor)) throw new TypeError(`matmul: other must be a Tensor`);
  a._check('matmul');
  b._check('matmul');
  if (a.ndim === 0 || b.ndim === 0 || a.ndim > 3 || b.ndim > 3)
    throw new Error(`matmul: expected 1-, 2- or 3-d tensors, got shapes [${a.shape.join(',')}] and [${b.shape.join(',')}]`);
  // vectors: lift to matrices, then drop the added dim
  if (a.ndim === 1 || b.ndim === 1) {
    const ka = a.shape[a.ndim - 1], kb = b.ndim === 1 ? b.shape[0] : b.shape[b.ndim - 2];
    if (ka !== kb) throw new Error(`matmul: shapes [${a.shape.join(',')}] and [${b.shape.join(',')}] cannot be multiplied (${ka} != ${kb})`);
    const A = a.ndim === 1 ? viewAs(a, [1, a.shape[0]], 'ViewBackward') : a;
    const B = b.ndim === 1 ? viewAs(b, [b.shape[0], 1], 'ViewBackward') : b;
    const r = matmul(A, B);
    const s = r.shape.slice();
    if (a.ndim === 1) s.splice(s.length - 2, 1);
    if (b.ndim === 1) s.splice(s.length - 1, 1);
    const out = viewAs(r, s, 'ViewBackward');
    if (!recording(a, b)) {
      // temporaries; when recording, the graph holds them until backward
      if (A !== a) A.dispose();
      if (B !== b) B.dispose();
      r.dispose();
    }
    return out;
  }
  const [M, K] = a.shape.slice(-2), [K2, N] = b.shape.slice(-2);
  const ab = a.ndim === 3 ? a.shape[0] : 1, bb = b.ndim === 3 ? b.shape[0] : 1;
  if (K !== K2)
    throw new Error(`matmul: shapes [${a.shape.join(',')}] and [${b.shape.join(',')}] cannot be multiplied (${K} != ${K2})`);
  if (ab !== bb && ab !== 1 && bb !== 1)
    throw new Error(`matmul: batch sizes ${ab} and ${bb} do not match (shapes [${a.shape.join(',')}] and [${b.shape.join(',')}])`);
  const batch = ab === 1 ? bb : ab;
  const batched = a.ndim === 3 || b.ndim === 3;
  const outShape = batched ? [batch, M, N] : [M, N];
  if (numelOf(outShape) > 2 ** 31 - 1) throw new RangeError(`matmul: result [${outShape.join(',')}] is too large`);
  const aS = ab === 1 ? 0 : M * K, bS = bb === 1 ? 0 : K * N;
  if (numelOf(outShape) === 0 || K === 0) {
    // empty operands: the product of nothing is zeros, as torch.matmul
    return fromOp(native.alloc(numelOf(outShape), 0), outShape, 'MmBackward', [a, b], () => [
      a.requiresGrad ? Tensor._wrap(native.alloc(a.numel, 0), a.shape) : null,
      b.requiresGrad ? Tensor._wrap(native.alloc(b.numel, 0), b.shape) : null,
    ]);
  }
  const h = native.matmul(a._h('matmul'), b._h('matmul'), batch, M, N, K, false, false, aS, bS);
  return fromOp(h, outShape, 'MmBackward', [a, b], (g) => {
    let ga: Tensor | null = null, gb: Tensor | null = null;
    const gS = M * N;
    if (a.requiresGrad) {
      // gA = g · B^T
      if (ab === batch) {
        ga = Tensor._wrap(native.matmul(g._h('matmul'), b._h('matmul'), batch, M, K, N, false, true, gS, bS), a.shape);
      } else {
        // a was broadcast: sum over the batch → [M, K]
        const all = Tensor._wrap(native.matmul(g._h('matmul'), b._h('matmul'), batch, M, K, N, false, true, gS, bS), [batch, M, K]);
        ga = Tensor._wrap(native.reduceSum(all._h('matmul'), 1, batch, M * K, 1), a.shape);
        all.dispose();
      }
    }
    if (b.requiresGrad) {
      // gB = A^T · g
      if (bb === batch) {
        gb = Tensor._wrap(native.matmul(a._h('matmul'), g._h('matmul'), batch, K, N, M, true, false, aS, gS), b.shape);
      } else if (ab === batch && batch > 1) {
        // b was broadcast: A as [batch*M, K], g as [batch*M, N] → one GEMM
        gb = Tensor._wrap(native.matmul(a._h('matmul'), g._h('matmul'), 1, K, N, batch * M, true, false, 0, 0), b.shape);
      } else {
        gb = Tensor._wrap(native.matmul(a._h('matmul'), g._h('matmul'), 1, K, N, M, true, false, 0, 0), b.shape);
      }
    }
    return [ga, gb];
  });
}

