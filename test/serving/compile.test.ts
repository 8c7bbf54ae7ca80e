// The plan compiler on custom Modules: every model here is compiled by
// InferenceSession and forwardAsync and must give bitwise the eager
// `model.eval(); noGrad(() => model.forward(x))` at every batch size and thread
// count, sync and async.
import { describe, it, expect, afterAll } from 'vitest';
import { Tensor, randn, manualSeed, noGrad, nn, InferenceSession, setNumThreads, getNumThreads } from '../../src';
import { expectBitwise } from '../helpers';
import { MnistNet, ResNet8, Broadcasting, BatchCentred, ShapeBranch, Attention, BasicBlock, Reductions, Inception, Slicing, FusedConvPool, EncoderDecoder, Pools, settleBatchNorm } from './models';

const threadsBefore = getNumThreads();
afterAll(() => setNumThreads(threadsBefore));

function eager(model: nn.Module, x: Tensor): Tensor {
  model.eval();
  return noGrad(() => model.forward(x));
}

interface Case {
  name: string;
  make: () => nn.Module;
  sample: number[];
  batches: number[];
}

const CASES: Case[] = [
  { name: 'pytorch/examples MNIST Net (F.relu, F.maxPool2d, dropout, flatten, logSoftmax)', make: () => (manualSeed(1), new MnistNet()), sample: [1, 28, 28], batches: [1, 2, 3, 64] },
  {
    name: 'ResNet-8 (three residual stages, BatchNorm, strided 1×1 shortcuts)',
    make: () => {
      manualSeed(2);
      const m = new ResNet8();
      settleBatchNorm(m, [8, 3, 32, 32], 3);
      return m;
    },
    sample: [3, 32, 32],
    batches: [1, 2, 3, 5, 64],
  },
  { name: 'broadcasting arithmetic in forward (SE gating, per-channel scale/shift, constants)', make: () => (manualSeed(4), new Broadcasting()), sample: [3, 9, 7], batches: [1, 2, 3, 64] },
  { name: 'batch statistics in forward (one plan per batch size)', make: () => (manualSeed(5), new BatchCentred()), sample: [3, 2, 2], batches: [1, 2, 3, 4, 9] },
  { name: 'reductions (max, argmax, max over a dim, sums, means), comparisons, clamps, maths, tensors created in forward', make: () => (manualSeed(15), new Reductions()), sample: [2, 3], batches: [1, 2, 3, 5] },
  {
    name: 'Inception-style block (four branches with BatchNorm, concatenated over channels)',
    make: () => {
      manualSeed(7);
      const m = new Inception();
      settleBatchNorm(m, [4, 3, 12, 12], 8);
      return m;
    },
    sample: [3, 12, 12],
    batches: [1, 2, 3, 64],
  },
  { name: 'channel slicing and indexing (narrow, slice, select, index, indexSelect, gather of argmax, where, stack, chunk, split, unbind, cat)', make: () => (manualSeed(9), new Slicing()), sample: [2, 5, 4], batches: [1, 2, 3, 64] },
  { name: 'the eager fused F.conv2dReluMaxPool2d (with and without ReLU, odd planes)', make: () => (manualSeed(16), new FusedConvPool()), sample: [1, 17, 17], batches: [1, 2, 3, 64] },
  { name: 'padding modes, F.pad in every mode (cropping included), transposed convolutions 1-d to 3-d', make: () => (manualSeed(18), new EncoderDecoder()), sample: [2, 11, 9], batches: [1, 2, 3, 17] },
  { name: 'dilated and ceil-mode max pools, divisorOverride, adaptive max 1-d to 3-d and adaptive avg 3-d pools', make: () => (manualSeed(19), new Pools()), sample: [2, 9, 8], batches: [1, 2, 3, 17] },
  { name: 'permute, batched matmul and softmax (self-attention)', make: () => (manualSeed(6), new Attention()), sample: [3, 5, 4], batches: [1, 2, 3, 7] },
];

describe('custom Modules compile and match the eager forward bitwise', () => {
  for (const c of CASES)
    it(c.name, async () => {
      const model = c.make();
      const session = new InferenceSession(model, { inputShape: c.sample });
      for (const threads of [1, 2]) {
        setNumThreads(threads);
        for (const N of c.batches) {
          manualSeed(100 + N);
          const x = randn([N, ...c.sample]);
          const want = eager(model, x);
          expectBitwise(session.runSync(x), want, `runSync, batch ${N}, ${threads} thread(s)`);
          expectBitwise(await session.run(x), want, `run, batch ${N}, ${threads} thread(s)`);
          expectBitwise(await session.run(x.data(), [N, ...c.sample]), want, `run(Float32Array), batch ${N}`);
          expectBitwise(await model.forwardAsync(x), want, `forwardAsync, batch ${N}, ${threads} thread(s)`);
        }
      }
      setNumThreads(threadsBefore);
      session.dispose();
    });

  it('control flow on the input shape: each shape is traced with its own branch', async () => {
    manualSeed(7);
    const model = new ShapeBranch();
    const session = new InferenceSession(model);
    for (const hw of [8, 20, 33]) {
      const x = randn([3, 2, hw, hw]);
      expectBitwise(await session.run(x), eager(model, x), `${hw}×${hw}`);
    }
    expect(session.explain([2, 20, 20])).toMatch(/maxPool/);
    expect(session.explain([2, 8, 8])).not.toMatch(/maxPool/);
  });

  it('a model used in two places (shared weights) and nested Sequentials', async () => {
    manualSeed(8);
    const block = new BasicBlock(4, 4);
    settleBatchNorm(block, [4, 4, 6, 6], 9);
    class Twice extends nn.Module {
      head = new nn.Sequential(new nn.Conv2d(2, 4, 1), new nn.Sequential(new nn.LeakyReLU(0.2)));
      block = block;
      forward(x: Tensor): Tensor {
        return this.block.forward(this.block.forward(this.head.forward(x)));
      }
    }
    const model = new Twice().eval();
    const x = randn([3, 2, 6, 6]);
    const session = new InferenceSession(model);
    expectBitwise(await session.run(x), eager(model, x), 'run');
    expect(session.weightBytes).toBe(model.parameters().concat(model.namedBuffers().map(([, b]) => b)).reduce((a, t) => a + t.numel * 4, 0));
  });
});

describe('fusion', () => {
  it('ResNet blocks run as fused conv steps: conv + batch norm (+ residual add) + ReLU', () => {
    manualSeed(10);
    const model = new ResNet8();
    settleBatchNorm(model, [4, 3, 32, 32], 11);
    const plan = new InferenceSession(model).explain([3, 32, 32]);
    const lines = plan.split('\n');
    expect(lines.filter((l) => /^conv \+ batchNorm \+ relu /.test(l)).length, plan).toBe(4); // stem and each block's first conv
    expect(lines.filter((l) => /^conv \+ batchNorm \+ add \+ relu /.test(l)).length, plan).toBe(3); // each block's second conv with its shortcut
    expect(lines.some((l) => /^batchNorm /.test(l)), 'no batch norm left unfused').toBe(false);
    expect(lines.some((l) => /^binary /.test(l)), 'no residual add left unfused').toBe(false);
  });

  it('MNIST Net: conv + ReLU, conv + ReLU + max pool, linear + ReLU, with ReLU kept before the pool', () => {
    manualSeed(12);
    const plan = new InferenceSession(new MnistNet()).explain([1, 28, 28]);
    expect(plan.split('\n').map((l) => l.split(' [')[0])).toEqual(['conv + relu', 'conv + relu + maxPool', 'linear + relu', 'linear', 'softmax']);
  });

  it('F.conv2dReluMaxPool2d compiles to one fused conv step each', () => {
    manualSeed(17);
    const plan = new InferenceSession(new FusedConvPool()).explain([1, 17, 17]);
    expect(plan.split('\n').map((l) => l.split(' [')[0])).toEqual(['conv + relu + maxPool', 'conv + maxPool', 'linear']);
  });

  it('a dilated max pool after a conv stays a step of its own (an epilogue pool has no dilation)', () => {
    manualSeed(20);
    const steps = new InferenceSession(new Pools()).explain([2, 9, 8]).split('\n').map((l) => l.split(' [')[0]);
    expect(steps.slice(0, 2)).toEqual(['conv', 'maxPool']);
  });

  it('foldBatchNorm folds batch norm into the conv weights: within 1e-5 of eager (relative to the output scale), fewer epilogue ops', async () => {
    manualSeed(13);
    const model = new ResNet8();
    settleBatchNorm(model, [4, 3, 32, 32], 14);
    const folded = new InferenceSession(model, { foldBatchNorm: true });
    expect(folded.explain([3, 32, 32])).not.toMatch(/batchNorm/);
    for (const N of [1, 4]) {
      const x = randn([N, 3, 32, 32]);
      const want = eager(model, x).data(), got = (await folded.run(x)).data();
      const scale = want.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i]), `element ${i}`).toBeLessThanOrEqual(1e-5 * scale);
    }
    // the folded weights live in the store once, next to the originals
    const plain = new InferenceSession(model);
    expect(folded.weightBytes).toBeGreaterThan(plain.weightBytes);
  });
});
