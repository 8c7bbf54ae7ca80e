#!/usr/bin/env node
// ResNet-8 (32×32×3) side by side in one process: blasnet's InferenceSession and
// onnxruntime-node on the same exported weights, measured alternately in rounds
// so that both see the same machine load (this machine is shared and noisy).
//
//   node bench/serving/compare.js --model-dir DIR [--threads N] [--rounds R] [--ms M]
//
// DIR from `bench/serving/resnet8.py --export DIR`. Per round: batch-1 latency
// (median of awaited run(), and blasnet's runSync) and batch-64 throughput, each
// for about M ms per engine. Prints the medians over rounds and the ratios
// blasnet/ORT (latency: lower is better; throughput: higher is better).
'use strict';
const path = require('node:path');
const os = require('node:os');
const { performance } = require('node:perf_hooks');
const b = require(path.join(__dirname, '..', '..', 'dist'));
const resnet8 = require('./resnet8');

const args = process.argv.slice(2);
const arg = (name, def) => (args.includes(name) ? args[args.indexOf(name) + 1] : def);
const threads = Number(arg('--threads', '0')) || os.cpus().length;
const rounds = Number(arg('--rounds', '5'));
const budget = Number(arg('--ms', '400'));
const dir = arg('--model-dir');
const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];

async function lat(fn) {
  for (let i = 0; i < 20; i++) await fn();
  const t = [];
  const t0 = performance.now();
  while (performance.now() - t0 < budget) {
    const s = performance.now();
    await fn();
    t.push((performance.now() - s) * 1000);
  }
  return median(t);
}
async function thr(fn, N) {
  for (let i = 0; i < 3; i++) await fn();
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < budget) {
    await fn();
    n += N;
  }
  return n / ((performance.now() - t0) / 1000);
}

async function main() {
  b.setNumThreads(threads);
  const ort = require('onnxruntime-node');
  const model = resnet8(b);
  const sd = b.load(path.join(dir, 'resnet8.safetensors'));
  model.loadStateDict(sd);
  model.eval();
  const session = new b.InferenceSession(model, { inputShape: [3, 32, 32] });
  const r8 = await ort.InferenceSession.create(path.join(dir, 'resnet8.onnx'), {
    intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all', executionProviders: ['cpu'],
  });
  const x1 = b.randn([1, 3, 32, 32]), x64 = b.randn([64, 3, 32, 32]);
  const f1 = { [r8.inputNames[0]]: new ort.Tensor('float32', x1.data(), [1, 3, 32, 32]) };
  const f64 = { [r8.inputNames[0]]: new ort.Tensor('float32', x64.data(), [64, 3, 32, 32]) };
  const rows = { b_run1: [], b_sync1: [], o_run1: [], b_run64: [], b_sync64: [], o_run64: [] };
  for (let r = 0; r < rounds; r++) {
    rows.b_run1.push(await lat(async () => (await session.run(x1)).dispose()));
    rows.b_sync1.push(await lat(async () => session.runSync(x1).dispose()));
    rows.o_run1.push(await lat(() => r8.run(f1)));
    rows.b_run64.push(await thr(async () => (await session.run(x64)).dispose(), 64));
    rows.b_sync64.push(await thr(async () => session.runSync(x64).dispose(), 64));
    rows.o_run64.push(await thr(() => r8.run(f64), 64));
  }
  const m = Object.fromEntries(Object.entries(rows).map(([k, v]) => [k, median(v)]));
  const out = {
    threads,
    batch1_us: { blasnet_run: +m.b_run1.toFixed(1), blasnet_runSync: +m.b_sync1.toFixed(1), ort: +m.o_run1.toFixed(1) },
    batch64_img_s: { blasnet_run: Math.round(m.b_run64), blasnet_runSync: Math.round(m.b_sync64), ort: Math.round(m.o_run64) },
    latency_ratio_run: +(m.b_run1 / m.o_run1).toFixed(2),
    latency_ratio_runSync: +(m.b_sync1 / m.o_run1).toFixed(2),
    throughput_ratio_run: +(m.b_run64 / m.o_run64).toFixed(2),
    throughput_ratio_runSync: +(m.b_sync64 / m.o_run64).toFixed(2),
  };
  console.log(JSON.stringify(out));
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
