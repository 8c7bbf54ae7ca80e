// Serving: InferenceSession / Module.forwardAsync against the synchronous eval
// forward (bitwise), concurrency, input snapshots, errors, and native thread
// safety (training and serving in parallel worker_threads, OpenBLAS sgemm from
// several threads at once).
//
// The worker_threads tests load ./dist (the compiled package, as a user would):
// `npm test` runs `npm run build:ts` first.
import { describe, it, expect, beforeAll } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { Tensor, tensor, zeros, randn, manualSeed, noGrad, tidy, nn, optim, models, save, InferenceSession, getNumThreads } from '../../src';
import { makeRng as rng, bytesOf as bytes, expectBitwise } from '../helpers';

const ROOT = path.resolve(__dirname, '..', '..');
const DIST = path.join(ROOT, 'dist', 'index.js');

/** The reference: eval mode, no grad, on the calling thread. */
function syncForward(model: nn.Module, x: Tensor): Tensor {
  model.eval();
  return noGrad(() => model.forward(x));
}

/** A small convnet with BatchNorm2d and Dropout, its running statistics moved off their init by training-mode passes. */
function smallConvNet(seed: number): nn.Sequential {
  manualSeed(seed);
  const m = new nn.Sequential(
    new nn.Conv2d(1, 8, 3, { padding: 1 }), new nn.BatchNorm2d(8), new nn.ReLU(), new nn.MaxPool2d(2),
    new nn.Conv2d(8, 16, 3), new nn.BatchNorm2d(16), new nn.ReLU(), new nn.AvgPool2d(2),
    new nn.Dropout(0.3), new nn.Flatten(), new nn.Linear(16 * 6 * 6, 32), new nn.ReLU(), new nn.Dropout(0.5), new nn.Linear(32, 10),
  );
  noGrad(() => {
    for (const [, p] of m.namedParameters()) if (p.ndim === 1) p.copy_(tidy(() => randn([p.numel]).mul(0.5).add(1)));
    m.train();
    for (let i = 0; i < 5; i++) tidy(() => m.forward(randn([16, 1, 28, 28], 0.3, 1.5)));
  });
  return m.eval();
}

const MODELS: [string, () => nn.Sequential][] = [
  ['LeNet modern', () => (manualSeed(11), models.LeNet({ variant: 'modern' }))],
  ['LeNet classic', () => (manualSeed(12), models.LeNet({ variant: 'classic' }))],
  ['convnet with BatchNorm2d and Dropout', () => smallConvNet(13)],
];

// ---------------------------------------------------------------------------

describe('InferenceSession and forwardAsync are bitwise identical to the eval forward', () => {
  for (const [name, make] of MODELS)
    for (const N of [1, 3, 64, 257])
      it(`${name}, batch ${N}`, async () => {
        const model = make().eval();
        manualSeed(100 + N);
        const x = randn([N, 1, 28, 28]);
        const want = syncForward(model, x);
        const session = new InferenceSession(model);
        const viaRun = await session.run(x);
        const viaRunSync = session.runSync(x);
        const viaForwardAsync = await model.forwardAsync(x);
        const viaFloat32 = await session.run(x.data(), [N, 1, 28, 28]);
        expectBitwise(viaRun, want, 'run');
        expectBitwise(viaRunSync, want, 'runSync');
        expectBitwise(viaForwardAsync, want, 'forwardAsync');
        expectBitwise(viaFloat32, want, 'run(Float32Array)');
        expect(model.training, 'the model is left in eval mode').toBe(false);
        for (const t of [x, want, viaRun, viaRunSync, viaForwardAsync, viaFloat32]) t.dispose();
        model.dispose();
      });

  it('a BatchNorm2d channel with (near-)zero running variance gives the same bits (eval forward vs plan)', async () => {
    // A dead channel (always 0 before the norm) decays its running variance towards 0.
    manualSeed(21);
    const bn = new nn.BatchNorm2d(4);
    const model = new nn.Sequential(new nn.Conv2d(1, 4, 3), bn, new nn.ReLU(), new nn.Flatten(), new nn.Linear(4 * 26 * 26, 10)).eval();
    noGrad(() => {
      bn.runningVar!.copy_(tensor([0, 1e-7, 3e-6, 0.8]));
      bn.runningMean!.copy_(tensor([0.1, -0.2, 0.3, 0]));
    });
    const x = randn([5, 1, 28, 28]);
    const want = syncForward(model, x);
    const session = new InferenceSession(model);
    expectBitwise(session.runSync(x), want, 'runSync');
    expectBitwise(await session.run(x), want, 'run');
    expectBitwise(await model.forwardAsync(x), want, 'forwardAsync');
  });

  it('forwardAsync follows the weights: after optimizer steps it equals the new eval forward', async () => {
    manualSeed(31);
    const model = models.LeNet();
    const opt = new optim.SGD(model.parameters(), { lr: 0.05, momentum: 0.9 });
    const x = randn([4, 1, 28, 28]);
    const before = await model.eval().forwardAsync(x);
    for (let i = 0; i < 3; i++)
      tidy(() => {
        model.train();
        opt.zeroGrad();
        nn.functional.crossEntropy(model.forward(randn([8, 1, 28, 28])), [0, 1, 2, 3, 4, 5, 6, 7]).backward();
        opt.step();
      });
    model.eval();
    const after = await model.forwardAsync(x);
    expectBitwise(after, syncForward(model, x), 'after training');
    expect(bytes(after.data()).equals(bytes(before.data())), 'the output changed with the weights').toBe(false);
  });
});

describe('concurrency', () => {
  it('1000 concurrent forwardAsync calls on mixed batch sizes (1..32) each return the sync result for their own input', async () => {
    const model = models.LeNet({ variant: 'modern' });
    manualSeed(7);
    const r = rng(2024);
    const inputs: Tensor[] = [], expected: Float32Array[] = [];
    for (let i = 0; i < 1000; i++) {
      const N = 1 + Math.floor(r() * 32);
      const x = randn([N, 1, 28, 28]);
      inputs.push(x);
      const y = syncForward(model, x);
      expected.push(y.data());
      y.dispose();
    }
    const pending = inputs.map((x) => model.forwardAsync(x)); // all 1000 in flight at once
    const outs = await Promise.all(pending);
    let bad = 0;
    const msgs: string[] = [];
    outs.forEach((y, i) => {
      expect(y.shape).toEqual([inputs[i].shape[0], 10]);
      if (!bytes(y.data()).equals(bytes(expected[i]))) {
        bad++;
        if (msgs.length < 5) msgs.push(`call ${i} (batch ${inputs[i].shape[0]})`);
      }
      y.dispose();
    });
    expect(bad, `mismatching calls: ${msgs.join(', ')}`).toBe(0);
    inputs.forEach((x) => x.dispose());
  });

  it('run() on one session from many callers at once, interleaved with runSync, matches runSync', async () => {
    const model = smallConvNet(5);
    const session = new InferenceSession(model);
    const xs = Array.from({ length: 40 }, (_, i) => randn([1 + (i % 9), 1, 28, 28]));
    const want = xs.map((x) => session.runSync(x).data());
    const pending = xs.map((x) => session.run(x));
    xs.forEach((x, i) => expectBitwise(session.runSync(x), want[i], `runSync ${i} while runs are in flight`));
    (await Promise.all(pending)).forEach((y, i) => expectBitwise(y, want[i], `run ${i}`));
  });
});

describe('the input is snapshotted when run() is called', () => {
  it('mutating the input tensor right after run() does not change the result', async () => {
    const model = models.LeNet();
    const session = new InferenceSession(model.eval());
    const x = randn([16, 1, 28, 28]);
    const want = syncForward(model, x);
    const p1 = session.run(x);
    x.fill_(123);
    const p2 = model.forwardAsync(x);
    const wantFilled = syncForward(model, x);
    x.zero_();
    expectBitwise(await p1, want, 'run, then fill_');
    expectBitwise(await p2, wantFilled, 'forwardAsync, then zero_');
  });

  it('disposing the input tensor right after run() / forwardAsync() does not change the result', async () => {
    const model = models.LeNet({ variant: 'classic' }).eval();
    const session = new InferenceSession(model);
    const results: Promise<Tensor>[] = [], wants: Float32Array[] = [];
    for (let i = 0; i < 20; i++) {
      const x = randn([1 + i, 1, 28, 28]);
      const w = syncForward(model, x);
      wants.push(w.data());
      w.dispose();
      results.push(i % 2 ? session.run(x) : model.forwardAsync(x));
      x.dispose();
      // churn the allocator so a freed input buffer would be reused and overwritten
      tidy(() => randn([1 + i, 1, 28, 28]).mul(-7));
    }
    (await Promise.all(results)).forEach((y, i) => expectBitwise(y, wants[i], `call ${i}`));
  });

  it('changing a Float32Array input right after run(array, shape) does not change the result', async () => {
    const model = models.LeNet().eval();
    const session = new InferenceSession(model);
    const a = randn([3, 1, 28, 28]).data();
    const want = syncForward(model, tensor(a, [3, 1, 28, 28]));
    const p = session.run(a, [3, 1, 28, 28]);
    a.fill(-5);
    expectBitwise(await p, want, 'run(Float32Array)');
  });
});

describe('runSync equals run', () => {
  it('for every model and several batch sizes', async () => {
    for (const [name, make] of MODELS) {
      const session = new InferenceSession(make());
      for (const N of [1, 2, 5, 33]) {
        const x = randn([N, 1, 28, 28]);
        expectBitwise(session.runSync(x), await session.run(x), `${name} batch ${N}`);
      }
    }
  });

  it('InferenceSession.load(checkpoint) matches a model loaded from the same file', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-serving-'));
    try {
      const file = path.join(dir, 'model.safetensors');
      manualSeed(3);
      const model = models.LeNet({ variant: 'classic' });
      save(model.stateDict(), file, { variant: 'classic' });
      const session = InferenceSession.load(file);
      const x = randn([7, 1, 28, 28]);
      const want = syncForward(model, x);
      expectBitwise(session.runSync(x), want, 'runSync');
      expectBitwise(await session.run(x), want, 'run');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('errors', () => {
  class Net extends nn.Module {
    fc = new nn.Linear(784, 10);
    forward(x: Tensor): Tensor {
      return this.fc.forward(x.flatten(1));
    }
  }
  class Square extends nn.Module {
    forward(x: Tensor): Tensor {
      return x.mul(x);
    }
  }

  it('a custom (non-Sequential) module compiles: run, runSync and forwardAsync equal its eval forward', async () => {
    const net = new Net().eval();
    const x = randn([2, 1, 28, 28]);
    const want = syncForward(net, x);
    const session = new InferenceSession(net);
    expectBitwise(await session.run(x), want, 'run');
    expectBitwise(session.runSync(x), want, 'runSync');
    expectBitwise(await net.forwardAsync(x), want, 'forwardAsync');
  });

  it('a custom leaf layer inside a Sequential compiles (its forward is traced like any other)', async () => {
    const model = new nn.Sequential(new nn.Flatten(), new Square(), new nn.Linear(784, 10)).eval();
    const x = randn([3, 1, 28, 28]);
    const want = syncForward(model, x);
    const session = new InferenceSession(model);
    expectBitwise(await session.run(x), want, 'run');
    expectBitwise(await model.forwardAsync(x), want, 'forwardAsync');
    expectBitwise(session.runSync(x), want, 'runSync');
  });

  it('a wrong input shape rejects with an Error and the process keeps serving', async () => {
    const model = models.LeNet().eval();
    const session = new InferenceSession(model);
    const good = randn([2, 1, 28, 28]);
    const want = syncForward(model, good);
    const bad: [string, () => Promise<Tensor>][] = [
      ['3 channels', () => session.run(randn([2, 3, 28, 28]))],
      ['32x32', () => session.run(randn([2, 1, 32, 32]))],
      ['no batch dim', () => session.run(randn([1, 28, 28]))],
      ['rank 2', () => session.run(randn([2, 784]))],
      ['batch 0', () => session.run(zeros([0, 1, 28, 28]))],
      ['scalar', () => session.run(tensor(1))],
      ['Float32Array with a wrong shape', () => session.run(new Float32Array(784), [2, 1, 28, 28])],
      ['Float32Array without a shape', () => session.run(new Float32Array(784))],
      ['a number', () => session.run(42 as unknown as Tensor)],
      ['null', () => session.run(null as unknown as Tensor)],
      ['forwardAsync 3 channels', () => model.forwardAsync(randn([2, 3, 28, 28]))],
      ['forwardAsync 14x14', () => model.forwardAsync(randn([2, 1, 14, 14]))],
    ];
    for (const [label, call] of bad) {
      let p: Promise<Tensor>;
      try {
        p = call();
      } catch (e) {
        throw new Error(`${label}: threw synchronously instead of returning a rejected Promise: ${(e as Error).message}`);
      }
      const err = await p.then(
        () => null,
        (e: unknown) => e,
      );
      expect(err, label).toBeInstanceOf(Error);
      expect(() => session.runSync(randn([2, 3, 28, 28]))).toThrow(Error);
    }
    // still alive and still right
    expectBitwise(await session.run(good), want, 'after the errors');
    expectBitwise(await model.forwardAsync(good), want, 'forwardAsync after the errors');
  });

  it('a disposed input rejects with an Error mentioning "disposed"', async () => {
    const session = new InferenceSession(models.LeNet().eval());
    const x = randn([1, 1, 28, 28]);
    x.dispose();
    await expect(session.run(x)).rejects.toThrow(/disposed/);
    expect(() => session.runSync(x)).toThrow(/disposed/);
  });

  it('a model in training mode with Dropout: forwardAsync rejects with a message mentioning eval()', async () => {
    const model = smallConvNet(9).train();
    const p = model.forwardAsync(randn([2, 1, 28, 28]));
    await expect(p).rejects.toThrow(/eval\(\)/);
    await p.catch((e) => expect(e).toBeInstanceOf(Error));
    const dropoutOnly = new nn.Sequential(new nn.Flatten(), new nn.Dropout(0.5), new nn.Linear(784, 10)); // training by default
    await expect(dropoutOnly.forwardAsync(randn([2, 1, 28, 28]))).rejects.toThrow(/eval\(\)/);
    model.eval();
    const x = randn([2, 1, 28, 28]);
    expectBitwise(await model.forwardAsync(x), syncForward(model, x), 'after eval()');
  });
});

// ---------------------------------------------------------------------------
// worker_threads

interface WorkerResult {
  code: number;
  messages: Record<string, unknown>[];
  error?: Error;
}

function runWorker(code: string, workerData: unknown): Promise<WorkerResult> {
  return new Promise((resolve) => {
    const w = new Worker(code, { eval: true, workerData, stdout: false, stderr: false });
    const messages: Record<string, unknown>[] = [];
    let error: Error | undefined;
    w.on('message', (m) => messages.push(m));
    w.on('error', (e) => (error = e));
    w.on('exit', (code) => resolve({ code, messages, error }));
  });
}

const TRAIN_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const b = require(workerData.dist);
b.manualSeed(1);
const model = b.models.LeNet();
const opt = new b.optim.SGD(model.parameters(), { lr: 0.02, momentum: 0.9 });
const losses = [];
for (let step = 0; step < workerData.steps; step++) {
  b.tidy(() => {
    opt.zeroGrad();
    const x = b.randn([32, 1, 28, 28]);
    const y = Int32Array.from({ length: 32 }, (_, k) => (k * 7 + step) % 10);
    const loss = b.nn.functional.crossEntropy(model.forward(x), y);
    loss.backward();
    opt.step();
    losses.push(loss.item());
  });
}
if (!losses.every(Number.isFinite)) throw new Error('non-finite loss: ' + losses.join(','));
parentPort.postMessage({ role: 'train', steps: losses.length, first: losses[0], last: losses[losses.length - 1] });
`;

const SERVE_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const b = require(workerData.dist);
b.manualSeed(2);
const model = b.models.LeNet({ variant: workerData.variant }).eval();
const session = new b.InferenceSession(model);
const x = b.randn([workerData.batch, 1, 28, 28]);
const first = Buffer.from(session.runSync(x).data().buffer);
(async () => {
  let mismatches = 0;
  for (let i = 0; i < workerData.calls; i++) {
    const y = i % 2 ? await session.run(x) : session.runSync(x);
    if (!Buffer.from(y.data().buffer).equals(first)) mismatches++;
    y.dispose();
  }
  parentPort.postMessage({ role: 'serve', calls: workerData.calls, mismatches });
})().catch((e) => { throw e; });
`;

const MATMUL_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const b = require(workerData.dist);
let r = workerData.seed >>> 0;
const rnd = () => { r = (r + 0x6d2b79f5) >>> 0; let t = r; t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
const tensors = workerData.cases.map((c) => [b.tensor(c.a, c.aShape), b.tensor(c.b, c.bShape)]);
let runs = 0; const bad = [];
for (let rep = 0; rep < workerData.reps; rep++) {
  const order = workerData.cases.map((_, i) => i);
  for (let i = order.length - 1; i > 0; i--) { const j = Math.floor(rnd() * (i + 1)); [order[i], order[j]] = [order[j], order[i]]; }
  for (const i of order) {
    const y = tensors[i][0].matmul(tensors[i][1]);
    const got = Buffer.from(y.data().buffer);
    y.dispose();
    runs++;
    if (!got.equals(Buffer.from(workerData.cases[i].want.buffer))) bad.push(workerData.cases[i].name);
  }
}
parentPort.postMessage({ runs, bad });
`;

describe('worker_threads', () => {
  beforeAll(() => {
    if (!fs.existsSync(DIST)) throw new Error(`${DIST} is missing: run \`npm run build:ts\` first`);
  });

  it('training in one worker_thread while another serves inference works', async () => {
    const [train, serve] = await Promise.all([
      runWorker(TRAIN_WORKER, { dist: DIST, steps: 50 }),
      runWorker(SERVE_WORKER, { dist: DIST, calls: 200, batch: 8, variant: 'modern' }),
    ]);
    expect(train.error, String(train.error?.stack)).toBeUndefined();
    expect(serve.error, String(serve.error?.stack)).toBeUndefined();
    expect(train.code).toBe(0);
    expect(serve.code).toBe(0);
    expect(train.messages).toHaveLength(1);
    expect(train.messages[0].steps).toBe(50);
    expect(serve.messages).toEqual([{ role: 'serve', calls: 200, mismatches: 0 }]);
  });

  it('OpenBLAS sgemm from 4 worker_threads at once (incl. pool-split 512x512) is bitwise equal to the main thread', async () => {
    // [name, a shape, b shape]; 512x512x512 and the 1xKxN / MxKx1 shapes are big enough to be split into panels over the pool
    const shapes: [string, number[], number[]][] = [
      ['1x1x1', [1, 1], [1, 1]],
      ['3x5x7', [3, 5], [5, 7]],
      ['17x33x9', [17, 33], [33, 9]],
      ['64x64x64', [64, 64], [64, 64]],
      ['128x256x64', [128, 256], [256, 64]],
      ['200x784x120', [200, 784], [784, 120]],
      ['257x129x513', [257, 129], [129, 513]],
      ['512x512x512', [512, 512], [512, 512]],
      ['1x4096x1024', [1, 4096], [4096, 1024]],
      ['1024x4096x1', [1024, 4096], [4096, 1]],
      ['batched 8x64x128x32', [8, 64, 128], [8, 128, 32]],
      ['broadcast 4x256x256 @ 256x256', [4, 256, 256], [256, 256]],
    ];
    manualSeed(77);
    const cases = shapes.map(([name, aShape, bShape]) => {
      const a = randn(aShape), bb = randn(bShape);
      const y = a.matmul(bb);
      const c = { name, aShape, bShape, a: a.data(), b: bb.data(), want: y.data() };
      a.dispose(), bb.dispose(), y.dispose();
      return c;
    });
    const results = Promise.all([0, 1, 2, 3].map((k) => runWorker(MATMUL_WORKER, { dist: DIST, seed: 1000 + k, reps: 3, cases })));
    // the main thread keeps multiplying too, while the workers run
    const mainBad: string[] = [];
    const ts = cases.map((c) => [tensor(c.a, c.aShape), tensor(c.b, c.bShape)]);
    for (let rep = 0; rep < 2; rep++)
      ts.forEach(([a, bb], i) => {
        const y = a.matmul(bb);
        if (!bytes(y.data()).equals(bytes(cases[i].want))) mainBad.push(cases[i].name);
        y.dispose();
      });
    const out = await results;
    expect(getNumThreads()).toBeGreaterThanOrEqual(1);
    for (const [k, r] of out.entries()) {
      expect(r.error, `worker ${k}: ${r.error?.stack}`).toBeUndefined();
      expect(r.code, `worker ${k} exit code`).toBe(0);
      expect(r.messages, `worker ${k}`).toEqual([{ runs: 3 * cases.length, bad: [] }]);
    }
    expect(mainBad).toEqual([]);
  });
});
