/**
 * N-d convolution (1, 2, 3 spatial dims) lowered to GEMM in native code:
 * im2col + sgemm forward, GEMM + col2im for the input gradient, GEMM over the
 * batch for the weight gradient. 1-D and 2-D run as 3-D with size-1 dims.
 */
import { native } from '../native';
import { intTuple, checkOptions } from './args';
import { Tensor, fromOp, describe, assertTensor, numelOf, checkShape } from '../tensor';

/** Padding spelled like PyTorch, plus explicit before/after pairs. */
export type Padding = number | number[] | 'same' | 'valid';

/** Options of conv1d/conv2d/conv3d. */
export interface ConvOptions {
  /** Step of the window: a number or one per spatial dim (default 1). */
  stride?: number | number[];
  /**
   * Zero padding: a number (every side), one per spatial dim (both sides),
   * before/after per dim — for 2-D `[top, bottom, left, right]` — or
   * `'valid'` (none) / `'same'` (stride 1; output size = input size; the odd
   * extra row/column goes after, as PyTorch does).
   */
  padding?: Padding;
  /** Spacing of kernel taps (default 1). */
  dilation?: number | number[];
  /** Channel groups: in and out channels must be divisible by it; groups = C is depthwise (default 1). */
  groups?: number;
}


/** @internal Resolves padding to [before, after] per spatial dim. */
export function resolvePadding(op: string, padding: Padding | undefined, n: number, k: number[], dil: number[], stride: number[]): [number, number][] {
  if (padding === undefined || padding === 'valid') return k.map(() => [0, 0]);
  if (padding === 'same') {
    if (stride.some((s) => s !== 1)) throw new Error(`${op}: padding 'same' needs stride 1, got stride [${stride.join(',')}]`);
    return k.map((kk, i) => {
      const total = dil[i] * (kk - 1);
      return [Math.floor(total / 2), total - Math.floor(total / 2)];
    });
  }
  if (typeof padding === 'string') throw new Error(`${op}: padding must be a number, an array, 'same' or 'valid', got ${describe(padding)}`);
  if (Array.isArray(padding) && padding.length === 2 * n && n > 1) {
    const p = intTuple(op, 'padding', padding, 2 * n, 0);
    return k.map((_, i) => [p[2 * i], p[2 * i + 1]]);
  }
  const p = intTuple(op, 'padding', padding, n, 0);
  return p.map((v) => [v, v]);
}

/** @internal Output size along one dim. */
export function convOutSize(inp: number, k: number, s: number, before: number, after: number, d: number): number {
  return Math.floor((inp + before + after - d * (k - 1) - 1) / s) + 1;
}

/**
 * The shape `conv1d`/`conv2d`/`conv3d` would return for an input of shape
 * `inputShape` [N, C, ...spatial] and a weight of shape `weightShape`
 * [Cout, C/groups, ...kernel], without running it; it throws where the
 * convolution would. The weight's rank picks the op (3 → conv1d, 4 → conv2d,
 * 5 → conv3d). Along each spatial dim, with p the total padding (before + after):
 *
 *   n = ⌊(w + p − d·(k − 1) − 1) / s⌋ + 1,  that is ⌊(w + p − k + s) / s⌋ at dilation d = 1.
 *
 * ```ts
 * convOutputShape([1, 3, 28, 28], [4, 3, 3, 3], { padding: 1 });            // [1, 4, 28, 28]
 * convOutputShape([1, 1, 28, 28], [6, 1, 4, 4], { padding: [2, 1, 2, 1] });  // even kernel, p = k − 1 = 3: [1, 6, 28, 28]
 * convOutputShape([1, 1, 28, 28], [6, 1, 5, 5], { stride: 2 });             // [1, 6, 12, 12]
 * ```
 */
export function convOutputShape(inputShape: readonly number[], weightShape: readonly number[], opts?: ConvOptions): number[] {
  const op = 'convOutputShape';
  const o = checkOptions(op, opts, ['stride', 'padding', 'dilation', 'groups']);
  const x = checkShape(op, inputShape, 'inputShape'), w = checkShape(op, weightShape, 'weightShape');
  const nd = w.length - 2;
  if (nd < 1 || nd > 3) throw new Error(`${op}: weightShape must have 3, 4 or 5 dims [Cout, C/groups, ...kernel], got [${w.join(',')}]`);
  if (x.length !== nd + 2) throw new Error(`${op}: a ${nd + 2}-d weight needs a ${nd + 2}-d inputShape [N, C, ...spatial], got [${x.join(',')}]`);
  const groups = o.groups ?? 1;
  if (typeof groups !== 'number' || !Number.isInteger(groups) || groups < 1) throw new RangeError(`${op}: groups must be a positive integer, got ${describe(groups)}`);
  const [N, C] = x, [Cout, Cg] = w;
  if (C % groups !== 0 || Cout % groups !== 0) throw new Error(`${op}: groups ${groups} must divide input channels ${C} and output channels ${Cout}`);
  if (Cg * groups !== C) throw new Error(`${op}: input has ${C} channels but weight expects ${Cg * groups} (weightShape [${w.join(',')}]${groups > 1 ? `, groups ${groups}` : ''})`);
  const stride = intTuple(op, 'stride', o.stride ?? 1, nd, 1), dil = intTuple(op, 'dilation', o.dilation ?? 1, nd, 1);
  const ks = w.slice(2), sp = x.slice(2);
  if (ks.some((k) => k < 1)) throw new Error(`${op}: weightShape has an empty kernel [${ks.join(',')}]`);
  const pads = resolvePadding(op, o.padding, nd, ks, dil, stride);
  const out = sp.map((s, i) => convOutSize(s, ks[i], stride[i], pads[i][0], pads[i][1], dil[i]));
  const i = out.findIndex((n) => n < 1);
  if (i >= 0) {
    const eff = dil[i] * (ks[i] - 1) + 1;
    throw new Error(`${op}: kernel size [${ks.join(',')}]${dil[i] > 1 ? ` (dilated to ${eff})` : ''} is larger than the padded input [${sp.map((v, j) => v + pads[j][0] + pads[j][1]).join(',')}] (inputShape [${x.join(',')}])`);
  }
  const shape = [N, Cout, ...out];
  if (numelOf(shape) > 2 ** 31 - 1) throw new RangeError(`${op}: output [${shape.join(',')}] is too large`);
  return shape;
}

/** @internal The operand checks every convolution (and transposed convolution) makes: Tensors, not disposed. */
export function checkConvOperands(op: string, x: Tensor, weight: Tensor, bias: Tensor | null | undefined): void {
  assertTensor(op, x, 'input');
  assertTensor(op, weight, 'weight');
  x._check(op);
  weight._check(op);
  if (bias != null) {
    assertTensor(op, bias, 'bias');
    bias._check(op);
  }
}

/** @internal Validates a convolution and computes its native geometry and output shape. */
export function convGeometry(nd: 1 | 2 | 3, x: Tensor, weight: Tensor, bias: Tensor | null | undefined, opts: ConvOptions = {}): { geom: number[]; outShape: number[] } {
  const op = `conv${nd}d`;
  checkConvOperands(op, x, weight, bias);
  opts = checkOptions(op, opts, ['stride', 'padding', 'dilation', 'groups']);
  if (x.ndim !== nd + 2)
    throw new Error(`${op}: expected a ${nd + 2}-d input [N, C${nd === 1 ? ', L' : nd === 2 ? ', H, W' : ', D, H, W'}], got shape [${x.shape.join(',')}]`);
  if (weight.ndim !== nd + 2) throw new Error(`${op}: expected a ${nd + 2}-d weight, got shape [${weight.shape.join(',')}]`);
  const groups = opts.groups ?? 1;
  if (typeof groups !== 'number' || !Number.isInteger(groups) || groups < 1)
    throw new RangeError(`${op}: groups must be a positive integer, got ${describe(groups)}`);
  const [N, C] = x.shape;
  const [Cout, Cg] = weight.shape;
  if (C % groups !== 0 || Cout % groups !== 0)
    throw new Error(`${op}: groups ${groups} must divide input channels ${C} and output channels ${Cout}`);
  if (Cg * groups !== C)
    throw new Error(`${op}: input has ${C} channels but weight expects ${Cg * groups} (weight shape [${weight.shape.join(',')}]${groups > 1 ? `, groups ${groups}` : ''})`);
  if (bias != null && (bias.ndim !== 1 || bias.shape[0] !== Cout))
    throw new Error(`${op}: bias must have shape [${Cout}], got [${bias.shape.join(',')}]`);
  const stride = intTuple(op, 'stride', opts.stride ?? 1, nd, 1);
  const dil = intTuple(op, 'dilation', opts.dilation ?? 1, nd, 1);
  const xs = x.shape, ws = weight.shape;
  for (let i = 0; i < nd; i++)
    if (ws[2 + i] < 1) throw new Error(`${op}: weight has an empty kernel [${ws.slice(2).join(',')}]`);
  const pads = resolvePadding(op, opts.padding, nd, ws.slice(2), dil, stride);
  // geometry, spatial dims lifted to 3 ([D, H, W]; missing leading dims are 1, their padding 0):
  // [N, C, D, H, W, Cout, kd, kh, kw, sd, sh, sw, pd, ph, pw, dd, dh, dw, groups, OD, OH, OW]
  const geom = [N, C, 1, 1, 1, Cout, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1, groups, 1, 1, 1];
  const outShape = [N, Cout];
  const lead = 3 - nd;
  for (let i = 0; i < nd; i++) {
    const s = xs[2 + i], k = ws[2 + i], d = dil[i], pb = pads[i][0], pa = pads[i][1];
    const o = convOutSize(s, k, stride[i], pb, pa, d);
    const eff = d * (k - 1) + 1;
    if (s + pb + pa < eff || o < 1)
      throw new Error(`${op}: kernel size [${ws.slice(2).join(',')}]${d > 1 ? ` (dilated to ${eff})` : ''} is larger than the padded input [${xs.slice(2).map((v, j) => v + pads[j][0] + pads[j][1]).join(',')}] (input shape [${xs.join(',')}])`);
    outShape.push(o);
    const j = lead + i;
    geom[2 + j] = s;
    geom[6 + j] = k;
    geom[9 + j] = stride[i];
    geom[12 + j] = pb;
    geom[15 + j] = d;
    geom[19 + j] = o;
  }
  if (numelOf(outShape) > 2 ** 31 - 1) throw new RangeError(`${op}: output [${outShape.join(',')}] is too large`);
  return { geom, outShape };
}

function convNd(nd: 1 | 2 | 3, x: Tensor, weight: Tensor, bias: Tensor | null | undefined, opts: ConvOptions = {}): Tensor {
  const op = `conv${nd}d`;
  const { geom, outShape } = convGeometry(nd, x, weight, bias, opts);
  const Cout = weight.shape[0];
  const h = native.convForward(x._h(op), weight._h(op), bias ? bias._h(op) : null, geom);
  const b = bias ?? null;
  return fromOp(h, outShape, `Conv${nd}dBackward`, b ? [x, weight, b] : [x, weight], (g) => {
    const [gx, gw, gb] = native.convBackward(x._h(op), weight._h(op), g._h(op), geom, x.requiresGrad, weight.requiresGrad, !!b?.requiresGrad);
    return [gx && Tensor._wrap(gx, x.shape), gw && Tensor._wrap(gw, weight.shape), gb && Tensor._wrap(gb, [Cout])];
  });
}

/** 1-D convolution: input [N, C, L], weight [Cout, C/groups, k]. */
export function conv1d(x: Tensor, weight: Tensor, bias?: Tensor | null, opts?: ConvOptions): Tensor {
  return convNd(1, x, weight, bias, opts);
}
/** 2-D convolution: input [N, C, H, W], weight [Cout, C/groups, kH, kW]. */
export function conv2d(x: Tensor, weight: Tensor, bias?: Tensor | null, opts?: ConvOptions): Tensor {
  return convNd(2, x, weight, bias, opts);
}
/** 3-D convolution: input [N, C, D, H, W], weight [Cout, C/groups, kD, kH, kW]. */
export function conv3d(x: Tensor, weight: Tensor, bias?: Tensor | null, opts?: ConvOptions): Tensor {
  return convNd(3, x, weight, bias, opts);
}

/** Options of {@link conv2dReluMaxPool2d}: conv2d's, plus whether ReLU runs between conv and pool. */
export interface ConvReluPoolOptions extends ConvOptions {
  /** Apply ReLU between the convolution and the pool (default true). */
  relu?: boolean;
}

/**
 * `maxPool2d(relu(conv2d(x, weight, bias, opts)), 2)` as one op: the conv's
 * output (its direct kernels' register blocks, for small channel counts) goes
 * through bias, ReLU and the 2×2 stride-2 max pool (floor mode) before it is
 * written, so the full-size conv output and the ReLU output are never stored;
 * backward routes the gradient to each window's max (zero where ReLU cut it)
 * and runs the conv backward. Values, gradients and NaN behaviour are those of
 * the three ops in sequence (relu(NaN) = NaN; the pool picks NaN). `relu: false`
 * drops the ReLU. nn.Sequential runs Conv2d → ReLU → MaxPool2d(2) through it
 * when gradients are on.
 */
export function conv2dReluMaxPool2d(x: Tensor, weight: Tensor, bias?: Tensor | null, opts: ConvReluPoolOptions = {}): Tensor {
  const op = 'conv2dReluMaxPool2d';
  const o = checkOptions(op, opts, ['stride', 'padding', 'dilation', 'groups', 'relu']);
  const relu = o.relu ?? true;
  if (typeof relu !== 'boolean') throw new TypeError(`${op}: relu must be a boolean, got ${describe(relu)}`);
  const { relu: _r, ...convOpts } = o;
  const { geom, outShape } = convGeometry(2, x, weight, bias, convOpts);
  const [N, Cout, OH, OW] = outShape;
  if (OH < 2 || OW < 2) throw new Error(`${op}: the conv output [${outShape.join(',')}] is smaller than the 2×2 pool window`);
  const [h, idx] = native.convPoolForward(x._h(op), weight._h(op), bias ? bias._h(op) : null, geom, relu);
  const b = bias ?? null;
  let out: Tensor;
  out = fromOp(
    h,
    [N, Cout, Math.floor(OH / 2), Math.floor(OW / 2)],
    'Conv2dReluMaxPool2dBackward',
    b ? [x, weight, b] : [x, weight],
    (g) => {
      const [gx, gw, gb] = native.convPoolBackward(x._h(op), weight._h(op), g._h(op), out._h(op), idx, geom, relu, x.requiresGrad, weight.requiresGrad, !!b?.requiresGrad);
      return [gx && Tensor._wrap(gx, x.shape), gw && Tensor._wrap(gw, weight.shape), gb && Tensor._wrap(gb, [Cout])];
    },
    () => native.free(idx),
  );
  return out;
}
