// Conv and pooling modules: parameter shapes, PyTorch's default init bounds,
// parameter-free pools that keep the channel count, a LeNet-sized stack
// forward and backward, and models.LeNet().
import { describe, it, expect } from 'vitest';
import { nn, models, tensor, randn, manualSeed, type Tensor } from '../../src';

const shapeOf = (t: Tensor | null) => (t ? [...t.shape] : null);
const maxAbs = (t: Tensor) => t.data().reduce((m, v) => Math.max(m, Math.abs(v)), 0);

describe('conv modules: parameter shapes', () => {
  it('Conv1d: weight [Cout, Cin, k], bias [Cout]', () => {
    const m = new nn.Conv1d(3, 8, 5);
    expect(shapeOf(m.weight)).toEqual([8, 3, 5]);
    expect(shapeOf(m.bias)).toEqual([8]);
    expect(m.parameters().length).toBe(2);
  });
  it('Conv2d: weight [Cout, Cin, kH, kW] (number and rectangular kernel)', () => {
    expect(shapeOf(new nn.Conv2d(3, 6, 5).weight)).toEqual([6, 3, 5, 5]);
    const m = new nn.Conv2d(4, 6, [3, 2]);
    expect(shapeOf(m.weight)).toEqual([6, 4, 3, 2]);
    expect(shapeOf(m.bias)).toEqual([6]);
  });
  it('Conv3d: weight [Cout, Cin, kD, kH, kW]', () => {
    const m = new nn.Conv3d(2, 4, [3, 1, 2]);
    expect(shapeOf(m.weight)).toEqual([4, 2, 3, 1, 2]);
    expect(shapeOf(m.bias)).toEqual([4]);
  });
  it('groups: weight [Cout, Cin/groups, ...k]; depthwise', () => {
    expect(shapeOf(new nn.Conv2d(6, 9, 3, { groups: 3 }).weight)).toEqual([9, 2, 3, 3]);
    expect(shapeOf(new nn.Conv2d(4, 4, 3, { groups: 4 }).weight)).toEqual([4, 1, 3, 3]);
    expect(shapeOf(new nn.Conv1d(4, 8, 3, { groups: 2 }).weight)).toEqual([8, 2, 3]);
    expect(shapeOf(new nn.Conv3d(4, 2, 2, { groups: 2 }).weight)).toEqual([2, 2, 2, 2, 2]);
  });
  it('bias: false → no bias parameter', () => {
    for (const m of [new nn.Conv1d(2, 3, 3, { bias: false }), new nn.Conv2d(2, 3, 3, { bias: false }), new nn.Conv3d(2, 3, 3, { bias: false })]) {
      expect(m.bias).toBeNull();
      expect(m.parameters().length).toBe(1);
      expect(m.namedParameters().map(([k]) => k)).toEqual(['weight']);
    }
  });
  it('parameters require grad and are named weight/bias', () => {
    const m = new nn.Conv2d(2, 3, 3);
    expect(m.namedParameters().map(([k]) => k)).toEqual(['weight', 'bias']);
    for (const p of m.parameters()) expect(p.requiresGrad).toBe(true);
  });
  it('forward uses the stored options (stride, padding, dilation, groups) and gives the expected shape', () => {
    const x = randn([2, 4, 9, 10]);
    expect([...new nn.Conv2d(4, 6, 3, { stride: 2, padding: 1 }).forward(x).shape]).toEqual([2, 6, 5, 5]);
    expect([...new nn.Conv2d(4, 6, 3, { padding: 'same', dilation: 2, groups: 2 }).forward(x).shape]).toEqual([2, 6, 9, 10]);
    expect([...new nn.Conv1d(4, 2, 4, { padding: 'same' }).forward(randn([3, 4, 7])).shape]).toEqual([3, 2, 7]);
    expect([...new nn.Conv3d(2, 3, 3, { stride: [1, 2, 2], padding: 1 }).forward(randn([1, 2, 4, 6, 6])).shape]).toEqual([1, 3, 4, 3, 3]);
  });
});

describe('conv modules: default init (kaiming_uniform a=√5 → U(±1/√fanIn), bias U(±1/√fanIn))', () => {
  const cases: [string, () => nn.Module & { weight: Tensor; bias: Tensor | null }, number][] = [
    ['Conv1d(8, 32, 5)', () => new nn.Conv1d(8, 32, 5), 8 * 5],
    ['Conv2d(16, 32, 3)', () => new nn.Conv2d(16, 32, 3), 16 * 9],
    ['Conv2d(1, 64, 5) (LeNet-like fanIn 25)', () => new nn.Conv2d(1, 64, 5), 25],
    ['Conv2d(12, 48, 3, groups 4) (fanIn uses Cin/groups)', () => new nn.Conv2d(12, 48, 3, { groups: 4 }), 3 * 9],
    ['Conv3d(4, 16, 3)', () => new nn.Conv3d(4, 16, 3), 4 * 27],
  ];
  it.each(cases)('%s', (_n, make, fanIn) => {
    manualSeed(42);
    const m = make();
    const bound = 1 / Math.sqrt(fanIn);
    const w = m.weight.data();
    const wMax = maxAbs(m.weight);
    // every weight within the bound (float32 rounding allowance), and the range actually used
    expect(wMax).toBeLessThanOrEqual(bound * (1 + 1e-6));
    expect(wMax).toBeGreaterThan(0.9 * bound);
    // roughly uniform: mean ≈ 0, variance ≈ bound²/3
    const n = w.length;
    const mean = w.reduce((a, b) => a + b, 0) / n;
    const variance = w.reduce((a, b) => a + (b - mean) ** 2, 0) / n;
    expect(Math.abs(mean)).toBeLessThan((4 * bound) / Math.sqrt(3 * n));
    expect(variance / (bound * bound / 3)).toBeGreaterThan(0.8);
    expect(variance / (bound * bound / 3)).toBeLessThan(1.2);
    // not all equal signs
    expect(w.some((v) => v > 0) && w.some((v) => v < 0)).toBe(true);
    // bias
    const bMax = maxAbs(m.bias!);
    expect(bMax).toBeLessThanOrEqual(bound * (1 + 1e-6));
    expect(bMax).toBeGreaterThan(0);
    expect(new Set(m.bias!.data()).size).toBeGreaterThan(1);
  });
  it('two layers made after the same seed are identical; different seeds differ', () => {
    manualSeed(7);
    const a = new nn.Conv2d(3, 4, 3);
    manualSeed(7);
    const b = new nn.Conv2d(3, 4, 3);
    manualSeed(8);
    const c = new nn.Conv2d(3, 4, 3);
    expect(Array.from(a.weight.data())).toEqual(Array.from(b.weight.data()));
    expect(Array.from(a.weight.data())).not.toEqual(Array.from(c.weight.data()));
  });
});

describe('pooling modules: no parameters, channel count kept', () => {
  const x2 = () => randn([2, 5, 8, 12]);
  it('MaxPool2d(2) halves H and W', () => {
    const m = new nn.MaxPool2d(2);
    expect(m.parameters()).toEqual([]);
    expect([...m.forward(x2()).shape]).toEqual([2, 5, 4, 6]);
  });
  it('MaxPool2d(2) on odd sizes floors', () => {
    expect([...new nn.MaxPool2d(2).forward(randn([1, 3, 7, 9])).shape]).toEqual([1, 3, 3, 4]);
  });
  it('positional stride: new nn.MaxPool2d(3, 2)', () => {
    const m = new nn.MaxPool2d(3, 2);
    expect(m.parameters()).toEqual([]);
    expect(m.options.stride).toBe(2);
    // (8 − 3)/2 + 1 = 3, (12 − 3)/2 + 1 = 5
    expect([...m.forward(x2()).shape]).toEqual([2, 5, 3, 5]);
    // positional stride as an array
    expect([...new nn.MaxPool2d([3, 2], [1, 2]).forward(x2()).shape]).toEqual([2, 5, 6, 6]);
  });
  it('MaxPool2d with an options object (stride, padding, ceilMode)', () => {
    expect([...new nn.MaxPool2d(3, { stride: 2, padding: 1 }).forward(x2()).shape]).toEqual([2, 5, 4, 6]);
    expect([...new nn.MaxPool2d(2, { ceilMode: true }).forward(randn([1, 2, 7, 7])).shape]).toEqual([1, 2, 4, 4]);
  });
  it('AvgPool2d with countIncludePad false: border windows divide by the real count', () => {
    const m = new nn.AvgPool2d(3, { stride: 1, padding: 1, countIncludePad: false });
    expect(m.parameters()).toEqual([]);
    const ones = randn([1, 2, 4, 4]).mul(0).add(1);
    const y = m.forward(ones);
    expect([...y.shape]).toEqual([1, 2, 4, 4]);
    // all ones in → all ones out (padding not counted)
    for (const v of y.data()) expect(v).toBeCloseTo(1, 6);
    // with countIncludePad (default) the corner is 4/9
    const yi = new nn.AvgPool2d(3, { stride: 1, padding: 1 }).forward(ones);
    expect(yi.data()[0]).toBeCloseTo(4 / 9, 6);
  });
  it('AdaptiveAvgPool2d', () => {
    const m = new nn.AdaptiveAvgPool2d([3, 4]);
    expect(m.parameters()).toEqual([]);
    expect([...m.forward(x2()).shape]).toEqual([2, 5, 3, 4]);
    expect([...new nn.AdaptiveAvgPool2d(1).forward(x2()).shape]).toEqual([2, 5, 1, 1]);
  });
  it('GlobalAvgPool2d → [N, C, 1, 1] with the spatial mean', () => {
    const m = new nn.GlobalAvgPool2d();
    expect(m.parameters()).toEqual([]);
    const x = x2();
    const y = m.forward(x);
    expect([...y.shape]).toEqual([2, 5, 1, 1]);
    const xd = x.data(), yd = y.data();
    for (let p = 0; p < 10; p++) {
      let s = 0;
      for (let k = 0; k < 96; k++) s += xd[p * 96 + k];
      expect(yd[p]).toBeCloseTo(s / 96, 5);
    }
  });
  it('1-D pools', () => {
    const x = randn([3, 4, 11]);
    expect(new nn.MaxPool1d(2).parameters()).toEqual([]);
    expect([...new nn.MaxPool1d(2).forward(x).shape]).toEqual([3, 4, 5]);
    expect([...new nn.AvgPool1d(3, 2).forward(x).shape]).toEqual([3, 4, 5]);
    expect([...new nn.AvgPool1d(3, { stride: 2, padding: 1, ceilMode: true }).forward(x).shape]).toEqual([3, 4, 6]);
  });
  it('3-D pools', () => {
    const x = randn([2, 3, 4, 6, 8]);
    expect(new nn.MaxPool3d(2).parameters()).toEqual([]);
    expect([...new nn.MaxPool3d(2).forward(x).shape]).toEqual([2, 3, 2, 3, 4]);
    expect([...new nn.AvgPool3d([2, 3, 2]).forward(x).shape]).toEqual([2, 3, 2, 2, 4]);
    expect([...new nn.AvgPool3d(3, { stride: 2, padding: 1, countIncludePad: false }).forward(x).shape]).toEqual([2, 3, 2, 3, 4]);
  });
  it('MaxPool2d(2) picks the max of each 2×2 block; AvgPool2d(2) the mean', () => {
    const x = tensor([[[[1, 5, 2, 0], [3, 4, 8, 7], [0, 0, 1, 1], [9, 0, 1, 2]]]]);
    expect(new nn.MaxPool2d(2).forward(x).toArray()).toEqual([[[[5, 8], [9, 2]]]]);
    expect(new nn.AvgPool2d(2).forward(x).toArray()).toEqual([[[[13 / 4, 17 / 4], [9 / 4, 5 / 4]]]]);
  });
});

describe('a LeNet-sized stack, forward and backward on a batch of 16', () => {
  it('conv 1→6 5×5 pad 2, relu, maxpool 2, conv 6→16 5×5, relu, maxpool 2', () => {
    manualSeed(3);
    const net = new nn.Sequential(
      new nn.Conv2d(1, 6, 5, { padding: 2 }),
      new nn.ReLU(),
      new nn.MaxPool2d(2),
      new nn.Conv2d(6, 16, 5),
      new nn.ReLU(),
      new nn.MaxPool2d(2),
    );
    const x = randn([16, 1, 28, 28]).requiresGrad_();
    const y = net.forward(x);
    expect([...y.shape]).toEqual([16, 16, 5, 5]);
    for (const v of y.data()) expect(Number.isFinite(v) && v >= 0).toBe(true);
    y.mean().backward();
    const params = net.namedParameters();
    expect(params.map(([k, p]) => [k, [...p.shape]])).toEqual([
      ['0.weight', [6, 1, 5, 5]],
      ['0.bias', [6]],
      ['3.weight', [16, 6, 5, 5]],
      ['3.bias', [16]],
    ]);
    for (const [k, p] of params) {
      expect(p.grad, k).not.toBeNull();
      expect([...p.grad!.shape], k).toEqual([...p.shape]);
      const g = p.grad!.data();
      expect(g.every((v) => Number.isFinite(v)), `${k}.grad finite`).toBe(true);
      expect(g.some((v) => v !== 0), `${k}.grad non-zero`).toBe(true);
    }
    expect([...x.grad!.shape]).toEqual([16, 1, 28, 28]);
    expect(x.grad!.data().every((v) => Number.isFinite(v))).toBe(true);
  });
});

describe('models.LeNet()', () => {
  it('has 61,706 parameters and outputs [N, 10]', () => {
    const m = models.LeNet();
    const total = m.parameters().reduce((a, p) => a + p.numel, 0);
    expect(total).toBe(61706);
    // 156 + 2416 + 48120 + 10164 + 850
    expect(m.parameters().map((p) => p.numel)).toEqual([150, 6, 2400, 16, 48000, 120, 10080, 84, 840, 10]);
    for (const n of [1, 5]) expect([...m.forward(randn([n, 1, 28, 28])).shape]).toEqual([n, 10]);
  });
  it('classic variant has the same parameter count; numClasses changes the head', () => {
    expect(models.LeNet({ variant: 'classic' }).parameters().reduce((a, p) => a + p.numel, 0)).toBe(61706);
    const m = models.LeNet({ numClasses: 3 });
    expect([...m.forward(randn([2, 1, 28, 28])).shape]).toEqual([2, 3]);
  });
  it('backward through the full model gives finite gradients for every parameter', () => {
    manualSeed(5);
    const m = models.LeNet();
    const out = m.forward(randn([16, 1, 28, 28]));
    out.pow(2).mean().backward();
    for (const [k, p] of m.namedParameters()) {
      expect([...p.grad!.shape], k).toEqual([...p.shape]);
      expect(p.grad!.data().every((v) => Number.isFinite(v)), k).toBe(true);
    }
  });
});
