// Every tensor op against a naive float64 reference written here, on seeded
// random shapes (0-d, size-1 and broadcast dims included).
import { describe, it, expect } from 'vitest';
import { tensor, Tensor, tidy, arange, zeros } from '../../src';
import {
  makeRng, randInt, pick, randArray, randAwayFromZero, numel, unravel, stridesOf, refBinary, randomShape,
  broadcastPartner, expectAllClose, splitDims, reducedShape, refMatmul2d, type Rng,
} from '../helpers';

const EW = { rtol: 1e-5, atol: 1e-6 };
const RED = { rtol: 1e-4, atol: 1e-5 };
const MM = { rtol: 1e-4, atol: 1e-4 };

const fr = Math.fround;
const T = (data: Float32Array, shape: number[]) => tensor(data, shape);

// Every test runs in a tidy scope so nothing leaks between tests.
function scoped(fn: () => void): () => void {
  return () => {
    tidy(() => {
      fn();
    });
  };
}

// ---------------------------------------------------------------------------
// binary ops

type BinCase = {
  name: string;
  call: (a: Tensor, b: Tensor | number) => Tensor;
  ref: (x: number, y: number) => number;
  genA: (r: Rng, n: number) => Float32Array;
  genB: (r: Rng, n: number) => Float32Array;
};

const smallInts = (r: Rng, n: number) => {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = randInt(r, -2, 2) / 2;
  return a;
};

const BINARY: BinCase[] = [
  { name: 'add', call: (a, b) => a.add(b), ref: (x, y) => x + y, genA: (r, n) => randArray(r, n, -2, 2), genB: (r, n) => randArray(r, n, -2, 2) },
  { name: 'sub', call: (a, b) => a.sub(b), ref: (x, y) => x - y, genA: (r, n) => randArray(r, n, -2, 2), genB: (r, n) => randArray(r, n, -2, 2) },
  { name: 'mul', call: (a, b) => a.mul(b), ref: (x, y) => x * y, genA: (r, n) => randArray(r, n, -2, 2), genB: (r, n) => randArray(r, n, -2, 2) },
  { name: 'div', call: (a, b) => a.div(b), ref: (x, y) => x / y, genA: (r, n) => randArray(r, n, -2, 2), genB: (r, n) => randAwayFromZero(r, n, 0.5, 2) },
  { name: 'pow', call: (a, b) => a.pow(b), ref: (x, y) => Math.pow(x, y), genA: (r, n) => randArray(r, n, 0.2, 3), genB: (r, n) => randArray(r, n, -2, 2) },
  { name: 'maximum', call: (a, b) => a.maximum(b), ref: (x, y) => Math.max(x, y), genA: smallInts, genB: (r, n) => randArray(r, n, -1, 1) },
  { name: 'minimum', call: (a, b) => a.minimum(b), ref: (x, y) => Math.min(x, y), genA: smallInts, genB: (r, n) => randArray(r, n, -1, 1) },
  { name: 'gt', call: (a, b) => a.gt(b), ref: (x, y) => +(x > y), genA: smallInts, genB: smallInts },
  { name: 'lt', call: (a, b) => a.lt(b), ref: (x, y) => +(x < y), genA: smallInts, genB: smallInts },
  { name: 'ge', call: (a, b) => a.ge(b), ref: (x, y) => +(x >= y), genA: smallInts, genB: smallInts },
  { name: 'le', call: (a, b) => a.le(b), ref: (x, y) => +(x <= y), genA: smallInts, genB: smallInts },
  { name: 'eq', call: (a, b) => a.eq(b), ref: (x, y) => +(x === y), genA: smallInts, genB: smallInts },
];

const FIXED_PAIRS: [number[], number[]][] = [
  [[], []],
  [[], [2, 3]],
  [[2, 3], []],
  [[1], [5]],
  [[5], [1]],
  [[3, 1], [1, 4]],
  [[2, 3, 4], [4]],
  [[4], [2, 3, 4]],
  [[2, 1, 4], [3, 1]],
  [[5, 1, 3], [4, 1]],
  [[1, 1, 1], [2, 3, 4]],
  [[2, 3, 4, 5], [2, 1, 4, 1]],
  [[1, 6], [6, 1]],
  [[7, 33], [7, 33]],
  [[300, 130], [130]], // large enough for the parallel path
  [[40, 1, 130], [1, 20, 130]],
];

function checkBinary(c: BinCase, as: number[], bs: number[], r: Rng): void {
  const ad = c.genA(r, numel(as)), bd = c.genB(r, numel(bs));
  const a = T(ad, as), b = T(bd, bs);
  const out = c.call(a, b);
  const ref = refBinary(ad, as, bd, bs, c.ref);
  expect(out.shape, `${c.name} [${as}] ⊙ [${bs}] shape`).toEqual(ref.shape);
  expectAllClose(out.data(), ref.data, EW.rtol, EW.atol, `${c.name} [${as}] ⊙ [${bs}]`);
}

describe('binary ops against a float64 reference', () => {
  for (const c of BINARY) {
    it(`${c.name}: fixed broadcast pairs`, scoped(() => {
      const r = makeRng(1000 + c.name.length);
      for (const [as, bs] of FIXED_PAIRS) checkBinary(c, as, bs, r);
    }));

    it(`${c.name}: 60 seeded random broadcast pairs (both ways)`, scoped(() => {
      const r = makeRng(0xbeef + c.name.charCodeAt(0) * 7 + c.name.charCodeAt(1));
      for (let k = 0; k < 60; k++) {
        const s = randomShape(r, 4, 5);
        const p = broadcastPartner(r, s);
        if (r() < 0.5) checkBinary(c, s, p, r);
        else checkBinary(c, p, s, r);
      }
    }));

    it(`${c.name}: scalar (number) operand`, scoped(() => {
      const r = makeRng(77 + c.name.length);
      for (const shape of [[], [1], [3], [2, 3], [2, 1, 4]]) {
        const ad = c.genA(r, numel(shape));
        const sv = c.genB(r, 1)[0];
        for (const s of [sv, 0.5, -1, 2]) {
          if ((c.name === 'div' && s === 0) || (c.name === 'pow' && Number.isNaN(s))) continue;
          const out = c.call(T(ad, shape), s);
          expect(out.shape).toEqual(shape);
          const ref = Array.from(ad, (x) => c.ref(x, fr(s)));
          expectAllClose(out.data(), ref, EW.rtol, EW.atol, `${c.name} [${shape}] with scalar ${s}`);
        }
      }
    }));
  }

  it('add/sub with alpha (tensor and scalar operands, broadcast)', scoped(() => {
    const r = makeRng(4242);
    for (let k = 0; k < 30; k++) {
      const s = randomShape(r, 3, 4);
      const p = broadcastPartner(r, s);
      const [as, bs] = r() < 0.5 ? [s, p] : [p, s];
      const ad = randArray(r, numel(as), -2, 2), bd = randArray(r, numel(bs), -2, 2);
      const alpha = pick(r, [2, -0.5, 0, 3.25, 1]);
      const a = T(ad, as), b = T(bd, bs);
      expectAllClose(a.add(b, alpha).data(), refBinary(ad, as, bd, bs, (x, y) => x + alpha * y).data, EW.rtol, EW.atol, `add alpha=${alpha}`);
      expectAllClose(a.sub(b, alpha).data(), refBinary(ad, as, bd, bs, (x, y) => x - alpha * y).data, EW.rtol, EW.atol, `sub alpha=${alpha}`);
      const sc = pick(r, [1.5, -0.25, 4]);
      expectAllClose(a.add(sc, alpha).data(), Array.from(ad, (x) => x + alpha * sc), EW.rtol, EW.atol, 'add scalar alpha');
      expectAllClose(a.sub(sc, alpha).data(), Array.from(ad, (x) => x - alpha * sc), EW.rtol, EW.atol, 'sub scalar alpha');
    }
  }));

  it('maximum/minimum propagate NaN like torch', scoped(() => {
    const a = tensor([NaN, 1, 2]), b = tensor([0, NaN, 3]);
    const mx = Array.from(a.maximum(b).data()), mn = Array.from(a.minimum(b).data());
    expect(Number.isNaN(mx[0]) && Number.isNaN(mx[1])).toBe(true);
    expect(mx[2]).toBe(3);
    expect(Number.isNaN(mn[0]) && Number.isNaN(mn[1])).toBe(true);
    expect(mn[2]).toBe(2);
  }));

  it('comparisons with scalars and NaN', scoped(() => {
    const x = tensor([-1, 0, 0.5, 1, NaN]);
    expect(Array.from(x.gt(0).data())).toEqual([0, 0, 1, 1, 0]);
    expect(Array.from(x.lt(0).data())).toEqual([1, 0, 0, 0, 0]);
    expect(Array.from(x.ge(0).data())).toEqual([0, 1, 1, 1, 0]);
    expect(Array.from(x.le(0.5).data())).toEqual([1, 1, 1, 0, 0]);
    expect(Array.from(x.eq(0.5).data())).toEqual([0, 0, 1, 0, 0]);
    expect(Array.from(x.eq(x).data())).toEqual([1, 1, 1, 1, 0]);
    // comparisons never record autograd
    const y = tensor([1, 2]).requiresGrad_();
    expect(y.gt(1).requiresGrad).toBe(false);
  }));

  it('clamp(min, max), clamp(min), clamp(null, max)', scoped(() => {
    const r = makeRng(31);
    for (const shape of [[], [7], [3, 4], [2, 1, 5]]) {
      const d = randArray(r, numel(shape), -3, 3);
      const x = T(d, shape);
      expectAllClose(x.clamp(-1, 0.5).data(), Array.from(d, (v) => Math.min(Math.max(v, -1), 0.5)), EW.rtol, EW.atol, 'clamp');
      expectAllClose(x.clamp(0.25).data(), Array.from(d, (v) => Math.max(v, 0.25)), EW.rtol, EW.atol, 'clamp min');
      expectAllClose(x.clamp(null, -0.75).data(), Array.from(d, (v) => Math.min(v, -0.75)), EW.rtol, EW.atol, 'clamp max');
      expectAllClose(x.clamp(undefined, 2).data(), Array.from(d, (v) => Math.min(v, 2)), EW.rtol, EW.atol, 'clamp max undefined');
      expect(x.clamp(-1, 1).shape).toEqual(shape);
    }
  }));
});

// ---------------------------------------------------------------------------
// unary ops

const UNARY: { name: string; call: (x: Tensor) => Tensor; ref: (v: number) => number; lo: number; hi: number }[] = [
  { name: 'neg', call: (x) => x.neg(), ref: (v) => -v, lo: -5, hi: 5 },
  { name: 'exp', call: (x) => x.exp(), ref: Math.exp, lo: -10, hi: 10 },
  { name: 'log', call: (x) => x.log(), ref: Math.log, lo: 1e-3, hi: 50 },
  { name: 'sqrt', call: (x) => x.sqrt(), ref: Math.sqrt, lo: 0, hi: 50 },
  { name: 'abs', call: (x) => x.abs(), ref: Math.abs, lo: -5, hi: 5 },
  { name: 'relu', call: (x) => x.relu(), ref: (v) => Math.max(v, 0), lo: -5, hi: 5 },
  { name: 'sigmoid', call: (x) => x.sigmoid(), ref: (v) => 1 / (1 + Math.exp(-v)), lo: -20, hi: 20 },
  { name: 'tanh', call: (x) => x.tanh(), ref: Math.tanh, lo: -6, hi: 6 },
];

describe('unary ops against a float64 reference', () => {
  for (const u of UNARY) {
    it(`${u.name}: seeded random shapes`, scoped(() => {
      const r = makeRng(900 + u.name.length * 13 + u.name.charCodeAt(0));
      const shapes = [[], [1], [1, 1], [17], [3, 5], [2, 1, 4], [1, 3, 1, 2], [200, 300]];
      for (let k = 0; k < 12; k++) shapes.push(randomShape(r, 4, 6));
      for (const shape of shapes) {
        const d = randArray(r, numel(shape), u.lo, u.hi);
        const y = u.call(T(d, shape));
        expect(y.shape).toEqual(shape);
        expectAllClose(y.data(), Array.from(d, u.ref), EW.rtol, EW.atol, `${u.name} [${shape}]`);
      }
    }));
  }

  it('special values: exp overflow, log(0), log(<0), sqrt(<0), sigmoid extremes, relu(-0)', scoped(() => {
    expect(Array.from(tensor([100, -200]).exp().data())).toEqual([Infinity, 0]);
    const l = tensor([0, -1]).log().data();
    expect(l[0]).toBe(-Infinity);
    expect(Number.isNaN(l[1])).toBe(true);
    expect(Number.isNaN(tensor([-4]).sqrt().data()[0])).toBe(true);
    expectAllClose(tensor([-100, 100, 0]).sigmoid().data(), [0, 1, 0.5], 0, 1e-7, 'sigmoid extremes');
    expectAllClose(tensor([-30, 30]).tanh().data(), [-1, 1], 0, 1e-7, 'tanh extremes');
    // as torch.relu: -0 stays -0 (clamp_min), NaN propagates
    expect(Array.from(tensor([-0, -3, 2, NaN]).relu().data())).toEqual([-0, 0, 2, NaN]);
  }));
});

// ---------------------------------------------------------------------------
// reductions

function refReduce(d: ArrayLike<number>, shape: number[], dim: number, f: 'sum' | 'mean' | 'max' | 'argmax'): Float64Array {
  const [o, s, i] = splitDims(shape, dim);
  const out = new Float64Array(o * i);
  for (let a = 0; a < o; a++)
    for (let c = 0; c < i; c++) {
      let acc = f === 'max' || f === 'argmax' ? -Infinity : 0, arg = 0;
      for (let k = 0; k < s; k++) {
        const v = d[(a * s + k) * i + c];
        if (f === 'sum' || f === 'mean') acc += v;
        else if (v > acc) {
          acc = v;
          arg = k;
        }
      }
      out[a * i + c] = f === 'mean' ? acc / s : f === 'argmax' ? arg : acc;
    }
  return out;
}

function refAll(d: ArrayLike<number>, f: 'sum' | 'mean' | 'max' | 'argmax'): number {
  let acc = f === 'max' || f === 'argmax' ? -Infinity : 0, arg = 0;
  for (let k = 0; k < d.length; k++) {
    if (f === 'sum' || f === 'mean') acc += d[k];
    else if (d[k] > acc) {
      acc = d[k];
      arg = k;
    }
  }
  return f === 'mean' ? acc / d.length : f === 'argmax' ? arg : acc;
}

describe('reductions against a float64 reference', () => {
  const shapesFor = (seed: number) => {
    const r = makeRng(seed);
    const shapes: number[][] = [[], [1], [6], [1, 1], [3, 1], [1, 4], [2, 3, 4], [2, 1, 3, 1], [64, 257], [5, 300, 3]];
    for (let k = 0; k < 20; k++) shapes.push(randomShape(r, 4, 6));
    return { r, shapes };
  };

  it('sum/mean over all elements, keepdim true/false', scoped(() => {
    const { r, shapes } = shapesFor(5);
    for (const shape of shapes) {
      const d = randArray(r, numel(shape), -2, 2);
      const x = T(d, shape);
      for (const keepdim of [false, true]) {
        const s = x.sum(null, keepdim), m = x.mean(undefined, keepdim);
        const want = keepdim ? shape.map(() => 1) : [];
        expect(s.shape, `sum all [${shape}] keepdim=${keepdim}`).toEqual(want);
        expect(m.shape).toEqual(want);
        expectAllClose(s.data(), [refAll(d, 'sum')], RED.rtol, RED.atol, `sum all [${shape}]`);
        expectAllClose(m.data(), [refAll(d, 'mean')], RED.rtol, RED.atol, `mean all [${shape}]`);
      }
      expect(x.sum().shape).toEqual([]);
    }
  }));

  it('sum/mean over each dim (positive and negative), keepdim true/false', scoped(() => {
    const { r, shapes } = shapesFor(6);
    for (const shape of shapes) {
      const d = randArray(r, numel(shape), -2, 2);
      const x = T(d, shape);
      const nd = shape.length;
      for (let dim = 0; dim < Math.max(nd, 1); dim++) {
        for (const dd of [dim, dim - Math.max(nd, 1)]) {
          for (const keepdim of [false, true]) {
            const what = `[${shape}] dim=${dd} keepdim=${keepdim}`;
            const s = x.sum(dd, keepdim), m = x.mean(dd, keepdim);
            if (nd === 0) {
              expect(s.shape, what).toEqual([]);
              expectAllClose(s.data(), [d[0]], RED.rtol, RED.atol, `sum ${what}`);
              expectAllClose(m.data(), [d[0]], RED.rtol, RED.atol, `mean ${what}`);
              continue;
            }
            const want = reducedShape(shape, dim, keepdim);
            expect(s.shape, `sum ${what}`).toEqual(want);
            expect(m.shape, `mean ${what}`).toEqual(want);
            expectAllClose(s.data(), refReduce(d, shape, dim, 'sum'), RED.rtol, RED.atol, `sum ${what}`);
            expectAllClose(m.data(), refReduce(d, shape, dim, 'mean'), RED.rtol, RED.atol, `mean ${what}`);
          }
        }
      }
    }
  }));

  it('max/argmax over all elements', scoped(() => {
    const { r, shapes } = shapesFor(7);
    for (const shape of shapes) {
      const d = randArray(r, numel(shape), -5, 5);
      const x = T(d, shape);
      const m = x.max();
      expect(m.shape).toEqual([]);
      expect(m.item()).toBe(refAll(d, 'max'));
      const am = x.argmax();
      expect(am.shape).toEqual([]);
      expect(am.item()).toBe(refAll(d, 'argmax'));
      expect(x.argmax(null, true).shape).toEqual(shape.map(() => 1));
    }
  }));

  it('max(dim) values and indices, argmax(dim), positive and negative dims, keepdim', scoped(() => {
    const { r, shapes } = shapesFor(8);
    for (const shape of shapes) {
      const d = randArray(r, numel(shape), -5, 5);
      const x = T(d, shape);
      const nd = shape.length;
      for (let dim = 0; dim < nd; dim++) {
        for (const dd of [dim, dim - nd]) {
          for (const keepdim of [false, true]) {
            const what = `[${shape}] dim=${dd} keepdim=${keepdim}`;
            const want = reducedShape(shape, dim, keepdim);
            const { values, indices } = x.max(dd, keepdim);
            expect(values.shape, what).toEqual(want);
            expect(indices.shape, what).toEqual(want);
            expect(Array.from(values.data()), `max values ${what}`).toEqual(Array.from(refReduce(d, shape, dim, 'max')));
            expect(Array.from(indices.data()), `max indices ${what}`).toEqual(Array.from(refReduce(d, shape, dim, 'argmax')));
            const am = x.argmax(dd, keepdim);
            expect(am.shape, what).toEqual(want);
            expect(Array.from(am.data()), `argmax ${what}`).toEqual(Array.from(refReduce(d, shape, dim, 'argmax')));
          }
        }
      }
    }
  }));

  it('max/argmax on 0-d tensors and ties (first index wins)', scoped(() => {
    const z = tensor(2.5);
    expect(z.max().item()).toBe(2.5);
    const { values, indices } = z.max(0);
    expect(values.item()).toBe(2.5);
    expect(indices.item()).toBe(0);
    expect(z.argmax().item()).toBe(0);
    expect(z.argmax(-1).item()).toBe(0);
    const t = tensor([[1, 3, 3], [2, 2, 0], [5, 5, 5]]);
    expect(Array.from(t.argmax(1).data())).toEqual([1, 0, 0]);
    expect(Array.from(t.max(1).indices.data())).toEqual([1, 0, 0]);
    expect(Array.from(t.argmax(0).data())).toEqual([2, 2, 2]);
    expect(t.argmax().item()).toBe(6);
  }));
});

// ---------------------------------------------------------------------------
// softmax

function refSoftmax(d: ArrayLike<number>, shape: number[], dim: number, log: boolean): Float64Array {
  const sh = shape.length ? shape : [1];
  const [o, s, i] = splitDims(sh, dim);
  const out = new Float64Array(d.length);
  for (let a = 0; a < o; a++)
    for (let c = 0; c < i; c++) {
      let mx = -Infinity;
      for (let k = 0; k < s; k++) mx = Math.max(mx, d[(a * s + k) * i + c]);
      let sum = 0;
      for (let k = 0; k < s; k++) sum += Math.exp(d[(a * s + k) * i + c] - mx);
      for (let k = 0; k < s; k++) {
        const j = (a * s + k) * i + c;
        out[j] = log ? d[j] - mx - Math.log(sum) : Math.exp(d[j] - mx) / sum;
      }
    }
  return out;
}

describe('softmax / logSoftmax against a float64 reference', () => {
  it('along each dim (positive and negative) of seeded random shapes', scoped(() => {
    const r = makeRng(99);
    const shapes: number[][] = [[], [1], [5], [3, 4], [2, 3, 4], [4, 1, 3], [2, 2, 2, 2], [8, 1000]];
    for (let k = 0; k < 15; k++) shapes.push(randomShape(r, 4, 6));
    for (const shape of shapes) {
      const d = randArray(r, numel(shape), -4, 4);
      const x = T(d, shape);
      const nd = Math.max(shape.length, 1);
      for (let dim = 0; dim < nd; dim++) {
        for (const dd of [dim, dim - nd]) {
          const sm = x.softmax(dd), lsm = x.logSoftmax(dd);
          expect(sm.shape).toEqual(shape);
          expect(lsm.shape).toEqual(shape);
          expectAllClose(sm.data(), refSoftmax(d, shape, dim, false), RED.rtol, RED.atol, `softmax [${shape}] dim ${dd}`);
          expectAllClose(lsm.data(), refSoftmax(d, shape, dim, true), RED.rtol, RED.atol, `logSoftmax [${shape}] dim ${dd}`);
        }
      }
    }
  }));

  it('is numerically stable for huge logits (±1000)', scoped(() => {
    const rows = [
      [1000, 1001, 1002],
      [-1000, -1001, -1002],
      [1000, 0, -1000],
      [1e30, 1e30, 0],
      [88, 89, 90],
    ];
    const d = Float32Array.from(rows.flat());
    const x = tensor(d, [5, 3]);
    const sm = x.softmax(1).data(), lsm = x.logSoftmax(-1).data();
    for (const v of sm) expect(Number.isFinite(v)).toBe(true);
    for (const v of lsm) expect(Number.isFinite(v)).toBe(true);
    expectAllClose(sm, refSoftmax(d, [5, 3], 1, false), RED.rtol, RED.atol, 'softmax huge');
    expectAllClose(lsm, refSoftmax(d, [5, 3], 1, true), RED.rtol, RED.atol, 'logSoftmax huge');
    // along dim 0 too (columns mix ±1000)
    const xt = x.transpose(0, 1);
    const dt = xt.data();
    expectAllClose(xt.softmax(0).data(), refSoftmax(dt, [3, 5], 0, false), RED.rtol, RED.atol, 'softmax huge dim 0');
    expectAllClose(xt.logSoftmax(0).data(), refSoftmax(dt, [3, 5], 0, true), RED.rtol, RED.atol, 'logSoftmax huge dim 0');
    // rows sum to 1
    const s = x.softmax(1).sum(1).data();
    expectAllClose(s, [1, 1, 1, 1, 1], 1e-5, 1e-6, 'softmax rows sum to 1');
  }));

  it('logSoftmax keeps precision for large equal logits (x - max - log(sum), not x - (max + log(sum)))', scoped(() => {
    // torch.log_softmax(torch.tensor([1e6, 1e6]), 0) == [-0.6931, -0.6931]
    expectAllClose(tensor([1e6, 1e6]).logSoftmax(0).data(), [-Math.LN2, -Math.LN2], RED.rtol, RED.atol, 'logSoftmax([1e6, 1e6])');
    expectAllClose(tensor([[5e4, 5e4, 5e4, 5e4]]).logSoftmax(1).data(), new Array(4).fill(-Math.log(4)), RED.rtol, RED.atol, 'logSoftmax([5e4 x4])');
  }));
});

// ---------------------------------------------------------------------------
// shape ops

function refPermute(d: ArrayLike<number>, shape: number[], perm: number[]): { data: Float64Array; shape: number[] } {
  const outShape = perm.map((p) => shape[p]);
  const inStr = stridesOf(shape);
  const out = new Float64Array(d.length);
  for (let i = 0; i < d.length; i++) {
    const oi = unravel(i, outShape);
    let k = 0;
    for (let j = 0; j < perm.length; j++) k += oi[j] * inStr[perm[j]];
    out[i] = d[k];
  }
  return { data: out, shape: outShape };
}

function randomPerm(r: Rng, n: number): number[] {
  const p = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = randInt(r, 0, i);
    [p[i], p[j]] = [p[j], p[i]];
  }
  return p;
}

describe('shape ops', () => {
  it('reshape/view with -1 anywhere keep the data and share storage', scoped(() => {
    const x = arange(24);
    const d = Array.from(x.data());
    const cases: [number[], number[]][] = [
      [[2, 3, 4], [2, 3, 4]],
      [[-1, 4], [6, 4]],
      [[2, -1, 3], [2, 4, 3]],
      [[4, 6, -1], [4, 6, 1]],
      [[-1], [24]],
      [[1, -1, 1], [1, 24, 1]],
      [[24], [24]],
    ];
    for (const [arg, want] of cases) {
      const a = x.reshape(arg), b = x.view(...arg);
      expect(a.shape).toEqual(want);
      expect(b.shape).toEqual(want);
      expect(Array.from(a.data())).toEqual(d);
      expect(Array.from(b.data())).toEqual(d);
    }
    const one = tensor([7]);
    expect(one.reshape([]).shape).toEqual([]);
    expect(one.reshape(-1).shape).toEqual([1]);
    expect(tensor(3).reshape(1, 1).shape).toEqual([1, 1]);
    expect(tensor(3).view(-1).shape).toEqual([1]);
    expect(zeros(0, 3).reshape(3, 0).shape).toEqual([3, 0]);
    // storage is shared
    const v = x.view(4, 6);
    v.fill_(1);
    expect(Array.from(x.data())).toEqual(new Array(24).fill(1));
  }));

  it('flatten(startDim, endDim) for every pair, negative dims too', scoped(() => {
    const shape = [2, 3, 1, 4];
    const x = T(randArray(makeRng(3), 24), shape);
    const d = Array.from(x.data());
    for (let s = 0; s < 4; s++)
      for (let e = s; e < 4; e++) {
        const want = [...shape.slice(0, s), numel(shape.slice(s, e + 1)), ...shape.slice(e + 1)];
        for (const [ss, ee] of [[s, e], [s - 4, e], [s, e - 4], [s - 4, e - 4]]) {
          const f = x.flatten(ss, ee);
          expect(f.shape, `flatten(${ss}, ${ee})`).toEqual(want);
          expect(Array.from(f.data())).toEqual(d);
        }
      }
    expect(x.flatten().shape).toEqual([24]);
    expect(x.flatten(1).shape).toEqual([2, 12]);
    expect(tensor(5).flatten().shape).toEqual([1]);
  }));

  it('squeeze / unsqueeze', scoped(() => {
    const x = T(randArray(makeRng(4), 12), [1, 3, 1, 4, 1]);
    const d = Array.from(x.data());
    expect(x.squeeze().shape).toEqual([3, 4]);
    expect(x.squeeze(0).shape).toEqual([3, 1, 4, 1]);
    expect(x.squeeze(2).shape).toEqual([1, 3, 4, 1]);
    expect(x.squeeze(-1).shape).toEqual([1, 3, 1, 4]);
    expect(x.squeeze(1).shape).toEqual([1, 3, 1, 4, 1]); // not size 1: unchanged
    expect(Array.from(x.squeeze().data())).toEqual(d);
    const y = T(randArray(makeRng(5), 6), [2, 3]);
    expect(y.unsqueeze(0).shape).toEqual([1, 2, 3]);
    expect(y.unsqueeze(1).shape).toEqual([2, 1, 3]);
    expect(y.unsqueeze(2).shape).toEqual([2, 3, 1]);
    expect(y.unsqueeze(-1).shape).toEqual([2, 3, 1]);
    expect(y.unsqueeze(-3).shape).toEqual([1, 2, 3]);
    expect(Array.from(y.unsqueeze(1).data())).toEqual(Array.from(y.data()));
    expect(tensor(2).unsqueeze(0).shape).toEqual([1]);
    expect(tensor(2).unsqueeze(-1).shape).toEqual([1]);
    expect(tensor([2]).squeeze().shape).toEqual([]);
    expect(tensor(2).squeeze().shape).toEqual([]);
  }));

  it('transpose of every dim pair and random permutes match an index-mapping reference', scoped(() => {
    const r = makeRng(11);
    const shapes: number[][] = [[3], [2, 3], [1, 5], [2, 3, 4], [2, 1, 3, 2], [3, 2, 2, 1, 2], [65, 33], [40, 7, 9]];
    for (let k = 0; k < 10; k++) {
      const s = randomShape(r, 4, 5);
      if (s.length) shapes.push(s);
    }
    for (const shape of shapes) {
      const d = randArray(r, numel(shape));
      const x = T(d, shape);
      const nd = shape.length;
      for (let a = 0; a < nd; a++)
        for (let b = 0; b < nd; b++) {
          const perm = Array.from({ length: nd }, (_, i) => i);
          perm[a] = b;
          perm[b] = a;
          const ref = refPermute(d, shape, perm);
          const t = x.transpose(a, b);
          expect(t.shape).toEqual(ref.shape);
          expect(Array.from(t.data()), `transpose [${shape}] (${a},${b})`).toEqual(Array.from(ref.data));
          const tn = x.transpose(a - nd, b);
          expect(Array.from(tn.data())).toEqual(Array.from(ref.data));
        }
      for (let k = 0; k < 4; k++) {
        const perm = randomPerm(r, nd);
        const ref = refPermute(d, shape, perm);
        const p = x.permute(perm);
        expect(p.shape).toEqual(ref.shape);
        expect(Array.from(p.data()), `permute [${shape}] (${perm})`).toEqual(Array.from(ref.data));
        const p2 = x.permute(...perm.map((q) => (r() < 0.5 ? q - nd : q)));
        expect(Array.from(p2.data())).toEqual(Array.from(ref.data));
      }
    }
    const m = tensor([[1, 2, 3], [4, 5, 6]]);
    expect(m.T.toArray()).toEqual([[1, 4], [2, 5], [3, 6]]);
  }));

  it('transpose/permute return a copy; contiguous() returns the tensor itself', scoped(() => {
    const x = tensor([[1, 2], [3, 4]]);
    const t = x.transpose(0, 1);
    t.fill_(0);
    expect(x.toArray()).toEqual([[1, 2], [3, 4]]);
    expect(x.contiguous()).toBe(x);
    expect(t.contiguous()).toBe(t);
  }));

  it('clone() copies storage; detach() shares it', scoped(() => {
    const x = tensor([1, 2, 3]).requiresGrad_();
    const c = x.clone();
    expect(Array.from(c.data())).toEqual([1, 2, 3]);
    expect(c.requiresGrad).toBe(true);
    c.detach().fill_(9);
    expect(Array.from(x.data())).toEqual([1, 2, 3]);
    const d = x.detach();
    expect(d.requiresGrad).toBe(false);
    expect(d.isLeaf).toBe(true);
    expect(d.shape).toEqual([3]);
    d.fill_(5);
    expect(Array.from(x.data())).toEqual([5, 5, 5]);
  }));
});

// ---------------------------------------------------------------------------
// matmul

function checkMatmul(as: number[], bs: number[], seed: number): void {
  const r = makeRng(seed);
  const ad = randArray(r, numel(as)), bd = randArray(r, numel(bs));
  const out = T(ad, as).matmul(T(bd, bs));
  // reference: lift vectors, broadcast batch, then drop lifted dims
  const A = as.length === 1 ? [1, as[0]] : as, B = bs.length === 1 ? [bs[0], 1] : bs;
  const [M, K] = A.slice(-2), [K2, N] = B.slice(-2);
  expect(K2).toBe(K);
  const ab = A.length === 3 ? A[0] : 1, bb = B.length === 3 ? B[0] : 1;
  const batch = Math.max(ab, bb);
  const ref = new Float64Array(batch * M * N);
  for (let b = 0; b < batch; b++)
    refMatmul2d(ad, ab === 1 ? 0 : b * M * K, bd, bb === 1 ? 0 : b * K * N, M, K, N, ref, b * M * N);
  let shape = A.length === 3 || B.length === 3 ? [batch, M, N] : [M, N];
  if (as.length === 1) shape = [...shape.slice(0, -2), ...shape.slice(-1)];
  if (bs.length === 1) shape = shape.slice(0, -1);
  expect(out.shape, `matmul [${as}]·[${bs}]`).toEqual(shape);
  expectAllClose(out.data(), ref, MM.rtol, MM.atol, `matmul [${as}]·[${bs}]`);
}

describe('matmul against a triple loop', () => {
  const cases: [string, number[], number[]][] = [
    ['1×1', [1, 1], [1, 1]],
    ['7×13·13×5', [7, 13], [13, 5]],
    ['257×129·129×65', [257, 129], [129, 65]],
    ['1×K·K×1', [1, 300], [300, 1]],
    ['M×1·1×N (outer product)', [9, 1], [1, 11]],
    ['large enough to split over threads', [300, 200], [200, 310]],
    ['[B,M,K]·[B,K,N]', [4, 7, 13], [4, 13, 5]],
    ['[B,M,K]·[K,N]', [3, 7, 13], [13, 5]],
    ['[M,K]·[B,K,N]', [7, 13], [3, 13, 5]],
    ['[1,M,K]·[B,K,N]', [1, 6, 4], [5, 4, 3]],
    ['[B,M,K]·[1,K,N]', [5, 6, 4], [1, 4, 3]],
    ['batched, large per-batch (serial split path)', [2, 200, 150], [2, 150, 180]],
    ['batched, large per-batch, broadcast b', [2, 200, 150], [150, 180]],
    ['[K]·[K] → scalar', [13], [13]],
    ['[K]·[K,N]', [13], [13, 5]],
    ['[M,K]·[K]', [7, 13], [13]],
    ['[B,M,K]·[K]', [3, 7, 13], [13]],
    ['[K]·[B,K,N]', [13], [3, 13, 5]],
    ['[1]·[1]', [1], [1]],
  ];
  for (const [name, as, bs] of cases) {
    it(name, scoped(() => checkMatmul(as, bs, as.length * 1000 + numel(as) + numel(bs))));
  }

  it('seeded random sizes (2-D and batched)', scoped(() => {
    const r = makeRng(2024);
    for (let k = 0; k < 25; k++) {
      const M = randInt(r, 1, 40), K = randInt(r, 1, 40), N = randInt(r, 1, 40), B = randInt(r, 1, 4);
      const kind = randInt(r, 0, 3);
      const as = kind === 0 || kind === 2 ? [M, K] : [B, M, K];
      const bs = kind === 0 || kind === 3 ? [K, N] : [B, K, N];
      checkMatmul(as, bs, 5000 + k);
    }
  }));

  it('special values: zeros, identity and integers are exact', scoped(() => {
    const I = tensor([[1, 0, 0], [0, 1, 0], [0, 0, 1]]);
    const x = tensor([[1, 2, 3], [4, 5, 6]]);
    expect(x.matmul(I).toArray()).toEqual([[1, 2, 3], [4, 5, 6]]);
    expect(x.matmul(x.T).toArray()).toEqual([[14, 32], [32, 77]]);
    expect(zeros(4, 0).matmul(zeros(0, 3)).toArray()).toEqual([[0, 0, 0], [0, 0, 0], [0, 0, 0], [0, 0, 0]]);
  }));
});
