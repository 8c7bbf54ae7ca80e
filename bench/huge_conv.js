#!/usr/bin/env node
// The 10,000² row of bench/run.js, blasnet's side (PyTorch's: huge_conv.py):
// conv2d 3→8 3×3 stride 2 (no padding, no bias) on [1, 3, S, S], forward + weight
// gradient (the input does not require grad; the output gradient is the output
// itself, so no third image-sized tensor), timed over `--reps` repetitions (best);
// peak RSS from process.resourceUsage().maxRSS over the whole process.
//   node bench/huge_conv.js --threads N [--size S] [--reps R]
// Prints one line of JSON.
'use strict';
const path = require('node:path');
const args = process.argv.slice(2);
const arg = (n, d) => (args.includes(n) ? args[args.indexOf(n) + 1] : d);
const S = Number(arg('--size', 10000)), reps = Number(arg('--reps', 2)), threads = Number(arg('--threads', 0)) || require('node:os').cpus().length;
const MiB = 2 ** 20;
const out = { name: 'blasnet', size: S, threads };
try {
  const b = require(path.join(__dirname, '..', 'dist'));
  b.setNumThreads(threads);
  const now = () => Number(process.hrtime.bigint()) / 1e9;
  const x = b.randn([1, 3, S, S]);
  const w = b.randn([8, 3, 3, 3]).requiresGrad_();
  out.base_rss_mb = (process.resourceUsage().maxRSS * 1024) / MiB;
  let best = null;
  for (let r = 0; r < reps; r++) {
    const t0 = now();
    const y = b.nn.functional.conv2d(x, w, null, { stride: 2 });
    const t1 = now();
    y.backward(y);
    const t2 = now();
    if (!best || t2 - t0 < best.total_s) best = { fwd_s: t1 - t0, wgrad_s: t2 - t1, total_s: t2 - t0 };
    out.output_mb = (y.numel * 4) / MiB;
    y.dispose();
    w.grad = null;
  }
  Object.assign(out, best);
  out.input_mb = (x.numel * 4) / MiB;
  out.peak_rss_mb = (process.resourceUsage().maxRSS * 1024) / MiB;
  out.workspace_limit_mb = b.backendInfo().convWorkspaceLimit / MiB;
} catch (e) {
  out.error = String(e && e.message);
}
console.log(JSON.stringify(out));
