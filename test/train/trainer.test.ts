// The library trainer (src/train): a custom Module with dropout trained on
// synthetic data, callbacks and their order, the after-backward hook (where
// distributed training averages gradients) and main-process-only writers,
// exact resume from a checkpoint (bitwise, dropout included), refusal of a
// mismatched checkpoint pair, non-finite losses, metrics and curve files.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nn, optim, data, tensor, manualSeed, train, type Tensor } from '../../src';
import { makeRng } from '../helpers';

class Net extends nn.Module {
  fc1 = new nn.Linear(8, 16);
  drop = new nn.Dropout(0.3);
  fc2 = new nn.Linear(16, 3);
  forward(x: Tensor): Tensor {
    return this.fc2.forward(this.drop.forward(this.fc1.forward(x.flatten(1)).relu()));
  }
}

/** 3 separable classes of 8-dim points (a fixed, seeded set). */
function dataset(n: number, seed: number): data.TensorDataset {
  const r = makeRng(seed);
  const x = new Float32Array(n * 8), y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % 3;
    y[i] = c;
    for (let k = 0; k < 8; k++) x[i * 8 + k] = (k % 3 === c ? 1.5 : 0) + 0.5 * (r() - 0.5);
  }
  return new data.TensorDataset(tensor(x, [n, 8]), tensor(y, [n]));
}

let dir: string;
let trainSet: data.TensorDataset, testSet: data.TensorDataset;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-trainer-'));
  trainSet = dataset(300, 1);
  testSet = dataset(90, 2);
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
  trainSet.dispose();
  testSet.dispose();
});

function setup(seed = 0) {
  manualSeed(seed);
  const model = new Net();
  const optimizer = new optim.SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
  const scheduler = new optim.StepLR(optimizer, { stepSize: 1, gamma: 0.5 });
  const loader = new data.DataLoader(trainSet, { batchSize: 32, shuffle: true, seed: 3 });
  return { model, optimizer, scheduler, loader };
}

const weights = (m: nn.Module) => m.parameters().map((p) => Array.from(p.data()));

describe('Trainer', () => {
  it('trains a custom Module: the loss falls, callbacks run in order, the hook runs after backward', () => {
    const { model, optimizer, scheduler, loader } = setup();
    const events: string[] = [];
    let hookCalls = 0;
    const trainer = new train.Trainer({
      model, optimizer, scheduler, epochs: 3, seed: 0,
      afterBackward: (m) => {
        hookCalls++;
        expect(m.parameters().every((p) => p.grad !== null)).toBe(true); // gradients exist, the step has not run
      },
      callbacks: [{
        onTrainStart: () => events.push('start'),
        onEpochStart: (c) => events.push(`epoch ${c.epoch}`),
        onStep: (_c, s) => events.push(`step ${s.step}`),
        onEpochEnd: (_c, m) => events.push(`end ${m.epoch}`),
        onTrainEnd: () => events.push('done'),
      }],
    });
    const h = trainer.fit(loader, { testData: testSet });
    expect(h).toHaveLength(3);
    expect(hookCalls).toBe(3 * 10);
    expect(events[0]).toBe('start');
    expect(events[1]).toBe('epoch 1');
    expect(events.filter((e) => e.startsWith('step'))).toHaveLength(30);
    expect(events.slice(-2)).toEqual(['end 3', 'done']);
    expect(h[2].loss).toBeLessThan(h[0].loss);
    expect(h[2].accuracy).toBeGreaterThan(0.9);
    expect(h.map((e) => e.lr)).toEqual([0.05, 0.025, 0.0125]);
    for (const e of h) expect(Number.isFinite(e.testLoss) && e.imgPerSec > 0).toBe(true);
  });

  it('isMain: false skips main-only callbacks (writers) and runs the others', () => {
    const { model, optimizer, loader } = setup();
    let writer = 0, other = 0;
    new train.Trainer({ model, optimizer, epochs: 1, isMain: false, callbacks: [{ mainOnly: true, onStep: () => writer++ }, { onStep: () => other++ }] }).fit(loader);
    expect([writer, other]).toEqual([0, 10]);
  });

  it('resumes exactly: 1 epoch, a checkpoint, a fresh process state, 2 more epochs equal 3 straight epochs bitwise (dropout included)', () => {
    const straight = setup(7);
    new train.Trainer({ model: straight.model, optimizer: straight.optimizer, scheduler: straight.scheduler, epochs: 3, seed: 7 }).fit(straight.loader);

    const first = setup(7);
    const ckDir = path.join(dir, 'resume');
    const save = (ctx: train.TrainContext) => train.saveCheckpoint(ckDir, { model: first.model, optimizer: first.optimizer, scheduler: first.scheduler, epoch: ctx.epoch, history: ctx.history, options: { lr: 0.1 }, optimizerName: 'sgd' });
    new train.Trainer({ model: first.model, optimizer: first.optimizer, scheduler: first.scheduler, epochs: 3, seed: 7, callbacks: [{ onEpochEnd: save }] }).fit(first.loader, { stopAfter: 1 });

    manualSeed(12345); // whatever the global generator holds now, the resumed run must not depend on it
    const second = setup(99); // other initial weights: all of it comes from the checkpoint
    const r = train.loadCheckpoint(ckDir, { model: second.model, optimizer: second.optimizer, scheduler: second.scheduler, optimizerName: 'sgd', options: { lr: 0.1 }, mustMatch: ['lr'], schedulerStepsPerEpoch: 1 });
    expect(r.epoch).toBe(1);
    const h = new train.Trainer({ model: second.model, optimizer: second.optimizer, scheduler: second.scheduler, epochs: 3, seed: 7 }).fit(second.loader, { startEpoch: r.epoch, history: r.history });
    expect(h.map((e) => e.epoch)).toEqual([1, 2, 3]);
    expect(weights(second.model)).toEqual(weights(straight.model));
  });

  it('refuses a checkpoint pair from different saves and leaves the model untouched', () => {
    const a = setup(1), ckA = path.join(dir, 'pairA'), ckB = path.join(dir, 'pairB');
    const opts = (s: ReturnType<typeof setup>, epoch: number) => ({ model: s.model, optimizer: s.optimizer, scheduler: s.scheduler, epoch, history: Array.from({ length: epoch }, (_, i) => ({ epoch: i + 1, loss: 1, accuracy: 0.5, testLoss: 1, imgPerSec: 1, seconds: 1, lr: 0.1 })), options: {}, optimizerName: 'sgd' });
    train.saveCheckpoint(ckA, opts(a, 1));
    train.saveCheckpoint(ckB, opts(a, 2));
    fs.copyFileSync(path.join(ckB, 'model.safetensors'), path.join(ckA, 'model.safetensors'));
    const b = setup(2);
    const before = weights(b.model);
    expect(() => train.loadCheckpoint(ckA, { model: b.model, optimizer: b.optimizer, scheduler: b.scheduler, optimizerName: 'sgd', options: {}, mustMatch: [], schedulerStepsPerEpoch: 1 }))
      .toThrow(/epoch 2\) and .*epoch 1\) are not from the same save/);
    expect(weights(b.model)).toEqual(before);
    expect(() => train.loadCheckpoint(path.join(dir, 'nothing'), { model: b.model, optimizer: b.optimizer, optimizerName: 'sgd', options: {}, mustMatch: [], schedulerStepsPerEpoch: 0 })).toThrow(/does not exist/);
  });

  it('stops on a non-finite loss before the step, naming epoch and step', () => {
    const { model, optimizer, loader } = setup();
    const before = weights(model);
    let calls = 0;
    const t = new train.Trainer({ model, optimizer, epochs: 2, loss: (out, y) => (++calls === 3 ? out.sum().mul(NaN) : nn.functional.crossEntropy(out, y)) });
    expect(() => t.fit(loader)).toThrow(train.NonFiniteLossError);
    expect(calls).toBe(3);
    expect(weights(model)).not.toEqual(before); // two steps were taken
    expect(() => new train.Trainer({ model, optimizer, epochs: 1, loss: () => tensor([Infinity]).sum() }).fit(loader)).toThrow(/the loss became Infinity at epoch 1, step 1/);
  });

  it('validates its options', () => {
    const { model, optimizer, loader } = setup();
    expect(() => new train.Trainer({ model, optimizer, epochs: 0 })).toThrow(/epochs must be a positive integer, got 0/);
    expect(() => new train.Trainer({ model, optimizer, epochs: 1, epoch: 2 } as never)).toThrow(/unknown option 'epoch'/);
    expect(() => new train.Trainer({ model, optimizer, epochs: 1, schedulerStep: 'step' as never })).toThrow(/schedulerStep must be 'batch' or 'epoch'/);
    const t = new train.Trainer({ model, optimizer, epochs: 1 });
    expect(() => t.fit([] as never)).toThrow(/expected a data.DataLoader/);
    expect(() => t.fit(loader, { startEpoch: 1 })).toThrow(/history has 0 epochs but startEpoch is 1/);
    expect(() => t.fit(loader, { testdata: testSet } as never)).toThrow(/unknown option 'testdata'/);
  });
});

describe('evaluate', () => {
  it('returns accuracy, per-class accuracy and a confusion matrix that sums to the dataset size', () => {
    const { model } = setup();
    const r = train.evaluate(model, testSet);
    expect(r.confusion).toHaveLength(3);
    expect(r.confusion.flat().reduce((a, b) => a + b, 0)).toBe(90);
    expect(r.accuracy).toBeCloseTo(r.confusion.reduce((a, row, i) => a + row[i], 0) / 90, 12);
  });

  it('refuses labels the model has no output for', () => {
    const { model } = setup();
    const ds = new data.TensorDataset(tensor(new Float32Array(16), [2, 8]), tensor([0, 5]));
    expect(() => train.evaluate(model, ds)).toThrow(/label 5, but the model has 3 outputs/);
  });
});

describe('writers', () => {
  it('MetricsWriter writes metrics.json per epoch and one JSONL line per step; a resume drops the steps of an interrupted epoch', () => {
    const out = path.join(dir, 'metrics');
    const { model, optimizer, loader } = setup();
    new train.Trainer({ model, optimizer, epochs: 2, callbacks: [new train.MetricsWriter(out, { note: 'x' })] }).fit(loader, { testData: testSet });
    const json = JSON.parse(fs.readFileSync(path.join(out, 'metrics.json'), 'utf8'));
    expect(json.options).toEqual({ note: 'x' });
    expect(json.epochs).toHaveLength(2);
    const lines = fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').trim().split('\n');
    expect(lines).toHaveLength(20);
    // an epoch-3 run that died after 4 steps, then a resume after epoch 2
    fs.appendFileSync(path.join(out, 'metrics.jsonl'), lines.slice(0, 4).map((l) => JSON.stringify({ ...JSON.parse(l), epoch: 3 })).join('\n') + '\n{"torn');
    const w = new train.MetricsWriter(out);
    w.onTrainStart({ epoch: 2 } as train.TrainContext);
    w.onTrainEnd();
    expect(fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').trim().split('\n')).toEqual(lines);
  });

  it('CurvesWriter writes an SVG and a PNG; ProgressLogger prints one line per epoch without a TTY and draws a bar with one', () => {
    const out = path.join(dir, 'curves');
    const { model, optimizer, scheduler, loader } = setup();
    const lines: string[] = [];
    let barBytes = 0;
    const stream = { write: (s: string) => ((barBytes += s.length), true), isTTY: true, columns: 100, cursorTo() {}, clearLine() {}, moveCursor() {}, on() {}, removeListener() {} } as unknown as NodeJS.WritableStream;
    new train.Trainer({ model, optimizer, scheduler, epochs: 2, callbacks: [new train.CurvesWriter(out), new train.ProgressLogger({ bar: false, log: (l) => lines.push(l) }), new train.ProgressLogger({ bar: true, log: () => {}, stream })] })
      .fit(loader, { testData: testSet });
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^epoch 1\/2  train loss \d\.\d{4}  test acc \d+\.\d\d%  [\d,]+ img\/s  \d+\.\ds$/);
    expect(barBytes).toBeGreaterThan(0);
    const svg = fs.readFileSync(path.join(out, 'curves.svg'), 'utf8');
    expect(svg).toMatch(/^<svg /);
    const png = PNG.sync.read(fs.readFileSync(path.join(out, 'curves.png')));
    expect([png.width, png.height]).toEqual([2520, 600]);
  });
});

describe('curves', () => {
  it('one epoch: x from 0 to 1, the accuracy axis a narrow span inside 0..100% around the point', () => {
    const svg = train.curvesSvg({ epochs: [{ epoch: 1, loss: 0.3, accuracy: 0.985, lr: 0 }], steps: Array.from({ length: 100 }, (_, i) => ({ x: (i + 1) / 100, loss: 2 / (i + 1), lr: 0.002 * (1 - i / 100) })) });
    const ticks = (cls: string) => [...svg.matchAll(new RegExp(`<text class="${cls}"[^>]*>([^<]*)</text>`, 'g'))].map((m) => Number(m[1]));
    expect(Math.max(...ticks('xtick accuracy'))).toBe(1);
    const ys = ticks('ytick accuracy');
    expect(Math.min(...ys)).toBeGreaterThanOrEqual(97);
    expect(Math.max(...ys)).toBeLessThanOrEqual(100);
    // accuracy 100% stays on the chart: the axis is clamped at 100
    const full = train.curvesSvg({ epochs: [{ epoch: 1, loss: 0.1, accuracy: 1, lr: 0.1 }] });
    expect(Math.max(...[...full.matchAll(/<text class="ytick accuracy"[^>]*>([^<]*)</g)].map((m) => Number(m[1])))).toBe(100);
    expect(train.curvesSvg({ epochs: [] })).toContain('no epochs yet');
  });

  it('niceTicks covers the range with round steps', () => {
    expect(train.niceTicks(0, 1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(train.niceTicks(97.9, 99.1)).toEqual([98, 98.25, 98.5, 98.75, 99]);
    expect(train.niceTicks(0, 10, 10)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });
});
