// Tensor creation, random numbers, properties, data access and printing.
import { describe, it, expect, afterAll } from 'vitest';
import {
  tensor, zeros, ones, full, arange, rand, randn, zerosLike, onesLike, manualSeed, tidy, Tensor,
  setNumThreads, getNumThreads,
} from '../../src';
import { expectAllClose } from '../helpers';

const fr = Math.fround;

function stats(d: Float32Array): { mean: number; std: number; min: number; max: number } {
  let s = 0, min = Infinity, max = -Infinity;
  for (const v of d) {
    s += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const mean = s / d.length;
  let q = 0;
  for (const v of d) q += (v - mean) ** 2;
  return { mean, std: Math.sqrt(q / d.length), min, max };
}

describe('tensor()', () => {
  it('from a number: 0-d', () => {
    const t = tensor(3.5);
    expect(t.shape).toEqual([]);
    expect(t.ndim).toBe(0);
    expect(t.numel).toBe(1);
    expect(t.item()).toBe(3.5);
    expect(t.toArray()).toBe(3.5);
    expect(tensor(-0.1).item()).toBe(fr(-0.1));
    expect(tensor(true as unknown as number).item()).toBe(1); // booleans are accepted as 0/1
    t.dispose();
  });

  it('from nested arrays of any depth', () => {
    const a = tensor([1, 2, 3]);
    expect(a.shape).toEqual([3]);
    expect(Array.from(a.data())).toEqual([1, 2, 3]);
    const b = tensor([[1, 2, 3], [4, 5, 6]]);
    expect(b.shape).toEqual([2, 3]);
    expect(b.ndim).toBe(2);
    expect(b.numel).toBe(6);
    expect(b.toArray()).toEqual([[1, 2, 3], [4, 5, 6]]);
    const c = tensor([[[1], [2]], [[3], [4]], [[5], [6]]]);
    expect(c.shape).toEqual([3, 2, 1]);
    expect(c.toArray()).toEqual([[[1], [2]], [[3], [4]], [[5], [6]]]);
    const e = tensor([]);
    expect(e.shape).toEqual([0]);
    expect(e.numel).toBe(0);
    expect(tensor([[]]).shape).toEqual([1, 0]);
    const deep = tensor([[[[[[[[2]]]]]]]]);
    expect(deep.shape).toEqual([1, 1, 1, 1, 1, 1, 1, 1]);
    expect(deep.item()).toBe(2);
    expect(Array.from(tensor([0.1, -2.5, 1e20]).data())).toEqual([fr(0.1), -2.5, fr(1e20)]);
    for (const t of [a, b, c, e, deep]) t.dispose();
  });

  it('from typed arrays (Float32Array, Float64Array, Int32Array, Uint8Array), copying the data', () => {
    const f32 = new Float32Array([1.5, -2, 3]);
    const t1 = tensor(f32);
    expect(t1.shape).toEqual([3]);
    f32[0] = 100; // the tensor holds a copy
    expect(Array.from(t1.data())).toEqual([1.5, -2, 3]);

    const f64 = new Float64Array([0.1, 0.2, 0.3, 0.4]);
    const t2 = tensor(f64, [2, 2]);
    expect(t2.shape).toEqual([2, 2]);
    expect(t2.toArray()).toEqual([[fr(0.1), fr(0.2)], [fr(0.3), fr(0.4)]]);

    const t3 = tensor(new Int32Array([-5, 0, 7, 2 ** 30, -(2 ** 31), 3, 4, 5]), [2, 2, 2]);
    expect(t3.shape).toEqual([2, 2, 2]);
    expect(Array.from(t3.data())).toEqual([-5, 0, 7, 2 ** 30, -(2 ** 31), 3, 4, 5]);

    const t4 = tensor(new Uint8Array([0, 1, 255, 128, 3, 4]), [3, 2]);
    expect(t4.toArray()).toEqual([[0, 1], [255, 128], [3, 4]]);

    const t5 = tensor(new Float32Array(0));
    expect(t5.shape).toEqual([0]);
    for (const t of [t1, t2, t3, t4, t5]) t.dispose();
  });

  it('flat data with an explicit shape (including 0-d and zero-size dims)', () => {
    const a = tensor([1, 2, 3, 4, 5, 6], [3, 2]);
    expect(a.toArray()).toEqual([[1, 2], [3, 4], [5, 6]]);
    const b = tensor([7], []);
    expect(b.shape).toEqual([]);
    expect(b.item()).toBe(7);
    const c = tensor([], [2, 0, 3]);
    expect(c.shape).toEqual([2, 0, 3]);
    expect(c.numel).toBe(0);
    expect(c.toArray()).toEqual([[], []]);
    const d = tensor([[1, 2], [3, 4]], [4]);
    expect(d.shape).toEqual([4]);
    const e = tensor(5, [1, 1]);
    expect(e.shape).toEqual([1, 1]);
    expect(e.toArray()).toEqual([[5]]);
    for (const t of [a, b, c, d, e]) t.dispose();
  });
});

describe('zeros / ones / full / arange', () => {
  it('zeros, ones, full with varargs and array shapes', () => {
    tidy(() => {
      expect(Array.from(zeros(2, 3).data())).toEqual(new Array(6).fill(0));
      expect(zeros([2, 3]).shape).toEqual([2, 3]);
      expect(zeros().shape).toEqual([]);
      expect(zeros([]).item()).toBe(0);
      expect(zeros(0).shape).toEqual([0]);
      expect(Array.from(ones(4).data())).toEqual([1, 1, 1, 1]);
      expect(ones([1, 2, 1]).toArray()).toEqual([[[1], [1]]]);
      expect(ones().item()).toBe(1);
      expect(full([2, 2], 7.25).toArray()).toEqual([[7.25, 7.25], [7.25, 7.25]]);
      expect(full([], -3).item()).toBe(-3);
      expect(Array.from(full([3], Infinity).data())).toEqual([Infinity, Infinity, Infinity]);
      expect(Number.isNaN(full([1], NaN).item())).toBe(true);
      const big = zeros(1000, 1000);
      const d = big.data();
      expect(d.length).toBe(1e6);
      expect(d.every((v) => v === 0)).toBe(true);
      const x = tensor([[1, 2], [3, 4]]);
      expect(zerosLike(x).toArray()).toEqual([[0, 0], [0, 0]]);
      expect(onesLike(x).toArray()).toEqual([[1, 1], [1, 1]]);
    });
  });

  it('arange: integer, fractional and negative steps (torch semantics)', () => {
    tidy(() => {
      expect(Array.from(arange(5).data())).toEqual([0, 1, 2, 3, 4]);
      expect(Array.from(arange(2, 7).data())).toEqual([2, 3, 4, 5, 6]);
      expect(Array.from(arange(0, 10, 3).data())).toEqual([0, 3, 6, 9]);
      expect(Array.from(arange(5, 0, -1).data())).toEqual([5, 4, 3, 2, 1]);
      expect(Array.from(arange(0, -3, -1).data())).toEqual([0, -1, -2]);
      expect(Array.from(arange(1, 0, -0.25).data())).toEqual([1, 0.75, 0.5, 0.25]);
      expect(Array.from(arange(1, 2.5, 0.5).data())).toEqual([1, 1.5, 2]);
      expect(Array.from(arange(0.5, 3).data())).toEqual([0.5, 1.5, 2.5]);
      const f = arange(0, 1, 0.1);
      expect(f.shape).toEqual([10]);
      expectAllClose(f.data(), Array.from({ length: 10 }, (_, i) => i / 10), 1e-6, 1e-7, 'arange(0, 1, 0.1)');
      expect(arange(0, 0.3, 0.1).shape).toEqual([3]);
      expect(arange(0, 0).shape).toEqual([0]);
      expect(arange(0, 5, -1).shape).toEqual([0]);
      expect(arange(5, 0).shape).toEqual([0]);
      expect(arange(0).numel).toBe(0);
      expect(arange(-2.5, 2.5, 1.25).shape).toEqual([4]);
    });
  });
});

describe('rand / randn / manualSeed', () => {
  const N = 100_000;
  const threads0 = getNumThreads();
  afterAll(() => setNumThreads(threads0));

  it('rand: values in [0, 1), mean ≈ 1/2, std ≈ 1/√12, roughly flat histogram', () => {
    manualSeed(1);
    const t = rand([N]);
    expect(t.shape).toEqual([N]);
    const d = t.data();
    const s = stats(d);
    expect(s.min).toBeGreaterThanOrEqual(0);
    expect(s.max).toBeLessThan(1);
    expect(Math.abs(s.mean - 0.5)).toBeLessThan(0.01);
    expect(Math.abs(s.std - 1 / Math.sqrt(12))).toBeLessThan(0.01);
    const bins = new Array(10).fill(0);
    for (const v of d) bins[Math.floor(v * 10)]++;
    for (const b of bins) expect(Math.abs(b / N - 0.1)).toBeLessThan(0.01);
    t.dispose();
  });

  it('rand(shape, low, high) and a number shape', () => {
    manualSeed(2);
    const t = rand([100, 1000], -3, 5);
    expect(t.shape).toEqual([100, 1000]);
    const s = stats(t.data());
    expect(s.min).toBeGreaterThanOrEqual(-3);
    expect(s.max).toBeLessThan(5);
    expect(Math.abs(s.mean - 1)).toBeLessThan(0.05);
    expect(Math.abs(s.std - 8 / Math.sqrt(12))).toBeLessThan(0.05);
    const u = rand(7);
    expect(u.shape).toEqual([7]);
    const z = rand([]);
    expect(z.shape).toEqual([]);
    const e = rand([0, 3]);
    expect(e.numel).toBe(0);
    const c = rand([5], 2, 2); // degenerate interval
    expect(Array.from(c.data())).toEqual([2, 2, 2, 2, 2]);
    for (const x of [t, u, z, e, c]) x.dispose();
  });

  it('randn: mean ≈ 0, std ≈ 1, ~68.3% within one sigma; randn(shape, mean, std)', () => {
    manualSeed(3);
    const t = randn([N]);
    const d = t.data();
    const s = stats(d);
    expect(Math.abs(s.mean)).toBeLessThan(0.02);
    expect(Math.abs(s.std - 1)).toBeLessThan(0.02);
    let within = 0;
    for (const v of d) if (Math.abs(v) < 1) within++;
    expect(Math.abs(within / N - 0.6827)).toBeLessThan(0.01);
    expect(d.every((v) => Number.isFinite(v))).toBe(true);
    const u = randn([N + 1], 10, 0.5); // odd count
    const su = stats(u.data());
    expect(Math.abs(su.mean - 10)).toBeLessThan(0.01);
    expect(Math.abs(su.std - 0.5)).toBeLessThan(0.01);
    const z = randn([3], 4, 0);
    expect(Array.from(z.data())).toEqual([4, 4, 4]);
    for (const x of [t, u, z]) x.dispose();
  });

  it('manualSeed: same seed gives identical data; different seeds differ', () => {
    tidy(() => {
      manualSeed(1234);
      const a1 = rand([1000]).data(), b1 = randn([2, 500]).data(), c1 = rand([3]).data();
      manualSeed(1234);
      const a2 = rand([1000]).data(), b2 = randn([2, 500]).data(), c2 = rand([3]).data();
      expect(a2).toEqual(a1);
      expect(b2).toEqual(b1);
      expect(c2).toEqual(c1);
      // successive draws differ
      expect(a1.subarray(0, 3)).not.toEqual(c1);
      manualSeed(1235);
      const a3 = rand([1000]).data();
      expect(a3).not.toEqual(a1);
      let same = 0;
      for (let i = 0; i < 1000; i++) if (a3[i] === a1[i]) same++;
      expect(same).toBeLessThan(10);
      // bigint seeds and 0
      manualSeed(1234n);
      expect(rand([1000]).data()).toEqual(a1);
      manualSeed(0);
      const z1 = randn([10]).data();
      manualSeed(0);
      expect(randn([10]).data()).toEqual(z1);
    });
  });

  it('random data does not depend on the thread count', () => {
    tidy(() => {
      setNumThreads(1);
      manualSeed(77);
      const a = rand([300_000]).data(), b = randn([300_001]).data();
      setNumThreads(Math.max(2, threads0));
      manualSeed(77);
      expect(rand([300_000]).data()).toEqual(a);
      expect(randn([300_001]).data()).toEqual(b);
      setNumThreads(threads0);
    });
  });
});

describe('properties and data access', () => {
  it('shape / ndim / numel, and shape is frozen', () => {
    tidy(() => {
      const t = zeros(2, 3, 4);
      expect(t.shape).toEqual([2, 3, 4]);
      expect(t.ndim).toBe(3);
      expect(t.numel).toBe(24);
      expect(Object.isFrozen(t.shape)).toBe(true);
      expect(t).toBeInstanceOf(Tensor);
      const e = zeros(3, 0);
      expect(e.numel).toBe(0);
      expect(e.ndim).toBe(2);
    });
  });

  it('data() is a copy: mutating it does not change the tensor', () => {
    tidy(() => {
      const t = tensor([1, 2, 3]);
      const d = t.data();
      expect(d).toBeInstanceOf(Float32Array);
      d[0] = 42;
      d.fill(9);
      expect(Array.from(t.data())).toEqual([1, 2, 3]);
      expect(t.data()).not.toBe(t.data());
      const arr = t.toArray() as number[];
      arr[1] = 100;
      expect(t.toArray()).toEqual([1, 2, 3]);
    });
  });

  it('toArray() nests like the shape', () => {
    tidy(() => {
      expect(tensor(2).toArray()).toBe(2);
      expect(tensor([2]).toArray()).toEqual([2]);
      expect(arange(24).reshape(2, 3, 4).toArray()).toEqual([
        [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]],
        [[12, 13, 14, 15], [16, 17, 18, 19], [20, 21, 22, 23]],
      ]);
      expect(arange(6).reshape(1, 6, 1).toArray()).toEqual([[[0], [1], [2], [3], [4], [5]]]);
      expect(zeros(0).toArray()).toEqual([]);
      expect(zeros(2, 0).toArray()).toEqual([[], []]);
    });
  });

  it('item() reads one-element tensors of any shape and throws otherwise', () => {
    tidy(() => {
      expect(tensor(1.25).item()).toBe(1.25);
      expect(tensor([[[-4]]]).item()).toBe(-4);
      expect(tensor([1, 2]).sum().item()).toBe(3);
      expect(() => tensor([1, 2]).item()).toThrow(/item/);
      expect(() => zeros(0).item()).toThrow(Error);
    });
  });
});

describe('toString() prints like PyTorch', () => {
  const s = (t: Tensor) => {
    const out = t.toString();
    t.dispose();
    return out;
  };

  it('integers, 0-d, fixed point', () => {
    expect(s(tensor([[1, 2], [3, 4]]))).toBe('tensor([[1., 2.],\n        [3., 4.]])');
    expect(s(tensor(3))).toBe('tensor(3.)');
    expect(s(tensor(0.5))).toBe('tensor(0.5000)');
    expect(s(tensor([0.1, 0.2]))).toBe('tensor([0.1000, 0.2000])');
    expect(s(tensor([-1, 2]))).toBe('tensor([-1.,  2.])');
    expect(s(tensor([1.5, -2.25]))).toBe('tensor([ 1.5000, -2.2500])');
    expect(s(tensor([0, 0]))).toBe('tensor([0., 0.])');
    expect(s(zeros(0))).toBe('tensor([])');
  });

  it('a 3-d tensor has a blank line between blocks', () => {
    expect(s(arange(8).reshape(2, 2, 2))).toBe(
      'tensor([[[0., 1.],\n' +
      '         [2., 3.]],\n' +
      '\n' +
      '        [[4., 5.],\n' +
      '         [6., 7.]]])',
    );
  });

  it('scientific notation for tiny values', () => {
    expect(s(tensor([1e-5, 1]))).toBe('tensor([1.0000e-05, 1.0000e+00])');
  });

  it('integer values spanning more than 1000× switch to scientific notation (torch _Formatter int_mode)', () => {
    // torch.tensor([1., 2000.]) -> tensor([1.0000e+00, 2.0000e+03])
    expect(s(tensor([1, 2000]))).toBe('tensor([1.0000e+00, 2.0000e+03])');
  });

  it('long rows wrap at 80 columns (torch linewidth)', () => {
    // print(torch.arange(30.))
    expect(s(arange(30))).toBe(
      'tensor([ 0.,  1.,  2.,  3.,  4.,  5.,  6.,  7.,  8.,  9., 10., 11., 12., 13.,\n' +
      '        14., 15., 16., 17., 18., 19., 20., 21., 22., 23., 24., 25., 26., 27.,\n' +
      '        28., 29.])',
    );
  });

  it('a disposed tensor prints without throwing', () => {
    const t = tensor([1, 2]);
    t.dispose();
    expect(() => t.toString()).not.toThrow();
    expect(t.toString()).toMatch(/disposed/);
  });
});
