/**
 * Elementwise ops with NumPy/PyTorch broadcasting, forward and backward side by side.
 */
import { native, type Handle } from '../native';
import { Tensor, fromOp, describe, sameShape, numelOf } from '../tensor';
import { Bin, Un, Act } from './codes';
import { numberArg } from './args';

function isShape(s: unknown): boolean {
  if (!Array.isArray(s)) return false;
  for (let i = 0; i < s.length; i++) {
    const d = s[i];
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 0) return false;
  }
  return true;
}

/** @internal The broadcast result shape of a and b, or a clear Error. */
export function broadcastShapes(op: string, a: readonly number[], b: readonly number[]): number[] {
  if (!isShape(a)) throw new TypeError(`${typeof op === 'string' ? op : 'broadcastShapes'}: shape a must be an array of non-negative integers, got ${describe(a)}`);
  if (!isShape(b)) throw new TypeError(`${typeof op === 'string' ? op : 'broadcastShapes'}: shape b must be an array of non-negative integers, got ${describe(b)}`);
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1, db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1)
      throw new Error(`${op}: shapes [${a.join(',')}] and [${b.join(',')}] cannot be broadcast (dim ${i - n}: ${da} vs ${db})`);
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** @internal Element strides of `shape` inside `out` (0 on broadcast dims). */
export function broadcastStrides(shape: readonly number[], out: readonly number[]): number[] {
  const st = new Array<number>(out.length).fill(0);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    const j = out.length - shape.length + i;
    st[j] = shape[i] === 1 && out[j] !== 1 ? 0 : s;
    s *= shape[i];
  }
  return st;
}

/** @internal Sums a gradient of shape `from` down to `to` (the reverse of broadcasting). Takes ownership of g. */
export function sumTo(g: Tensor, to: readonly number[]): Tensor {
  if (sameShape(g.shape, to)) return g;
  const strides = broadcastStrides(to, g.shape);
  const r = Tensor._wrap(native.sumTo(g._h('sumTo'), g.shape as number[], strides, numelOf(to)), to);
  g.dispose();
  return r;
}

function checkOperand(op: string, v: unknown, arg: string): void {
  if (v instanceof Tensor) v._check(op);
  else if (typeof v !== 'number') throw new TypeError(`${op}: ${arg} must be a Tensor or a number, got ${describe(v)}`);
}

function scalarTensor(v: number): Tensor {
  return Tensor._wrap(native.alloc(1, v), []);
}

function unaryOp(op: Un, x: Tensor, s = 0, name = 'op'): Handle {
  return native.unary(op, x._h(name), s);
}

/** @internal The raw broadcast binary op (no autograd). */
export function binaryRaw(name: string, code: Bin, a: Tensor, b: Tensor): Tensor {
  const shape = broadcastShapes(name, a.shape, b.shape);
  return Tensor._wrap(
    native.binary(code, a._h(name), b._h(name), shape, broadcastStrides(a.shape, shape), broadcastStrides(b.shape, shape)),
    shape,
  );
}

function binary(name: string, code: Bin, a: Tensor, b: Tensor, backward: (g: Tensor, out: Tensor) => (Tensor | null)[]): Tensor {
  const shape = broadcastShapes(name, a.shape, b.shape);
  const h = native.binary(code, a._h(name), b._h(name), shape, broadcastStrides(a.shape, shape), broadcastStrides(b.shape, shape));
  let out: Tensor;
  out = fromOp(h, shape, name, [a, b], (g) => backward(g, out));
  return out;
}

/** a + alpha * b */
export function add(a: Tensor, b: Tensor | number, alpha = 1): Tensor {
  checkOperand('add', b, 'other');
  numberArg('add', 'alpha', alpha);
  a._check('add');
  if (typeof b === 'number') {
    const s = b * alpha;
    return fromOp(unaryOp(Un.AddScalar, a, s, 'add'), a.shape, 'AddBackward', [a], (g) => [g]);
  }
  if (alpha !== 1) return scaledBinary('add', Bin.Add, a, b, alpha);
  return binary('add', Bin.Add, a, b, (g) => [
    a.requiresGrad ? sumTo(b.requiresGrad ? g.clone() : g, a.shape) : null,
    b.requiresGrad ? sumTo(g, b.shape) : null,
  ]);
}

/** a ± alpha·b: the scaled copy of b is a temporary, not part of the graph. */
function scaledBinary(name: string, code: Bin.Add | Bin.Sub, a: Tensor, b: Tensor, alpha: number): Tensor {
  b._check(name);
  const shape = broadcastShapes(name, a.shape, b.shape);
  const bs = rawScale(b, alpha);
  const h = native.binary(code, a._h(name), bs._h(name), shape, broadcastStrides(a.shape, shape), broadcastStrides(b.shape, shape));
  bs.dispose();
  const sign = code === Bin.Add ? alpha : -alpha;
  return fromOp(h, shape, code === Bin.Add ? 'AddBackward' : 'SubBackward', [a, b], (g) => [
    a.requiresGrad ? sumTo(g.clone(), a.shape) : null,
    b.requiresGrad ? sumTo(rawScale(g, sign), b.shape) : null,
  ]);
}

/** a - alpha * b */
export function sub(a: Tensor, b: Tensor | number, alpha = 1): Tensor {
  checkOperand('sub', b, 'other');
  numberArg('sub', 'alpha', alpha);
  a._check('sub');
  if (typeof b === 'number') return add(a, -b * alpha);
  if (alpha !== 1) return scaledBinary('sub', Bin.Sub, a, b, alpha);
  return binary('sub', Bin.Sub, a, b, (g) => [
    a.requiresGrad ? sumTo(g.clone(), a.shape) : null,
    b.requiresGrad ? sumTo(rawNeg(g), b.shape) : null,
  ]);
}

function rawNeg(g: Tensor): Tensor {
  return Tensor._wrap(native.unary(Un.Neg, g._h('neg')), g.shape);
}
function rawMul(a: Tensor, b: Tensor): Tensor {
  return binaryRaw('mul', Bin.Mul, a, b);
}
function rawScale(a: Tensor, s: number): Tensor {
  return Tensor._wrap(native.unary(Un.MulScalar, a._h('mul'), s), a.shape);
}

/** a * b */
export function mul(a: Tensor, b: Tensor | number): Tensor {
  checkOperand('mul', b, 'other');
  a._check('mul');
  if (typeof b === 'number') {
    const s = b;
    return fromOp(unaryOp(Un.MulScalar, a, s, 'mul'), a.shape, 'MulBackward', [a], (g) => [rawScale(g, s)]);
  }
  const bb = b;
  return binary('mul', Bin.Mul, a, bb, (g) => [
    a.requiresGrad ? sumTo(rawMul(g, bb), a.shape) : null,
    bb.requiresGrad ? sumTo(rawMul(g, a), bb.shape) : null,
  ]);
}

/** a / b */
export function div(a: Tensor, b: Tensor | number): Tensor {
  checkOperand('div', b, 'other');
  a._check('div');
  if (typeof b === 'number') {
    const s = b;
    return fromOp(unaryOp(Un.DivScalar, a, s, 'div'), a.shape, 'DivBackward', [a], (g) => [
      Tensor._wrap(native.unary(Un.DivScalar, g._h('div'), s), g.shape),
    ]);
  }
  const bt = b;
  const out = binary('div', Bin.Div, a, bt, (g) => {
    const ga = a.requiresGrad ? sumTo(binaryRaw('div', Bin.Div, g, bt), a.shape) : null;
    let gb: Tensor | null = null;
    if (bt.requiresGrad) {
      // d(a/b)/db = -a / b^2 = -out / b
      const t = binaryRaw('div', Bin.Div, out, bt);
      const u = rawMul(g, t);
      t.dispose();
      gb = sumTo(rawNeg(u), bt.shape);
      u.dispose();
    }
    return [ga, gb];
  });
  return out;
}

/** a ** b (elementwise). */
export function pow(a: Tensor, b: Tensor | number): Tensor {
  checkOperand('pow', b, 'exponent');
  a._check('pow');
  if (typeof b === 'number') {
    const p = b;
    return fromOp(unaryOp(Un.PowScalar, a, p, 'pow'), a.shape, 'PowBackward', [a], (g) => {
      if (p === 0) return [Tensor._wrap(native.alloc(g.numel, 0), g.shape)];
      const d = Tensor._wrap(native.unary(Un.PowScalar, a._h('pow'), p - 1), a.shape); // a^(p-1)
      native.unaryInplace(Un.MulScalar, d._h('pow'), p);
      const r = rawMul(g, d);
      d.dispose();
      return [r];
    });
  }
  const bb = b;
  return binary('pow', Bin.Pow, a, bb, (g) => {
    // PyTorch's formulas: d/da = b==0 ? 0 : b·a^(b-1);  d/db = a==0 && b>=0 ? 0 : a^b·log(a)
    const side = (code: Bin.PowGradBase | Bin.PowGradExponent, to: readonly number[]): Tensor => {
      const f = binaryRaw('pow', code, a, bb);
      const r = rawMul(g, f);
      f.dispose();
      return sumTo(r, to);
    };
    return [a.requiresGrad ? side(Bin.PowGradBase, a.shape) : null, bb.requiresGrad ? side(Bin.PowGradExponent, bb.shape) : null];
  });
}

/** -x */
export function neg(x: Tensor): Tensor {
  return fromOp(unaryOp(Un.Neg, x, 0, 'neg'), x.shape, 'NegBackward', [x], (g) => [rawNeg(g)]);
}

function unaryWithOutput(name: string, code: Un, x: Tensor, grad: (g: Tensor, y: Tensor) => Tensor, op: string): Tensor {
  let y: Tensor;
  y = fromOp(unaryOp(code, x, 0, op), x.shape, name, [x], (g) => [grad(g, y)]);
  return y;
}

/** e^x */
export function exp(x: Tensor): Tensor {
  return unaryWithOutput('ExpBackward', Un.Exp, x, (g, y) => rawMul(g, y), 'exp');
}
/** natural log */
export function log(x: Tensor): Tensor {
  return fromOp(unaryOp(Un.Log, x, 0, 'log'), x.shape, 'LogBackward', [x], (g) => [binaryRaw('log', Bin.Div, g, x)]);
}
/** square root */
export function sqrt(x: Tensor): Tensor {
  return unaryWithOutput('SqrtBackward', Un.Sqrt, x, (g, y) => {
    const t = binaryRaw('sqrt', Bin.Div, g, y);
    native.unaryInplace(Un.MulScalar, t._h('sqrt'), 0.5);
    return t;
  }, 'sqrt');
}
/** |x| */
export function abs(x: Tensor): Tensor {
  return fromOp(unaryOp(Un.Abs, x, 0, 'abs'), x.shape, 'AbsBackward', [x], (g) => {
    const s = Tensor._wrap(native.unary(Un.Sign, x._h('abs')), x.shape);
    const r = rawMul(g, s);
    s.dispose();
    return [r];
  });
}

// 'ReluBackward' → 'relu', computed once per node name rather than per call
const activationOps = new Map<string, string>();
function activationOp(name: string): string {
  let op = activationOps.get(name);
  if (op === undefined) {
    op = name.replace('Backward', '').replace(/^./, (c) => c.toLowerCase());
    activationOps.set(name, op);
  }
  return op;
}

function activation(name: string, code: Un, back: Act, x: Tensor, s = 0): Tensor {
  let y: Tensor;
  const op = activationOp(name);
  y = fromOp(unaryOp(code, x, s, op), x.shape, name, [x], (g) => [
    Tensor._wrap(native.activationBackward(back, g._h(name), y._h(name)), g.shape),
  ]);
  return y;
}
/** max(x, 0) */
export function relu(x: Tensor): Tensor {
  return activation('ReluBackward', Un.Relu, Act.ReluBackward, x);
}
/** 1 / (1 + e^-x) */
export function sigmoid(x: Tensor): Tensor {
  return activation('SigmoidBackward', Un.Sigmoid, Act.SigmoidBackward, x);
}
/** hyperbolic tangent */
export function tanh(x: Tensor): Tensor {
  return activation('TanhBackward', Un.Tanh, Act.TanhBackward, x);
}
/** x if x > 0 else slope * x */
export function leakyRelu(x: Tensor, slope = 0.01): Tensor {
  numberArg('leakyRelu', 'negativeSlope', slope);
  return fromOp(unaryOp(Un.LeakyRelu, x, slope, 'leakyRelu'), x.shape, 'LeakyReluBackward', [x], (g) => {
    const pos = Tensor._wrap(native.unary(Un.GtScalar, x._h('leakyRelu'), 0), x.shape); // 1 or 0
    native.unaryInplace(Un.MulScalar, pos._h('leakyRelu'), 1 - slope);
    native.unaryInplace(Un.AddScalar, pos._h('leakyRelu'), slope);
    const r = rawMul(g, pos);
    pos.dispose();
    return [r];
  });
}

function minmax(name: string, code: Bin.Maximum | Bin.Minimum, a: Tensor, b: Tensor | number): Tensor {
  checkOperand(name, b, 'other');
  a._check(name);
  if (typeof b === 'number') return code === Bin.Maximum ? clamp(a, b, undefined) : clamp(a, undefined, b);
  const bt = b;
  return binary(name, code, a, bt, (g) => {
    // As PyTorch: the gradient goes to the selected side, split in half on ties;
    // where either side is NaN (the result is NaN) both sides get all of it.
    const grad = code === Bin.Maximum ? Bin.MaximumGrad : Bin.MinimumGrad;
    const side = (x: Tensor, y: Tensor): Tensor => {
      const m = binaryRaw(name, grad, x, y);
      const r = rawMul(g, m);
      m.dispose();
      return r;
    };
    return [a.requiresGrad ? sumTo(side(a, bt), a.shape) : null, bt.requiresGrad ? sumTo(side(bt, a), bt.shape) : null];
  });
}
/** Elementwise maximum (with a number: clamp from below). */
export function maximum(a: Tensor, b: Tensor | number): Tensor {
  return minmax('maximum', Bin.Maximum, a, b);
}
/** Elementwise minimum (with a number: clamp from above). */
export function minimum(a: Tensor, b: Tensor | number): Tensor {
  return minmax('minimum', Bin.Minimum, a, b);
}
/** Clamps into [min, max] (either bound optional); the gradient flows where min ≤ x ≤ max, as PyTorch. */
export function clamp(x: Tensor, min?: number, max?: number): Tensor {
  x._check('clamp');
  if (min === undefined && max === undefined) throw new Error('clamp: at least one of min or max is needed');
  for (const [k, v] of [['min', min], ['max', max]] as const)
    if (v !== undefined && (typeof v !== 'number' || Number.isNaN(v))) throw new TypeError(`clamp: ${k} must be a number, got ${describe(v)}`);
  let h: Handle;
  if (min !== undefined) {
    h = native.unary(Un.ClampMin, x._h('clamp'), min);
    if (max !== undefined) native.unaryInplace(Un.ClampMax, h, max);
  } else h = native.unary(Un.ClampMax, x._h('clamp'), max!);
  return fromOp(h, x.shape, 'ClampBackward', [x], (g) => {
    let mask: Tensor | null = null;
    if (min !== undefined) mask = Tensor._wrap(native.unary(Un.GeScalar, x._h('clamp'), min), x.shape);
    if (max !== undefined) {
      const m2 = Tensor._wrap(native.unary(Un.LeScalar, x._h('clamp'), max), x.shape);
      if (mask) {
        const both = rawMul(mask, m2);
        mask.dispose();
        m2.dispose();
        mask = both;
      } else mask = m2;
    }
    const r = rawMul(g, mask!);
    mask!.dispose();
    return [r];
  });
}

const CMP: Record<string, Bin> = { gt: Bin.Gt, lt: Bin.Lt, ge: Bin.Ge, le: Bin.Le, eq: Bin.Eq };
/** @internal Comparisons: 1 where true, 0 where false (no gradient). */
export function compare(a: Tensor, b: Tensor | number, op: 'gt' | 'lt' | 'ge' | 'le' | 'eq'): Tensor {
  checkOperand(op, b, 'other');
  a._check(op);
  const scalarOp = { gt: Un.GtScalar, lt: Un.LtScalar, ge: Un.GeScalar, le: Un.LeScalar, eq: null }[op];
  if (typeof b === 'number' && scalarOp !== null) return Tensor._wrap(native.unary(scalarOp, a._h(op), b), a.shape);
  const bt = typeof b === 'number' ? scalarTensor(b) : b;
  const r = binaryRaw(op, CMP[op], a, bt);
  if (bt !== b) bt.dispose();
  return r;
}

/** A copy with its own storage. */
export function clone(x: Tensor): Tensor {
  return fromOp(native.clone(x._h('clone')), x.shape, 'CloneBackward', [x], (g) => [g]);
}

