/** Layers with PyTorch's names, arguments and default initialisations. */
import { Tensor, empty, zeros, ones, describe, assertTensor } from '../tensor';
import { Module, Parameter } from './module';
import * as init from './init';
import * as F from './functional';
import { isGradEnabled } from '../autograd';
import type { ConvOptions, Padding } from '../ops/conv';

function checkInt(layer: string, name: string, v: unknown, min = 1): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min)
    throw new RangeError(`${layer}: ${name} must be an integer >= ${min}, got ${describe(v)}`);
  return v;
}

/** Runs children in order: `new Sequential(a, b, c)`; children are named '0', '1', … */
export class Sequential extends Module {
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
  try {
    const s = F.convOutputShape(x.shape, conv.weight.shape, { stride: conv.stride, padding: conv.padding, dilation: conv.dilation, groups: conv.groups });
    return s[2] >= 2 && s[3] >= 2;
  } catch {
    return false;  // the unfused ops say what is wrong
  }
}

/** y = x·Wᵀ + b. Init as PyTorch: W, b ~ U(−1/√in, 1/√in). */
export class Linear extends Module {
  weight: Tensor;
  bias: Tensor | null;
  constructor(readonly inFeatures: number, readonly outFeatures: number, opts: { bias?: boolean } = {}) {
    super();
    checkInt('Linear', 'inFeatures', inFeatures);
    checkInt('Linear', 'outFeatures', outFeatures);
    this.weight = Parameter(empty([outFeatures, inFeatures]));
    this.bias = opts.bias === false ? null : Parameter(empty([outFeatures]));
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
}

abstract class ConvNd extends Module {
  weight: Tensor;
  bias: Tensor | null;
  readonly kernelSize: number[];
  readonly stride: number | number[];
  readonly padding: Padding;
  readonly dilation: number | number[];
  readonly groups: number;
  constructor(nd: number, readonly inChannels: number, readonly outChannels: number, kernelSize: number | number[], opts: ConvLayerOptions = {}) {
    super();
    const name = `Conv${nd}d`;
    checkInt(name, 'inChannels', inChannels);
    checkInt(name, 'outChannels', outChannels);
    const ks = typeof kernelSize === 'number' ? new Array<number>(nd).fill(kernelSize) : kernelSize;
    if (!Array.isArray(ks) || ks.length !== nd) throw new TypeError(`${name}: kernelSize must be a number or ${nd} numbers, got ${describe(kernelSize)}`);
    ks.forEach((k) => checkInt(name, 'kernelSize', k));
    this.groups = checkInt(name, 'groups', opts.groups ?? 1);
    if (inChannels % this.groups || outChannels % this.groups)
      throw new Error(`${name}: groups ${this.groups} must divide inChannels ${inChannels} and outChannels ${outChannels}`);
    this.kernelSize = ks;
    this.stride = opts.stride ?? 1;
    this.padding = opts.padding ?? 0;
    this.dilation = opts.dilation ?? 1;
    this.weight = Parameter(empty([outChannels, inChannels / this.groups, ...ks]));
    this.bias = opts.bias === false ? null : Parameter(empty([outChannels]));
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
  override extraRepr(): string {
    const s = [`${this.inChannels}, ${this.outChannels}, kernelSize=[${this.kernelSize.join(', ')}]`];
    if (this.stride !== 1) s.push(`stride=${JSON.stringify(this.stride)}`);
    if (this.padding !== 0) s.push(`padding=${JSON.stringify(this.padding)}`);
    if (this.dilation !== 1) s.push(`dilation=${JSON.stringify(this.dilation)}`);
    if (this.groups !== 1) s.push(`groups=${this.groups}`);
    if (!this.bias) s.push('bias=false');
    return s.join(', ');
  }
}

/** 1-D convolution over [N, C, L]. */
export class Conv1d extends ConvNd {
  constructor(inChannels: number, outChannels: number, kernelSize: number | number[], opts?: ConvLayerOptions) {
    super(1, inChannels, outChannels, kernelSize, opts);
  }
  forward(x: Tensor): Tensor {
    return F.conv1d(x, this.weight, this.bias, this.opts());
  }
}
/** 2-D convolution over [N, C, H, W]. */
export class Conv2d extends ConvNd {
  constructor(inChannels: number, outChannels: number, kernelSize: number | number[], opts?: ConvLayerOptions) {
    super(2, inChannels, outChannels, kernelSize, opts);
  }
  forward(x: Tensor): Tensor {
    return F.conv2d(x, this.weight, this.bias, this.opts());
  }
}
/** 3-D convolution over [N, C, D, H, W]. */
export class Conv3d extends ConvNd {
  constructor(inChannels: number, outChannels: number, kernelSize: number | number[], opts?: ConvLayerOptions) {
    super(3, inChannels, outChannels, kernelSize, opts);
  }
  forward(x: Tensor): Tensor {
    return F.conv3d(x, this.weight, this.bias, this.opts());
  }
}

/** Pooling layer options; the second constructor argument may also be the stride, as PyTorch's positional form. */
export type PoolLayerOptions = Omit<F.PoolOptions, 'kernelSize'>;

abstract class PoolNd extends Module {
  readonly options: F.PoolOptions;
  constructor(kernelSize: number | number[], opts: PoolLayerOptions | number | number[] = {}) {
    super();
    const o = typeof opts === 'number' || Array.isArray(opts) ? { stride: opts } : opts;
    this.options = { ...o, kernelSize };
  }
  override extraRepr(): string {
    const o = this.options;
    return `kernelSize=${JSON.stringify(o.kernelSize)}, stride=${JSON.stringify(o.stride ?? o.kernelSize)}, padding=${JSON.stringify(o.padding ?? 0)}${o.ceilMode ? ', ceilMode=true' : ''}`;
  }
}

export class MaxPool1d extends PoolNd {
  forward(x: Tensor): Tensor {
    return F.maxPool1d(x, this.options);
  }
}
export class MaxPool2d extends PoolNd {
  forward(x: Tensor): Tensor {
    return F.maxPool2d(x, this.options);
  }
}
export class MaxPool3d extends PoolNd {
  forward(x: Tensor): Tensor {
    return F.maxPool3d(x, this.options);
  }
}
export class AvgPool1d extends PoolNd {
  forward(x: Tensor): Tensor {
    return F.avgPool1d(x, this.options);
  }
}
export class AvgPool2d extends PoolNd {
  forward(x: Tensor): Tensor {
    return F.avgPool2d(x, this.options);
  }
}
export class AvgPool3d extends PoolNd {
  forward(x: Tensor): Tensor {
    return F.avgPool3d(x, this.options);
  }
}

/** Average pooling to a fixed output size. */
export class AdaptiveAvgPool2d extends Module {
  constructor(readonly outputSize: number | [number, number]) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.adaptiveAvgPool2d(x, this.outputSize);
  }
  override extraRepr(): string {
    return `outputSize=${JSON.stringify(this.outputSize)}`;
  }
}

/** Global average pooling: [N, C, H, W] → [N, C, 1, 1]. */
export class GlobalAvgPool2d extends Module {
  forward(x: Tensor): Tensor {
    return F.globalAvgPool2d(x, true);
  }
}

export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return F.relu(x);
  }
}
export class Sigmoid extends Module {
  forward(x: Tensor): Tensor {
    return F.sigmoid(x);
  }
}
export class Tanh extends Module {
  forward(x: Tensor): Tensor {
    return F.tanh(x);
  }
}
export class LeakyReLU extends Module {
  constructor(readonly negativeSlope = 0.01) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.leakyRelu(x, this.negativeSlope);
  }
}
/** Softmax along `dim`. */
export class Softmax extends Module {
  constructor(readonly dim: number) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.softmax(x, this.dim);
  }
  override extraRepr(): string {
    return `dim=${this.dim}`;
  }
}
/** Log-softmax along `dim`. */
export class LogSoftmax extends Module {
  constructor(readonly dim: number) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.logSoftmax(x, this.dim);
  }
}
/** Flattens dims startDim..endDim (default 1..-1: keeps the batch). */
export class Flatten extends Module {
  constructor(readonly startDim = 1, readonly endDim = -1) {
    super();
  }
  forward(x: Tensor): Tensor {
    return x.flatten(this.startDim, this.endDim);
  }
}
export class Identity extends Module {
  forward(x: Tensor): Tensor {
    return x;
  }
}

/** Zeroes elements with probability p in training (scaling the rest by 1/(1−p)); identity in eval. */
export class Dropout extends Module {
  constructor(readonly p = 0.5) {
    super();
    if (typeof p !== 'number' || !(p >= 0 && p <= 1)) throw new RangeError(`Dropout: p must be in [0, 1], got ${describe(p)}`);
  }
  forward(x: Tensor): Tensor {
    return F.dropout(x, this.p, this.training);
  }
  override extraRepr(): string {
    return `p=${this.p}`;
  }
}

/** Options of BatchNorm2d (PyTorch's defaults). */
export interface BatchNormLayerOptions {
  eps?: number;
  momentum?: number;
  affine?: boolean;
  trackRunningStats?: boolean;
}

/** Batch normalisation over [N, C, H, W] with running statistics (state keys `running_mean`, `running_var`, `num_batches_tracked`). */
export class BatchNorm2d extends Module {
  weight: Tensor | null;
  bias: Tensor | null;
  readonly runningMean: Tensor | null;
  readonly runningVar: Tensor | null;
  readonly numBatchesTracked: Tensor | null;
  readonly eps: number;
  readonly momentum: number;
  constructor(readonly numFeatures: number, opts: BatchNormLayerOptions = {}) {
    super();
    checkInt('BatchNorm2d', 'numFeatures', numFeatures);
    this.eps = opts.eps ?? 1e-5;
    this.momentum = opts.momentum ?? 0.1;
    const affine = opts.affine ?? true;
    this.weight = affine ? Parameter(ones([numFeatures])) : null;
    this.bias = affine ? Parameter(zeros([numFeatures])) : null;
    const track = opts.trackRunningStats ?? true;
    this.runningMean = this.registerBuffer('running_mean', track ? zeros([numFeatures]) : null);
    this.runningVar = this.registerBuffer('running_var', track ? ones([numFeatures]) : null);
    this.numBatchesTracked = this.registerBuffer('num_batches_tracked', track ? zeros([]) : null);
  }
  forward(x: Tensor): Tensor {
    assertTensor('BatchNorm2d', x, 'input');
    if (x.ndim !== 4) throw new Error(`BatchNorm2d: expected a 4-d input [N, C, H, W], got shape [${x.shape.join(',')}]`);
    if (x.shape[1] !== this.numFeatures) throw new Error(`BatchNorm2d: expected ${this.numFeatures} channels, got ${x.shape[1]} (input shape [${x.shape.join(',')}])`);
    const useBatch = this.training || !this.runningMean;
    if (this.training && this.numBatchesTracked) this.numBatchesTracked.fill_(this.numBatchesTracked.item() + 1);
    return F.batchNorm(x, {
      runningMean: this.runningMean,
      runningVar: this.runningVar,
      weight: this.weight,
      bias: this.bias,
      training: useBatch,
      momentum: this.momentum,
      eps: this.eps,
    });
  }
  override extraRepr(): string {
    return `${this.numFeatures}, eps=${this.eps}, momentum=${this.momentum}`;
  }
}
