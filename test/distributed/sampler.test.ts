// DistributedSampler: PyTorch's shard semantics (padding, dropLast, rank r takes
// positions r, r+K, ...), the same shuffle on every rank, and the property the
// data-parallel trajectory rests on: with per-rank batch B/K, the K ranks' batch b
// together holds exactly the single-process loader's batch b. No MPI needed.
import { describe, expect, it } from 'vitest';
import { data, distributed, tensor } from '../../src';
const { TensorDataset } = data;
import { fixture } from '../helpers';

// torch.utils.data.DistributedSampler.__iter__, written out for a given epoch order.
function naiveShard(order: ArrayLike<number>, K: number, rank: number, dropLast: boolean): number[] {
  const n = order.length;
  let indices = Array.from(order);
  const numSamples = dropLast && n % K !== 0 ? Math.max(0, Math.ceil((n - K) / K)) : Math.ceil(n / K);
  const total = numSamples * K;
  if (!dropLast) {
    const pad = total - n;
    if (pad <= n) indices = indices.concat(indices.slice(0, pad));
    else indices = indices.concat(Array.from({ length: Math.ceil(pad / n) }, () => indices).flat().slice(0, pad));
  } else {
    indices = indices.slice(0, total);
  }
  const out: number[] = [];
  for (let i = rank; i < total; i += K) out.push(indices[i]);
  return out;
}

describe('DistributedSampler', () => {
  it('matches PyTorch shard semantics for every size, rank count and dropLast (shuffled orders too)', () => {
    for (const n of [0, 1, 2, 3, 5, 7, 10, 16, 17])
      for (const K of [1, 2, 3, 4, 8])
        for (const dropLast of [false, true])
          for (const shuffle of [false, true])
            for (const epoch of [0, 3]) {
              const shards = Array.from({ length: K }, (_, r) => {
                const s = new distributed.DistributedSampler(n, { numReplicas: K, rank: r, shuffle, seed: 11, dropLast });
                s.setEpoch(epoch);
                const got = Array.from(s.indices());
                expect(got.length).toBe(s.length);
                expect(got).toEqual(naiveShard(data.epochOrder(n, shuffle, 11, epoch), K, r, dropLast));
                return got;
              });
              if (!dropLast && n > 0) expect(new Set(shards.flat()).size).toBe(n); // every sample, some twice
            }
  });

  it('agrees with torch.utils.data.DistributedSampler (shuffle=False; test/fixtures/gen_distributed_sampler.py)', () => {
    const { cases } = fixture<{ cases: { n: number; numReplicas: number; dropLast: boolean; shards: number[][] }[] }>('distributed_sampler.json');
    expect(cases.length).toBe(90);
    for (const { n, numReplicas: K, dropLast, shards } of cases)
      for (let rank = 0; rank < K; rank++)
        expect(Array.from(new distributed.DistributedSampler(n, { numReplicas: K, rank, shuffle: false, dropLast }).indices()), `n ${n} K ${K} rank ${rank} dropLast ${dropLast}`).toEqual(shards[rank]);
  });

  it('the ranks\' batch b together is the single-process batch b (per-rank batch B/K)', () => {
    const n = 50, B = 8, seed = 3;
    const ds = new TensorDataset(tensor(Array.from({ length: n }, (_, i) => i)).reshape([n, 1]), tensor(new Array(n).fill(0)));
    const single = new data.DataLoader(ds, { batchSize: B, shuffle: true, seed });
    for (const K of [2, 4]) {
      for (const epoch of [0, 1, 5]) {
        const whole = single.order(epoch);
        const loaders = Array.from({ length: K }, (_, r) => new data.DataLoader(ds, { batchSize: B / K, sampler: new distributed.DistributedSampler(ds, { numReplicas: K, rank: r, seed }) }));
        const shards = loaders.map((l) => l.order(epoch)); // order() calls sampler.setEpoch(epoch)
        const batches = Math.ceil(n / B);
        expect(loaders[0].length).toBe(batches);
        for (let b = 0; b < batches - 1; b++) { // the last one is padded
          const got = shards.flatMap((s) => Array.from(s.subarray(b * (B / K), (b + 1) * (B / K)))).sort((x, y) => x - y);
          expect(got).toEqual(Array.from(whole.subarray(b * B, (b + 1) * B)).sort((x, y) => x - y));
        }
      }
    }
    ds.dispose();
  });

  it('a DataLoader iterates its shard, epoch by epoch', () => {
    const n = 9;
    const ds = new TensorDataset(tensor(Array.from({ length: n }, (_, i) => i)).reshape([n, 1]), tensor(new Array(n).fill(0)));
    const s = new distributed.DistributedSampler(ds, { numReplicas: 2, rank: 1, seed: 4 });
    const loader = new data.DataLoader(ds, { batchSize: 2, sampler: s });
    for (let e = 0; e < 2; e++) {
      const seen: number[] = [];
      for (const { x } of loader) seen.push(...x.data());
      expect(s.epoch).toBe(e);
      expect(seen).toEqual(naiveShard(data.epochOrder(n, true, 4, e), 2, 1, false));
    }
    ds.dispose();
  });

  it('rejects what it cannot use, naming it', () => {
    expect(() => new distributed.DistributedSampler(10)).toThrow(/pass numReplicas and rank, or call distributed.init\(\) first/);
    expect(() => new distributed.DistributedSampler(10, { numReplicas: 2, rank: 2 })).toThrow(/rank must be an integer in \[0, 1\], got 2/);
    expect(() => new distributed.DistributedSampler(10, { numReplicas: 0, rank: 0 })).toThrow(/numReplicas must be a positive integer/);
    expect(() => new distributed.DistributedSampler(10, { numReplicas: 2, rank: 0, sead: 1 } as never)).toThrow(/sead/);
    expect(() => new distributed.DistributedSampler('x' as never, { numReplicas: 2, rank: 0 })).toThrow(/expected a dataset/);
    const ds = new TensorDataset(tensor([[1], [2]]), tensor([0, 0]));
    const sampler = new distributed.DistributedSampler(ds, { numReplicas: 2, rank: 0 });
    expect(() => new data.DataLoader(ds, { sampler, shuffle: true })).toThrow(/sampler and shuffle are mutually exclusive/);
    expect(() => new data.DataLoader(ds, { sampler: {} as never })).toThrow(/sampler must have/);
    expect(() => new data.DataLoader(ds, { sampler: { length: 1, indices: () => [5] } }).order(0)).toThrow(/the sampler gave index 5, but the dataset has 2 samples/);
    ds.dispose();
  });
});
