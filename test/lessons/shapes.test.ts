// Lessons 3 and 4 (examples/lessons/shapes.mjs, parameters.mjs): the output-size
// rule against convOutputShape and real convolutions, and LeNet's parameters
// derived layer by layer against summary().
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { models } from '../../src';
import { runLesson, type LessonRun } from './run-lesson';

let shapes: LessonRun, params: LessonRun;
beforeAll(() => {
  shapes = runLesson('shapes');
  params = runLesson('parameters');
}, 300_000);
afterAll(() => {
  shapes?.cleanup();
  params?.cleanup();
});

describe('lesson shapes', () => {
  it('every row: the rule n = ⌊(w + p − k + s)/s⌋, convOutputShape and the convolution agree', () => {
    const { rows } = shapes.results;
    expect(rows.length).toBeGreaterThanOrEqual(12);
    for (const r of rows) {
      const nd = r.input.length - 2;
      const st = [].concat(r.options.stride ?? 1) as number[], d = r.options.dilation ?? 1;
      const expected = [r.input[0], r.weight[0], ...r.input.slice(2).map((w: number, i: number) => {
        const k = d * (r.weight[2 + i] - 1) + 1, s = st.length === nd ? st[i] : st[0];
        return Math.floor((w + r.pads[i] - k + s) / s);
      })];
      expect(r.conv, r.name).toEqual(expected);
      expect(r.convOutputShape, r.name).toEqual(expected);
    }
  });

  it('works the notes’ cases: even kernels keep the size, RGB 3×28×28 → 4×28×28, 1×1 changes only channels', () => {
    const row = (re: RegExp) => shapes.results.rows.filter((r: { name: string }) => re.test(r.name));
    for (const r of row(/even k 4/)) expect(r.conv).toEqual([1, 1, 28, 28]);
    expect(row(/RGB/)[0].conv).toEqual([1, 4, 28, 28]);
    expect(row(/RGB/)[0].params).toBe(4 * 3 * 3 * 3 + 4);
    for (const r of row(/1×1/)) {
      expect(r.conv.slice(2)).toEqual(r.input.slice(2));
      expect(r.conv[1]).toBe(r.weight[0]);
    }
    expect(shapes.results.evenPaddingShiftMaxDiff).toBeLessThan(1e-5);
    expect(shapes.results.oneByOneVsMatmulMaxDiff).toBeLessThan(1e-4);
    expect(shapes.stdout).toMatch(/agree/);
    expect(shapes.stdout).not.toMatch(/\bNO\b/);
  });
});

describe('lesson parameters', () => {
  it('derives every layer’s count and output shape as summary() reports them, 61,706 in all', () => {
    for (const variant of ['modern', 'classic'] as const) {
      const v = params.results.variants[variant];
      expect(v.total).toBe(61706);
      expect(v.summaryTotal).toBe(61706);
      expect(v.convParams + v.fcParams).toBe(v.total);
      // the model's own tensors, grouped by layer, as the independent count
      const perLayer = new Map<string, number>();
      const m = models.LeNet({ variant });
      for (const [name, p] of m.namedParameters()) perLayer.set(name.split('.')[0], (perLayer.get(name.split('.')[0]) ?? 0) + p.numel);
      m.dispose();
      for (const r of v.rows) {
        expect(r.ok, r.name).toBe(true);
        expect(r.params, r.name).toBe(perLayer.get(r.name) ?? 0);
        if (!['Conv2d', 'Linear'].includes(r.type)) expect(r.params).toBe(0);
        expect(r.shape).toEqual(r.summaryShape);
      }
    }
  });
});
