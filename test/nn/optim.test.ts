// Optimizers: SGD (momentum, dampening, Nesterov, weight decay), Adam, AdamW
// and AMSGrad against float64 reference implementations of PyTorch's update
// formulas (torch.optim docs), cross-checked with PyTorch 1.13 float64
// trajectories (test/fixtures/nn_ref.json, gen_nn.py); state-dict round trips;
// hyper-parameter validation; zeroGrad.
import { describe, it, expect } from 'vitest';
import { optim, tensor, type Tensor } from '../../src';
import { expectAllClose, fixture } from '../helpers';

interface Cfg {
  optimizer: 'SGD' | 'Adam' | 'AdamW';
  options: Record<string, unknown>;
  trajectory: number[][];
}
const REF = fixture('nn_ref.json').optim as { p0: number[]; a: number[]; c: number[][]; steps: number; configs: Record<string, Cfg> };

/** PyTorch option names → blasnet's. */
function camel(o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) out[k === 'weight_decay' ? 'weightDecay' : k] = v;
  return out;
}

function make(kind: Cfg['optimizer'], params: Tensor[], opts: Record<string, unknown>): optim.Optimizer {
  if (kind === 'SGD') return new optim.SGD(params, opts as unknown as optim.SGDOptions);
  if (kind === 'Adam') return new optim.Adam(params, opts as optim.AdamOptions);
  return new optim.AdamW(params, opts as optim.AdamOptions);
}

/** Float64 reference of PyTorch's SGD / Adam / AdamW over the quadratic problem grad = a·p + c_t. */
function reference(kind: Cfg['optimizer'], o: Record<string, any>, p0: number[], a: number[], c: number[][], steps: number): number[][] {
  const p = p0.slice();
  const n = p.length;
  const traj: number[][] = [];
  const lr = o.lr as number, wd = (o.weightDecay ?? (kind === 'AdamW' ? 0.01 : 0)) as number;
  if (kind === 'SGD') {
    const mu = o.momentum ?? 0, tau = o.dampening ?? 0, nesterov = !!o.nesterov;
    let buf: number[] | null = null;
    for (let t = 0; t < steps; t++) {
      const g = p.map((v, i) => a[i] * v + c[t][i] + wd * v);
      let d = g;
      if (mu !== 0) {
        buf = buf === null ? g.slice() : buf.map((b, i) => mu * b + (1 - tau) * g[i]);
        d = nesterov ? g.map((v, i) => v + mu * buf![i]) : buf.slice();
      }
      for (let i = 0; i < n; i++) p[i] -= lr * d[i];
      traj.push(p.slice());
    }
    return traj;
  }
  const [b1, b2] = (o.betas ?? [0.9, 0.999]) as [number, number];
  const eps = (o.eps ?? 1e-8) as number, ams = !!o.amsgrad;
  const m = new Array(n).fill(0), v = new Array(n).fill(0), vmax = new Array(n).fill(0);
  for (let t = 1; t <= steps; t++) {
    for (let i = 0; i < n; i++) {
      let g = a[i] * p[i] + c[t - 1][i];
      if (kind === 'AdamW') p[i] *= 1 - lr * wd;
      else g += wd * p[i];
      m[i] = b1 * m[i] + (1 - b1) * g;
      v[i] = b2 * v[i] + (1 - b2) * g * g;
      const bc1 = 1 - b1 ** t, bc2 = 1 - b2 ** t;
      let vv = v[i];
      if (ams) vv = vmax[i] = Math.max(vmax[i], v[i]);
      p[i] -= (lr / bc1) * (m[i] / (Math.sqrt(vv) / Math.sqrt(bc2) + eps));
    }
    traj.push(p.slice());
  }
  return traj;
}

/** One training step of the quadratic problem in blasnet: loss = Σ ½·a·p² + c·p. */
function stepOnce(opt: optim.Optimizer, p: Tensor, t: number): void {
  opt.zeroGrad();
  const a = tensor(REF.a), c = tensor(REF.c[t]);
  p.mul(p).mul(a).mul(0.5).add(p.mul(c)).sum().backward();
  opt.step();
}

describe('single-parameter updates vs float64 reference formulas (and PyTorch 1.13)', () => {
  for (const [name, cfg] of Object.entries(REF.configs))
    it(`${name}: ${cfg.optimizer}(${JSON.stringify(camel(cfg.options))})`, () => {
      const opts = camel(cfg.options);
      const ref = reference(cfg.optimizer, opts, REF.p0, REF.a, REF.c, REF.steps);
      // the hand-written float64 reference is PyTorch's update
      ref.forEach((row, t) => expectAllClose(row, cfg.trajectory[t], 1e-10, 1e-12, `${name} JS reference vs torch, step ${t + 1}`));
      const p = tensor(REF.p0).requiresGrad_();
      const opt = make(cfg.optimizer, [p], opts);
      for (let t = 0; t < REF.steps; t++) {
        stepOnce(opt, p, t);
        expectAllClose(Array.from(p.data()), ref[t], 2e-5, 2e-6, `${name} step ${t + 1}`);
      }
    });

  it('SGD plain: p ← p − lr·g exactly for one step', () => {
    const p = tensor([1, -2, 3]).requiresGrad_();
    const opt = new optim.SGD([p], { lr: 0.5 });
    p.mul(tensor([2, 4, -1])).sum().backward(); // grad = [2, 4, -1]
    opt.step();
    expect(Array.from(p.data())).toEqual([0, -4, 3.5]);
  });

  it('SGD momentum: the first step uses buf = g (no dampening), later ones μ·buf + (1−τ)·g', () => {
    const p = tensor([0]).requiresGrad_();
    const opt = new optim.SGD([p], { lr: 1, momentum: 0.5, dampening: 0.5 });
    const g = [1, 1, 1];
    const expected: number[] = [];
    let buf = 0, x = 0;
    g.forEach((gi, t) => {
      buf = t === 0 ? gi : 0.5 * buf + 0.5 * gi;
      x -= buf;
      expected.push(x);
    });
    const got: number[] = [];
    for (let t = 0; t < 3; t++) {
      opt.zeroGrad();
      p.sum().backward();
      opt.step();
      got.push(p.item());
    }
    expect(got).toEqual(expected); // [-1, -2, -3]
  });

  it('AdamW default weightDecay is 0.01, Adam default 0', () => {
    const p1 = tensor([1]).requiresGrad_(), p2 = tensor([1]).requiresGrad_();
    const w = new optim.AdamW([p1]), a = new optim.Adam([p2]);
    expect(w.paramGroups[0].options.weightDecay).toBe(0.01);
    expect(a.paramGroups[0].options.weightDecay).toBe(0);
    expect(a.paramGroups[0].options.lr).toBe(1e-3);
    expect(a.paramGroups[0].options.betas).toEqual([0.9, 0.999]);
    expect(a.paramGroups[0].options.eps).toBe(1e-8);
  });

  it('parameter groups override the defaults (per-group lr)', () => {
    const p1 = tensor([1, 1]).requiresGrad_(), p2 = tensor([1, 1]).requiresGrad_();
    const opt = new optim.SGD([{ params: [p1] }, { params: [p2], lr: 0.5 }], { lr: 0.1 });
    p1.sum().add(p2.sum()).backward();
    opt.step();
    expectAllClose(Array.from(p1.data()), [0.9, 0.9], 1e-7, 0, 'p1');
    expectAllClose(Array.from(p2.data()), [0.5, 0.5], 1e-7, 0, 'p2');
  });
});

describe('stateDict / loadStateDict: a restored optimizer continues identically', () => {
  const TOTAL = REF.steps, CUT = 3;
  const cloneSd = (sd: optim.OptimizerStateDict): optim.OptimizerStateDict => ({
    state: Object.fromEntries(
      Object.entries(sd.state).map(([k, s]) => [k, Object.fromEntries(Object.entries(s).map(([n, v]) => [n, typeof v === 'number' ? v : v.clone()]))]),
    ),
    paramGroups: JSON.parse(JSON.stringify(sd.paramGroups)),
  });
  for (const name of ['sgd_momentum', 'sgd_nesterov_wd', 'sgd_all', 'adam', 'adam_wd', 'adam_amsgrad', 'adamw', 'adamw_amsgrad']) {
    const cfg = REF.configs[name];
    it(name, () => {
      const opts = camel(cfg.options);
      // uninterrupted
      const pa = tensor(REF.p0).requiresGrad_();
      const oa = make(cfg.optimizer, [pa], opts);
      for (let t = 0; t < TOTAL; t++) stepOnce(oa, pa, t);
      // interrupted after CUT steps: save, throw the optimizer away, restore into a fresh one
      const pb = tensor(REF.p0).requiresGrad_();
      const ob = make(cfg.optimizer, [pb], opts);
      for (let t = 0; t < CUT; t++) stepOnce(ob, pb, t);
      const saved = cloneSd(ob.stateDict());
      expect(Object.keys(saved.state)).toEqual(['0']);
      expect(saved.paramGroups[0].params).toEqual([0]);
      expect(saved.paramGroups[0].lr).toBe(opts.lr);
      if (cfg.optimizer === 'SGD') expect(Object.keys(saved.state[0])).toContain('momentum_buffer');
      else {
        expect(saved.state[0].step).toBe(CUT);
        expect(Object.keys(saved.state[0])).toEqual(expect.arrayContaining(['exp_avg', 'exp_avg_sq', ...(opts.amsgrad ? ['max_exp_avg_sq'] : [])]));
      }
      // the new optimizer starts with other hyper-parameters; loading restores them
      const pc = tensor(Array.from(pb.data())).requiresGrad_();
      const oc = make(cfg.optimizer, [pc], { ...opts, lr: 0.123 });
      oc.loadStateDict(saved);
      expect(oc.paramGroups[0].options.lr).toBe(opts.lr);
      // the loaded state is a copy: changing the saved dict afterwards has no effect
      for (const v of Object.values(saved.state[0])) if (typeof v !== 'number') (v as Tensor).fill_(1234);
      for (let t = CUT; t < TOTAL; t++) stepOnce(oc, pc, t);
      expect(Array.from(pc.data())).toEqual(Array.from(pa.data()));
    });
  }

  it('loadStateDict rejects a mismatched dict', () => {
    const p = tensor([1, 2, 3]).requiresGrad_();
    const opt = new optim.Adam([p]);
    p.sum().backward();
    opt.step();
    const sd = opt.stateDict();
    const q = tensor([1, 2]).requiresGrad_();
    expect(() => new optim.Adam([q]).loadStateDict(sd)).toThrow(/loadStateDict/);
    const r1 = tensor([1, 2, 3]).requiresGrad_(), r2 = tensor([1]).requiresGrad_();
    expect(() => new optim.Adam([{ params: [r1] }, { params: [r2] }]).loadStateDict(sd)).toThrow(/groups/);
    expect(() => new optim.Adam([r1]).loadStateDict({} as optim.OptimizerStateDict)).toThrow(TypeError);
  });
});

describe('hyper-parameter validation', () => {
  const p = () => [tensor([1, 2]).requiresGrad_()];
  const bad: [string, () => unknown][] = [
    ['SGD lr < 0', () => new optim.SGD(p(), { lr: -0.1 })],
    ['SGD lr NaN', () => new optim.SGD(p(), { lr: NaN })],
    ['SGD lr missing', () => new optim.SGD(p(), {} as optim.SGDOptions)],
    ['SGD lr a string', () => new optim.SGD(p(), { lr: '0.1' as unknown as number })],
    ['SGD momentum < 0', () => new optim.SGD(p(), { lr: 0.1, momentum: -0.5 })],
    ['SGD dampening > 1', () => new optim.SGD(p(), { lr: 0.1, momentum: 0.9, dampening: 1.5 })],
    ['SGD dampening < 0', () => new optim.SGD(p(), { lr: 0.1, momentum: 0.9, dampening: -0.1 })],
    ['SGD weightDecay < 0', () => new optim.SGD(p(), { lr: 0.1, weightDecay: -1e-4 })],
    ['SGD nesterov without momentum', () => new optim.SGD(p(), { lr: 0.1, nesterov: true })],
    ['SGD nesterov with dampening', () => new optim.SGD(p(), { lr: 0.1, momentum: 0.9, dampening: 0.1, nesterov: true })],
    ['SGD group override lr < 0', () => new optim.SGD([{ params: p(), lr: -1 }], { lr: 0.1 })],
    ['Adam lr < 0', () => new optim.Adam(p(), { lr: -1e-3 })],
    ['Adam eps < 0', () => new optim.Adam(p(), { eps: -1e-8 })],
    ['Adam weightDecay < 0', () => new optim.Adam(p(), { weightDecay: -0.1 })],
    ['Adam beta1 = 1', () => new optim.Adam(p(), { betas: [1, 0.999] })],
    ['Adam beta2 = 1', () => new optim.Adam(p(), { betas: [0.9, 1] })],
    ['Adam beta1 < 0', () => new optim.Adam(p(), { betas: [-0.1, 0.999] })],
    ['Adam beta2 > 1', () => new optim.Adam(p(), { betas: [0.9, 1.5] })],
    ['Adam betas of length 1', () => new optim.Adam(p(), { betas: [0.9] as unknown as [number, number] })],
    ['AdamW lr NaN', () => new optim.AdamW(p(), { lr: NaN })],
    ['AdamW weightDecay < 0', () => new optim.AdamW(p(), { weightDecay: -0.01 })],
  ];
  for (const [what, fn] of bad) it(`${what} throws RangeError`, () => expect(fn).toThrow(RangeError));

  it('valid edge values are accepted (lr 0, betas 0, dampening 1)', () => {
    expect(() => new optim.SGD(p(), { lr: 0, momentum: 0.9, dampening: 1 })).not.toThrow();
    expect(() => new optim.Adam(p(), { lr: 0, betas: [0, 0] })).not.toThrow();
  });

  it('an empty parameter list, a duplicate and a non-leaf are rejected', () => {
    expect(() => new optim.SGD([], { lr: 0.1 })).toThrow(/empty/);
    const q = tensor([1]).requiresGrad_();
    expect(() => new optim.SGD([{ params: [q] }, { params: [q] }], { lr: 0.1 })).toThrow(/more than one group/);
    const nonLeaf = q.mul(2);
    expect(() => new optim.SGD([nonLeaf], { lr: 0.1 })).toThrow(/non-leaf/);
  });
});

describe('zeroGrad and parameters without gradients', () => {
  it('zeroGrad frees every gradient; step then changes nothing', () => {
    const a = tensor([1, 2]).requiresGrad_(), b = tensor([3]).requiresGrad_();
    const opt = new optim.Adam([a, b], { lr: 0.1 });
    a.sum().add(b.sum()).backward();
    expect(a.grad).not.toBeNull();
    expect(b.grad).not.toBeNull();
    opt.zeroGrad();
    expect(a.grad).toBeNull();
    expect(b.grad).toBeNull();
    opt.step();
    expect(Array.from(a.data())).toEqual([1, 2]);
    expect(Array.from(b.data())).toEqual([3]);
    expect(opt.state.size).toBe(0);
  });

  it('without zeroGrad gradients accumulate; with it they do not', () => {
    const a = tensor([1]).requiresGrad_();
    const opt = new optim.SGD([a], { lr: 0 });
    a.mul(3).sum().backward();
    a.mul(3).sum().backward();
    expect(a.grad!.item()).toBe(6);
    opt.zeroGrad();
    a.mul(3).sum().backward();
    expect(a.grad!.item()).toBe(3);
  });

  it('a parameter with no gradient is skipped (no update, no state)', () => {
    const a = tensor([1]).requiresGrad_(), b = tensor([5]).requiresGrad_();
    const opt = new optim.SGD([a, b], { lr: 0.1, momentum: 0.9 });
    a.mul(2).sum().backward();
    opt.step();
    expect(a.item()).toBeCloseTo(0.8, 6);
    expect(b.item()).toBe(5);
    expect(opt.state.has(a)).toBe(true);
    expect(opt.state.has(b)).toBe(false);
  });
});
