/**
 * Losses with PyTorch's semantics: fused, numerically stable cross entropy
 * from logits (class weights, ignoreIndex, label smoothing, probability
 * targets, [N, C, d1, …] inputs), NLL on log-probabilities and MSE;
 * reductions 'mean' | 'sum' | 'none'. Class targets are tensors of integer
 * values (float32 storage), Int32Arrays or number arrays.
 */
import { native, type Handle } from '../native';
import { Tensor, fromOp, describe, assertTensor, tensor, sameShape } from '../tensor';
import { add, sub, mul, div, neg, abs, compare } from './elementwise';
import { where } from './index';
import { sum, mean, softmax } from './reduce';
import { checkOptions } from './args';

export type Reduction = 'mean' | 'sum' | 'none';

/** Options of {@link nllLoss}. */
export interface NllLossOptions {
  /** 'mean' (default): the sum divided by the sum of weight[target] over the targets not ignored; 'sum'; 'none'. */
  reduction?: Reduction;
  /** Per-class rescaling weight [C] (not differentiated, as PyTorch's). */
  weight?: Tensor | null;
  /** Targets equal to this contribute neither loss nor gradient nor weight (default -100). */
  ignoreIndex?: number;
}

/** Options of {@link crossEntropy}. */
export interface CrossEntropyOptions extends NllLossOptions {
  /** Mix the target with the uniform distribution: q = (1 − ε)·target + ε/C (default 0). */
  labelSmoothing?: number;
}

const NLL_KEYS = ['reduction', 'weight', 'ignoreIndex'] as const;
const CE_KEYS = [...NLL_KEYS, 'labelSmoothing'] as const;

/** Class targets accepted by crossEntropy and nllLoss (for crossEntropy also probabilities: a Tensor shaped like the input). */
export type Target = Tensor | Int32Array | number[] | ArrayLike<number>;

function reduction(op: string, r: unknown): Reduction {
  if (r === undefined) return 'mean';
  if (r !== 'mean' && r !== 'sum' && r !== 'none') throw new Error(`${op}: reduction must be 'mean', 'sum' or 'none', got ${describe(r)}`);
  return r;
}

/** Input geometry [N, C, S]: [C] is one row; [N, C, d1, …] has S = d1·…; `rows` is the shape of the per-element loss. */
interface Geom {
  N: number;
  C: number;
  S: number;
  rows: number[];
}

function geometry(op: string, x: Tensor, what: string): Geom {
  if (x.ndim < 1) throw new Error(`${op}: expected ${what} [C], [N, C] or [N, C, d1, ...], got a 0-d tensor`);
  if (x.ndim === 1) return { N: 1, C: x.shape[0], S: 1, rows: [] };
  const [N, C, ...d] = x.shape;
  return { N, C, S: d.reduce((p, v) => p * v, 1), rows: [N, ...d] };
}

function targetTensor(op: string, target: Target, g: Geom, inputShape: readonly number[]): { t: Tensor; owned: boolean } {
  const R = g.N * g.S;
  const expect = inputShape.length === 1 ? '[] (one class index)' : `[${g.rows.join(',')}]`;
  if (target instanceof Tensor) {
    target._check(op);
    const ok = inputShape.length === 1 ? target.numel === 1 && target.ndim <= 1 : sameShape(target.shape, g.rows);
    if (!ok) throw new Error(`${op}: target must have shape ${expect} for input shape [${inputShape.join(',')}], got shape [${target.shape.join(',')}]`);
    return { t: target, owned: false };
  }
  if (!Array.isArray(target) && !ArrayBuffer.isView(target)) throw new TypeError(`${op}: target must be a Tensor or an array of class indices, got ${describe(target)}`);
  const arr = target as ArrayLike<number>;
  if (arr.length !== R || inputShape.length > 2)
    throw new Error(
      `${op}: target must be ${inputShape.length > 2 ? `a Tensor of shape ${expect}` : `${R} class indices (shape ${expect})`} for input shape [${inputShape.join(',')}], got an array of ${arr.length}`,
    );
  return { t: tensor(arr), owned: true };
}

function weightArg(op: string, w: unknown, C: number): Tensor | null {
  if (w === undefined || w === null) return null;
  assertTensor(op, w, 'weight')._check(`${op}: weight`);
  const t = w as Tensor;
  if (t.ndim !== 1 || t.shape[0] !== C) throw new Error(`${op}: weight must have shape [${C}] (one per class), got [${t.shape.join(',')}]`);
  return t;
}

function ignoreArg(op: string, v: unknown): number {
  if (v === undefined) return -100;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new TypeError(`${op}: ignoreIndex must be an integer, got ${describe(v)}`);
  return v;
}

/**
 * Reduces per-element losses (shape `rowsShape`, R entries) by 'none', 'sum'
 * or 'mean' (sum / divisor; 0 / 0 is NaN, as PyTorch on an empty batch or all
 * targets ignored), and builds the per-row gradient scale from the output gradient.
 */
function reduceRows(rows: Handle, rowsShape: number[], R: number, divisor: number, red: Reduction, name: string, inputs: Tensor[], backward: (scale: Handle) => Handle[], release: (() => void) | undefined, saved: Tensor[]): Tensor {
  const k = red === 'mean' ? (divisor === 0 ? NaN : 1 / divisor) : 1; // nothing to average: NaN, as PyTorch
  let h: Handle, shape: number[];
  if (red === 'none') {
    h = rows;
    shape = rowsShape;
  } else {
    h = native.reduceSum(rows, 1, R, 1, k);
    native.free(rows);
    shape = [];
  }
  return fromOp(
    h,
    shape,
    name,
    inputs,
    (g) => {
      const scale = red === 'none' ? g._h(name) : native.unary(11 /* mul scalar */, g._h(name), k);
      const out = backward(scale);
      if (red !== 'none') native.free(scale);
      return out.map((o, i) => Tensor._wrap(o, inputs[i].shape));
    },
    release,
    saved,
  );
}

/** Cross entropy with probability targets, composed of differentiable ops (as PyTorch's; the target gets a gradient too). */
function softTargetCrossEntropy(op: string, x: Tensor, q: Tensor, g: Geom, w: Tensor | null, eps: number, red: Reduction): Tensor {
  const dim = x.ndim === 1 ? 0 : 1;
  const logp = softmax(x, dim, true);
  const qs = eps > 0 ? add(mul(q, 1 - eps), eps / g.C) : q;
  let prod = mul(logp, qs);
  if (w) prod = mul(prod, x.ndim <= 2 ? w : w.reshape([g.C, ...new Array<number>(x.ndim - 2).fill(1)]));
  const rows = neg(sum(prod, dim));
  if (red === 'none') return rows;
  if (red === 'sum') return sum(rows);
  return div(sum(rows), g.N * g.S); // an empty batch: 0 / 0 = NaN, as PyTorch
}

/**
 * Cross entropy from logits [C], [N, C] or [N, C, d1, …] and class indices
 * [], [N] or [N, d1, …] (or, for a target Tensor shaped like the input, class
 * probabilities): −log softmax(logits)[target], computed in one fused, stable
 * pass. `weight`, `ignoreIndex`, `labelSmoothing` and `reduction` as PyTorch.
 */
export function crossEntropy(logits: Tensor, target: Target, opts: CrossEntropyOptions = {}): Tensor {
  const op = 'crossEntropy';
  opts = checkOptions(op, opts, CE_KEYS);
  assertTensor(op, logits, 'input');
  logits._check(op);
  const g = geometry(op, logits, 'logits');
  if (g.C < 1) throw new Error(`${op}: logits have no classes (shape [${logits.shape.join(',')}])`);
  const red = reduction(op, opts.reduction);
  const eps = opts.labelSmoothing === undefined ? 0 : opts.labelSmoothing;
  if (typeof eps !== 'number' || !(eps >= 0 && eps <= 1)) throw new RangeError(`${op}: labelSmoothing must be in [0, 1], got ${describe(eps)}`);
  const weight = weightArg(op, opts.weight, g.C);
  const ignoreIndex = ignoreArg(op, opts.ignoreIndex);
  if (target instanceof Tensor && sameShape(target.shape, logits.shape)) {
    target._check(op);
    if (opts.ignoreIndex !== undefined && ignoreIndex >= 0)
      throw new Error(`${op}: ignoreIndex is not supported for probability targets (target shape equals the input's [${logits.shape.join(',')}]), as in PyTorch`);
    return softTargetCrossEntropy(op, logits, target, g, weight, eps, red);
  }
  if (weight?.requiresGrad) throw new Error(`${op}: weight must not require grad (the class weights of index targets are not differentiated, as in PyTorch)`);
  const { t, owned } = targetTensor(op, target, g, logits.shape);
  const wk = weight ? weight.detach() : null;
  const [rows, probs, divisor] = native.crossEntropyForward(logits._h(op), t._h(op), wk ? wk._h(op) : null, g.N, g.C, g.S, eps, ignoreIndex);
  const tk = owned ? t : t.detach(); // saved by the node: survives tidy with the graph, freed with it
  return reduceRows(
    rows, g.rows, g.N * g.S, divisor, red, 'CrossEntropyBackward', [logits],
    (scale) => [native.crossEntropyBackward(probs, tk._h(op), wk ? wk._h(op) : null, scale, g.N, g.C, g.S, eps, ignoreIndex)],
    () => native.free(probs),
    wk ? [tk, wk] : [tk],
  );
}

/** Negative log-likelihood on log-probabilities [C], [N, C] or [N, C, d1, …] with class indices [], [N] or [N, d1, …]. */
export function nllLoss(logProbs: Tensor, target: Target, opts: NllLossOptions = {}): Tensor {
  const op = 'nllLoss';
  opts = checkOptions(op, opts, NLL_KEYS);
  assertTensor(op, logProbs, 'input');
  logProbs._check(op);
  const g = geometry(op, logProbs, 'input');
  const red = reduction(op, opts.reduction);
  const weight = weightArg(op, opts.weight, g.C);
  if (weight?.requiresGrad) throw new Error(`${op}: weight must not require grad (class weights are not differentiated, as in PyTorch)`);
  const ignoreIndex = ignoreArg(op, opts.ignoreIndex);
  const { t, owned } = targetTensor(op, target, g, logProbs.shape);
  const wk = weight ? weight.detach() : null;
  const [rows, divisor] = native.nllForward(logProbs._h(op), t._h(op), wk ? wk._h(op) : null, g.N, g.C, g.S, ignoreIndex);
  const tk = owned ? t : t.detach(); // saved by the node
  return reduceRows(
    rows, g.rows, g.N * g.S, divisor, red, 'NllLossBackward', [logProbs],
    (scale) => [native.nllBackward(tk._h(op), wk ? wk._h(op) : null, scale, g.N, g.C, g.S, ignoreIndex)],
    undefined,
    wk ? [tk, wk] : [tk],
  );
}

function checkPair(op: string, input: Tensor, target: Tensor): void {
  assertTensor(op, input, 'input');
  assertTensor(op, target, 'target');
  input._check(op);
  target._check(op);
  if (!sameShape(input.shape, target.shape))
    throw new Error(`${op}: input shape [${input.shape.join(',')}] and target shape [${target.shape.join(',')}] differ (blasnet does not broadcast them; PyTorch warns and broadcasts)`);
}

/** 'none' | 'sum' | 'mean' of elementwise losses; the mean of no elements is NaN, as PyTorch. */
function reduceElements(l: Tensor, red: Reduction): Tensor {
  if (red === 'none') return l;
  if (red === 'sum') return sum(l);
  return l.numel === 0 ? div(sum(l), 0) : mean(l);
}

function positiveArg(op: string, name: string, v: unknown, dflt: number, allowZero: boolean): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || (!allowZero && v === 0))
    throw new RangeError(`${op}: ${name} must be a finite number ${allowZero ? '>= 0' : '> 0'}, got ${describe(v)}`);
  return v;
}

/** Mean squared error between input and target of the same shape ('mean' of an empty input is NaN, as PyTorch). */
export function mseLoss(input: Tensor, target: Tensor, opts: { reduction?: Reduction } = {}): Tensor {
  const op = 'mseLoss';
  opts = checkOptions(op, opts, ['reduction']);
  checkPair(op, input, target);
  const red = reduction(op, opts.reduction);
  const d = sub(input, target);
  return reduceElements(mul(d, d), red);
}

/** Mean absolute error |input − target| (gradient sign(input − target), 0 where equal, as PyTorch). */
export function l1Loss(input: Tensor, target: Tensor, opts: { reduction?: Reduction } = {}): Tensor {
  const op = 'l1Loss';
  opts = checkOptions(op, opts, ['reduction']);
  checkPair(op, input, target);
  return reduceElements(abs(sub(input, target)), reduction(op, opts.reduction));
}

/** Smooth L1: 0.5·d²/beta where |d| < beta, else |d| − 0.5·beta (beta 0: L1), d = input − target; `beta` default 1. */
export function smoothL1Loss(input: Tensor, target: Tensor, opts: { reduction?: Reduction; beta?: number } = {}): Tensor {
  const op = 'smoothL1Loss';
  opts = checkOptions(op, opts, ['reduction', 'beta']);
  checkPair(op, input, target);
  const red = reduction(op, opts.reduction);
  const beta = positiveArg(op, 'beta', opts.beta, 1, true);
  const d = sub(input, target);
  const ad = abs(d);
  if (beta === 0) return reduceElements(ad, red);
  return reduceElements(where(compare(ad, beta, 'lt'), mul(mul(d, d), 0.5 / beta), sub(ad, 0.5 * beta)), red);
}

/** Huber: 0.5·d² where |d| < delta, else delta·(|d| − 0.5·delta), d = input − target; `delta` default 1. */
export function huberLoss(input: Tensor, target: Tensor, opts: { reduction?: Reduction; delta?: number } = {}): Tensor {
  const op = 'huberLoss';
  opts = checkOptions(op, opts, ['reduction', 'delta']);
  checkPair(op, input, target);
  const red = reduction(op, opts.reduction);
  const delta = positiveArg(op, 'delta', opts.delta, 1, false);
  const d = sub(input, target);
  const ad = abs(d);
  return reduceElements(where(compare(ad, delta, 'lt'), mul(mul(d, d), 0.5), mul(sub(ad, 0.5 * delta), delta)), red);
}
