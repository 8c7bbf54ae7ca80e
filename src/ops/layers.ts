/** Linear, dropout and batch norm as differentiable functions. */
import { native, type Handle } from '../native';
import { boolArg, checkOptions, contiguousStrides, numberArg } from './args';
import { Tensor, fromOp, assertTensor, describe, rand } from '../tensor';
import { binaryRaw, mul } from './elementwise';
import { Bin, Un } from './codes';

/** y = x·Wᵀ + b for x [..., in], W [out, in], b [out]. */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  const op = 'linear';
  assertTensor(op, x, 'input');
  assertTensor(op, weight, 'weight');
  x._check(op);
  weight._check(op);
  if (weight.ndim !== 2) throw new Error(`${op}: weight must be 2-d [out, in], got shape [${weight.shape.join(',')}]`);
  const [outF, inF] = weight.shape;
  if (x.ndim < 1) throw new Error(`${op}: input must have at least 1 dim [..., ${inF}], got a 0-d tensor`);
  if (x.shape[x.ndim - 1] !== inF)
    throw new Error(`${op}: input has ${x.shape[x.ndim - 1]} features (shape [${x.shape.join(',')}]) but weight expects ${inF} (weight shape [${weight.shape.join(',')}])`);
  if (bias != null) {
    assertTensor(op, bias, 'bias');
    bias._check(op);
    if (bias.ndim !== 1 || bias.shape[0] !== outF) throw new Error(`${op}: bias must have shape [${outF}], got [${bias.shape.join(',')}]`);
  }
  const N = x.numel / inF;
  const outShape = x.shape.slice();
  outShape[outShape.length - 1] = outF;
  const b = bias ?? null;
  const h = native.linear(x._h(op), weight._h(op), b ? b._h(op) : null, N, inF, outF);
  return fromOp(h, outShape, 'LinearBackward', b ? [x, weight, b] : [x, weight], (g) => {
    const gh = g._h(op);
    // gx [N, in] = g [N, out] · W [out, in];  gW [out, in] = gᵀ · x;  gb = Σ_n g
    const gx = x.requiresGrad ? Tensor._wrap(native.matmul(gh, weight._h(op), 1, N, inF, outF, false, false, 0, 0), x.shape) : null;
    const gw = weight.requiresGrad ? Tensor._wrap(native.matmul(gh, x._h(op), 1, outF, inF, N, true, false, 0, 0), weight.shape) : null;
    const gb = b?.requiresGrad ? Tensor._wrap(native.reduceSum(gh, 1, N, outF, 1), [outF]) : null;
    return [gx, gw, gb];
  });
}

/** Zeroes elements with probability p and scales the rest by 1/(1−p) when `training`. */
export function dropout(x: Tensor, p = 0.5, training = true): Tensor {
  assertTensor('dropout', x, 'input');
  x._check('dropout');
  if (typeof p !== 'number' || !(p >= 0 && p <= 1)) throw new RangeError(`dropout: p must be in [0, 1], got ${describe(p)}`);
  if (!boolArg('dropout', 'training', training, true) || p === 0) return x;
  if (p === 1) return mul(x, 0);
  // mask: 1/(1−p) where u > p, else 0; saved by the node (survives tidy with the graph, freed with it)
  const mask = rand(x.shape as number[]);
  native.unaryInplace(Un.GtScalar, mask._h('dropout'), p);
  native.unaryInplace(Un.MulScalar, mask._h('dropout'), 1 / (1 - p));
  const y = fromOp(
    native.binary(Bin.Mul, x._h('dropout'), mask._h('dropout'), x.shape as number[], contiguousStrides(x.shape), contiguousStrides(x.shape)),
    x.shape,
    'DropoutBackward',
    [x],
    (g) => [binaryRaw('dropout', Bin.Mul, g, mask)],
    undefined,
    [mask],
  );
  return y;
}


export interface BatchNormOptions {
  runningMean?: Tensor | null;
  runningVar?: Tensor | null;
  weight?: Tensor | null;
  bias?: Tensor | null;
  /** Batch statistics (and running estimates updated) when true; running estimates when false (default false, as PyTorch). */
  training?: boolean;
  momentum?: number;
  eps?: number;
}

/**
 * Batch normalisation over [N, C, ...]: per-channel statistics of the batch in
 * training (running estimates updated in place), running estimates in eval.
 */
const BATCH_NORM_OPTIONS = ['runningMean', 'runningVar', 'weight', 'bias', 'training', 'momentum', 'eps'] as const;

export function batchNorm(x: Tensor, opts: BatchNormOptions = {}): Tensor {
  const op = 'batchNorm';
  assertTensor(op, x, 'input');
  x._check(op);
  opts = checkOptions(op, opts, BATCH_NORM_OPTIONS);
  for (const k of ['runningMean', 'runningVar', 'weight', 'bias'] as const) {
    const t = opts[k];
    if (t != null) assertTensor(op, t, k)._check(`${op}: ${k}`);
  }
  boolArg(op, 'training', opts.training, false);
  numberArg(op, 'momentum', opts.momentum, 0.1);
  numberArg(op, 'eps', opts.eps, 1e-5);
  if (x.ndim < 2) throw new Error(`${op}: expected an input [N, C, ...], got shape [${x.shape.join(',')}]`);
  const [N, C] = x.shape;
  const S = x.numel / Math.max(N * C, 1);
  const { runningMean: rm = null, runningVar: rv = null, weight: w = null, bias: b = null } = opts;
  const training = opts.training ?? false; // PyTorch's F.batch_norm: training=False
  const momentum = opts.momentum ?? 0.1, eps = opts.eps ?? 1e-5;
  for (const [name, t] of [['runningMean', rm], ['runningVar', rv], ['weight', w], ['bias', b]] as const)
    if (t && (t.ndim !== 1 || t.shape[0] !== C)) throw new Error(`${op}: ${name} must have shape [${C}], got [${t.shape.join(',')}]`);
  if (!training && (!rm || !rv)) throw new Error(`${op}: eval mode needs runningMean and runningVar (training defaults to false, as PyTorch's F.batch_norm; pass { training: true } for batch statistics)`);
  if (training && N * S <= 1) throw new Error(`${op}: expected more than 1 value per channel when training, got input shape [${x.shape.join(',')}]`);
  const [y, mean, inv] = native.batchNormForward(x._h(op), w?._h(op) ?? null, b?._h(op) ?? null, rm?._h(op) ?? null, rv?._h(op) ?? null, N, C, S, training, momentum, eps);
  if (rm && training) rm._storage.version++;
  const inputs = [x, ...(w ? [w] : []), ...(b ? [b] : [])];
  return fromOp(
    y,
    x.shape,
    'BatchNormBackward',
    inputs,
    (g) => {
      const [gx, gg, gb] = native.batchNormBackward(x._h(op), g._h(op), w?._h(op) ?? null, mean, inv, N, C, S, training, x.requiresGrad, !!(w?.requiresGrad || b?.requiresGrad));
      const out: (Tensor | null)[] = [gx ? Tensor._wrap(gx, x.shape) : null];
      // one native call computes both affine gradients; free whichever is not wanted
      const keepOrFree = (h: Handle | null, t: Tensor | null): Tensor | null => {
        if (h && t?.requiresGrad) return Tensor._wrap(h, [C]);
        if (h) native.free(h);
        return null;
      };
      const ggT = keepOrFree(gg, w), gbT = keepOrFree(gb, b);
      if (w) out.push(ggT);
      if (b) out.push(gbT);
      return out;
    },
    () => {
      native.free(mean);
      native.free(inv);
    },
  );
}

