// Serving lifecycle: what a session holds and for how long (one copy of the
// weights, a bounded plan cache, deterministic frees), what forwardAsync
// notices (replaced layers and parameters, not only in-place updates), that a
// new input shape runs no kernel on the event loop, and that a worker thread
// dying with runs in flight leaves the process running.
import { describe, it, expect } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Tensor, randn, zeros, manualSeed, noGrad, nn, models, save, optim, InferenceSession } from '../../src';
import { native } from '../../src/native';
import { expectBitwise } from '../helpers';
import { runNode } from '../helpers/child';
import { ResNet8, settleBatchNorm } from './models';

const F = nn.functional;

function eager(model: nn.Module, x: Tensor): Tensor {
  model.eval();
  return noGrad(() => model.forward(x));
}

/** Any spatial size: conv, ReLU, global average pool, linear. */
class AnySize extends nn.Module {
  conv = new nn.Conv2d(3, 8, 3, { padding: 1 });
  fc = new nn.Linear(8, 4);
  forward(x: Tensor): Tensor {
    return this.fc.forward(F.globalAvgPool2d(F.relu(this.conv.forward(x)), false));
  }
}

describe('weights and plans', () => {
  it('one copy of the weights serves every input shape; the plan cache is bounded by maxPlans', async () => {
    manualSeed(1);
    const model = new AnySize();
    const session = new InferenceSession(model, { maxPlans: 3 });
    const bytes = session.weightBytes;
    expect(bytes).toBe((8 * 3 * 9 + 8 + 4 * 8 + 4) * 4);
    for (const hw of [4, 5, 6, 7, 8, 9, 10, 11, 4, 5]) {
      const x = randn([2, 3, hw, hw]);
      expectBitwise(await session.run(x), eager(model, x), `${hw}×${hw}`);
      expect(session.planCount).toBeLessThanOrEqual(3);
      expect(session.weightBytes).toBe(bytes);
    }
  });

  it('a batch-polymorphic shape needs two plans (batch 1 and batch >= 2) whatever the batch sizes seen', async () => {
    const session = new InferenceSession(new AnySize());
    for (const N of [1, 2, 3, 5, 8, 13, 31, 64]) (await session.run(randn([N, 3, 6, 6]))).dispose();
    expect(session.planCount).toBe(2);
  });

  it('dispose() frees the weights at once; runs already in flight still resolve with the right values', async () => {
    manualSeed(2);
    const model = models.LeNet().eval();
    const session = new InferenceSession(model, { inputShape: [1, 28, 28] });
    const x = randn([16, 1, 28, 28]);
    const want = eager(model, x);
    const before = native.memoryInfo().liveBytes;
    const pending = Array.from({ length: 8 }, () => session.run(x));
    session.dispose();
    for (const p of pending) expectBitwise(await p, want, 'in flight at dispose');
    await expect(session.run(x)).rejects.toThrow(/the session was disposed/);
    // the store's 61,706 floats are no longer live
    expect(native.memoryInfo().liveBytes).toBeLessThan(before);
  });

  it('a session snapshots the weights: training the model afterwards does not change it', async () => {
    manualSeed(3);
    const model = models.LeNet();
    const x = randn([4, 1, 28, 28]);
    const want = eager(model, x);
    const session = new InferenceSession(model, { inputShape: [1, 28, 28] });
    const opt = new optim.SGD(model.parameters(), { lr: 0.1 });
    model.train();
    F.crossEntropy(model.forward(randn([8, 1, 28, 28])), [0, 1, 2, 3, 4, 5, 6, 7]).backward();
    opt.step();
    expectBitwise(await session.run(x), want, 'after an optimizer step');
    // a batch size compiled only now (a fixed-batch plan, traced after the step) still uses the snapshot
    expectBitwise(session.runSync(x.reshape(4, 1, 28, 28)), want, 'runSync after the step');
  });

  it('a session refuses to compile a new shape once a layer has been replaced (naming it), and keeps serving compiled shapes', async () => {
    manualSeed(4);
    const model = new AnySize();
    const session = new InferenceSession(model);
    const x = randn([2, 3, 5, 5]);
    const want = eager(model, x);
    expectBitwise(await session.run(x), want, 'before');
    model.fc = new nn.Linear(8, 4);
    expectBitwise(await session.run(x), want, 'a compiled shape keeps its snapshot');
    await expect(session.run(randn([2, 3, 6, 6]))).rejects.toThrow(/uses 'fc\.weight', which is not the tensor the model held when the session was created/);
  });
});

describe('forwardAsync follows the model', () => {
  it('after model[0] = new nn.Linear(...) it serves the new layer', async () => {
    manualSeed(5);
    const model = new nn.Sequential(new nn.Linear(6, 5), new nn.ReLU(), new nn.Linear(5, 3)).eval();
    const x = randn([4, 6]);
    expectBitwise(await model.forwardAsync(x), eager(model, x), 'before');
    model[0] = new nn.Linear(6, 5);
    expectBitwise(await model.forwardAsync(x), eager(model, x), 'after replacing layer 0');
  });

  it('after a parameter is replaced, loadStateDict, or an in-place update', async () => {
    manualSeed(6);
    const model = new AnySize().eval();
    const x = randn([3, 3, 5, 5]);
    expectBitwise(await model.forwardAsync(x), eager(model, x), 'initial');
    model.fc.weight = nn.Parameter(randn([4, 8]));
    expectBitwise(await model.forwardAsync(x), eager(model, x), 'replaced fc.weight');
    const other = new AnySize();
    model.loadStateDict(other.stateDict());
    expectBitwise(await model.forwardAsync(x), eager(model, x), 'loadStateDict');
    noGrad(() => model.conv.bias!.fill_(0.5));
    expectBitwise(await model.forwardAsync(x), eager(model, x), 'fill_ on a bias');
  });

  it('ResNet-8 in eval mode; rejects in training mode (BatchNorm) until eval()', async () => {
    manualSeed(7);
    const model = new ResNet8();
    settleBatchNorm(model, [4, 3, 32, 32], 8);
    const x = randn([2, 3, 32, 32]);
    expectBitwise(await model.forwardAsync(x), eager(model, x), 'eval');
    model.train();
    await expect(model.forwardAsync(x)).rejects.toThrow(/training mode and has BatchNorm2d/);
    model.eval();
    expectBitwise(await model.forwardAsync(x), eager(model, x), 'eval again');
  });
});

describe('a new input shape costs the event loop a trace, not a forward', () => {
  it('compiling and running a 512×512 input calls no kernel on the calling thread', async () => {
    manualSeed(9);
    const model = new AnySize();
    const session = new InferenceSession(model);
    const kernels = ['convForward', 'linear', 'maxPoolForward', 'avgPoolForward', 'adaptiveAvgPool', 'unary', 'binary', 'batchNormForward', 'matmul', 'softmax'] as const;
    const calls: Record<string, number> = {};
    const saved = new Map<string, unknown>();
    const addon = native as unknown as Record<string, (...a: unknown[]) => unknown>;
    for (const k of kernels) {
      const f = addon[k];
      saved.set(k, f);
      calls[k] = 0;
      addon[k] = (...a: unknown[]) => {
        calls[k]++;
        return f.apply(native, a);
      };
    }
    let y: Tensor;
    try {
      y = await session.run(zeros([1, 3, 512, 512]));
    } finally {
      for (const [k, f] of saved) addon[k] = f as (...a: unknown[]) => unknown;
    }
    expect(calls, 'kernels the compile or the run called from JavaScript').toEqual(Object.fromEntries(kernels.map((k) => [k, 0])));
    expectBitwise(y, eager(model, zeros([1, 3, 512, 512])), 'result');
  });
});

describe('worker threads that end with runs in flight', () => {
  const script = (mode: 'terminate' | 'exit') => `
const { Worker } = require('node:worker_threads');
const code = \`
const b = require(${JSON.stringify(path.resolve(__dirname, '..', '..', 'dist'))});
const { parentPort } = require('node:worker_threads');
const s = new b.InferenceSession(b.models.LeNet().eval());
const x = b.randn([64, 1, 28, 28]);
for (let i = 0; i < 200; i++) s.run(x).then((y) => y.dispose());
parentPort.postMessage('submitted');
${mode === 'exit' ? 'process.exit(0);' : 'setInterval(() => {}, 1000);'}
\`;
(async () => {
  for (let round = 0; round < 6; round++) {
    const w = new Worker(code, { eval: true });
    ${mode === 'terminate' ? "await new Promise((r) => w.once('message', r));\n    await w.terminate();" : "await new Promise((r) => w.once('exit', r));"}
  }
  // the main thread still serves
  const s = new blasnet.InferenceSession(blasnet.models.LeNet().eval());
  const y = await s.run(blasnet.randn([3, 1, 28, 28]));
  console.log(JSON.stringify({ ok: true, shape: y.shape }));
})();
`;
  for (const mode of ['terminate', 'exit'] as const)
    it(`worker.${mode === 'terminate' ? 'terminate()' : 'process.exit()'} with 200 runs in flight, 6 times: the process keeps running`, () => {
      const r = runNode(script(mode), { timeout: 120_000 });
      expect(r.stderr, 'no abort').not.toMatch(/terminate called|Napi::Error|Abort/);
      expect(r.signal, r.stderr).toBeNull();
      expect(r.status, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout.trim().split('\n').pop()!)).toEqual({ ok: true, shape: [3, 10] });
    }, 150_000);
});

describe('load and dispose free deterministically', () => {
  it('400 synchronous InferenceSession.load + dispose cycles after 300 warm-up ones keep RSS flat, with and without a model (child process)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-load-'));
    try {
      const lenet = path.join(dir, 'lenet.safetensors'), bn = path.join(dir, 'bn.safetensors');
      manualSeed(10);
      save(models.LeNet().stateDict(), lenet, { variant: 'modern' });
      const make = () => new nn.Sequential(new nn.Conv2d(3, 32, 3, { padding: 1 }), new nn.BatchNorm2d(32), new nn.ReLU(), new nn.GlobalAvgPool2d(), new nn.Flatten(), new nn.Linear(32, 10));
      save(make().stateDict(), bn);
      const r = runNode(`
const { nn } = blasnet;
const make = () => new nn.Sequential(new nn.Conv2d(3, 32, 3, { padding: 1 }), new nn.BatchNorm2d(32), new nn.ReLU(), new nn.GlobalAvgPool2d(), new nn.Flatten(), new nn.Linear(32, 10));
const model = make();
const cycle = () => {
  const a = blasnet.InferenceSession.load(${JSON.stringify(lenet)});
  const x1 = blasnet.zeros([1, 1, 28, 28]), x2 = blasnet.zeros([2, 3, 16, 16]);
  a.runSync(x1).dispose();
  a.dispose();
  const b = blasnet.InferenceSession.load(${JSON.stringify(bn)}, { model, inputShape: [3, 16, 16] });
  b.runSync(x2).dispose();
  b.dispose();
  x1.dispose();
  x2.dispose();
};
for (let i = 0; i < 300; i++) cycle(); // RSS settles after ~300 (malloc arenas for the file buffers)
gc();
// RSS outside V8's heap: V8 grows its young generation in steps of 16 MiB as it sees the allocation rate,
// which is not what this checks (the JS heap in use stays flat; a leak of weights or plans would not)
const outsideHeap = () => { const u = process.memoryUsage(); return u.rss - u.heapTotal; };
const warm = outsideHeap(), live0 = blasnet.memoryInfo().liveBytes;
for (let i = 0; i < 400; i++) cycle();
gc();
console.log(JSON.stringify({ warm, end: outsideHeap(), live0, live: blasnet.memoryInfo().liveBytes }));
`, { args: ['--expose-gc'], timeout: 150_000 });
      expect(r.status, r.stderr).toBe(0);
      const { warm, end, live0, live } = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, number>;
      expect(live, 'native bytes still live after the cycles').toBe(live0);
      // glibc and V8 grow in steps of a few MiB whatever the workload; a leak of the weights or of the plans
      // would be 400 × ≥ 250 KB ≈ 100 MB here
      expect(end - warm, `RSS outside the V8 heap ${warm} → ${end}`).toBeLessThan(24 * 2 ** 20);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
