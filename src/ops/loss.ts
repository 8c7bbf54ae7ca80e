/**
 * Losses with PyTorch's semantics: fused, numerically stable cross entropy
 * from logits (optional label smoothing), NLL on log-probabilities and MSE;
 * reductions 'mean' | 'sum' | 'none'. Class targets are tensors of integer
 * values (float32 storage), Int32Arrays or number arrays.
 */
import { native, type Handle } from '../native';
import { Tensor, fromOp, describe, assertTensor, tensor, sameShape } from '../tensor';
import { sub, mul } from './elementwise';
import { sum, mean } from './reduce';

export type Reduction = 'mean' | 'sum' | 'none';

export interface CrossEntropyOptions {
  reduction?: Reduction;
  /** Mix the one-hot target with the uniform distribution: q = (1 − ε)·onehot + ε/C (default 0). */
  labelSmoothing?: number;
}

/** Class targets accepted by crossEntropy and nllLoss. */
export type Target = Tensor | Int32Array | number[] | ArrayLike<number>;

function targetTensor(op: string, target: Target, N: number): { t: Tensor; owned: boolean } {
  let t: Tensor;
  let owned = false;
  if (target instanceof Tensor) {
    target._check(op);
    t = target;
  } else if (Array.isArray(target) || ArrayBuffer.isView(target)) {
    t = tensor(target as ArrayLike<number>);
    owned = true;
  } else throw new TypeError(`${op}: target must be a Tensor or an array of class indices, got ${describe(target)}`);
  if (t.numel !== N || t.ndim > 1) {
    if (owned) t.dispose();
    throw new Error(`${op}: target must have ${N} class indices (shape [${N}]), got shape [${target instanceof Tensor ? target.shape.join(',') : t.shape.join(',')}]`);
  }
  return { t, owned };
}

function checkOpts<T extends object>(op: string, opts: T | null | undefined): T {
  if (opts == null) return {} as T;
  if (typeof opts !== 'object') throw new TypeError(`${op}: options must be an object, got ${describe(opts)}`);
  return opts;
}

function reduction(op: string, r: unknown): Reduction {
  if (r === undefined) return 'mean';
  if (r !== 'mean' && r !== 'sum' && r !== 'none') throw new Error(`${op}: reduction must be 'mean', 'sum' or 'none', got ${describe(r)}`);
  return r;
}

/** Reduces per-row losses [N] and builds the per-row gradient scale from the output gradient. */
function reduceRows(rows: Handle, N: number, red: Reduction, name: string, inputs: Tensor[], backward: (scale: Handle) => Handle[], release: (() => void) | undefined, saved: Tensor[]): Tensor {
  const rowsT = Tensor._wrap(rows, [N]);
  let h: Handle, shape: number[];
  if (red === 'none') {
    h = native.clone(rows);
    shape = [N];
  } else {
    h = native.reduceSum(rows, 1, N, 1, red === 'mean' ? 1 / Math.max(N, 1) : 1);
    shape = [];
  }
  rowsT.dispose();
  return fromOp(
    h,
    shape,
    name,
    inputs,
    (g) => {
      let scale: Handle;
      if (red === 'none') scale = g._h(name);
      else scale = native.unary(11 /* mul scalar */, g._h(name), red === 'mean' ? 1 / Math.max(N, 1) : 1);
      const out = backward(scale);
      if (red !== 'none') native.free(scale);
      return out.map((o, i) => Tensor._wrap(o, inputs[i].shape));
    },
    release,
    saved,
  );
}

/**
 * Cross entropy from logits [N, C] (or [C]) and class indices [N]:
 * mean over the batch of −log softmax(logits)[target], computed in one fused,
 * stable pass. `labelSmoothing` as PyTorch.
 */
export function crossEntropy(logits: Tensor, target: Target, opts: CrossEntropyOptions = {}): Tensor {
  const op = 'crossEntropy';
  opts = checkOpts(op, opts);
  assertTensor(op, logits, 'input');
  logits._check(op);
  if (logits.ndim !== 2 && logits.ndim !== 1) throw new Error(`${op}: expected logits [N, C] or [C], got shape [${logits.shape.join(',')}]`);
  const [N, C] = logits.ndim === 2 ? logits.shape : [1, logits.shape[0]];
  if (C < 1) throw new Error(`${op}: logits have no classes (shape [${logits.shape.join(',')}])`);
  const red = reduction(op, opts.reduction);
  const eps = opts.labelSmoothing ?? 0;
  if (typeof eps !== 'number' || !(eps >= 0 && eps <= 1)) throw new RangeError(`${op}: labelSmoothing must be in [0, 1], got ${describe(eps)}`);
  const { t, owned } = targetTensor(op, target, N);
  const [rows, probs] = native.crossEntropyForward(logits._h(op), t._h(op), N, C, eps);
  const tk = owned ? t : t.detach(); // saved by the node: survives tidy with the graph, freed with it
  const out = reduceRows(rows, N, red, 'CrossEntropyBackward', [logits], (scale) => [native.crossEntropyBackward(probs, tk._h(op), scale, N, C, eps)], () => native.free(probs), [tk]);
  return logits.ndim === 1 && red === 'none' ? out.reshape([]) : out;
}

/** Negative log-likelihood on log-probabilities [N, C] with class indices [N]. */
export function nllLoss(logProbs: Tensor, target: Target, opts: { reduction?: Reduction } = {}): Tensor {
  const op = 'nllLoss';
  opts = checkOpts(op, opts);
  assertTensor(op, logProbs, 'input');
  logProbs._check(op);
  if (logProbs.ndim !== 2) throw new Error(`${op}: expected input [N, C], got shape [${logProbs.shape.join(',')}]`);
  const [N, C] = logProbs.shape;
  const red = reduction(op, opts.reduction);
  const { t, owned } = targetTensor(op, target, N);
  const rows = native.nllForward(logProbs._h(op), t._h(op), N, C);
  const tk = owned ? t : t.detach(); // saved by the node
  return reduceRows(rows, N, red, 'NllLossBackward', [logProbs], (scale) => [native.nllBackward(tk._h(op), scale, N, C)], undefined, [tk]);
}

/** Mean squared error between input and target of the same shape. */
export function mseLoss(input: Tensor, target: Tensor, opts: { reduction?: Reduction } = {}): Tensor {
  const op = 'mseLoss';
  opts = checkOpts(op, opts);
  assertTensor(op, input, 'input');
  assertTensor(op, target, 'target');
  if (!sameShape(input.shape, target.shape))
    throw new Error(`${op}: input shape [${input.shape.join(',')}] and target shape [${target.shape.join(',')}] differ`);
  const red = reduction(op, opts.reduction);
  const d = sub(input, target);
  const sq = mul(d, d);
  if (red === 'none') return sq;
  return red === 'mean' ? mean(sq) : sum(sq);
}
