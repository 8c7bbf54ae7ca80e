// Winograd F(2×2, 3×3) (native/conv_winograd.cc) against naive float64 loops, forward, input
// gradient and weight gradient, over seeded geometries (odd sizes, padding 0–2, channel counts
// on both sides of the auto heuristic, batch 1–3, bias or not); every non-applicable conv stays
// on the GEMM lowering, bitwise. The heuristic and the setting.
//
// Tolerance: Winograd's transforms add and subtract up to 16 terms per output before and
// after the GEMM, so it rounds differently from a dot product: |got − ref| ≤ 2e-5 · (1 + |ref|)
// · √(terms) with terms the products summed into an element (9·C forward, 9·Cout grad input,
// N·OH·OW grad weight) for unit-scale data (measured worst ≈ 1e-6 relative; an indexing bug is O(1)).
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { nn, tensor, backendInfo, setConvWinograd } from '../../src';
import { makeRng, randInt, pick, randArray, expectAllClose, expectBitwise } from '../helpers';
import { runNode, runNodeJson } from '../helpers/child';

const F = nn.functional;

interface G { N: number; C: number; O: number; H: number; W: number; p: number; bias: boolean }

/** y[n,o,i,j] = b[o] + Σ_c Σ_{u,v} x[n,c,i−p+u,j−p+v]·w[o,c,u,v] (zero outside); gx and gw: Σ over the same terms of gy·w and gy·x. */
function naive(g: G, x: Float32Array, w: Float32Array, b: Float32Array | null, gy: Float32Array) {
  const OH = g.H + 2 * g.p - 2, OW = g.W + 2 * g.p - 2;
  const y = new Float64Array(g.N * g.O * OH * OW), gx = new Float64Array(g.N * g.C * g.H * g.W), gw = new Float64Array(g.O * g.C * 9);
  for (let n = 0; n < g.N; n++)
    for (let o = 0; o < g.O; o++)
      for (let i = 0; i < OH; i++)
        for (let j = 0; j < OW; j++) {
          const yi = ((n * g.O + o) * OH + i) * OW + j;
          let s = b ? b[o] : 0;
          for (let c = 0; c < g.C; c++)
            for (let u = 0; u < 3; u++)
              for (let v = 0; v < 3; v++) {
                const iy = i - g.p + u, ix = j - g.p + v;
                if (iy < 0 || iy >= g.H || ix < 0 || ix >= g.W) continue;
                const xi = ((n * g.C + c) * g.H + iy) * g.W + ix, wi = ((o * g.C + c) * 3 + u) * 3 + v, wv = w[wi];
                s += x[xi] * wv;
                gx[xi] += gy[yi] * wv;
                gw[wi] += gy[yi] * x[xi];
              }
          y[yi] = s;
        }
  return { y, gx, gw, OH, OW };
}

function geoms(count: number, seed: number): G[] {
  const r = makeRng(seed);
  return Array.from({ length: count }, () => ({
    N: randInt(r, 1, 3), C: pick(r, [1, 3, 16, 17, 24]), O: pick(r, [2, 16, 20]), H: randInt(r, 3, 13), W: randInt(r, 3, 13), p: randInt(r, 0, 2), bias: r() < 0.5,
  })).filter((g) => g.H + 2 * g.p >= 3 && g.W + 2 * g.p >= 3);
}

function run(g: G, x: Float32Array, w: Float32Array, b: Float32Array | null, gy: Float32Array) {
  const xt = tensor(x, [g.N, g.C, g.H, g.W]).requiresGrad_(), wt = tensor(w, [g.O, g.C, 3, 3]).requiresGrad_();
  const bt = b ? tensor(b, [g.O]) : null;
  const y = F.conv2d(xt, wt, bt, { padding: g.p });
  y.backward(tensor(gy, y.shape));
  return { y: y.data(), gx: xt.grad!.data(), gw: wt.grad!.data() };
}

describe('conv2d: Winograd F(2×2, 3×3)', () => {
  beforeAll(() => setConvWinograd('force'));
  afterAll(() => setConvWinograd('auto'));

  it('agrees with naive float64 loops (forward, grad input, grad weight) on 60 seeded geometries, as the GEMM path does', () => {
    expect(backendInfo().convWinograd).toBe('force');
    const r = makeRng(31);
    for (const [k, g] of geoms(60, 7).entries()) {
      const OH = g.H + 2 * g.p - 2, OW = g.W + 2 * g.p - 2;
      const x = randArray(r, g.N * g.C * g.H * g.W), w = randArray(r, g.O * g.C * 9), b = g.bias ? randArray(r, g.O) : null, gy = randArray(r, g.N * g.O * OH * OW);
      const ref = naive(g, x, w, b, gy);
      setConvWinograd('force');
      const got = run(g, x, w, b, gy);
      setConvWinograd('off');
      const gemm = run(g, x, w, b, gy);
      setConvWinograd('force');
      const tolY = 2e-5 * Math.sqrt(9 * g.C), tolX = 2e-5 * Math.sqrt(9 * g.O), tolW = 2e-5 * Math.sqrt(g.N * OH * OW);
      const label = `geometry ${k} ${JSON.stringify(g)}`;
      expectAllClose(got.y, ref.y, tolY, tolY, `${label}: forward`);
      expectAllClose(got.gx, ref.gx, tolX, tolX, `${label}: grad input`);
      expectAllClose(got.gw, ref.gw, tolW, tolW, `${label}: grad weight`);
      expectAllClose(gemm.y, ref.y, tolY, tolY, `${label}: forward, GEMM path`);
      expectAllClose(gemm.gw, ref.gw, tolW, tolW, `${label}: grad weight, GEMM path`);
    }
  });

  it('leaves convolutions it does not apply to on the GEMM path, bitwise (stride 2, dilation 2, groups 2, 5×5, 1-D, padding 3)', () => {
    const r = makeRng(5);
    const cases: [number[], number[], object][] = [
      [[2, 16, 11, 11], [16, 16, 3, 3], { stride: 2, padding: 1 }],
      [[2, 16, 11, 11], [16, 16, 3, 3], { dilation: 2, padding: 2 }],
      [[2, 16, 11, 11], [16, 8, 3, 3], { groups: 2, padding: 1 }],
      [[2, 16, 11, 11], [16, 16, 5, 5], { padding: 2 }],
      [[2, 16, 11, 11], [16, 16, 3, 3], { padding: 3 }],
    ];
    for (const [xs, ws, opts] of cases) {
      const x = tensor(randArray(r, xs.reduce((a, v) => a * v, 1)), xs), w = tensor(randArray(r, ws.reduce((a, v) => a * v, 1)), ws);
      setConvWinograd('force');
      const a = F.conv2d(x, w, null, opts);
      setConvWinograd('off');
      const b = F.conv2d(x, w, null, opts);
      setConvWinograd('force');
      expectBitwise(a, b, JSON.stringify(opts));
    }
  });

  it("'auto' uses it only with 16+ channels in and out: a 3→16 layer is not Winograd (bitwise 'off'), a 40→16 one is (40 input channels: beyond the direct kernels' range on every ISA, so the choice is between Winograd and the lowering)", () => {
    const r = makeRng(9);
    const pair = (C: number) => {
      const x = tensor(randArray(r, 2 * C * 12 * 12), [2, C, 12, 12]), w = tensor(randArray(r, 16 * C * 9), [16, C, 3, 3]);
      setConvWinograd('auto');
      const a = F.conv2d(x, w, null, { padding: 1 }).data();
      setConvWinograd('off');
      const b = F.conv2d(x, w, null, { padding: 1 }).data();
      setConvWinograd('force');
      return [a, b];
    };
    const [a3, b3] = pair(3);
    expectBitwise(a3, b3, '3→16 under auto');
    const [a16, b16] = pair(40);
    expectAllClose(a16, b16, 1e-4, 1e-4, '40→16 under auto');
    expect(Buffer.from(a16.buffer).equals(Buffer.from(b16.buffer))).toBe(false);
  });
});

describe('conv2d: Winograd under the workspace bound and threads', () => {
  it('blocks of one tile row (tiny limit) agree with the default blocks (forward and both gradients); results are bitwise the same on 1 and 2 threads', () => {
    const r = runNodeJson<Record<string, string>>(`
      const { tensor, nn, setNumThreads, setConvWorkspaceLimit, setConvWinograd } = blasnet;
      setConvWinograd('force');
      const n = (k, s) => Array.from({ length: k }, (_, i) => Math.sin(i * s));
      const x = tensor(n(2 * 16 * 37 * 29, 0.7), [2, 16, 37, 29]).requiresGrad_(), w = tensor(n(20 * 16 * 9, 1.3), [20, 16, 3, 3]).requiresGrad_();
      const out = {};
      for (const [name, limit, threads] of [['default2', 64 * 2 ** 20, 2], ['tiny2', 1, 2], ['tiny1', 1, 1], ['default1', 64 * 2 ** 20, 1]]) {
        setNumThreads(threads); setConvWorkspaceLimit(limit);
        x.grad = null; w.grad = null;
        const y = nn.functional.conv2d(x, w, null, { padding: 1 });
        y.backward(y.detach());
        out[name] = [y, x.grad, w.grad].map((t) => Buffer.from(t.data().buffer).toString('base64')).join('|');
      }
      process.stdout.write(JSON.stringify(out));
    `);
    const f = (s: string) => s.split('|').map((p) => { const b = Buffer.from(p, 'base64'); return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4); });
    const [yd, gd, wd] = f(r.default2), [yt, gt, wt] = f(r.tiny2);
    expectAllClose(yt, yd, 1e-5, 1e-5, 'forward, tiny vs default blocks');
    expectAllClose(gt, gd, 1e-5, 1e-5, 'grad input, tiny vs default blocks');
    expectAllClose(wt, wd, 1e-4, 1e-4, 'grad weight, tiny vs default blocks');
    expect(r.tiny1, 'tiny limit: 1 vs 2 threads').toBe(r.tiny2);
    expect(r.default1, 'default limit: 1 vs 2 threads').toBe(r.default2);
  });
});

describe('the Winograd setting', () => {
  it('BLASNET_CONV_WINOGRAD chooses the mode at load; a bad value or argument throws naming it', () => {
    for (const m of ['auto', 'off', 'force'])
      expect(runNodeJson<string>('process.stdout.write(JSON.stringify(blasnet.backendInfo().convWinograd))', { env: { ...process.env, BLASNET_CONV_WINOGRAD: m } })).toBe(m);
    const bad = runNode('1', { env: { ...process.env, BLASNET_CONV_WINOGRAD: 'yes' } });
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain('BLASNET_CONV_WINOGRAD: expected auto, off or force');
    expect(() => setConvWinograd('on' as never)).toThrow(/setConvWinograd: mode must be 'auto', 'off' or 'force', got "on"/);
  });
});
