// Indexing and joining: select, narrow, slice, index (PyTorch's x[…] with
// slices, None, ellipsis and advanced index tensors), indexSelect, gather,
// where, cat, stack, split, chunk, unbind, viewAs, size, and max/argmax
// indices used as indices. Values and every gradient against PyTorch 1.13
// (test/fixtures/index_ref.json, gen_index.py); large tensors against naive
// loops; the dtype story (float32 indices checked exactly); error messages;
// memory (temporaries and saved index copies are freed).
import { describe, it, expect } from 'vitest';
import {
  tensor, zeros, arange, rand, randn, tidy, memoryInfo, nn, noGrad,
  cat, stack, split, chunk, unbind, where, gather, indexSelect, select, narrow, index, type Tensor, type IndexSpec,
} from '../../src';
import { expectAllClose, fixture, makeRng, randArray } from '../helpers';

interface Enc { shape: number[]; data: (number | 'nan')[] }
interface Case { op: string; args: any[]; inputs: Enc[]; out: Enc[]; upstream: Enc[]; grads: (Enc | null)[] }
const REF = fixture('index_ref.json') as { cases: Case[] };

const num = (v: number | 'nan') => (v === 'nan' ? NaN : v);
const mk = (e: Enc) => tensor(Float32Array.from(e.data.map(num)), e.shape);
/** A fixture index spec: {"t": nested} → a float32 tensor of integers. */
const spec = (s: any): IndexSpec => (s !== null && typeof s === 'object' ? tensor(s.t) : s);

function apply(c: Case, xs: Tensor[]): Tensor[] {
  const [x] = xs;
  const a = c.args;
  switch (c.op) {
    case 'select': return [x.select(a[0], a[1])];
    case 'narrow': return [x.narrow(a[0], a[1], a[2])];
    case 'slice': return [x.slice(a[0], a[1], a[2], a[3])];
    case 'index': return [x.index(...a.map(spec))];
    case 'indexSelect': return [x.indexSelect(a[0], spec(a[1]) as Tensor)];
    case 'gather': return [x.gather(a[0], spec(a[1]) as Tensor)];
    case 'where':
      if (a[0] === 'tt') return [where(xs[0], xs[1], xs[2])];
      if (a[0] === 'tn') return [where(xs[0], xs[1], a[1])];
      return [where(xs[0], a[1], xs[1])];
    case 'cat': return [cat(xs, a[0])];
    case 'stack': return [stack(xs, a[0])];
    case 'split': return x.split(a[0], a[1]);
    case 'chunk': return x.chunk(a[0], a[1]);
    case 'unbind': return x.unbind(a[0]);
    case 'max': return [x.max()];
    case 'maxDim': return [x.max(a[0], a[1]).values];
    case 'viewAs': return [x.viewAs(zeros(a[0]))];
    case 'argmax': return [a[0] === null ? x.argmax() : x.argmax(a[0])];
    case 'maxIndices': return [x.max(a[0]).indices];
    default: throw new Error(`unknown op ${c.op}`);
  }
}

describe('values and gradients match PyTorch 1.13', () => {
  REF.cases.forEach((c, n) =>
    it(`#${n} ${c.op}(${JSON.stringify(c.args)}) on ${c.inputs.map((i) => `[${i.shape}]`).join(', ')}`, () => {
      const differentiable = c.upstream.length > 0;
      const xs = c.inputs.map((e, i) => {
        const t = mk(e);
        return differentiable && !(c.op === 'where' && i === 0) ? t.requiresGrad_() : t;
      });
      const outs = apply(c, xs);
      expect(outs.map((o) => o.shape)).toEqual(c.out.map((o) => o.shape));
      outs.forEach((o, k) => expectAllClose(Array.from(o.data()), c.out[k].data.map(num), 0, 0, `output ${k}`));
      if (!differentiable) return;
      let loss: Tensor | null = null;
      outs.forEach((o, k) => {
        if (o.numel === 0) return;
        const l = o.mul(mk(c.upstream[k])).sum();
        loss = loss ? loss.add(l) : l;
      });
      if (loss) (loss as Tensor).backward();
      c.grads.forEach((g, i) => {
        if (g === null) {
          expect(xs[i].grad, `grad ${i}`).toBeNull();
          return;
        }
        const mine = xs[i].grad ? Array.from(xs[i].grad!.data()) : new Array(g.data.length).fill(0);
        if (xs[i].grad) expect(xs[i].grad!.shape).toEqual(g.shape);
        expectAllClose(mine, g.data.map(num), 1e-6, 1e-6, `grad of input ${i}`);
      });
    }),
  );
});

describe('large tensors against naive loops', () => {
  const r = makeRng(7);
  it('cat along dim 1 of [64, 3000] and [64, 1000], and its backward', () => {
    const a = tensor(randArray(r, 64 * 3000), [64, 3000]).requiresGrad_(), b = tensor(randArray(r, 64 * 1000), [64, 1000]).requiresGrad_();
    const y = cat([a, b], 1);
    const av = a.data(), bv = b.data(), yv = y.data();
    let bad = -1;
    for (let i = 0; i < 64 && bad < 0; i++) {
      for (let j = 0; j < 3000; j++) if (yv[i * 4000 + j] !== av[i * 3000 + j]) bad = i;
      for (let j = 0; j < 1000; j++) if (yv[i * 4000 + 3000 + j] !== bv[i * 1000 + j]) bad = i;
    }
    expect(bad).toBe(-1);
    const w = tensor(randArray(r, y.numel), y.shape);
    y.mul(w).sum().backward();
    const wv = w.data(), ga = a.grad!.data(), gb = b.grad!.data();
    for (const [i, j] of [[0, 0], [63, 2999], [17, 1234]]) expect(ga[i * 3000 + j]).toBe(wv[i * 4000 + j]);
    for (const [i, j] of [[0, 0], [63, 999], [40, 512]]) expect(gb[i * 1000 + j]).toBe(wv[i * 4000 + 3000 + j]);
  });

  it('gather along dim 1 of [2048, 1000] with repeated indices, and the scatter-add backward', () => {
    const N = 2048, C = 1000, K = 7;
    const x = tensor(randArray(r, N * C), [N, C]).requiresGrad_();
    const idx = new Float32Array(N * K);
    for (let i = 0; i < idx.length; i++) idx[i] = Math.floor(r() * C) % 5 === 0 ? 3 : Math.floor(r() * C);
    const y = x.gather(1, tensor(idx, [N, K]));
    const xv = x.data(), yv = y.data();
    for (let i = 0; i < N; i++) for (let k = 0; k < K; k++) if (yv[i * K + k] !== xv[i * C + idx[i * K + k]]) throw new Error(`gather [${i},${k}]`);
    y.sum().backward();
    const want = new Float32Array(N * C);
    for (let i = 0; i < N * K; i++) want[Math.floor(i / K) * C + idx[i]] += 1;
    const got = x.grad!.data();
    let bad = -1;
    for (let i = 0; i < want.length && bad < 0; i++) if (got[i] !== want[i]) bad = i;
    expect(bad).toBe(-1);
  });

  it('where on [512, 4096] with a broadcast [512, 1] condition', () => {
    const a = tensor(randArray(r, 512 * 4096), [512, 4096]), b = tensor(randArray(r, 4096), [4096]);
    const cv = Float32Array.from({ length: 512 }, () => (r() < 0.5 ? 1 : 0));
    const y = where(tensor(cv, [512, 1]), a, b);
    const av = a.data(), bv = b.data(), yv = y.data();
    for (let i = 0; i < 512; i++) for (let j = 0; j < 4096; j += 97) expect(yv[i * 4096 + j]).toBe(cv[i] ? av[i * 4096 + j] : bv[j]);
  });

  it('split / chunk / unbind pieces cat back to the source, on random shapes and dims', () => {
    for (let trial = 0; trial < 30; trial++) {
      const nd = 1 + Math.floor(r() * 4);
      const shape = Array.from({ length: nd }, () => 1 + Math.floor(r() * 5));
      const x = tensor(randArray(r, shape.reduce((p, q) => p * q, 1)), shape);
      const d = Math.floor(r() * nd);
      const s = 1 + Math.floor(r() * shape[d]);
      expect(Array.from(cat(x.split(s, d), d).data())).toEqual(Array.from(x.data()));
      expect(Array.from(cat(x.chunk(1 + Math.floor(r() * 4), d), d).data())).toEqual(Array.from(x.data()));
      expect(Array.from(stack(x.unbind(d), d).data())).toEqual(Array.from(x.data()));
    }
  });
});

describe('the dtype story: float32 indices, checked exactly', () => {
  it('argmax and max indices are float32 integers that eq compares with labels and that index directly', () => {
    const logits = tensor([[0.1, 2, -1], [3, 0, 0], [0, 0, 5], [1, 1, 0.5]]);
    const y = tensor([1, 0, 1, 1]);
    const pred = logits.argmax(1);
    expect(pred.dtype).toBe('float32');
    expect(Array.from(pred.data())).toEqual([1, 0, 2, 0]); // ties: the first, as PyTorch
    expect(pred.eq(y).sum().item()).toBe(2);
    const { values, indices } = logits.max(1);
    expect(Array.from(logits.gather(1, indices.unsqueeze(1)).squeeze(1).data())).toEqual(Array.from(values.data()));
    expect(Array.from(logits.index(arange(4), pred).data())).toEqual(Array.from(values.data()));
    expect(logits.indexSelect(1, pred).shape).toEqual([4, 4]);
  });

  it('crossEntropy written by hand with gather equals nn.functional.crossEntropy, gradients included', () => {
    const r = makeRng(3);
    const z1 = tensor(randArray(r, 8 * 5, -3, 3), [8, 5]).requiresGrad_();
    const z2 = tensor(z1.data(), [8, 5]).requiresGrad_();
    const y = tensor([0, 4, 2, 2, 1, 3, 0, 4]);
    const byHand = z1.logSoftmax(1).gather(1, y.unsqueeze(1)).mean().neg();
    const lib = nn.functional.crossEntropy(z2, y);
    expect(byHand.item()).toBeCloseTo(lib.item(), 6);
    byHand.backward();
    lib.backward();
    expectAllClose(Array.from(z1.grad!.data()), Array.from(z2.grad!.data()), 1e-5, 1e-7, 'grad');
    // and the indexing idiom -logp[range(N), y].mean()
    const idiom = z1.logSoftmax(1).index(arange(8), y).mean().neg();
    expect(idiom.item()).toBeCloseTo(lib.item(), 6);
  });

  it('indices may be arrays or Int32Arrays of integers; negatives count from the end in index()', () => {
    const x = arange(12).view(3, 4);
    expect(Array.from(x.index([-1, 0]).data())).toEqual([8, 9, 10, 11, 0, 1, 2, 3]);
    expect(Array.from(x.indexSelect(1, Int32Array.of(3, 0)).data())).toEqual([3, 0, 7, 4, 11, 8]);
    expect(Array.from(gather(x, 0, [[2, 1, 0, 0]]).data())).toEqual([8, 5, 2, 3]);
  });

  const x = () => arange(12).view(3, 4);
  const errs: [string, () => unknown, RegExp][] = [
    ['a fractional index value', () => x().gather(1, tensor([[0.5], [1], [2]])), /gather: index\[0,0\] = 0\.5 is not an integer for dim 1 of size 4 \(indices are float32 tensors holding integers\)/],
    ['an index past the end', () => x().index(':', tensor([1, 4])), /index: index 1\[1\] = 4 is out of range \[-4, 4\) for dim 1 of size 4/],
    ['a negative gather index', () => x().gather(0, tensor([[0, -1, 0, 0]])), /gather: index\[0,1\] = -1 is out of range \[0, 3\)/],
    ['a negative indexSelect index', () => x().indexSelect(0, [-1]), /indexSelect: index\[0\] = -1 is out of range \[0, 3\)/],
    ['a NaN index', () => x().indexSelect(0, tensor([NaN])), /indexSelect: index\[0\] = NaN is not an integer/],
    ['an index beyond 2^24 in an array', () => x().indexSelect(0, [2 ** 24 + 1]), /beyond ±2\^24, which float32 \(blasnet's only dtype\) cannot hold exactly/],
    ['a non-integer in an array', () => x().indexSelect(0, [0.5]), /indexSelect: index must hold integers, got 0\.5 at position 0/],
    ['a string index', () => x().indexSelect(0, 'a' as any), /indexSelect: index must be a tensor of integer values or an array of integers, got "a"/],
  ];
  for (const [what, fn, msg] of errs) it(`${what} is refused, naming the op, the position and the value`, () => expect(fn).toThrow(msg));

  it('argmax over more than 2^24 elements is refused rather than rounded', () => {
    tidy(() => {
      const big = zeros([2 ** 24 + 1]);
      expect(() => big.argmax()).toThrow(/argmax: the tensor has 16777217 elements; indices beyond 2\^24 = 16777216 are not exact in float32/);
      expect(() => big.view(1, -1).max(1)).toThrow(/max: dim 1 has 16777217 elements/);
      expect(big.max().item()).toBe(0); // the value alone is fine
    });
  });
});

describe('shapes, size and viewAs', () => {
  it('size() and size(dim) as PyTorch; viewAs shares storage', () => {
    const x = zeros(2, 3, 4);
    expect(x.size()).toEqual([2, 3, 4]);
    expect(x.size(-1)).toBe(4);
    expect(() => x.size(3)).toThrow(/size: dim 3 is out of range for a 3-d tensor/);
    expect(() => tensor(1).size(0)).toThrow(/size: a 0-d tensor has no dim 0/);
    const v = arange(6).viewAs(zeros(3, 2));
    expect(v.shape).toEqual([3, 2]);
    expect(() => arange(5).viewAs(zeros(3, 2))).toThrow(/viewAs: shape \[3,2\] is invalid for a tensor of 5 elements/);
  });

  it('readonly shapes are accepted where shapes are taken: x.view(t.shape), zeros(t.shape), reshape, full, rand', () => {
    const t = zeros(2, 6);
    const s: readonly number[] = t.shape;
    expect(arange(12).view(s).shape).toEqual([2, 6]);
    expect(arange(12).reshape(s).shape).toEqual([2, 6]);
    expect(zeros(s).shape).toEqual([2, 6]);
    expect(rand(s).shape).toEqual([2, 6]);
    expect(randn(s).shape).toEqual([2, 6]);
    expect(tensor(new Float32Array(12), s).shape).toEqual([2, 6]);
  });

  it('results are copies: writing into a slice leaves the source alone (blasnet tensors have no storage offset)', () => {
    const x = arange(6).view(2, 3);
    const row = x.select(0, 1);
    row.fill_(0);
    expect(Array.from(x.data())).toEqual([0, 1, 2, 3, 4, 5]);
  });
});

describe('errors name the op, the argument and the cause', () => {
  const x = () => arange(24).view(2, 3, 4);
  const errs: [string, () => unknown, RegExp][] = [
    ['select out of range', () => x().select(1, 3), /select: index 3 is out of range for dim 1 of size 3 \(shape \[2,3,4\]\)/],
    ['select a fractional index', () => x().select(0, 0.5), /select: index must be an integer, got 0\.5/],
    ['select on 0-d', () => select(tensor(1), 0, 0), /select: cannot select from a 0-d tensor/],
    ['narrow past the end', () => narrow(x(), 2, 2, 3), /narrow: start 2 \+ length 3 exceeds dim 2 of size 4/],
    ['narrow start out of range', () => x().narrow(0, -3, 1), /narrow: start -3 is out of range for dim 0 of size 2/],
    ['slice step 0', () => x().slice(1, 0, 2, 0), /slice: step must be a positive integer, got 0 \(PyTorch has no negative steps/],
    ['slice a bad dim', () => x().slice(3), /slice: dim 3 is out of range for a 3-d tensor/],
    ['index: too many indices', () => x().index(0, 0, 0, 0), /index: too many indices for a 3-d tensor: 4 given/],
    ['index: two ellipses', () => x().index('...', 0, '...'), /index: an index can only have a single ellipsis/],
    ['index: a bad slice string', () => x().index('1:x'), /index: slice "1:x" at index 0 has a end that is not an integer/],
    ['index: not a slice', () => x().index('a'), /index: index 0 must be a number, a slice like '1:5:2', null, '\.\.\.' or an index tensor, got "a"/],
    ['index: an integer out of range', () => index(x(), ':', 5), /index: index 5 is out of range for dim 1 of size 3/],
    ['index: a negative step', () => x().index('::-1'), /index: slice "::-1": step must be a positive integer, got -1/],
    ['index: index tensors that do not broadcast', () => x().index([0, 1], ':', [0, 1, 2]), /index: shapes \[2\] and \[3\] cannot be broadcast/],
    ['gather: another number of dims', () => x().gather(1, tensor([0, 1])), /gather: index must have as many dims as the input \(3\), got shape \[2\]/],
    ['gather: index larger than the input', () => arange(6).view(2, 3).gather(1, zeros(3, 1)), /gather: index has size 3 in dim 0, larger than the input's 2/],
    ['indexSelect: a 2-d index', () => indexSelect(x(), 0, zeros(1, 1)), /indexSelect: index must be 0-d or 1-d, got shape \[1,1\]/],
    ['where: a string operand', () => where(zeros(2), zeros(2), 'a' as any), /where: y must be a Tensor or a number, got "a"/],
    ['where: condition alone', () => (where as any)(zeros(2)), /where: where\(condition\) alone .* is not supported/],
    ['where: shapes that do not broadcast', () => where(zeros(2), zeros(3), 0), /where: shapes \[2\] and \[3\] cannot be broadcast/],
    ['cat: a single tensor', () => cat(zeros(2) as any), /cat: expected an array of tensors, got a single tensor \(wrap it: \[t\], or use split\/chunk/],
    ['cat: an empty list', () => cat([]), /cat: expected a non-empty list of tensors/],
    ['cat: sizes that differ', () => cat([zeros(2, 3), zeros(3, 3)], 1), /cat: sizes must match except in dim 1: tensors\[1\] has shape \[3,3\], tensors\[0\] \[2,3\] \(dim 0\)/],
    ['cat: another number of dims', () => cat([zeros(2, 3), zeros(3)]), /cat: tensors\[1\] has 1 dims but tensors\[0\] has 2/],
    ['cat: 0-d tensors', () => cat([tensor(1), tensor(2)]), /cat: a 0-d tensor cannot be concatenated \(use stack/],
    ['cat: a non-tensor', () => cat([zeros(2), [1, 2] as any]), /cat: tensors\[1\] is not a Tensor, got \[1,2\]/],
    ['stack: shapes that differ', () => stack([zeros(2), zeros(3)]), /stack: every tensor must have the same shape: tensors\[1\] has \[3\], tensors\[0\] \[2\]/],
    ['stack: a bad dim', () => stack([zeros(2), zeros(2)], 3), /stack: dim 3 is out of range for a 2-d tensor/],
    ['split: sections that do not add up', () => split(x(), [1, 1], 1), /split: sections \[1,1\] add up to 2, but dim 1 has size 3/],
    ['split: size 0', () => split(x(), 0), /split: splitSize 0 cannot split dim 0 of size 2/],
    ['split: a string', () => split(x(), 'a' as any), /split: splitSizeOrSections must be an integer or an array of integers/],
    ['chunk: 0 chunks', () => chunk(x(), 0), /chunk: chunks must be a positive integer, got 0/],
    ['unbind: 0-d', () => unbind(tensor(3)), /unbind: cannot unbind a 0-d tensor/],
  ];
  for (const [what, fn, msg] of errs) it(what, () => expect(fn).toThrow(msg));

  it('disposed inputs are named', () => {
    const a = zeros(2, 3);
    a.dispose();
    expect(() => a.select(0, 0)).toThrow(/select: the tensor \(shape \[2,3\]\) was disposed/);
    expect(() => cat([zeros(2, 3), a])).toThrow(/cat: the tensor \(shape \[2,3\]\) was disposed/);
    const i = tensor([0]);
    i.dispose();
    expect(() => zeros(2).indexSelect(0, i)).toThrow(/indexSelect: the tensor \(shape \[1\]\) was disposed/);
  });
});

describe('autograd and memory', () => {
  it('the index tensor may be disposed before backward (the graph keeps its own copy)', () => {
    const x = arange(6).view(2, 3).requiresGrad_();
    const i = tensor([[2], [0]]);
    const y = x.gather(1, i);
    i.dispose();
    y.sum().backward();
    expect(Array.from(x.grad!.data())).toEqual([0, 0, 1, 1, 0, 0]);
  });

  it('backward may run after the tidy that built the graph (saved index and condition copies outlive it)', () => {
    const x = arange(6).view(2, 3).requiresGrad_();
    const loss = tidy(() => x.gather(1, [[2], [0]]).sum().add(where(x.gt(2), x, 0).sum()).add(x.index([1, 0], [0, 2]).sum()));
    loss.backward();
    expect(Array.from(x.grad!.data())).toEqual([0, 0, 2, 3, 1, 1]);
  });

  it('no native memory is left behind by forward + backward of every op inside tidy', () => {
    const x = arange(24).view(2, 3, 4).requiresGrad_();
    const run = () =>
      tidy(() => {
        const parts = [
          x.select(1, 1), x.narrow(2, 1, 2), x.slice(2, null, null, 2), x.index([0, 1], ':', [1, 2]), x.index(0, '1:', null),
          x.indexSelect(1, [2, 2, 0]), x.gather(2, zeros(2, 3, 1)), where(x.gt(5), x, 0), cat([x, x], 1), stack([x, x]),
          ...x.split(2, 2), ...x.chunk(2, 1), ...x.unbind(0), x.max().view(1), x.max(2).values,
        ];
        let loss = parts[0].sum();
        for (const p of parts.slice(1)) loss = loss.add(p.sum());
        loss.backward();
        x.grad!.dispose();
        x.grad = null;
      });
    run();
    const before = memoryInfo().liveBytes;
    for (let k = 0; k < 5; k++) run();
    expect(memoryInfo().liveBytes).toBe(before);
    // and without grad
    const before2 = memoryInfo().liveBytes;
    noGrad(() => tidy(() => {
      x.index([0, 1], ':', [1, 2]).add(cat([x, x]).sum());
    }));
    expect(memoryInfo().liveBytes).toBe(before2);
  });

  it('ops on inputs that need no grad record nothing', () => {
    const x = arange(6).view(2, 3);
    for (const y of [x.select(0, 0), x.index(':', [0]), cat([x, x]), where(x.gt(1), x, 0), ...x.split(1)]) expect(y.requiresGrad).toBe(false);
    expect(stack([x, x]).requiresGrad).toBe(false);
  });
});

describe('a seeded sweep of bad and odd arguments: a clean error naming the op, or a result; never a crash', () => {
  it('2000 calls over select, narrow, slice, index, indexSelect, gather, where, cat, stack, split, chunk, unbind', () => {
    const r = makeRng(2024);
    const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)];
    const dead = zeros(2);
    dead.dispose();
    const tensors = () => pick([zeros(0), zeros(3), zeros(2, 3), zeros(2, 0, 3), tensor(5), arange(24).view(2, 3, 4), dead, tensor([0, 1, 2]), tensor([[1], [0]]), tensor([NaN]), tensor([-1, 2]), tensor([0.5])]);
    const scalars = () => pick<unknown>([0, 1, 2, -1, -3, 3, 7, 0.5, NaN, Infinity, -Infinity, 2 ** 31, null, undefined, '1', ':', '::2', '...', '1:x', [0, 1], [[0]], [], {}, true]);
    const any = () => (r() < 0.5 ? tensors() : scalars());
    const ops: [string, () => unknown][] = [
      ['select', () => select(tensors(), scalars() as number, scalars() as number)],
      ['narrow', () => narrow(tensors(), scalars() as number, scalars() as number, scalars() as number)],
      ['slice', () => (tensors() as Tensor).slice(scalars() as number, scalars() as number, scalars() as number, r() < 0.5 ? 1 : (scalars() as number))],
      ['index', () => index(tensors(), ...Array.from({ length: Math.floor(r() * 4) }, () => any() as IndexSpec))],
      ['indexSelect', () => indexSelect(tensors(), scalars() as number, any() as Tensor)],
      ['gather', () => gather(tensors(), scalars() as number, any() as Tensor)],
      ['where', () => where(tensors(), any() as Tensor, any() as Tensor)],
      ['cat', () => cat(r() < 0.2 ? (any() as Tensor[]) : [tensors(), tensors()], scalars() as number)],
      ['stack', () => stack(r() < 0.2 ? (any() as Tensor[]) : [tensors(), tensors()], scalars() as number)],
      ['split', () => split(tensors(), any() as number, scalars() as number)],
      ['chunk', () => chunk(tensors(), scalars() as number, scalars() as number)],
      ['unbind', () => unbind(tensors(), scalars() as number)],
    ];
    const before = memoryInfo().liveBytes;
    let results = 0, errors = 0;
    for (let i = 0; i < 2000; i++) {
      const [op, call] = ops[i % ops.length];
      tidy(() => {
        try {
          const y = call();
          const list = Array.isArray(y) ? y : [y];
          for (const t of list) expect((t as Tensor).shape).toBeDefined();
          results++;
        } catch (e) {
          errors++;
          const msg = (e as Error).message;
          expect(e, `${op} threw a non-Error`).toBeInstanceOf(Error);
          if (!msg.startsWith(`${op}:`) && !msg.startsWith(`${op} `))
            throw new Error(`call ${i} (${op}) threw a message that does not name the op: ${msg}`);
          expect(msg, `call ${i} (${op})`).not.toMatch(/blasnet native|undefined is not|is not a function|Cannot read/);
        }
      });
    }
    expect(results).toBeGreaterThan(100);
    expect(errors).toBeGreaterThan(100);
    expect(memoryInfo().liveBytes).toBe(before);
  });
});
