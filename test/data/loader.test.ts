// DataLoader: any object with length and get(i)/getItem(i) is a dataset,
// batches destructure as [x, y] and { x, y }, options are validated, and a
// plain synchronous loop over batches leaks nothing.
import { describe, it, expect } from 'vitest';
import { data, tensor, tidy, keep, memoryInfo, Tensor, type NestedArray } from '../../src';

const live = () => memoryInfo().liveBytes;

/** N samples: x_i = [[i, i+0.5], [i+0.25, -i]] (2×2), y_i = i % 3. */
function makeXY(N: number): { xs: number[][][]; ys: number[] } {
  const xs = Array.from({ length: N }, (_, i) => [[i, i + 0.5], [i + 0.25, -i]]);
  return { xs, ys: Array.from({ length: N }, (_, i) => i % 3) };
}

/** The batches a loader gives, as plain numbers (read before the loader frees them). */
function collect(loader: data.DataLoader): { x: NestedArray; y: NestedArray; xShape: readonly number[] }[] {
  const out: { x: NestedArray; y: NestedArray; xShape: readonly number[] }[] = [];
  for (const [x, y] of loader) out.push({ x: x.toArray() as NestedArray, y: y.toArray() as NestedArray, xShape: x.shape });
  return out;
}

describe('any object with length and get(i) (or getItem(i)) is a Dataset', () => {
  const N = 10;
  const { xs, ys } = makeXY(N);
  const ref = () => new data.TensorDataset(tensor(xs), tensor(ys));

  const variants: [string, () => data.Dataset][] = [
    ['get(i) → [Tensor, number]', () => ({ length: N, get: (i: number) => [tensor(xs[i]), ys[i]] as const })],
    ['getItem(i) → [Tensor, number]', () => ({ length: N, getItem: (i: number) => [tensor(xs[i]), ys[i]] as const })],
    ['get(i) → { x: number[][] flattened, y: Tensor }', () => ({ length: N, get: (i: number) => ({ x: tensor(xs[i].flat(), [2, 2]), y: tensor(ys[i]) }) })],
    ['a class with get(i) over stored tensors', () => {
      class Squares {
        readonly stored = xs.map((v) => keep(tensor(v)));
        get length() { return N; }
        get(i: number) { return [this.stored[i], ys[i]] as const; }
      }
      return new Squares();
    }],
  ];
  for (const [name, make] of variants) {
    it(`${name}: the same batches as a TensorDataset, shuffled or not`, () => {
      for (const opts of [{ batchSize: 4 }, { batchSize: 3, shuffle: true, seed: 5 }, { batchSize: 4, dropLast: true }]) {
        const want = collect(new data.DataLoader(ref(), opts));
        const got = collect(new data.DataLoader(make(), opts));
        expect(got).toEqual(want);
        expect(got[0].xShape).toEqual([opts.batchSize, 2, 2]);
      }
    });
  }

  it('a 1-d x of numbers stacks into [B, n]; number x into [B]', () => {
    const ds = { length: 5, get: (i: number) => [[i, 2 * i, 3 * i], i] as const };
    const [b] = collect(new data.DataLoader(ds, { batchSize: 5 }));
    expect(b.x).toEqual([[0, 0, 0], [1, 2, 3], [2, 4, 6], [3, 6, 9], [4, 8, 12]]);
    expect(b.y).toEqual([0, 1, 2, 3, 4]);
    const scalars = collect(new data.DataLoader({ length: 3, get: (i: number) => ({ x: i / 2, y: 1 }) }, { batchSize: 3 }));
    expect(scalars[0].x).toEqual([0, 0.5, 1]);
  });

  it('tensors made by get(i) are freed once stacked; tensors the dataset owns are left alone', () => {
    const stored = keep(tensor([1, 2, 3]));
    const ds = { length: 64, get: (i: number) => [i % 2 ? stored : tensor([i, i, i]), tensor(i)] as const };
    const loader = new data.DataLoader(ds, { batchSize: 8 });
    collect(loader);
    const before = live();
    collect(loader);
    expect(live()).toBe(before);
    expect(stored.isDisposed).toBe(false);
    stored.dispose();
  });

  it('a transform applies to x of a generic dataset too', () => {
    const ds = { length: 4, get: (i: number) => [[i], i] as const };
    const [b] = collect(new data.DataLoader(ds, { batchSize: 4, transform: (x) => x.mul(10) }));
    expect(b.x).toEqual([[0], [10], [20], [30]]);
  });

  it('bad datasets and bad samples throw naming DataLoader and the sample', () => {
    for (const bad of [{}, { length: 3 }, [1, 2], 'abc', null, 5, { get: () => [1, 2] }, { length: -1, get: () => [1, 2] }, { length: 1.5, get: () => [1, 2] }])
      expect(() => new data.DataLoader(bad as unknown as data.Dataset), JSON.stringify(bad)).toThrow(/^DataLoader: dataset/);
    const it1 = (get: (i: number) => unknown) => () => collect(new data.DataLoader({ length: 3, get } as unknown as data.Dataset, { batchSize: 3 }));
    expect(it1(() => 7)).toThrow(/DataLoader: dataset\.get\(0\) must return \[x, y\] or \{ x, y \}, got 7/);
    expect(it1(() => [1, 2, 3])).toThrow(/must return \[x, y\]/);
    expect(it1((i) => [i === 2 ? tensor([1, 2]) : tensor([1, 2, 3]), 0])).toThrow(/same shape.*sample 2 has x of shape \[2\], sample 0 has \[3\]/);
    expect(it1((i) => [i === 1 ? 'pixels' : 1, 0])).toThrow(/sample 1 has x "pixels"/);
    expect(it1(() => [{ a: 1 }, 0])).toThrow(/sample 0 has x Object/);
    // nothing is left behind by the failures
    const before = live();
    expect(it1((i) => [tensor([i]), i === 2 ? 'label' : 0])).toThrow(/sample 2 has y "label"/);
    expect(live()).toBe(before);
  });
});

describe('batches destructure as [x, y] and { x, y }', () => {
  it('both ways, and batch[0] is batch.x', () => {
    const ds = new data.TensorDataset(tensor([[1], [2], [3]]), tensor([0, 1, 0]));
    for (const batch of new data.DataLoader(ds, { batchSize: 2 })) {
      const [x, y] = batch;
      const { x: x2, y: y2 } = batch;
      expect(x).toBe(x2);
      expect(y).toBe(y2);
      expect(batch[0]).toBe(batch.x);
      expect(batch.length).toBe(2);
      expect(x).toBeInstanceOf(Tensor);
    }
    const s = ds.get(1);
    const [sx, sy] = s;
    expect(sx.toArray()).toEqual([[2]]);
    expect(sy.toArray()).toEqual([1]);
    expect(s.x).toBe(sx);
  });
});

describe('DataLoader options are validated', () => {
  const ds = new data.TensorDataset(tensor([[1], [2]]), tensor([0, 1]));
  it("unknown keys throw, suggesting PyTorch's camelCase spelling", () => {
    expect(() => new data.DataLoader(ds, { batch_size: 16 } as never)).toThrow(/DataLoader: unknown option 'batch_size' \(did you mean 'batchSize'\?/);
    expect(() => new data.DataLoader(ds, { drop_last: true } as never)).toThrow(/did you mean 'dropLast'/);
    expect(() => new data.DataLoader(ds, { shufle: true } as never)).toThrow(/unknown option 'shufle' \(did you mean 'shuffle'\?\)/);
    expect(() => new data.DataLoader(ds, { numWorkers: 2 } as never)).toThrow(/unknown option 'numWorkers'.*batchSize, shuffle, seed, dropLast, transform/);
  });
  it('bad values throw naming the option', () => {
    const bad: [object, RegExp][] = [
      [{ batchSize: 0 }, /batchSize must be a positive integer, got 0/],
      [{ batchSize: '16' }, /batchSize must be a positive integer, got "16"/],
      [{ batchSize: 2.5 }, /batchSize/],
      [{ shuffle: 'yes' }, /shuffle must be a boolean, got "yes"/],
      [{ dropLast: 1 }, /dropLast must be a boolean, got 1/],
      [{ seed: 1.5 }, /seed must be an integer, got 1.5/],
      [{ seed: '7' }, /seed must be an integer/],
      [{ transform: 3 }, /transform must be a function, got 3/],
    ];
    for (const [o, re] of bad) expect(() => new data.DataLoader(ds, o as never), JSON.stringify(o)).toThrow(re);
    expect(() => new data.DataLoader(ds, 5 as never)).toThrow(/DataLoader: options must be an object/);
    const notTensor = new data.DataLoader(ds, { transform: () => 3 as never });
    expect(() => collect(notTensor)).toThrow(/DataLoader: transform must return a Tensor, got 3/);
  });
});

describe('a loop over batches leaks nothing by design', () => {
  const N = 300;
  const make = () => {
    const { xs, ys } = makeXY(N);
    return new data.TensorDataset(tensor(xs), tensor(ys));
  };

  it('the loader frees each batch when the next is taken, and the last when the epoch ends (liveBytes flat, no GC)', () => {
    const ds = make();
    const loader = new data.DataLoader(ds, { batchSize: 16, shuffle: true, seed: 1, transform: data.normalize(0.5, 2) });
    const before = live();
    for (let epoch = 0; epoch < 3; epoch++) {
      let steps = 0;
      for (const { x, y } of loader) {
        tidy(() => x.mul(y.unsqueeze(1).unsqueeze(2)).sum().item());
        steps++;
      }
      expect(steps).toBe(Math.ceil(N / 16));
      expect(live()).toBe(before);
    }
    ds.dispose();
  });

  it('a batch the user kept survives; a freed one says who freed it', () => {
    const ds = make();
    let kept: Tensor | null = null, dropped: Tensor | null = null;
    for (const { x, y } of new data.DataLoader(ds, { batchSize: 100 })) {
      if (!kept) kept = keep(x);
      else if (!dropped) dropped = y;
    }
    expect(kept!.isDisposed).toBe(false);
    expect(kept!.shape).toEqual([100, 2, 2]);
    expect(dropped!.isDisposed).toBe(true);
    expect(() => dropped!.sum()).toThrow(/sum: the tensor \(shape \[100\]\) was disposed \(the DataLoader frees each batch when the next one is taken; keep\(t\) or t\.clone\(\) to hold on to it\)/);
    kept!.dispose();
    ds.dispose();
  });

  it('disposing batches yourself (the old idiom) still works', () => {
    const ds = make();
    const before = live();
    for (const { x, y } of new data.DataLoader(ds, { batchSize: 32 })) {
      x.dispose();
      y.dispose();
    }
    expect(live()).toBe(before);
    ds.dispose();
  });

  it('breaking out of the loop leaves the current batch to the caller', () => {
    const ds = make();
    let first: Tensor | null = null;
    for (const { x } of new data.DataLoader(ds, { batchSize: 8 })) {
      first = x;
      break;
    }
    expect(first!.isDisposed).toBe(false);
    first!.dispose();
    ds.dispose();
  });
});
