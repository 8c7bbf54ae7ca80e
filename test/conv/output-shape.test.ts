// nn.functional.convOutputShape against the shapes conv1d/conv2d/conv3d really
// return (seeded random geometries: stride, dilation, every padding form,
// groups), against the written rule n = ⌊(w + p − k + s)/s⌋ at dilation 1, and
// throwing exactly where the convolution throws.
import { describe, it, expect } from 'vitest';
import { nn, zeros, tidy } from '../../src';
import { makeRng, randInt, pick, type Rng } from '../helpers';

const F = nn.functional;
const convs = [F.conv1d, F.conv2d, F.conv3d];

interface Case {
  x: number[];
  w: number[];
  opts: Record<string, unknown>;
}

function randomCase(r: Rng): Case {
  const nd = randInt(r, 1, 3);
  const groups = pick(r, [1, 1, 2, 3]);
  const C = groups * randInt(r, 1, 2), Cout = groups * randInt(r, 1, 2);
  const sp = Array.from({ length: nd }, () => randInt(r, 1, 9));
  const ks = Array.from({ length: nd }, () => randInt(r, 1, 4));
  const opts: Record<string, unknown> = { groups };
  if (r() < 0.6) opts.stride = r() < 0.5 ? randInt(r, 1, 3) : sp.map(() => randInt(r, 1, 3));
  if (r() < 0.4) opts.dilation = r() < 0.5 ? randInt(r, 1, 2) : sp.map(() => randInt(r, 1, 2));
  const form = randInt(r, 0, 5);
  if (form === 1) opts.padding = randInt(r, 0, 2);
  else if (form === 2) opts.padding = sp.map(() => randInt(r, 0, 2));
  else if (form === 3 && nd > 1) opts.padding = Array.from({ length: 2 * nd }, () => randInt(r, 0, 2));
  else if (form === 4) opts.padding = 'same';
  else if (form === 5) opts.padding = 'valid';
  return { x: [randInt(r, 1, 2), C, ...sp], w: [Cout, C / groups, ...ks], opts };
}

function outcome(fn: () => number[]): { shape?: number[]; error?: string } {
  try {
    return { shape: fn() };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

describe('convOutputShape', () => {
  it('returns the shape the convolution returns, and throws where it throws (600 seeded geometries)', () => {
    const r = makeRng(16);
    let ok = 0, bad = 0;
    for (let i = 0; i < 600; i++) {
      const c = randomCase(r);
      const predicted = outcome(() => F.convOutputShape(c.x, c.w, c.opts));
      const real = outcome(() => tidy(() => convs[c.w.length - 3](zeros(c.x), zeros(c.w), null, c.opts).shape.slice()));
      expect(predicted.shape, JSON.stringify(c)).toEqual(real.shape);
      if (real.error) {
        expect(predicted.error, JSON.stringify(c)).toMatch(/^convOutputShape: /);
        // the same reason, under the helper's name
        const reason = (m: string) => m.replace(/^\w+: /, '').replace(/\s*\([^)]*\)/g, '').replace('weightShape', 'weight').replace('inputShape', 'input');
        expect(reason(predicted.error!)).toBe(reason(real.error));
        bad++;
      } else ok++;
    }
    expect(ok).toBeGreaterThan(300);
    expect(bad).toBeGreaterThan(20);
  });

  it('follows n = ⌊(w + p − k + s)/s⌋ with p the total padding of the dim (dilation 1)', () => {
    const rule = (w: number, p: number, k: number, s: number) => Math.floor((w + p - k + s) / s);
    for (let w = 1; w <= 12; w++)
      for (let k = 1; k <= w + 2; k++)
        for (let s = 1; s <= 4; s++)
          for (let top = 0; top <= 2; top++)
            for (let bottom = 0; bottom <= 2; bottom++) {
              const n = rule(w, top + bottom, k, s);
              const got = outcome(() => F.convOutputShape([1, 1, w, 5], [1, 1, k, 1], { stride: [s, 1], padding: [top, bottom, 0, 0] }));
              if (n < 1) expect(got.error).toMatch(/larger than the padded input/);
              else expect(got.shape).toEqual([1, 1, n, 5]);
            }
  });

  it('works the lesson examples: even kernels, RGB channels, 1×1 convolutions, stride', () => {
    // p = k − 1 = 3 for a 4×4 kernel, split ⌈p/2⌉ = 2 top/left and ⌊p/2⌋ = 1 bottom/right: the size is kept
    expect(F.convOutputShape([1, 1, 28, 28], [6, 1, 4, 4], { padding: [2, 1, 2, 1] })).toEqual([1, 6, 28, 28]);
    expect(F.convOutputShape([1, 1, 28, 28], [6, 1, 4, 4], { padding: 'same' })).toEqual([1, 6, 28, 28]);
    expect(F.convOutputShape([1, 3, 28, 28], [4, 3, 3, 3], { padding: 1 })).toEqual([1, 4, 28, 28]);
    expect(F.convOutputShape([8, 4, 28, 28], [16, 4, 1, 1])).toEqual([8, 16, 28, 28]);
    expect(F.convOutputShape([1, 1, 10000, 10000], [8, 1, 5, 5], { stride: 4, padding: 2 })).toEqual([1, 8, 2500, 2500]);
    expect(F.convOutputShape([2, 1, 100], [3, 1, 7], { stride: 3 })).toEqual([2, 3, 32]);
    expect(F.convOutputShape([2, 1, 8, 16, 32], [4, 1, 3, 5, 5], { padding: [1, 2, 2] })).toEqual([2, 4, 8, 16, 32]);
    expect(F.convOutputShape([0, 1, 5, 5], [2, 1, 3, 3])).toEqual([0, 2, 3, 3]);
  });

  it('rejects bad arguments by name', () => {
    expect(() => F.convOutputShape([1, 1, 5, 5], [1, 1, 3, 3], { strides: 2 } as never)).toThrow(/convOutputShape: unknown option 'strides' \(did you mean 'stride'\?\)/);
    expect(() => F.convOutputShape([1, 1, 5, 5], [1, 1, 3, 3], { padding_mode: 'zeros' } as never)).toThrow(/unknown option 'padding_mode'/);
    expect(() => F.convOutputShape([1, 1, 5, 5], [1, 1, 3, 3], 3 as never)).toThrow(/convOutputShape: options must be an object/);
    expect(() => F.convOutputShape([1, 1, 5, 5], [1, 3, 3])).toThrow(/a 3-d weight needs a 3-d inputShape/);
    expect(() => F.convOutputShape([1, 1, 5, 5, 5, 5], [1, 1, 3, 3, 3, 3])).toThrow(/weightShape must have 3, 4 or 5 dims/);
    expect(() => F.convOutputShape([1, 2, 5, 5], [1, 1, 3, 3])).toThrow(/input has 2 channels but weight expects 1/);
    expect(() => F.convOutputShape([1, 1, 5, 5], [1, 1, 0, 3])).toThrow(/empty kernel/);
    expect(() => F.convOutputShape([1, 1, 2.5, 5], [1, 1, 3, 3])).toThrow(/inputShape\[2\] must be a non-negative integer, got 2.5/);
    expect(() => F.convOutputShape('1,1,5,5' as never, [1, 1, 3, 3])).toThrow(/inputShape must be an array/);
    expect(() => F.convOutputShape([1, 1, 5, 5], [1, 1, 3, 3], { stride: 0 })).toThrow(/stride must hold integers >= 1/);
    expect(() => F.convOutputShape([1, 1, 5, 5], [1, 1, 3, 3], { stride: 2, padding: 'same' })).toThrow(/padding 'same' needs stride 1/);
    expect(() => F.convOutputShape([1, 1, 5, 5], [1, 1, 3, 3], { groups: 0 })).toThrow(/groups must be a positive integer/);
    expect(() => F.convOutputShape([1, 1, 65536, 65536], [1, 1, 1, 1])).toThrow(RangeError);
  });
});
