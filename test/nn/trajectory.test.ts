// blasnet reproduces PyTorch training trajectories: LeNet with SGD momentum,
// Adam, Nesterov + weight decay, AdamW + AMSGrad, the classic LeNet and label
// smoothing; and a small convnet with BatchNorm2d and Dropout (train and eval).
// Fixtures: test/fixtures/gen_train.py (Debian python3-torch).
import { describe, it, expect, beforeAll } from 'vitest';
import * as path from 'node:path';
import { nn, optim, models, setNumThreads, tidy, type Tensor } from '../../src';
import { load } from '../../src/io/checkpoint';

const fix = (f: string) => path.join(__dirname, '..', 'fixtures', f);

function expectClose(actual: number[], expected: number[], rtol = 1e-4, atol = 1e-5) {
  expect(actual.length).toBe(expected.length);
  actual.forEach((a, i) => {
    const e = expected[i];
    if (!(Math.abs(a - e) <= atol + rtol * Math.abs(e))) throw new Error(`step ${i}: got ${a}, expected ${e}`);
  });
}

function subDict(all: Record<string, Tensor>, prefix: string): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const [k, v] of Object.entries(all)) if (k.startsWith(prefix)) out[k.slice(prefix.length)] = v;
  return out;
}

describe('PyTorch training trajectories (LeNet, 20 steps of batch 8)', () => {
  let F: Record<string, Tensor>;
  beforeAll(() => {
    setNumThreads(1);
    F = load(fix('train_lenet.safetensors'));
  });

  const run = (variant: 'modern' | 'classic', init: string, makeOpt: (p: Tensor[]) => optim.Optimizer, smoothing = 0) => {
    const model = models.LeNet({ variant });
    model.loadStateDict(subDict(F, init));
    const opt = makeOpt(model.parameters());
    const losses: number[] = [];
    for (let i = 0; i < 20; i++) {
      tidy(() => {
        opt.zeroGrad();
        const loss = nn.functional.crossEntropy(model.forward(F[`x.${i}`]), F[`y.${i}`], { labelSmoothing: smoothing });
        loss.backward();
        opt.step();
        losses.push(loss.detach().item());
      });
    }
    return { model, losses };
  };

  it('SGD momentum 0.9: losses and final weights', () => {
    const { model, losses } = run('modern', 'init.', (p) => new optim.SGD(p, { lr: 0.05, momentum: 0.9 }));
    expectClose(losses, Array.from(F['loss.sgd'].data()));
    for (const [k, t] of Object.entries(model.stateDict())) expectClose(Array.from(t.data()), Array.from(F[`sgd.${k}`].data()), 1e-3, 1e-5);
  });
  it('Adam: losses and final weights', () => {
    const { model, losses } = run('modern', 'init.', (p) => new optim.Adam(p, { lr: 1e-3 }));
    expectClose(losses, Array.from(F['loss.adam'].data()));
    for (const [k, t] of Object.entries(model.stateDict())) expectClose(Array.from(t.data()), Array.from(F[`adam.${k}`].data()), 1e-3, 1e-5);
  });
  it('SGD Nesterov with weight decay', () => {
    const { losses } = run('modern', 'init.', (p) => new optim.SGD(p, { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 5e-4 }));
    expectClose(losses, Array.from(F['loss.sgd_nesterov_wd'].data()));
  });
  it('AdamW with AMSGrad', () => {
    const { losses } = run('modern', 'init.', (p) => new optim.AdamW(p, { lr: 1e-3, weightDecay: 0.01, amsgrad: true }));
    expectClose(losses, Array.from(F['loss.adamw_amsgrad'].data()));
  });
  it('classic LeNet (sigmoid, average pooling)', () => {
    const { losses } = run('classic', 'classic_init.', (p) => new optim.SGD(p, { lr: 0.1, momentum: 0.9 }));
    expectClose(losses, Array.from(F['loss.classic_sgd'].data()));
  });
  it('label smoothing 0.1', () => {
    const { losses } = run('modern', 'init.', (p) => new optim.SGD(p, { lr: 0.05 }), 0.1);
    expectClose(losses, Array.from(F['loss.sgd_ls'].data()));
  });
});

describe('PyTorch trajectory: convnet with BatchNorm2d and Dropout', () => {
  it('trains 5 steps in train mode, then matches eval-mode logits', () => {
    setNumThreads(1);
    const F = load(fix('train_bn.safetensors'));
    const make = (p: number) =>
      new nn.Sequential(new nn.Conv2d(1, 4, 3, { padding: 1 }), new nn.BatchNorm2d(4), new nn.ReLU(), new nn.MaxPool2d(2), new nn.Dropout(p), new nn.Flatten(), new nn.Linear(4 * 14 * 14, 10));
    const model = make(0);
    model.loadStateDict(subDict(F, 'init.'));
    const opt = new optim.SGD(model.parameters(), { lr: 0.05, momentum: 0.9 });
    const losses: number[] = [];
    for (let i = 0; i < 5; i++) {
      opt.zeroGrad();
      const loss = nn.functional.crossEntropy(model.forward(F[`x.${i}`]), F[`y.${i}`]);
      loss.backward();
      opt.step();
      losses.push(loss.item());
    }
    expectClose(losses, Array.from(F['loss.train'].data()));
    const trained = subDict(F, 'trained.');
    for (const [k, t] of Object.entries(model.stateDict())) expectClose(Array.from(t.data()), Array.from(trained[k].data()), 1e-3, 1e-5);
    const evalModel = make(0.5);
    evalModel.loadStateDict(trained);
    evalModel.eval();
    const logits = evalModel.forward(F['x.0']);
    expectClose(Array.from(logits.data()), Array.from(F['eval.logits'].data()));
    expectClose([nn.functional.crossEntropy(logits, F['y.0']).item()], Array.from(F['loss.eval'].data()));
  });
});
