// Lesson 6 (examples/lessons/saliency.mjs) on its CI subset: gradients with
// respect to the input, with the parameters' gradients left unset.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { runLesson, type LessonRun } from './run-lesson';

let run: LessonRun;
beforeAll(() => {
  run = runLesson('saliency');
}, 300_000);
afterAll(() => run?.cleanup());

describe('lesson saliency', () => {
  it('leaves every parameter gradient unset; the same backward on trainable parameters fills them all', () => {
    expect(run.results.accuracy).toBeGreaterThan(0.8);
    expect(run.results.parametersWithGradAfterSaliency).toBe(0);
    expect(run.results.parameterCount).toBe(10);
    expect(run.results.parametersWithGradWhenTrainable).toBe(10);
  });

  it('∂score/∂x matches central differences', () => {
    expect(run.results.finiteDifferenceMaxRelError).toBeLessThan(0.05);
  });

  it('the saliency lies on and around the strokes', () => {
    const w = run.results.where;
    expect(w.onInk).toBeGreaterThan(2 * w.inkArea);
    expect(w.nearInk).toBeGreaterThan(1.5 * w.nearArea);
    expect(w.nearInk).toBeGreaterThan(0.6);
  });

  it('erasing the most salient ink lowers the score far more than erasing random ink', () => {
    for (const d of run.results.deletion) {
      expect(d.salientDrop).toBeGreaterThan(2 * d.randomDrop);
      expect(d.salientAccuracy).toBeLessThan(d.randomAccuracy);
    }
    const d20 = run.results.deletion.find((d: { fraction: number }) => d.fraction === 0.2);
    expect(d20.randomAccuracy - d20.salientAccuracy).toBeGreaterThan(0.1);
  });

  it('writes the saliency picture', () => {
    const png = run.png('saliency.png');
    expect(png.width).toBeGreaterThan(10 * 28 * 3);
    expect(png.height).toBeGreaterThan(3 * 28 * 3);
  });
});
