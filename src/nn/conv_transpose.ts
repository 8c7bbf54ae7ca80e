/** Transposed convolution layers (PyTorch's ConvTranspose1d/2d/3d: arguments, defaults and initialisation). */
import { Tensor, empty, describe } from '../tensor';
import { Module, Parameter } from './module';
import * as init from './init';
import { intTuple, boolArg } from '../ops/args';
import { spatialArgs } from '../ops/pool';
import { convTranspose1d, convTranspose2d, convTranspose3d, convTransposeOutSize, type ConvTransposeOptions } from '../ops/conv_transpose';

/** Options of the ConvTranspose layers (PyTorch's, camelCased). */
export interface ConvTransposeLayerOptions extends ConvTransposeOptions {
  /** Learn an additive bias (default true). */
  bias?: boolean;
  /** Only 'zeros', as PyTorch. */
  paddingMode?: 'zeros';
}

const NAMES = ['inChannels', 'outChannels', 'kernelSize', 'stride', 'padding', 'outputPadding', 'groups', 'bias', 'dilation', 'paddingMode'];

type Ints = number | number[];

abstract class ConvTransposeNd extends Module {
  weight: Tensor;
  bias: Tensor | null;
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: number[];
  readonly stride: number[];
  readonly padding: number[];
  readonly outputPadding: number[];
  readonly groups: number;
  readonly dilation: number[];
  readonly paddingMode = 'zeros';
  constructor(readonly nd: 1 | 2 | 3, args: unknown[]) {
    super();
    const name = `ConvTranspose${nd}d`;
    const o = spatialArgs(name, NAMES, args);
    const int = (k: string, v: unknown) => {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new RangeError(`${name}: ${k} must be an integer >= 1, got ${describe(v)}`);
      return v;
    };
    if (o.inChannels === undefined || o.outChannels === undefined || o.kernelSize === undefined)
      throw new TypeError(`${name}: inChannels, outChannels and kernelSize are required (${name}(inChannels, outChannels, kernelSize, stride, padding, outputPadding, groups, bias, dilation, paddingMode))`);
    this.inChannels = int('inChannels', o.inChannels);
    this.outChannels = int('outChannels', o.outChannels);
    this.kernelSize = intTuple(name, 'kernelSize', o.kernelSize, nd, 1).slice();
    this.stride = intTuple(name, 'stride', o.stride ?? 1, nd, 1).slice();
    this.padding = intTuple(name, 'padding', o.padding ?? 0, nd, 0).slice();
    this.outputPadding = intTuple(name, 'outputPadding', o.outputPadding ?? 0, nd, 0).slice();
    this.dilation = intTuple(name, 'dilation', o.dilation ?? 1, nd, 1).slice();
    this.groups = int('groups', o.groups ?? 1);
    const bias = boolArg(name, 'bias', o.bias, true);
    if (o.paddingMode !== undefined && o.paddingMode !== 'zeros')
      throw new Error(`${name}: only paddingMode 'zeros' is supported (as PyTorch), got ${describe(o.paddingMode)}`);
    if (this.inChannels % this.groups || this.outChannels % this.groups)
      throw new Error(`${name}: groups ${this.groups} must divide inChannels ${this.inChannels} and outChannels ${this.outChannels}`);
    this.outputPadding.forEach((v, i) => {
      if (v >= this.stride[i] && v >= this.dilation[i])
        throw new RangeError(`${name}: outputPadding must be smaller than either stride or dilation, got outputPadding ${v}, stride ${this.stride[i]}, dilation ${this.dilation[i]}`);
    });
    this.weight = Parameter(empty([this.inChannels, this.outChannels / this.groups, ...this.kernelSize]));
    this.bias = bias ? Parameter(empty([this.outChannels])) : null;
    this.resetParameters();
  }
  resetParameters(): void {
    // as PyTorch's _ConvNd: fan-in from weight dim 1 (Cout/groups · kernel)
    init.kaimingUniform(this.weight, { a: Math.sqrt(5) });
    if (this.bias) {
      const fanIn = init.fans(this.weight).fanIn;
      const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
      init.uniform(this.bias, -bound, bound);
    }
  }
  /** The outputPadding that gives `outputSize` (spatial, or full [N, C, …]), as PyTorch's `_output_padding`. */
  private outputPaddingFor(x: Tensor, outputSize: unknown): number[] {
    const name = `ConvTranspose${this.nd}d`;
    if (!Array.isArray(outputSize) || (outputSize.length !== this.nd && outputSize.length !== this.nd + 2))
      throw new TypeError(`${name}: outputSize must have ${this.nd} (or ${this.nd + 2}) entries, got ${describe(outputSize)}`);
    const want = intTuple(name, 'outputSize', outputSize.slice(-this.nd), this.nd, 0);
    const sp = x.shape.slice(-this.nd);
    return want.map((w, i) => {
      const min = convTransposeOutSize(sp[i], this.kernelSize[i], this.stride[i], this.padding[i], 0, this.dilation[i]);
      const max = min + this.stride[i] - 1;
      if (w < min || w > max) throw new RangeError(`${name}: requested an output size of ${describe(outputSize)}, but valid sizes along dim ${i} range from ${min} to ${max} (for an input of [${x.shape.join(',')}])`);
      return w - min;
    });
  }
  protected opts(x: Tensor, outputSize?: unknown): ConvTransposeOptions {
    const outputPadding = outputSize == null ? this.outputPadding : this.outputPaddingFor(x, outputSize);
    return { stride: this.stride, padding: this.padding, outputPadding, groups: this.groups, dilation: this.dilation };
  }
  override extraRepr(): string {
    const s = [`${this.inChannels}, ${this.outChannels}, kernelSize=[${this.kernelSize.join(', ')}]`];
    const one = (a: number[], v: number) => a.every((e) => e === v);
    if (!one(this.stride, 1)) s.push(`stride=[${this.stride.join(', ')}]`);
    if (!one(this.padding, 0)) s.push(`padding=[${this.padding.join(', ')}]`);
    if (!one(this.outputPadding, 0)) s.push(`outputPadding=[${this.outputPadding.join(', ')}]`);
    if (!one(this.dilation, 1)) s.push(`dilation=[${this.dilation.join(', ')}]`);
    if (this.groups !== 1) s.push(`groups=${this.groups}`);
    if (!this.bias) s.push('bias=false');
    return s.join(', ');
  }
}

type Args = [stride?: Ints | ConvTransposeLayerOptions, padding?: Ints | ConvTransposeLayerOptions, outputPadding?: Ints | ConvTransposeLayerOptions, groups?: number | ConvTransposeLayerOptions, bias?: boolean | ConvTransposeLayerOptions, dilation?: Ints | ConvTransposeLayerOptions, paddingMode?: 'zeros' | ConvTransposeLayerOptions, opts?: ConvTransposeLayerOptions];

/** ConvTranspose1d(inChannels, outChannels, kernelSize, stride = 1, padding = 0, outputPadding = 0, groups = 1, bias = true, dilation = 1, paddingMode = 'zeros'), or options last. Weight [Cin, Cout/groups, k]. */
export class ConvTranspose1d extends ConvTransposeNd {
  constructor(inChannels: number, outChannels: number, kernelSize: Ints, ...rest: Args) {
    super(1, [inChannels, outChannels, kernelSize, ...rest]);
  }
  /** `outputSize` (optional) picks the output padding, as PyTorch's forward(input, output_size). */
  forward(x: Tensor, outputSize?: any): Tensor {
    return convTranspose1d(x, this.weight, this.bias, this.opts(x, outputSize));
  }
}
/** ConvTranspose2d(inChannels, outChannels, kernelSize, stride = 1, padding = 0, outputPadding = 0, groups = 1, bias = true, dilation = 1, paddingMode = 'zeros'), or options last. Weight [Cin, Cout/groups, kH, kW]. */
export class ConvTranspose2d extends ConvTransposeNd {
  constructor(inChannels: number, outChannels: number, kernelSize: Ints, ...rest: Args) {
    super(2, [inChannels, outChannels, kernelSize, ...rest]);
  }
  forward(x: Tensor, outputSize?: any): Tensor {
    return convTranspose2d(x, this.weight, this.bias, this.opts(x, outputSize));
  }
}
/** ConvTranspose3d(…) as ConvTranspose2d over [N, C, D, H, W]. */
export class ConvTranspose3d extends ConvTransposeNd {
  constructor(inChannels: number, outChannels: number, kernelSize: Ints, ...rest: Args) {
    super(3, [inChannels, outChannels, kernelSize, ...rest]);
  }
  forward(x: Tensor, outputSize?: any): Tensor {
    return convTranspose3d(x, this.weight, this.bias, this.opts(x, outputSize));
  }
}
