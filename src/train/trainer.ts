/**
 * The training loop as a library: `new Trainer({ model, optimizer, ... }).fit(loader)`.
 *
 * One loop for `blasnet train` and for user scripts: the forward pass, the loss,
 * backward, an optional hook after backward (where distributed training averages
 * gradients), the optimizer step and the learning-rate schedule, per-step and
 * per-epoch metrics, test-set evaluation after each epoch, and callbacks that
 * log, write metrics and curves, and checkpoint. Every step runs inside `tidy`
 * and frees its batch, so memory stays flat however long it runs.
 *
 * ```ts
 * const trainer = new train.Trainer({
 *   model, optimizer, scheduler, schedulerStep: 'batch', epochs: 5,
 *   callbacks: [new train.ProgressLogger(), new train.MetricsWriter('runs/x'), new train.CurvesWriter('runs/x')],
 * });
 * const history = trainer.fit(loader, { testData: data.mnist({ split: 'test' }) });
 * ```
 *
 * @module
 */
import * as nn from '../nn';
import * as data from '../data';
import { noGrad } from '../autograd';
import { tidy, manualSeed, describe, type Tensor } from '../tensor';
import { checkOptions } from '../ops/args';
import type { Optimizer } from '../optim/optimizer';
import type { LRScheduler } from '../optim/lr_scheduler';

/** What one optimisation step reports (metrics.jsonl holds one per line). */
export interface StepMetrics {
  /** 1-based epoch the step belongs to. */
  epoch: number;
  /** 1-based step within the epoch. */
  batch: number;
  /** Steps since the start of the run (1-based). */
  step: number;
  /** Batches per epoch. */
  batches: number;
  /** Mean loss of the batch. */
  loss: number;
  /** Learning rate the step used. */
  lr: number;
  /** Samples in the batch. */
  samples: number;
  /** Seconds since the epoch started. */
  seconds: number;
}

/** What one epoch reports (metrics.json holds the list). */
export interface EpochMetrics {
  epoch: number;
  /** Mean training loss over the epoch's samples. */
  loss: number;
  /** Test accuracy in [0, 1] (NaN without test data). */
  accuracy: number;
  /** Mean test loss (NaN without test data). */
  testLoss: number;
  imgPerSec: number;
  /** Seconds of training (evaluation excluded). */
  seconds: number;
  /** Learning rate at the end of the epoch. */
  lr: number;
}

/** What callbacks see. */
export interface TrainContext {
  readonly trainer: Trainer;
  readonly model: nn.Module;
  readonly optimizer: Optimizer;
  readonly scheduler: LRScheduler | null;
  /** Planned epochs. */
  readonly epochs: number;
  /** The epoch being trained (1-based), or the last one finished. */
  epoch: number;
  /** Batches per epoch. */
  batches: number;
  /** Every epoch so far, including those of a resumed run. */
  readonly history: EpochMetrics[];
}

/**
 * Hooks into the loop. Each method is optional. Writers (files, logs) set
 * `mainOnly`: with `isMain: false` (ranks other than 0 of a distributed run)
 * the trainer does not call them.
 */
export interface Callback {
  /** Only on the main process. */
  readonly mainOnly?: boolean;
  onTrainStart?(ctx: TrainContext): void;
  onEpochStart?(ctx: TrainContext): void;
  onStep?(ctx: TrainContext, m: StepMetrics): void;
  onEpochEnd?(ctx: TrainContext, m: EpochMetrics): void;
  onTrainEnd?(ctx: TrainContext): void;
}

export interface TrainerOptions {
  model: nn.Module;
  optimizer: Optimizer;
  /** A learning-rate scheduler, stepped per batch or per epoch (`schedulerStep`). */
  scheduler?: LRScheduler | null;
  /** 'epoch' (default; StepLR-style) or 'batch' (OneCycleLR, cosine over steps). */
  schedulerStep?: 'batch' | 'epoch';
  /** Epochs to train in total (a resumed run counts the epochs already done). */
  epochs: number;
  /** loss(output, target) → a scalar tensor (default: nn.functional.crossEntropy). */
  loss?: (output: Tensor, target: Tensor) => Tensor;
  /**
   * Seeds the global generator at the start of every epoch (seed and epoch
   * mixed), so dropout masks depend only on the epoch: a resumed run draws what
   * the uninterrupted run drew. Default: no reseeding.
   */
  seed?: number;
  callbacks?: Callback[];
  /** Called after `backward()` and before the optimizer step: e.g. average gradients across processes. */
  afterBackward?: (model: nn.Module) => void;
  /**
   * Called with each batch's mean loss and sample count before the loss is checked
   * and backward runs; returns the loss and samples to report: e.g. the mean over
   * every process of a distributed run (`distributed.reduceLoss`), so that every
   * process stops together on a non-finite loss and metrics cover the global batch.
   */
  reduceLoss?: (loss: number, samples: number) => { loss: number; samples: number };
  /** False on non-main processes of a distributed run: callbacks marked `mainOnly` are skipped. Default true. */
  isMain?: boolean;
}

export interface FitOptions {
  /** Evaluated after every epoch (accuracy, test loss). */
  testData?: data.TensorDataset;
  /** Epochs already done (resuming): training starts at epoch startEpoch + 1. */
  startEpoch?: number;
  /** The metrics of those epochs. */
  history?: EpochMetrics[];
  /** End after this many epochs of this call; the schedule still spans `epochs`. */
  stopAfter?: number;
}

/** Thrown when the loss stops being finite; no step is taken with it. */
export class NonFiniteLossError extends Error {}

const OPTION_KEYS = ['model', 'optimizer', 'scheduler', 'schedulerStep', 'epochs', 'loss', 'seed', 'callbacks', 'afterBackward', 'reduceLoss', 'isMain'];
const FIT_KEYS = ['testData', 'startEpoch', 'history', 'stopAfter'];


function positiveInt(op: string, name: string, v: unknown): number {
  if (!Number.isInteger(v) || (v as number) < 1) throw new RangeError(`${op}: ${name} must be a positive integer, got ${describe(v)}`);
  return v as number;
}

/** Accuracy, per-class accuracy, confusion matrix [truth][prediction] and mean loss of a classifier on a dataset. */
export function evaluate(model: nn.Module, ds: data.TensorDataset, classes?: number, opts: { batchSize?: number } = {}): { accuracy: number; perClass: number[]; confusion: number[][]; loss: number } {
  if (!(ds instanceof data.TensorDataset)) throw new TypeError(`evaluate: expected a data.TensorDataset, got ${describe(ds)}`);
  checkOptions('evaluate', opts, ['batchSize']);
  const batchSize = positiveInt('evaluate', 'batchSize', opts.batchSize ?? 1000);
  let confusion: number[][] | null = classes === undefined ? null : Array.from({ length: positiveInt('evaluate', 'classes', classes) }, () => new Array<number>(classes).fill(0));
  let lossSum = 0;
  const wasTraining = model.training;
  model.eval();
  try {
    noGrad(() => {
      for (const { x, y } of new data.DataLoader(ds, { batchSize })) {
        tidy(() => {
          const logits = model.forward(x);
          if (logits.ndim !== 2 || logits.shape[0] !== x.shape[0]) throw new Error(`evaluate: the model must return [N, classes] logits, got shape [${logits.shape.join(',')}]`);
          const n = logits.shape[1];
          confusion ??= Array.from({ length: n }, () => new Array<number>(n).fill(0));
          if (n !== confusion.length) throw new Error(`evaluate: the model has ${n} outputs but ${confusion.length} classes were expected`);
          const t = y.data();
          for (const v of t) if (!Number.isInteger(v) || v < 0 || v >= n) throw new RangeError(`evaluate: the dataset has label ${v}, but the model has ${n} outputs (classes 0..${n - 1})`);
          lossSum += nn.functional.crossEntropy(logits, y, { reduction: 'sum' }).item();
          const p = logits.argmax(1).data();
          for (let i = 0; i < t.length; i++) confusion[t[i]][p[i]]++;
          x.dispose();
          y.dispose();
        });
      }
    });
  } finally {
    model.train(wasTraining);
  }
  const cm = confusion ?? [];
  const correct = cm.reduce((a, row, i) => a + row[i], 0);
  const perClass = cm.map((row, i) => row[i] / Math.max(1, row.reduce((a, b) => a + b, 0)));
  return { accuracy: correct / Math.max(ds.length, 1), perClass, confusion: cm, loss: lossSum / Math.max(ds.length, 1) };
}

/** The training loop; see the module comment. */
export class Trainer {
  readonly model: nn.Module;
  readonly optimizer: Optimizer;
  readonly scheduler: LRScheduler | null;
  readonly schedulerStep: 'batch' | 'epoch';
  readonly epochs: number;
  readonly callbacks: Callback[];
  readonly isMain: boolean;
  private readonly lossFn: (output: Tensor, target: Tensor) => Tensor;
  private readonly seed?: number;
  private readonly afterBackward?: (model: nn.Module) => void;
  private readonly reduceLoss?: (loss: number, samples: number) => { loss: number; samples: number };

  constructor(o: TrainerOptions) {
    if (!o || typeof o !== 'object') throw new TypeError(`Trainer: expected options { model, optimizer, epochs, ... }, got ${describe(o)}`);
    checkOptions('Trainer', o, OPTION_KEYS);
    if (!o.model || typeof o.model.forward !== 'function') throw new TypeError(`Trainer: model must be an nn.Module, got ${describe(o.model)}`);
    if (!o.optimizer || typeof o.optimizer.step !== 'function') throw new TypeError(`Trainer: optimizer must be an optim.Optimizer, got ${describe(o.optimizer)}`);
    if (o.schedulerStep !== undefined && o.schedulerStep !== 'batch' && o.schedulerStep !== 'epoch') throw new RangeError(`Trainer: schedulerStep must be 'batch' or 'epoch', got ${describe(o.schedulerStep)}`);
    if (o.loss !== undefined && typeof o.loss !== 'function') throw new TypeError('Trainer: loss must be a function (output, target) => Tensor');
    if (o.afterBackward !== undefined && typeof o.afterBackward !== 'function') throw new TypeError('Trainer: afterBackward must be a function (model) => void');
    if (o.reduceLoss !== undefined && typeof o.reduceLoss !== 'function') throw new TypeError('Trainer: reduceLoss must be a function (loss, samples) => { loss, samples }');
    if (o.seed !== undefined && !Number.isSafeInteger(o.seed)) throw new TypeError(`Trainer: seed must be an integer, got ${describe(o.seed)}`);
    if (o.callbacks !== undefined && !Array.isArray(o.callbacks)) throw new TypeError('Trainer: callbacks must be an array');
    this.model = o.model;
    this.optimizer = o.optimizer;
    this.scheduler = o.scheduler ?? null;
    this.schedulerStep = o.schedulerStep ?? 'epoch';
    this.epochs = positiveInt('Trainer', 'epochs', o.epochs);
    this.lossFn = o.loss ?? ((out, y) => nn.functional.crossEntropy(out, y));
    this.seed = o.seed;
    this.callbacks = o.callbacks ?? [];
    this.afterBackward = o.afterBackward;
    this.reduceLoss = o.reduceLoss;
    this.isMain = o.isMain ?? true;
  }

  private emit<K extends 'onTrainStart' | 'onEpochStart' | 'onStep' | 'onEpochEnd' | 'onTrainEnd'>(name: K, ...args: Parameters<NonNullable<Callback[K]>>): void {
    for (const c of this.callbacks) {
      if (c.mainOnly && !this.isMain) continue;
      const f = c[name] as ((...a: unknown[]) => void) | undefined;
      f?.apply(c, args);
    }
  }

  /** Trains from `startEpoch` (0) to `epochs`; returns every epoch's metrics (the resumed ones too). */
  fit(loader: data.DataLoader, opts: FitOptions = {}): EpochMetrics[] {
    if (!(loader instanceof data.DataLoader)) throw new TypeError(`Trainer.fit: expected a data.DataLoader, got ${describe(loader)}`);
    checkOptions('Trainer.fit', opts, FIT_KEYS);
    const start = opts.startEpoch ?? 0;
    if (!Number.isInteger(start) || start < 0) throw new RangeError(`Trainer.fit: startEpoch must be a non-negative integer, got ${describe(start)}`);
    const history = (opts.history ?? []).slice();
    if (history.length !== start) throw new RangeError(`Trainer.fit: history has ${history.length} epochs but startEpoch is ${start}`);
    const end = opts.stopAfter === undefined ? this.epochs : Math.min(this.epochs, start + positiveInt('Trainer.fit', 'stopAfter', opts.stopAfter));
    const batches = loader.length;
    if (batches === 0) throw new RangeError('Trainer.fit: the loader yields no batches (an empty dataset, or dropLast with fewer samples than a batch)');
    const ctx: TrainContext = { trainer: this, model: this.model, optimizer: this.optimizer, scheduler: this.scheduler, epochs: this.epochs, epoch: start, batches, history };
    loader.epoch = start;
    this.emit('onTrainStart', ctx);
    for (let epoch = start + 1; epoch <= end; epoch++) {
      ctx.epoch = epoch;
      if (this.seed !== undefined) manualSeed(BigInt(this.seed) * 1_000_003n + BigInt(epoch));
      this.model.train();
      this.emit('onEpochStart', ctx);
      const t0 = performance.now();
      let lossSum = 0, seen = 0, batch = 0;
      for (const { x, y } of loader) {
        batch++;
        let n = x.shape[0];
        const lr = this.optimizer.lr;
        let loss: number;
        try {
          loss = tidy(() => {
            this.optimizer.zeroGrad();
            const l = this.lossFn(this.model.forward(x), y);
            let v = l.item();
            if (this.reduceLoss) ({ loss: v, samples: n } = this.reduceLoss(v, n));
            if (!Number.isFinite(v)) return v; // reported below, before a step can corrupt the weights
            l.backward();
            this.afterBackward?.(this.model);
            this.optimizer.step();
            return v;
          });
        } finally {
          x.dispose();
          y.dispose();
        }
        if (!Number.isFinite(loss)) throw new NonFiniteLossError(`train: the loss became ${loss} at epoch ${epoch}, step ${batch}; training stopped (try a lower learning rate)`);
        if (this.scheduler && this.schedulerStep === 'batch') this.scheduler.step();
        lossSum += loss * n;
        seen += n;
        this.emit('onStep', ctx, { epoch, batch, step: (epoch - 1) * batches + batch, batches, loss, lr, samples: n, seconds: (performance.now() - t0) / 1000 });
      }
      if (this.scheduler && this.schedulerStep === 'epoch') this.scheduler.step();
      const seconds = (performance.now() - t0) / 1000;
      const ev = opts.testData ? evaluate(this.model, opts.testData) : null;
      const m: EpochMetrics = {
        epoch, loss: lossSum / Math.max(seen, 1), accuracy: ev ? ev.accuracy : NaN, testLoss: ev ? ev.loss : NaN,
        imgPerSec: seen / Math.max(seconds, 1e-9), seconds, lr: this.optimizer.lr,
      };
      history.push(m);
      this.emit('onEpochEnd', ctx, m);
    }
    this.emit('onTrainEnd', ctx);
    return history;
  }
}
