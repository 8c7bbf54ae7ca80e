#!/usr/bin/env node
// ONNX Runtime (onnxruntime-node) peer worker for blasnet's benchmark (bench/run.js).
//
//   node bench/ort_worker.js --threads N [--quick] [--model FILE.onnx] [--mnist DIR]
//
// Inference only: LeNet-5 exported by bench/export_onnx.py (dynamic batch axis).
// Prints exactly ONE line of JSON on stdout; diagnostics go to stderr. Any failure is
// reported as {"name":"onnxruntime-node","error":"..."} with exit code 0, and a missing
// package as {"name":"onnxruntime-node","skipped":"..."}.
//
//   infer_b256_img_s   batch 256, median of 30 timed session.run calls after >= 3 warm-ups and 0.2 s (--quick: 5)
//   b1_p50_us/_p99_us  batch 1, 2000 awaited session.run calls after 200 warm-ups (--quick: 200)
//
// Without --model it exports one itself to a temporary file with
// `/usr/bin/python3 bench/export_onnx.py` (override the interpreter with $PYTHON).
// --mnist is accepted for the common interface and ignored (inputs are random).
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const NAME = 'onnxruntime-node';
const INSTALL = 'npm install --no-save --ignore-scripts onnxruntime-node';

const args = process.argv.slice(2);
const arg = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : def;
};
const quick = args.includes('--quick');
const threads = Number(arg('--threads', '0')) || os.cpus().length;

const out = { name: NAME, threads };
/** print the single result line and leave with status 0 */
function emit(extra) {
  Object.assign(out, extra);
  const wall = now() - runStart;
  out.wall_s = wall;
  const load = otherLoad(snap0, wall);
  if (load !== undefined) out.other_load = load;
  process.stdout.write(JSON.stringify(out) + '\n');
  process.exitCode = 0;
}
const log = (...a) => console.error(...a);

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

/** onnxruntime-node's version; its package.json is not exported, so read it off disk */
function ortVersion(ort) {
  if (ort.env && ort.env.versions && ort.env.versions.node) return ort.env.versions.node;
  try {
    let dir = path.dirname(require.resolve('onnxruntime-node'));
    while (!fs.existsSync(path.join(dir, 'package.json')) && dir !== path.dirname(dir)) dir = path.dirname(dir);
    return JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).version;
  } catch {
    return 'unknown';
  }
}

let tmpDir = null; // set when this run exported its own model; removed at exit

/** the model given with --model, or a fresh export into a temp folder */
function modelPath() {
  const given = arg('--model');
  if (given) {
    if (!fs.existsSync(given)) throw new Error(`--model ${given}: no such file (make one with bench/export_onnx.py)`);
    return given;
  }
  tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-ort-'));
  const file = path.join(tmpDir, 'lenet.onnx');
  const python = process.env.PYTHON || '/usr/bin/python3';
  log(`no --model: exporting LeNet with ${python} bench/export_onnx.py ${file}`);
  const r = spawnSync(python, [path.join(__dirname, 'export_onnx.py'), file], { encoding: 'utf8' });
  if (r.status !== 0 || !fs.existsSync(file)) {
    const why = (r.error && r.error.message) || (r.stderr || r.stdout || '').trim().split('\n').pop();
    throw new Error(`no --model given and the export failed: ${why}`);
  }
  return file;
}

async function main() {
  let ort;
  try {
    ort = require('onnxruntime-node');
  } catch (e) {
    if (e && e.code === 'MODULE_NOT_FOUND' && /onnxruntime-node/.test(e.message)) {
      return emit({ skipped: `not installed: ${INSTALL}` });
    }
    throw e; // installed but broken (e.g. missing native binary): report as an error
  }
  out.version = ortVersion(ort);

  const model = modelPath();
  out.model = path.basename(model);
  const t0 = now();
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    executionProviders: ['cpu'],
  });
  out.session_create_ms = (now() - t0) * 1e3;
  const inName = session.inputNames[0];
  log(`onnxruntime-node ${out.version}: ${threads} intra-op threads, input "${inName}", outputs ${session.outputNames}`);

  /** a random [n,1,28,28] float32 feed */
  const feed = (n) => {
    const a = new Float32Array(n * 784);
    for (let i = 0; i < a.length; i++) a[i] = Math.random() * 2 - 1;
    return { [inName]: new ort.Tensor('float32', a, [n, 1, 28, 28]) };
  };

  // --- batch 256 throughput ------------------------------------------------------------
  const f256 = feed(256);
  // warm up: at least 3 calls and 0.2 s
  for (let i = 0, t0 = now(); i < 3 || (now() - t0 < 0.2 && i < 1000); i++) await session.run(f256);
  const ts = [];
  for (let i = 0, reps = quick ? 5 : 30; i < reps; i++) {
    const t = now();
    await session.run(f256);
    ts.push(now() - t);
  }
  out.infer_b256_img_s = 256 / median(ts);

  // --- batch 1 latency ---------------------------------------------------------------------
  const f1 = feed(1);
  const calls = quick ? 200 : 2000;
  for (let i = 0; i < 200; i++) await session.run(f1);
  const lat = [];
  for (let i = 0; i < calls; i++) {
    const t = now();
    await session.run(f1);
    lat.push((now() - t) * 1e6);
  }
  lat.sort((a, b) => a - b);
  out.b1_p50_us = lat[Math.floor(calls * 0.5)];
  out.b1_p99_us = lat[Math.floor(calls * 0.99)];
  log(`infer b256 ${out.infer_b256_img_s.toFixed(0)} img/s, b1 p50 ${out.b1_p50_us.toFixed(1)} us p99 ${out.b1_p99_us.toFixed(1)} us`);
  if (typeof session.release === 'function') await session.release();
  emit();
}

main()
  .catch((e) => {
    log('ort_worker failed:', e && e.stack ? e.stack : e);
    out.error = String((e && e.message) || e);
    emit();
  })
  .finally(() => {
    if (tmpDir) fs.rmSync(tmpDir, { recursive: true, force: true });
    log(`ort_worker: ${(now() - runStart).toFixed(1)} s`);
  });
