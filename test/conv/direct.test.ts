// The direct convolution kernels (native/conv_direct*) against the GEMM path
// (im2col + sgemm, the oracle): forward, input gradient, weight gradient and
// bias gradient over 520 seeded random geometries — stride, padding, dilation,
// groups, odd sizes, batch 1 and 128 — each side in its own child process
// (BLASNET_CONV=direct / =gemm), with OPENBLAS_CORETYPE unset and set. Plus:
// results bitwise independent of the thread count, the scalar twin against the
// SIMD kernels, finite differences through the direct path, and the fused
// conv + ReLU + 2×2 max pool op against its unfused composition.
import { describe, it, expect } from 'vitest';
import { nn, tensor, backendInfo, models, manualSeed } from '../../src';
import { makeRng, randInt, pick, randArray, expectAllClose, numericGrad } from '../helpers';
import { runNode, runNodeJson, openblasEnvironments } from '../helpers/child';

const F = nn.functional;

interface Geo {
  nd: 1 | 2;
  N: number;
  C: number;
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
  seed: number;
}

// 520 geometries: mostly the stride-1 shapes the direct kernels take, strides up to 5
// (the forward runs direct up to 4; the rest check that the fallback to GEMM is
// seamless), batch 1 to 3 and 128.
function geometries(): Geo[] {
  const r = makeRng(12012);
  const out: Geo[] = [];
  while (out.length < 520) {
    const nd = r() < 0.2 ? 1 : 2;
    const groups = pick(r, [1, 1, 1, 2, 3]);
    const C = groups * randInt(r, 1, 4), Cout = groups * randInt(r, 1, 7);
    const big = r() < 0.12;
    const N = big ? 128 : randInt(r, 1, 3);
    const H = nd === 1 ? 1 : randInt(r, 1, big ? 6 : 11), W = randInt(r, 1, big ? 7 : 13);
    const kh = nd === 1 ? 1 : randInt(r, 1, 5), kw = randInt(r, 1, 5);
    // strides 2-4 run direct as phase planes (forward); 5 is past the direct kernels' limit
    const sh = nd === 1 ? 1 : r() < 0.85 ? 1 : pick(r, [2, 2, 3, 4, 5]), sw = r() < 0.85 ? 1 : pick(r, [2, 2, 3, 4, 5]);
    const dh = nd === 1 ? 1 : r() < 0.8 ? 1 : 2, dw = r() < 0.8 ? 1 : 2;
    const ph = nd === 1 ? 0 : randInt(r, 0, 3), pw = randInt(r, 0, 3);
    const OH = Math.floor((H + 2 * ph - dh * (kh - 1) - 1) / sh) + 1, OW = Math.floor((W + 2 * pw - dw * (kw - 1) - 1) / sw) + 1;
    if (OH < 1 || OW < 1) continue;
    out.push({ nd, N, C, Cout, H, W, kh, kw, sh, sw, ph, pw, dh, dw, groups, bias: r() < 0.7, seed: out.length + 1 });
  }
  return out;
}

// Runs every geometry in a child and returns, per geometry, [y, gx, gw, gb] as plain arrays.
// `threads` lists the thread counts to run each geometry at (results must agree bitwise).
const CHILD = `
const geos = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const { nn, tensor, setNumThreads, manualSeed, rand } = blasnet;
const F = nn.functional;
// blasnet's own counter-based generator: the same values in every process for a seed
const arr = (n) => rand([n], -1, 1).data();
const out = [];
for (const g of geos.list) {
  manualSeed(g.seed);
  const xs = g.nd === 1 ? [g.N, g.C, g.W] : [g.N, g.C, g.H, g.W];
  const ws = g.nd === 1 ? [g.Cout, g.C / g.groups, g.kw] : [g.Cout, g.C / g.groups, g.kh, g.kw];
  const xd = arr(xs.reduce((a, b) => a * b)), wd = arr(ws.reduce((a, b) => a * b)), bd = arr(g.Cout);
  const opts = g.nd === 1 ? { stride: g.sw, padding: g.pw, dilation: g.dw, groups: g.groups } : { stride: [g.sh, g.sw], padding: [g.ph, g.pw], dilation: [g.dh, g.dw], groups: g.groups };
  const runs = [];
  let gyd = null;
  for (const t of geos.threads) {
    setNumThreads(t);
    const x = tensor(xd, xs).requiresGrad_(), w = tensor(wd, ws).requiresGrad_(), b = g.bias ? tensor(bd, [g.Cout]).requiresGrad_() : null;
    const y = (g.nd === 1 ? F.conv1d : F.conv2d)(x, w, b, opts);
    gyd = gyd || rand(y.shape, -1, 1).data();  // drawn once: the same for every thread count
    const gy = tensor(gyd, y.shape);
    y.mul(gy).sum().backward();
    runs.push([Array.from(y.data()), Array.from(x.grad.data()), Array.from(w.grad.data()), b ? Array.from(b.grad.data()) : []]);
  }
  const same = runs.every((q) => JSON.stringify(q) === JSON.stringify(runs[0]));
  out.push({ r: runs[0], same });
}
process.stdout.write(JSON.stringify({ info: blasnet.backendInfo(), out }));
`;

type Res = { info: { convMode: string; convIsa: string }; out: { r: number[][]; same: boolean }[] };
function runAll(list: Geo[], env: NodeJS.ProcessEnv, threads = [2]): Res {
  return runNodeJson<Res>(CHILD, { env, input: JSON.stringify({ list, threads }), timeout: 300_000 });
}

// tolerance: float32 sums of up to C·k·k (or N·P) products of values in [-1, 1]
function compare(a: number[][], b: number[][], g: Geo, what: string) {
  const names = ['output', 'input grad', 'weight grad', 'bias grad'];
  const terms = [g.C / g.groups * g.kh * g.kw, g.Cout / g.groups * g.kh * g.kw, g.N * g.H * g.W, g.N * g.H * g.W];
  for (let i = 0; i < 4; i++) {
    const atol = 2e-6 * terms[i] + 1e-6;
    expectAllClose(a[i], b[i], 1e-4, atol, `${what} ${names[i]} of ${JSON.stringify(g)}`);
  }
}

describe('direct convolution kernels', () => {
  const geos = geometries();

  it('covers ≥ 500 geometries with stride, padding, dilation, groups, batch 1 and 128', () => {
    expect(geos.length).toBeGreaterThanOrEqual(500);
    expect(geos.some((g) => g.N === 128)).toBe(true);
    expect(geos.some((g) => g.N === 1)).toBe(true);
    expect(geos.some((g) => g.groups > 1 && g.dh > 1)).toBe(true);
    expect(geos.some((g) => g.sw > 1)).toBe(true);
    expect(geos.some((g) => g.sh === 3 && g.sw === 2)).toBe(true);
    expect(geos.some((g) => g.sh > 1 && g.dh > 1)).toBe(true);
    expect(geos.some((g) => g.sw === 5)).toBe(true);
  });

  it('BLASNET_CONV and BLASNET_CONV_ISA: reported by backendInfo, a bad value fails the load naming it', () => {
    for (const mode of ['auto', 'gemm', 'direct']) {
      const info = runNodeJson<{ convMode: string }>('process.stdout.write(JSON.stringify(blasnet.backendInfo()))', { env: { ...process.env, BLASNET_CONV: mode } });
      expect(info.convMode).toBe(mode);
    }
    expect(['avx512', 'avx2', 'scalar']).toContain(backendInfo().convIsa);
    const bad = runNode('', { env: { ...process.env, BLASNET_CONV: 'fast' } });
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/BLASNET_CONV must be auto, gemm, direct or unset, got 'fast'/);
    const isa = runNode('', { env: { ...process.env, BLASNET_CONV_ISA: 'sse' } });
    expect(isa.stderr).toMatch(/BLASNET_CONV_ISA must be scalar, avx2, avx512 or unset, got 'sse'/);
  });

  for (const { name, env } of openblasEnvironments()) {
    it(`agree with the GEMM path: forward, input, weight and bias gradients (${name})`, () => {
      const d = runAll(geos, { ...env, BLASNET_CONV: 'direct' });
      const m = runAll(geos, { ...env, BLASNET_CONV: 'gemm' });
      expect(d.info.convMode).toBe('direct');
      expect(m.info.convMode).toBe('gemm');
      geos.forEach((g, i) => compare(d.out[i].r, m.out[i].r, g, 'direct vs gemm'));
      // the two paths really are different code: most outputs differ in their last bits
      const differ = geos.filter((_, i) => JSON.stringify(d.out[i].r[0]) !== JSON.stringify(m.out[i].r[0])).length;
      expect(differ).toBeGreaterThan(geos.length / 4);
    }, 600_000);
  }

  // auto sends the input gradient of layers with a long reduction (Cout/groups·kh·kw > 256, LeNet's
  // 6→16 5×5) through a GEMM into the forward's wide layout; BLASNET_CONV=direct never does.
  it('auto: the input gradient by GEMM into wide planes agrees with the GEMM path, bitwise across threads', () => {
    const r = makeRng(5150);
    const list: Geo[] = [];
    while (list.length < 60) {
      const groups = pick(r, [1, 1, 2]);
      const C = groups * randInt(r, 1, 6), Cout = groups * randInt(r, 11, 32);
      const N = pick(r, [1, 2, 5, 33]);
      const H = randInt(r, 5, 16), W = randInt(r, 5, 17), kh = pick(r, [3, 5]), kw = pick(r, [3, 5, 4]);
      const dh = r() < 0.8 ? 1 : 2, dw = r() < 0.8 ? 1 : 2, ph = randInt(r, 0, 2), pw = randInt(r, 0, 2);
      const OH = H + 2 * ph - dh * (kh - 1), OW = W + 2 * pw - dw * (kw - 1);
      if (OH < 1 || OW < 1 || (Cout / groups) * kh * kw <= 256) continue;
      list.push({ nd: 2, N, C, Cout, H, W, kh, kw, sh: 1, sw: 1, ph, pw, dh, dw, groups, bias: r() < 0.5, seed: 9000 + list.length });
    }
    const a = runAll(list, { ...process.env, BLASNET_CONV: 'auto' }, [1, 2]);
    const m = runAll(list, { ...process.env, BLASNET_CONV: 'gemm' });
    list.forEach((g, i) => {
      compare(a.out[i].r, m.out[i].r, g, 'auto vs gemm');
      expect(a.out[i].same, JSON.stringify(g)).toBe(true);
    });
  }, 300_000);

  it('auto: a transposed conv whose adjoint has negative after-padding (outputPadding with dilation) matches naive loops', () => {
    // convTranspose2d is its adjoint conv's input gradient; stride 1, dilation 3, outputPadding 2 leaves the
    // adjoint reading 2 fewer rows and columns than its input has
    const r = makeRng(6060);
    for (const [Ci, Co, k, d, op, p, H] of [[16, 4, 5, 3, 2, 0, 6], [20, 3, 5, 2, 1, 1, 7], [16, 2, 3, 3, 2, 2, 9]]) {
      const N = 2, OH = (H - 1) - 2 * p + d * (k - 1) + op + 1;
      const xd = randArray(r, N * Ci * H * H), wd = randArray(r, Ci * Co * k * k);
      const y = F.convTranspose2d(tensor(xd, [N, Ci, H, H]), tensor(wd, [Ci, Co, k, k]), null, { stride: 1, padding: p, dilation: d, outputPadding: op });
      expect([...y.shape]).toEqual([N, Co, OH, OH]);
      const ref = new Float64Array(N * Co * OH * OH);
      for (let n = 0; n < N; n++)
        for (let ci = 0; ci < Ci; ci++)
          for (let ih = 0; ih < H; ih++)
            for (let iw = 0; iw < H; iw++)
              for (let co = 0; co < Co; co++)
                for (let ky = 0; ky < k; ky++)
                  for (let kx = 0; kx < k; kx++) {
                    const oh = ih - p + ky * d, ow = iw - p + kx * d;
                    if (oh < 0 || ow < 0 || oh >= OH || ow >= OH) continue;
                    ref[((n * Co + co) * OH + oh) * OH + ow] += xd[((n * Ci + ci) * H + ih) * H + iw] * wd[((ci * Co + co) * k + ky) * k + kx];
                  }
      expectAllClose(y.data(), ref, 1e-4, 1e-4, `convTranspose2d ${Ci}→${Co} k${k} d${d} op${op} p${p}`);
    }
  });

  it('auto: a weight holding inf or NaN gives the input gradient the GEMM path gives', () => {
    const x = tensor(randArray(makeRng(3), 2 * 3 * 9 * 9), [2, 3, 9, 9]);
    const wd = randArray(makeRng(4), 16 * 3 * 5 * 5);
    wd[7] = Infinity;
    wd[400] = NaN;
    const grads = (w: Float32Array) => {
      const xi = x.detach().requiresGrad_();
      F.conv2d(xi, tensor(w, [16, 3, 5, 5]), null).sum().backward();
      return Array.from(xi.grad!.data());
    };
    // reference: each input pixel's gradient is the sum of the weights that touch it (gy = 1)
    const g = grads(Float32Array.from(wd));
    const ref: number[] = [];
    for (let n = 0; n < 2; n++)
      for (let ci = 0; ci < 3; ci++)
        for (let ih = 0; ih < 9; ih++)
          for (let iw = 0; iw < 9; iw++) {
            let sum = 0;
            for (let co = 0; co < 16; co++)
              for (let ky = 0; ky < 5; ky++)
                for (let kx = 0; kx < 5; kx++) {
                  const oh = ih - ky, ow = iw - kx;
                  if (oh >= 0 && oh < 5 && ow >= 0 && ow < 5) sum += wd[((co * 3 + ci) * 5 + ky) * 5 + kx];
                }
            ref.push(sum);
          }
    g.forEach((v, i) => {
      if (Number.isFinite(ref[i])) expect(v).toBeCloseTo(ref[i], 3);
      else expect(Number.isNaN(v) ? 'nan' : v).toEqual(Number.isNaN(ref[i]) ? 'nan' : ref[i]);
    });
  });

  it('give results bitwise independent of the thread count (1, 2, 3 threads)', () => {
    const sample = geos.filter((_, i) => i % 5 === 0);
    const d = runAll(sample, { ...process.env, BLASNET_CONV: 'direct' }, [1, 2, 3]);
    sample.forEach((g, i) => expect(d.out[i].same, JSON.stringify(g)).toBe(true));
  }, 300_000);

  it('the scalar twin agrees with the SIMD kernels', () => {
    const sample = geos.filter((_, i) => i % 3 === 0);
    const s = runAll(sample, { ...process.env, BLASNET_CONV: 'direct', BLASNET_CONV_ISA: 'scalar' });
    const v = runAll(sample, { ...process.env, BLASNET_CONV: 'direct' });
    expect(s.info.convIsa).toBe('scalar');
    expect(v.info.convIsa).toBe(backendInfo().convIsa);
    sample.forEach((g, i) => compare(s.out[i].r, v.out[i].r, g, 'scalar vs simd'));
  }, 300_000);

  it('pass finite differences (LeNet-like geometries, which auto sends direct)', () => {
    const r = makeRng(77);
    for (const [N, C, Co, H, k, p, d] of [[2, 1, 3, 7, 3, 1, 1], [1, 2, 4, 6, 3, 0, 1], [2, 3, 2, 6, 2, 1, 2]]) {
      const xd = randArray(r, N * C * H * H), wd = randArray(r, Co * C * k * k), bd = randArray(r, Co), gd = randArray(r, 4096);
      const loss = (xv: ArrayLike<number>, wv: ArrayLike<number>, bv: ArrayLike<number>) => {
        const y = F.conv2d(tensor(Float32Array.from(xv), [N, C, H, H]), tensor(Float32Array.from(wv), [Co, C, k, k]), tensor(Float32Array.from(bv), [Co]), { padding: p, dilation: d });
        const yd = y.data();
        let s = 0;
        for (let i = 0; i < yd.length; i++) s += yd[i] * gd[i];
        return s;
      };
      const x = tensor(xd, [N, C, H, H]).requiresGrad_(), w = tensor(wd, [Co, C, k, k]).requiresGrad_(), b = tensor(bd, [Co]).requiresGrad_();
      const y = F.conv2d(x, w, b, { padding: p, dilation: d });
      y.mul(tensor(gd.slice(0, y.numel), y.shape)).sum().backward();
      expectAllClose(x.grad!.data(), numericGrad((v) => loss(v, wd, bd), xd, 1e-2), 2e-2, 2e-2, 'input grad');
      expectAllClose(w.grad!.data(), numericGrad((v) => loss(xd, v, bd), wd, 1e-2), 2e-2, 2e-2, 'weight grad');
      expectAllClose(b.grad!.data(), numericGrad((v) => loss(xd, wd, v), bd, 1e-2), 2e-2, 2e-2, 'bias grad');
    }
  });

  describe('conv2dReluMaxPool2d (the fused epilogue)', () => {
    const bits = (t: { data(): Float32Array }) => Array.from(new Uint32Array(t.data().slice().buffer));
    it('is bitwise the unfused conv2d → relu → maxPool2d(2), forward and gradients, NaN and odd sizes included', () => {
      const r = makeRng(4242);
      for (let trial = 0; trial < 40; trial++) {
        const N = pick(r, [1, 2, 5]), C = randInt(r, 1, 4), Co = randInt(r, 1, 9), H = randInt(r, 3, 12), W = randInt(r, 3, 12), k = randInt(r, 1, 3);
        const p = randInt(r, 0, 2), relu = r() < 0.8, withBias = r() < 0.7;
        const xd = randArray(r, N * C * H * W), wd = randArray(r, Co * C * k * k), bd = randArray(r, Co);
        if (trial % 4 === 0) xd[randInt(r, 0, xd.length - 1)] = NaN;
        const mk = () => [tensor(xd, [N, C, H, W]).requiresGrad_(), tensor(wd, [Co, C, k, k]).requiresGrad_(), withBias ? tensor(bd, [Co]).requiresGrad_() : null] as const;
        const [x1, w1, b1] = mk(), [x2, w2, b2] = mk();
        const y1 = F.conv2dReluMaxPool2d(x1, w1, b1, { padding: p, relu });
        const z = F.conv2d(x2, w2, b2, { padding: p });
        const y2 = F.maxPool2d(relu ? F.relu(z) : z, { kernelSize: 2 });
        expect(y1.shape).toEqual(y2.shape);
        expect(bits(y1)).toEqual(bits(y2));
        const gd = randArray(r, y1.numel);
        y1.mul(tensor(gd, y1.shape)).sum().backward();
        y2.mul(tensor(gd, y2.shape)).sum().backward();
        expect(bits(x1.grad!), 'input grad').toEqual(bits(x2.grad!));
        expect(bits(w1.grad!), 'weight grad').toEqual(bits(w2.grad!));
        if (withBias) expect(bits(b1!.grad!), 'bias grad').toEqual(bits(b2!.grad!));
      }
    });
    it('keeps NaN as PyTorch: relu(NaN) = NaN and the pool picks it', () => {
      const x = tensor(new Float32Array([NaN, -1, -2, -3, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0]), [1, 1, 4, 4]);
      const w = tensor(new Float32Array([1]), [1, 1, 1, 1]);
      expect(Array.from(F.conv2dReluMaxPool2d(x, w).data())).toEqual([NaN, 4, 0, 0]);
    });
    it('rejects unknown options and conv outputs smaller than the window', () => {
      const x = tensor(new Float32Array(9), [1, 1, 3, 3]), w = tensor(new Float32Array(9), [1, 1, 3, 3]);
      expect(() => F.conv2dReluMaxPool2d(x, w, null, { reLU: true } as never)).toThrow(/conv2dReluMaxPool2d.*reLU/);
      expect(() => F.conv2dReluMaxPool2d(x, w)).toThrow(/smaller than the 2×2 pool window/);
    });
    it('nn.Sequential trains LeNet through it with the gradients of the unfused layers, bitwise', () => {
      manualSeed(5);
      const net = models.LeNet();
      const x = tensor(randArray(makeRng(9), 4 * 784), [4, 1, 28, 28]);
      net.forward(x).sum().backward();
      const fused = net.parameters().map((q: { grad: { data(): Float32Array } }) => bits(q.grad));
      net.zeroGrad();
      let y = x;
      for (const m of net.children()) y = m.forward(y);  // each layer alone
      y.sum().backward();
      net.parameters().forEach((q: { grad: { data(): Float32Array } }, i: number) => expect(bits(q.grad), `parameter ${i}`).toEqual(fused[i]));
    });
  });
});
