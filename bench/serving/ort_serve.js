#!/usr/bin/env node
// onnxruntime-node's serving figures for bench/run.js (one JSON line on stdout):
//
//   node bench/serving/ort_serve.js --threads N --model-dir DIR --lenet LENET.onnx [--quick]
//
// resnet8.*: DIR/resnet8.onnx (bench/serving/resnet8.py --export): batch-1 latency
// p50/p99 of awaited session.run, batch-64 throughput (median). burst.*: the same
// 1000-call mixed-batch burst as bench/serving/blasnet_serve.js on LeNet-5
// (bench/export_onnx.py), measured the same way. A missing package prints
// {"skipped": ...}; a failure {"error": ...}; exit 0 either way.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { performance } = require('node:perf_hooks');

const args = process.argv.slice(2);
const arg = (name, def) => (args.includes(name) ? args[args.indexOf(name) + 1] : def);
const quick = args.includes('--quick');
const threads = Number(arg('--threads', '0')) || os.cpus().length;
const out = { name: 'onnxruntime-serve', threads };
const log = (...a) => console.error(...a);
const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
const oncpu = () => {
  try {
    return Number(fs.readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]) / 1e6;
  } catch {
    return NaN;
  }
};

async function main() {
  let ort;
  try {
    ort = require('onnxruntime-node');
  } catch (e) {
    out.skipped = 'not installed: npm install --no-save --ignore-scripts onnxruntime-node';
    return;
  }
  const opts = { intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all', executionProviders: ['cpu'] };
  const feed = (s, shape) => {
    const a = new Float32Array(shape.reduce((x, y) => x * y, 1));
    for (let i = 0; i < a.length; i++) a[i] = Math.random() * 2 - 1;
    return { [s.inputNames[0]]: new ort.Tensor('float32', a, shape) };
  };
  // --- ResNet-8
  const dir = arg('--model-dir');
  const r8 = await ort.InferenceSession.create(path.join(dir, 'resnet8.onnx'), opts);
  const f1 = feed(r8, [1, 3, 32, 32]), f64 = feed(r8, [64, 3, 32, 32]);
  const calls = quick ? 200 : 2000;
  for (let i = 0; i < 200; i++) await r8.run(f1);
  const lat = [];
  for (let i = 0; i < calls; i++) {
    const t = performance.now();
    await r8.run(f1);
    lat.push((performance.now() - t) * 1000);
  }
  lat.sort((a, b) => a - b);
  const r = { b1_p50_us: lat[Math.floor(calls / 2)], b1_p99_us: lat[Math.floor(calls * 0.99)] };
  for (let i = 0, t0 = performance.now(); i < 3 || (performance.now() - t0 < 200 && i < 100); i++) await r8.run(f64);
  const ts = [];
  for (let i = 0; i < (quick ? 5 : 30); i++) {
    const t = performance.now();
    await r8.run(f64);
    ts.push(performance.now() - t);
  }
  r.b64_img_s = 64 / (median(ts) / 1000);
  out.resnet8 = r;
  log(`ort resnet8: b1 p50 ${r.b1_p50_us.toFixed(0)} us, b64 ${r.b64_img_s.toFixed(0)} img/s`);
  // --- the burst, on LeNet
  const lenet = await ort.InferenceSession.create(arg('--lenet'), opts);
  let seed = 1;
  const feeds = Array.from({ length: 1000 }, () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return feed(lenet, [1 + (seed % 31), 1, 28, 28]);
  });
  const once = async () => {
    await new Promise((res) => setTimeout(res, 30));
    let last = performance.now(), worst = 0;
    const timer = setInterval(() => {
      const now = performance.now();
      worst = Math.max(worst, now - last);
      last = now;
    }, 1);
    last = performance.now();
    const c0 = oncpu(), t0 = performance.now();
    const pending = feeds.map((f) => lenet.run(f));
    const t1 = performance.now(), c1 = oncpu();
    await Promise.all(pending);
    const t2 = performance.now();
    worst = Math.max(worst, performance.now() - last);
    clearInterval(timer);
    return { submit_ms: t1 - t0, submit_cpu_ms: c1 - c0, worst_gap_ms: worst, total_ms: t2 - t0 };
  };
  await once();
  const reps = [];
  for (let i = 0; i < (quick ? 1 : 3); i++) reps.push(await once());
  const bu = {};
  for (const k of Object.keys(reps[0])) bu[`run_${k}`] = median(reps.map((x) => x[k]));
  bu.run_submit_us_per_call = (bu.run_submit_ms * 1000) / feeds.length;
  bu.run_submit_cpu_us_per_call = (bu.run_submit_cpu_ms * 1000) / feeds.length;
  out.burst = bu;
  log(`ort burst: submit ${bu.run_submit_ms.toFixed(1)} ms (cpu ${bu.run_submit_cpu_ms.toFixed(1)}), worst gap ${bu.run_worst_gap_ms.toFixed(1)} ms, total ${bu.run_total_ms.toFixed(0)} ms`);
}

main()
  .catch((e) => {
    log(e && e.stack);
    out.error = String((e && e.message) || e);
  })
  .finally(() => console.log(JSON.stringify(out)));
