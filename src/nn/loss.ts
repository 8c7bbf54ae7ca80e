/**
 * Loss modules (PyTorch's torch.nn.modules.loss): `new nn.CrossEntropyLoss({ weight, ignoreIndex,
 * labelSmoothing, reduction })`, then `loss(input, target)` or `loss.forward(input, target)`.
 * The class weight is a buffer named `weight` in the state dict, as PyTorch's. PyTorch's deprecated
 * `size_average` and `reduce` are not taken: use `reduction`.
 */
import { Tensor, describe } from '../tensor';
import { Module } from './module';
import { checkOptions } from '../ops/args';
import { isOptionsObject } from './args';
import * as L from '../ops/loss';
import type { Reduction, Target } from '../ops/loss';

/** Splits `(weight?, options?)`: a Tensor or null first, then an options object; anything else throws. */
function weightedArgs<T extends object>(layer: string, args: unknown[], keys: readonly string[]): { weight: Tensor | null; opts: T } {
  let weight: Tensor | null = null;
  let rest = args;
  if (rest.length && (rest[0] instanceof Tensor || rest[0] === null)) {
    weight = rest[0] as Tensor | null;
    rest = rest.slice(1);
  }
  if (rest.length > 1 || (rest.length === 1 && rest[0] !== undefined && !isOptionsObject(rest[0])))
    throw new TypeError(
      `${layer}: expected (weight?, options?), got ${args.map((a) => describe(a)).join(', ')}; PyTorch's deprecated size_average and reduce are not taken, pass { reduction } (and the other options) in one object`,
    );
  const opts = checkOptions(layer, (rest[0] ?? {}) as T, keys);
  if ('weight' in opts && weight) throw new TypeError(`${layer}: weight is given twice: as first argument and in the options object`);
  const w = (opts as { weight?: Tensor | null }).weight ?? weight;
  if (w != null && !(w instanceof Tensor)) throw new TypeError(`${layer}: weight must be a Tensor [C], got ${describe(w)}`);
  return { weight: w ?? null, opts };
}

function reductionOf(layer: string, r: unknown): Reduction {
  if (r === undefined) return 'mean';
  if (r !== 'mean' && r !== 'sum' && r !== 'none') throw new Error(`${layer}: reduction must be 'mean', 'sum' or 'none', got ${describe(r)}`);
  return r;
}

/** Cross entropy from logits: `new CrossEntropyLoss(weight?, { ignoreIndex, reduction, labelSmoothing })`. */
/** Callable like PyTorch's module: `loss(input, target)` (target as {@link Target}). */
export interface CrossEntropyLoss {
  (input: Tensor, target: Target): Tensor;
}
export class CrossEntropyLoss extends Module {
  readonly weight: Tensor | null;
  readonly ignoreIndex: number;
  readonly reduction: Reduction;
  readonly labelSmoothing: number;
  constructor(opts?: L.CrossEntropyOptions);
  constructor(weight: Tensor | null, opts?: Omit<L.CrossEntropyOptions, 'weight'>);
  constructor(...args: unknown[]) {
    super();
    const { weight, opts } = weightedArgs<L.CrossEntropyOptions>('CrossEntropyLoss', args, ['weight', 'ignoreIndex', 'reduction', 'labelSmoothing']);
    this.weight = this.registerBuffer('weight', weight);
    this.ignoreIndex = opts.ignoreIndex === undefined ? -100 : opts.ignoreIndex;
    this.reduction = reductionOf('CrossEntropyLoss', opts.reduction);
    this.labelSmoothing = opts.labelSmoothing === undefined ? 0 : opts.labelSmoothing;
    // validated once here with the functional form's checks (a 1-class probe would not cover weight's size)
    if (typeof this.ignoreIndex !== 'number' || !Number.isInteger(this.ignoreIndex)) throw new TypeError(`CrossEntropyLoss: ignoreIndex must be an integer, got ${describe(this.ignoreIndex)}`);
    if (typeof this.labelSmoothing !== 'number' || !(this.labelSmoothing >= 0 && this.labelSmoothing <= 1))
      throw new RangeError(`CrossEntropyLoss: labelSmoothing must be in [0, 1], got ${describe(this.labelSmoothing)}`);
  }
  forward(input: Tensor, target: Target): Tensor {
    return L.crossEntropy(input, target, { weight: this.weight, ignoreIndex: this.ignoreIndex, reduction: this.reduction, labelSmoothing: this.labelSmoothing });
  }
  override extraRepr(): string {
    return `reduction=${this.reduction}${this.ignoreIndex !== -100 ? `, ignoreIndex=${this.ignoreIndex}` : ''}${this.labelSmoothing ? `, labelSmoothing=${this.labelSmoothing}` : ''}`;
  }
}

/** Negative log-likelihood on log-probabilities: `new NLLLoss(weight?, { ignoreIndex, reduction })`. */
/** Callable like PyTorch's module: `loss(input, target)` (target as {@link Target}). */
export interface NLLLoss {
  (input: Tensor, target: Target): Tensor;
}
export class NLLLoss extends Module {
  readonly weight: Tensor | null;
  readonly ignoreIndex: number;
  readonly reduction: Reduction;
  constructor(opts?: L.NllLossOptions);
  constructor(weight: Tensor | null, opts?: Omit<L.NllLossOptions, 'weight'>);
  constructor(...args: unknown[]) {
    super();
    const { weight, opts } = weightedArgs<L.NllLossOptions>('NLLLoss', args, ['weight', 'ignoreIndex', 'reduction']);
    this.weight = this.registerBuffer('weight', weight);
    this.ignoreIndex = opts.ignoreIndex === undefined ? -100 : opts.ignoreIndex;
    if (typeof this.ignoreIndex !== 'number' || !Number.isInteger(this.ignoreIndex)) throw new TypeError(`NLLLoss: ignoreIndex must be an integer, got ${describe(this.ignoreIndex)}`);
    this.reduction = reductionOf('NLLLoss', opts.reduction);
  }
  forward(input: Tensor, target: Target): Tensor {
    return L.nllLoss(input, target, { weight: this.weight, ignoreIndex: this.ignoreIndex, reduction: this.reduction });
  }
  override extraRepr(): string {
    return `reduction=${this.reduction}${this.ignoreIndex !== -100 ? `, ignoreIndex=${this.ignoreIndex}` : ''}`;
  }
}

/** The options object of the elementwise losses (no positional arguments: PyTorch's first ones are the deprecated size_average and reduce). */
function elementwiseArgs<T extends { reduction?: Reduction }>(layer: string, args: unknown[], keys: readonly string[]): T & { reduction: Reduction } {
  if (args.length > 1 || (args.length === 1 && args[0] !== undefined && !isOptionsObject(args[0])))
    throw new TypeError(`${layer}: expected (options?), got ${args.map((a) => describe(a)).join(', ')}; PyTorch's deprecated size_average and reduce are not taken, pass { ${keys.join(', ')} }`);
  const opts = checkOptions(layer, args[0] as T | undefined, keys);
  return { ...opts, reduction: reductionOf(layer, opts.reduction) };
}

/** Mean squared error: `new MSELoss({ reduction })`. */
export class MSELoss extends Module {
  readonly reduction: Reduction;
  constructor(opts?: { reduction?: Reduction });
  constructor(...args: unknown[]) {
    super();
    this.reduction = elementwiseArgs('MSELoss', args, ['reduction']).reduction;
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return L.mseLoss(input, target, { reduction: this.reduction });
  }
  override extraRepr(): string {
    return `reduction=${this.reduction}`;
  }
}

/** Mean absolute error: `new L1Loss({ reduction })`. */
export class L1Loss extends Module {
  readonly reduction: Reduction;
  constructor(opts?: { reduction?: Reduction });
  constructor(...args: unknown[]) {
    super();
    this.reduction = elementwiseArgs('L1Loss', args, ['reduction']).reduction;
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return L.l1Loss(input, target, { reduction: this.reduction });
  }
  override extraRepr(): string {
    return `reduction=${this.reduction}`;
  }
}

/** Smooth L1: `new SmoothL1Loss({ reduction, beta })` (beta default 1). */
export class SmoothL1Loss extends Module {
  readonly reduction: Reduction;
  readonly beta: number;
  constructor(opts?: { reduction?: Reduction; beta?: number });
  constructor(...args: unknown[]) {
    super();
    const o = elementwiseArgs<{ reduction?: Reduction; beta?: number }>('SmoothL1Loss', args, ['reduction', 'beta']);
    this.reduction = o.reduction;
    this.beta = o.beta === undefined ? 1 : o.beta;
    if (typeof this.beta !== 'number' || !Number.isFinite(this.beta) || this.beta < 0) throw new RangeError(`SmoothL1Loss: beta must be a finite number >= 0, got ${describe(this.beta)}`);
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return L.smoothL1Loss(input, target, { reduction: this.reduction, beta: this.beta });
  }
  override extraRepr(): string {
    return `reduction=${this.reduction}, beta=${this.beta}`;
  }
}

/** Huber: `new HuberLoss({ reduction, delta })` (delta default 1). */
export class HuberLoss extends Module {
  readonly reduction: Reduction;
  readonly delta: number;
  constructor(opts?: { reduction?: Reduction; delta?: number });
  constructor(...args: unknown[]) {
    super();
    const o = elementwiseArgs<{ reduction?: Reduction; delta?: number }>('HuberLoss', args, ['reduction', 'delta']);
    this.reduction = o.reduction;
    this.delta = o.delta === undefined ? 1 : o.delta;
    if (typeof this.delta !== 'number' || !Number.isFinite(this.delta) || this.delta <= 0) throw new RangeError(`HuberLoss: delta must be a finite number > 0, got ${describe(this.delta)}`);
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return L.huberLoss(input, target, { reduction: this.reduction, delta: this.delta });
  }
  override extraRepr(): string {
    return `reduction=${this.reduction}, delta=${this.delta}`;
  }
}
