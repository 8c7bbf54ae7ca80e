/**
 * Pooling layers with PyTorch's names, positional arguments and defaults:
 * max / average (1-3d), adaptive average / max (1-3d), max unpooling (1-3d)
 * and global average pooling. Every constructor takes PyTorch's positional
 * order, an options object last, or both; it validates everything once.
 */
import { Tensor, describe } from '../tensor';
import { Module } from './module';
import { intTuple, boolArg } from '../ops/args';
import { spatialArgs, type MaxPoolOptions, type AvgPoolOptions, type AdaptiveSize, type MaxUnpoolOptions } from '../ops/pool';
import * as P from '../ops/pool';

/** Pooling layer options (the functional's, without kernelSize). */
export type PoolLayerOptions = Omit<P.PoolOptions, 'kernelSize'>;

const MAX_NAMES = ['kernelSize', 'stride', 'padding', 'dilation', 'returnIndices', 'ceilMode'];
const AVG_NAMES = ['kernelSize', 'stride', 'padding', 'ceilMode', 'countIncludePad', 'divisorOverride'];

function checkPoolOptions(layer: string, nd: number, o: Record<string, unknown>): void {
  if (o.kernelSize === undefined) throw new TypeError(`${layer}: kernelSize is required`);
  intTuple(layer, 'kernelSize', o.kernelSize, nd, 1);
  if (o.stride != null) intTuple(layer, 'stride', o.stride, nd, 1);
  if (o.padding !== undefined) intTuple(layer, 'padding', o.padding, nd, 0);
  if (o.dilation !== undefined) intTuple(layer, 'dilation', o.dilation, nd, 1);
  for (const b of ['ceilMode', 'countIncludePad', 'returnIndices']) boolArg(layer, b, o[b], false);
  const d = o.divisorOverride;
  if (d != null && (typeof d !== 'number' || !Number.isInteger(d) || d < 1)) throw new RangeError(`${layer}: divisorOverride must be a positive integer (or null), got ${describe(d)}`);
}

abstract class PoolNd extends Module {
  /** The functional's options: kernelSize and the rest. */
  readonly options: P.PoolOptions;
  constructor(readonly nd: number, names: string[], args: unknown[]) {
    super();
    const layer = this.constructor.name;
    const o = spatialArgs(layer, names, args);
    checkPoolOptions(layer, nd, o);
    this.options = o as unknown as P.PoolOptions;
  }
  override extraRepr(): string {
    const o = this.options;
    const s = [`kernelSize=${JSON.stringify(o.kernelSize)}`, `stride=${JSON.stringify(o.stride ?? o.kernelSize)}`, `padding=${JSON.stringify(o.padding ?? 0)}`];
    if (o.dilation !== undefined && o.dilation !== 1) s.push(`dilation=${JSON.stringify(o.dilation)}`);
    if (o.ceilMode) s.push('ceilMode=true');
    if (o.returnIndices) s.push('returnIndices=true');
    if (o.countIncludePad === false) s.push('countIncludePad=false');
    if (o.divisorOverride != null) s.push(`divisorOverride=${o.divisorOverride}`);
    return s.join(', ');
  }
}

type Ints = number | number[];
type MaxArgs = [stride?: Ints | null | Partial<MaxPoolOptions>, padding?: Ints | Partial<MaxPoolOptions>, dilation?: Ints | Partial<MaxPoolOptions>, returnIndices?: boolean | Partial<MaxPoolOptions>, ceilMode?: boolean | Partial<MaxPoolOptions>, opts?: Partial<MaxPoolOptions>];

const MAX_POOLS = [P.maxPool1d, P.maxPool2d, P.maxPool3d] as ((x: Tensor, o: MaxPoolOptions) => Tensor | [Tensor, Tensor])[];

abstract class MaxPoolNd extends PoolNd {
  constructor(nd: number, kernelSize: Ints | MaxPoolOptions, rest: unknown[]) {
    super(nd, MAX_NAMES, [kernelSize, ...rest]);
  }
  protected abstract pool(x: Tensor): Tensor | [Tensor, Tensor];
  /** The pooled values, or `[values, indices]` when the layer was made with returnIndices (as PyTorch's tuple). */
  forward(x: Tensor): Tensor {
    return this.pool(x) as Tensor;
  }
  /** `[values, indices]` whatever returnIndices says (indices: flat per-plane argmax as float32 integers). */
  forwardWithIndices(x: Tensor): [Tensor, Tensor] {
    return this.poolWith(x, true) as [Tensor, Tensor];
  }
  protected poolWith(x: Tensor, idx: boolean): Tensor | [Tensor, Tensor] {
    const f = MAX_POOLS[this.nd - 1];
    const o = this.options as MaxPoolOptions;
    // the op copies its options: pass the layer's own when they already say this
    return f(x, (o.returnIndices ?? false) === idx ? o : { ...o, returnIndices: idx });
  }
}

/** MaxPool1d(kernelSize, stride = kernelSize, padding = 0, dilation = 1, returnIndices = false, ceilMode = false), or options last. */
export class MaxPool1d extends MaxPoolNd {
  constructor(kernelSize: Ints | MaxPoolOptions, ...rest: MaxArgs) {
    super(1, kernelSize, rest);
  }
  protected pool(x: Tensor) {
    return this.poolWith(x, !!this.options.returnIndices);
  }
}
/** MaxPool2d(kernelSize, stride = kernelSize, padding = 0, dilation = 1, returnIndices = false, ceilMode = false), or options last. */
export class MaxPool2d extends MaxPoolNd {
  constructor(kernelSize: Ints | MaxPoolOptions, ...rest: MaxArgs) {
    super(2, kernelSize, rest);
  }
  protected pool(x: Tensor) {
    return this.poolWith(x, !!this.options.returnIndices);
  }
}
/** MaxPool3d(kernelSize, stride = kernelSize, padding = 0, dilation = 1, returnIndices = false, ceilMode = false), or options last. */
export class MaxPool3d extends MaxPoolNd {
  constructor(kernelSize: Ints | MaxPoolOptions, ...rest: MaxArgs) {
    super(3, kernelSize, rest);
  }
  protected pool(x: Tensor) {
    return this.poolWith(x, !!this.options.returnIndices);
  }
}

type AvgArgs = [stride?: Ints | null | Partial<AvgPoolOptions>, padding?: Ints | Partial<AvgPoolOptions>, ceilMode?: boolean | Partial<AvgPoolOptions>, countIncludePad?: boolean | Partial<AvgPoolOptions>, divisorOverride?: number | null | Partial<AvgPoolOptions>, opts?: Partial<AvgPoolOptions>];

const AVG_POOLS = [P.avgPool1d, P.avgPool2d, P.avgPool3d] as ((x: Tensor, o: AvgPoolOptions) => Tensor)[];

abstract class AvgPoolNd extends PoolNd {
  constructor(nd: number, kernelSize: Ints | AvgPoolOptions, rest: unknown[]) {
    super(nd, nd === 1 ? AVG_NAMES.slice(0, 5) : AVG_NAMES, [kernelSize, ...rest]);
  }
  forward(x: Tensor): Tensor {
    const f = AVG_POOLS[this.nd - 1];
    return f(x, this.options as AvgPoolOptions);
  }
}
/** AvgPool1d(kernelSize, stride = kernelSize, padding = 0, ceilMode = false, countIncludePad = true), or options last. */
export class AvgPool1d extends AvgPoolNd {
  constructor(kernelSize: Ints | Omit<AvgPoolOptions, 'divisorOverride'>, ...rest: AvgArgs) {
    super(1, kernelSize, rest);
  }
}
/** AvgPool2d(kernelSize, stride = kernelSize, padding = 0, ceilMode = false, countIncludePad = true, divisorOverride = null), or options last. */
export class AvgPool2d extends AvgPoolNd {
  constructor(kernelSize: Ints | AvgPoolOptions, ...rest: AvgArgs) {
    super(2, kernelSize, rest);
  }
}
/** AvgPool3d(kernelSize, stride = kernelSize, padding = 0, ceilMode = false, countIncludePad = true, divisorOverride = null), or options last. */
export class AvgPool3d extends AvgPoolNd {
  constructor(kernelSize: Ints | AvgPoolOptions, ...rest: AvgArgs) {
    super(3, kernelSize, rest);
  }
}

function checkAdaptiveSize(layer: string, nd: number, v: unknown): AdaptiveSize {
  const arr = typeof v === 'number' || v === null ? [v] : v;
  if (!Array.isArray(arr) || (arr.length !== nd && !(typeof v === 'number' || v === null)))
    throw new TypeError(`${layer}: outputSize must be a number, null or an array of ${nd} (numbers or null), got ${describe(v)}`);
  for (const e of arr)
    if (e !== null && (typeof e !== 'number' || !Number.isInteger(e) || e < 1))
      throw new RangeError(`${layer}: outputSize must hold integers >= 1 or null (keep that dim), got ${describe(v)}`);
  return v as AdaptiveSize;
}

abstract class AdaptiveAvgPoolNd extends Module {
  readonly outputSize: AdaptiveSize;
  constructor(readonly nd: number, outputSize: AdaptiveSize, rest: unknown[]) {
    super();
    const layer = this.constructor.name;
    if (rest.length) throw new TypeError(`${layer}: takes one argument (outputSize), got ${rest.length + 1}`);
    this.outputSize = checkAdaptiveSize(layer, nd, outputSize);
  }
  forward(x: Tensor): Tensor {
    return [P.adaptiveAvgPool1d, P.adaptiveAvgPool2d, P.adaptiveAvgPool3d][this.nd - 1](x, this.outputSize);
  }
  override extraRepr(): string {
    return `outputSize=${JSON.stringify(this.outputSize)}`;
  }
}
/** Average pooling to a fixed output length: AdaptiveAvgPool1d(outputSize). */
export class AdaptiveAvgPool1d extends AdaptiveAvgPoolNd {
  constructor(outputSize: AdaptiveSize, ...rest: never[]) {
    super(1, outputSize, rest);
  }
}
/** Average pooling to a fixed output size: AdaptiveAvgPool2d(outputSize), `null` keeping a dim. */
export class AdaptiveAvgPool2d extends AdaptiveAvgPoolNd {
  constructor(outputSize: AdaptiveSize, ...rest: never[]) {
    super(2, outputSize, rest);
  }
}
/** Average pooling to a fixed output size: AdaptiveAvgPool3d(outputSize), `null` keeping a dim. */
export class AdaptiveAvgPool3d extends AdaptiveAvgPoolNd {
  constructor(outputSize: AdaptiveSize, ...rest: never[]) {
    super(3, outputSize, rest);
  }
}

abstract class AdaptiveMaxPoolNd extends Module {
  readonly outputSize: AdaptiveSize;
  readonly returnIndices: boolean;
  constructor(readonly nd: number, outputSize: AdaptiveSize, rest: unknown[]) {
    super();
    const layer = this.constructor.name;
    this.outputSize = checkAdaptiveSize(layer, nd, outputSize);
    const o = spatialArgs(layer, ['returnIndices'], rest);
    this.returnIndices = boolArg(layer, 'returnIndices', o.returnIndices, false);
  }
  /** The pooled values, or `[values, indices]` with returnIndices (as PyTorch's tuple). */
  forward(x: Tensor): Tensor {
    return this.run(x, this.returnIndices) as Tensor;
  }
  /** `[values, indices]` whatever returnIndices says. */
  forwardWithIndices(x: Tensor): [Tensor, Tensor] {
    return this.run(x, true) as [Tensor, Tensor];
  }
  private run(x: Tensor, idx: boolean): Tensor | [Tensor, Tensor] {
    const f = [P.adaptiveMaxPool1d, P.adaptiveMaxPool2d, P.adaptiveMaxPool3d][this.nd - 1] as (x: Tensor, o: AdaptiveSize, r: boolean) => Tensor | [Tensor, Tensor];
    return f(x, this.outputSize, idx);
  }
  override extraRepr(): string {
    return `outputSize=${JSON.stringify(this.outputSize)}${this.returnIndices ? ', returnIndices=true' : ''}`;
  }
}
type AdaptiveMaxArgs = [returnIndices?: boolean | { returnIndices?: boolean }, opts?: { returnIndices?: boolean }];
/** Max pooling to a fixed output length: AdaptiveMaxPool1d(outputSize, returnIndices = false). */
export class AdaptiveMaxPool1d extends AdaptiveMaxPoolNd {
  constructor(outputSize: AdaptiveSize, ...rest: AdaptiveMaxArgs) {
    super(1, outputSize, rest);
  }
}
/** Max pooling to a fixed output size: AdaptiveMaxPool2d(outputSize, returnIndices = false), `null` keeping a dim. */
export class AdaptiveMaxPool2d extends AdaptiveMaxPoolNd {
  constructor(outputSize: AdaptiveSize, ...rest: AdaptiveMaxArgs) {
    super(2, outputSize, rest);
  }
}
/** Max pooling to a fixed output size: AdaptiveMaxPool3d(outputSize, returnIndices = false), `null` keeping a dim. */
export class AdaptiveMaxPool3d extends AdaptiveMaxPoolNd {
  constructor(outputSize: AdaptiveSize, ...rest: AdaptiveMaxArgs) {
    super(3, outputSize, rest);
  }
}

type UnpoolOpts = Omit<MaxUnpoolOptions, 'outputSize'>;
abstract class MaxUnpoolNd extends Module {
  readonly options: UnpoolOpts;
  constructor(readonly nd: number, kernelSize: Ints | UnpoolOpts, rest: unknown[]) {
    super();
    const layer = this.constructor.name;
    const o = spatialArgs(layer, ['kernelSize', 'stride', 'padding'], [kernelSize, ...rest]);
    if (o.kernelSize === undefined) throw new TypeError(`${layer}: kernelSize is required`);
    intTuple(layer, 'kernelSize', o.kernelSize, nd, 1);
    if (o.stride != null) intTuple(layer, 'stride', o.stride, nd, 1);
    if (o.padding !== undefined) intTuple(layer, 'padding', o.padding, nd, 0);
    this.options = o as unknown as UnpoolOpts;
  }
  /** Scatters x to the positions `indices` (from a max pool's returnIndices) name; `outputSize` as PyTorch's forward. */
  override forward(x: Tensor, indices?: Tensor, outputSize?: any): Tensor {
    const f = [P.maxUnpool1d, P.maxUnpool2d, P.maxUnpool3d][this.nd - 1];
    if (!(indices instanceof Tensor)) throw new TypeError(`${this.constructor.name}: forward(input, indices, outputSize?) needs the indices of a max pool, got ${describe(indices)}`);
    return f(x, indices, { ...this.options, outputSize: outputSize ?? null } as MaxUnpoolOptions);
  }
  override extraRepr(): string {
    const o = this.options;
    return `kernelSize=${JSON.stringify(o.kernelSize)}, stride=${JSON.stringify(o.stride ?? o.kernelSize)}, padding=${JSON.stringify(o.padding ?? 0)}`;
  }
}
type UnpoolArgs = [stride?: Ints | null | Partial<UnpoolOpts>, padding?: Ints | Partial<UnpoolOpts>, opts?: Partial<UnpoolOpts>];
/** MaxUnpool1d(kernelSize, stride = kernelSize, padding = 0); forward(input, indices, outputSize?). */
export class MaxUnpool1d extends MaxUnpoolNd {
  constructor(kernelSize: Ints | UnpoolOpts, ...rest: UnpoolArgs) {
    super(1, kernelSize, rest);
  }
}
/** MaxUnpool2d(kernelSize, stride = kernelSize, padding = 0); forward(input, indices, outputSize?). */
export class MaxUnpool2d extends MaxUnpoolNd {
  constructor(kernelSize: Ints | UnpoolOpts, ...rest: UnpoolArgs) {
    super(2, kernelSize, rest);
  }
}
/** MaxUnpool3d(kernelSize, stride = kernelSize, padding = 0); forward(input, indices, outputSize?). */
export class MaxUnpool3d extends MaxUnpoolNd {
  constructor(kernelSize: Ints | UnpoolOpts, ...rest: UnpoolArgs) {
    super(3, kernelSize, rest);
  }
}

/** Global average pooling: [N, C, H, W] → [N, C, 1, 1]. */
export class GlobalAvgPool2d extends Module {
  constructor(...rest: never[]) {
    super();
    if (rest.length) throw new TypeError(`GlobalAvgPool2d: takes no arguments, got ${rest.length}`);
  }
  forward(x: Tensor): Tensor {
    return P.globalAvgPool2d(x, true);
  }
}
