// conv2d against an independent, naive JS implementation (the 7-loop
// definition with zero padding, float64 accumulation) on seeded random
// configurations, forward and all three gradients; plus hand-made kernels whose
// outputs are worked out by hand.
import { describe, it, expect } from 'vitest';
import { nn, tensor } from '../../src';
import { rng } from '../helpers';

const F = nn.functional;

const int = (r: () => number, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));

interface Cfg {
  N: number;
  Cin: number;
  Cout: number;
  H: number;
  W: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  ph: number;
  pw: number;
  dh: number;
  dw: number;
  groups: number;
  bias: boolean;
}
const outSize = (L: number, k: number, s: number, p: number, d: number) => Math.floor((L + 2 * p - d * (k - 1) - 1) / s) + 1;

/** y[n,o,i,j] = b[o] + Σ_{c in group(o)} Σ_{u,v} x[n,c,i·sh−ph+u·dh, j·sw−pw+v·dw] · w[o,c−c0,u,v] (0 outside x). */
function naiveConv2d(c: Cfg, x: Float32Array, w: Float32Array, b: Float32Array | null) {
  const OH = outSize(c.H, c.kh, c.sh, c.ph, c.dh), OW = outSize(c.W, c.kw, c.sw, c.pw, c.dw);
  const Cg = c.Cin / c.groups, Og = c.Cout / c.groups;
  const y = new Float64Array(c.N * c.Cout * OH * OW);
  for (let n = 0; n < c.N; n++)
    for (let o = 0; o < c.Cout; o++) {
      const c0 = Math.floor(o / Og) * Cg;
      for (let i = 0; i < OH; i++)
        for (let j = 0; j < OW; j++) {
          let s = b ? b[o] : 0;
          for (let ci = 0; ci < Cg; ci++)
            for (let u = 0; u < c.kh; u++)
              for (let v = 0; v < c.kw; v++) {
                const iy = i * c.sh - c.ph + u * c.dh, ix = j * c.sw - c.pw + v * c.dw;
                if (iy < 0 || iy >= c.H || ix < 0 || ix >= c.W) continue;
                s += x[((n * c.Cin + c0 + ci) * c.H + iy) * c.W + ix] * w[((o * Cg + ci) * c.kh + u) * c.kw + v];
              }
          y[((n * c.Cout + o) * OH + i) * OW + j] = s;
        }
    }
  return { y, OH, OW };
}

/** The adjoint of the loops above: gx, gw, gb for an upstream gradient gy. */
function naiveConv2dBackward(c: Cfg, x: Float32Array, w: Float32Array, gy: Float32Array, OH: number, OW: number) {
  const Cg = c.Cin / c.groups, Og = c.Cout / c.groups;
  const gx = new Float64Array(x.length), gw = new Float64Array(w.length), gb = new Float64Array(c.Cout);
  for (let n = 0; n < c.N; n++)
    for (let o = 0; o < c.Cout; o++) {
      const c0 = Math.floor(o / Og) * Cg;
      for (let i = 0; i < OH; i++)
        for (let j = 0; j < OW; j++) {
          const g = gy[((n * c.Cout + o) * OH + i) * OW + j];
          gb[o] += g;
          for (let ci = 0; ci < Cg; ci++)
            for (let u = 0; u < c.kh; u++)
              for (let v = 0; v < c.kw; v++) {
                const iy = i * c.sh - c.ph + u * c.dh, ix = j * c.sw - c.pw + v * c.dw;
                if (iy < 0 || iy >= c.H || ix < 0 || ix >= c.W) continue;
                const xi = ((n * c.Cin + c0 + ci) * c.H + iy) * c.W + ix, wi = ((o * Cg + ci) * c.kh + u) * c.kw + v;
                gx[xi] += w[wi] * g;
                gw[wi] += x[xi] * g;
              }
        }
    }
  return { gx, gw, gb };
}

function expectRel(what: string, actual: ArrayLike<number>, expected: ArrayLike<number>, rtol = 1e-4): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  let nbad = 0;
  const bad: string[] = [];
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i], e = expected[i];
    if (!(Math.abs(a - e) <= rtol * Math.max(1, Math.abs(e)))) {
      nbad++;
      if (bad.length < 5) bad.push(`[${i}] got ${a}, expected ${e}`);
    }
  }
  if (nbad) throw new Error(`${what}: ${nbad}/${expected.length} differ: ${bad.join('; ')}`);
}

function divisors(n: number): number[] {
  const d: number[] = [];
  for (let i = 1; i <= n; i++) if (n % i === 0) d.push(i);
  return d;
}
const gcd = (a: number, b: number): number => (b ? gcd(b, a % b) : a);

/** Seeded random configs with a non-empty output. */
function makeConfigs(count: number, seed: number, pointwise = false): Cfg[] {
  const r = rng(seed);
  const out: Cfg[] = [];
  let tries = 0;
  while (out.length < count) {
    if (++tries > 100 * count) throw new Error('could not draw enough valid configs');
    const Cin = int(r, 1, 5), Cout = int(r, 1, 5);
    const gs = divisors(gcd(Cin, Cout));
    const c: Cfg = {
      N: int(r, 1, 4), Cin, Cout,
      H: int(r, 1, 12), W: int(r, 1, 12),
      kh: int(r, 1, 5), kw: int(r, 1, 5),
      sh: int(r, 1, 3), sw: int(r, 1, 3),
      ph: int(r, 0, 2), pw: int(r, 0, 2),
      dh: int(r, 1, 2), dw: int(r, 1, 2),
      groups: gs[int(r, 0, gs.length - 1)],
      bias: r() < 0.7,
    };
    // 1×1, stride 1, unpadded: the direct-GEMM path (rare in the uniform draw)
    if (pointwise) Object.assign(c, { kh: 1, kw: 1, sh: 1, sw: 1, ph: 0, pw: 0 });
    // skip configs whose output would be empty
    if (c.H + 2 * c.ph < c.dh * (c.kh - 1) + 1 || c.W + 2 * c.pw < c.dw * (c.kw - 1) + 1) continue;
    if (outSize(c.H, c.kh, c.sh, c.ph, c.dh) < 1 || outSize(c.W, c.kw, c.sw, c.pw, c.dw) < 1) continue;
    out.push(c);
  }
  return out;
}

const configs = [...makeConfigs(240, 20240611), ...makeConfigs(12, 777, true)];
const label = (c: Cfg) =>
  `N${c.N} ${c.Cin}→${c.Cout} ${c.H}×${c.W} k${c.kh}×${c.kw} s${c.sh},${c.sw} p${c.ph},${c.pw} d${c.dh},${c.dw} g${c.groups}${c.bias ? '' : ' nobias'}`;

describe('conv2d vs naive 7-loop convolution (240 seeded random configs + 12 pointwise)', () => {
  it('draws at least 200 configs, with groups > 1, stride > 1, dilation > 1 and 1×1 direct represented', () => {
    expect(configs.length).toBeGreaterThanOrEqual(200);
    expect(configs.some((c) => c.groups > 1)).toBe(true);
    expect(configs.some((c) => c.sh > 1 || c.sw > 1)).toBe(true);
    expect(configs.some((c) => c.dh > 1 || c.dw > 1)).toBe(true);
    expect(configs.some((c) => c.kh === 1 && c.kw === 1 && c.sh === 1 && c.sw === 1 && c.ph === 0 && c.pw === 0)).toBe(true);
  });

  it.each(configs.map((c, i) => [`#${i} ${label(c)}`, c, i] as const))('%s', (_n, c, i) => {
    const r = rng(1000 + i);
    const rand = (n: number) => Float32Array.from({ length: n }, () => r() * 2 - 1);
    const x = rand(c.N * c.Cin * c.H * c.W);
    const w = rand(c.Cout * (c.Cin / c.groups) * c.kh * c.kw);
    const b = c.bias ? rand(c.Cout) : null;
    const ref = naiveConv2d(c, x, w, b);
    const gy = rand(ref.y.length);
    const refB = naiveConv2dBackward(c, x, w, gy, ref.OH, ref.OW);

    const xt = tensor(x, [c.N, c.Cin, c.H, c.W]).requiresGrad_();
    const wt = tensor(w, [c.Cout, c.Cin / c.groups, c.kh, c.kw]).requiresGrad_();
    const bt = b ? tensor(b, [c.Cout]).requiresGrad_() : null;
    const y = F.conv2d(xt, wt, bt, { stride: [c.sh, c.sw], padding: [c.ph, c.pw], dilation: [c.dh, c.dw], groups: c.groups });
    expect([...y.shape]).toEqual([c.N, c.Cout, ref.OH, ref.OW]);
    expectRel('y', y.data(), ref.y);
    y.backward(tensor(gy, [...y.shape]));
    expectRel('x.grad', xt.grad!.data(), refB.gx);
    expectRel('weight.grad', wt.grad!.data(), refB.gw);
    if (bt) expectRel('bias.grad', bt.grad!.data(), refB.gb);
    for (const t of [xt, wt, bt, y]) t?.dispose();
  });
});

describe('hand-made kernels', () => {
  it('vertical-edge kernel responds only at the edge of a half-1/half-0 image', () => {
    // 8×8 image: columns 0..3 are 1, columns 4..7 are 0.
    const img = Array.from({ length: 8 }, () => [1, 1, 1, 1, 0, 0, 0, 0]);
    const k = [
      [1, 0, -1],
      [1, 0, -1],
      [1, 0, -1],
    ];
    const y = F.conv2d(tensor([[img]]), tensor([[k]]), null, { padding: 'valid' });
    expect([...y.shape]).toEqual([1, 1, 6, 6]);
    // Output column j sees input columns j..j+2: 3·(x[j] − x[j+2]).
    // j = 2 and 3 straddle the edge (1 − 0 per row → 3); elsewhere both sides are equal.
    const rows = (y.toArray() as number[][][][])[0][0];
    for (const row of rows) expect(row).toEqual([0, 0, 3, 3, 0, 0]);
    // the edge-straddling columns are the only non-zero ones
    const nonzeroCols = new Set<number>();
    rows.forEach((row) => row.forEach((v, j) => v !== 0 && nonzeroCols.add(j)));
    expect([...nonzeroCols].sort()).toEqual([2, 3]);
  });

  it('vertical-edge kernel with padding 1: the image border also shows (zero padding), interior is 0 away from the edge', () => {
    const img = Array.from({ length: 8 }, () => [1, 1, 1, 1, 0, 0, 0, 0]);
    const k = [[1, 0, -1], [1, 0, -1], [1, 0, -1]];
    const rows = (F.conv2d(tensor([[img]]), tensor([[k]]), null, { padding: 1 }).toArray() as number[][][][])[0][0];
    // Row 0 and 7 have one padded row (2 real rows); columns: col 0 sees pad(0) − x[1] = −1 per row.
    // centre column c: Σ rows (x[c−1] − x[c+1]); c=3: 1−0, c=4: 1−0; c=0: 0−1.
    const inner = [-3, 0, 0, 3, 3, 0, 0, 0];
    const border = [-2, 0, 0, 2, 2, 0, 0, 0];
    expect(rows[0]).toEqual(border);
    for (let i = 1; i < 7; i++) expect(rows[i]).toEqual(inner);
    expect(rows[7]).toEqual(border);
  });

  // A 5×5 image, written out by hand.
  const img5 = [
    [1, 0, 2, 0, 1],
    [0, 3, 0, 4, 0],
    [2, 0, 5, 0, 2],
    [0, 4, 0, 3, 0],
    [1, 0, 2, 0, 1],
  ];

  it('3×3 box blur (all 1/9), padding 1', () => {
    const box = [
      [1 / 9, 1 / 9, 1 / 9],
      [1 / 9, 1 / 9, 1 / 9],
      [1 / 9, 1 / 9, 1 / 9],
    ];
    // Sums of each zero-padded 3×3 neighbourhood, e.g. (0,0): 1+0+0+3 = 4;
    // (1,1): 1+0+2+0+3+0+2+0+5 = 13; (2,2): 3+0+4+0+5+0+4+0+3 = 19.
    const sums = [
      [4, 6, 9, 7, 5],
      [6, 13, 14, 14, 7],
      [9, 14, 19, 14, 9],
      [7, 14, 14, 13, 6],
      [5, 7, 9, 6, 4],
    ];
    const y = F.conv2d(tensor([[img5]]), tensor([[box]]), null, { padding: 1 });
    expect([...y.shape]).toEqual([1, 1, 5, 5]);
    const got = (y.toArray() as number[][][][])[0][0];
    got.forEach((row, i) => row.forEach((v, j) => expect(v, `(${i},${j})`).toBeCloseTo(sums[i][j] / 9, 5)));
  });

  it('sharpen [[0,-1,0],[-1,5,-1],[0,-1,0]], padding 1', () => {
    const sharpen = [
      [0, -1, 0],
      [-1, 5, -1],
      [0, -1, 0],
    ];
    // 5·centre − (up + down + left + right), zeros outside:
    // (0,0): 5·1 − 0 = 5; (0,1): 0 − (1 + 2 + 3) = −6; (1,2): 0 − (2 + 3 + 4 + 5) = −14; (2,2): 25 − 0 = 25.
    const expected = [
      [5, -6, 10, -7, 5],
      [-6, 15, -14, 20, -7],
      [10, -14, 25, -14, 10],
      [-7, 20, -14, 15, -6],
      [5, -7, 10, -6, 5],
    ];
    const y = F.conv2d(tensor([[img5]]), tensor([[sharpen]]), null, { padding: 1 });
    expect(y.toArray()).toEqual([[expected]]);
  });

  it('the kernel is not flipped (cross-correlation, as PyTorch): a one-hot kernel shifts the image', () => {
    // kernel with a single 1 at (0, 2): y[i,j] = x[i−1, j+1] (padding 1)
    const k = [
      [0, 0, 1],
      [0, 0, 0],
      [0, 0, 0],
    ];
    const got = (F.conv2d(tensor([[img5]]), tensor([[k]]), null, { padding: 1 }).toArray() as number[][][][])[0][0];
    for (let i = 0; i < 5; i++)
      for (let j = 0; j < 5; j++) expect(got[i][j], `(${i},${j})`).toBe(i - 1 >= 0 && j + 1 < 5 ? img5[i - 1][j + 1] : 0);
  });

  it('bias is added to every output position of its channel', () => {
    const y = F.conv2d(tensor([[img5]]), tensor([[[[0]]], [[[1]]]]), tensor([10, -1]));
    const [c0, c1] = (y.toArray() as number[][][][])[0];
    expect(c0).toEqual(img5.map((r) => r.map(() => 10)));
    expect(c1).toEqual(img5.map((r) => r.map((v) => v - 1)));
  });
});

describe('pooling by hand', () => {
  const img = [
    [1, 5, 2, 0],
    [3, 4, 8, 7],
    [0, 0, 1, 1],
    [9, 0, 1, 2],
  ];
  it('maxPool2d pads with −inf: an all-negative image keeps its values at the border', () => {
    const neg = img.map((r) => r.map((v) => -v - 1));
    // k3 s2 p1 → 2×2 windows over rows/cols {−1,0,1}, {1,2,3}
    const y = F.maxPool2d(tensor([[neg]]), { kernelSize: 3, stride: 2, padding: 1 }).toArray();
    // window (0,0): rows 0..1, cols 0..1 → max(−2,−6,−4,−5) = −2; (0,1): rows 0..1, cols 1..3 → max(−6,−3,−1,−5,−9,−8) = −1
    // (1,0): rows 1..3, cols 0..1 → max(−4,−5,−1,−1,−10,−1) = −1; (1,1): rows 1..3, cols 1..3 → max(−5,−9,−8,−1,−2,−2,−1,−2,−3) = −1
    expect(y).toEqual([[[[-2, -1], [-1, -1]]]]);
  });
  it('maxPool2d propagates NaN (as PyTorch), in the 2×2 fast path and the general path', () => {
    const withNaN = img.map((r) => r.slice());
    withNaN[1][1] = NaN;
    const a = F.maxPool2d(tensor([[withNaN]]), { kernelSize: 2 }).data();
    expect(Number.isNaN(a[0])).toBe(true);
    expect(Array.from(a.slice(1))).toEqual([8, 9, 2]);
    const b = F.maxPool2d(tensor([[withNaN]]), { kernelSize: 3, stride: 1 }).data();
    expect(Array.from(b).every((v) => Number.isNaN(v))).toBe(true); // every 3×3 window contains (1,1)
    const c = F.maxPool2d(tensor([[withNaN]]), { kernelSize: 2, stride: 2, padding: 1 }).data();
    // windows (with padding 1) rows {−1,0},{1,2},{3,4}: (1,1) is in window row 1, col 1 only
    expect(Array.from(c).map((v) => (Number.isNaN(v) ? 'nan' : v))).toEqual([1, 5, 0, 3, 'nan', 7, 9, 1, 2]);
  });
  it('maxPool2d backward routes each gradient to the argmax (first max on ties)', () => {
    const x = tensor([[img]]).requiresGrad_();
    F.maxPool2d(x, { kernelSize: 2 }).backward(tensor([[[[10, 20], [30, 40]]]]));
    expect(x.grad!.toArray()).toEqual([[[
      [0, 10, 0, 0],
      [0, 0, 20, 0],
      [0, 0, 0, 0],
      [30, 0, 0, 40],
    ]]]);
    const t = tensor([[[[1, 1], [1, 1]]]]).requiresGrad_();
    F.maxPool2d(t, { kernelSize: 2 }).backward(tensor([[[[1]]]]));
    expect(t.grad!.data().reduce((a, b) => a + b, 0)).toBe(1);
  });
  it('avgPool2d divisors: countIncludePad true vs false, and ceilMode windows clipped to the padded input', () => {
    const ones = tensor([[Array.from({ length: 5 }, () => [1, 1, 1, 1, 1])]]);
    // k2 s2 p1 on 5×5: windows rows {−1,0},{1,2},{3,4}
    expect(F.avgPool2d(ones, { kernelSize: 2, padding: 1, countIncludePad: true }).toArray()).toEqual([[[
      [0.25, 0.5, 0.5],
      [0.5, 1, 1],
      [0.5, 1, 1],
    ]]]);
    expect(F.avgPool2d(ones, { kernelSize: 2, padding: 1, countIncludePad: false }).toArray()).toEqual([[[
      [1, 1, 1],
      [1, 1, 1],
      [1, 1, 1],
    ]]]);
    // k2 s2 ceilMode on 5×5 without padding: the last window holds 1 column / row → divisor 2 or 1 (the part outside the input is not padding)
    expect(F.avgPool2d(ones, { kernelSize: 2, ceilMode: true }).toArray()).toEqual([[[
      [1, 1, 1],
      [1, 1, 1],
      [1, 1, 1],
    ]]]);
  });
  it('adaptiveAvgPool2d windows [floor(i·H/O), ceil((i+1)·H/O))', () => {
    const x = tensor([[[[1, 2, 3, 4, 5]]]]);
    // W 5 → 3: [0,2), [1,4), [3,5) → 1.5, 3, 4.5
    expect(F.adaptiveAvgPool2d(x, [1, 3]).toArray()).toEqual([[[[1.5, 3, 4.5]]]]);
    // W 5 → 2: [0,3), [2,5) → 2, 4
    expect(F.adaptiveAvgPool2d(x, [1, 2]).toArray()).toEqual([[[[2, 4]]]]);
  });
});
