/**
 * `blasnet train`: the LeNet-5 recipe (data, model, optimizer, schedule) built
 * from command-line options and run by the library's trainer (src/train), with
 * its progress logger, metrics and curve writers and checkpoints.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { models, data, optim, manualSeed, setNumThreads, getNumThreads, train as T, distributed, type Tensor } from '../index';
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
  /**
   * Data-parallel over the ranks of `mpirun -np K`: batchSize is the global
   * batch, split over the K ranks; rank 0 alone logs and writes files.
   */
  distributed?: boolean;
  /** With `distributed`: seconds a rank may wait in a collective before it ends the job (default 1800; 0: no limit). */
  distTimeout?: number;
}

/**
 * Threads per rank when --threads is not given: the machine's cores shared by
 * the ranks on this host (Open MPI's OMPI_COMM_WORLD_LOCAL_SIZE, MPICH's MPI_LOCALNRANKS).
 */
function threadsPerRank(): number | undefined {
  const local = Number(process.env.OMPI_COMM_WORLD_LOCAL_SIZE ?? process.env.MPI_LOCALNRANKS);
  if (!Number.isInteger(local) || local < 1) return undefined;
  return Math.max(1, Math.floor(os.availableParallelism() / local));
}

/** Initialises MPI for `train --distributed`; returns this rank and the world size. */
function initDistributed(o: TrainOptions): { rank: number; worldSize: number } {
  let info: distributed.InitInfo;
  try {
    info = distributed.init({ timeout: o.distTimeout ?? 1800 });
  } catch (e) {
    throw new CliError(`train --distributed: ${(e as Error).message.replace(/^distributed: /, '')}`);
  }
  if (o.batchSize % info.worldSize !== 0)
    throw new CliError(`train --distributed: --batch-size ${o.batchSize} (the global batch) does not divide over ${info.worldSize} ranks; use a multiple of ${info.worldSize}`);
  return info;
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
  const dist = o.distributed ? initDistributed(o) : { rank: 0, worldSize: 1 };
  const isMain = dist.rank === 0;
  if (!isMain) log = () => {};
  const threads = o.threads ?? (o.distributed ? threadsPerRank() : undefined);
  if (threads !== undefined) setNumThreads(threads);
  if (o.stopAfter !== undefined && !o.resume && o.stopAfter >= o.epochs) log(`note: --stop-after ${o.stopAfter} does not stop a ${o.epochs}-epoch run early`);
  manualSeed(o.seed);
  const { train: trainSet, test: testSet } = loadData(o.data, o.limit);
  const dir = o.data === 'mnist' ? undefined : o.data;
  const classes = o.classes ?? (dir ? data.datasetClassNames(dir) : null);
  const labels = Math.max(maxLabel(trainSet, 'training'), maxLabel(testSet, 'test')) + 1;
  if (classes && classes.length < labels) throw new CliError(`train: ${classes.length} class names, but the data has labels up to ${labels - 1}`);
  const numClasses = classes ? classes.length : Math.max(10, labels);
  const options: TrainOptions = { ...o, ...(classes ? { classes } : {}) };
  if (o.distributed) (options as unknown as Record<string, unknown>).worldSize = dist.worldSize;
  else delete options.distributed;
  const model = models.LeNet({ variant: o.variant, numClasses });
  // Distributed: rank r reads positions r, r+K, ... of the single-process order (same seed), in
  // batches of B/K, so the ranks' batch b together is the single-process batch b.
  const loader = o.distributed
    ? new data.DataLoader(trainSet, { batchSize: o.batchSize / dist.worldSize, sampler: new distributed.DistributedSampler(trainSet, { seed: o.seed }) })
    : new data.DataLoader(trainSet, { batchSize: o.batchSize, shuffle: true, seed: o.seed });
  const opt = makeOptimizer(o, model.parameters());
  const { sched, perBatch } = makeScheduler(o, opt, loader.length);
  if (fs.existsSync(o.out) && !fs.statSync(o.out).isDirectory()) throw new CliError(`--out ${o.out} is a file, not a directory`);
  if (isMain) fs.mkdirSync(o.out, { recursive: true });
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
  // Every rank starts from rank 0's weights (and checks that the shapes agree).
  const ddp = o.distributed ? new distributed.DistributedDataParallel(model) : null;
  const where = o.distributed ? `${dist.worldSize} ranks × ${o.batchSize / dist.worldSize} (${getNumThreads()} threads each)` : `${getNumThreads()} threads`;
  log(`training LeNet (${o.variant}) on ${o.data === 'mnist' ? 'MNIST' : o.data}: ${trainSet.length} train / ${testSet.length} test images, ` +
    `${o.epochs} epochs, batch ${o.batchSize}, ${o.optimizer} lr ${o.lr}, scheduler ${o.scheduler}, ${where}, seed ${o.seed}`);
  const modelMetadata: Record<string, string> = { format: 'blasnet-lenet', variant: o.variant, ...(classes ? { classes: JSON.stringify(classes) } : {}) };
  const checkpoint: T.Callback = {
    mainOnly: true,
    onEpochEnd: (ctx) => T.saveCheckpoint(o.out, {
      model, optimizer: opt, scheduler: sched, epoch: ctx.epoch, history: ctx.history, options: options as unknown as Record<string, unknown>, modelMetadata, optimizerName: o.optimizer,
    }),
  };
  const trainer = new T.Trainer({
    model, optimizer: opt, scheduler: sched, schedulerStep: perBatch ? 'batch' : 'epoch', epochs: o.epochs, seed: o.seed,
    ...(ddp ? { isMain, afterBackward: () => ddp.averageGradients(), reduceLoss: distributed.reduceLoss } : {}),
    callbacks: [checkpoint, new T.MetricsWriter(o.out, options as unknown as Record<string, unknown>), new T.CurvesWriter(o.out), new T.ProgressLogger({ bar: o.progress, log })],
  });
  try {
    // Only rank 0 evaluates (it alone reports); the others go on to the next epoch's first allreduce.
    return trainer.fit(loader, { ...(isMain ? { testData: testSet } : {}), startEpoch, history, stopAfter: o.stopAfter });
  } catch (e) {
    if (e instanceof T.NonFiniteLossError) throw new CliError(e.message.replace('try a lower learning rate', 'try a lower --lr'));
    throw e;
  } finally {
    trainSet.dispose();
    testSet.dispose();
  }
}
