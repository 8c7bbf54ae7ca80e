// Every public options object of optim (optimizers, their groups, state
// dicts, schedulers) and of Module.to / Tensor.to rejects an unknown key,
// naming it and suggesting the camelCase spelling of PyTorch's snake_case
// names. The table must cover every class optim exports, so a new optimizer or
// scheduler without a row fails here.
import { describe, it, expect } from 'vitest';
import { optim, nn, tensor } from '../../src';

const p = () => [tensor([1, 2]).requiresGrad_()];
const sgd = () => new optim.SGD(p(), { lr: 0.1, momentum: 0.9 });
type Row = [what: string, call: (extra: Record<string, unknown>) => unknown, snake: string, camel: string];

/** One or more rows per exported class: the options object, plus groups and state dicts where it has them. */
const ROWS: Record<string, Row[]> = {
  SGD: [
    ['SGD options', (o) => new optim.SGD(p(), { lr: 0.1, ...o }), 'weight_decay', 'weightDecay'],
    ['SGD group in the constructor', (o) => new optim.SGD([{ params: p(), ...o }], { lr: 0.1 }), 'weight_decay', 'weightDecay'],
    ['SGD.addParamGroup', (o) => sgd().addParamGroup({ params: p(), ...o }), 'weight_decay', 'weightDecay'],
    ['SGD.step after assigning to a group', (o) => { const s = sgd(); Object.assign(s.paramGroups[0], o); s.step(); }, 'weight_decay', 'weightDecay'],
    ['SGD.loadStateDict group', (o) => { const s = sgd(); const sd = s.stateDict(); Object.assign(sd.paramGroups[0], o); s.loadStateDict(sd); }, 'weight_decay', 'weightDecay'],
    ['SGD.loadStateDict top level', (o) => { const s = sgd(); s.loadStateDict({ ...s.stateDict(), ...o }); }, 'param_groups', 'paramGroups'],
    ['SGD.loadStateDict state entry', (o) => { const s = sgd(); s.loadStateDict({ state: { 0: { ...o } }, paramGroups: s.stateDict().paramGroups }); }, 'momentum_bufer', 'momentum_buffer'],
  ],
  Adam: [['Adam options', (o) => new optim.Adam(p(), o), 'weight_decay', 'weightDecay']],
  AdamW: [['AdamW options', (o) => new optim.AdamW(p(), o), 'amsGrad', 'amsgrad']],
  Adadelta: [['Adadelta options', (o) => new optim.Adadelta(p(), o), 'weight_decay', 'weightDecay']],
  RMSprop: [['RMSprop options', (o) => new optim.RMSprop(p(), o), 'centred', 'centered']],
  Adagrad: [
    ['Adagrad options (lr_decay)', (o) => new optim.Adagrad(p(), o), 'lr_decay', 'lrDecay'],
    ['Adagrad options (initial_accumulator_value)', (o) => new optim.Adagrad(p(), o), 'initial_accumulator_value', 'initialAccumulatorValue'],
  ],
  StepLR: [
    ['StepLR options', (o) => new optim.StepLR(sgd(), { stepSize: 2, ...o }), 'step_size', 'stepSize'],
    ['StepLR.loadStateDict', (o) => { const s = new optim.StepLR(sgd(), { stepSize: 2 }); s.loadStateDict({ ...s.stateDict(), ...o }); }, 'last_epoch', 'lastEpoch'],
  ],
  MultiStepLR: [['MultiStepLR options', (o) => new optim.MultiStepLR(sgd(), { milestones: [2], ...o }), 'gama', 'gamma']],
  ExponentialLR: [['ExponentialLR options', (o) => new optim.ExponentialLR(sgd(), { gamma: 0.9, ...o }), 'Gamma', 'gamma']],
  LinearLR: [['LinearLR options', (o) => new optim.LinearLR(sgd(), o), 'start_factor', 'startFactor']],
  CosineAnnealingLR: [['CosineAnnealingLR options', (o) => new optim.CosineAnnealingLR(sgd(), { tMax: 5, ...o }), 'eta_min', 'etaMin']],
  OneCycleLR: [['OneCycleLR options', (o) => new optim.OneCycleLR(sgd(), { maxLr: 0.1, totalSteps: 10, ...o }), 'three_phase', 'threePhase']],
  SequentialLR: [
    ['SequentialLR options', (o) => { const s = sgd(); new optim.SequentialLR(s, { schedulers: [new optim.LinearLR(s)], milestones: [], ...o }); }, 'mile_stones', 'milestones'],
    ['SequentialLR.loadStateDict (a child)', (o) => {
      const s = sgd();
      const q = new optim.SequentialLR(s, { schedulers: [new optim.LinearLR(s)], milestones: [] });
      const sd = q.stateDict();
      Object.assign(sd.schedulers[0], o);
      q.loadStateDict(sd);
    }, 'base_lrs', 'baseLrs'],
  ],
  ConstantLR: [['ConstantLR options', (o) => new optim.ConstantLR(sgd(), o), 'total_iters', 'totalIters']],
  PolynomialLR: [['PolynomialLR options', (o) => new optim.PolynomialLR(sgd(), o), 'Power', 'power']],
  LambdaLR: [['LambdaLR options', (o) => new optim.LambdaLR(sgd(), { lrLambda: () => 1, ...o }), 'lr_lambda', 'lrLambda']],
  MultiplicativeLR: [['MultiplicativeLR options', (o) => new optim.MultiplicativeLR(sgd(), { lrLambda: () => 1, ...o }), 'lr_lambda', 'lrLambda']],
  ChainedScheduler: [
    ['ChainedScheduler.loadStateDict', (o) => { const c = new optim.ChainedScheduler([new optim.LinearLR(sgd())]); c.loadStateDict({ ...c.stateDict(), ...o }); }, 'Schedulers', 'schedulers'],
  ],
  ReduceLROnPlateau: [
    ['ReduceLROnPlateau options', (o) => new optim.ReduceLROnPlateau(sgd(), o), 'min_lr', 'minLr'],
    ['ReduceLROnPlateau.loadStateDict', (o) => { const s = new optim.ReduceLROnPlateau(sgd()); s.loadStateDict({ ...s.stateDict(), ...o }); }, 'num_bad_epochs', 'numBadEpochs'],
  ],
};
// abstract bases have no options object of their own
const ABSTRACT = new Set(['Optimizer', 'LRScheduler']);

describe('every public options object rejects an unknown key, suggesting the right spelling', () => {
  it('the table covers every class optim exports', () => {
    const classes = Object.entries(optim).filter(([, v]) => typeof v === 'function').map(([k]) => k).filter((k) => !ABSTRACT.has(k));
    expect(classes.sort()).toEqual(Object.keys(ROWS).sort());
  });
  for (const [cls, rows] of Object.entries(ROWS))
    for (const [what, call, snake, camel] of rows)
      it(`${cls}: ${what} { ${snake} }`, () => {
        expect(() => call({ [snake]: 1 })).toThrow(new RegExp(`unknown option '${snake}'.*\\(did you mean '${camel}'\\?`));
        expect(() => call({ noSuchOption: 1 })).toThrow(/unknown option 'noSuchOption'/);
      });

  it("PyTorch's last_epoch and verbose are refused with what to do instead", () => {
    for (const k of ['last_epoch', 'lastEpoch'])
      expect(() => new optim.StepLR(sgd(), { stepSize: 2, [k]: 5 } as never)).toThrow(new RegExp(`StepLR: option '${k}' is not supported: resume a schedule with scheduler\\.loadStateDict`));
    expect(() => new optim.ReduceLROnPlateau(sgd(), { verbose: true } as never)).toThrow(/ReduceLROnPlateau: option 'verbose' is not supported: blasnet schedulers do not print/);
  });

  it('Module.to and Tensor.to options objects', () => {
    expect(() => new nn.Linear(1, 1).to({ non_blocking: true } as never)).toThrow(/Linear\.to: unknown option 'non_blocking' \(did you mean 'nonBlocking'/);
    expect(() => tensor([1]).to({ devise: 'cpu' } as never)).toThrow(/Tensor\.to: unknown option 'devise' \(did you mean 'device'/);
  });
});
