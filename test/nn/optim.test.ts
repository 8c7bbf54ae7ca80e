// Optimizers: SGD, Adam, AdamW, Adadelta, RMSprop and Adagrad, every option
// (momentum, dampening, nesterov, weight decay, amsgrad, centered, lr decay,
// initial accumulator, maximize) against float64 reference implementations of
// PyTorch's update formulas written here, both cross-checked with PyTorch 1.13
// float64 trajectories (test/fixtures/optim_ref.json, gen_optim.py): single
// runs over two parameters, multi-group runs where hyper-parameters are changed
// through paramGroups mid-run and groups are added with addParamGroup, and the
// state after the run. State-dict round trips and all-or-nothing loading;
// validation and error messages of every entry point.
import { describe, it, expect } from 'vitest';
import { optim, tensor, zeros, nn, type Tensor } from '../../src';
import { expectAllClose, fixture, makeRng } from '../helpers';

type Kind = 'SGD' | 'Adam' | 'AdamW' | 'Adadelta' | 'RMSprop' | 'Adagrad';
interface Single {
  optimizer: Kind;
  options: Record<string, unknown>;
  steps: number;
  trajectory: number[][][];
  state: Record<string, Record<string, number | number[]>>;
}
type Event = { at: number; set?: Record<string, unknown> & { group: number }; add?: Record<string, unknown> };
interface Grouped {
  optimizer: Kind;
  options: Record<string, unknown>;
  groups: Record<string, unknown>[];
  events: Event[];
  steps: number;
  trajectory: number[][][];
}
interface Problem {
  p0: number[]; q0: number[]; r0: number[];
  a: number[]; b: number[]; e: number[];
  c: number[][]; d: number[][]; f: number[][];
  steps: number;
}
const REF = fixture('optim_ref.json') as { problem: Problem; configs: Record<string, Single>; groups: Record<string, Grouped> };
const PB = REF.problem;

/** PyTorch's snake_case option names → blasnet's camelCase. */
function camel(o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) out[k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())] = v;
  return out;
}

const CTOR: Record<Kind, new (params: any, opts?: any) => optim.Optimizer> = {
  SGD: optim.SGD, Adam: optim.Adam, AdamW: optim.AdamW, Adadelta: optim.Adadelta, RMSprop: optim.RMSprop, Adagrad: optim.Adagrad,
};
function make(kind: Kind, params: unknown, opts: Record<string, unknown>): optim.Optimizer {
  return new CTOR[kind](params, opts);
}

// ---------------------------------------------------------------------------
// float64 references of PyTorch 1.13's single-tensor updates (torch/optim/*.py)

const DEFAULTS: Record<Kind, Record<string, unknown>> = {
  SGD: { momentum: 0, dampening: 0, nesterov: false, weightDecay: 0, maximize: false },
  Adam: { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false, maximize: false },
  AdamW: { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.01, amsgrad: false, maximize: false },
  Adadelta: { lr: 1, rho: 0.9, eps: 1e-6, weightDecay: 0, maximize: false },
  RMSprop: { lr: 0.01, alpha: 0.99, eps: 1e-8, weightDecay: 0, momentum: 0, centered: false, maximize: false },
  Adagrad: { lr: 0.01, lrDecay: 0, weightDecay: 0, initialAccumulatorValue: 0, eps: 1e-10, maximize: false },
};

type RefState = Record<string, number | number[]>;

/** One step of `kind` on parameter p (float64, in place) with gradient g0 and state st. */
function refStep(kind: Kind, o: Record<string, any>, p: number[], g0: number[], st: RefState): void {
  const n = p.length;
  const zeros = () => new Array<number>(n).fill(0);
  const g = g0.map((v) => (o.maximize ? -v : v));
  if (kind === 'SGD') {
    const d = g.map((v, i) => v + o.weightDecay * p[i]);
    let upd = d;
    if (o.momentum !== 0) {
      const buf = st.momentum_buffer as number[] | undefined;
      st.momentum_buffer = buf === undefined ? d.slice() : buf.map((b, i) => o.momentum * b + (1 - o.dampening) * d[i]);
      const b = st.momentum_buffer as number[];
      upd = o.nesterov ? d.map((v, i) => v + o.momentum * b[i]) : b.slice();
    }
    for (let i = 0; i < n; i++) p[i] -= o.lr * upd[i];
    return;
  }
  if (kind === 'Adam' || kind === 'AdamW') {
    if (st.step === undefined) Object.assign(st, { step: 0, exp_avg: zeros(), exp_avg_sq: zeros() });
    if (o.amsgrad && !st.max_exp_avg_sq) st.max_exp_avg_sq = zeros();
    const t = (st.step = (st.step as number) + 1);
    const [b1, b2] = o.betas as [number, number];
    const m = st.exp_avg as number[], v = st.exp_avg_sq as number[], vm = st.max_exp_avg_sq as number[];
    for (let i = 0; i < n; i++) {
      let gi = g[i];
      if (kind === 'AdamW') p[i] *= 1 - o.lr * o.weightDecay;
      else gi += o.weightDecay * p[i];
      m[i] = b1 * m[i] + (1 - b1) * gi;
      v[i] = b2 * v[i] + (1 - b2) * gi * gi;
      let vv = v[i];
      if (o.amsgrad) vv = vm[i] = Math.max(vm[i], v[i]);
      p[i] -= (o.lr / (1 - b1 ** t)) * (m[i] / (Math.sqrt(vv) / Math.sqrt(1 - b2 ** t) + o.eps));
    }
    return;
  }
  if (kind === 'Adadelta') {
    if (st.step === undefined) Object.assign(st, { step: 0, square_avg: zeros(), acc_delta: zeros() });
    st.step = (st.step as number) + 1;
    const sq = st.square_avg as number[], acc = st.acc_delta as number[];
    for (let i = 0; i < n; i++) {
      const gi = g[i] + o.weightDecay * p[i];
      sq[i] = sq[i] * o.rho + (1 - o.rho) * gi * gi;
      const delta = (Math.sqrt(acc[i] + o.eps) / Math.sqrt(sq[i] + o.eps)) * gi;
      acc[i] = acc[i] * o.rho + (1 - o.rho) * delta * delta;
      p[i] -= o.lr * delta;
    }
    return;
  }
  if (kind === 'RMSprop') {
    if (st.step === undefined) Object.assign(st, { step: 0, square_avg: zeros() });
    if (o.momentum > 0 && !st.momentum_buffer) st.momentum_buffer = zeros();
    if (o.centered && !st.grad_avg) st.grad_avg = zeros();
    st.step = (st.step as number) + 1;
    const sq = st.square_avg as number[], ga = st.grad_avg as number[], buf = st.momentum_buffer as number[];
    for (let i = 0; i < n; i++) {
      const gi = g[i] + o.weightDecay * p[i];
      sq[i] = sq[i] * o.alpha + (1 - o.alpha) * gi * gi;
      let avg: number;
      if (o.centered) {
        ga[i] = ga[i] * o.alpha + (1 - o.alpha) * gi;
        avg = Math.sqrt(sq[i] - ga[i] * ga[i]) + o.eps;
      } else avg = Math.sqrt(sq[i]) + o.eps;
      if (o.momentum > 0) {
        buf[i] = buf[i] * o.momentum + gi / avg;
        p[i] -= o.lr * buf[i];
      } else p[i] -= (o.lr * gi) / avg;
    }
    return;
  }
  // Adagrad (state made eagerly by the caller)
  const t = (st.step = (st.step as number) + 1);
  const sum = st.sum as number[];
  const clr = o.lr / (1 + (t - 1) * o.lrDecay);
  for (let i = 0; i < n; i++) {
    const gi = g[i] + o.weightDecay * p[i];
    sum[i] += gi * gi;
    p[i] -= (clr * gi) / (Math.sqrt(sum[i]) + o.eps);
  }
}

/** The quadratic problem's parameters (flat), curvatures and linear terms per step. */
const PARAMS = [
  { x0: PB.p0, shape: [2, 3], k: PB.a, lin: PB.c },
  { x0: PB.q0, shape: [4], k: PB.b, lin: PB.d },
  { x0: PB.r0, shape: [3], k: PB.e, lin: PB.f },
];
const gradOf = (j: number, x: number[], t: number) => x.map((v, i) => PARAMS[j].k[i] * v + PARAMS[j].lin[t][i]);

/** Runs the float64 reference: groups of parameter indices with options, events as in the fixture. */
function reference(kind: Kind, opts: Record<string, unknown>, groups: { params: number[]; o: Record<string, unknown> }[], events: Event[], steps: number): number[][][] {
  const base = { ...DEFAULTS[kind], ...opts };
  const gs = groups.map((g) => ({ params: g.params, o: { ...base, ...g.o } as Record<string, any> }));
  const xs = PARAMS.map((p) => p.x0.slice());
  const states: RefState[] = PARAMS.map(() => ({}));
  const eager = (j: number, o: Record<string, any>) => kind === 'Adagrad' && Object.assign(states[j], { step: 0, sum: new Array(xs[j].length).fill(o.initialAccumulatorValue) });
  for (const g of gs) for (const j of g.params) eager(j, g.o);
  const traj: number[][][] = [];
  for (let t = 0; t < steps; t++) {
    for (const ev of events) {
      if (ev.at !== t + 1) continue;
      if (ev.set) {
        const { group, ...rest } = camel(ev.set) as Record<string, unknown> & { group: number };
        Object.assign(gs[group].o, rest);
      } else {
        const g = { params: [2], o: { ...base, ...camel(ev.add!) } as Record<string, any> };
        gs.push(g);
        eager(2, g.o);
      }
    }
    for (const g of gs) for (const j of g.params) refStep(kind, g.o, xs[j], gradOf(j, xs[j], t), states[j]);
    traj.push(gs.flatMap((g) => g.params).sort().map((j) => xs[j].slice()));
  }
  return traj;
}

/** One step of the quadratic problem in blasnet: loss = Σ ½·k·x² + lin_t·x over the given parameters. */
function stepOnce(opt: optim.Optimizer, ps: Tensor[], t: number): void {
  opt.zeroGrad();
  let loss: Tensor | null = null;
  ps.forEach((p, j) => {
    const k = tensor(PARAMS[j].k, PARAMS[j].shape), c = tensor(PARAMS[j].lin[t], PARAMS[j].shape);
    const l = p.mul(p).mul(k).mul(0.5).add(p.mul(c)).sum();
    loss = loss ? loss.add(l) : l;
  });
  loss!.backward();
  opt.step();
}

const newParams = (n = 2) => PARAMS.slice(0, n).map((p) => tensor(p.x0, p.shape).requiresGrad_());
const RTOL = 1e-4, ATOL = 2e-5;

describe('single runs vs float64 references and PyTorch 1.13 (two parameters, 10 steps)', () => {
  for (const [name, cfg] of Object.entries(REF.configs))
    it(`${name}: ${cfg.optimizer}(${JSON.stringify(camel(cfg.options))})`, () => {
      const opts = camel(cfg.options);
      const ref = reference(cfg.optimizer, opts, [{ params: [0, 1], o: {} }], [], cfg.steps);
      ref.forEach((row, t) => row.forEach((x, j) => expectAllClose(x, cfg.trajectory[t][j], 1e-10, 1e-12, `${name} JS reference vs torch, step ${t + 1}, param ${j}`)));
      const ps = newParams();
      const opt = make(cfg.optimizer, ps, opts);
      for (let t = 0; t < cfg.steps; t++) {
        stepOnce(opt, ps, t);
        ps.forEach((p, j) => expectAllClose(Array.from(p.data()), cfg.trajectory[t][j], RTOL, ATOL, `${name} step ${t + 1}, param ${j}`));
      }
      // the state after the run: PyTorch's names and values
      const sd = opt.stateDict();
      expect(Object.keys(sd.state).sort()).toEqual(Object.keys(cfg.state).sort());
      for (const [k, s] of Object.entries(cfg.state)) {
        expect(Object.keys(sd.state[Number(k)]).sort(), `state[${k}] keys`).toEqual(Object.keys(s).sort());
        for (const [key, v] of Object.entries(s)) {
          const mine = sd.state[Number(k)][key];
          if (typeof v === 'number') expect(mine, `state[${k}].${key}`).toBe(v);
          else expectAllClose(Array.from((mine as Tensor).data()), v, 1e-3, 1e-4, `state[${k}].${key}`);
        }
      }
    });
});

describe('paramGroups are the live hyper-parameters: values assigned mid-run and addParamGroup, vs PyTorch', () => {
  for (const [name, cfg] of Object.entries(REF.groups))
    it(`${name}: ${cfg.optimizer} ${JSON.stringify(cfg.events)}`, () => {
      const opts = camel(cfg.options);
      const ref = reference(cfg.optimizer, opts, cfg.groups.map((g, j) => ({ params: [j], o: camel(g) })), cfg.events, cfg.steps);
      ref.forEach((row, t) => row.forEach((x, j) => expectAllClose(x, cfg.trajectory[t][j], 1e-10, 1e-12, `${name} JS reference vs torch, step ${t + 1}, param ${j}`)));
      const ps = newParams(3);
      const opt = make(cfg.optimizer, cfg.groups.map((g, j) => ({ params: [ps[j]], ...camel(g) })), opts);
      let live = 2;
      for (let t = 0; t < cfg.steps; t++) {
        for (const ev of cfg.events) {
          if (ev.at !== t + 1) continue;
          if (ev.set) {
            const { group, ...rest } = camel(ev.set) as Record<string, unknown> & { group: number };
            Object.assign(opt.paramGroups[group], rest); // the PyTorch idiom: param_groups[i][k] = v
          } else {
            opt.addParamGroup({ params: [ps[2]], ...camel(ev.add!) });
            live = 3;
          }
        }
        stepOnce(opt, ps.slice(0, live), t);
        for (let j = 0; j < live; j++) expectAllClose(Array.from(ps[j].data()), cfg.trajectory[t][j], RTOL, ATOL, `${name} step ${t + 1}, param ${j}`);
      }
    });

  it('optimizer.paramGroups[0].lr = x changes the next step (SGD: p ← p − lr·g exactly)', () => {
    const p = tensor([1, -2, 3]).requiresGrad_();
    const opt = new optim.SGD([p], { lr: 0.5 });
    opt.paramGroups[0].lr = 0.25;
    expect(opt.lr).toBe(0.25);
    p.mul(tensor([2, 4, -1])).sum().backward(); // grad = [2, 4, -1]
    opt.step();
    expect(Array.from(p.data())).toEqual([0.5, -3, 3.25]);
  });
});

describe('defaults, groups and positional lr', () => {
  it('defaults are PyTorch 1.13 defaults, visible on optimizer.defaults and in each group', () => {
    const p = () => [tensor([1]).requiresGrad_()];
    expect(new optim.AdamW(p()).paramGroups[0]).toMatchObject({ lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.01, amsgrad: false, maximize: false });
    expect(new optim.Adam(p()).defaults).toMatchObject({ lr: 1e-3, weightDecay: 0 });
    expect(new optim.Adadelta(p()).paramGroups[0]).toMatchObject({ lr: 1, rho: 0.9, eps: 1e-6, weightDecay: 0, maximize: false });
    expect(new optim.RMSprop(p()).paramGroups[0]).toMatchObject({ lr: 0.01, alpha: 0.99, eps: 1e-8, weightDecay: 0, momentum: 0, centered: false, maximize: false });
    expect(new optim.Adagrad(p()).paramGroups[0]).toMatchObject({ lr: 0.01, lrDecay: 0, weightDecay: 0, initialAccumulatorValue: 0, eps: 1e-10, maximize: false });
    expect(new optim.SGD(p(), { lr: 0.1 }).paramGroups[0]).toMatchObject({ lr: 0.1, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0, maximize: false });
  });

  it('a group holds its params and every option; groups do not share mutable values', () => {
    const a = tensor([1]).requiresGrad_(), b = tensor([2]).requiresGrad_();
    const opt = new optim.Adam([{ params: [a] }, { params: b, lr: 0.5 }]);
    expect(opt.paramGroups[1].params).toEqual([b]); // a single tensor is a one-element list, as PyTorch
    expect(opt.paramGroups[1].lr).toBe(0.5);
    opt.paramGroups[0].betas[0] = 0.5;
    expect(opt.paramGroups[1].betas[0]).toBe(0.9);
    expect(opt.defaults.betas[0]).toBe(0.9);
  });

  it('new SGD(params, 0.1) takes lr positionally as PyTorch; anything after the options throws', () => {
    const p = tensor([1]).requiresGrad_();
    expect(new optim.SGD([p], 0.1).paramGroups[0].lr).toBe(0.1);
    expect(new optim.Adadelta([p], 0.5).paramGroups[0].lr).toBe(0.5);
    expect(() => new (optim.SGD as any)([p], 0.1, 0.9)).toThrow(/SGD: unexpected argument 0\.9 after the options/);
    expect(() => new (optim.Adam as any)([p], { lr: 0.1 }, { amsgrad: true })).toThrow(/Adam: unexpected argument/);
  });

  it('SGD lr may be given per group only (PyTorch allows it), and is required somewhere', () => {
    const a = tensor([1]).requiresGrad_(), b = tensor([2]).requiresGrad_();
    const opt = new optim.SGD([{ params: [a], lr: 0.1 }, { params: [b], lr: 0.2 }], {} as optim.SGDOptions);
    expect(opt.paramGroups.map((g) => g.lr)).toEqual([0.1, 0.2]);
    expect(() => new optim.SGD([{ params: [a], lr: 0.1 }, { params: [b] }], {} as optim.SGDOptions)).toThrow(/params\[1\]\.lr is required/);
    expect(() => new optim.SGD([a], {} as optim.SGDOptions)).toThrow(/SGD: lr is required/);
  });

  it('Adagrad makes every state at construction (step 0, sum = initialAccumulatorValue), as PyTorch', () => {
    const a = tensor([1, 2]).requiresGrad_(), b = tensor([3]).requiresGrad_();
    const opt = new optim.Adagrad([a], { initialAccumulatorValue: 0.5 });
    expect(opt.state.get(a)!.step).toBe(0);
    expect(Array.from((opt.state.get(a)!.sum as Tensor).data())).toEqual([0.5, 0.5]);
    opt.addParamGroup({ params: [b], initialAccumulatorValue: 2 });
    expect(Array.from((opt.state.get(b)!.sum as Tensor).data())).toEqual([2]);
  });

  it('toString lists each group as PyTorch does', () => {
    const opt = new optim.SGD([tensor([1]).requiresGrad_()], { lr: 0.1, momentum: 0.9 });
    expect(String(opt)).toBe('SGD (\nParameter Group 0\n    dampening: 0\n    lr: 0.1\n    maximize: false\n    momentum: 0.9\n    nesterov: false\n    weightDecay: 0\n)');
  });
});

describe('step(closure), zeroGrad(setToNone)', () => {
  it('step(closure) runs the closure first and returns its loss', () => {
    const p = tensor([3]).requiresGrad_();
    const opt = new optim.SGD([p], { lr: 0.1 });
    const loss = opt.step(() => {
      opt.zeroGrad();
      const l = p.mul(p).sum();
      l.backward();
      return l.item();
    });
    expect(loss).toBe(9);
    expect(p.item()).toBeCloseTo(3 - 0.1 * 6, 6);
    expect(() => (opt.step as any)(42)).toThrow(/SGD\.step: closure must be a function/);
    expect(() => (opt.step as any)(() => 1, 2)).toThrow(/SGD\.step: takes at most one argument/);
  });

  it('zeroGrad() frees gradients; zeroGrad(false) zeroes them in place', () => {
    const a = tensor([1, 2]).requiresGrad_();
    const opt = new optim.Adam([a], { lr: 0.1 });
    a.sum().backward();
    const g = a.grad!;
    opt.zeroGrad(false);
    expect(a.grad).toBe(g);
    expect(Array.from(g.data())).toEqual([0, 0]);
    opt.step(); // a zero gradient still steps (Adam: m = v = 0 → no change) and makes state
    expect(opt.state.has(a)).toBe(true);
    opt.zeroGrad();
    expect(a.grad).toBeNull();
    expect(() => (opt.zeroGrad as any)('yes')).toThrow(/Adam\.zeroGrad: takes one optional boolean/);
  });

  // PyTorch 1.13 (torch.optim with p = [inf, 1], grad [1, 1], one step): [inf, 0.9], [inf, 0.999], [inf, 0.999],
  // [inf, 0.9968377], [inf, 0.8994962], [inf, 0.99]: weight decay 0 adds nothing, so an infinite parameter stays inf
  it('weight decay 0 adds nothing (an infinite parameter stays infinite, not NaN), as PyTorch', () => {
    const cases: [Kind, Record<string, unknown>, number][] = [
      ['SGD', { lr: 0.1, momentum: 0.9 }, 0.9], ['Adam', {}, 0.999], ['AdamW', { weightDecay: 0 }, 0.999],
      ['Adadelta', {}, 0.9968377351760864], ['RMSprop', { momentum: 0.5, centered: true }, 0.8994961977005005], ['Adagrad', {}, 0.99],
    ];
    for (const [kind, opts, second] of cases) {
      const p = tensor([Infinity, 1]).requiresGrad_();
      const opt = make(kind, [p], opts);
      p.grad = tensor([1, 1]);
      opt.step();
      const [a, b] = Array.from(p.data());
      expect(a, kind).toBe(Infinity);
      expect(b, kind).toBeCloseTo(second, 6);
    }
  });

  it('a parameter without a gradient is skipped (no update, no state)', () => {
    const a = tensor([1]).requiresGrad_(), b = tensor([5]).requiresGrad_();
    const opt = new optim.SGD([a, b], { lr: 0.1, momentum: 0.9 });
    a.mul(2).sum().backward();
    opt.step();
    expect(a.item()).toBeCloseTo(0.8, 6);
    expect(b.item()).toBe(5);
    expect(opt.state.has(b)).toBe(false);
  });
});

// ---------------------------------------------------------------------------

const cloneSd = (sd: optim.OptimizerStateDict): optim.OptimizerStateDict => ({
  state: Object.fromEntries(Object.entries(sd.state).map(([k, s]) => [k, Object.fromEntries(Object.entries(s).map(([n, v]) => [n, typeof v === 'number' ? v : v.clone()]))])),
  paramGroups: JSON.parse(JSON.stringify(sd.paramGroups)),
});

describe('stateDict / loadStateDict: a restored optimizer continues identically', () => {
  const TOTAL = PB.steps, CUT = 4;
  for (const name of ['sgd_momentum', 'sgd_maximize_nesterov_wd', 'adam_maximize_amsgrad_wd', 'adamw_amsgrad', 'adadelta_lr_rho_eps', 'rmsprop_all', 'rmsprop_momentum', 'adagrad_all']) {
    const cfg = REF.configs[name];
    it(`${name}`, () => {
      const opts = camel(cfg.options);
      const pa = newParams();
      const oa = make(cfg.optimizer, pa, opts);
      for (let t = 0; t < TOTAL; t++) stepOnce(oa, pa, t);
      const pb = newParams();
      const ob = make(cfg.optimizer, pb, opts);
      for (let t = 0; t < CUT; t++) stepOnce(ob, pb, t);
      const saved = cloneSd(ob.stateDict());
      expect(Object.keys(saved.state)).toEqual(['0', '1']);
      expect(saved.paramGroups[0].params).toEqual([0, 1]);
      // a fresh optimizer with other hyper-parameters: loading restores them
      const pc = pb.map((p) => tensor(Array.from(p.data()), p.shape).requiresGrad_());
      const oc = make(cfg.optimizer, pc, { ...opts, lr: 0.123 });
      oc.loadStateDict(saved);
      expect(oc.paramGroups[0].lr).toBe(opts.lr ?? DEFAULTS[cfg.optimizer].lr);
      // the loaded state is a copy
      for (const s of Object.values(saved.state)) for (const v of Object.values(s)) if (typeof v !== 'number') (v as Tensor).fill_(1234);
      for (let t = CUT; t < TOTAL; t++) stepOnce(oc, pc, t);
      pc.forEach((p, j) => expect(Array.from(p.data())).toEqual(Array.from(pa[j].data())));
    });
  }

  it('a dict without the newer keys (blasnet 0.1: no maximize) takes the defaults', () => {
    const p = tensor([1, 2]).requiresGrad_();
    const opt = new optim.SGD([p], { lr: 0.1, maximize: true });
    opt.loadStateDict({ state: {}, paramGroups: [{ lr: 0.2, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0, params: [0] }] });
    expect(opt.paramGroups[0]).toMatchObject({ lr: 0.2, maximize: true });
  });

  it('state step counts may come as one-element tensors (as PyTorch saves them)', () => {
    const p = tensor([1, 2]).requiresGrad_();
    const opt = new optim.Adam([p]);
    opt.loadStateDict({ state: { 0: { step: tensor(3), exp_avg: zeros([2]), exp_avg_sq: zeros([2]) } }, paramGroups: [{ ...opt.stateDict().paramGroups[0] }] });
    expect(opt.state.get(p)!.step).toBe(3);
  });
});

describe('loadStateDict is all or nothing: a rejected dict leaves the optimizer as it was', () => {
  const setup = () => {
    const ps = newParams();
    const opt = new optim.Adam([{ params: [ps[0]] }, { params: [ps[1]], lr: 0.02 }], { lr: 0.01, amsgrad: true });
    for (let t = 0; t < 3; t++) stepOnce(opt, ps, t);
    return { ps, opt };
  };
  const good = () => cloneSd(setup().opt.stateDict());
  const bad: [string, (sd: any) => unknown, RegExp][] = [
    ['not an object', () => 7, /Adam\.loadStateDict: expected \{ state, paramGroups \}/],
    ['an extra top-level key', (sd) => ({ ...sd, param_groups: [] }), /unknown option 'param_groups' in the state dict \(did you mean 'paramGroups'/],
    ['one group too few', (sd) => ({ ...sd, paramGroups: sd.paramGroups.slice(1) }), /the state dict has 1 parameter groups, the optimizer 2/],
    ['a group with another parameter count', (sd) => { sd.paramGroups[1].params = [1, 2]; return sd; }, /paramGroups\[1\] has 2 parameters, the optimizer's 1/],
    ['a repeated parameter index', (sd) => { sd.paramGroups[1].params = [0]; return sd; }, /parameter index 0 appears twice/],
    ['a bad lr in the last group', (sd) => { sd.paramGroups[1].lr = -1; return sd; }, /Adam\.loadStateDict: paramGroups\[1\]\.lr must be a number >= 0, got -1/],
    ['a snake_case key in a group', (sd) => { sd.paramGroups[0].weight_decay = 0.1; return sd; }, /unknown option 'weight_decay' in paramGroups\[0\] \(did you mean 'weightDecay'/],
    ['betas of length 3', (sd) => { sd.paramGroups[0].betas = [0.9, 0.99, 0.9]; return sd; }, /paramGroups\[0\]\.betas must be \[beta1, beta2\]/],
    ['state of a wrong shape (last entry)', (sd) => { sd.state[1].exp_avg = zeros([3]); return sd; }, /state\[1\]\.exp_avg has shape \[3\] but its parameter has shape \[4\]/],
    ['an unknown state entry', (sd) => { sd.state[1].momentum_buffer = zeros([4]); return sd; }, /unknown option 'momentum_buffer' in state\[1\]/],
    ['a state entry missing', (sd) => { delete sd.state[1].exp_avg_sq; return sd; }, /state\[1\] lacks 'exp_avg_sq'/],
    ['a negative step', (sd) => { sd.state[1].step = -2; return sd; }, /state\[1\]\.step must be a non-negative integer, got -2/],
    ['state for an unknown index', (sd) => { sd.state[5] = sd.state[1]; return sd; }, /state for parameter index 5/],
    ['a disposed state tensor', (sd) => { sd.state[1].exp_avg.dispose(); return sd; }, /Adam\.loadStateDict: the tensor .* was disposed/],
    ['a state tensor that is a number array', (sd) => { sd.state[0].exp_avg = [0, 0, 0, 0, 0, 0]; return sd; }, /state\[0\]\.exp_avg must be a Tensor/],
  ];
  for (const [what, corrupt, msg] of bad)
    it(`${what}`, () => {
      const { ps, opt } = setup();
      const twin = setup();
      const before = opt.stateDict();
      const snapshot = Object.values(before.state).map((s) => Object.fromEntries(Object.entries(s).map(([k, v]) => [k, typeof v === 'number' ? v : Array.from(v.data())])));
      const groupsBefore = JSON.stringify(before.paramGroups);
      expect(() => opt.loadStateDict(corrupt(good()))).toThrow(msg);
      // unchanged: same hyper-parameters, same state values, and it continues exactly like an untouched twin
      expect(JSON.stringify(opt.stateDict().paramGroups)).toBe(groupsBefore);
      const after = Object.values(opt.stateDict().state).map((s) => Object.fromEntries(Object.entries(s).map(([k, v]) => [k, typeof v === 'number' ? v : Array.from(v.data())])));
      expect(after).toEqual(snapshot);
      for (let t = 3; t < 6; t++) {
        stepOnce(opt, ps, t);
        stepOnce(twin.opt, twin.ps, t);
      }
      ps.forEach((p, j) => expect(Array.from(p.data())).toEqual(Array.from(twin.ps[j].data())));
    });
});

// ---------------------------------------------------------------------------

describe('every entry point names the public op and the cause', () => {
  it('an Adam step with a wrong-size gradient names Adam.step, the parameter and both shapes', () => {
    const p = tensor([1, 2, 3, 4], [2, 2]).requiresGrad_();
    const opt = new optim.Adam([p]);
    p.grad = tensor([1, 2, 3]);
    expect(() => opt.step()).toThrow('Adam.step: the gradient of paramGroups[0].params[0] has shape [3] but the parameter has shape [2,2]');
    p.grad = tensor([1, 2, 3, 4]); // same numel, other shape: still refused (PyTorch would broadcast or fail)
    expect(() => opt.step()).toThrow(/has shape \[4\] but the parameter has shape \[2,2\]/);
    expect(opt.state.size).toBe(0); // nothing changed
  });

  it('a bad value assigned to a group throws at the next step, before any parameter changes', () => {
    const a = tensor([1]).requiresGrad_(), b = tensor([2]).requiresGrad_();
    const opt = new optim.SGD([{ params: [a] }, { params: [b] }], { lr: 0.1, momentum: 0.9 });
    a.sum().add(b.sum()).backward();
    (opt.paramGroups[1] as any).lr = '0.01';
    expect(() => opt.step()).toThrow('SGD.step: paramGroups[1].lr must be a number, got "0.01"');
    expect(a.item()).toBe(1);
    opt.paramGroups[1].lr = -0.01;
    expect(() => opt.step()).toThrow(/SGD\.step: paramGroups\[1\]\.lr must be a number >= 0, got -0\.01/);
    opt.paramGroups[1].lr = 0.01;
    opt.paramGroups[1].nesterov = true;
    opt.paramGroups[1].dampening = 0.5;
    expect(() => opt.step()).toThrow(/paramGroups\[1\]\.nesterov needs momentum > 0 and dampening 0/);
    opt.paramGroups[1].dampening = 0;
    (opt.paramGroups[0] as any).weight_decay = 0.1; // PyTorch's spelling would be silently ignored
    expect(() => opt.step()).toThrow(/SGD\.step: unknown option 'weight_decay' in paramGroups\[0\] \(did you mean 'weightDecay'/);
    delete (opt.paramGroups[0] as any).weight_decay;
    (opt.paramGroups[0] as any).maximize = 1;
    expect(() => opt.step()).toThrow(/paramGroups\[0\]\.maximize must be true or false, got 1/);
    opt.paramGroups[0].maximize = false;
    opt.step();
    expect(a.item()).toBeCloseTo(0.9, 6);
  });

  it('disposed parameters, gradients and state, and non-tensors in params', () => {
    const a = tensor([1, 2]).requiresGrad_();
    const opt = new optim.RMSprop([a], { momentum: 0.5 });
    a.sum().backward();
    opt.step();
    (opt.state.get(a)!.momentum_buffer as Tensor).dispose();
    expect(() => opt.step()).toThrow("RMSprop.step: state 'momentum_buffer' of paramGroups[0].params[0] was disposed");
    opt.state.get(a)!.momentum_buffer = 5;
    expect(() => opt.step()).toThrow("RMSprop.step: state 'momentum_buffer' of paramGroups[0].params[0] must be a Tensor, got 5");
    opt.state.get(a)!.momentum_buffer = zeros([2]);
    opt.state.get(a)!.step = -1;
    expect(() => opt.step()).toThrow("RMSprop.step: state 'step' of paramGroups[0].params[0] must be a non-negative integer, got -1");
    opt.state.delete(a);
    a.grad!.dispose();
    expect(() => opt.step()).toThrow(/RMSprop\.step: the gradient of paramGroups\[0\]\.params\[0\] \(shape \[2\]\) was disposed/);
    (opt.paramGroups[0].params as unknown[]).push('w');
    a.grad = null;
    expect(() => opt.step()).toThrow(/RMSprop\.step: paramGroups\[0\]\.params\[1\] is not a Tensor, got "w"/);
    opt.paramGroups[0].params.pop();
    a.dispose();
    expect(() => opt.step()).toThrow(/RMSprop\.step: paramGroups\[0\]\.params\[0\] \(shape \[2\]\) was disposed/);
  });

  it('constructor arguments: a Module, a lone tensor, a Set of tensors, non-leaves, duplicates', () => {
    const model = new nn.Linear(2, 1);
    expect(() => new optim.SGD(model as any, { lr: 0.1 })).toThrow(/SGD: params must be an iterable .* \(did you mean model\.parameters\(\)\?\)/);
    const w = tensor([1]).requiresGrad_();
    expect(() => new optim.Adam(w as any)).toThrow(/Adam: params must be an iterable .* \(wrap a single tensor in an array: \[p\]\)/);
    expect(new optim.Adam(new Set([w])).paramGroups[0].params).toEqual([w]);
    expect(() => new optim.SGD([], { lr: 0.1 })).toThrow('SGD: got an empty parameter list');
    expect(() => new optim.SGD([w, w], { lr: 0.1 })).toThrow('SGD: params[1] appears twice in the same group');
    expect(() => new optim.SGD([{ params: [w] }, { params: [w] }], { lr: 0.1 })).toThrow('SGD: params[1].params[0] appears in more than one parameter group');
    expect(() => new optim.SGD([w.mul(2)], { lr: 0.1 })).toThrow(/SGD: can't optimize a non-leaf tensor \(params\[0\], made by MulBackward\)/);
    expect(() => new optim.SGD([w, 3] as any, { lr: 0.1 })).toThrow('SGD: params[1] is not a Tensor, got 3');
    expect(() => new optim.SGD([{ lr: 0.1 }] as any, { lr: 0.1 })).toThrow(/SGD: params\[0\] has no 'params'/);
    expect(() => new optim.SGD([{ params: 5 }] as any, { lr: 0.1 })).toThrow(/SGD: params\[0\]\.params must be a Tensor or an iterable of Tensors, got 5/);
  });

  it('addParamGroup: names the op; a parameter already optimized, unknown keys, bad values', () => {
    const a = tensor([1]).requiresGrad_(), b = tensor([2]).requiresGrad_();
    const opt = new optim.Adam([a]);
    expect(() => opt.addParamGroup({ params: [a] })).toThrow('Adam.addParamGroup: the group.params[0] appears in more than one parameter group');
    expect(() => opt.addParamGroup({ params: [b], weight_decay: 0.1 })).toThrow(/Adam\.addParamGroup: unknown option 'weight_decay' in the group \(did you mean 'weightDecay'/);
    expect(() => opt.addParamGroup({ params: [b], lr: -1 })).toThrow(/Adam\.addParamGroup: the group\.lr must be a number >= 0/);
    expect(() => opt.addParamGroup([b] as any)).toThrow(/Adam\.addParamGroup: the group must be a group \{ params, … \}/);
    expect(opt.paramGroups).toHaveLength(1);
    opt.addParamGroup({ params: [b], lr: 0.5 });
    expect(opt.paramGroups[1]).toMatchObject({ lr: 0.5, betas: [0.9, 0.999], amsgrad: false });
  });
});

describe('hyper-parameter validation (PyTorch 1.13 ranges)', () => {
  const p = () => [tensor([1, 2]).requiresGrad_()];
  const range: [string, () => unknown, RegExp][] = [
    ['SGD lr < 0', () => new optim.SGD(p(), { lr: -0.1 }), /SGD: lr must be a number >= 0, got -0\.1/],
    ['SGD lr NaN', () => new optim.SGD(p(), { lr: NaN }), /lr must be a number >= 0, got NaN/],
    ['SGD momentum < 0', () => new optim.SGD(p(), { lr: 0.1, momentum: -0.5 }), /momentum must be a number >= 0/],
    ['SGD dampening > 1', () => new optim.SGD(p(), { lr: 0.1, momentum: 0.9, dampening: 1.5 }), /dampening must be a number >= 0 and <= 1/],
    ['SGD weightDecay < 0', () => new optim.SGD(p(), { lr: 0.1, weightDecay: -1e-4 }), /weightDecay must be a number >= 0/],
    ['SGD nesterov without momentum', () => new optim.SGD(p(), { lr: 0.1, nesterov: true }), /nesterov needs momentum > 0/],
    ['SGD nesterov with dampening', () => new optim.SGD(p(), { lr: 0.1, momentum: 0.9, dampening: 0.1, nesterov: true }), /nesterov needs/],
    ['SGD group override lr < 0', () => new optim.SGD([{ params: p(), lr: -1 }], { lr: 0.1 }), /SGD: params\[0\]\.lr must be a number >= 0/],
    ['Adam eps < 0', () => new optim.Adam(p(), { eps: -1e-8 }), /eps must be/],
    ['Adam beta1 = 1', () => new optim.Adam(p(), { betas: [1, 0.999] }), /Adam: betas\[0\] must be a number >= 0 and < 1, got 1/],
    ['Adam beta2 = 1', () => new optim.Adam(p(), { betas: [0.9, 1] }), /betas\[1\] must be a number >= 0 and < 1/],
    ['Adam beta1 < 0', () => new optim.Adam(p(), { betas: [-0.1, 0.999] }), /betas\[0\]/],
    ['AdamW weightDecay < 0', () => new optim.AdamW(p(), { weightDecay: -0.01 }), /AdamW: weightDecay/],
    ['Adadelta rho > 1', () => new optim.Adadelta(p(), { rho: 1.1 }), /Adadelta: rho must be a number >= 0 and <= 1, got 1\.1/],
    ['Adadelta eps < 0', () => new optim.Adadelta(p(), { eps: -1 }), /Adadelta: eps/],
    ['Adadelta lr < 0', () => new optim.Adadelta(p(), { lr: -1 }), /Adadelta: lr/],
    ['RMSprop alpha < 0', () => new optim.RMSprop(p(), { alpha: -0.1 }), /RMSprop: alpha must be a number >= 0/],
    ['RMSprop momentum < 0', () => new optim.RMSprop(p(), { momentum: -0.1 }), /RMSprop: momentum/],
    ['RMSprop eps NaN', () => new optim.RMSprop(p(), { eps: NaN }), /RMSprop: eps/],
    ['Adagrad lrDecay < 0', () => new optim.Adagrad(p(), { lrDecay: -0.1 }), /Adagrad: lrDecay must be a number >= 0/],
    ['Adagrad initialAccumulatorValue < 0', () => new optim.Adagrad(p(), { initialAccumulatorValue: -1 }), /Adagrad: initialAccumulatorValue/],
    ['Adagrad weightDecay < 0', () => new optim.Adagrad(p(), { weightDecay: -1 }), /Adagrad: weightDecay/],
  ];
  for (const [what, fn, msg] of range)
    it(`${what} throws a RangeError naming it`, () => {
      expect(fn).toThrow(RangeError);
      expect(fn).toThrow(msg);
    });

  const types: [string, () => unknown, RegExp][] = [
    ['SGD lr a string', () => new optim.SGD(p(), { lr: '0.1' as unknown as number }), /SGD: lr must be a number, got "0\.1"/],
    ['SGD nesterov a number', () => new optim.SGD(p(), { lr: 0.1, momentum: 0.9, nesterov: 1 as unknown as boolean }), /SGD: nesterov must be true or false, got 1/],
    ['Adam betas of length 1', () => new optim.Adam(p(), { betas: [0.9] as unknown as [number, number] }), /Adam: betas must be \[beta1, beta2\]/],
    ['Adam amsgrad a string', () => new optim.Adam(p(), { amsgrad: 'no' as unknown as boolean }), /Adam: amsgrad must be true or false/],
    ['RMSprop centered null', () => new optim.RMSprop(p(), { centered: null as unknown as boolean }), /RMSprop: centered must be true or false, got null/],
    ['Adagrad maximize a string', () => new optim.Adagrad(p(), { maximize: 'true' as unknown as boolean }), /Adagrad: maximize must be true or false/],
    ['options an array', () => new optim.Adam(p(), [0.1] as any), /Adam: options must be an object/],
  ];
  for (const [what, fn, msg] of types)
    it(`${what} throws a TypeError naming it`, () => {
      expect(fn).toThrow(TypeError);
      expect(fn).toThrow(msg);
    });

  it('valid edge values are accepted (lr 0, betas 0, dampening 1, rho 0 and 1, alpha 0)', () => {
    expect(() => new optim.SGD(p(), { lr: 0, momentum: 0.9, dampening: 1 })).not.toThrow();
    expect(() => new optim.Adam(p(), { lr: 0, betas: [0, 0] })).not.toThrow();
    expect(() => new optim.Adadelta(p(), { rho: 0 })).not.toThrow();
    expect(() => new optim.Adadelta(p(), { rho: 1 })).not.toThrow();
    expect(() => new optim.RMSprop(p(), { alpha: 0 })).not.toThrow();
  });

  it("PyTorch's implementation switches (foreach, capturable, differentiable, fused) are refused with the reason", () => {
    for (const k of ['foreach', 'capturable', 'differentiable', 'fused'])
      expect(() => new optim.Adam(p(), { [k]: false } as any)).toThrow(new RegExp(`Adam: option '${k}' is not supported: it picks one of PyTorch's implementations`));
  });
});

describe('a seeded sweep of odd hyper-parameters: every optimizer constructs, or throws naming itself; a constructed one steps', () => {
  it('1200 constructions and steps', () => {
    const r = makeRng(11);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
    const values = [0, 1, 0.5, -1, 2, 1e-8, NaN, Infinity, -0, '0.1', null, undefined, true, false, [0.9, 0.99], [1, 0], [0.5], {}, 1e30];
    let built = 0;
    for (let i = 0; i < 1200; i++) {
      const kind = pick(Object.keys(CTOR) as Kind[]);
      const keys = Object.keys(DEFAULTS[kind]).concat(['lr']);
      const opts: Record<string, unknown> = kind === 'SGD' ? { lr: 0.1 } : {};
      for (let k = 0; k < 1 + Math.floor(r() * 3); k++) opts[pick(keys)] = pick(values);
      for (const [k, v] of Object.entries(opts)) if (v === undefined) delete opts[k];
      const p = tensor([1, -2]).requiresGrad_();
      let opt: optim.Optimizer;
      try {
        opt = make(kind, [p], opts);
      } catch (e) {
        expect(e).toBeInstanceOf(Error);
        expect((e as Error).message.startsWith(`${kind}: `), (e as Error).message).toBe(true);
        continue;
      }
      built++;
      p.mul(p).sum().backward();
      opt.step(); // validated options never reach native code with something it cannot take
      expect(p.data().length).toBe(2);
    }
    expect(built).toBeGreaterThan(200);
  });
});
