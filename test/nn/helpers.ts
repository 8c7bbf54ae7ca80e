// Shared helpers for the test/nn suites (not a test file itself).
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Reads test/fixtures/<name> as JSON. */
export function fixture<T = any>(name: string): T {
  return JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'fixtures', name), 'utf8')) as T;
}

/** Deterministic uniform [0, 1) generator (mulberry32), independent of blasnet's RNG. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n float32-representable values uniform in [lo, hi). */
export function randomArray(n: number, seed: number, lo = -1, hi = 1): number[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => Math.fround(lo + (hi - lo) * r()));
}

/** Throws a descriptive error unless |a − e| <= atol + rtol·|e| for every element. */
export function expectAllClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol = 1e-5, atol = 1e-6, label = ''): void {
  if (actual.length !== expected.length) throw new Error(`${label}: length ${actual.length}, expected ${expected.length}`);
  let worst = -1, worstErr = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i], e = expected[i];
    const err = Math.abs(a - e) - (atol + rtol * Math.abs(e));
    if (!(err <= 0) && (worst < 0 || !(err <= worstErr))) {
      worst = i;
      worstErr = err;
    }
  }
  if (worst >= 0)
    throw new Error(`${label}: element ${worst}: got ${actual[worst]}, expected ${expected[worst]} (rtol ${rtol}, atol ${atol})`);
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
