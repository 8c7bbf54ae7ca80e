// Spatial layers' arguments as PyTorch's (positional order, or an options object last) and every
// bad argument refused naming it; compiled plans: what they run is bitwise eager, what they cannot
// run is refused at session creation.
import { describe, it, expect } from 'vitest';
import { nn, tensor, zeros, randn, manualSeed, InferenceSession, type Tensor } from '../../src';
import { expectBitwise } from '../helpers';
import { native } from '../../src/native';

const F = nn.functional;

function throwsNaming(fn: () => unknown, ...fragments: (string | RegExp)[]): Error {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err, `expected an Error containing ${fragments.join(' / ')}`).toBeInstanceOf(Error);
  const msg = (err as Error).message;
  for (const f of fragments) {
    if (typeof f === 'string') expect(msg).toContain(f);
    else expect(msg).toMatch(f);
  }
  return err as Error;
}

describe('pool layers: PyTorch positional order or options', () => {
  it('MaxPool2d(kernel, stride, padding, dilation, returnIndices, ceilMode) equals the options form', () => {
    manualSeed(3);
    const x = randn([2, 3, 9, 8]);
    const pos = new nn.MaxPool2d(3, 2, 1, 2, true, true);
    const opt = new nn.MaxPool2d({ kernelSize: 3, stride: 2, padding: 1, dilation: 2, returnIndices: true, ceilMode: true });
    const mixed = new nn.MaxPool2d(3, 2, { padding: 1, dilation: 2, returnIndices: true, ceilMode: true });
    const [a, ia] = pos.forward(x) as unknown as [Tensor, Tensor];
    for (const m of [opt, mixed]) {
      const [b, ib] = m.forwardWithIndices(x);
      expectBitwise(a, b, 'values');
      expectBitwise(ia, ib, 'indices');
    }
    expect(pos.extraRepr()).toBe('kernelSize=3, stride=2, padding=1, dilation=2, ceilMode=true, returnIndices=true');
    // the functional order differs (ceilMode before returnIndices), as F.max_pool2d
    const [c, ic] = F.maxPool2d(x, 3, 2, 1, 2, true, true) as unknown as [Tensor, Tensor];
    expectBitwise(a, c, 'functional values');
    expectBitwise(ia, ic, 'functional indices');
  });
  it("GoogLeNet's MaxPool2d(3, 2, ceil_mode=True) on a 2×2 map pools the clipped window", () => {
    const y = new nn.MaxPool2d(3, 2, { ceilMode: true }).forward(tensor([[[[1, 4], [3, 2]]]]));
    expect(y.toArray()).toEqual([[[[4]]]]);
  });
  it('AvgPool2d(kernel, stride, padding, ceilMode, countIncludePad, divisorOverride) equals the options form', () => {
    manualSeed(4);
    const x = randn([1, 2, 7, 6]);
    const a = new nn.AvgPool2d(3, 2, 1, true, false, 4).forward(x);
    const b = F.avgPool2d(x, { kernelSize: 3, stride: 2, padding: 1, ceilMode: true, countIncludePad: false, divisorOverride: 4 });
    const c = F.avgPool2d(x, 3, 2, 1, true, false, 4);
    expectBitwise(a, b, 'layer vs options');
    expectBitwise(a, c, 'layer vs positional');
  });
  it('old forms keep working: MaxPool2d(2), MaxPool2d(2, 1), AvgPool2d(2, { padding: 1 })', () => {
    const x = randn([1, 1, 4, 4]);
    expect([...new nn.MaxPool2d(2).forward(x).shape]).toEqual([1, 1, 2, 2]);
    expect([...new nn.MaxPool2d(2, 1).forward(x).shape]).toEqual([1, 1, 3, 3]);
    expect([...new nn.AvgPool2d(2, { padding: 1 }).forward(x).shape]).toEqual([1, 1, 3, 3]);
  });
  it('too many positional arguments, wrong types, unknown or doubled keys throw naming the argument', () => {
    throwsNaming(() => new nn.MaxPool2d(2, 2, 0, 1, false, false, 7 as never), 'MaxPool2d', 'positional');
    throwsNaming(() => new nn.MaxPool2d(2, 'x' as never), 'MaxPool2d', 'stride');
    throwsNaming(() => new nn.MaxPool2d(2, 2, 0, 0), 'MaxPool2d', 'dilation');
    throwsNaming(() => new nn.MaxPool2d(2, 2, 0, 1, 'yes' as never), 'MaxPool2d', 'returnIndices');
    throwsNaming(() => new nn.MaxPool2d(2, 2, { stride: 1 }), 'MaxPool2d', 'stride', 'both');
    throwsNaming(() => new nn.MaxPool2d(2, { return_indices: true } as never), 'MaxPool2d', "'return_indices'", 'returnIndices');
    throwsNaming(() => new nn.AvgPool2d(2, { divisor_override: 2 } as never), 'AvgPool2d', 'divisorOverride');
    throwsNaming(() => new nn.AvgPool2d(2, 2, 0, false, true, 0), 'AvgPool2d', 'divisorOverride');
    throwsNaming(() => new nn.AvgPool1d(2, { divisorOverride: 2 } as never), 'AvgPool1d', "'divisorOverride'");
    throwsNaming(() => new nn.AvgPool1d(2, 2, 0, false, true, 3 as never), 'AvgPool1d', 'positional');
    throwsNaming(() => new nn.MaxPool3d([2, 2]), 'MaxPool3d', 'kernelSize');
    throwsNaming(() => new nn.AdaptiveAvgPool2d([2, 0]), 'AdaptiveAvgPool2d', 'outputSize');
    throwsNaming(() => new nn.AdaptiveAvgPool1d(2, 3 as never), 'AdaptiveAvgPool1d', 'one argument');
    throwsNaming(() => new nn.AdaptiveMaxPool2d(2, 'no' as never), 'AdaptiveMaxPool2d', 'returnIndices');
    throwsNaming(() => new nn.MaxUnpool2d(2, 2, 0, 1 as never), 'MaxUnpool2d', 'positional');
  });
  it('functional pools validate every argument', () => {
    const x = randn([1, 2, 6, 6]);
    throwsNaming(() => F.maxPool2d(x, { kernelSize: 2, dilation: 0 }), 'maxPool2d', 'dilation');
    throwsNaming(() => F.maxPool2d(x, { kernel_size: 2 } as never), 'maxPool2d', "'kernel_size'", 'kernelSize');
    throwsNaming(() => F.maxPool2d(x, 2, 2, 0, 1, false, false, 3 as never), 'maxPool2d', 'positional');
    throwsNaming(() => F.maxPool2d(x, 2, 2, 0, 1, 1 as never), 'maxPool2d', 'ceilMode');
    throwsNaming(() => F.avgPool2d(x, { kernelSize: 2, divisorOverride: 0 }), 'avgPool2d', 'divisorOverride');
    throwsNaming(() => F.avgPool2d(x, { kernelSize: 2, divisorOverride: 1.5 }), 'avgPool2d', 'divisorOverride');
    throwsNaming(() => F.avgPool2d(x, { kernelSize: 2, dilation: 2 } as never), 'avgPool2d', "'dilation'");
    throwsNaming(() => F.avgPool1d(randn([1, 2, 6]), { kernelSize: 2, divisorOverride: 2 } as never), 'avgPool1d', "'divisorOverride'");
    throwsNaming(() => F.adaptiveMaxPool2d(x, [2, 2], { return_indices: true } as never), 'adaptiveMaxPool2d', 'returnIndices');
    throwsNaming(() => F.adaptiveAvgPool3d(randn([1, 1, 2, 2, 2]), [1, 1]), 'adaptiveAvgPool3d', 'outputSize');
    throwsNaming(() => F.adaptiveAvgPool2d(x, 2, true as never), 'adaptiveAvgPool2d', 'more argument');
    throwsNaming(() => F.adaptiveMaxPool2d(x, 2, true, true as never), 'adaptiveMaxPool2d', 'positional');
    throwsNaming(() => F.globalAvgPool2d(x, 'no' as never), 'globalAvgPool2d', 'keepdim');
  });
  it('empty spatial dims give a RangeError (never a crash), an empty batch an empty output', () => {
    for (const [name, f] of [
      ['maxPool2d', () => F.maxPool2d(zeros([1, 1, 0, 1e6]), { kernelSize: 2, padding: 1 })],
      ['maxPool2d', () => F.maxPool2d(zeros([1, 1, 0, 2]), 2)],
      ['avgPool2d', () => F.avgPool2d(zeros([1, 0, 4, 4]), 2)],
      ['maxPool1d', () => F.maxPool1d(zeros([2, 0]), 1)],
      ['avgPool3d', () => F.avgPool3d(zeros([1, 1, 2, 0, 2]), 1)],
      ['adaptiveMaxPool2d', () => F.adaptiveMaxPool2d(zeros([1, 1, 0, 3]), 1)],
      ['adaptiveAvgPool1d', () => F.adaptiveAvgPool1d(zeros([1, 1, 0]), 1)],
    ] as const) {
      const e = throwsNaming(f, name, 'non-empty');
      expect(e).toBeInstanceOf(RangeError);
    }
    expect([...F.maxPool3d(zeros([0, 2, 4, 4, 4]), 2).shape]).toEqual([0, 2, 2, 2, 2]);
  });
  it('the native pool bindings re-check the geometry themselves (an Error, never out-of-bounds memory)', () => {
    const x = zeros([1, 1, 2, 2]);
    const h = x._h('test');
    const g = (o: number, k = 2, s = 2, p = 0) => [1, 1, 2, 2, 1, o, o, 1, k, k, 1, s, s, 0, p, p];
    expect(() => native.maxPoolForward(h, g(5))).toThrow(/output size is more than the input can produce/);
    expect(() => native.avgPoolForward(h, g(2, 1, 1, 1), true)).toThrow(/padding/);
    expect(() => native.maxPoolForward(h, [...g(1), 0, 1, 1])).toThrow(/dilation/);
    expect(() => native.avgPoolForward(h, [...g(1), 1, 2, 2], true)).toThrow(/no dilation/);
    expect(() => native.maxPoolForward(zeros([1, 1, 0, 2])._h('test'), [1, 1, 0, 2, 1, 1, 1, 1, 2, 2, 1, 2, 2, 0, 1, 1])).toThrow(/sizes must be >= 1/);
    expect(() => native.pad(h, [1, 1, 1, 5, 1, 1, 9], 0, 0, 2, 1, 0, false)).toThrow(/input has 4 elements, expected 5/);
    expect(() => native.pad(zeros([1, 1, 1, 4])._h('test'), [1, 1, 1, 4, 1, 1, 12], 0, 0, 4, 1, 0, false)).toThrow(/padding larger than the input allows/);
    // output sizes past one tensor's limit (2^31 - 1 elements) are refused before anything is allocated
    expect(() => native.pad(zeros([1, 1, 1, 4])._h('test'), [1, 1, 1, 4, 1, 1, 3e9], 0, 0, 0, 0, 0, false)).toThrow(/pad: the output is larger than one tensor may hold/);
    expect(() => native.adaptiveAvgPool(h, 1, 2, 2, 100000, 100000, false)).toThrow(/a tensor of 10000000000 elements is more than the 2147483647 one tensor may hold/);
  });
  it('an output past one tensor\'s limit is a RangeError naming the op, before any allocation (pad, adaptive pools)', () => {
    const x = zeros([1, 1, 2, 2]);
    expect(() => F.pad(x, [1e9, 1e9])).toThrow(/^pad: output \[1,1,2,2000000002\] has 4000000004 elements, more than 2147483647/);
    expect(() => F.pad(x, [3e4, 3e4, 3e4, 3e4], 'constant')).toThrow(RangeError);
    for (const f of [() => F.adaptiveAvgPool2d(x, [100000, 100000]), () => F.adaptiveMaxPool2d(x, [100000, 100000]), () => F.adaptiveAvgPool1d(zeros([1, 1, 2]), 3e9), () => F.adaptiveMaxPool3d(zeros([1, 1, 2, 2, 2]), 2000)])
      expect(f).toThrow(RangeError);
    expect(() => F.adaptiveAvgPool2d(x, [100000, 100000])).toThrow(/^adaptiveAvgPool2d: output \[1,1,100000,100000\]/);
  });
  it('adaptive max pools: null keeps a dim; returnIndices as argument or layer option', () => {
    const x = tensor([[[[1, 5, 2], [7, 3, 9]]]]);
    const [y, i] = new nn.AdaptiveMaxPool2d([1, null], true).forward(x) as unknown as [Tensor, Tensor];
    expect(y.toArray()).toEqual([[[[7, 5, 9]]]]);
    expect(i.toArray()).toEqual([[[[3, 1, 5]]]]);
    expect(F.adaptiveMaxPool2d(x, [null, 1]).toArray()).toEqual([[[[5], [9]]]]);
  });
  it('maxUnpool2d inverts maxPool2d at the maxima; bad indices are a RangeError', () => {
    const x = tensor([[[[1, 5, 2, 0], [3, 4, 8, 7], [0, 0, 1, 1], [9, 0, 1, 2]]]]);
    const [y, idx] = F.maxPool2d(x, { kernelSize: 2, returnIndices: true });
    expect(new nn.MaxUnpool2d(2).forward(y, idx).toArray()).toEqual([[[[0, 5, 0, 0], [0, 0, 8, 0], [0, 0, 0, 0], [9, 0, 0, 2]]]]);
    expect([...F.maxUnpool2d(y, idx, 2, 2, 0, [5, 5]).shape]).toEqual([1, 1, 5, 5]);
    throwsNaming(() => F.maxUnpool2d(y, tensor([[[[0, 1], [2, 16]]]]), 2), 'maxUnpool2d', 'invalid max index 16');
    throwsNaming(() => F.maxUnpool2d(y, tensor([[[[0, 1], [2, 1.5]]]]), 2), 'maxUnpool2d', 'invalid max index');
    throwsNaming(() => F.maxUnpool2d(y, idx, 2, 2, 0, [6, 4]), 'maxUnpool2d', 'outputSize');
    throwsNaming(() => F.maxUnpool2d(y, tensor([[[[0, 1]]]]), 2), 'maxUnpool2d', 'indices');
    throwsNaming(() => (new nn.MaxUnpool2d(2) as unknown as { forward(x: Tensor): Tensor }).forward(y), 'MaxUnpool2d', 'indices');
  });
});

describe('ConvTranspose and pad: arguments', () => {
  it('ConvTranspose2d(in, out, kernel, stride, padding, outputPadding, groups, bias, dilation, paddingMode)', () => {
    const m = new nn.ConvTranspose2d(4, 6, 3, 2, 1, 1, 2, false, 1, 'zeros');
    expect([m.stride, m.padding, m.outputPadding, m.groups, m.dilation, m.bias]).toEqual([[2, 2], [1, 1], [1, 1], 2, [1, 1], null]);
    expect([...m.weight.shape]).toEqual([4, 3, 3, 3]);
    expect([...m.forward(randn([1, 4, 5, 5])).shape]).toEqual([1, 6, 10, 10]);
    const o = new nn.ConvTranspose2d(4, 6, [3, 2], { stride: [2, 1], bias: false, groups: 2 });
    expect([...o.weight.shape]).toEqual([4, 3, 3, 2]);
    // forward(x, outputSize) picks the output padding, as PyTorch
    const k = new nn.ConvTranspose2d(2, 2, 3, 2, 1);
    const x = randn([1, 2, 4, 4]);
    expect([...k.forward(x).shape]).toEqual([1, 2, 7, 7]);
    expect([...k.forward(x, [8, 7]).shape]).toEqual([1, 2, 8, 7]);
    expectBitwise(k.forward(x, [1, 2, 8, 8]), F.convTranspose2d(x, k.weight, k.bias, { stride: 2, padding: 1, outputPadding: 1 }), 'outputSize');
    throwsNaming(() => k.forward(x, [9, 7]), 'ConvTranspose2d', 'output size', '7 to 8');
  });
  it('ConvTranspose layers and functionals refuse bad arguments naming them', () => {
    throwsNaming(() => new nn.ConvTranspose2d(2, 2, 3, 1, 0, 0, 1, true, 1, 'zeros', 5 as never), 'ConvTranspose2d', 'positional');
    throwsNaming(() => new nn.ConvTranspose2d(2, 2, 3, { padding_mode: 'zeros' } as never), 'ConvTranspose2d', 'paddingMode');
    throwsNaming(() => new nn.ConvTranspose2d(2, 2, 3, { paddingMode: 'reflect' as never }), 'ConvTranspose2d', "only paddingMode 'zeros'");
    throwsNaming(() => new nn.ConvTranspose2d(2, 2, 3, 2, 0, 2), 'ConvTranspose2d', 'outputPadding');
    throwsNaming(() => new nn.ConvTranspose2d(3, 2, 3, { groups: 2 }), 'ConvTranspose2d', 'groups');
    throwsNaming(() => new nn.ConvTranspose1d(2, 2, 3, 1, 0, 0, 1, 'yes' as never), 'ConvTranspose1d', 'bias');
    throwsNaming(() => new nn.ConvTranspose3d(2, 2, [3, 3]), 'ConvTranspose3d', 'kernelSize');
    const x = randn([1, 2, 4, 4]), w = randn([2, 3, 3, 3]);
    throwsNaming(() => F.convTranspose2d(x, w, null, 1, 0, 0, 1, 1, 9 as never), 'convTranspose2d', 'positional');
    throwsNaming(() => F.convTranspose2d(x, w, 2 as never), 'convTranspose2d', 'bias');
    throwsNaming(() => F.convTranspose2d(x, w, null, { output_padding: 1 } as never), 'convTranspose2d', 'outputPadding');
    throwsNaming(() => F.convTranspose2d(x, randn([3, 3, 3, 3])), 'convTranspose2d', 'channels');
    throwsNaming(() => F.convTranspose2d(x, w, null, { padding: 5 }), 'convTranspose2d', 'empty');
    throwsNaming(() => F.convTranspose2d(x, w, randn([2])), 'convTranspose2d', 'bias');
    // options in the place of the bias
    expect([...F.convTranspose2d(x, w, { stride: 2 } as never).shape]).toEqual([1, 3, 9, 9]);
  });
  it('Conv paddingMode: the four modes, and a bad one named', () => {
    for (const mode of ['zeros', 'reflect', 'replicate', 'circular'] as const) {
      const m = new nn.Conv2d(1, 1, 3, { padding: 1, paddingMode: mode });
      expect([...m.forward(randn([1, 1, 4, 4])).shape]).toEqual([1, 1, 4, 4]);
    }
    throwsNaming(() => new nn.Conv2d(1, 1, 3, { paddingMode: 'mirror' as never }), 'Conv2d', 'paddingMode');
    throwsNaming(() => new nn.Conv2d(1, 1, 3, { padding: 3, paddingMode: 'reflect' }).forward(randn([1, 1, 3, 3])), 'Conv2d', "paddingMode 'reflect'", 'smaller');
  });
  it('pad refuses what PyTorch refuses, naming it', () => {
    const x = randn([1, 2, 3, 4]);
    throwsNaming(() => F.pad(x, [1]), 'pad', 'pairs');
    throwsNaming(() => F.pad(x, [1, 1], 'mirror' as never), 'pad', 'mode');
    throwsNaming(() => F.pad(x, [1, 1, 1, 1, 1, 1, 1, 1]), 'pad', 'at most the last 3 dims');
    throwsNaming(() => F.pad(randn([3]), [1, 1, 1, 1]), 'pad', 'only 1');
    const x3 = randn([1, 2, 4]);
    throwsNaming(() => F.pad(x3, [4, 0], 'reflect'), 'pad', 'smaller');
    throwsNaming(() => F.pad(x3, [5, 0], 'circular'), 'pad', 'wrap');
    throwsNaming(() => F.pad(x, [1, 0], 'reflect'), 'pad', 'pads 1 dim of a 2-d or 3-d input');
    throwsNaming(() => F.pad(randn([2, 4]), [1, 1], 'circular'), 'pad', "'circular'", '[N, C');
    throwsNaming(() => F.pad(x3, [1, 1], 'reflect', 2), 'pad', 'takes no value');
    throwsNaming(() => F.pad(x, [-3, -2]), 'pad', 'crops more than');
    throwsNaming(() => F.pad(x, [-2, -2]), 'pad', 'at least 1');
    throwsNaming(() => F.pad(randn([1, 1, 2]), [2, -1], 'circular'), 'pad', 'after cropping');
    throwsNaming(() => F.pad(randn([1, 1, 5]), [1, 0], 'reflect').shape && F.avgPool3d(randn([1, 1, 1, 4, 4]), 2, 1, 1), 'avgPool3d', 'smaller than the kernel');
    throwsNaming(() => F.pad(x3, [1, 1], { mode: 'reflect', fill: 1 } as never), 'pad', "'fill'");
    throwsNaming(() => F.pad(x, [1.5, 1]), 'pad', 'integers');
    expect([...F.pad(x, [1, 1], { value: 3 }).shape]).toEqual([1, 2, 3, 6]);
  });
});

describe('compiled plans', () => {
  it('ceil-mode pools, countIncludePad false and AdaptiveAvgPool1d compile, bitwise equal to eager', () => {
    manualSeed(5);
    const a = new nn.Sequential(new nn.Conv2d(1, 4, 3, { padding: 1 }), new nn.ReLU(), new nn.MaxPool2d(3, 2, { ceilMode: true }), new nn.AvgPool2d(3, 2, 1, true, false), new nn.Flatten());
    const b = new nn.Sequential(new nn.Conv1d(2, 3, 3), new nn.AdaptiveAvgPool1d(2), new nn.Flatten());
    for (const [m, shape] of [[a, [1, 6, 6]], [b, [2, 9]]] as const) {
      m.eval();
      const s = new InferenceSession(m, { inputShape: [...shape] });
      const x = randn([3, ...shape]);
      expectBitwise(s.runSync(x), m.forward(x), 'plan vs eager');
      s.dispose();
    }
  });
  it('what plans cannot run yet is refused at session creation, naming the module and the kernel', () => {
    const cases: [nn.Module, number[], RegExp][] = [
      [new nn.Sequential(new nn.MaxPool2d(2, { returnIndices: true })), [1, 4, 4], /'0' \(MaxPool2d\).*returnIndices/],
    ];
    for (const [m, shape, msg] of cases) expect(() => new InferenceSession(m, { inputShape: shape })).toThrow(msg);
  });
});
