// Lesson 8 (examples/lessons/huge-image.mjs) on its CI subset (a 2,000 × 2,000
// image): the strided pipeline's shapes follow the rule, stride equals the
// dense convolution subsampled, and the memory it reports is bounded.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { runLesson, type LessonRun } from './run-lesson';

let run: LessonRun;
beforeAll(() => {
  run = runLesson('huge-image');
}, 300_000);
afterAll(() => run?.cleanup());

describe('lesson huge-image', () => {
  it('runs the strided pipeline with the shapes of the output-size rule', () => {
    const { size, stages } = run.results;
    expect(size).toBe(2000);
    const n1 = Math.floor((size + 4 - 5 + 4) / 4), n2 = Math.floor(n1 / 4), n3 = Math.floor((n2 + 2 - 3 + 2) / 2);
    expect(stages.map((s: { shape: number[] }) => s.shape)).toEqual([[1, 8, n1, n1], [1, 8, n1, n1], [1, 8, n2, n2], [1, 4, n3, n3]]);
    for (const s of stages) {
      if (s.rule) expect(s.rule).toEqual(s.shape);
      expect(s.seconds).toBeGreaterThanOrEqual(0);
    }
    expect(run.results.denseFirstLayerShape).toEqual([1, 8, size, size]);
  });

  it('a stride-4 convolution is the dense one sampled every 4th pixel', () => {
    expect(run.results.strideVsDenseMaxDiff).toBeLessThan(1e-4);
  });

  it('reports memory: the first convolution needs no more than its output and the 64 MiB workspace bound (+ 16 MB slack)', () => {
    const { stages, peakMB, startMB } = run.results;
    expect(peakMB).toBeGreaterThan(startMB);
    const first = stages[0];
    expect(first.peakMB - first.rssBeforeMB).toBeLessThan(first.outMB + 64 + 16);
    for (const s of stages) expect(s.peakMB).toBeGreaterThanOrEqual(s.rssBeforeMB - 1);
    expect(run.stdout).toMatch(/peak RSS \d+ MB/);
  });

  it('writes the downsampled picture', () => {
    const png = run.png('satellite.png');
    expect(png.width).toBe(2 * run.results.picture + 6);
    expect(png.height).toBe(run.results.picture + 4);
  });
});
