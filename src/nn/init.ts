/** Parameter initialisers (in place, no grad), with PyTorch's formulas. */
import { Tensor, rand, randn, describe, assertTensor } from '../tensor';
import { checkOptions, numberArg } from '../ops/args';

/** The tensor argument of an initialiser: a live Tensor. */
function target(op: string, t: Tensor): Tensor {
  assertTensor(op, t, 'tensor')._check(op);
  return t;
}

/** fan_in and fan_out of a weight [out, in, ...kernel]. */
export function fans(t: Tensor, op = 'init.fans'): { fanIn: number; fanOut: number } {
  target(op, t);
  if (t.ndim < 2) throw new Error(`${op}: fan in/out need a tensor with at least 2 dims, got shape [${t.shape.join(',')}]`);
  const rf = t.shape.slice(2).reduce((a, b) => a * b, 1);
  return { fanIn: t.shape[1] * rf, fanOut: t.shape[0] * rf };
}

/** Gain for a nonlinearity, as torch.nn.init.calculate_gain. */
export function calculateGain(nonlinearity: string, param?: number): number {
  if (param !== undefined) numberArg('calculateGain', 'param', param);
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
  target('init.uniform', t);
  numberArg('init.uniform', 'low', low);
  numberArg('init.uniform', 'high', high);
  if (!(high >= low)) throw new RangeError(`init.uniform: expected low <= high, got ${low}, ${high}`);
  return fillFrom(t, rand(t.shape as number[], low, high));
}
/** Fills with N(mean, std²). */
export function normal(t: Tensor, mean = 0, std = 1): Tensor {
  target('init.normal', t);
  numberArg('init.normal', 'mean', mean);
  numberArg('init.normal', 'std', std);
  if (std < 0) throw new RangeError(`init.normal: std must be >= 0, got ${std}`);
  return fillFrom(t, randn(t.shape as number[], mean, std));
}
/** Fills with a constant. */
export function constant(t: Tensor, value: number): Tensor {
  target('init.constant', t);
  return t.fill_(numberArg('init.constant', 'value', value));
}
export function zeros(t: Tensor): Tensor {
  return target('init.zeros', t).fill_(0);
}
export function ones(t: Tensor): Tensor {
  return target('init.ones', t).fill_(1);
}

/** Options of the Kaiming initialisers. */
export interface KaimingOptions {
  /** Negative slope of the rectifier after this layer (default 0). */
  a?: number;
  mode?: 'fanIn' | 'fanOut' | 'fan_in' | 'fan_out';
  nonlinearity?: 'relu' | 'leakyRelu' | 'leaky_relu' | 'linear' | 'tanh' | 'sigmoid';
}

function kaimingStd(op: string, t: Tensor, o: KaimingOptions): number {
  target(op, t);
  o = checkOptions(op, o, ['a', 'mode', 'nonlinearity']);
  // PyTorch spells the modes 'fan_in' / 'fan_out'
  const mode = o.mode ?? 'fanIn';
  if (!['fanIn', 'fanOut', 'fan_in', 'fan_out'].includes(mode)) throw new Error(`${op}: mode must be 'fanIn' or 'fanOut', got ${describe(mode)}`);
  if (o.a !== undefined) numberArg(op, 'a', o.a);
  const { fanIn, fanOut } = fans(t, op);
  const fan = mode === 'fanIn' || mode === 'fan_in' ? fanIn : fanOut;
  const gain = calculateGain(o.nonlinearity ?? 'leaky_relu', o.a ?? 0);
  return fan > 0 ? gain / Math.sqrt(fan) : 0;
}

/** He uniform: U(−b, b) with b = gain·√(3 / fan). PyTorch's layers use a = √5. */
export function kaimingUniform(t: Tensor, opts: KaimingOptions = {}): Tensor {
  const b = Math.sqrt(3) * kaimingStd('init.kaimingUniform', t, opts);
  return uniform(t, -b, b);
}
/** He normal: N(0, (gain / √fan)²). */
export function kaimingNormal(t: Tensor, opts: KaimingOptions = {}): Tensor {
  return normal(t, 0, kaimingStd('init.kaimingNormal', t, opts));
}
/** Glorot uniform: U(−b, b) with b = gain·√(6 / (fanIn + fanOut)). */
export function xavierUniform(t: Tensor, gain = 1): Tensor {
  target('init.xavierUniform', t);
  numberArg('init.xavierUniform', 'gain', gain);
  const { fanIn, fanOut } = fans(t, 'init.xavierUniform');
  const b = gain * Math.sqrt(6 / (fanIn + fanOut));
  return uniform(t, -b, b);
}
/** Glorot normal. */
export function xavierNormal(t: Tensor, gain = 1): Tensor {
  target('init.xavierNormal', t);
  numberArg('init.xavierNormal', 'gain', gain);
  const { fanIn, fanOut } = fans(t, 'init.xavierNormal');
  return normal(t, 0, gain * Math.sqrt(2 / (fanIn + fanOut)));
}
