// nn.Module: child/parameter discovery and PyTorch state-dict keys (Sequential,
// custom subclasses, LeNet), train/eval, zeroGrad, loadStateDict (strict and
// not, shape checks that change nothing), summary(), toString(), BatchNorm2d
// buffers, Dropout, and the nn.init initialisers.
import { describe, it, expect } from 'vitest';
import { nn, models, tensor, zeros, manualSeed, tidy, memoryInfo, type Tensor } from '../../src';

const vals = (t: Tensor) => Array.from(t.data());

class Net extends nn.Module {
  fc1: nn.Linear;
  act: nn.ReLU;
  fc2: nn.Linear;
  constructor() {
    super();
    this.fc1 = new nn.Linear(4, 3);
    this.act = new nn.ReLU();
    this.fc2 = new nn.Linear(3, 2);
  }
  forward(x: Tensor): Tensor {
    return this.fc2.forward(this.act.forward(this.fc1.forward(x)));
  }
}

class Nested extends nn.Module {
  features: nn.Sequential;
  bn: nn.BatchNorm2d;
  head: Net;
  scale: Tensor;
  _cache: nn.Linear;
  constructor() {
    super();
    this.features = new nn.Sequential(new nn.Conv2d(1, 2, 3), new nn.ReLU());
    this.bn = new nn.BatchNorm2d(2);
    this.head = new Net();
    this.scale = nn.Parameter(tensor([1]));
    this._cache = new nn.Linear(1, 1); // private: not a child
  }
  forward(x: Tensor): Tensor {
    return this.head.forward(this.bn.forward(this.features.forward(x)).flatten(1).mul(this.scale));
  }
}

const LENET_KEYS = ['0.weight', '0.bias', '3.weight', '3.bias', '7.weight', '7.bias', '9.weight', '9.bias', '11.weight', '11.bias'];

describe('children, parameters and state-dict keys', () => {
  it("Sequential names its children '0', '1', …", () => {
    const s = new nn.Sequential(new nn.Linear(2, 3), new nn.ReLU(), new nn.Linear(3, 1));
    expect(s.namedChildren().map(([k]) => k)).toEqual(['0', '1', '2']);
    expect(s.length).toBe(3);
    expect(s[1]).toBeInstanceOf(nn.ReLU);
    expect([...s]).toEqual(s.children());
    expect(Object.keys(s.stateDict())).toEqual(['0.weight', '0.bias', '2.weight', '2.bias']);
  });

  it('Sequential rejects non-modules', () => {
    expect(() => new nn.Sequential(new nn.ReLU(), {} as nn.Module)).toThrow(TypeError);
  });

  it('a subclass with this.fc1 = new nn.Linear(…) gets fc1.weight, fc1.bias, …', () => {
    const net = new Net();
    expect(Object.keys(net.stateDict())).toEqual(['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias']);
    expect(net.namedParameters().map(([k]) => k)).toEqual(['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias']);
    expect(net.namedChildren().map(([k]) => k)).toEqual(['fc1', 'act', 'fc2']);
    expect(net.children()).toEqual([net.fc1, net.act, net.fc2]);
    expect(net.parameters()).toEqual([net.fc1.weight, net.fc1.bias, net.fc2.weight, net.fc2.bias]);
    expect(net.parameters().every((p) => p.requiresGrad && nn.isParameter(p))).toBe(true);
    expect(net.numParameters()).toBe(4 * 3 + 3 + 3 * 2 + 2);
    expect(net.stateDict()['fc1.weight']).toBe(net.fc1.weight);
  });

  it('nested modules get dotted keys; buffers are in the state dict; _private properties are ignored', () => {
    const m = new Nested();
    expect(m.namedChildren().map(([k]) => k)).toEqual(['features', 'bn', 'head']);
    expect(Object.keys(m.stateDict())).toEqual([
      'scale',
      'features.0.weight',
      'features.0.bias',
      'bn.weight',
      'bn.bias',
      'bn.running_mean',
      'bn.running_var',
      'bn.num_batches_tracked',
      'head.fc1.weight',
      'head.fc1.bias',
      'head.fc2.weight',
      'head.fc2.bias',
    ]);
    expect(m.namedParameters().map(([k]) => k)).not.toContain('bn.running_mean');
    expect(m.namedBuffers().map(([k]) => k)).toEqual(['bn.running_mean', 'bn.running_var', 'bn.num_batches_tracked']);
    expect(m.namedModules().map(([k]) => k)).toEqual(['', 'features', 'features.0', 'features.1', 'bn', 'head', 'head.fc1', 'head.act', 'head.fc2']);
    expect(m.parameters()).not.toContain(m._cache.weight);
  });

  it('a module used twice is counted once by parameters()', () => {
    const shared = new nn.Linear(2, 2);
    const s = new nn.Sequential(shared, new nn.ReLU(), shared);
    expect(s.parameters()).toHaveLength(2);
    expect(s.numParameters()).toBe(6);
  });

  it('models.LeNet(): PyTorch Sequential keys, shapes and 61,706 parameters', () => {
    const net = models.LeNet();
    const sd = net.stateDict();
    expect(Object.keys(sd)).toEqual(LENET_KEYS);
    expect(Object.fromEntries(Object.entries(sd).map(([k, t]) => [k, t.shape]))).toEqual({
      '0.weight': [6, 1, 5, 5],
      '0.bias': [6],
      '3.weight': [16, 6, 5, 5],
      '3.bias': [16],
      '7.weight': [120, 400],
      '7.bias': [120],
      '9.weight': [84, 120],
      '9.bias': [84],
      '11.weight': [10, 84],
      '11.bias': [10],
    });
    expect(net.numParameters()).toBe(61706);
    expect(net.numParameters(true)).toBe(61706);
    expect(net.parameters().reduce((a, p) => a + p.numel, 0)).toBe(61706);
    expect(net.children()).toHaveLength(12);
    expect(models.LeNet({ variant: 'classic' }).numParameters()).toBe(61706);
    expect(net.forward(zeros([2, 1, 28, 28])).shape).toEqual([2, 10]);
  });
});

describe('train / eval / zeroGrad', () => {
  it('train() and eval() set the flag on every descendant and return this', () => {
    const m = new Nested();
    const all = () => m.namedModules().map(([, x]) => x.training);
    expect(all().every((t) => t)).toBe(true);
    expect(m.eval()).toBe(m);
    expect(all().every((t) => !t)).toBe(true);
    expect(m.train()).toBe(m);
    expect(all().every((t) => t)).toBe(true);
    m.train(false);
    expect(all().every((t) => !t)).toBe(true);
    m.head.train();
    expect(m.training).toBe(false);
    expect(m.head.fc1.training).toBe(true);
    expect(m.bn.training).toBe(false);
  });

  it('zeroGrad() clears every parameter gradient', () => {
    const net = new Net();
    net.forward(tensor([[1, 2, 3, 4]])).sum().backward();
    expect(net.parameters().every((p) => p.grad !== null)).toBe(true);
    net.zeroGrad();
    expect(net.parameters().every((p) => p.grad === null)).toBe(true);
    // gradients start from zero again
    net.forward(tensor([[1, 2, 3, 4]])).sum().backward();
    const g1 = vals(net.fc2.bias!.grad!);
    expect(g1).toEqual([1, 1]);
  });
});

describe('loadStateDict', () => {
  it('copies the values (not the tensors) and round-trips a state dict', () => {
    const a = new Net(), b = new Net();
    const src = a.stateDict();
    const w = b.fc1.weight;
    const res = b.loadStateDict(src);
    expect(res).toEqual({ missingKeys: [], unexpectedKeys: [] });
    expect(b.fc1.weight).toBe(w); // same tensor object
    for (const [k, t] of Object.entries(b.stateDict())) expect(vals(t)).toEqual(vals(src[k]));
    // changing the source afterwards does not touch the loaded model
    a.fc1.weight.fill_(42);
    expect(vals(b.fc1.weight).includes(42)).toBe(false);
  });

  it('strict (default): missing and unexpected keys throw, listing them, and nothing is copied', () => {
    const a = new Net(), b = new Net();
    const before = vals(b.fc1.weight);
    const { ['fc2.bias']: _drop, ...partial } = a.stateDict();
    expect(() => b.loadStateDict(partial)).toThrow(/missing: fc2\.bias/);
    const extra = { ...a.stateDict(), 'fc3.weight': tensor([1]), extra: tensor([2]) };
    expect(() => b.loadStateDict(extra)).toThrow(/unexpected: fc3\.weight, extra/);
    const both = { ...partial, 'fc3.weight': tensor([1]) };
    let msg = '';
    try {
      b.loadStateDict(both, { strict: true });
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toMatch(/missing: fc2\.bias/);
    expect(msg).toMatch(/unexpected: fc3\.weight/);
    expect(vals(b.fc1.weight)).toEqual(before);
  });

  it('non-strict returns missing and unexpected keys and copies the rest', () => {
    const a = new Net(), b = new Net();
    const fc2bBefore = vals(b.fc2.bias!);
    const { ['fc2.bias']: _drop, ...partial } = a.stateDict();
    const res = b.loadStateDict({ ...partial, 'fc3.weight': tensor([1]) }, { strict: false });
    expect(res).toEqual({ missingKeys: ['fc2.bias'], unexpectedKeys: ['fc3.weight'] });
    expect(vals(b.fc1.weight)).toEqual(vals(a.fc1.weight));
    expect(vals(b.fc2.weight)).toEqual(vals(a.fc2.weight));
    expect(vals(b.fc2.bias!)).toEqual(fc2bBefore);
  });

  it('a shape mismatch throws (even non-strict) and changes nothing', () => {
    const a = new Net(), b = new Net();
    const before = Object.fromEntries(Object.entries(b.stateDict()).map(([k, t]) => [k, vals(t)]));
    // fc1.* come first and are fine; fc2.weight has the right numel but the wrong shape
    const bad = { ...a.stateDict(), 'fc2.weight': tensor(vals(a.fc2.weight), [3, 2]) };
    for (const strict of [true, false]) {
      expect(() => b.loadStateDict(bad, { strict })).toThrow(/size mismatch for fc2\.weight/);
      for (const [k, t] of Object.entries(b.stateDict())) expect(vals(t)).toEqual(before[k]);
    }
    const bad2 = { ...a.stateDict(), 'fc2.bias': tensor([1, 2, 3]) };
    expect(() => b.loadStateDict(bad2)).toThrow(/fc2\.bias/);
    for (const [k, t] of Object.entries(b.stateDict())) expect(vals(t)).toEqual(before[k]);
  });

  it('a non-tensor value or a non-object throws', () => {
    const a = new Net(), b = new Net();
    expect(() => b.loadStateDict({ ...a.stateDict(), 'fc1.bias': [1, 2, 3] as unknown as Tensor })).toThrow(TypeError);
    expect(() => b.loadStateDict(null as unknown as Record<string, Tensor>)).toThrow(TypeError);
  });

  it('loads BatchNorm buffers', () => {
    const a = new Nested(), b = new Nested();
    a.bn.forward(tensor(Array.from({ length: 2 * 2 * 3 * 3 }, (_, i) => i), [2, 2, 3, 3]));
    b.loadStateDict(a.stateDict());
    expect(vals(b.bn.runningMean!)).toEqual(vals(a.bn.runningMean!));
    expect(vals(b.bn.runningVar!)).toEqual(vals(a.bn.runningVar!));
    expect(b.bn.numBatchesTracked!.item()).toBe(1);
  });
});

describe('summary()', () => {
  const rowsOf = (s: string) =>
    s
      .split('\n')
      .filter((l) => /^\d+\s/.test(l))
      .map((l) => l.split(/\s{2,}/));

  it('LeNet: every layer with its output shape and parameter count, and the totals', () => {
    const net = models.LeNet();
    const s = net.summary([1, 1, 28, 28]);
    const rows = rowsOf(s);
    expect(rows.map((r) => r[0])).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '11']);
    expect(rows.map((r) => r[1])).toEqual(['Conv2d', 'ReLU', 'MaxPool2d', 'Conv2d', 'ReLU', 'MaxPool2d', 'Flatten', 'Linear', 'ReLU', 'Linear', 'ReLU', 'Linear']);
    expect(rows.map((r) => r[2])).toEqual([
      '[1, 6, 28, 28]',
      '[1, 6, 28, 28]',
      '[1, 6, 14, 14]',
      '[1, 16, 10, 10]',
      '[1, 16, 10, 10]',
      '[1, 16, 5, 5]',
      '[1, 400]',
      '[1, 120]',
      '[1, 120]',
      '[1, 84]',
      '[1, 84]',
      '[1, 10]',
    ]);
    expect(rows.map((r) => r[3])).toEqual(['156', '0', '0', '2,416', '0', '0', '0', '48,120', '0', '10,164', '0', '850']);
    for (const shape of ['[1, 6, 28, 28]', '[1, 6, 14, 14]', '[1, 16, 10, 10]', '[1, 16, 5, 5]', '[1, 400]', '[1, 120]', '[1, 84]', '[1, 10]'])
      expect(s).toContain(shape);
    expect(s).toContain('Total params: 61,706');
    expect(s).toContain('Trainable params: 61,706');
    expect(s).toContain('Non-trainable params: 0');
  });

  it('counts frozen parameters (requiresGrad false) as non-trainable', () => {
    const net = new Net();
    net.fc1.weight.requiresGrad_(false);
    expect(net.numParameters()).toBe(23);
    expect(net.numParameters(true)).toBe(11);
    const s = net.summary([2, 4]);
    expect(s).toContain('Total params: 23');
    expect(s).toContain('Trainable params: 11');
    expect(s).toContain('Non-trainable params: 12');
    expect(rowsOf(s)).toEqual([]); // no numeric leaf names in a named model
    expect(s).toMatch(/fc1\s+Linear\s+\[2, 3\]\s+15/);
    expect(s).toMatch(/fc2\s+Linear\s+\[2, 2\]\s+8/);
  });

  it('classic LeNet: sigmoid and average pooling rows have 0 params', () => {
    const rows = rowsOf(models.LeNet({ variant: 'classic' }).summary([1, 1, 28, 28]));
    for (const r of rows) if (r[1] === 'Sigmoid' || r[1] === 'AvgPool2d') expect(r[3]).toBe('0');
    expect(rows.filter((r) => r[1] === 'AvgPool2d').map((r) => r[2])).toEqual(['[1, 6, 14, 14]', '[1, 16, 5, 5]']);
  });

  it('does not change the model: training flags, parameters, BatchNorm statistics', () => {
    const m = new nn.Sequential(new nn.Conv2d(1, 2, 3), new nn.BatchNorm2d(2), new nn.ReLU(), new nn.Flatten(), new nn.Linear(8, 2));
    const before = Object.fromEntries(Object.entries(m.stateDict()).map(([k, t]) => [k, vals(t)]));
    m.summary([1, 1, 4, 4]);
    expect(m.namedModules().every(([, x]) => x.training)).toBe(true);
    for (const [k, t] of Object.entries(m.stateDict())) expect(vals(t)).toEqual(before[k]);
    // a model in eval mode stays in eval mode
    m.eval();
    m.summary([1, 1, 4, 4]);
    expect(m.namedModules().every(([, x]) => !x.training)).toBe(true);
  });

  it("keeps a submodule's own mode (e.g. a frozen BatchNorm in eval inside a training model)", () => {
    const m = new nn.Sequential(new nn.Conv2d(1, 2, 3), new nn.BatchNorm2d(2), new nn.ReLU());
    m.train();
    m[1].eval();
    m.summary([1, 1, 4, 4]);
    expect(m.training).toBe(true);
    expect(m[0].training).toBe(true);
    expect(m[1].training).toBe(false);
  });
});

describe('toString()', () => {
  it('prints LeNet as a PyTorch-style tree', () => {
    const s = models.LeNet().toString();
    const lines = s.split('\n');
    expect(lines[0]).toBe('Sequential(');
    expect(lines[lines.length - 1]).toBe(')');
    expect(lines).toHaveLength(14);
    expect(lines[1]).toMatch(/^ {2}\(0\): Conv2d\(1, 6, kernelSize=\[5, 5\], padding=2\)$/);
    expect(lines[2]).toBe('  (1): ReLU()');
    expect(lines[3]).toMatch(/^ {2}\(2\): MaxPool2d\(kernelSize=2/);
    expect(lines[8]).toBe('  (7): Linear(inFeatures=400, outFeatures=120, bias=true)');
    expect(lines[12]).toBe('  (11): Linear(inFeatures=84, outFeatures=10, bias=true)');
  });

  it('indents nested modules', () => {
    const s = new Nested().toString();
    expect(s.split('\n')).toEqual([
      'Nested(',
      '  (features): Sequential(',
      '    (0): Conv2d(1, 2, kernelSize=[3, 3])',
      '    (1): ReLU()',
      '  )',
      '  (bn): BatchNorm2d(2, eps=0.00001, momentum=0.1, affine=true, trackRunningStats=true)',
      '  (head): Net(',
      '    (fc1): Linear(inFeatures=4, outFeatures=3, bias=true)',
      '    (act): ReLU()',
      '    (fc2): Linear(inFeatures=3, outFeatures=2, bias=true)',
      '  )',
      ')',
    ]);
  });
});

describe('BatchNorm2d state', () => {
  it('has running_mean, running_var and num_batches_tracked buffers in its state dict', () => {
    const bn = new nn.BatchNorm2d(4);
    const sd = bn.stateDict();
    expect(Object.keys(sd)).toEqual(['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked']);
    expect(sd.running_mean.shape).toEqual([4]);
    expect(sd.running_var.shape).toEqual([4]);
    expect(sd.num_batches_tracked.shape).toEqual([]);
    expect(bn.parameters()).toEqual([bn.weight, bn.bias]);
    expect(sd.running_mean.requiresGrad).toBe(false);
    expect(bn.numParameters()).toBe(8);
  });
});

describe('Dropout', () => {
  const n = 200_000;
  it('is the identity in eval mode', () => {
    const d = new nn.Dropout(0.5).eval();
    const x = tensor(Array.from({ length: 100 }, (_, i) => i - 50));
    expect(vals(d.forward(x))).toEqual(vals(x));
  });

  for (const p of [0.2, 0.5, 0.8])
    it(`p = ${p} in train mode: zeroes about p of the elements, scales the rest by 1/(1−p)`, () => {
      manualSeed(1234);
      const d = new nn.Dropout(p);
      expect(d.training).toBe(true);
      const x = tensor(Array.from({ length: n }, (_, i) => 1 + (i % 7)));
      const y = vals(d.forward(x));
      const xs = vals(x);
      let zeros = 0, badScale = -1;
      for (let i = 0; i < n; i++) {
        if (y[i] === 0) zeros++;
        else if (badScale < 0 && !(Math.abs(y[i] - xs[i] / (1 - p)) <= 1e-6 * Math.abs(xs[i] / (1 - p)))) badScale = i;
      }
      expect(badScale, `element ${badScale}: ${y[badScale]} is not ${xs[badScale]}/(1-p)`).toBe(-1);
      const frac = zeros / n;
      const sd = Math.sqrt((p * (1 - p)) / n);
      expect(Math.abs(frac - p)).toBeLessThan(6 * sd);
      // and the expectation is preserved
      const meanRatio = y.reduce((a, v) => a + v, 0) / xs.reduce((a, v) => a + v, 0);
      expect(Math.abs(meanRatio - 1)).toBeLessThan(0.02);
    });

  it('p = 0 is the identity and p = 1 zeroes everything (train mode)', () => {
    const x = tensor([1, -2, 3]);
    expect(vals(new nn.Dropout(0).forward(x))).toEqual([1, -2, 3]);
    expect(vals(new nn.Dropout(1).forward(x)).every((v) => v === 0)).toBe(true);
  });

  it('the gradient is the same mask times 1/(1−p)', () => {
    manualSeed(7);
    const x = tensor(Array.from({ length: 1000 }, () => 1)).requiresGrad_();
    const y = new nn.Dropout(0.4).forward(x);
    y.sum().backward();
    expect(vals(x.grad!)).toEqual(vals(y));
  });

  it('a model with Dropout(0.5) trains: backward in train mode works and respects the mask', () => {
    manualSeed(8);
    const m = new nn.Sequential(new nn.Linear(6, 200), new nn.Dropout(0.5), new nn.Linear(200, 1));
    const h = m[0].forward(tensor([[1, 2, 3, 4, 5, 6]]));
    const loss = m.forward(tensor([[1, 2, 3, 4, 5, 6]])).sum();
    loss.backward();
    // rows of fc0's weight gradient are zero exactly where the unit was dropped
    const gb = vals((m[0] as nn.Linear).bias!.grad!);
    const dropped = gb.filter((v) => v === 0).length;
    expect(dropped).toBeGreaterThan(50);
    expect(dropped).toBeLessThan(150);
    expect(h.shape).toEqual([1, 200]);
  });

  it('forward/backward in train mode inside tidy does not leak native memory', () => {
    const x = tensor(Array.from({ length: 4096 }, (_, i) => i / 4096)).requiresGrad_();
    const d = new nn.Dropout(0.3);
    const iter = () =>
      tidy(() => {
        x.grad?.dispose();
        x.grad = null;
        d.forward(x).mul(2).sum().backward();
      });
    iter();
    const before = memoryInfo().liveBytes;
    for (let i = 0; i < 20; i++) iter();
    expect(memoryInfo().liveBytes).toBeLessThanOrEqual(before);
  });

  it('rejects p outside [0, 1]', () => {
    expect(() => new nn.Dropout(1.5)).toThrow(RangeError);
    expect(() => new nn.Dropout(-0.1)).toThrow(RangeError);
  });
});

describe('nn.init', () => {
  const stats = (t: Tensor) => {
    const v = vals(t);
    const mean = v.reduce((a, b) => a + b, 0) / v.length;
    const variance = v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length;
    return { v, mean, std: Math.sqrt(variance), min: Math.min(...v), max: Math.max(...v) };
  };
  const checkUniform = (t: Tensor, bound: number) => {
    const s = stats(t);
    expect(s.max).toBeLessThanOrEqual(bound);
    expect(s.min).toBeGreaterThanOrEqual(-bound);
    expect(s.max).toBeGreaterThan(0.98 * bound);
    expect(s.min).toBeLessThan(-0.98 * bound);
    expect(Math.abs(s.mean)).toBeLessThan(0.02 * bound);
    expect(s.std / (bound / Math.sqrt(3))).toBeCloseTo(1, 1);
  };

  it('fans and calculateGain', () => {
    expect(nn.init.fans(zeros([16, 8, 3, 3]))).toEqual({ fanIn: 72, fanOut: 144 });
    expect(nn.init.fans(zeros([10, 20]))).toEqual({ fanIn: 20, fanOut: 10 });
    expect(nn.init.calculateGain('relu')).toBeCloseTo(Math.SQRT2, 12);
    expect(nn.init.calculateGain('tanh')).toBeCloseTo(5 / 3, 12);
    expect(nn.init.calculateGain('leaky_relu', Math.sqrt(5))).toBeCloseTo(Math.sqrt(1 / 3), 12);
    expect(() => nn.init.fans(zeros([5]))).toThrow(/fan/);
  });

  it('kaimingUniform: U(−b, b), b = gain·√(3/fanIn), default a = 0 (gain √2)', () => {
    manualSeed(1);
    const t = zeros([256, 8, 3, 3]);
    nn.init.kaimingUniform(t);
    checkUniform(t, Math.sqrt(2) * Math.sqrt(3 / 72));
  });

  it('kaimingUniform with mode fanOut and nonlinearity relu', () => {
    manualSeed(2);
    const t = zeros([64, 512]);
    nn.init.kaimingUniform(t, { mode: 'fanOut', nonlinearity: 'relu' });
    checkUniform(t, Math.sqrt(2) * Math.sqrt(3 / 64));
  });

  it('kaimingNormal: N(0, 2/fanIn)', () => {
    manualSeed(3);
    const t = zeros([512, 128]);
    nn.init.kaimingNormal(t);
    const s = stats(t);
    const std = Math.sqrt(2 / 128);
    expect(Math.abs(s.mean)).toBeLessThan(0.01 * std);
    expect(s.std / std).toBeCloseTo(1, 2);
  });

  it('kaimingNormal fanOut with leaky_relu slope 0.2', () => {
    manualSeed(4);
    const t = zeros([32, 64, 5, 5]);
    nn.init.kaimingNormal(t, { mode: 'fanOut', a: 0.2 });
    const std = Math.sqrt(2 / (1 + 0.04)) / Math.sqrt(32 * 25);
    expect(stats(t).std / std).toBeCloseTo(1, 2);
  });

  it('xavierUniform: U(−b, b), b = gain·√(6/(fanIn+fanOut))', () => {
    manualSeed(5);
    const t = zeros([300, 200]);
    nn.init.xavierUniform(t);
    checkUniform(t, Math.sqrt(6 / 500));
    nn.init.xavierUniform(t, 2);
    checkUniform(t, 2 * Math.sqrt(6 / 500));
  });

  it('zeros, ones and constant', () => {
    const t = tensor([1, 2, 3, 4], [2, 2]);
    expect(nn.init.zeros(t)).toBe(t);
    expect(vals(t)).toEqual([0, 0, 0, 0]);
    nn.init.ones(t);
    expect(vals(t)).toEqual([1, 1, 1, 1]);
    nn.init.constant(t, 0.5);
    expect(vals(t)).toEqual([0.5, 0.5, 0.5, 0.5]);
  });

  it('initialisers work on parameters in place (same tensor, no graph recorded)', () => {
    const lin = new nn.Linear(50, 40);
    const w = lin.weight;
    nn.init.xavierUniform(lin.weight);
    expect(lin.weight).toBe(w);
    expect(w.isLeaf).toBe(true);
    expect(w.requiresGrad).toBe(true);
    nn.init.zeros(lin.bias!);
    expect(vals(lin.bias!).every((v) => v === 0)).toBe(true);
  });

  it("layers' default init: Linear and Conv2d weights and biases in ±1/√fanIn", () => {
    manualSeed(6);
    const lin = new nn.Linear(400, 300);
    checkUniform(lin.weight, 1 / Math.sqrt(400));
    const conv = new nn.Conv2d(16, 256, 3);
    checkUniform(conv.weight, 1 / Math.sqrt(16 * 9));
    const b = stats(conv.bias!);
    expect(b.max).toBeLessThanOrEqual(1 / 12);
    expect(b.min).toBeGreaterThanOrEqual(-1 / 12);
  });

  it('manualSeed makes initialisation reproducible', () => {
    manualSeed(99);
    const a = vals(new nn.Linear(10, 10).weight);
    manualSeed(99);
    const b = vals(new nn.Linear(10, 10).weight);
    expect(a).toEqual(b);
  });
});

describe('calling a module: model(x) is model.forward(x), as PyTorch', () => {
  it('Sequential, layers and subclasses are callable and give forward’s result', () => {
    manualSeed(5);
    const net = new Net();
    const x = tensor([[1, -2, 3, 0.5]]);
    expect(vals(net(x))).toEqual(vals(net.forward(x)));
    const seq = new nn.Sequential(new nn.Linear(4, 3), new nn.ReLU());
    expect(vals(seq(x))).toEqual(vals(seq.forward(x)));
    expect(vals(new nn.ReLU()(tensor([-1, 2])))).toEqual([0, 2]);
    const lenet = models.LeNet();
    expect(lenet(zeros(2, 1, 28, 28)).shape).toEqual([2, 10]);
  });

  it('a callable module is still a Module: instanceof, own properties, toString, util.inspect, state dict', async () => {
    const net = new Net();
    expect(net instanceof nn.Module && net instanceof Net).toBe(true);
    expect(typeof net).toBe('function');
    expect(Object.keys(net)).toEqual(['training', 'fc1', 'act', 'fc2']);
    expect(String(net)).toMatch(/^Net\(\n {2}\(fc1\): Linear\(inFeatures=4/);
    const { inspect } = await import('node:util');
    expect(inspect(net)).toBe(String(net));
    expect(Object.keys(net.stateDict())).toEqual(['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias']);
  });

  it("summary() sees calls made through model(x) (forward is looked up at call time)", () => {
    class Calls extends nn.Module {
      a = new nn.Linear(2, 3);
      b = new nn.Linear(3, 1);
      forward(x: Tensor): Tensor {
        return this.b(this.a(x));
      }
    }
    expect(new Calls().summary([1, 2])).toMatch(/a\s+Linear\s+\[1, 3\]\s+9\n.*b\s+Linear\s+\[1, 1\]\s+4/s);
  });

  it('errors name the class (not "function")', () => {
    expect(() => new nn.Sequential(new Net(), 3 as unknown as nn.Module)).toThrow(/Sequential: argument 1 is not a Module, got 3/);
    expect(() => tensor([1]).add(new Net() as unknown as Tensor)).toThrow(/got Net/);
  });
});

describe('modules(), apply(fn), to(device)', () => {
  // PyTorch 1.13: for l = Linear; Sequential(l, ReLU(), l) state_dict() keys are 0.weight 0.bias 2.weight 2.bias,
  // modules() are Sequential, Linear, ReLU and named_modules() '', '0', '1'
  it('modules() and namedModules() list a shared module once; stateDict() keeps it under each name, as PyTorch', () => {
    const l = new nn.Linear(2, 2);
    const m = new nn.Sequential(l, new nn.ReLU(), l);
    expect(m.modules().map((x) => x.constructor.name)).toEqual(['Sequential', 'Linear', 'ReLU']);
    expect(m.namedModules().map(([n]) => n)).toEqual(['', '0', '1']);
    expect(Object.keys(m.stateDict())).toEqual(['0.weight', '0.bias', '2.weight', '2.bias']);
    expect(m.parameters()).toHaveLength(2);
    expect(m.modules()[0]).toBe(m);
  });

  // PyTorch 1.13 apply order for Sequential(Linear, Sequential(ReLU, Linear), l, l): Linear ReLU Linear Sequential Linear Sequential
  it('apply(fn) visits children first, each module once, then the module itself, and returns it', () => {
    const l = new nn.Linear(1, 1);
    const net = new nn.Sequential(new nn.Linear(1, 1), new nn.Sequential(new nn.ReLU(), new nn.Linear(1, 1)), l, l);
    const order: string[] = [];
    expect(net.apply((m) => order.push(m.constructor.name))).toBe(net);
    expect(order).toEqual(['Linear', 'ReLU', 'Linear', 'Sequential', 'Linear', 'Sequential']);
    // the weight-init idiom
    net.apply((m) => {
      if (m instanceof nn.Linear) nn.init.constant(m.weight, 0.5);
    });
    for (const p of net.parameters().filter((p) => p.ndim === 2)) expect(vals(p)).toEqual([0.5]);
    expect(() => net.apply(3 as unknown as () => void)).toThrow(/Sequential\.apply: expected a function \(module\) => void, got 3/);
  });

  it("to('cpu') / to('float32') / to({ device, dtype }) / cpu() return the module; other devices and dtypes throw, naming them", () => {
    const net = new Net();
    expect(net.to('cpu')).toBe(net);
    expect(net.to('cpu:0', 'float32')).toBe(net);
    expect(net.to({ device: 'cpu', dtype: 'float32', nonBlocking: true })).toBe(net);
    expect(net.to(zeros(1))).toBe(net);
    expect(net.cpu()).toBe(net);
    expect(() => net.to('cuda')).toThrow("Net.to: blasnet runs on the CPU only (OpenBLAS); got device 'cuda'. Drop the .to('cuda') call or use .to('cpu')");
    expect(() => net.to('cuda:1')).toThrow(/got device 'cuda:1'/);
    expect(() => net.to('mps')).toThrow(/got device 'mps'/);
    expect(() => net.to('float64')).toThrow(/Net\.to: blasnet tensors are float32 on the CPU; got "float64"/);
    expect(() => net.to({ device: 'cuda' })).toThrow(/got device 'cuda'/);
    expect(() => net.to({ non_blocking: true } as never)).toThrow(/Net\.to: unknown option 'non_blocking' \(did you mean 'nonBlocking'/);
    expect(() => (net.to as () => unknown)()).toThrow(/Net\.to: expected a device or dtype/);
    expect(() => net.to(3 as never)).toThrow(/Net\.to: expected a device or dtype \('cpu', 'float32'\), got 3/);
    expect(() => net.cuda()).toThrow(/Net\.cuda: blasnet runs on the CPU only/);
  });

  it("Tensor.to('cpu') and cpu() return the tensor itself; cuda and other dtypes throw", () => {
    const t = tensor([1, 2]);
    expect(t.to('cpu')).toBe(t);
    expect(t.to('float32')).toBe(t);
    expect(t.cpu()).toBe(t);
    expect(() => t.to('cuda')).toThrow(/Tensor\.to: blasnet runs on the CPU only/);
    expect(() => t.to('int64')).toThrow(/Tensor\.to: blasnet tensors are float32 on the CPU; got "int64"/);
    expect(() => t.cuda()).toThrow(/Tensor\.cuda/);
  });
});
