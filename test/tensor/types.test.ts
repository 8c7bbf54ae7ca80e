// TypeScript-level API checks: code a PyTorch user writes must type-check
// without casts — shapes are readonly number[] and every shape-taking function
// accepts them (x.view(t.shape)); modules are callable (model(x)); the new
// ops are typed. Compiled with the TypeScript compiler API against src/.
import { describe, it, expect } from 'vitest';
import { typeErrors as typeErrorsIn } from '../helpers/typecheck';

const typeErrors = (code: string): string[] => typeErrorsIn(code, 'tensor');

describe('types', () => {
  it('readonly shapes, callable modules and the new ops type-check without casts; misuse does not', () => {
    const ok = `
      import { zeros, ones, full, tensor, rand, randn, arange, cat, stack, where, nn, optim, type Tensor } from '../../src';
      const t = zeros(2, 3);
      const s: readonly number[] = t.shape;
      const a: Tensor[] = [arange(6).view(t.shape), arange(6).reshape(s), zeros(s), ones(t.shape), full(t.shape, 1), rand(s), randn(s), tensor(new Float32Array(6), s)];
      const b: Tensor = arange(6).viewAs(t).index(':', '1:', null).select(0, 0).narrow(0, 0, 1);
      const c: Tensor[] = [cat(a, 0), stack(a), where(t.gt(0), t, 0), t.gather(1, zeros(2, 1)), ...t.split(1), ...t.chunk(2, 1), ...t.unbind()];
      const n: number = t.size(0) + t.size().length;
      class Net extends nn.Module { fc = new nn.Linear(3, 1); forward(x: Tensor): Tensor { return this.fc(x); } }
      const net = new Net();
      const y: Tensor = net(t);
      const opt = new optim.SGD(net.parameters(), { lr: 0.1 });
      opt.paramGroups[0].lr = 0.01;
      const m: number = opt.paramGroups[0].momentum;
      void [b, c, n, y, m];
    `;
    expect(typeErrors(ok)).toEqual([]);
    const bad = `
      import { zeros, optim, nn } from '../../src';
      const t = zeros(2, 3);
      t.view('2, 3');
      new optim.SGD(new nn.Linear(1, 1).parameters(), { lr: 0.1, weight_decay: 0.1 });
      const s: number[] = t.shape;
      void s;
    `;
    const errs = typeErrors(bad);
    expect(errs.some((e) => /'"2, 3"' is not assignable/.test(e) || /Argument of type 'string'/.test(e))).toBe(true);
    expect(errs.some((e) => /weight_decay/.test(e))).toBe(true);
    expect(errs.some((e) => /readonly/.test(e))).toBe(true);
  }, 120_000);
});
