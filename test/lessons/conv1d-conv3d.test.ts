// Lesson 7 (examples/lessons/conv1d-conv3d.mjs) on its CI subset: conv1d finds
// a motif at any position in time; only kernels that span frames tell a
// video's direction of motion.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { runLesson, type LessonRun } from './run-lesson';

let run: LessonRun;
beforeAll(() => {
  run = runLesson('conv1d-conv3d');
}, 300_000);
afterAll(() => run?.cleanup());

describe('lesson conv1d-conv3d', () => {
  it('conv1d finds the motif anywhere, also at positions it never saw; the MLP does not', () => {
    const [conv, mlp] = run.results.sequences.rows;
    expect(conv.model).toMatch(/conv1d/);
    expect(Math.abs(conv.params - mlp.params) / conv.params).toBeLessThan(0.1);
    expect(conv.anywhere).toBeGreaterThan(0.8);
    expect(conv.anywhere - mlp.anywhere).toBeGreaterThan(0.3);
    expect(conv.unseenPositions).toBeGreaterThan(conv.seenPositions - 0.1);
    expect(mlp.unseenPositions).toBeLessThan(0.45); // 4 classes: chance is 25%
  });

  it('conv3d tells left from right; a frame-wise 2-D model stays at chance', () => {
    const [c3, c2] = run.results.video.rows;
    expect(c3.kernelDepth).toBe(3);
    expect(c2.kernelDepth).toBe(1);
    expect(c3.testAccuracy).toBeGreaterThan(0.9);
    expect(c2.testAccuracy).toBeGreaterThan(0.3);
    expect(c2.testAccuracy).toBeLessThan(0.65);
    expect(c2.trainAccuracy).toBeLessThan(0.75);
    expect(run.results.conv3dDepth1VsConv2dMaxDiff).toBeLessThan(1e-5);
  });

  it('writes the sequences and the videos', () => {
    expect(run.wrote('sequences.svg')).toBe(true);
    const png = run.png('videos.png');
    expect(png.width).toBeGreaterThan(8 * 32 * 3);
  });
});
