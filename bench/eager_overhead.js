#!/usr/bin/env node
// Eager per-op overhead, side by side: LeNet training img/s at batch 128 on synthetic data (no MNIST needed) and
// batch-1 eager forward p50, with hashes of the output and trained parameters so two builds can be compared bitwise.
//   node bench/eager_overhead.js [DIST_DIR] [steps]     (T=2 for two threads; DIST_DIR defaults to ./dist)
const b = require(require('node:path').resolve(process.argv[2] || require('node:path').join(__dirname, '..', 'dist')));
const { nn, optim, models, tidy, noGrad, randn, tensor } = b;
const steps = Number(process.argv[3] || 60);
b.setNumThreads(Number(process.env.T || 1));
b.manualSeed(0);
const model = models.LeNet();
const opt = new optim.SGD(model.parameters(), { lr: 0.05, momentum: 0.9 });
const xs = [], ys = [];
for (let i = 0; i < 4; i++) { xs.push(b.keep(randn([128, 1, 28, 28]))); const l = []; for (let j = 0; j < 128; j++) l.push((j * 7 + i) % 10); ys.push(b.keep(tensor(l))); }
const now = () => Number(process.hrtime.bigint()) / 1e9;
let loss = 0;
const step = (i) => tidy(() => { opt.zeroGrad(); const L = nn.functional.crossEntropy(model.forward(xs[i % 4]), ys[i % 4]); L.backward(); opt.step(); loss = L.item(); });
for (let i = 0; i < 10; i++) step(i);
let t = now();
for (let i = 0; i < steps; i++) step(i);
const train = steps * 128 / (now() - t);
if (process.env.NOB1) { console.log(JSON.stringify({ train_img_s: Math.round(train), loss })); process.exit(0); }
model.eval();
const x1 = randn([1, 1, 28, 28]);
for (let i = 0; i < 300; i++) tidy(() => void noGrad(() => model.forward(x1)));
const lat = [];
for (let i = 0; i < 2000; i++) { const t0 = now(); tidy(() => void noGrad(() => model.forward(x1))); lat.push((now() - t0) * 1e6); }
lat.sort((a, c) => a - c);
const out = tidy(() => noGrad(() => model.forward(x1)).data());
let h = 0; for (const v of out) h = (h * 31 + Math.round(v * 1e6)) | 0;
const ps = model.parameters().map(p => p.data()); let hp = 0; for (const d of ps) for (const v of d) hp = (hp * 31 + new Int32Array(new Float32Array([v]).buffer)[0]) | 0;
console.log(JSON.stringify({ train_img_s: Math.round(train), b1_p50_us: lat[1000].toFixed(1), loss, outHash: h, paramHash: hp }));
