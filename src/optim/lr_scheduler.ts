/** Learning-rate schedulers: call `step()` once per epoch (StepLR, CosineAnnealingLR) or per batch (OneCycleLR). */
import type { Optimizer, GroupOptions } from './optimizer';
import { checkRange } from './optimizer';

export abstract class LRScheduler {
  /** Steps taken so far. */
  lastEpoch = 0;
  readonly baseLrs: number[];
  constructor(protected readonly optimizer: Optimizer<GroupOptions>) {
    if (!optimizer || !Array.isArray(optimizer.paramGroups)) throw new TypeError('LRScheduler: expected an optimizer');
    this.baseLrs = optimizer.paramGroups.map((g) => (g.initialLr as number | undefined) ?? g.lr);
    optimizer.paramGroups.forEach((g, i) => (g.initialLr = this.baseLrs[i]));
  }
  /** The learning rates for `lastEpoch`. */
  protected abstract lrAt(epoch: number): number[];
  /** Advances one step and sets each group's lr. */
  step(): void {
    this.lastEpoch++;
    this.apply();
  }
  protected apply(): void {
    const lrs = this.lrAt(this.lastEpoch);
    this.optimizer.paramGroups.forEach((g, i) => (g.lr = lrs[i]));
  }
  /** Current learning rates. */
  getLastLr(): number[] {
    return this.optimizer.paramGroups.map((g) => g.lr);
  }
  stateDict(): { lastEpoch: number } {
    return { lastEpoch: this.lastEpoch };
  }
  loadStateDict(sd: { lastEpoch: number }): void {
    checkRange('LRScheduler.loadStateDict', 'lastEpoch', sd?.lastEpoch, 0);
    this.lastEpoch = sd.lastEpoch;
    this.apply();
  }
}

/** lr = base · gamma^floor(epoch / stepSize). */
export class StepLR extends LRScheduler {
  constructor(optimizer: Optimizer<GroupOptions>, readonly opts: { stepSize: number; gamma?: number }) {
    super(optimizer);
    if (!Number.isInteger(opts?.stepSize) || opts.stepSize < 1) throw new RangeError(`StepLR: stepSize must be a positive integer, got ${opts?.stepSize}`);
    checkRange('StepLR', 'gamma', opts.gamma ?? 0.1, 0);
  }
  protected lrAt(e: number): number[] {
    const g = this.opts.gamma ?? 0.1;
    return this.baseLrs.map((b) => b * g ** Math.floor(e / this.opts.stepSize));
  }
}

/** lr = etaMin + (base − etaMin)·(1 + cos(π·epoch/tMax))/2. */
export class CosineAnnealingLR extends LRScheduler {
  constructor(optimizer: Optimizer<GroupOptions>, readonly opts: { tMax: number; etaMin?: number }) {
    super(optimizer);
    if (!Number.isInteger(opts?.tMax) || opts.tMax < 1) throw new RangeError(`CosineAnnealingLR: tMax must be a positive integer, got ${opts?.tMax}`);
  }
  protected lrAt(e: number): number[] {
    const m = this.opts.etaMin ?? 0;
    return this.baseLrs.map((b) => m + ((b - m) * (1 + Math.cos((Math.PI * e) / this.opts.tMax))) / 2);
  }
}

export interface OneCycleOptions {
  maxLr: number | number[];
  /** Total steps, or give epochs and stepsPerEpoch. */
  totalSteps?: number;
  epochs?: number;
  stepsPerEpoch?: number;
  pctStart?: number;
  annealStrategy?: 'cos' | 'linear';
  divFactor?: number;
  finalDivFactor?: number;
  /** Cycle momentum (SGD) or beta1 (Adam) inversely to the lr (default true). */
  cycleMomentum?: boolean;
  baseMomentum?: number;
  maxMomentum?: number;
}

/** The 1cycle policy (Smith & Topin), stepped once per batch, as PyTorch's OneCycleLR. */
export class OneCycleLR extends LRScheduler {
  readonly totalSteps: number;
  private readonly phases: { end: number; lr: [string, string]; m: [string, string] }[];
  private readonly o: Required<Omit<OneCycleOptions, 'totalSteps' | 'epochs' | 'stepsPerEpoch'>>;
  constructor(optimizer: Optimizer<GroupOptions>, opts: OneCycleOptions) {
    super(optimizer);
    const total = opts.totalSteps ?? (opts.epochs && opts.stepsPerEpoch ? opts.epochs * opts.stepsPerEpoch : NaN);
    if (!Number.isInteger(total) || total < 1) throw new RangeError('OneCycleLR: give totalSteps, or epochs and stepsPerEpoch (positive integers)');
    this.totalSteps = total;
    this.o = { pctStart: 0.3, annealStrategy: 'cos', divFactor: 25, finalDivFactor: 1e4, cycleMomentum: true, baseMomentum: 0.85, maxMomentum: 0.95, ...opts } as typeof this.o;
    checkRange('OneCycleLR', 'pctStart', this.o.pctStart, 0, 1);
    const maxLrs = Array.isArray(opts.maxLr) ? opts.maxLr : optimizer.paramGroups.map(() => opts.maxLr as number);
    optimizer.paramGroups.forEach((g, i) => {
      const o = g as Record<string, unknown>;
      o.initialLr = maxLrs[i] / this.o.divFactor;
      o.maxLr = maxLrs[i];
      o.minLr = (o.initialLr as number) / this.o.finalDivFactor;
      if (this.o.cycleMomentum) {
        o.maxMomentum = this.o.maxMomentum;
        o.baseMomentum = this.o.baseMomentum;
      }
    });
    this.phases = [
      { end: this.o.pctStart * total - 1, lr: ['initialLr', 'maxLr'], m: ['maxMomentum', 'baseMomentum'] },
      { end: total - 1, lr: ['maxLr', 'minLr'], m: ['baseMomentum', 'maxMomentum'] },
    ];
    this.apply();
  }
  private anneal(start: number, end: number, pct: number): number {
    return this.o.annealStrategy === 'cos' ? end + ((start - end) / 2) * (Math.cos(Math.PI * pct) + 1) : (end - start) * pct + start;
  }
  protected lrAt(): number[] {
    return this.optimizer.paramGroups.map((g) => g.lr);
  }
  protected override apply(): void {
    const step = this.lastEpoch;
    if (step > this.totalSteps)
      throw new Error(`OneCycleLR: tried to step ${step} times, more than totalSteps ${this.totalSteps}`);
    for (const g of this.optimizer.paramGroups) {
      const o = g as Record<string, unknown>;
      let start = 0;
      for (let i = 0; i < this.phases.length; i++) {
        const ph = this.phases[i];
        if (step <= ph.end || i === this.phases.length - 1) {
          const pct = (step - start) / (ph.end - start);
          o.lr = this.anneal(o[ph.lr[0]] as number, o[ph.lr[1]] as number, pct);
          if (this.o.cycleMomentum) {
            const m = this.anneal(o[ph.m[0]] as number, o[ph.m[1]] as number, pct);
            if (Array.isArray(o.betas)) o.betas = [m, (o.betas as number[])[1]];
            else if ('momentum' in o) o.momentum = m;
          }
          break;
        }
        start = ph.end;
      }
    }
  }
}
