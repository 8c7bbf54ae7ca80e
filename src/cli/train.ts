/**
 * `blasnet train`: the LeNet-5 recipe (data, model, optimizer, schedule) built
 * from command-line options and run by the library's trainer (src/train), with
 * its progress logger, metrics and curve writers and checkpoints.
 */
import * as fs from 'node:fs';
import { models, data, optim, manualSeed, setNumThreads, getNumThreads, train as T, type Tensor } from '../index';
import type { Optimizer } from '../optim/optimizer';
import type { LRScheduler } from '../optim/lr_scheduler';
import type { LeNetVariant } from '../models/lenet';
import { CliError } from './model';

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
  /** Class names to record in the checkpoint (default: the data directory's classes.txt / classes.json). */
  classes?: string[];
}

export type EpochMetrics = T.EpochMetrics;

/** The options that decide what a run computes: a resumed run must have the same ones. */
export const RESUME_MUST_MATCH = ['variant', 'data', 'batchSize', 'optimizer', 'lr', 'momentum', 'weightDecay', 'scheduler', 'seed', 'limit', 'classes'];

/** Loads train and test splits of MNIST (`data = 'mnist'`) or of an IDX directory. */
export function loadData(source: string, limit?: number): { train: data.TensorDataset; test: data.TensorDataset } {
  const dir = source === 'mnist' ? undefined : source;
  return {
    train: data.mnist({ split: 'train', dir, limit }),
    test: data.mnist({ split: 'test', dir, limit: limit === undefined ? undefined : Math.max(1000, Math.floor(limit / 6)) }),
  };
}

/** Accuracy, per-class accuracy and confusion matrix [truth][prediction] of a model on a dataset. */
export const evaluate = T.evaluate;

function makeOptimizer(o: TrainOptions, params: Tensor[]): Optimizer {
  switch (o.optimizer) {
    case 'sgd': return new optim.SGD(params, { lr: o.lr, momentum: o.momentum, weightDecay: o.weightDecay, nesterov: o.momentum > 0 });
    case 'adam': return new optim.Adam(params, { lr: o.lr, weightDecay: o.weightDecay });
    case 'adamw': return new optim.AdamW(params, { lr: o.lr, weightDecay: o.weightDecay });
    default: throw new CliError(`train: unknown optimizer ${JSON.stringify(o.optimizer)} (sgd, adam, adamw)`);
  }
}

function makeScheduler(o: TrainOptions, opt: Optimizer, stepsPerEpoch: number): { sched: LRScheduler | null; perBatch: boolean } {
  switch (o.scheduler) {
    case 'none': return { sched: null, perBatch: false };
    case 'step': return { sched: new optim.StepLR(opt, { stepSize: Math.max(1, Math.round(o.epochs / 3)), gamma: 0.1 }), perBatch: false };
    case 'cosine': return { sched: new optim.CosineAnnealingLR(opt, { tMax: o.epochs * stepsPerEpoch }), perBatch: true };
    case 'onecycle': return { sched: new optim.OneCycleLR(opt, { maxLr: o.lr, totalSteps: o.epochs * stepsPerEpoch }), perBatch: true };
    default: throw new CliError(`train: unknown scheduler ${JSON.stringify(o.scheduler)} (none, step, cosine, onecycle)`);
  }
}

/** The highest label of a dataset, checked to be a class index. */
function maxLabel(ds: data.TensorDataset, name: string): number {
  let max = -1;
  for (const v of ds.y.data()) {
    if (!Number.isInteger(v) || v < 0) throw new CliError(`train: the ${name} set has label ${v}; labels must be class indices 0, 1, 2, …`);
    if (v > max) max = v;
  }
  return max;
}

/** Runs training; returns the per-epoch metrics (a resumed run's earlier epochs included). */
export function train(o: TrainOptions, log: (s: string) => void = console.log): EpochMetrics[] {
  if (o.threads !== undefined) setNumThreads(o.threads);
  if (o.stopAfter !== undefined && !o.resume && o.stopAfter >= o.epochs) log(`note: --stop-after ${o.stopAfter} does not stop a ${o.epochs}-epoch run early`);
  manualSeed(o.seed);
  const { train: trainSet, test: testSet } = loadData(o.data, o.limit);
  const dir = o.data === 'mnist' ? undefined : o.data;
  const classes = o.classes ?? (dir ? data.datasetClassNames(dir) : null);
  const labels = Math.max(maxLabel(trainSet, 'training'), maxLabel(testSet, 'test')) + 1;
  if (classes && classes.length < labels) throw new CliError(`train: ${classes.length} class names, but the data has labels up to ${labels - 1}`);
  const numClasses = classes ? classes.length : Math.max(10, labels);
  const options: TrainOptions = { ...o, ...(classes ? { classes } : {}) };
  const model = models.LeNet({ variant: o.variant, numClasses });
  const loader = new data.DataLoader(trainSet, { batchSize: o.batchSize, shuffle: true, seed: o.seed });
  const opt = makeOptimizer(o, model.parameters());
  const { sched, perBatch } = makeScheduler(o, opt, loader.length);
  if (fs.existsSync(o.out) && !fs.statSync(o.out).isDirectory()) throw new CliError(`--out ${o.out} is a file, not a directory`);
  fs.mkdirSync(o.out, { recursive: true });
  let history: EpochMetrics[] = [];
  let startEpoch = 0;
  if (o.resume) {
    let r: T.ResumedState;
    try {
      r = T.loadCheckpoint(o.out, {
        model, optimizer: opt, scheduler: sched, optimizerName: o.optimizer, options: options as unknown as Record<string, unknown>,
        mustMatch: RESUME_MUST_MATCH, schedulerStepsPerEpoch: sched ? (perBatch ? loader.length : 1) : 0,
      });
    } catch (e) {
      throw new CliError(`train --resume: ${(e as Error).message}`);
    }
    startEpoch = r.epoch;
    history = r.history;
    const planned = r.options.epochs;
    if (planned !== o.epochs && o.scheduler !== 'none' && startEpoch < o.epochs)
      log(`note: the run was planned for ${String(planned)} epochs; the ${o.scheduler} schedule is re-planned for ${o.epochs} from epoch ${startEpoch}`);
    log(`resuming ${o.out} after epoch ${startEpoch}`);
  }
  if (startEpoch >= o.epochs) {
    log(`nothing to do: ${o.out} already has ${startEpoch} epochs (--epochs ${o.epochs})`);
    return history;
  }
  log(`training LeNet (${o.variant}) on ${o.data === 'mnist' ? 'MNIST' : o.data}: ${trainSet.length} train / ${testSet.length} test images, ` +
    `${o.epochs} epochs, batch ${o.batchSize}, ${o.optimizer} lr ${o.lr}, scheduler ${o.scheduler}, ${getNumThreads()} threads, seed ${o.seed}`);
  const modelMetadata: Record<string, string> = { format: 'blasnet-lenet', variant: o.variant, ...(classes ? { classes: JSON.stringify(classes) } : {}) };
  const checkpoint: T.Callback = {
    mainOnly: true,
    onEpochEnd: (ctx) => T.saveCheckpoint(o.out, {
      model, optimizer: opt, scheduler: sched, epoch: ctx.epoch, history: ctx.history, options: options as unknown as Record<string, unknown>, modelMetadata, optimizerName: o.optimizer,
    }),
  };
  const trainer = new T.Trainer({
    model, optimizer: opt, scheduler: sched, schedulerStep: perBatch ? 'batch' : 'epoch', epochs: o.epochs, seed: o.seed,
    callbacks: [checkpoint, new T.MetricsWriter(o.out, options as unknown as Record<string, unknown>), new T.CurvesWriter(o.out), new T.ProgressLogger({ bar: o.progress, log })],
  });
  try {
    return trainer.fit(loader, { testData: testSet, startEpoch, history, stopAfter: o.stopAfter });
  } catch (e) {
    if (e instanceof T.NonFiniteLossError) throw new CliError(e.message.replace('try a lower learning rate', 'try a lower --lr'));
    throw e;
  } finally {
    trainSet.dispose();
    testSet.dispose();
  }
}
