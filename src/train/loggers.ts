/**
 * Callbacks for {@link Trainer}: a progress bar on a terminal (one line per
 * epoch otherwise), metrics as JSON (per epoch) and JSON Lines (per step), and
 * learning curves as SVG and PNG. All are writers: on a distributed run only
 * the main process calls them.
 *
 * @module
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SingleBar } from 'cli-progress';
import { writeFileAtomic } from '../io/atomic';
import { checkOptions } from '../ops/args';
import { curvesSvg, curvesPng, type StepPoint } from './curves';
import type { Callback, EpochMetrics, StepMetrics, TrainContext } from './trainer';

function fmtInt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** The one-line summary of an epoch: `epoch 3/10  train loss 0.0421  test acc 98.91%  24,312 img/s  2.5s`. */
export function epochLine(m: EpochMetrics, epochs: number): string {
  const acc = Number.isFinite(m.accuracy) ? `  test acc ${(100 * m.accuracy).toFixed(2)}%` : '';
  return `epoch ${m.epoch}/${epochs}  train loss ${m.loss.toFixed(4)}${acc}  ${fmtInt(m.imgPerSec)} img/s  ${m.seconds.toFixed(1)}s`;
}

export interface ProgressLoggerOptions {
  /** Show a progress bar (default: when stdout is a TTY). */
  bar?: boolean;
  /** Where epoch lines go (default console.log). */
  log?: (line: string) => void;
  /** The bar's stream (default process.stderr). */
  stream?: NodeJS.WritableStream;
}

/** A progress bar per epoch on a terminal (batches, img/s, running loss, ETA); one line per epoch always. */
export class ProgressLogger implements Callback {
  readonly mainOnly = true;
  private readonly showBar: boolean;
  private readonly log: (line: string) => void;
  private readonly stream?: NodeJS.WritableStream;
  private bar: SingleBar | null = null;
  private lossSum = 0;
  private seen = 0;

  constructor(o: ProgressLoggerOptions = {}) {
    checkOptions('ProgressLogger', o, ['bar', 'log', 'stream']);
    this.showBar = o.bar ?? !!process.stdout.isTTY;
    this.log = o.log ?? ((l) => console.log(l));
    this.stream = o.stream;
  }

  onEpochStart(ctx: TrainContext): void {
    this.lossSum = 0;
    this.seen = 0;
    if (!this.showBar) return;
    this.bar = new SingleBar({
      format: `epoch ${ctx.epoch}/${ctx.epochs} [{bar}] {value}/{total} | {speed} img/s | loss {loss} | ETA {eta_formatted}`,
      barCompleteChar: '█', barIncompleteChar: '░', hideCursor: true, etaBuffer: 50, clearOnComplete: true,
      ...(this.stream ? { stream: this.stream } : {}),
    });
    this.bar.start(ctx.batches, 0, { speed: '-', loss: '-' });
  }

  onStep(ctx: TrainContext, m: StepMetrics): void {
    this.lossSum += m.loss * m.samples;
    this.seen += m.samples;
    if (this.bar && (m.batch % 5 === 0 || m.batch === ctx.batches))
      this.bar.update(m.batch, { speed: fmtInt(this.seen / Math.max(m.seconds, 1e-9)), loss: (this.lossSum / this.seen).toFixed(4) });
  }

  onEpochEnd(ctx: TrainContext, m: EpochMetrics): void {
    this.bar?.stop();
    this.bar = null;
    this.log(epochLine(m, ctx.epochs));
  }

  onTrainEnd(): void {
    this.bar?.stop();
    this.bar = null;
  }
}

/** NaN and ±Infinity as null, the way JSON can say them. */
function json(v: unknown, indent?: number): string {
  return JSON.stringify(v, (_k, x) => (typeof x === 'number' && !Number.isFinite(x) ? null : x), indent);
}

/**
 * Writes `metrics.json` (`{ options, epochs: [...] }`, atomically after every
 * epoch) and `metrics.jsonl` (one JSON object per step, appended as it goes).
 * On a resumed run, steps past the resumed epoch (an interrupted epoch) are
 * dropped from metrics.jsonl first, so the file reads as one run.
 */
export class MetricsWriter implements Callback {
  readonly mainOnly = true;
  readonly jsonPath: string;
  readonly jsonlPath: string;
  private fd: number | null = null;

  constructor(readonly dir: string, private readonly options: Record<string, unknown> = {}) {
    if (typeof dir !== 'string' || dir === '') throw new TypeError('MetricsWriter: expected an output directory');
    this.jsonPath = path.join(dir, 'metrics.json');
    this.jsonlPath = path.join(dir, 'metrics.jsonl');
  }

  onTrainStart(ctx: TrainContext): void {
    fs.mkdirSync(this.dir, { recursive: true });
    const done = ctx.epoch; // epochs already finished (resume)
    let keep = '';
    if (done > 0 && fs.existsSync(this.jsonlPath)) {
      const lines = fs.readFileSync(this.jsonlPath, 'utf8').split('\n').filter((l) => l !== '');
      keep = lines.filter((l) => {
        try {
          return (JSON.parse(l) as StepMetrics).epoch <= done;
        } catch {
          return false;
        }
      }).map((l) => l + '\n').join('');
    }
    writeFileAtomic(this.jsonlPath, keep);
    this.fd = fs.openSync(this.jsonlPath, 'a');
  }

  onStep(_ctx: TrainContext, m: StepMetrics): void {
    if (this.fd !== null) fs.writeSync(this.fd, json(m) + '\n');
  }

  onEpochEnd(ctx: TrainContext): void {
    writeFileAtomic(this.jsonPath, json({ options: this.options, epochs: ctx.history }, 2) + '\n');
  }

  onTrainEnd(): void {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }
}

/** Reads metrics.jsonl back as curve points (tolerating a torn last line). */
export function readStepPoints(file: string): StepPoint[] {
  if (!fs.existsSync(file)) return [];
  const out: StepPoint[] = [];
  for (const l of fs.readFileSync(file, 'utf8').split('\n')) {
    if (l === '') continue;
    try {
      const m = JSON.parse(l) as StepMetrics;
      if (Number.isFinite(m.loss) && Number.isFinite(m.lr)) out.push({ x: m.epoch - 1 + m.batch / m.batches, loss: m.loss, lr: m.lr });
    } catch {
      // an interrupted write: skip the line
    }
  }
  return out;
}

/** Writes `curves.svg` and `curves.png` after every epoch: loss, test accuracy and learning rate. */
export class CurvesWriter implements Callback {
  readonly mainOnly = true;
  private steps: StepPoint[] = [];

  constructor(readonly dir: string, private readonly formats: ('svg' | 'png')[] = ['svg', 'png']) {
    if (typeof dir !== 'string' || dir === '') throw new TypeError('CurvesWriter: expected an output directory');
    for (const f of formats) if (f !== 'svg' && f !== 'png') throw new RangeError(`CurvesWriter: unknown format ${JSON.stringify(f)} (svg, png)`);
  }

  onTrainStart(ctx: TrainContext): void {
    // a resumed run's earlier steps, from metrics.jsonl when it is there
    this.steps = ctx.epoch > 0 ? readStepPoints(path.join(this.dir, 'metrics.jsonl')).filter((p) => p.x <= ctx.epoch) : [];
  }

  onStep(_ctx: TrainContext, m: StepMetrics): void {
    this.steps.push({ x: m.epoch - 1 + m.batch / m.batches, loss: m.loss, lr: m.lr });
  }

  onEpochEnd(ctx: TrainContext): void {
    fs.mkdirSync(this.dir, { recursive: true });
    const d = { epochs: ctx.history, steps: this.steps };
    if (this.formats.includes('svg')) writeFileAtomic(path.join(this.dir, 'curves.svg'), curvesSvg(d));
    if (this.formats.includes('png')) writeFileAtomic(path.join(this.dir, 'curves.png'), curvesPng(d));
  }
}
