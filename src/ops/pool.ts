/**
 * Pooling, forward and backward: max (argmax indices kept natively for
 * backward), average (countIncludePad), adaptive average and global average.
 * 1-D and 2-D run as 3-D with size-1 dims. No learnable parameters.
 */
import { native } from '../native';
import { intTuple } from './args';
import { Tensor, fromOp, describe, assertTensor } from '../tensor';

/** Options of the max/avg pools. */
export interface PoolOptions {
  /** Window size: a number or one per spatial dim. */
  kernelSize: number | number[];
  /** Step (default: the kernel size). */
  stride?: number | number[] | null;
  /** Implicit padding on both sides, at most half the kernel (default 0). Max pools pad with -inf, avg pools with 0. */
  padding?: number | number[];
  /** Use ceil instead of floor for the output size (default false). */
  ceilMode?: boolean;
  /** Avg pools: count padded zeros in the divisor (default true, as PyTorch). */
  countIncludePad?: boolean;
}


/** PyTorch's pooling output size, ceil mode included. */
export function poolOutSize(L: number, k: number, s: number, p: number, ceil: boolean): number {
  let o = Math.floor((L + 2 * p - k + (ceil ? s - 1 : 0)) / s) + 1;
  // The last window must start inside the input or the left padding.
  if (ceil && (o - 1) * s >= L + p) o--;
  return o;
}

/** @internal */
export interface Geometry {
  geom: number[];
  outShape: number[];
}

/** @internal Validates a pooling call and computes its native geometry and output shape. */
export function poolGeometry(op: string, nd: number, x: Tensor, opts: PoolOptions): Geometry {
  assertTensor(op, x, 'input');
  x._check(op);
  if (opts === null || typeof opts !== 'object') throw new TypeError(`${op}: options must be an object with kernelSize, got ${describe(opts)}`);
  if (x.ndim !== nd + 2 && x.ndim !== nd + 1)
    throw new Error(`${op}: expected a ${nd + 2}-d input [N, C, …] (or ${nd + 1}-d without batch), got shape [${x.shape.join(',')}]`);
  const k = intTuple(op, 'kernelSize', opts.kernelSize, nd, 1);
  const s = intTuple(op, 'stride', opts.stride ?? k, nd, 1);
  const p = intTuple(op, 'padding', opts.padding ?? 0, nd, 0);
  p.forEach((pp, i) => {
    if (pp * 2 > k[i]) throw new Error(`${op}: padding ${pp} should be at most half the kernel size ${k[i]}`);
  });
  const sp = x.shape.slice(-nd);
  const lead = x.shape.slice(0, x.ndim - nd);
  const out = sp.map((L, i) => poolOutSize(L, k[i], s[i], p[i], !!opts.ceilMode));
  out.forEach((o, i) => {
    if (o < 1 || sp[i] + 2 * p[i] < k[i])
      throw new Error(`${op}: kernel size [${k.join(',')}] is larger than the padded input [${sp.map((v, j) => v + 2 * p[j]).join(',')}] (input shape [${x.shape.join(',')}])`);
  });
  const planes = lead.reduce((a, b) => a * b, 1);
  const lift = (a: number[], f: number) => [...new Array(3 - nd).fill(f), ...a];
  const [D, H, W] = lift(sp, 1), [OD, OH, OW] = lift(out, 1), [kd, kh, kw] = lift(k, 1), [sd, sh, sw] = lift(s, 1), [pd, ph, pw] = lift(p, 0);
  return { geom: [planes, D, H, W, OD, OH, OW, kd, kh, kw, sd, sh, sw, pd, ph, pw], outShape: [...lead, ...out] };
}

function maxPool(nd: number, x: Tensor, opts: PoolOptions): Tensor {
  const op = `maxPool${nd}d`;
  const { geom, outShape } = poolGeometry(op, nd, x, opts);
  const [y, idx] = native.maxPoolForward(x._h(op), geom);
  return fromOp(
    y,
    outShape,
    `MaxPool${nd}dBackward`,
    [x],
    (g) => [Tensor._wrap(native.maxPoolBackward(g._h(op), idx, geom), x.shape)],
    () => native.free(idx),
  );
}

function avgPool(nd: number, x: Tensor, opts: PoolOptions): Tensor {
  const op = `avgPool${nd}d`;
  const { geom, outShape } = poolGeometry(op, nd, x, opts);
  const inc = opts.countIncludePad ?? true;
  return fromOp(native.avgPoolForward(x._h(op), geom, inc), outShape, `AvgPool${nd}dBackward`, [x], (g) => [
    Tensor._wrap(native.avgPoolBackward(g._h(op), geom, inc), x.shape),
  ]);
}

export const maxPool1d = (x: Tensor, opts: PoolOptions) => maxPool(1, x, opts);
export const maxPool2d = (x: Tensor, opts: PoolOptions) => maxPool(2, x, opts);
export const maxPool3d = (x: Tensor, opts: PoolOptions) => maxPool(3, x, opts);
export const avgPool1d = (x: Tensor, opts: PoolOptions) => avgPool(1, x, opts);
export const avgPool2d = (x: Tensor, opts: PoolOptions) => avgPool(2, x, opts);
export const avgPool3d = (x: Tensor, opts: PoolOptions) => avgPool(3, x, opts);

/** Average pooling to a fixed output size [OH, OW] (windows [floor(i·H/OH), ceil((i+1)·H/OH))). */
export function adaptiveAvgPool2d(x: Tensor, outputSize: number | [number, number]): Tensor {
  const op = 'adaptiveAvgPool2d';
  assertTensor(op, x, 'input');
  x._check(op);
  if (x.ndim !== 4 && x.ndim !== 3) throw new Error(`${op}: expected a 4-d input [N, C, H, W] (or 3-d), got shape [${x.shape.join(',')}]`);
  const [OH, OW] = intTuple(op, 'outputSize', outputSize, 2, 1);
  const [H, W] = x.shape.slice(-2);
  if (H < 1 || W < 1) throw new Error(`${op}: input spatial size [${H},${W}] is empty`);
  const lead = x.shape.slice(0, -2);
  const planes = lead.reduce((a, b) => a * b, 1);
  return fromOp(native.adaptiveAvgPool(x._h(op), planes, H, W, OH, OW, false), [...lead, OH, OW], 'AdaptiveAvgPool2dBackward', [x], (g) => [
    Tensor._wrap(native.adaptiveAvgPool(g._h(op), planes, H, W, OH, OW, true), x.shape),
  ]);
}

/** Mean over the spatial dims: [N, C, H, W] → [N, C, 1, 1] (`keepdim` false → [N, C]). */
export function globalAvgPool2d(x: Tensor, keepdim = true): Tensor {
  const y = adaptiveAvgPool2d(x, 1);
  return keepdim ? y : y.flatten(1);
}
