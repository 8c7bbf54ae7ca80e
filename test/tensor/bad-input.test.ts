// A seeded sweep of bad calls across the public tensor API: each must throw an
// Error (TypeError/RangeError fine) that names the op, and the process must
// keep running. Plus exact messages for a few common mistakes.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import {
  tensor, zeros, ones, full, arange, rand, randn, manualSeed, setNumThreads, tidy, memoryInfo, Tensor,
} from '../../src';
import { makeRng, randInt, pick, type Rng } from '../helpers';

type BadCall = { desc: string; fn: () => unknown; op?: string };

function msgOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('expected the call to throw');
}

// Values that are neither a Tensor nor a number.
const GARBAGE: unknown[] = [
  'x', '', '1', {}, [], [1, 2], null, undefined, true, false, Symbol('s'), () => 1, new Float32Array(2), 10n,
  new Map(), Object.create(null), { shape: [2], data: [1, 2] }, new Date(0), /re/,
];
// Not an integer (for dims).
const BAD_DIM_TYPE: unknown[] = ['0', 1.5, -0.5, NaN, Infinity, -Infinity, {}, [0], true, 10n, Symbol('d')];
// Not a valid size inside a shape array.
const BAD_SIZE: unknown[] = [-1, -7, 1.5, 0.1, NaN, Infinity, -Infinity, '3', null, undefined, {}, [2], true, 10n];
const HUGE: number[] = [2 ** 31, 2 ** 32 + 1, 1e10, 2 ** 53, Number.MAX_VALUE];

const desc = (v: unknown): string => {
  if (typeof v === 'symbol') return 'Symbol()';
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'function') return 'function';
  if (v instanceof Tensor) return v.isDisposed ? `disposed[${v.shape}]` : `tensor[${v.shape}]`;
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
};

/** A shape whose product exceeds 2^31 - 1 (never allocatable). */
function overflowShape(r: Rng): number[] {
  const choices = [
    [65536, 65536],
    [2 ** 16, 2 ** 15, 2],
    [1e5, 1e5],
    [2 ** 31],
    [1024, 1024, 1024, 2],
    [3, 1e9],
    [2, 2, 2, 2, 2, 2, 2, 2 ** 25],
  ];
  return pick(r, choices).slice();
}

function badShape(r: Rng): unknown[] {
  const nd = randInt(r, 1, 4);
  const s: unknown[] = Array.from({ length: nd }, () => randInt(r, 1, 4));
  s[randInt(r, 0, nd - 1)] = pick(r, BAD_SIZE);
  return s;
}

/** A random valid shape with ndim in [lo, hi] and sizes in 2..4. */
function shapeOf(r: Rng, lo: number, hi: number): number[] {
  return Array.from({ length: randInt(r, lo, hi) }, () => randInt(r, 2, 4));
}

const BINARY_OPS = ['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'gt', 'lt', 'ge', 'le', 'eq'] as const;
const UNARY_OPS = ['neg', 'exp', 'log', 'sqrt', 'abs', 'relu', 'sigmoid', 'tanh', 'clone', 'detach', 'contiguous'] as const;
const DIM_OPS = ['sum', 'mean', 'argmax', 'softmax', 'logSoftmax', 'squeeze', 'unsqueeze'] as const;

describe('bad input sweep', () => {
  const fixtures: Tensor[] = [];
  const T = (shape: number[]) => {
    const t = rand(shape);
    fixtures.push(t);
    return t;
  };
  const disposed = (shape: number[]) => {
    const t = rand(shape);
    t.dispose();
    return t;
  };
  let liveBefore = 0;
  const leakedBy: string[] = [];
  const leakedBytes = () => leakedBy.reduce((a, s) => a + Number(/\+(\d+) bytes$/.exec(s)![1]), 0);

  beforeAll(() => {
    manualSeed(42);
  });
  afterAll(() => {
    for (const t of fixtures) t.dispose();
  });

  const generators: ((r: Rng) => BadCall)[] = [
    // --- creation: bad sizes -----------------------------------------------------------
    (r) => {
      const s = badShape(r);
      const f = pick(r, ['zeros', 'ones', 'rand', 'randn'] as const);
      const fn = { zeros: () => zeros(s as number[]), ones: () => ones(s as number[]), rand: () => rand(s as number[]), randn: () => randn(s as number[]) }[f];
      return { desc: `${f}(${desc(s)})`, fn, op: f };
    },
    (r) => {
      const v = pick(r, BAD_SIZE);
      const f = pick(r, ['zeros', 'ones'] as const);
      return { desc: `${f}(2, ${desc(v)})`, fn: () => (f === 'zeros' ? zeros(2, v as number) : ones(v as number, 2)), op: f };
    },
    (r) => {
      const v = pick(r, [...BAD_SIZE.filter((x) => typeof x === 'number'), ...HUGE]) as number;
      const f = pick(r, ['rand', 'randn'] as const);
      return { desc: `${f}(${v})`, fn: () => (f === 'rand' ? rand(v) : randn(v)), op: f };
    },
    (r) => {
      const s = overflowShape(r);
      const f = pick(r, ['zeros', 'ones', 'rand', 'randn', 'full'] as const);
      const fn = {
        zeros: () => zeros(s), ones: () => ones(...s), rand: () => rand(s), randn: () => randn(s), full: () => full(s, 1),
      }[f];
      return { desc: `${f}(${desc(s)}) overflow`, fn, op: f };
    },
    (r) => {
      const s = [randInt(r, 1, 3), pick(r, HUGE)];
      return { desc: `zeros(${desc(s)}) huge`, fn: () => zeros(s), op: 'zeros' };
    },
    (r) => {
      const s = pick(r, [badShape(r), 'x', 3, null, undefined, {}]);
      return { desc: `full(${desc(s)}, 1)`, fn: () => full(s as number[], 1), op: 'full' };
    },
    (r) => {
      const v = pick(r, ['1', null, undefined, {}, [1], true, 10n]);
      return { desc: `full([2], ${desc(v)})`, fn: () => full([2], v as number), op: 'full' };
    },
    (r) => {
      const nine = Array.from({ length: randInt(r, 9, 12) }, () => 1);
      const f = pick(r, ['zeros', 'ones', 'rand'] as const);
      return { desc: `${f}(${nine.length} dims)`, fn: () => (f === 'zeros' ? zeros(nine) : f === 'ones' ? ones(nine) : rand(nine)), op: f };
    },
    (r) => {
      const [lo, hi] = pick(r, [[1, 0], [NaN, 1], [0, Infinity], [-Infinity, 0], [0, NaN], [5, -5]]);
      return { desc: `rand([3], ${lo}, ${hi})`, fn: () => rand([3], lo, hi), op: 'rand' };
    },
    (r) => {
      const [m, s] = pick(r, [[0, -1], [NaN, 1], [0, Infinity], [Infinity, 1], [0, NaN], [0, -1e-9]]);
      return { desc: `randn([3], ${m}, ${s})`, fn: () => randn([3], m, s), op: 'randn' };
    },
    (r) => {
      const args = pick(r, [
        [NaN], [Infinity], [-Infinity], [0, NaN], [0, Infinity], [0, 1, 0], [0, 1, -0], [0, 1, NaN], [0, 1, Infinity],
        ['5'], [0, '5'], [null], [undefined], [{}], [0, 1e10], [0, 1, 1e-10], [-1e10, 1e10], [0, 3e9, 1], [1e10, 0, -1],
        [0, 2 ** 31 + 5],
      ]) as [number, number?, number?];
      return { desc: `arange(${args.map(desc).join(', ')})`, fn: () => arange(...args), op: 'arange' };
    },
    // --- tensor(): data/shape disagreements, ragged, non-numeric ---------------------
    (r) => {
      const n = randInt(r, 0, 12);
      let s = shapeOf(r, 1, 3);
      if (s.reduce((a, b) => a * b, 1) === n) s = [...s, 2];
      const data = pick(r, ['array', 'f32', 'f64', 'i32'] as const);
      const d = data === 'array' ? Array.from({ length: n }, (_, i) => i) : data === 'f32' ? new Float32Array(n) : data === 'f64' ? new Float64Array(n) : new Int32Array(n);
      return { desc: `tensor(${data} of ${n}, ${desc(s)})`, fn: () => tensor(d, s), op: 'tensor' };
    },
    (r) => {
      const s = badShape(r);
      return { desc: `tensor([1, 2], ${desc(s)})`, fn: () => tensor([1, 2], s as number[]), op: 'tensor' };
    },
    (r) => {
      const s = pick(r, ['x', 3, null, {}, true]);
      return { desc: `tensor([1], ${desc(s)})`, fn: () => tensor([1], s as unknown as number[]), op: 'tensor' };
    },
    (r) => {
      // ragged: a nested array with one sub-array of another length (or a number where an array belongs)
      const rows = randInt(r, 2, 4), cols = randInt(r, 1, 4), depth3 = r() < 0.4;
      const mk = () => Array.from({ length: cols }, () => r());
      const data: unknown[] = Array.from({ length: rows }, () => (depth3 ? [mk(), mk()] : mk()));
      const i = randInt(r, 0, rows - 1);
      const kind = randInt(r, 0, 3);
      if (kind === 0) data[i] = Array.from({ length: cols + randInt(r, 1, 3) }, () => 1);
      else if (kind === 1) data[i] = cols > 1 ? [1] : [1, 2];
      else if (kind === 2) data[i] = 7;
      else (data[i] as unknown[]).push(depth3 ? [1] : [1, 2]);
      return { desc: `tensor(ragged ${desc(data)})`, fn: () => tensor(data as number[][]), op: 'tensor' };
    },
    (r) => {
      // a non-numeric element somewhere in a nested array
      const rows = randInt(r, 1, 3), cols = randInt(r, 1, 4);
      const data: unknown[][] = Array.from({ length: rows }, () => Array.from({ length: cols }, () => r()));
      data[randInt(r, 0, rows - 1)][randInt(r, 0, cols - 1)] = pick(r, ['a', null, undefined, {}, Symbol('e'), 10n, () => 1, new Date(0), '1']);
      return { desc: `tensor(non-numeric ${desc(data)})`, fn: () => tensor(data as number[][]), op: 'tensor' };
    },
    (r) => {
      const v = pick(r, [
        'abc', null, undefined, {}, Symbol('t'), () => 1, new Map(), new Set([1]), { length: -1 }, { length: 1.5 },
        { length: 2 ** 31 }, { length: 3 }, { length: 2, 0: 1, 1: 'x' }, new DataView(new ArrayBuffer(4)), 10n, new Date(0),
        [[[[[[[[[1]]]]]]]]],
      ]);
      return { desc: `tensor(${desc(v)})`, fn: () => tensor(v as number), op: 'tensor' };
    },
    // --- elementwise: garbage operands, shapes that do not broadcast, disposed --------
    (r) => {
      const op = pick(r, BINARY_OPS);
      const g = pick(r, GARBAGE);
      const x = T(shapeOf(r, 0, 3));
      return { desc: `${op}(${desc(g)})`, fn: () => (x as unknown as Record<string, (v: unknown) => Tensor>)[op](g), op };
    },
    (r) => {
      const op = pick(r, BINARY_OPS);
      const s = shapeOf(r, 1, 4);
      const o = s.slice();
      const i = randInt(r, 0, s.length - 1);
      o[i] = s[i] + randInt(r, 1, 3);
      const a = T(s), b = T(o.slice(randInt(r, 0, i)));
      const swap = r() < 0.5;
      return {
        desc: `${op} [${swap ? b.shape : a.shape}] ⊙ [${swap ? a.shape : b.shape}]`,
        fn: () => (swap ? b : a)[op](swap ? a : b),
        op,
      };
    },
    (r) => {
      const op = pick(r, ['add', 'sub'] as const);
      const s = shapeOf(r, 1, 3);
      const o = s.slice();
      o[0] = s[0] + 1;
      const a = T(s), b = T(o);
      const alpha = pick(r, [2, -1, 0.5]);
      return { desc: `${op}([${s}], [${o}], alpha=${alpha})`, fn: () => a[op](b, alpha), op };
    },
    (r) => {
      const op = pick(r, BINARY_OPS);
      const d = disposed(shapeOf(r, 0, 2));
      const x = T(d.shape as number[]);
      const which = randInt(r, 0, 2);
      return {
        desc: `${op} with ${['a disposed self', 'a disposed other', 'a disposed self and a number'][which]}`,
        fn: () => (which === 0 ? d[op](x) : which === 1 ? x[op](d) : d[op](2)),
        op,
      };
    },
    (r) => {
      const op = pick(r, UNARY_OPS);
      const d = disposed(shapeOf(r, 0, 3));
      return { desc: `${op}() on a disposed tensor`, fn: () => (d as unknown as Record<string, () => Tensor>)[op](), op };
    },
    (r) => {
      const d = disposed(shapeOf(r, 1, 2));
      const op = pick(r, ['data', 'item', 'toArray', 'fill_', 'zero_', 'requiresGrad_', 'backward', 'reshape', 'view', 'flatten', 'permute', 'transpose', 'max', 'matmul', 'sum', 'mean', 'argmax', 'softmax', 'logSoftmax', 'squeeze', 'unsqueeze', 'clamp'] as const);
      const x = T([2, 2]);
      const fn = {
        data: () => d.data(), item: () => d.item(), toArray: () => d.toArray(), fill_: () => d.fill_(1), zero_: () => d.zero_(),
        requiresGrad_: () => d.requiresGrad_(), backward: () => d.backward(), reshape: () => d.reshape(-1), view: () => d.view(-1),
        flatten: () => d.flatten(), permute: () => d.permute([...d.shape.keys()]), transpose: () => d.transpose(0, -1),
        max: () => d.max(), matmul: () => (r() < 0.5 ? d.matmul(x) : x.matmul(d)), sum: () => d.sum(), mean: () => d.mean(0),
        argmax: () => d.argmax(), softmax: () => d.softmax(0), logSoftmax: () => d.logSoftmax(-1), squeeze: () => d.squeeze(),
        unsqueeze: () => d.unsqueeze(0), clamp: () => d.clamp(0, 1),
      }[op];
      return { desc: `${op} on a disposed tensor`, fn, op };
    },
    (r) => {
      const x = T(shapeOf(r, 1, 3));
      const [lo, hi] = pick(r, [[undefined, undefined], [null, null], ['a', 1], [0, 'b'], [{}, undefined], [NaN, 1]]);
      return { desc: `clamp(${desc(lo)}, ${desc(hi)})`, fn: () => x.clamp(lo as number, hi as number), op: 'clamp' };
    },
    // --- matmul -------------------------------------------------------------------
    (r) => {
      const M = randInt(r, 1, 5), K = randInt(r, 1, 5), K2 = K + randInt(r, 1, 3), N = randInt(r, 1, 5);
      const kind = randInt(r, 0, 5);
      const [as, bs] = [
        [[M, K], [K2, N]],
        [[2, M, K], [2, K2, N]],
        [[K], [K2]],
        [[M, K], [K2]],
        [[K], [K2, N]],
        [[2, M, K], [3, K, N]],
      ][kind];
      const a = T(as), b = T(bs);
      return { desc: `matmul [${as}]·[${bs}]`, fn: () => a.matmul(b), op: 'matmul' };
    },
    (r) => {
      const as = pick(r, [[2, 2, 2, 2], [], [1, 1, 1, 1, 1]]), bs = pick(r, [[2, 2], [2], [2, 2, 2, 2]]);
      const a = T(as), b = T(bs);
      const swap = r() < 0.5;
      return { desc: `matmul rank [${swap ? bs : as}]·[${swap ? as : bs}]`, fn: () => (swap ? b.matmul(a) : a.matmul(b)), op: 'matmul' };
    },
    (r) => {
      const g = pick(r, [...GARBAGE, 2, 0, NaN]);
      const a = T([2, 2]);
      return { desc: `matmul(${desc(g)})`, fn: () => a.matmul(g as Tensor), op: 'matmul' };
    },
    // --- shape ops ------------------------------------------------------------------
    (r) => {
      const s = shapeOf(r, 1, 3);
      const x = T(s);
      const n = x.numel;
      const f = pick(r, ['reshape', 'view'] as const);
      const bad = pick(r, [
        [n + randInt(r, 1, 5)],
        [-1, -1],
        [-1, 0],
        [n, 2],
        [-2, n],
        [n / 2 + 0.5 === Math.floor(n / 2 + 0.5) ? n + 1 : n / 2 + 0.5, 2],
        [NaN],
        [Infinity],
        [-1, 7 * n + 1],
        overflowShape(r),
        Array.from({ length: 9 }, (_, i) => (i === 0 ? n : 1)),
        [String(n)],
        [null],
        badShape(r),
      ]);
      return { desc: `${f}(${desc(bad)}) of [${s}]`, fn: () => x[f](bad as number[]), op: f };
    },
    (r) => {
      const s = shapeOf(r, 1, 4);
      const x = T(s);
      const nd = s.length;
      const kind = randInt(r, 0, 3);
      const oob = () => (r() < 0.5 ? nd + randInt(r, 0, 5) : -nd - 1 - randInt(r, 0, 5));
      const args: unknown[] = kind === 0 ? [oob(), -1] : kind === 1 ? [0, oob()] : kind === 2 ? [pick(r, BAD_DIM_TYPE), -1] : nd > 1 ? [nd - 1, 0] : [oob(), 0];
      return { desc: `flatten(${args.map(desc).join(', ')}) of [${s}]`, fn: () => x.flatten(args[0] as number, args[1] as number), op: 'flatten' };
    },
    (r) => {
      const s = shapeOf(r, 1, 4);
      const x = T(s);
      const nd = s.length;
      const op = pick(r, DIM_OPS);
      const extra = op === 'unsqueeze' ? 1 : 0;
      const dim = r() < 0.3 ? pick(r, BAD_DIM_TYPE) : r() < 0.5 ? nd + extra + randInt(r, 0, 5) : -nd - extra - 1 - randInt(r, 0, 5);
      const keepdim = r() < 0.5;
      const fn = () => {
        switch (op) {
          case 'sum': return x.sum(dim as number, keepdim);
          case 'mean': return x.mean(dim as number, keepdim);
          case 'argmax': return x.argmax(dim as number, keepdim);
          case 'softmax': return x.softmax(dim as number);
          case 'logSoftmax': return x.logSoftmax(dim as number);
          case 'squeeze': return x.squeeze(dim as number);
          case 'unsqueeze': return x.unsqueeze(dim as number);
        }
      };
      return { desc: `${op}(${desc(dim)}) of [${s}]`, fn, op };
    },
    (r) => {
      const x = T(shapeOf(r, 0, 3));
      const nd = x.ndim;
      const dim = r() < 0.3 ? pick(r, [...BAD_DIM_TYPE, null]) : r() < 0.5 ? Math.max(nd, 1) + randInt(r, 0, 5) : -Math.max(nd, 1) - 1 - randInt(r, 0, 5);
      return { desc: `max(${desc(dim)}) of [${x.shape}]`, fn: () => x.max(dim as number), op: 'max' };
    },
    (r) => {
      const x = T(shapeOf(r, 1, 3));
      const op = pick(r, ['softmax', 'logSoftmax'] as const);
      return { desc: `${op}() without dim`, fn: () => (x[op] as (d?: number) => Tensor)(), op };
    },
    (r) => {
      const s = shapeOf(r, 1, 4);
      const x = T(s);
      const nd = s.length;
      const bad = pick(r, [
        Array.from({ length: nd + 1 }, (_, i) => i),
        Array.from({ length: Math.max(0, nd - 1) }, (_, i) => i),
        Array.from({ length: nd }, () => 0).map((v, i) => (nd > 1 ? v : i + 5)),
        Array.from({ length: nd }, (_, i) => (i === 0 ? nd + 2 : i)),
        Array.from({ length: nd }, (_, i) => (i === 0 ? 0.5 : i)),
        Array.from({ length: nd }, (_, i) => (i === 0 ? 'a' : i)),
      ]);
      return { desc: `permute(${desc(bad)}) of [${s}]`, fn: () => x.permute(bad as number[]), op: 'permute' };
    },
    (r) => {
      const s = shapeOf(r, 1, 4);
      const x = T(s);
      const nd = s.length;
      const a = r() < 0.3 ? pick(r, BAD_DIM_TYPE) : nd + randInt(r, 0, 3);
      return { desc: `transpose(${desc(a)}, 0) of [${s}]`, fn: () => (r() < 0.5 ? x.transpose(a as number, 0) : x.transpose(0, -(nd + 1))), op: 'transpose' };
    },
    // --- misc -----------------------------------------------------------------------------
    (r) => {
      const x = T([randInt(r, 2, 5), randInt(r, 1, 3)]);
      return { desc: `item() of [${x.shape}]`, fn: () => x.item(), op: 'item' };
    },
    (r) => {
      const x = T([2, 3]);
      const src = pick(r, [T([5]), T([2, 2]), ...GARBAGE.slice(0, 8)]);
      return { desc: `copy_(${desc(src)})`, fn: () => x.copy_(src as Tensor), op: 'copy_' };
    },
    (r) => {
      const x = T([3]);
      const v = pick(r, ['1', null, undefined, {}, [1], 10n]);
      return { desc: `fill_(${desc(v)})`, fn: () => x.fill_(v as number), op: 'fill_' };
    },
    (r) => {
      const x = T([2, 3]);
      const kind = randInt(r, 0, 3);
      if (kind === 0) {
        const s = x.sum();
        fixtures.push(s);
        return { desc: 'backward() on a tensor without grad', fn: () => s.backward(), op: 'backward' };
      }
      const w = rand([2, 3]).requiresGrad_();
      fixtures.push(w);
      const y = w.mul(x);
      fixtures.push(y);
      if (kind === 1) return { desc: 'backward() on a non-scalar', fn: () => y.backward(), op: 'backward' };
      if (kind === 2) {
        const g = T([3, 2]);
        return { desc: 'backward(wrong-shape gradient)', fn: () => y.backward(g), op: 'backward' };
      }
      return { desc: 'requiresGrad_(false) on a non-leaf', fn: () => y.requiresGrad_(false), op: 'requiresGrad_' };
    },
    (r) => {
      const x = T(pick(r, [[3], [2, 2, 2], []]));
      return { desc: `T of [${x.shape}]`, fn: () => x.T, op: 'T' };
    },
    (r) => {
      const v = pick(r, [0, -1, 1.5, NaN, 257, 1e9, 'x', null, undefined, {}]);
      return { desc: `setNumThreads(${desc(v)})`, fn: () => setNumThreads(v as number), op: 'setNumThreads' };
    },
    (r) => {
      const v = pick(r, [1.5, NaN, Infinity, 2 ** 60, 'x', null, undefined, {}, [1]]);
      return { desc: `manualSeed(${desc(v)})`, fn: () => manualSeed(v as number), op: 'manualSeed' };
    },
  ];

  const CALLS = 1500;

  it(`${CALLS} seeded random bad calls all throw an Error and the process keeps running`, () => {
    liveBefore = memoryInfo().liveBytes;
    const r = makeRng(20251129);
    const noThrow: string[] = [];
    const notError: string[] = [];
    const badPrefix: string[] = [];
    const used = new Set<number>();
    for (let k = 0; k < CALLS; k++) {
      const gi = k < generators.length ? k : randInt(r, 0, generators.length - 1); // every generator at least once
      used.add(gi);
      const call = generators[gi](r);
      let threw = false;
      let err: unknown;
      const liveBeforeCall = memoryInfo().liveBytes;
      try {
        const out = call.fn();
        if (out instanceof Tensor) out.dispose();
      } catch (e) {
        threw = true;
        err = e;
      }
      if (memoryInfo().liveBytes > liveBeforeCall) leakedBy.push(`#${k} ${call.desc}: +${memoryInfo().liveBytes - liveBeforeCall} bytes`);
      if (!threw) noThrow.push(`#${k} ${call.desc}`);
      else if (!(err instanceof Error)) notError.push(`#${k} ${call.desc}: threw ${String(err)}`);
      else {
        if (err.message.length === 0) badPrefix.push(`#${k} ${call.desc}: empty message`);
        else if (call.op && !err.message.startsWith(`${call.op}:`) && !err.message.startsWith(`${call.op} `))
          badPrefix.push(`#${k} ${call.desc}: "${err.message}"`);
      }
    }
    expect(used.size).toBe(generators.length);
    expect(noThrow, `calls that did not throw:\n${noThrow.slice(0, 30).join('\n')}`).toEqual([]);
    expect(notError, `calls that threw a non-Error:\n${notError.slice(0, 30).join('\n')}`).toEqual([]);
    // the process is alive and the library still works
    const ok = tidy(() => tensor([[1, 2], [3, 4]]).matmul(tensor([[1], [1]])).sum().item());
    expect(ok).toBe(10);
    // error messages start with the op name
    const uniq = [...new Set(badPrefix.map((s) => s.replace(/^#\d+ /, '')))];
    expect(uniq, `messages not starting with the op name:\n${uniq.slice(0, 40).join('\n')}`).toEqual([]);
  });

  it('the failed calls leaked no native memory', () => {
    // liveBytes is measured around each call (fixtures are made before it); a
    // failing call must not leave native memory behind
    const uniq = [...new Set(leakedBy.map((s) => s.replace(/^#\d+ /, '').replace(/-?\d+(\.\d+)?/g, 'N')))];
    expect(uniq, `calls that leaked:\n${leakedBy.slice(0, 30).join('\n')}`).toEqual([]);
    for (const t of fixtures) t.dispose();
    fixtures.length = 0;
    expect(memoryInfo().liveBytes).toBeLessThanOrEqual(liveBefore + leakedBytes());
  });
});

describe('failed calls do not leak native memory', () => {
  const cases: [string, (a: Tensor, b: Tensor) => unknown, number[], number[]][] = [
    ['add with alpha, shapes that do not broadcast', (a, b) => a.add(b, 2), [2, 3], [4, 3]],
    ['sub with alpha, shapes that do not broadcast', (a, b) => a.sub(b, 0.5), [2, 3], [2, 4]],
    ['mul, shapes that do not broadcast', (a, b) => a.mul(b), [2, 3], [3, 2]],
    ['matmul vector·matrix, K mismatch', (a, b) => a.matmul(b), [3], [4, 2]],
    ['matmul matrix·vector, K mismatch', (a, b) => a.matmul(b), [2, 3], [4]],
    ['matmul vector·vector, length mismatch', (a, b) => a.matmul(b), [3], [4]],
    ['matmul batch mismatch', (a, b) => a.matmul(b), [2, 2, 3], [3, 3, 2]],
  ];
  for (const [name, call, as, bs] of cases) {
    it(name, () => {
      const before = memoryInfo().liveBytes;
      const a = rand(as), b = rand(bs);
      expect(() => call(a, b)).toThrow(Error);
      a.dispose();
      b.dispose();
      expect(memoryInfo().liveBytes, name).toBeLessThanOrEqual(before);
    });
  }
});

describe('exact error messages', () => {
  it('matmul shape mismatch', () => {
    tidy(() => {
      expect(msgOf(() => zeros(2, 3).matmul(zeros(4, 5)))).toBe('matmul: shapes [2,3] and [4,5] cannot be multiplied (3 != 4)');
      expect(msgOf(() => zeros(2, 3, 4).matmul(zeros(3, 4, 5)))).toBe('matmul: batch sizes 2 and 3 do not match (shapes [2,3,4] and [3,4,5])');
    });
  });

  it('broadcasting mismatch names the op and the dim', () => {
    tidy(() => {
      expect(msgOf(() => zeros(2, 3).add(zeros(4)))).toBe('add: shapes [2,3] and [4] cannot be broadcast (dim -1: 3 vs 4)');
      expect(msgOf(() => zeros(2, 3).mul(zeros(5, 3)))).toBe('mul: shapes [2,3] and [5,3] cannot be broadcast (dim -2: 2 vs 5)');
    });
  });

  it('reshape / tensor / zeros / sum / permute', () => {
    tidy(() => {
      expect(msgOf(() => zeros(2, 3).reshape(4, 4))).toBe('reshape: shape [4,4] is invalid for a tensor of 6 elements (shape [2,3])');
      expect(msgOf(() => tensor([1, 2, 3], [2, 2]))).toBe('tensor: data has 3 elements but shape [2,2] needs 4');
      expect(msgOf(() => tensor([[1, 2], [3]]))).toBe('tensor: ragged nested array: [1] should have length 2, got 1');
      expect(msgOf(() => zeros(-1))).toBe('zeros: shape[0] must be a non-negative integer, got -1');
      expect(msgOf(() => zeros([65536, 65536]))).toBe('zeros: shape [65536,65536] has 4294967296 elements, more than 2147483647');
      expect(msgOf(() => zeros(2, 3).sum(2))).toBe('sum: dim 2 is out of range for a 2-d tensor (expected -2..1)');
      expect(msgOf(() => zeros(2, 2).permute(0, 0))).toBe('permute: dims [0,0] repeat a dim');
    });
  });

  it('disposed tensors', () => {
    const d = zeros(2, 3);
    d.dispose();
    const x = zeros(2, 3);
    expect(msgOf(() => d.add(x))).toBe('add: the tensor (shape [2,3]) was disposed');
    expect(msgOf(() => x.mul(d))).toBe('mul: the tensor (shape [2,3]) was disposed');
    x.dispose();
  });

  it('disposed tensors: every op names itself', () => {
    const d = zeros(2, 3);
    d.dispose();
    const ops: [string, () => unknown][] = [
      ['exp', () => d.exp()], ['neg', () => d.neg()], ['log', () => d.log()], ['sqrt', () => d.sqrt()], ['abs', () => d.abs()],
      ['relu', () => d.relu()], ['sigmoid', () => d.sigmoid()], ['tanh', () => d.tanh()], ['clone', () => d.clone()],
      ['sum', () => d.sum()], ['matmul', () => d.matmul(d)], ['reshape', () => d.reshape(-1)], ['item', () => d.item()],
      ['data', () => d.data()], ['toArray', () => d.toArray()], ['softmax', () => d.softmax(0)], ['clamp', () => d.clamp(0, 1)],
    ];
    const wrong: string[] = [];
    for (const [op, fn] of ops) {
      const m = msgOf(fn);
      if (m !== `${op}: the tensor (shape [2,3]) was disposed`) wrong.push(`${op}() -> "${m}"`);
    }
    expect(wrong).toEqual([]);
  });

  it('error classes: TypeError for wrong types, RangeError for bad sizes', () => {
    tidy(() => {
      expect(() => zeros(2).add('x' as unknown as number)).toThrow(TypeError);
      expect(() => tensor('abc' as unknown as number)).toThrow(TypeError);
      expect(() => zeros(1.5)).toThrow(RangeError);
      expect(() => zeros([2 ** 31])).toThrow(RangeError);
      expect(() => arange(0, 1, 0)).toThrow(RangeError);
      expect(() => zeros(2).sum(1.5)).toThrow(TypeError);
      expect(() => zeros(2).sum(3)).toThrow(RangeError);
    });
  });
});
