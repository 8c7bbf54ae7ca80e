// Slow end-to-end accuracy checks of `blasnet train` on the full MNIST
// (60,000 train / 10,000 test images), all threads (no --threads). A few
// minutes in total.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, describeRun, readMetrics, runCli, tempDir, type Metrics } from './helpers';

// Generous: a 10-epoch run takes ~35 s on an idle 2-CPU machine, but 100 s+ when other suites share the CPUs.
const TIMEOUT = 600_000;

let tmpRoot: string;
beforeAll(() => {
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build:ts\` first`);
  tmpRoot = tempDir('accuracy');
});
afterAll(() => {
  if (tmpRoot) fs.rmSync(tmpRoot, { recursive: true, force: true });
});

/** Runs `train <args> --out <fresh dir>` and returns metrics.json. */
function train(args: string[]): Metrics {
  const out = fs.mkdtempSync(path.join(tmpRoot, 'run-'));
  const r = runCli(['train', ...args, '--out', out], { timeoutMs: TIMEOUT - 10_000 });
  if (r.status !== 0) throw new Error(`training failed\n${describeRun(r)}`);
  const m = readMetrics(out);
  expect(m.options.threads, 'no --threads: all CPUs').toBeUndefined();
  expect(m.options.limit, 'full training set').toBeUndefined();
  return m;
}

const accs = (m: Metrics) => m.epochs.map((e) => e.accuracy).join(', ');

describe('accuracy on the full MNIST test set', () => {
  it('train --epochs 1 (defaults otherwise) reaches >= 98.0% (PyTorch\'s LeNet with SGD: 98.1% here)', () => {
    const m = train(['--epochs', '1']);
    expect(m.epochs).toHaveLength(1);
    expect(m.epochs[0].accuracy, `test accuracy: ${accs(m)}`).toBeGreaterThanOrEqual(0.98);
  }, TIMEOUT);

  it('train --epochs 2 (defaults otherwise) reaches >= 98.5%', () => {
    const m = train(['--epochs', '2']);
    expect(m.epochs).toHaveLength(2);
    expect(m.epochs[1].accuracy, `test accuracy per epoch: ${accs(m)}`).toBeGreaterThanOrEqual(0.985);
  }, TIMEOUT);

  it('the default 10-epoch run reaches >= 99% in its best and its final epoch', () => {
    const m = train([]);
    expect(m.epochs).toHaveLength(10);
    const best = Math.max(...m.epochs.map((e) => e.accuracy));
    expect(best, `test accuracy per epoch: ${accs(m)}`).toBeGreaterThanOrEqual(0.99);
    expect(m.epochs[9].accuracy, `test accuracy per epoch: ${accs(m)}`).toBeGreaterThanOrEqual(0.99);
    // the loss falls over the run
    expect(m.epochs[9].loss).toBeLessThan(m.epochs[0].loss);
  }, TIMEOUT);

  it('train --variant classic (10 epochs) reaches >= 97%', () => {
    const m = train(['--variant', 'classic']);
    expect(m.epochs).toHaveLength(10);
    expect(m.options.variant).toBe('classic');
    expect(m.epochs[9].accuracy, `test accuracy per epoch: ${accs(m)}`).toBeGreaterThanOrEqual(0.97);
  }, TIMEOUT);
});
