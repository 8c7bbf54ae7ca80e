/**
 * Pooling, forward and backward, with PyTorch 1.13's semantics: max pools
 * (dilation, ceil mode, NaN propagation, indices), average pools
 * (countIncludePad, divisorOverride), adaptive average and max pools,
 * max unpooling and global average pooling. 1-D and 2-D run as 3-D with size-1
 * dims. No learnable parameters.
 *
 * Every pool takes PyTorch's functional arguments positionally, an options
 * object last, or both: `maxPool2d(x, 3, 2, 1)`, `maxPool2d(x, { kernelSize: 3,
 * stride: 2, padding: 1 })`, `maxPool2d(x, 3, { ceilMode: true })`.
 */
import { native, type Handle } from '../native';
import { intTuple, checkOptions, boolArg } from './args';
import { Tensor, fromOp, describe, assertTensor, numelOf, checkShape } from '../tensor';

/** Options of the max pools (PyTorch's arguments, camelCased). */
export interface MaxPoolOptions {
  /** Window size: a number or one per spatial dim. */
  kernelSize: number | number[];
  /** Step (default, or null: the kernel size). */
  stride?: number | number[] | null;
  /** Implicit −inf padding on both sides, at most half the kernel (default 0). */
  padding?: number | number[];
  /** Spacing of the window's taps (default 1). */
  dilation?: number | number[];
  /** Use ceil instead of floor for the output size (default false); the last window must start inside the input or the left padding. */
  ceilMode?: boolean;
  /** Also return the argmax of each window, as flat indices into each input plane (float32 integers). */
  returnIndices?: boolean;
}

/** Options of the average pools (PyTorch's arguments, camelCased). */
export interface AvgPoolOptions {
  kernelSize: number | number[];
  stride?: number | number[] | null;
  /** Implicit zero padding on both sides, at most half the kernel (default 0). */
  padding?: number | number[];
  ceilMode?: boolean;
  /** Count padded zeros in the divisor (default true, as PyTorch). */
  countIncludePad?: boolean;
  /** avgPool2d/3d: divide every window's sum by this instead of its size. */
  divisorOverride?: number | null;
}

/** Options of any pool (the union of the max and average pools' options). */
export type PoolOptions = MaxPoolOptions & AvgPoolOptions;

const isOptions = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Tensor);

/**
 * @internal PyTorch-style arguments: values in the order of `names`, then
 * optionally one options object whose keys are among `names` (and `extra`).
 * Too many positional values, a key given twice, or an unknown key throw
 * naming it. `undefined` positional values mean "the default".
 */
export function spatialArgs(op: string, names: readonly string[], args: readonly unknown[], first = 0): Record<string, unknown> {
  // the common call: one options object (a layer's forward)
  if (args.length === 1 && isOptions(args[0])) return { ...checkOptions(op, args[0] as Record<string, unknown>, names) };
  const list = args.slice();
  let opts: Record<string, unknown> = {};
  if (list.length && isOptions(list[list.length - 1])) opts = { ...checkOptions(op, list.pop() as Record<string, unknown>, names) };
  const positional = names.slice(first);
  if (list.length > positional.length)
    throw new TypeError(`${op}: takes at most ${positional.length} positional argument${positional.length === 1 ? '' : 's'} (${positional.join(', ')}) and then an options object, got ${list.length}: ${list.map(describe).join(', ')}`);
  list.forEach((v, i) => {
    if (v === undefined) return;
    const k = positional[i];
    if (opts[k] !== undefined) throw new TypeError(`${op}: ${k} is given both as argument ${i + 1 + first} and in the options`);
    opts[k] = v;
  });
  return opts;
}

/** PyTorch's pooling output size (dilation and ceil mode included). */
export function poolOutSize(L: number, k: number, s: number, p: number, ceil: boolean, dilation = 1): number {
  let o = Math.floor((L + 2 * p - dilation * (k - 1) - 1 + (ceil ? s - 1 : 0)) / s) + 1;
  // The last window must start inside the input or the left padding.
  if (ceil && (o - 1) * s >= L + p) o--;
  return o;
}

/** @internal */
export interface Geometry {
  geom: number[];
  outShape: number[];
  /** Elements of one input plane. */
  plane: number;
}

const lift = (nd: number, a: number[], f: number) => [...new Array<number>(3 - nd).fill(f), ...a];

/** @internal Checks a pooling input: [N, C, …] or [C, …] with nd spatial dims, no empty dim but the batch. */
export function poolInput(op: string, nd: number, x: Tensor): void {
  assertTensor(op, x, 'input');
  x._check(op);
  if (x.ndim !== nd + 2 && x.ndim !== nd + 1)
    throw new Error(`${op}: expected a ${nd + 2}-d input [N, C, …] (or ${nd + 1}-d without batch), got shape [${x.shape.join(',')}]`);
  const first = x.ndim === nd + 2 ? 1 : 0;
  let empty = false;
  for (let i = first; i < x.ndim; i++) if (x.shape[i] === 0) empty = true;
  if (empty)
    throw new RangeError(`${op}: expected non-empty channel and spatial dims, got input shape [${x.shape.join(',')}]`);
}

/** @internal Validates a pooling call and computes its native geometry and output shape. */
export function poolGeometry(op: string, nd: number, x: Tensor, opts: PoolOptions): Geometry {
  poolInput(op, nd, x);
  const k = intTuple(op, 'kernelSize', opts.kernelSize, nd, 1);
  const s = intTuple(op, 'stride', opts.stride ?? k, nd, 1);
  const p = intTuple(op, 'padding', opts.padding ?? 0, nd, 0);
  const d = intTuple(op, 'dilation', opts.dilation ?? 1, nd, 1);
  const ceil = boolArg(op, 'ceilMode', opts.ceilMode, false);
  for (let i = 0; i < nd; i++)
    if (p[i] * 2 > k[i]) throw new Error(`${op}: padding ${p[i]} should be at most half the kernel size ${k[i]}`);
  const xs = x.shape, first = x.ndim - nd;
  // [planes, D, H, W, OD, OH, OW, kd, kh, kw, sd, sh, sw, pd, ph, pw] (+ [dd, dh, dw] when dilated), spatial dims lifted to 3
  let planes = 1;
  for (let i = 0; i < first; i++) planes *= xs[i];
  let dilated = false;
  for (let i = 0; i < nd; i++) if (d[i] !== 1) dilated = true;
  const geom = [planes, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0];
  if (dilated) geom.push(1, 1, 1);
  const outShape = xs.slice(0, first);
  let plane = 1, empty = false;
  const lead = 3 - nd;
  for (let i = 0; i < nd; i++) {
    const L = xs[first + i];
    const o = poolOutSize(L, k[i], s[i], p[i], ceil, d[i]);
    if (o < 1) empty = true;
    outShape.push(o);
    plane *= L;
    const j = 1 + lead + i;
    geom[j] = L;
    geom[j + 3] = o;
    geom[j + 6] = k[i];
    geom[j + 9] = s[i];
    geom[j + 12] = p[i];
    if (dilated) geom[j + 15] = d[i];
  }
  if (empty) {
    const sp = xs.slice(-nd);
    const eff = k.map((kk, i) => d[i] * (kk - 1) + 1);
    throw new Error(`${op}: kernel size [${k.join(',')}]${d.some((v) => v > 1) ? ` (dilated to [${eff.join(',')}])` : ''} is larger than the padded input [${sp.map((v, j) => v + 2 * p[j]).join(',')}] (input shape [${x.shape.join(',')}]): the output would be empty`);
  }
  return { geom, outShape, plane };
}

/** @internal The argmax indices of a max pool as a float32 tensor (exact integers: the plane must stay within 2^24). */
export function indicesTensor(op: string, idx: Handle, shape: number[], plane: number): Tensor {
  if (plane > 2 ** 24)
    throw new RangeError(`${op}: returnIndices needs input planes of at most 2^24 elements (float32 holds integers exactly only up to there), got ${plane}`);
  return Tensor._wrap(native.poolIndices(idx), shape);
}

const MAX_NAMES = ['kernelSize', 'stride', 'padding', 'dilation', 'ceilMode', 'returnIndices'] as const;
const AVG_NAMES = ['kernelSize', 'stride', 'padding', 'ceilMode', 'countIncludePad', 'divisorOverride'] as const;

function maxPool(nd: number, x: Tensor, args: unknown[]): Tensor | [Tensor, Tensor] {
  const op = `maxPool${nd}d`;
  const opts = spatialArgs(op, MAX_NAMES, args) as unknown as MaxPoolOptions;
  if (opts.kernelSize === undefined) throw new TypeError(`${op}: kernelSize is required (${op}(x, kernelSize, stride, padding, dilation, ceilMode, returnIndices) or ${op}(x, { kernelSize, … }))`);
  const withIdx = boolArg(op, 'returnIndices', opts.returnIndices, false);
  const { geom, outShape, plane } = poolGeometry(op, nd, x, opts);
  const [y, idx] = native.maxPoolForward(x._h(op), geom);
  let indices: Tensor | null = null;
  try {
    if (withIdx) indices = indicesTensor(op, idx, outShape, plane);
  } catch (e) {
    native.free(idx);
    native.free(y);
    throw e;
  }
  const out = fromOp(
    y,
    outShape,
    `MaxPool${nd}dBackward`,
    [x],
    (g) => [Tensor._wrap(native.maxPoolBackward(g._h(op), idx, geom), x.shape)],
    () => native.free(idx),
  );
  return indices ? [out, indices] : out;
}

function avgPool(nd: number, x: Tensor, args: unknown[]): Tensor {
  const op = `avgPool${nd}d`;
  const names = nd === 1 ? AVG_NAMES.slice(0, 5) : AVG_NAMES;
  const opts = spatialArgs(op, names, args) as unknown as AvgPoolOptions;
  if (opts.kernelSize === undefined) throw new TypeError(`${op}: kernelSize is required (${op}(x, kernelSize, stride, padding, ceilMode, countIncludePad${nd > 1 ? ', divisorOverride' : ''}) or ${op}(x, { kernelSize, … }))`);
  const inc = boolArg(op, 'countIncludePad', opts.countIncludePad, true);
  let div = 0;
  if (opts.divisorOverride != null) {
    const v = opts.divisorOverride;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 2 ** 31 - 1)
      throw new RangeError(`${op}: divisorOverride must be a positive integer (or null), got ${describe(v)}`);
    div = v;
  }
  const { geom, outShape } = poolGeometry(op, nd, x, opts);
  if (nd === 3) {
    // PyTorch's avg_pool3d (only it) also needs every unpadded input dim to hold the kernel
    const k = intTuple(op, 'kernelSize', opts.kernelSize, 3, 1), sp = x.shape.slice(-3);
    if (sp.some((L, i) => L < k[i]))
      throw new Error(`${op}: input [${sp.join(',')}] is smaller than the kernel size [${k.join(',')}] (as PyTorch, avgPool3d needs every unpadded spatial dim to hold the kernel)`);
  }
  // the divisor goes to native only when set: plans record the 3-argument form
  const y = div ? native.avgPoolForward(x._h(op), geom, inc, div) : native.avgPoolForward(x._h(op), geom, inc);
  return fromOp(y, outShape, `AvgPool${nd}dBackward`, [x], (g) => [
    Tensor._wrap(div ? native.avgPoolBackward(g._h(op), geom, inc, div) : native.avgPoolBackward(g._h(op), geom, inc), x.shape),
  ]);
}

type Ints = number | number[];
type MaxPoolArgs = [kernelSize: Ints, stride?: Ints | null, padding?: Ints, dilation?: Ints, ceilMode?: boolean, returnIndices?: boolean, opts?: Partial<MaxPoolOptions>];

/**
 * Max pooling over [N, C, L] (or [C, L]): `maxPool1d(x, kernelSize, stride, padding, dilation, ceilMode, returnIndices)`
 * (PyTorch's order), an options object, or positional arguments then options.
 * With `returnIndices: true` it returns `[values, indices]`.
 */
export function maxPool1d(x: Tensor, opts: MaxPoolOptions & { returnIndices: true }): [Tensor, Tensor];
export function maxPool1d(x: Tensor, opts: MaxPoolOptions): Tensor;
export function maxPool1d(x: Tensor, ...args: MaxPoolArgs): Tensor;
export function maxPool1d(x: Tensor, ...args: unknown[]): any {
  return maxPool(1, x, args);
}
/** Max pooling over [N, C, H, W] (or [C, H, W]); arguments as {@link maxPool1d}. */
export function maxPool2d(x: Tensor, opts: MaxPoolOptions & { returnIndices: true }): [Tensor, Tensor];
export function maxPool2d(x: Tensor, opts: MaxPoolOptions): Tensor;
export function maxPool2d(x: Tensor, ...args: MaxPoolArgs): Tensor;
export function maxPool2d(x: Tensor, ...args: unknown[]): any {
  return maxPool(2, x, args);
}
/** Max pooling over [N, C, D, H, W] (or [C, D, H, W]); arguments as {@link maxPool1d}. */
export function maxPool3d(x: Tensor, opts: MaxPoolOptions & { returnIndices: true }): [Tensor, Tensor];
export function maxPool3d(x: Tensor, opts: MaxPoolOptions): Tensor;
export function maxPool3d(x: Tensor, ...args: MaxPoolArgs): Tensor;
export function maxPool3d(x: Tensor, ...args: unknown[]): any {
  return maxPool(3, x, args);
}

type AvgPoolArgs = [kernelSize: Ints, stride?: Ints | null, padding?: Ints, ceilMode?: boolean, countIncludePad?: boolean, divisorOverride?: number | null, opts?: Partial<AvgPoolOptions>];

/** Average pooling over [N, C, L]: `avgPool1d(x, kernelSize, stride, padding, ceilMode, countIncludePad)` or options (no divisorOverride, as PyTorch). */
export function avgPool1d(x: Tensor, opts: Omit<AvgPoolOptions, 'divisorOverride'>): Tensor;
export function avgPool1d(x: Tensor, kernelSize: Ints, stride?: Ints | null, padding?: Ints, ceilMode?: boolean, countIncludePad?: boolean, opts?: Partial<Omit<AvgPoolOptions, 'divisorOverride'>>): Tensor;
export function avgPool1d(x: Tensor, ...args: unknown[]): Tensor {
  return avgPool(1, x, args);
}
/** Average pooling over [N, C, H, W]: `avgPool2d(x, kernelSize, stride, padding, ceilMode, countIncludePad, divisorOverride)` or options. */
export function avgPool2d(x: Tensor, opts: AvgPoolOptions): Tensor;
export function avgPool2d(x: Tensor, ...args: AvgPoolArgs): Tensor;
export function avgPool2d(x: Tensor, ...args: unknown[]): Tensor {
  return avgPool(2, x, args);
}
/** Average pooling over [N, C, D, H, W]; arguments as {@link avgPool2d}. */
export function avgPool3d(x: Tensor, opts: AvgPoolOptions): Tensor;
export function avgPool3d(x: Tensor, ...args: AvgPoolArgs): Tensor;
export function avgPool3d(x: Tensor, ...args: unknown[]): Tensor {
  return avgPool(3, x, args);
}

// ---------------------------------------------------------------------------
// adaptive pools

/** An adaptive pool's output size: a number, or one per spatial dim where `null` keeps that input dim. */
export type AdaptiveSize = number | null | (number | null)[];

function adaptiveOut(op: string, nd: number, x: Tensor, outputSize: unknown): { sp: number[]; out: number[]; lead: number[] } {
  poolInput(op, nd, x);
  const sp = x.shape.slice(-nd);
  const arr = typeof outputSize === 'number' || outputSize === null ? new Array<unknown>(nd).fill(outputSize) : outputSize;
  if (!Array.isArray(arr) || arr.length !== nd)
    throw new TypeError(`${op}: outputSize must be a number, null or an array of ${nd} (numbers or null), got ${describe(outputSize)}`);
  const out = arr.map((v, i) => {
    if (v === null) return sp[i];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1)
      throw new RangeError(`${op}: outputSize must hold integers >= 1 or null (keep that dim), got ${describe(outputSize)}`);
    return v;
  });
  const lead = x.shape.slice(0, x.ndim - nd);
  checkShape(op, [...lead, ...out], 'output');
  return { sp, out, lead };
}

function adaptiveAvg(nd: number, x: Tensor, outputSize: unknown): Tensor {
  const op = `adaptiveAvgPool${nd}d`;
  const { sp, out, lead } = adaptiveOut(op, nd, x, outputSize);
  const planes = numelOf(lead);
  const outShape = [...lead, ...out];
  if (nd < 3) {
    // the 2-D kernel (compiled plans know it); 1-D runs with H = 1
    const two = (a: number[]) => (nd === 1 ? [1, ...a] : a);
    const [H, W] = two(sp), [OH, OW] = two(out);
    return fromOp(native.adaptiveAvgPool(x._h(op), planes, H, W, OH, OW, false), outShape, `AdaptiveAvgPool${nd}dBackward`, [x], (g) => [
      Tensor._wrap(native.adaptiveAvgPool(g._h(op), planes, H, W, OH, OW, true), x.shape),
    ]);
  }
  const geom = [planes, ...sp, ...out];
  return fromOp(native.adaptivePool3d(x._h(op), geom, false, false) as Handle, outShape, 'AdaptiveAvgPool3dBackward', [x], (g) => [
    Tensor._wrap(native.adaptivePool3d(g._h(op), geom, false, true) as Handle, x.shape),
  ]);
}

function noMore(op: string, rest: unknown[], takes: string): void {
  if (rest.length) throw new TypeError(`${op}: takes ${takes}, got ${rest.length} more argument${rest.length > 1 ? 's' : ''}: ${rest.map(describe).join(', ')}`);
}
/** Average pooling to a fixed output length over [N, C, L] (windows [floor(i·L/O), ceil((i+1)·L/O))). */
export function adaptiveAvgPool1d(x: Tensor, outputSize: AdaptiveSize, ...rest: never[]): Tensor {
  noMore('adaptiveAvgPool1d', rest, '(input, outputSize)');
  return adaptiveAvg(1, x, outputSize);
}
/** Average pooling to a fixed output size [OH, OW] over [N, C, H, W]; `null` keeps that dim. */
export function adaptiveAvgPool2d(x: Tensor, outputSize: AdaptiveSize, ...rest: never[]): Tensor {
  noMore('adaptiveAvgPool2d', rest, '(input, outputSize)');
  return adaptiveAvg(2, x, outputSize);
}
/** Average pooling to a fixed output size [OD, OH, OW] over [N, C, D, H, W]; `null` keeps that dim. */
export function adaptiveAvgPool3d(x: Tensor, outputSize: AdaptiveSize, ...rest: never[]): Tensor {
  noMore('adaptiveAvgPool3d', rest, '(input, outputSize)');
  return adaptiveAvg(3, x, outputSize);
}

function adaptiveMax(nd: number, x: Tensor, outputSize: unknown, rest: unknown[]): Tensor | [Tensor, Tensor] {
  const op = `adaptiveMaxPool${nd}d`;
  const o = spatialArgs(op, ['returnIndices'], rest);
  const withIdx = boolArg(op, 'returnIndices', o.returnIndices, false);
  const { sp, out, lead } = adaptiveOut(op, nd, x, outputSize);
  const planes = numelOf(lead);
  const outShape = [...lead, ...out];
  const geom = [planes, ...lift(nd, sp, 1), ...lift(nd, out, 1)];
  const [y, idx] = native.adaptivePool3d(x._h(op), geom, true, false) as [Handle, Handle];
  let indices: Tensor | null = null;
  try {
    if (withIdx) indices = indicesTensor(op, idx, outShape, numelOf(sp));
  } catch (e) {
    native.free(idx);
    native.free(y);
    throw e;
  }
  const t = fromOp(
    y,
    outShape,
    `AdaptiveMaxPool${nd}dBackward`,
    [x],
    (g) => [Tensor._wrap(native.adaptivePool3d(g._h(op), geom, true, true, idx) as Handle, x.shape)],
    () => native.free(idx),
  );
  return indices ? [t, indices] : t;
}

/** Max pooling to a fixed output length over [N, C, L]; `returnIndices` (positional or `{ returnIndices }`) also returns the argmax. */
export function adaptiveMaxPool1d(x: Tensor, outputSize: AdaptiveSize, returnIndices: true | { returnIndices: true }): [Tensor, Tensor];
export function adaptiveMaxPool1d(x: Tensor, outputSize: AdaptiveSize, returnIndices?: boolean | { returnIndices?: boolean }): Tensor;
export function adaptiveMaxPool1d(x: Tensor, outputSize: AdaptiveSize, ...rest: unknown[]): any {
  return adaptiveMax(1, x, outputSize, rest);
}
/** Max pooling to a fixed output size over [N, C, H, W]; `null` keeps that dim. */
export function adaptiveMaxPool2d(x: Tensor, outputSize: AdaptiveSize, returnIndices: true | { returnIndices: true }): [Tensor, Tensor];
export function adaptiveMaxPool2d(x: Tensor, outputSize: AdaptiveSize, returnIndices?: boolean | { returnIndices?: boolean }): Tensor;
export function adaptiveMaxPool2d(x: Tensor, outputSize: AdaptiveSize, ...rest: unknown[]): any {
  return adaptiveMax(2, x, outputSize, rest);
}
/** Max pooling to a fixed output size over [N, C, D, H, W]; `null` keeps that dim. */
export function adaptiveMaxPool3d(x: Tensor, outputSize: AdaptiveSize, returnIndices: true | { returnIndices: true }): [Tensor, Tensor];
export function adaptiveMaxPool3d(x: Tensor, outputSize: AdaptiveSize, returnIndices?: boolean | { returnIndices?: boolean }): Tensor;
export function adaptiveMaxPool3d(x: Tensor, outputSize: AdaptiveSize, ...rest: unknown[]): any {
  return adaptiveMax(3, x, outputSize, rest);
}

/** Mean over the spatial dims: [N, C, H, W] → [N, C, 1, 1] (`keepdim` false → [N, C]). */
export function globalAvgPool2d(x: Tensor, keepdim = true, ...rest: never[]): Tensor {
  noMore('globalAvgPool2d', rest, '(input, keepdim)');
  const keep = boolArg('globalAvgPool2d', 'keepdim', keepdim, true);
  const y = adaptiveAvgPool2d(x, 1);
  return keep ? y : y.flatten(1);
}

// ---------------------------------------------------------------------------
// max unpooling

/** Options of the max unpools. */
export interface MaxUnpoolOptions {
  kernelSize: number | number[];
  /** Default: the kernel size. */
  stride?: number | number[] | null;
  padding?: number | number[];
  /** The output's spatial size (or its full size [N, C, …]); default (in − 1)·stride − 2·padding + kernel. */
  outputSize?: number[] | null;
}

function maxUnpool(nd: number, x: Tensor, indices: Tensor, args: unknown[]): Tensor {
  const op = `maxUnpool${nd}d`;
  assertTensor(op, x, 'input');
  assertTensor(op, indices, 'indices');
  x._check(op);
  indices._check(op);
  const opts = spatialArgs(op, ['kernelSize', 'stride', 'padding', 'outputSize'], args) as unknown as MaxUnpoolOptions;
  if (opts.kernelSize === undefined) throw new TypeError(`${op}: kernelSize is required (${op}(x, indices, kernelSize, stride, padding, outputSize))`);
  if (x.ndim !== nd + 2 && x.ndim !== nd + 1)
    throw new Error(`${op}: expected a ${nd + 2}-d input [N, C, …] (or ${nd + 1}-d without batch), got shape [${x.shape.join(',')}]`);
  if (indices.shape.length !== x.shape.length || indices.shape.some((d, i) => d !== x.shape[i]))
    throw new Error(`${op}: indices must have the input's shape [${x.shape.join(',')}], got [${indices.shape.join(',')}]`);
  const k = intTuple(op, 'kernelSize', opts.kernelSize, nd, 1);
  const s = intTuple(op, 'stride', opts.stride ?? k, nd, 1);
  const p = intTuple(op, 'padding', opts.padding ?? 0, nd, 0);
  const sp = x.shape.slice(-nd), lead = x.shape.slice(0, x.ndim - nd);
  const dflt = sp.map((L, i) => (L - 1) * s[i] - 2 * p[i] + k[i]);
  let out = dflt;
  if (opts.outputSize != null) {
    const os = opts.outputSize;
    if (!Array.isArray(os) || (os.length !== nd && os.length !== x.ndim))
      throw new TypeError(`${op}: outputSize must have ${nd} (or ${x.ndim}) entries, got ${describe(os)}`);
    out = intTuple(op, 'outputSize', os.slice(-nd), nd, 0);
    out.forEach((v, i) => {
      if (!(v > dflt[i] - s[i] && v < dflt[i] + s[i]))
        throw new RangeError(`${op}: outputSize ${describe(os)} is invalid: along dim ${i} it must lie strictly between ${dflt[i] - s[i]} and ${dflt[i] + s[i]}`);
    });
  }
  if (out.some((v) => v < 1)) throw new RangeError(`${op}: the output size [${out.join(',')}] is empty (input shape [${x.shape.join(',')}])`);
  const planes = numelOf(lead), inPlane = numelOf(sp), outPlane = numelOf(out);
  const run = (h: Handle, bw: boolean): Handle => {
    try {
      return native.maxUnpool(h, indices._h(op), planes, inPlane, outPlane, bw);
    } catch (e) {
      if (e instanceof RangeError) throw new RangeError(`${op}: ${e.message}`);
      throw e;
    }
  };
  return fromOp(run(x._h(op), false), [...lead, ...out], `MaxUnpool${nd}dBackward`, [x], (g) => [Tensor._wrap(run(g._h(op), true), x.shape)]);
}

type UnpoolArgs = [kernelSize: Ints, stride?: Ints | null, padding?: Ints, outputSize?: number[] | null, opts?: Partial<MaxUnpoolOptions>] | [opts: MaxUnpoolOptions];

/** The partial inverse of maxPool1d: `maxUnpool1d(x, indices, kernelSize, stride, padding, outputSize)` or options; non-maxima are 0. */
export function maxUnpool1d(x: Tensor, indices: Tensor, ...args: UnpoolArgs): Tensor {
  return maxUnpool(1, x, indices, args);
}
/** The partial inverse of maxPool2d (indices as maxPool2d's `returnIndices` gives them). */
export function maxUnpool2d(x: Tensor, indices: Tensor, ...args: UnpoolArgs): Tensor {
  return maxUnpool(2, x, indices, args);
}
/** The partial inverse of maxPool3d. */
export function maxUnpool3d(x: Tensor, indices: Tensor, ...args: UnpoolArgs): Tensor {
  return maxUnpool(3, x, indices, args);
}
