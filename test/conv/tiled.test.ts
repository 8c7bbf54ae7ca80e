// The bounded-workspace lowering (native/conv.cc): a convolution tiled over
// output rows (a tiny workspace limit forces one output row per tile, col2im in
// phases, weight-gradient partials per tile group) gives the results of the
// untiled lowering, forward and every gradient, over seeded random geometries
// of conv1d/2d/3d; results do not depend on the thread count; a large image
// stays within its input, output, gradients and the bound (peak RSS, in a
// child process); the setting is validated.
//
// Tolerance: tiling changes where the weight gradient's sum over positions is
// split (partials added in a fixed order) and the order in which overlapping
// windows add into the input gradient, so those are compared within float32
// rounding of the sums: |a − b| ≤ 1e-5·(1 + |b|)·√terms with terms the number of
// products summed into an element (well above reordering error, far below any
// indexing bug, which is O(1)). The forward is the same per-element dot product
// in every tile; it is held to 1e-6 relative.
import { describe, it, expect } from 'vitest';
import { makeRng, randInt, pick, randArray, expectBitwise, expectAllClose } from '../helpers';
import { runNode, runNodeJson, UNDER_SANITIZER } from '../helpers/child';

interface Geom {
  nd: 1 | 2 | 3;
  N: number;
  C: number;
  Cout: number;
  groups: number;
  sp: number[];
  k: number[];
  stride: number[];
  padding: number[] | 'same';
  dilation: number[];
  bias: boolean;
  x: number[];
  w: number[];
  b: number[] | null;
  gy: number[];
  outShape: number[];
}

const outSize = (L: number, k: number, s: number, p: number, d: number) => Math.floor((L + 2 * p - d * (k - 1) - 1) / s) + 1;

function geometries(count: number, seed: number): Geom[] {
  const r = makeRng(seed), out: Geom[] = [];
  while (out.length < count) {
    const nd = pick(r, [1, 2, 2, 2, 3] as const);
    const groups = pick(r, [1, 1, 2, 3]);
    const C = groups * randInt(r, 1, 3), Cout = groups * randInt(r, 1, 3), N = randInt(r, 1, 3);
    const sp = Array.from({ length: nd }, () => randInt(r, nd === 3 ? 3 : 4, nd === 3 ? 8 : nd === 2 ? 15 : 40));
    const k = sp.map(() => randInt(r, 1, 4)), dilation = sp.map(() => pick(r, [1, 1, 2]));
    const same = r() < 0.2;
    const stride = same ? sp.map(() => 1) : sp.map(() => randInt(r, 1, 3));
    const pad = sp.map((_, i) => randInt(r, 0, k[i] - 1));
    const o = sp.map((s, i) => (same ? s : outSize(s, k[i], stride[i], pad[i], dilation[i])));
    if (o.some((v) => v < 1)) continue;
    const bias = r() < 0.5, Cg = C / groups;
    const xs = N * C * sp.reduce((a, v) => a * v, 1), ws = Cout * Cg * k.reduce((a, v) => a * v, 1), ys = N * Cout * o.reduce((a, v) => a * v, 1);
    out.push({
      nd, N, C, Cout, groups, sp, k, stride, padding: same ? 'same' : pad, dilation, bias,
      x: [...randArray(r, xs)], w: [...randArray(r, ws)], b: bias ? [...randArray(r, Cout)] : null, gy: [...randArray(r, ys)], outShape: [N, Cout, ...o],
    });
  }
  return out;
}

// Runs every geometry under each setting (limit in bytes, threads) in one child; returns base64 float32 arrays.
const CHILD = `
const fs = require('node:fs');
const { tensor, nn, setNumThreads, setConvWorkspaceLimit } = blasnet;
const F = nn.functional;
const { geoms, runs } = JSON.parse(fs.readFileSync(0, 'utf8'));
const b64 = (t) => t ? Buffer.from(t.data().buffer).toString('base64') : null;
const out = runs.map(({ limit, threads }) => {
  setNumThreads(threads);
  if (limit !== null) setConvWorkspaceLimit(limit);
  return geoms.map((g) => {
    const x = tensor(g.x, [g.N, g.C, ...g.sp]).requiresGrad_();
    const w = tensor(g.w, [g.Cout, g.C / g.groups, ...g.k]).requiresGrad_();
    const b = g.b ? tensor(g.b, [g.Cout]).requiresGrad_() : null;
    const conv = g.nd === 1 ? F.conv1d : g.nd === 2 ? F.conv2d : F.conv3d;
    const y = conv(x, w, b, { stride: g.stride, padding: g.padding, dilation: g.dilation, groups: g.groups });
    y.backward(tensor(g.gy, y.shape));
    return { shape: y.shape, y: b64(y), gx: b64(x.grad), gw: b64(w.grad), gb: b64(b && b.grad) };
  });
});
process.stdout.write(JSON.stringify(out));
`;

type Res = { shape: number[]; y: string; gx: string; gw: string; gb: string | null };
const f32 = (s: string) => {
  const buf = Buffer.from(s, 'base64');
  return new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
};

function expectClose(a: Float32Array, e: Float32Array, terms: number, what: string) {
  const tol = 1e-5 * Math.sqrt(Math.max(1, terms));
  expectAllClose(a, e, tol, tol, what);
}

describe('conv: the row-tiled lowering agrees with the untiled one', () => {
  const geoms = geometries(80, 1212);
  const runs = [
    { limit: null, threads: 2 }, // default 64 MiB: these small layers are untiled
    { limit: 1, threads: 2 }, // one output row per tile: the finest tiling
    { limit: 1, threads: 1 }, // the same tiles on one thread
    { limit: 6000, threads: 2 }, // a few rows per tile, fewer weight-gradient groups
    { limit: null, threads: 1 },
  ];
  // runNodeJson restores nothing: each setting applies to the geometries after it (limits set explicitly)
  runs[4].limit = 64 * 2 ** 20;
  const res = runNodeJson<Res[][]>(CHILD, { input: JSON.stringify({ geoms, runs }), timeout: 120_000 });

  it('computes every geometry in every setting', () => {
    expect(res.length).toBe(runs.length);
    for (const r of res) expect(r.length).toBe(geoms.length);
    geoms.forEach((g, i) => expect(res[0][i].shape, `geometry ${i}`).toEqual(g.outShape));
  });

  it('forward and all gradients within float tolerance of the untiled lowering, at the finest and a coarse tiling', () => {
    geoms.forEach((g, i) => {
      const label = (r: number, what: string) => `geometry ${i} (conv${g.nd}d N${g.N} C${g.C}→${g.Cout} g${g.groups} sp[${g.sp}] k[${g.k}] s[${g.stride}] p[${g.padding}] d[${g.dilation}]), limit ${runs[r].limit}: ${what}`;
      const kvol = g.k.reduce((a, v) => a * v, 1), P = g.outShape.slice(2).reduce((a, v) => a * v, 1);
      for (const r of [1, 3]) {
        const ref = res[0][i], got = res[r][i];
        expectAllClose(f32(got.y), f32(ref.y), 1e-6, 1e-6 * Math.sqrt((g.C / g.groups) * kvol), label(r, 'forward'));
        expectClose(f32(got.gx), f32(ref.gx), (g.Cout / g.groups) * kvol, label(r, 'grad input'));
        expectClose(f32(got.gw), f32(ref.gw), g.N * P, label(r, 'grad weight'));
        if (g.bias) expectBitwise(f32(got.gb!), f32(ref.gb!), label(r, 'grad bias'));
      }
    });
  });

  it('is bitwise independent of the thread count, tiled and untiled', () => {
    geoms.forEach((_, i) => {
      for (const [a, b] of [[1, 2], [0, 4]]) {
        for (const k of ['y', 'gx', 'gw', 'gb'] as const) {
          const va = res[a][i][k], vb = res[b][i][k];
          if (va === null || vb === null) expect(va).toBe(vb);
          else expectBitwise(f32(va), f32(vb), `geometry ${i}, ${k}, limit ${runs[a].limit}: ${runs[a].threads} vs ${runs[b].threads} threads`);
        }
      }
    });
  });
});

describe.skipIf(UNDER_SANITIZER)('conv: bounded memory on a large image', () => {
  // conv2d 3→8 3×3 stride 2 on [1, 3, 4000, 4000] (input 183 MiB, output 122 MiB). An untiled lowering
  // would need a 431 MiB im2col; a copy of the output gradient, or a grad input nobody asked for, 122 or 183 MiB.
  const script = (xGrad: boolean) => `
    const { randn, nn } = blasnet;
    const MiB = 2 ** 20;
    const x = randn([1, 3, 4000, 4000])${xGrad ? '.requiresGrad_()' : ''};
    const w = randn([8, 3, 3, 3]).requiresGrad_();
    const base = process.resourceUsage().maxRSS * 1024;
    const y = nn.functional.conv2d(x, w, null, { stride: 2, padding: 1 });
    y.backward(y); // the output gradient is the output itself: no third output-sized tensor
    const peak = process.resourceUsage().maxRSS * 1024;
    process.stdout.write(JSON.stringify({ extraMiB: (peak - base) / MiB, outMiB: y.numel * 4 / MiB, inMiB: x.numel * 4 / MiB,
      gx: x.grad ? x.grad.shape : null, gw: w.grad.shape, limitMiB: blasnet.backendInfo().convWorkspaceLimit / MiB }));
  `;
  const slackMiB = 48; // V8 heap growth, the thread pool's stacks, OpenBLAS's buffers
  it('forward + weight gradient (input without grad): peak ≤ output + workspace bound + slack; no grad input computed', () => {
    const r = runNodeJson<{ extraMiB: number; outMiB: number; inMiB: number; gx: number[] | null; gw: number[]; limitMiB: number }>(script(false), { timeout: 120_000 });
    expect(r.gx).toBeNull();
    expect(r.gw).toEqual([8, 3, 3, 3]);
    expect(r.limitMiB).toBe(64);
    expect(r.extraMiB, JSON.stringify(r)).toBeLessThan(r.outMiB + r.limitMiB + slackMiB);
  });
  it('with the input gradient too: peak ≤ output + grad input + bound + slack, and a smaller bound lowers the peak', () => {
    const r = runNodeJson<{ extraMiB: number; outMiB: number; inMiB: number; gx: number[] | null }>(script(true), { timeout: 120_000 });
    expect(r.gx).toEqual([1, 3, 4000, 4000]);
    expect(r.extraMiB, JSON.stringify(r)).toBeLessThan(r.outMiB + r.inMiB + 64 + slackMiB);
    const s = runNodeJson<{ extraMiB: number; outMiB: number; inMiB: number }>(script(true), { timeout: 120_000, env: { ...process.env, BLASNET_CONV_WORKSPACE: '4M' } });
    expect(s.extraMiB, JSON.stringify(s)).toBeLessThan(s.outMiB + s.inMiB + 4 + slackMiB);
  });
});

describe('conv: the workspace setting', () => {
  it('setConvWorkspaceLimit / getConvWorkspaceLimit / backendInfo, and BLASNET_CONV_WORKSPACE with K, M, G suffixes', () => {
    const r = runNodeJson<number[]>(`
      const a = blasnet.getConvWorkspaceLimit();
      blasnet.setConvWorkspaceLimit(1 << 20);
      process.stdout.write(JSON.stringify([a, blasnet.getConvWorkspaceLimit(), blasnet.backendInfo().convWorkspaceLimit]));
    `);
    expect(r).toEqual([64 * 2 ** 20, 2 ** 20, 2 ** 20]);
    for (const [v, bytes] of [['1000', 1000], ['16M', 16 * 2 ** 20], ['2g', 2 * 2 ** 30], ['512KiB', 512 * 1024]] as const) {
      const n = runNodeJson<number>('process.stdout.write(String(blasnet.backendInfo().convWorkspaceLimit))', { env: { ...process.env, BLASNET_CONV_WORKSPACE: v } });
      expect(n, v).toBe(bytes);
    }
  });
  it('rejects a bad value, naming the function or the variable', () => {
    const r = runNode(`
      for (const v of [-1, 1.5, NaN, '64M', Infinity]) {
        try { blasnet.setConvWorkspaceLimit(v); console.log('accepted', v); } catch (e) { console.log(e.constructor.name + ': ' + e.message); }
      }
    `);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(5);
    for (const l of lines) expect(l).toMatch(/^RangeError: setConvWorkspaceLimit: expected a non-negative integer/);
    const bad = runNode('1', { env: { ...process.env, BLASNET_CONV_WORKSPACE: 'lots' } });
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain('BLASNET_CONV_WORKSPACE: expected a byte count');
  });
});
