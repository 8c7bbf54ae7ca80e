// Bad inputs to convolution and pooling: each must throw an Error that names
// the op (never crash the process, never return garbage).
import { describe, it, expect } from 'vitest';
import { nn, tensor, zeros, randn, type Tensor } from '../../src';

const F = nn.functional;

/** Runs fn, which must throw an Error whose message contains `op` (and every extra fragment). */
function throwsNaming(fn: () => unknown, op: string, ...fragments: (string | RegExp)[]): Error {
  let err: unknown = null;
  let result: unknown;
  try {
    result = fn();
  } catch (e) {
    err = e;
  }
  if (err === null) throw new Error(`expected an Error naming ${op}, but it returned ${result instanceof Object ? `a ${result.constructor.name}${(result as Tensor).shape ? ` of shape [${(result as Tensor).shape.join(',')}]` : ''}` : String(result)}`);
  expect(err).toBeInstanceOf(Error);
  const msg = (err as Error).message;
  expect(msg, `message should name the op`).toContain(op);
  for (const f of fragments) {
    if (typeof f === 'string') expect(msg).toContain(f);
    else expect(msg).toMatch(f);
  }
  return err as Error;
}

const x4 = () => randn([2, 3, 8, 8]);
const w4 = (cin = 3, k = 3, cout = 4) => randn([cout, cin, k, k]);

describe('conv2d: bad shapes', () => {
  it('kernel larger than the padded input', () => {
    throwsNaming(() => F.conv2d(randn([1, 1, 4, 4]), randn([1, 1, 5, 5])), 'conv2d', /larger|kernel/);
    throwsNaming(() => F.conv2d(randn([1, 1, 4, 4]), randn([1, 1, 7, 7]), null, { padding: 1 }), 'conv2d', /larger|kernel/);
    // only one dim too small
    throwsNaming(() => F.conv2d(randn([1, 1, 10, 2]), randn([1, 1, 3, 3])), 'conv2d');
    // dilation makes the kernel too large: 3 taps at dilation 3 span 7
    throwsNaming(() => F.conv2d(randn([1, 1, 6, 6]), randn([1, 1, 3, 3]), null, { dilation: 3 }), 'conv2d', /dilat|larger/);
  });
  it('kernel exactly the padded input size is fine (1×1 output)', () => {
    expect([...F.conv2d(randn([1, 1, 3, 3]), randn([2, 1, 5, 5]), null, { padding: 1 }).shape]).toEqual([1, 2, 1, 1]);
  });
  it('channel count that disagrees with the weight', () => {
    const e = throwsNaming(() => F.conv2d(randn([4, 3, 28, 28]), randn([6, 1, 5, 5])), 'conv2d', 'channels');
    expect(e.message).toContain('3');
    expect(e.message).toContain('[6,1,5,5]');
    throwsNaming(() => F.conv1d(randn([2, 4, 10]), randn([3, 2, 3])), 'conv1d', 'channels');
    throwsNaming(() => F.conv3d(randn([1, 2, 4, 4, 4]), randn([3, 3, 2, 2, 2])), 'conv3d', 'channels');
    // with groups: weight expects C/groups per group
    throwsNaming(() => F.conv2d(randn([1, 4, 6, 6]), randn([4, 1, 3, 3]), null, { groups: 2 }), 'conv2d', 'channels');
  });
  it('groups that do not divide the channels', () => {
    throwsNaming(() => F.conv2d(randn([1, 3, 6, 6]), randn([4, 1, 3, 3]), null, { groups: 2 }), 'conv2d', 'groups');
    throwsNaming(() => F.conv2d(randn([1, 4, 6, 6]), randn([3, 2, 3, 3]), null, { groups: 2 }), 'conv2d', 'groups');
    throwsNaming(() => F.conv1d(randn([1, 6, 6]), randn([4, 2, 3]), null, { groups: 3 }), 'conv1d', 'groups');
  });
  it('groups zero, negative, fractional or not a number', () => {
    for (const g of [0, -1, 1.5, NaN, Infinity, '2'] as unknown[])
      throwsNaming(() => F.conv2d(x4(), w4(), null, { groups: g as number }), 'conv2d', 'groups');
  });
  it('wrong input rank', () => {
    throwsNaming(() => F.conv2d(randn([3, 8, 8]), w4()), 'conv2d', /4-d|shape/);
    throwsNaming(() => F.conv2d(randn([1, 2, 3, 8, 8]), w4()), 'conv2d');
    throwsNaming(() => F.conv2d(randn([8]), w4()), 'conv2d');
    throwsNaming(() => F.conv2d(tensor(1), w4()), 'conv2d');
    throwsNaming(() => F.conv1d(randn([2, 3, 8, 8]), randn([4, 3, 3])), 'conv1d');
    throwsNaming(() => F.conv3d(randn([2, 3, 8, 8]), randn([4, 3, 3, 3, 3])), 'conv3d');
  });
  it('wrong weight rank', () => {
    throwsNaming(() => F.conv2d(x4(), randn([4, 3, 3])), 'conv2d', 'weight');
    throwsNaming(() => F.conv2d(x4(), randn([4, 3, 3, 3, 3])), 'conv2d', 'weight');
    throwsNaming(() => F.conv1d(randn([2, 3, 8]), randn([4, 3, 3, 3])), 'conv1d', 'weight');
    throwsNaming(() => F.conv3d(randn([1, 3, 4, 4, 4]), randn([4, 3, 3, 3])), 'conv3d', 'weight');
  });
  it('weight with an empty kernel dimension', () => {
    throwsNaming(() => F.conv2d(x4(), zeros([4, 3, 0, 3])), 'conv2d');
  });
  it('bias of the wrong shape', () => {
    throwsNaming(() => F.conv2d(x4(), w4(), randn([5])), 'conv2d', 'bias');
    throwsNaming(() => F.conv2d(x4(), w4(), randn([4, 1])), 'conv2d', 'bias');
    throwsNaming(() => F.conv2d(x4(), w4(), tensor(1)), 'conv2d', 'bias');
    throwsNaming(() => F.conv1d(randn([2, 3, 8]), randn([4, 3, 3]), randn([3])), 'conv1d', 'bias');
  });
});

describe('conv2d: bad stride, dilation and padding', () => {
  it('zero, negative, fractional, NaN or non-numeric stride', () => {
    for (const s of [0, -1, 1.5, NaN, Infinity, '2', [1], [1, 0], [1, 2, 3], [1, 1.5]] as unknown[])
      throwsNaming(() => F.conv2d(x4(), w4(), null, { stride: s as number }), 'conv2d', 'stride');
  });
  it('zero, negative, fractional or non-numeric dilation', () => {
    for (const d of [0, -2, 0.5, NaN, 'x', [2], [1, 0]] as unknown[])
      throwsNaming(() => F.conv2d(x4(), w4(), null, { dilation: d as number }), 'conv2d', 'dilation');
  });
  it("padding 'same' with stride 2", () => {
    throwsNaming(() => F.conv2d(x4(), w4(), null, { padding: 'same', stride: 2 }), 'conv2d', 'same');
    throwsNaming(() => F.conv2d(x4(), w4(), null, { padding: 'same', stride: [1, 2] }), 'conv2d', 'same');
    throwsNaming(() => F.conv1d(randn([1, 3, 9]), randn([2, 3, 3]), null, { padding: 'same', stride: 3 }), 'conv1d', 'same');
  });
  it('negative padding', () => {
    throwsNaming(() => F.conv2d(x4(), w4(), null, { padding: -1 }), 'conv2d', 'padding');
    throwsNaming(() => F.conv2d(x4(), w4(), null, { padding: [1, -1] }), 'conv2d', 'padding');
    throwsNaming(() => F.conv2d(x4(), w4(), null, { padding: [0, 0, -1, 0] }), 'conv2d', 'padding');
  });
  it('fractional, unknown-string or wrong-length padding', () => {
    throwsNaming(() => F.conv2d(x4(), w4(), null, { padding: 0.5 }), 'conv2d', 'padding');
    throwsNaming(() => F.conv2d(x4(), w4(), null, { padding: 'full' as 'same' }), 'conv2d', 'padding');
    throwsNaming(() => F.conv2d(x4(), w4(), null, { padding: [1, 1, 1] }), 'conv2d', 'padding');
    throwsNaming(() => F.conv1d(randn([1, 3, 9]), randn([2, 3, 3]), null, { padding: [1, 1] }), 'conv1d', 'padding');
  });
  it('options that are not an object', () => {
    throwsNaming(() => F.conv2d(x4(), w4(), null, 3 as unknown as nn.functional.ConvOptions), 'conv2d');
    throwsNaming(() => F.conv2d(x4(), w4(), null, 'same' as unknown as nn.functional.ConvOptions), 'conv2d');
  });
});

describe('conv: non-tensor and disposed arguments', () => {
  it('non-tensor input, weight or bias', () => {
    throwsNaming(() => F.conv2d([[[[1]]]] as unknown as Tensor, w4()), 'conv2d', 'input');
    throwsNaming(() => F.conv2d(null as unknown as Tensor, w4()), 'conv2d', 'input');
    throwsNaming(() => F.conv2d(undefined as unknown as Tensor, w4()), 'conv2d', 'input');
    throwsNaming(() => F.conv2d(x4(), new Float32Array(108) as unknown as Tensor), 'conv2d', 'weight');
    throwsNaming(() => F.conv2d(x4(), {} as unknown as Tensor), 'conv2d', 'weight');
    throwsNaming(() => F.conv2d(x4(), w4(), [0, 0, 0, 0] as unknown as Tensor), 'conv2d', 'bias');
    throwsNaming(() => F.conv2d(x4(), w4(), 1 as unknown as Tensor), 'conv2d', 'bias');
    throwsNaming(() => F.conv1d('x' as unknown as Tensor, randn([1, 1, 1])), 'conv1d');
    throwsNaming(() => F.conv3d(randn([1, 1, 2, 2, 2]), 5 as unknown as Tensor), 'conv3d');
  });
  it('disposed input, weight or bias', () => {
    const x = x4(), w = w4(), b = randn([4]);
    x.dispose();
    throwsNaming(() => F.conv2d(x, w, b), 'conv2d', 'disposed');
    const x2 = x4();
    w.dispose();
    throwsNaming(() => F.conv2d(x2, w, b), 'conv2d', 'disposed');
    b.dispose();
    throwsNaming(() => F.conv2d(x2, w4(), b), 'conv2d', 'disposed');
  });
  it('input disposed between forward and backward', () => {
    const x = x4().requiresGrad_(), w = w4().requiresGrad_();
    const y = F.conv2d(x, w, null, { padding: 1 });
    x.dispose();
    throwsNaming(() => y.backward(randn([...y.shape])), 'conv2d', 'disposed');
  });
  it('module given a non-tensor or wrong-channel input', () => {
    const m = new nn.Conv2d(1, 6, 5);
    throwsNaming(() => m.forward([1, 2, 3] as unknown as Tensor), 'conv2d');
    throwsNaming(() => m.forward(randn([2, 3, 28, 28])), 'conv2d', 'channels');
  });
  it('conv module constructors reject bad arguments', () => {
    throwsNaming(() => new nn.Conv2d(3, 4, 3, { groups: 2 }), 'Conv2d', 'groups');
    throwsNaming(() => new nn.Conv2d(0, 4, 3), 'Conv2d');
    throwsNaming(() => new nn.Conv2d(3, 4, 0), 'Conv2d');
    throwsNaming(() => new nn.Conv2d(3, 4, [3]), 'Conv2d');
    throwsNaming(() => new nn.Conv1d(3, 4, 2.5), 'Conv1d');
    throwsNaming(() => new nn.Conv3d(3, 4, [3, 3]), 'Conv3d');
  });
  it('an empty batch gives an empty output or an Error naming the op, never a crash', () => {
    for (const [op, run, outShape] of [
      ['conv2d', () => F.conv2d(zeros([0, 3, 8, 8]), w4(), randn([4])), [0, 4, 6, 6]],
      ['maxPool2d', () => F.maxPool2d(zeros([0, 3, 8, 8]), { kernelSize: 2 }), [0, 3, 4, 4]],
      ['avgPool2d', () => F.avgPool2d(zeros([0, 3, 8, 8]), { kernelSize: 2 }), [0, 3, 4, 4]],
    ] as [string, () => Tensor, number[]][]) {
      let y: Tensor | null = null;
      try {
        y = run();
      } catch (e) {
        expect(e).toBeInstanceOf(Error);
        expect((e as Error).message).toContain(op);
      }
      if (y) {
        expect([...y.shape], op).toEqual(outShape);
        expect(y.data().length).toBe(0);
      }
    }
  });
  it('the process survives all of the above and still computes', () => {
    const y = F.conv2d(tensor([[[[1, 2], [3, 4]]]]), tensor([[[[1, 1], [1, 1]]]]));
    expect(y.toArray()).toEqual([[[[10]]]]);
  });
});

describe('pools: bad arguments', () => {
  const x = () => randn([2, 3, 8, 8]);
  const pools2d: [string, (x: Tensor, o: nn.functional.PoolOptions) => Tensor][] = [
    ['maxPool2d', F.maxPool2d],
    ['avgPool2d', F.avgPool2d],
  ];
  it.each(pools2d)('%s: padding more than half the kernel', (op, fn) => {
    throwsNaming(() => fn(x(), { kernelSize: 2, padding: 2 }), op, 'padding');
    throwsNaming(() => fn(x(), { kernelSize: 3, padding: 2 }), op, 'padding');
    throwsNaming(() => fn(x(), { kernelSize: [3, 4], padding: [1, 3] }), op, 'padding');
    // exactly half is allowed
    expect([...fn(x(), { kernelSize: 2, padding: 1 }).shape]).toEqual([2, 3, 5, 5]);
  });
  it.each(pools2d)('%s: kernel larger than the input', (op, fn) => {
    throwsNaming(() => fn(randn([1, 1, 3, 3]), { kernelSize: 5 }), op);
    // ceil mode pools the window clipped to the input, as PyTorch (GoogLeNet's MaxPool2d(3, 2, ceil_mode=True) on 2×2)
    expect([...fn(randn([1, 1, 3, 3]), { kernelSize: 5, ceilMode: true }).shape]).toEqual([1, 1, 1, 1]);
    throwsNaming(() => fn(randn([1, 1, 8, 3]), { kernelSize: [2, 4] }), op);
    throwsNaming(() => fn(randn([1, 1, 3, 3]), { kernelSize: 6, padding: 1 }), op);
  });
  it.each(pools2d)('%s: zero, negative or fractional kernel / stride, negative padding', (op, fn) => {
    for (const k of [0, -1, 1.5, NaN, [2], [2, 0], '2'] as unknown[]) throwsNaming(() => fn(x(), { kernelSize: k as number }), op, 'kernelSize');
    for (const s of [0, -2, 0.5, [1, 0], [1]] as unknown[]) throwsNaming(() => fn(x(), { kernelSize: 2, stride: s as number }), op, 'stride');
    for (const p of [-1, 0.5, [0, -1]] as unknown[]) throwsNaming(() => fn(x(), { kernelSize: 3, padding: p as number }), op, 'padding');
  });
  it.each(pools2d)('%s: missing options, wrong rank, non-tensor and disposed input', (op, fn) => {
    throwsNaming(() => fn(x(), undefined as unknown as nn.functional.PoolOptions), op);
    throwsNaming(() => fn(x(), {} as nn.functional.PoolOptions), op, 'kernelSize');
    throwsNaming(() => fn(randn([8, 8]), { kernelSize: 2 }), op, /shape|d input/);
    throwsNaming(() => fn(randn([1, 2, 3, 8, 8]), { kernelSize: 2 }), op);
    throwsNaming(() => fn([[1, 2], [3, 4]] as unknown as Tensor, { kernelSize: 2 }), op, 'input');
    throwsNaming(() => fn(null as unknown as Tensor, { kernelSize: 2 }), op, 'input');
    const d = x();
    d.dispose();
    throwsNaming(() => fn(d, { kernelSize: 2 }), op, 'disposed');
  });
  it('1-D and 3-D pools validate too', () => {
    throwsNaming(() => F.maxPool1d(randn([2, 3, 4]), { kernelSize: 5 }), 'maxPool1d');
    throwsNaming(() => F.avgPool1d(randn([2, 3, 8]), { kernelSize: 2, padding: 2 }), 'avgPool1d', 'padding');
    throwsNaming(() => F.maxPool1d(randn([8]), { kernelSize: 2 }), 'maxPool1d');
    throwsNaming(() => F.maxPool3d(randn([1, 1, 4, 4]), { kernelSize: 2 }), 'maxPool3d');
    throwsNaming(() => F.avgPool3d(randn([1, 1, 1, 4, 4]), { kernelSize: 2 }), 'avgPool3d');
    throwsNaming(() => F.maxPool3d(randn([1, 1, 4, 4, 4]), { kernelSize: [2, 2] }), 'maxPool3d', 'kernelSize');
  });
  it('adaptiveAvgPool2d: bad output size, rank, non-tensor and disposed input', () => {
    for (const o of [0, -1, 1.5, [2], [2, 0], 'x', [null, 0]] as unknown[])
      throwsNaming(() => F.adaptiveAvgPool2d(x(), o as number), 'adaptiveAvgPool2d', 'outputSize');
    throwsNaming(() => F.adaptiveAvgPool2d(randn([8, 8]), 2), 'adaptiveAvgPool2d');
    throwsNaming(() => F.adaptiveAvgPool2d(randn([1, 1, 1, 8, 8]), 2), 'adaptiveAvgPool2d');
    throwsNaming(() => F.adaptiveAvgPool2d(zeros([1, 1, 0, 4]), 2), 'adaptiveAvgPool2d');
    throwsNaming(() => F.adaptiveAvgPool2d({} as Tensor, 2), 'adaptiveAvgPool2d', 'input');
    const d = x();
    d.dispose();
    throwsNaming(() => F.adaptiveAvgPool2d(d, 2), 'adaptiveAvgPool2d', 'disposed');
    throwsNaming(() => F.globalAvgPool2d(d), 'adaptiveAvgPool2d', 'disposed');
  });
  it('pool modules report the functional op name', () => {
    throwsNaming(() => new nn.MaxPool2d(5).forward(randn([1, 1, 3, 3])), 'maxPool2d');
    throwsNaming(() => new nn.AvgPool2d(2, { padding: 2 }).forward(randn([1, 1, 8, 8])), 'avgPool2d', 'padding');
    // a bad constructor argument is caught at construction, naming the layer
    throwsNaming(() => new nn.AdaptiveAvgPool2d(0), 'AdaptiveAvgPool2d', 'outputSize');
    throwsNaming(() => new nn.AdaptiveAvgPool2d(2).forward(randn([1, 1, 0, 4])), 'adaptiveAvgPool2d');
  });
});
