// The native plan layer trusts nothing it is given: malformed programs (a
// conv step without a weight, a pool whose output the input cannot produce,
// operands too small for their strides, slots read before they are written)
// are JS Errors, never out-of-bounds reads or writes; and thousands of randomly
// mutated programs built from a real model's plan never crash the process.
import { describe, it, expect } from 'vitest';
import * as path from 'node:path';
import { native } from '../../src/native';
import { runNode } from '../helpers/child';

const ROOT = path.resolve(__dirname, '..', '..');

// slot kinds and step codes (native/plan.h)
const INPUT = 0, CONST = 1, TEMP = 2;
const CONV = 0, BINARY = 3, MAXPOOL = 10, AVGPOOL = 11, CAT = 18, GATHER = 19, SCATTER = 20, WHERE = 21;

const slots = (...s: [number, number, number?, number?][]) => Float64Array.from(s.flatMap(([k, n, perN = 0, c = -1]) => [k, n, perN, c]));
/** op, inputs, outputs, ints (all constant), reals, no epilogue */
const step = (op: number, ins: number[], outs: number[], ints: number[], reals: number[] = []) => [op, ins.length, ...ins, outs.length, ...outs, ints.length, ...ints.flatMap((v) => [v, 0]), reals.length, ...reals, 0];
const prog = (...steps: number[][]) => Float64Array.from(steps.flat());

function planRunError(s: Float64Array, p: Float64Array, output: number, inputNumel: number, fixedN = 1, consts: Float32Array[] = []): string {
  const store = native.planStoreCreate();
  try {
    for (const c of consts) native.planStoreAdd(store, c);
    const plan = native.planCreate(store, s, p, output, fixedN);
    native.planRun(plan, new Float32Array(inputNumel), fixedN);
    return 'no error';
  } catch (e) {
    expect(e).toBeInstanceOf(Error);
    return (e as Error).message;
  } finally {
    native.planStoreDispose(store);
  }
}

const POOL_OK = [1, 1, 4, 4, 1, 2, 2, 1, 2, 2, 1, 2, 2, 0, 0, 0]; // planes D H W OD OH OW kd kh kw sd sh sw pd ph pw

describe('native plans re-check their geometry', () => {
  it('a well-formed max-pool plan runs', () => {
    expect(planRunError(slots([INPUT, 16], [TEMP, 4]), prog(step(MAXPOOL, [0], [1], POOL_OK)), 1, 16)).toBe('no error');
  });

  it('a pool output the input cannot produce (windows past the input) is refused before any read', () => {
    const g = POOL_OK.slice();
    g[5] = 3; // OH 3 from H 4 with stride 2: the third window starts at row 4
    expect(planRunError(slots([INPUT, 16], [TEMP, 6]), prog(step(MAXPOOL, [0], [1], g)), 1, 16)).toMatch(/maxPool step: output is larger than the input can produce/);
    expect(planRunError(slots([INPUT, 16], [TEMP, 6]), prog(step(AVGPOOL, [0], [1], [...g, 1])), 1, 16)).toMatch(/avgPool step: output is larger than the input can produce/);
    const pad = POOL_OK.slice();
    pad[14] = 2; // padding more than half the kernel: a window entirely in the padding
    expect(planRunError(slots([INPUT, 16], [TEMP, 4]), prog(step(MAXPOOL, [0], [1], pad)), 1, 16)).toMatch(/padding is more than half the kernel/);
  });

  it('a pool whose geometry disagrees with its operand sizes is refused', () => {
    expect(planRunError(slots([INPUT, 12], [TEMP, 4]), prog(step(MAXPOOL, [0], [1], POOL_OK)), 1, 12)).toMatch(/input has 12 elements, the geometry needs 16/);
    expect(planRunError(slots([INPUT, 16], [TEMP, 3]), prog(step(MAXPOOL, [0], [1], POOL_OK)), 1, 16)).toMatch(/output has 3 elements, the geometry makes 4/);
  });

  it('a conv step without a weight (null operand) is refused when the plan is built', () => {
    const geom = [1, 1, 1, 4, 4, 2, 1, 3, 3, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2];
    expect(planRunError(slots([INPUT, 16], [TEMP, 8]), prog(step(CONV, [0, -1, -1], [1], geom)), 1, 16)).toMatch(/lacks a required operand/);
    expect(planRunError(slots([INPUT, 16], [TEMP, 8]), prog(step(CONV, [0], [1], geom)), 1, 16)).toMatch(/has no weight/);
  });

  it('a conv whose weight is smaller than its geometry says is refused', () => {
    const geom = [1, 1, 1, 4, 4, 2, 1, 3, 3, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2];
    expect(planRunError(slots([INPUT, 16], [CONST, 9, 0, 0], [TEMP, 8]), prog(step(CONV, [0, 1, -1], [2], geom)), 2, 16, 1, [new Float32Array(9)])).toMatch(/weight has 9 elements, the geometry needs 18/);
  });

  it('binary strides reaching past an operand are refused', () => {
    // shape [4, 4] over a 4-element operand with row stride 4
    expect(planRunError(slots([INPUT, 4], [TEMP, 16]), prog(step(BINARY, [0, 0], [1], [0, 2, 4, 4, 4, 1, 0, 1]), []), 1, 4)).toMatch(/first operand is too small for its strides/);
  });

  it('structural errors: a slot read before it is written, a temporary written twice, a constant of the wrong size, a bad output slot', () => {
    expect(planRunError(slots([INPUT, 16], [TEMP, 4], [TEMP, 4]), prog(step(MAXPOOL, [2], [1], POOL_OK)), 1, 16)).toMatch(/reads slot 2 before it is computed/);
    expect(planRunError(slots([INPUT, 16], [TEMP, 4]), prog(step(MAXPOOL, [0], [1], POOL_OK), step(MAXPOOL, [0], [1], POOL_OK)), 1, 16)).toMatch(/which is not a fresh temporary/);
    expect(planRunError(slots([INPUT, 16], [CONST, 5, 0, 0]), prog(), 1, 16, 1, [new Float32Array(4)])).toMatch(/declares 5 elements, the constant has 4/);
    expect(planRunError(slots([INPUT, 16], [TEMP, 4]), prog(step(MAXPOOL, [0], [1], POOL_OK)), 7, 16)).toMatch(/the output slot is never computed/);
    expect(planRunError(slots([TEMP, 16]), prog(), 0, 16)).toMatch(/slot 0, and only slot 0, is the input/);
    expect(planRunError(slots([INPUT, 16]), Float64Array.from([MAXPOOL, 1, 0]), 0, 16)).toMatch(/program ends early/);
    expect(planRunError(slots([INPUT, 16], [TEMP, 4]), prog(step(MAXPOOL, [0], [1], POOL_OK)), 1, 32)).toMatch(/plan input has 32 elements, expected 16/);
  });

  it('cat parts must match their declared sizes', () => {
    expect(planRunError(slots([INPUT, 6], [TEMP, 12]), prog(step(CAT, [0, 0], [1], [2, 2, 3, 3])), 1, 6)).toBe('no error');
    expect(planRunError(slots([INPUT, 6], [TEMP, 14]), prog(step(CAT, [0, 0], [1], [2, 2, 3, 4])), 1, 6)).toMatch(/part has 6 elements, the geometry needs 8/);
  });
});

describe('gather, scatter and where steps re-check their specs', () => {
  // a [2, 3] input; spec: rank, shape, xstride, offset, count, per index: stride[rank], xstride, size, wrap
  const rows = (offset: number, cols: number) => [2, 2, cols, 3, 1, offset, 0];
  it('a well-formed gather and scatter run', () => {
    expect(planRunError(slots([INPUT, 6], [TEMP, 4]), prog(step(GATHER, [0], [1], rows(1, 2))), 1, 6)).toBe('no error');
    expect(planRunError(slots([INPUT, 6], [TEMP, 4], [TEMP, 6]), prog(step(GATHER, [0], [1], rows(1, 2)), step(SCATTER, [0, 1], [2], [0, ...rows(0, 2)])), 2, 6)).toBe('no error');
  });
  it('a spec reaching past the source or the destination is refused before any read or write', () => {
    expect(planRunError(slots([INPUT, 6], [TEMP, 6]), prog(step(GATHER, [0], [1], rows(1, 3))), 1, 6)).toMatch(/gather step: the spec reaches past the tensor/);
    expect(planRunError(slots([INPUT, 6], [TEMP, 4], [TEMP, 6]), prog(step(GATHER, [0], [1], rows(0, 2)), step(SCATTER, [0, 1], [2], [0, ...rows(2, 2)])), 2, 6)).toMatch(/scatter step: the spec reaches past the tensor/);
    expect(planRunError(slots([INPUT, 6], [TEMP, 6], [TEMP, 6]), prog(step(GATHER, [0], [1], rows(0, 3)), step(SCATTER, [0, 1], [2], [0, ...rows(0, 2)])), 2, 6)).toMatch(/source has 6 elements, the spec writes 4/);
  });
  it('index values are checked when the step runs (computed indices): out of range, negative without wrap, not an integer', () => {
    // out[i] = x[idx[i]] over a [6] input, idx the input itself (all zeros: fine) or a constant
    const spec = [1, 3, 0, 0, 1, 1, 1, 6, 0];
    expect(planRunError(slots([INPUT, 6], [CONST, 3, 0, 0], [TEMP, 3]), prog(step(GATHER, [0, 1], [2], spec)), 2, 6, 1, [Float32Array.of(0, 5, 2)])).toBe('no error');
    for (const bad of [Float32Array.of(0, 6, 2), Float32Array.of(0, -1, 2), Float32Array.of(0, 0.5, 2), Float32Array.of(NaN, 0, 0)])
      expect(planRunError(slots([INPUT, 6], [CONST, 3, 0, 0], [TEMP, 3]), prog(step(GATHER, [0, 1], [2], spec)), 2, 6, 1, [bad])).toMatch(/gather step: an index value is out of range/);
    expect(planRunError(slots([INPUT, 6], [CONST, 2, 0, 0], [TEMP, 3]), prog(step(GATHER, [0, 1], [2], spec)), 2, 6, 1, [Float32Array.of(0, 1)])).toMatch(/index tensor too small for the spec/);
    expect(planRunError(slots([INPUT, 6], [TEMP, 3]), prog(step(GATHER, [0], [1], spec)), 1, 6)).toMatch(/index tensor count disagrees with the operands/);
  });
  it('where strides reaching past an operand are refused', () => {
    const ok = [1, 6, 1, 1, 0];
    expect(planRunError(slots([INPUT, 6], [TEMP, 6]), prog(step(WHERE, [0, 0, 0], [1], ok)), 1, 6)).toBe('no error');
    expect(planRunError(slots([INPUT, 6], [TEMP, 6]), prog(step(WHERE, [0, 0, 0], [1], [1, 6, 1, 2, 0])), 1, 6)).toMatch(/where step: input is too small for its strides/);
  });
});

describe.runIf(process.platform === 'linux')('mutated programs (child process)', () => {
  it('4000 random mutations of real plans (LeNet; cat, narrow, gather of argmax, where, index): each builds and runs or throws an Error', () => {
    const script = `
const { trace } = require(${JSON.stringify(path.join(ROOT, 'dist', 'plan', 'trace.js'))});
const { fixedProgram, polymorphicProgram, eliminateDead, fuse } = require(${JSON.stringify(path.join(ROOT, 'dist', 'plan', 'graph.js'))});
const { encode } = require(${JSON.stringify(path.join(ROOT, 'dist', 'plan', 'emit.js'))});
const { native } = require(${JSON.stringify(path.join(ROOT, 'dist', 'native.js'))});
const b = blasnet;
b.manualSeed(0);
// LeNet, and a model whose plan holds gather / scatter / where steps (computed indices included)
class Indexing extends b.nn.Module {
  constructor() { super(); this.conv = new b.nn.Conv2d(1, 4, 3, { padding: 1 }); }
  forward(x) {
    const f = this.conv.forward(x), p = f.flatten(2);
    const am = p.argmax(2, true);
    return b.cat([b.gather(p, 2, am), f.narrow(1, 1, 2).flatten(2).sum(2, true), b.where(p.gt(0), p, 0).index(':', [0, 3]).sum(2, true)], 1).flatten(1);
  }
}
const store = native.planStoreCreate();
const consts = new Map();
const bases = [];
for (const model of [b.models.LeNet().eval(), new Indexing().eval()]) {
for (const t of model.parameters()) consts.set(t._storage.handle, (([idx, numel]) => ({ idx, numel }))(native.planStoreAdd(store, t._storage.handle)));
const host = { constant: (h) => consts.get(h) ?? (([idx, numel]) => ({ idx, numel }))(native.planStoreAdd(store, h)) };
for (const poly of [false, true]) {
  const p = poly ? polymorphicProgram(trace(model, [2, 1, 28, 28], host), trace(model, [3, 1, 28, 28], host)) : fixedProgram(trace(model, [1, 1, 28, 28], host));
  eliminateDead(p); fuse(p, { foldBatchNorm: false, fold: () => { throw new Error('no'); } });
  bases.push(encode(p, (d) => native.planStoreAdd(store, d)[0]));
}
}
let s = 12345;
const rnd = () => { s = (s + 0x6d2b79f5) >>> 0; let t = s; t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
const pick = (a) => a[Math.floor(rnd() * a.length)];
const VALUES = [-1, 0, 1, 2, 3, 5, 7, 16, 28, 100, 2 ** 20, 2 ** 31, 2 ** 40, 2 ** 41, -(2 ** 40), 0.5, NaN, Infinity];
let built = 0, ran = 0, errors = 0;
for (let i = 0; i < 4000; i++) {
  const base = pick(bases);
  const slots = base.slots.slice(), steps = base.steps.slice();
  for (let k = 0, n = 1 + Math.floor(rnd() * 3); k < n; k++) {
    const arr = rnd() < 0.25 ? slots : steps;
    arr[Math.floor(rnd() * arr.length)] = rnd() < 0.5 ? pick(VALUES) : arr[Math.floor(rnd() * arr.length)] + pick([-1, 1]);
  }
  let plan = null;
  try { plan = native.planCreate(store, slots, steps, base.output, base.fixedN); built++; } catch (e) { if (!(e instanceof Error)) throw e; errors++; continue; }
  const N = base.fixedN || pick([1, 2, 3, 5]);
  try { native.planRun(plan, new Float32Array(784 * N).fill(0.5), N); ran++; } catch (e) { if (!(e instanceof Error)) throw e; errors++; }
  native.planDispose(plan);
}
console.log(JSON.stringify({ built, ran, errors }));
`;
    const r = runNode(script, { timeout: 150_000, addressSpaceKb: 3 * 1024 * 1024 });
    expect(r.signal, r.stderr.slice(-2000)).toBeNull();
    expect(r.status, r.stderr.slice(-2000)).toBe(0);
    const rep = JSON.parse(r.stdout.trim().split('\n').pop()!) as { built: number; ran: number; errors: number };
    expect(rep.built + (rep.errors - (rep.built - rep.ran))).toBe(4000);
    console.log(`mutated plans: ${rep.built} built (${rep.ran} ran, ${rep.built - rep.ran} refused at run), ${rep.errors - (rep.built - rep.ran)} refused when built`);
    expect(rep.ran).toBeGreaterThan(0);
    expect(rep.errors).toBeGreaterThan(0);
  }, 180_000);
});
