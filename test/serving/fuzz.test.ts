// Robustness: seeded random calls across the public API with random shapes,
// types and argument garbage. Every call must return or throw an Error; none
// may crash the process. The fuzzing runs in a child process (loading ./dist)
// so that a native crash fails this test instead of killing the test runner;
// each call is logged before it runs, so a crash names the call.
//
// The child runs under `ulimit -v` (address space) so that valid but huge
// requests (zeros([2**31 - 1]) is 8 GiB) fail fast with "out of memory"
// instead of paging the machine; the allocation-failure test relies on it.
// Under scripts/asan-test.sh (BLASNET_UNDER_ASAN=1) ASan's shadow memory cannot
// live under `ulimit -v`; the script caps allocations with ASan's
// max_allocation_size_mb + allocator_may_return_null instead.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const DIST = path.join(ROOT, 'dist', 'index.js');
const CALLS = 12_000;
const ADDRESS_SPACE_KB = 3 * 1024 * 1024; // 3 GiB: plenty for node + OpenBLAS, below a 4 GiB (2^30-element) tensor

const FUZZ = `
'use strict';
const fs = require('node:fs');
const b = require(${JSON.stringify(DIST)});
const F = b.nn.functional;
const SEED = Number(process.env.FUZZ_SEED), CALLS = Number(process.env.FUZZ_CALLS), LOG = process.env.FUZZ_LOG;
const logFd = fs.openSync(LOG, 'w');

let s = SEED >>> 0;
const rnd = () => { s = (s + 0x6d2b79f5) >>> 0; let t = s; t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
const int = (n) => Math.floor(rnd() * n);
const pick = (a) => a[int(a.length)];
const chance = (p) => rnd() < p;
b.manualSeed(SEED);

const SMALL = [0, 1, 1, 2, 2, 3, 4, 5, 7, 8, 16, 28];
const HUGE = [2 ** 31, 2 ** 31 - 1, 2 ** 30, 2 ** 32 + 1, 1e9, 65536, 46341, 2 ** 53, Number.MAX_SAFE_INTEGER];
const BADNUM = [-1, -0, 0.5, 1.5, NaN, Infinity, -Infinity, -(2 ** 31), 1e300];
const dim = () => (chance(0.9) ? pick(SMALL) : chance(0.6) ? pick(HUGE) : pick(BADNUM));
const shape = () => { const r = chance(0.1) ? int(10) : int(6); return Array.from({ length: r }, dim); };
const goodShape = (maxRank = 5) => Array.from({ length: int(maxRank + 1) }, () => pick([0, 1, 1, 2, 3, 4, 5]));

const live = [];   // tensors created along the way (some disposed)
const session = new b.InferenceSession(b.models.LeNet().eval());
const tinySession = new b.InferenceSession(new b.nn.Sequential(new b.nn.Flatten(), new b.nn.Linear(12, 3), new b.nn.Softmax(1)).eval());

function anyTensor() {
  if (live.length && chance(0.5)) return pick(live);
  const sh = goodShape();
  let t;
  try { t = chance(0.5) ? b.randn(sh) : b.rand(sh, -3, 3); } catch (e) { return b.zeros([2, 3]); }
  if (chance(0.05)) { const d = t.data(); if (d.length) { d[int(d.length)] = pick([NaN, Infinity, -Infinity]); t = b.tensor(d, sh); } }
  if (chance(0.1)) t.dispose();
  if (live.length > 64) { const old = live.shift(); if (chance(0.5)) old.dispose(); }
  live.push(t);
  return t;
}
function image(N = 1 + int(4), C = pick([1, 1, 2, 3]), H = pick([1, 3, 5, 8, 28]), W = pick([1, 3, 5, 8, 28])) {
  return b.randn([N, C, H, W]);
}
const garbageList = () => [
  undefined, null, NaN, Infinity, -Infinity, -1, 0, 1, 2.5, 2 ** 31, 2 ** 53, -0, '2', '', 'same', [], [1, 'a'], [NaN], [2 ** 31, 2],
  {}, { kernelSize: pick([0, -1, 2, NaN, [2, 2], [2, 2, 2], '2']) }, () => 1, Symbol('x'), 10n, true, false,
  new Float32Array(3), new Int32Array([1, 2]), new ArrayBuffer(8), new Map(), Object.create(null), [[1, 2], [3]],
];
const garbage = () => (chance(0.35) ? anyTensor() : pick(garbageList()));
const maybe = (f) => (chance(0.75) ? f() : garbage());
const num = () => (chance(0.7) ? pick([-2, -1, 0, 1, 2, 3]) : chance(0.5) ? pick(BADNUM.concat(HUGE)) : garbage());
const poolOpts = () => (chance(0.7)
  ? { kernelSize: pick([1, 2, 3, [2, 3], 0, 5, 30]), stride: pick([undefined, null, 1, 2, 0, -1, [1, 2]]), padding: pick([0, 1, 2, [1, 0], 5]),
      ceilMode: pick([true, false, 'yes']), countIncludePad: pick([true, false, undefined]) }
  : garbage());
const convOpts = () => (chance(0.7)
  ? { stride: pick([1, 2, 0, -1, [1, 2], 2.5]), padding: pick([0, 1, 'same', 'valid', [1, 1, 0, 0], -1, 'full', [1, 2, 3]]),
      dilation: pick([1, 2, 0, [1, 3]]), groups: pick([1, 1, 2, 3, 0, -1, 1.5]) }
  : garbage());
const target = (N) => (chance(0.5) ? Array.from({ length: N }, () => pick([0, 1, 2, 9, 10, -1, 1.5, NaN])) :
  chance(0.5) ? Int32Array.from({ length: pick([N, N + 1, 0]) }, () => int(12) - 1) : garbage());

const OPS = {
  tensor: () => chance(0.5) ? b.tensor(chance(0.5) ? Array.from({ length: int(20) }, () => pick([1, 2.5, NaN, Infinity, 'x', null, [1]])) : garbage(), maybe(shape))
                            : b.tensor(new Float32Array(int(24)), chance(0.6) ? goodShape(3) : shape()),
  zeros: () => b.zeros(maybe(shape)),
  ones: () => b.ones(...(chance(0.5) ? [maybe(shape)] : shape())),
  full: () => b.full(maybe(shape), num()),
  arange: () => b.arange(num(), chance(0.7) ? num() : undefined, chance(0.7) ? pick([1, 0.5, -1, 0, NaN, Infinity, 1e-9]) : undefined),
  rand: () => b.rand(maybe(shape), num(), num()),
  randn: () => b.randn(maybe(shape), num(), num()),
  add: () => anyTensor().add(chance(0.6) ? anyTensor() : garbage(), chance(0.2) ? num() : undefined),
  matmul: () => (chance(0.5) ? b.randn(goodShape(3)) : anyTensor()).matmul(chance(0.7) ? b.randn(goodShape(3)) : garbage()),
  reshape: () => anyTensor().reshape(...(chance(0.5) ? [maybe(shape)] : Array.from({ length: int(5) }, () => pick([-1, -1, 0, 1, 2, 3, 6, NaN, 2 ** 31])))),
  permute: () => { const t = anyTensor(); return t.permute(...(chance(0.5) ? [Array.from({ length: t.ndim + int(3) - 1 }, () => int(t.ndim + 2) - 1)] : [garbage()])); },
  sum: () => anyTensor().sum(chance(0.3) ? undefined : num(), pick([true, false, undefined, 'x'])),
  softmax: () => (chance(0.5) ? anyTensor().softmax(num()) : F.softmax(garbage(), num())),
  conv2d: () => F.conv2d(chance(0.8) ? image() : garbage(), chance(0.8) ? b.randn([pick([1, 2, 4, 6]), pick([1, 2, 3]), pick([1, 2, 3, 5, 9]), pick([1, 3, 5])]) : garbage(),
                         chance(0.5) ? b.randn([pick([1, 2, 4, 6])]) : pick([null, undefined, garbage()]), convOpts()),
  maxPool2d: () => F.maxPool2d(chance(0.8) ? image() : garbage(), poolOpts()),
  avgPool2d: () => F.avgPool2d(chance(0.8) ? image() : garbage(), poolOpts()),
  linear: () => { const inF = pick([1, 3, 8]); return F.linear(chance(0.8) ? b.randn([pick([0, 1, 4]), chance(0.8) ? inF : 5]) : garbage(),
                   chance(0.8) ? b.randn([pick([2, 3]), chance(0.8) ? inF : 2]) : garbage(), chance(0.5) ? b.randn([pick([2, 3])]) : pick([null, undefined, garbage()])); },
  crossEntropy: () => { const N = pick([0, 1, 3]); return F.crossEntropy(chance(0.8) ? b.randn([N, pick([1, 4, 10])]) : garbage(), target(N),
                   chance(0.5) ? { reduction: pick(['mean', 'sum', 'none', 'avg', 3]), labelSmoothing: pick([0, 0.1, 1, 2, -1, NaN]) } : garbage()); },
  runSync: () => { const s2 = chance(0.7) ? session : tinySession;
    return chance(0.5) ? s2.runSync(chance(0.7) ? b.randn(chance(0.6) ? [pick([1, 2]), 1, 28, 28] : goodShape(4)) : garbage())
                       : s2.runSync(new Float32Array(pick([0, 12, 784, 1568, 5])), maybe(shape)); },
  disposed: () => { const t = b.randn(goodShape(4)); t.dispose(); const ops = [() => t.add(1), () => t.matmul(t), () => t.reshape(-1), () => t.sum(),
                   () => t.softmax(0), () => F.conv2d(t, t), () => F.maxPool2d(t, { kernelSize: 1 }), () => F.linear(t, t), () => session.runSync(t),
                   () => t.data(), () => t.item(), () => b.randn([2, 2]).add(t), () => t.permute(0)]; return pick(ops)(); },
};
const NAMES = Object.keys(OPS);

let calls = 0, returned = 0, threw = 0, nativeErrs = 0, rawJsErrs = 0;
const bad = [], nativeExamples = new Map(), rawExamples = new Map();
function classify(op, e) {
  if (!(e instanceof Error)) { bad.push(op + ': threw a non-Error ' + String(e)); return; }
  const m = String(e.message);
  if (m.startsWith('blasnet native')) { nativeErrs++; if (!nativeExamples.has(op)) nativeExamples.set(op, m); }
  else if (/^(Cannot |.* is not (a function|iterable|defined)|Invalid array length|Do not know how to serialize)/.test(m)) { rawJsErrs++; if (!rawExamples.has(op)) rawExamples.set(op, m); }
}
function check(op, r) {
  if (r instanceof b.Tensor) { if (!r.isDisposed && r.numel <= 1e5) r.data(); r.dispose(); }
}
(async () => {
  for (let i = 0; i < CALLS; i++) {
    const op = NAMES[int(NAMES.length)];
    fs.writeSync(logFd, i + ' ' + op + '\\n');
    calls++;
    try {
      if (op === 'runSync' && chance(0.2)) {
        const r = await session.run(chance(0.5) ? b.randn([pick([1, 2]), pick([1, 3]), 28, 28]) : garbage());
        check(op, r);
      } else check(op, OPS[op]());
      returned++;
    } catch (e) { threw++; classify(op, e); }
    if (i % 250 === 0) await new Promise((r) => setImmediate(r)); // let finalizers run
  }
  console.log(JSON.stringify({ calls, returned, threw, nativeErrs, rawJsErrs, bad, nativeExamples: [...nativeExamples], rawExamples: [...rawExamples] }));
})().catch((e) => { console.error('fuzz driver failed:', e); process.exit(3); });
`;

const ALLOC = `
'use strict';
const b = require(${JSON.stringify(DIST)});
const F = b.nn.functional;
const out = [];
function attempt(label, f) {
  try { const r = f(); out.push({ label, result: 'returned', shape: r && r.shape }); if (r && r.dispose) r.dispose(); }
  catch (e) { out.push({ label, result: e instanceof Error ? 'Error' : 'non-Error', message: String(e && e.message) }); }
}
attempt('zeros([2**31 - 1])', () => b.zeros([2 ** 31 - 1]));
attempt('ones([2**31 - 1])', () => b.ones([2 ** 31 - 1]));
attempt('full([2**30], 1)', () => b.full([2 ** 30], 1));
attempt('randn([2**31 - 1])', () => b.randn([2 ** 31 - 1]));
attempt('rand([46340, 46340])', () => b.rand([46340, 46340]));
attempt('matmul [46000,1] x [1,46000]', () => b.randn([46000, 1]).matmul(b.randn([1, 46000])));
// conv2d whose lowering of a single output row (C*kh*kw x OW floats, about 8.8e10: the floor of the tiled
// workspace) is far beyond the address space (a whole-image im2col no longer is the floor: #12)
attempt('conv2d 1x45000 kernel over a 2,000,000-wide row', () => F.conv2d(b.randn([1, 1, 1, 2000000]), b.randn([1, 1, 1, 45000])));
attempt('zeros([2**31]) (over MAX_NUMEL)', () => b.zeros([2 ** 31]));
// still alive and computing
const ok = b.tensor([[1, 2], [3, 4]]).matmul(b.tensor([[1, 0], [0, 1]])).toArray();
console.log(JSON.stringify({ out, ok }));
`;

let dir = '';
beforeAll(() => {
  if (!fs.existsSync(DIST)) throw new Error(`${DIST} is missing: run \`npm run build:ts\` first`);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-fuzz-'));
  fs.writeFileSync(path.join(dir, 'fuzz.js'), FUZZ);
  fs.writeFileSync(path.join(dir, 'alloc.js'), ALLOC);
});
afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `node script` under an address-space limit (ulimit -v, except under ASan), with a wall-clock limit. */
function runLimited(script: string, env: Record<string, string>, timeoutMs: number): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
    delete childEnv.NODE_OPTIONS;
    const cmd = process.env.BLASNET_UNDER_ASAN ? 'exec "$0" "$1"' : `ulimit -v ${ADDRESS_SPACE_KB} && exec "$0" "$1"`;
    const p = spawn('/bin/sh', ['-c', cmd, process.execPath, script], { cwd: ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('error', reject);
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

function lastLine(s: string): string {
  return s.trim().split('\n').pop() ?? '';
}

describe.runIf(process.platform === 'linux')('fuzzing the public API (child process)', () => {
  for (const seed of [1, 2])
    it(`${CALLS} seeded random calls (seed ${seed}): each returns or throws an Error, the process survives`, async () => {
      const log = path.join(dir, `fuzz-${seed}.log`);
      const r = await runLimited(path.join(dir, 'fuzz.js'), { FUZZ_SEED: String(seed), FUZZ_CALLS: String(CALLS), FUZZ_LOG: log }, 150_000);
      const lastCall = fs.existsSync(log) ? lastLine(fs.readFileSync(log, 'utf8')) : '(no log)';
      const where = `exit ${r.code}${r.signal ? ` signal ${r.signal}` : ''}; last call started: ${lastCall}\n--- stderr ---\n${r.stderr.slice(-4000)}`;
      expect(r.code, where).toBe(0);
      const report = JSON.parse(lastLine(r.stdout)) as {
        calls: number; returned: number; threw: number; nativeErrs: number; rawJsErrs: number;
        bad: string[]; nativeExamples: [string, string][]; rawExamples: [string, string][];
      };
      console.log(
        `fuzz seed ${seed}: ${report.calls} calls, ${report.returned} returned, ${report.threw} threw an Error ` +
          `(${report.nativeErrs} caught only by the native layer, ${report.rawJsErrs} raw JS errors)` +
          (report.nativeExamples.length ? `\n  native-layer examples: ${report.nativeExamples.map(([o, m]) => `${o}: ${m}`).join(' | ')}` : '') +
          (report.rawExamples.length ? `\n  raw JS error examples: ${report.rawExamples.map(([o, m]) => `${o}: ${m}`).join(' | ')}` : ''),
      );
      expect(report.calls).toBe(CALLS);
      expect(report.returned + report.threw).toBe(CALLS);
      expect(report.bad).toEqual([]);
    }, 180_000);

  it('allocation failure: zeros([2**31 - 1]) and other too-large native allocations throw an Error, not abort', async () => {
    const r = await runLimited(path.join(dir, 'alloc.js'), {}, 120_000);
    expect(r.code, `exit ${r.code} ${r.signal ?? ''}\n${r.stdout}\n${r.stderr}`).toBe(0);
    const report = JSON.parse(lastLine(r.stdout)) as { out: { label: string; result: string; message?: string }[]; ok: number[][] };
    for (const o of report.out) {
      expect(o.result, `${o.label}: ${JSON.stringify(o)}`).toBe('Error');
      expect(o.message, o.label).toMatch(/out of memory|more than 2147483647|too large|overflow/i);
    }
    expect(report.ok).toEqual([[1, 2], [3, 4]]);
  }, 150_000);
});
