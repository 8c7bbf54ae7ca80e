// Serving: flat memory over long runs. Each scenario runs in its own child
// process (`node --expose-gc`, loading ./dist) that samples RSS after a warm-up
// and at the end, both after gc(), and reports them as JSON on its last line.
// The end must be at most 10% above the warm-up.
//
// Two loop styles are measured:
//   - synchronous: the loop never yields to the event loop (the README's training
//     loop; a batch job calling runSync back to back);
//   - yielding: `await setImmediate` every 100 iterations (what a server that
//     handles requests, or an async training loop, does).
// Node-API runs finalizers from setImmediate, so in a synchronous loop every
// tensor handle's finalizer waits until the loop yields.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const DIST = path.join(ROOT, 'dist', 'index.js');
const LIMIT = 1.1;

const PRELUDE = `
const b = require(${JSON.stringify(DIST)});
const YIELD = Number(process.env.YIELD_EVERY || 0);
const tick = () => new Promise((r) => setImmediate(r));
// A yielding loop samples after gc() and two event-loop turns (so deferred finalizers run too);
// a synchronous loop samples after gc() without yielding, as the loop itself never does.
const rss = async () => {
  gc();
  if (YIELD) { await tick(); await tick(); gc(); }
  return process.memoryUsage().rss;
};
const settled = async () => { gc(); await tick(); await tick(); gc(); return process.memoryUsage().rss; };
`;

const TRAIN = `${PRELUDE}
const STEPS = 3000, WARM = 1000; // RSS settles after ~1000 steps (allocator arenas, JIT)
b.manualSeed(0);
const model = b.models.LeNet();
const opt = new b.optim.SGD(model.parameters(), { lr: 0.01, momentum: 0.9 });
let seed = 1;
const labels = () => Int32Array.from({ length: 16 }, () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % 10);
(async () => {
  let warm = 0;
  const t0 = Date.now();
  for (let step = 1; step <= STEPS; step++) {
    b.tidy(() => {
      opt.zeroGrad();
      const loss = b.nn.functional.crossEntropy(model.forward(b.randn([16, 1, 28, 28])), labels());
      loss.backward();
      opt.step();
    });
    if (YIELD && step % YIELD === 0) await tick();
    if (step === WARM) warm = await rss();
  }
  const ms = Date.now() - t0;
  const end = await rss();
  console.log(JSON.stringify({ what: 'train', iterations: STEPS, warm, end, afterYield: await settled(), ms, native: b.memoryInfo() }));
})();
`;

const INFER = `${PRELUDE}
const CALLS = 100000, WARM = 10000;
b.manualSeed(0);
const session = new b.InferenceSession(b.models.LeNet().eval());
const x = b.randn([1, 1, 28, 28]);
(async () => {
  let warm = 0;
  const t0 = Date.now();
  for (let i = 1; i <= CALLS; i++) {
    session.runSync(x).dispose();
    if (YIELD && i % YIELD === 0) await tick();
    if (i === WARM) warm = await rss();
  }
  const ms = Date.now() - t0;
  const end = await rss();
  console.log(JSON.stringify({ what: 'infer', iterations: CALLS, warm, end, afterYield: await settled(), ms, native: b.memoryInfo() }));
})();
`;

interface Report {
  what: string;
  iterations: number;
  warm: number;
  end: number;
  /** RSS once the loop is over and the event loop has turned (informational). */
  afterYield: number;
  ms: number;
  native: { liveBytes: number; cachedBytes: number };
}

let dir = '';
beforeAll(() => {
  if (!fs.existsSync(DIST)) throw new Error(`${DIST} is missing: run \`npm run build:ts\` first`);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-memory-'));
  fs.writeFileSync(path.join(dir, 'train.js'), TRAIN);
  fs.writeFileSync(path.join(dir, 'infer.js'), INFER);
});
afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

function runChild(script: string, yieldEvery: number): Promise<Report> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, YIELD_EVERY: String(yieldEvery) };
    delete env.NODE_OPTIONS;
    const p = spawn(process.execPath, ['--expose-gc', path.join(dir, script)], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('error', reject);
    p.on('close', (code, signal) => {
      const last = out.trim().split('\n').pop() ?? '';
      if (code !== 0) return reject(new Error(`${script} exited ${code}${signal ? ` (${signal})` : ''}\n${out}\n${err}`));
      try {
        resolve(JSON.parse(last) as Report);
      } catch {
        reject(new Error(`${script}: no JSON report\n${out}\n${err}`));
      }
    });
  });
}

function check(r: Report, label: string): void {
  const mb = (n: number) => (n / 2 ** 20).toFixed(1);
  const ratio = r.end / r.warm;
  console.log(
    `${label}: ${r.iterations} iterations in ${(r.ms / 1000).toFixed(1)} s; RSS after warm-up ${mb(r.warm)} MiB, at the end ${mb(r.end)} MiB ` +
      `(x${ratio.toFixed(3)}, ${(((r.end - r.warm) / (r.iterations - (r.what === 'train' ? 1000 : 10000))) | 0)} B/iteration after the warm-up), ${mb(r.afterYield)} MiB once the event loop has turned; native live ${mb(r.native.liveBytes)} MiB, cached ${mb(r.native.cachedBytes)} MiB`,
  );
  expect(r.warm).toBeGreaterThan(0);
  expect(ratio, `${label}: RSS grew from ${mb(r.warm)} MiB to ${mb(r.end)} MiB`).toBeLessThanOrEqual(LIMIT);
}

describe.concurrent('flat memory (RSS at the end <= 1.10 x after warm-up)', () => {
  it('training LeNet 3000 steps (batch 16, tidy) in a synchronous loop', async () => {
    check(await runChild('train.js', 0), 'train, synchronous loop');
  }, 180_000);

  it('100k batch-1 InferenceSession.runSync calls (outputs disposed) in a synchronous loop', async () => {
    check(await runChild('infer.js', 0), 'runSync, synchronous loop');
  }, 180_000);

  it('training LeNet 3000 steps (batch 16, tidy), yielding to the event loop every 100 steps', async () => {
    check(await runChild('train.js', 100), 'train, yielding');
  }, 180_000);

  it('100k batch-1 InferenceSession.runSync calls (outputs disposed), yielding every 100 calls', async () => {
    check(await runChild('infer.js', 100), 'runSync, yielding');
  }, 180_000);
});
