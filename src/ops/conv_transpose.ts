/**
 * Transposed convolution (1, 2, 3 spatial dims): the adjoint of the
 * convolution lowering. Its forward is the input gradient of the convolution
 * whose input has the transposed convolution's output shape (GEMM + col2im);
 * its input gradient is that convolution's forward (im2col + GEMM), and its
 * weight gradient that convolution's weight gradient with the roles of input
 * and output gradient swapped. No kernels of its own.
 */
import { native } from '../native';
import { intTuple } from './args';
import { spatialArgs } from './pool';
import { checkConvOperands } from './conv';
import { Tensor, fromOp, describe, numelOf } from '../tensor';

/** Options of convTranspose1d/2d/3d (PyTorch's arguments, camelCased). */
export interface ConvTransposeOptions {
  /** Default 1. */
  stride?: number | number[];
  /** Removes dilation·(kernel − 1) − padding … : the zero padding of the adjoint convolution (default 0). */
  padding?: number | number[];
  /** Extra size added to one side of each output dim (default 0); smaller than the stride or the dilation. */
  outputPadding?: number | number[];
  /** Default 1: weight [Cin, Cout/groups, …kernel]. */
  groups?: number;
  /** Default 1. */
  dilation?: number | number[];
}

const NAMES = ['stride', 'padding', 'outputPadding', 'groups', 'dilation'] as const;

/** Output size of a transposed convolution along one dim. */
export function convTransposeOutSize(L: number, k: number, s: number, p: number, op: number, d: number): number {
  return (L - 1) * s - 2 * p + d * (k - 1) + op + 1;
}

/** @internal Validates a transposed convolution; geom describes the adjoint convolution (conv.ts's layout). */
export function convTransposeGeometry(nd: 1 | 2 | 3, x: Tensor, weight: Tensor, bias: Tensor | null | undefined, opts: ConvTransposeOptions): { geom: number[]; outShape: number[] } {
  const op = `convTranspose${nd}d`;
  checkConvOperands(op, x, weight, bias);
  if (x.ndim !== nd + 2) throw new Error(`${op}: expected a ${nd + 2}-d input [N, Cin, …${nd} spatial], got shape [${x.shape.join(',')}]`);
  if (weight.ndim !== nd + 2) throw new Error(`${op}: expected a ${nd + 2}-d weight [Cin, Cout/groups, …kernel], got shape [${weight.shape.join(',')}]`);
  const groups = opts.groups ?? 1;
  if (typeof groups !== 'number' || !Number.isInteger(groups) || groups < 1) throw new RangeError(`${op}: groups must be a positive integer, got ${describe(groups)}`);
  const [N, Cin] = x.shape;
  const [Cw, Cg] = weight.shape;
  if (Cw !== Cin) throw new Error(`${op}: input has ${Cin} channels but weight expects ${Cw} (weight shape [${weight.shape.join(',')}], [Cin, Cout/groups, …kernel])`);
  if (Cin % groups !== 0) throw new Error(`${op}: groups ${groups} must divide the input channels ${Cin}`);
  const Cout = Cg * groups;
  if (bias != null && (bias.ndim !== 1 || bias.shape[0] !== Cout)) throw new Error(`${op}: bias must have shape [${Cout}], got [${bias.shape.join(',')}]`);
  const s = intTuple(op, 'stride', opts.stride ?? 1, nd, 1);
  const p = intTuple(op, 'padding', opts.padding ?? 0, nd, 0);
  const d = intTuple(op, 'dilation', opts.dilation ?? 1, nd, 1);
  const opad = intTuple(op, 'outputPadding', opts.outputPadding ?? 0, nd, 0);
  opad.forEach((v, i) => {
    if (v >= s[i] && v >= d[i]) throw new RangeError(`${op}: outputPadding must be smaller than either stride or dilation, got outputPadding ${v}, stride ${s[i]}, dilation ${d[i]}`);
  });
  const ks = weight.shape.slice(2);
  if (ks.some((k) => k < 1)) throw new Error(`${op}: weight has an empty kernel [${ks.join(',')}]`);
  const sp = x.shape.slice(2);
  if (Cin === 0 || sp.some((v) => v === 0)) throw new RangeError(`${op}: expected non-empty channel and spatial dims, got input shape [${x.shape.join(',')}]`);
  const out = sp.map((L, i) => convTransposeOutSize(L, ks[i], s[i], p[i], opad[i], d[i]));
  if (out.some((v) => v < 1)) throw new Error(`${op}: the output size [${out.join(',')}] is empty: padding [${p.join(',')}] removes more than the kernel adds (input shape [${x.shape.join(',')}], weight shape [${weight.shape.join(',')}])`);
  const outShape = [N, Cout, ...out];
  if (numelOf(outShape) > 2 ** 31 - 1) throw new RangeError(`${op}: output [${outShape.join(',')}] is too large`);
  const lift = (a: number[], f: number) => [...new Array<number>(3 - nd).fill(f), ...a];
  // the adjoint convolution: input [N, Cout, …out], weight [Cin, Cout/groups, …k], output [N, Cin, …sp]
  const geom = [N, Cout, ...lift(out, 1), Cin, ...lift(ks, 1), ...lift(s, 1), ...lift(p, 0), ...lift(d, 1), groups, ...lift(sp, 1)];
  return { geom, outShape };
}

function convTransposeNd(nd: 1 | 2 | 3, x: Tensor, weight: Tensor, bias: Tensor | null | undefined, args: unknown[]): Tensor {
  const op = `convTranspose${nd}d`;
  if (bias !== undefined && bias !== null && !(bias instanceof Tensor)) {
    // convTranspose2d(x, w, { stride }): options in the place of the bias
    if (typeof bias !== 'object' || Array.isArray(bias) || args.length)
      throw new TypeError(`${op}: bias (argument 3) must be a Tensor or null, got ${describe(bias)} (the order is input, weight, bias, stride, padding, outputPadding, groups, dilation)`);
    args = [bias];
    bias = null;
  }
  const opts = spatialArgs(op, NAMES, args) as ConvTransposeOptions;
  const { geom, outShape } = convTransposeGeometry(nd, x, weight, bias, opts);
  const y = fromOp(native.convTransposeForward(x._h(op), weight._h(op), geom), outShape, `ConvTranspose${nd}dBackward`, [x, weight], (g) => {
    const gx = x.requiresGrad ? Tensor._wrap(native.convForward(g._h(op), weight._h(op), null, geom), x.shape) : null;
    const gw = weight.requiresGrad ? Tensor._wrap(native.convBackward(g._h(op), weight._h(op), x._h(op), geom, false, true, false)[1]!, weight.shape) : null;
    return [gx, gw];
  });
  if (!bias) return y;
  const b = bias.view([1, bias.shape[0], ...new Array<number>(nd).fill(1)]);
  return y.add(b);
}

type Ints = number | number[];
type Args = [stride?: Ints, padding?: Ints, outputPadding?: Ints, groups?: number, dilation?: Ints, opts?: ConvTransposeOptions] | [opts?: ConvTransposeOptions];

/**
 * 1-D transposed convolution ("deconvolution"): input [N, Cin, L], weight
 * [Cin, Cout/groups, k]; PyTorch's `conv_transpose1d(input, weight, bias,
 * stride, padding, output_padding, groups, dilation)` order, or an options
 * object last. Output length (L − 1)·stride − 2·padding + dilation·(k − 1) + outputPadding + 1.
 */
export function convTranspose1d(x: Tensor, weight: Tensor, bias?: Tensor | null, ...args: Args): Tensor {
  return convTransposeNd(1, x, weight, bias, args);
}
/** 2-D transposed convolution: input [N, Cin, H, W], weight [Cin, Cout/groups, kH, kW]; arguments as {@link convTranspose1d}. */
export function convTranspose2d(x: Tensor, weight: Tensor, bias?: Tensor | null, ...args: Args): Tensor {
  return convTransposeNd(2, x, weight, bias, args);
}
/** 3-D transposed convolution: input [N, Cin, D, H, W], weight [Cin, Cout/groups, kD, kH, kW]; arguments as {@link convTranspose1d}. */
export function convTranspose3d(x: Tensor, weight: Tensor, bias?: Tensor | null, ...args: Args): Tensor {
  return convTransposeNd(3, x, weight, bias, args);
}
