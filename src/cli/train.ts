/**
 * The training loop behind `blasnet train`: data, model, optimizer and
 * scheduler from options; a progress bar per epoch (one line per epoch when
 * stdout is not a TTY); test accuracy after each epoch; checkpoint, state for
 * --resume, metrics.json and curves.svg written atomically after each epoch.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SingleBar } from 'cli-progress';
import { nn, optim, models, data, tidy, noGrad, manualSeed, setNumThreads, getNumThreads, type Tensor } from '../index';
import { save, loadWithMetadata } from '../io/checkpoint';
import { writeFileAtomic } from '../io/atomic';
import { curvesSvg } from './plot';
import type { LeNetVariant } from '../models/lenet';

export interface TrainOptions {
  variant: LeNetVariant;
  data: string;
  epochs: number;
  batchSize: number;
  optimizer: 'sgd' | 'adam' | 'adamw';
  lr: number;
  momentum: number;
  weightDecay: number;
  scheduler: 'none' | 'step' | 'cosine' | 'onecycle';
  threads?: number;
  seed: number;
  out: string;
  resume: boolean;
  limit?: number;
  /** Stop after this many epochs in this invocation; the schedule still spans `epochs` (continue with --resume). */
  stopAfter?: number;
  progress: boolean;
}

export interface EpochMetrics {
  epoch: number;
  loss: number;
  accuracy: number;
  imgPerSec: number;
  seconds: number;
  lr: number;
}

/** Loads train and test splits of MNIST (`data = 'mnist'`) or of an IDX directory. */
export function loadData(source: string, limit?: number): { train: data.TensorDataset; test: data.TensorDataset } {
  const dir = source === 'mnist' ? undefined : source;
  return {
    train: data.mnist({ split: 'train', dir, limit }),
    test: data.mnist({ split: 'test', dir, limit: limit === undefined ? undefined : Math.max(1000, Math.floor(limit / 6)) }),
  };
}

/** Accuracy, per-class accuracy and confusion matrix [truth][prediction] of a model on a dataset. */
export function evaluate(model: nn.Module, ds: data.TensorDataset, classes = 10): { accuracy: number; perClass: number[]; confusion: number[][]; loss: number } {
  const confusion = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  let lossSum = 0;
  const wasTraining = model.training;
  model.eval();
  noGrad(() => {
    for (const { x, y } of new data.DataLoader(ds, { batchSize: 1000 })) {
      tidy(() => {
        const logits = model.forward(x);
        lossSum += nn.functional.crossEntropy(logits, y, { reduction: 'sum' }).item();
        const p = logits.argmax(1).data(), t = y.data();
        for (let i = 0; i < t.length; i++) confusion[t[i]][p[i]]++;
        x.dispose();
        y.dispose();
      });
    }
  });
  model.train(wasTraining);
  const correct = confusion.reduce((a, row, i) => a + row[i], 0);
  const perClass = confusion.map((row, i) => row[i] / Math.max(1, row.reduce((a, b) => a + b, 0)));
  return { accuracy: correct / Math.max(ds.length, 1), perClass, confusion, loss: lossSum / Math.max(ds.length, 1) };
}

function makeOptimizer(o: TrainOptions, params: Tensor[]): optim.Optimizer {
  switch (o.optimizer) {
    case 'sgd': return new optim.SGD(params, { lr: o.lr, momentum: o.momentum, weightDecay: o.weightDecay, nesterov: o.momentum > 0 });
    case 'adam': return new optim.Adam(params, { lr: o.lr, weightDecay: o.weightDecay });
    case 'adamw': return new optim.AdamW(params, { lr: o.lr, weightDecay: o.weightDecay });
    default: throw new Error(`train: unknown optimizer ${JSON.stringify(o.optimizer)} (sgd, adam, adamw)`);
  }
}

function makeScheduler(o: TrainOptions, opt: optim.Optimizer, stepsPerEpoch: number): { sched: optim.LRScheduler | null; perBatch: boolean } {
  switch (o.scheduler) {
    case 'none': return { sched: null, perBatch: false };
    case 'step': return { sched: new optim.StepLR(opt, { stepSize: Math.max(1, Math.round(o.epochs / 3)), gamma: 0.1 }), perBatch: false };
    case 'cosine': return { sched: new optim.CosineAnnealingLR(opt, { tMax: o.epochs * stepsPerEpoch }), perBatch: true };
    case 'onecycle': return { sched: new optim.OneCycleLR(opt, { maxLr: o.lr, totalSteps: o.epochs * stepsPerEpoch }), perBatch: true };
    default: throw new Error(`train: unknown scheduler ${JSON.stringify(o.scheduler)} (none, step, cosine, onecycle)`);
  }
}

const MODEL_FILE = 'model.safetensors';
const STATE_FILE = 'state.safetensors';

/** Runs training; returns the per-epoch metrics. */
export function train(o: TrainOptions, log: (s: string) => void = console.log): EpochMetrics[] {
  if (o.threads !== undefined) setNumThreads(o.threads);
  manualSeed(o.seed);
  const { train: trainSet, test: testSet } = loadData(o.data, o.limit);
  const model = models.LeNet({ variant: o.variant });
  const loader = new data.DataLoader(trainSet, { batchSize: o.batchSize, shuffle: true, seed: o.seed });
  const opt = makeOptimizer(o, model.parameters());
  const { sched, perBatch } = makeScheduler(o, opt, loader.length);
  fs.mkdirSync(o.out, { recursive: true });
  let history: EpochMetrics[] = [];
  let startEpoch = 0;

  if (o.resume) {
    const modelPath = path.join(o.out, MODEL_FILE), statePath = path.join(o.out, STATE_FILE);
    if (!fs.existsSync(statePath)) throw new Error(`train --resume: ${statePath} does not exist (nothing to resume in ${o.out})`);
    const m = loadWithMetadata(modelPath);
    if (m.metadata.variant && m.metadata.variant !== o.variant) throw new Error(`train --resume: the checkpoint is a '${m.metadata.variant}' LeNet, not '${o.variant}'`);
    model.loadStateDict(m.tensors);
    const s = loadWithMetadata(statePath);
    const meta = JSON.parse(s.metadata.training ?? '{}');
    if (meta.optimizer !== o.optimizer) throw new Error(`train --resume: the run used optimizer '${meta.optimizer}', not '${o.optimizer}'`);
    const state: Record<number, Record<string, Tensor | number>> = {};
    for (const [k, t] of Object.entries(s.tensors)) {
      const [, idx, name] = k.split('.'); // state.<idx>.<name>
      (state[Number(idx)] ??= {})[name] = t;
    }
    for (const [idx, scalars] of Object.entries(meta.scalars ?? {}) as [string, Record<string, number>][]) Object.assign((state[Number(idx)] ??= {}), scalars);
    opt.loadStateDict({ state, paramGroups: meta.paramGroups });
    if (sched && meta.scheduler) {
      const planned = meta.options?.epochs;
      if (planned !== undefined && planned !== o.epochs && o.scheduler !== 'none')
        log(`note: the run was planned for ${planned} epochs; the ${o.scheduler} schedule is re-planned for ${o.epochs} from epoch ${meta.epoch}`);
      sched.loadStateDict(meta.scheduler);
    }
    startEpoch = meta.epoch;
    history = meta.history ?? [];
    loader.epoch = startEpoch;
    manualSeed(o.seed + startEpoch);
    log(`resuming ${o.out} after epoch ${startEpoch}`);
  }
  if (startEpoch >= o.epochs) {
    log(`nothing to do: ${o.out} already has ${startEpoch} epochs (--epochs ${o.epochs})`);
    return history;
  }
  log(`training LeNet (${o.variant}) on ${o.data === 'mnist' ? 'MNIST' : o.data}: ${trainSet.length} train / ${testSet.length} test images, ` +
    `${o.epochs} epochs, batch ${o.batchSize}, ${o.optimizer} lr ${o.lr}, scheduler ${o.scheduler}, ${getNumThreads()} threads, seed ${o.seed}`);

  const endEpoch = o.stopAfter ? Math.min(o.epochs, startEpoch + o.stopAfter) : o.epochs;
  for (let epoch = startEpoch; epoch < endEpoch; epoch++) {
    model.train();
    const bar = o.progress
      ? new SingleBar({
          format: `epoch ${epoch + 1}/${o.epochs} [{bar}] {value}/{total} | {speed} img/s | loss {loss} | ETA {eta_formatted}`,
          barCompleteChar: '█', barIncompleteChar: '░', hideCursor: true, etaBuffer: 50,
        })
      : null;
    bar?.start(loader.length, 0, { speed: '-', loss: '-' });
    const t0 = performance.now();
    let lossSum = 0, seen = 0, step = 0;
    for (const { x, y } of loader) {
      step++;
      const n = x.shape[0];
      const loss = tidy(() => {
        opt.zeroGrad();
        const l = nn.functional.crossEntropy(model.forward(x), y);
        const v = l.item();
        if (!Number.isFinite(v)) return v; // reported below, before the step corrupts the weights
        l.backward();
        opt.step();
        return v;
      });
      x.dispose();
      y.dispose();
      if (!Number.isFinite(loss)) {
        bar?.stop();
        throw new Error(`train: the loss became ${loss} at epoch ${epoch + 1}, step ${step}; training stopped (try a lower --lr)`);
      }
      if (sched && perBatch) sched.step();
      lossSum += loss * n;
      seen += n;
      if (bar && (step % 5 === 0 || step === loader.length)) {
        const dt = (performance.now() - t0) / 1000;
        bar.update(step, { speed: Math.round(seen / dt).toLocaleString('en-US'), loss: (lossSum / seen).toFixed(4) });
      }
    }
    bar?.stop();
    if (sched && !perBatch) sched.step();
    const seconds = (performance.now() - t0) / 1000;
    const ev = evaluate(model, testSet);
    const m: EpochMetrics = { epoch: epoch + 1, loss: lossSum / Math.max(seen, 1), accuracy: ev.accuracy, imgPerSec: seen / seconds, seconds, lr: opt.lr };
    history.push(m);
    log(`epoch ${m.epoch}/${o.epochs}  train loss ${m.loss.toFixed(4)}  test acc ${(100 * m.accuracy).toFixed(2)}%  ${Math.round(m.imgPerSec).toLocaleString('en-US')} img/s  ${m.seconds.toFixed(1)}s`);
    writeOutputs(o, model, opt, sched, epoch + 1, history);
  }
  return history;
}

function writeOutputs(o: TrainOptions, model: nn.Module, opt: optim.Optimizer, sched: optim.LRScheduler | null, epoch: number, history: EpochMetrics[]): void {
  save(model.stateDict(), path.join(o.out, MODEL_FILE), { format: 'blasnet-lenet', variant: o.variant, epoch: String(epoch) });
  const sd = opt.stateDict();
  const tensors: Record<string, Tensor> = {};
  const scalars: Record<number, Record<string, number>> = {};
  for (const [idx, s] of Object.entries(sd.state))
    for (const [name, v] of Object.entries(s)) {
      if (typeof v === 'number') (scalars[Number(idx)] ??= {})[name] = v;
      else tensors[`state.${idx}.${name}`] = v;
    }
  const meta = { epoch, optimizer: o.optimizer, paramGroups: sd.paramGroups, scalars, scheduler: sched?.stateDict() ?? null, options: o, history };
  save(tensors, path.join(o.out, STATE_FILE), { training: JSON.stringify(meta) });
  writeFileAtomic(path.join(o.out, 'metrics.json'), JSON.stringify({ options: o, epochs: history }, null, 2) + '\n');
  writeFileAtomic(path.join(o.out, 'curves.svg'), curvesSvg(history));
}
