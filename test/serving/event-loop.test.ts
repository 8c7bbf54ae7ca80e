// Serving keeps the event loop free, checked by structure rather than by a
// clock (timed assertions are flaky; bench/serving/blasnet_serve.js measures the
// event-loop time of a first run(), `first_run.*`, and of a burst, `burst.*`):
//
// - compiling a new input shape runs no kernel on the calling thread: every
//   native call the session makes there is counted, and apart from building the
//   plan (planCreate) and queueing the run (planSubmit) there is none — the
//   model's forward was traced with recorders in place of the kernels, so it
//   costs the same JavaScript whatever the input size;
// - run() hands the work to the executor thread and returns at once: its
//   promise is still pending after every microtask has run (a result computed
//   on the calling thread would have settled it), and the calling thread never
//   calls planRun;
// - the thread is free while the run is in flight: a timer scheduled after
//   run() fires while it is still pending.
import { describe, it, expect, afterEach } from 'vitest';
import { randn, manualSeed, noGrad, nn, InferenceSession, Tensor } from '../../src';
import { native } from '../../src/native';
import { expectBitwise } from '../helpers';
import { ResNet8, settleBatchNorm } from './models';

const F = nn.functional;
const calls = new Map<string, number>();
const saved = new Map<string, unknown>();
const table = native as unknown as Record<string, unknown>;

/** Counts every call into the addon until restore(). */
function countNativeCalls(): void {
  calls.clear();
  for (const [k, f] of Object.entries(table)) {
    if (typeof f !== 'function') continue;
    saved.set(k, f);
    table[k] = function (this: unknown, ...a: unknown[]) {
      calls.set(k, (calls.get(k) ?? 0) + 1);
      return (f as (...x: unknown[]) => unknown).apply(this, a);
    };
  }
}
function restore(): void {
  for (const [k, f] of saved) table[k] = f;
  saved.clear();
}
afterEach(restore);

/** A fully convolutional ResNet-8 (any input size: global pool before the classifier). */
function model(): nn.Module {
  manualSeed(3);
  const m = new ResNet8();
  settleBatchNorm(m, [2, 3, 32, 32], 4);
  return m.eval();
}

async function microtasks(n = 20): Promise<void> {
  for (let i = 0; i < n; i++) await Promise.resolve();
}

describe('the event loop while serving', () => {
  it('compiling a new input shape (32², 160², 512²) runs no kernel on the calling thread', async () => {
    const m = model();
    const session = new InferenceSession(m);
    for (const side of [32, 160, 512]) {
      const x = randn([1, 3, side, side]);
      countNativeCalls();
      const p = session.run(x);
      const seen = new Map(calls);
      restore();
      const other = [...seen.keys()].filter((k) => k !== 'planCreate' && k !== 'planSubmit');
      expect(other, `${side}²: native calls on the calling thread besides planCreate/planSubmit`).toEqual([]);
      expect(seen.get('planCreate'), `${side}²: the batch-1 plan is built`).toBe(1);
      expect(seen.get('planSubmit')).toBe(1);
      const y = await p;
      if (side === 32) expectBitwise(y, noGrad(() => m.forward(x)), 'the compiled result');
      y.dispose();
      x.dispose();
    }
    session.dispose();
  });

  it('run() returns with the work still to do: pending after all microtasks, a timer fires before it completes, no planRun', async () => {
    class Heavy extends nn.Module {
      conv = new nn.Conv2d(3, 32, 5, { padding: 2 });
      conv2 = new nn.Conv2d(32, 32, 5, { padding: 2 });
      forward(x: Tensor): Tensor {
        return F.globalAvgPool2d(F.relu(this.conv2.forward(F.relu(this.conv.forward(x)))), false);
      }
    }
    manualSeed(5);
    const session = new InferenceSession(new Heavy(), { inputShape: [3, 256, 256] });
    const x = randn([1, 3, 256, 256]); // ~3.6 GFLOP: orders of magnitude longer than a turn of the loop
    countNativeCalls();
    let settled = false;
    const p = session.run(x).then((y) => {
      settled = true;
      return y;
    });
    expect(calls.get('planRun') ?? 0, 'run() must not compute on the calling thread').toBe(0);
    await microtasks();
    expect(settled, 'the promise settled without a turn of the event loop: the work ran on the calling thread').toBe(false);
    let timerFiredWhilePending = false;
    await new Promise<void>((resolve) => setImmediate(() => ((timerFiredWhilePending = !settled), resolve())));
    restore();
    const y = await p;
    expect(settled).toBe(true);
    expect(timerFiredWhilePending, 'a callback queued after run() ran while the run was in flight').toBe(true);
    expect(y.shape).toEqual([1, 32]);
    y.dispose();
    x.dispose();
    session.dispose();
  });
});
