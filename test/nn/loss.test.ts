// Losses: crossEntropy (reductions, label smoothing, huge logits, target
// forms), its gradient, nllLoss∘logSoftmax == crossEntropy, mseLoss, and
// errors on bad targets. References: float64 JS (log-sum-exp) and PyTorch 1.13
// values in test/fixtures/nn_ref.json (gen_nn.py).
import { describe, it, expect } from 'vitest';
import { nn, tensor, tidy, memoryInfo, type Tensor } from '../../src';
import { expectAllClose, fixture, flat, numericGrad, randomArray } from '../helpers';

const F = nn.functional;
type Red = 'mean' | 'sum' | 'none';

/** Per-row cross entropy in float64 with PyTorch's label smoothing. */
function ceRows(x: ArrayLike<number>, N: number, C: number, target: ArrayLike<number>, eps = 0): number[] {
  const rows: number[] = [];
  for (let n = 0; n < N; n++) {
    let mx = -Infinity;
    for (let c = 0; c < C; c++) mx = Math.max(mx, x[n * C + c]);
    let s = 0;
    for (let c = 0; c < C; c++) s += Math.exp(x[n * C + c] - mx);
    const lse = mx + Math.log(s);
    let all = 0;
    for (let c = 0; c < C; c++) all += x[n * C + c] - lse;
    rows.push(-(1 - eps) * (x[n * C + target[n]] - lse) - (eps / C) * all);
  }
  return rows;
}
function reduce(rows: number[], red: Red): number | number[] {
  if (red === 'none') return rows;
  const s = rows.reduce((a, b) => a + b, 0);
  return red === 'sum' ? s : s / rows.length;
}
const asArr = (v: number | number[]) => (typeof v === 'number' ? [v] : v);
const vals = (t: Tensor) => Array.from(t.data());

describe('crossEntropy vs float64 log-sum-exp reference', () => {
  const N = 6, C = 7;
  const x = randomArray(N * C, 11, -4, 4);
  const target = [0, 6, 3, 3, 1, 5];

  for (const eps of [0, 0.1])
    for (const red of ['mean', 'sum', 'none'] as Red[])
      it(`reduction ${red}, labelSmoothing ${eps}: value and shape`, () => {
        const out = F.crossEntropy(tensor(x, [N, C]), target, { reduction: red, labelSmoothing: eps });
        expect(out.shape).toEqual(red === 'none' ? [N] : []);
        expectAllClose(vals(out), asArr(reduce(ceRows(x, N, C, target, eps), red)), 1e-6, 1e-6, `ce ${red} ${eps}`);
      });

  it('target as Tensor, number[], Int32Array and Float32Array give identical losses', () => {
    const logits = tensor(x, [N, C]);
    const forms = [tensor(target), target, Int32Array.from(target), Float32Array.from(target)];
    const outs = forms.map((t) => vals(F.crossEntropy(logits, t, { reduction: 'none' })));
    for (const o of outs.slice(1)) expect(o).toEqual(outs[0]);
    expectAllClose(outs[0], ceRows(x, N, C, target), 1e-6, 1e-6, 'ce rows');
  });

  it('the default reduction is mean', () => {
    const a = F.crossEntropy(tensor(x, [N, C]), target).item();
    const b = F.crossEntropy(tensor(x, [N, C]), target, { reduction: 'mean' }).item();
    expect(a).toBe(b);
  });

  it('1-d logits [C] with one target give a scalar', () => {
    const row = x.slice(0, C);
    const out = F.crossEntropy(tensor(row), [4]);
    expect(out.shape).toEqual([]);
    expect(out.item()).toBeCloseTo(ceRows(row, 1, C, [4])[0], 5);
    expect(F.crossEntropy(tensor(row), [4], { reduction: 'none' }).shape).toEqual([]);
  });

  it('logits of ±1000 are stable: finite, exact losses and gradients', () => {
    const big = [1000, -1000, 0, 999, -1000, -999.5, -1000, -1000, 0, 1000, -1000, 0];
    const t = [1, 1, 0];
    for (const eps of [0, 0.1]) {
      const xt = tensor(big, [3, 4]).requiresGrad_();
      const out = F.crossEntropy(xt, t, { reduction: 'none', labelSmoothing: eps });
      const v = vals(out);
      expect(v.every(Number.isFinite)).toBe(true);
      expectAllClose(v, ceRows(big, 3, 4, t, eps), 1e-6, 1e-4, `big rows eps ${eps}`);
      const loss = F.crossEntropy(xt, t, { labelSmoothing: eps });
      loss.backward();
      const g = vals(xt.grad!);
      expect(g.every(Number.isFinite)).toBe(true);
      const ref = numericGrad((z) => (reduce(ceRows(z, 3, 4, t, eps), 'mean') as number), big, 1e-4);
      expectAllClose(g, ref, 1e-4, 1e-6, `big grad eps ${eps}`);
    }
  });

  it('an all-equal row of huge logits gives log C', () => {
    const out = F.crossEntropy(tensor([1e4, 1e4, 1e4, 1e4], [1, 4]), [2]);
    expect(out.item()).toBeCloseTo(Math.log(4), 6);
  });
});

describe('crossEntropy gradients vs finite differences (float64 reference)', () => {
  const N = 5, C = 4;
  const x = randomArray(N * C, 21, -3, 3);
  const target = [3, 0, 2, 2, 1];
  for (const eps of [0, 0.1])
    for (const red of ['mean', 'sum', 'none'] as Red[])
      it(`reduction ${red}, labelSmoothing ${eps}`, () => {
        const xt = tensor(x, [N, C]).requiresGrad_();
        const out = F.crossEntropy(xt, target, { reduction: red, labelSmoothing: eps });
        // for 'none', backpropagate a non-uniform upstream gradient
        const up = [0.5, -1, 2, 0.25, 1.5];
        if (red === 'none') out.backward(tensor(up));
        else out.backward();
        const f = (z: Float64Array) => {
          const rows = ceRows(z, N, C, target, eps);
          return red === 'none' ? rows.reduce((a, r, i) => a + r * up[i], 0) : (reduce(rows, red) as number);
        };
        expectAllClose(vals(xt.grad!), numericGrad(f, x), 1e-4, 1e-6, `grad ${red} ${eps}`);
      });

  it('gradient rows sum to zero (softmax − smoothed one-hot)', () => {
    const xt = tensor(x, [N, C]).requiresGrad_();
    F.crossEntropy(xt, target, { labelSmoothing: 0.1, reduction: 'sum' }).backward();
    const g = vals(xt.grad!);
    for (let n = 0; n < N; n++) expect(Math.abs(g.slice(n * C, n * C + C).reduce((a, b) => a + b, 0))).toBeLessThan(1e-6);
  });
});

describe('crossEntropy vs PyTorch 1.13 (nn_ref.json)', () => {
  const ref = fixture('nn_ref.json').cross_entropy as Record<string, any>;
  for (const [name, c] of Object.entries(ref))
    it(name, () => {
      const logits = c.logits as number[][];
      const [N, C] = [logits.length, logits[0].length];
      const xFlat = flat(logits);
      // sanity: the float64 JS reference agrees with PyTorch
      for (const red of ['mean', 'sum', 'none'] as Red[])
        expectAllClose(asArr(reduce(ceRows(xFlat, N, C, c.target, c.labelSmoothing), red)), asArr(c[red]), 1e-12, 1e-12, `js ref ${red}`);
      for (const red of ['mean', 'sum', 'none'] as Red[]) {
        const xt = tensor(xFlat, [N, C]).requiresGrad_();
        const out = F.crossEntropy(xt, c.target, { reduction: red, labelSmoothing: c.labelSmoothing });
        expectAllClose(vals(out), asArr(c[red]), 1e-5, 1e-5, `${name} ${red}`);
        if (red !== 'none') {
          out.backward();
          expectAllClose(vals(xt.grad!), flat(c[`grad_${red}`]), 1e-5, 1e-6, `${name} grad ${red}`);
        }
      }
    });
});

describe('nllLoss', () => {
  const N = 6, C = 5;
  const x = randomArray(N * C, 31, -5, 5);
  const target = [4, 0, 1, 1, 3, 2];

  for (const red of ['mean', 'sum', 'none'] as Red[])
    it(`nllLoss(logSoftmax(x)) == crossEntropy(x): ${red}, values and gradients`, () => {
      const a = tensor(x, [N, C]).requiresGrad_();
      const b = tensor(x, [N, C]).requiresGrad_();
      const la = F.nllLoss(F.logSoftmax(a, 1), target, { reduction: red });
      const lb = F.crossEntropy(b, target, { reduction: red });
      expect(la.shape).toEqual(lb.shape);
      expectAllClose(vals(la), vals(lb), 1e-5, 1e-6, `nll vs ce ${red}`);
      const up = tensor([1, -0.5, 2, 0.3, 0.7, -1.2]);
      if (red === 'none') {
        la.backward(up);
        lb.backward(up);
      } else {
        la.backward();
        lb.backward();
      }
      expectAllClose(vals(a.grad!), vals(b.grad!), 1e-4, 1e-6, `grad ${red}`);
    });

  it('picks −input[n, target[n]] and averages', () => {
    const out = F.nllLoss(tensor(x, [N, C]), Int32Array.from(target), { reduction: 'none' });
    expectAllClose(vals(out), target.map((t, n) => -x[n * C + t]), 0, 0, 'nll rows');
    const m = F.nllLoss(tensor(x, [N, C]), tensor(target));
    expect(m.item()).toBeCloseTo(target.reduce((a, t, n) => a - x[n * C + t], 0) / N, 5);
  });

  it('gradient is −1/N at the target entries, 0 elsewhere (mean)', () => {
    const xt = tensor(x, [N, C]).requiresGrad_();
    F.nllLoss(xt, target).backward();
    const exp = new Array(N * C).fill(0);
    target.forEach((t, n) => (exp[n * C + t] = -1 / N));
    expectAllClose(vals(xt.grad!), exp, 1e-6, 1e-7, 'nll grad');
  });
});

describe('mseLoss', () => {
  const shape = [3, 4];
  const x = randomArray(12, 41, -2, 2);
  const y = randomArray(12, 42, -2, 2);
  const d = x.map((v, i) => v - y[i]);

  it('mean, sum and none values', () => {
    const none = F.mseLoss(tensor(x, shape), tensor(y, shape), { reduction: 'none' });
    expect(none.shape).toEqual(shape);
    expectAllClose(vals(none), d.map((v) => v * v), 1e-6, 1e-7, 'none');
    const s = d.reduce((a, v) => a + v * v, 0);
    const sum = F.mseLoss(tensor(x, shape), tensor(y, shape), { reduction: 'sum' });
    expect(sum.shape).toEqual([]);
    expectAllClose([sum.item()], [s], 1e-6, 1e-6, 'sum');
    const mean = F.mseLoss(tensor(x, shape), tensor(y, shape));
    expectAllClose([mean.item()], [s / 12], 1e-6, 1e-7, 'mean (default)');
  });

  for (const red of ['mean', 'sum', 'none'] as Red[])
    it(`gradients w.r.t. input and target: ${red}`, () => {
      const xt = tensor(x, shape).requiresGrad_();
      const yt = tensor(y, shape).requiresGrad_();
      const out = F.mseLoss(xt, yt, { reduction: red });
      const up = randomArray(12, 43, -1, 1);
      if (red === 'none') out.backward(tensor(up, shape));
      else out.backward();
      const k = red === 'mean' ? 1 / 12 : 1;
      const gx = d.map((v, i) => 2 * v * k * (red === 'none' ? up[i] : 1));
      expectAllClose(vals(xt.grad!), gx, 1e-5, 1e-7, `gx ${red}`);
      expectAllClose(vals(yt.grad!), gx.map((v) => -v), 1e-5, 1e-7, `gy ${red}`);
      // and by finite differences of the float64 loss
      const f = (z: Float64Array) =>
        z.reduce((a, v, i) => {
          const e = (v - y[i]) ** 2;
          return a + (red === 'none' ? e * up[i] : e * k);
        }, 0);
      expectAllClose(vals(xt.grad!), numericGrad(f, x), 1e-5, 1e-6, `fd ${red}`);
    });

  it('shape mismatch and bad reduction throw, naming mseLoss', () => {
    expect(() => F.mseLoss(tensor(x, shape), tensor(y.slice(0, 8), [2, 4]))).toThrow(/mseLoss/);
    expect(() => F.mseLoss(tensor(x, shape), tensor(y, shape), { reduction: 'avg' as Red })).toThrow(/mseLoss/);
  });
});

describe('bad targets and options throw Errors naming the op', () => {
  const N = 4, C = 5;
  const x = randomArray(N * C, 51);
  const cases: [string, unknown][] = [
    ['out of range (== C)', [0, 1, 5, 2]],
    ['negative', [0, -1, 2, 3]],
    ['fractional', [0, 1.5, 2, 3]],
    ['NaN', [0, NaN, 2, 3]],
    ['too short', [0, 1, 2]],
    ['too long', [0, 1, 2, 3, 4]],
  ];
  for (const [what, t] of cases) {
    it(`crossEntropy: ${what}`, () => {
      const run = () => F.crossEntropy(tensor(x, [N, C]), t as number[]);
      expect(run).toThrow(Error);
      expect(run).toThrow(/crossEntropy/);
    });
    it(`crossEntropy: ${what} (as a Tensor)`, () => {
      expect(() => F.crossEntropy(tensor(x, [N, C]), tensor(t as number[]))).toThrow(/crossEntropy/);
    });
    it(`nllLoss: ${what}`, () => {
      const run = () => F.nllLoss(tensor(x, [N, C]), t as number[]);
      expect(run).toThrow(Error);
      expect(run).toThrow(/nllLoss/);
    });
  }

  it('out-of-range messages say which entry is bad', () => {
    expect(() => F.crossEntropy(tensor(x, [N, C]), [0, 1, 7, 2])).toThrow(/target\[2\]/);
    expect(() => F.nllLoss(tensor(x, [N, C]), Int32Array.from([0, 1, 2, -3]))).toThrow(/target\[3\]/);
  });

  it('a 2-d target tensor with N elements is rejected', () => {
    expect(() => F.crossEntropy(tensor(x, [N, C]), tensor([[0, 1], [2, 3]]))).toThrow(/crossEntropy/);
  });

  it('a non-array target is a TypeError', () => {
    expect(() => F.crossEntropy(tensor(x, [N, C]), 'abc' as unknown as number[])).toThrow(TypeError);
  });

  it('bad reduction and labelSmoothing are rejected', () => {
    expect(() => F.crossEntropy(tensor(x, [N, C]), [0, 1, 2, 3], { reduction: 'avg' as Red })).toThrow(/crossEntropy/);
    expect(() => F.crossEntropy(tensor(x, [N, C]), [0, 1, 2, 3], { labelSmoothing: 1.5 })).toThrow(RangeError);
    expect(() => F.crossEntropy(tensor(x, [N, C]), [0, 1, 2, 3], { labelSmoothing: -0.1 })).toThrow(/crossEntropy/);
  });

  it('logits of the wrong rank, or targets of the wrong shape, are rejected', () => {
    // [N, C, d] logits take a target [N, d] (test/nn/layers-api.test.ts checks them against PyTorch)
    expect(() => F.crossEntropy(tensor(x, [2, 2, C]), [0, 1])).toThrow(/crossEntropy: target must be a Tensor of shape \[2,5\]/);
    expect(() => F.nllLoss(tensor(1), [0])).toThrow(/nllLoss: expected input \[C\], \[N, C\] or \[N, C, d1, ...\], got a 0-d tensor/);
  });

  it('the logits stay usable after a rejected target', () => {
    const logits = tensor(x, [N, C]);
    expect(() => F.crossEntropy(logits, [9, 9, 9, 9])).toThrow();
    expect(Number.isFinite(F.crossEntropy(logits, [0, 1, 2, 3]).item())).toBe(true);
  });
});

describe('loss memory and lifetimes', () => {
  const N = 8, C = 10;
  const x = randomArray(N * C, 61, -2, 2);
  const target = [0, 1, 2, 3, 4, 5, 6, 7];

  it('a target tensor disposed between forward and backward does not break backward', () => {
    const xt = tensor(x, [N, C]).requiresGrad_();
    const t = tensor(target);
    const loss = F.crossEntropy(xt, t);
    t.dispose();
    loss.backward();
    const ref = numericGrad((z) => reduce(ceRows(z, N, C, target), 'mean') as number, x);
    expectAllClose(vals(xt.grad!), ref, 1e-4, 1e-6, 'grad after target dispose');
  });

  it('repeated forward/backward inside tidy does not leak native memory', () => {
    const xt = tensor(x, [N, C]).requiresGrad_();
    const y = tensor(randomArray(N * C, 62), [N, C]);
    const t = tensor(target);
    const iter = () =>
      tidy(() => {
        xt.grad?.dispose();
        xt.grad = null;
        F.crossEntropy(xt, t, { labelSmoothing: 0.1 }).backward();
        F.crossEntropy(xt, target, { reduction: 'none' }).sum().backward();
        F.nllLoss(F.logSoftmax(xt, 1), Int32Array.from(target)).backward();
        F.mseLoss(xt, y).backward();
        F.crossEntropy(y, target); // no grad recorded: scratch freed at once
      });
    iter();
    const before = memoryInfo().liveBytes;
    for (let i = 0; i < 50; i++) iter();
    expect(memoryInfo().liveBytes).toBeLessThanOrEqual(before);
  });
});
