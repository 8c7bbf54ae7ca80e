// Native memory: dispose, views, tidy, `using`, GC finalizers and V8 external memory.
import { describe, it, expect } from 'vitest';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { tensor, zeros, ones, rand, tidy, keep, dispose, memoryInfo, Tensor, noGrad } from '../../src';

const ROOT = path.resolve(__dirname, '..', '..');
const DIST = path.join(ROOT, 'dist', 'index.js');
const live = () => memoryInfo().liveBytes;

describe('dispose()', () => {
  it('frees native memory at once (liveBytes goes down)', () => {
    const before = live();
    const t = zeros(1000);
    const during = live();
    expect(during - before).toBeGreaterThanOrEqual(4000);
    expect(t.isDisposed).toBe(false);
    t.dispose();
    expect(t.isDisposed).toBe(true);
    expect(live()).toBeLessThanOrEqual(before);
    expect(during - live()).toBeGreaterThanOrEqual(4000);
  });

  it('double dispose is harmless (and does not release shared storage twice)', () => {
    const a = ones(500);
    const v = a.view(-1);
    const before = live();
    v.dispose();
    v.dispose();
    v[Symbol.dispose]();
    expect(live()).toBe(before); // `a` still holds the storage
    expect(Array.from(a.data().subarray(0, 3))).toEqual([1, 1, 1]);
    a.dispose();
    a.dispose();
    expect(live()).toBeLessThan(before);
    const base = live();
    const b = ones(500);
    b.dispose();
    b.dispose();
    expect(live()).toBe(base);
  });

  it('using a disposed tensor throws an Error mentioning "disposed"', () => {
    const other = tensor([[1, 2], [3, 4]]);
    const mk = () => {
      const t = tensor([[1, 2], [3, 4]]);
      t.dispose();
      return t;
    };
    const uses: [string, (d: Tensor) => unknown][] = [
      ['data', (d) => d.data()],
      ['toArray', (d) => d.toArray()],
      ['item', (d) => d.item()],
      ['add', (d) => d.add(1)],
      ['add other', (d) => other.add(d)],
      ['sub', (d) => d.sub(other)],
      ['sub other', (d) => other.sub(d)],
      ['mul', (d) => d.mul(2)],
      ['mul other', (d) => other.mul(d)],
      ['div', (d) => d.div(2)],
      ['div other', (d) => other.div(d)],
      ['pow', (d) => d.pow(2)],
      ['pow other', (d) => other.pow(d)],
      ['neg', (d) => d.neg()],
      ['exp', (d) => d.exp()],
      ['log', (d) => d.log()],
      ['sqrt', (d) => d.sqrt()],
      ['abs', (d) => d.abs()],
      ['relu', (d) => d.relu()],
      ['sigmoid', (d) => d.sigmoid()],
      ['tanh', (d) => d.tanh()],
      ['maximum', (d) => d.maximum(0)],
      ['minimum other', (d) => other.minimum(d)],
      ['clamp', (d) => d.clamp(0, 1)],
      ['gt', (d) => d.gt(0)],
      ['eq other', (d) => other.eq(d)],
      ['matmul', (d) => d.matmul(other)],
      ['matmul other', (d) => other.matmul(d)],
      ['sum', (d) => d.sum()],
      ['sum dim', (d) => d.sum(0)],
      ['mean', (d) => d.mean()],
      ['max', (d) => d.max()],
      ['max dim', (d) => d.max(1)],
      ['argmax', (d) => d.argmax()],
      ['softmax', (d) => d.softmax(0)],
      ['logSoftmax', (d) => d.logSoftmax(1)],
      ['reshape', (d) => d.reshape(-1)],
      ['view', (d) => d.view(4)],
      ['flatten', (d) => d.flatten()],
      ['squeeze', (d) => d.squeeze()],
      ['unsqueeze', (d) => d.unsqueeze(0)],
      ['transpose', (d) => d.transpose(0, 1)],
      ['permute', (d) => d.permute(1, 0)],
      ['T', (d) => d.T],
      ['contiguous', (d) => d.contiguous()],
      ['clone', (d) => d.clone()],
      ['detach', (d) => d.detach()],
      ['requiresGrad_', (d) => d.requiresGrad_()],
      ['fill_', (d) => d.fill_(1)],
      ['zero_', (d) => d.zero_()],
      ['copy_ dst', (d) => d.copy_(other)],
      ['copy_ src', (d) => other.clone().copy_(d)],
      ['backward', (d) => d.backward()],
    ];
    for (const [name, use] of uses) {
      const d = mk();
      let err: unknown = null;
      try {
        use(d);
      } catch (e) {
        err = e;
      }
      expect(err, `${name} on a disposed tensor should throw`).toBeInstanceOf(Error);
      expect((err as Error).message, name).toMatch(/disposed/);
    }
    other.dispose();
  });

  it('disposing a tensor disposes its .grad', () => {
    const w = tensor([1, 2, 3]).requiresGrad_();
    w.mul(2).sum().backward();
    const g = w.grad!;
    expect(g).not.toBeNull();
    w.dispose();
    expect(g.isDisposed).toBe(true);
    expect(w.grad).toBeNull();
  });

  it('dispose(value) disposes tensors nested in arrays, objects and Maps', () => {
    const a = zeros(3), b = zeros(3), c = zeros(3), d = zeros(3);
    dispose([a, { b, inner: [c] }, new Map([['d', d]]), 5, 'x', null]);
    expect([a, b, c, d].every((t) => t.isDisposed)).toBe(true);
  });
});

describe('views share storage', () => {
  const viewMakers: [string, (t: Tensor) => Tensor][] = [
    ['reshape', (t) => t.reshape(10, 100)],
    ['view', (t) => t.view(-1, 10)],
    ['flatten', (t) => t.flatten()],
    ['unsqueeze', (t) => t.unsqueeze(0)],
    ['squeeze', (t) => t.squeeze()],
    ['detach', (t) => t.detach()],
  ];
  for (const [name, mk] of viewMakers) {
    it(`${name}: storage stays alive until the last view is disposed`, () => {
      const before = live();
      const a = ones(1000, 1);
      const v = mk(a);
      const allocated = live() - before;
      expect(allocated).toBeGreaterThanOrEqual(4000);
      a.dispose();
      expect(live() - before).toBe(allocated); // v still uses it
      expect(v.data().every((x) => x === 1)).toBe(true);
      expect(tidy(() => v.sum().item())).toBe(1000);
      v.dispose();
      expect(live()).toBeLessThanOrEqual(before);
    });
  }

  it('a chain of views, disposed in any order', () => {
    const before = live();
    const a = ones(2, 3, 4);
    const b = a.reshape(6, 4);
    const c = b.view(24);
    const d = c.unsqueeze(0);
    const mid = live();
    b.dispose();
    d.dispose();
    expect(live()).toBe(mid);
    expect(Array.from(c.data())).toEqual(new Array(24).fill(1));
    a.dispose();
    expect(live()).toBe(mid);
    c.dispose();
    expect(live()).toBeLessThanOrEqual(before);
  });
});

describe('every op frees everything once its visible inputs and outputs are disposed', () => {
  // No op may keep hidden native tensors alive after the user disposed all it
  // returned (hidden scalars, intermediate products, internal views...).
  const cases: [string, () => Tensor[]][] = [
    ['add tensor', () => { const a = rand([4, 5]), b = rand([5]); return [a, b, a.add(b)]; }],
    ['add scalar', () => { const a = rand([4, 5]); return [a, a.add(2)]; }],
    ['add with alpha', () => { const a = rand([4, 5]), b = rand([4, 5]); return [a, b, a.add(b, 3)]; }],
    ['sub with alpha', () => { const a = rand([4, 5]), b = rand([4, 5]); return [a, b, a.sub(b, 0.5)]; }],
    ['mul scalar', () => { const a = rand([4, 5]); return [a, a.mul(3)]; }],
    ['div tensor', () => { const a = rand([4, 5]), b = rand([4, 5], 1, 2); return [a, b, a.div(b)]; }],
    ['div scalar', () => { const a = rand([4, 5]); return [a, a.div(2)]; }],
    ['pow scalar', () => { const a = rand([4, 5]); return [a, a.pow(3)]; }],
    ['pow tensor', () => { const a = rand([4, 5]), b = rand([4, 5]); return [a, b, a.pow(b)]; }],
    ['exp', () => { const a = rand([4, 5]); return [a, a.exp()]; }],
    ['maximum tensor', () => { const a = rand([4, 5]), b = rand([4, 5]); return [a, b, a.maximum(b)]; }],
    ['maximum scalar', () => { const a = rand([4, 5]); return [a, a.maximum(0.5)]; }],
    ['minimum scalar', () => { const a = rand([4, 5]); return [a, a.minimum(0.5)]; }],
    ['clamp(min, max)', () => { const a = rand([4, 5]); return [a, a.clamp(0.2, 0.8)]; }],
    ['gt scalar', () => { const a = rand([4, 5]); return [a, a.gt(0.5)]; }],
    ['sum / mean', () => { const a = rand([4, 5]); return [a, a.sum(), a.mean(1, true)]; }],
    ['max(dim)', () => { const a = rand([4, 5]); const { values, indices } = a.max(1); return [a, values, indices, a.max()]; }],
    ['argmax', () => { const a = rand([4, 5]); return [a, a.argmax(), a.argmax(0)]; }],
    ['softmax', () => { const a = rand([4, 5]); return [a, a.softmax(1), a.logSoftmax(0)]; }],
    ['matmul 2-D', () => { const a = rand([4, 5]), b = rand([5, 3]); return [a, b, a.matmul(b)]; }],
    ['matmul batched', () => { const a = rand([2, 4, 5]), b = rand([5, 3]); return [a, b, a.matmul(b)]; }],
    ['matmul vector·matrix', () => { const a = rand([5]), b = rand([5, 3]); return [a, b, a.matmul(b)]; }],
    ['matmul matrix·vector', () => { const a = rand([4, 5]), b = rand([5]); return [a, b, a.matmul(b)]; }],
    ['matmul vector·vector', () => { const a = rand([5]), b = rand([5]); return [a, b, a.matmul(b)]; }],
    ['reshape / transpose / clone', () => { const a = rand([4, 5]); return [a, a.reshape(20), a.transpose(0, 1), a.clone()]; }],
    ['backward of a small graph', () => {
      const w = rand([3, 3]).requiresGrad_(), x = rand([3, 2]);
      const h = w.matmul(x), r = h.relu(), loss = r.sum();
      loss.backward();
      return [w, x, h, r, loss];
    }],
  ];
  for (const [name, run] of cases) {
    it(name, () => {
      const before = live();
      const ts = run();
      for (const t of ts) t.dispose();
      expect(live(), `${name}: liveBytes after disposing every input and output`).toBeLessThanOrEqual(before);
    });
  }
});

describe('tidy()', () => {
  it('disposes intermediates but not the returned tensor', () => {
    const before = live();
    let a!: Tensor, b!: Tensor;
    const c = tidy(() => {
      a = rand([100]);
      b = a.add(1);
      return b.mul(2).exp();
    });
    expect(a.isDisposed).toBe(true);
    expect(b.isDisposed).toBe(true);
    expect(c.isDisposed).toBe(false);
    expect(c.shape).toEqual([100]);
    c.dispose();
    expect(live()).toBeLessThanOrEqual(before);
  });

  it('keeps tensors returned in arrays, plain objects and Maps', () => {
    let tmp!: Tensor;
    const r = tidy(() => {
      tmp = zeros(2);
      const x = ones(2), y = ones(3), z = ones(4), m = ones(5);
      return { x, nested: [y, { z }], map: new Map([['m', m]]), n: 3 };
    });
    expect(tmp.isDisposed).toBe(true);
    const kept = [r.x, r.nested[0] as Tensor, (r.nested[1] as { z: Tensor }).z, r.map.get('m')!];
    for (const t of kept) expect(t.isDisposed).toBe(false);
    expect(r.n).toBe(3);
    dispose(r);
    for (const t of kept) expect(t.isDisposed).toBe(true);
    const arr = tidy(() => [ones(1), ones(2)]);
    expect(arr.every((t) => !t.isDisposed)).toBe(true);
    dispose(arr);
  });

  it('returns non-tensor values unchanged', () => {
    expect(tidy(() => 42)).toBe(42);
    expect(tidy(() => ones(3).sum().item())).toBe(3);
    expect(tidy(() => undefined)).toBeUndefined();
  });

  it('nested scopes: a tensor returned from an inner tidy belongs to the outer one', () => {
    let inner!: Tensor, innerTmp!: Tensor;
    const out = tidy(() => {
      inner = tidy(() => {
        innerTmp = ones(3);
        return innerTmp.add(1);
      });
      expect(innerTmp.isDisposed).toBe(true);
      expect(inner.isDisposed).toBe(false);
      return inner.mul(2);
    });
    expect(inner.isDisposed).toBe(true);
    expect(out.toArray()).toEqual([4, 4, 4]);
    out.dispose();
  });

  it('keep() lets a tensor outlive the scope', () => {
    let k!: Tensor, d!: Tensor;
    tidy(() => {
      k = keep(ones(2));
      d = ones(2);
    });
    expect(k.isDisposed).toBe(false);
    expect(d.isDisposed).toBe(true);
    k.dispose();
  });

  it('disposes everything when fn throws, and rethrows the same error', () => {
    const before = live();
    let a!: Tensor, b!: Tensor;
    const boom = new Error('boom');
    expect(() =>
      tidy(() => {
        a = rand([256]);
        b = a.mul(a);
        throw boom;
      }),
    ).toThrow(boom);
    expect(a.isDisposed).toBe(true);
    expect(b.isDisposed).toBe(true);
    expect(live()).toBeLessThanOrEqual(before);
    // a throwing op inside tidy
    let c!: Tensor;
    expect(() => tidy(() => {
      c = ones(2, 3);
      return c.matmul(ones(2, 3));
    })).toThrow(/matmul/);
    expect(c.isDisposed).toBe(true);
  });

  it('rejects async functions (TypeError) and disposes what they made synchronously', async () => {
    let a!: Tensor;
    let err: unknown;
    try {
      tidy((async () => {
        a = ones(4);
        await Promise.resolve();
        return a;
      }) as unknown as () => Tensor);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TypeError);
    expect((err as Error).message).toMatch(/tidy/);
    expect(a.isDisposed).toBe(true);
    await new Promise((r) => setImmediate(r)); // let the async body finish harmlessly
  });

  it('leaves that requiresGrad_() survive, and so do their gradients', () => {
    let w!: Tensor, x!: Tensor, y!: Tensor;
    tidy(() => {
      w = rand([3]).requiresGrad_();
      x = rand([3]);
      y = w.mul(x).sum();
      y.backward();
    });
    expect(w.isDisposed).toBe(false);
    expect(w.grad).not.toBeNull();
    expect(w.grad!.isDisposed).toBe(false);
    expect(x.isDisposed).toBe(true);
    expect(y.isDisposed).toBe(true);
    w.dispose();
  });

  it('a training-style loop inside tidy returns liveBytes to baseline', () => {
    const w = rand([16, 8]).requiresGrad_();
    const before = live();
    for (let step = 0; step < 20; step++) {
      tidy(() => {
        const x = rand([4, 16]);
        const loss = x.matmul(w).relu().logSoftmax(1).mean();
        loss.backward();
        noGrad(() => {
          const upd = w.grad!.mul(0.01);
          w.detach().copy_(w.sub(upd));
        });
        w.grad!.zero_();
      });
    }
    // w.grad exists now (allocated once); nothing else is left over
    const gradBytes = 16 * 8 * 4;
    expect(live() - before).toBeLessThanOrEqual(gradBytes + 64);
    w.dispose();
  });
});

describe('using (Symbol.dispose)', () => {
  it('disposes at the end of the block', () => {
    const before = live();
    let seen!: Tensor;
    {
      using t = ones(1000);
      seen = t;
      expect(t.sum().item()).toBe(1000);
    }
    expect(seen.isDisposed).toBe(true);
    // t.sum() above is not disposed by `using`; dispose the rest explicitly
    expect(live() - before).toBeLessThan(4000);
  });

  it('Symbol.dispose can be called explicitly', () => {
    const t = ones(10);
    expect(typeof t[Symbol.dispose]).toBe('function');
    t[Symbol.dispose]();
    expect(t.isDisposed).toBe(true);
  });
});

describe('GC and V8 external memory', () => {
  it.skipIf(!fs.existsSync(DIST))('forgotten tensors are freed by the GC finalizer (child node --expose-gc on dist/)', () => {
    const script = `
      const b = require(${JSON.stringify(path.join(ROOT, 'dist'))});
      const tick = () => new Promise((r) => setImmediate(r));
      (async () => {
        const base = b.memoryInfo().liveBytes;
        for (let i = 0; i < 2000; i++) {
          const t = b.zeros(1000);
          const u = t.add(1).mul(2);
          if (i % 3 === 0) u.reshape(-1).sum();
        }
        (function () { b.rand([100, 100]).matmul(b.rand([100, 100])).relu(); })();
        const allocated = 2000 * 3 * 4032;
        for (let k = 0; k < 6; k++) { global.gc(); await tick(); }
        const after = b.memoryInfo().liveBytes;
        console.log(JSON.stringify({ base, after, allocated }));
      })().catch((e) => { console.error(e); process.exit(1); });
    `;
    const out = execFileSync(process.execPath, ['--expose-gc', '-e', script], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    const { base, after, allocated } = JSON.parse(out.trim().split('\n').pop()!);
    expect(after - base, `liveBytes after gc (allocated ${allocated})`).toBeLessThan(256 * 1024);
  });

  it.skipIf(!fs.existsSync(DIST))('external-memory pressure triggers GC without explicit gc() (1 GiB of forgotten 1 MiB tensors)', () => {
    const script = `
      const b = require(${JSON.stringify(path.join(ROOT, 'dist'))});
      const tick = () => new Promise((r) => setImmediate(r));
      (async () => {
        let peak = 0;
        for (let i = 0; i < 1024; i++) {
          b.zeros(256 * 1024);
          if (i % 16 === 0) await tick();
          peak = Math.max(peak, b.memoryInfo().liveBytes);
        }
        console.log(JSON.stringify({ peak }));
      })().catch((e) => { console.error(e); process.exit(1); });
    `;
    const out = execFileSync(process.execPath, ['-e', script], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    const { peak } = JSON.parse(out.trim().split('\n').pop()!);
    expect(peak).toBeLessThan(512 * 1024 * 1024);
  });
});
