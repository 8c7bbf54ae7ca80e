#!/usr/bin/env node
// npm run bench:mpi [-- --quick] [--steps N]   (npm run bench runs it too, at the end)
//
// Data-parallel scaling of LeNet training on this machine: img/s of
//   1 rank × 1 thread,   1 rank × 2 threads (blasnet's own thread pool),
//   2 ranks × 1 thread (mpirun -np 2, gradients averaged over MPI),
// at the same global batch (64), interleaved round by round so that machine
// noise hits every configuration alike. Each worker also reports how long its
// step spent in the gradient allreduce, to decide whether overlapping it with
// backward could pay (it can save at most that time).
//
// Worker mode (internal): node bench/mpi_scaling.js --worker [--distributed] --steps N
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const args = process.argv.slice(2);
const flag = (f) => args.includes(f);
const opt = (f, d) => (args.includes(f) ? args[args.indexOf(f) + 1] : d);
const root = path.resolve(__dirname, '..');
const quick = flag('--quick');
const BATCH = 64;

if (flag('--worker')) {
  const { models, optim, nn, data, randn, tensor, manualSeed, tidy, getNumThreads, distributed: dist } = require(path.join(root, 'dist'));
  const distributed = flag('--distributed');
  const info = distributed ? dist.init() : { rank: 0, worldSize: 1 };
  const steps = Number(opt('--steps', 40)), warmup = 5;
  manualSeed(1);
  const N = BATCH * 8;
  const ds = new data.TensorDataset(randn([N, 1, 28, 28]), tensor(Array.from({ length: N }, (_, i) => i % 10)));
  const model = models.LeNet();
  const opt_ = new optim.SGD(model.parameters(), { lr: 0.01, momentum: 0.9 });
  const ddp = distributed ? new dist.DistributedDataParallel(model) : null;
  const per = BATCH / info.worldSize;
  const loader = distributed
    ? new data.DataLoader(ds, { batchSize: per, sampler: new dist.DistributedSampler(ds, { seed: 0 }) })
    : new data.DataLoader(ds, { batchSize: BATCH, shuffle: true, seed: 0 });
  let done = 0, commMs = 0, t0 = 0;
  model.train();
  outer: for (;;) {
    for (const { x, y } of loader) {
      if (done === warmup) {
        if (distributed) dist.barrier();
        t0 = performance.now();
        commMs = 0;
      }
      tidy(() => {
        opt_.zeroGrad();
        nn.functional.crossEntropy(model.forward(x), y).backward();
        if (ddp) {
          const c = performance.now();
          ddp.averageGradients();
          commMs += performance.now() - c;
        }
        opt_.step();
      });
      if (++done === warmup + steps) break outer;
    }
  }
  if (distributed) dist.barrier();
  const seconds = (performance.now() - t0) / 1000;
  const floats = model.parameters().reduce((a, p) => a + p.numel, 0);
  // The allreduce alone, ranks in step (a barrier first): its cost without waiting for a slower rank.
  let pureMs = 0;
  if (ddp) {
    const reps = 50;
    for (let i = 0; i < reps; i++) {
      dist.barrier();
      const c = performance.now();
      ddp.averageGradients();
      pureMs += performance.now() - c;
    }
    pureMs /= reps;
  }
  if (info.rank === 0)
    console.log(JSON.stringify({ ranks: info.worldSize, threads: getNumThreads(), imgPerSec: (steps * BATCH) / seconds, stepMs: (seconds * 1000) / steps, commMsPerStep: commMs / steps, allreduceMs: pureMs, floatsPerStep: floats, buckets: ddp ? ddp.bucketCount : 0 }));
  if (distributed) dist.finalize();
  return;
}

const steps = Number(opt('--steps', quick ? 10 : 60));
const rounds = Number(opt('--rounds', quick ? 1 : 3));
const have = (cmd) => spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status === 0;
const addon = path.join(root, 'build', 'Release', 'mpi', 'blasnet_mpi.node');
const canMpi = have('mpirun') && fs.existsSync(addon);

function run(cmd, argv, env) {
  const r = spawnSync(cmd, argv, { cwd: root, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 600_000 });
  const line = (r.stdout || '').trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (r.status !== 0 || !line) return { error: `exit ${r.status}: ${(r.stderr || '').trim().split('\n').slice(-2).join(' | ')}` };
  return JSON.parse(line);
}
const me = __filename;
const configs = [
  { name: '1 rank × 1 thread', run: () => run(process.execPath, [me, '--worker', '--steps', String(steps)], { BLASNET_NUM_THREADS: '1' }) },
  { name: '1 rank × 2 threads', run: () => run(process.execPath, [me, '--worker', '--steps', String(steps)], { BLASNET_NUM_THREADS: '2' }) },
  {
    name: '2 ranks × 1 thread (MPI)',
    run: () => canMpi
      // --oversubscribe only where it is needed: it makes Open MPI yield while it waits, slower when each rank has a core
      ? run('mpirun', ['--allow-run-as-root', ...(os.cpus().length < 2 ? ['--oversubscribe'] : []), '-x', 'BLASNET_NUM_THREADS=1', '-np', '2', process.execPath, me, '--worker', '--distributed', '--steps', String(steps)], { BLASNET_NUM_THREADS: '1' })
      : { skipped: have('mpirun') ? `${path.relative(root, addon)} was not built (MPI not found at build time)` : 'mpirun not found (apt-get install openmpi-bin libopenmpi-dev, then npm run build:native)' },
  },
];
const results = configs.map(() => []);
for (let r = 0; r < rounds; r++) configs.forEach((c, i) => results[i].push(c.run()));
const median = (xs) => {
  const s = xs.slice().sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN;
};
console.log(`mpi scaling: LeNet training, global batch ${BATCH}, ${steps} steps × ${rounds} round(s), ${os.cpus()[0]?.model} × ${os.cpus().length}, medians`);
const base = median(results[0].filter((x) => x.imgPerSec).map((x) => x.imgPerSec));
for (const [i, c] of configs.entries()) {
  const ok = results[i].filter((x) => x.imgPerSec);
  if (!ok.length) {
    console.log(`  ${c.name.padEnd(26)} ${results[i][0].skipped ? 'skipped: ' + results[i][0].skipped : 'failed: ' + results[i][0].error}`);
    continue;
  }
  const ips = median(ok.map((x) => x.imgPerSec));
  const comm = ok[0].ranks > 1
    ? `; step ${median(ok.map((x) => x.stepMs)).toFixed(1)} ms, of which ${median(ok.map((x) => x.commMsPerStep)).toFixed(2)} ms in averageGradients (waiting for the other rank included), ` +
      `${median(ok.map((x) => x.allreduceMs)).toFixed(3)} ms for the allreduce alone (${ok[0].floatsPerStep} floats, ${ok[0].buckets} bucket)`
    : '';
  console.log(`  ${c.name.padEnd(26)} ${ips.toFixed(0).padStart(6)} img/s  ${(ips / base).toFixed(2)}× of 1×1${comm}`);
}
