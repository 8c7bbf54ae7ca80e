// Shared test helpers (one place for every suite): a seeded PRNG, float64
// reference implementations of broadcasting / indexing, closeness checks,
// finite differences and fixture loading. Child-process runners: ./child.ts.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect } from 'vitest';

/** mulberry32: a small, seeded, deterministic PRNG returning floats in [0, 1). */
export function makeRng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type Rng = () => number;

export const randInt = (r: Rng, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
export const pick = <T>(r: Rng, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];

/** A Float32Array of n uniform values in [lo, hi). */
export function randArray(r: Rng, n: number, lo = -1, hi = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * r();
  return a;
}

/** Uniform values whose magnitude is at least `minAbs` (random sign). */
export function randAwayFromZero(r: Rng, n: number, minAbs: number, maxAbs: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (r() < 0.5 ? -1 : 1) * (minAbs + (maxAbs - minAbs) * r());
  return a;
}

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function stridesOf(shape: readonly number[]): number[] {
  const st = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    st[i] = s;
    s *= shape[i];
  }
  return st;
}

/** Multi-index of flat index i in a row-major shape. */
export function unravel(i: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = i % shape[d];
    i = Math.floor(i / shape[d]);
  }
  return idx;
}

/** NumPy broadcast of two shapes (throws if incompatible). */
export function broadcastShape(a: readonly number[], b: readonly number[]): number[] {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1, db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) throw new Error('not broadcastable');
    out.push(da === 1 ? db : da);
  }
  return out;
}

/** Flat index into `shape` of an output multi-index under broadcasting. */
export function bIndex(outIdx: readonly number[], shape: readonly number[]): number {
  const off = outIdx.length - shape.length;
  let k = 0;
  for (let d = 0; d < shape.length; d++) k = k * shape[d] + (shape[d] === 1 ? 0 : outIdx[off + d]);
  return k;
}

/** Reference broadcasting binary op in float64. */
export function refBinary(
  a: ArrayLike<number>, as: readonly number[],
  b: ArrayLike<number>, bs: readonly number[],
  f: (x: number, y: number) => number,
): { data: Float64Array; shape: number[] } {
  const shape = broadcastShape(as, bs);
  const n = numel(shape);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const idx = unravel(i, shape);
    out[i] = f(a[bIndex(idx, as)], b[bIndex(idx, bs)]);
  }
  return { data: out, shape };
}

/**
 * A random shape of 0..maxNd dims with sizes in 1..maxDim (size 1 made likely),
 * and a second shape broadcast-compatible with it (leading dims dropped, some
 * dims set to 1), possibly swapped.
 */
export function randomShape(r: Rng, maxNd = 4, maxDim = 5): number[] {
  const nd = randInt(r, 0, maxNd);
  const s: number[] = [];
  for (let i = 0; i < nd; i++) s.push(r() < 0.25 ? 1 : randInt(r, 1, maxDim));
  return s;
}

export function broadcastPartner(r: Rng, shape: readonly number[]): number[] {
  const drop = randInt(r, 0, shape.length);
  return shape.slice(drop).map((d) => (r() < 0.35 ? 1 : d));
}

export function closeTo(actual: number, expected: number, rtol: number, atol: number): boolean {
  if (Number.isNaN(expected)) return Number.isNaN(actual);
  if (!Number.isFinite(expected)) return actual === expected;
  return Math.abs(actual - expected) <= atol + rtol * Math.abs(expected);
}

/** Asserts elementwise closeness, reporting the first bad element. */
export function expectAllClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  rtol = 1e-5,
  atol = 1e-6,
  what = '',
): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    if (!closeTo(actual[i], expected[i], rtol, atol)) {
      throw new Error(`${what}: element ${i}: got ${actual[i]}, expected ${expected[i]} (rtol ${rtol}, atol ${atol})`);
    }
  }
}

/** Reference reduction over dim d viewed as [outer, size, inner]. */
export function splitDims(shape: readonly number[], d: number): [number, number, number] {
  return [numel(shape.slice(0, d)), shape[d], numel(shape.slice(d + 1))];
}

export function reducedShape(shape: readonly number[], d: number, keepdim: boolean): number[] {
  return keepdim ? shape.map((s, i) => (i === d ? 1 : s)) : shape.filter((_, i) => i !== d);
}

/** Reference matmul [M,K]·[K,N] in float64 at given offsets. */
export function refMatmul2d(
  A: ArrayLike<number>, aOff: number,
  B: ArrayLike<number>, bOff: number,
  M: number, K: number, N: number,
  out: Float64Array, oOff: number,
): void {
  for (let i = 0; i < M; i++)
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += A[aOff + i * K + k] * B[bOff + k * N + j];
      out[oOff + i * N + j] = s;
    }
}

/** Reads test/fixtures/<name> as JSON. */
export function fixture<T = any>(name: string): T {
  return JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'fixtures', name), 'utf8')) as T;
}

/** Deterministic uniform [0, 1) generator (mulberry32), independent of blasnet's RNG. */
export const rng = makeRng;

/** n float32-representable values uniform in [lo, hi), from seed. */
export function randomArray(n: number, seed: number, lo = -1, hi = 1): number[] {
  const r = makeRng(seed);
  return Array.from({ length: n }, () => Math.fround(lo + (hi - lo) * r()));
}

/** Central finite differences of a float64 scalar function. */
export function numericGrad(f: (x: Float64Array) => number, x0: ArrayLike<number>, h = 1e-6): Float64Array {
  const x = Float64Array.from(x0);
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    x[i] = v + h;
    const fp = f(x);
    x[i] = v - h;
    const fm = f(x);
    x[i] = v;
    g[i] = (fp - fm) / (2 * h);
  }
  return g;
}

/** Flattens nested number arrays. */
export function flat(v: unknown): number[] {
  return Array.isArray(v) ? v.flatMap((x) => flat(x)) : [v as number];
}

/** The raw bytes of a float32 array. */
export function bytesOf(a: Float32Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

/**
 * Throws with the first differing element unless `actual` and `expected`
 * (Float32Arrays, or anything with `.data()` and `.shape`, e.g. tensors) are
 * bitwise identical. `nanEqual` lets any NaN match any NaN (payloads may
 * differ between kernels that each propagate a NaN).
 */
export function expectBitwise(
  actual: Float32Array | { data(): Float32Array; shape: readonly number[] },
  expected: Float32Array | { data(): Float32Array; shape: readonly number[] },
  label: string,
  opts: { nanEqual?: boolean } = {},
): void {
  const a = actual instanceof Float32Array ? actual : actual.data();
  const e = expected instanceof Float32Array ? expected : expected.data();
  if (!(actual instanceof Float32Array) && !(expected instanceof Float32Array)) expect(actual.shape, `${label}: shape`).toEqual(expected.shape);
  if (a.length !== e.length) throw new Error(`${label}: ${a.length} elements, expected ${e.length}`);
  if (bytesOf(a).equals(bytesOf(e))) return;
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length), ue = new Uint32Array(e.buffer, e.byteOffset, e.length);
  let n = 0, first = -1;
  for (let i = 0; i < a.length; i++) {
    if (ua[i] === ue[i] || (opts.nanEqual && Number.isNaN(a[i]) && Number.isNaN(e[i]))) continue;
    n++;
    if (first < 0) first = i;
  }
  if (n === 0) return;
  throw new Error(`${label}: ${n} of ${a.length} elements differ; first at ${first}: ${a[first]} vs ${e[first]} (bits ${ua[first].toString(16)} vs ${ue[first].toString(16)})`);
}
