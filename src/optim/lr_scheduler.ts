/**
 * Learning-rate schedulers, as PyTorch 1.13's `torch.optim.lr_scheduler`.
 *
 * Chainable: each `step()` computes the new lr from the group's *current* lr
 * (PyTorch's recursive "chainable form"), so two schedulers on one optimizer
 * compose — two StepLRs multiply their decays — and a lr assigned to
 * `paramGroups[i].lr` by hand is carried on. Call `optimizer.step()` before
 * `scheduler.step()`, once per epoch (or per batch for OneCycleLR).
 *
 * `stateDict()` holds the progress (`lastEpoch`, `baseLrs`, `lastLr`, and the
 * plateau counters); the settings (stepSize, gamma, tMax, …) are constructor
 * arguments. As in PyTorch, loading a scheduler's state leaves the optimizer's
 * lr alone: restore the optimizer's state dict too (it holds each group's lr).
 */
import { Tensor, describe } from '../tensor';
import { checkOptions } from '../ops/args';
import { Optimizer, checkBool, checkNumber, type GroupOptions, type ParamGroup, type Where } from './optimizer';

type AnyOptimizer = Optimizer<GroupOptions>;

/** What `LRScheduler.stateDict()` returns. */
export interface LRSchedulerStateDict {
  lastEpoch: number;
  baseLrs: number[];
  lastLr: number[];
}

function checkOptimizer(name: string, optimizer: unknown): AnyOptimizer {
  if (!(optimizer instanceof Optimizer)) throw new TypeError(`${name}: expected an optimizer (optim.SGD, optim.Adam, …), got ${describe(optimizer)}`);
  return optimizer as AnyOptimizer;
}

/** Validates a scheduler's options object, with an example of the expected form. */
function schedulerOptions<T extends object>(name: string, opts: unknown, allowed: readonly string[], example: string, required: readonly string[] = []): T {
  if (opts === undefined && required.length) throw new TypeError(`${name}: options are required, e.g. ${example}`);
  if (opts !== undefined && opts !== null && (typeof opts !== 'object' || Array.isArray(opts)))
    throw new TypeError(`${name}: options must be an object, e.g. ${example}, got ${describe(opts)} (blasnet takes PyTorch's arguments after the optimizer as one options object)`);
  if (opts && typeof opts === 'object') {
    const keys = Object.keys(opts);
    if (keys.includes('lastEpoch') || keys.includes('last_epoch'))
      throw new Error(`${name}: option '${keys.includes('lastEpoch') ? 'lastEpoch' : 'last_epoch'}' is not supported: resume a schedule with scheduler.loadStateDict(saved) (and the optimizer's loadStateDict)`);
    if (keys.includes('verbose')) throw new Error(`${name}: option 'verbose' is not supported: blasnet schedulers do not print; read getLastLr() after step()`);
  }
  const o = checkOptions(name, opts as T, allowed);
  for (const k of required) if ((o as Record<string, unknown>)[k] === undefined) throw new TypeError(`${name}: ${k} is required, e.g. ${example}`);
  return o;
}

function noArgs(op: string, args: unknown[], hint: string): void {
  const given = args.find((a) => a !== undefined);
  if (given !== undefined) throw new TypeError(`${op}: takes no arguments, got ${describe(given)}${hint}`);
}

function positiveInt(name: string, key: string, v: unknown): number {
  checkNumber({ op: name, prefix: '' }, { [key]: v }, key, 1, Infinity, { integer: true });
  return v as number;
}

function groupLrs(op: string, optimizer: AnyOptimizer): number[] {
  return optimizer.paramGroups.map((g, i) => {
    if (typeof g.lr !== 'number' || Number.isNaN(g.lr)) throw new TypeError(`${op}: paramGroups[${i}].lr must be a number, got ${describe(g.lr)}`);
    return g.lr;
  });
}

/** Base of the epoch-indexed schedulers (PyTorch's `_LRScheduler`). */
export abstract class LRScheduler {
  /** Steps taken so far (0 after construction). */
  lastEpoch = -1;
  /** Each group's `initialLr` when the scheduler was made. */
  readonly baseLrs: number[];
  /** @internal */
  protected lastLr: number[] = [];
  /** The optimizer whose groups' lr this scheduler sets. */
  readonly optimizer: AnyOptimizer;

  constructor(optimizer: Optimizer<GroupOptions>, protected readonly name: string) {
    this.optimizer = checkOptimizer(name, optimizer);
    groupLrs(name, this.optimizer);
    // as PyTorch: a group's initialLr is set once, by the first scheduler
    for (const g of this.optimizer.paramGroups) if (g.initialLr === undefined) g.initialLr = g.lr;
    this.baseLrs = this.optimizer.paramGroups.map((g, i) => {
      checkNumber({ op: name, prefix: `paramGroups[${i}].` }, g as Record<string, unknown>, 'initialLr', 0);
      return g.initialLr as number;
    });
  }

  /** @internal Sets lastEpoch to 0 and applies the first lr (subclass constructors call it last). */
  _initialStep(): void {
    this._advance(undefined);
  }

  /** The chainable lr of each group for `lastEpoch`, from the groups' current lr. */
  protected abstract getLr(): number[];
  /** The closed-form lr for `lastEpoch` (from baseLrs), where one exists. */
  protected closedFormLr(): number[] | null {
    return null;
  }

  /** Groups added by `addParamGroup` after this scheduler was made join it from their lr. */
  private syncGroups(): void {
    const groups = this.optimizer.paramGroups;
    for (let i = this.baseLrs.length; i < groups.length; i++) {
      if (groups[i].initialLr === undefined) groups[i].initialLr = groups[i].lr;
      this.baseLrs.push(groups[i].initialLr as number);
    }
  }

  /** @internal One step; with `epoch`, jumps there (closed form when there is one), as PyTorch's deprecated step(epoch). */
  _advance(epoch: number | undefined): void {
    const op = `${this.name}.step`;
    groupLrs(op, this.optimizer);
    this.syncGroups();
    const prev = this.lastEpoch;
    let values: number[];
    try {
      if (epoch === undefined) {
        this.lastEpoch++;
        values = this.getLr();
      } else {
        this.lastEpoch = epoch;
        values = this.closedFormLr() ?? this.getLr();
      }
    } catch (e) {
      this.lastEpoch = prev;
      throw e;
    }
    this.optimizer.paramGroups.forEach((g, i) => (g.lr = values[i]));
    this.lastLr = this.optimizer.paramGroups.map((g) => g.lr);
  }

  /** Advances one step and sets each group's lr. */
  step(...args: unknown[]): void {
    noArgs(`${this.name}.step`, args, " (PyTorch's step(epoch) is deprecated; call step() once per epoch)");
    this._advance(undefined);
  }

  /** The learning rates this scheduler set last, one per group. */
  getLastLr(): number[] {
    return this.lastLr.slice();
  }

  /** The progress: lastEpoch, baseLrs and lastLr. */
  stateDict(): LRSchedulerStateDict {
    return { lastEpoch: this.lastEpoch, baseLrs: this.baseLrs.slice(), lastLr: this.lastLr.slice() };
  }

  /**
   * Restores the progress (all or nothing). The optimizer's lr is not changed:
   * load the optimizer's state dict too, as in PyTorch. A dict with only
   * `lastEpoch` (blasnet 0.1) keeps this scheduler's baseLrs.
   */
  loadStateDict(sd: LRSchedulerStateDict): void {
    this._checkState(sd, `${this.name}.loadStateDict`)();
  }

  /** @internal Validates a state dict and returns what applies it (so composites can check every part first). */
  _checkState(sd: LRSchedulerStateDict, op: string): () => void {
    if (sd === null || typeof sd !== 'object' || Array.isArray(sd)) throw new TypeError(`${op}: expected { lastEpoch, baseLrs, lastLr } as stateDict() returns, got ${describe(sd)}`);
    checkOptions(op, sd, ['lastEpoch', 'baseLrs', 'lastLr'], 'the state dict');
    // -1: a scheduler of a SequentialLR that has not started yet
    checkNumber({ op, prefix: '' }, sd as unknown as Record<string, unknown>, 'lastEpoch', -1, Infinity, { integer: true });
    const n = this.optimizer.paramGroups.length;
    for (const k of ['baseLrs', 'lastLr'] as const) {
      const v = sd[k] as unknown;
      if (v === undefined) continue;
      if (!Array.isArray(v) || v.length !== n || v.some((x) => typeof x !== 'number' || !(x >= 0)))
        throw new TypeError(`${op}: ${k} must be ${n} non-negative numbers (one per parameter group), got ${describe(v)}`);
    }
    return () => {
      this.lastEpoch = sd.lastEpoch;
      if (sd.baseLrs) this.baseLrs.splice(0, this.baseLrs.length, ...sd.baseLrs);
      this.lastLr = sd.lastLr ? sd.lastLr.slice() : this.optimizer.paramGroups.map((g) => g.lr);
    };
  }

  /** @internal The groups, for subclasses. */
  protected get groups(): ParamGroup[] {
    return this.optimizer.paramGroups;
  }
}

// ---------------------------------------------------------------------------

export interface StepLROptions {
  /** Period of the decay, in epochs. */
  stepSize: number;
  /** Multiplicative decay (default 0.1). */
  gamma?: number;
}

/** Multiplies the lr by gamma every stepSize epochs: lr = base · gamma^⌊epoch / stepSize⌋. */
export class StepLR extends LRScheduler {
  readonly stepSize: number;
  readonly gamma: number;
  constructor(optimizer: Optimizer<GroupOptions>, opts: StepLROptions) {
    super(optimizer, 'StepLR');
    const o = schedulerOptions<StepLROptions>('StepLR', opts, ['stepSize', 'gamma'], '{ stepSize: 30, gamma: 0.1 }', ['stepSize']);
    this.stepSize = positiveInt('StepLR', 'stepSize', o.stepSize);
    checkRangeOpt('StepLR', o, 'gamma', 0.1, 0);
    this.gamma = o.gamma ?? 0.1;
    this._initialStep();
  }
  protected getLr(): number[] {
    if (this.lastEpoch === 0 || this.lastEpoch % this.stepSize !== 0) return this.groups.map((g) => g.lr);
    return this.groups.map((g) => g.lr * this.gamma);
  }
  protected override closedFormLr(): number[] {
    return this.baseLrs.map((b) => b * this.gamma ** Math.floor(this.lastEpoch / this.stepSize));
  }
}

function checkRangeOpt(name: string, o: object, key: string, dflt: number, lo: number, hi = Infinity, extra: { loOpen?: boolean; hiOpen?: boolean; integer?: boolean } = {}): number {
  const v = (o as Record<string, unknown>)[key] ?? dflt;
  checkNumber({ op: name, prefix: '' }, { [key]: v }, key, lo, hi, extra);
  return v as number;
}

export interface MultiStepLROptions {
  /** Epochs at which the lr is multiplied by gamma (a repeated epoch multiplies once per repeat, as PyTorch). */
  milestones: number[];
  /** Multiplicative decay (default 0.1). */
  gamma?: number;
}

/** Multiplies the lr by gamma at each milestone epoch. */
export class MultiStepLR extends LRScheduler {
  readonly milestones: readonly number[];
  readonly gamma: number;
  private readonly counts = new Map<number, number>();
  constructor(optimizer: Optimizer<GroupOptions>, opts: MultiStepLROptions) {
    super(optimizer, 'MultiStepLR');
    const o = schedulerOptions<MultiStepLROptions>('MultiStepLR', opts, ['milestones', 'gamma'], '{ milestones: [30, 80], gamma: 0.1 }', ['milestones']);
    if (!Array.isArray(o.milestones)) throw new TypeError(`MultiStepLR: milestones must be an array of epochs, got ${describe(o.milestones)}`);
    o.milestones.forEach((m, i) => checkNumber({ op: 'MultiStepLR', prefix: '' }, { [`milestones[${i}]`]: m }, `milestones[${i}]`, 0, Infinity, { integer: true }));
    this.milestones = Object.freeze([...o.milestones].sort((a, b) => a - b));
    for (const m of this.milestones) this.counts.set(m, (this.counts.get(m) ?? 0) + 1);
    this.gamma = checkRangeOpt('MultiStepLR', o, 'gamma', 0.1, 0);
    this._initialStep();
  }
  protected getLr(): number[] {
    const c = this.counts.get(this.lastEpoch);
    if (c === undefined) return this.groups.map((g) => g.lr);
    return this.groups.map((g) => g.lr * this.gamma ** c);
  }
  protected override closedFormLr(): number[] {
    const passed = this.milestones.filter((m) => m <= this.lastEpoch).length;
    return this.baseLrs.map((b) => b * this.gamma ** passed);
  }
}

export interface ExponentialLROptions {
  /** Multiplicative decay per epoch. */
  gamma: number;
}

/** Multiplies the lr by gamma every epoch: lr = base · gamma^epoch. */
export class ExponentialLR extends LRScheduler {
  readonly gamma: number;
  constructor(optimizer: Optimizer<GroupOptions>, opts: ExponentialLROptions) {
    super(optimizer, 'ExponentialLR');
    const o = schedulerOptions<ExponentialLROptions>('ExponentialLR', opts, ['gamma'], '{ gamma: 0.9 }', ['gamma']);
    this.gamma = checkRangeOpt('ExponentialLR', o, 'gamma', 0, 0);
    this._initialStep();
  }
  protected getLr(): number[] {
    if (this.lastEpoch === 0) return this.groups.map((g) => g.lr);
    return this.groups.map((g) => g.lr * this.gamma);
  }
  protected override closedFormLr(): number[] {
    return this.baseLrs.map((b) => b * this.gamma ** this.lastEpoch);
  }
}

export interface LinearLROptions {
  /** Factor at epoch 0, in (0, 1] (default 1/3). */
  startFactor?: number;
  /** Factor from totalIters on, in [0, 1] (default 1). */
  endFactor?: number;
  /** Epochs of the linear ramp (default 5). */
  totalIters?: number;
}

/** Scales the lr by a factor moving linearly from startFactor to endFactor over totalIters epochs (warm-up). */
export class LinearLR extends LRScheduler {
  readonly startFactor: number;
  readonly endFactor: number;
  readonly totalIters: number;
  constructor(optimizer: Optimizer<GroupOptions>, opts: LinearLROptions = {}) {
    super(optimizer, 'LinearLR');
    const o = schedulerOptions<LinearLROptions>('LinearLR', opts, ['startFactor', 'endFactor', 'totalIters'], '{ startFactor: 0.1, totalIters: 5 }');
    // PyTorch allows 0, which divides by zero at the first step
    this.startFactor = checkRangeOpt('LinearLR', o, 'startFactor', 1 / 3, 0, 1, { loOpen: true });
    this.endFactor = checkRangeOpt('LinearLR', o, 'endFactor', 1, 0, 1);
    this.totalIters = positiveInt('LinearLR', 'totalIters', o.totalIters ?? 5);
    this._initialStep();
  }
  protected getLr(): number[] {
    const e = this.lastEpoch, s = this.startFactor, f = this.endFactor, T = this.totalIters;
    if (e === 0) return this.groups.map((g) => g.lr * s);
    if (e > T) return this.groups.map((g) => g.lr);
    return this.groups.map((g) => g.lr * (1 + (f - s) / (T * s + (e - 1) * (f - s))));
  }
  protected override closedFormLr(): number[] {
    const e = this.lastEpoch, s = this.startFactor, f = this.endFactor, T = this.totalIters;
    return this.baseLrs.map((b) => b * (s + ((f - s) * Math.min(T, e)) / T));
  }
}

export interface CosineAnnealingLROptions {
  /** Epochs of the half cosine. */
  tMax: number;
  /** The lr at tMax (default 0). */
  etaMin?: number;
}

/** lr = etaMin + (base − etaMin)·(1 + cos(π·epoch/tMax))/2, in PyTorch's recursive (chainable) form. */
export class CosineAnnealingLR extends LRScheduler {
  readonly tMax: number;
  readonly etaMin: number;
  constructor(optimizer: Optimizer<GroupOptions>, opts: CosineAnnealingLROptions) {
    super(optimizer, 'CosineAnnealingLR');
    const o = schedulerOptions<CosineAnnealingLROptions>('CosineAnnealingLR', opts, ['tMax', 'etaMin'], '{ tMax: 100, etaMin: 0 }', ['tMax']);
    this.tMax = positiveInt('CosineAnnealingLR', 'tMax', o.tMax);
    this.etaMin = checkRangeOpt('CosineAnnealingLR', o, 'etaMin', 0, 0);
    this._initialStep();
  }
  protected getLr(): number[] {
    const e = this.lastEpoch, T = this.tMax, m = this.etaMin;
    if (e === 0) return this.groups.map((g) => g.lr);
    if ((e - 1 - T) % (2 * T) === 0) return this.groups.map((g, i) => g.lr + ((this.baseLrs[i] - m) * (1 - Math.cos(Math.PI / T))) / 2);
    return this.groups.map((g) => ((1 + Math.cos((Math.PI * e) / T)) / (1 + Math.cos((Math.PI * (e - 1)) / T))) * (g.lr - m) + m);
  }
  protected override closedFormLr(): number[] {
    const e = this.lastEpoch, T = this.tMax, m = this.etaMin;
    return this.baseLrs.map((b) => m + ((b - m) * (1 + Math.cos((Math.PI * e) / T))) / 2);
  }
}

export interface ConstantLROptions {
  /** Factor applied until totalIters, in [0, 1] (default 1/3). */
  factor?: number;
  /** Epochs with the factor applied (default 5). */
  totalIters?: number;
}

/** Scales the lr by `factor` for the first totalIters epochs, then restores it. */
export class ConstantLR extends LRScheduler {
  readonly factor: number;
  readonly totalIters: number;
  constructor(optimizer: Optimizer<GroupOptions>, opts: ConstantLROptions = {}) {
    super(optimizer, 'ConstantLR');
    const o = schedulerOptions<ConstantLROptions>('ConstantLR', opts, ['factor', 'totalIters'], '{ factor: 0.5, totalIters: 4 }');
    this.factor = checkRangeOpt('ConstantLR', o, 'factor', 1 / 3, 0, 1);
    this.totalIters = checkRangeOpt('ConstantLR', o, 'totalIters', 5, 0, Infinity, { integer: true });
    this._initialStep();
  }
  protected getLr(): number[] {
    const e = this.lastEpoch;
    if (e === 0) return this.groups.map((g) => g.lr * this.factor);
    if (e !== this.totalIters) return this.groups.map((g) => g.lr);
    return this.groups.map((g) => g.lr * (1.0 / this.factor));
  }
  protected override closedFormLr(): number[] {
    return this.baseLrs.map((b) => b * (this.factor + (this.lastEpoch >= this.totalIters ? 1 : 0) * (1 - this.factor)));
  }
}

export interface PolynomialLROptions {
  /** Epochs of the decay to 0 (default 5). */
  totalIters?: number;
  /** Power of the polynomial (default 1). */
  power?: number;
}

/** lr = base · (1 − min(epoch, totalIters)/totalIters)^power, in PyTorch's chainable form. */
export class PolynomialLR extends LRScheduler {
  readonly totalIters: number;
  readonly power: number;
  constructor(optimizer: Optimizer<GroupOptions>, opts: PolynomialLROptions = {}) {
    super(optimizer, 'PolynomialLR');
    const o = schedulerOptions<PolynomialLROptions>('PolynomialLR', opts, ['totalIters', 'power'], '{ totalIters: 100, power: 2 }');
    this.totalIters = positiveInt('PolynomialLR', 'totalIters', o.totalIters ?? 5);
    this.power = checkRangeOpt('PolynomialLR', o, 'power', 1, 0);
    this._initialStep();
  }
  protected getLr(): number[] {
    const e = this.lastEpoch, T = this.totalIters;
    if (e === 0 || e > T) return this.groups.map((g) => g.lr);
    const f = ((1.0 - e / T) / (1.0 - (e - 1) / T)) ** this.power;
    return this.groups.map((g) => g.lr * f);
  }
  protected override closedFormLr(): number[] {
    return this.baseLrs.map((b) => b * (1.0 - Math.min(this.totalIters, this.lastEpoch) / this.totalIters) ** this.power);
  }
}

type LrLambda = (epoch: number) => number;

function lambdas(name: string, v: unknown, n: number): LrLambda[] {
  const list = Array.isArray(v) ? v : new Array(n).fill(v);
  if (list.length !== n) throw new RangeError(`${name}: expected ${n} lrLambda functions (one per parameter group), got ${list.length}`);
  list.forEach((f, i) => {
    if (typeof f !== 'function') throw new TypeError(`${name}: lrLambda${Array.isArray(v) ? `[${i}]` : ''} must be a function (epoch) => factor, got ${describe(f)}`);
  });
  return list as LrLambda[];
}

function factorOf(op: string, f: LrLambda, epoch: number, i: number): number {
  const v = f(epoch);
  if (typeof v !== 'number' || !(v >= 0) || v === Infinity)
    throw new RangeError(`${op}: lrLambda of group ${i} returned ${describe(v)} at epoch ${epoch} (expected a finite number >= 0)`);
  return v;
}

export interface LambdaLROptions {
  /** factor(epoch), one for all groups or one per group: lr = base · factor(epoch). */
  lrLambda: LrLambda | LrLambda[];
}

/** lr = base · lrLambda(epoch) (warm-ups and custom schedules), as PyTorch's LambdaLR (not chainable). */
export class LambdaLR extends LRScheduler {
  private readonly fns: LrLambda[];
  constructor(optimizer: Optimizer<GroupOptions>, opts: LambdaLROptions) {
    super(optimizer, 'LambdaLR');
    const o = schedulerOptions<LambdaLROptions>('LambdaLR', opts, ['lrLambda'], '{ lrLambda: (epoch) => 0.95 ** epoch }', ['lrLambda']);
    this.fns = lambdas('LambdaLR', o.lrLambda, this.groups.length);
    this._initialStep();
  }
  protected getLr(): number[] {
    return this.baseLrs.map((b, i) => b * factorOf('LambdaLR.step', this.fns[i] ?? this.fns[0], this.lastEpoch, i));
  }
}

export interface MultiplicativeLROptions {
  /** factor(epoch), one for all groups or one per group: lr ← lr · factor(epoch) each step. */
  lrLambda: LrLambda | LrLambda[];
}

/** Multiplies each group's lr by lrLambda(epoch) every step (from the first), as PyTorch's MultiplicativeLR. */
export class MultiplicativeLR extends LRScheduler {
  private readonly fns: LrLambda[];
  constructor(optimizer: Optimizer<GroupOptions>, opts: MultiplicativeLROptions) {
    super(optimizer, 'MultiplicativeLR');
    const o = schedulerOptions<MultiplicativeLROptions>('MultiplicativeLR', opts, ['lrLambda'], '{ lrLambda: () => 0.95 }', ['lrLambda']);
    this.fns = lambdas('MultiplicativeLR', o.lrLambda, this.groups.length);
    this._initialStep();
  }
  protected getLr(): number[] {
    if (this.lastEpoch === 0) return this.groups.map((g) => g.lr);
    return this.groups.map((g, i) => g.lr * factorOf('MultiplicativeLR.step', this.fns[i] ?? this.fns[0], this.lastEpoch, i));
  }
}

// ---------------------------------------------------------------------------

export interface OneCycleOptions {
  /** Peak lr, one for all groups or one per group. */
  maxLr: number | number[];
  /** Total steps, or give epochs and stepsPerEpoch. */
  totalSteps?: number;
  epochs?: number;
  stepsPerEpoch?: number;
  /** Fraction of the cycle spent raising the lr (default 0.3). */
  pctStart?: number;
  annealStrategy?: 'cos' | 'linear';
  /** Cycle momentum (SGD, RMSprop) or beta1 (Adam) inversely to the lr (default true). */
  cycleMomentum?: boolean;
  baseMomentum?: number | number[];
  maxMomentum?: number | number[];
  /** initialLr = maxLr / divFactor (default 25). */
  divFactor?: number;
  /** minLr = initialLr / finalDivFactor (default 1e4). */
  finalDivFactor?: number;
  /** Three phases as in the paper (up, down to initialLr, then to minLr) instead of fastai's two (default false). */
  threePhase?: boolean;
}

interface Phase {
  end: number;
  lr: [keyof ParamGroup, keyof ParamGroup];
  m: [keyof ParamGroup, keyof ParamGroup];
}

/** The 1cycle policy (Smith & Topin), stepped once per batch, as PyTorch's OneCycleLR (not chainable). */
export class OneCycleLR extends LRScheduler {
  readonly totalSteps: number;
  private readonly phases: Phase[];
  private readonly cos: boolean;
  private readonly cycleMomentum: boolean;
  private readonly useBeta1: boolean;
  constructor(optimizer: Optimizer<GroupOptions>, opts: OneCycleOptions) {
    super(optimizer, 'OneCycleLR');
    const N = 'OneCycleLR';
    const o = schedulerOptions<OneCycleOptions>(N, opts,
      ['maxLr', 'totalSteps', 'epochs', 'stepsPerEpoch', 'pctStart', 'annealStrategy', 'cycleMomentum', 'baseMomentum', 'maxMomentum', 'divFactor', 'finalDivFactor', 'threePhase'],
      '{ maxLr: 0.1, totalSteps: 1000 }', ['maxLr']);
    if (o.totalSteps !== undefined) this.totalSteps = positiveInt(N, 'totalSteps', o.totalSteps);
    else if (o.epochs !== undefined || o.stepsPerEpoch !== undefined) {
      if (o.epochs === undefined || o.stepsPerEpoch === undefined) throw new RangeError(`${N}: give totalSteps, or both epochs and stepsPerEpoch`);
      this.totalSteps = positiveInt(N, 'epochs', o.epochs) * positiveInt(N, 'stepsPerEpoch', o.stepsPerEpoch);
    } else throw new RangeError(`${N}: give totalSteps, or epochs and stepsPerEpoch (positive integers)`);
    const pct = checkRangeOpt(N, o, 'pctStart', 0.3, 0, 1);
    const strategy = o.annealStrategy ?? 'cos';
    if (strategy !== 'cos' && strategy !== 'linear') throw new RangeError(`${N}: annealStrategy must be 'cos' or 'linear', got ${describe(strategy)}`);
    this.cos = strategy === 'cos';
    const div = checkRangeOpt(N, o, 'divFactor', 25, 0, Infinity, { loOpen: true });
    const finalDiv = checkRangeOpt(N, o, 'finalDivFactor', 1e4, 0, Infinity, { loOpen: true });
    const flags = { cycleMomentum: o.cycleMomentum ?? true, threePhase: o.threePhase ?? false };
    checkBool({ op: N, prefix: '' }, flags, 'cycleMomentum');
    checkBool({ op: N, prefix: '' }, flags, 'threePhase');
    this.cycleMomentum = flags.cycleMomentum;
    const T = this.totalSteps;
    this.phases = flags.threePhase
      ? [
          { end: pct * T - 1, lr: ['initialLr', 'maxLr'], m: ['maxMomentum', 'baseMomentum'] },
          { end: 2 * pct * T - 2, lr: ['maxLr', 'initialLr'], m: ['baseMomentum', 'maxMomentum'] },
          { end: T - 1, lr: ['initialLr', 'minLr'], m: ['maxMomentum', 'maxMomentum'] },
        ]
      : [
          { end: pct * T - 1, lr: ['initialLr', 'maxLr'], m: ['maxMomentum', 'baseMomentum'] },
          { end: T - 1, lr: ['maxLr', 'minLr'], m: ['baseMomentum', 'maxMomentum'] },
        ];
    const groups = this.groups;
    const perGroup = (key: string, v: unknown, dflt: number): number[] => {
      const arr = v === undefined ? groups.map(() => dflt) : Array.isArray(v) ? v : groups.map(() => v);
      if (arr.length !== groups.length) throw new RangeError(`${N}: expected ${groups.length} values for ${key} (one per parameter group), got ${arr.length}`);
      arr.forEach((x, i) => checkNumber({ op: N, prefix: '' }, { [Array.isArray(v) ? `${key}[${i}]` : key]: x }, Array.isArray(v) ? `${key}[${i}]` : key, 0));
      return arr as number[];
    };
    const maxLrs = perGroup('maxLr', o.maxLr, NaN);
    const defaults = optimizer.defaults as Record<string, unknown>;
    this.useBeta1 = 'betas' in defaults;
    let maxM: number[] = [], baseM: number[] = [];
    if (this.cycleMomentum) {
      if (!('momentum' in defaults) && !this.useBeta1)
        throw new Error(`${N}: cycleMomentum needs an optimizer with momentum or betas (${describe(optimizer)} has neither); pass cycleMomentum: false`);
      maxM = perGroup('maxMomentum', o.maxMomentum, 0.95);
      baseM = perGroup('baseMomentum', o.baseMomentum, 0.85);
    }
    groups.forEach((g, i) => {
      g.initialLr = maxLrs[i] / div;
      g.maxLr = maxLrs[i];
      g.minLr = g.initialLr / finalDiv;
      this.baseLrs[i] = g.initialLr;
      if (this.cycleMomentum) {
        const rec = g as Record<string, unknown>;
        if (this.useBeta1) rec.betas = [maxM[i], (rec.betas as number[])[1]];
        else rec.momentum = maxM[i];
        g.maxMomentum = maxM[i];
        g.baseMomentum = baseM[i];
      }
    });
    this._initialStep();
  }
  private anneal(start: number, end: number, pct: number): number {
    return this.cos ? end + ((start - end) / 2.0) * (Math.cos(Math.PI * pct) + 1) : (end - start) * pct + start;
  }
  protected getLr(): number[] {
    const step = this.lastEpoch;
    if (step > this.totalSteps)
      throw new Error(`OneCycleLR.step: tried to step ${step + 1} times, more than totalSteps ${this.totalSteps}`);
    return this.groups.map((g, gi) => {
      const need = (k: keyof ParamGroup): number => {
        const v = g[k];
        if (typeof v !== 'number') throw new TypeError(`OneCycleLR.step: paramGroups[${gi}].${String(k)} must be a number, got ${describe(v)}`);
        return v;
      };
      let start = 0, lr = NaN;
      for (let i = 0; i < this.phases.length; i++) {
        const ph = this.phases[i];
        if (step <= ph.end || i === this.phases.length - 1) {
          const pct = (step - start) / (ph.end - start);
          lr = this.anneal(need(ph.lr[0]), need(ph.lr[1]), pct);
          if (this.cycleMomentum) {
            const m = this.anneal(need(ph.m[0]), need(ph.m[1]), pct);
            const rec = g as Record<string, unknown>;
            if (this.useBeta1) rec.betas = [m, (rec.betas as number[])[1]];
            else rec.momentum = m;
          }
          break;
        }
        start = ph.end;
      }
      return lr;
    });
  }
}

// ---------------------------------------------------------------------------

export interface SequentialLROptions {
  /** The schedulers, each on this optimizer, run one after another. */
  schedulers: LRScheduler[];
  /** The epochs at which the next scheduler takes over (one fewer than schedulers). */
  milestones: number[];
}

/** What `SequentialLR.stateDict()` returns. */
export interface SequentialLRStateDict extends LRSchedulerStateDict {
  schedulers: LRSchedulerStateDict[];
}

/**
 * Runs schedulers one after another, switching at the milestones (e.g. a
 * LinearLR warm-up, then cosine decay). At a milestone the next scheduler
 * starts from its closed form at epoch 0, as PyTorch's.
 */
export class SequentialLR extends LRScheduler {
  readonly schedulers: readonly LRScheduler[];
  readonly milestones: readonly number[];
  constructor(optimizer: Optimizer<GroupOptions>, opts: SequentialLROptions) {
    super(optimizer, 'SequentialLR');
    const N = 'SequentialLR';
    const o = schedulerOptions<SequentialLROptions>(N, opts, ['schedulers', 'milestones'], '{ schedulers: [warmup, decay], milestones: [5] }', ['schedulers', 'milestones']);
    if (!Array.isArray(o.schedulers) || o.schedulers.length === 0) throw new TypeError(`${N}: schedulers must be a non-empty array of schedulers, got ${describe(o.schedulers)}`);
    o.schedulers.forEach((s, i) => {
      if (s instanceof ReduceLROnPlateau) throw new TypeError(`${N}: schedulers[${i}] is a ReduceLROnPlateau, which steps on a metric and cannot be sequenced`);
      if (!(s instanceof LRScheduler)) throw new TypeError(`${N}: schedulers[${i}] is not a scheduler, got ${describe(s)}`);
      if (s.optimizer !== this.optimizer) throw new Error(`${N}: schedulers[${i}] belongs to another optimizer`);
      if (s === this) throw new Error(`${N}: schedulers[${i}] is the SequentialLR itself`);
    });
    if (new Set(o.schedulers).size !== o.schedulers.length) throw new Error(`${N}: a scheduler appears twice in schedulers`);
    if (!Array.isArray(o.milestones) || o.milestones.length !== o.schedulers.length - 1)
      throw new RangeError(`${N}: expected ${o.schedulers.length - 1} milestones (one fewer than the ${o.schedulers.length} schedulers), got ${describe(o.milestones)}`);
    o.milestones.forEach((m, i) => {
      checkNumber({ op: N, prefix: '' }, { [`milestones[${i}]`]: m }, `milestones[${i}]`, 1, Infinity, { integer: true });
      if (i > 0 && m <= o.milestones[i - 1]) throw new RangeError(`${N}: milestones must increase, got [${o.milestones.join(', ')}]`);
    });
    this.schedulers = Object.freeze(o.schedulers.slice());
    this.milestones = Object.freeze(o.milestones.slice());
    // As PyTorch: back to the initial lrs, undo the schedulers' own first step, then start the first one.
    this.lastEpoch = 0;
    for (const g of this.groups) g.lr = g.initialLr as number;
    for (const s of this.schedulers) s.lastEpoch -= 1;
    this.schedulers[0]._initialStep();
    this.lastLr = this.schedulers[0].getLastLr();
  }
  protected getLr(): number[] {
    return this.groups.map((g) => g.lr);
  }
  override step(...args: unknown[]): void {
    noArgs('SequentialLR.step', args, '');
    this.lastEpoch++;
    let idx = 0;
    while (idx < this.milestones.length && this.milestones[idx] <= this.lastEpoch) idx++;
    const s = this.schedulers[idx];
    try {
      if (idx > 0 && this.milestones[idx - 1] === this.lastEpoch) s._advance(0);
      else s._advance(undefined);
    } catch (e) {
      this.lastEpoch--;
      throw e;
    }
    this.lastLr = s.getLastLr();
  }
  /** @internal */
  override _advance(epoch: number | undefined): void {
    if (epoch !== undefined) throw new Error('SequentialLR cannot be jumped to an epoch (it is not itself sequenced)');
    this.step();
  }
  override stateDict(): SequentialLRStateDict {
    return { ...super.stateDict(), schedulers: this.schedulers.map((s) => s.stateDict()) };
  }
  override loadStateDict(sd: SequentialLRStateDict): void {
    const op = 'SequentialLR.loadStateDict';
    if (sd === null || typeof sd !== 'object' || !Array.isArray(sd.schedulers) || sd.schedulers.length !== this.schedulers.length)
      throw new TypeError(`${op}: expected { lastEpoch, baseLrs, lastLr, schedulers: [${this.schedulers.length} state dicts] }, got ${describe(sd)}`);
    const { schedulers, ...own } = sd;
    // every part is checked before any changes
    const apply = [this._checkState(own, op), ...schedulers.map((s, i) => this.schedulers[i]._checkState(s, `${op}: schedulers[${i}]`))];
    for (const f of apply) f();
  }
}

/** What `ChainedScheduler.stateDict()` returns. */
export interface ChainedSchedulerStateDict {
  schedulers: LRSchedulerStateDict[];
}

/** Steps several chainable schedulers together with one call, as PyTorch's ChainedScheduler. */
export class ChainedScheduler {
  readonly schedulers: readonly LRScheduler[];
  /** The optimizer the schedulers share. */
  readonly optimizer: AnyOptimizer;
  private lastLr: number[];
  constructor(schedulers: LRScheduler[], ...extra: unknown[]) {
    const N = 'ChainedScheduler';
    if (extra.length) throw new TypeError(`${N}: takes one argument (the array of schedulers), got ${extra.length + 1}`);
    if (!Array.isArray(schedulers) || !schedulers.length) throw new TypeError(`${N}: expected a non-empty array of schedulers, got ${describe(schedulers)}`);
    schedulers.forEach((s, i) => {
      if (!(s instanceof LRScheduler)) throw new TypeError(`${N}: schedulers[${i}] is not a chainable scheduler, got ${describe(s)}`);
      if (s.optimizer !== schedulers[0].optimizer) throw new Error(`${N}: schedulers[${i}] belongs to another optimizer than schedulers[0]`);
    });
    this.schedulers = Object.freeze(schedulers.slice());
    this.optimizer = schedulers[0].optimizer;
    this.lastLr = this.optimizer.paramGroups.map((g) => g.lr);
  }
  /** Steps every scheduler, in order. */
  step(...args: unknown[]): void {
    noArgs('ChainedScheduler.step', args, '');
    for (const s of this.schedulers) s.step();
    this.lastLr = this.optimizer.paramGroups.map((g) => g.lr);
  }
  getLastLr(): number[] {
    return this.lastLr.slice();
  }
  stateDict(): ChainedSchedulerStateDict {
    return { schedulers: this.schedulers.map((s) => s.stateDict()) };
  }
  /** Restores every scheduler, all or nothing. */
  loadStateDict(sd: ChainedSchedulerStateDict): void {
    const op = 'ChainedScheduler.loadStateDict';
    if (sd === null || typeof sd !== 'object' || !Array.isArray(sd.schedulers) || sd.schedulers.length !== this.schedulers.length)
      throw new TypeError(`${op}: expected { schedulers: [${this.schedulers.length} state dicts] }, got ${describe(sd)}`);
    checkOptions(op, sd, ['schedulers'], 'the state dict');
    const apply = sd.schedulers.map((s, i) => this.schedulers[i]._checkState(s, `${op}: schedulers[${i}]`));
    for (const f of apply) f();
    this.lastLr = this.optimizer.paramGroups.map((g) => g.lr);
  }
}

// ---------------------------------------------------------------------------

export interface ReduceLROnPlateauOptions {
  /** 'min': reduce when the metric stops decreasing; 'max': when it stops increasing (default 'min'). */
  mode?: 'min' | 'max';
  /** new lr = lr · factor, in [0, 1) (default 0.1). */
  factor?: number;
  /** Epochs without improvement tolerated before reducing (default 10). */
  patience?: number;
  /** How much better counts as an improvement (default 1e-4). */
  threshold?: number;
  /** 'rel': best·(1 ∓ threshold); 'abs': best ∓ threshold (default 'rel'). */
  thresholdMode?: 'rel' | 'abs';
  /** Epochs to wait after a reduction before counting again (default 0). */
  cooldown?: number;
  /** Lower bound of the lr, one for all groups or one per group (default 0). */
  minLr?: number | number[];
  /** A reduction smaller than eps is skipped (default 1e-8). */
  eps?: number;
}

/** What `ReduceLROnPlateau.stateDict()` returns. */
export interface ReduceLROnPlateauStateDict {
  lastEpoch: number;
  best: number;
  numBadEpochs: number;
  cooldownCounter: number;
  lastLr: number[];
}

/**
 * Reduces the lr by `factor` when a metric has not improved for `patience`
 * epochs: `scheduler.step(valLoss)` once per epoch, as PyTorch's.
 */
export class ReduceLROnPlateau {
  readonly mode: 'min' | 'max';
  readonly factor: number;
  readonly patience: number;
  readonly threshold: number;
  readonly thresholdMode: 'rel' | 'abs';
  readonly cooldown: number;
  readonly minLrs: number[];
  readonly eps: number;
  /** Best metric so far (±Infinity before the first step). */
  best: number;
  numBadEpochs = 0;
  cooldownCounter = 0;
  lastEpoch = 0;
  private lastLr: number[];
  /** @internal */
  readonly optimizer: AnyOptimizer;

  constructor(optimizer: Optimizer<GroupOptions>, opts: ReduceLROnPlateauOptions = {}) {
    const N = 'ReduceLROnPlateau';
    this.optimizer = checkOptimizer(N, optimizer);
    const o = schedulerOptions<ReduceLROnPlateauOptions>(N, opts, ['mode', 'factor', 'patience', 'threshold', 'thresholdMode', 'cooldown', 'minLr', 'eps'], "{ mode: 'min', factor: 0.1, patience: 10 }");
    this.mode = o.mode ?? 'min';
    if (this.mode !== 'min' && this.mode !== 'max') throw new RangeError(`${N}: mode must be 'min' or 'max', got ${describe(o.mode)}`);
    this.thresholdMode = o.thresholdMode ?? 'rel';
    if (this.thresholdMode !== 'rel' && this.thresholdMode !== 'abs') throw new RangeError(`${N}: thresholdMode must be 'rel' or 'abs', got ${describe(o.thresholdMode)}`);
    this.factor = checkRangeOpt(N, o, 'factor', 0.1, 0, 1, { hiOpen: true });
    this.patience = checkRangeOpt(N, o, 'patience', 10, 0, Infinity, { integer: true });
    this.threshold = checkRangeOpt(N, o, 'threshold', 1e-4, 0);
    this.cooldown = checkRangeOpt(N, o, 'cooldown', 0, 0, Infinity, { integer: true });
    this.eps = checkRangeOpt(N, o, 'eps', 1e-8, 0);
    const n = this.optimizer.paramGroups.length;
    const m = o.minLr ?? 0;
    if (Array.isArray(m)) {
      if (m.length !== n) throw new RangeError(`${N}: expected ${n} minLr values (one per parameter group), got ${m.length}`);
      m.forEach((v, i) => checkNumber({ op: N, prefix: '' }, { [`minLr[${i}]`]: v }, `minLr[${i}]`, 0));
      this.minLrs = m.slice();
    } else {
      checkNumber({ op: N, prefix: '' }, { minLr: m }, 'minLr', 0);
      this.minLrs = new Array<number>(n).fill(m);
    }
    this.best = this.worst();
    this.lastLr = groupLrs(N, this.optimizer);
  }

  private worst(): number {
    return this.mode === 'min' ? Infinity : -Infinity;
  }

  private isBetter(a: number, best: number): boolean {
    if (this.mode === 'min') return this.thresholdMode === 'rel' ? a < best * (1 - this.threshold) : a < best - this.threshold;
    return this.thresholdMode === 'rel' ? a > best * (this.threshold + 1) : a > best + this.threshold;
  }

  /** Feeds one epoch's metric (a number or a one-element tensor, e.g. the validation loss). */
  step(metric: number | Tensor, ...extra: unknown[]): void {
    const op = 'ReduceLROnPlateau.step';
    if (extra.length) throw new TypeError(`${op}: takes one metric, got ${extra.length + 1} arguments (PyTorch's epoch argument is deprecated)`);
    let current: number;
    if (typeof metric === 'number') current = metric;
    else if (metric instanceof Tensor) {
      metric._check(op);
      if (metric.numel !== 1) throw new TypeError(`${op}: the metric must be a number or a one-element tensor, got ${describe(metric)}`);
      current = metric.item();
    } else throw new TypeError(`${op}: the metric must be a number or a one-element tensor (e.g. the validation loss), got ${describe(metric)}`);
    const lrs = groupLrs(op, this.optimizer);
    if (lrs.length !== this.minLrs.length)
      throw new Error(`${op}: the optimizer has ${lrs.length} parameter groups but minLr was given for ${this.minLrs.length}`);
    this.lastEpoch++;
    if (this.isBetter(current, this.best)) {
      this.best = current;
      this.numBadEpochs = 0;
    } else this.numBadEpochs++;
    if (this.cooldownCounter > 0) {
      this.cooldownCounter--;
      this.numBadEpochs = 0; // bad epochs in cooldown do not count
    }
    if (this.numBadEpochs > this.patience) {
      this.optimizer.paramGroups.forEach((g, i) => {
        const old = g.lr, lr = Math.max(old * this.factor, this.minLrs[i]);
        if (old - lr > this.eps) g.lr = lr;
      });
      this.cooldownCounter = this.cooldown;
      this.numBadEpochs = 0;
    }
    this.lastLr = this.optimizer.paramGroups.map((g) => g.lr);
  }

  /** Whether a reduction's cooldown is running. */
  get inCooldown(): boolean {
    return this.cooldownCounter > 0;
  }

  getLastLr(): number[] {
    return this.lastLr.slice();
  }

  stateDict(): ReduceLROnPlateauStateDict {
    return { lastEpoch: this.lastEpoch, best: this.best, numBadEpochs: this.numBadEpochs, cooldownCounter: this.cooldownCounter, lastLr: this.lastLr.slice() };
  }

  /** Restores the counters (all or nothing); the optimizer's lr comes from its own state dict. */
  loadStateDict(sd: ReduceLROnPlateauStateDict): void {
    const op = 'ReduceLROnPlateau.loadStateDict';
    if (sd === null || typeof sd !== 'object' || Array.isArray(sd)) throw new TypeError(`${op}: expected the object stateDict() returns, got ${describe(sd)}`);
    checkOptions(op, sd, ['lastEpoch', 'best', 'numBadEpochs', 'cooldownCounter', 'lastLr'], 'the state dict');
    const w: Where = { op, prefix: '' };
    const rec = sd as unknown as Record<string, unknown>;
    for (const k of ['lastEpoch', 'numBadEpochs', 'cooldownCounter']) checkNumber(w, rec, k, 0, Infinity, { integer: true });
    // JSON turns ±Infinity into null: a best of null means "no metric yet"
    const best = sd.best === null ? this.worst() : sd.best;
    if (typeof best !== 'number' || Number.isNaN(best)) throw new TypeError(`${op}: best must be a number, got ${describe(sd.best)}`);
    const n = this.optimizer.paramGroups.length;
    if (sd.lastLr !== undefined && (!Array.isArray(sd.lastLr) || sd.lastLr.length !== n || sd.lastLr.some((x) => typeof x !== 'number')))
      throw new TypeError(`${op}: lastLr must be ${n} numbers, got ${describe(sd.lastLr)}`);
    this.lastEpoch = sd.lastEpoch;
    this.best = best;
    this.numBadEpochs = sd.numBadEpochs;
    this.cooldownCounter = sd.cooldownCounter;
    this.lastLr = sd.lastLr ? sd.lastLr.slice() : this.optimizer.paramGroups.map((g) => g.lr);
  }
}
