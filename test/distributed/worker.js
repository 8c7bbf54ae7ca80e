// A rank of the 2-rank tests (test/distributed/*.test.ts), run by
// `mpirun -np 2 node worker.js <scenario> ...`, or by plain `node` for the
// single-process reference. Prints one JSON line per rank: {"rank":r,...}.
'use strict';
const path = require('node:path');
const { tensor, manualSeed, randn, nn, optim, data, train, distributed: dist, tidy } = require(path.resolve(__dirname, '../../dist'));

const [scenario, ...args] = process.argv.slice(2);

function model(kind, classes = 3) {
  if (kind === 'bn')
    return new nn.Sequential(new nn.Conv2d(1, 4, 3), new nn.BatchNorm2d(4), new nn.ReLU(), new nn.Flatten(), new nn.Linear(4 * 6 * 6, classes));
  return new nn.Sequential(new nn.Conv2d(1, 4, 3), new nn.ReLU(), new nn.MaxPool2d(2), new nn.Flatten(), new nn.Linear(4 * 3 * 3, 8), new nn.Tanh(), new nn.Linear(8, classes));
}

function dataset(n) {
  manualSeed(7);
  const x = randn([n, 1, 8, 8]);
  const y = tensor(Array.from({ length: n }, (_, i) => (i * 7 + (i >> 2)) % 3));
  return new data.TensorDataset(x, y);
}

function optimizer(name, params) {
  return name === 'adam' ? new optim.Adam(params, { lr: 0.01 }) : new optim.SGD(params, { lr: 0.1, momentum: 0.9 });
}

const state = (m) => Object.fromEntries(m.stateDict ? Object.entries(m.stateDict()).map(([k, t]) => [k, Array.from(t.data())]) : []);
// One JSON line per record: to $WORKER_OUT/rank<r>.jsonl when set (mpirun's forwarding of several
// ranks' stdout may split long lines), else to stdout.
const out = (o) => {
  const line = JSON.stringify(o) + '\n';
  if (process.env.WORKER_OUT) require('node:fs').appendFileSync(path.join(process.env.WORKER_OUT, `rank${o.rank}.jsonl`), line);
  else process.stdout.write(line);
};

// traj <sgd|adam> <plain|bn> <dist|ref>: N = 40 samples, global batch B = 8, 2 epochs (10 steps).
// dist: 2 ranks, per-rank batch 4, DistributedSampler, Trainer + DDP. Each rank starts from its own
// random weights: DDP must broadcast rank 0's (seed 100).
// ref: one process, the loader's batch B, for BN the loss of each rank's half (positions 0,2,4,6 and
// 1,3,5,7 of the batch: what the sampler gives each rank) with its own statistics, averaged.
function traj(opt, kind, mode) {
  const N = 40, B = 8, K = 2, epochs = 2;
  const ds = dataset(N);
  if (mode === 'dist') {
    const info = dist.init();
    manualSeed(100 + info.rank);
    const m = model(kind);
    const o = optimizer(opt, m.parameters());
    const ddp = new dist.DistributedDataParallel(m, { bucketMb: 0.001 }); // several buckets
    const sampler = new dist.DistributedSampler(ds, { seed: 5 });
    const loader = new data.DataLoader(ds, { batchSize: B / info.worldSize, sampler });
    const losses = [];
    const t = new train.Trainer({
      model: m, optimizer: o, epochs, isMain: info.rank === 0,
      afterBackward: () => ddp.averageGradients(), reduceLoss: dist.reduceLoss,
      callbacks: [{ onStep: (_, s) => losses.push(s.loss) }],
    });
    t.fit(loader);
    out({ rank: info.rank, worldSize: info.worldSize, buckets: ddp.bucketCount, losses, state: state(m) });
    dist.finalize();
    return;
  }
  manualSeed(100);
  const m = model(kind);
  const o = optimizer(opt, m.parameters());
  const loader = new data.DataLoader(ds, { batchSize: B, shuffle: true, seed: 5 });
  const losses = [];
  m.train();
  for (let e = 0; e < epochs; e++) {
    for (const { x, y } of loader) {
      losses.push(tidy(() => {
        o.zeroGrad();
        let loss;
        if (kind === 'bn') {
          const halves = [0, 1].map((r) => Array.from({ length: B / K }, (_, j) => r + K * j));
          const bufs = m.namedBuffers().map(([, b]) => b);
          let snap = null;
          const parts = halves.map((idx, r) => {
            const l = nn.functional.crossEntropy(m.forward(x.indexSelect(0, tensor(idx))), y.indexSelect(0, tensor(idx)));
            if (r === 0) snap = bufs.map((b) => b.clone()); // the running statistics rank 0 keeps: its half's alone
            return l;
          });
          bufs.forEach((b, i) => b.copy_(snap[i]));
          loss = parts[0].add(parts[1]).div(2);
        } else {
          loss = nn.functional.crossEntropy(m.forward(x), y);
        }
        loss.backward();
        o.step();
        return loss.item();
      }));
    }
  }
  out({ rank: 0, worldSize: 1, losses, state: state(m) });
}

// mismatch <count|shape>: rank 1 builds another model; DDP must refuse on every rank.
function mismatch(how) {
  const info = dist.init();
  const m = info.rank === 1 ? (how === 'count' ? new nn.Sequential(model('plain'), new nn.Linear(3, 3)) : model('plain', 4)) : model('plain');
  try {
    new dist.DistributedDataParallel(m);
    out({ rank: info.rank, ok: true });
  } catch (e) {
    out({ rank: info.rank, error: e.message });
  }
  dist.finalize();
}

// die: rank 1 is killed (SIGKILL) while rank 0 waits in an allreduce that can never complete.
function die() {
  const info = dist.init();
  const t = tensor([1, 2, 3]);
  dist.allReduce(t, 'sum');
  dist.barrier();
  if (info.rank === 1) process.kill(process.pid, 'SIGKILL');
  for (;;) dist.allReduce(t, 'sum');
}

// stall: rank 1 stops answering (blocks 60 s outside MPI); rank 0's watchdog (timeout 1 s) must end the job.
function stall() {
  const info = dist.init({ timeout: 1 });
  const t = tensor([1, 2, 3]);
  dist.allReduce(t, 'sum');
  if (info.rank === 1) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60_000);
  dist.allReduce(t, 'sum');
  out({ rank: info.rank, finished: true });
  dist.finalize();
}

// collectives: allReduce sum/mean of one and of several tensors, broadcast, allGather, errors.
function collectives() {
  const info = dist.init();
  const r = info.rank;
  const a = tensor([1 + r, 10 * r, -r]);
  dist.allReduce(a, 'sum');
  const b = tensor([[r, 2], [4, r]]), c = tensor([3 * r]);
  dist.allReduce([b, c], 'mean');
  const d = tensor([r + 5, r + 6]);
  dist.broadcast(d, 1);
  const errors = [];
  const tryErr = (f) => { try { f(); errors.push(null); } catch (e) { errors.push(e.message); } };
  tryErr(() => dist.allReduce(a, 'max'));
  tryErr(() => dist.broadcast(a, 2));
  const disposed = tensor([1]);
  disposed.dispose();
  tryErr(() => dist.allReduce(disposed));
  const sums = dist.allReduceNumbers([r, 0.5]);
  // from a worker_thread: refused (MPI is initialised for the main thread only), the job goes on
  const { Worker } = require('node:worker_threads');
  const w = new Worker(`const { parentPort } = require('node:worker_threads'); const b = require(${JSON.stringify(path.resolve(__dirname, '../../dist'))});
    b.distributed.init(); try { b.distributed.barrier(); parentPort.postMessage(null); } catch (e) { parentPort.postMessage(e.message); }`, { eval: true });
  w.on('message', (m) => {
    errors.push(m);
    out({ rank: r, worldSize: info.worldSize, a: Array.from(a.data()), b: Array.from(b.data()), c: Array.from(c.data()), d: Array.from(d.data()), gathered: dist.allGather(`rank${r}`), sums, errors });
    w.terminate().then(() => {
      dist.finalize();
      tryErr(() => dist.barrier());
      out({ rank: r, afterFinalize: errors[errors.length - 1] });
    });
  });
}

({ traj, mismatch, die, stall, collectives })[scenario](...args);
