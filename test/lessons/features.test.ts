// Lesson 5 (examples/lessons/features.mjs) on its CI subset: receptive fields
// grow with depth (checked by input gradients), and each strong conv2 channel's
// top-k patches share a pattern.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { runLesson, type LessonRun } from './run-lesson';

let run: LessonRun;
beforeAll(() => {
  run = runLesson('features');
}, 300_000);
afterAll(() => run?.cleanup());

describe('lesson features', () => {
  it('trains a LeNet that works', () => {
    expect(run.results.accuracy).toBeGreaterThan(0.8);
  });

  it('receptive fields grow 5 → 6 → 14 → 16 → the whole digit, and input gradients stay inside them', () => {
    expect(run.results.receptiveFields.map((l: { size: number }) => l.size)).toEqual([5, 6, 14, 16, 28]);
    const [c1, c2] = run.results.gradientChecks;
    for (const c of [c1, c2]) {
      expect(c.inside).toBe(true);
      expect(c.gradient.rows[0]).toBeGreaterThanOrEqual(c.field[0]);
      expect(c.gradient.rows[1]).toBeLessThanOrEqual(c.field[1]);
    }
    // the conv2 unit's gradient reaches further than any conv1 unit can
    expect(c2.gradient.rows[1] - c2.gradient.rows[0] + 1).toBeGreaterThan(5);
    expect(c2.gradient.cols[1] - c2.gradient.cols[0] + 1).toBeGreaterThan(5);
  });

  it('the top-k patches of each strong conv2 channel are alike, far more than random patches', () => {
    const s = run.results.strongest as { similarity: number; baseline: number; top: { value: number }[] }[];
    expect(s.length).toBe(6);
    for (const c of s) {
      expect(c.similarity).toBeGreaterThan(c.baseline);
      expect(c.top.length).toBe(run.results.topK);
      for (let i = 1; i < c.top.length; i++) expect(c.top[i].value).toBeLessThanOrEqual(c.top[i - 1].value);
    }
    const mean = (k: 'similarity' | 'baseline') => s.reduce((a, c) => a + c[k], 0) / s.length;
    expect(mean('similarity') - mean('baseline')).toBeGreaterThan(0.25);
  });

  it('writes the feature maps, the kernels and the top patches', () => {
    for (const f of ['conv1-maps.png', 'conv2-maps.png', 'conv1-kernels.png']) expect(run.wrote(f)).toBe(true);
    expect(run.png('conv2-top-patches.png').height).toBeGreaterThan(6 * 14 * 4);
  });
});
