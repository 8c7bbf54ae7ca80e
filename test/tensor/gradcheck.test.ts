// Finite-difference gradient checks for every differentiable tensor op, and
// autograd semantics (accumulation, retainGraph, noGrad, detach, leaves...).
import { describe, it, expect } from 'vitest';
import { tensor, Tensor, tidy, noGrad, isGradEnabled, nn, zeros } from '../../src';
import { makeRng, randArray, randAwayFromZero, numel, type Rng } from '../helpers';

const F = nn.functional;
const fr = Math.fround;

type Input = { data: Float32Array; shape: number[] };
const inp = (data: Float32Array, shape: number[]): Input => ({ data, shape });

let seedCounter = 1;
function rng(): Rng {
  return makeRng(0x5eed + seedCounter++ * 7919);
}
const U = (shape: number[], lo = -1, hi = 1, r = rng()) => inp(randArray(r, numel(shape), lo, hi), shape);
/** Values with |v| in [minAbs, maxAbs] and random sign: away from kinks at 0. */
const AZ = (shape: number[], minAbs = 0.2, maxAbs = 1.5, r = rng()) => inp(randAwayFromZero(r, numel(shape), minAbs, maxAbs), shape);
/** Distinct values, pairwise at least `gap` apart, shuffled: no ties for max. */
function distinct(shape: number[], gap = 0.1, r = rng()): Input {
  const n = numel(shape);
  const v = Array.from({ length: n }, (_, i) => (i - n / 2) * gap + 0.01);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [v[i], v[j]] = [v[j], v[i]];
  }
  return inp(Float32Array.from(v), shape);
}

/**
 * Checks d(sum(f(x...) * w))/dx against central differences computed in float64
 * on the JS side (the library computes in float32). `wrt` limits which inputs
 * require grad; the others must get no gradient.
 */
function gradcheck(
  name: string,
  f: (...xs: Tensor[]) => Tensor,
  inputs: Input[],
  opts: { eps?: number; rtol?: number; atol?: number; wrt?: number[] } = {},
): void {
  const eps = opts.eps ?? 1e-3, rtol = opts.rtol ?? 1e-2, atol = opts.atol ?? 1e-3;
  const wrt = opts.wrt ?? inputs.map((_, i) => i);
  const r = rng();
  tidy(() => {
    const xs = inputs.map((i, k) => {
      const t = tensor(i.data, i.shape);
      return wrt.includes(k) ? t.requiresGrad_() : t;
    });
    const y = f(...xs);
    expect(y.requiresGrad, `${name}: output requires grad`).toBe(true);
    const w = randArray(r, y.numel, -1, 1);
    const loss = y.mul(tensor(w, y.shape as number[])).sum();
    loss.backward();
    const evalLoss = (k: number, data: Float32Array): number =>
      noGrad(() =>
        tidy(() => {
          const args = inputs.map((i, m) => tensor(m === k ? data : i.data, i.shape));
          const out = f(...args).data();
          let s = 0;
          for (let j = 0; j < out.length; j++) s += out[j] * w[j];
          return s;
        }),
      );
    for (let k = 0; k < inputs.length; k++) {
      const x = xs[k];
      if (!wrt.includes(k)) {
        expect(x.grad, `${name}: input ${k} does not require grad`).toBeNull();
        continue;
      }
      expect(x.grad, `${name}: input ${k} got no gradient`).not.toBeNull();
      expect(x.grad!.shape, `${name}: grad ${k} shape`).toEqual(inputs[k].shape);
      const analytic = x.grad!.data();
      const base = inputs[k].data;
      for (let j = 0; j < base.length; j++) {
        const plus = base.slice(), minus = base.slice();
        plus[j] = fr(base[j] + eps);
        minus[j] = fr(base[j] - eps);
        const num = (evalLoss(k, plus) - evalLoss(k, minus)) / (plus[j] - minus[j]);
        const a = analytic[j];
        if (!(Math.abs(a - num) <= atol + rtol * Math.max(Math.abs(a), Math.abs(num)))) {
          throw new Error(`${name}: d/dx${k}[${j}]: analytic ${a}, numeric ${num}`);
        }
      }
    }
    for (const x of xs) x.dispose();
  });
}

describe('gradcheck: elementwise binary ops', () => {
  const pairs: [number[], number[]][] = [
    [[2, 3], [2, 3]],
    [[2, 3], [3]],
    [[3], [2, 3]],
    [[3, 1], [1, 4]],
    [[], [2, 2]],
    [[2, 2], []],
    [[2, 1, 3], [4, 1]],
  ];
  for (const [as, bs] of pairs) {
    const tag = `[${as}]·[${bs}]`;
    it(`add / sub ${tag}`, () => {
      gradcheck(`add ${tag}`, (a, b) => a.add(b), [U(as), U(bs)]);
      gradcheck(`sub ${tag}`, (a, b) => a.sub(b), [U(as), U(bs)]);
      gradcheck(`add alpha ${tag}`, (a, b) => a.add(b, 2.5), [U(as), U(bs)]);
      gradcheck(`sub alpha ${tag}`, (a, b) => a.sub(b, -0.75), [U(as), U(bs)]);
    });
    it(`mul / div ${tag}`, () => {
      gradcheck(`mul ${tag}`, (a, b) => a.mul(b), [U(as), U(bs)]);
      gradcheck(`div ${tag}`, (a, b) => a.div(b), [U(as), AZ(bs, 0.5, 2)]);
    });
    it(`pow ${tag} (both operands)`, () => {
      gradcheck(`pow ${tag}`, (a, b) => a.pow(b), [U(as, 0.5, 2), U(bs, -1.5, 2)]);
    });
    it(`maximum / minimum ${tag}`, () => {
      // values apart so no element sits at a tie
      const r = rng();
      const a = U(as, -1, 1, r);
      const b = inp(Float32Array.from(U(bs, -1, 1, r).data, (v) => (v >= 0 ? v + 0.05 : v - 0.05)), bs);
      // make sure |a - b| is never tiny under broadcasting by shifting b to a grid offset
      const bq = inp(Float32Array.from(b.data, (v) => Math.round(v * 4) / 4 + 0.125), bs);
      const aq = inp(Float32Array.from(a.data, (v) => Math.round(v * 4) / 4), as);
      gradcheck(`maximum ${tag}`, (x, y) => x.maximum(y), [aq, bq]);
      gradcheck(`minimum ${tag}`, (x, y) => x.minimum(y), [aq, bq]);
    });
  }

  it('one operand only requires grad', () => {
    gradcheck('mul wrt a', (a, b) => a.mul(b), [U([2, 3]), U([3])], { wrt: [0] });
    gradcheck('mul wrt b', (a, b) => a.mul(b), [U([2, 3]), U([3])], { wrt: [1] });
    gradcheck('div wrt b', (a, b) => a.div(b), [U([2, 3]), AZ([2, 1], 0.5, 2)], { wrt: [1] });
    gradcheck('pow wrt exponent', (a, b) => a.pow(b), [U([2, 3], 0.5, 2), U([3])], { wrt: [1] });
    gradcheck('sub wrt b', (a, b) => a.sub(b), [U([2, 3]), U([3])], { wrt: [1] });
  });

  it('scalar (number) operands', () => {
    gradcheck('add scalar', (a) => a.add(3), [U([2, 3])]);
    gradcheck('add scalar alpha', (a) => a.add(3, -2), [U([2, 3])]);
    gradcheck('sub scalar', (a) => a.sub(0.5), [U([4])]);
    gradcheck('mul scalar', (a) => a.mul(-1.5), [U([2, 2])]);
    gradcheck('div scalar', (a) => a.div(4), [U([3])]);
    gradcheck('maximum scalar', (a) => a.maximum(0.05), [AZ([2, 3])]);
    gradcheck('minimum scalar', (a) => a.minimum(-0.05), [AZ([2, 3])]);
    gradcheck('clamp', (a) => a.clamp(-0.5, 0.55), [inp(Float32Array.from([-1, -0.3, 0.1, 0.4, 0.9, 1.2]), [6])]);
    for (const p of [2, 3, 0.5, -1, 1.5]) gradcheck(`pow scalar ${p}`, (a) => a.pow(p), [U([2, 3], 0.5, 2)]);
  });

  it('pow with exponent 0 has zero gradient', () => {
    const x = tensor([1, 2, 3]).requiresGrad_();
    x.pow(0).sum().backward();
    expect(Array.from(x.grad!.data())).toEqual([0, 0, 0]);
    x.dispose();
  });

  it('0-d tensors', () => {
    gradcheck('0-d mul', (a, b) => a.mul(b), [U([]), U([])]);
    gradcheck('0-d exp', (a) => a.exp(), [U([])]);
    gradcheck('0-d · vector', (a, b) => a.mul(b).add(a), [U([]), U([4])]);
  });
});

describe('gradcheck: unary ops and activations', () => {
  const shapes = [[5], [2, 3], [2, 1, 3]];
  for (const shape of shapes) {
    const tag = `[${shape}]`;
    it(`neg / exp / log / sqrt / abs ${tag}`, () => {
      gradcheck(`neg ${tag}`, (x) => x.neg(), [U(shape)]);
      gradcheck(`exp ${tag}`, (x) => x.exp(), [U(shape, -1.5, 1.5)]);
      gradcheck(`log ${tag}`, (x) => x.log(), [U(shape, 0.3, 3)]);
      gradcheck(`sqrt ${tag}`, (x) => x.sqrt(), [U(shape, 0.3, 3)]);
      gradcheck(`abs ${tag}`, (x) => x.abs(), [AZ(shape)]);
    });
    it(`relu / sigmoid / tanh / leakyRelu ${tag}`, () => {
      gradcheck(`relu ${tag}`, (x) => x.relu(), [AZ(shape)]);
      gradcheck(`sigmoid ${tag}`, (x) => x.sigmoid(), [U(shape, -3, 3)]);
      gradcheck(`tanh ${tag}`, (x) => x.tanh(), [U(shape, -2, 2)]);
      gradcheck(`F.relu ${tag}`, (x) => F.relu(x), [AZ(shape)]);
      gradcheck(`F.sigmoid ${tag}`, (x) => F.sigmoid(x), [U(shape, -3, 3)]);
      gradcheck(`F.tanh ${tag}`, (x) => F.tanh(x), [U(shape, -2, 2)]);
      gradcheck(`F.leakyRelu ${tag}`, (x) => F.leakyRelu(x), [AZ(shape)]);
      gradcheck(`F.leakyRelu 0.2 ${tag}`, (x) => F.leakyRelu(x, 0.2), [AZ(shape)]);
      gradcheck(`F.softmax ${tag}`, (x) => F.softmax(x, -1), [U(shape)]);
      gradcheck(`F.logSoftmax ${tag}`, (x) => F.logSoftmax(x, 0), [U(shape)]);
    });
  }
});

describe('gradcheck: reductions and softmax', () => {
  it('sum / mean over all elements', () => {
    for (const shape of [[], [4], [2, 3], [2, 1, 3]]) {
      gradcheck(`sum [${shape}]`, (x) => x.sum(), [U(shape)]);
      gradcheck(`mean [${shape}]`, (x) => x.mean(), [U(shape)]);
      gradcheck(`sum keepdim [${shape}]`, (x) => x.sum(null, true), [U(shape)]);
    }
  });

  it('sum / mean over each dim (negative too), keepdim true/false', () => {
    const shape = [2, 3, 4];
    for (const dim of [0, 1, 2, -1, -3])
      for (const keepdim of [false, true]) {
        gradcheck(`sum(${dim}, ${keepdim})`, (x) => x.sum(dim, keepdim), [U(shape)]);
        gradcheck(`mean(${dim}, ${keepdim})`, (x) => x.mean(dim, keepdim), [U(shape)]);
      }
    gradcheck('sum(0) of 0-d', (x) => x.sum(0), [U([])]);
  });

  it('max over all elements and along each dim', () => {
    gradcheck('max all', (x) => x.max(), [distinct([3, 4])]);
    gradcheck('max all 0-d', (x) => x.max(), [U([])]);
    for (const dim of [0, 1, 2, -1])
      for (const keepdim of [false, true])
        gradcheck(`max(${dim}, ${keepdim})`, (x) => x.max(dim, keepdim).values, [distinct([2, 3, 4])]);
  });

  it('softmax / logSoftmax along each dim', () => {
    const shape = [2, 3, 4];
    for (const dim of [0, 1, 2, -1, -2]) {
      gradcheck(`softmax(${dim})`, (x) => x.softmax(dim), [U(shape, -2, 2)]);
      gradcheck(`logSoftmax(${dim})`, (x) => x.logSoftmax(dim), [U(shape, -2, 2)]);
    }
    gradcheck('softmax 0-d', (x) => x.softmax(0).add(x), [U([])]);
    gradcheck('logSoftmax large logits', (x) => x.logSoftmax(1), [inp(Float32Array.from([50, 51, 49, -50, -51, -49.5]), [2, 3])]);
  });
});

describe('gradcheck: matmul', () => {
  const cases: [string, number[], number[]][] = [
    ['2-D', [3, 4], [4, 2]],
    ['1×1', [1, 1], [1, 1]],
    ['batched', [2, 3, 4], [2, 4, 2]],
    ['broadcast b ([B,M,K]·[K,N])', [2, 3, 4], [4, 2]],
    ['broadcast a ([M,K]·[B,K,N])', [3, 4], [2, 4, 2]],
    ['broadcast a ([1,M,K]·[B,K,N])', [1, 3, 4], [2, 4, 2]],
    ['broadcast b ([B,M,K]·[1,K,N])', [2, 3, 4], [1, 4, 2]],
    ['vector·vector', [4], [4]],
    ['matrix·vector', [3, 4], [4]],
    ['vector·matrix', [4], [4, 2]],
    ['batched·vector', [2, 3, 4], [4]],
    ['vector·batched', [4], [2, 4, 3]],
  ];
  for (const [name, as, bs] of cases) {
    it(name, () => {
      gradcheck(`matmul ${name}`, (a, b) => a.matmul(b), [U(as), U(bs)]);
      gradcheck(`matmul ${name} wrt a`, (a, b) => a.matmul(b), [U(as), U(bs)], { wrt: [0] });
      gradcheck(`matmul ${name} wrt b`, (a, b) => a.matmul(b), [U(as), U(bs)], { wrt: [1] });
    });
  }
});

describe('gradcheck: shape ops and clone', () => {
  it('reshape / view / flatten', () => {
    gradcheck('reshape', (x) => x.reshape(3, -1).mul(x.reshape(3, 4)), [U([2, 6])]);
    gradcheck('view', (x) => x.view(-1).exp(), [U([2, 3])]);
    gradcheck('flatten', (x) => x.flatten(1).sigmoid(), [U([2, 3, 2])]);
    gradcheck('flatten 0-d', (x) => x.flatten().mul(2), [U([])]);
  });

  // constants used inside f must be the same on every evaluation
  const c24 = randArray(makeRng(24), 24), c6 = randArray(makeRng(6), 6), c12 = randArray(makeRng(12), 12);

  it('permute / transpose / T', () => {
    gradcheck('permute', (x) => x.permute(2, 0, 1).mul(tensor(c24, [4, 2, 3])), [U([2, 3, 4])]);
    gradcheck('permute negative', (x) => x.permute(-1, 0, -2).tanh(), [U([2, 3, 4])]);
    gradcheck('transpose', (x) => x.transpose(0, 2).exp(), [U([2, 3, 4])]);
    gradcheck('transpose(-1,-2) · matmul', (x) => x.transpose(-1, -2).matmul(x), [U([3, 2])]);
    gradcheck('T', (x) => x.T.mul(tensor(c6, [3, 2])), [U([2, 3])]);
  });

  it('squeeze / unsqueeze', () => {
    gradcheck('squeeze', (x) => x.squeeze().exp(), [U([1, 3, 1, 2])]);
    gradcheck('squeeze(dim)', (x) => x.squeeze(2).exp(), [U([1, 3, 1, 2])]);
    gradcheck('unsqueeze', (x) => x.unsqueeze(1).mul(tensor(c12, [2, 2, 3])), [U([2, 3])]);
    gradcheck('unsqueeze(-1)', (x) => x.unsqueeze(-1).sigmoid(), [U([2, 3])]);
  });

  it('clone', () => {
    gradcheck('clone', (x) => x.clone().mul(x), [U([2, 3])]);
  });

  it('a composite network-like chain', () => {
    gradcheck(
      'linear+relu+logSoftmax',
      (x, w, b) => x.matmul(w).add(b).relu().logSoftmax(1),
      [U([4, 5]), U([5, 3]), inp(Float32Array.from([0.7, -0.4, 0.9]), [3])],
    );
    gradcheck('diamond', (x) => {
      const y = x.mul(2);
      return y.mul(y).add(y).sub(x.exp());
    }, [U([3])]);
  });
});

describe('autograd semantics', () => {
  it('gradients accumulate across two backward() calls', () => {
    const x = tensor([1, 2, 3]).requiresGrad_();
    x.mul(2).sum().backward();
    expect(Array.from(x.grad!.data())).toEqual([2, 2, 2]);
    x.mul(x).sum().backward();
    expect(Array.from(x.grad!.data())).toEqual([4, 6, 8]);
    x.dispose();
  });

  it('accumulation is correct when the first gradient was passed through unchanged (clone/view)', () => {
    const x = tensor([1, 2, 3]).requiresGrad_();
    const seed = tensor([1, 1, 1]);
    x.clone().backward(seed);
    x.view(3).backward(seed);
    x.reshape(1, 3).squeeze(0).backward(seed);
    expect(Array.from(x.grad!.data())).toEqual([3, 3, 3]);
    expect(Array.from(seed.data())).toEqual([1, 1, 1]); // the seed is not modified
    x.dispose();
    seed.dispose();
  });

  it("backward twice through the same graph throws 'second time' unless retainGraph", () => {
    const x = tensor([1, 2]).requiresGrad_();
    const y = x.exp().sum();
    y.backward();
    expect(() => y.backward()).toThrow(/second time/);
    const z = x.mul(3).sum();
    z.backward(undefined, { retainGraph: true });
    x.grad!.zero_();
    z.backward(undefined, { retainGraph: true });
    z.backward();
    expect(Array.from(x.grad!.data())).toEqual([6, 6]);
    expect(() => z.backward()).toThrow(Error);
    x.dispose();
  });

  it('a graph sharing nodes with a released graph also reports the second time', () => {
    const x = tensor([1, 2]).requiresGrad_();
    const h = x.tanh();
    h.sum().backward();
    expect(() => h.mul(2).sum().backward()).toThrow(/second time/);
    x.dispose();
  });

  it('backward on a non-scalar needs a gradient of the same shape', () => {
    const x = tensor([1, 2, 3]).requiresGrad_();
    const y = x.mul(2);
    expect(() => y.backward()).toThrow(Error);
    expect(() => y.backward()).toThrow(/gradient/);
    expect(() => y.backward(tensor([1, 1]))).toThrow(/shape/);
    y.backward(tensor([1, 2, 3]));
    expect(Array.from(x.grad!.data())).toEqual([2, 4, 6]);
    // a one-element, non-0-d tensor gets the implicit gradient
    const s = x.sum(0, true);
    expect(s.shape).toEqual([1]);
    s.backward();
    expect(Array.from(x.grad!.data())).toEqual([3, 5, 7]);
    x.dispose();
  });

  it('backward on a tensor that does not require grad throws', () => {
    const x = tensor([1, 2]);
    expect(() => x.sum().backward()).toThrow(/require/);
    x.dispose();
  });

  it('backward on a leaf seeds its own gradient', () => {
    const x = tensor(3).requiresGrad_();
    x.backward();
    expect(x.grad!.item()).toBe(1);
    x.dispose();
  });

  it('noGrad() records nothing and restores grad mode (even when fn throws)', () => {
    const x = tensor([1, 2]).requiresGrad_();
    expect(isGradEnabled()).toBe(true);
    const y = noGrad(() => {
      expect(isGradEnabled()).toBe(false);
      return x.mul(2).exp().sum();
    });
    expect(y.requiresGrad).toBe(false);
    expect(y.gradFn).toBeNull();
    expect(y.isLeaf).toBe(true);
    expect(isGradEnabled()).toBe(true);
    expect(() => noGrad(() => { throw new Error('x'); })).toThrow('x');
    expect(isGradEnabled()).toBe(true);
    // nested
    noGrad(() => noGrad(() => undefined));
    expect(isGradEnabled()).toBe(true);
    expect(noGrad(() => 5)).toBe(5);
    for (const t of [x, y]) t.dispose();
  });

  it('detach() cuts the graph', () => {
    const x = tensor([1, 2, 3]).requiresGrad_();
    const d = x.detach();
    expect(d.requiresGrad).toBe(false);
    expect(d.isLeaf).toBe(true);
    expect(d.mul(2).requiresGrad).toBe(false);
    const y = x.mul(d).sum(); // d is a constant: dy/dx = d, not 2x
    y.backward();
    expect(Array.from(x.grad!.data())).toEqual([1, 2, 3]);
    const h = x.exp();
    const hd = h.detach();
    expect(hd.gradFn).toBeNull();
    expect(() => hd.sum().backward()).toThrow(Error);
    x.dispose();
  });

  it('isLeaf, gradFn and requiresGrad of op results', () => {
    const x = tensor([1, 2]);
    expect(x.isLeaf).toBe(true);
    expect(x.requiresGrad).toBe(false);
    expect(x.gradFn).toBeNull();
    const a = x.mul(2);
    expect(a.isLeaf).toBe(true); // no grad recorded: a leaf, as in torch
    expect(a.requiresGrad).toBe(false);
    x.requiresGrad_();
    const b = x.mul(2);
    expect(b.isLeaf).toBe(false);
    expect(b.requiresGrad).toBe(true);
    expect(typeof b.gradFn).toBe('string');
    expect(x.isLeaf).toBe(true);
    const c = b.add(a); // mixing grad and non-grad inputs
    expect(c.requiresGrad).toBe(true);
    x.dispose();
  });

  it('requiresGrad_() returns the tensor; toggling on leaves; refused on non-leaves', () => {
    const x = tensor([1]);
    expect(x.requiresGrad_()).toBe(x);
    expect(x.requiresGrad).toBe(true);
    expect(x.requiresGrad_(false)).toBe(x);
    expect(x.requiresGrad).toBe(false);
    x.requiresGrad = true;
    expect(x.requiresGrad).toBe(true);
    const y = x.mul(2);
    expect(() => y.requiresGrad_(false)).toThrow(Error);
    expect(y.requiresGrad_(true)).toBe(y);
    x.dispose();
  });

  it('a tensor used several times gets the summed gradient', () => {
    const x = tensor([1, -2, 3]).requiresGrad_();
    x.mul(x).sum().backward();
    expect(Array.from(x.grad!.data())).toEqual([2, -4, 6]);
    x.grad!.zero_();
    x.add(x).add(x).sum().backward();
    expect(Array.from(x.grad!.data())).toEqual([3, 3, 3]);
    x.grad!.zero_();
    x.sub(x).sum().backward();
    expect(Array.from(x.grad!.data())).toEqual([0, 0, 0]);
    x.grad!.zero_();
    x.div(x).sum().backward();
    expect(Array.from(x.grad!.data())).toEqual([0, 0, 0]);
    x.grad!.zero_();
    x.matmul(x).backward();
    expect(Array.from(x.grad!.data())).toEqual([2, -4, 6]);
    x.grad!.zero_();
    x.maximum(x).sum().backward(); // ties: torch splits 1/2 and 1/2, any split summing to 1 is fine
    expect(Array.from(x.grad!.data())).toEqual([1, 1, 1]);
    x.dispose();
  });

  it('grad of a non-leaf is not stored', () => {
    const x = tensor([1, 2]).requiresGrad_();
    const y = x.mul(3);
    const z = y.exp().sum();
    z.backward();
    expect(y.grad).toBeNull();
    expect(z.grad).toBeNull();
    expect(x.grad).not.toBeNull();
    x.dispose();
  });

  it('gradient flows only to inputs that require grad', () => {
    const a = tensor([1, 2]).requiresGrad_(), b = tensor([3, 4]);
    a.mul(b).sum().backward();
    expect(Array.from(a.grad!.data())).toEqual([3, 4]);
    expect(b.grad).toBeNull();
    a.dispose();
    b.dispose();
  });

  it('zeros-shaped and empty gradients', () => {
    const x = zeros(0, 3).requiresGrad_();
    x.sum().backward();
    expect(x.grad!.shape).toEqual([0, 3]);
    x.dispose();
  });
});
