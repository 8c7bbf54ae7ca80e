// Lesson 1 (examples/lessons/translation.mjs) on its CI subset: the MLP fails
// off-centre, convolution with pooling over positions does not.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { runLesson, type LessonRun } from './run-lesson';

let run: LessonRun;
beforeAll(() => {
  run = runLesson('translation');
}, 300_000);
afterAll(() => run?.cleanup());

describe('lesson translation', () => {
  it('gives the three models the same budget', () => {
    const { params } = run.results;
    expect(params.lenet).toBe(61706);
    expect(params.fcn).toBe(61706);
    expect(Math.abs(params.mlp - params.lenet) / params.lenet).toBeLessThan(0.02);
  });

  it('the MLP collapses off-centre; the fully convolutional LeNet keeps most of its accuracy', () => {
    const { shifts, accuracyVsShift: a } = run.results;
    const at = (k: string, s: number) => a[k][shifts.indexOf(s)];
    // all three learned the centred digits
    for (const k of ['mlp', 'lenet', 'fcn']) expect(at(k, 0)).toBeGreaterThan(0.8);
    // the claim: the CNN beats the MLP by at least 20 points at a 6-pixel shift
    expect(at('fcn', 6) - at('mlp', 6)).toBeGreaterThan(0.2);
    expect(at('mlp', 0) - at('mlp', 6)).toBeGreaterThan(0.4);
    expect(at('fcn', 0) - at('fcn', 6)).toBeLessThan(0.35);
    // LeNet's pooling tolerates a few pixels better than the MLP, but its fully connected head
    // is position-specific too: by 6 pixels it is near the MLP, far below global pooling
    const mean = (k: string) => [1, 2, 3, 4].reduce((s, v) => s + at(k, v), 0) / 4;
    expect(mean('lenet') - mean('mlp')).toBeGreaterThan(0.05);
    expect(at('fcn', 6) - at('lenet', 6)).toBeGreaterThan(0.2);
    // accuracy only falls as the shift grows (within noise)
    for (const k of ['mlp', 'fcn']) for (let i = 1; i < shifts.length; i++) expect(a[k][i]).toBeLessThan(a[k][i - 1] + 0.03);
  });

  it('on a 40×40 canvas, only the model that pools over positions finds the digit anywhere', () => {
    const row = (k: string) => run.results.canvas.rows.find((r: { key: string }) => r.key === k);
    expect(row('mlp').centred).toBeGreaterThan(0.7);
    expect(row('mlp').anywhere).toBeLessThan(0.35);
    expect(row('fcn40').anywhere - row('mlp').anywhere).toBeGreaterThan(0.4);
    expect(row('fcn40').centred - row('fcn40').anywhere).toBeLessThan(0.15);
    expect(row('fcn').anywhere).toBeGreaterThan(row('mlp').anywhere + 0.3);
  });

  it('prints the table and writes the plot and pictures', () => {
    expect(run.stdout).toMatch(/accuracy on test digits shifted by s pixels/);
    expect(run.stdout).toMatch(/MLP 784-78-10\s+62,020/);
    expect(run.wrote('accuracy-vs-shift.svg')).toBe(true);
    expect(run.png('shifted-digits.png').width).toBeGreaterThan(9 * 28);
    expect(run.wrote('canvas-digits.png')).toBe(true);
  });
});
