// Learning-rate schedulers vs PyTorch 1.13 (test/fixtures/optim_ref.json,
// written by test/fixtures/gen_optim.py), 30+ steps each: StepLR, MultiStepLR,
// ExponentialLR, LinearLR, ConstantLR, PolynomialLR, LambdaLR, MultiplicativeLR,
// CosineAnnealingLR (past tMax), OneCycleLR (two and three phases, cos and
// linear, per-group values; lr and momentum / beta1), ChainedScheduler,
// ReduceLROnPlateau on committed metric sequences, SequentialLR, and chains of
// schedulers on one optimizer (they compose, as PyTorch's chainable form), with
// hand-set lrs carried on. State-dict round trips of each (through JSON);
// validation and error messages.
import { describe, it, expect } from 'vitest';
import { optim, tensor } from '../../src';
import { expectAllClose, fixture } from '../helpers';

type Spec = [string, Record<string, unknown>];
interface Case {
  optimizer: [string, Record<string, unknown>];
  groups: Record<string, unknown>[];
  schedulers: Spec[];
  steps: number;
  lr: number[][];
  sets?: { at: number; group: number; lr: number }[];
  metrics?: number[];
  tracked?: number[][];
  raises_at?: number;
}
const S = fixture('optim_ref.json').schedulers as Record<string, Case> & { onecycle_adadelta_raises: boolean };
const RTOL = 1e-9;

const NAMES: Record<string, string> = {
  step_size: 'stepSize', T_max: 'tMax', eta_min: 'etaMin', start_factor: 'startFactor', end_factor: 'endFactor', total_iters: 'totalIters',
  threshold_mode: 'thresholdMode', min_lr: 'minLr', max_lr: 'maxLr', total_steps: 'totalSteps', steps_per_epoch: 'stepsPerEpoch', pct_start: 'pctStart',
  anneal_strategy: 'annealStrategy', base_momentum: 'baseMomentum', max_momentum: 'maxMomentum', div_factor: 'divFactor',
  final_div_factor: 'finalDivFactor', three_phase: 'threePhase', cycle_momentum: 'cycleMomentum', weight_decay: 'weightDecay',
  lr_lambda: 'lrLambda',
};
/** The functions gen_optim.py's LAMBDAS holds under the same names. */
const LAMBDAS: Record<string, (e: number) => number> = {
  warmup: (e) => Math.min(1.0, (e + 1) / 5),
  decay: (e) => 0.95 ** e,
  halve_odd: (e) => (e % 2 ? 0.5 : 1.0),
  inverse_sqrt: (e) => 1.0 / Math.sqrt(e + 1),
};
const camel = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).map(([k, v]) => [NAMES[k] ?? k, v]));

type Sched = optim.LRScheduler | optim.ReduceLROnPlateau | optim.ChainedScheduler;
function makeSched(opt: optim.Optimizer, [kind, kw]: Spec): Sched {
  const o = camel(kw);
  if (kind === 'SequentialLR')
    return new optim.SequentialLR(opt, { schedulers: (o.schedulers as Spec[]).map((s) => makeSched(opt, s) as optim.LRScheduler), milestones: o.milestones as number[] });
  if (kind === 'ChainedScheduler') return new optim.ChainedScheduler((o.schedulers as Spec[]).map((s) => makeSched(opt, s) as optim.LRScheduler));
  if (o.lrLambda !== undefined) o.lrLambda = Array.isArray(o.lrLambda) ? o.lrLambda.map((n) => LAMBDAS[n as string]) : LAMBDAS[o.lrLambda as string];
  const C = (optim as unknown as Record<string, new (o: optim.Optimizer, x: unknown) => Sched>)[kind];
  return new C(opt, o);
}
function makeOpt(c: Case): optim.Optimizer {
  const [kind, kw] = c.optimizer;
  const groups = c.groups.map((g) => ({ params: [tensor([0, 0, 0]).requiresGrad_()], ...camel(g) }));
  return new (optim as unknown as Record<string, new (p: unknown, o: unknown) => optim.Optimizer>)[kind](groups, camel(kw));
}
const track = (c: Case, g: optim.ParamGroup) => (c.optimizer[0] === 'Adam' ? (g.betas as number[])[0] : (g.momentum as number));

/** Replays a fixture case from step `from` (after construction when 0), returning lrs (and tracked values) per step. */
function replay(c: Case, opt: optim.Optimizer, scheds: Sched[], from: number, to: number): { lr: number[][]; tracked: number[][] } {
  const lr: number[][] = [], tracked: number[][] = [];
  for (let k = from; k < to; k++) {
    for (const ev of c.sets ?? []) if (ev.at === k + 1) opt.paramGroups[ev.group].lr = ev.lr;
    opt.step();
    stepAll(c, scheds, k);
    lr.push(opt.paramGroups.map((g) => g.lr));
    tracked.push(opt.paramGroups.map((g) => track(c, g)));
  }
  return { lr, tracked };
}
function stepAll(c: Case, scheds: Sched[], k: number): void {
  for (const s of scheds) {
    if (s instanceof optim.ReduceLROnPlateau) s.step(c.metrics![k]);
    else s.step();
  }
}

const cases = Object.entries(S).filter(([, c]) => typeof c === 'object') as [string, Case][];

describe('lr sequences match PyTorch 1.13 (optimizer.step() before every scheduler.step())', () => {
  for (const [name, c] of cases)
    it(`${name}: ${c.schedulers.map(([k, o]) => `${k}(${JSON.stringify(o)})`).join(' + ')}, ${c.steps} steps`, () => {
      const opt = makeOpt(c);
      const scheds = c.schedulers.map((s) => makeSched(opt, s));
      const n = c.raises_at ? c.raises_at - 1 : c.steps;
      expect(c.lr).toHaveLength(n + 1);
      expectAllClose(opt.paramGroups.map((g) => g.lr), c.lr[0], RTOL, 0, `${name} after construction`);
      if (c.tracked) expectAllClose(opt.paramGroups.map((g) => track(c, g)), c.tracked[0], RTOL, 0, `${name} momentum after construction`);
      const { lr, tracked } = replay(c, opt, scheds, 0, n);
      lr.forEach((row, k) => expectAllClose(row, c.lr[k + 1], RTOL, 1e-15, `${name} lr after step ${k + 1}`));
      if (c.tracked) tracked.forEach((row, k) => expectAllClose(row, c.tracked![k + 1], RTOL, 0, `${name} momentum after step ${k + 1}`));
      const last = scheds[scheds.length - 1];
      expect(last.getLastLr()).toEqual(opt.paramGroups.map((g) => g.lr));
      if (c.raises_at) expect(() => stepAll(c, scheds, n)).toThrow(/OneCycleLR\.step: tried to step \d+ times, more than totalSteps/);
    });

  it('PyTorch refuses cycleMomentum on an optimizer without momentum or betas, and so does blasnet', () => {
    expect(S.onecycle_adadelta_raises).toBe(true);
    const opt = new optim.Adadelta([tensor([1]).requiresGrad_()]);
    expect(() => new optim.OneCycleLR(opt, { maxLr: 0.1, totalSteps: 10 })).toThrow(/OneCycleLR: cycleMomentum needs an optimizer with momentum or betas/);
    expect(() => new optim.OneCycleLR(opt, { maxLr: 0.1, totalSteps: 10, cycleMomentum: false })).not.toThrow();
  });
});

describe('state dicts: an interrupted run restored from JSON continues exactly', () => {
  const CUT = 13;
  for (const [name, c] of cases) {
    const n = c.raises_at ? c.raises_at - 1 : c.steps;
    it(`${name}`, () => {
      const opt = makeOpt(c);
      const scheds = c.schedulers.map((s) => makeSched(opt, s));
      replay(c, opt, scheds, 0, CUT);
      // what a training script writes: both state dicts, through JSON (Infinity becomes null)
      const osd = opt.stateDict();
      const saved = JSON.parse(JSON.stringify({ paramGroups: osd.paramGroups, scheds: scheds.map((s) => s.stateDict()) }));
      const opt2 = makeOpt(c);
      const scheds2 = c.schedulers.map((s) => makeSched(opt2, s));
      opt2.loadStateDict({ state: osd.state, paramGroups: saved.paramGroups });
      scheds2.forEach((s, i) => (s as optim.LRScheduler).loadStateDict(saved.scheds[i]));
      expect(scheds2.map((s) => s.getLastLr())).toEqual(scheds.map((s) => s.getLastLr()));
      const a = replay(c, opt, scheds, CUT, n), b = replay(c, opt2, scheds2, CUT, n);
      expect(b.lr).toEqual(a.lr);
      expect(b.tracked).toEqual(a.tracked);
    });
  }

  it('a blasnet 0.1 scheduler state ({ lastEpoch } only) still loads', () => {
    const opt = new optim.SGD([tensor([0]).requiresGrad_()], { lr: 0.1 });
    const s = new optim.StepLR(opt, { stepSize: 3, gamma: 0.5 });
    s.loadStateDict({ lastEpoch: 7 } as optim.LRSchedulerStateDict);
    expect(s.lastEpoch).toBe(7);
    opt.paramGroups[0].lr = 0.025; // restored from the optimizer's own dict
    s.step();
    expect(opt.lr).toBe(0.025);
    s.step();
    expect(opt.lr).toBe(0.0125);
  });

  it('loading a scheduler leaves the optimizer lr alone (restore the optimizer too), as PyTorch', () => {
    const o1 = new optim.SGD([tensor([0]).requiresGrad_()], { lr: 0.1 });
    const s1 = new optim.ExponentialLR(o1, { gamma: 0.5 });
    s1.step();
    s1.step();
    const o2 = new optim.SGD([tensor([0]).requiresGrad_()], { lr: 0.1 });
    const s2 = new optim.ExponentialLR(o2, { gamma: 0.5 });
    s2.loadStateDict(s1.stateDict());
    expect(o2.lr).toBe(0.1);
    expect(s2.lastEpoch).toBe(2);
  });

  const bad: [string, () => Sched, unknown, RegExp][] = [
    ['StepLR: not an object', () => stepLR(), 5, /StepLR\.loadStateDict: expected \{ lastEpoch, baseLrs, lastLr \}/],
    ['StepLR: snake_case key', () => stepLR(), { last_epoch: 3 }, /unknown option 'last_epoch' in the state dict \(did you mean 'lastEpoch'/],
    ['StepLR: negative lastEpoch', () => stepLR(), { lastEpoch: -2 }, /lastEpoch must be an integer >= -1, got -2/],
    ['StepLR: baseLrs of the wrong length', () => stepLR(), { lastEpoch: 3, baseLrs: [0.1, 0.2] }, /baseLrs must be 1 non-negative numbers/],
    ['ReduceLROnPlateau: a string best', () => plateau(), { lastEpoch: 1, best: 'x', numBadEpochs: 0, cooldownCounter: 0 }, /best must be a number/],
    ['ReduceLROnPlateau: fractional counter', () => plateau(), { lastEpoch: 1, best: 1, numBadEpochs: 0.5, cooldownCounter: 0 }, /numBadEpochs must be an integer >= 0/],
    ['SequentialLR: a bad child (the last)', () => sequential(), null, /SequentialLR\.loadStateDict/],
  ];
  function stepLR(): Sched {
    return new optim.StepLR(new optim.SGD([tensor([0]).requiresGrad_()], { lr: 0.1 }), { stepSize: 2 });
  }
  function plateau(): Sched {
    return new optim.ReduceLROnPlateau(new optim.SGD([tensor([0]).requiresGrad_()], { lr: 0.1 }));
  }
  function sequential(): optim.SequentialLR {
    const opt = new optim.SGD([tensor([0]).requiresGrad_()], { lr: 0.1 });
    return new optim.SequentialLR(opt, { schedulers: [new optim.LinearLR(opt), new optim.ExponentialLR(opt, { gamma: 0.5 })], milestones: [3] });
  }
  for (const [what, mk, sd, msg] of bad)
    it(`rejects ${what}, changing nothing`, () => {
      const s = mk();
      for (let i = 0; i < 4; i++) {
        if (s instanceof optim.ReduceLROnPlateau) s.step(1);
        else s.step();
      }
      const before = JSON.stringify(s.stateDict());
      let dict = sd;
      if (dict === null) {
        const good = JSON.parse(before);
        good.schedulers[1].lastEpoch = -3;
        good.lastEpoch = 0;
        dict = good;
      }
      expect(() => (s as optim.LRScheduler).loadStateDict(dict as optim.LRSchedulerStateDict)).toThrow(msg);
      expect(JSON.stringify(s.stateDict())).toBe(before);
    });
});

describe('chaining and groups', () => {
  it('two StepLRs on one optimizer compose (both decays apply), as PyTorch', () => {
    const opt = new optim.SGD([tensor([0]).requiresGrad_()], { lr: 1 });
    const a = new optim.StepLR(opt, { stepSize: 2, gamma: 0.5 }), b = new optim.StepLR(opt, { stepSize: 3, gamma: 0.1 });
    const got: number[] = [];
    for (let e = 1; e <= 12; e++) {
      a.step();
      b.step();
      got.push(opt.lr);
    }
    expectAllClose(got, Array.from({ length: 12 }, (_, i) => 0.5 ** Math.floor((i + 1) / 2) * 0.1 ** Math.floor((i + 1) / 3)), 1e-12, 0, 'composed');
  });

  it('a group added after the scheduler is scheduled from its own lr', () => {
    const opt = new optim.SGD([tensor([0]).requiresGrad_()], { lr: 0.1 });
    const s = new optim.ExponentialLR(opt, { gamma: 0.5 });
    s.step();
    opt.addParamGroup({ params: [tensor([1]).requiresGrad_()], lr: 1 });
    s.step();
    expect(opt.paramGroups.map((g) => g.lr)).toEqual([0.025, 0.5]);
    expect(s.baseLrs).toEqual([0.1, 1]);
    expect(opt.paramGroups[1].initialLr).toBe(1);
  });

  it('the first scheduler records initialLr in each group; later ones reuse it (PyTorch setdefault)', () => {
    const opt = new optim.SGD([tensor([0]).requiresGrad_()], { lr: 0.2 });
    new optim.LinearLR(opt, { startFactor: 0.5 });
    expect(opt.lr).toBe(0.1);
    const s2 = new optim.StepLR(opt, { stepSize: 5 });
    expect(opt.paramGroups[0].initialLr).toBe(0.2);
    expect(s2.baseLrs).toEqual([0.2]);
  });
});

describe('ReduceLROnPlateau metrics', () => {
  const mk = (o: optim.ReduceLROnPlateauOptions = {}) => {
    const opt = new optim.SGD([tensor([0]).requiresGrad_()], { lr: 1 });
    return { opt, s: new optim.ReduceLROnPlateau(opt, o) };
  };
  it('a NaN metric is never an improvement (counts as a bad epoch), as float comparison in PyTorch', () => {
    const { opt, s } = mk({ patience: 1 });
    s.step(1);
    s.step(NaN);
    expect(s.numBadEpochs).toBe(1);
    s.step(NaN);
    expect(opt.lr).toBeCloseTo(0.1, 12);
  });
  it('takes a one-element tensor; refuses anything else, naming the op', () => {
    const { s } = mk();
    s.step(tensor([0.5]));
    expect(s.best).toBe(0.5);
    expect(() => s.step(tensor([1, 2]))).toThrow(/ReduceLROnPlateau\.step: the metric must be a number or a one-element tensor, got a tensor of shape \[2\]/);
    expect(() => (s.step as any)()).toThrow(/ReduceLROnPlateau\.step: the metric must be a number/);
    expect(() => (s.step as any)('0.5')).toThrow(/the metric must be a number/);
    expect(() => (s.step as any)(0.5, 3)).toThrow(/takes one metric, got 2 arguments/);
    const t = tensor([1]);
    t.dispose();
    expect(() => s.step(t)).toThrow(/ReduceLROnPlateau\.step: the tensor .* was disposed/);
  });
});

describe('validation: every scheduler names itself, the option and the cause', () => {
  const opt = () => new optim.SGD([tensor([0]).requiresGrad_()], { lr: 0.1, momentum: 0.9 });
  const errs: [string, () => unknown, RegExp][] = [
    ['StepLR without options', () => new (optim.StepLR as any)(opt()), /StepLR: options are required, e\.g\. \{ stepSize: 30, gamma: 0\.1 \}/],
    ['StepLR positional stepSize', () => new (optim.StepLR as any)(opt(), 30), /StepLR: options must be an object, e\.g\. \{ stepSize: 30, gamma: 0\.1 \}, got 30/],
    ['StepLR stepSize 0', () => new optim.StepLR(opt(), { stepSize: 0 }), /StepLR: stepSize must be an integer >= 1, got 0/],
    ['StepLR stepSize 1.5', () => new optim.StepLR(opt(), { stepSize: 1.5 }), /stepSize must be an integer/],
    ['StepLR gamma < 0', () => new optim.StepLR(opt(), { stepSize: 2, gamma: -1 }), /StepLR: gamma must be a number >= 0/],
    ['StepLR step_size', () => new optim.StepLR(opt(), { step_size: 3 } as any), /StepLR: unknown option 'step_size' \(did you mean 'stepSize'/],
    ['StepLR not an optimizer', () => new optim.StepLR({} as any, { stepSize: 3 }), /StepLR: expected an optimizer/],
    ['MultiStepLR milestones not an array', () => new optim.MultiStepLR(opt(), { milestones: 5 as any }), /MultiStepLR: milestones must be an array/],
    ['MultiStepLR negative milestone', () => new optim.MultiStepLR(opt(), { milestones: [3, -1] }), /MultiStepLR: milestones\[1\] must be an integer >= 0/],
    ['ExponentialLR without gamma', () => new optim.ExponentialLR(opt(), {} as any), /ExponentialLR: gamma is required/],
    ['LinearLR startFactor 0', () => new optim.LinearLR(opt(), { startFactor: 0 }), /LinearLR: startFactor must be a number > 0 and <= 1, got 0/],
    ['LinearLR endFactor 2', () => new optim.LinearLR(opt(), { endFactor: 2 }), /LinearLR: endFactor must be a number >= 0 and <= 1/],
    ['LinearLR total_iters', () => new optim.LinearLR(opt(), { total_iters: 4 } as any), /did you mean 'totalIters'/],
    ['CosineAnnealingLR T_max', () => new optim.CosineAnnealingLR(opt(), { T_max: 10 } as any), /CosineAnnealingLR: unknown option 'T_max' \(did you mean 'tMax'/],
    ['CosineAnnealingLR etaMin < 0', () => new optim.CosineAnnealingLR(opt(), { tMax: 10, etaMin: -1 }), /etaMin must be a number >= 0/],
    ['OneCycleLR three_phase', () => new optim.OneCycleLR(opt(), { maxLr: 0.1, totalSteps: 10, three_phase: true } as any), /OneCycleLR: unknown option 'three_phase' \(did you mean 'threePhase'/],
    ['OneCycleLR no total', () => new optim.OneCycleLR(opt(), { maxLr: 0.1 }), /OneCycleLR: give totalSteps, or epochs and stepsPerEpoch/],
    ['OneCycleLR epochs only', () => new optim.OneCycleLR(opt(), { maxLr: 0.1, epochs: 3 }), /OneCycleLR: give totalSteps, or both epochs and stepsPerEpoch/],
    ['OneCycleLR totalSteps 0', () => new optim.OneCycleLR(opt(), { maxLr: 0.1, totalSteps: 0 }), /totalSteps must be an integer >= 1/],
    ['OneCycleLR pctStart 2', () => new optim.OneCycleLR(opt(), { maxLr: 0.1, totalSteps: 10, pctStart: 2 }), /pctStart must be a number >= 0 and <= 1/],
    ['OneCycleLR annealStrategy', () => new optim.OneCycleLR(opt(), { maxLr: 0.1, totalSteps: 10, annealStrategy: 'exp' as any }), /annealStrategy must be 'cos' or 'linear', got "exp"/],
    ['OneCycleLR maxLr per group', () => new optim.OneCycleLR(opt(), { maxLr: [0.1, 0.2], totalSteps: 10 }), /OneCycleLR: expected 1 values for maxLr/],
    ['OneCycleLR threePhase a string', () => new optim.OneCycleLR(opt(), { maxLr: 0.1, totalSteps: 10, threePhase: 'yes' as any }), /threePhase must be true or false/],
    ['ReduceLROnPlateau factor 1', () => new optim.ReduceLROnPlateau(opt(), { factor: 1 }), /ReduceLROnPlateau: factor must be a number >= 0 and < 1, got 1/],
    ['ReduceLROnPlateau mode', () => new optim.ReduceLROnPlateau(opt(), { mode: 'minimum' as any }), /mode must be 'min' or 'max'/],
    ['ReduceLROnPlateau threshold_mode', () => new optim.ReduceLROnPlateau(opt(), { threshold_mode: 'abs' } as any), /did you mean 'thresholdMode'/],
    ['ReduceLROnPlateau patience 1.5', () => new optim.ReduceLROnPlateau(opt(), { patience: 1.5 }), /patience must be an integer >= 0/],
    ['ReduceLROnPlateau minLr per group', () => new optim.ReduceLROnPlateau(opt(), { minLr: [0, 0] }), /expected 1 minLr values/],
    ['ReduceLROnPlateau verbose', () => new optim.ReduceLROnPlateau(opt(), { verbose: true } as any), /option 'verbose' is not supported/],
    ['SequentialLR milestones count', () => { const o = opt(); return new optim.SequentialLR(o, { schedulers: [new optim.LinearLR(o), new optim.StepLR(o, { stepSize: 2 })], milestones: [] }); }, /SequentialLR: expected 1 milestones/],
    ['SequentialLR another optimizer', () => { const o = opt(); return new optim.SequentialLR(o, { schedulers: [new optim.LinearLR(opt())], milestones: [] }); }, /SequentialLR: schedulers\[0\] belongs to another optimizer/],
    ['SequentialLR decreasing milestones', () => { const o = opt(); return new optim.SequentialLR(o, { schedulers: [new optim.LinearLR(o), new optim.LinearLR(o), new optim.LinearLR(o)], milestones: [5, 3] }); }, /milestones must increase/],
    ['LambdaLR lrLambda not a function', () => new optim.LambdaLR(opt(), { lrLambda: 0.5 as any }), /LambdaLR: lrLambda must be a function \(epoch\) => factor, got 0\.5/],
    ['LambdaLR one function per group', () => new optim.LambdaLR(opt(), { lrLambda: [() => 1, () => 1] }), /LambdaLR: expected 1 lrLambda functions/],
    ['LambdaLR a function returning NaN', () => new optim.LambdaLR(opt(), { lrLambda: () => NaN }), /LambdaLR\.step: lrLambda of group 0 returned NaN at epoch 0/],
    ['MultiplicativeLR a negative factor', () => new optim.MultiplicativeLR(opt(), { lrLambda: () => -1 }).step(), /MultiplicativeLR\.step: lrLambda of group 0 returned -1 at epoch 1/],
    ['ConstantLR factor > 1', () => new optim.ConstantLR(opt(), { factor: 2 }), /ConstantLR: factor must be a number >= 0 and <= 1, got 2/],
    ['PolynomialLR totalIters 0', () => new optim.PolynomialLR(opt(), { totalIters: 0 }), /PolynomialLR: totalIters must be an integer >= 1/],
    ['ChainedScheduler not an array', () => new optim.ChainedScheduler(new optim.LinearLR(opt()) as any), /ChainedScheduler: expected a non-empty array of schedulers/],
    ['ChainedScheduler two optimizers', () => new optim.ChainedScheduler([new optim.LinearLR(opt()), new optim.LinearLR(opt())]), /ChainedScheduler: schedulers\[1\] belongs to another optimizer/],
    ['ChainedScheduler a plateau', () => { const o = opt(); return new optim.ChainedScheduler([new optim.ReduceLROnPlateau(o) as any]); }, /ChainedScheduler: schedulers\[0\] is not a chainable scheduler, got ReduceLROnPlateau/],
    ['SequentialLR plateau', () => { const o = opt(); return new optim.SequentialLR(o, { schedulers: [new optim.ReduceLROnPlateau(o) as any], milestones: [] }); }, /ReduceLROnPlateau, which steps on a metric/],
  ];
  for (const [what, fn, msg] of errs) it(what, () => expect(fn).toThrow(msg));

  it("step(epoch) is refused (PyTorch's deprecated form)", () => {
    const s = new optim.StepLR(opt(), { stepSize: 2 });
    expect(() => (s.step as any)(5)).toThrow(/StepLR\.step: takes no arguments, got 5 \(PyTorch's step\(epoch\) is deprecated/);
  });

  it('a scheduler step names itself when a group lr is not a number', () => {
    const o = opt();
    const s = new optim.CosineAnnealingLR(o, { tMax: 5 });
    (o.paramGroups[0] as any).lr = 'fast';
    expect(() => s.step()).toThrow('CosineAnnealingLR.step: paramGroups[0].lr must be a number, got "fast"');
    expect(s.lastEpoch).toBe(0);
  });
});
