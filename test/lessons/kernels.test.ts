// Lesson 2 (examples/lessons/kernels.mjs) on its CI subset: what each hand-made
// kernel responds to, and max pooling's tolerance to a tilted edge.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { runLesson, type LessonRun } from './run-lesson';

let run: LessonRun;
beforeAll(() => {
  run = runLesson('kernels');
}, 300_000);
afterAll(() => run?.cleanup());

const kernel = (name: string) => run.results.responses.find((r: { kernel: string }) => r.kernel.startsWith(name));

describe('lesson kernels', () => {
  it('Sobel x sees vertical edges and Sobel y horizontal ones', () => {
    expect(kernel('sobel x').vertical).toBeGreaterThan(10 * kernel('sobel x').horizontal);
    expect(kernel('sobel y').horizontal).toBeGreaterThan(10 * kernel('sobel y').vertical);
  });

  it('zero-sum kernels ignore flat regions; on a linear ramp only Sobel x answers, with 8 × the slope', () => {
    for (const k of ['sobel x', 'sobel y', 'laplacian']) expect(kernel(k).sum).toBe(0);
    expect(kernel('laplacian').sky).toBeLessThan(1e-3);
    expect(kernel('sobel y').sky).toBeLessThan(1e-3);
    const slope = 0.25 / run.results.sceneSize; // the sky brightens by 0.25 across the scene
    expect(Math.abs(kernel('sobel x').sky - 8 * slope)).toBeLessThan(0.1 * 8 * slope);
  });

  it('each kernel passes white noise scaled by its L2 norm: blur removes most, sharpen amplifies', () => {
    for (const r of run.results.responses) expect(Math.abs(r.noiseGain - r.l2)).toBeLessThan(0.1 * r.l2);
    expect(kernel('gaussian').noiseGain).toBeLessThan(0.5);
    expect(kernel('sharpen').noiseGain).toBeGreaterThan(4);
    expect(kernel('sharpen').edgeSteepness).toBeGreaterThan(1.3);
    expect(kernel('gaussian').edgeSteepness).toBeLessThan(0.8);
  });

  it('max pooling keeps responding to a tilted edge where the raw response has moved', () => {
    const { angles, similarity, peak } = run.results.tilt; // similarity[angle][none, 2×2, 4×4]
    expect(similarity[0]).toEqual([1, 1, 1]);
    angles.forEach((a: number, i: number) => {
      if (a === 0 || a > 30) return;
      const [none, p2, p4] = similarity[i];
      expect(p2).toBeGreaterThan(none - 0.01);
      expect(p4).toBeGreaterThan(p2 - 0.01);
    });
    const i10 = angles.indexOf(10);
    expect(similarity[i10][2] - similarity[i10][0]).toBeGreaterThan(0.2);
    // the detector still fires at full strength; it fires elsewhere
    expect(peak[i10]).toBeGreaterThan(0.95 * peak[0]);
  });

  it('writes the side-by-side picture and the curve', () => {
    const png = run.png('kernels.png');
    expect(png.width).toBeGreaterThan(6 * run.results.sceneSize);
    expect(run.wrote('pooling-vs-tilt.svg')).toBe(true);
    expect(run.wrote('tilted-edges.png')).toBe(true);
    expect(run.stdout).toMatch(/one conv2d: input \[1, 1, \d+, \d+\], weight \[5, 1, 5, 5\]/);
  });
});
