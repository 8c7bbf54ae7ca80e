// NaN, ±inf and ±0 through every eager elementwise op and reduction, forward
// and backward, against PyTorch (test/fixtures/gen_nan.py → nan_ref.json).
// PyTorch propagates NaN through activations (relu(NaN) is NaN, not 0) and
// lets it win in max/argmax; a model with NaN weights must not return finite,
// confident outputs.
import { describe, it, expect } from 'vitest';
import { tensor, tidy, nn, type Tensor } from '../../src';
import { fixture } from '../helpers';

type Enc = number | 'nan' | 'inf' | '-inf' | '-0';
const dec = (v: Enc): number => (v === 'nan' ? NaN : v === 'inf' ? Infinity : v === '-inf' ? -Infinity : v === '-0' ? -0 : v);
const decl = (a: Enc[]): number[] => a.map(dec);

interface UnaryRec { x: Enc[]; g: Enc[]; y: Enc[]; dx: Enc[] }
interface BinRec { g: Enc[]; y: Enc[]; da: Enc[] | null; db: Enc[] | null }
interface RedRec { shape: number[]; y: Enc[]; g?: Enc[]; dx?: Enc[] }
const REF = fixture<{
  unary: Record<string, UnaryRec>;
  binary: { a: Enc[]; b: Enc[]; ops: Record<string, BinRec> };
  reductions: { x: Enc[][]; ties: Enc[][]; ops: Record<string, RedRec> };
}>('nan_ref.json');

/** Same value as PyTorch: NaN where it has NaN, exact infinities, close finite values, and the sign of a zero result. */
function expectSame(actual: ArrayLike<number>, expected: number[], what: string, rtol = 2e-6): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  const bad: string[] = [];
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i], e = expected[i];
    let ok: boolean;
    if (Number.isNaN(e)) ok = Number.isNaN(a);
    else if (!Number.isFinite(e)) ok = a === e;
    else if (e === 0) ok = a === 0;
    else ok = Math.abs(a - e) <= 1e-7 + rtol * Math.abs(e);
    if (!ok) bad.push(`[${i}] got ${Object.is(a, -0) ? '-0' : a}, expected ${Object.is(e, -0) ? '-0' : e}`);
  }
  expect(bad, what).toEqual([]);
}

const UNARY: Record<string, (x: Tensor) => Tensor> = {
  relu: (x) => x.relu(),
  sigmoid: (x) => x.sigmoid(),
  tanh: (x) => x.tanh(),
  'leakyRelu(0.01)': (x) => nn.functional.leakyRelu(x, 0.01),
  'leakyRelu(0.2)': (x) => nn.functional.leakyRelu(x, 0.2),
  exp: (x) => x.exp(),
  log: (x) => x.log(),
  sqrt: (x) => x.sqrt(),
  abs: (x) => x.abs(),
  neg: (x) => x.neg(),
  'clamp(-0.5,0.5)': (x) => x.clamp(-0.5, 0.5),
  'clamp(0,null)': (x) => x.clamp(0, null),
  'clamp(null,0)': (x) => x.clamp(null, 0),
  'maximum(0.5)': (x) => x.maximum(0.5),
  'minimum(0.5)': (x) => x.minimum(0.5),
  'pow(2)': (x) => x.pow(2),
  'pow(3)': (x) => x.pow(3),
  'pow(0.5)': (x) => x.pow(0.5),
  'pow(0)': (x) => x.pow(0),
  'pow(-1)': (x) => x.pow(-1),
  'pow(-0.5)': (x) => x.pow(-0.5),
  'pow(-2)': (x) => x.pow(-2),
  'pow(1)': (x) => x.pow(1),
  'pow(1.5)': (x) => x.pow(1.5),
  'add(1)': (x) => x.add(1),
  'mul(2)': (x) => x.mul(2),
  'div(2)': (x) => x.div(2),
};

describe('unary ops at NaN, ±inf and ±0 match PyTorch (forward and backward)', () => {
  it('the fixture covers every op here', () => {
    expect(Object.keys(REF.unary).sort()).toEqual(Object.keys(UNARY).sort());
  });
  for (const [name, f] of Object.entries(UNARY)) {
    it(name, () => tidy(() => {
      const r = REF.unary[name];
      const x = tensor(decl(r.x)).requiresGrad_();
      const y = f(x);
      expectSame(y.data(), decl(r.y), `${name} forward`);
      y.backward(tensor(decl(r.g)));
      expectSame(x.grad!.data(), decl(r.dx), `${name} backward`);
      x.grad!.dispose();
      x.dispose();
    }));
  }
  it('relu, leakyRelu, sigmoid and tanh modules pass NaN through (a NaN model never looks confident)', () => tidy(() => {
    const x = tensor([NaN, -1, 1]);
    for (const m of [new nn.ReLU(), new nn.LeakyReLU(), new nn.Sigmoid(), new nn.Tanh()])
      expect(Number.isNaN(m.forward(x).data()[0]), m.constructor.name).toBe(true);
  }));
});

const BINARY: Record<string, (a: Tensor, b: Tensor) => Tensor> = {
  add: (a, b) => a.add(b),
  sub: (a, b) => a.sub(b),
  mul: (a, b) => a.mul(b),
  div: (a, b) => a.div(b),
  pow: (a, b) => a.pow(b),
  maximum: (a, b) => a.maximum(b),
  minimum: (a, b) => a.minimum(b),
  gt: (a, b) => a.gt(b),
  lt: (a, b) => a.lt(b),
  ge: (a, b) => a.ge(b),
  le: (a, b) => a.le(b),
  eq: (a, b) => a.eq(b),
};

describe('binary ops over every pair of special values match PyTorch (forward and both gradients)', () => {
  it('the fixture covers every op here', () => {
    expect(Object.keys(REF.binary.ops).sort()).toEqual(Object.keys(BINARY).sort());
  });
  for (const [name, f] of Object.entries(BINARY)) {
    it(name, () => tidy(() => {
      const r = REF.binary.ops[name];
      const grad = r.da !== null;
      const a = tensor(decl(REF.binary.a)), b = tensor(decl(REF.binary.b));
      if (grad) {
        a.requiresGrad_();
        b.requiresGrad_();
      }
      const y = f(a, b);
      expectSame(y.data(), decl(r.y), `${name} forward`);
      if (grad) {
        y.backward(tensor(decl(r.g)));
        expectSame(a.grad!.data(), decl(r.da!), `${name} d/da`);
        expectSame(b.grad!.data(), decl(r.db!), `${name} d/db`);
      }
      for (const t of [a, b]) t.dispose();
    }));
  }
  it('a broadcast operand: maximum(x, tensor(NaN)) is NaN everywhere and both sides get the gradient', () => tidy(() => {
    const x = tensor([[1, 2], [3, 4]]).requiresGrad_(), n = tensor([NaN]).requiresGrad_();
    const y = x.maximum(n);
    expect(Array.from(y.data()).every(Number.isNaN)).toBe(true);
    y.sum().backward();
    expect(Array.from(x.grad!.data())).toEqual([1, 1, 1, 1]);
    expect(Array.from(n.grad!.data())).toEqual([4]);
    x.dispose();
    n.dispose();
  }));
});

const REDUCTIONS: Record<string, (x: Tensor) => Tensor> = {
  'sum()': (x) => x.sum(),
  'sum(1)': (x) => x.sum(1),
  'mean(0)': (x) => x.mean(0),
  'max()': (x) => x.max(),
  'max(1).values': (x) => x.max(1).values,
  'max(1).indices': (x) => x.max(1).indices,
  'max(0).values': (x) => x.max(0).values,
  'max(0).indices': (x) => x.max(0).indices,
  'argmax()': (x) => x.argmax(),
  'argmax(1)': (x) => x.argmax(1),
  'argmax(0)': (x) => x.argmax(0),
  'softmax(1)': (x) => x.softmax(1),
  'logSoftmax(1)': (x) => x.logSoftmax(1),
};

describe('reductions with NaN (NaN wins in max and argmax), infinities and ties match PyTorch', () => {
  for (const key of ['x', 'ties'] as const) {
    for (const [op, f] of Object.entries(REDUCTIONS)) {
      const name = `${key}.${op}`;
      it(name, () => tidy(() => {
        const r = REF.reductions.ops[name];
        expect(r, `fixture has ${name}`).toBeDefined();
        const rows = REF.reductions[key].map(decl);
        const x = tensor(rows);
        if (r.dx) x.requiresGrad_();
        const y = f(x);
        expect(y.shape).toEqual(r.shape);
        expectSame(y.data(), decl(r.y), `${name} forward`, 1e-5);
        if (r.dx) {
          y.backward(tensor(decl(r.g!), r.shape));
          expectSame(x.grad!.data(), decl(r.dx), `${name} backward`, 1e-5);
          x.grad!.dispose();
        }
        x.dispose();
      }));
    }
  }
  it('max() over several NaNs splits the gradient evenly between them, as PyTorch', () => tidy(() => {
    const r = REF.reductions.ops['nan2.max()'];
    const x = tensor([1, NaN, 3, NaN, 3]).requiresGrad_();
    const y = x.max();
    expectSame(y.data(), decl(r.y), 'nan2.max() forward');
    y.backward(tensor(decl(r.g!), []));
    expectSame(x.grad!.data(), decl(r.dx!), 'nan2.max() backward');
    x.grad!.dispose();
    x.dispose();
  }));
});
