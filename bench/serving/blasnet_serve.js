#!/usr/bin/env node
// blasnet's serving figures for bench/run.js (one JSON line on stdout):
//
//   node bench/serving/blasnet_serve.js --threads N --model-dir DIR [--quick]
//
//   resnet8.*    ResNet-8 (32×32×3) loaded from DIR/resnet8.safetensors (exported
//                by bench/serving/resnet8.py) into bench/serving/resnet8.js:
//                agreement with PyTorch's output on a fixed input, batch-1 latency
//                p50/p99 (runSync, and awaited run()), batch-64 throughput (runSync,
//                and run() with 2 in flight), the same with foldBatchNorm.
//   burst.*      1000 run() calls of mixed batch sizes (1..31, seeded) submitted at
//                once to a LeNet-5 session, and the same through forwardAsync:
//                event-loop time of the submission loop (wall, and the main thread's
//                own CPU time from /proc/thread-self/schedstat), the worst gap of a
//                1 ms setInterval from submission until the last result, total time.
//                Median of 3 bursts after one warm-up burst.
//   first_run.*  the event-loop time of the first run() of a new input shape for a
//                conv net at 64², 512², 1024² (trace + plan build + input copy; no
//                kernel runs there), of a later run() of it (the input copy alone),
//                their difference (compile_ms_*), and the eager forward of that
//                shape on the event loop (what a first run cost before plans were
//                compiled off the model). first_ever_loop_ms: the first compile in
//                the process, while the tracer's code is still cold.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { performance } = require('node:perf_hooks');
const b = require(path.join(__dirname, '..', '..', 'dist'));
const resnet8 = require('./resnet8');

const args = process.argv.slice(2);
const arg = (name, def) => (args.includes(name) ? args[args.indexOf(name) + 1] : def);
const quick = args.includes('--quick');
const threads = Number(arg('--threads', '0')) || os.cpus().length;
const dir = arg('--model-dir');
b.setNumThreads(threads);
const out = { name: 'blasnet-serve', threads };
const log = (...a) => console.error(...a);
const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
const oncpu = () => {
  try {
    return Number(fs.readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]) / 1e6;
  } catch {
    return NaN;
  }
};

async function latency(fn, calls) {
  for (let i = 0; i < 200; i++) await fn();
  const t = [];
  for (let i = 0; i < calls; i++) {
    const t0 = performance.now();
    await fn();
    t.push((performance.now() - t0) * 1000);
  }
  t.sort((x, y) => x - y);
  return [t[Math.floor(calls / 2)], t[Math.floor(calls * 0.99)]];
}

async function throughput(fn, batch, reps) {
  for (let i = 0, t0 = performance.now(); i < 3 || (performance.now() - t0 < 200 && i < 100); i++) await fn();
  const ts = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await fn();
    ts.push(performance.now() - t0);
  }
  return batch / (median(ts) / 1000);
}

async function resnet() {
  const file = dir && path.join(dir, 'resnet8.safetensors');
  const exported = !!file && fs.existsSync(file);
  if (!exported) out.notes = 'no exported ResNet-8 (bench/serving/resnet8.py --export DIR needs PyTorch): random weights, no agreement check';
  const r = {};
  for (const fold of [false, true]) {
    b.manualSeed(0);
    const opts = { inputShape: [3, 32, 32], foldBatchNorm: fold };
    const s = exported ? b.InferenceSession.load(file, { model: resnet8(b), ...opts }) : new b.InferenceSession(resnet8(b), opts);
    const p = fold ? 'fold_' : '';
    if (!fold && exported) {
      const ref = JSON.parse(fs.readFileSync(path.join(dir, 'reference.json'), 'utf8')).output;
      const x = new Float32Array(2 * 3 * 32 * 32).map((_, i) => Math.sin(i * 0.01));
      const y = s.runSync(x, [2, 3, 32, 32]).data();
      r.max_abs_diff_vs_pytorch = y.reduce((m, v, i) => Math.max(m, Math.abs(v - ref[i])), 0);
    }
    const x1 = b.randn([1, 3, 32, 32]), x64 = b.randn([64, 3, 32, 32]);
    const calls = quick ? 200 : 2000, reps = quick ? 5 : 30;
    [r[`${p}b1_p50_us`], r[`${p}b1_p99_us`]] = await latency(async () => s.runSync(x1).dispose(), calls);
    if (!fold) [r.b1_async_p50_us, r.b1_async_p99_us] = await latency(async () => (await s.run(x1)).dispose(), calls);
    r[`${p}b64_img_s`] = await throughput(async () => s.runSync(x64).dispose(), 64, reps);
    if (!fold) r.b64_async_img_s = await throughput(async () => (await Promise.all([s.run(x64), s.run(x64)])).forEach((y) => y.dispose()), 128, reps);
    s.dispose();
    x1.dispose();
    x64.dispose();
  }
  log(`blasnet resnet8: b1 p50 ${r.b1_p50_us.toFixed(0)} us (async ${r.b1_async_p50_us.toFixed(0)}), b64 ${r.b64_img_s.toFixed(0)} img/s; |Δ| vs torch ${r.max_abs_diff_vs_pytorch?.toExponential(1) ?? 'n/a'}`);
  return r;
}

/** One burst: submit all, then wait; returns { submit_ms, submit_cpu_ms, worst_gap_ms, total_ms }. */
async function burst(submit, inputs) {
  await new Promise((r) => setTimeout(r, 30));
  let last = performance.now(), worst = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last);
    last = now;
  }, 1);
  last = performance.now();
  const c0 = oncpu(), t0 = performance.now();
  const pending = inputs.map((x) => submit(x));
  const t1 = performance.now(), c1 = oncpu();
  const outs = await Promise.all(pending);
  const t2 = performance.now();
  worst = Math.max(worst, performance.now() - last);
  clearInterval(timer);
  for (const y of outs) y.dispose();
  return { submit_ms: t1 - t0, submit_cpu_ms: c1 - c0, worst_gap_ms: worst, total_ms: t2 - t0 };
}

async function bursts() {
  b.manualSeed(0);
  const model = b.models.LeNet().eval();
  const s = new b.InferenceSession(model, { inputShape: [1, 28, 28] });
  let seed = 1;
  const inputs = Array.from({ length: 1000 }, () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return b.randn([1 + (seed % 31), 1, 28, 28]);
  });
  const r = {};
  for (const [name, submit] of [['run', (x) => s.run(x)], ['forward_async', (x) => model.forwardAsync(x)]]) {
    await burst(submit, inputs); // warm-up: plans, pool sizes, JIT
    const reps = [];
    for (let i = 0; i < (quick ? 1 : 3); i++) reps.push(await burst(submit, inputs));
    for (const k of Object.keys(reps[0])) r[`${name}_${k}`] = median(reps.map((x) => x[k]));
    r[`${name}_submit_us_per_call`] = (r[`${name}_submit_ms`] * 1000) / inputs.length;
    r[`${name}_submit_cpu_us_per_call`] = (r[`${name}_submit_cpu_ms`] * 1000) / inputs.length;
  }
  log(`blasnet burst: run() submit ${r.run_submit_ms.toFixed(1)} ms (cpu ${r.run_submit_cpu_ms.toFixed(1)}), worst gap ${r.run_worst_gap_ms.toFixed(1)} ms; forwardAsync submit ${r.forward_async_submit_ms.toFixed(1)} ms, gap ${r.forward_async_worst_gap_ms.toFixed(1)} ms`);
  inputs.forEach((x) => x.dispose());
  s.dispose();
  return r;
}

async function firstRuns() {
  const { nn } = b;
  const F = nn.functional;
  class Net extends nn.Module {
    constructor() {
      super();
      this.c1 = new nn.Conv2d(3, 16, 3, { padding: 1 });
      this.c2 = new nn.Conv2d(16, 16, 3, { padding: 1 });
      this.fc = new nn.Linear(16, 10);
    }
    forward(x) {
      return this.fc.forward(F.globalAvgPool2d(F.relu(this.c2.forward(F.maxPool2d(F.relu(this.c1.forward(x)), { kernelSize: 2 }))), false));
    }
  }
  b.manualSeed(1);
  const m = new Net().eval();
  const r = {};
  {
    // the first compile in the process: the tracer's code is still cold (interpreted)
    const s = new b.InferenceSession(m);
    const x = b.randn([1, 3, 16, 16]);
    const t0 = performance.now();
    const p = s.run(x);
    r.first_ever_loop_ms = performance.now() - t0;
    (await p).dispose();
    s.dispose();
    x.dispose();
  }
  for (const hw of quick ? [64, 512] : [64, 512, 1024]) {
    const s = new b.InferenceSession(m);
    const x = b.randn([1, 3, hw, hw]);
    const t0 = performance.now();
    const p = s.run(x);
    r[`loop_ms_${hw}`] = performance.now() - t0;
    (await p).dispose();
    const t1 = performance.now();
    const p2 = s.run(x); // compiled now: only the input copy
    r[`steady_loop_ms_${hw}`] = performance.now() - t1;
    (await p2).dispose();
    r[`compile_ms_${hw}`] = Math.max(0, r[`loop_ms_${hw}`] - r[`steady_loop_ms_${hw}`]);
    const t2 = performance.now();
    b.tidy(() => void b.noGrad(() => m.forward(x)));
    r[`eager_forward_ms_${hw}`] = performance.now() - t2;
    x.dispose();
    s.dispose();
  }
  log(`blasnet first run of a new shape: ${Object.entries(r).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ')}`);
  return r;
}

(async () => {
  try {
    out.backend = b.backendInfo();
    out.resnet8 = await resnet();
    out.burst = await bursts();
    out.first_run = await firstRuns();
  } catch (e) {
    log(e && e.stack);
    out.error = String((e && e.message) || e);
  }
  console.log(JSON.stringify(out));
})();
