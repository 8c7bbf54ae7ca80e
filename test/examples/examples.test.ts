// The examples run as users run them (compiled by npm run build:examples, in a
// child process), on small subsets: Fashion-MNIST with class names on a tiny
// generated IDX directory (and on Debian's real Fashion-MNIST, which .ci/run
// installs), and the port of pytorch/examples' MNIST Net (Adadelta + StepLR).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { data, io } from '../../src';
import { makeRng } from '../helpers';
import { fashionMnist, adadelta, requireOrSkip } from '../helpers/requirements';
import { ROOT, tempDir, describeRun, type RunResult } from '../cli/helpers';

let tmp: string;
beforeAll(() => {
  tmp = tempDir('examples');
  const r = spawnSync('npm', ['run', '--silent', 'build:examples'], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`npm run build:examples failed:\n${r.stdout}\n${r.stderr}`);
}, 180_000);
afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

function runExample(name: string, args: string[], cwd = tmp): RunResult {
  const script = path.join(ROOT, 'examples', 'dist', `${name}.js`);
  const r = spawnSync(process.execPath, [script, ...args], { cwd, encoding: 'utf8', timeout: 300_000, maxBuffer: 64 << 20 });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr, cmd: `node examples/dist/${name}.js ${args.join(' ')}` };
}

const NAMES = ['Zero bar', 'One bar', 'Two bar', 'Three bar', 'Four bar', 'Five bar', 'Six bar', 'Seven bar', 'Eight bar', 'Nine bar'];

/** An IDX directory in MNIST's layout: class c is a bright horizontal bar at row 3 + 2c, with noise; and a classes.txt. */
function tinyDataset(dir: string, nTrain: number, nTest: number): void {
  fs.mkdirSync(dir, { recursive: true });
  const r = makeRng(5);
  const make = (n: number) => {
    const px = new Uint8Array(n * 784), labels = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const c = i % 10;
      labels[i] = c;
      for (let k = 0; k < 784; k++) px[i * 784 + k] = Math.floor(40 * r());
      const row = 3 + 2 * c, x0 = 4 + Math.floor(6 * r());
      for (let x = x0; x < x0 + 16; x++) px[i * 784 + row * 28 + x] = 255;
    }
    return { px, labels };
  };
  for (const [split, n] of [['train', nTrain], ['t10k', nTest]] as const) {
    const { px, labels } = make(n);
    data.writeIdx(path.join(dir, `${split}-images-idx3-ubyte.gz`), { dtype: 'uint8', dims: [n, 28, 28], data: px }, { gzip: true });
    data.writeIdx(path.join(dir, `${split}-labels-idx1-ubyte.gz`), { dtype: 'uint8', dims: [n], data: labels }, { gzip: true });
  }
  fs.writeFileSync(path.join(dir, 'classes.txt'), NAMES.join('\n') + '\n');
}

describe('examples/fashion-mnist.ts', () => {
  it('trains on any IDX directory and prints class names; the checkpoint records them for blasnet predict', () => {
    const dir = path.join(tmp, 'tiny-idx');
    tinyDataset(dir, 600, 200);
    const out = path.join(tmp, 'fashion-out');
    const r = runExample('fashion-mnist', ['--data', dir, '--epochs', '2', '--out', out]);
    expect(r.status, describeRun(r)).toBe(0);
    expect(r.stdout).toMatch(/600 train \/ 200 test images, 10 classes \(Zero bar, One bar/);
    const acc = Number(/test accuracy (\d+\.\d+)%/.exec(r.stdout)![1]);
    expect(acc, r.stdout).toBeGreaterThan(50);
    for (const n of NAMES) expect(r.stdout).toMatch(new RegExp(`^  ${n}\\s+\\d+\\.\\d%$`, 'm'));
    expect(r.stdout).toMatch(/#0: .* \(\d+\.\d%\), truly Zero bar/);
    const { metadata } = io.loadWithMetadata(path.join(out, 'model.safetensors'));
    expect(JSON.parse(metadata.classes)).toEqual(NAMES);
    // blasnet predict prints the names from the checkpoint
    const p = spawnSync(process.execPath, [path.join(ROOT, 'dist', 'cli', 'main.js'), 'predict', '--index', '0', '--data', dir, '--checkpoint', path.join(out, 'model.safetensors')], { encoding: 'utf8' });
    expect(p.status, p.stderr).toBe(0);
    expect(p.stdout).toMatch(/\(label 0 \(Zero bar\)\)/);
    for (const f of ['metrics.json', 'metrics.jsonl', 'curves.svg', 'curves.png', 'state.safetensors']) expect(fs.existsSync(path.join(out, f)), f).toBe(true);
  });

  it('without the data it says how to get Fashion-MNIST; --help works', () => {
    const r = runExample('fashion-mnist', ['--data', path.join(tmp, 'nope')]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^fashion-mnist: .*nope does not exist\. Get Fashion-MNIST with `npm run setup -- --with-fashion-mnist`/);
    expect(runExample('fashion-mnist', ['--help']).stdout).toMatch(/usage: node examples\/dist\/fashion-mnist\.js/);
    expect(runExample('fashion-mnist', ['--epochs', 'x']).stderr).toMatch(/--epochs must be an integer >= 1, got "x"/);
  });

  it("on the real Fashion-MNIST (Debian's dataset-fashion-mnist), 1 epoch on 6,000 images beats 70%", (ctx) => {
    requireOrSkip(ctx, fashionMnist());
    const out = path.join(tmp, 'fashion-real');
    const r = runExample('fashion-mnist', ['--epochs', '1', '--limit', '6000', '--out', out]);
    expect(r.status, describeRun(r)).toBe(0);
    expect(r.stdout).toMatch(/10 classes \(T-shirt\/top, Trouser, Pullover/);
    expect(Number(/test accuracy (\d+\.\d+)%/.exec(r.stdout)![1])).toBeGreaterThan(70);
    expect(r.stdout).toMatch(/^  Ankle boot\s+\d+\.\d%$/m);
  });
});

describe('examples/mnist-net.ts (pytorch/examples MNIST, ported)', () => {
  it('one epoch on 2,000 images with Adadelta + StepLR prints the original\'s lines and learns', (ctx) => {
    requireOrSkip(ctx, adadelta());
    // compiled on its own (npm run example:mnist-net does the same): it needs optim.Adadelta to type-check
    const tsc = spawnSync(path.join(ROOT, 'node_modules', '.bin', 'tsc'), ['--outDir', 'examples/dist', '--rootDir', 'examples', '--module', 'node16', '--moduleResolution', 'node16', '--target', 'es2022',
      '--lib', 'es2022,esnext.disposable', '--strict', '--esModuleInterop', '--skipLibCheck', '--types', 'node', 'examples/mnist-net.ts'], { cwd: ROOT, encoding: 'utf8' });
    expect(tsc.status, tsc.stdout + tsc.stderr).toBe(0);
    const r = runExample('mnist-net', ['--epochs', '2', '--limit', '2000', '--log-interval', '10', '--save-model']);
    expect(r.status, describeRun(r)).toBe(0);
    expect(r.stdout).toMatch(/^Train Epoch: 1 \[0\/2000 \(0%\)\]\tLoss: \d\.\d{6}$/m);
    expect(r.stdout).toMatch(/^Train Epoch: 2 \[1920\/2000 \(94%\)\]\tLoss: \d\.\d{6}$/m);
    const tests = [...r.stdout.matchAll(/^Test set: Average loss: (\d+\.\d{4}), Accuracy: (\d+)\/333 \((\d+)%\)$/gm)];
    expect(tests, r.stdout).toHaveLength(2);
    expect(Number(tests[1][2]) / 333).toBeGreaterThan(0.8);
    const sd = io.load(path.join(tmp, 'mnist_cnn.safetensors'));
    expect(Object.keys(sd).sort()).toEqual(['conv1.bias', 'conv1.weight', 'conv2.bias', 'conv2.weight', 'fc1.bias', 'fc1.weight', 'fc2.bias', 'fc2.weight']);
    expect(sd['fc1.weight'].shape).toEqual([128, 9216]);
  });
});
