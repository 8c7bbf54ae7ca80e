// The layer API and losses of issue #13 against PyTorch 1.13 (fixture from
// test/fixtures/gen_layers_api.py): crossEntropy / nllLoss with weight,
// ignoreIndex, label smoothing, probability targets, [N, C, d1, …] inputs and
// NaN means of empty batches; BatchNorm1d/2d/3d with momentum null, affine
// false and no running statistics; conv and linear layers built from
// PyTorch's positional arguments. Forward values and every gradient.
import { describe, it, expect } from 'vitest';
import { nn, models, tensor, type Tensor } from '../../src';
import { expectAllClose, fixture } from '../helpers';

type Num = number | 'NaN';
const nums = (a: Num[]): number[] => a.map((v) => (v === 'NaN' ? NaN : v));
const vals = (t: Tensor) => Array.from(t.data());
const F = nn.functional;

/** Close, with NaN matching NaN. */
function close(actual: ArrayLike<number>, expected: Num[], what: string, rtol = 2e-5, atol = 2e-5): void {
  const e = nums(expected);
  expect(actual.length, `${what}: length`).toBe(e.length);
  const a = Array.from(actual);
  a.forEach((v, i) => {
    if (Number.isNaN(e[i])) expect(v, `${what}[${i}]`).toBeNaN();
  });
  expectAllClose(a.map((v, i) => (Number.isNaN(e[i]) ? 0 : v)), e.map((v) => (Number.isNaN(v) ? 0 : v)), rtol, atol, what);
}

const ref = fixture('layers_api.json');

interface LossResult { loss: Num[]; shape: number[]; up: Num[]; grad_input?: Num[]; grad_target?: Num[] }
interface LossCase {
  name: string; fn: 'crossEntropy' | 'nllLoss' | 'mseLoss' | 'l1Loss' | 'smoothL1Loss' | 'huberLoss'; input: Num[]; input_shape: number[]; target: Num[]; target_shape: number[];
  soft: boolean; opts: { weight?: number[]; ignoreIndex?: number; labelSmoothing?: number; beta?: number; delta?: number }; results: Record<'mean' | 'sum' | 'none', LossResult>;
}

describe('losses match PyTorch (forward and gradients)', () => {
  for (const c of ref.losses as LossCase[])
    for (const red of ['mean', 'sum', 'none'] as const)
      it(`${c.fn}: ${c.name}, reduction ${red}`, () => {
        const r = c.results[red];
        const x = tensor(nums(c.input)).reshape(c.input_shape).requiresGrad_(true);
        const pointwise = !['crossEntropy', 'nllLoss'].includes(c.fn);
        const soft = c.soft || pointwise;
        const t = tensor(nums(c.target)).reshape(c.target_shape);
        if (soft) t.requiresGrad_(true);
        const opts = { ...c.opts, weight: c.opts.weight ? tensor(c.opts.weight) : undefined, reduction: red };
        if (!opts.weight) delete opts.weight;
        const out =
          c.fn === 'crossEntropy' ? F.crossEntropy(x, t, opts)
          : c.fn === 'nllLoss' ? F.nllLoss(x, t, opts)
          : c.fn === 'mseLoss' ? F.mseLoss(x, t, { reduction: red })
          : c.fn === 'l1Loss' ? F.l1Loss(x, t, { reduction: red })
          : c.fn === 'smoothL1Loss' ? F.smoothL1Loss(x, t, { reduction: red, beta: c.opts.beta })
          : F.huberLoss(x, t, { reduction: red, delta: c.opts.delta });
        expect([...out.shape], 'output shape').toEqual(r.shape);
        close(vals(out), r.loss, 'loss');
        if (!r.grad_input) return;
        out.backward(red === 'none' ? tensor(nums(r.up)).reshape(r.shape) : undefined);
        close(vals(x.grad!), r.grad_input, 'grad input');
        if (r.grad_target) close(vals(t.grad!), r.grad_target, 'grad target');
      });
});

describe('loss modules', () => {
  const c = (ref.losses as LossCase[]).find((k) => k.name === 'ce ignoreIndex 2, smoothing 0.2, weight')!;
  it('nn.CrossEntropyLoss takes PyTorch’s options and gives F.crossEntropy', () => {
    const x = tensor(nums(c.input)).reshape(c.input_shape);
    const loss = new nn.CrossEntropyLoss({ weight: tensor(c.opts.weight!), ignoreIndex: 2, labelSmoothing: 0.2, reduction: 'sum' });
    close(vals(loss.forward(x, tensor(nums(c.target)))), c.results.sum.loss, 'loss');
    close(vals(loss(x, tensor(nums(c.target)))), c.results.sum.loss, 'loss called as a function');
  });
  it('nn.NLLLoss, MSELoss, L1Loss, SmoothL1Loss, HuberLoss', () => {
    const n = (ref.losses as LossCase[]).find((k) => k.name === 'nll weight ignore')!;
    const x = tensor(nums(n.input)).reshape(n.input_shape);
    close(vals(new nn.NLLLoss({ weight: tensor(n.opts.weight!) }).forward(x, tensor(nums(n.target)))), n.results.mean.loss, 'nll');
    const m = (ref.losses as LossCase[]).find((k) => k.fn === 'mseLoss')!;
    const mx = tensor(nums(m.input)).reshape(m.input_shape), mt = tensor(nums(m.target)).reshape(m.target_shape);
    close(vals(new nn.MSELoss().forward(mx, mt)), m.results.mean.loss, 'mse');
    close(vals(new nn.MSELoss({ reduction: 'none' }).forward(mx, mt)), m.results.none.loss, 'mse none');
    const byName = (n: string) => (ref.losses as LossCase[]).find((k) => k.name === n)!;
    close(vals(new nn.L1Loss({ reduction: 'sum' })(mx, mt)), byName('l1').results.sum.loss, 'L1Loss');
    close(vals(new nn.SmoothL1Loss({ beta: 0.5 })(mx, mt)), byName('smooth l1 beta 0.5').results.mean.loss, 'SmoothL1Loss');
    close(vals(new nn.HuberLoss({ delta: 0.5, reduction: 'none' })(mx, mt)), byName('huber delta 0.5').results.none.loss, 'HuberLoss');
    expect(() => new nn.HuberLoss({ delta: 0 })).toThrow(/HuberLoss: delta must be a finite number > 0/);
    expect(() => new nn.SmoothL1Loss({ beta: -1 })).toThrow(/SmoothL1Loss: beta must be a finite number >= 0/);
    expect(() => new nn.L1Loss('mean' as never)).toThrow(/L1Loss: expected \(options\?\)/);
  });
  it('reject unknown options, bad weights, targets out of range and ignoreIndex on probability targets', () => {
    const x = tensor([[1, 2, 3], [0, 1, 0]]);
    expect(() => new nn.CrossEntropyLoss({ ignore_index: 1 } as never)).toThrow(/unknown option 'ignore_index'.*ignoreIndex/);
    expect(() => F.crossEntropy(x, [0, 1], { weight: tensor([1, 2]) })).toThrow(/crossEntropy: weight must have shape \[3\]/);
    expect(() => F.crossEntropy(x, [0, 3])).toThrow(/target\[1\] = 3 is not a class index in \[0, 3\)/);
    expect(() => F.crossEntropy(x, [0, -1], { ignoreIndex: -1.5 })).toThrow(/ignoreIndex must be an integer/);
    expect(() => F.crossEntropy(x, tensor([[1, 0, 0], [0, 1, 0]]), { ignoreIndex: 0 })).toThrow(/ignoreIndex is not supported for probability targets/);
    expect(() => F.crossEntropy(tensor([[[1, 2]], [[3, 4]]]), tensor([0, 1]))).toThrow(/target must have shape \[2,2\]/);
    expect(() => F.crossEntropy(x, [0, 1], { labelSmoothing: null } as never)).toThrow(/labelSmoothing must be in \[0, 1\], got null/);
    expect(() => new nn.CrossEntropyLoss({ ignoreIndex: null } as never)).toThrow(/CrossEntropyLoss: ignoreIndex must be an integer, got null/);
    expect(() => F.nllLoss(x, [0, 1], { labelSmoothing: 0.1 } as never)).toThrow(/nllLoss: unknown option 'labelSmoothing'/);
    expect(() => F.mseLoss(x, tensor([1, 2, 3]))).toThrow(/mseLoss: input shape \[2,3\] and target shape \[3\] differ/);
    expect(() => F.mseLoss(x, x, { reduce: false } as never)).toThrow(/mseLoss: unknown option 'reduce'/);
  });
});

interface BnStep { mode: 'train' | 'eval'; shape: number[]; x: number[]; up: number[]; y: number[]; grad_x: number[]; grad_weight?: number[]; grad_bias?: number[]; running_mean?: number[]; running_var?: number[]; num_batches_tracked?: number }
interface BnRun { name: string; cls: 'BatchNorm1d' | 'BatchNorm2d' | 'BatchNorm3d'; numFeatures: number; ctor: nn.BatchNormLayerOptions; weight: number[] | null; bias: number[] | null; state_keys: string[]; steps: BnStep[] }

describe('BatchNorm1d/2d/3d match PyTorch over several steps', () => {
  for (const run of ref.batchnorm as BnRun[])
    it(`${run.cls}: ${run.name}`, () => {
      const bn = new nn[run.cls](run.numFeatures, run.ctor);
      expect(Object.keys(bn.stateDict())).toEqual(run.state_keys);
      if (run.weight) bn.weight!.copy_(tensor(run.weight));
      if (run.bias) bn.bias!.copy_(tensor(run.bias));
      run.steps.forEach((s, k) => {
        const what = `step ${k} (${s.mode})`;
        if (s.mode === 'train') bn.train();
        else bn.eval();
        bn.zeroGrad();
        const x = tensor(s.x).reshape(s.shape).requiresGrad_(true);
        const y = bn.forward(x);
        close(vals(y), s.y, `${what} y`, 1e-4, 1e-4);
        y.backward(tensor(s.up).reshape(s.shape));
        close(vals(x.grad!), s.grad_x, `${what} grad x`, 1e-4, 1e-4);
        if (s.grad_weight) close(vals(bn.weight!.grad!), s.grad_weight, `${what} grad weight`, 1e-4, 1e-4);
        if (s.grad_bias) close(vals(bn.bias!.grad!), s.grad_bias, `${what} grad bias`, 1e-4, 1e-4);
        if (s.running_mean) close(vals(bn.runningMean!), s.running_mean, `${what} running_mean`);
        if (s.running_var) close(vals(bn.runningVar!), s.running_var, `${what} running_var`);
        if (s.num_batches_tracked !== undefined) expect(bn.numBatchesTracked!.item(), `${what} num_batches_tracked`).toBe(s.num_batches_tracked);
      });
    });
  it('F.batchNorm defaults to eval mode (training false), as PyTorch’s F.batch_norm', () => {
    const x = tensor([[1, 2], [3, 6]]);
    const y = F.batchNorm(x, { runningMean: tensor([1, 2]), runningVar: tensor([4, 16]), eps: 0 });
    expectAllClose(vals(y), [0, 0, 1, 1], 1e-6, 1e-6, 'eval batch norm');
    expect(() => F.batchNorm(x)).toThrow(/batchNorm: eval mode needs runningMean and runningVar \(training defaults to false/);
    expectAllClose(vals(F.batchNorm(x, { training: true, eps: 0 })), [-1, -1, 1, 1], 1e-6, 1e-6, 'train batch norm');
  });
  it('positional form (numFeatures, eps, momentum, affine, trackRunningStats), and input ranks', () => {
    const bn = new nn.BatchNorm1d(4, 1e-3, null, false, false);
    expect([bn.eps, bn.momentum, bn.affine, bn.trackRunningStats, bn.weight, bn.runningMean]).toEqual([1e-3, null, false, false, null, null]);
    expect(() => new nn.BatchNorm2d(4, { momentum: 'x' } as never)).toThrow(/BatchNorm2d: momentum must be a finite number/);
    expect(() => new nn.BatchNorm2d(4, 1e-5, 0.1, true, true, false as never)).toThrow(/BatchNorm2d: too many arguments/);
    expect(() => new nn.BatchNorm3d(4, { track_running_stats: false } as never)).toThrow(/unknown option 'track_running_stats'.*trackRunningStats/);
    expect(() => new nn.BatchNorm1d(4).forward(tensor([[[[1]]]]))).toThrow(/BatchNorm1d: expected a 2-d input \[N, C\] or a 3-d input \[N, C, L\], got shape \[1,1,1,1\]/);
    expect(() => new nn.BatchNorm3d(1).forward(tensor([[[[1]]]]))).toThrow(/BatchNorm3d: expected a 5-d input/);
    expect(() => new nn.BatchNorm1d(2).forward(tensor([[1, 2]]))).toThrow(/more than 1 value per channel/);
  });
});

interface LayerCase { name: string; kind: 'Conv1d' | 'Conv2d' | 'Conv3d' | 'Linear'; args: (number | boolean)[]; in_shape: number[]; weight: number[]; weight_shape: number[]; bias: number[] | null; x: number[]; y: number[]; y_shape: number[]; up: number[]; grad_x: number[]; grad_weight: number[]; grad_bias: number[] | null }

describe('layers built from PyTorch’s positional arguments match PyTorch', () => {
  for (const c of ref.layers as LayerCase[])
    it(c.name, () => {
      const Ctor = nn[c.kind] as unknown as new (...a: unknown[]) => nn.Linear | nn.Conv2d;
      const m = new Ctor(...c.args);
      expect([...m.weight.shape]).toEqual(c.weight_shape);
      expect(m.bias === null).toBe(c.bias === null);
      m.weight.copy_(tensor(c.weight).reshape(c.weight_shape));
      if (c.bias) m.bias!.copy_(tensor(c.bias));
      const x = tensor(c.x).reshape(c.in_shape).requiresGrad_(true);
      const y = m.forward(x);
      expect([...y.shape]).toEqual(c.y_shape);
      close(vals(y), c.y, 'y', 1e-4, 1e-4);
      y.backward(tensor(c.up).reshape(c.y_shape));
      close(vals(x.grad!), c.grad_x, 'grad x', 1e-4, 1e-4);
      close(vals(m.weight.grad!), c.grad_weight, 'grad weight', 1e-4, 1e-4);
      if (c.grad_bias) close(vals(m.bias!.grad!), c.grad_bias, 'grad bias', 1e-4, 1e-4);
    });
});

describe('constructors: PyTorch’s positional order or options last, never a silent drop', () => {
  it('conv layers take (in, out, kernelSize, stride, padding, dilation, groups, bias)', () => {
    const c = new nn.Conv2d(64, 128, 3, 2);
    expect([c.stride, c.padding, c.dilation, c.groups, c.bias !== null]).toEqual([2, 0, 1, 1, true]);
    const d = new nn.Conv2d(4, 8, 5, 2, 2, 1, 2, false);
    expect([d.stride, d.padding, d.dilation, d.groups, d.bias]).toEqual([2, 2, 1, 2, null]);
    const e = new nn.Conv1d(1, 6, 5, 2, { padding: 2, bias: false });
    expect([e.stride, e.padding, e.bias]).toEqual([2, 2, null]);
    expect(new nn.Conv3d(2, 2, [1, 3, 3], [1, 2, 2], 'valid').padding).toBe('valid');
    const AnyConv = nn.Conv2d as unknown as new (...a: unknown[]) => nn.Conv2d;
    expect(() => new AnyConv(1, 2, 3, 1, 0, 1, 1, true, 'zeros', 'cpu')).toThrow(/Conv2d: too many arguments.*extra argument: "cpu"/);
    expect(new nn.Conv2d(1, 2, 3, 1, 1, 1, 1, true, 'reflect').paddingMode).toBe('reflect');
    expect(() => new nn.Conv2d(1, 2, 3, 2, { stride: 2 })).toThrow(/Conv2d: stride is given twice/);
    expect(() => new nn.Conv2d(1, 2, 3, { strides: 2 } as never)).toThrow(/Conv2d: unknown option 'strides' \(did you mean 'stride'\?\)/);
    expect(() => new nn.Conv2d(1, 2, 3, 'x' as never)).toThrow(/Conv2d: stride must be a number or an array of 2 numbers/);
    expect(() => new nn.Conv2d(1, 2, 3, 1, 'full' as never)).toThrow(/Conv2d: padding must be a number, an array, 'same' or 'valid'/);
    expect(() => new nn.Conv2d(1, 2, 3, 2, 'same')).toThrow(/Conv2d: padding 'same' needs stride 1/);
    expect(() => new nn.Conv2d(1, 2, 3, 1, 0, 1, 1, 'yes' as never)).toThrow(/Conv2d: bias must be a boolean/);
    expect(() => new nn.Conv2d(1, 2, 3, { padding_mode: 'zeros' } as never)).toThrow(/unknown option 'padding_mode'/);
  });
  it('Linear(in, out, bias)', () => {
    expect(new nn.Linear(2, 3, false).bias).toBeNull();
    expect(new nn.Linear(2, 3, { bias: false }).bias).toBeNull();
    expect(() => new nn.Linear(2, 2, { biass: true } as never)).toThrow(/Linear: unknown option 'biass' \(did you mean 'bias'\?\)/);
    expect(() => new nn.Linear(2, 2, 'no' as never)).toThrow(/Linear: bias must be a boolean, got "no"/);
    expect(() => new nn.Linear(2, 2, true, true as never)).toThrow(/Linear: too many arguments/);
  });
  it('activations, Softmax(dim), Flatten, Unflatten, Dropout', () => {
    expect(new nn.LeakyReLU(0.2).negativeSlope).toBe(0.2);
    expect(new nn.LeakyReLU({ negativeSlope: 0.3, inplace: true }).negativeSlope).toBe(0.3);
    expect(() => new nn.LeakyReLU('x' as never)).toThrow(/LeakyReLU: negativeSlope must be a finite number, got "x"/);
    expect(new nn.ReLU(true).inplace).toBe(true);
    expect(() => new nn.ReLU(0.1 as never)).toThrow(/ReLU: inplace must be a boolean/);
    expect(() => new (nn.Sigmoid as unknown as new (a: number) => nn.Sigmoid)(1)).toThrow(/Sigmoid: takes no arguments/);
    expect(() => new (nn.Identity as unknown as new (a: number) => nn.Identity)(1)).toThrow(/Identity: takes no arguments/);
    expect(new nn.Softmax(1).dim).toBe(1);
    expect(new nn.LogSoftmax({ dim: -1 }).dim).toBe(-1);
    expect(() => new (nn.Softmax as unknown as new () => nn.Softmax)()).toThrow(/Softmax: dim is required/);
    expect(() => new nn.LogSoftmax(0.5)).toThrow(/LogSoftmax: dim must be an integer dim/);
    const f = new nn.Flatten(0, 1);
    expect([f.startDim, f.endDim]).toEqual([0, 1]);
    expect([...f.forward(tensor([[[1, 2]], [[3, 4]]])).shape]).toEqual([2, 2]);
    expect(() => new nn.Flatten('x' as never)).toThrow(/Flatten: startDim must be an integer dim, got "x"/);
    expect(() => new nn.Flatten(1, -1, 2 as never)).toThrow(/Flatten: too many arguments/);
    expect([...new nn.Unflatten(1, [2, -1]).forward(tensor([[1, 2, 3, 4, 5, 6]])).shape]).toEqual([1, 2, 3]);
    expect(() => new nn.Unflatten(1, [4]).forward(tensor([[1, 2, 3]]))).toThrow(/Unflatten: unflattenedSize \[4\] does not match dim 1 of size 3/);
    expect(new nn.Dropout(0.2).p).toBe(0.2);
    expect(new nn.Dropout({ p: 0.3 }).p).toBe(0.3);
    expect(() => new nn.Dropout(0.2, 'yes' as never)).toThrow(/Dropout: inplace must be a boolean/);
    expect(() => new nn.Dropout(2)).toThrow(/Dropout: p must be in \[0, 1\]/);
    expect(() => new nn.Dropout(null as never)).toThrow(/Dropout: p must not be null/);
    expect(() => new nn.Conv2d(1, 2, 3, null as never)).toThrow(/Conv2d: stride must not be null/);
    expect(() => new nn.Linear(1, 2, { bias: null } as never)).toThrow(/Linear: bias must not be null/);
  });
  it('LeNet validates its options', () => {
    expect(() => models.LeNet({ num_classes: 3 } as never)).toThrow(/LeNet: unknown option 'num_classes' \(did you mean 'numClasses'\?/);
    expect(() => models.LeNet({ numClasses: 0 })).toThrow(/LeNet: numClasses must be an integer >= 1/);
    expect([...(models.LeNet({ numClasses: 3 })[11] as nn.Linear).weight.shape]).toEqual([3, 84]);
  });
});
