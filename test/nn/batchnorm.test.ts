// BatchNorm2d: train-mode forward vs a float64 reference (per-channel batch
// mean, biased variance), running statistics (momentum, unbiased variance,
// num_batches_tracked), eval mode on running statistics, and gradients for
// input, weight and bias by finite differences.
import { describe, it, expect } from 'vitest';
import { nn, tensor, noGrad, tidy, memoryInfo, type Tensor } from '../../src';
import { expectAllClose, numericGrad, randomArray } from '../helpers';

const [N, C, H, W] = [4, 3, 5, 6];
const S = H * W;
const SHAPE = [N, C, H, W];
const idx = (n: number, c: number, s: number) => (n * C + c) * S + s;

/** Per-channel mean and biased / unbiased variance in float64. */
function stats(x: ArrayLike<number>): { mean: number[]; varB: number[]; varU: number[] } {
  const m = N * S;
  const mean: number[] = [], varB: number[] = [], varU: number[] = [];
  for (let c = 0; c < C; c++) {
    let s = 0;
    for (let n = 0; n < N; n++) for (let i = 0; i < S; i++) s += x[idx(n, c, i)];
    const mu = s / m;
    let ss = 0;
    for (let n = 0; n < N; n++) for (let i = 0; i < S; i++) ss += (x[idx(n, c, i)] - mu) ** 2;
    mean.push(mu);
    varB.push(ss / m);
    varU.push(ss / (m - 1));
  }
  return { mean, varB, varU };
}

/** y = (x − μ)/√(σ² + eps)·w + b in float64, with given per-channel μ, σ². */
function normalize(x: ArrayLike<number>, mean: ArrayLike<number>, v: ArrayLike<number>, w: ArrayLike<number>, b: ArrayLike<number>, eps = 1e-5): Float64Array {
  const y = new Float64Array(x.length);
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++) {
      const inv = 1 / Math.sqrt(v[c] + eps);
      for (let i = 0; i < S; i++) y[idx(n, c, i)] = (x[idx(n, c, i)] - mean[c]) * inv * w[c] + b[c];
    }
  return y;
}
const trainRef = (x: ArrayLike<number>, w: ArrayLike<number>, b: ArrayLike<number>, eps = 1e-5) => {
  const st = stats(x);
  return normalize(x, st.mean, st.varB, w, b, eps);
};

// a batch with channel-dependent offsets and scales
const X = randomArray(N * C * S, 101, -1, 1).map((v, i) => Math.fround(v * (1 + Math.floor(i / S) % C) + 2 * ((Math.floor(i / S) % C) - 1)));
const X2 = randomArray(N * C * S, 102, -3, 2);
const Wt = [1.5, -0.7, 0.3];
const Bs = [0.2, -1, 0.5];
const vals = (t: Tensor) => Array.from(t.data());

function makeBn(opts?: nn.BatchNormLayerOptions): nn.BatchNorm2d {
  const bn = new nn.BatchNorm2d(C, opts);
  if (bn.weight) bn.weight.copy_(tensor(Wt));
  if (bn.bias) bn.bias.copy_(tensor(Bs));
  return bn;
}

describe('BatchNorm2d forward in train mode', () => {
  it('defaults: weight 1, bias 0, running_mean 0, running_var 1, eps 1e-5, momentum 0.1', () => {
    const bn = new nn.BatchNorm2d(C);
    expect(vals(bn.weight!)).toEqual([1, 1, 1]);
    expect(vals(bn.bias!)).toEqual([0, 0, 0]);
    expect(vals(bn.runningMean!)).toEqual([0, 0, 0]);
    expect(vals(bn.runningVar!)).toEqual([1, 1, 1]);
    expect(bn.numBatchesTracked!.item()).toBe(0);
    expect(bn.eps).toBe(1e-5);
    expect(bn.momentum).toBe(0.1);
    expect(bn.training).toBe(true);
  });

  it('normalises with the batch mean and biased variance, then scales and shifts', () => {
    const bn = makeBn();
    const y = bn.forward(tensor(X, SHAPE));
    expect(y.shape).toEqual(SHAPE);
    expectAllClose(vals(y), trainRef(X, Wt, Bs), 1e-5, 1e-5, 'train forward');
  });

  it('per-channel output statistics are (bias, |weight|·√(var/(var+eps)))', () => {
    const bn = makeBn();
    const y = vals(bn.forward(tensor(X, SHAPE)));
    const st = stats(y), sx = stats(X);
    for (let c = 0; c < C; c++) {
      expect(st.mean[c]).toBeCloseTo(Bs[c], 5);
      expect(Math.sqrt(st.varB[c])).toBeCloseTo(Math.abs(Wt[c]) * Math.sqrt(sx.varB[c] / (sx.varB[c] + 1e-5)), 5);
    }
  });

  it('eps is honoured (large eps)', () => {
    const bn = makeBn({ eps: 0.5 });
    expectAllClose(vals(bn.forward(tensor(X, SHAPE))), trainRef(X, Wt, Bs, 0.5), 1e-5, 1e-5, 'eps 0.5');
  });

  it('affine false: no parameters, plain normalisation', () => {
    const bn = new nn.BatchNorm2d(C, { affine: false });
    expect(bn.parameters()).toHaveLength(0);
    expectAllClose(vals(bn.forward(tensor(X, SHAPE))), trainRef(X, [1, 1, 1], [0, 0, 0]), 1e-5, 1e-5, 'affine false');
  });

  it('rejects a wrong rank, a wrong channel count and a single value per channel', () => {
    const bn = makeBn();
    expect(() => bn.forward(tensor(X, [N, C, S]))).toThrow(/BatchNorm2d/);
    expect(() => bn.forward(tensor(X, [N, S, C, H * W / S]))).toThrow(/channels/);
    expect(() => bn.forward(tensor([1, 2, 3], [1, 3, 1, 1]))).toThrow(/more than 1 value per channel/);
  });
});

describe('BatchNorm2d running statistics', () => {
  it('update with momentum and the unbiased variance; num_batches_tracked counts batches', () => {
    const bn = makeBn();
    const rm = [0, 0, 0], rv = [1, 1, 1];
    for (const [k, x] of [X, X2, X].entries()) {
      bn.forward(tensor(x, SHAPE));
      const st = stats(x);
      for (let c = 0; c < C; c++) {
        rm[c] = 0.9 * rm[c] + 0.1 * st.mean[c];
        rv[c] = 0.9 * rv[c] + 0.1 * st.varU[c];
      }
      expectAllClose(vals(bn.runningMean!), rm, 1e-5, 1e-6, `running_mean after ${k + 1}`);
      expectAllClose(vals(bn.runningVar!), rv, 1e-5, 1e-6, `running_var after ${k + 1}`);
      expect(bn.numBatchesTracked!.item()).toBe(k + 1);
    }
  });

  it('momentum 0.3', () => {
    const bn = makeBn({ momentum: 0.3 });
    bn.forward(tensor(X, SHAPE));
    const st = stats(X);
    expectAllClose(vals(bn.runningMean!), st.mean.map((m) => 0.3 * m), 1e-5, 1e-6, 'rm');
    expectAllClose(vals(bn.runningVar!), st.varU.map((v) => 0.7 + 0.3 * v), 1e-5, 1e-6, 'rv');
  });

  it('updates under noGrad too (train mode), but not in eval mode', () => {
    const bn = makeBn();
    noGrad(() => bn.forward(tensor(X, SHAPE)));
    expect(bn.numBatchesTracked!.item()).toBe(1);
    const rm = vals(bn.runningMean!), rv = vals(bn.runningVar!);
    expect(rm).not.toEqual([0, 0, 0]);
    bn.eval();
    bn.forward(tensor(X2, SHAPE));
    expect(vals(bn.runningMean!)).toEqual(rm);
    expect(vals(bn.runningVar!)).toEqual(rv);
    expect(bn.numBatchesTracked!.item()).toBe(1);
  });

  it('trackRunningStats false: no buffers, batch statistics even in eval', () => {
    const bn = makeBn({ trackRunningStats: false });
    expect(bn.runningMean).toBeNull();
    expect(Object.keys(bn.stateDict())).toEqual(['weight', 'bias']);
    bn.eval();
    expectAllClose(vals(bn.forward(tensor(X, SHAPE))), trainRef(X, Wt, Bs), 1e-5, 1e-5, 'no tracking, eval');
  });
});

describe('BatchNorm2d in eval mode', () => {
  it('normalises with the running statistics', () => {
    const bn = makeBn();
    bn.forward(tensor(X, SHAPE));
    bn.forward(tensor(X2, SHAPE));
    const rm = vals(bn.runningMean!), rv = vals(bn.runningVar!);
    bn.eval();
    const y = bn.forward(tensor(X2, SHAPE));
    expectAllClose(vals(y), normalize(X2, rm, rv, Wt, Bs), 1e-5, 1e-5, 'eval forward');
  });

  it('uses loaded running statistics (state dict)', () => {
    const bn = makeBn();
    bn.loadStateDict({ ...bn.stateDict(), running_mean: tensor([0.5, -1, 2]), running_var: tensor([0.25, 4, 1]) });
    bn.eval();
    expectAllClose(vals(bn.forward(tensor(X, SHAPE))), normalize(X, [0.5, -1, 2], [0.25, 4, 1], Wt, Bs), 1e-5, 1e-5, 'loaded stats');
  });
});

describe('BatchNorm2d gradients vs finite differences', () => {
  const R = randomArray(N * C * S, 103, -1, 1); // loss = Σ y·R
  const dot = (y: ArrayLike<number>) => {
    let s = 0;
    for (let i = 0; i < y.length; i++) s += y[i] * R[i];
    return s;
  };

  function run(train: boolean) {
    const bn = makeBn();
    let rm: number[] = [], rv: number[] = [];
    if (!train) {
      bn.forward(tensor(X2, SHAPE));
      rm = vals(bn.runningMean!);
      rv = vals(bn.runningVar!);
      bn.eval();
    }
    const x = tensor(X, SHAPE).requiresGrad_();
    bn.forward(x).mul(tensor(R, SHAPE)).sum().backward();
    const fwd = (xx: ArrayLike<number>, w: ArrayLike<number>, b: ArrayLike<number>) => (train ? trainRef(xx, w, b) : normalize(xx, rm, rv, w, b));
    return {
      gx: vals(x.grad!),
      gw: vals(bn.weight!.grad!),
      gb: vals(bn.bias!.grad!),
      fdx: numericGrad((z) => dot(fwd(z, Wt, Bs)), X, 1e-5),
      fdw: numericGrad((z) => dot(fwd(X, z, Bs)), Wt, 1e-6),
      fdb: numericGrad((z) => dot(fwd(X, Wt, z)), Bs, 1e-6),
    };
  }

  for (const mode of ['train', 'eval'])
    it(`${mode} mode: input, weight and bias`, () => {
      const g = run(mode === 'train');
      const scale = Math.max(...g.fdx.map(Math.abs));
      expectAllClose(g.gx, g.fdx, 1e-3, 1e-4 * scale, 'grad input');
      expectAllClose(g.gw, g.fdw, 1e-4, 1e-5, 'grad weight');
      expectAllClose(g.gb, g.fdb, 1e-4, 1e-5, 'grad bias');
    });

  it('train mode: the input gradient sums to zero per channel', () => {
    const g = run(true);
    for (let c = 0; c < C; c++) {
      let s = 0;
      for (let n = 0; n < N; n++) for (let i = 0; i < S; i++) s += g.gx[idx(n, c, i)];
      expect(Math.abs(s)).toBeLessThan(1e-4);
    }
  });

  it('finite differences through blasnet itself agree (float32, coarse)', () => {
    const bn = makeBn();
    const x = tensor(X, SHAPE).requiresGrad_();
    bn.forward(x).mul(tensor(R, SHAPE)).sum().backward();
    const gx = vals(x.grad!);
    const h = 1e-2;
    const lossAt = (xs: number[]) =>
      noGrad(() => {
        const b2 = makeBn();
        return b2.forward(tensor(xs, SHAPE)).mul(tensor(R, SHAPE)).sum().item();
      });
    for (const i of [0, 17, 95, 200, N * C * S - 1]) {
      const xp = X.slice(), xm = X.slice();
      xp[i] += h;
      xm[i] -= h;
      const fd = (lossAt(xp) - lossAt(xm)) / (2 * h);
      expect(Math.abs(gx[i] - fd)).toBeLessThan(2e-2 * Math.max(1, Math.abs(fd)));
    }
  });
});

describe('BatchNorm2d memory', () => {
  it('forward/backward (train and eval) inside tidy does not leak native memory', () => {
    const bn = makeBn();
    const x = tensor(X, SHAPE).requiresGrad_();
    const iter = () =>
      tidy(() => {
        bn.zeroGrad();
        x.grad?.dispose();
        x.grad = null;
        bn.train();
        bn.forward(x).sum().backward();
        bn.eval();
        bn.forward(x).mul(2).sum().backward();
        noGrad(() => bn.forward(x));
      });
    iter();
    const before = memoryInfo().liveBytes;
    for (let i = 0; i < 30; i++) iter();
    expect(memoryInfo().liveBytes).toBeLessThanOrEqual(before);
  });
});
