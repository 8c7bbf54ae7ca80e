// Finite-difference gradient checks for convolution and pooling: central
// differences on float32 data (eps 1e-2), the loss L = Σ y·r (r fixed random)
// accumulated in float64 in JS, compared with the analytic gradients that
// backward() leaves in .grad (relative tolerance 2e-2).
import { describe, it, expect } from 'vitest';
import { nn, tensor, noGrad, type Tensor } from '../../src';
import { rng } from '../helpers';

const F = nn.functional;

const numel = (s: number[]) => s.reduce((a, b) => a * b, 1);
function uniform(r: () => number, shape: number[], lo = -1, hi = 1): Float32Array {
  return Float32Array.from({ length: numel(shape) }, () => lo + (hi - lo) * r());
}
/** Distinct values (a shuffled ramp, spacing 0.05 ≫ 2·eps): no ties in a max-pool window, before or after a perturbation. */
function distinct(r: () => number, shape: number[]): Float32Array {
  const n = numel(shape);
  const v = Array.from({ length: n }, (_, i) => (i - n / 2) * 0.05);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [v[i], v[j]] = [v[j], v[i]];
  }
  return Float32Array.from(v);
}

interface Input {
  name: string;
  shape: number[];
  data: Float32Array;
}

const EPS = 1e-2;
const RTOL = 2e-2;
const ATOL = 2e-3;

/**
 * Checks d(Σ y·r)/d(input) for every element of every input against backward().
 * `fn` maps tensors (in the order of `inputs`) to the output.
 */
function gradcheck(fn: (ts: Tensor[]) => Tensor, inputs: Input[], seed = 7): void {
  const r = rng(seed);
  // analytic
  const leaves = inputs.map((i) => tensor(Float32Array.from(i.data), i.shape).requiresGrad_());
  const y = fn(leaves);
  const w = uniform(r, [...y.shape]);
  const loss = (out: Float32Array) => {
    let s = 0;
    for (let k = 0; k < out.length; k++) s += out[k] * w[k];
    return s;
  };
  y.backward(tensor(w, [...y.shape]));
  const analytic = leaves.map((l, i) => {
    expect(l.grad, `${inputs[i].name}.grad`).not.toBeNull();
    expect([...l.grad!.shape]).toEqual(inputs[i].shape);
    return l.grad!.data();
  });
  leaves.forEach((l) => l.dispose());
  y.dispose();

  // numeric
  const evalLoss = (which: number, data: Float32Array) =>
    noGrad(() => {
      const ts = inputs.map((inp, i) => tensor(i === which ? data : inp.data, inp.shape));
      const out = fn(ts);
      const l = loss(out.data());
      ts.forEach((t) => t.dispose());
      out.dispose();
      return l;
    });
  const bad: string[] = [];
  let checked = 0;
  let nbad = 0;
  inputs.forEach((inp, which) => {
    const d = Float32Array.from(inp.data);
    for (let k = 0; k < d.length; k++) {
      const orig = d[k];
      d[k] = orig + EPS;
      const xp = d[k];
      const lp = evalLoss(which, d);
      d[k] = orig - EPS;
      const xm = d[k];
      const lm = evalLoss(which, d);
      d[k] = orig;
      const num = (lp - lm) / (xp - xm);
      const ana = analytic[which][k];
      checked++;
      if (!(Math.abs(num - ana) <= ATOL + RTOL * Math.max(Math.abs(num), Math.abs(ana)))) {
        nbad++;
        if (bad.length < 8) bad.push(`${inp.name}[${k}]: analytic ${ana}, numeric ${num}`);
      }
    }
  });
  expect(checked).toBeGreaterThan(0);
  if (nbad) throw new Error(`gradient mismatch at ${nbad} of ${checked} elements: ${bad.join('; ')}`);
}

// ---------------------------------------------------------------------------
// convolution

interface ConvCase {
  name: string;
  nd: 1 | 2 | 3;
  x: number[];
  w: number[];
  bias: boolean;
  opts: nn.functional.ConvOptions;
}

const convCases: ConvCase[] = [
  { name: 'conv1d k3', nd: 1, x: [2, 3, 9], w: [4, 3, 3], bias: true, opts: {} },
  { name: 'conv1d stride 2, padding 1, dilation 2', nd: 1, x: [2, 3, 11], w: [4, 3, 3], bias: true, opts: { stride: 2, padding: 1, dilation: 2 } },
  { name: 'conv1d groups 3, no bias', nd: 1, x: [2, 6, 8], w: [6, 2, 3], bias: false, opts: { groups: 3, padding: 1 } },
  { name: "conv1d padding 'same', k4", nd: 1, x: [1, 2, 7], w: [3, 2, 4], bias: true, opts: { padding: 'same' } },
  { name: 'conv2d k3 stride 2 padding 1', nd: 2, x: [2, 3, 7, 6], w: [4, 3, 3, 3], bias: true, opts: { stride: 2, padding: 1 } },
  { name: 'conv2d rect kernel 2×3, stride [2,1], padding [1,0]', nd: 2, x: [2, 2, 6, 5], w: [3, 2, 2, 3], bias: true, opts: { stride: [2, 1], padding: [1, 0] } },
  { name: "conv2d padding 'same', k4 (even: extra row/col after)", nd: 2, x: [1, 2, 5, 6], w: [3, 2, 4, 4], bias: true, opts: { padding: 'same' } },
  { name: "conv2d padding 'same', k3 dilation 2", nd: 2, x: [2, 2, 6, 5], w: [2, 2, 3, 3], bias: true, opts: { padding: 'same', dilation: 2 } },
  { name: 'conv2d asymmetric padding [1,0,2,1] (top,bottom,left,right)', nd: 2, x: [2, 2, 5, 5], w: [3, 2, 3, 3], bias: true, opts: { padding: [1, 0, 2, 1] } },
  { name: 'conv2d asymmetric padding [0,2,1,0], stride 2', nd: 2, x: [1, 3, 6, 6], w: [2, 3, 3, 2], bias: true, opts: { padding: [0, 2, 1, 0], stride: 2 } },
  { name: 'conv2d dilation 2, padding 2', nd: 2, x: [2, 2, 7, 7], w: [3, 2, 3, 3], bias: true, opts: { dilation: 2, padding: 2 } },
  { name: 'conv2d dilation [2,1], stride [1,2], groups 2, no bias', nd: 2, x: [2, 4, 7, 6], w: [4, 2, 3, 2], bias: false, opts: { dilation: [2, 1], stride: [1, 2], padding: [2, 0], groups: 2 } },
  { name: 'conv2d depthwise (groups = C = 3, 2 outputs each)', nd: 2, x: [2, 3, 5, 5], w: [6, 1, 3, 3], bias: true, opts: { groups: 3, padding: 1 } },
  { name: 'conv2d no bias', nd: 2, x: [2, 3, 5, 4], w: [2, 3, 3, 3], bias: false, opts: { padding: 1 } },
  { name: 'conv2d 1×1 (direct GEMM), batch 1', nd: 2, x: [1, 4, 5, 6], w: [3, 4, 1, 1], bias: true, opts: {} },
  { name: 'conv2d 1×1 (direct GEMM), batch 3', nd: 2, x: [3, 4, 5, 6], w: [3, 4, 1, 1], bias: true, opts: {} },
  { name: 'conv2d 1×1 groups 2 (direct GEMM), batch 3', nd: 2, x: [3, 4, 3, 3], w: [6, 2, 1, 1], bias: true, opts: { groups: 2 } },
  { name: 'conv2d 1×1 stride 2 (not direct)', nd: 2, x: [2, 3, 5, 5], w: [2, 3, 1, 1], bias: true, opts: { stride: 2 } },
  { name: 'conv2d 1×1 padding 1 (not direct)', nd: 2, x: [2, 3, 3, 4], w: [2, 3, 1, 1], bias: true, opts: { padding: 1 } },
  { name: 'conv3d k3 padding 1', nd: 3, x: [1, 2, 4, 4, 4], w: [2, 2, 3, 3, 3], bias: true, opts: { padding: 1 } },
  { name: 'conv3d k[2,3,2], stride [1,2,1], padding [1,0,1], dilation [1,1,2]', nd: 3, x: [2, 2, 4, 5, 5], w: [3, 2, 2, 3, 2], bias: true, opts: { stride: [1, 2, 1], padding: [1, 0, 1], dilation: [1, 1, 2] } },
  { name: 'conv3d groups 2, no bias', nd: 3, x: [1, 4, 3, 4, 4], w: [2, 2, 2, 2, 2], bias: false, opts: { groups: 2 } },
  { name: "conv3d padding 'same', k2", nd: 3, x: [1, 2, 3, 3, 4], w: [2, 2, 2, 2, 2], bias: true, opts: { padding: 'same' } },
];

describe('gradcheck: convolution (x, weight, bias)', () => {
  it.each(convCases.map((c, i) => [c.name, c, i] as const))('%s', (_n, c, i) => {
    const r = rng(100 + i);
    const conv = c.nd === 1 ? F.conv1d : c.nd === 2 ? F.conv2d : F.conv3d;
    const inputs: Input[] = [
      { name: 'x', shape: c.x, data: uniform(r, c.x) },
      { name: 'weight', shape: c.w, data: uniform(r, c.w, -0.5, 0.5) },
    ];
    if (c.bias) inputs.push({ name: 'bias', shape: [c.w[0]], data: uniform(r, [c.w[0]]) });
    gradcheck((ts) => conv(ts[0], ts[1], c.bias ? ts[2] : null, c.opts), inputs, 200 + i);
  });
});

// ---------------------------------------------------------------------------
// pooling

interface PoolCase {
  name: string;
  fn: (x: Tensor) => Tensor;
  x: number[];
  max?: boolean;
}

const poolCases: PoolCase[] = [
  { name: 'maxPool2d k2', fn: (x) => F.maxPool2d(x, { kernelSize: 2 }), x: [2, 2, 6, 6], max: true },
  { name: 'maxPool2d k3 stride 2 padding 1', fn: (x) => F.maxPool2d(x, { kernelSize: 3, stride: 2, padding: 1 }), x: [2, 2, 7, 7], max: true },
  { name: 'maxPool2d k2 ceilMode on 5×5', fn: (x) => F.maxPool2d(x, { kernelSize: 2, ceilMode: true }), x: [1, 3, 5, 5], max: true },
  { name: 'maxPool2d k3 stride 2 padding 1 ceilMode', fn: (x) => F.maxPool2d(x, { kernelSize: 3, stride: 2, padding: 1, ceilMode: true }), x: [1, 2, 6, 6], max: true },
  { name: 'maxPool2d overlapping k3 stride 1', fn: (x) => F.maxPool2d(x, { kernelSize: 3, stride: 1 }), x: [1, 2, 5, 5], max: true },
  { name: 'maxPool2d rect k[2,3] stride [1,2]', fn: (x) => F.maxPool2d(x, { kernelSize: [2, 3], stride: [1, 2] }), x: [2, 1, 5, 7], max: true },
  { name: 'maxPool1d k3 stride 2 padding 1', fn: (x) => F.maxPool1d(x, { kernelSize: 3, stride: 2, padding: 1 }), x: [2, 3, 9], max: true },
  { name: 'maxPool1d k2 ceilMode', fn: (x) => F.maxPool1d(x, { kernelSize: 2, ceilMode: true }), x: [2, 2, 7], max: true },
  { name: 'maxPool3d k2', fn: (x) => F.maxPool3d(x, { kernelSize: 2 }), x: [1, 2, 4, 4, 4], max: true },
  { name: 'maxPool3d k3 stride 2 padding 1', fn: (x) => F.maxPool3d(x, { kernelSize: 3, stride: 2, padding: 1 }), x: [1, 1, 5, 4, 5], max: true },
  { name: 'maxPool2d unbatched [C,H,W]', fn: (x) => F.maxPool2d(x, { kernelSize: 2 }), x: [2, 4, 4], max: true },
  { name: 'avgPool2d k2', fn: (x) => F.avgPool2d(x, { kernelSize: 2 }), x: [2, 2, 6, 6] },
  { name: 'avgPool2d k3 s2 p1 countIncludePad true', fn: (x) => F.avgPool2d(x, { kernelSize: 3, stride: 2, padding: 1, countIncludePad: true }), x: [2, 2, 7, 6] },
  { name: 'avgPool2d k3 s2 p1 countIncludePad false', fn: (x) => F.avgPool2d(x, { kernelSize: 3, stride: 2, padding: 1, countIncludePad: false }), x: [2, 2, 7, 6] },
  { name: 'avgPool2d k3 s2 p1 ceilMode countIncludePad true', fn: (x) => F.avgPool2d(x, { kernelSize: 3, stride: 2, padding: 1, ceilMode: true, countIncludePad: true }), x: [1, 2, 6, 6] },
  { name: 'avgPool2d k3 s2 p1 ceilMode countIncludePad false', fn: (x) => F.avgPool2d(x, { kernelSize: 3, stride: 2, padding: 1, ceilMode: true, countIncludePad: false }), x: [1, 2, 6, 6] },
  { name: 'avgPool2d k2 ceilMode on 5×5', fn: (x) => F.avgPool2d(x, { kernelSize: 2, ceilMode: true }), x: [1, 2, 5, 5] },
  { name: 'avgPool1d k3 s2 p1 countIncludePad false', fn: (x) => F.avgPool1d(x, { kernelSize: 3, stride: 2, padding: 1, countIncludePad: false }), x: [2, 2, 9] },
  { name: 'avgPool1d k3 s2 p1 ceilMode', fn: (x) => F.avgPool1d(x, { kernelSize: 3, stride: 2, padding: 1, ceilMode: true }), x: [2, 2, 8] },
  { name: 'avgPool3d k2', fn: (x) => F.avgPool3d(x, { kernelSize: 2 }), x: [1, 2, 4, 4, 4] },
  { name: 'avgPool3d k3 s2 p1 countIncludePad false', fn: (x) => F.avgPool3d(x, { kernelSize: 3, stride: 2, padding: 1, countIncludePad: false }), x: [1, 1, 5, 4, 5] },
  { name: 'adaptiveAvgPool2d [3,2] from 7×5', fn: (x) => F.adaptiveAvgPool2d(x, [3, 2]), x: [2, 2, 7, 5] },
  { name: 'adaptiveAvgPool2d 1 (global)', fn: (x) => F.adaptiveAvgPool2d(x, 1), x: [2, 3, 4, 5] },
  { name: 'adaptiveAvgPool2d [4,5] from 3×3 (output larger than input)', fn: (x) => F.adaptiveAvgPool2d(x, [4, 5]), x: [1, 2, 3, 3] },
  { name: 'globalAvgPool2d keepdim false', fn: (x) => F.globalAvgPool2d(x, false), x: [2, 3, 3, 4] },
];

describe('gradcheck: pooling', () => {
  it.each(poolCases.map((c, i) => [c.name, c, i] as const))('%s', (_n, c, i) => {
    const r = rng(500 + i);
    gradcheck((ts) => c.fn(ts[0]), [{ name: 'x', shape: c.x, data: c.max ? distinct(r, c.x) : uniform(r, c.x) }], 600 + i);
  });
});

describe('gradcheck: a composed conv → relu-free pool stack', () => {
  it('conv2d (stride 1, pad 1) → avgPool2d → conv2d 1×1, through all three', () => {
    const r = rng(999);
    const inputs: Input[] = [
      { name: 'x', shape: [2, 2, 6, 6], data: uniform(r, [2, 2, 6, 6]) },
      { name: 'w1', shape: [3, 2, 3, 3], data: uniform(r, [3, 2, 3, 3], -0.5, 0.5) },
      { name: 'w2', shape: [2, 3, 1, 1], data: uniform(r, [2, 3, 1, 1], -0.5, 0.5) },
    ];
    gradcheck((ts) => F.conv2d(F.avgPool2d(F.conv2d(ts[0], ts[1], null, { padding: 1 }), { kernelSize: 2 }), ts[2]), inputs, 1000);
  });
});
