// Graph lifetime across tidy() and disposal of op outputs.
import { describe, it, expect } from 'vitest';
import { tensor, tidy, memoryInfo } from '../../src';

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
