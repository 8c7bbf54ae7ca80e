// Learning-rate schedulers vs PyTorch 1.13 (test/fixtures/nn_ref.json, written
// by test/fixtures/gen_nn.py): StepLR, CosineAnnealingLR and OneCycleLR (lr and
// momentum for SGD, lr and beta1 for Adam), within 1e-6 relative.
import { describe, it, expect } from 'vitest';
import { optim, tensor } from '../../src';
import { expectAllClose, fixture } from '../helpers';

const S = fixture('nn_ref.json').schedulers as {
  step_lr: number[];
  cosine: number[];
  onecycle_sgd: { lr: number[]; momentum: number[]; raises_at: number };
  onecycle_adam: { lr: number[]; beta1: number[]; raises_at: number };
};
const RTOL = 1e-6;
const param = () => tensor([0, 0, 0]).requiresGrad_();

/** lr after construction, then after each of `steps` scheduler steps. */
function lrs(opt: optim.Optimizer, sched: optim.LRScheduler, steps: number): number[] {
  const out = [opt.lr];
  for (let i = 0; i < steps; i++) {
    opt.step();
    sched.step();
    out.push(opt.lr);
  }
  return out;
}

describe('StepLR(stepSize 3, gamma 0.5) from lr 0.1, 15 epochs', () => {
  it('matches PyTorch', () => {
    const opt = new optim.SGD([param()], { lr: 0.1 });
    const got = lrs(opt, new optim.StepLR(opt, { stepSize: 3, gamma: 0.5 }), 15);
    expect(got).toHaveLength(S.step_lr.length);
    expectAllClose(got, S.step_lr, RTOL, 0, 'StepLR');
  });

  it('getLastLr and lastEpoch follow the steps', () => {
    const opt = new optim.SGD([param()], { lr: 0.1 });
    const s = new optim.StepLR(opt, { stepSize: 3, gamma: 0.5 });
    expect(s.lastEpoch).toBe(0);
    for (let i = 0; i < 7; i++) s.step();
    expect(s.lastEpoch).toBe(7);
    expect(s.getLastLr()[0]).toBeCloseTo(S.step_lr[7], 12);
  });

  it('stateDict/loadStateDict resumes mid-way', () => {
    const o1 = new optim.SGD([param()], { lr: 0.1 });
    const s1 = new optim.StepLR(o1, { stepSize: 3, gamma: 0.5 });
    for (let i = 0; i < 7; i++) s1.step();
    const o2 = new optim.SGD([param()], { lr: 0.1 });
    const s2 = new optim.StepLR(o2, { stepSize: 3, gamma: 0.5 });
    s2.loadStateDict(s1.stateDict());
    expect(o2.lr).toBeCloseTo(S.step_lr[7], 12);
    const rest: number[] = [];
    for (let i = 8; i <= 15; i++) {
      s2.step();
      rest.push(o2.lr);
    }
    expectAllClose(rest, S.step_lr.slice(8), RTOL, 0, 'resumed StepLR');
  });

  it('rejects a bad stepSize', () => {
    const opt = new optim.SGD([param()], { lr: 0.1 });
    expect(() => new optim.StepLR(opt, { stepSize: 0 })).toThrow(RangeError);
    expect(() => new optim.StepLR(opt, { stepSize: 1.5 })).toThrow(RangeError);
  });
});

describe('CosineAnnealingLR(tMax 10, etaMin 0.001) from lr 0.1, 15 epochs', () => {
  it('matches PyTorch (recursive form) including past tMax', () => {
    const opt = new optim.SGD([param()], { lr: 0.1 });
    const got = lrs(opt, new optim.CosineAnnealingLR(opt, { tMax: 10, etaMin: 0.001 }), 15);
    expect(got).toHaveLength(S.cosine.length);
    expectAllClose(got, S.cosine, RTOL, 0, 'CosineAnnealingLR');
    expect(got[10]).toBeCloseTo(0.001, 12);
  });

  it("PyTorch's recursive values equal the closed form within float error", () => {
    S.cosine.forEach((v, e) => expect(Math.abs(v - (0.001 + (0.099 * (1 + Math.cos((Math.PI * e) / 10))) / 2))).toBeLessThan(1e-12));
  });

  it('applies to every param group from its own base lr', () => {
    const opt = new optim.SGD([{ params: [param()] }, { params: [param()], lr: 0.01 }], { lr: 0.1 });
    const s = new optim.CosineAnnealingLR(opt, { tMax: 10 });
    for (let i = 0; i < 5; i++) s.step();
    expect(s.getLastLr()[0]).toBeCloseTo(0.05, 12);
    expect(s.getLastLr()[1]).toBeCloseTo(0.005, 12);
  });
});

describe('OneCycleLR(maxLr 0.1, totalSteps 50)', () => {
  it('SGD momentum 0.9: lr and momentum each step match PyTorch', () => {
    const opt = new optim.SGD([param()], { lr: 0.1, momentum: 0.9 });
    const sched = new optim.OneCycleLR(opt, { maxLr: 0.1, totalSteps: 50 });
    const lr = [opt.lr], mom = [opt.paramGroups[0].momentum];
    for (let i = 0; i < 50; i++) {
      opt.step();
      sched.step();
      lr.push(opt.lr);
      mom.push(opt.paramGroups[0].momentum);
    }
    expect(lr).toHaveLength(S.onecycle_sgd.lr.length);
    expectAllClose(lr, S.onecycle_sgd.lr, RTOL, 0, 'OneCycle SGD lr');
    expectAllClose(mom, S.onecycle_sgd.momentum, RTOL, 0, 'OneCycle SGD momentum');
    // PyTorch raises when stepping past totalSteps
    expect(S.onecycle_sgd.raises_at).toBe(51);
    expect(() => sched.step()).toThrow(/OneCycleLR/);
  });

  it('Adam: lr and beta1 each step match PyTorch (beta2 untouched)', () => {
    const opt = new optim.Adam([param()], { lr: 0.1 });
    const sched = new optim.OneCycleLR(opt, { maxLr: 0.1, totalSteps: 50 });
    const lr = [opt.lr], b1 = [opt.paramGroups[0].betas[0]];
    for (let i = 0; i < 50; i++) {
      opt.step();
      sched.step();
      lr.push(opt.lr);
      b1.push(opt.paramGroups[0].betas[0]);
      expect(opt.paramGroups[0].betas[1]).toBe(0.999);
    }
    expectAllClose(lr, S.onecycle_adam.lr, RTOL, 0, 'OneCycle Adam lr');
    expectAllClose(b1, S.onecycle_adam.beta1, RTOL, 0, 'OneCycle Adam beta1');
    expect(() => sched.step()).toThrow(/OneCycleLR/);
  });

  it('epochs × stepsPerEpoch is the same schedule as totalSteps', () => {
    const opt = new optim.SGD([param()], { lr: 0.1, momentum: 0.9 });
    const sched = new optim.OneCycleLR(opt, { maxLr: 0.1, epochs: 5, stepsPerEpoch: 10 });
    expect(sched.totalSteps).toBe(50);
    expectAllClose(lrs(opt, sched, 50), S.onecycle_sgd.lr, RTOL, 0, 'epochs form');
  });

  it('the schedule peaks at maxLr after 30% of the steps and ends near maxLr / 25 / 1e4', () => {
    const lr = S.onecycle_sgd.lr;
    expect(Math.max(...lr)).toBeCloseTo(0.1, 12);
    expect(lr.indexOf(Math.max(...lr))).toBe(14);
    expect(lr[0]).toBeCloseTo(0.1 / 25, 12);
    expect(lr[49]).toBeCloseTo(0.1 / 25 / 1e4, 12);
  });

  it('needs totalSteps or epochs and stepsPerEpoch', () => {
    const opt = new optim.SGD([param()], { lr: 0.1, momentum: 0.9 });
    expect(() => new optim.OneCycleLR(opt, { maxLr: 0.1 })).toThrow(RangeError);
    expect(() => new optim.OneCycleLR(opt, { maxLr: 0.1, totalSteps: 0 })).toThrow(RangeError);
  });
});
