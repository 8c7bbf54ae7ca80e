/**
 * Layers with PyTorch's names, arguments and default initialisations. Every
 * constructor takes PyTorch's positional order, an options object last, or
 * both (`new nn.Conv2d(64, 128, 3, 2, { padding: 1 })`); an extra argument, a
 * wrong type or an unknown option key throws naming it.
 */
import { Tensor, empty, zeros, ones, describe, assertTensor } from '../tensor';
import { Module, Parameter } from './module';
import * as init from './init';
import * as F from './functional';
import { isGradEnabled } from '../autograd';
import type { ConvOptions, Padding } from '../ops/conv';
import { boolArg, intTuple, numberArg } from '../ops/args';
import { layerArgs, intArg, dimArg } from './args';
import { padForConv, PADDING_MODES, type PaddingMode } from '../ops/pad';
import { MaxPool2d } from './pooling';

function checkInt(layer: string, name: string, v: unknown, min = 1): number {
  return intArg(layer, name, v, min);
}

/** The runtime class of {@link Sequential}; use `nn.Sequential`. @internal */
export class SequentialModule extends Module {
  [index: number]: Module;
  override readonly length: number;
  constructor(...layers: Module[]) {
    super();
    layers.forEach((m, i) => {
      if (!(m instanceof Module)) throw new TypeError(`Sequential: argument ${i} is not a Module, got ${describe(m)}`);
      this[i] = m;
    });
    this.length = layers.length;
  }
  forward(x: Tensor): Tensor {
    let y = x;
    for (let i = 0; i < this.length; i++) {
      // Conv2d → ReLU → MaxPool2d(2) trains as one fused op (same values and
      // gradients; see F.conv2dReluMaxPool2d). Without gradients (inference,
      // and the plan compiler's trace, which fuses them itself) each runs alone.
      if (isGradEnabled() && i + 2 < this.length && fusesConvReluPool(y, this[i], this[i + 1], this[i + 2])) {
        const c = this[i] as Conv2d;
        y = F.conv2dReluMaxPool2d(y, c.weight, c.bias, { stride: c.stride, padding: c.padding, dilation: c.dilation, groups: c.groups });
        i += 2;
        continue;
      }
      y = this[i].forward(y);
    }
    return y;
  }
  [Symbol.iterator](): Iterator<Module> {
    return this.children()[Symbol.iterator]();
  }
}

// the runtime name PyTorch users see in toString(), errors and module lists
Object.defineProperty(SequentialModule, 'name', { value: 'Sequential' });

/**
 * A Sequential of the layers `T`: `new nn.Sequential(new nn.Linear(2, 2), new nn.ReLU())`
 * is a `Sequential<[Linear, ReLU]>`, so `net[0]` is typed `Linear`. `nn.Sequential`
 * alone is a Sequential of any modules (`net[i]` is a `Module`).
 */
export type Sequential<T extends readonly Module[] = Module[]> = SequentialModule & { [K in Extract<keyof T, `${number}`>]: T[K] };
/** Runs children in order: `new Sequential(a, b, c)`; children are named '0', '1', … */
export const Sequential = SequentialModule as unknown as {
  new <T extends Module[]>(...layers: T): Sequential<T>;
  /** The form `class Net extends nn.Sequential { … }` resolves to. */
  new (...layers: Module[]): Sequential;
  readonly prototype: SequentialModule;
};

const is2 = (v: unknown) => v === 2 || (Array.isArray(v) && v.length === 2 && v[0] === 2 && v[1] === 2);
const is0 = (v: unknown) => v === undefined || v === 0 || (Array.isArray(v) && v.length === 2 && v[0] === 0 && v[1] === 0);
// Exactly these classes (a subclass may override forward), a 2×2 stride-2 floor pool, and a conv whose output is at least 2×2.
function fusesConvReluPool(x: Tensor, a: Module, b: Module, c: Module): boolean {
  if (a.constructor !== Conv2d || b.constructor !== ReLU || c.constructor !== MaxPool2d) return false;
  const o = (c as MaxPool2d).options as unknown as Record<string, unknown>;
  if (Object.keys(o).some((k) => !['kernelSize', 'stride', 'padding', 'ceilMode'].includes(k))) return false;
  if (!is2(o.kernelSize) || !(o.stride === undefined || o.stride === null || is2(o.stride)) || !is0(o.padding) || o.ceilMode) return false;
  if (!(x instanceof Tensor) || x.ndim !== 4) return false;
  const conv = a as Conv2d;
  if (conv.paddingMode !== 'zeros') return false;
  try {
    const s = F.convOutputShape(x.shape, conv.weight.shape, { stride: conv.stride, padding: conv.padding, dilation: conv.dilation, groups: conv.groups });
    return s[2] >= 2 && s[3] >= 2;
  } catch {
    return false;  // the unfused ops say what is wrong
  }
}

/** Options of {@link Linear}. */
export interface LinearOptions {
  /** Learn an additive bias (default true). */
  bias?: boolean;
}

/** y = x·Wᵀ + b. Init as PyTorch: W, b ~ U(−1/√in, 1/√in). `new Linear(in, out, bias?)` or `(in, out, { bias })`. */
export class Linear extends Module {
  weight: Tensor;
  bias: Tensor | null;
  readonly inFeatures: number;
  readonly outFeatures: number;
  constructor(inFeatures: number, outFeatures: number, opts?: LinearOptions);
  constructor(inFeatures: number, outFeatures: number, bias: boolean, opts?: Record<string, never>);
  constructor(inFeatures: number, outFeatures: number, ...args: unknown[]) {
    super();
    this.inFeatures = checkInt('Linear', 'inFeatures', inFeatures);
    this.outFeatures = checkInt('Linear', 'outFeatures', outFeatures);
    const a = layerArgs('Linear', ['bias'], args);
    const bias = boolArg('Linear', 'bias', a.bias, true);
    this.weight = Parameter(empty([outFeatures, inFeatures]));
    this.bias = bias ? Parameter(empty([outFeatures])) : null;
    this.resetParameters();
  }
  resetParameters(): void {
    init.kaimingUniform(this.weight, { a: Math.sqrt(5) });
    if (this.bias) init.uniform(this.bias, -1 / Math.sqrt(this.inFeatures), 1 / Math.sqrt(this.inFeatures));
  }
  forward(x: Tensor): Tensor {
    return F.linear(x, this.weight, this.bias);
  }
  override extraRepr(): string {
    return `inFeatures=${this.inFeatures}, outFeatures=${this.outFeatures}, bias=${this.bias !== null}`;
  }
}

/** Options of the conv layers (PyTorch's, camelCased). */
export interface ConvLayerOptions extends ConvOptions {
  /** Learn an additive bias (default true). */
  bias?: boolean;
  /** How the padding is filled: 'zeros' (default), 'reflect', 'replicate' or 'circular', as PyTorch. */
  paddingMode?: PaddingMode;
}

/** PyTorch's positional order after (inChannels, outChannels, kernelSize). */
const CONV_ARGS = ['stride', 'padding', 'dilation', 'groups', 'bias', 'paddingMode'] as const;

abstract class ConvNd extends Module {
  weight: Tensor;
  bias: Tensor | null;
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: number[];
  readonly stride: number | number[];
  readonly padding: Padding;
  readonly dilation: number | number[];
  readonly groups: number;
  readonly paddingMode: PaddingMode;
  constructor(nd: number, inChannels: number, outChannels: number, kernelSize: number | number[], args: unknown[]) {
    super();
    const name = `Conv${nd}d`;
    this.inChannels = checkInt(name, 'inChannels', inChannels);
    this.outChannels = checkInt(name, 'outChannels', outChannels);
    const ks = intTuple(name, 'kernelSize', kernelSize, nd, 1);
    const a = layerArgs(name, CONV_ARGS, args);
    this.groups = checkInt(name, 'groups', a.groups ?? 1);
    if (inChannels % this.groups || outChannels % this.groups)
      throw new Error(`${name}: groups ${this.groups} must divide inChannels ${inChannels} and outChannels ${outChannels}`);
    this.stride = (a.stride ?? 1) as number | number[];
    intTuple(name, 'stride', this.stride, nd, 1);
    this.dilation = (a.dilation ?? 1) as number | number[];
    intTuple(name, 'dilation', this.dilation, nd, 1);
    const padding = a.padding ?? 0;
    if (padding === 'same' || padding === 'valid') {
      if (padding === 'same' && intTuple(name, 'stride', this.stride, nd, 1).some((s) => s !== 1))
        throw new Error(`${name}: padding 'same' needs stride 1 (PyTorch: "padding='same' is not supported for strided convolutions"), got stride ${JSON.stringify(this.stride)}`);
    } else if (typeof padding === 'string') throw new Error(`${name}: padding must be a number, an array, 'same' or 'valid', got ${describe(padding)}`);
    else if (Array.isArray(padding) && padding.length === 2 * nd && nd > 1) intTuple(name, 'padding', padding, 2 * nd, 0);
    else intTuple(name, 'padding', padding, nd, 0);
    this.padding = padding as Padding;
    const bias = boolArg(name, 'bias', a.bias, true);
    this.kernelSize = ks;
    this.paddingMode = (a.paddingMode ?? 'zeros') as PaddingMode;
    if (!PADDING_MODES.includes(this.paddingMode))
      throw new Error(`${name}: paddingMode must be one of ${PADDING_MODES.map((m) => `'${m}'`).join(', ')}, got ${describe(this.paddingMode)}`);
    this.weight = Parameter(empty([outChannels, inChannels / this.groups, ...ks]));
    this.bias = bias ? Parameter(empty([outChannels])) : null;
    this.resetParameters();
  }
  resetParameters(): void {
    init.kaimingUniform(this.weight, { a: Math.sqrt(5) });
    if (this.bias) {
      const fanIn = init.fans(this.weight).fanIn;
      const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
      init.uniform(this.bias, -bound, bound);
    }
  }
  protected opts(): ConvOptions {
    return { stride: this.stride, padding: this.padding, dilation: this.dilation, groups: this.groups };
  }
  /** The input and options the conv runs on: paddingMode other than 'zeros' pads explicitly first (as PyTorch). */
  protected padded(x: Tensor): [Tensor, ConvOptions] {
    if (this.paddingMode === 'zeros') return [x, this.opts()];
    const xp = padForConv(this.constructor.name, this.kernelSize.length, x, this.kernelSize, this.padding, this.stride, this.dilation, this.paddingMode);
    return [xp, { ...this.opts(), padding: 0 }];
  }
  override extraRepr(): string {
    const s = [`${this.inChannels}, ${this.outChannels}, kernelSize=[${this.kernelSize.join(', ')}]`];
    if (this.stride !== 1) s.push(`stride=${JSON.stringify(this.stride)}`);
    if (this.padding !== 0) s.push(`padding=${JSON.stringify(this.padding)}`);
    if (this.dilation !== 1) s.push(`dilation=${JSON.stringify(this.dilation)}`);
    if (this.groups !== 1) s.push(`groups=${this.groups}`);
    if (!this.bias) s.push('bias=false');
    if (this.paddingMode !== 'zeros') s.push(`paddingMode='${this.paddingMode}'`);
    return s.join(', ');
  }
}

type IntOrTuple = number | number[];

/** 1-D convolution over [N, C, L]: `(in, out, kernelSize, stride?, padding?, dilation?, groups?, bias?, paddingMode?)` and/or options last. */
export class Conv1d extends ConvNd {
  constructor(inChannels: number, outChannels: number, kernelSize: IntOrTuple, opts?: ConvLayerOptions);
  constructor(inChannels: number, outChannels: number, kernelSize: IntOrTuple, stride?: IntOrTuple, padding?: Padding | ConvLayerOptions, dilation?: IntOrTuple | ConvLayerOptions, groups?: number | ConvLayerOptions, bias?: boolean | ConvLayerOptions, paddingMode?: PaddingMode | ConvLayerOptions, opts?: ConvLayerOptions);
  constructor(inChannels: number, outChannels: number, kernelSize: IntOrTuple, ...args: unknown[]) {
    super(1, inChannels, outChannels, kernelSize, args);
  }
  forward(x: Tensor): Tensor {
    const [xp, o] = this.padded(x);
    return F.conv1d(xp, this.weight, this.bias, o);
  }
}
/** 2-D convolution over [N, C, H, W]: `(in, out, kernelSize, stride?, padding?, dilation?, groups?, bias?, paddingMode?)` and/or options last. */
export class Conv2d extends ConvNd {
  constructor(inChannels: number, outChannels: number, kernelSize: IntOrTuple, opts?: ConvLayerOptions);
  constructor(inChannels: number, outChannels: number, kernelSize: IntOrTuple, stride?: IntOrTuple, padding?: Padding | ConvLayerOptions, dilation?: IntOrTuple | ConvLayerOptions, groups?: number | ConvLayerOptions, bias?: boolean | ConvLayerOptions, paddingMode?: PaddingMode | ConvLayerOptions, opts?: ConvLayerOptions);
  constructor(inChannels: number, outChannels: number, kernelSize: IntOrTuple, ...args: unknown[]) {
    super(2, inChannels, outChannels, kernelSize, args);
  }
  forward(x: Tensor): Tensor {
    const [xp, o] = this.padded(x);
    return F.conv2d(xp, this.weight, this.bias, o);
  }
}
/** 3-D convolution over [N, C, D, H, W]: `(in, out, kernelSize, stride?, padding?, dilation?, groups?, bias?, paddingMode?)` and/or options last. */
export class Conv3d extends ConvNd {
  constructor(inChannels: number, outChannels: number, kernelSize: IntOrTuple, opts?: ConvLayerOptions);
  constructor(inChannels: number, outChannels: number, kernelSize: IntOrTuple, stride?: IntOrTuple, padding?: Padding | ConvLayerOptions, dilation?: IntOrTuple | ConvLayerOptions, groups?: number | ConvLayerOptions, bias?: boolean | ConvLayerOptions, paddingMode?: PaddingMode | ConvLayerOptions, opts?: ConvLayerOptions);
  constructor(inChannels: number, outChannels: number, kernelSize: IntOrTuple, ...args: unknown[]) {
    super(3, inChannels, outChannels, kernelSize, args);
  }
  forward(x: Tensor): Tensor {
    const [xp, o] = this.padded(x);
    return F.conv3d(xp, this.weight, this.bias, o);
  }
}

// The pooling layers (MaxPool*, AvgPool*, Adaptive*, MaxUnpool*, GlobalAvgPool2d) live in ./pooling.ts.
export * from './pooling';

/** Throws when a layer that takes no arguments gets some (JavaScript would drop them silently). */
function noArgs(layer: string, args: readonly unknown[]): void {
  if (args.length) throw new TypeError(`${layer}: takes no arguments, got ${args.length} (${args.map((a) => describe(a)).join(', ')})`);
}

/** Reads PyTorch's `inplace` flag: accepted, the result is the same; blasnet always computes out of place. */
function inplaceArg(layer: string, v: unknown): boolean {
  return boolArg(layer, 'inplace', v, false);
}

/** Options of the activations that take PyTorch's `inplace` flag. */
export interface InplaceOptions {
  /** Accepted for PyTorch scripts; blasnet computes out of place (same values, the input is left as it is). */
  inplace?: boolean;
}

/** max(x, 0). `new ReLU(inplace?)`: `inplace` is accepted and computed out of place. */
export class ReLU extends Module {
  readonly inplace: boolean;
  constructor(inplace?: boolean | InplaceOptions);
  constructor(...args: unknown[]) {
    super();
    this.inplace = inplaceArg('ReLU', layerArgs('ReLU', ['inplace'], args).inplace);
  }
  forward(x: Tensor): Tensor {
    return F.relu(x);
  }
}
export class Sigmoid extends Module {
  constructor(...args: never[]) {
    super();
    noArgs('Sigmoid', args);
  }
  forward(x: Tensor): Tensor {
    return F.sigmoid(x);
  }
}
export class Tanh extends Module {
  constructor(...args: never[]) {
    super();
    noArgs('Tanh', args);
  }
  forward(x: Tensor): Tensor {
    return F.tanh(x);
  }
}
/** Options of {@link LeakyReLU}. */
export interface LeakyReLUOptions extends InplaceOptions {
  /** Slope for x < 0 (default 0.01). */
  negativeSlope?: number;
}
/** x for x ≥ 0, negativeSlope·x otherwise: `new LeakyReLU(negativeSlope?, inplace?)` or options. */
export class LeakyReLU extends Module {
  readonly negativeSlope: number;
  readonly inplace: boolean;
  constructor(opts?: LeakyReLUOptions);
  constructor(negativeSlope?: number, inplace?: boolean | InplaceOptions);
  constructor(...args: unknown[]) {
    super();
    const a = layerArgs('LeakyReLU', ['negativeSlope', 'inplace'], args);
    this.negativeSlope = numberArg('LeakyReLU', 'negativeSlope', a.negativeSlope, 0.01);
    this.inplace = inplaceArg('LeakyReLU', a.inplace);
  }
  forward(x: Tensor): Tensor {
    return F.leakyRelu(x, this.negativeSlope);
  }
  override extraRepr(): string {
    return `negativeSlope=${this.negativeSlope}`;
  }
}

/**
 * `dim` of Softmax/LogSoftmax. Required: PyTorch's implicit `dim=None` is
 * deprecated (it picks 0 for 0-, 1- and 3-d inputs, else 1, with a warning);
 * blasnet asks for the dim instead of guessing.
 */
function softmaxDim(layer: string, args: readonly unknown[]): number {
  const a = layerArgs(layer, ['dim'], args);
  if (a.dim === undefined || a.dim === null)
    throw new TypeError(`${layer}: dim is required (PyTorch's implicit dim is deprecated); for [N, classes] scores pass new nn.${layer}(1)`);
  return dimArg(layer, 'dim', a.dim);
}
/** Softmax along `dim` (required). */
export class Softmax extends Module {
  readonly dim: number;
  constructor(dim: number | { dim: number });
  constructor(...args: unknown[]) {
    super();
    this.dim = softmaxDim('Softmax', args);
  }
  forward(x: Tensor): Tensor {
    return F.softmax(x, this.dim);
  }
  override extraRepr(): string {
    return `dim=${this.dim}`;
  }
}
/** Log-softmax along `dim` (required). */
export class LogSoftmax extends Module {
  readonly dim: number;
  constructor(dim: number | { dim: number });
  constructor(...args: unknown[]) {
    super();
    this.dim = softmaxDim('LogSoftmax', args);
  }
  forward(x: Tensor): Tensor {
    return F.logSoftmax(x, this.dim);
  }
  override extraRepr(): string {
    return `dim=${this.dim}`;
  }
}
/** Options of {@link Flatten}. */
export interface FlattenOptions {
  startDim?: number;
  endDim?: number;
}
/** Flattens dims startDim..endDim (default 1..-1: keeps the batch). */
export class Flatten extends Module {
  readonly startDim: number;
  readonly endDim: number;
  constructor(opts?: FlattenOptions);
  constructor(startDim?: number, endDim?: number | FlattenOptions, opts?: FlattenOptions);
  constructor(...args: unknown[]) {
    super();
    const a = layerArgs('Flatten', ['startDim', 'endDim'], args);
    this.startDim = dimArg('Flatten', 'startDim', a.startDim ?? 1);
    this.endDim = dimArg('Flatten', 'endDim', a.endDim ?? -1);
  }
  forward(x: Tensor): Tensor {
    return x.flatten(this.startDim, this.endDim);
  }
  override extraRepr(): string {
    return `startDim=${this.startDim}, endDim=${this.endDim}`;
  }
}
/** Expands dim `dim` into `unflattenedSize` (one entry may be -1): `new Unflatten(1, [16, 5, 5])`. */
export class Unflatten extends Module {
  readonly dim: number;
  readonly unflattenedSize: number[];
  constructor(dim: number, unflattenedSize: readonly number[]);
  constructor(...args: unknown[]) {
    super();
    if (args.length !== 2) throw new TypeError(`Unflatten: expected (dim, unflattenedSize), got ${args.length} arguments`);
    this.dim = dimArg('Unflatten', 'dim', args[0]);
    const sz = args[1];
    if (!Array.isArray(sz) || sz.length === 0 || sz.some((v) => typeof v !== 'number' || !Number.isInteger(v) || (v < 0 && v !== -1)) || sz.filter((v) => v === -1).length > 1)
      throw new TypeError(`Unflatten: unflattenedSize must be a non-empty array of integers >= 0 (one may be -1), got ${describe(sz)}`);
    this.unflattenedSize = [...(sz as number[])];
  }
  forward(x: Tensor): Tensor {
    assertTensor('Unflatten', x, 'input');
    const d = this.dim < 0 ? this.dim + x.ndim : this.dim;
    if (d < 0 || d >= x.ndim) throw new RangeError(`Unflatten: dim ${this.dim} is out of range for a ${x.ndim}-d input (shape [${x.shape.join(',')}])`);
    const known = this.unflattenedSize.filter((v) => v !== -1).reduce((p, v) => p * v, 1);
    const sizes = this.unflattenedSize.map((v) => (v === -1 ? (known ? x.shape[d] / known : 0) : v));
    if (sizes.reduce((p, v) => p * v, 1) !== x.shape[d] || sizes.some((v) => !Number.isInteger(v)))
      throw new Error(`Unflatten: unflattenedSize [${this.unflattenedSize.join(', ')}] does not match dim ${this.dim} of size ${x.shape[d]} (input shape [${x.shape.join(',')}])`);
    return x.reshape([...x.shape.slice(0, d), ...sizes, ...x.shape.slice(d + 1)]);
  }
  override extraRepr(): string {
    return `dim=${this.dim}, unflattenedSize=[${this.unflattenedSize.join(', ')}]`;
  }
}
export class Identity extends Module {
  /** Takes no arguments (PyTorch's Identity ignores any; blasnet throws rather than drop them). */
  constructor(...args: never[]) {
    super();
    noArgs('Identity', args);
  }
  forward(x: Tensor): Tensor {
    return x;
  }
}

/** Options of {@link Dropout}. */
export interface DropoutOptions extends InplaceOptions {
  /** Probability of zeroing an element (default 0.5). */
  p?: number;
}
/** Zeroes elements with probability p in training (scaling the rest by 1/(1−p)); identity in eval. `new Dropout(p?, inplace?)`. */
export class Dropout extends Module {
  readonly p: number;
  readonly inplace: boolean;
  constructor(opts?: DropoutOptions);
  constructor(p?: number, inplace?: boolean | InplaceOptions);
  constructor(...args: unknown[]) {
    super();
    const a = layerArgs('Dropout', ['p', 'inplace'], args);
    const p = a.p ?? 0.5;
    if (typeof p !== 'number' || !(p >= 0 && p <= 1)) throw new RangeError(`Dropout: p must be in [0, 1], got ${describe(p)}`);
    this.p = p;
    this.inplace = inplaceArg('Dropout', a.inplace);
  }
  forward(x: Tensor): Tensor {
    return F.dropout(x, this.p, this.training);
  }
  override extraRepr(): string {
    return `p=${this.p}`;
  }
}

/** Options of BatchNorm1d/2d/3d (PyTorch's defaults). */
export interface BatchNormLayerOptions {
  /** Added to the variance (default 1e-5). */
  eps?: number;
  /** Weight of the new batch in the running estimates (default 0.1); `null`: cumulative average over the batches seen. */
  momentum?: number | null;
  /** Learn a per-channel weight and bias (default true). */
  affine?: boolean;
  /** Keep running estimates for eval mode (default true); false: eval mode uses the batch statistics too. */
  trackRunningStats?: boolean;
}

const BATCH_NORM_ARGS = ['eps', 'momentum', 'affine', 'trackRunningStats'] as const;

/**
 * The batch norm layers' shared body (`instanceof nn._BatchNorm` matches all
 * three). State keys as PyTorch's: `weight`, `bias`, `running_mean`,
 * `running_var`, `num_batches_tracked`. @internal
 */
export abstract class _BatchNorm extends Module {
  weight: Tensor | null;
  bias: Tensor | null;
  readonly runningMean: Tensor | null;
  readonly runningVar: Tensor | null;
  /** Batches seen in training (float32 holding an integer; PyTorch's is int64). */
  readonly numBatchesTracked: Tensor | null;
  readonly numFeatures: number;
  readonly eps: number;
  readonly momentum: number | null;
  readonly affine: boolean;
  readonly trackRunningStats: boolean;
  protected abstract readonly layer: string;
  /** Accepted input ranks, and how they read in errors. */
  protected abstract readonly ranks: readonly number[];
  protected abstract readonly layout: string;
  constructor(layer: string, numFeatures: number, args: unknown[]) {
    super();
    this.numFeatures = checkInt(layer, 'numFeatures', numFeatures);
    const a = layerArgs(layer, BATCH_NORM_ARGS, args, ['momentum']);
    this.eps = numberArg(layer, 'eps', a.eps, 1e-5);
    if (!(this.eps > 0)) throw new RangeError(`${layer}: eps must be > 0, got ${this.eps}`);
    this.momentum = a.momentum === null ? null : numberArg(layer, 'momentum', a.momentum, 0.1);
    this.affine = boolArg(layer, 'affine', a.affine, true);
    this.trackRunningStats = boolArg(layer, 'trackRunningStats', a.trackRunningStats, true);
    this.weight = this.affine ? Parameter(ones([numFeatures])) : null;
    this.bias = this.affine ? Parameter(zeros([numFeatures])) : null;
    const track = this.trackRunningStats;
    this.runningMean = this.registerBuffer('running_mean', track ? zeros([numFeatures]) : null);
    this.runningVar = this.registerBuffer('running_var', track ? ones([numFeatures]) : null);
    this.numBatchesTracked = this.registerBuffer('num_batches_tracked', track ? zeros([]) : null);
  }
  /** Running estimates back to mean 0, variance 1, no batches seen. */
  resetRunningStats(): void {
    this.runningMean?.fill_(0);
    this.runningVar?.fill_(1);
    this.numBatchesTracked?.fill_(0);
  }
  forward(x: Tensor): Tensor {
    const layer = this.layer;
    assertTensor(layer, x, 'input');
    if (!this.ranks.includes(x.ndim)) throw new Error(`${layer}: expected ${this.layout}, got shape [${x.shape.join(',')}]`);
    if (x.shape[1] !== this.numFeatures) throw new Error(`${layer}: expected ${this.numFeatures} channels, got ${x.shape[1]} (input shape [${x.shape.join(',')}])`);
    // as PyTorch's _BatchNorm.forward: count the batch, then momentum or 1/num_batches_tracked
    let factor = this.momentum ?? 0;
    if (this.training && this.numBatchesTracked) {
      const n = this.numBatchesTracked.item() + 1;
      this.numBatchesTracked.fill_(n);
      if (this.momentum === null) factor = 1 / n;
    }
    const useBatch = this.training || !this.runningMean;
    return F.batchNorm(x, {
      runningMean: this.runningMean,
      runningVar: this.runningVar,
      weight: this.weight,
      bias: this.bias,
      training: useBatch,
      momentum: factor,
      eps: this.eps,
    });
  }
  override extraRepr(): string {
    return `${this.numFeatures}, eps=${this.eps}, momentum=${this.momentum}, affine=${this.affine}, trackRunningStats=${this.trackRunningStats}`;
  }
}

/** Batch normalisation over [N, C] or [N, C, L]: `(numFeatures, eps?, momentum?, affine?, trackRunningStats?)` and/or options last. */
export class BatchNorm1d extends _BatchNorm {
  protected readonly layer = 'BatchNorm1d';
  protected readonly ranks = [2, 3];
  protected readonly layout = 'a 2-d input [N, C] or a 3-d input [N, C, L]';
  constructor(numFeatures: number, opts?: BatchNormLayerOptions);
  constructor(numFeatures: number, eps?: number, momentum?: number | null | BatchNormLayerOptions, affine?: boolean | BatchNormLayerOptions, trackRunningStats?: boolean | BatchNormLayerOptions, opts?: BatchNormLayerOptions);
  constructor(numFeatures: number, ...args: unknown[]) {
    super('BatchNorm1d', numFeatures, args);
  }
}
/** Batch normalisation over [N, C, H, W]: `(numFeatures, eps?, momentum?, affine?, trackRunningStats?)` and/or options last. */
export class BatchNorm2d extends _BatchNorm {
  protected readonly layer = 'BatchNorm2d';
  protected readonly ranks = [4];
  protected readonly layout = 'a 4-d input [N, C, H, W]';
  constructor(numFeatures: number, opts?: BatchNormLayerOptions);
  constructor(numFeatures: number, eps?: number, momentum?: number | null | BatchNormLayerOptions, affine?: boolean | BatchNormLayerOptions, trackRunningStats?: boolean | BatchNormLayerOptions, opts?: BatchNormLayerOptions);
  constructor(numFeatures: number, ...args: unknown[]) {
    super('BatchNorm2d', numFeatures, args);
  }
}
/** Batch normalisation over [N, C, D, H, W]: `(numFeatures, eps?, momentum?, affine?, trackRunningStats?)` and/or options last. */
export class BatchNorm3d extends _BatchNorm {
  protected readonly layer = 'BatchNorm3d';
  protected readonly ranks = [5];
  protected readonly layout = 'a 5-d input [N, C, D, H, W]';
  constructor(numFeatures: number, opts?: BatchNormLayerOptions);
  constructor(numFeatures: number, eps?: number, momentum?: number | null | BatchNormLayerOptions, affine?: boolean | BatchNormLayerOptions, trackRunningStats?: boolean | BatchNormLayerOptions, opts?: BatchNormLayerOptions);
  constructor(numFeatures: number, ...args: unknown[]) {
    super('BatchNorm3d', numFeatures, args);
  }
}
