/** Parameter initialisers (in place, no grad), with PyTorch's formulas. */
import { Tensor, rand, randn, describe, assertTensor } from '../tensor';

/** fan_in and fan_out of a weight [out, in, ...kernel]. */
export function fans(t: Tensor): { fanIn: number; fanOut: number } {
  if (t.ndim < 2) throw new Error(`init: fan in/out need a tensor with at least 2 dims, got shape [${t.shape.join(',')}]`);
  const rf = t.shape.slice(2).reduce((a, b) => a * b, 1);
  return { fanIn: t.shape[1] * rf, fanOut: t.shape[0] * rf };
}

/** Gain for a nonlinearity, as torch.nn.init.calculate_gain. */
export function calculateGain(nonlinearity: string, param?: number): number {
  switch (nonlinearity) {
    case 'linear': case 'conv1d': case 'conv2d': case 'conv3d': case 'sigmoid': return 1;
    case 'tanh': return 5 / 3;
    case 'relu': return Math.SQRT2;
    case 'leaky_relu': case 'leakyRelu': {
      const a = param ?? 0.01;
      return Math.sqrt(2 / (1 + a * a));
    }
    case 'selu': return 3 / 4;
    default: throw new Error(`calculateGain: unknown nonlinearity ${describe(nonlinearity)}`);
  }
}

function fillFrom(t: Tensor, src: Tensor): Tensor {
  t.copy_(src);
  src.dispose();
  return t;
}

/** Fills with U(low, high). */
export function uniform(t: Tensor, low = 0, high = 1): Tensor {
  assertTensor('init.uniform', t, 'tensor');
  return fillFrom(t, rand(t.shape as number[], low, high));
}
/** Fills with N(mean, std²). */
export function normal(t: Tensor, mean = 0, std = 1): Tensor {
  assertTensor('init.normal', t, 'tensor');
  return fillFrom(t, randn(t.shape as number[], mean, std));
}
/** Fills with a constant. */
export function constant(t: Tensor, value: number): Tensor {
  return t.fill_(value);
}
export function zeros(t: Tensor): Tensor {
  return t.fill_(0);
}
export function ones(t: Tensor): Tensor {
  return t.fill_(1);
}

/** Options of the Kaiming initialisers. */
export interface KaimingOptions {
  /** Negative slope of the rectifier after this layer (default 0). */
  a?: number;
  mode?: 'fanIn' | 'fanOut';
  nonlinearity?: 'relu' | 'leakyRelu' | 'leaky_relu' | 'linear' | 'tanh' | 'sigmoid';
}

function kaimingStd(t: Tensor, o: KaimingOptions): number {
  const { fanIn, fanOut } = fans(t);
  const fan = (o.mode ?? 'fanIn') === 'fanIn' ? fanIn : fanOut;
  const gain = calculateGain(o.nonlinearity ?? 'leaky_relu', o.a ?? 0);
  return fan > 0 ? gain / Math.sqrt(fan) : 0;
}

/** He uniform: U(−b, b) with b = gain·√(3 / fan). PyTorch's layers use a = √5. */
export function kaimingUniform(t: Tensor, opts: KaimingOptions = {}): Tensor {
  const b = Math.sqrt(3) * kaimingStd(t, opts);
  return uniform(t, -b, b);
}
/** He normal: N(0, (gain / √fan)²). */
export function kaimingNormal(t: Tensor, opts: KaimingOptions = {}): Tensor {
  return normal(t, 0, kaimingStd(t, opts));
}
/** Glorot uniform: U(−b, b) with b = gain·√(6 / (fanIn + fanOut)). */
export function xavierUniform(t: Tensor, gain = 1): Tensor {
  const { fanIn, fanOut } = fans(t);
  const b = gain * Math.sqrt(6 / (fanIn + fanOut));
  return uniform(t, -b, b);
}
/** Glorot normal. */
export function xavierNormal(t: Tensor, gain = 1): Tensor {
  const { fanIn, fanOut } = fans(t);
  return normal(t, 0, gain * Math.sqrt(2 / (fanIn + fanOut)));
}
