#!/usr/bin/env node
// blasnet's side of the bench: prints one line of JSON with the same metrics
// the peer workers report (see bench/run.js for the schema).
//   node bench/blasnet_worker.js --threads N [--quick] [--mnist DIR]
'use strict';
const path = require('node:path');
const b = require(path.join(__dirname, '..', 'dist'));
const { nn, optim, models, data, tidy, noGrad, randn, setNumThreads, backendInfo } = b;

const args = process.argv.slice(2);
const arg = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
};
const quick = args.includes('--quick');
const threads = Number(arg('--threads', '0')) || require('node:os').cpus().length;
setNumThreads(threads);

const now = () => Number(process.hrtime.bigint()) / 1e9;
function median(xs) {
  const s = [...xs].sort((a, c) => a - c);
  return s[Math.floor(s.length / 2)];
}
/** median seconds per call of f over `reps` timed calls after `warm` warm-ups */
function timeit(f, reps, warm = 2) {
  for (let i = 0; i < warm; i++) f();
  const ts = [];
  for (let i = 0; i < reps; i++) {
    const t = now();
    f();
    ts.push(now() - t);
  }
  return median(ts);
}

const out = { name: 'blasnet', version: require('../package.json').version, threads, backend: backendInfo() };

// --- sgemm: the machine's peak through the library -----------------------------
for (const n of quick ? [1024] : [1024, 2048]) {
  const A = randn([n, n]), B = randn([n, n]);
  // results are disposed inside tidy (not returned), so the pool reuses their memory
  const s = timeit(() => tidy(() => void A.matmul(B)), quick ? 3 : 5, 1);
  out[`sgemm_${n}_gflops`] = (2 * n ** 3) / s / 1e9;
  A.dispose();
  B.dispose();
}

// --- conv layers ------------------------------------------------------------------
const convs = {
  lenet_conv1: { N: 128, C: 1, H: 28, Cout: 6, k: 5, pad: 2 },
  lenet_conv2: { N: 128, C: 6, H: 14, Cout: 16, k: 5, pad: 0 },
  resnet_64_56: { N: 8, C: 64, H: 56, Cout: 64, k: 3, pad: 1 },
};
out.conv = {};
for (const [name, c] of Object.entries(convs)) {
  const OH = c.H + 2 * c.pad - c.k + 1;
  const flops = 2 * c.N * c.Cout * OH * OH * c.C * c.k * c.k;
  const x = randn([c.N, c.C, c.H, c.H]).requiresGrad_();
  const w = randn([c.Cout, c.C, c.k, c.k]).requiresGrad_();
  const reps = quick ? 3 : 10;
  const fwd = timeit(() => tidy(() => void noGrad(() => nn.functional.conv2d(x, w, null, { padding: c.pad }))), reps);
  const both = timeit(() => tidy(() => {
    const y = nn.functional.conv2d(x, w, null, { padding: c.pad });
    y.backward(y.detach());
    x.grad = null;
    w.grad = null;
  }), reps);
  out.conv[name] = { fwd_gflops: flops / fwd / 1e9, fwdbwd_gflops: (3 * flops) / both / 1e9 };
}

// --- LeNet training: full epochs over MNIST in memory ----------------------------------
b.manualSeed(0);
const train = data.mnist({ split: 'train', dir: arg('--mnist'), limit: quick ? 128 * 60 : undefined });
const model = models.LeNet();
const opt = new optim.SGD(model.parameters(), { lr: 0.05, momentum: 0.9 });
const loader = new data.DataLoader(train, { batchSize: 128, shuffle: true, seed: 0 });
for (const epoch of [1, 2]) {
  const t = now();
  let n = 0;
  for (const { x, y } of loader) {
    tidy(() => {
      opt.zeroGrad();
      nn.functional.crossEntropy(model.forward(x), y).backward();
      opt.step();
    });
    n += x.shape[0];
    x.dispose();
    y.dispose();
  }
  out[`train_img_s_epoch${epoch}`] = n / (now() - t);
}
train.dispose();

// --- inference ----------------------------------------------------------------------------
model.eval();
const x256 = randn([256, 1, 28, 28]);
out.infer_b256_img_s = 256 / timeit(() => tidy(() => void noGrad(() => model.forward(x256))), quick ? 5 : 30, 3);
// the same through the compiled plan (ReLU fused, no max-pool indices)
const session = new b.InferenceSession(model);
out.infer_b256_fast_img_s = 256 / timeit(() => session.runSync(x256).dispose(), quick ? 5 : 30, 3);
const x1 = randn([1, 1, 28, 28]);
const calls = quick ? 200 : 2000;
for (let i = 0; i < 200; i++) tidy(() => void noGrad(() => model.forward(x1)));
const lat = [];
for (let i = 0; i < calls; i++) {
  const t = now();
  tidy(() => void noGrad(() => model.forward(x1)));
  lat.push((now() - t) * 1e6);
}
lat.sort((a, c) => a - c);
out.b1_p50_us = lat[Math.floor(calls * 0.5)];
out.b1_p99_us = lat[Math.floor(calls * 0.99)];
// the one-crossing path: the whole forward as one native plan
for (let i = 0; i < 200; i++) session.runSync(x1).dispose();
const fl = [];
for (let i = 0; i < calls; i++) {
  const t = now();
  session.runSync(x1).dispose();
  fl.push((now() - t) * 1e6);
}
fl.sort((a, c) => a - c);
out.b1_fast_p50_us = fl[Math.floor(calls * 0.5)];
out.b1_fast_p99_us = fl[Math.floor(calls * 0.99)];
if (typeof model.forwardAsync === 'function') {
  // the same latency through the async (worker-thread) path
  (async () => {
    const al = [];
    for (let i = 0; i < 100; i++) (await model.forwardAsync(x1)).dispose();
    for (let i = 0; i < calls; i++) {
      const t = now();
      (await model.forwardAsync(x1)).dispose();
      al.push((now() - t) * 1e6);
    }
    al.sort((a, c) => a - c);
    out.b1_async_p50_us = al[Math.floor(calls * 0.5)];
    out.b1_async_p99_us = al[Math.floor(calls * 0.99)];
    console.log(JSON.stringify(out));
  })();
} else {
  console.log(JSON.stringify(out));
}
