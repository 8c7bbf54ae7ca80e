// InferenceSession.load(path, { model, inputShape }) for any architecture: the
// checkpoint is loaded into the given module (strictly) and served compiled,
// bitwise equal to that module's eager forward; the file's tensors are freed.
import { describe, it, expect } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Tensor, randn, manualSeed, noGrad, nn, InferenceSession, save } from '../../src';
import { expectBitwise } from '../helpers';
import { ResNet8, Inception, MnistNet, settleBatchNorm } from './models';

function eager(m: nn.Module, x: Tensor): Tensor {
  m.eval();
  return noGrad(() => m.forward(x));
}

describe('InferenceSession.load with a model', () => {
  const cases: [string, () => nn.Module, number[]][] = [
    ['ResNet-8', () => new ResNet8(), [3, 32, 32]],
    ['Inception-style block', () => new Inception(), [3, 12, 12]],
    ['pytorch/examples MNIST Net', () => new MnistNet(), [1, 28, 28]],
  ];
  for (const [name, make, sample] of cases)
    it(`${name}: a fresh instance loaded from the checkpoint serves the trained model's results bitwise`, async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-load-'));
      try {
        manualSeed(11);
        const trained = make();
        settleBatchNorm(trained, [4, ...sample], 12); // statistics and affine parameters off their init
        const file = path.join(dir, 'model.safetensors');
        save(trained.stateDict(), file);
        manualSeed(99); // a different init: only the checkpoint can make them agree
        const session = InferenceSession.load(file, { model: make(), inputShape: sample });
        expect(session.planCount).toBeGreaterThan(0);
        for (const N of [1, 3]) {
          const x = randn([N, ...sample]);
          const want = eager(trained, x);
          expectBitwise(session.runSync(x), want, `${name} runSync batch ${N}`);
          expectBitwise(await session.run(x), want, `${name} run batch ${N}`);
        }
        session.dispose();
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

  it('a checkpoint that does not fit the model is refused naming the load', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-load-'));
    try {
      const file = path.join(dir, 'model.safetensors');
      save(new MnistNet().stateDict(), file);
      expect(() => InferenceSession.load(file, { model: new ResNet8(), inputShape: [3, 32, 32] })).toThrow(/^InferenceSession\.load: /);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
