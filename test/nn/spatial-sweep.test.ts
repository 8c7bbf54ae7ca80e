// Seeded random sweep of pooling geometries (1-3d, padding, stride, dilation, ceil mode, ties, NaN,
// countIncludePad, divisorOverride) against a naive reference written from PyTorch 1.13's documented
// rules; finite differences on samples of every differentiable spatial op.
import { describe, it, expect } from 'vitest';
import { nn, tensor, type Tensor } from '../../src';
import { makeRng, expectAllClose, numericGrad, randArray } from '../helpers';

const F = nn.functional;
type Rng = () => number;
const int = (r: Rng, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));

/** PyTorch's pooling output size: floor (or ceil) mode; in ceil mode the last window must start inside the input or the left padding. */
function outSize(L: number, k: number, s: number, p: number, d: number, ceil: boolean): number {
  let o = Math.floor((L + 2 * p - d * (k - 1) - 1 + (ceil ? s - 1 : 0)) / s) + 1;
  if (ceil && (o - 1) * s >= L + p) o--;
  return o;
}

interface Geo {
  nd: number;
  planes: number;
  L: number[];
  k: number[];
  s: number[];
  p: number[];
  d: number[];
  ceil: boolean;
  O: number[];
}

/** Every output position of a geometry, as per-dim coordinates. */
function* positions(dims: number[]): Generator<number[]> {
  const n = dims.reduce((a, b) => a * b, 1);
  for (let i = 0; i < n; i++) {
    const c: number[] = [];
    let r = i;
    for (let j = dims.length - 1; j >= 0; j--) {
      c.unshift(r % dims[j]);
      r = Math.floor(r / dims[j]);
    }
    yield c;
  }
}
const flat = (c: number[], dims: number[]) => c.reduce((a, v, j) => a * dims[j] + v, 0);

/** Max pool by hand: value, argmax (PyTorch: strictly larger or NaN replaces; −inf start; index starts at the first tap inside). */
function refMax(g: Geo, x: Float32Array): { y: number[]; idx: number[] } {
  const plane = g.L.reduce((a, b) => a * b, 1);
  const y: number[] = [], idx: number[] = [];
  for (let pl = 0; pl < g.planes; pl++)
    for (const o of positions(g.O)) {
      const taps = o.map((oo, j) => {
        const t: number[] = [];
        for (let q = 0; q < g.k[j]; q++) {
          const pos = oo * g.s[j] - g.p[j] + q * g.d[j];
          if (pos >= 0 && pos < g.L[j]) t.push(pos);
        }
        return t;
      });
      // a dilated window may have no tap inside the input: −inf and index −1 (PyTorch: −inf and an index past the window)
      let best = -Infinity, bi = taps.some((t) => !t.length) ? -1 : flat(taps.map((t) => t[0]), g.L);
      for (const c of positions(taps.map((t) => t.length))) {
        const i = flat(c.map((ci, j) => taps[j][ci]), g.L);
        const v = x[pl * plane + i];
        if (v > best || Number.isNaN(v)) {
          best = v;
          bi = i;
        }
      }
      y.push(best);
      idx.push(bi);
    }
  return { y, idx };
}

/** Avg pool by hand: PyTorch's divisor (override, or the window clipped to the padded input, or to the input). */
function refAvg(g: Geo, x: Float32Array, includePad: boolean, divisor: number | null): { y: number[]; windows: { pl: number; cells: number[]; div: number }[] } {
  const plane = g.L.reduce((a, b) => a * b, 1);
  const y: number[] = [];
  const windows: { pl: number; cells: number[]; div: number }[] = [];
  for (let pl = 0; pl < g.planes; pl++)
    for (const o of positions(g.O)) {
      let padded = 1;
      const ranges = o.map((oo, j) => {
        const a = oo * g.s[j] - g.p[j], b = Math.min(a + g.k[j], g.L[j] + g.p[j]);
        padded *= b - a;
        return [Math.max(a, 0), Math.min(b, g.L[j])];
      });
      const cells: number[] = [];
      for (const c of positions(ranges.map(([a, b]) => Math.max(b - a, 0)))) cells.push(flat(c.map((ci, j) => ranges[j][0] + ci), g.L));
      const div = divisor ?? (includePad ? padded : cells.length);
      let sum = 0;
      for (const i of cells) sum += x[pl * plane + i];
      y.push(cells.length ? sum / div : 0);
      windows.push({ pl, cells, div });
    }
  return { y, windows };
}

function randomGeo(r: Rng, max: boolean): Geo | null {
  const nd = int(r, 1, 3);
  const L = Array.from({ length: nd }, () => int(r, 1, nd === 3 ? 6 : 9));
  const k = L.map(() => int(r, 1, 4));
  const s = L.map(() => int(r, 1, 3));
  const p = k.map((kk) => int(r, 0, Math.floor(kk / 2)));
  const d = L.map(() => (max && r() < 0.4 ? int(r, 2, 3) : 1));
  const ceil = r() < 0.5;
  const O = L.map((l, j) => outSize(l, k[j], s[j], p[j], d[j], ceil));
  return { nd, planes: int(r, 1, 3), L, k, s, p, d, ceil, O };
}

function input(r: Rng, g: Geo): Float32Array {
  const n = g.planes * g.L.reduce((a, b) => a * b, 1);
  const x = randArray(r, n, -2, 2);
  const mode = r();
  for (let i = 0; i < n; i++) {
    if (mode < 0.25) x[i] = Math.round(x[i]); // ties
    if (mode > 0.85 && r() < 0.2) x[i] = NaN; // NaNs, often several per window
  }
  return x;
}

const shapeOf = (g: Geo) => [1, g.planes, ...g.L];

describe('pooling: random geometries against a naive reference', () => {
  it('max pools (values, indices, gradient) over 400 geometries', () => {
    const r = makeRng(1301);
    let ran = 0, refused = 0;
    for (let n = 0; n < 400; n++) {
      const g = randomGeo(r, true)!;
      const x = input(r, g);
      const f = [F.maxPool1d, F.maxPool2d, F.maxPool3d][g.nd - 1];
      const opts = { kernelSize: g.k, stride: g.s, padding: g.p, dilation: g.d, ceilMode: g.ceil, returnIndices: true as const };
      const what = `maxPool${g.nd}d ${JSON.stringify(opts)} on [${shapeOf(g).join(',')}]`;
      if (g.O.some((o) => o < 1)) {
        expect(() => f(tensor(x, shapeOf(g)), opts), what).toThrow(`maxPool${g.nd}d`);
        refused++;
        continue;
      }
      const xt = tensor(x, shapeOf(g)).requiresGrad_();
      const [y, idx] = f(xt, opts);
      const want = refMax(g, x);
      expect([...y.shape], what).toEqual([1, g.planes, ...g.O]);
      expectAllClose(y.data(), want.y, 0, 0, `${what}: y`);
      expectAllClose(idx.data(), want.idx, 0, 0, `${what}: indices`);
      const gy = randArray(r, want.y.length);
      y.backward(tensor(gy, y.shape));
      const plane = g.L.reduce((a, b) => a * b, 1), per = want.y.length / g.planes;
      const gx = new Float64Array(x.length);
      want.idx.forEach((i, o) => {
        if (i >= 0) gx[Math.floor(o / per) * plane + i] += gy[o];
      });
      expectAllClose(xt.grad!.data(), gx, 1e-6, 1e-6, `${what}: gx`);
      ran++;
    }
    expect(ran).toBeGreaterThan(250);
    expect(refused).toBeGreaterThan(0);
  });

  it('avg pools (countIncludePad, divisorOverride; value and gradient) over 400 geometries', () => {
    const r = makeRng(1302);
    let ran = 0;
    for (let n = 0; n < 400; n++) {
      const g = randomGeo(r, false)!;
      const x = randArray(r, g.planes * g.L.reduce((a, b) => a * b, 1), -2, 2);
      const inc = r() < 0.5;
      const div = g.nd > 1 && r() < 0.3 ? int(r, 1, 9) : null;
      const f = [F.avgPool1d, F.avgPool2d, F.avgPool3d][g.nd - 1] as (x: Tensor, o: nn.functional.AvgPoolOptions) => Tensor;
      const opts = { kernelSize: g.k, stride: g.s, padding: g.p, ceilMode: g.ceil, countIncludePad: inc, ...(div ? { divisorOverride: div } : {}) };
      const what = `avgPool${g.nd}d ${JSON.stringify(opts)} on [${shapeOf(g).join(',')}]`;
      // PyTorch's avg_pool3d (only it) also refuses an unpadded dim smaller than the kernel
      if (g.O.some((o) => o < 1) || (g.nd === 3 && g.L.some((l, j) => l < g.k[j]))) {
        expect(() => f(tensor(x, shapeOf(g)), opts), what).toThrow(`avgPool${g.nd}d`);
        continue;
      }
      const xt = tensor(x, shapeOf(g)).requiresGrad_();
      const y = f(xt, opts);
      const want = refAvg(g, x, inc, div);
      expectAllClose(y.data(), want.y, 1e-5, 1e-6, `${what}: y`);
      const gy = randArray(r, want.y.length);
      y.backward(tensor(gy, y.shape));
      const plane = g.L.reduce((a, b) => a * b, 1);
      const gx = new Float64Array(x.length);
      want.windows.forEach((w, o) => {
        for (const i of w.cells) gx[w.pl * plane + i] += gy[o] / w.div;
      });
      expectAllClose(xt.grad!.data(), gx, 1e-5, 1e-6, `${what}: gx`);
      ran++;
    }
    expect(ran).toBeGreaterThan(250);
  });
});

/** Central differences of sum(f(x) · c) in float64 terms, compared with backward. */
function checkGrad(what: string, shape: number[], f: (x: Tensor) => Tensor, seed: number, tol = 2e-2): void {
  const r = makeRng(seed);
  const x0 = randArray(r, shape.reduce((a, b) => a * b, 1));
  const xt = tensor(x0, shape).requiresGrad_();
  const y = f(xt);
  const c = randArray(r, y.numel);
  y.backward(tensor(c, y.shape));
  const loss = (v: Float64Array) => {
    const yy = f(tensor(Float32Array.from(v), shape)).data();
    let s = 0;
    for (let i = 0; i < yy.length; i++) s += yy[i] * c[i];
    return s;
  };
  const num = numericGrad(loss, x0, 1e-2);
  expectAllClose(xt.grad!.data(), num, tol, tol, `${what}: backward vs finite differences`);
}

describe('finite differences', () => {
  it('avgPool2d (ceil, divisorOverride), avgPool3d, adaptiveAvgPool1d/3d', () => {
    checkGrad('avgPool2d', [1, 2, 5, 5], (x) => F.avgPool2d(x, 3, 2, 1, true, false), 1);
    checkGrad('avgPool2d divisorOverride', [1, 1, 4, 5], (x) => F.avgPool2d(x, { kernelSize: 2, divisorOverride: 3 }), 2);
    checkGrad('avgPool3d', [1, 1, 3, 4, 3], (x) => F.avgPool3d(x, 2, 1, 1), 3);
    checkGrad('adaptiveAvgPool1d', [2, 2, 7], (x) => F.adaptiveAvgPool1d(x, 3), 4);
    checkGrad('adaptiveAvgPool3d', [1, 1, 3, 4, 5], (x) => F.adaptiveAvgPool3d(x, [2, null, 3]), 5);
  });
  it('max pools with dilation, adaptive max, unpool (distinct values: no ties under the step)', () => {
    checkGrad('maxPool2d dilated', [1, 1, 7, 7], (x) => F.maxPool2d(x, 3, 2, 1, 2, true), 6);
    checkGrad('adaptiveMaxPool2d', [1, 2, 5, 6], (x) => F.adaptiveMaxPool2d(x, [3, 4]), 7);
    const [, idx] = F.maxPool2d(tensor(randArray(makeRng(9), 32), [1, 2, 4, 4]), { kernelSize: 2, returnIndices: true });
    checkGrad('maxUnpool2d', [1, 2, 2, 2], (x) => F.maxUnpool2d(x, idx, 2), 8);
  });
  it('pad in every mode; convTranspose1d/2d/3d (input and weight)', () => {
    for (const [i, mode] of (['constant', 'reflect', 'replicate', 'circular'] as const).entries())
      checkGrad(`pad ${mode}`, [1, 2, 4, 5], (x) => F.pad(x, [2, 1, -1, 2], mode), 10 + i);
    const r = makeRng(20);
    const w2 = tensor(randArray(r, 3 * 2 * 3 * 2), [3, 2, 3, 2]);
    checkGrad('convTranspose2d x', [2, 3, 3, 4], (x) => F.convTranspose2d(x, w2, null, { stride: 2, padding: 1, outputPadding: 1 }), 21);
    const x2 = tensor(randArray(r, 2 * 3 * 3 * 4), [2, 3, 3, 4]);
    checkGrad('convTranspose2d weight', [3, 2, 3, 2], (w) => F.convTranspose2d(x2, w, null, 2, 1, 1), 22);
    const w1 = tensor(randArray(r, 4 * 1 * 3), [4, 1, 3]);
    checkGrad('convTranspose1d groups/dilation', [1, 4, 5], (x) => F.convTranspose1d(x, w1, null, 2, 0, 1, 2, 2), 23);
    const w3 = tensor(randArray(r, 2 * 2 * 8), [2, 2, 2, 2, 2]);
    checkGrad('convTranspose3d', [1, 2, 2, 3, 2], (x) => F.convTranspose3d(x, w3, null, { stride: [1, 2, 1] }), 24);
  });
});
