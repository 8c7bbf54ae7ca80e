// Graph lifetime across tidy() and disposal: what a backward closure keeps (a
// loss target, a dropout mask, native scratch) lives exactly as long as the
// graph, and disposing a graph's tensors frees all of it without the GC.
import { describe, it, expect } from 'vitest';
import { tensor, tidy, noGrad, memoryInfo, manualSeed, rand, randn, nn, models, type Tensor } from '../../src';

const live = () => memoryInfo().liveBytes;

/** A small CNN that uses every kind of saved state: pool indices, batch-norm statistics, a dropout mask. */
function smallNet(): nn.Module {
  manualSeed(3);
  return new nn.Sequential(
    new nn.Conv2d(1, 4, 3, { padding: 1 }),
    new nn.BatchNorm2d(4),
    new nn.ReLU(),
    new nn.MaxPool2d(2),
    new nn.Flatten(),
    new nn.Dropout(0.25),
    new nn.Linear(4 * 4 * 4, 5),
  );
}

function gradsOf(m: nn.Module): number[][] {
  return m.parameters().map((p) => Array.from(p.grad!.data()));
}

describe('graph lifetime', () => {
  it('backward runs after the tidy() that built the graph returned the loss', () => {
    const x = tensor([1, 2, 3]).requiresGrad_();
    const loss = tidy(() => x.exp().mul(2).sum());
    loss.backward();
    expect(Array.from(x.grad!.data())).toEqual(Array.from([1, 2, 3].map((v) => Math.fround(2 * Math.fround(Math.exp(v))))));
  });

  it('disposing the indices of max(dim) does not break its backward', () => {
    const x = tensor([[1, 5, 2], [7, 0, 3]]).requiresGrad_();
    const { values, indices } = x.max(1);
    indices.dispose();
    values.sum().backward();
    expect(x.grad!.toArray()).toEqual([[0, 1, 0], [1, 0, 0]]);
  });

  it('a failed op allocates nothing', () => {
    const a = tensor([1, 2, 3]), b = tensor([[1, 2], [3, 4]]);
    const before = memoryInfo().liveBytes;
    for (const f of [() => a.add(b, 2), () => a.matmul(b), () => a.sub(b, 3)]) expect(f).toThrow(Error);
    expect(memoryInfo().liveBytes).toBe(before);
  });
});

describe('tidy(() => loss) then loss.backward(): what backward keeps survives tidy with the graph', () => {
  const x = keepT(() => randn([6, 1, 8, 8]));
  const y = keepT(() => tensor([0, 1, 2, 3, 4, 0]));
  function keepT(f: () => Tensor): Tensor {
    return f();
  }

  const cases: [string, (m: nn.Module) => Tensor][] = [
    ['crossEntropy (the target)', (m) => nn.functional.crossEntropy(m.forward(x), y)],
    ['crossEntropy with a number[] target', (m) => nn.functional.crossEntropy(m.forward(x), [0, 1, 2, 3, 4, 0])],
    ['crossEntropy with label smoothing', (m) => nn.functional.crossEntropy(m.forward(x), y, { labelSmoothing: 0.1 })],
    ['nllLoss (the target)', (m) => nn.functional.nllLoss(m.forward(x).logSoftmax(1), y)],
    ['functional dropout (the mask)', (m) => nn.functional.dropout(m.forward(x), 0.5).sum()],
  ];
  for (const [name, loss] of cases) {
    it(name, () => {
      // the same computation without tidy is the reference
      const ref = smallNet();
      manualSeed(11);
      const l0 = loss(ref);
      l0.backward();
      const want = gradsOf(ref);
      const m = smallNet();
      manualSeed(11);
      const l = tidy(() => loss(m));
      expect(() => l.backward()).not.toThrow();
      expect(l.item()).toBe(l0.item());
      expect(gradsOf(m)).toEqual(want);
      l.dispose();
      l0.dispose();
      ref.dispose();
      m.dispose();
    });
  }

  it('after backward and dispose, nothing of the graph is left: liveBytes returns to baseline without the GC', () => {
    const m = smallNet();
    // warm-up allocates the gradients once
    tidy(() => nn.functional.crossEntropy(m.forward(x), y)).backward();
    const before = live();
    for (let i = 0; i < 20; i++) {
      const l = tidy(() => nn.functional.crossEntropy(m.forward(x), y));
      l.backward();
      l.dispose();
    }
    expect(live()).toBe(before);
    m.dispose();
  });

  it('disposing the loss without backward frees its whole graph (activations, mask, target, pool indices)', () => {
    const m = smallNet();
    const before = live();
    for (let i = 0; i < 20; i++) tidy(() => nn.functional.crossEntropy(m.forward(x), y)).dispose();
    expect(live()).toBe(before);
    m.dispose();
  });

  it('nested tidy: the graph survives both scopes and frees once', () => {
    const m = smallNet();
    tidy(() => nn.functional.crossEntropy(m.forward(x), y)).backward();
    const before = live();
    const l = tidy(() => tidy(() => nn.functional.crossEntropy(m.forward(x), y)).mul(2));
    l.backward();
    l.dispose();
    expect(live()).toBe(before);
    m.dispose();
  });

  it('retainGraph: a second backward works after tidy, and disposing frees the graph', () => {
    const w = rand([4]).requiresGrad_();
    const before = live();
    const l = tidy(() => w.mul(3).relu().sum());
    l.backward(undefined, { retainGraph: true });
    l.backward();
    expect(Array.from(w.grad!.data())).toEqual([6, 6, 6, 6]);
    w.grad!.dispose();
    w.grad = null;
    l.dispose();
    expect(live()).toBe(before);
    w.dispose();
  });

  it('a 20,000-op chain handed to the graph frees iteratively (no stack overflow)', () => {
    const w = tensor([1]).requiresGrad_();
    const before = live();
    const l = tidy(() => {
      let h = w;
      for (let i = 0; i < 20_000; i++) h = h.add(1);
      return h;
    });
    l.dispose();
    expect(live()).toBe(before);
    w.dispose();
  });
});

describe('disposing a graph frees its native scratch (no noGrad, synchronous loop)', () => {
  it('an evaluation loop that forgets noGrad stays flat inside tidy (pool indices, softmax probabilities, BN statistics)', () => {
    const m = models.LeNet();
    const xb = randn([8, 1, 28, 28]);
    const yb = tensor([0, 1, 2, 3, 4, 5, 6, 7]);
    m.eval();
    tidy(() => nn.functional.crossEntropy(m.forward(xb), yb).item());
    const before = live();
    for (let i = 0; i < 50; i++) tidy(() => nn.functional.crossEntropy(m.forward(xb), yb).item());
    expect(live()).toBe(before);
    m.train();
    tidy(() => nn.functional.crossEntropy(smallNet().forward(randn([2, 1, 8, 8])), [0, 1]).item());
    const net = smallNet();
    const x8 = randn([2, 1, 8, 8]);
    tidy(() => nn.functional.crossEntropy(net.forward(x8), [0, 1]).item());
    const before2 = live();
    for (let i = 0; i < 50; i++) tidy(() => nn.functional.crossEntropy(net.forward(x8), [0, 1]).item());
    expect(live()).toBe(before2);
    for (const t of [xb, yb, x8]) t.dispose();
    m.dispose();
    net.dispose();
  });

  it('noGrad evaluation allocates nothing that outlives the step either', () => {
    const m = models.LeNet();
    const xb = randn([4, 1, 28, 28]);
    noGrad(() => tidy(() => m.forward(xb).sum().item()));
    const before = live();
    for (let i = 0; i < 20; i++) noGrad(() => tidy(() => m.forward(xb).sum().item()));
    expect(live()).toBe(before);
    xb.dispose();
    m.dispose();
  });

  it('backward through a disposed intermediate says so', () => {
    const w = tensor([1, 2]).requiresGrad_();
    const h = w.mul(2);
    const l = h.sum();
    h.dispose();
    expect(() => l.backward()).toThrow(/disposed.*MulBackward|MulBackward.*disposed/);
    l.dispose();
    w.dispose();
  });
});
