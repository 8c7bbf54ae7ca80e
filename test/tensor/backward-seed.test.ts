// backward(gradient) uses the caller's gradient in place (no output-sized copy, #12)
// and never lets autograd write into it: accumulation is copy-on-write, and a leaf whose
// gradient is the caller's tensor (through pass-through ops) gets its own copy.
import { describe, it, expect } from 'vitest';
import { tensor } from '../../src';

describe('backward(gradient): the seed is shared, never written', () => {
  it('a leaf reached through a pass-through op gets a copy: zeroing its grad leaves the caller’s gradient alone', () => {
    const x = tensor([[1, 2], [3, 4]]).requiresGrad_();
    const g = tensor([10, 20, 30, 40]);
    x.reshape([4]).backward(g);
    expect(x.grad!.toArray()).toEqual([[10, 20], [30, 40]]);
    x.grad!.zero_();
    expect(g.toArray()).toEqual([10, 20, 30, 40]);
  });
  it('two backward passes accumulate into the leaf without touching the gradient', () => {
    const x = tensor([1, 2, 3]).requiresGrad_();
    const y = x.reshape([3]);
    const g = tensor([1, 1, 1]);
    y.backward(g, { retainGraph: true });
    y.backward(g);
    expect(x.grad!.toArray()).toEqual([2, 2, 2]);
    expect(g.toArray()).toEqual([1, 1, 1]);
  });
  it('a gradient that fans out to two paths (accumulated in place inside the graph) is left as given', () => {
    const x = tensor([1, 2]).requiresGrad_();
    const a = x.reshape([2]);
    const y = a.add(a);
    const g = tensor([3, 5]);
    y.backward(g);
    expect(x.grad!.toArray()).toEqual([6, 10]);
    expect(g.toArray()).toEqual([3, 5]);
    g.dispose();
    expect(x.grad!.toArray()).toEqual([6, 10]);
  });
  it('a leaf root given its own gradient copies it', () => {
    const x = tensor([1, 2]).requiresGrad_();
    const g = tensor([7, 8]);
    x.backward(g);
    x.grad!.zero_();
    expect(g.toArray()).toEqual([7, 8]);
  });
});
